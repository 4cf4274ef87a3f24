"""ElectraQuestionAnswerer: HF parity (simple head), numpy re-computation of G's head,
loss formulas, preset round trip, gradients to every head variable."""

import numpy as np
import pytest
from conftest import import_or_fail
from jax_env import jax_env
from scipy.special import erf

SMALL = dict(vocabulary_size=50, num_layers=2, num_heads=2, hidden_dim=16, embedding_dim=8,
             intermediate_dim=32, max_sequence_length=64, dropout=0.0)


def _inputs(batch=3, length=24, seed=0):
    rng = np.random.default_rng(seed)
    token_ids = rng.integers(5, SMALL["vocabulary_size"], (batch, length)).astype("int32")
    segment_ids = np.zeros((batch, length), "int32")
    padding_mask = np.zeros((batch, length), "int32")
    for b in range(batch):
        q_len, n = 3 + b, length - 2 * b
        token_ids[b, 0], token_ids[b, q_len + 1], token_ids[b, n - 1] = 2, 3, 3
        token_ids[b, n:] = 0
        segment_ids[b, q_len + 2:n] = 1
        padding_mask[b, :n] = 1
    return {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}


def _backbone(seed=1):
    import keras

    from keras_electra import ElectraBackbone

    keras.utils.set_random_seed(seed)
    return ElectraBackbone(**SMALL)


def _gelu(x):
    return x * 0.5 * (1.0 + erf(x / np.sqrt(2.0)))


def _log_softmax(x):
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


@pytest.mark.parity
def test_simple_head_matches_hf_electra_for_question_answering():
    torch = import_or_fail("torch")
    transformers = import_or_fail("transformers")
    from keras_electra import ElectraQuestionAnswerer

    config = transformers.ElectraConfig(
        vocab_size=SMALL["vocabulary_size"], embedding_size=SMALL["embedding_dim"],
        hidden_size=SMALL["hidden_dim"], num_hidden_layers=SMALL["num_layers"],
        num_attention_heads=SMALL["num_heads"], intermediate_size=SMALL["intermediate_dim"],
        max_position_embeddings=SMALL["max_sequence_length"], hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0, hidden_act="gelu", layer_norm_eps=1e-12)
    torch.manual_seed(0)
    hf = transformers.ElectraForQuestionAnswering(config).eval()
    for name, p in hf.named_parameters():  # non-trivial values everywhere
        torch.nn.init.normal_(p, mean=1.0 if "LayerNorm.weight" in name else 0.0, std=0.2)
    sd = {k: v.detach().numpy() for k, v in hf.state_dict().items()}

    qa = ElectraQuestionAnswerer(_backbone(), head="simple")
    H, heads = SMALL["hidden_dim"], SMALL["num_heads"]
    assign = {
        "embeddings/token_embedding/embeddings": sd["electra.embeddings.word_embeddings.weight"],
        "embeddings/position_embedding/embeddings":
            sd["electra.embeddings.position_embeddings.weight"],
        "embeddings/segment_embedding/embeddings":
            sd["electra.embeddings.token_type_embeddings.weight"],
        "embeddings/embeddings_layer_norm/gamma": sd["electra.embeddings.LayerNorm.weight"],
        "embeddings/embeddings_layer_norm/beta": sd["electra.embeddings.LayerNorm.bias"],
        "embeddings_project/kernel": sd["electra.embeddings_project.weight"].T,
        "embeddings_project/bias": sd["electra.embeddings_project.bias"],
        "qa_outputs/kernel": sd["qa_outputs.weight"].T,  # [2, H] -> [H, 2]
        "qa_outputs/bias": sd["qa_outputs.bias"],
    }
    for i in range(SMALL["num_layers"]):
        hf_l, k_l = f"electra.encoder.layer.{i}.", f"transformer_layer_{i}/"
        for name in ("query", "key", "value"):
            w = sd[f"{hf_l}attention.self.{name}.weight"]
            assign[f"{k_l}self_attention_layer/{name}/kernel"] = w.T.reshape(H, heads, H // heads)
            assign[f"{k_l}self_attention_layer/{name}/bias"] = sd[
                f"{hf_l}attention.self.{name}.bias"].reshape(heads, H // heads)
        assign[f"{k_l}self_attention_layer/attention_output/kernel"] = sd[
            f"{hf_l}attention.output.dense.weight"].T.reshape(heads, H // heads, H)
        assign[f"{k_l}self_attention_layer/attention_output/bias"] = sd[
            f"{hf_l}attention.output.dense.bias"]
        for ours, theirs in (("self_attention_layer_norm", "attention.output.LayerNorm"),
                             ("feedforward_layer_norm", "output.LayerNorm")):
            assign[f"{k_l}{ours}/gamma"] = sd[f"{hf_l}{theirs}.weight"]
            assign[f"{k_l}{ours}/beta"] = sd[f"{hf_l}{theirs}.bias"]
        for ours, theirs in (("feedforward_intermediate_dense", "intermediate.dense"),
                             ("feedforward_output_dense", "output.dense")):
            assign[f"{k_l}{ours}/kernel"] = sd[f"{hf_l}{theirs}.weight"].T
            assign[f"{k_l}{ours}/bias"] = sd[f"{hf_l}{theirs}.bias"]
    assert sorted(assign) == sorted(w.path for w in qa.weights)  # every variable mapped
    for w in qa.weights:
        w.assign(assign[w.path])

    x = _inputs()
    ours = qa.predict(x, verbose=0)
    with torch.no_grad():
        ref = hf(input_ids=torch.tensor(x["token_ids"], dtype=torch.long),
                 attention_mask=torch.tensor(x["padding_mask"], dtype=torch.long),
                 token_type_ids=torch.tensor(x["segment_ids"], dtype=torch.long))
    for key in ("start_logits", "end_logits"):
        ref_value = getattr(ref, key).numpy()
        assert np.abs(ours[key] - ref_value).max() < 1e-5, key
        assert np.abs(ref_value).max() > 0.1  # not a trivial all-zero comparison


def _electra_head_numpy(qa, hidden, x, beam):
    w = {v.path: v.numpy().astype(np.float64) for v in qa.weights if v.path.startswith("qa_")}
    dense = lambda h, name: h @ w[f"{name}/kernel"] + w[f"{name}/bias"]  # noqa: E731
    S = hidden.shape[1]
    answer_mask = x["padding_mask"] * x["segment_ids"] + (np.arange(S) == 0)[None]
    penalty = 1000.0 * (answer_mask - 1.0)
    start_logits = dense(hidden, "qa_start")[..., 0] + penalty
    start_lp = _log_softmax(start_logits)
    start_index = np.argsort(-start_lp, axis=-1, kind="stable")[:, :beam]
    start_top_lp = np.take_along_axis(start_lp, start_index, -1)
    B, _, H = hidden.shape
    end_lp = np.zeros((B, beam, S))
    for b in range(B):
        for k in range(beam):
            start_repr = np.repeat(hidden[b, start_index[b, k]][None], S, 0)
            feats = np.concatenate([start_repr, hidden[b]], -1)  # G: [start, end] order
            logits = dense(_gelu(dense(feats, "qa_hidden")), "qa_end")[:, 0] + penalty[b]
            end_lp[b, k] = _log_softmax(logits)
    end_index = np.argsort(-end_lp, axis=-1, kind="stable")[..., :beam]
    end_top_lp = np.take_along_axis(end_lp, end_index, -1)
    p = np.exp(_log_softmax(start_logits))
    repr_ = np.concatenate([hidden[:, 0], np.einsum("bs,bsh->bh", p, hidden)], -1)
    answerable = dense(_gelu(dense(repr_, "qa_answerable_hidden")), "qa_answerable")[:, 0]
    return dict(start_logits=start_logits, start_top_log_probs=start_top_lp,
                start_top_index=start_index, end_top_log_probs=end_top_lp,
                end_top_index=end_index, answerable_logit=answerable, penalty=penalty)


def test_electra_head_matches_numpy_recomputation():
    import keras

    from keras_electra import ElectraQuestionAnswerer

    backbone = _backbone()
    qa = ElectraQuestionAnswerer(backbone, head="electra", beam_size=5, head_hidden_dim=24)
    for v in qa.weights:  # non-zero biases so they are exercised
        if v.path.startswith("qa_") and v.path.endswith("bias"):
            v.assign(np.random.default_rng(3).normal(0, 0.3, v.shape))
    x = _inputs()
    hidden = backbone.predict(x, verbose=0)["sequence_output"].astype(np.float64)
    ours = qa.predict(x, verbose=0)
    ref = _electra_head_numpy(qa, hidden, x, beam=5)
    for key in ("start_logits", "start_top_log_probs", "end_top_log_probs", "answerable_logit"):
        np.testing.assert_allclose(ours[key], ref[key], atol=2e-4, rtol=1e-5, err_msg=key)
    np.testing.assert_array_equal(ours["start_top_index"], ref["start_top_index"])
    np.testing.assert_array_equal(ours["end_top_index"], ref["end_top_index"])
    # the beam never leaves the allowed tokens ([CLS] + context + last [SEP])
    allowed = (x["padding_mask"] * x["segment_ids"]).astype(bool)
    allowed[:, 0] = True
    assert np.take_along_axis(allowed, ours["start_top_index"], -1).all()

    # training loss = (CE(start) + CE(end | gold start)) / 2 + 0.5 * sigmoid CE
    y = {"start_positions": np.array([9, 0, 12]), "end_positions": np.array([11, 0, 12]),
         "is_impossible": np.array([0, 1, 0])}
    train_out = qa(x, training=True)
    loss = float(keras.ops.convert_to_numpy(qa.compute_loss(x, y, train_out)))
    s_lp = _log_softmax(ref["start_logits"])
    expected = []
    w = {v.path: v.numpy().astype(np.float64) for v in qa.weights if v.path.startswith("qa_")}
    for b in range(3):
        start = y["start_positions"][b]
        feats = np.concatenate([np.repeat(hidden[b, start][None], hidden.shape[1], 0),
                                hidden[b]], -1)
        h = _gelu(feats @ w["qa_hidden/kernel"] + w["qa_hidden/bias"])
        end_logits = (h @ w["qa_end/kernel"] + w["qa_end/bias"])[:, 0] + ref["penalty"][b]
        span = -(s_lp[b, start] + _log_softmax(end_logits)[y["end_positions"][b]]) / 2
        z, label = ref["answerable_logit"][b], y["is_impossible"][b]
        bce = max(z, 0) - z * label + np.log1p(np.exp(-abs(z)))
        expected.append(span + 0.5 * bce)
    assert loss == pytest.approx(np.mean(expected), rel=1e-4)


def test_simple_head_loss_is_mean_of_start_and_end_ce():
    import keras

    from keras_electra import ElectraQuestionAnswerer

    qa = ElectraQuestionAnswerer(_backbone(), head="simple")
    x = _inputs()
    y = {"start_positions": np.array([9, 0, 12]), "end_positions": np.array([11, 0, 13]),
         "is_impossible": np.array([0, 1, 0])}
    out = qa(x, training=True)
    loss = float(keras.ops.convert_to_numpy(qa.compute_loss(x, y, out)))
    s = _log_softmax(keras.ops.convert_to_numpy(out["start_logits"]).astype(np.float64))
    e = _log_softmax(keras.ops.convert_to_numpy(out["end_logits"]).astype(np.float64))
    rows = np.arange(3)
    expected = -(s[rows, y["start_positions"]].mean() + e[rows, y["end_positions"]].mean()) / 2
    assert loss == pytest.approx(expected, rel=1e-5)


def test_first_fit_traces_the_train_step_once():
    """TensorFlow: the optimizer's variables exist before `fit` traces the step (a traced
    function that creates variables is traced twice); `TaskInputs.fit`, so every task."""
    from keras_electra import ElectraQuestionAnswerer

    qa = ElectraQuestionAnswerer(_backbone(), head="simple")
    qa.compile(optimizer="adam")
    traced, original = [], qa.train_step
    qa.train_step = lambda data: traced.append(qa.optimizer.built) or original(data)
    y = {"start_positions": np.array([1, 2, 3]), "end_positions": np.array([2, 3, 4]),
         "is_impossible": np.array([0, 0, 0])}
    qa.fit(_inputs(), y, batch_size=3, epochs=1, verbose=0)
    assert traced == [True]


@pytest.mark.slow
@pytest.mark.parametrize("head", ["electra", "simple"])
def test_preset_round_trip_and_training_touches_head(head, tmp_path):
    from keras_electra import ElectraQuestionAnswerer, ElectraTokenizer
    from keras_electra.models.electra_question_answerer_preprocessor import (
        ElectraQuestionAnswererPreprocessor,
    )

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "where", "does", "the", "rhine",
             "flow", "flows", "into", "north", "sea", ".", "?", "who", "nobody", "knows"]
    preprocessor = ElectraQuestionAnswererPreprocessor(
        ElectraTokenizer(vocab), sequence_length=32, max_query_length=8)
    qa = ElectraQuestionAnswerer(_backbone(), preprocessor=preprocessor,
                                 head=head, beam_size=4, head_hidden_dim=8)
    raw = {"question": ["Where does the Rhine flow?", "Who?"],
           "context": ["The Rhine flows into the North Sea.", "Nobody knows."]}
    x = preprocessor(raw)
    x = {k: np.asarray(v) for k, v in x.items()}
    y = {"start_positions": np.array([14, 0]), "end_positions": np.array([16, 0]),
         "is_impossible": np.array([0, 1])}
    head_before = {v.path: v.numpy().copy() for v in qa.weights if v.path.startswith("qa_")}
    qa.fit(x, y, epochs=1, batch_size=2, verbose=0)
    for v in qa.weights:
        # qa_start/qa_end biases shift every logit equally: softmax-invariant, zero gradient
        # (G's `dense` bias is the same).
        if v.path.startswith("qa_") and v.path not in ("qa_start/bias", "qa_end/bias"):
            assert not np.allclose(v.numpy(), head_before[v.path]), f"{v.path} not trained"

    qa.save_to_preset(str(tmp_path / "preset"))
    restored = ElectraQuestionAnswerer.from_preset(str(tmp_path / "preset"))
    assert restored.head == head and restored.preprocessor.sequence_length == 32
    a, b = qa.predict(x, verbose=0), restored.predict(raw, verbose=0)
    for key in a:
        np.testing.assert_allclose(a[key], b[key], atol=1e-6, err_msg=key)


_JAX_SCRIPT = r"""
import json, sys
import numpy as np
import keras
assert keras.backend.backend() == "jax"
from keras_electra import ElectraBackbone, ElectraQuestionAnswerer
weights = np.load(sys.argv[1])
data = np.load(sys.argv[2])
x = {k: data[k] for k in ("token_ids", "segment_ids", "padding_mask")}
backbone = ElectraBackbone(**json.loads(sys.argv[3]))
qa = ElectraQuestionAnswerer(backbone, head="electra", beam_size=5, head_hidden_dim=24)
for v in qa.weights:
    v.assign(weights[v.path])
out = qa.predict(x, verbose=0)
y = {"start_positions": np.array([9, 0, 12]), "end_positions": np.array([11, 0, 12]),
     "is_impossible": np.array([0, 1, 0])}
loss = float(qa.compute_loss(x, y, qa(x, training=True)))
qa.compile(optimizer=keras.optimizers.SGD(0.1))
history = qa.fit(x, y, epochs=2, batch_size=3, verbose=0)
np.savez(sys.argv[4], loss=loss, fit_loss=np.array(history.history["loss"]),
         **{k: np.asarray(v) for k, v in out.items()})
"""


@pytest.mark.jax
@pytest.mark.slow
def test_electra_head_same_on_jax(tmp_path):
    """The task (forward, beam, loss in compute_loss, fit) runs on JAX with the same numbers."""
    import json
    import subprocess
    import sys

    import keras

    from keras_electra import ElectraQuestionAnswerer

    qa = ElectraQuestionAnswerer(_backbone(), head="electra", beam_size=5, head_hidden_dim=24)
    x = _inputs()
    y = {"start_positions": np.array([9, 0, 12]), "end_positions": np.array([11, 0, 12]),
         "is_impossible": np.array([0, 1, 0])}
    ours = qa.predict(x, verbose=0)
    tf_loss = float(keras.ops.convert_to_numpy(qa.compute_loss(x, y, qa(x, training=True))))
    np.savez(tmp_path / "w.npz", **{v.path: v.numpy() for v in qa.weights})
    np.savez(tmp_path / "x.npz", **x)
    script = tmp_path / "run_jax.py"
    script.write_text(_JAX_SCRIPT)
    env = jax_env(TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run([sys.executable, str(script), str(tmp_path / "w.npz"),
                           str(tmp_path / "x.npz"), json.dumps(SMALL), str(tmp_path / "o.npz")],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    jax_out = np.load(tmp_path / "o.npz")
    for key in ours:
        np.testing.assert_allclose(jax_out[key], ours[key], atol=1e-4, err_msg=key)
    assert float(jax_out["loss"]) == pytest.approx(tf_loss, rel=1e-4)
    assert np.isfinite(jax_out["fit_loss"]).all()

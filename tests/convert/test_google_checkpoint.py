"""google-research/electra TF1 checkpoints: written here with G's variable names from random
HF weights (a discriminator and a generator sharing the embedding block, as in G), converted,
and compared with the HF forward of the same weights (1e-5 on non-pad tokens)."""

import numpy as np
import pytest
import test_hf_parity as parity
from conftest import import_or_fail

pytestmark = pytest.mark.parity

# G embedding names (G `model/modeling.py` scopes; HF `load_tf_weights_in_electra` reads
# them), written out here as the test's own table.
G_EMBEDDINGS = {
    "embeddings.word_embeddings.weight": "embeddings/word_embeddings",
    "embeddings.position_embeddings.weight": "embeddings/position_embeddings",
    "embeddings.token_type_embeddings.weight": "embeddings/token_type_embeddings",
    "embeddings.LayerNorm.weight": "embeddings/LayerNorm/gamma",
    "embeddings.LayerNorm.bias": "embeddings/LayerNorm/beta",
}


def g_leaf(module, hf_leaf, value):
    """HF (module, weight|bias) -> G leaf name and value (kernels are [in, out] in G)."""
    if module.endswith("LayerNorm"):
        return ("gamma" if hf_leaf == "weight" else "beta"), value
    return ("kernel", value.T) if hf_leaf == "weight" else ("bias", value)


def to_google(electra_state, scope, with_embeddings):
    out = {}
    for name, value in electra_state.items():
        if name.startswith("embeddings."):
            if with_embeddings:
                out[f"electra/{G_EMBEDDINGS[name]}"] = value
            continue
        module, hf_leaf = name.rsplit(".", 1)
        leaf, value = g_leaf(module, hf_leaf, value)
        if module == "embeddings_project":
            out[f"{scope}/embeddings_project/{leaf}"] = value
            continue
        _, _, index, rest = module.split(".", 3)  # encoder.layer.<i>.<rest>
        out[f"{scope}/encoder/layer_{index}/{rest.replace('.', '/')}/{leaf}"] = value
    return out


def numpy_state(module):
    return {k: v.detach().numpy().copy() for k, v in module.state_dict().items()}


@pytest.fixture(scope="module")
def pretraining_models():
    return make_pretraining_pair()


def make_pretraining_pair():
    """HF ElectraForPreTraining + ElectraForMaskedLM (Hg 24) on one embedding block."""
    torch = import_or_fail("torch")
    transformers = import_or_fail("transformers")
    disc = parity.build_hf("ElectraForPreTraining", "emb_ne_hidden_2heads", seed=11)
    v, e, h, n, heads, f, p = parity.CONFIGS["emb_ne_hidden_2heads"]
    gen_config = transformers.ElectraConfig(
        vocab_size=v, embedding_size=e, hidden_size=24, num_hidden_layers=n,
        num_attention_heads=2, intermediate_size=48, max_position_embeddings=p,
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    torch.manual_seed(12)
    gen = transformers.ElectraForMaskedLM(gen_config).eval()
    with torch.no_grad():
        for name, param in gen.named_parameters():
            if name.endswith("bias") or "LayerNorm" in name:
                param.add_(0.1 * torch.randn_like(param))
        # G shares the whole embedding block (word/pos/type + LayerNorm).
        gen.electra.embeddings.load_state_dict(disc.electra.embeddings.state_dict())
        gen.generator_lm_head.weight = gen.electra.embeddings.word_embeddings.weight
    return disc, gen


def google_variables(disc, gen):
    disc_state, gen_state = numpy_state(disc), numpy_state(gen)
    variables = to_google(numpy_state(disc.electra), "electra", with_embeddings=True)
    variables.update(to_google(numpy_state(gen.electra), "generator", with_embeddings=False))
    p = "discriminator_predictions"
    variables.update({
        f"{p}/dense/kernel": disc_state[f"{p}.dense.weight"].T,
        f"{p}/dense/bias": disc_state[f"{p}.dense.bias"],
        f"{p}/dense_1/kernel": disc_state[f"{p}.dense_prediction.weight"].T,
        f"{p}/dense_1/bias": disc_state[f"{p}.dense_prediction.bias"],
        "generator_predictions/dense/kernel": gen_state["generator_predictions.dense.weight"].T,
        "generator_predictions/dense/bias": gen_state["generator_predictions.dense.bias"],
        "generator_predictions/LayerNorm/gamma": gen_state["generator_predictions.LayerNorm.weight"],
        "generator_predictions/LayerNorm/beta": gen_state["generator_predictions.LayerNorm.bias"],
        "generator_predictions/output_bias": gen_state["generator_lm_head.bias"],
    })
    # Optimizer slots and bookkeeping that a real pretraining checkpoint holds.
    for name in list(variables)[:5]:
        variables[f"{name}/adam_m"] = np.zeros_like(variables[name])
        variables[f"{name}/adam_v"] = np.ones_like(variables[name])
    variables["global_step"] = np.array(1000, dtype=np.int64)
    return variables


def test_google_pretraining_checkpoint_matches_hf(tmp_path, pretraining_models):
    from keras_electra.convert import google

    disc_hf, gen_hf = pretraining_models
    variables = google_variables(disc_hf, gen_hf)
    rng = np.random.RandomState(0)
    variables["task_specific/squad/qa_hidden/kernel"] = rng.randn(64, 512).astype("float32")
    prefix = google.write_google_checkpoint(str(tmp_path / "ckpt" / "model.ckpt-1000"), variables)

    ckpt = google.load_google_checkpoint(prefix, num_heads=2, generator_num_heads=2)
    disc, gen = google.backbones_from_google(ckpt)
    assert gen.embeddings is disc.embeddings
    assert gen.token_embedding.embeddings is disc.token_embedding.embeddings
    assert (disc.hidden_dim, gen.hidden_dim, gen.embedding_dim) == (32, 24, 16)

    inputs = parity.make_inputs(parity.CONFIGS["emb_ne_hidden_2heads"][0], seed=1)
    mask = inputs["padding_mask"]
    ref_disc_seq, ref_disc_logits = parity.hf_forward(disc_hf, inputs)
    ref_gen_seq, ref_gen_logits = parity.hf_forward(gen_hf, inputs)
    disc_seq = disc(inputs)["sequence_output"].numpy()
    gen_seq = gen(inputs)["sequence_output"].numpy()
    parity.assert_close_on_tokens(disc_seq, ref_disc_seq, mask, "discriminator sequence_output")
    parity.assert_close_on_tokens(gen_seq, ref_gen_seq, mask, "generator sequence_output")

    disc_head = google.google_discriminator_head_weights(ckpt)
    parity.assert_close_on_tokens(parity.disc_logits_numpy(disc_seq.astype("float64"), disc_head),
                                  ref_disc_logits, mask, "disc logits")
    gen_head = google.google_generator_head_weights(ckpt)
    word = disc.token_embedding.embeddings.numpy()
    parity.assert_close_on_tokens(
        parity.mlm_logits_numpy(gen_seq.astype("float64"), gen_head, word),
        ref_gen_logits, mask, "MLM logits")
    np.testing.assert_array_equal(google.google_task_weights(ckpt)["squad/qa_hidden/kernel"],
                                  variables["task_specific/squad/qa_hidden/kernel"])


def test_google_cli_generator_part(tmp_path, pretraining_models):
    from keras_electra import ElectraBackbone
    from keras_electra.cli import main
    from keras_electra.convert import google
    from keras_electra.convert.preset_io import load_preset_heads

    disc_hf, gen_hf = pretraining_models
    google.write_google_checkpoint(str(tmp_path / "ckpt" / "model.ckpt-7"),
                                   google_variables(disc_hf, gen_hf))
    code = main(["convert", "--from", "google", str(tmp_path / "ckpt"), str(tmp_path / "gen"),
                 "--part", "generator", "--num-heads", "2", "--generator-num-heads", "2"])
    assert code == 0
    gen = ElectraBackbone.from_preset(str(tmp_path / "gen"))
    inputs = parity.make_inputs(parity.CONFIGS["emb_ne_hidden_2heads"][0], seed=2)
    ref_seq, ref_logits = parity.hf_forward(gen_hf, inputs)
    seq = gen(inputs)["sequence_output"].numpy()
    parity.assert_close_on_tokens(seq, ref_seq, inputs["padding_mask"], "generator (CLI)")
    head = load_preset_heads(tmp_path / "gen")["generator"]
    parity.assert_close_on_tokens(
        parity.mlm_logits_numpy(seq.astype("float64"), head,
                                gen.token_embedding.embeddings.numpy()),
        ref_logits, inputs["padding_mask"], "MLM logits (CLI)")


def test_google_unknown_variable_names_are_listed(tmp_path, pretraining_models, capsys):
    from keras_electra.cli import main
    from keras_electra.convert import google

    variables = google_variables(*pretraining_models)
    variables["electra/encoder/layer_0/attention/self/rotary/kernel"] = np.zeros((2, 2), "float32")
    variables["cls/predictions/output_bias"] = np.zeros(3, "float32")
    prefix = google.write_google_checkpoint(str(tmp_path / "bad" / "model.ckpt-1"), variables)
    with pytest.raises(ValueError, match="unknown variable names") as info:
        google.load_google_checkpoint(prefix, num_heads=2, generator_num_heads=2)
    assert "cls/predictions/output_bias" in str(info.value)
    assert "electra/encoder/layer_0/attention/self/rotary/kernel" in str(info.value)
    assert prefix in str(info.value)
    assert main(["convert", "--from", "google", prefix, str(tmp_path / "out")]) == 2
    assert "cls/predictions/output_bias" in capsys.readouterr().err


def test_google_missing_checkpoint_names_the_path(tmp_path):
    from keras_electra.convert import google

    with pytest.raises(FileNotFoundError, match="model.ckpt-5.index"):
        google.load_google_checkpoint(str(tmp_path / "model.ckpt-5"))
    with pytest.raises(FileNotFoundError, match="no TF checkpoint"):
        google.load_google_checkpoint(str(tmp_path))


def test_google_squad_head_assigns_to_named_dense_layers(tmp_path):
    import types

    import keras

    from keras_electra.convert import google

    hidden, inner = 8, 6
    shapes = {"squad/dense": (hidden, 1), "squad/qa_hidden": (2 * hidden, inner),
              "squad/dense_1": (inner, 1), "squad/dense_2": (2 * hidden, inner),
              "squad/dense_3": (inner, 1)}
    rng = np.random.RandomState(0)
    task = {}
    for scope, (fan_in, fan_out) in shapes.items():
        task[f"{scope}/kernel"] = rng.normal(size=(fan_in, fan_out)).astype("float32")
        task[f"{scope}/bias"] = rng.normal(size=(fan_out,)).astype("float32")
    layers = {}
    for scope, attr in (("squad/dense", "qa_start"), ("squad/qa_hidden", "qa_hidden"),
                        ("squad/dense_1", "qa_end"), ("squad/dense_2", "qa_answerable_hidden"),
                        ("squad/dense_3", "qa_answerable")):
        layer = keras.layers.Dense(shapes[scope][1])
        layer.build((None, shapes[scope][0]))
        layers[attr] = layer
    model = types.SimpleNamespace(**layers)
    google.assign_google_squad_head(model, task)
    np.testing.assert_array_equal(model.qa_hidden.kernel.numpy(), task["squad/qa_hidden/kernel"])
    np.testing.assert_array_equal(model.qa_answerable.bias.numpy(), task["squad/dense_3/bias"])
    np.testing.assert_array_equal(model.qa_end.kernel.numpy(), task["squad/dense_1/kernel"])
    del task["squad/dense_3/bias"]
    with pytest.raises(ValueError, match="squad/dense_3/bias is missing"):
        google.assign_google_squad_head(model, task)

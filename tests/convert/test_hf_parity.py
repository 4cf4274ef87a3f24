"""Parity with Hugging Face transformers' Electra (PyTorch, CPU) through from_preset and the CLI.

Random-init HF models from several small configs (embedding != hidden and ==,
1/2/4 heads), dropout 0, saved with save_pretrained, loaded into our backbone:
sequence_output, discriminator logits and generator MLM logits (heads applied
in numpy with exact erf GELU) must match HF to 1e-5 on every non-pad position;
HF -> ours -> HF must reproduce the state dict bit for bit.
"""

import numpy as np
import pytest
from conftest import import_or_fail
from scipy.special import erf

pytestmark = pytest.mark.parity

CONFIGS = {
    # name: (vocab, embedding, hidden, layers, heads, intermediate, max_positions)
    "emb_ne_hidden_2heads": (97, 16, 32, 2, 2, 64, 40),
    "emb_eq_hidden_4heads": (97, 32, 32, 2, 4, 48, 24),
    "tiny_1head": (61, 8, 16, 1, 1, 40, 16),
}
MODEL_CLASSES = ("ElectraModel", "ElectraForPreTraining", "ElectraForMaskedLM")
TOL = 1e-5


def gelu(x):
    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))


def layer_norm(x, gamma, beta, eps=1e-12):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def make_inputs(vocab, seed=0, batch=3, length=12):
    rng = np.random.RandomState(seed)
    token_ids = rng.randint(1, vocab, size=(batch, length)).astype("int32")
    segment_ids = np.zeros((batch, length), "int32")
    padding_mask = np.zeros((batch, length), "int32")
    for row, n in enumerate([length, length - 3, length // 2]):
        padding_mask[row, :n] = 1
        segment_ids[row, n // 2:n] = 1  # both segments used
        token_ids[row, n:] = 0
    return {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}


def build_hf(model_class, config_name, seed=0):
    torch = import_or_fail("torch")
    transformers = import_or_fail("transformers")
    v, e, h, n, heads, f, p = CONFIGS[config_name]
    config = transformers.ElectraConfig(
        vocab_size=v, embedding_size=e, hidden_size=h, num_hidden_layers=n,
        num_attention_heads=heads, intermediate_size=f, max_position_embeddings=p,
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
    )
    torch.manual_seed(seed)
    model = getattr(transformers, model_class)(config).eval()
    # Non-trivial biases / LayerNorm params so every mapping is exercised.
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("bias") or "LayerNorm" in name:
                param.add_(0.1 * torch.randn_like(param))
    return model


def hf_forward(model, inputs):
    torch = import_or_fail("torch")
    kwargs = {
        "input_ids": torch.tensor(inputs["token_ids"], dtype=torch.long),
        "token_type_ids": torch.tensor(inputs["segment_ids"], dtype=torch.long),
        "attention_mask": torch.tensor(inputs["padding_mask"], dtype=torch.long),
    }
    with torch.no_grad():
        electra = getattr(model, "electra", model)
        sequence = electra(**kwargs).last_hidden_state.numpy()
        logits = None if electra is model else model(**kwargs).logits.numpy()
    return sequence, logits


def assert_close_on_tokens(ours, ref, mask, what):
    keep = mask.astype(bool)
    diff = np.abs(np.asarray(ours)[keep] - np.asarray(ref)[keep]).max()
    assert diff <= TOL, f"{what}: max |diff| {diff:.3g} > {TOL}"


def disc_logits_numpy(sequence, head):
    x = gelu(sequence @ head["dense/kernel"] + head["dense/bias"])
    return (x @ head["dense_prediction/kernel"] + head["dense_prediction/bias"])[..., 0]


def mlm_logits_numpy(sequence, head, word_embeddings):
    x = gelu(sequence @ head["intermediate_dense/kernel"] + head["intermediate_dense/bias"])
    x = layer_norm(x, head["intermediate_layer_norm/gamma"], head["intermediate_layer_norm/beta"])
    return x @ word_embeddings.T + head["output_bias"]


def read_safetensors(path):
    from safetensors.numpy import load_file

    return load_file(str(path))


@pytest.mark.parametrize("config_name", sorted(CONFIGS))
@pytest.mark.parametrize("model_class", MODEL_CLASSES)
def test_from_preset_matches_hf(tmp_path, model_class, config_name):
    from keras_electra import ElectraBackbone
    from keras_electra.convert import hf

    model = build_hf(model_class, config_name)
    hf_dir = tmp_path / "hf"
    model.save_pretrained(hf_dir)
    inputs = make_inputs(CONFIGS[config_name][0])
    ref_sequence, ref_logits = hf_forward(model, inputs)

    backbone = ElectraBackbone.from_preset(str(hf_dir))
    assert backbone.num_heads == CONFIGS[config_name][4]
    assert (backbone.embeddings_project is None) == (CONFIGS[config_name][1] ==
                                                     CONFIGS[config_name][2])
    sequence = backbone(inputs)["sequence_output"].numpy()
    assert_close_on_tokens(sequence, ref_sequence, inputs["padding_mask"], "sequence_output")

    if model_class == "ElectraForPreTraining":
        head = hf.hf_discriminator_head_weights(str(hf_dir))
        logits = disc_logits_numpy(sequence.astype("float64"), head)
        assert_close_on_tokens(logits, ref_logits, inputs["padding_mask"], "disc logits")
    if model_class == "ElectraForMaskedLM":
        head = hf.hf_generator_head_weights(str(hf_dir))
        word = backbone.token_embedding.embeddings.numpy()
        logits = mlm_logits_numpy(sequence.astype("float64"), head, word)
        assert_close_on_tokens(logits, ref_logits, inputs["padding_mask"], "MLM logits")

    # HF -> ours -> HF: bit-exact state dict.
    heads = {kind: hf.hf_head_weights(str(hf_dir), kind) for kind in hf.load_hf_checkpoint(hf_dir).heads}
    out_dir = tmp_path / "back"
    hf.export_backbone_to_hf(backbone, str(out_dir), model_class=model_class, heads=heads)
    original = read_safetensors(hf_dir / "model.safetensors")
    exported = read_safetensors(out_dir / "model.safetensors")
    assert sorted(exported) == sorted(original)
    for name in original:
        assert exported[name].dtype == original[name].dtype, name
        np.testing.assert_array_equal(exported[name], original[name], err_msg=name)


def test_convert_and_export_cli_round_trip(tmp_path):
    """convert --from hf -> preset -> from_preset and export --to hf -> transformers loads it."""
    import transformers

    from keras_electra import ElectraBackbone
    from keras_electra.cli import main
    from keras_electra.convert.preset_io import load_preset_heads

    model = build_hf("ElectraForPreTraining", "emb_ne_hidden_2heads", seed=3)
    model.save_pretrained(tmp_path / "hf")
    inputs = make_inputs(CONFIGS["emb_ne_hidden_2heads"][0], seed=3)
    ref_sequence, ref_logits = hf_forward(model, inputs)

    assert main(["convert", "--from", "hf", str(tmp_path / "hf"), str(tmp_path / "preset")]) == 0
    backbone = ElectraBackbone.from_preset(str(tmp_path / "preset"))
    sequence = backbone(inputs)["sequence_output"].numpy()
    assert_close_on_tokens(sequence, ref_sequence, inputs["padding_mask"], "sequence_output")
    head = load_preset_heads(tmp_path / "preset")["discriminator"]
    logits = disc_logits_numpy(sequence.astype("float64"), head)
    assert_close_on_tokens(logits, ref_logits, inputs["padding_mask"], "disc logits")

    assert main(["export", "--to", "hf", str(tmp_path / "preset"), str(tmp_path / "back")]) == 0
    reloaded = transformers.ElectraForPreTraining.from_pretrained(tmp_path / "back").eval()
    original_state = model.state_dict()
    reloaded_state = reloaded.state_dict()
    assert sorted(reloaded_state) == sorted(original_state)
    for name, value in original_state.items():
        assert reloaded_state[name].equal(value), name


def test_masked_lm_export_reloads_in_transformers_with_tied_head(tmp_path):
    import transformers

    from keras_electra.convert import hf

    model = build_hf("ElectraForMaskedLM", "emb_ne_hidden_2heads", seed=5)
    model.save_pretrained(tmp_path / "hf")
    backbone = hf.backbone_from_hf(str(tmp_path / "hf"))
    heads = {"generator": hf.hf_generator_head_weights(str(tmp_path / "hf"))}
    hf.export_backbone_to_hf(backbone, str(tmp_path / "back"), "ElectraForMaskedLM", heads)
    reloaded = transformers.ElectraForMaskedLM.from_pretrained(tmp_path / "back").eval()
    for name, value in model.state_dict().items():
        assert reloaded.state_dict()[name].equal(value), name
    inputs = make_inputs(CONFIGS["emb_ne_hidden_2heads"][0], seed=5)
    _, ref_logits = hf_forward(model, inputs)
    _, logits = hf_forward(reloaded, inputs)
    np.testing.assert_array_equal(logits, ref_logits)


def test_question_answering_head_and_pytorch_bin(tmp_path):
    """ElectraForQuestionAnswering qa_outputs load as a Dense(2); pytorch_model.bin is read too."""
    torch = import_or_fail("torch")

    from keras_electra import ElectraBackbone
    from keras_electra.convert import hf

    model = build_hf("ElectraForQuestionAnswering", "emb_eq_hidden_4heads", seed=7)
    model.save_pretrained(tmp_path / "hf")
    # The same model as a legacy pytorch_model.bin (torch.load(weights_only=True) path).
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "config.json").write_text((tmp_path / "hf" / "config.json").read_text())
    torch.save(model.state_dict(), tmp_path / "bin" / "pytorch_model.bin")

    inputs = make_inputs(CONFIGS["emb_eq_hidden_4heads"][0], seed=7)
    kwargs = {"input_ids": torch.tensor(inputs["token_ids"], dtype=torch.long),
              "token_type_ids": torch.tensor(inputs["segment_ids"], dtype=torch.long),
              "attention_mask": torch.tensor(inputs["padding_mask"], dtype=torch.long)}
    with torch.no_grad():
        out = model(**kwargs)
    for source in ("hf", "bin"):
        backbone = ElectraBackbone.from_preset(str(tmp_path / source))
        sequence = backbone(inputs)["sequence_output"].numpy().astype("float64")
        qa = hf.hf_qa_weights(str(tmp_path / source))
        logits = sequence @ qa["kernel"] + qa["bias"]
        assert_close_on_tokens(logits[..., 0], out.start_logits.numpy(),
                               inputs["padding_mask"], f"{source} start logits")
        assert_close_on_tokens(logits[..., 1], out.end_logits.numpy(),
                               inputs["padding_mask"], f"{source} end logits")


def test_head_weights_assign_into_keras_layers(tmp_path):
    """assign_head_weights/get_head_weights round trip on a keras_hub MaskedLMHead and a Dense."""
    import keras
    import keras_hub

    from keras_electra.convert import hf

    model = build_hf("ElectraForMaskedLM", "emb_ne_hidden_2heads", seed=9)
    model.save_pretrained(tmp_path / "hf")
    backbone = hf.backbone_from_hf(str(tmp_path / "hf"))
    weights = hf.hf_generator_head_weights(str(tmp_path / "hf"))
    head = keras_hub.layers.MaskedLMHead(
        vocabulary_size=backbone.vocabulary_size, token_embedding=backbone.token_embedding,
        intermediate_activation="gelu", layer_norm_epsilon=1e-12)
    head.build((None, None, backbone.hidden_dim), (None, None))
    hf.assign_head_weights(head, "generator", weights)
    back = hf.get_head_weights(head, "generator")
    for key, value in weights.items():
        np.testing.assert_array_equal(back[key], value, err_msg=key)

    qa = keras.layers.Dense(2)
    qa.build((None, backbone.hidden_dim))
    with pytest.raises(ValueError, match="shape"):
        hf.assign_head_weights(qa, "qa", {"kernel": np.zeros((3, 2)), "bias": np.zeros(2)})


def test_bfloat16_safetensors_are_read_without_torch_dtype_support(tmp_path):
    """numpy has no bfloat16: such checkpoints are widened to float32 exactly."""
    torch = import_or_fail("torch")

    from keras_electra.convert import hf

    model = build_hf("ElectraModel", "tiny_1head", seed=13).to(torch.bfloat16)
    model.save_pretrained(tmp_path / "bf16")
    backbone = hf.backbone_from_hf(str(tmp_path / "bf16"))
    exported = hf.backbone_to_hf_tensors(backbone)
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(exported[name], value.float().numpy(), err_msg=name)


def test_question_answerer_from_preset_hf_dir(tmp_path):
    """`ElectraQuestionAnswerer.from_preset(hf_qa_dir)`: the task's own start/end logits equal
    HF's; vocab.txt becomes its preprocessor; G's head on a QA dir is refused."""
    torch = import_or_fail("torch")

    from keras_electra import ElectraQuestionAnswerer

    model = build_hf("ElectraForQuestionAnswering", "emb_ne_hidden_2heads", seed=11)
    model.save_pretrained(tmp_path / "hf")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(92)]
    (tmp_path / "hf" / "vocab.txt").write_text("\n".join(vocab) + "\n")

    qa = ElectraQuestionAnswerer.from_preset(str(tmp_path / "hf"))
    assert qa.head == "simple"
    inputs = make_inputs(CONFIGS["emb_ne_hidden_2heads"][0], seed=11)
    ours = qa.predict(inputs, verbose=0)
    with torch.no_grad():
        ref = model(input_ids=torch.tensor(inputs["token_ids"], dtype=torch.long),
                    token_type_ids=torch.tensor(inputs["segment_ids"], dtype=torch.long),
                    attention_mask=torch.tensor(inputs["padding_mask"], dtype=torch.long))
    mask = inputs["padding_mask"]
    assert_close_on_tokens(ours["start_logits"], ref.start_logits.numpy(), mask, "start logits")
    assert_close_on_tokens(ours["end_logits"], ref.end_logits.numpy(), mask, "end logits")
    # max_position_embeddings 40 caps the default sequence length 384
    assert qa.preprocessor.sequence_length == 40
    assert qa.preprocessor.tokenizer.vocabulary_size() == len(vocab)

    with pytest.raises(ValueError, match="head='simple'; head='electra' would drop"):
        ElectraQuestionAnswerer.from_preset(str(tmp_path / "hf"), head="electra")
    # A backbone-only dir (ElectraModel) gives a fresh head of the asked kind.
    build_hf("ElectraModel", "emb_ne_hidden_2heads", seed=11).save_pretrained(tmp_path / "base")
    fresh = ElectraQuestionAnswerer.from_preset(str(tmp_path / "base"), head="electra",
                                                beam_size=4)
    assert fresh.head == "electra" and fresh.preprocessor is None


def test_preset_kind_reads_the_config(tmp_path, monkeypatch):
    """A transformers model (config.json with `model_type`), local or `hf://`, is an HF preset;
    a Keras-format preset is not, also on the HF hub (its config.json is fetched alone)."""
    import huggingface_hub

    from keras_electra.utils.preset_dirs import HF, KERAS_HUB, QA_TASK, preset_kind

    for name, config in (("hf", '{"model_type": "electra"}'),
                         ("keras", '{"registered_name": "keras_hub>ElectraBackbone"}'),
                         ("qa", '{"registered_name": "keras_electra>ElectraBackbone"}')):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text(config)
    (tmp_path / "qa" / "task.json").write_text(
        '{"class_name": "ElectraQuestionAnswerer", '
        '"registered_name": "keras_electra>ElectraQuestionAnswerer"}')  # as Keras writes it
    fetched = []

    def fake_hf_hub_download(repo_id, filename, **kwargs):
        fetched.append((repo_id, filename))
        return str(tmp_path / repo_id.split("/")[-1] / filename)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_hf_hub_download)
    assert preset_kind(str(tmp_path / "hf")) == HF and preset_kind(tmp_path / "hf") == HF
    assert preset_kind(str(tmp_path / "keras")) == KERAS_HUB
    assert preset_kind(str(tmp_path / "qa")) == QA_TASK
    assert preset_kind(str(tmp_path / "missing")) is None and preset_kind(None) is None
    assert fetched == []  # local dirs need no network
    assert preset_kind("hf://org/hf") == HF and preset_kind("hf://org/keras") == KERAS_HUB
    assert fetched == [("org/hf", "config.json"), ("org/keras", "config.json")]

"""Architecture presets against G's sizes (G `util/training_utils.get_bert_config`), keras-hub preset
names, and from_preset's dispatch for names, hf:// handles and Kaggle presets (offline)."""

import numpy as np
import pytest

from keras_electra import ElectraBackbone
from keras_electra.models.electra_presets import (
    ARCHITECTURE_PRESETS,
    KERAS_HUB_PRESETS,
    VOCAB_SIZE,
    backbone_parameter_count,
)

# (L, H, heads, FFN, E) and generator (Hg, heads, FFN, Lg), section 1.1.
REFERENCE = {
    "electra_small": ((12, 256, 4, 1024, 128), (64, 1, 256, 12)),
    "electra_small_plus": ((12, 256, 4, 1024, 128), (256, 4, 1024, 12)),
    "electra_base": ((12, 768, 12, 3072, 768), (256, 4, 1024, 12)),
    "electra_large": ((24, 1024, 16, 4096, 1024), (256, 4, 1024, 24)),
}
# HF ElectraForMaskedLM (tied output embedding) parameter counts, section 1.1.
GENERATOR_MLM_PARAMS = {"electra_small": 4_620_026, "electra_small_plus": 13_546_682,
                        "electra_base": 33_740_602, "electra_large": 51_295_290}


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_architecture_presets_match_the_reference(name):
    preset = ARCHITECTURE_PRESETS[name]
    b, g = preset["backbone"], preset["generator"]
    assert (b["num_layers"], b["hidden_dim"], b["num_heads"], b["intermediate_dim"],
            b["embedding_dim"]) == REFERENCE[name][0]
    assert (g["hidden_dim"], g["num_heads"], g["intermediate_dim"], g["num_layers"]) == \
        REFERENCE[name][1]
    assert b["vocabulary_size"] == VOCAB_SIZE == 30522
    assert b["max_sequence_length"] == g["max_sequence_length"] == 512
    assert g["embedding_dim"] == b["embedding_dim"]  # shared embedding block
    # Generator + MLM head (dense Hg->E, LayerNorm E, output bias V; output matrix tied).
    e, hg, v = b["embedding_dim"], g["hidden_dim"], b["vocabulary_size"]
    head = hg * e + e + 2 * e + v
    assert backbone_parameter_count(g) + head == GENERATOR_MLM_PARAMS[name]


def test_pretraining_defaults():
    pre = {n: p["pretraining"] for n, p in ARCHITECTURE_PRESETS.items()}
    assert pre["electra_small"] == {"mask_prob": 0.15, "sequence_length": 128}
    assert pre["electra_small_plus"]["sequence_length"] == 512
    assert pre["electra_base"] == {"mask_prob": 0.15, "sequence_length": 512}
    assert pre["electra_large"] == {"mask_prob": 0.25, "sequence_length": 512}
    for name, preset in ARCHITECTURE_PRESETS.items():
        assert preset["metadata"]["description"], name


def test_from_preset_name_builds_random_init_and_kwargs_override():
    tiny = ElectraBackbone.from_preset("electra_tiny", vocabulary_size=1000, dropout=0.0)
    config = ARCHITECTURE_PRESETS["electra_tiny"]["backbone"]
    assert tiny.vocabulary_size == 1000 and tiny.dropout == 0.0
    assert tiny.num_layers == config["num_layers"] and tiny.hidden_dim == config["hidden_dim"]
    assert tiny.token_embedding.embeddings.shape == (1000, config["embedding_dim"])
    other = ElectraBackbone.from_preset("electra_tiny", vocabulary_size=1000)
    assert not np.array_equal(tiny.token_embedding.embeddings.numpy(),
                              other.token_embedding.embeddings.numpy())  # random init


def test_keras_hub_preset_names():
    sizes, parts = ("small", "base", "large"), ("discriminator", "generator")
    assert set(KERAS_HUB_PRESETS) == {f"electra_{s}_{p}_uncased_en" for s in sizes for p in parts}
    for name, handle in KERAS_HUB_PRESETS.items():
        assert handle == f"kaggle://keras/electra/keras/{name}/2"


def test_keras_hub_name_dispatches_to_the_kaggle_handle(tmp_path, monkeypatch):
    """Offline stand-in for Kaggle: the handle is served from a locally saved preset."""
    import keras_hub

    source = keras_hub.models.ElectraBackbone(
        vocab_size=40, num_layers=1, num_heads=2, hidden_dim=16, embedding_dim=8,
        intermediate_dim=32, max_sequence_length=16)
    source.save_to_preset(str(tmp_path))
    requested = []
    original = keras_hub.models.ElectraBackbone.from_preset.__func__

    def fake_from_preset(cls, preset, load_weights=True, **kwargs):
        requested.append(preset)
        return original(cls, str(tmp_path), load_weights=load_weights, **kwargs)

    monkeypatch.setattr(keras_hub.models.ElectraBackbone, "from_preset",
                        classmethod(fake_from_preset))
    backbone = ElectraBackbone.from_preset("electra_small_discriminator_uncased_en")
    assert requested == [KERAS_HUB_PRESETS["electra_small_discriminator_uncased_en"]]
    assert type(backbone) is ElectraBackbone
    np.testing.assert_array_equal(backbone.token_embedding.embeddings.numpy(),
                                  source.token_embedding.embeddings.numpy())


def test_hf_handle_uses_snapshot_download(tmp_path, monkeypatch):
    import huggingface_hub

    from keras_electra.convert import hf

    reference = ElectraBackbone(vocabulary_size=30, num_layers=1, num_heads=2, hidden_dim=16,
                                embedding_dim=16, intermediate_dim=32, max_sequence_length=8)
    hf.export_backbone_to_hf(reference, str(tmp_path / "snap"))
    calls = []

    def fake_snapshot_download(repo_id, **kwargs):
        calls.append(repo_id)
        return str(tmp_path / "snap")

    def fake_hf_hub_download(repo_id, filename, **kwargs):
        calls.append((repo_id, filename))
        return str(tmp_path / "snap" / filename)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_hf_hub_download)
    backbone = ElectraBackbone.from_preset("hf://google/electra-tiny-test")
    assert calls == [("google/electra-tiny-test", "config.json"), "google/electra-tiny-test"]
    for a, b in zip(backbone.weights, reference.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_pretrainer_from_preset_honours_generator_size():
    """`generator_hidden_size` (G's sweep, paper Fig. 3) and `generator_config` given to
    from_preset size the generator; before, the preset's generator silently won."""
    from keras_electra import ElectraPretrainer

    default = ElectraPretrainer.from_preset("electra_tiny", vocabulary_size=1000)
    assert default.generator.hidden_dim == 32 and default.generator_hidden_size == 0.25
    smaller = ElectraPretrainer.from_preset("electra_tiny", vocabulary_size=1000,
                                            generator_hidden_size=0.125)
    g = smaller.generator
    assert (g.hidden_dim, g.num_heads, g.intermediate_dim, g.num_layers) == (16, 1, 64, 2)
    assert g.vocabulary_size == 1000 and smaller.get_config()["generator_hidden_size"] == 0.125
    plus = ElectraPretrainer.from_preset("electra_small_plus", vocabulary_size=1000,
                                         num_layers=1)
    assert plus.generator.hidden_dim == 256 and plus.generator_hidden_size == 1.0
    assert plus.backbone.num_layers == plus.generator.num_layers == 1  # G: Lg = L x 1.0
    explicit = ElectraPretrainer.from_preset(
        "electra_tiny", vocabulary_size=1000,
        generator_config={**ARCHITECTURE_PRESETS["electra_tiny"]["generator"],
                          "vocabulary_size": 1000, "hidden_dim": 48, "num_heads": 1,
                          "intermediate_dim": 96},
    )
    assert explicit.generator.hidden_dim == 48 and explicit.generator.intermediate_dim == 96

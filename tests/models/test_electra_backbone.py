"""ElectraBackbone: shapes, dropout separation, config and preset round trips, shared
embeddings, parameter counts of the presets, TF vs JAX forward."""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from jax_env import jax_env

from keras_electra import ElectraBackbone
from keras_electra.models.electra_presets import ARCHITECTURE_PRESETS, backbone_parameter_count

TINY = dict(vocabulary_size=50, num_layers=2, num_heads=2, hidden_dim=16, embedding_dim=8,
            intermediate_dim=32, max_sequence_length=16)
PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def make_inputs(batch=2, length=6, vocab=50, seed=0):
    rng = np.random.RandomState(seed)
    mask = np.ones((batch, length), "int32")
    mask[1, length - 2:] = 0
    return {"token_ids": rng.randint(1, vocab, (batch, length)).astype("int32") * mask,
            "segment_ids": np.concatenate([np.zeros((batch, length // 2), "int32"),
                                           np.ones((batch, length - length // 2), "int32")], 1),
            "padding_mask": mask}


def randomize(model, seed=0):
    rng = np.random.RandomState(seed)
    for v in model.weights:
        v.assign(rng.normal(size=v.shape).astype("float32") * 0.2)


def forward(model, inputs, training=False):
    return np.asarray(model(inputs, training=training)["sequence_output"])


def test_output_shapes_and_projection():
    backbone = ElectraBackbone(**TINY)
    out = forward(backbone, make_inputs())
    assert out.shape == (2, 6, 16)
    assert backbone.embeddings_project is not None
    assert backbone.embeddings_project.kernel.shape == (8, 16)
    same = ElectraBackbone(**{**TINY, "embedding_dim": 16})
    assert same.embeddings_project is None
    assert forward(same, make_inputs()).shape == (2, 6, 16)


def _dropout_rates(backbone):
    """(attention-probability rates, every other Dropout layer's rate) in the backbone."""
    attention, other = [], []
    for layer in backbone._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.layers.MultiHeadAttention):
            attention.append(layer._dropout_layer.rate)
        elif isinstance(layer, keras.layers.Dropout):
            owner_is_attention = any(layer is a._dropout_layer for a in backbone._flatten_layers()
                                     if isinstance(a, keras.layers.MultiHeadAttention))
            if not owner_is_attention:
                other.append(layer.rate)
    return attention, other


def test_dropout_is_off_at_inference_and_separated():
    inputs = make_inputs()
    none = ElectraBackbone(**TINY, dropout=0.0, attention_dropout=0.0)
    np.testing.assert_array_equal(forward(none, inputs, True), forward(none, inputs, False))

    attention_only = ElectraBackbone(**TINY, dropout=0.0, attention_dropout=0.5)
    attention, other = _dropout_rates(attention_only)
    assert attention == [0.5, 0.5] and set(other) == {0.0}
    assert not np.allclose(forward(attention_only, inputs, True),
                           forward(attention_only, inputs, False))

    hidden_only = ElectraBackbone(**TINY, dropout=0.3, attention_dropout=0.0)
    attention, other = _dropout_rates(hidden_only)
    assert attention == [0.0, 0.0] and set(other) == {0.3}
    # The attention layer itself is deterministic in training when its rate is 0.
    layer = hidden_only.transformer_layers[0]._self_attention_layer
    x = np.random.RandomState(1).normal(size=(1, 4, 16)).astype("float32")
    np.testing.assert_array_equal(np.asarray(layer(x, x, training=True)),
                                  np.asarray(layer(x, x, training=False)))
    assert hidden_only.get_config()["attention_dropout"] == 0.0
    assert ElectraBackbone(**TINY, dropout=0.2).attention_dropout == 0.2  # default = dropout


def test_config_round_trip():
    backbone = ElectraBackbone(**TINY, dropout=0.0, attention_dropout=0.25)
    randomize(backbone)
    config = backbone.get_config()
    clone = ElectraBackbone.from_config(config)
    assert clone.get_config() == config
    clone.set_weights(backbone.get_weights())
    inputs = make_inputs()
    np.testing.assert_array_equal(forward(clone, inputs), forward(backbone, inputs))


def test_save_to_preset_and_from_preset_give_identical_outputs(tmp_path, bert_vocab_path):
    import keras_hub

    from keras_electra import ElectraTokenizer

    backbone = ElectraBackbone(**TINY, dropout=0.0)
    randomize(backbone, seed=3)
    backbone.save_to_preset(str(tmp_path))
    tokenizer = ElectraTokenizer(vocabulary=str(bert_vocab_path))
    tokenizer.save_to_preset(str(tmp_path))
    for name in ("config.json", "model.weights.h5", "metadata.json", "tokenizer.json",
                 os.path.join("assets", "tokenizer", "vocabulary.txt")):
        assert (tmp_path / name).exists(), name
    assert json.loads((tmp_path / "config.json").read_text())["registered_name"] == \
        "keras_electra>ElectraBackbone"

    inputs = make_inputs()
    loaded = ElectraBackbone.from_preset(str(tmp_path))
    np.testing.assert_array_equal(forward(loaded, inputs), forward(backbone, inputs))
    # keras-hub's generic loader resolves our registered class too.
    generic = keras_hub.models.Backbone.from_preset(str(tmp_path))
    assert type(generic) is ElectraBackbone
    np.testing.assert_array_equal(forward(generic, inputs), forward(backbone, inputs))

    reloaded_tok = ElectraTokenizer.from_preset(str(tmp_path))
    assert isinstance(reloaded_tok, ElectraTokenizer)
    text = ["The Rhine flows through Graubünden.", "Who named it?"]
    for a, b in zip(reloaded_tok(text), tokenizer(text)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert reloaded_tok.strip_accents and reloaded_tok.lowercase


class _Pair(keras.Model):
    """A discriminator and a generator on one embedding block (as the pretrainer holds them)."""

    def __init__(self):
        super().__init__()
        self.disc = ElectraBackbone(**TINY, dropout=0.0)
        self.gen = ElectraBackbone(**{**TINY, "hidden_dim": 4, "num_heads": 1,
                                      "intermediate_dim": 16},
                                   dropout=0.0, embeddings=self.disc.embeddings)

    def call(self, x):
        return self.disc(x)["sequence_output"], self.gen(x)["sequence_output"]


def test_generator_shares_embedding_variables_and_save_load_keeps_sharing(tmp_path):
    import h5py

    pair = _Pair()
    inputs = make_inputs()
    pair(inputs)
    disc, gen = pair.disc, pair.gen
    assert gen.embeddings is disc.embeddings
    for a, b in zip(gen.embeddings.weights, disc.embeddings.weights):
        assert a is b
    assert gen.embeddings_project is not disc.embeddings_project  # private projection
    shared = sum(int(np.prod(v.shape)) for v in disc.embeddings.weights)
    assert pair.count_params() == disc.count_params() + gen.count_params() - shared

    # A change to the discriminator's word table is seen by the generator.
    before = forward(gen, inputs)
    table = disc.token_embedding.embeddings
    table.assign(table.numpy() * 2.0)
    assert not np.allclose(forward(gen, inputs), before)

    randomize(pair, seed=4)
    path = str(tmp_path / "pair.weights.h5")
    pair.save_weights(path)
    with h5py.File(path) as f:
        stored = []
        f.visititems(lambda n, o: stored.append(o.size) if isinstance(o, h5py.Dataset) else None)
    assert sum(stored) == pair.count_params()  # the shared block is stored once

    fresh = _Pair()
    fresh(inputs)
    fresh.load_weights(path)
    assert fresh.gen.token_embedding.embeddings is fresh.disc.token_embedding.embeddings
    for a, b in zip(fresh(inputs), pair(inputs)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_shared_embeddings_must_match_sizes():
    disc = ElectraBackbone(**TINY)
    with pytest.raises(ValueError, match="shared `embeddings`"):
        ElectraBackbone(**{**TINY, "embedding_dim": 12}, embeddings=disc.embeddings)


def test_preset_parameter_counts_match_hf_electra_model():
    # HF ElectraModel parameter counts (computed from the google/electra-*-discriminator
    # configs' shapes; tests/convert/test_hf_parity.py compares the models themselves).
    expected = {"electra_small_plus": 13_483_008, "electra_small": 13_483_008,
                "electra_base": 108_891_648, "electra_large": 334_092_288}
    for name, count in expected.items():
        assert backbone_parameter_count(ARCHITECTURE_PRESETS[name]["backbone"]) == count, name
        assert ARCHITECTURE_PRESETS[name]["metadata"]["params"] == count, name
    small = ElectraBackbone.from_preset("electra_small")
    assert small.count_params() == 13_483_008
    tiny = ElectraBackbone.from_preset("electra_tiny")
    assert tiny.count_params() == backbone_parameter_count(ARCHITECTURE_PRESETS["electra_tiny"][
        "backbone"])


@pytest.mark.jax
@pytest.mark.slow
def test_tensorflow_and_jax_backends_give_the_same_forward(tmp_path):
    backbone = ElectraBackbone(**TINY, dropout=0.0)
    randomize(backbone, seed=5)
    backbone.save_to_preset(str(tmp_path / "preset"))
    inputs = make_inputs(batch=3, length=7, seed=6)
    np.savez(tmp_path / "inputs.npz", **inputs)
    expected = forward(backbone, inputs)
    script = textwrap.dedent(f"""
        import numpy as np, keras
        assert keras.config.backend() == "jax", keras.config.backend()
        from keras_electra import ElectraBackbone
        backbone = ElectraBackbone.from_preset({str(tmp_path / "preset")!r})
        inputs = dict(np.load({str(tmp_path / "inputs.npz")!r}))
        out = backbone(inputs, training=False)["sequence_output"]
        np.save({str(tmp_path / "jax_out.npy")!r}, np.asarray(out))
    """)
    env = jax_env()
    result = subprocess.run([sys.executable, "-c", script], env=env, cwd=PROJECT_ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    got = np.load(tmp_path / "jax_out.npy")
    keep = inputs["padding_mask"].astype(bool)
    assert np.abs(got[keep] - expected[keep]).max() <= 1e-5


def test_public_imports_in_a_fresh_process():
    result = subprocess.run(
        [sys.executable, "-c", "from keras_electra import ElectraBackbone, ElectraTokenizer; "
                               "print(ElectraBackbone.__name__, ElectraTokenizer.__name__)"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ElectraBackbone ElectraTokenizer" in result.stdout

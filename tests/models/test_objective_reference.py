"""The ELECTRA objective and its variants are bit-identical to a frozen reference (issue 26).

`data/objective_reference.npz` holds, for each objective variant, the losses, the metrics
and the gradients of the loss with respect to every trainable variable of a tiny
`ElectraPretrainer` on fixed inputs and fixed noise, as computed by the implementation
before the objective was split into strategy modules (commit bd9b1da). The test recomputes
them and compares exactly (`np.array_equal`): a refactor of the objective must not move a
single bit. A CPU whose math kernels round differently from the one that wrote the file
(e.g. TensorFlow without oneDNN) gives other last bits for the old code too; there the
new implementation is compared exactly with the old code path, kept frozen in
`electra_objective_legacy.py`, on the same machine, and with the file to 1e-5. Regenerate
only for an intended change of the numbers:

    KERAS_BACKEND=tensorflow python tests/models/test_objective_reference.py --write
"""

import pathlib
import sys

import keras
import numpy as np
import pytest

REFERENCE = pathlib.Path(__file__).parent / "data" / "objective_reference.npz"
VOCAB = 108
CLS, SEP, MASK, PAD = 101, 102, 103, 0

VARIANTS = {
    "electra": {},
    "disallow_correct": {"disallow_correct": True},
    "untied_generator_embeddings": {"untied_generator_embeddings": True},
    "uniform_generator": {"uniform_generator": True},
    "unigram_generator": {"unigram_generator": [0] * 104 + [3, 1, 4, 1]},
    "gdes": {"gdes": True},
    "electric": {"electric": True},
    "electric_disallow_correct": {"electric": True, "disallow_correct": True},
}


def _pretrainer(**kwargs):
    from keras_electra import ElectraBackbone, ElectraPretrainer

    keras.utils.set_random_seed(0)
    backbone = ElectraBackbone(vocabulary_size=VOCAB, num_layers=1, num_heads=2, hidden_dim=4,
                               embedding_dim=4, intermediate_dim=8, dropout=0.0,
                               max_sequence_length=20)
    model = ElectraPretrainer(backbone, generator_hidden_size=0.5, **kwargs)
    # generator bias +20 on the four words: fakes often equal the original (disallow_correct,
    # Electric's labels and the sampled accuracy all matter)
    bias = np.full(VOCAB, -20.0, np.float32)
    bias[104:] = 20.0
    model.generator_head._bias.assign(bias)  # keras-hub 0.32 MaskedLMHead private name
    return model


def _inputs():
    rng = np.random.default_rng(26)
    ids = rng.integers(104, VOCAB, size=(2, 20)).astype(np.int32)
    ids[:, 0], ids[:, 9], ids[:, -1] = CLS, SEP, SEP
    padding = np.ones_like(ids)
    padding[1, 15:], ids[1, 15:], ids[1, 14] = 0, PAD, SEP  # a padded row
    segments = ((np.arange(20)[None] > 9) * padding).astype(np.int32)
    x = {"token_ids": ids, "segment_ids": segments, "padding_mask": padding}
    n = 3  # G: int((0.15 + 0.005) * 20)
    noise = {"position_noise": rng.random((2, n)).astype(np.float32),
             "mask_noise": rng.random((2, n)).astype(np.float32),
             "gumbel_noise": rng.random((2, n, VOCAB)).astype(np.float32)}
    return x, noise


def objective_numbers(variant, legacy=False):
    """Losses, metrics, outputs and loss gradients of one training forward pass, as arrays
    (`legacy`: computed by the frozen pre-issue-26 code path)."""
    import tensorflow as tf

    model = _pretrainer(**VARIANTS[variant])
    x, noise = _inputs()
    if legacy:
        import electra_objective_legacy as old

        forward, normalizers = (lambda *a, **k: old.forward(model, *a, **k),
                                lambda x: old.normalizers(model, x))
    else:
        forward, normalizers = model.forward, model.normalizers
    with tf.GradientTape() as tape:
        out = forward(x, noise, normalizers=normalizers(x), training=True)
    variables = model.trainable_variables
    grads = tape.gradient(out["loss"], variables)
    model.update_metrics(out)
    metrics = model.get_metrics_result()
    numbers = {
        "losses": np.stack([np.asarray(out[k]) for k in ("loss", "gen_loss", "disc_loss")]),
        "metric_names": np.array(sorted(metrics)),
        "metrics": np.array([np.asarray(metrics[k]) for k in sorted(metrics)]),
        "disc_logits": np.asarray(out["disc_logits"]),
        "ids": np.stack([np.asarray(out[k]) for k in ("sampled_ids", "masked_lm_ids")]),
        "labels": np.stack([np.asarray(out[k]) for k in ("corrupted_ids", "labels")]),
        # every gradient flattened into one vector; an absent one (None) is flagged
        "grad_paths": np.array([v.path for v in variables]),
        "grad_absent": np.array([g is None for g in grads]),
        "grads": np.concatenate([np.zeros(v.shape, np.float32).ravel() if g is None
                                 else np.asarray(tf.convert_to_tensor(g)).ravel()
                                 for g, v in zip(grads, variables, strict=True)]),
    }
    return {f"{variant}/{key}": value for key, value in numbers.items()}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_objective_is_bit_identical_to_the_frozen_reference(variant):
    if keras.backend.backend() != "tensorflow":
        pytest.skip("the reference was computed on the TensorFlow backend")
    with np.load(REFERENCE) as stored:
        prefix = f"{variant}/"
        expected = {k[len(prefix):]: stored[k] for k in stored.files if k.startswith(prefix)}
    got = objective_numbers(variant)
    got = {k[len(prefix):]: v for k, v in got.items()}
    assert sorted(got) == sorted(expected)  # same trainable variables, same outputs
    assert np.array_equal(got["grad_paths"], expected["grad_paths"])
    same_machine = all(np.array_equal(got[k], expected[k]) for k in expected)
    if not same_machine:  # other kernels: the old code path, here, must give the same bits
        old = objective_numbers(variant, legacy=True)
        for key, value in old.items():
            assert np.array_equal(got[key[len(prefix):]], value), key
    for key, value in expected.items():
        assert got[key].dtype == value.dtype and got[key].shape == value.shape, key
        if same_machine or value.dtype.kind != "f":
            assert np.array_equal(got[key], value), key
        else:
            np.testing.assert_allclose(got[key], value, rtol=1e-5, atol=1e-6, err_msg=key)


def test_the_legacy_copy_reproduces_the_frozen_reference():
    """The frozen old code path is what wrote the reference (so it can stand in for it)."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("the reference was computed on the TensorFlow backend")
    old = objective_numbers("electric_disallow_correct", legacy=True)
    with np.load(REFERENCE) as stored:
        for key, value in old.items():
            if value.dtype.kind == "f":
                np.testing.assert_allclose(value, stored[key], rtol=1e-5, atol=1e-6, err_msg=key)
            else:
                np.testing.assert_array_equal(value, stored[key], err_msg=key)


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    numbers = {}
    for name in VARIANTS:
        numbers.update(objective_numbers(name))
    REFERENCE.parent.mkdir(exist_ok=True)
    np.savez_compressed(REFERENCE, **numbers)
    print(f"{REFERENCE}: {len(numbers)} arrays, {REFERENCE.stat().st_size} bytes")

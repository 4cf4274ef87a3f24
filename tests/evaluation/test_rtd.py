"""keras_electra.evaluation.rtd: validation metrics and the untrained-discriminator baselines,
checked against plain-Python recomputations from the pretrainer's own outputs."""

import keras
import numpy as np
import pytest

from keras_electra import ElectraBackbone, ElectraPretrainer
from keras_electra.evaluation.rtd import (
    discriminator_layers,
    reset_discriminator,
    rtd_baselines,
    rtd_metrics,
)

VOCAB, CLS, SEP = 400, 101, 102
GENERATOR_METRICS = ("val_gen_loss", "val_gen_accuracy", "val_sampled_accuracy",
                     "val_replaced_fraction")


def tiny(seed):
    """A small pretrainer, the same random initialization for the same seed."""
    keras.utils.set_random_seed(seed)
    backbone = ElectraBackbone(
        vocabulary_size=VOCAB, num_layers=2, num_heads=2, hidden_dim=32, embedding_dim=16,
        intermediate_dim=64, dropout=0.0, max_sequence_length=64)
    model = ElectraPretrainer(backbone, generator_hidden_size=0.5, seed=seed)
    model.compile()
    return model


def batch(size=8, length=32, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(104, VOCAB, size=(size, length)).astype("int32")
    lengths = rng.integers(length // 2, length + 1, size=size)
    pad = (np.arange(length)[None] < lengths[:, None]).astype("int32")
    ids[:, 0] = CLS
    ids[np.arange(size), lengths - 1] = SEP
    return {"token_ids": ids * pad, "segment_ids": np.zeros_like(ids), "padding_mask": pad}


def values(variables):
    return [keras.ops.convert_to_numpy(v) for v in variables]


def pairwise_auc(scores, labels):
    """P(a replaced token scores above an original one), ties counting 1/2."""
    positives = [s for s, label in zip(scores, labels) if label]
    negatives = [s for s, label in zip(scores, labels) if not label]
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


def discriminator_only(model):
    """ids of the variables only the discriminator uses: the backbone's minus those it shares
    with the generator, plus the RTD head's."""
    shared = {id(v) for v in model.generator.weights}
    return ({id(v) for v in model.backbone.weights if id(v) not in shared}
            | {id(v) for v in model.discriminator_head.weights})


def test_rtd_metrics_are_the_evaluation_of_the_models_own_replacements():
    model = tiny(0)
    # spread the RTD logits over (0, 1) so the metric's 200 AUC thresholds resolve the ranking
    rng = np.random.default_rng(1)
    for variable in model.discriminator_head.weights:
        if len(variable.shape) == 2:
            variable.assign(rng.normal(0.0, 1.0 / np.sqrt(variable.shape[0]),
                                       variable.shape).astype("float32"))
    data = batch()
    metrics = rtd_metrics(model, data)
    assert int(keras.ops.convert_to_numpy(model.eval_step)) == 1  # one batch evaluated
    model.eval_step.assign(0)  # replay the same evaluation noise
    out = model(data, training=False)
    real = np.asarray(out["padding_mask"]).astype(bool).ravel()
    labels = [bool(x) for x in np.asarray(out["labels"]).ravel()[real]]
    logits = [float(x) for x in np.asarray(out["disc_logits"]).ravel()[real]]
    assert 0 < sum(labels) < len(labels)
    assert metrics["val_replaced_fraction"] == pytest.approx(sum(labels) / len(labels))
    accuracy = sum((logit > 0) == label for logit, label in zip(logits, labels)) / len(labels)
    assert metrics["val_disc_accuracy"] == pytest.approx(accuracy, abs=1e-6)
    assert metrics["val_disc_auc"] == pytest.approx(pairwise_auc(logits, labels), abs=0.01)
    # the accumulators are reset: a training window that follows does not average them in
    assert model.metrics
    assert not any(np.any(v) for metric in model.metrics for v in values(metric.variables))


def test_reset_discriminator_resets_exactly_the_weights_only_the_discriminator_uses():
    model, initial = tiny(1), tiny(2)
    before, reference = values(model.weights), values(initial.weights)
    own = discriminator_only(model)
    assert len(own) == sum(len(layer.weights) for layer in discriminator_layers(model))
    reset_discriminator(model, initial)
    for variable, old, new, init in zip(model.weights, before, values(model.weights),
                                        reference):
        np.testing.assert_array_equal(new, init if id(variable) in own else old,
                                      err_msg=variable.path)


def test_rtd_baselines_judge_the_same_replacements_with_an_untrained_discriminator():
    source = tiny(1)  # stands for the trained checkpoint: other weights, later eval step
    source.eval_step.assign(5)

    def restore(model):
        for target, value in zip(model.weights, source.weights):
            target.assign(value)

    data = batch(size=16)
    results = rtd_baselines(lambda: tiny(0), restore, lambda: data)
    assert list(results) == ["untrained_model", "trained", "untrained_discriminator"]
    # recomputed one model at a time
    assert results["untrained_model"] == rtd_metrics(tiny(0), data)
    trained = tiny(0)
    restore(trained)
    assert results["trained"] == rtd_metrics(trained, data)
    baseline, fresh = tiny(0), tiny(0)
    restore(baseline)
    own = discriminator_only(baseline)
    for target, value in zip(baseline.weights, fresh.weights):
        if id(target) in own:
            target.assign(value)
    reset = results["untrained_discriminator"]
    assert reset == rtd_metrics(baseline, data)
    # same generator, same step: the same replaced tokens; only the discriminator differs
    for key in GENERATOR_METRICS:
        assert reset[key] == results["trained"][key], key
    assert reset["val_disc_loss"] != results["trained"]["val_disc_loss"]

"""Optimizer and schedule numerics against numpy transcriptions of G and A."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from jax_env import jax_env

from keras_electra.optimizers import (
    ElectraAdam,
    ElectraAdamW,
    LinearWarmupPolyDecay,
    create_optimizer,
)

# ---------- independent references (transcribed from the spec, not from our code) ----------

def aws_lr(step, peak, total, warmup, end, power):
    # A: LinearWarmupPolyDecaySchedule
    if step <= warmup:
        return peak * step / warmup
    step = min(step, total)
    return (peak - end) * ((total - step) / (total - warmup)) ** power + end


def google_lr(step, peak, total, warmup, power):
    # G: tf.train.polynomial_decay(peak, step, total, end=0, power) * min(1, step / warmup)
    s = min(step, total)
    return peak * (1 - s / total) ** power * min(1.0, step / warmup)


def g_adam_weight_decay_step(param, grad, m, v, lr, wd, decay, b1=0.9, b2=0.999, eps=1e-6):
    # G model/optimization.py AdamWeightDecayOptimizer.apply_gradients (one variable)
    next_m = b1 * m + (1.0 - b1) * grad
    next_v = b2 * v + (1.0 - b2) * np.square(grad)
    update = next_m / (np.sqrt(next_v) + eps)
    if decay:
        update += wd * param
    return param - lr * update, next_m, next_v


def clip_by_global_norm(grads, clip):
    norm = np.sqrt(sum(np.sum(g.astype(np.float64) ** 2) for g in grads))
    return [g * clip / max(norm, clip) for g in grads]


# ---------------------------------------- schedules ----------------------------------------

@pytest.mark.parametrize("power", [1.0, 2.0])
def test_aws_schedule_matches_formula(power):
    peak, end, warmup, total = 2e-3, 4e-4, 100, 1000
    lr = LinearWarmupPolyDecay(peak, total, warmup, end, power, schedule="aws")
    for step in [0, 1, 50, 99, 100, 101, 550, 999, 1000, 1500]:
        assert float(lr(step)) == pytest.approx(aws_lr(step, peak, total, warmup, end, power),
                                                rel=1e-6, abs=1e-12), step
    assert float(lr(50)) == pytest.approx(1e-3)  # hand value: half-way up the warmup
    if power == 1.0:
        assert float(lr(550)) == pytest.approx(1.2e-3)  # 1.6e-3 * 450/900 + 4e-4


@pytest.mark.parametrize("power", [1.0, 0.5])
def test_google_schedule_matches_formula(power):
    peak, warmup, total = 5e-4, 100, 1000
    lr = LinearWarmupPolyDecay(peak, total, warmup, 0.0, power, schedule="google")
    for step in [0, 1, 50, 100, 101, 500, 999, 1000, 1200]:
        assert float(lr(step)) == pytest.approx(google_lr(step, peak, total, warmup, power),
                                                rel=1e-6, abs=1e-12), step
    if power == 1.0:
        # hand value: polynomial part 0.95, warmup part 0.5
        assert float(lr(50)) == pytest.approx(5e-4 * 0.95 * 0.5)


def test_schedule_without_warmup_and_serialization():
    import keras

    lr = LinearWarmupPolyDecay(1e-3, 10, 0, 1e-4, 1.0, "aws")
    assert float(lr(0)) == pytest.approx(1e-3)
    assert float(lr(10)) == pytest.approx(1e-4)
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(lr))
    assert clone.get_config() == lr.get_config()
    with pytest.raises(ValueError, match="warmup_steps=20"):
        LinearWarmupPolyDecay(1e-3, 10, 20)
    with pytest.raises(ValueError, match="schedule"):
        LinearWarmupPolyDecay(1e-3, 10, 2, schedule="cosine")


# ------------------------------------- ElectraAdam (G) -------------------------------------

def _toy_variables():
    import keras

    rng = np.random.default_rng(0)
    kernel = keras.Variable(rng.normal(size=(3, 4)).astype("float32"), name="kernel")
    bias = keras.Variable(rng.normal(size=(4,)).astype("float32"), name="bias")
    return [kernel, bias], rng


def test_electra_adam_matches_numpy_transcription_of_g():
    variables, rng = _toy_variables()
    peak, total, warmup, wd = 1e-2, 20, 3, 0.01
    opt = create_optimizer(peak, total_steps=total, warmup_steps=warmup, optimizer="electra_adam",
                           weight_decay=wd, max_grad_norm=1.0)
    params = [np.array(v.numpy(), np.float64) for v in variables]
    ms = [np.zeros_like(p) for p in params]
    vs = [np.zeros_like(p) for p in params]
    decay = [True, False]  # "bias" is excluded by name
    for step in range(6):
        grads = [rng.normal(size=p.shape).astype("float32") * 3.0 for p in params]
        opt.apply_gradients(zip([g.copy() for g in grads], variables))
        clipped = clip_by_global_norm([g.astype(np.float64) for g in grads], 1.0)
        lr = google_lr(step, peak, total, warmup, 1.0)  # G schedule at the pre-increment step
        for i in range(2):
            params[i], ms[i], vs[i] = g_adam_weight_decay_step(
                params[i], clipped[i], ms[i], vs[i], lr, wd, decay[i])
        for v, p in zip(variables, params):
            np.testing.assert_allclose(v.numpy(), p, rtol=2e-5, atol=1e-7)
    assert int(opt.iterations) == 6


def test_electra_adamw_matches_numpy_adam_with_bias_correction():
    variables, rng = _toy_variables()
    peak, end, total, warmup, wd, eps = 1e-2, 1e-3, 20, 2, 0.05, 1e-6
    opt = create_optimizer(peak, total_steps=total, warmup_steps=warmup, end_learning_rate=end,
                           optimizer="adamw", weight_decay=wd, max_grad_norm=None, epsilon=eps)
    params = [np.array(v.numpy(), np.float64) for v in variables]
    ms = [np.zeros_like(p) for p in params]
    vs = [np.zeros_like(p) for p in params]
    for step in range(5):
        grads = [rng.normal(size=p.shape) for p in params]
        opt.apply_gradients(zip([g.astype("float32") for g in grads], variables))
        lr = aws_lr(step, peak, total, warmup, end, 1.0)
        t = step + 1
        for i, decayed in enumerate([True, False]):
            if decayed:  # transformers.AdamWeightDecay: decoupled decay first
                params[i] = params[i] - lr * wd * params[i]
            ms[i] = 0.9 * ms[i] + 0.1 * grads[i]
            vs[i] = 0.999 * vs[i] + 0.001 * grads[i] ** 2
            alpha = lr * np.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t)
            params[i] = params[i] - alpha * ms[i] / (np.sqrt(vs[i]) + eps)
        for v, p in zip(variables, params):
            np.testing.assert_allclose(v.numpy(), p, rtol=2e-5, atol=1e-7)


@pytest.mark.parametrize("name", ["adamw", "electra_adam"])
def test_weight_decay_exclusions_on_real_backbone(name):
    from keras_electra.models.electra_backbone import ElectraBackbone

    backbone = ElectraBackbone(vocabulary_size=50, num_layers=1, num_heads=2, hidden_dim=8,
                               embedding_dim=4, intermediate_dim=16, max_sequence_length=16)
    variables = backbone.trainable_variables
    rng = np.random.default_rng(1)
    for v in variables:  # biases/beta start at 0; make every variable non-zero
        v.assign(rng.uniform(0.5, 1.5, size=v.shape).astype("float32"))
    lr, wd = 0.5, 0.1
    opt = (ElectraAdamW if name == "adamw" else ElectraAdam)(
        learning_rate=lr, weight_decay=wd)
    before = {v.path: v.numpy().copy() for v in variables}
    # zero gradients: the Adam part is exactly 0, so only weight decay moves a variable
    opt.apply_gradients([(np.zeros(v.shape, "float32"), v) for v in variables])
    decayed, kept = set(), set()
    for v in variables:
        after = v.numpy()
        if np.allclose(after, before[v.path] * (1 - lr * wd), rtol=1e-6):
            decayed.add(v.path)
        elif np.array_equal(after, before[v.path]):
            kept.add(v.path)
    assert decayed | kept == set(before), "some variable moved in an unexpected way"
    expected_kept = {p for p in before
                     if p.endswith(("/bias", "/gamma", "/beta")) or "layer_norm" in p}
    assert kept == expected_kept
    # spot checks: 2-D attention biases excluded, word embeddings and kernels decayed
    assert "transformer_layer_0/self_attention_layer/query/bias" in kept
    assert "embeddings/embeddings_layer_norm/gamma" in kept
    assert "embeddings/token_embedding/embeddings" in decayed
    assert "transformer_layer_0/feedforward_output_dense/kernel" in decayed
    assert set(opt.decayed_variable_paths()) == decayed


def test_lr_multipliers_scale_step_and_decay():
    variables, _ = _toy_variables()
    kernel, bias = variables
    opt = ElectraAdam(learning_rate=0.1, weight_decay=0.5,
                      lr_multipliers={kernel.path: 0.25, bias.path: 1.0})
    k0 = kernel.numpy().copy()
    opt.apply_gradients([(np.zeros((3, 4), "float32"), kernel), (np.zeros(4, "float32"), bias)])
    np.testing.assert_allclose(kernel.numpy(), k0 * (1 - 0.1 * 0.25 * 0.5), rtol=1e-6)
    with pytest.raises(ValueError, match="no entry"):
        ElectraAdam(0.1, lr_multipliers={"x": 1.0}).build(variables)


def test_gradient_accumulation_schedule_counts_updates():
    import keras

    peak, total, warmup, wd, n = 1.0, 10, 4, 0.1, 2
    kernel = keras.Variable(np.ones((2, 2), "float32"), name="kernel")
    opt = create_optimizer(peak, total_steps=total, warmup_steps=warmup, optimizer="electra_adam",
                           weight_decay=wd, gradient_accumulation_steps=n, max_grad_norm=None)
    expected = 1.0
    for micro in range(8):
        # Keras evaluates the schedule at the micro-step; ours must give lr(update index)
        assert float(opt.learning_rate) == pytest.approx(aws_or_google := google_lr(
            micro // n, peak, total, warmup, 1.0)), micro
        opt.apply_gradients([(np.zeros((2, 2), "float32"), kernel)])
        if (micro + 1) % n == 0:
            expected *= 1 - aws_or_google * wd  # zero grads: decay only, at lr(update)
        np.testing.assert_allclose(kernel.numpy(), expected, rtol=1e-6)
    assert int(opt.iterations) == 4
    # lr(0)=0, lr(1)=0.25*0.9, lr(2)=0.5*0.8, lr(3)=0.75*0.7
    assert expected == pytest.approx((1 - 0.1 * 0.225) * (1 - 0.1 * 0.4) * (1 - 0.1 * 0.525))


def test_optimizer_serialization_round_trip():
    import keras

    opt = create_optimizer(1e-3, total_steps=100, warmup_steps=10, end_learning_rate=1e-5,
                           optimizer="electra_adam",
                           gradient_accumulation_steps=2)
    clone = keras.optimizers.deserialize(keras.optimizers.serialize(opt))
    assert isinstance(clone, ElectraAdam)
    assert clone.gradient_accumulation_steps == 2
    for step in [0, 5, 21, 100]:
        assert float(clone._learning_rate(step)) == pytest.approx(float(opt._learning_rate(step)))


_JAX_SCRIPT = textwrap.dedent("""
    import numpy as np, keras
    from keras_electra.optimizers import create_optimizer
    assert keras.backend.backend() == "jax"
    v = keras.Variable(np.full((3,), 2.0, "float32"), name="kernel")
    opt = create_optimizer(0.1, total_steps=10, optimizer="electra_adam", weight_decay=0.1,
                           max_grad_norm=1.0, schedule="google")
    g = np.array([3.0, 0.0, -4.0], "float32")
    opt.apply_gradients([(g, v)])
    gc = g / 5.0                        # clipped to norm 1
    m, s = 0.1 * gc, 0.001 * gc ** 2    # no bias correction
    upd = m / (np.sqrt(s) + 1e-6) + 0.1 * 2.0
    np.testing.assert_allclose(v.numpy(), 2.0 - 0.1 * upd, rtol=1e-5)
    print("JAX_OK")
""")


@pytest.mark.jax
def test_electra_adam_on_jax_backend():
    env = jax_env()
    out = subprocess.run([sys.executable, "-c", _JAX_SCRIPT], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0 and "JAX_OK" in out.stdout, out.stderr[-3000:]

"""Optimizers and learning-rate schedules for ELECTRA pretraining and fine-tuning.

Two optimizers, one factory:

* `ElectraAdamW` - `keras.optimizers.AdamW` (Adam *with* bias correction,
  decoupled weight decay `var -= lr * wd * var`), as the AWS scripts ("A") use
  through `transformers.AdamWeightDecay`.
* `ElectraAdam` - google-research/electra's ("G") `AdamWeightDecayOptimizer`
  (`model/optimization.py`): Adam **without** bias correction, eps added to
  `sqrt(v)`, `update = m / (sqrt(v) + eps) + wd * param; param -= lr * update`.

Both share three fixes over stock Keras that matter for ELECTRA:

1. Weight-decay exclusion by *full variable path* (`embeddings/embeddings_layer_norm/gamma`),
   not only by the short `variable.name` Keras matches (`gamma`), so G's patterns
   `"LayerNorm", "layer_norm", "bias"` work as written. keras-hub attention biases are
   2-D (`(heads, head_dim)`), so exclusion is by name, never by `ndim`.
2. Global-norm clipping of the *all-reduced* gradient under `tf.distribute`
   (stock Keras clips each replica's partial gradient before the SUM all-reduce,
   so 1 and N replicas would disagree whenever clipping is active).
3. Optional per-variable learning-rate multipliers (layer-wise decay), applied to
   the Adam step *and* the weight decay (G `_get_layer_lrs`).

`LinearWarmupPolyDecay` is the schedule; `schedule="aws"` is A's formula
(warm up linearly to the peak, then decay from the peak to `end_learning_rate`
between `warmup_steps` and `total_steps`), `schedule="google"` is G's
(`polynomial_decay` over the whole horizon from step 0, multiplied by
`min(1, step / warmup_steps)`). Keras evaluates schedules at *micro-steps*
when `gradient_accumulation_steps > 1`; `create_optimizer` wraps the schedule in
`UpdateStepSchedule` so warmup and decay count optimizer updates.

Everything is `keras.ops`; it runs on TensorFlow and JAX.
"""

import re

import keras
from keras import ops

from keras_electra.utils.upstream import check_upstream

# G `model/optimization.py`: exclude_from_weight_decay=["LayerNorm", "layer_norm", "bias"];
# "gamma"/"beta" are the Keras names of LayerNorm scale/offset.
DEFAULT_EXCLUDE_FROM_WEIGHT_DECAY = ("LayerNorm", "layer_norm", "bias", "gamma", "beta")

SCHEDULES = ("aws", "google")
OPTIMIZERS = ("adamw", "electra_adam")
# Which schedule `create_optimizer(schedule=None)` (and the CLI) uses per optimizer.
DEFAULT_SCHEDULE_FOR_OPTIMIZER = {"adamw": "aws", "electra_adam": "google"}


@keras.saving.register_keras_serializable(package="keras_electra")
class LinearWarmupPolyDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warmup followed by polynomial decay (ELECTRA pretraining schedule).

    `step` is the 0-based number of optimizer updates already applied (Keras
    passes `optimizer.iterations` before incrementing it), so the first update
    uses `lr(0)`, which is 0 whenever `warmup_steps > 0` (as in G and A).

    `schedule="aws"` (A `LinearWarmupPolyDecaySchedule`):
        step <= warmup: peak * step / warmup
        else:           (peak - end) * ((total - step) / (total - warmup)) ** power + end
    `schedule="google"` (G `optimization.create_optimizer`):
        ((peak - end) * (1 - min(step, total) / total) ** power + end) * min(1, step / warmup)
        (G uses end = 0.)
    Steps past `total_steps` keep `end_learning_rate`. `warmup_steps=0` means no warmup.

    Args:
        learning_rate: float. Peak learning rate.
        total_steps: int. Optimizer updates in the whole run.
        warmup_steps: int. Linear warmup length in updates.
        end_learning_rate: float. Final learning rate.
        power: float. Polynomial decay power (1.0 = linear).
        schedule: `"aws"` or `"google"`, see above.

    Example:
    ```python
    from keras_electra.optimizers import LinearWarmupPolyDecay

    lr = LinearWarmupPolyDecay(2e-3, total_steps=125_000, warmup_steps=10_000,
                               end_learning_rate=4e-4)
    float(lr(5_000))  # 0.001
    ```
    """

    def __init__(self, learning_rate, total_steps, warmup_steps=0, end_learning_rate=0.0,
                 power=1.0, schedule="aws", name=None):
        _check_schedule_args(learning_rate, total_steps, warmup_steps, end_learning_rate,
                             power, schedule)
        self.learning_rate = float(learning_rate)
        self.total_steps = int(total_steps)
        self.warmup_steps = int(warmup_steps)
        self.end_learning_rate = float(end_learning_rate)
        self.power = float(power)
        self.schedule = schedule
        self.name = name

    def __call__(self, step):
        step = ops.cast(step, "float32")
        peak = self.learning_rate
        end = self.end_learning_rate
        total = float(self.total_steps)
        warmup = float(self.warmup_steps)
        clipped = ops.minimum(step, total)
        if self.schedule == "google":
            decayed = (peak - end) * ops.power((total - clipped) / total, self.power) + end
            if self.warmup_steps > 0:
                decayed = decayed * ops.minimum(1.0, step / warmup)
            return decayed
        # "aws"
        if self.total_steps == self.warmup_steps:
            frac = ops.zeros_like(clipped)
        else:
            frac = ops.maximum(total - clipped, 0.0) / (total - warmup)
        decayed = (peak - end) * ops.power(frac, self.power) + end
        if self.warmup_steps == 0:
            return decayed
        warming = peak * step / warmup
        return ops.where(step <= warmup, warming, decayed)

    def get_config(self):
        return {
            "learning_rate": self.learning_rate,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
            "end_learning_rate": self.end_learning_rate,
            "power": self.power,
            "schedule": self.schedule,
            "name": self.name,
        }


@keras.saving.register_keras_serializable(package="keras_electra")
class UpdateStepSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Evaluate `schedule` at optimizer updates instead of micro-steps.

    With `gradient_accumulation_steps=N`, Keras calls the schedule with the
    micro-step counter (`optimizer._iterations`); the k-th update (0-based)
    happens at micro-step `k * N + N - 1`, so `schedule(micro // N)` gives it
    `schedule(k)`.
    """

    def __init__(self, schedule, accumulation_steps):
        if isinstance(schedule, dict):
            schedule = keras.saving.deserialize_keras_object(schedule)
        self.schedule = schedule
        self.accumulation_steps = int(accumulation_steps)

    def __call__(self, step):
        return self.schedule(ops.floor_divide(step, self.accumulation_steps))

    def get_config(self):
        return {
            "schedule": keras.saving.serialize_keras_object(self.schedule),
            "accumulation_steps": self.accumulation_steps,
        }


def schedule_problems(learning_rate, total_steps, warmup_steps, end_learning_rate, power, *,
                      flags=False):
    """What is wrong with a learning-rate schedule's numbers, one message each (empty: fine).

    The one learning-rate check: `LinearWarmupPolyDecay`/`create_optimizer` raise the first
    message, `PretrainConfig.validate` reports them all. `flags=True` names the CLI flags
    (`--learning_rate 0.0: must be > 0.`), else the Python arguments (`learning_rate=0.0`).

    Example:
    ```python
    from keras_electra.optimizers import schedule_problems

    schedule_problems(1e-3, 100, 10, 2e-3, 1.0)
    # ['end_learning_rate=0.002 must be in [0, learning_rate=0.001].']
    ```
    """
    def name(arg, value):
        return f"--{arg} {value}" if flags else f"{arg}={value}"

    problems = []
    if not learning_rate > 0:
        problems.append(f"{name('learning_rate', learning_rate)}: must be > 0.")
    if int(total_steps) < 1:
        problems.append(f"{name('total_steps', total_steps)}: must be >= 1.")
    if int(warmup_steps) < 0 or int(warmup_steps) > int(total_steps):
        problems.append(
            f"{name('warmup_steps', warmup_steps)} must be in [0, "
            f"{name('total_steps', total_steps)}]" + ("." if flags else
                                                      "; lower --warmup_steps or raise "
                                                      "--total_steps."))
    if end_learning_rate < 0 or end_learning_rate > learning_rate:
        problems.append(f"{name('end_learning_rate', end_learning_rate)} must be in "
                        f"[0, {name('learning_rate', learning_rate)}].")
    if not power > 0:
        problems.append("--learning_rate_decay_power must be > 0." if flags
                        else f"power={power}: must be > 0.")
    return problems


def _check_schedule_args(learning_rate, total_steps, warmup_steps, end_learning_rate, power,
                         schedule):
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule={schedule!r}: expected one of {SCHEDULES}.")
    problems = schedule_problems(learning_rate, total_steps, warmup_steps, end_learning_rate,
                                 power)
    if problems:
        raise ValueError(problems[0])


class _ElectraOptimizerMixin:
    """Path-based decay exclusion, lr multipliers, clip-after-all-reduce.

    Weight decay is applied inside `update_step` (per variable, with the
    variable's own learning rate), so Keras' global `_apply_weight_decay` is
    disabled.
    """

    def _init_electra(self, exclude_from_weight_decay, lr_multipliers):
        # the private hooks below are overridden for keras 3.15 only (raises on another keras)
        check_upstream("ElectraAdamW / ElectraAdam (override keras BaseOptimizer's "
                       "_clip_gradients, _all_reduce_sum_gradients, _apply_weight_decay)")
        self._electra_exclude = tuple(exclude_from_weight_decay or ())
        self._electra_lr_multipliers = lr_multipliers
        self._decay_flags = []
        self._lr_scales = []
        self._grads_pre_reduced = False

    def _decay_and_scale_for(self, variable):
        path = getattr(variable, "path", None) or variable.name
        decay = bool(self.weight_decay) and not any(
            re.search(pattern, path) for pattern in self._electra_exclude
        )
        # Keras' own exclude_from_weight_decay() still works on top (var list or names).
        # private: keras 3.15 `Optimizer._use_weight_decay` (tests/models/test_models_keras_patches.py)
        if decay and not keras.optimizers.Optimizer._use_weight_decay(self, variable):
            decay = False
        scale = 1.0
        multipliers = self._electra_lr_multipliers
        if callable(multipliers):
            scale = float(multipliers(variable))
        elif multipliers:
            if path not in multipliers:
                raise ValueError(
                    f"lr_multipliers has no entry for variable {path!r}; give every "
                    "trainable variable a multiplier (e.g. from layer-wise decay)."
                )
            scale = float(multipliers[path])
        return decay, scale

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._decay_flags = []
        self._lr_scales = []
        for variable in var_list:
            decay, scale = self._decay_and_scale_for(variable)
            self._decay_flags.append(decay)
            self._lr_scales.append(scale)

    def decayed_variable_paths(self):
        """Paths of the variables that get weight decay (after `build`)."""
        return [v.path for v, d in zip(self._trainable_variables, self._decay_flags) if d]

    def _apply_weight_decay(self, variables):
        return  # done per variable in update_step

    def _variable_lr_and_decay(self, variable, learning_rate):
        index = self._get_variable_index(variable)
        lr = ops.cast(learning_rate, variable.dtype)
        scale = self._lr_scales[index]
        if scale != 1.0:
            lr = lr * scale
        return lr, self._decay_flags[index]

    # --- clip the all-reduced gradient under tf.distribute (TF backend only) ---
    # Private hooks of keras 3.15 `BaseOptimizer` (`_clip_gradients`, `_all_reduce_sum_gradients`,
    # `_apply_weight_decay`, `_get_variable_index`), checked in tests/models/test_models_keras_patches.py;
    # version-guarded in `_init_electra` (keras_electra/utils/upstream.py).
    def _clip_gradients(self, grads):
        if self.global_clipnorm and keras.backend.backend() == "tensorflow":
            grads = self._maybe_all_reduce_first(grads)
        return super()._clip_gradients(grads)

    def _maybe_all_reduce_first(self, grads):
        import tensorflow as tf

        if tf.distribute.in_cross_replica_context():
            return grads
        context = tf.distribute.get_replica_context()
        if context is None or context.num_replicas_in_sync <= 1:
            return grads
        present = [g for g in grads if g is not None]
        reduced = iter(context.all_reduce(tf.distribute.ReduceOp.SUM, present))
        self._grads_pre_reduced = True
        return [None if g is None else next(reduced) for g in grads]

    def _all_reduce_sum_gradients(self, grads_and_vars):
        if self._grads_pre_reduced:
            self._grads_pre_reduced = False  # trace-time flag: clip already reduced them
            return list(grads_and_vars)
        return super()._all_reduce_sum_gradients(grads_and_vars)

    def _electra_config(self):
        multipliers = self._electra_lr_multipliers
        return {
            "exclude_from_weight_decay": list(self._electra_exclude),
            "lr_multipliers": dict(multipliers) if isinstance(multipliers, dict) else None,
        }


def _dense(gradient):
    """TF embedding gradients arrive as IndexedSlices; G's update is dense."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        if isinstance(gradient, tf.IndexedSlices):
            return tf.convert_to_tensor(gradient)
    return gradient


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraAdamW(_ElectraOptimizerMixin, keras.optimizers.AdamW):
    """`keras.optimizers.AdamW` with ELECTRA's exclusions and distributed clipping.

    Adam with bias correction (Keras "epsilon hat" placement), decoupled weight
    decay `var -= lr * wd * var` applied before the Adam step (A's
    `transformers.AdamWeightDecay`), decay excluded for variables whose path
    matches any of `exclude_from_weight_decay` (regexes).

    Example:
    ```python
    from keras_electra.optimizers import ElectraAdamW
    opt = ElectraAdamW(learning_rate=1e-3, weight_decay=0.01, global_clipnorm=1.0)
    ```
    """

    def __init__(self, learning_rate=0.001, weight_decay=0.01, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-6, exclude_from_weight_decay=DEFAULT_EXCLUDE_FROM_WEIGHT_DECAY,
                 lr_multipliers=None, **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay,
                         beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, **kwargs)
        self._init_electra(exclude_from_weight_decay, lr_multipliers)

    def update_step(self, gradient, variable, learning_rate):
        lr, decay = self._variable_lr_and_decay(variable, learning_rate)
        if decay:
            wd = ops.cast(self.weight_decay, variable.dtype)
            self.assign_sub(variable, variable * wd * lr)
        super().update_step(gradient, variable, lr)

    def get_config(self):
        config = super().get_config()
        config.update(self._electra_config())
        return config


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraAdam(_ElectraOptimizerMixin, keras.optimizers.Optimizer):
    """G's `AdamWeightDecayOptimizer`: Adam without bias correction.

        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        update = m / (sqrt(v) + eps) + wd * param     # wd only if not excluded
        param -= lr * update

    Args:
        learning_rate: float or schedule.
        weight_decay: float, G's `weight_decay_rate` (0.01).
        beta_1, beta_2, epsilon: Adam constants (G: 0.9, 0.999, 1e-6).
        exclude_from_weight_decay: regexes searched in each variable's path.
        lr_multipliers: optional `{variable_path: float}` or `fn(variable) -> float`.
        **kwargs: `keras.optimizers.Optimizer` arguments (`global_clipnorm`,
            `gradient_accumulation_steps`, ...).

    Example:
    ```python
    import keras
    from keras_electra.optimizers import ElectraAdam

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer=ElectraAdam(1e-3, global_clipnorm=1.0), loss="mse")
    ```
    """

    def __init__(self, learning_rate=0.001, weight_decay=0.01, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-6, exclude_from_weight_decay=DEFAULT_EXCLUDE_FROM_WEIGHT_DECAY,
                 lr_multipliers=None, name="electra_adam", **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay, name=name,
                         **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self._init_electra(exclude_from_weight_decay, lr_multipliers)

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        # G slot names: <var>/adam_m, <var>/adam_v
        self._momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["adam_m", "adam_v"]
        )

    def update_step(self, gradient, variable, learning_rate):
        lr, decay = self._variable_lr_and_decay(variable, learning_rate)
        index = self._get_variable_index(variable)
        m = self._momentums[index]
        v = self._velocities[index]
        gradient = ops.cast(_dense(gradient), variable.dtype)
        next_m = self.beta_1 * m + (1.0 - self.beta_1) * gradient
        next_v = self.beta_2 * v + (1.0 - self.beta_2) * ops.square(gradient)
        update = next_m / (ops.sqrt(next_v) + self.epsilon)
        if decay:
            update = update + ops.cast(self.weight_decay, variable.dtype) * variable
        self.assign(m, next_m)
        self.assign(v, next_v)
        self.assign_sub(variable, lr * update)

    def get_config(self):
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon})
        config.update(self._electra_config())
        return config


def create_learning_rate(learning_rate, total_steps, warmup_steps=0, end_learning_rate=0.0,
                         decay_power=1.0, schedule="aws", gradient_accumulation_steps=1):
    """The schedule `create_optimizer` installs (wrapped for accumulation when N > 1)."""
    lr = LinearWarmupPolyDecay(learning_rate, total_steps, warmup_steps, end_learning_rate,
                               decay_power, schedule)
    if gradient_accumulation_steps > 1:
        lr = UpdateStepSchedule(lr, gradient_accumulation_steps)
    return lr


def create_optimizer(learning_rate, *, total_steps, warmup_steps=0, end_learning_rate=0.0,
                     decay_power=1.0, weight_decay=0.01, beta_1=0.9, beta_2=0.999, epsilon=1e-6,
                     max_grad_norm=1.0, optimizer="adamw", gradient_accumulation_steps=1,
                     exclude_from_weight_decay=DEFAULT_EXCLUDE_FROM_WEIGHT_DECAY,
                     lr_multipliers=None, schedule=None):
    """Build ELECTRA's optimizer + schedule in one call.

    Args:
        learning_rate: peak learning rate.
        total_steps: optimizer updates in the run (not micro-steps).
        warmup_steps: linear-warmup updates.
        end_learning_rate: final learning rate (A: 4e-4 in the README run; G: 0).
        decay_power: polynomial power (`--learning_rate_decay_power`).
        weight_decay: decoupled decay rate (0 disables it).
        beta_1, beta_2, epsilon: Adam constants.
        max_grad_norm: global-norm clip of the (all-reduced, accumulated) gradient;
            `None` or 0 disables clipping.
        optimizer: `"adamw"` (`ElectraAdamW`, A) or `"electra_adam"` (`ElectraAdam`, G).
        gradient_accumulation_steps: micro-batches per update; the schedule
            counts updates.
        exclude_from_weight_decay: regexes searched in variable paths.
        lr_multipliers: per-variable lr factors (`{path: float}` or a callable).
        schedule: `"aws"` or `"google"`; default `DEFAULT_SCHEDULE_FOR_OPTIMIZER`
            (`adamw` -> `"aws"`, `electra_adam` -> `"google"`).

    Returns:
        A Keras optimizer. Its `.learning_rate_schedule` attribute is the
        unwrapped `LinearWarmupPolyDecay` (evaluate it at `optimizer.iterations`).

    Example:
    ```python
    from keras_electra.optimizers import create_optimizer
    opt = create_optimizer(2e-3, total_steps=125_000, warmup_steps=10_000,
                           end_learning_rate=4e-4)
    ```
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer={optimizer!r}: expected one of {OPTIMIZERS}.")
    if int(gradient_accumulation_steps) < 1:
        raise ValueError(
            f"gradient_accumulation_steps={gradient_accumulation_steps}: must be >= 1."
        )
    if weight_decay is None or weight_decay < 0:
        raise ValueError(f"weight_decay={weight_decay}: must be >= 0.")
    if max_grad_norm is not None and max_grad_norm < 0:
        raise ValueError(f"max_grad_norm={max_grad_norm}: must be >= 0 (0 disables clipping).")
    schedule = schedule or DEFAULT_SCHEDULE_FOR_OPTIMIZER[optimizer]
    accumulation = int(gradient_accumulation_steps)
    lr = create_learning_rate(learning_rate, total_steps, warmup_steps, end_learning_rate,
                              decay_power, schedule, accumulation)
    kwargs = dict(
        learning_rate=lr,
        weight_decay=float(weight_decay),
        beta_1=beta_1,
        beta_2=beta_2,
        epsilon=epsilon,
        exclude_from_weight_decay=exclude_from_weight_decay,
        lr_multipliers=lr_multipliers,
        global_clipnorm=float(max_grad_norm) if max_grad_norm else None,
        gradient_accumulation_steps=accumulation if accumulation > 1 else None,
    )
    cls = ElectraAdamW if optimizer == "adamw" else ElectraAdam
    opt = cls(**kwargs)
    opt.learning_rate_schedule = lr.schedule if accumulation > 1 else lr
    return opt


def default_pretrainer_optimizer():
    """`ElectraPretrainer.compile()`'s default: AdamW at a constant 5e-4 (G's defaults).

    Weight decay 0.01 except LayerNorm and biases, eps 1e-6, global clip norm 1.0
    of the all-reduced gradient.
    """
    return create_optimizer(
        5e-4, total_steps=1, warmup_steps=0, end_learning_rate=5e-4,
        weight_decay=0.01, epsilon=1e-6, max_grad_norm=1.0,
    )


def default_question_answerer_optimizer():
    """`ElectraQuestionAnswerer.compile()`'s default: `ElectraAdamW` at a constant 1e-4.

    Weight decay 0.01 except biases and LayerNorm, eps 1e-6, global clip norm 1.0 of
    the *all-reduced* (all-replica) gradient on TF, with or without a strategy, and on
    JAX (where `DataParallel` gradients are already global), so one device and N
    replicas take the same step.
    """
    return ElectraAdamW(learning_rate=1e-4, weight_decay=0.01, epsilon=1e-6,
                        global_clipnorm=1.0)

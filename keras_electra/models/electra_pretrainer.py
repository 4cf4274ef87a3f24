"""ElectraPretrainer: replaced-token detection exactly as google-research/electra."""

import copy
import os

import keras
from keras import ops
from keras_hub.layers import MaskedLMHead
from keras_hub.models import Task

import keras_electra.models.electra_objectives as objectives
from keras_electra.models import electra_backend_utils as backend_utils
from keras_electra.models import electra_masking as masking
from keras_electra.models import electra_task_inputs as task_inputs
from keras_electra.models.electra_backbone import ElectraBackbone
from keras_electra.models.electra_layers import electra_kernel_initializer, gelu_exact
from keras_electra.models.electra_preset_heads import get_head_weights, save_preset_heads
from keras_electra.models.electra_preset_loaders import PRETRAINING_SOURCES, get_preset_loader
from keras_electra.models.electra_presets import (
    ARCHITECTURE_PRESETS,
    KERAS_HUB_PRESETS,
    classproperty,
    generator_config,
    listed_presets,
    resolve_vocabulary_size,
)
from keras_electra.models.electra_pretrainer_preprocessor import ElectraPretrainerPreprocessor
from keras_electra.models.electra_task_weights import WeightsOnlyTaskPreset
from keras_electra.utils.preset_dirs import HF, KERAS_HUB, is_google_checkpoint, preset_kind
from keras_electra.utils.upstream import check_upstream

# Seeds of the three random streams of a step (positions, [MASK] coin, Gumbel).
_STREAMS = {"positions": 0, "mask": 1, "gumbel": 2}
_EVAL_STREAM_OFFSET = 3

METRIC_NAMES = (
    "gen_loss", "gen_accuracy", "sampled_accuracy", "disc_loss", "disc_accuracy",
    "disc_precision", "disc_recall", "disc_auc", "replaced_fraction",
)


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraDiscriminatorHead(keras.layers.Layer):
    """G `discriminator_predictions`: Dense(H, GELU) -> Dense(1) -> one logit per token.

    Sublayers `dense` and `dense_prediction` carry HF's names.
    """

    def __init__(self, hidden_dim, initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        self.hidden_dim = hidden_dim
        self.initializer_range = initializer_range
        self.dense = keras.layers.Dense(
            hidden_dim, activation=gelu_exact,
            kernel_initializer=electra_kernel_initializer(initializer_range),
            dtype=self.dtype_policy, name="dense",
        )
        # G: the last dense keeps tf.layers.dense's glorot-uniform default.
        self.dense_prediction = keras.layers.Dense(
            1, kernel_initializer="glorot_uniform", dtype=self.dtype_policy,
            name="dense_prediction",
        )

    def build(self, input_shape):
        self.dense.build(input_shape)
        self.dense_prediction.build(tuple(input_shape[:-1]) + (self.hidden_dim,))
        self.built = True

    def call(self, sequence_output):
        return ops.squeeze(self.dense_prediction(self.dense(sequence_output)), axis=-1)

    def get_config(self):
        config = super().get_config()
        config.update(
            {"hidden_dim": self.hidden_dim, "initializer_range": self.initializer_range}
        )
        return config


def _special_token_ids(preprocessor, **given):
    """{"cls", "sep", "mask", "pad"} ids: as given, else the preprocessor's tokenizer's, else
    BERT's 101, 102, 103, 0."""
    tokenizer = getattr(preprocessor, "tokenizer", None)
    defaults = {"cls": 101, "sep": 102, "mask": 103, "pad": 0}
    return {key: int(given[key] if given[key] is not None else
                     getattr(tokenizer, f"{key}_token_id") if tokenizer is not None
                     else defaults[key]) for key in defaults}


@keras.saving.register_keras_serializable(package="keras_electra")
class ElectraPretrainer(task_inputs.TaskInputs, WeightsOnlyTaskPreset, Task):
    """ELECTRA pretraining: a generator (MLM) and a discriminator (replaced-token detection).

    Exactly G (`run_pretraining.py`, `pretrain/pretrain_helpers.py`); `forward` is one
    ELECTRA step: G's masking, the generator, Gumbel sampling, the discriminator, the
    weighted losses. What G's ELECTRA does in detail is in `models/electra_objectives/
    electra.py`; each objective variant is a module beside it, chosen at construction.
    On the TensorFlow backend `fit` uses a custom train step that XLA-compiles only forward
    + backward (`xla=True`, `models/electra_tf_train_step.py`); on JAX, Keras' own
    jit-compiled step.

    Args:
        backbone: `ElectraBackbone`, the discriminator.
        generator_config: dict of `ElectraBackbone` arguments for the generator (sizes
            only; its embedding block is the discriminator's). Default: G's generator.
        generator_hidden_size: float. The generator's width as a fraction of the
            discriminator's (G, 0.25); used when `generator_config` is None.
        generator_layers: float. Generator depth as a fraction of the discriminator's
            (G `generator_layers`); used when `generator_config` is None.
        disallow_correct: bool. G's switch: never sample the original token.
        untied_generator_embeddings: bool. G's switch: the generator has its own embedding
            block (and its MLM head its own tied word embeddings).
        uniform_generator: bool. G's switch: fakes uniform over the vocabulary
            (`electra_objectives/uniform.py`).
        unigram_generator: None, or the training split's token counts (`vocabulary_size`
            numbers): the paper's unigram-generator ablation (`electra_objectives/
            unigram.py`). Excludes `uniform_generator`.
        electric: bool. G's `electric_objective` (Clark et al. 2020) with its two-tower
            cloze generator (`electra_objectives/electric.py`). Excludes
            `uniform_generator`, `unigram_generator`, `gdes`.
        gdes: bool. Gradient-disentangled embedding sharing, DeBERTa-v3
            (`electra_objectives/gdes.py`). Excludes `untied_generator_embeddings`.
        preprocessor: optional `ElectraPretrainerPreprocessor` for raw text.
        mask_prob: float. 0.15 (0.25 for large).
        gen_weight, disc_weight: floats. Loss weights, G 1.0 and 50.0.
        temperature: float. Sampling temperature, 1.0.
        seed: int. Base seed of the masking and sampling streams.
        xla: bool. XLA-compile forward + backward in the TF train step.
        cls_token_id, sep_token_id, mask_token_id, pad_token_id: ints; taken
            from the preprocessor's tokenizer when given, else BERT's 101,
            102, 103, 0.

    Example:
    ```python
    import numpy as np
    from keras_electra import ElectraPretrainer

    pretrainer = ElectraPretrainer.from_preset("electra_tiny", vocabulary_size=1000)
    ids = np.random.randint(104, 1000, size=(8, 32)).astype("int32")
    ids[:, 0], ids[:, -1] = 101, 102
    x = {"token_ids": ids, "segment_ids": np.zeros_like(ids),
         "padding_mask": np.ones_like(ids)}
    pretrainer.fit(x, batch_size=4, epochs=1)
    pretrainer.discriminator.save_to_preset("./disc")  # for fine-tuning
    ```
    """

    backbone_cls = ElectraBackbone
    preprocessor_cls = ElectraPretrainerPreprocessor

    def __init__(self, backbone, generator_config=None, generator_hidden_size=0.25,
                 preprocessor=None, mask_prob=0.15, gen_weight=1.0, disc_weight=50.0,
                 temperature=1.0, seed=0, xla=True, cls_token_id=None, sep_token_id=None,
                 mask_token_id=None, pad_token_id=None, generator_layers=1.0,
                 disallow_correct=False, untied_generator_embeddings=False,
                 uniform_generator=False, gdes=False, unigram_generator=None, electric=False,
                 **kwargs):
        objectives.check_arguments(backbone, mask_prob, gdes, untied_generator_embeddings,
                                   uniform_generator, unigram_generator, electric)
        if generator_config is None:
            generator_config = generator_config_from(backbone, generator_hidden_size,
                                                     generator_layers)
        generator_config = _clean_generator_config(generator_config, backbone)
        if gdes:
            backbone = objectives.gdes_discriminator(backbone, _backbone_args(backbone))
        shared_embeddings = (backbone.embeddings.base if backbone.token_residual
                             else backbone.embeddings)
        special = _special_token_ids(preprocessor, cls=cls_token_id, sep=sep_token_id,
                                     mask=mask_token_id, pad=pad_token_id)
        if unigram_generator is not None:
            unigram_generator = [_plain_number(c) for c in unigram_generator]
        objective = objectives.objective_for(uniform_generator, unigram_generator, electric,
                                             special_ids=list(special.values()))

        # === Layers ===
        self.backbone = backbone
        self.preprocessor = preprocessor
        # Electric: `generator` is the cloze model's left-to-right tower, `generator_rtl` its
        # right-to-left one (G `generator_rtl`); None otherwise.
        self.generator, self.generator_rtl = objective.build_generators(
            generator_config, dtype=backbone.dtype_policy,
            embeddings=None if untied_generator_embeddings else shared_embeddings,
        )
        self.generator_head = MaskedLMHead(
            token_embedding=self.generator.token_embedding,
            intermediate_activation=gelu_exact,
            layer_norm_epsilon=backbone.layer_norm_epsilon,
            kernel_initializer=electra_kernel_initializer(backbone.initializer_range),
            dtype=backbone.dtype_policy,
            name="generator_head",
        )
        self.discriminator_head = ElectraDiscriminatorHead(
            backbone.hidden_dim, initializer_range=backbone.initializer_range,
            dtype=backbone.dtype_policy, name="discriminator_head",
        )
        super().__init__(**kwargs)

        # === Config ===
        self.objective = objective  # the variant's strategy (models/electra_objectives/)
        self.generator_config = generator_config
        self.generator_hidden_size = generator_hidden_size
        self.generator_layers = float(generator_layers)
        self.disallow_correct = bool(disallow_correct)
        self.untied_generator_embeddings = bool(untied_generator_embeddings)
        self.uniform_generator = bool(uniform_generator)
        self.gdes = bool(gdes)
        self.electric = bool(electric)
        self.unigram_generator = unigram_generator
        self.mask_prob = float(mask_prob)
        self.gen_weight = float(gen_weight)
        self.disc_weight = float(disc_weight)
        self.temperature = float(temperature)
        self.seed = int(seed)
        self.xla = bool(xla)
        self.cls_token_id, self.sep_token_id, self.mask_token_id, self.pad_token_id = (
            special.values())

        # === State ===
        # Steps taken; every random stream of a step is a function of it, so
        # restoring it with the weights makes a resumed run draw the same masks.
        self.rng_step = self.add_weight(
            name="rng_step", shape=(), dtype="int32", initializer="zeros",
            trainable=False, aggregation="only_first_replica",
        )
        self.eval_step = self.add_weight(
            name="eval_step", shape=(), dtype="int32", initializer="zeros",
            trainable=False, aggregation="only_first_replica",
        )
        self._metric_trackers = {
            name: keras.metrics.Mean(name=name) for name in METRIC_NAMES if name != "disc_auc"
        }
        self._metric_trackers["disc_auc"] = keras.metrics.AUC(num_thresholds=200, name="disc_auc")
        self._xla_fwd_bwd = None

        # Build the heads now so the model is complete before fit (needed by
        # BackupAndRestore and for save/load of every variable).
        self.generator_head.build(
            (None, None, self.generator.hidden_dim * objective.towers), (None, None))
        self.discriminator_head.build((None, None, backbone.hidden_dim))
        self.built = True

    # ------------------------------------------------------------------ api
    @property
    def discriminator(self):
        """The discriminator backbone (what fine-tuning starts from)."""
        return self.backbone

    @property
    def tokenizer(self):
        return getattr(self.preprocessor, "tokenizer", None)

    def export_discriminator(self, preset_dir):
        """Save the discriminator (+ tokenizer when known, + its RTD head in
        `electra_heads.npz`) as a keras-hub preset (a GDES discriminator folded: a plain
        `ElectraBackbone`)."""
        self.backbone.save_to_preset(preset_dir)
        if self.tokenizer is not None:
            self.tokenizer.save_to_preset(preset_dir)
        # the RTD head beside it (electra_heads.npz): `export --to hf` writes ElectraForPreTraining
        save_preset_heads(preset_dir, {"discriminator": get_head_weights(
            self.discriminator_head, "discriminator")})

    def export_generator(self, preset_dir):
        """Save the generator backbone (its own copy of the shared embeddings) as a preset,
        its MLM head in `electra_heads.npz`.

        Electric: this is the cloze model's left-to-right tower (`attention_direction="ltr"`);
        the right-to-left tower and the cloze head are in the pretrainer's own preset."""
        # Built outside any keras.distribution and filled from host copies: on JAX with several
        # processes only the chief exports, so nothing here may run a cross-process computation
        # (creating distributed variables or assigning from global arrays would wait for peers
        # that are already training).
        current = keras.distribution.distribution()
        keras.distribution.set_distribution(None)
        try:
            standalone = ElectraBackbone.from_config(self.generator.get_config())
            for target, source in zip(standalone.weights, self.generator.weights):
                target.assign(ops.convert_to_numpy(source.value))
        finally:
            keras.distribution.set_distribution(current)
        standalone.save_to_preset(preset_dir)
        if self.tokenizer is not None:
            self.tokenizer.save_to_preset(preset_dir)
        if not self.electric:  # the MLM head beside it: `export --to hf` -> ElectraForMaskedLM
            # (Electric's cloze head reads both towers: no HF class holds it)
            save_preset_heads(preset_dir, {"generator": get_head_weights(
                self.generator_head, "generator")})

    def save_to_preset(self, preset_dir, max_shard_size=10):
        """keras-hub's `Task.save_to_preset`; a GDES discriminator is saved as it is (shared
        table + residual), so the pretrainer loads back exactly."""
        self.backbone._fold_on_save = False
        try:
            return super().save_to_preset(preset_dir, max_shard_size=max_shard_size)
        finally:
            self.backbone._fold_on_save = True

    def compile(self, optimizer="auto", loss=None, metrics=None, **kwargs):
        """Compile with G's optimizer defaults unless told otherwise.

        `optimizer="auto"` gives AdamW at a constant 5e-4 (weight decay 0.01
        except LayerNorm and biases, eps 1e-6, global clip norm 1.0 applied to
        the all-reduced gradient, so N replicas train exactly like one
        device). The loss is built in; pass no `loss` or `metrics`. For the
        warmup/decay schedules and G's bias-correction-free Adam use
        `keras_electra.optimizers.create_optimizer`.
        """
        if loss is not None or metrics:
            raise ValueError(
                "ElectraPretrainer computes its own loss and metrics; do not pass "
                "`loss` or `metrics` to compile()."
            )
        if optimizer == "auto":
            from keras_electra.optimizers import default_pretrainer_optimizer

            optimizer = default_pretrainer_optimizer()
        kwargs.setdefault("jit_compile", False)  # the TF train step jit-compiles fwd/bwd itself
        if keras.backend.backend() == "jax":
            kwargs["jit_compile"] = True
        super().compile(optimizer=optimizer, **kwargs)
        self._xla_fwd_bwd = None

    # -------------------------------------------------------------- forward
    def _seeds(self, step, stream_offset=0):
        """Seeds of the step's three streams: [step * 16 + stream, f(seed)].

        The row index is added to the second word per example (see
        `draw_noise`), so the noise of a step is a function of (seed, step,
        global row) only: the same on 1 device or N replicas, and replayed
        exactly after a resume (the step counter is saved with the weights).
        """
        counter = ops.cast(step, "int32") * 16
        base = (self.seed * 65536) % (2**31)
        return {
            name: ops.stack([counter + stream + stream_offset, ops.cast(base, "int32")])
            for name, stream in _STREAMS.items()
        }

    def draw_noise(self, batch_size, sequence_length, seeds, row_offset=None):
        """The uniform noise of one step (exposed so tests can replay it).

        Row r of this replica's batch is global row `row_offset + r`; by
        default `row_offset = replica_id * batch_size`, which is where
        tf.distribute puts a replica's slice of the global batch.
        """
        if row_offset is None:
            replica_id, _ = backend_utils.replica_info()
            row_offset = ops.cast(replica_id, "int32") * ops.cast(batch_size, "int32")
        n = masking.max_predictions_per_seq(sequence_length, self.mask_prob)
        vocab = self.backbone.vocabulary_size
        offset = ops.stack([ops.cast(0, "int32"), ops.cast(row_offset, "int32")])
        return {
            "position_noise": backend_utils.stateless_uniform_rows(
                batch_size, (n,), seeds["positions"] + offset),
            "mask_noise": backend_utils.stateless_uniform_rows(
                batch_size, (n,), seeds["mask"] + offset),
            "gumbel_noise": backend_utils.stateless_uniform_rows(
                batch_size, (n, vocab), seeds["gumbel"] + offset),
        }

    def normalizers(self, inputs):
        """Global-batch denominators of the two losses (sum of generator-loss weights, real
        tokens)."""
        sequence_length = _static_length(inputs["token_ids"])
        n = masking.max_predictions_per_seq(sequence_length, self.mask_prob)
        mlm_weight = self.objective.generator_weight_sum(self, inputs, n)
        real_tokens = ops.sum(ops.cast(inputs["padding_mask"], "float32"))
        return backend_utils.cross_replica_sum(ops.stack([mlm_weight, real_tokens]))

    def _ignore_ids(self):
        return (self.sep_token_id, self.cls_token_id, self.mask_token_id, self.pad_token_id)

    def cloze_logits(self, token_ids, segment_ids, padding_mask, training=False):
        """Electric's two-tower cloze model (G `TwoTowerClozeTransformer` +
        `_get_cloze_outputs`): `[B, S, V]` float32 logits of q(. | context) at every position,
        from the unmasked input (`models/electra_objectives/electric.py`)."""
        _static_length(token_ids)
        return objectives.electric.cloze_logits(self, token_ids, segment_ids, padding_mask, training)

    def forward(self, inputs, noise, normalizers=None, training=False):
        """One ELECTRA step from explicit noise; returns every intermediate and the losses.

        G `run_pretraining.PretrainingModel`. `self.objective` (a variant's strategy) gives
        the generator's distribution at the masked positions, the generator loss and the
        correction of the discriminator's logits; everything else is the same for all.
        `normalizers`: the global denominators (`normalizers()`); None: this batch's own.
        """
        ids = {key: ops.cast(inputs[key], "int32")
               for key in ("token_ids", "segment_ids", "padding_mask")}
        padding_mask = ids["padding_mask"]
        # G `pretrain_helpers.mask`: dynamic masking (85% [MASK], 15% unchanged)
        masked = masking.mask_tokens(
            ids["token_ids"], padding_mask, noise["position_noise"], noise["mask_noise"],
            self.mask_prob, ignore_ids=self._ignore_ids(), mask_token_id=self.mask_token_id,
        )
        # the generator, then G `sample_from_softmax` (Gumbel-max) and `_get_fake_data`
        gen_logits, state = self.objective.generator_logits(self, ids, masked, training)
        sampled_ids = masking.gumbel_argmax(
            ops.stop_gradient(gen_logits), noise["gumbel_noise"], self.temperature,
            disallow=masked["masked_lm_ids"] if self.disallow_correct else None,
        )
        corrupted_ids, labels = masking.replace_tokens(
            masked["masked_ids"], masked["positions"], masked["masked_lm_ids"], sampled_ids,
            updated_only=self.objective.labels_updated_only,
        )
        # the discriminator (G `_get_discriminator_output`)
        discriminator_output = self.backbone(
            {"token_ids": corrupted_ids, "segment_ids": ids["segment_ids"],
             "padding_mask": padding_mask}, training=training,
        )["sequence_output"]
        disc_logits = ops.cast(self.discriminator_head(discriminator_output), "float32")
        disc_logits, extra = self.objective.correct_discriminator(
            self, disc_logits, corrupted_ids, state)
        # the weighted losses, means over the global batch
        weights, nll = self.objective.generator_nll(self, ids, masked, gen_logits, state)
        token_weights = ops.cast(padding_mask, "float32")
        bce = masking.sigmoid_cross_entropy_with_logits(disc_logits, ops.cast(labels, "float32"))
        gen_sum = ops.sum(weights * nll)
        disc_sum = ops.sum(token_weights * bce)
        local_counts = ops.stack([ops.sum(weights), ops.sum(token_weights)])
        if normalizers is None:
            normalizers = local_counts
        gen_loss = gen_sum / (normalizers[0] + 1e-6)
        disc_loss = disc_sum / (normalizers[1] + 1e-6)
        loss = self.gen_weight * gen_loss + self.disc_weight * disc_loss
        return {
            **masked, "gen_logits": gen_logits, "sampled_ids": sampled_ids,
            "corrupted_ids": corrupted_ids, "labels": labels, "disc_logits": disc_logits,
            "padding_mask": padding_mask, "gen_sum": gen_sum, "disc_sum": disc_sum,
            "local_counts": local_counts, "gen_loss": gen_loss, "disc_loss": disc_loss,
            "loss": loss, **extra,
        }

    def call(self, inputs, training=False):
        token_ids = inputs["token_ids"]
        batch_size = token_ids.shape[0] or ops.shape(token_ids)[0]
        sequence_length = _static_length(token_ids)
        counter = self.rng_step if training else self.eval_step
        offset = 0 if training else _EVAL_STREAM_OFFSET
        seeds = self._seeds(counter.value, stream_offset=offset)
        counter.assign_add(1)
        noise = self.draw_noise(batch_size, sequence_length, seeds)
        return self.forward(inputs, noise, normalizers=self.normalizers(inputs), training=training)

    # --------------------------------------------------------------- losses
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        self.update_metrics(y_pred)
        return y_pred["loss"]

    def update_metrics(self, outputs):
        t = self._metric_trackers
        weights = outputs["masked_lm_weights"]
        mlm_count = outputs["local_counts"][0]  # Electric: the cloze loss' candidate count
        token_weights = ops.cast(outputs["padding_mask"], "float32")
        real_count = ops.sum(token_weights)
        t["gen_loss"].update_state(outputs["gen_sum"] / (mlm_count + 1e-6), sample_weight=mlm_count)
        t["disc_loss"].update_state(
            outputs["disc_sum"] / (real_count + 1e-6), sample_weight=real_count
        )
        predictions = ops.cast(ops.argmax(outputs["gen_logits"], axis=-1), "int32")
        original = outputs["masked_lm_ids"]
        t["gen_accuracy"].update_state(ops.cast(predictions == original, "float32"), weights)
        t["sampled_accuracy"].update_state(
            ops.cast(outputs["sampled_ids"] == original, "float32"), weights
        )
        labels = ops.cast(outputs["labels"], "float32")
        disc_logits = outputs["disc_logits"]
        preds = ops.cast(disc_logits > 0, "float32")  # G: round((sign(logit) + 1) / 2)
        correct = ops.cast(preds == labels, "float32")
        t["disc_accuracy"].update_state(correct, token_weights)
        t["disc_precision"].update_state(correct, preds * token_weights)
        t["disc_recall"].update_state(correct, labels * token_weights)
        t["disc_auc"].update_state(labels, ops.sigmoid(disc_logits), sample_weight=token_weights)
        t["replaced_fraction"].update_state(labels, token_weights)
        if self._loss_tracker is not None:  # private: keras 3.15 `Trainer._loss_tracker`
            # Per-replica losses are partial sums of the global loss (global
            # denominators), so the replica mean times the replica count is it.
            _, num_replicas = backend_utils.replica_info()
            self._loss_tracker.update_state(outputs["loss"] * num_replicas)

    # Bypasses keras-hub 0.32 `Task.fit` (PipelineModel) without a preprocessor, and the train
    # step feeds keras 3.15's private `Trainer._loss_tracker`: checked in
    # tests/models/test_models_keras_patches.py, version-guarded here.
    _UPSTREAM_PATCH = "ElectraPretrainer (bypasses keras-hub Task.fit, feeds Trainer._loss_tracker)"

    def fit(self, *args, **kwargs):
        check_upstream(self._UPSTREAM_PATCH, keras_hub=True)
        backend_utils.build_optimizer_before_tracing(self)
        # keras-hub's PipelineModel batches in-memory arrays through tf.data or
        # grain even without a preprocessor, which a JAX-only machine lacks;
        # without a preprocessor there is nothing to map, so use Keras directly
        # (a tf.data dataset keeps its own order: Keras' default shuffle=True only warns).
        if self.preprocessor is None:
            x = args[0] if args else kwargs.get("x")
            if task_inputs.is_tf_dataset(x):
                kwargs.setdefault("shuffle", False)
            return keras.Model.fit(self, *args, **kwargs)
        return super().fit(*args, **kwargs)

    def evaluate(self, *args, **kwargs):
        check_upstream(self._UPSTREAM_PATCH, keras_hub=True)
        if self.preprocessor is None:
            return keras.Model.evaluate(self, *args, **kwargs)
        return super().evaluate(*args, **kwargs)

    # `predict` returns the per-example outputs only: the batch sums and losses of `forward`
    # have no batch axis, so Keras cannot concatenate them across batches (JAX: "zero-dimensional
    # arrays cannot be concatenated"; TF stacked them into a per-batch vector).
    _BATCH_TOTALS = ("gen_sum", "disc_sum", "local_counts", "gen_loss", "disc_loss", "loss")

    def predict_step(self, *args, **kwargs):
        result = super().predict_step(*args, **kwargs)
        if isinstance(result, tuple):  # JAX: (outputs, non_trainable_variables)
            outputs, *rest = result
            return ({k: v for k, v in outputs.items() if k not in self._BATCH_TOTALS}, *rest)
        return {k: v for k, v in result.items() if k not in self._BATCH_TOTALS}

    # ----------------------------------------------------------- train step
    def train_step(self, *args, **kwargs):
        if keras.backend.backend() != "tensorflow":
            return super().train_step(*args, **kwargs)
        from keras_electra.models.electra_tf_train_step import tf_train_step

        return tf_train_step(self, *args, **kwargs)

    # ---------------------------------------------------------------- config
    def get_config(self):
        config = super().get_config()
        config.update({
            "generator_config": copy.deepcopy(self.generator_config),
            "generator_hidden_size": self.generator_hidden_size,
            "generator_layers": self.generator_layers,
            "disallow_correct": self.disallow_correct,
            "untied_generator_embeddings": self.untied_generator_embeddings,
            "uniform_generator": self.uniform_generator,
            "gdes": self.gdes,
            "unigram_generator": (None if self.unigram_generator is None
                                  else list(self.unigram_generator)),
            "electric": self.electric,
            "mask_prob": self.mask_prob,
            "gen_weight": self.gen_weight,
            "disc_weight": self.disc_weight,
            "temperature": self.temperature,
            "seed": self.seed,
            "xla": self.xla,
            "cls_token_id": self.cls_token_id,
            "sep_token_id": self.sep_token_id,
            "mask_token_id": self.mask_token_id,
            "pad_token_id": self.pad_token_id,
        })
        return config

    @classmethod
    def from_preset(cls, preset, load_weights=True, **kwargs):
        """Build from an architecture preset name, a saved preset dir, or a HF dir.

        * `"electra_tiny" | "electra_small" | "electra_small_plus" |
          "electra_base" | "electra_large"`: random init with G's sizes;
          backbone arguments (e.g. `vocabulary_size=...`, `dropout=...`) and
          pretrainer arguments (e.g. `mask_prob`, `preprocessor`) may be given.
        * a directory written by `save_to_preset`: the whole pretrainer.
        * a local Hugging Face ElectraForPreTraining directory (discriminator)
          together with `generator_preset=<ElectraForMaskedLM dir>`.
        * any other source of released weights, to continue pretraining them
          (`keras_electra.convert.pretrainer.pretrainer_from_sources`): a
          google-research/electra TF1 pretraining checkpoint (prefix or directory; it
          holds the generator too), a keras-hub Electra preset or one of our backbone
          presets, each with an optional `generator_preset=` of any of these kinds.
        """
        if isinstance(preset, str) and preset in ARCHITECTURE_PRESETS:
            return cls.from_architecture(preset, **kwargs)
        generator_preset = kwargs.pop("generator_preset", None)
        if generator_preset is not None or _is_pretraining_source(preset):
            return get_preset_loader("ElectraPretrainer", PRETRAINING_SOURCES)(
                cls, preset, generator_preset, load_weights=load_weights, **kwargs)
        return super().from_preset(preset, load_weights=load_weights, **kwargs)

    @classproperty
    def presets(cls):
        """The architecture presets, as `ElectraBackbone.presets` (keras-hub's format)."""
        return listed_presets()

    @classmethod
    def from_architecture(cls, name, **kwargs):
        spec = ARCHITECTURE_PRESETS[name]
        backbone_kwargs = {
            k: kwargs.pop(k) for k in list(kwargs)
            if k in ElectraBackbone.__init__.__code__.co_varnames and k != "self"
            and k not in ("embeddings", "name")
        }
        # the vocabulary size of the preprocessor's tokenizer unless given (one line if neither)
        backbone_kwargs = resolve_vocabulary_size(
            name, backbone_kwargs, getattr(kwargs.get("preprocessor"), "tokenizer", None))
        disc_config = {**spec["backbone"], **backbone_kwargs}
        gen_config = kwargs.pop("generator_config", None)
        if gen_config is None:
            # The preset's generator, or G's rule applied to another
            # `generator_hidden_size` (G's paper sweeps it; 1/4 is the default).
            multiplier = kwargs.get("generator_hidden_size", spec["generator_hidden_size"])
            layers = kwargs.get("generator_layers", spec["generator_layers"])
            # Derived from the discriminator config after overrides, as G does.
            gen_config = generator_config(disc_config, multiplier, layers)
        kwargs.setdefault("generator_hidden_size", spec["generator_hidden_size"])
        kwargs.setdefault("generator_layers", spec["generator_layers"])
        backbone = ElectraBackbone(**disc_config)
        kwargs.setdefault("mask_prob", spec["pretraining"]["mask_prob"])
        return cls(backbone, generator_config=gen_config, **kwargs)


def _is_pretraining_source(preset):
    """A source of backbone weights (HF dir, keras-hub preset, G TF1 checkpoint, our backbone
    preset) rather than a saved pretrainer (task.json) or a remote pretrainer handle."""
    if not isinstance(preset, (str, os.PathLike)):
        return False
    preset = os.fspath(preset)
    if preset in KERAS_HUB_PRESETS or is_google_checkpoint(preset):
        return True
    kind = preset_kind(preset)
    if kind in (HF, KERAS_HUB):
        return True
    return (os.path.isdir(preset) and os.path.isfile(os.path.join(preset, "config.json"))
            and not os.path.isfile(os.path.join(preset, "task.json")))


def _plain_number(value):
    """A count as a JSON-friendly int (float if it is not a whole number)."""
    value = float(value)
    return int(value) if value.is_integer() else value


def generator_config_from(backbone, generator_hidden_size=0.25, generator_layers=1.0):
    return generator_config(_backbone_args(backbone), generator_hidden_size, generator_layers)


def _backbone_args(backbone):
    config = backbone.get_config()
    return {k: v for k, v in config.items()
            if k not in ("name", "trainable", "dtype", "token_residual")}


def _clean_generator_config(config, backbone):
    config = {k: v for k, v in dict(config).items()
              if k not in ("name", "trainable", "dtype", "embeddings")}
    shared = _backbone_args(backbone)
    for key in ("vocabulary_size", "embedding_dim", "max_sequence_length", "num_segments"):
        if key in config and config[key] != shared[key]:
            raise ValueError(
                f"ElectraPretrainer: generator {key}={config[key]} differs from the "
                f"discriminator's {shared[key]}; the embedding block is shared."
            )
        config[key] = shared[key]
    for key, value in shared.items():
        config.setdefault(key, value)
    return config


def _static_length(token_ids):
    length = token_ids.shape[1]
    if length is None:
        raise ValueError(
            "ElectraPretrainer needs a static sequence length (N = int((p + 0.005) S) "
            "slots are drawn per sequence). Batch fixed-length examples, e.g. "
            "tf.data with drop_remainder=True and padded records."
        )
    return int(length)

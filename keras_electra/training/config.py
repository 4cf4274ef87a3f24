"""`PretrainConfig`: every knob of `keras-electra pretrain`, with the AWS scripts' names.

Flag names, meanings and most defaults are those of the AWS scripts' ("A")
`common/arguments.py` (its dataclasses, parsed by transformers' `HfArgumentParser`). Where A's default is a
bug or machine-specific we follow G and say so in the help text:
dropout 0.1 (A: 0.0), `filesystem_prefix` "" (A: /fsx).

Sources of values, later wins: dataclass defaults < `--config FILE` (YAML or
JSON with the same keys) < command-line flags. Booleans accept the A-style
`--skip_xla true` as well as a bare `--skip_xla`.

Example:
```python
from keras_electra.training.config import PretrainConfig

config = PretrainConfig(train_dir="data/train", model_size="tiny", total_steps=100,
                        warmup_steps=10, per_gpu_batch_size=8, max_seq_length=128)
config.validate()
```
"""

import argparse
import dataclasses
import json
import math
import os
from dataclasses import dataclass, field, fields

from keras_electra.utils.cli_options import options_from_args, str2bool
from keras_electra.utils.errors import UserError, read_text_file

MODEL_SIZES = ("tiny", "small", "small_plus", "base", "large")
# `--model_size` takes the size (tiny) or the preset name (electra_tiny), as `squad` does;
# the config keeps the size (resume compares it)
MODEL_SIZE_NAMES = MODEL_SIZES + tuple(f"electra_{size}" for size in MODEL_SIZES)
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
JAX_PRNGS = ("threefry2x32", "rbg", "unsafe_rbg")  # keras_electra.models.electra_layers
OPTIMIZERS = ("adamw", "electra_adam")
LOAD_FROM = ("scratch", "checkpoint")
SCHEDULES = ("auto", "aws", "google")


class ConfigError(UserError, ValueError):
    """An invalid pretraining configuration (raised before any work starts)."""


def _meta(help_text, **extra):
    return {"help": help_text, **extra}


@dataclass
class PretrainConfig:
    # ----------------------------------------------------------------- paths
    train_dir: str = field(default=None, metadata=_meta(
        "Folder of pretraining TFRecord shards (G schema: int64 input_ids, input_mask, "
        "segment_ids), relative to --filesystem_prefix. Required."))
    val_dir: str = field(default=None, metadata=_meta(
        "Folder of validation shards (same schema), relative to --filesystem_prefix. "
        "Optional; without it no validation runs."))
    log_dir: str = field(default="logs/default", metadata=_meta(
        "TensorBoard + metrics.jsonl root; the run writes to log_dir/run_name."))
    checkpoint_dir: str = field(default="checkpoints/default", metadata=_meta(
        "Step checkpoints (worker-N/ckpt-NNNNNNNNNN). If it already holds a checkpoint, "
        "training resumes from it step-exactly."))
    filesystem_prefix: str = field(default="", metadata=_meta(
        "Prefix joined to train_dir, val_dir, log_dir and checkpoint_dir (A: /fsx; "
        "absolute paths are not prefixed)."))
    export_dir: str = field(default=None, metadata=_meta(
        "Where `{run_name}-step{N}-discriminator|generator` presets go (default: "
        "checkpoint_dir/presets)."))
    vocab_file: str = field(default=None, metadata=_meta(
        "vocab.txt of the shards; gives the tokenizer saved with the presets and the text "
        "of the validation example view. Default: vocab.txt in train_dir or its parent."))
    config: str = field(default=None, metadata=_meta(
        "YAML or JSON file with any of these keys; command-line flags override it."))
    # ----------------------------------------------------------------- model
    model_type: str = field(default="electra", metadata=_meta(
        "Only 'electra' (A also had albert/bert).", choices=("electra",)))
    model_size: str = field(default=None, metadata=_meta(
        "Architecture preset electra_<size>: tiny or electra_tiny, ... (A default: base). "
        "With --init_from the architecture is the source's: leave it out, or give the size "
        "the source has.",
        choices=MODEL_SIZE_NAMES))
    load_from: str = field(default="scratch", metadata=_meta(
        "scratch: random init (but resume from --checkpoint_dir if it has a checkpoint); "
        "checkpoint: start from --checkpoint_path (weights, optimizer, step, data position).",
        choices=LOAD_FROM))
    checkpoint_path: str = field(default=None, metadata=_meta(
        "A ckpt-NNNNNNNNNN directory, or a checkpoint_dir (its newest checkpoint)."))
    init_from: str = field(default=None, metadata=_meta(
        "Continue pretraining released weights: the discriminator (and, for a "
        "google-research/electra TF1 checkpoint, the generator too) from SRC: one of our "
        "presets, a Hugging Face ElectraForPreTraining dir, a keras-hub Electra preset, or a "
        "TF1 checkpoint (prefix or dir). Architecture and vocabulary come from SRC; fresh "
        "optimizer and schedule; a rerun resumes from --checkpoint_dir, not from SRC."))
    init_generator_from: str = field(default=None, metadata=_meta(
        "The generator for --init_from sources that keep it apart (an HF ElectraForMaskedLM "
        "dir, a keras-hub or our generator preset). Without it: a fresh generator."))
    hidden_dropout_prob: float = field(default=0.1, metadata=_meta(
        "Hidden dropout (G 0.1; A's default 0.0 disabled dropout in pretraining)."))
    attention_probs_dropout_prob: float = field(default=0.1, metadata=_meta(
        "Attention-probability dropout (G 0.1)."))
    # -------------------------------------------------------------- training
    per_gpu_batch_size: int = field(default=32, metadata=_meta(
        "Sequences per replica (GPU) per micro-step; global batch = this x replicas."))
    max_seq_length: int = field(default=512, metadata=_meta(
        "Sequence length S of the shards (alias --max_seq_len).", aliases=("--max_seq_len",)))
    learning_rate: float = field(default=0.00176, metadata=_meta("Peak learning rate."))
    end_learning_rate: float = field(default=3e-5, metadata=_meta(
        "Final learning rate of the polynomial decay."))
    learning_rate_decay_power: float = field(default=1.0, metadata=_meta(
        "Polynomial decay power (1.0 = linear)."))
    warmup_steps: int = field(default=3125, metadata=_meta("Linear warmup, in optimizer updates."))
    total_steps: int = field(default=125000, metadata=_meta("Optimizer updates in the run."))
    weight_decay: float = field(default=0.01, metadata=_meta(
        "Decoupled weight decay; LayerNorm and biases excluded."))
    beta_1: float = field(default=0.9, metadata=_meta("Adam beta_1."))
    beta_2: float = field(default=0.999, metadata=_meta("Adam beta_2."))
    epsilon: float = field(default=1e-6, metadata=_meta("Adam epsilon."))
    max_grad_norm: float = field(default=1.0, metadata=_meta(
        "Global-norm clip of the all-reduced gradient (0 disables)."))
    gradient_accumulation_steps: int = field(default=1, metadata=_meta(
        "Micro-batches per update; the schedule counts updates."))
    steps_per_execution: int = field(default=1, metadata=_meta(
        "Fit batches (micro-batches) run per call of the compiled train function; the "
        "callbacks run once per call, so this cuts the per-step host overhead. Log, "
        "checkpoint and validation frequencies and total/stop steps, times "
        "--gradient_accumulation_steps, must be multiples of it. Not resume-critical, but a "
        "resumed run must start on a multiple of it."))
    jax_prng: str = field(default="threefry2x32", metadata=_meta(
        "JAX backend: PRNG for dropout, masking and sampling noise. threefry2x32 (JAX's "
        "default) or rbg (XLA's RngBitGenerator: same distributions, another stream, fewer "
        "instructions per random bit; see benchmarks/RESULTS.md, attention section)."))
    optimizer: str = field(default="adamw", metadata=_meta(
        "adamw: Adam with bias correction + decoupled decay (A); electra_adam: G's Adam "
        "without bias correction.", choices=OPTIMIZERS))
    schedule: str = field(default="auto", metadata=_meta(
        "aws: warmup to the peak, then decay to end_learning_rate (A); google: decay over "
        "the whole run times min(1, step/warmup) (G). auto: aws for adamw, google for "
        "electra_adam.", choices=SCHEDULES))
    precision: str = field(default="float32", metadata=_meta(
        "Keras dtype policy; mixed_float16 adds dynamic loss scaling.", choices=PRECISIONS))
    seed: int = field(default=42, metadata=_meta(
        "Seed of initialization, data order, masking and sampling streams."))
    skip_xla: bool = field(default=False, metadata=_meta(
        "Turn off XLA around forward+backward (TF backend)."))
    mask_prob: float = field(default=None, metadata=_meta(
        "Masking probability (default: the preset's, 0.15; 0.25 for large)."))
    generator_hidden_size: float = field(default=None, metadata=_meta(
        "Generator hidden size as a fraction of the discriminator's (G's flag; default: the "
        "preset's, 0.25; 1.0 for small_plus, 1/3 for base)."))
    generator_layers: float = field(default=None, metadata=_meta(
        "Generator depth as a fraction of the discriminator's (G's flag; default: the "
        "preset's, 1.0)."))
    disallow_correct: bool = field(default=False, metadata=_meta(
        "G's switch: never sample the original token as a fake (its logit -1000)."))
    untied_generator_embeddings: bool = field(default=False, metadata=_meta(
        "G's switch: the generator gets its own embedding block (default: shared with the "
        "discriminator)."))
    gdes: bool = field(default=False, metadata=_meta(
        "Gradient-disentangled embedding sharing (DeBERTa-v3): the MLM loss alone updates the "
        "shared word table, the RTD loss a residual table of the discriminator's; exported "
        "discriminators are folded (plain presets). Excludes --untied_generator_embeddings."))
    uniform_generator: bool = field(default=False, metadata=_meta(
        "G's switch: fakes drawn uniformly from the vocabulary (the generator's logits are "
        "zeroed; an ablation)."))
    unigram_generator: bool = field(default=False, metadata=_meta(
        "The ELECTRA paper's unigram-generator ablation: fakes drawn from the train split's "
        "token frequencies (token_counts.tsv, written by `keras-electra prepare` beside "
        "train/), [CLS]/[SEP]/[MASK]/[PAD] never; the generator is unused, as with "
        "--uniform_generator. Excludes --uniform_generator and --electric."))
    electric: bool = field(default=False, metadata=_meta(
        "G's electric_objective (Electric, Clark et al. 2020): a two-tower cloze generator "
        "(left-to-right + right-to-left) on the unmasked input, every sampled position "
        "labelled noise, the discriminator logit corrected by log q + log(p/(1-p)). "
        "Excludes --uniform_generator, --unigram_generator and --gdes."))
    gen_weight: float = field(default=1.0, metadata=_meta("Generator loss weight (G 1.0)."))
    disc_weight: float = field(default=50.0, metadata=_meta("Discriminator loss weight (G 50)."))
    shuffle_buffer: int = field(default=10000, metadata=_meta(
        "Examples in the (seeded, deterministic) shuffle buffer."))
    data_readers: int = field(default=0, metadata=_meta(
        "Independent shard readers the global batch is drawn from (0: one per process; a "
        "resumed run keeps its checkpoint's). The global batches depend on this number, not on "
        "the number of processes or devices: keep it fixed (a multiple of every process count "
        "you use) to move a run between cluster sizes. Each process reads only its readers' "
        "files."))
    # --------------------------------------------------------------- logging
    checkpoint_frequency: int = field(default=5000, metadata=_meta(
        "Save (and export presets) every N updates and at the end (0: only at the end)."))
    keep_checkpoints: int = field(default=5, metadata=_meta("Checkpoints kept per worker."))
    validation_frequency: int = field(default=2000, metadata=_meta(
        "Validate on val_dir every N updates (0: never)."))
    validation_steps: int = field(default=10, metadata=_meta(
        "Fixed number of validation batches per validation."))
    cue_free_batches: int = field(default=4, metadata=_meta(
        "Per validation, also the honest RTD numbers (keras_electra.evaluation.rtd_cues): "
        "val_cue_free_auc, the disc AUC over positions without trivial cues, on the first N "
        "validation batches of per_gpu_batch_size rows, and val_context_free_auc, a "
        "token-identity-only baseline fitted on the first 4N training batches. 0: off. "
        "Single-process runs only."))
    log_frequency: int = field(default=10, metadata=_meta(
        "Metrics line + JSONL record every N updates (metrics are averaged over them)."))
    run_name: str = field(default=None, metadata=_meta(
        "Default {YYYYmmdd-HHMMSS}-electra-{n}gpus-{global}globalbatch-{total}steps-{name}; "
        "on resume the checkpoint's run name is reused unless given."))
    name: str = field(default="", metadata=_meta("Suffix of the default run name."))
    progress: bool = field(default=True, metadata=_meta("Show a tqdm progress bar."))
    step_timeout_s: float = field(default=1800.0, metadata=_meta(
        "Exit with code 1 (stacks on stderr) if one step or validation takes longer, e.g. "
        "blocked on a lost MWMS worker, so the job can restart from its checkpoint "
        "(0 disables; the first step is not timed)."))
    stop_after_steps: int = field(default=None, metadata=_meta(
        "Stop (after checkpointing) at this update without finishing the schedule; for "
        "splitting a run across jobs and for tests."))

    # ---------------------------------------------------------------- helpers
    def __post_init__(self):
        # --model_size defaults to base, except with --init_from (the source's architecture)
        if self.model_size is None and not self.init_from:
            self.model_size = "base"
        # --model_size electra_tiny -> tiny (the config, and resume, keep the size)
        if isinstance(self.model_size, str) and self.model_size.startswith("electra_") and (
                self.model_size[len("electra_"):] in MODEL_SIZES):
            self.model_size = self.model_size[len("electra_"):]

    @classmethod
    def from_dict(cls, values):
        known = {f.name for f in fields(cls)}
        aliases = {alias.lstrip("-"): f.name for f in fields(cls)
                   for alias in f.metadata.get("aliases", ())}
        unknown = sorted(set(values) - known - set(aliases))
        if unknown:
            raise ConfigError(
                f"unknown pretraining option(s) {unknown}; known: {sorted(known)}")
        values = dict(values)
        for alias, name in aliases.items():
            if alias in values:
                values.setdefault(name, values.pop(alias))
        types = {f.name: f.type for f in fields(cls)}
        for key, value in values.items():
            values[key] = coerce_option(key, value, types.get(key))
        return cls(**values)

    def to_dict(self):
        return dataclasses.asdict(self)

    def path(self, value):
        if value is None:
            return None
        return os.path.join(self.filesystem_prefix, value) if self.filesystem_prefix else value

    @property
    def train_path(self):
        return self.path(self.train_dir)

    @property
    def val_path(self):
        return self.path(self.val_dir)

    @property
    def log_path(self):
        return self.path(self.log_dir)

    @property
    def checkpoint_root(self):
        return self.path(self.checkpoint_dir)

    @property
    def export_root(self):
        if self.export_dir:
            return self.path(self.export_dir)
        return os.path.join(self.checkpoint_root, "presets")

    @property
    def resolved_schedule(self):
        if self.schedule != "auto":
            return self.schedule
        return "aws" if self.optimizer == "adamw" else "google"

    def _steps_per_execution_problems(self):
        """Frequencies that would fall inside an execution of --steps_per_execution batches.

        Keras calls the callbacks once per execution, so logs, validations and checkpoints
        can only happen at execution ends, and `fit` can only stop there.
        """
        execution, accumulation = self.steps_per_execution, self.gradient_accumulation_steps
        multiple = execution // math.gcd(execution, accumulation)  # in optimizer updates
        names = ["log_frequency", "checkpoint_frequency", "total_steps", "stop_after_steps"]
        if self.val_dir:
            names.insert(2, "validation_frequency")
        problems = []
        for name in names:
            value = getattr(self, name)
            if value and value % multiple:
                suggestion = -(-value // multiple) * multiple
                problems.append(
                    f"--{name} {value}: with --steps_per_execution {execution} (and "
                    f"--gradient_accumulation_steps {accumulation}) the callbacks run only "
                    f"every {multiple} update(s), so it must be a multiple of {multiple} "
                    f"(e.g. {suggestion}), or choose a --steps_per_execution that divides "
                    f"{value * accumulation}.")
        return problems

    def validate(self, check_files=True):
        """Raise ConfigError with what is wrong and how to fix it (every problem, in order)."""
        problems = (self._choice_problems() + self._optimizer_problems()
                    + self._model_problems() + self._loop_problems()
                    + self._init_from_problems() + self._file_problems(check_files)
                    + self._objective_problems(check_files))
        if problems:
            raise ConfigError("invalid pretraining configuration:\n  - "
                              + "\n  - ".join(problems))
        return self

    def _choice_problems(self):
        """Required flags, finite numbers, the flags with a fixed set of values."""
        problems, need = _collector()
        need(self.train_dir, "--train_dir is required (a folder of TFRecord shards).")
        for item in fields(self):  # NaN passes every `x > 0` / range check below silently
            value = getattr(self, item.name)
            if isinstance(value, float) and not math.isfinite(value):
                problems.append(f"--{item.name} {value}: must be a finite number.")
        need(self.model_type == "electra", f"--model_type {self.model_type}: only 'electra'.")
        need(self.model_size in MODEL_SIZES or (self.model_size is None and self.init_from),
             f"--model_size {self.model_size}: expected one of {', '.join(MODEL_SIZES)}.")
        need(self.precision in PRECISIONS,
             f"--precision {self.precision}: expected one of {', '.join(PRECISIONS)}.")
        need(self.optimizer in OPTIMIZERS,
             f"--optimizer {self.optimizer}: expected one of {', '.join(OPTIMIZERS)}.")
        need(self.schedule in SCHEDULES,
             f"--schedule {self.schedule}: expected one of {', '.join(SCHEDULES)}.")
        need(self.load_from in LOAD_FROM,
             f"--load_from {self.load_from}: expected scratch or checkpoint.")
        need(self.per_gpu_batch_size >= 1,
             f"--per_gpu_batch_size {self.per_gpu_batch_size}: must be a positive integer.")
        need(8 <= self.max_seq_length <= 512,
             f"--max_seq_length {self.max_seq_length}: must be in [8, 512] "
             "(the position table has 512 rows).")
        return problems

    def _optimizer_problems(self):
        """The learning-rate schedule (one check, in optimizers/, as the optimizer runs it) and
        the optimizer's numbers."""
        # (imported here: optimizers/ imports keras, and the CLI imports this module before
        # TensorFlow, which it imports quietly)
        from keras_electra.optimizers import schedule_problems

        problems, need = _collector()
        problems += schedule_problems(self.learning_rate, self.total_steps, self.warmup_steps,
                                      self.end_learning_rate, self.learning_rate_decay_power,
                                      flags=True)
        need(self.weight_decay >= 0, "--weight_decay must be >= 0.")
        need(0 <= self.beta_1 < 1 and 0 <= self.beta_2 < 1, "--beta_1/--beta_2 must be in [0, 1).")
        need(self.epsilon > 0, "--epsilon must be > 0.")
        need(self.max_grad_norm >= 0, "--max_grad_norm must be >= 0 (0 disables clipping).")
        need(self.gradient_accumulation_steps >= 1,
             "--gradient_accumulation_steps must be >= 1.")
        return problems

    def _model_problems(self):
        """Dropout, masking and generator sizes."""
        problems, need = _collector()
        for name in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
            need(0 <= getattr(self, name) < 1, f"--{name} must be in [0, 1).")
        if self.mask_prob is not None:
            need(0 < self.mask_prob < 1, "--mask_prob must be in (0, 1).")
        need(not (self.gdes and self.untied_generator_embeddings),
             "--gdes shares the generator's embeddings with the discriminator; drop "
             "--untied_generator_embeddings.")
        if self.generator_layers is not None:
            need(0 < self.generator_layers <= 1,
                 f"--generator_layers {self.generator_layers}: must be in (0, 1] (a fraction "
                 "of the discriminator's layers).")
        if self.generator_hidden_size is not None:
            need(0 < self.generator_hidden_size <= 1,
                 f"--generator_hidden_size {self.generator_hidden_size}: must be in (0, 1] "
                 "(a fraction of the discriminator's hidden size).")
        return problems

    def _loop_problems(self):
        """The training loop's frequencies and counts, and where a resume loads from."""
        problems, need = _collector()
        need(self.log_frequency >= 1, "--log_frequency must be >= 1.")
        need(self.steps_per_execution >= 1, "--steps_per_execution must be >= 1.")
        if self.steps_per_execution > 1 and self.gradient_accumulation_steps >= 1:
            problems.extend(self._steps_per_execution_problems())
        for name in ("checkpoint_frequency", "validation_frequency"):
            need(getattr(self, name) >= 0, f"--{name} must be >= 0 (0 disables).")
        need(self.keep_checkpoints >= 1, "--keep_checkpoints must be >= 1.")
        need(self.step_timeout_s >= 0, "--step_timeout_s must be >= 0 (0 disables the watchdog).")
        need(self.validation_steps >= 1, "--validation_steps must be >= 1.")
        need(self.cue_free_batches >= 0, "--cue_free_batches must be >= 0 (0: off).")
        need(self.data_readers >= 0, "--data_readers must be >= 0 (0: one per process).")
        need(self.jax_prng in JAX_PRNGS,
             f"--jax_prng {self.jax_prng}: expected one of {', '.join(JAX_PRNGS)}.")
        if self.stop_after_steps is not None:
            need(1 <= self.stop_after_steps <= self.total_steps,
                 "--stop_after_steps must be in [1, --total_steps].")
        if self.load_from == "checkpoint":
            need(self.checkpoint_path,
                 "--load_from checkpoint needs --checkpoint_path (a ckpt-* dir or a "
                 "checkpoint_dir).")
        return problems

    def _file_problems(self, check_files):
        """--run_name, and (with `check_files`) the shard folders and the vocabulary file."""
        problems, need = _collector()
        if self.run_name is not None:
            need(self.run_name and "/" not in self.run_name,
                 f"--run_name {self.run_name!r}: must be non-empty, without '/'.")
        if check_files and self.train_dir:
            need(os.path.isdir(self.train_path),
                 f"--train_dir {self.train_path}: not a directory.")
            if os.path.isdir(self.train_path):
                need(_holds_shards(self.train_path),
                     f"--train_dir {self.train_path}: no TFRecord shards (*.tfrecord*) in it; "
                     "create them with `keras-electra prepare`.")
            if self.val_dir:
                need(os.path.isdir(self.val_path) and _holds_shards(self.val_path),
                     f"--val_dir {self.val_path}: not a directory with *.tfrecord* shards.")
            if self.vocab_file:
                need(os.path.isfile(self.vocab_file),
                     f"--vocab_file {self.vocab_file}: file not found.")
        return problems

    def _objective_problems(self, check_files):
        """The objective variants that exclude each other, and the unigram generator's counts."""
        problems, need = _collector()
        need(not (self.unigram_generator and self.uniform_generator),
             "--unigram_generator and --uniform_generator both choose the fakes' "
             "distribution; use one of them.")
        need(not (self.electric and (self.uniform_generator or self.unigram_generator
                                     or self.gdes)),
             "--electric samples from its two-tower cloze generator and uses no GDES; it "
             "cannot be combined with --uniform_generator, --unigram_generator or --gdes.")
        if check_files and self.train_dir and self.unigram_generator:
            path = token_counts_path(self.train_path)
            need(os.path.isfile(path),
                 f"--unigram_generator: {path} not found (the train split's token counts); "
                 "re-run `keras-electra prepare` (it writes token_counts.tsv beside train/; "
                 "add --overwrite for data prepared by an older version).")
        return problems

    @property
    def init_path(self):
        """--init_from with --filesystem_prefix joined when that names an existing path."""
        return _prefixed_source(self, self.init_from)

    @property
    def init_generator_path(self):
        return _prefixed_source(self, self.init_generator_from)

    def _init_from_problems(self):
        """--init_from / --init_generator_from combinations that cannot work."""
        problems = []
        if self.init_generator_from and not self.init_from:
            problems.append("--init_generator_from needs --init_from (the discriminator "
                            "source).")
        if self.init_from and self.load_from == "checkpoint":
            problems.append("--init_from starts a new run from released weights; "
                            "--load_from checkpoint continues one of our runs: use one of them.")
        if self.init_generator_from and self.electric:
            problems.append("--electric trains a two-tower cloze generator from scratch; drop "
                            "--init_generator_from (or --electric).")
        if self.init_from in {f"electra_{size}" for size in MODEL_SIZES}:
            problems.append(f"--init_from {self.init_from} is an architecture (random weights), "
                            f"not released weights; use --model_size "
                            f"{self.init_from[len('electra_'):]} instead.")
        for flag, value in (("--init_from", self.init_path),
                            ("--init_generator_from", self.init_generator_path)):
            if value and "://" not in value and (os.sep in value or value.startswith(".")) \
                    and not os.path.exists(value) and not os.path.exists(value + ".index"):
                problems.append(f"{flag} {value}: not found (a preset or HF dir, a keras-hub "
                                "preset name, or a TF1 checkpoint prefix or dir).")
        return problems


def _prefixed_source(config, value):
    if not value or not config.filesystem_prefix or "://" in value or os.path.isabs(value):
        return value
    joined = os.path.join(config.filesystem_prefix, value)
    return joined if os.path.exists(joined) or os.path.exists(joined + ".index") else value


def token_counts_path(train_path):
    """Where `prepare` writes the train split's token counts: `token_counts.tsv` beside
    `train/` (a copy inside `train/` is used when that one is absent)."""
    beside = os.path.join(os.path.dirname(os.path.normpath(train_path)), "token_counts.tsv")
    inside = os.path.join(train_path, "token_counts.tsv")
    return inside if not os.path.isfile(beside) and os.path.isfile(inside) else beside


def _collector():
    """`(problems, need)`: a list, and `need(ok, message)` that adds `message` when not `ok`."""
    problems = []

    def need(ok, message):
        if not ok:
            problems.append(message)

    return problems, need


def _holds_shards(directory):
    """Whether `directory` itself holds shards, as the reader lists them (the one lister:
    `data.pretraining_dataset.list_shard_files`)."""
    from keras_electra.data.pretraining_dataset import list_shard_files

    try:
        return bool(list_shard_files(os.path.join(directory, "*.tfrecord*")))
    except FileNotFoundError:
        return False


def coerce_option(key, value, kind):
    """`value` of option `key` as `kind` (int, float, bool; other kinds pass through), or a
    ConfigError naming the option: the one conversion of option values.

    Config files, SageMaker hyperparameters and `pretrain(**overrides)` often carry numbers
    and booleans as strings ("10", "2e-3", "true"); those are converted (booleans with the
    words the command line's `str2bool` accepts); anything else of the wrong type is refused
    (never evaluated).
    """
    kind = {"int": int, "float": float, "bool": bool}.get(kind, kind)
    if value is None or kind not in (int, float, bool):
        return value
    if kind is bool:
        if isinstance(value, (bool, str)):
            try:
                return str2bool(value)
            except argparse.ArgumentTypeError:
                pass
    elif isinstance(value, bool):
        pass  # true/false for a number: refused below
    elif kind is int and isinstance(value, int):
        return value
    elif kind is int and isinstance(value, float) and value.is_integer():
        return int(value)
    elif kind is float and isinstance(value, (int, float)):
        return float(value)
    elif isinstance(value, str):
        try:
            return kind(value.strip())
        except ValueError:
            pass
    raise ConfigError(f"option {key}={value!r}: expected {kind.__name__}.")


def load_config_file(path):
    """Read a YAML (.yaml/.yml) or JSON config file into a dict."""
    if not os.path.isfile(path):
        raise ConfigError(f"--config {path}: file not found.")
    text = read_text_file(path, "--config file (YAML or JSON)")
    try:
        if path.endswith((".yaml", ".yml")):
            import yaml

            values = yaml.safe_load(text) or {}
        else:
            values = json.loads(text)
    except Exception as error:  # noqa: BLE001 - yaml and json raise different types
        raise ConfigError(f"--config {path}: cannot parse ({error}).") from error
    if not isinstance(values, dict):
        raise ConfigError(f"--config {path}: expected a mapping of option -> value.")
    values = {k.lstrip("-"): v for k, v in values.items()}
    values.pop("config", None)
    return values


def config_from_args(args):
    """`argparse.Namespace` (with SUPPRESSed defaults) -> PretrainConfig: file < flags."""
    given = options_from_args(args, PretrainConfig)
    values = {}
    if given.get("config"):
        values.update(load_config_file(given["config"]))
    values.update(given)
    return PretrainConfig.from_dict(values)

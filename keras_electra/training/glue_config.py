"""`GlueConfig`: every option of `keras-electra glue` / `run_glue`, declared once.

Defaults are google-research/electra's GLUE fine-tuning (`configure_finetuning.py`): lr 1e-4,
layer-wise lr decay 0.8, weight decay 0.01, warmup 10 %, batch 32, `max_seq_length` 128,
3 epochs (10 for RTE and STS-B). The paper's Table 7 uses lr 3e-4 for ELECTRA-Small and
5e-5 with decay 0.9 for Large: pass them.

Example:
```python
from keras_electra.training.glue_config import GlueConfig

config = GlueConfig("glue_out", task="rte", data_dir="glue_data/RTE",
                    load_from="checkpoint", checkpoint_path="electra_small_preset")
config.validate()
config.resolved_epochs()   # 10.0 (G: rte and sts-b train for 10 epochs)
```
"""

from dataclasses import dataclass, field

from keras_electra.glue.tasks import GLUE_TASKS
from keras_electra.training.config import LOAD_FROM, OPTIMIZERS
from keras_electra.utils.errors import UserError

HEADS = ("hf", "electra")
TEN_EPOCH_TASKS = ("rte", "stsb")  # G configure_finetuning: rte/sts 10 epochs


class GlueOptionError(UserError, ValueError):
    """Options of `keras-electra glue` that cannot make a run."""


def _meta(help_text, **extra):
    return {"help": help_text, **extra}


@dataclass
class GlueConfig:
    output_dir: str = field(metadata=_meta("Where eval.json, dev_predictions.tsv and the "
                                           "model go."))
    task: str = field(default=None, metadata=_meta(
        "GLUE task (reads --data_dir in GLUE's TSV layout).", choices=tuple(GLUE_TASKS)))
    data_dir: str = field(default=None, metadata=_meta(
        "The task's directory as the GLUE download script writes it (train.tsv, dev.tsv; "
        "MNLI dev_matched.tsv, dev_mismatched.tsv), or the GLUE root holding it."))
    train_file: str = field(default=None, metadata=_meta(
        "Generic mode: your training CSV/TSV (with a header) or JSONL."))
    dev_file: str = field(default=None, metadata=_meta(
        "Generic mode: your dev file (same layout)."))
    text_columns: str = field(default="sentence", metadata=_meta(
        "Generic mode: one or two comma-separated text column names (e.g. premise,hypothesis)."))
    label_column: str = field(default="label", metadata=_meta("Generic mode: the label column."))
    labels: str = field(default=None, metadata=_meta(
        "Generic mode: comma-separated label set (default: the training file's labels)."))
    regression: bool = field(default=False, metadata=_meta(
        "Generic mode: the label is a number (one output, squared error)."))
    load_from: str = field(default="scratch", metadata=_meta(
        "scratch: random init (a baseline, needs --vocab_file); checkpoint: --checkpoint_path.",
        choices=LOAD_FROM))
    checkpoint_path: str = field(default=None, metadata=_meta(
        "Any preset ElectraBackbone.from_preset reads (our pretraining export, HF or keras-hub "
        "dir) or a fine-tuned classifier preset."))
    preset: str = field(default="electra_small", metadata=_meta(
        "Architecture preset for --load_from scratch.", flag="--model_size",
        aliases=("--preset",)))
    vocab_file: str = field(default=None, metadata=_meta(
        "WordPiece vocab.txt (needed when the checkpoint has none)."))
    head: str = field(default="hf", metadata=_meta(
        "hf: transformers' ElectraClassificationHead (exports to HF); electra: G's single "
        "dense layer.", choices=HEADS))
    per_gpu_batch_size: int = field(default=32, metadata=_meta("Batch per replica (G 32)."))
    predict_batch_size: int = field(default=None, metadata=_meta(
        "Prediction batch (default: --per_gpu_batch_size)."))
    learning_rate: float = field(default=1e-4, metadata=_meta(
        "Peak lr (G 1e-4; paper: small 3e-4, large 5e-5)."))
    warmup_proportion: float = field(default=0.1, metadata=_meta(
        "Warmup as a fraction of the total steps."))
    warmup_steps: int = field(default=None, metadata=_meta(
        "Linear warmup steps (default: --warmup_proportion of the total)."))
    total_steps: int = field(default=None, metadata=_meta(
        "Optimizer steps (default: epochs x examples / global batch)."))
    epochs: float = field(default=None, metadata=_meta(
        "Epochs when --total_steps is not given (G: 3; RTE and STS-B 10)."))
    max_seq_length: int = field(default=128, metadata=_meta("Tokens per example (G 128).",
                                                            aliases=("--max_seq_len",)))
    layerwise_lr_decay: float = field(default=0.8, metadata=_meta(
        "Layer-wise learning-rate decay (G 0.8; large 0.9)."))
    weight_decay: float = field(default=0.01, metadata=_meta(
        "Decoupled weight decay; LayerNorm and biases excluded."))
    optimizer: str = field(default="adamw", metadata=_meta(
        "adamw: Adam with bias correction; electra_adam: G's Adam without it.",
        choices=OPTIMIZERS))
    double_unordered: bool = field(default=True, metadata=_meta(
        "MRPC and STS-B: train on each pair in both orders (G's double_unordered)."))
    lenient: bool = field(default=False, metadata=_meta(
        "GLUE files: skip lines with missing columns or unknown labels (as G does; GLUE's QQP "
        "train.tsv has a few) instead of failing. Dev scores then cover fewer examples."))
    dropout: float = field(default=None, metadata=_meta("Override the backbone dropout."))
    seed: int = field(default=0, metadata=_meta("Seed of initialization and data order."))

    def validate(self):
        """Raise a one-line `GlueOptionError` for options that cannot make a run."""
        generic = self.train_file or self.dev_file
        if self.task and generic:
            raise GlueOptionError("give --task with --data_dir (GLUE) or --train_file/--dev_file "
                                  "(your own files), not both")
        if self.task and not self.data_dir:
            raise GlueOptionError(f"--task {self.task} needs --data_dir (the task's GLUE "
                                  "directory)")
        if not self.task and not generic:
            raise GlueOptionError("give --task and --data_dir, or --train_file and --dev_file")
        if not self.task and self.data_dir:
            raise GlueOptionError("--data_dir needs --task")
        if generic and not self.train_file and self.load_from == "scratch":
            raise GlueOptionError("evaluating a randomly initialised model is meaningless; give "
                                  "--train_file")
        if self.load_from not in LOAD_FROM:
            raise GlueOptionError(f"--load_from must be one of {LOAD_FROM}")
        if self.load_from == "checkpoint" and not self.checkpoint_path:
            raise GlueOptionError("--load_from checkpoint needs --checkpoint_path PRESET (or "
                                  "--load_from scratch --vocab_file vocab.txt for a baseline)")
        if self.per_gpu_batch_size < 1 or self.max_seq_length < 4:
            raise GlueOptionError("--per_gpu_batch_size must be >= 1 and --max_seq_length >= 4")
        return self

    def resolved_epochs(self):
        if self.epochs is not None:
            return float(self.epochs)
        return 10.0 if self.task in TEN_EPOCH_TASKS else 3.0

    def text_column_names(self):
        return [c.strip() for c in self.text_columns.split(",") if c.strip()]

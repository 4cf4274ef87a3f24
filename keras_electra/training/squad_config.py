"""`SquadConfig`: every option of `keras-electra squad` / `run_squad`, declared once.

The command's flags are built from these fields (`add_dataclass_options`: help text, choices
and hidden aliases come from each field's metadata) and `run_squad` takes the same names as
keywords. Names are the AWS scripts' ("A"); defaults follow G where A has none.

Example:
```python
from keras_electra.training.squad_config import SquadConfig

config = SquadConfig("squad_out", train_file="train-v2.0.json", preset="electra_tiny",
                     vocab_file="vocab.txt", total_steps=10)
config.validate()
```
"""

from dataclasses import dataclass, field

from keras_electra.training.config import LOAD_FROM, OPTIMIZERS

SQUAD_VERSIONS = ("squadv1", "squadv2")
HEADS = ("electra", "simple")


def _meta(help_text, **extra):
    return {"help": help_text, **extra}


@dataclass
class SquadConfig:
    output_dir: str = field(metadata=_meta("Where predictions, eval.json and the model go."))
    train_file: str = field(default=None, metadata=_meta("SQuAD training JSON."))
    predict_file: str = field(default=None, metadata=_meta(
        "SQuAD JSON to predict and evaluate (e.g. dev-v2.0.json)."))
    squad_version: str = field(default=None, metadata=_meta(
        "Expected file version (default: read from the file).", choices=SQUAD_VERSIONS))
    load_from: str = field(default="scratch", metadata=_meta(
        "Random init (scratch) or --checkpoint_path.", choices=LOAD_FROM))
    checkpoint_path: str = field(default=None, metadata=_meta(
        "Preset dir: our pretraining/QA export, keras-hub or HF dir."))
    preset: str = field(default="electra_small", metadata=_meta(
        "Architecture preset for --load_from scratch (electra_tiny or tiny, electra_small, "
        "...).",
        flag="--model_size", aliases=("--preset",)))
    vocab_file: str = field(default=None, metadata=_meta(
        "WordPiece vocab.txt (needed when the checkpoint has none)."))
    head: str = field(default="electra", metadata=_meta(
        "electra: G's joint beam + answerability head; simple: HF qa_outputs.", choices=HEADS))
    per_gpu_batch_size: int = field(default=32, metadata=_meta("Batch per replica (G 32)."))
    predict_batch_size: int = field(default=None, metadata=_meta(
        "Prediction batch (default: --per_gpu_batch_size)."))
    learning_rate: float = field(default=1e-4, metadata=_meta("Peak lr (G 1e-4; small: 3e-4)."))
    warmup_steps: int = field(default=None, metadata=_meta(
        "Linear warmup steps (default: --warmup_proportion of the total steps)."))
    warmup_proportion: float = field(default=0.1, metadata=_meta(
        "Warmup as a fraction of the total steps, when --warmup_steps is not given."))
    total_steps: int = field(default=None, metadata=_meta(
        "Optimizer steps (default: epochs x features / global batch)."))
    epochs: float = field(default=2.0, metadata=_meta("Epochs when --total_steps is not given "
                                                      "(G: 2 for SQuAD)."))
    max_seq_length: int = field(default=384, metadata=_meta(
        "Tokens per window (G 512, A/HF 384).", aliases=("--max_seq_len",)))
    doc_stride: int = field(default=128, metadata=_meta("Window stride over long contexts."))
    max_query_length: int = field(default=64, metadata=_meta("Question tokens kept."))
    layerwise_lr_decay: float = field(default=0.8, metadata=_meta(
        "Layer-wise learning-rate decay (G: 0.8; large: 0.9)."))
    weight_decay: float = field(default=0.01, metadata=_meta(
        "Decoupled weight decay; LayerNorm and biases excluded."))
    optimizer: str = field(default="adamw", metadata=_meta(
        "adamw: Adam with bias correction (A); electra_adam: G's Adam without it.",
        choices=OPTIMIZERS))
    dropout: float = field(default=None, metadata=_meta("Override the backbone dropout."))
    null_threshold: float = field(default=None, metadata=_meta(
        "Null-odds threshold (default: electra -2.75, simple 0.0)."))
    lenient: bool = field(default=False, metadata=_meta(
        "Skip malformed questions instead of failing."))
    seed: int = field(default=0, metadata=_meta("Seed of initialization and data order."))

    def validate(self):
        """Raise ValueError when the inputs cannot make a run (before any work starts)."""
        if not self.train_file and not self.predict_file:
            raise ValueError("give --train_file and/or --predict_file")
        if not self.train_file and self.load_from == "scratch":
            raise ValueError("predicting with a randomly initialised model is meaningless; use "
                             "--load_from checkpoint --checkpoint_path FINE_TUNED_PRESET")
        return self

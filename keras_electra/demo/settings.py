"""The demo's sizes (`DemoSettings`) and its command-line arguments (`parse_args`).

Example:
```python
from keras_electra.demo.settings import DemoSettings, parse_args

args = parse_args(["--output-dir", "/tmp/d", "--quick"])
settings = DemoSettings.quick() if args.quick else DemoSettings()
```
"""

import argparse
import dataclasses


@dataclasses.dataclass
class DemoSettings:
    """Sizes of the demo. `quick()` is the smoke-test variant used by tests/test_demo.py."""

    vocab_size: int = 2048          # the text supports ~1,800 learned WordPieces
    max_seq_len: int = 128          # G: ELECTRA-Small pretrains at 128
    val_fraction: float = 0.1
    # pretraining: picked by benchmarks/demo_sweep.py (RESULTS.md section 6)
    model_size: str = "tiny"
    pretrain_steps: int = 900       # the sweep's pick: lr 1e-3, 900 steps (~3 min on 2 cores)
    pretrain_batch: int = 32
    pretrain_lr: float = 1e-3
    pretrain_warmup: float = 0.1    # fraction of the steps
    # objective flags of `keras-electra pretrain`, e.g. {"generator_hidden_size": 0.5}
    pretrain_options: dict = dataclasses.field(default_factory=dict)
    validation_batches: int = 2
    # host batches (of pretrain_batch rows) for the cue-free AUC; the context-free baseline
    # is fitted on 4x as many training batches
    cue_free_batches: int = 8
    log_frequency: int = 10
    qa_train_paragraphs: int = 800  # ~2,800 questions, about 30% unanswerable
    qa_dev_paragraphs: int = 160    # ~560 questions
    qa_batch: int = 16
    qa_lr: float = 2e-3
    qa_epochs: float = 4.0
    # Answer unless the model's P(no answer) > 0.5. G's default, -2.75, is calibrated for
    # fully trained models; the report shows the metrics at -2.75 too.
    qa_null_threshold: float = 0.0
    qa_max_seq_len: int = 128       # every generated question + paragraph fits one window
    qa_doc_stride: int = 64
    qa_max_query_len: int = 32
    # the classification stage (issue 28): QA questions as QNLI pairs, `keras-electra glue`
    cls_train_examples: int = 384
    cls_dev_examples: int = 192
    cls_batch: int = 32
    cls_lr: float = 1e-3
    cls_epochs: float = 2.0
    seed: int = 0

    @classmethod
    def quick(cls):
        return cls(pretrain_steps=30, log_frequency=5, cue_free_batches=2, qa_train_paragraphs=150,
                   qa_dev_paragraphs=40, qa_epochs=1.0, cls_train_examples=64,
                   cls_dev_examples=32, cls_epochs=1.0)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m keras_electra.demo",
        description="Run the whole keras-electra pipeline (vocab -> shards -> pretrain -> "
                    "export -> SQuAD v2.0 fine-tune -> evaluate -> answer) on built-in data "
                    "and write a report with metrics, baselines, timings and plots.")
    parser.add_argument("--output-dir", default="demo_output",
                        help="where everything goes (its stage folders are replaced)")
    parser.add_argument("--corpus", default=None,
                        help="glob of your own text files for build-vocab/prepare/pretrain "
                             "(one sentence per line, blank line between documents); default: "
                             "Python's pydoc topics")
    parser.add_argument("--squad", default=None,
                        help="a SQuAD v2.0 file of your own, split 80/20 into train/dev; "
                             "default: the generated QA set")
    parser.add_argument("--squad-train", default=None, help="SQuAD v2.0 training file")
    parser.add_argument("--squad-dev", default=None, help="SQuAD v2.0 dev file")
    parser.add_argument("--steps", type=int, default=None,
                        help="pretraining steps (default 900; --quick: 30)")
    parser.add_argument("--vocab-size", type=int, default=None,
                        help="WordPiece vocabulary size (default 2048; 30522 suits big corpora)")
    parser.add_argument("--quick", action="store_true",
                        help="tiny smoke-test sizes (used by the tests); metrics are not "
                             "expected to beat the baselines")
    parser.add_argument("--subprocess", action="store_true",
                        help="run each keras-electra command in its own process (slower: "
                             "imports TensorFlow each time) instead of in-process")
    args = parser.parse_args(argv)
    if bool(args.squad_train) != bool(args.squad_dev):
        parser.error("--squad-train and --squad-dev go together")
    if args.squad and args.squad_train:
        parser.error("give --squad FILE or --squad-train/--squad-dev, not both")
    if args.steps is not None and args.steps < 1:
        parser.error("--steps must be >= 1")
    return args

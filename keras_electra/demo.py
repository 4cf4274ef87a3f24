"""`make demo`: the whole ELECTRA pipeline on built-in data, in a few minutes on a laptop CPU.

Stages (each is a `keras-electra` command; the equivalent command line is printed):

1. corpus       English prose of Python's own docs (`pydoc_data.topics` + stdlib
                docstrings) -> text files
2. build-vocab  WordPiece vocabulary learned from that text
3. prepare      G-style pretraining TFRecord shards (train + validation)
4. pretrain     `electra_tiny` generator + discriminator (replaced-token detection);
                the command exports the discriminator as a preset
5. export       the discriminator preset -> a Hugging Face `transformers` directory
6. rtd-baseline the checkpoint with its discriminator reset to random init (judging the
                same replaced tokens) and the untrained model, same validation batches
7. qa-data      a generated SQuAD v2.0 train/dev set with unanswerable questions
8. squad        fine-tune `ElectraQuestionAnswerer` from the pretrained discriminator
9. squad-eval   the official SQuAD v2.0 evaluation of its dev predictions (at the
                demo's null threshold 0.0 and at G's -2.75)
10. qa-baselines all-null and random-span predictions, same official evaluation
11. answer      a few questions answered by `keras-electra answer`
12. report      `report.md`, `summary.json`, PNG plots in the output directory

Nothing is downloaded. Bring your own data with `--corpus 'text/*.txt'` (one
sentence per line, blank line between documents) and/or `--squad dev-v2.0.json`
(split 80/20 by article into train/dev) or `--squad-train` + `--squad-dev`.

Example:
```bash
python -m keras_electra.demo --output-dir demo_output            # ~5 min on 2 cores
python -m keras_electra.demo --output-dir /tmp/d --quick          # ~1-2 min smoke run
make demo CORPUS='my/*.txt' SQUAD=dev-v2.0.json STEPS=2000
```
"""

import argparse
import contextlib
import dataclasses
import io
import json
import os
import platform
import resource
import shlex
import shutil
import subprocess
import sys
import time
import traceback


@dataclasses.dataclass
class DemoSettings:
    """Sizes of the demo. `quick()` is the smoke-test variant used by tests/test_demo.py."""

    vocab_size: int = 2048          # the text supports ~1,800 learned WordPieces
    max_seq_len: int = 128          # G: ELECTRA-Small pretrains at 128
    val_fraction: float = 0.1
    pretrain_steps: int = 300
    pretrain_batch: int = 32
    pretrain_lr: float = 2e-3
    validation_batches: int = 2
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
    seed: int = 0

    @classmethod
    def quick(cls):
        return cls(pretrain_steps=30, log_frequency=5, qa_train_paragraphs=150,
                   qa_dev_paragraphs=40, qa_epochs=1.0)


class StageError(RuntimeError):
    """A stage failed; the message says which and why."""


def _cpu_seconds():
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class _Tee(io.TextIOBase):
    def __init__(self, *streams):
        self.streams = streams

    def write(self, text):
        for stream in self.streams:
            stream.write(text)
        return len(text)

    def flush(self):
        for stream in self.streams:
            stream.flush()


class Demo:
    """Runs the stages, times them, and collects what the report needs."""

    def __init__(self, output_dir, settings, subprocess_mode=False):
        self.output_dir = os.path.abspath(output_dir)
        self.settings = settings
        self.subprocess_mode = subprocess_mode
        self.stages = []
        self.commands = []
        self.started = time.perf_counter()
        self.cpu_started = _cpu_seconds()

    def path(self, *parts):
        return os.path.join(self.output_dir, *parts)

    def rel(self, path):
        return os.path.relpath(path, os.getcwd()) if path.startswith(os.getcwd()) else path

    @contextlib.contextmanager
    def stage(self, name, description):
        number = len(self.stages) + 1
        print(f"\n=== [{number}/{len(STAGE_NAMES)}] {name}: {description}", flush=True)
        record = {"name": name, "status": "running", "wall_s": 0.0, "cpu_s": 0.0}
        self.stages.append(record)
        wall, cpu = time.perf_counter(), _cpu_seconds()
        try:
            yield record
        except BaseException:
            record["status"] = "FAILED"
            raise
        finally:
            record["wall_s"] = time.perf_counter() - wall
            record["cpu_s"] = _cpu_seconds() - cpu
        record["status"] = "ok"
        print(f"--- {name}: done in {record['wall_s']:.1f} s", flush=True)

    def cli(self, argv, capture=False):
        """Run `keras-electra ARGV`; raise StageError unless it exits 0. Returns its stdout."""
        command = "keras-electra " + shlex.join(argv)
        self.commands.append(command)
        print(f"$ {command}", flush=True)
        if self.subprocess_mode:
            process = subprocess.run([sys.executable, "-m", "keras_electra", *argv],
                                     stdout=subprocess.PIPE if capture else None, text=True)
            output = process.stdout or ""
            if capture:
                sys.stdout.write(output)
            code = process.returncode
        else:
            from keras_electra.cli import main

            buffer = io.StringIO()
            target = _Tee(sys.stdout, buffer) if capture else sys.stdout
            try:
                with contextlib.redirect_stdout(target):
                    code = main(argv)
            except SystemExit as error:  # argparse errors, squad-eval file errors
                code = error.code if isinstance(error.code, int) else 1
                if not isinstance(error.code, int) and error.code:
                    print(error.code, file=sys.stderr)
            output = buffer.getvalue()
        if code != 0:
            raise StageError(f"`{command}` exited with status {code}")
        return output


STAGE_NAMES = ("corpus", "build-vocab", "prepare", "pretrain", "export", "rtd-baseline",
               "qa-data", "squad", "squad-eval", "qa-baselines", "answer", "report")


def _validation_frequency(steps):
    """Validate ~5 times, always at the last step (a divisor of `steps`)."""
    for times in (5, 6, 4, 3, 2, 1):
        if steps % times == 0:
            return steps // times
    return steps  # pragma: no cover - times=1 always divides


def _learned_vocab_size(vocab_path):
    with open(vocab_path, encoding="utf-8") as f:
        tokens = [line.rstrip("\n") for line in f]
    return len(tokens), sum(not t.startswith("[unused") for t in tokens)


def rtd_baselines(checkpoint_dir, val_dir, validation_batches):
    """Validation metrics of the trained pretrainer and of two untrained discriminators.

    All three are evaluated on the same validation batches as the pretrain command's
    validation (the first `validation_batches` global batches of `pretraining_dataset` in
    file order, with the run's `--data_readers`):

    * `trained`: the final checkpoint of `checkpoint_dir` (what the run validated);
    * `untrained_discriminator`: the same checkpoint with the discriminator's own weights
      (transformer layers, embedding projection, RTD head) reset to their random
      initialization; generator and shared embeddings stay trained and the step counter is
      the same, so it judges exactly the same replaced tokens as `trained`;
    * `untrained_model`: the whole pretrainer at its random initialization (step 0), whose
      untrained generator makes different (random) replacements.

    Returns `{name: {"val_disc_auc": ..., ...}}`.
    """
    import keras

    from keras_electra.data.pretraining_dataset import pretraining_dataset
    from keras_electra.models.electra_tokenizer import ElectraTokenizer
    from keras_electra.training import checkpointing
    from keras_electra.training.config import PretrainConfig
    from keras_electra.training.pretrain import _build_pretrainer, _make_optimizer

    manager = checkpointing.CheckpointManager(checkpoint_dir, 1, 0)
    visible = manager.visible_checkpoints()
    if not visible:
        raise StageError(f"{checkpoint_dir}: no checkpoint to evaluate")
    path = visible[max(visible)]
    state = checkpointing.CheckpointManager.read_state(path)
    config = PretrainConfig.from_dict(state["config"])
    tokenizer = ElectraTokenizer(vocabulary=config.vocab_file)

    def build():
        model = _build_pretrainer(config, tokenizer)  # seeds keras with config.seed first
        model.compile(optimizer=_make_optimizer(config))
        return model

    def evaluate(model):
        dataset = pretraining_dataset(
            val_dir, config.per_gpu_batch_size, config.max_seq_length, shuffle=False,
            repeat=False, num_readers=config.data_readers or 1, num_batches=validation_batches)
        results = model.evaluate(dataset, verbose=0, return_dict=True)
        return {f"val_{k}": float(v) for k, v in results.items()}

    fresh = build()
    checkpointing.build_optimizer_for(fresh)
    results = {"untrained_model": evaluate(fresh)}
    trained = build()
    checkpointing.load_checkpoint(trained, path)
    results["trained"] = evaluate(trained)
    # A third model, evaluated once like the others, so its step counter (hence the
    # masking and sampling noise) is exactly the trained model's.
    baseline = build()
    checkpointing.load_checkpoint(baseline, path)
    parts = list(zip(baseline.backbone.transformer_layers, fresh.backbone.transformer_layers))
    parts.append((baseline.discriminator_head, fresh.discriminator_head))
    if baseline.backbone.embeddings_project is not None:
        parts.append((baseline.backbone.embeddings_project, fresh.backbone.embeddings_project))
    for target, source in parts:
        for variable, value in zip(target.weights, source.weights):
            variable.assign(value)
    results["untrained_discriminator"] = evaluate(baseline)
    keras.backend.clear_session()
    return results


def split_squad(source, train_path, dev_path, dev_every=5):
    """Split a SQuAD file 80/20 by article (by paragraph when it has < 5 articles)."""
    with open(source, encoding="utf-8") as f:
        data = json.load(f)
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise StageError(f"{source}: not a SQuAD file (no top-level 'data' list)")
    train, dev = [], []
    if len(data["data"]) >= dev_every:
        for i, article in enumerate(data["data"]):
            (dev if i % dev_every == dev_every - 1 else train).append(article)
    else:
        for article in data["data"]:
            paragraphs = article.get("paragraphs", [])
            keep = [p for i, p in enumerate(paragraphs) if i % dev_every != dev_every - 1]
            held = [p for i, p in enumerate(paragraphs) if i % dev_every == dev_every - 1]
            if keep:
                train.append({**article, "paragraphs": keep})
            if held:
                dev.append({**article, "paragraphs": held})
    if not train or not dev:
        raise StageError(f"{source}: too small to split into train and dev (needs >= "
                         f"{dev_every} paragraphs); pass --squad-train and --squad-dev")
    for path, articles in ((train_path, train), (dev_path, dev)):
        with open(path, "w", encoding="utf-8") as f:
            json.dump({"version": data.get("version", "v2.0"), "data": articles}, f)
    return train_path, dev_path


def pick_questions(dev_file, count=4):
    """Questions for the answer stage: answerable and unanswerable ones from the dev file."""
    with open(dev_file, encoding="utf-8") as f:
        data = json.load(f)
    answerable, unanswerable = [], []
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                item = {"question": qa["question"], "context": paragraph["context"],
                        "expected": "" if qa.get("is_impossible") else
                        (qa["answers"][0]["text"] if qa.get("answers") else "")}
                (unanswerable if qa.get("is_impossible") else answerable).append(item)
    picked = answerable[: count - count // 3] + unanswerable[: count // 3]
    return picked[:count]


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
                        help="pretraining steps (default 300; --quick: 30)")
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


def main(argv=None):
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    settings = DemoSettings.quick() if args.quick else DemoSettings()
    if args.steps is not None:
        settings.pretrain_steps = args.steps
    if args.vocab_size is not None:
        settings.vocab_size = args.vocab_size
    from keras_electra.demo_pipeline import run_pipeline

    return run_pipeline(args, settings)


def environment():
    info = {"python": platform.python_version(), "cpus": os.cpu_count(),
            "platform": platform.platform()}
    try:
        info["loadavg"] = " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:  # pragma: no cover - not on every OS
        pass
    with contextlib.suppress(Exception):
        import tensorflow as tf

        info["tensorflow"] = tf.__version__
    with contextlib.suppress(Exception):
        import keras

        info["keras"] = keras.__version__
        info["backend"] = keras.backend.backend()
    return info


def reset_output_dir(output_dir, names):
    """Remove the demo's own stage folders/files from a previous run (nothing else)."""
    os.makedirs(output_dir, exist_ok=True)
    for name in names:
        path = os.path.join(output_dir, name)
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.remove(path)


def print_exception(error):
    if isinstance(error, StageError):
        return str(error)
    return "".join(traceback.format_exception(type(error), error, error.__traceback__))


if __name__ == "__main__":
    sys.exit(main())

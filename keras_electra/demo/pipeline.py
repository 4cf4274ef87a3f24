"""The stages of `python -m keras_electra.demo` (see `keras_electra.demo` for the overview).

`run_pipeline(args, settings)` runs them in order, each through the real
`keras-electra` command line (in-process, or one process per command with
`--subprocess`), checks what each one wrote, and finally writes `report.md`,
`summary.json` and the plots. It returns the exit status: 0 when everything ran
(and, on the built-in data, the model beat the baselines), 1 when a stage failed,
3 when the built-in demo ran but did not learn. `Demo` runs and times one
stage; `keras_electra.demo.settings` holds the arguments and `DemoSettings`.
"""

import contextlib
import glob
import io
import json
import logging
import os
import platform
import resource
import shlex
import shutil
import subprocess
import sys
import time
import traceback

from keras_electra.demo import report
from keras_electra.evaluation.qa_baselines import qa_baselines
from keras_electra.squad.postprocess import NULL_THRESHOLDS

# Outputs of one run (removed at the start of the next one in the same --output-dir).
OUTPUT_NAMES = ("corpus", "vocab.txt", "shards", "pretrain", "hf_discriminator", "qa", "squad",
                "squad_random_init", "answer_questions.jsonl", "answers.jsonl",
                "report.md", "summary.json", "pretrain_loss.png", "pretrain_accuracy.png",
                "qa_metrics.png", "qnli", "glue_qnli_pretrained", "glue_qnli_random_init")
RUN_NAME = "demo"
# Contextual detection: the cue-free AUC must beat the context-free baseline by this much
# (about two standard errors of an AUC over the demo's ~30k cue-free validation positions).
CONTEXT_MARGIN = 0.01
F1_MARGIN = 10.0    # QA F1 must beat the best baseline's by this many points
# Pretraining helped: the pretrained model's F1 must beat the random-init one's by this much.
PRETRAINING_F1_MARGIN = 1.0


class InProcessRetracingFilter(logging.Filter):
    """Drops TensorFlow's "N out of the last M calls to <function ...> triggered tf.function
    retracing" warning, in the in-process demo only.

    Known harmless there: TensorFlow counts traces per Python code object across the whole
    process, and the demo runs a dozen commands (three pretrainer evaluations, two
    fine-tunings, ...) in one process, each new model tracing its own train or predict
    function once, as it does run alone. Run alone (the keras-electra CLI, or the demo with
    --subprocess) the same commands print no such warning, so a real retracing problem in
    one command still shows there (and in tests/test_demo.py's CLI checks).
    """

    def filter(self, record):
        return "triggered tf.function retracing" not in record.getMessage()


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
               "qa-data", "squad", "squad-eval", "squad-random-init", "qa-baselines", "answer",
               "classify", "report")


def pretrain_option_flags(settings):
    """`keras-electra pretrain` flags of `DemoSettings.pretrain_options` (objective settings
    such as the generator's size, picked by benchmarks/demo_sweep.py)."""
    flags = []
    for key, value in settings.pretrain_options.items():
        flags += [f"--{key}", str(value).lower() if isinstance(value, bool) else str(value)]
    return flags


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


def checkpoint_rtd_baselines(checkpoint_dir, val_dir, validation_batches):
    """`keras_electra.evaluation.rtd.rtd_baselines` of the pretrain command's final checkpoint.

    On the same validation batches as the command's own validation (the first
    `validation_batches` global batches of `pretraining_dataset` in file order, with the
    run's `--data_readers`), each model built and compiled as the command builds it. The
    restored models' evaluation random stream is rewound by `validation_batches` steps: the
    final checkpoint is written after the run's last validation, so this replays that
    validation's masks and fakes (the "trained" numbers equal the logged ones, and the reset
    discriminator judges the very replacements the logged numbers are about).
    """
    import keras

    from keras_electra.data.pretraining_dataset import pretraining_dataset
    from keras_electra.evaluation.rtd import rtd_baselines
    from keras_electra.models.electra_tokenizer import ElectraTokenizer
    from keras_electra.training import checkpointing
    from keras_electra.training.config import PretrainConfig
    from keras_electra.training.pretrain import build_pretrainer, make_optimizer

    manager = checkpointing.CheckpointManager(checkpoint_dir, 1, 0)
    visible = manager.visible_checkpoints()
    if not visible:
        raise StageError(f"{checkpoint_dir}: no checkpoint to evaluate")
    path = visible[max(visible)]
    state = checkpointing.CheckpointManager.read_state(path)
    config = PretrainConfig.from_dict(state["config"])
    tokenizer = ElectraTokenizer(vocabulary=config.vocab_file)

    def build():
        model = build_pretrainer(config, tokenizer)  # seeds keras with config.seed first
        model.compile(optimizer=make_optimizer(config))
        checkpointing.build_optimizer_for(model)
        return model

    def dataset():
        return pretraining_dataset(
            val_dir, config.per_gpu_batch_size, config.max_seq_length, shuffle=False,
            repeat=False, num_readers=config.data_readers or 1, num_batches=validation_batches)

    # steps= the batch count: on a dataset of unknown cardinality, `evaluate` without it
    # reads to the end and Keras warns "Your input ran out of data"
    def restore(model):
        checkpointing.load_checkpoint(model, path)
        step = int(keras.ops.convert_to_numpy(model.eval_step.value))
        model.eval_step.assign(max(0, step - validation_batches))

    results = rtd_baselines(build, restore, dataset, steps=validation_batches)
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


def _require(path, what):
    if not os.path.exists(path):
        raise StageError(f"{what} is missing: expected {path}")
    return path


def _default_answer_questions():
    """Hand-written questions about a paragraph that is in neither split."""
    context = ("fold_lines is defined in the textwrap module. It returns a list of strings. "
               "fold_lines raises ValueError when the input is invalid. The first argument "
               "of fold_lines is limit. Calling scan_tokens gives back a new iterator.")
    return [
        {"question": "Which module defines fold_lines?", "context": context,
         "expected": "textwrap"},
        {"question": "What does fold_lines raise when the input is invalid?",
         "context": context, "expected": "ValueError"},
        {"question": "What should be used instead of fold_lines?", "context": context,
         "expected": ""},
    ]


def run_pipeline(args, settings):
    demo = Demo(args.output_dir, settings, subprocess_mode=args.subprocess)
    out = demo.path
    s = settings
    builtin_corpus = args.corpus is None
    builtin_squad = not (args.squad or args.squad_train)
    summary = {"status": "running", "verdict": "", "output_dir": demo.output_dir,
               "settings": vars(s).copy(), "stages": demo.stages, "commands": demo.commands,
               "data": {}, "builtin_data": builtin_corpus and builtin_squad,
               "quick": bool(args.quick)}
    reset_output_dir(demo.output_dir, OUTPUT_NAMES)
    if not args.subprocess:
        logging.getLogger("tensorflow").addFilter(InProcessRetracingFilter())
    print(f"keras-electra demo -> {demo.output_dir} (pretraining {s.pretrain_steps} steps; "
          f"{'quick smoke-test sizes' if args.quick else 'full demo sizes'})", flush=True)
    try:
        _run_stages(args, demo, summary, builtin_squad)
    except (Exception, KeyboardInterrupt) as error:  # report what ran, then fail loudly
        summary["status"] = "FAILED"
        failed = next((st["name"] for st in demo.stages if st["status"] == "FAILED"),
                      f"after {demo.stages[-1]['name']}" if demo.stages else "setup")
        summary["error"] = f"stage {failed}: {print_exception(error)}"
        summary["verdict"] = f"Stage `{failed}` failed; later stages did not run."
        _finish(demo, summary)
        print(f"\ndemo: FAILED in stage {failed}: {print_exception(error)}", file=sys.stderr)
        print(f"demo: partial report: {out('report.md')}", file=sys.stderr)
        return 130 if isinstance(error, KeyboardInterrupt) else 1

    shown = {name: claim["shown"] for name, claim in summary["claims"].items()}
    summary["status"] = ("all claims shown" if all(shown.values()) else
                         "ran; NOT shown: " + ", ".join(k for k, v in shown.items() if not v))
    summary["verdict"] = verdict(summary["claims"], args.quick)
    # a pipeline that learned nothing at all is a failure of the built-in demo; the research
    # outcomes (contextual detection, pretraining's value) are reported, not required
    broken = not (shown[QA_CLAIM] and shown[GENERATOR_CLAIM])
    code = 3 if broken and summary["builtin_data"] and not args.quick else 0
    _finish(demo, summary)
    _print_summary(summary)
    if code:
        print(f"demo: {summary['verdict']}", file=sys.stderr)
    return code


def _run_stages(args, demo, summary, builtin_squad):
    """Every stage in order (`STAGE_NAMES`, less the report); each returns what later ones
    need and records what the report shows in `summary`."""
    corpus_glob = _corpus_stage(demo, summary, args.corpus)
    vocab = _vocab_stage(demo, summary, corpus_glob)
    shards = _prepare_stage(demo, summary, corpus_glob, vocab)
    pretrained = _pretrain_stage(demo, shards, vocab)
    _export_stage(demo, pretrained["preset"])
    _rtd_baseline_stage(demo, summary, shards, pretrained)
    train_file, dev_file, counts = _qa_data_stage(demo, summary, args, builtin_squad)
    finetune_flags = _finetune_flags(demo.settings, train_file, dev_file)
    squad_dir, steps = _squad_stage(demo, pretrained["preset"], finetune_flags)
    model_eval, g_eval = _squad_eval_stage(demo, squad_dir, dev_file)
    random_eval = _squad_random_init_stage(demo, vocab, finetune_flags, dev_file)
    baselines = _qa_baselines_stage(demo, dev_file)
    summary["qa"] = {
        "eval": model_eval, "eval_g_threshold": g_eval, "baselines": baselines, "steps": steps,
        "random_init_eval": random_eval,
        "null_threshold": demo.settings.qa_null_threshold,
        "train_questions": counts["train"]["questions"],
        "dev_questions": counts["dev"]["questions"],
        "dev_unanswerable": counts["dev"]["unanswerable"],
        "model": os.path.join(squad_dir, "model"),
    }
    report.plot_qa(model_eval, baselines, demo.path("qa_metrics.png"), random_eval)
    _answer_stage(demo, summary, os.path.join(squad_dir, "model"), dev_file, builtin_squad)
    _classification_stage(demo, summary, train_file, dev_file, pretrained["preset"], vocab)
    summary["claims"] = claims(summary)


def _corpus_stage(demo, summary, corpus_glob):
    """The pretraining text: the user's `--corpus` glob, or (None) the built-in pydoc corpus
    written to `corpus/`. Returns the glob of its files."""
    with demo.stage("corpus", "English text for pretraining"):
        if corpus_glob is None:
            from keras_electra.demo.data.corpus import write_pydoc_corpus

            stats = write_pydoc_corpus(demo.path("corpus"), num_files=2)
            corpus_glob = os.path.join(demo.path("corpus"), "*.txt")
            summary["data"]["pretraining corpus"] = (
                f"Python's documentation (pydoc topics + standard-library docstrings): "
                f"{stats['documents']} documents, {stats['sentences']} sentences, "
                f"{stats['words']} words, {stats['bytes'] / 1e6:.2f} MB")
            print(f"wrote {len(stats['files'])} files: {stats['sentences']} sentences, "
                  f"{stats['words']} words")
        else:
            files = sorted(glob.glob(corpus_glob))
            if not files:
                raise StageError(f"--corpus {corpus_glob!r} matches no files")
            size = sum(os.path.getsize(f) for f in files)
            summary["data"]["pretraining corpus"] = (
                f"{corpus_glob}: {len(files)} files, {size / 1e6:.2f} MB")
    return corpus_glob


def _vocab_stage(demo, summary, corpus_glob):
    """`keras-electra build-vocab` -> the path of `vocab.txt`."""
    vocab = demo.path("vocab.txt")
    with demo.stage("build-vocab", "learn a WordPiece vocabulary"):
        demo.cli(["build-vocab", "--input", corpus_glob, "--vocab_size",
                  str(demo.settings.vocab_size), "--output", vocab])
        total, learned = _learned_vocab_size(_require(vocab, "vocab.txt"))
        summary["data"]["vocabulary"] = f"{total} tokens ({learned} learned, rest [unusedN])"
    return vocab


def _prepare_stage(demo, summary, corpus_glob, vocab):
    """`keras-electra prepare` -> the shards directory (`train/`, `val/`, `stats.json`)."""
    s, shards = demo.settings, demo.path("shards")
    with demo.stage("prepare", "tokenize and pack pretraining TFRecord shards"):
        demo.cli(["prepare", "--input", corpus_glob, "--vocab_file", vocab, "--output_dir", shards,
                  "--max_seq_length", str(s.max_seq_len), "--num_shards", "2",
                  "--val_fraction", str(s.val_fraction), "--workers", "1", "--overwrite"])
        with open(_require(os.path.join(shards, "stats.json"), "prepare's stats.json")) as f:
            prep = json.load(f)
        summary["data"]["pretraining examples"] = (
            f"{prep['train_examples']} train + {prep['val_examples']} validation sequences of "
            f"{s.max_seq_len} tokens (fill ratio {prep['fill_ratio']:.2f})")
        need = s.pretrain_batch * s.validation_batches
        if prep["val_examples"] < need:
            raise StageError(f"only {prep['val_examples']} validation examples; the demo "
                             f"validates on {need}. Use a larger --corpus.")
    return shards


def _pretrain_stage(demo, shards, vocab):
    """`keras-electra pretrain` -> `{"dir", "preset", "metrics_path", "train_records",
    "val_records"}` (the exported discriminator preset and the run's logged metrics)."""
    s, pretrain_dir = demo.settings, demo.path("pretrain")
    log_dir = os.path.join(pretrain_dir, "logs")
    frequency = _validation_frequency(s.pretrain_steps)
    with demo.stage("pretrain", f"electra_{s.model_size}, {s.pretrain_steps} steps"):
        demo.cli([
            "pretrain", "--train_dir", os.path.join(shards, "train"),
            "--val_dir", os.path.join(shards, "val"), "--vocab_file", vocab,
            "--model_size", s.model_size, "--per_gpu_batch_size", str(s.pretrain_batch),
            "--max_seq_length", str(s.max_seq_len), "--learning_rate", str(s.pretrain_lr),
            "--warmup_steps", str(round(s.pretrain_steps * s.pretrain_warmup)),
            "--total_steps", str(s.pretrain_steps), "--checkpoint_frequency", "0",
            "--validation_frequency", str(frequency),
            "--validation_steps", str(s.validation_batches),
            "--cue_free_batches", str(s.cue_free_batches),
            "--log_frequency", str(min(s.log_frequency, s.pretrain_steps)),
            "--log_dir", log_dir, "--checkpoint_dir", os.path.join(pretrain_dir, "checkpoints"),
            "--export_dir", os.path.join(pretrain_dir, "presets"), "--run_name", RUN_NAME,
            "--seed", "42", *pretrain_option_flags(s)])
        preset = os.path.join(pretrain_dir, "presets",
                              f"{RUN_NAME}-step{s.pretrain_steps}-discriminator")
        _require(os.path.join(preset, "config.json"), "the exported discriminator preset")
        metrics_path = _require(os.path.join(log_dir, RUN_NAME, "metrics.jsonl"),
                                "the pretraining metrics.jsonl")
        train_records, val_records = report.read_metrics_jsonl(metrics_path)
        if not val_records or val_records[-1]["step"] != s.pretrain_steps:
            raise StageError(f"{metrics_path}: no validation record at the final step "
                             f"{s.pretrain_steps}")
    return {"dir": pretrain_dir, "preset": preset, "metrics_path": metrics_path,
            "train_records": train_records, "val_records": val_records}


def _export_stage(demo, preset):
    with demo.stage("export", "discriminator preset -> Hugging Face transformers dir"):
        hf_dir = demo.path("hf_discriminator")
        demo.cli(["export", "--to", "hf", preset, hf_dir])
        _require(os.path.join(hf_dir, "config.json"), "the exported HF config.json")


def _rtd_baseline_stage(demo, summary, shards, pretrained):
    """Untrained discriminators on the run's validation batches; then `summary["pretraining"]`
    and the pretraining plots."""
    s, val_records = demo.settings, pretrained["val_records"]
    with demo.stage("rtd-baseline", "untrained discriminators on the same validation batches"):
        rtd = checkpoint_rtd_baselines(os.path.join(pretrained["dir"], "checkpoints"),
                                       os.path.join(shards, "val"), s.validation_batches)
        final = val_records[-1]
        print(f"validation disc AUC: trained {rtd['trained']['val_disc_auc']:.3f} (logged "
              f"{final['val_disc_auc']:.3f}), untrained discriminator on the same replacements "
              f"{rtd['untrained_discriminator']['val_disc_auc']:.3f}, untrained model "
              f"{rtd['untrained_model']['val_disc_auc']:.3f}")
    summary["pretraining"] = {
        "steps": s.pretrain_steps, "batch_size": s.pretrain_batch,
        "sequence_length": s.max_seq_len, "preset": pretrained["preset"],
        "metrics_jsonl": pretrained["metrics_path"],
        "final_train": pretrained["train_records"][-1], "final_validation": final,
        "trained_validation": rtd["trained"],
        "untrained_discriminator_validation": rtd["untrained_discriminator"],
        "untrained_validation": rtd["untrained_model"],
        "model_size": s.model_size, "options": dict(s.pretrain_options),
        # the honest RTD numbers of the run's own validations (keras_electra.evaluation.rtd_cues)
        "cue_free_curve": [{k: r.get(k) for k in (
            "step", "val_disc_auc", "val_cue_free_auc", "val_context_free_auc",
            "val_gen_accuracy")} for r in val_records],
    }
    report.plot_pretraining(pretrained["train_records"], val_records, demo.output_dir)


def _qa_data_stage(demo, summary, args, builtin_squad):
    """The SQuAD v2.0 train/dev files (generated, `--squad` split 80/20, or `--squad-train`/
    `--squad-dev`) -> `(train_file, dev_file, {split: squad_statistics})`."""
    qa_dir = demo.path("qa")
    with demo.stage("qa-data", "SQuAD v2.0 train/dev files"):
        os.makedirs(qa_dir, exist_ok=True)
        train_file = os.path.join(qa_dir, "train-v2.0.json")
        dev_file = os.path.join(qa_dir, "dev-v2.0.json")
        if builtin_squad:
            from keras_electra.demo.data.qa import write_demo_squad

            s = demo.settings
            write_demo_squad(qa_dir, s.qa_train_paragraphs, s.qa_dev_paragraphs, s.seed)
            source = "generated API-documentation QA (keras_electra/demo/data/qa.py)"
        elif args.squad:
            split_squad(args.squad, train_file, dev_file)
            source = f"{args.squad}, split 80/20 by article"
        else:
            train_file, dev_file = args.squad_train, args.squad_dev
            source = f"{train_file} (train), {dev_file} (dev)"
        from keras_electra.demo.data.qa import squad_statistics

        counts = {}
        for split, path in (("train", train_file), ("dev", dev_file)):
            with open(_require(path, f"the SQuAD {split} file")) as f:
                counts[split] = squad_statistics(json.load(f))
            summary["data"][f"QA {split}"] = (
                f"{counts[split]['questions']} questions on {counts[split]['paragraphs']} "
                f"paragraphs ({counts[split]['unanswerable']} unanswerable)")
        summary["data"]["QA source"] = source
    return train_file, dev_file, counts


def _finetune_flags(s, train_file, dev_file):
    """The same fine-tuning budget for the pretrained and the randomly initialized model."""
    return [
        "--train_file", train_file, "--predict_file", dev_file,
        "--per_gpu_batch_size", str(s.qa_batch), "--learning_rate", str(s.qa_lr),
        "--epochs", str(s.qa_epochs), "--max_seq_length", str(s.qa_max_seq_len),
        "--doc_stride", str(s.qa_doc_stride), "--max_query_length", str(s.qa_max_query_len),
        "--null_threshold", str(s.qa_null_threshold), "--seed", str(s.seed)]


def _squad_stage(demo, preset, finetune_flags):
    """`keras-electra squad` from the pretrained discriminator -> (its run dir, its steps)."""
    squad_dir = demo.path("squad")
    with demo.stage("squad", "fine-tune ElectraQuestionAnswerer from the discriminator"):
        demo.cli(["squad", "--output_dir", squad_dir, "--load_from", "checkpoint",
                  "--checkpoint_path", preset, *finetune_flags], capture=True)
        _require(os.path.join(squad_dir, "model"), "the fine-tuned model preset")
        with open(_require(os.path.join(squad_dir, "train.json"), "squad's train.json")) as f:
            steps = json.load(f)["total_steps"]
    return squad_dir, steps


def _official_eval(demo, dev_file, run_dir, threshold, name):
    """`keras-electra squad-eval` of a squad run's dev predictions -> its JSON."""
    path = os.path.join(run_dir, name)
    demo.cli(["squad-eval", dev_file,
              _require(os.path.join(run_dir, "non_null_predictions.json"), "predictions"),
              "--na_prob_file", os.path.join(run_dir, "null_odds.json"),
              "--na_prob_thresh", str(threshold), "--out_file", path])
    with open(_require(path, "squad-eval's output")) as f:
        return json.load(f)


def _squad_eval_stage(demo, squad_dir, dev_file):
    """Official evaluation at the demo's null threshold and at G's -> (eval, G-threshold eval);
    it must agree with the squad command's own eval.json."""
    with demo.stage("squad-eval", "official SQuAD v2.0 evaluation of the dev predictions"):
        model_eval = _official_eval(demo, dev_file, squad_dir, demo.settings.qa_null_threshold,
                                    "eval_official.json")
        g_eval = _official_eval(demo, dev_file, squad_dir, NULL_THRESHOLDS["electra"],
                                "eval_official_g_threshold.json")
        with open(_require(os.path.join(squad_dir, "eval.json"), "squad's eval.json")) as f:
            squad_eval = json.load(f)
        if abs(squad_eval["exact"] - model_eval["exact"]) > 1e-6:
            raise StageError(f"squad-eval EM {model_eval['exact']:.3f} differs from the squad "
                             f"command's {squad_eval['exact']:.3f}")
    return model_eval, g_eval


def _squad_random_init_stage(demo, vocab, finetune_flags, dev_file):
    """The same fine-tuning from random initialization -> its official evaluation."""
    s, random_dir = demo.settings, demo.path("squad_random_init")
    with demo.stage("squad-random-init", "the same fine-tuning from random initialization"):
        # same architecture (the pretraining preset with the demo's vocabulary), same data,
        # steps, learning rate and seed: only the starting weights differ
        demo.cli(["squad", "--output_dir", random_dir, "--load_from", "scratch",
                  "--model_size", f"electra_{s.model_size}", "--vocab_file", vocab,
                  *finetune_flags], capture=True)
        return _official_eval(demo, dev_file, random_dir, s.qa_null_threshold,
                              "eval_official.json")


def _qa_baselines_stage(demo, dev_file):
    with demo.stage("qa-baselines", "all-null and random-span predictions"):
        baselines = qa_baselines(dev_file, seed=demo.settings.seed)
        for name, values in baselines.items():
            print(f"{name}: EM {values['exact']:.1f}, F1 {values['f1']:.1f}")
    return baselines


def _answer_stage(demo, summary, model_dir, dev_file, builtin_squad):
    """`keras-electra answer` on a few questions (one batched call) -> `summary["answers"]`."""
    s = demo.settings
    with demo.stage("answer", "keras-electra answer on a few questions (one batched call)"):
        questions = (_default_answer_questions() if builtin_squad else [])
        questions += pick_questions(dev_file, count=2 if builtin_squad else 4)
        questions_path = demo.path("answer_questions.jsonl")
        answers_path = demo.path("answers.jsonl")
        with open(questions_path, "w", encoding="utf-8") as f:
            for i, item in enumerate(questions):
                f.write(json.dumps({"id": str(i), "question": item["question"],
                                    "context": item["context"]}) + "\n")
        demo.cli(["answer", "--model", model_dir,
                  "--input", questions_path, "--output", answers_path,
                  "--max_seq_length", str(s.qa_max_seq_len),
                  "--null_threshold", str(s.qa_null_threshold)])
        with open(_require(answers_path, "the answers file"), encoding="utf-8") as f:
            results = [json.loads(line) for line in f if line.strip()]
        if len(results) != len(questions):
            raise StageError(f"{answers_path}: {len(results)} answers for {len(questions)} "
                             "questions")
        summary["answers"] = [{**item, "answer": result["answer"], "score": result["score"],
                               "null_odds": result["null_odds"]}
                              for item, result in zip(questions, results)]


def _classification_stage(demo, summary, train_file, dev_file, preset, vocab):
    """Issue 28: `keras-electra glue --task qnli` on the QA files turned into QNLI's layout,
    from the pretrained discriminator and from random init, against the majority class."""
    from keras_electra.demo.data.classification import write_qnli_from_squad

    s, out = demo.settings, demo.path
    with demo.stage("classify", "keras-electra glue (QNLI layout): pretrained vs random init"):
        counts = write_qnli_from_squad(train_file, dev_file, out("qnli"),
                                       s.cls_train_examples, s.cls_dev_examples)
        flags = ["--task", "qnli", "--data_dir", out("qnli"),
                 "--max_seq_length", str(s.qa_max_seq_len),
                 "--per_gpu_batch_size", str(s.cls_batch), "--learning_rate", str(s.cls_lr),
                 "--epochs", str(s.cls_epochs), "--seed", str(s.seed)]
        runs = {}
        for name, source in (("pretrained", ["--load_from", "checkpoint", "--checkpoint_path",
                                             preset]),
                             ("random_init", ["--load_from", "scratch", "--model_size",
                                              f"electra_{s.model_size}", "--vocab_file",
                                              vocab])):
            run_dir = out(f"glue_qnli_{name}")
            demo.cli(["glue", "--output_dir", run_dir, *source, *flags], capture=True)
            with open(_require(os.path.join(run_dir, "eval.json"), "glue's eval.json")) as f:
                runs[name] = json.load(f)["accuracy"]
        dev = counts["dev"]
        majority = max(dev.values()) / max(1, sum(dev.values()))
        print(f"QNLI-layout dev accuracy: pretrained {runs['pretrained']:.3f}, random init "
              f"{runs['random_init']:.3f}, majority class {majority:.3f}")
    summary["classification"] = {
        "accuracy": runs["pretrained"], "random_init_accuracy": runs["random_init"],
        "majority_accuracy": majority, "train": counts["train"], "dev": dev,
        "model": out("glue_qnli_pretrained", "model")}


CONTEXT_CLAIM = "contextual replaced-token detection"
GENERATOR_CLAIM = "the generator learned masked-token prediction"
QA_CLAIM = "fine-tuned QA above the trivial baselines"
PRETRAINING_CLAIM = "pretraining helped fine-tuning"


def claims(summary):
    """What this run's own numbers show: `{claim: {"shown": bool, "evidence": str}}`."""
    pre, qa = summary["pretraining"], summary["qa"]
    final = pre["final_validation"]
    cue_free = final.get("val_cue_free_auc")
    context_free = final.get("val_context_free_auc")
    gen, gen0 = (pre["trained_validation"]["val_gen_accuracy"],
                 pre["untrained_validation"]["val_gen_accuracy"])
    f1, random_f1 = qa["eval"]["f1"], qa["random_init_eval"]["f1"]
    best_name, best = max(((name, b["f1"]) for name, b in qa["baselines"].items()),
                          key=lambda item: item[1])
    return {
        CONTEXT_CLAIM: {
            "shown": cue_free is not None and context_free is not None
            and cue_free > context_free + CONTEXT_MARGIN,
            "evidence": f"discriminator AUC on positions without trivial cues "
                        f"{report.fmt(cue_free, 3)} vs {report.fmt(context_free, 3)} for a "
                        f"context-free baseline that sees token identity only (needs "
                        f"+{CONTEXT_MARGIN}; plain AUC {report.fmt(final.get('val_disc_auc'), 3)})"},
        GENERATOR_CLAIM: {
            "shown": gen > gen0 + 0.02,
            "evidence": f"generator MLM accuracy {gen:.3f} vs {gen0:.3f} untrained"},
        QA_CLAIM: {
            "shown": f1 >= best + F1_MARGIN,
            "evidence": f"SQuAD v2.0 dev F1 {f1:.1f} vs {best:.1f} for the "
                        f"{report.BASELINE_LABELS[best_name]} (needs +{F1_MARGIN:g})"},
        PRETRAINING_CLAIM: {
            "shown": f1 > random_f1 + PRETRAINING_F1_MARGIN,
            "evidence": f"F1 {f1:.1f} fine-tuned from the pretrained discriminator vs "
                        f"{random_f1:.1f} from random initialization, same budget (needs "
                        f"+{PRETRAINING_F1_MARGIN:g})"},
    }


def verdict(claims_, quick=False):
    """One paragraph: what the numbers show and, plainly, what they do not."""
    shown = [f"{name} ({c['evidence']})" for name, c in claims_.items() if c["shown"]]
    missing = [f"{name} ({c['evidence']})" for name, c in claims_.items() if not c["shown"]]
    text = ("Shown by this run: " + "; ".join(shown) + "." if shown else
            "This run shows none of its claims.")
    if missing:
        text += " NOT shown: " + "; ".join(missing) + "."
        text += (" Expected for --quick sizes." if quick else
                 " The pipeline works end to end; these need more pretraining than the demo's "
                 "budget (see benchmarks/RESULTS.md, section 6).")
    return text


def _finish(demo, summary):
    summary["total_wall_s"] = time.perf_counter() - demo.started
    summary["total_cpu_s"] = _cpu_seconds() - demo.cpu_started
    summary["environment"] = environment()
    report_stage = {"name": "report", "status": "ok", "wall_s": 0.0, "cpu_s": 0.0}
    start = time.perf_counter()
    os.makedirs(demo.output_dir, exist_ok=True)
    summary["stages"].append(report_stage)
    report.write_report(summary, demo.path("report.md"))
    report_stage["wall_s"] = time.perf_counter() - start
    with open(demo.path("summary.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2, default=str)


def _print_summary(summary):
    print("\n" + "=" * 72)
    print("keras-electra demo summary")
    print("=" * 72)
    print(report.text_table(report.STAGE_HEADER, report.stage_rows(summary["stages"])))
    pre = summary["pretraining"]
    final = pre["final_validation"]
    print(f"\npretraining validation disc AUC: {pre['trained_validation']['val_disc_auc']:.3f} "
          f"(untrained discriminator, same replacements: "
          f"{pre['untrained_discriminator_validation']['val_disc_auc']:.3f}; untrained model: "
          f"{pre['untrained_validation']['val_disc_auc']:.3f}; chance 0.5)")
    print(f"without trivial cues: {report.fmt(final.get('val_cue_free_auc'), 3)} vs "
          f"{report.fmt(final.get('val_context_free_auc'), 3)} for a context-free baseline "
          f"(token identity only)")
    qa = summary["qa"]
    print("\nSQuAD v2.0 dev (official metrics):")
    print(report.text_table(report.QA_HEADER, report.qa_rows(qa["eval"], qa["baselines"],
                                                             qa.get("random_init_eval"))))
    print("\nanswers:")
    for a in summary.get("answers", []):
        print(f"  Q: {a['question']}\n     expected {a['expected'] or '(no answer)'!r}, "
              f"model {a['answer'] or '(no answer)'!r}")
    print(f"\n{summary['status']}: {summary['verdict']}")
    print(f"total {summary['total_wall_s']:.0f} s; report: "
          f"{os.path.join(summary['output_dir'], 'report.md')}")

"""Issue 25 (reliability round 3): no silent wrong result, nothing of the user's destroyed,
every refusal early and exact. The CLI cases run the real command in a subprocess."""

import json
import os
import stat
import subprocess
import sys

import numpy as np
import pytest

sys.path.insert(0, __file__.rsplit("/", 2)[0] + "/training")
from pretrain_shards import write_shards, write_vocab  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def cli(*argv, timeout=300, cwd=None):
    """`keras-electra ARGV` in a fresh process: (exit code, stdout, stderr)."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
               KERAS_BACKEND=os.environ.get("KERAS_BACKEND", "tensorflow"),
               TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("KERAS_ELECTRA_TRACEBACK", None)
    proc = subprocess.run([sys.executable, "-m", "keras_electra.cli", *map(str, argv)],
                          capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)
    return proc.returncode, proc.stdout, proc.stderr


def one_error_line(err, *parts):
    lines = [line for line in err.strip().splitlines() if "error:" in line]
    assert len(lines) == 1 and "Traceback" not in err, err
    for part in parts:
        assert part in lines[0], (part, lines[0])
    return lines[0]


def _small_vocab(path, size):
    write_vocab(path)
    tokens = open(path, encoding="utf-8").read().split("\n")[:size]
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(tokens) + "\n")
    return path


def _pretrain_args(tmp_path, train_dir, *extra):
    return ("pretrain", "--train_dir", train_dir, "--model_size", "tiny", "--max_seq_length",
            "32", "--per_gpu_batch_size", "4", "--total_steps", "2", "--warmup_steps", "1",
            "--checkpoint_dir", tmp_path / "ckpt", "--log_dir", tmp_path / "logs",
            "--progress", "false", *extra)


def _shard_with_late_bad_ids(directory, good_max, bad_id, rows=16, length=32):
    import tensorflow as tf

    os.makedirs(directory)
    rng = np.random.default_rng(0)
    with tf.io.TFRecordWriter(str(directory / "pretrain_data.tfrecord-00000-of-00001")) as w:
        for n in range(rows):
            ids = rng.integers(104, good_max + 1, length)
            ids[0], ids[length // 2], ids[-1] = 101, 102, 102
            if n >= rows // 2:
                ids[3] = bad_id
            feature = {key: tf.train.Feature(int64_list=tf.train.Int64List(value=value))
                       for key, value in (("input_ids", ids), ("input_mask", [1] * length),
                                          ("segment_ids", [0] * length))}
            w.write(tf.train.Example(features=tf.train.Features(feature=feature))
                    .SerializeToString())
    return str(directory)


# ---- silent case 1: out-of-vocabulary ids without a manifest --------------------------------

def test_out_of_vocabulary_ids_without_a_manifest_are_refused_at_start(tmp_path):
    """Shards copied without manifest.json (a SageMaker channel) whose ids exceed --vocab_file:
    refused before the model is built, naming the shard and record (was: exit 0, XLA's gather
    clamped the ids, the preset had the small vocabulary)."""
    train = write_shards(str(tmp_path / "train"), num_examples=16, sequence_length=32,
                         num_shards=1)
    vocab = _small_vocab(str(tmp_path / "vocab.txt"), 106)  # ids 104..119 in the shards
    rc, _, err = cli(*_pretrain_args(tmp_path, train, "--vocab_file", vocab))
    assert rc == 2, err
    one_error_line(err, "pretrain_data.tfrecord-00000-of-00001: record 1", "token id",
                   "vocabulary of 106 ids", "--vocab_file")
    assert not os.path.exists(tmp_path / "ckpt" / "worker-0")


def test_out_of_vocabulary_ids_later_in_a_shard_are_caught_in_the_pipeline(tmp_path):
    """The start check reads first records; any later record is checked in the tf.data
    pipeline, so no id outside the vocabulary reaches the embedding gather."""
    from keras_electra.data.pretraining_dataset import (
        TokenIdError,
        check_shards,
        pretraining_dataset,
        token_id_error,
    )

    train = _shard_with_late_bad_ids(tmp_path / "train", good_max=109, bad_id=115)
    size = 110  # the first 8 records fit, the last 8 do not
    check_shards(train, vocabulary_size=size)  # the first record passes
    with pytest.raises(TokenIdError, match="record [0-9]+: token id"):
        check_shards(train, verify=True, vocabulary_size=size)
    dataset = pretraining_dataset(train, 4, shuffle=False, repeat=False, verify=False,
                                  vocabulary_size=size)
    with pytest.raises(Exception) as caught:
        for _ in dataset:
            pass
    converted = token_id_error(caught.value, train, size)
    assert isinstance(converted, TokenIdError) and f"vocabulary of {size} ids" in str(converted)
    assert token_id_error(ValueError("other"), train, size) is None
    # the real command: one line, exit 2 (was: trained to the end with exit 0)
    vocab = _small_vocab(str(tmp_path / "vocab.txt"), size)
    rc, _, err = cli(*_pretrain_args(tmp_path, train, "--vocab_file", vocab, "--skip_xla"))
    assert rc == 2, err
    one_error_line(err, f"vocabulary of {size} ids", "--vocab_file")


@pytest.fixture(scope="module")
def presets(tmp_path_factory, bert_vocab_path):
    """A tiny fine-tuned-QA preset and its backbone preset (random weights)."""
    sys.path.insert(0, ROOT + "/tests")
    from conftest import tiny_question_answerer

    root = tmp_path_factory.mktemp("presets")
    task = tiny_question_answerer(bert_vocab_path)
    task.save_to_preset(str(root / "qa"))
    task.backbone.save_to_preset(str(root / "backbone"))
    return root


# ---- silent case 2: model.safetensors with mode 0600 ----------------------------------------

def test_export_hf_writes_every_file_with_the_umask_permissions(presets, tmp_path):
    """Was: model.safetensors 0600 (safetensors writes through a private temporary file)
    while config.json was 0644; another user could not read the weights."""
    out, umask = tmp_path / "hf", 0o002
    old = os.umask(umask)
    try:
        rc, _, err = cli("export", "--to", "hf", presets / "backbone", out)
    finally:
        os.umask(old)
    assert rc == 0, err
    modes = {name: stat.S_IMODE(os.stat(out / name).st_mode) for name in os.listdir(out)}
    assert "model.safetensors" in modes
    assert set(modes.values()) == {0o666 & ~umask}, {k: oct(v) for k, v in modes.items()}


# ---- silent case 3: answer --output onto its --input ----------------------------------------

def test_answer_output_that_is_its_input_is_refused(presets, tmp_path):
    questions = tmp_path / "q.jsonl"
    questions.write_text(json.dumps({"question": "Where does the Rhine flow?",
                                     "context": "The Rhine flows into the North Sea."}) + "\n")
    before = questions.read_bytes()
    os.link(questions, tmp_path / "hardlink.jsonl")
    os.symlink(questions, tmp_path / "symlink.jsonl")
    for output in (tmp_path / "." / "q.jsonl", tmp_path / "hardlink.jsonl",
                   tmp_path / "symlink.jsonl"):
        rc, out, err = cli("answer", "--model", presets / "qa", "--input", questions,
                           "--output", output, "--no_progress")
        assert rc == 2, (output, out, err)
        one_error_line(err, "--output", "--input", "would replace what is being read")
        assert questions.read_bytes() == before  # the questions are intact
    # answers written elsewhere, one line per question
    rc, _, err = cli("answer", "--model", presets / "qa", "--input", questions, "--output",
                     tmp_path / "a.jsonl", "--no_progress")
    assert rc == 0, err and len((tmp_path / "a.jsonl").read_text().splitlines()) == 1


# ---- silent case 4: --null_threshold nan ---------------------------------------------------

@pytest.mark.parametrize("argv", [
    ["answer", "--model", "{qa}", "--question", "Where?", "--context", "The sea.",
     "--null_threshold", "nan"],
    ["answer", "--model", "{qa}", "--question", "Where?", "--context", "The sea.",
     "--null_threshold=-inf", "--json"],
    ["export", "--to", "saved_model", "{qa}", "{out}", "--null_threshold", "nan"],
], ids=["answer nan", "answer -inf", "export saved_model nan"])
def test_a_non_finite_null_threshold_is_refused(presets, tmp_path, argv):
    """Was: exit 0, the no-answer decision off (odds > NaN is False), a bare NaN in the JSON,
    NaN stored in the SavedModel."""
    argv = [a.format(qa=presets / "qa", out=tmp_path / "sm") for a in argv]
    rc, out, err = cli(*argv)
    assert rc == 2, (out, err)
    one_error_line(err, "--null_threshold", "must be a finite number")
    assert not os.path.exists(tmp_path / "sm") and "NaN" not in out


def test_the_python_api_refuses_a_non_finite_null_threshold(presets):
    from keras_electra.squad.answering import answer_question
    from keras_electra.training.finetune import load_question_answerer
    from keras_electra.utils.errors import UserError

    task = load_question_answerer(str(presets / "qa"))
    for value in (float("nan"), float("inf")):
        with pytest.raises(UserError, match="must be a finite number"):
            answer_question(task, "Where?", "The sea.", null_threshold=value)
    assert answer_question(task, "Where?", "The sea.", null_threshold=-1e9)["answer"] == ""

"""The CLI walk of issue 15: every command, every kind of input file it reads, each one
truncated, undecodable and binary. Each must end with ONE line on stderr
(`keras-electra COMMAND: error: ...`) that names the file, exit code 2, and no traceback.

The cases run in-process through `keras_electra.cli.main` (one TensorFlow import for all of
them); `test_a_real_process_prints_one_line_and_exits_2` runs two of them as real processes to
check what a user's shell sees.
"""

import gzip
import json
import os
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, __file__.rsplit("/", 2)[0] + "/training")
from pretrain_shards import write_shards, write_vocab  # noqa: E402  (tests/training helper)

# A PNG header and some binary bytes: what a wrong file picked by a glob looks like.
BINARY = bytes.fromhex("89504e470d0a1a0a0000000d49484452") + bytes(range(256)) * 4
LATIN1 = "Graubünden liegt in der Schweiz.\nZürich auch.\n".encode("latin-1")


def _truncated_text(text):
    """UTF-8 `text` ending in 'é', cut inside that character (a copy that stopped early)."""
    return (text + "é").encode("utf-8")[:-1]


def _cut(path):
    """Truncate a file to half its size (an interrupted copy or download)."""
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.truncate(size // 2)


CORPUS = ("The Rhine rises in the Swiss Alps.\nIt flows into the North Sea.\n\n"
          "Paris is the capital of France.\nIt lies on the Seine.\n") * 20


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """Valid inputs of every kind; each case copies one and breaks it."""
    import keras

    from keras_electra import ElectraBackbone, ElectraQuestionAnswerer, ElectraTokenizer
    from keras_electra.models.electra_question_answerer_preprocessor import (
        ElectraQuestionAnswererPreprocessor,
    )

    root = tmp_path_factory.mktemp("good")
    (root / "corpus.txt").write_text(CORPUS, encoding="utf-8")
    with gzip.open(root / "corpus.txt.gz", "wt", encoding="utf-8") as f:
        f.write(CORPUS)
    vocab = write_vocab(str(root / "vocab.txt"))
    write_shards(str(root / "shards"), num_examples=16, sequence_length=16, num_shards=2)
    (root / "run.json").write_text(json.dumps({"total_steps": 2, "warmup_steps": 0}),
                                   encoding="utf-8")
    squad = {"version": "v2.0", "data": [{"title": "Rhine", "paragraphs": [{
        "context": "The Rhine flows into the North Sea.",
        "qas": [{"id": "q1", "question": "Where does the Rhine flow?", "is_impossible": False,
                 "answers": [{"text": "the North Sea", "answer_start": 21}]}]}]}]}
    (root / "squad.json").write_text(json.dumps(squad), encoding="utf-8")
    (root / "predictions.json").write_text(json.dumps({"q1": "the North Sea"}))
    (root / "null_odds.json").write_text(json.dumps({"q1": -3.0}))
    (root / "context.txt").write_text("The Rhine flows into the North Sea.", encoding="utf-8")
    keras.utils.set_random_seed(0)
    tokenizer = ElectraTokenizer(vocab)
    backbone = ElectraBackbone(vocabulary_size=tokenizer.vocabulary_size(), num_layers=1,
                               num_heads=2, hidden_dim=16, embedding_dim=8, intermediate_dim=32,
                               max_sequence_length=32)
    backbone.save_to_preset(str(root / "backbone"))
    preprocessor = ElectraQuestionAnswererPreprocessor(tokenizer, sequence_length=32,
                                                       max_query_length=8, doc_stride=8)
    ElectraQuestionAnswerer(backbone, preprocessor=preprocessor, head_hidden_dim=8) \
        .save_to_preset(str(root / "qa"))
    import transformers

    hf_config = transformers.ElectraConfig(
        vocab_size=tokenizer.vocabulary_size(), embedding_size=8, hidden_size=16,
        num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
        max_position_embeddings=32)
    transformers.ElectraModel(hf_config).save_pretrained(str(root / "hf"))
    return root


def _break(path, how):
    """Make `path` (a file) truncated, undecodable or binary, in a way fitting its kind."""
    path = str(path)
    data = open(path, "rb").read()
    if how == "binary":
        new = BINARY
    elif path.endswith(".gz"):
        new = {"truncated": data[: len(data) // 2],
               "undecodable": gzip.compress(LATIN1)}[how]
    elif ".tfrecord" in path:
        if how == "truncated":  # inside a record (a cut between records needs the manifest)
            new = data[: len(data) // 2 + 5]
        else:  # TFRecord framing intact, payload not a tf.train.Example
            import tensorflow as tf

            os.remove(path)
            with tf.io.TFRecordWriter(path) as writer:
                writer.write(LATIN1)
            return
    elif path.endswith((".json", ".txt")):
        new = {"truncated": data[: len(data) // 2] if path.endswith(".json") else
               _truncated_text(data.decode("utf-8")),
               "undecodable": LATIN1}[how]
    else:
        raise AssertionError(path)
    with open(path, "wb") as f:
        f.write(new)


# (command, the input file it reads, argv with {X} = the broken copy's dir)
# The broken file is always `{X}/<name>`; every other input is intact.
CASES = {
    "build-vocab --input (plain)": (
        "corpus.txt", ["build-vocab", "--input", "{X}/corpus.txt", "--vocab-size", "120",
                       "--output", "{X}/out_vocab.txt", "--no-progress"]),
    "build-vocab --input (gzip)": (
        "corpus.txt.gz", ["build-vocab", "--input", "{X}/corpus.txt.gz", "--vocab-size", "120",
                          "--output", "{X}/out_vocab.txt", "--no-progress"]),
    "prepare --input (plain)": (
        "corpus.txt", ["prepare", "--input", "{X}/corpus.txt", "--vocab", "{G}/vocab.txt",
                       "--output-dir", "{X}/data", "--max-seq-len", "16", "--num-shards", "1",
                       "--workers", "1", "--no-progress"]),
    "prepare --input (gzip)": (
        "corpus.txt.gz", ["prepare", "--input", "{X}/corpus.txt.gz", "--vocab", "{G}/vocab.txt",
                          "--output-dir", "{X}/data", "--max-seq-len", "16", "--num-shards",
                          "1", "--workers", "1", "--no-progress"]),
    "prepare --vocab": (
        "vocab.txt", ["prepare", "--input", "{G}/corpus.txt", "--vocab", "{X}/vocab.txt",
                      "--output-dir", "{X}/data", "--max-seq-len", "16", "--num-shards", "1",
                      "--workers", "1", "--no-progress"]),
    "pretrain --train_dir (TFRecord)": (
        "shards/pretrain_data.tfrecord-00000-of-00002",
        ["pretrain", "--train_dir", "{X}/shards", "--vocab_file", "{G}/vocab.txt",
         "--model_size", "tiny", "--max_seq_len", "16", "--per_gpu_batch_size", "2",
         "--total_steps", "2", "--warmup_steps", "0", "--checkpoint_dir", "{X}/ckpt", "--log_dir", "{X}/logs"]),
    "pretrain --vocab_file": (
        "vocab.txt",
        ["pretrain", "--train_dir", "{G}/shards", "--vocab_file", "{X}/vocab.txt",
         "--model_size", "tiny", "--max_seq_len", "16", "--per_gpu_batch_size", "2",
         "--total_steps", "2", "--warmup_steps", "0", "--checkpoint_dir", "{X}/ckpt", "--log_dir", "{X}/logs"]),
    "pretrain --config (JSON)": (
        "run.json",
        ["pretrain", "--config", "{X}/run.json", "--train_dir", "{G}/shards",
         "--vocab_file", "{G}/vocab.txt", "--model_size", "tiny", "--max_seq_len", "16",
         "--checkpoint_dir", "{X}/ckpt", "--log_dir", "{X}/logs"]),
    "squad --train_file (JSON)": (
        "squad.json", ["squad", "--train_file", "{X}/squad.json", "--output_dir", "{X}/out",
                       "--load_from", "checkpoint", "--checkpoint_path", "{G}/backbone",
                       "--vocab_file", "{G}/vocab.txt", "--max_seq_length", "32"]),
    "squad --predict_file (JSON)": (
        "squad.json", ["squad", "--predict_file", "{X}/squad.json", "--output_dir", "{X}/out",
                       "--load_from", "checkpoint", "--checkpoint_path", "{G}/qa",
                       "--max_seq_length", "32"]),
    "squad --vocab_file": (
        "vocab.txt", ["squad", "--train_file", "{G}/squad.json", "--output_dir", "{X}/out",
                      "--load_from", "checkpoint", "--checkpoint_path", "{G}/backbone",
                      "--vocab_file", "{X}/vocab.txt", "--max_seq_length", "32"]),
    "squad-eval DATA (JSON)": (
        "squad.json", ["squad-eval", "{X}/squad.json", "{G}/predictions.json"]),
    "squad-eval PREDICTIONS (JSON)": (
        "predictions.json", ["squad-eval", "{G}/squad.json", "{X}/predictions.json"]),
    "squad-eval --na-prob-file (JSON)": (
        "null_odds.json", ["squad-eval", "{G}/squad.json", "{G}/predictions.json",
                           "--na-prob-file", "{X}/null_odds.json"]),
    "answer --context_file (text)": (
        "context.txt", ["answer", "--model", "{G}/qa", "--question", "Where?",
                        "--context_file", "{X}/context.txt"]),
    "answer --model (preset config.json)": (
        "qa/config.json", ["answer", "--model", "{X}/qa", "--question", "Where?",
                           "--context", "The Rhine flows into the North Sea."]),
    "answer --vocab_file": (
        "vocab.txt", ["answer", "--model", "{G}/hf", "--vocab_file", "{X}/vocab.txt",
                      "--question", "Where?", "--context", "The Rhine flows."]),
    "export PRESET (config.json)": (
        "backbone/config.json", ["export", "--to", "hf", "{X}/backbone", "{X}/hf"]),
    "convert --vocab": (
        "vocab.txt", ["convert", "--from", "hf", "{G}/hf", "{X}/converted",
                      "--vocab", "{X}/vocab.txt"]),
    "convert SRC (HF config.json)": (
        "hf/config.json", ["convert", "--from", "hf", "{X}/hf", "{X}/converted"]),
}


def _copy_good(good, tmp_path, name):
    """`tmp_path/X` holding a copy of the good input `name` (a file or, for a file inside a
    directory, that whole directory)."""
    x = tmp_path / "X"
    x.mkdir()
    top = name.split("/")[0]
    source = good / top
    if source.is_dir():
        shutil.copytree(source, x / top)
    else:
        shutil.copy(source, x / top)
    return x


def _run(argv, capsys):
    from keras_electra.cli import main

    capsys.readouterr()
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("how", ["truncated", "undecodable", "binary"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_a_bad_input_file_is_one_line_naming_it_exit_2(case, how, good, tmp_path, capsys):
    name, argv = CASES[case]
    x = _copy_good(good, tmp_path, name)
    _break(x / name, how)
    argv = [a.replace("{X}", str(x)).replace("{G}", str(good)) for a in argv]
    command = argv[0]
    code, _, err = _run(argv, capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(f"keras-electra {command}: error: ")]
    assert code == 2, f"exit {code}, stderr:\n{err[-3000:]}"
    assert "Traceback" not in err, err[-3000:]
    assert len(errors) == 1, f"expected one error line, got:\n{err[-3000:]}"
    assert os.path.basename(name) in errors[0], (
        f"the error does not name the file {name}: {errors[0]}")


def test_a_real_process_prints_one_line_and_exits_2(good, tmp_path):
    """What a user's shell sees: a real `keras-electra` process (no pytest capture)."""
    for case in ("squad --train_file (JSON)", "prepare --vocab"):
        name, argv = CASES[case]
        x = tmp_path / case.split()[0]
        x.mkdir()
        shutil.copy(good / name, x / name)
        _break(x / name, "truncated" if case.startswith("squad") else "binary")
        argv = [a.replace("{X}", str(x)).replace("{G}", str(good)) for a in argv]
        proc = subprocess.run([sys.executable, "-m", "keras_electra.cli", *argv],
                              capture_output=True, text=True, timeout=300,
                              env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        assert proc.returncode == 2, proc.stderr[-3000:]
        assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
        errors = [line for line in proc.stderr.splitlines() if " error: " in line]
        assert len(errors) == 1 and name in errors[0], proc.stderr[-3000:]

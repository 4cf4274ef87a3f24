"""G's objective switches through `keras-electra pretrain` (issue 18): each runs on the tiny
preset on both backends, lands in the exported presets, and is kept by resume."""

import json
import math
import os

import pytest
import training_procs as procs
from jax_env import jax_env
from pretrain_shards import VOCAB_SIZE, write_shards, write_vocab

from keras_electra import cli

SWITCHES = ["--generator_layers", "0.5", "--disallow_correct", "true",
            "--untied_generator_embeddings", "true"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("variants")
    write_shards(str(root / "train"), num_examples=32, sequence_length=32, num_shards=1)
    write_vocab(str(root / "vocab.txt"))
    return root


def _argv(data, out, steps, *extra):
    return ["pretrain", "--train_dir", str(data / "train"), "--vocab_file",
            str(data / "vocab.txt"), "--checkpoint_dir", str(out / "ckpt"), "--log_dir",
            str(out / "logs"), "--run_name", "v", "--model_size", "tiny", "--max_seq_length",
            "32", "--per_gpu_batch_size", "4", "--warmup_steps", "1", "--checkpoint_frequency",
            "2", "--log_frequency", "1", "--progress", "false", "--total_steps", str(steps),
            "--skip_xla", "true", *extra]


def _train_logs(out):
    with open(out / "logs" / "v" / "metrics.jsonl") as f:
        return [r for r in map(json.loads, f) if r["split"] == "train"]


def test_switches_train_export_and_are_kept_by_resume(data, tmp_path, capsys):
    from keras_electra import ElectraBackbone

    assert cli.main(_argv(data, tmp_path, 2, *SWITCHES)) == 0
    state = json.load(open(tmp_path / "ckpt" / "worker-0" / "ckpt-0000000002" / "state.json"))
    critical = state["resume_critical"]
    assert critical["generator_layers"] == 0.5 and critical["disallow_correct"] is True
    assert critical["untied_generator_embeddings"] is True
    generator = ElectraBackbone.from_preset(
        str(tmp_path / "ckpt" / "presets" / "v-step2-generator"))
    assert generator.num_layers == 1  # tiny: 2 discriminator layers x 0.5
    capsys.readouterr()
    # resuming with a switch changed is refused before anything is built
    assert cli.main(_argv(data, tmp_path, 4, *SWITCHES[:-2])) == 2
    err = capsys.readouterr().err
    assert "untied_generator_embeddings: checkpoint True vs now False" in err
    # the same switches resume
    assert cli.main(_argv(data, tmp_path, 4, *SWITCHES)) == 0
    assert "resuming v from step 2" in capsys.readouterr().out


def test_uniform_generator_through_the_cli(data, tmp_path):
    assert cli.main(_argv(data, tmp_path, 2, "--uniform_generator", "true")) == 0
    for record in _train_logs(tmp_path):  # the MLM loss of uniform fakes: log V, untrained
        assert record["gen_loss"] == pytest.approx(math.log(VOCAB_SIZE), rel=1e-4)


def test_gdes_through_the_cli_exports_a_plain_discriminator(data, tmp_path, capsys):
    from keras_electra import ElectraBackbone

    assert cli.main(_argv(data, tmp_path, 2, "--gdes", "true")) == 0
    exported = ElectraBackbone.from_preset(
        str(tmp_path / "ckpt" / "presets" / "v-step2-discriminator"))
    assert not exported.token_residual  # folded: shared table + residual
    capsys.readouterr()
    assert cli.main(_argv(data, tmp_path, 2, "--gdes", "true",
                          "--untied_generator_embeddings", "true")) == 2
    assert "--gdes shares the generator's embeddings" in capsys.readouterr().err


@pytest.mark.jax
@pytest.mark.slow
def test_gdes_on_the_jax_backend(data, tmp_path):
    argv = ["tests/training/cli_guarded.py", *_argv(data, tmp_path, 2, "--gdes", "true")]
    env = jax_env(procs.base_env())
    proc = procs.start(argv, env, str(tmp_path / "jax.log"))
    assert procs.wait_all([proc], timeout=600) == [0], procs.tail(tmp_path / "jax.log")
    assert os.path.isdir(tmp_path / "ckpt" / "presets" / "v-step2-discriminator")


@pytest.mark.jax
@pytest.mark.slow
def test_switches_on_the_jax_backend(data, tmp_path):
    argv = ["tests/training/cli_guarded.py", *_argv(data, tmp_path, 2, *SWITCHES,
                                                   "--uniform_generator", "true")]
    env = jax_env(procs.base_env())
    proc = procs.start(argv, env, str(tmp_path / "jax.log"))
    assert procs.wait_all([proc], timeout=600) == [0], procs.tail(tmp_path / "jax.log")
    assert "run v: step 2" in procs.read(tmp_path / "jax.log")
    for record in _train_logs(tmp_path):
        assert record["gen_loss"] == pytest.approx(math.log(VOCAB_SIZE), rel=1e-4)
    assert os.path.isdir(tmp_path / "ckpt" / "presets" / "v-step2-generator")


@pytest.fixture(scope="module")
def counted(tmp_path_factory):
    """Shards with the token_counts.tsv prepare writes beside train/ (here: a recount)."""
    import tensorflow as tf

    root = tmp_path_factory.mktemp("counted")
    write_shards(str(root / "train"), num_examples=32, sequence_length=32, num_shards=1)
    write_vocab(str(root / "vocab.txt"))
    counts = [0] * VOCAB_SIZE
    for record in tf.data.TFRecordDataset(tf.io.gfile.glob(str(root / "train" / "*"))):
        example = tf.train.Example.FromString(record.numpy()).features.feature
        ids = example["input_ids"].int64_list.value
        mask = example["input_mask"].int64_list.value
        for token, real in zip(ids, mask):
            counts[token] += real
    (root / "token_counts.tsv").write_text("".join(f"{c}\n" for c in counts))
    return root


def test_unigram_generator_through_the_cli(data, counted, tmp_path, capsys):
    # without prepare's token counts: a one-line error naming the file
    assert cli.main(_argv(data, tmp_path / "missing", 2, "--unigram_generator", "true")) == 2
    err = capsys.readouterr().err
    assert str(data / "token_counts.tsv") in err and "re-run `keras-electra prepare`" in err
    assert cli.main(_argv(counted, tmp_path, 2, "--unigram_generator", "true")) == 0
    state = json.load(open(tmp_path / "ckpt" / "worker-0" / "ckpt-0000000002" / "state.json"))
    assert state["resume_critical"]["unigram_generator"] is True
    for record in _train_logs(tmp_path):  # the generator is replaced by the unigram
        assert record["sampled_accuracy"] < 0.5
    capsys.readouterr()
    assert cli.main(_argv(counted, tmp_path, 4)) == 2
    assert "unigram_generator: checkpoint True vs now False" in capsys.readouterr().err
    assert cli.main(_argv(counted, tmp_path, 4, "--unigram_generator", "true")) == 0
    assert "resuming v from step 2" in capsys.readouterr().out
    assert cli.main(_argv(counted, tmp_path / "x", 2, "--unigram_generator", "true",
                          "--uniform_generator", "true")) == 2
    assert "use one of them" in capsys.readouterr().err


def test_electric_through_the_cli(data, tmp_path, capsys):
    from keras_electra import ElectraBackbone

    assert cli.main(_argv(data, tmp_path, 2, "--electric", "true")) == 0
    state = json.load(open(tmp_path / "ckpt" / "worker-0" / "ckpt-0000000002" / "state.json"))
    assert state["resume_critical"]["electric"] is True
    generator = ElectraBackbone.from_preset(  # the exported generator: the ltr tower
        str(tmp_path / "ckpt" / "presets" / "v-step2-generator"))
    assert generator.attention_direction == "ltr"
    for record in _train_logs(tmp_path):
        assert math.isfinite(record["gen_loss"]) and math.isfinite(record["disc_loss"])
    capsys.readouterr()
    assert cli.main(_argv(data, tmp_path, 4)) == 2
    assert "electric: checkpoint True vs now False" in capsys.readouterr().err
    assert cli.main(_argv(data, tmp_path, 4, "--electric", "true")) == 0
    assert "resuming v from step 2" in capsys.readouterr().out
    assert cli.main(_argv(data, tmp_path / "x", 2, "--electric", "true", "--gdes", "true")) == 2
    assert "--electric samples from its two-tower cloze generator" in capsys.readouterr().err


@pytest.mark.jax
@pytest.mark.slow
@pytest.mark.parametrize("switch", ["--electric", "--unigram_generator"])
def test_electric_and_unigram_on_the_jax_backend(counted, tmp_path, switch):
    argv = ["tests/training/cli_guarded.py", *_argv(counted, tmp_path, 2, switch, "true")]
    env = jax_env(procs.base_env())
    proc = procs.start(argv, env, str(tmp_path / "jax.log"))
    assert procs.wait_all([proc], timeout=600) == [0], procs.tail(tmp_path / "jax.log")
    assert "run v: step 2" in procs.read(tmp_path / "jax.log")
    state = json.load(open(tmp_path / "ckpt" / "worker-0" / "ckpt-0000000002" / "state.json"))
    assert state["resume_critical"][switch[2:]] is True
    for record in _train_logs(tmp_path):
        assert math.isfinite(record["gen_loss"]) and math.isfinite(record["disc_loss"])

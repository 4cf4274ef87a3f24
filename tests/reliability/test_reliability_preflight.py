"""Checks run before expensive work: bad data, config or output paths fail before the model
is built (a tripwire replaces the model builder) and leave nothing behind."""

import sys

import pytest

sys.path.insert(0, __file__.rsplit("/", 2)[0] + "/training")
from pretrain_shards import write_shards  # noqa: E402  (tests/training helper)

from keras_electra.training import pretrain as pretrain_module  # noqa: E402
from keras_electra.training.config import ConfigError  # noqa: E402

TINY = dict(model_size="tiny", max_seq_length=16, per_gpu_batch_size=4, total_steps=3,
            warmup_steps=1, checkpoint_frequency=2, progress=False)


@pytest.fixture
def tripwire(monkeypatch):
    def built(*args, **kwargs):
        raise AssertionError("the model was built: the check did not run first")

    monkeypatch.setattr(pretrain_module, "build_pretrainer", built)


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    root = tmp_path_factory.mktemp("shards")
    write_shards(str(root / "s16"), num_examples=8, sequence_length=16, num_shards=1)
    write_shards(str(root / "s32"), num_examples=8, sequence_length=32, num_shards=1)
    return root


def test_pretrain_checkpoint_dir_that_is_a_file(tmp_path, shards, tripwire):
    (tmp_path / "ckpt").write_text("not a dir")
    with pytest.raises(ConfigError, match=r"--checkpoint_dir .*ckpt: .*ckpt exists and is not a "
                                          r"directory"):
        pretrain_module.pretrain(train_dir=str(shards / "s16"), checkpoint_dir=str(tmp_path / "ckpt"),
                                 log_dir=str(tmp_path / "logs"), **TINY)
    assert not (tmp_path / "logs").exists()


def test_pretrain_validation_shards_of_another_length(tmp_path, shards, tripwire):
    with pytest.raises(ConfigError, match=r"examples have length 32, but --max_seq_length is "
                                          r"16; pass --max_seq_length 32"):
        pretrain_module.pretrain(train_dir=str(shards / "s16"), val_dir=str(shards / "s32"),
                                 checkpoint_dir=str(tmp_path / "ckpt"),
                                 log_dir=str(tmp_path / "logs"), **TINY)
    assert not (tmp_path / "ckpt").exists() and not (tmp_path / "logs").exists()


def test_pretrain_shards_of_the_wrong_schema(tmp_path, tripwire):
    import tensorflow as tf

    (tmp_path / "train").mkdir()
    with tf.io.TFRecordWriter(str(tmp_path / "train" / "x.tfrecord")) as writer:
        example = tf.train.Example(features=tf.train.Features(feature={
            "text": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"hello"]))}))
        writer.write(example.SerializeToString())
    with pytest.raises(ConfigError, match=r"x\.tfrecord: unknown pretraining schema, features "
                                          r"\['text'\]\. Expected G's \['input_ids', "
                                          r"'input_mask', 'segment_ids'\]"):
        pretrain_module.pretrain(train_dir=str(tmp_path / "train"),
                                 checkpoint_dir=str(tmp_path / "ckpt"),
                                 log_dir=str(tmp_path / "logs"), **TINY)
    assert not (tmp_path / "ckpt").exists()


def test_prepare_output_dir_that_is_a_file(tmp_path, bert_vocab_path):
    from keras_electra.data.pretraining_builder import prepare_pretraining_data

    (tmp_path / "corpus.txt").write_text("A sentence.\nAnother one.\n\nA new document.\n")
    (tmp_path / "out").write_text("a file, not a directory")
    with pytest.raises((NotADirectoryError, FileExistsError, ValueError), match=r"out"):
        prepare_pretraining_data(str(tmp_path / "corpus.txt"), bert_vocab_path,
                                 tmp_path / "out", max_seq_length=16, num_shards=1,
                                 num_val_shards=0, val_fraction=0.0, workers=1,
                                 show_progress=False)
    assert (tmp_path / "out").read_text() == "a file, not a directory"


def test_pretrain_resume_with_changed_settings_is_refused(tmp_path, shards, tripwire):
    import json

    from keras_electra.training.config import PretrainConfig
    from keras_electra.training.resume import resume_critical

    saved = PretrainConfig.from_dict(dict(train_dir=str(shards / "s16"), **TINY))
    ckpt = tmp_path / "ckpt" / "worker-0" / "ckpt-0000000002"
    ckpt.mkdir(parents=True)
    (ckpt / "model.weights.h5").write_bytes(b"")  # never read: the check comes first
    (ckpt / "state.json").write_text(json.dumps({
        "step": 2, "batches_consumed": 2, "seed": saved.seed,
        "resume_critical": resume_critical(saved), "run_name": "r"}))
    before = {p.name: p.read_bytes() for p in ckpt.iterdir()}
    with pytest.raises(ConfigError, match=r"cannot resume from .*per_gpu_batch_size: "
                                          r"checkpoint 4 vs now 2.*new --checkpoint_dir"):
        pretrain_module.pretrain(train_dir=str(shards / "s16"),
                                 checkpoint_dir=str(tmp_path / "ckpt"),
                                 log_dir=str(tmp_path / "logs"),
                                 **dict(TINY, per_gpu_batch_size=2))
    assert {p.name: p.read_bytes() for p in ckpt.iterdir()} == before


@pytest.mark.parametrize("flag", ["log_dir", "export_dir"])
def test_pretrain_log_or_export_dir_under_a_file(tmp_path, shards, tripwire, flag):
    # used to fail only at the first log write / the final export, after all the training
    (tmp_path / "taken").write_text("a file")
    paths = dict(log_dir=str(tmp_path / "logs"), export_dir=str(tmp_path / "presets"))
    paths[flag] = str(tmp_path / "taken" / "sub")
    with pytest.raises(ConfigError, match=rf"--{flag} .*taken/sub: .*taken exists and is not a "
                                          r"directory"):
        pretrain_module.pretrain(train_dir=str(shards / "s16"),
                                 checkpoint_dir=str(tmp_path / "ckpt"), **paths, **TINY)
    assert not (tmp_path / "ckpt").exists() and not (tmp_path / "logs").exists()


def test_non_finite_numbers_in_flags_or_config_files_are_refused(tmp_path, shards, tripwire,
                                                                 capsys):
    """NaN passes `x > 0` checks silently (every comparison is False); Python's json reads
    `NaN` / `Infinity` from a config file."""
    from keras_electra.cli import main

    base = ["pretrain", "--train_dir", str(shards / "s16"), "--model_size", "tiny",
            "--max_seq_length", "16", "--checkpoint_dir", str(tmp_path / "ckpt"),
            "--log_dir", str(tmp_path / "logs")]
    assert main([*base, "--weight_decay", "inf"]) == 2
    assert "--weight_decay inf: must be a finite number" in capsys.readouterr().err
    config = tmp_path / "run.json"
    config.write_text('{"learning_rate": NaN}')
    assert main([*base, "--config", str(config)]) == 2
    assert "--learning_rate nan: must be a finite number" in capsys.readouterr().err
    assert not (tmp_path / "ckpt").exists()

"""`PretrainConfig.validate` and the shard lister it shares with the reader (issue 26)."""

import pytest

from keras_electra.data.pretraining_dataset import list_shard_files
from keras_electra.training import config as config_module
from keras_electra.training.config import ConfigError, PretrainConfig


def test_validate_lists_shards_as_the_reader_does(tmp_path):
    """A folder holding only a shard being written (`.tmp-`) and a hidden one has no shards
    for the reader, so `validate` refuses it too (it once accepted it)."""
    folder = tmp_path / "train"
    folder.mkdir()
    (folder / "pretrain_data.tfrecord-00000-of-00001.tmp-123").write_bytes(b"")
    (folder / ".hidden.tfrecord").write_bytes(b"")
    with pytest.raises(FileNotFoundError):
        list_shard_files(str(folder))
    with pytest.raises(ConfigError, match="no TFRecord shards"):
        PretrainConfig(train_dir=str(folder)).validate()
    (folder / "pretrain_data.tfrecord-00000-of-00001").write_bytes(b"")
    assert PretrainConfig(train_dir=str(folder)).validate()
    assert not hasattr(config_module, "shard_files")  # one lister, in data/


def test_validate_reports_every_problem_in_order(tmp_path):
    with pytest.raises(ConfigError) as caught:
        PretrainConfig(train_dir=str(tmp_path / "missing"), model_type="bert",
                       weight_decay=-1, hidden_dropout_prob=1.0, log_frequency=0,
                       run_name="a/b", unigram_generator=True, uniform_generator=True).validate()
    lines = str(caught.value).splitlines()
    assert lines[0] == "invalid pretraining configuration:"
    assert [line.split()[1] for line in lines[1:]] == [
        "--model_type", "--weight_decay", "--hidden_dropout_prob", "--log_frequency",
        "--run_name", "--train_dir", "--unigram_generator", "--unigram_generator:"]


def test_validate_is_made_of_small_checks():
    import inspect

    lines = len(inspect.getsource(PretrainConfig.validate).splitlines())
    assert lines <= 40, f"PretrainConfig.validate is {lines} lines"

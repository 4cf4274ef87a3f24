"""The SageMaker entry point's mapping: TF_CONFIG, channels, hyperparameters -> CLI argv."""

import doctest
import json
import os

import pytest
from sagemaker_test_utils import no_network  # noqa: F401  (fixture)

from keras_electra import cli
from keras_electra.sagemaker import entry_point, launch, metrics_format
from keras_electra.sagemaker.entry_point import (
    build_cli_argv,
    channel_args,
    hyperparameters_to_argv,
    parse_hyperparameter_value,
    plan_from_environment,
    read_hyperparameters,
)
from keras_electra.training.distribute import build_tf_config, tf_config_from_sagemaker

MALICIOUS = "__import__('os').system('touch /tmp/keras_electra_pwned')"


def pairs(argv):
    """argv[1:] as {flag: value}; fails on a repeated flag (argparse would keep the last)."""
    flags = argv[1::2]
    assert len(flags) == len(set(flags)), f"repeated flags in {argv}"
    return dict(zip(argv[1::2], argv[2::2]))


def test_tf_config_worker_list_and_index_for_every_host():
    hosts = ["algo-3", "algo-1", "algo-2"]
    for index, host in enumerate(["algo-1", "algo-2", "algo-3"]):
        config = build_tf_config(hosts, host, 2222)
        assert config == {
            "cluster": {"worker": ["algo-1:2222", "algo-2:2222", "algo-3:2222"]},
            "task": {"type": "worker", "index": index},
        }


def test_tf_config_single_host_and_errors():
    assert build_tf_config(["algo-1"], "algo-1") is None
    with pytest.raises(ValueError, match="not among the job's hosts"):
        build_tf_config(["algo-1", "algo-2"], "algo-9")
    with pytest.raises(ValueError, match="no address for hosts"):
        build_tf_config(["algo-1", "algo-2"], "algo-1", host_ports={"algo-1": "127.0.0.1:1"})


def test_tf_config_from_environment_with_host_port_override():
    env = {
        "SM_HOSTS": json.dumps(["algo-2", "algo-1"]),
        "SM_CURRENT_HOST": "algo-2",
        "KERAS_ELECTRA_SM_HOST_PORTS": json.dumps(
            {"algo-1": "127.0.0.1:40001", "algo-2": "127.0.0.1:40002"}
        ),
    }
    assert tf_config_from_sagemaker(env) == {
        "cluster": {"worker": ["127.0.0.1:40001", "127.0.0.1:40002"]},
        "task": {"type": "worker", "index": 1},
    }
    env.pop("KERAS_ELECTRA_SM_HOST_PORTS")
    env["KERAS_ELECTRA_MWMS_PORT"] = "7777"
    assert tf_config_from_sagemaker(env)["cluster"]["worker"] == ["algo-1:7777", "algo-2:7777"]
    assert tf_config_from_sagemaker({}) is None


def test_existing_tf_config_is_kept():
    env = {"SM_HOSTS": '["algo-1","algo-2"]', "SM_CURRENT_HOST": "algo-1", "TF_CONFIG": "{}"}
    assert plan_from_environment(env).tf_config is None


def test_hyperparameter_values_are_parsed_as_data_never_evaluated(tmp_path):
    assert parse_hyperparameter_value(MALICIOUS) == MALICIOUS
    assert parse_hyperparameter_value('"small"') == "small"
    assert parse_hyperparameter_value("125000") == 125000
    assert parse_hyperparameter_value("true") is True
    assert parse_hyperparameter_value("not json {") == "not json {"
    hps = read_hyperparameters({"SM_HPS": json.dumps({"note": MALICIOUS, "lr": 0.1})})
    assert hps == {"note": MALICIOUS, "lr": 0.1}
    argv = hyperparameters_to_argv(hps)
    assert argv == ["--note", MALICIOUS, "--lr", "0.1"]
    assert not os.path.exists("/tmp/keras_electra_pwned")


@pytest.mark.usefixtures("no_network")
def test_hyperparameters_file_round_trip_from_the_sdk_request(tmp_path, capsys, monkeypatch):
    """Launcher -> SDK JSON encoding -> hyperparameters.json -> entry point argv."""
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    assert launch.main([
        "--dry-run", "--region", "us-east-1", "--role", "arn:aws:iam::123456789012:role/R",
        "--image_name", "img", "--s3_train", "s3://bucket-name/train", "--output_path",
        "s3://bucket-name/out", "--task", "squad", "--skip_flag_check",
        "--learning_rate", "4e-4", "--skip_xla", "--name", "run one", "--note", MALICIOUS,
    ]) == 0
    request = json.loads(capsys.readouterr().out)
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    (config_dir / "hyperparameters.json").write_text(json.dumps(request["HyperParameters"]))
    train_channel = tmp_path / "train"
    train_channel.mkdir()
    (train_channel / "train-v2.0.json").write_text("{}")
    env = {"SM_INPUT_CONFIG_DIR": str(config_dir), "SM_CHANNEL_TRAIN": str(train_channel),
           "SM_MODEL_DIR": "/opt/ml/model", "SM_OUTPUT_DATA_DIR": "/opt/ml/output/data"}
    argv = plan_from_environment(env).argv
    assert argv[0] == "squad"
    flags = pairs(argv)
    assert flags["--learning_rate"] == "0.0004"
    assert flags["--skip_xla"] == "true"
    assert flags["--name"] == "run one"
    assert flags["--note"] == MALICIOUS
    assert flags["--train_file"] == str(train_channel / "train-v2.0.json")
    assert flags["--output_dir"] == "/opt/ml/model"
    # squad keeps no step checkpoints and has no log dir flag: none are invented.
    assert "--checkpoint_dir" not in flags and "--log_dir" not in flags
    # SageMaker's own hyperparameters never reach the CLI.
    assert not any(flag.startswith("--sagemaker_") for flag in flags)
    assert "--model_dir" not in flags and "--task" not in flags


def test_channel_mapping():
    env = {
        "SM_CHANNEL_TRAINING": "/opt/ml/input/data/training",
        "SM_CHANNEL_TRAIN": "/opt/ml/input/data/train",
        "SM_CHANNEL_VALIDATION": "/opt/ml/input/data/validation",
        "SM_CHANNEL_OTHER": "/ignored",
    }
    assert channel_args(env) == [
        "--filesystem_prefix", "/opt/ml/input/data/training",
        "--train_dir", "/opt/ml/input/data/train",
        "--val_dir", "/opt/ml/input/data/validation",
    ]
    assert channel_args({"SM_CHANNEL_VAL": "/v"}) == ["--val_dir", "/v"]
    with pytest.raises(ValueError, match="both map to --val_dir"):
        channel_args({"SM_CHANNEL_VAL": "/v", "SM_CHANNEL_VALIDATION": "/w"})


def test_squad_channels_and_fsx_relative_paths(tmp_path):
    fsx = "/opt/ml/input/data/training"
    env = {"SM_CHANNEL_TRAINING": fsx, "SM_MODEL_DIR": "/opt/ml/model"}
    hps = {"task": "squad", "train_file": "squad_data/train-v2.0.json",
           "predict_file": "squad_data/dev-v2.0.json", "checkpoint_path": "/abs/preset",
           "vocab_file": "vocab/vocab.txt", "learning_rate": 4e-4}
    flags = pairs(build_cli_argv(hps, env))
    assert flags == {
        "--train_file": f"{fsx}/squad_data/train-v2.0.json",
        "--predict_file": f"{fsx}/squad_data/dev-v2.0.json",
        "--checkpoint_path": "/abs/preset",  # absolute: unchanged
        "--vocab_file": f"{fsx}/vocab/vocab.txt",
        "--learning_rate": "0.0004",
        "--output_dir": "/opt/ml/model",
    }
    # A channel must hold exactly one SQuAD file.
    (tmp_path / "a.json").write_text("{}")
    (tmp_path / "b.json").write_text("{}")
    with pytest.raises(ValueError, match="exactly one .json SQuAD file"):
        channel_args({"SM_CHANNEL_VALIDATION": str(tmp_path)}, task="squad")


def test_cli_argv_defaults_and_overrides(monkeypatch):
    env = {"SM_CHANNEL_TRAINING": "/opt/ml/input/data/training", "SM_MODEL_DIR": "/opt/ml/model",
           "SM_OUTPUT_DATA_DIR": "/opt/ml/output/data"}
    hps = {"model_size": "small", "train_dir": "pretrain/train", "filesystem_prefix": "/fsx",
           "sagemaker_program": "entry_point.py", "model_dir": "s3://x/model"}
    argv = build_cli_argv(hps, env)
    assert argv[0] == "pretrain"
    flags = pairs(argv)
    assert flags == {
        "--model_size": "small",
        "--train_dir": "pretrain/train",
        "--filesystem_prefix": "/opt/ml/input/data/training",  # the channel wins
        "--checkpoint_dir": "/opt/ml/checkpoints",
        "--export_dir": "/opt/ml/model",
        "--log_dir": "/opt/ml/output/data/logs",
    }
    # Explicit hyperparameters win over the defaults; the test hook moves checkpoints.
    env["KERAS_ELECTRA_CHECKPOINT_DIR"] = "/tmp/ckpt"
    flags = pairs(build_cli_argv({"export_dir": "/elsewhere", "log_dir": "tb"}, env))
    assert flags["--export_dir"] == "/elsewhere"
    assert flags["--log_dir"] == "tb"
    assert flags["--checkpoint_dir"] == "/tmp/ckpt"
    assert build_cli_argv({"task": "squad"}, {})[0] == "squad"
    assert build_cli_argv({"job": "squad"}, {})[0] == "squad"
    with pytest.raises(ValueError, match="is not a task"):
        build_cli_argv({"task": "finetune"}, {})


def test_main_exports_tf_config_and_calls_the_cli(monkeypatch, tmp_path):
    seen = {}

    def fake_cli_main(argv):
        seen["argv"] = argv
        seen["tf_config"] = json.loads(os.environ["TF_CONFIG"])
        return 0

    monkeypatch.setattr(cli, "main", fake_cli_main)
    # setenv first so that monkeypatch restores the real state (main writes os.environ).
    monkeypatch.setenv("TF_CONFIG", "placeholder")
    monkeypatch.delenv("TF_CONFIG")
    env = {
        "SM_HOSTS": '["algo-1", "algo-2"]', "SM_CURRENT_HOST": "algo-2",
        "SM_HPS": json.dumps({"model_size": "small", "task": "pretrain"}),
        "SM_CHANNEL_TRAIN": str(tmp_path), "SM_MODEL_DIR": str(tmp_path / "model"),
        "SM_NUM_GPUS": "8",
    }
    assert entry_point.main(env) == 0
    assert seen["tf_config"] == {
        "cluster": {"worker": ["algo-1:2222", "algo-2:2222"]},
        "task": {"type": "worker", "index": 1},
    }
    assert seen["argv"][0] == "pretrain"
    assert pairs(seen["argv"])["--train_dir"] == str(tmp_path)


def test_main_exports_jax_cluster_on_the_jax_backend(monkeypatch, tmp_path):
    """KERAS_BACKEND=jax: JAX_* from the sorted host list (host i = process i), no TF_CONFIG;
    the values are the ones `distribute.jax_cluster_from_env` accepts."""
    from keras_electra.training.distribute import jax_cluster_from_env

    seen = {}

    def fake_cli_main(argv):
        seen["env"] = {k: os.environ.get(k) for k in (
            "JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID", "TF_CONFIG")}
        return 0

    monkeypatch.setattr(cli, "main", fake_cli_main)
    for key in ("TF_CONFIG", "JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID"):
        monkeypatch.setenv(key, "placeholder")  # so that monkeypatch restores the real state
        monkeypatch.delenv(key)
    env = {
        "SM_HOSTS": '["algo-3", "algo-1", "algo-2"]', "SM_CURRENT_HOST": "algo-3",
        "SM_HPS": json.dumps({"model_size": "small"}), "KERAS_BACKEND": "jax",
        "SM_CHANNEL_TRAIN": str(tmp_path), "KERAS_ELECTRA_JAX_PORT": "4321",
    }
    assert entry_point.main(env) == 0
    assert seen["env"] == {"JAX_COORDINATOR_ADDRESS": "algo-1:4321", "JAX_NUM_PROCESSES": "3",
                           "JAX_PROCESS_ID": "2", "TF_CONFIG": None}
    assert jax_cluster_from_env(seen["env"]) == ("algo-1:4321", 3, 2)
    assert plan_from_environment({**env, "SM_HOSTS": '["algo-3"]'}).jax_env is None
    # explicit JAX_* win over the host list
    assert plan_from_environment({**env, "JAX_COORDINATOR_ADDRESS": "x:1"}).jax_env is None


def test_jax_cluster_env_errors_name_the_variable():
    from keras_electra.training.distribute import jax_cluster_from_env

    assert jax_cluster_from_env({}) is None
    with pytest.raises(ValueError, match="JAX_NUM_PROCESSES, JAX_PROCESS_ID missing"):
        jax_cluster_from_env({"JAX_COORDINATOR_ADDRESS": "h:1"})
    base = {"JAX_COORDINATOR_ADDRESS": "h:1", "JAX_NUM_PROCESSES": "2"}
    with pytest.raises(ValueError, match="JAX_PROCESS_ID=2 must be in"):
        jax_cluster_from_env({**base, "JAX_PROCESS_ID": "2"})
    with pytest.raises(ValueError, match="expected an integer"):
        jax_cluster_from_env({**base, "JAX_PROCESS_ID": "one"})
    with pytest.raises(ValueError, match="expected host:port"):
        jax_cluster_from_env({**base, "JAX_COORDINATOR_ADDRESS": "h", "JAX_PROCESS_ID": "0"})


@pytest.mark.parametrize("module", [entry_point, launch, metrics_format])
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0

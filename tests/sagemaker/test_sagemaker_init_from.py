"""SageMaker passes continued pretraining through: `--init_from` / `--init_generator_from` as
hyperparameters (checked against the real `keras-electra pretrain` flags), or the released
weights as channels `init` / `init_generator` (`--s3_init`, `--s3_init_generator`)."""

import pytest
from sagemaker_test_utils import fake_aws, no_network  # noqa: F401  (fixtures)

from keras_electra.sagemaker import launch
from keras_electra.sagemaker.entry_point import channel_args, hyperparameters_to_argv

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"

pytestmark = pytest.mark.usefixtures("fake_aws", "no_network")


def _plan(*argv):
    args, rest = launch.build_parser().parse_known_args(
        ["--role", ROLE, "--s3_train", "s3://b/train", *argv])
    return launch.plan_launch(args, launch.parse_passthrough(rest))


def test_init_flags_pass_through_to_the_pretrain_command():
    plan = _plan("--init_from", "weights/electra-small-discriminator",
                 "--init_generator_from", "weights/electra-small-generator")
    hps = plan.hyperparameters
    assert hps["init_from"] == "weights/electra-small-discriminator"
    assert hps["init_generator_from"] == "weights/electra-small-generator"
    argv = hyperparameters_to_argv(hps)
    assert argv[argv.index("--init_from") + 1] == "weights/electra-small-discriminator"
    assert argv[argv.index("--init_generator_from") + 1] == "weights/electra-small-generator"
    with pytest.raises(SystemExit, match="did you mean --init_from"):
        _plan("--init_frm", "x")


def test_init_channels_become_the_init_flags():
    plan = _plan("--s3_init", "s3://b/electra-small-disc", "--s3_init_generator",
                 "s3://b/electra-small-gen")
    assert plan.inputs["init"].config["DataSource"]["S3DataSource"]["S3Uri"] == \
        "s3://b/electra-small-disc"
    assert "init_generator" in plan.inputs
    assert channel_args({"SM_CHANNEL_TRAIN": "/t", "SM_CHANNEL_INIT": "/opt/ml/input/data/init",
                         "SM_CHANNEL_INIT_GENERATOR": "/g"}) == [
        "--train_dir", "/t", "--init_from", "/opt/ml/input/data/init",
        "--init_generator_from", "/g"]
    with pytest.raises(SystemExit, match="--s3_init is for --task pretrain"):
        _plan("--task", "squad", "--s3_init", "s3://b/x", "--skip_flag_check")

"""`keras_electra.sagemaker.launch` against moto (in-process fake AWS), and its --dry-run.

The launched job is read back twice: from the CreateTrainingJob request the SDK
sent (recorded by the launcher's interceptor) and from moto's
`describe_training_job`, so the test does not trust our own recorder alone.
"""

import io
import json
import re
import tarfile

import pytest
from conftest import import_or_fail
from sagemaker_test_utils import fake_aws, no_network  # noqa: F401  (fixtures)

from keras_electra.sagemaker import launch
from keras_electra.sagemaker.metrics_format import METRIC_DEFINITIONS

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/keras-electra:test"
BUCKET = "electra-test-bucket"
FSX_ID = "fs-0123456789abcdef0"
SUBNETS = ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]
SECURITY_GROUPS = ["sg-0123456789abcdef0"]
JOB_NAME = "electra-2xp3dn-20260101-000000"

# Hyperparameters as typed on the command line -> the value the job must carry.
PASSTHROUGH = [
    ("--model_size", "small", "small"),
    ("--per_gpu_batch_size", "16", 16),
    ("--max_seq_length", "512", 512),
    ("--learning_rate", "2e-3", 0.002),
    ("--end_learning_rate", "4e-4", 0.0004),
    ("--total_steps", "125000", 125000),
    ("--hidden_dropout_prob", "0.1", 0.1),
    ("--train_dir", "data/pretrain/train", "data/pretrain/train"),
    ("--name", "sm run", "sm run"),
]

pytestmark = pytest.mark.usefixtures("fake_aws", "no_network")


def launcher_argv(*extra):
    argv = [
        "--role", ROLE,
        "--image_name", IMAGE,
        "--instance_type", "ml.p3dn.24xlarge",
        "--instance_count", "2",
        "--job_name", JOB_NAME,
        "--fsx_id", FSX_ID,
        "--fsx_mount_name", "fsxmount",
        "--subnet_ids", ",".join(SUBNETS),
        "--security_group_ids", ",".join(SECURITY_GROUPS),
        "--s3_val", f"s3://{BUCKET}/data/val",
        "--output_path", f"s3://{BUCKET}/output",
        "--code_location", f"s3://{BUCKET}/code",
        "--checkpoint_s3_uri", f"s3://{BUCKET}/checkpoints/run1",
        "--use_spot_instances",
        "--max_run", "36000",
        "--max_wait", "72000",
        "--tags", "project=electra,owner=tests",
        "--task", "pretrain",
        "--skip_flag_check",
    ]
    for flag, text, _ in PASSTHROUGH:
        argv += [flag, text]
    return argv + list(extra)


def plan_from_argv(argv):
    args, rest = launch.build_parser().parse_known_args(argv)
    return launch.plan_launch(args, launch.parse_passthrough(rest))


def check_request(request):
    """Every field the launcher promises, read from one CreateTrainingJob request."""
    assert request["TrainingJobName"] == JOB_NAME
    assert request["RoleArn"] == ROLE
    assert request["AlgorithmSpecification"]["TrainingImage"] == IMAGE
    assert request["AlgorithmSpecification"]["MetricDefinitions"] == METRIC_DEFINITIONS
    assert request["ResourceConfig"]["InstanceType"] == "ml.p3dn.24xlarge"
    assert request["ResourceConfig"]["InstanceCount"] == 2
    assert request["EnableManagedSpotTraining"] is True
    assert request["StoppingCondition"] == {
        "MaxRuntimeInSeconds": 36000, "MaxWaitTimeInSeconds": 72000
    }
    assert request["CheckpointConfig"]["S3Uri"] == f"s3://{BUCKET}/checkpoints/run1"
    assert request["VpcConfig"] == {"Subnets": SUBNETS, "SecurityGroupIds": SECURITY_GROUPS}
    assert request["OutputDataConfig"]["S3OutputPath"] == f"s3://{BUCKET}/output"
    assert {t["Key"]: t["Value"] for t in request["Tags"]} == {
        "project": "electra", "owner": "tests"
    }
    channels = {c["ChannelName"]: c["DataSource"] for c in request["InputDataConfig"]}
    assert set(channels) == {"training", "validation"}
    assert channels["training"]["FileSystemDataSource"] == {
        "FileSystemId": FSX_ID, "FileSystemType": "FSxLustre",
        "DirectoryPath": "/fsxmount", "FileSystemAccessMode": "rw",
    }
    assert channels["validation"]["S3DataSource"]["S3Uri"] == f"s3://{BUCKET}/data/val"
    check_hyperparameters(request["HyperParameters"])


def check_hyperparameters(hps):
    # The SDK JSON-encodes every value; decode with plain json, not our parser.
    decoded = {key: json.loads(value) for key, value in hps.items()}
    assert decoded["sagemaker_multi_worker_mirrored_strategy_enabled"] is True
    assert decoded["sagemaker_program"] == "entry_point.py"
    assert decoded["task"] == "pretrain"
    assert decoded["filesystem_prefix"] == "/opt/ml/input/data/training"
    for flag, _, expected in PASSTHROUGH:
        assert decoded[flag[2:]] == expected, flag


def test_fit_creates_training_job_in_moto():
    moto = import_or_fail("moto")
    import boto3

    plan = plan_from_argv(launcher_argv())
    with moto.mock_aws():
        boto_session = boto3.Session(region_name="us-east-1")
        boto_session.client("s3").create_bucket(Bucket=BUCKET)
        session = launch.make_session(boto_session=boto_session)
        request = launch.launch(plan, session=session, telemetry=False)
        described = boto_session.client("sagemaker").describe_training_job(
            TrainingJobName=JOB_NAME
        )
        code = boto_session.client("s3").get_object(
            Bucket=BUCKET, Key=f"code/{JOB_NAME}/source/sourcedir.tar.gz"
        )["Body"].read()

    check_request(request)
    # What moto stored agrees with the request.
    assert described["AlgorithmSpecification"]["TrainingImage"] == IMAGE
    assert described["RoleArn"] == ROLE
    assert described["ResourceConfig"]["InstanceType"] == "ml.p3dn.24xlarge"
    assert described["ResourceConfig"]["InstanceCount"] == 2
    assert described["EnableManagedSpotTraining"] is True
    assert described["CheckpointConfig"]["S3Uri"] == f"s3://{BUCKET}/checkpoints/run1"
    assert described["StoppingCondition"]["MaxRuntimeInSeconds"] == 36000
    assert described["StoppingCondition"]["MaxWaitTimeInSeconds"] == 72000
    assert described["VpcConfig"]["Subnets"] == SUBNETS
    assert described["HyperParameters"] == request["HyperParameters"]
    check_hyperparameters(described["HyperParameters"])
    described_channels = {c["ChannelName"] for c in described["InputDataConfig"]}
    assert described_channels == {"training", "validation"}
    # The uploaded code is our entry point.
    with tarfile.open(fileobj=io.BytesIO(code)) as tar:
        uploaded = tar.extractfile("entry_point.py").read().decode()
    with open(launch.default_entry_point(), encoding="utf-8") as handle:
        assert uploaded == handle.read()


def test_dry_run_prints_the_same_request_without_aws(capsys, monkeypatch):
    moto = import_or_fail("moto")
    import boto3

    plan = plan_from_argv(launcher_argv())
    with moto.mock_aws():
        boto_session = boto3.Session(region_name="us-east-1")
        boto_session.client("s3").create_bucket(Bucket=BUCKET)
        session = launch.make_session(boto_session=boto_session)
        real_request = launch.launch(plan, session=session, telemetry=False)

    # No moto now: any call that escaped the dry run would go to this dead endpoint
    # (and the no_network fixture fails the test on any non-loopback connection).
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key)  # a dry run needs no credentials
    assert launch.main(launcher_argv("--dry-run")) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == real_request
    check_request(printed)


def test_dry_run_defaults_image_bucket_and_single_node(capsys, monkeypatch):
    monkeypatch.setenv("SAGEMAKER_ROLE", "arn:aws:iam::111122223333:role/FromEnv")
    monkeypatch.setenv("SAGEMAKER_FSX_ID", FSX_ID)
    monkeypatch.setenv("SAGEMAKER_SUBNET_IDS", "subnet-0123456789abcdef0")
    monkeypatch.setenv("SAGEMAKER_SECURITY_GROUP_IDS", "sg-0123456789abcdef0")
    argv = ["--dry-run", "--task", "squad", "--skip_flag_check", "--learning_rate", "4e-4"]
    assert launch.main(argv) == 0
    request = json.loads(capsys.readouterr().out)
    # SDK v2 knows TF <= 2.19; the launcher asks for the SageMaker TF 2.21 GPU image.
    assert request["AlgorithmSpecification"]["TrainingImage"] == (
        "763104351884.dkr.ecr.us-east-1.amazonaws.com/tensorflow-training:2.21-gpu-py312"
    )
    assert request["RoleArn"] == "arn:aws:iam::111122223333:role/FromEnv"
    assert request["ResourceConfig"]["InstanceType"] == "ml.p3dn.24xlarge"  # AWS default
    assert request["ResourceConfig"]["InstanceCount"] == 1
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 2_419_200}
    assert "EnableManagedSpotTraining" not in request
    # The SDK's default bucket, with the account taken from the role in a dry run.
    name = request["TrainingJobName"]
    assert re.fullmatch(r"electra-1xp3dn-\d{8}-\d{6}", name)
    bucket = "s3://sagemaker-us-east-1-111122223333"
    assert request["OutputDataConfig"]["S3OutputPath"] == bucket
    assert request["CheckpointConfig"] == {
        "S3Uri": f"{bucket}/{name}/checkpoints", "LocalPath": "/opt/ml/checkpoints"
    }
    hps = {key: json.loads(value) for key, value in request["HyperParameters"].items()}
    assert hps["task"] == "squad"
    assert hps["learning_rate"] == 0.0004
    assert hps["sagemaker_multi_worker_mirrored_strategy_enabled"] is True
    assert request["VpcConfig"]["Subnets"] == ["subnet-0123456789abcdef0"]


def test_s3_data_channel_forces_filesystem_prefix():
    plan = plan_from_argv([
        "--role", ROLE, "--s3_data", f"s3://{BUCKET}/fsx-layout", "--skip_flag_check",
        "--filesystem_prefix", "/fsx", "--train_dir", "train",
    ])
    assert set(plan.inputs) == {"training"}
    assert plan.inputs["training"].config["DataSource"]["S3DataSource"]["S3Uri"] == (
        f"s3://{BUCKET}/fsx-layout"
    )
    assert plan.hyperparameters["filesystem_prefix"] == "/opt/ml/input/data/training"
    assert plan.hyperparameters["train_dir"] == "train"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--s3_train", "s3://b/t"], "no IAM role"),
        (["--role", ROLE], "no input data"),
        (["--role", ROLE, "--fsx_id", FSX_ID], "--subnet_ids"),
        (["--role", ROLE, "--s3_train", "/local/path"], "must be an s3:// URI"),
        (["--role", ROLE, "--s3_train", "s3://b/t", "--use_spot_instances", "--max_run", "100",
          "--max_wait", "50"], "--max_wait (50) must be >= --max_run (100)"),
        (["--role", ROLE, "--s3_train", "s3://b/t", "--max_wait", "50"], "only applies"),
        (["--role", ROLE, "--s3_train", "s3://b/t", "--job_name", "bad_name"], "is invalid"),
        (["--role", ROLE, "--s3_train", "s3://b/t", "--instance_type", "p3.2xlarge"],
         "not a SageMaker instance type"),
        (["--role", ROLE, "--s3_train", "s3://b/t", "stray"], "unexpected argument 'stray'"),
        (["--role", ROLE, "--s3_train", "s3://b/t", "--job", "squad"], "--task"),
    ],
)
def test_bad_launcher_input_is_refused_with_a_fix(argv, message):
    with pytest.raises(SystemExit) as error:
        plan_from_argv(argv + ["--skip_flag_check"])
    assert message in str(error.value)


def test_passthrough_values_are_data_not_code():
    hps = launch.parse_passthrough([
        "--learning_rate", "2e-3", "--skip_xla", "--name=a=b", "--note",
        "__import__('os').system('touch /tmp/pwned')", "--layers", "[1, 2]",
    ])
    assert hps == {
        "learning_rate": 0.002,
        "skip_xla": True,
        "name": "a=b",
        "note": "__import__('os').system('touch /tmp/pwned')",
        "layers": [1, 2],
    }


def test_unknown_flag_is_caught_against_the_cli(monkeypatch):
    monkeypatch.setattr(launch, "task_flags", lambda task: {"learning_rate", "total_steps"})
    launch.check_hyperparameters("pretrain", {"learning_rate": 1.0})
    with pytest.raises(SystemExit, match="did you mean --learning_rate"):
        launch.check_hyperparameters("pretrain", {"learnig_rate": 1.0})


def test_job_names_follow_the_aws_scripts():
    import datetime

    when = datetime.datetime(2026, 3, 4, 5, 6, 7)
    assert launch.make_job_name("electra", 8, "ml.p3dn.24xlarge", when) == (
        "electra-8xp3dn-20260304-050607"
    )
    assert launch.make_job_name("electra", 2, "ml.p3.16xlarge", when).startswith("electra-2xp316-")
    assert launch.make_job_name("squad", 1, "ml.g4dn.12xlarge", when).startswith("squad-1xg4dn-")
    assert launch.make_job_name("e", 1, "ml.g5.48xlarge", when) == "e-1xg548-20260304-050607"
    long_name = launch.make_job_name("x" * 80, 8, "ml.p3dn.24xlarge", when)
    assert len(long_name) == 63 and long_name.endswith("-20260304-050607")


def documented_launch_commands():
    """The `python -m keras_electra.sagemaker.launch ...` commands in docs/SAGEMAKER.md."""
    import pathlib
    import shlex

    text = (pathlib.Path(__file__).resolve().parents[2] / "docs" / "SAGEMAKER.md").read_text()
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.DOTALL):
        joined = block.replace("\\\n", " ")
        for line in joined.splitlines():
            if line.strip().startswith("python -m keras_electra.sagemaker.launch"):
                commands.append(shlex.split(line)[3:])
    return commands


def test_documented_aws_readme_runs_are_valid_requests(capsys, monkeypatch):
    """The docs' pretraining and SQuAD commands pass the flag check against the real CLIs
    and produce the AWS README's cluster sizes and hyperparameters."""
    monkeypatch.setenv("SAGEMAKER_ROLE", ROLE)
    monkeypatch.setenv("SAGEMAKER_IMAGE_NAME", IMAGE)
    monkeypatch.setenv("SAGEMAKER_FSX_ID", FSX_ID)
    monkeypatch.setenv("SAGEMAKER_FSX_MOUNT_NAME", "abcdefgh")
    monkeypatch.setenv("SAGEMAKER_SUBNET_IDS", SUBNETS[0])
    monkeypatch.setenv("SAGEMAKER_SECURITY_GROUP_IDS", SECURITY_GROUPS[0])
    commands = documented_launch_commands()
    assert len(commands) == 2, commands
    requests = {}
    for argv in commands:
        assert "--skip_flag_check" not in argv
        assert launch.main(argv + ["--dry-run"]) == 0
        request = json.loads(capsys.readouterr().out)
        hps = {k: json.loads(v) for k, v in request["HyperParameters"].items()}
        requests[hps["task"]] = (request, hps)

    request, hps = requests["pretrain"]
    assert request["ResourceConfig"] == {
        "InstanceType": "ml.p3dn.24xlarge", "InstanceCount": 8, "VolumeSizeInGB": 30
    }
    assert request["TrainingJobName"].startswith("electra-8xp3dn-")
    expected = {"model_size": "small", "per_gpu_batch_size": 16, "max_seq_length": 512,
                "learning_rate": 0.002, "end_learning_rate": 0.0004, "weight_decay": 0.01,
                "warmup_steps": 10000, "total_steps": 125000, "checkpoint_frequency": 10000,
                "validation_frequency": 10000, "log_frequency": 2000,
                "filesystem_prefix": "/opt/ml/input/data/training"}
    assert {k: hps[k] for k in expected} == expected
    assert request["InputDataConfig"][0]["DataSource"]["FileSystemDataSource"][
        "DirectoryPath"] == "/abcdefgh"

    request, hps = requests["squad"]
    assert request["ResourceConfig"]["InstanceCount"] == 1
    expected = {"per_gpu_batch_size": 6, "learning_rate": 0.0004, "warmup_steps": 543,
                "total_steps": 5430, "weight_decay": 0, "squad_version": "squadv2"}
    assert {k: hps[k] for k in expected} == expected
    assert "filesystem_prefix" not in hps  # squad has no such flag


def test_documented_prepare_command_uses_real_flags():
    import pathlib
    import shlex

    from keras_electra import cli

    text = (pathlib.Path(__file__).resolve().parents[2] / "docs" / "SAGEMAKER.md").read_text()
    lines = [line for block in re.findall(r"```bash\n(.*?)```", text, re.DOTALL)
             for line in block.replace("\\\n", " ").splitlines()
             if line.strip().startswith("keras-electra prepare ")]
    assert lines
    parser = cli.build_parser()
    for line in lines:
        args = parser.parse_args(shlex.split(line)[1:])  # exits (fails) on an unknown flag
        assert args.command == "prepare"


def test_dry_run_jax_backend_sets_the_engine_and_no_mwms(capsys):
    argv = [a for a in launcher_argv("--dry-run", "--backend", "jax")]
    assert launch.main(argv) == 0
    request = json.loads(capsys.readouterr().out)
    assert request["Environment"]["KERAS_BACKEND"] == "jax"
    assert request["AlgorithmSpecification"]["TrainingImage"] == IMAGE
    hps = {key: json.loads(value) for key, value in request["HyperParameters"].items()}
    assert "sagemaker_multi_worker_mirrored_strategy_enabled" not in hps
    assert request["ResourceConfig"]["InstanceCount"] == 2
    # the default TF image has no JAX: refused with the build command
    without_image = [a for a in argv if a != IMAGE and a != "--image_name"]
    with pytest.raises(SystemExit, match="--build-arg BACKEND=jax"):
        plan_from_argv(without_image)

"""Launch ELECTRA pretraining or SQuAD fine-tuning as a SageMaker training job.

`python -m keras_electra.sagemaker.launch` takes the AWS scripts' launcher flags
(`--source_dir --entry_point --sm_job_name --instance_type --instance_count
--role --image_name --fsx_id --fsx_mount_name --subnet_ids --security_group_ids`,
with the same `SAGEMAKER_*` environment defaults), a few more (S3 inputs,
checkpoints, spot, run limits, tags, `--dry-run`), and passes every other
`--key value` through as a hyperparameter; on the instances,
`keras_electra.sagemaker.entry_point` turns them back into a
`keras-electra pretrain|squad --key value ...` command line.

It uses the SageMaker Python SDK v2 `TensorFlow` estimator with
`distribution={"multi_worker_mirrored_strategy": {"enabled": True}}`. SDK v2's
image list stops at TF 2.19, so it is given `framework_version="2.19"`,
`py_version="py312"` and an explicit `image_uri`: `--image_name` (your image,
built from this repository's Dockerfile), else the SageMaker TF 2.21 training
image.

`--dry-run` runs exactly the same code, but every AWS API call is answered
locally instead of being sent, and the `CreateTrainingJob` request (validated
against the botocore API model) is printed as JSON.

Example (the AWS README's pretraining run; prints the request, calls nothing):

    python -m keras_electra.sagemaker.launch --dry-run \\
        --role arn:aws:iam::123456789012:role/SageMakerRole \\
        --image_name 123456789012.dkr.ecr.us-east-1.amazonaws.com/keras-electra:latest \\
        --fsx_id fs-0123456789abcdef0 --subnet_ids subnet-0123456789abcdef0 \\
        --security_group_ids sg-0123456789abcdef0 --instance_count 8 \\
        --task pretrain --model_size small --train_dir data/train --val_dir data/val \\
        --per_gpu_batch_size 16 --max_seq_length 512 --learning_rate 2e-3 --total_steps 125000
"""

import argparse
import contextlib
import datetime
import difflib
import json
import os
import re
import sys
from dataclasses import dataclass, field

from keras_electra.sagemaker.aws_calls import (
    AwsCallInterceptor,
    account_from_role,
    sdk_telemetry_disabled,
    send_sdk_logs_to_stderr,
    temporary_env,
)
from keras_electra.sagemaker.entry_point import TASKS, parse_hyperparameter_value
from keras_electra.sagemaker.metrics_format import METRIC_DEFINITIONS

FSX_MOUNT_POINT = "/opt/ml/input/data/training"  # where SageMaker mounts channel "training"
CHECKPOINT_LOCAL_PATH = "/opt/ml/checkpoints"
DEFAULT_MAX_RUN = 2_419_200  # 28 days, the AWS scripts' train_max_run (SageMaker's maximum)
TF_VERSION_FOR_SDK = "2.19"  # newest TF the SDK v2 image list knows
TF_VERSION = "2.21"  # the image actually used
PY_VERSION = "py312"
# The AWS scripts' short names for the instance family part of job names.
AWS_INSTANCE_SHORT_NAMES = {
    "ml.p3dn.24xlarge": "p3dn",
    "ml.p3.16xlarge": "p316",
    "ml.g4dn.12xlarge": "g4dn",
}
_JOB_NAME_RE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


def _env_default(name, fallback=None):
    return os.environ.get(name) or fallback


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m keras_electra.sagemaker.launch",
        description=(
            "Launch keras-electra pretraining or SQuAD fine-tuning on SageMaker. "
            "Flags not listed here (e.g. --model_size small --total_steps 125000) are "
            "passed to `keras-electra pretrain|squad` as hyperparameters."
        ),
        allow_abbrev=False,
    )
    _add_aws_flags(parser.add_argument_group("the AWS scripts' launcher flags"))
    _add_job_flags(parser.add_argument_group("job"))
    return parser


def _add_aws_flags(aws):
    """The flags of the AWS scripts' launcher: code, instances, role, image, FSx, VPC."""
    aws.add_argument("--source_dir", default=None,
                     help="folder uploaded with the entry point (optional; with the stock "
                          "SageMaker image put a requirements.txt installing keras-electra in it)")
    aws.add_argument("--entry_point", default=None,
                     help="script SageMaker runs (default: keras_electra/sagemaker/entry_point.py)")
    aws.add_argument("--sm_job_name", default="electra", help="job name prefix (default electra)")
    aws.add_argument("--instance_type", default="ml.p3dn.24xlarge")
    aws.add_argument("--instance_count", type=int, default=1)
    aws.add_argument("--role", default=_env_default("SAGEMAKER_ROLE"),
                     help="IAM role ARN SageMaker assumes (env SAGEMAKER_ROLE)")
    aws.add_argument("--image_name", default=_env_default("SAGEMAKER_IMAGE_NAME"),
                     help="training image URI (env SAGEMAKER_IMAGE_NAME; default the "
                          f"SageMaker TF {TF_VERSION} training image)")
    aws.add_argument("--fsx_id", default=_env_default("SAGEMAKER_FSX_ID"),
                     help="FSx for Lustre file system id (env SAGEMAKER_FSX_ID)")
    aws.add_argument("--fsx_mount_name", default=_env_default("SAGEMAKER_FSX_MOUNT_NAME", "fsx"),
                     help="FSx mount name, mounted whole as channel 'training' (default fsx)")
    aws.add_argument("--subnet_ids", default=_env_default("SAGEMAKER_SUBNET_IDS"),
                     help="comma-separated VPC subnets (env SAGEMAKER_SUBNET_IDS; FSx needs them)")
    aws.add_argument("--security_group_ids", default=_env_default("SAGEMAKER_SECURITY_GROUP_IDS"),
                     help="comma-separated security groups (env SAGEMAKER_SECURITY_GROUP_IDS)")


def _add_job_flags(job):
    """The job's task, name, data channels, checkpoints, spot, limits, backend and modes."""
    job.add_argument("--task", choices=TASKS, default="pretrain",
                     help="keras-electra command the job runs (default pretrain)")
    job.add_argument("--job_name", default=None,
                     help="full job name (default {sm_job_name}-{count}x{family}-{timestamp})")
    job.add_argument("--region", default=None,
                     help="AWS region (default: the boto3 session's, e.g. AWS_DEFAULT_REGION)")
    job.add_argument("--s3_data", default=None,
                     help="S3 prefix laid out like the FSx file system; channel 'training', "
                          "--filesystem_prefix points at it")
    job.add_argument("--s3_train", default=None, help="S3 prefix for channel 'train' (--train_dir)")
    job.add_argument("--s3_val", default=None,
                     help="S3 prefix for channel 'validation' (--val_dir)")
    job.add_argument("--s3_init", default=None,
                     help="S3 prefix of released weights for channel 'init' (pretrain "
                          "--init_from: an HF or keras-hub/our preset dir, or a TF1 checkpoint "
                          "dir)")
    job.add_argument("--s3_init_generator", default=None,
                     help="S3 prefix of the generator for channel 'init_generator' (pretrain "
                          "--init_generator_from)")
    job.add_argument("--s3_input_mode", choices=("File", "FastFile"), default="File",
                     help="how S3 channels reach the instance (default File)")
    job.add_argument("--output_path", default=None,
                     help="S3 prefix for model.tar.gz/output.tar.gz (default the SDK's bucket)")
    job.add_argument("--code_location", default=None,
                     help="S3 prefix for the uploaded code (default: output_path)")
    job.add_argument("--checkpoint_s3_uri", default=None,
                     help="S3 prefix synced with /opt/ml/checkpoints (default "
                          "{output_path}/{job_name}/checkpoints); a spot restart resumes from it")
    job.add_argument("--no_checkpoints", action="store_true",
                     help="do not sync /opt/ml/checkpoints to S3")
    job.add_argument("--use_spot_instances", action="store_true",
                     help="managed spot training (resumes from the checkpoints)")
    job.add_argument("--max_run", type=int, default=DEFAULT_MAX_RUN,
                     help=f"max training seconds (default {DEFAULT_MAX_RUN}, 28 days)")
    job.add_argument("--max_wait", type=int, default=None,
                     help="max seconds including spot waits (spot only; default max_run)")
    job.add_argument("--volume_size", type=int, default=30, help="EBS GB per instance")
    job.add_argument("--tags", default=None,
                     help="job tags: Key=Value,Key2=Value2 or a JSON object")
    job.add_argument("--backend", choices=("tensorflow", "jax"), default="tensorflow",
                     help="engine on the instances (default tensorflow: MultiWorkerMirrored"
                          "Strategy). jax: one process per host joined by jax.distributed (the "
                          "entry point sets JAX_* from the host list); needs --image_name of an "
                          "image built with `docker build --build-arg BACKEND=jax`")
    job.add_argument("--no_mwms", action="store_true",
                     help="do not request multi_worker_mirrored_strategy (single node only)")
    job.add_argument("--skip_flag_check", action="store_true",
                     help="do not check pass-through flags against the local CLI")
    job.add_argument("--disable_sdk_telemetry", action="store_true",
                     help="opt out of the SageMaker SDK's usage telemetry (always on --dry-run)")
    job.add_argument("--wait", action="store_true", help="wait for the job and stream its logs")
    job.add_argument("--dry-run", "--dry_run", dest="dry_run", action="store_true",
                     help="print the CreateTrainingJob request as JSON; call no AWS API")


def parse_passthrough(tokens):
    """Hyperparameters from the flags the launcher does not know.

    Accepts `--key value`, `--key=value` and a bare `--key` (= true). Values are
    parsed as JSON data when they are (`2e-3` -> 0.002, `true` -> True), else kept
    as strings; nothing is evaluated.

    Example:

    >>> parse_passthrough(["--model_size", "small", "--learning_rate=2e-3", "--skip_xla"])
    {'model_size': 'small', 'learning_rate': 0.002, 'skip_xla': True}
    """
    hps = {}
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if not token.startswith("--") or token == "--":
            raise SystemExit(
                f"launch: unexpected argument {token!r}: hyperparameters must be `--key value`"
            )
        key, eq, value = token[2:].partition("=")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_\-]*", key):
            raise SystemExit(f"launch: {token!r} is not a valid flag name")
        if not eq:
            nxt = tokens[index + 1] if index + 1 < len(tokens) else None
            if nxt is None or (nxt.startswith("--") and len(nxt) > 2):
                value = "true"
            else:
                value = nxt
                index += 1
        hps[key.replace("-", "_")] = parse_hyperparameter_value(value)
        index += 1
    return hps


def task_flags(task):
    """Option names of `keras-electra <task>`, or None if that command is not installed."""
    from keras_electra import cli

    parser = cli.build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and task in action.choices:
            return {
                opt[2:] for opt in action.choices[task]._option_string_actions if opt.startswith("--")
            }
    return None


def check_hyperparameters(task, hps):
    """Fail early, with a suggestion, on a flag that `keras-electra <task>` does not accept."""
    known = task_flags(task)
    if known is None:
        print(f"launch: warning: `keras-electra {task}` is not available here; "
              "hyperparameter names are not checked", file=sys.stderr)
        return
    for key in hps:
        if key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f" (did you mean --{close[0]}?)" if close else ""
            raise SystemExit(
                f"launch: --{key} is not a flag of `keras-electra {task}`{hint}; "
                "see `keras-electra {task} --help`, or pass --skip_flag_check"
            )


def instance_short_name(instance_type):
    """`ml.p3dn.24xlarge` -> `p3dn` (the AWS scripts' names), else family + size digits."""
    if instance_type in AWS_INSTANCE_SHORT_NAMES:
        return AWS_INSTANCE_SHORT_NAMES[instance_type]
    parts = instance_type.split(".")
    if len(parts) != 3 or parts[0] != "ml":
        raise SystemExit(
            f"launch: --instance_type {instance_type!r} is not a SageMaker instance type "
            "(like ml.p3dn.24xlarge)"
        )
    return parts[1] + re.sub(r"\D", "", parts[2])


def make_job_name(sm_job_name, instance_count, instance_type, now=None):
    """`{sm_job_name}-{count}x{family}-{YYYYmmdd-HHMMSS}`, checked against SageMaker's rules.

    Example:

    >>> make_job_name("electra", 8, "ml.p3dn.24xlarge", datetime.datetime(2026, 1, 2, 3, 4, 5))
    'electra-8xp3dn-20260102-030405'
    """
    now = now or datetime.datetime.now(datetime.timezone.utc)
    stamp = now.strftime("%Y%m%d-%H%M%S")
    base = f"{sm_job_name}-{instance_count}x{instance_short_name(instance_type)}"
    base = base[: 63 - len(stamp) - 1]
    name = f"{base}-{stamp}"
    validate_job_name(name)
    return name


def validate_job_name(name):
    if not _JOB_NAME_RE.match(name):
        raise SystemExit(
            f"launch: job name {name!r} is invalid: SageMaker allows 1-63 letters, digits "
            "and single hyphens, starting with a letter or digit (fix --sm_job_name/--job_name)"
        )
    return name


def parse_tags(text):
    """`Key=Value,K2=V2` or a JSON object -> SageMaker's `[{"Key":..., "Value":...}]`."""
    if not text:
        return None
    text = text.strip()
    if text.startswith("{"):
        pairs = json.loads(text).items()
    else:
        pairs = []
        for item in filter(None, (part.strip() for part in text.split(","))):
            key, eq, value = item.partition("=")
            if not eq or not key:
                raise SystemExit(f"launch: tag {item!r} must be Key=Value")
            pairs.append((key, value))
    return [{"Key": str(k), "Value": str(v)} for k, v in pairs]


def _split_ids(text):
    return [part.strip() for part in text.split(",") if part.strip()] if text else None


def default_entry_point():
    from keras_electra.sagemaker import entry_point

    return entry_point.__file__


def default_image_uri(region, instance_type):
    """The SageMaker TF 2.21 training image for this region and device type."""
    from sagemaker import image_uris

    uri = image_uris.retrieve(
        "tensorflow", region=region, version=TF_VERSION_FOR_SDK, py_version=PY_VERSION,
        instance_type=instance_type, image_scope="training",
    )
    repo, tag = uri.rsplit(":", 1)
    return f"{repo}:{tag.replace(TF_VERSION_FOR_SDK + '-', TF_VERSION + '-', 1)}"


@dataclass
class LaunchPlan:
    """Everything the estimator is built from (inspectable without AWS)."""

    job_name: str
    task: str
    hyperparameters: dict
    instance_type: str
    instance_count: int
    role: str
    image_uri: str = None
    entry_point: str = None
    source_dir: str = None
    inputs: dict = field(default_factory=dict)
    subnets: list = None
    security_group_ids: list = None
    distribution: dict = None
    environment: dict = None
    checkpoint_s3_uri: str = None
    use_spot_instances: bool = False
    max_run: int = DEFAULT_MAX_RUN
    max_wait: int = None
    volume_size: int = 30
    tags: list = None
    output_path: str = None
    code_location: str = None


def plan_launch(args, passthrough):
    """Turn parsed launcher flags + pass-through hyperparameters into a `LaunchPlan`."""
    if not args.role:
        raise SystemExit("launch: no IAM role: pass --role arn:aws:iam::<account>:role/<name> "
                         "or set SAGEMAKER_ROLE (docs/SAGEMAKER.md, step 1)")
    if args.instance_count < 1:
        raise SystemExit("launch: --instance_count must be >= 1")
    hps = dict(passthrough)
    for reserved in ("task", "job"):
        if reserved in hps:
            raise SystemExit(f"launch: pass the task with --task, not --{reserved}")
    if not args.skip_flag_check:
        check_hyperparameters(args.task, hps)
    inputs = _input_channels(args, hps)
    subnets = _split_ids(args.subnet_ids)
    security_groups = _split_ids(args.security_group_ids)
    if args.fsx_id and not (subnets and security_groups):
        raise SystemExit("launch: FSx needs the job in its VPC: pass --subnet_ids and "
                         "--security_group_ids (or SAGEMAKER_SUBNET_IDS/_SECURITY_GROUP_IDS)")
    job_name = validate_job_name(args.job_name) if args.job_name else make_job_name(
        args.sm_job_name, args.instance_count, args.instance_type
    )
    max_wait = _spot_max_wait(args)
    hps["task"] = args.task
    distribution, environment = _distribution(args)
    return LaunchPlan(
        job_name=job_name, task=args.task, hyperparameters=hps,
        instance_type=args.instance_type, instance_count=args.instance_count, role=args.role,
        image_uri=args.image_name, entry_point=args.entry_point or default_entry_point(),
        source_dir=args.source_dir, inputs=inputs, subnets=subnets,
        security_group_ids=security_groups, distribution=distribution, environment=environment,
        checkpoint_s3_uri=None if args.no_checkpoints else (args.checkpoint_s3_uri or "auto"),
        use_spot_instances=args.use_spot_instances, max_run=args.max_run, max_wait=max_wait,
        volume_size=args.volume_size, tags=parse_tags(args.tags),
        output_path=args.output_path, code_location=args.code_location,
    )


def _input_channels(args, hps):
    """The job's input channels (FSx or S3 `training`, S3 `train`/`validation`, the init
    weights); a `training` channel points pretrain's `filesystem_prefix` at it (in `hps`)."""
    inputs = {}
    if args.fsx_id:
        from sagemaker.inputs import FileSystemInput

        mount = args.fsx_mount_name.strip()
        if mount.startswith("/"):
            raise SystemExit("launch: --fsx_mount_name should not start with '/' (e.g. fsx)")
        inputs["training"] = FileSystemInput(
            file_system_id=args.fsx_id, file_system_type="FSxLustre",
            directory_path=f"/{mount}", file_system_access_mode="rw",
        )
    if args.s3_data:
        if "training" in inputs:
            raise SystemExit("launch: give either --fsx_id or --s3_data (both are channel "
                             "'training'), not both")
        inputs["training"] = _s3_input(args.s3_data, args.s3_input_mode, "--s3_data")
    if "training" in inputs and args.task == "pretrain":
        hps["filesystem_prefix"] = FSX_MOUNT_POINT  # as the AWS launcher forced it
    if args.s3_train:
        inputs["train"] = _s3_input(args.s3_train, args.s3_input_mode, "--s3_train")
    if args.s3_val:
        inputs["validation"] = _s3_input(args.s3_val, args.s3_input_mode, "--s3_val")
    if not inputs:
        raise SystemExit("launch: no input data: pass --fsx_id (FSx for Lustre), --s3_data, "
                         "or --s3_train/--s3_val (docs/SAGEMAKER.md, step 2)")
    for flag, channel in (("--s3_init", "init"), ("--s3_init_generator", "init_generator")):
        uri = getattr(args, flag[2:])
        if uri:
            if args.task != "pretrain":
                raise SystemExit(f"launch: {flag} is for --task pretrain (--init_from)")
            inputs[channel] = _s3_input(uri, args.s3_input_mode, flag)
    return inputs


def _spot_max_wait(args):
    """`max_wait` of a spot job (default `max_run`), None otherwise; bad combinations fail."""
    max_wait = None
    if args.use_spot_instances:
        max_wait = args.max_wait or args.max_run
        if max_wait < args.max_run:
            raise SystemExit(f"launch: --max_wait ({max_wait}) must be >= --max_run "
                             f"({args.max_run}) for spot training")
    elif args.max_wait:
        raise SystemExit("launch: --max_wait only applies with --use_spot_instances")
    if args.use_spot_instances and args.no_checkpoints:
        raise SystemExit("launch: spot training without checkpoints restarts from step 0 on "
                         "every interruption; drop --no_checkpoints")
    return max_wait


def _distribution(args):
    """`(distribution, environment)` of the backend: MWMS for TensorFlow (unless --no_mwms),
    `KERAS_BACKEND=jax` (no SageMaker distribution) for JAX."""
    distribution = None
    environment = None
    backend = getattr(args, "backend", "tensorflow")
    if backend == "jax":
        # No SageMaker distribution: SageMaker runs the entry point on every host anyway, and
        # the entry point joins them with jax.distributed.
        if not args.image_name:
            raise SystemExit("launch: --backend jax needs --image_name: the SageMaker "
                             "TensorFlow image has no JAX; build one with `docker build "
                             "--build-arg BACKEND=jax -t keras-electra:jax .` and push it")
        environment = {"KERAS_BACKEND": "jax"}
    elif not args.no_mwms:
        distribution = {"multi_worker_mirrored_strategy": {"enabled": True}}
    elif args.instance_count > 1:
        raise SystemExit("launch: --no_mwms needs --instance_count 1")
    return distribution, environment


def _s3_input(uri, input_mode, flag):
    if not uri.startswith("s3://"):
        raise SystemExit(f"launch: {flag} {uri!r} must be an s3:// URI")
    from sagemaker.inputs import TrainingInput

    return TrainingInput(uri, input_mode=input_mode)


def make_session(region=None, boto_session=None):
    """A `sagemaker.Session` for `region` (or bound to `boto_session`)."""
    import boto3
    import sagemaker

    boto_session = boto_session or boto3.Session(region_name=region)
    if not boto_session.region_name:
        raise SystemExit("launch: no AWS region: pass --region or set AWS_DEFAULT_REGION")
    return sagemaker.Session(boto_session=boto_session)


def build_estimator(plan, session):
    """The SDK v2 TensorFlow estimator for a plan."""
    from sagemaker.tensorflow import TensorFlow

    region = session.boto_region_name
    image_uri = plan.image_uri or default_image_uri(region, plan.instance_type)
    output_path = plan.output_path or f"s3://{session.default_bucket()}"
    checkpoint_s3_uri = plan.checkpoint_s3_uri
    if checkpoint_s3_uri == "auto":
        checkpoint_s3_uri = f"{output_path.rstrip('/')}/{plan.job_name}/checkpoints"
    return TensorFlow(
        entry_point=plan.entry_point,
        source_dir=plan.source_dir,
        role=plan.role,
        instance_count=plan.instance_count,
        instance_type=plan.instance_type,
        framework_version=TF_VERSION_FOR_SDK,
        py_version=PY_VERSION,
        image_uri=image_uri,
        hyperparameters=plan.hyperparameters,
        distribution=plan.distribution,
        environment=plan.environment,
        subnets=plan.subnets,
        security_group_ids=plan.security_group_ids,
        checkpoint_s3_uri=checkpoint_s3_uri,
        checkpoint_local_path=CHECKPOINT_LOCAL_PATH if checkpoint_s3_uri else None,
        use_spot_instances=plan.use_spot_instances,
        max_run=plan.max_run,
        max_wait=plan.max_wait,
        volume_size=plan.volume_size,
        metric_definitions=METRIC_DEFINITIONS,
        enable_sagemaker_metrics=True,
        tags=plan.tags,
        output_path=output_path,
        code_location=plan.code_location or output_path,
        disable_profiler=True,
        debugger_hook_config=False,
        sagemaker_session=session,
    )


def launch(plan, *, dry_run=False, session=None, region=None, telemetry=True, wait=False):
    """Create the training job for `plan`; returns the CreateTrainingJob request (a dict).

    `session`: a `sagemaker.Session` to use (tests pass one bound to moto).
    `telemetry=False` (always in a dry run) silences the SDK's usage ping.
    """
    interceptor = AwsCallInterceptor(dry_run, account_id=account_from_role(plan.role))
    # In a dry run, stop botocore from asking the EC2 metadata service for
    # credentials (the SDK creates clients of its own, e.g. for JumpStart, on import).
    no_imds = temporary_env("AWS_EC2_METADATA_DISABLED", "true") if dry_run else None
    no_telemetry = sdk_telemetry_disabled() if dry_run or not telemetry else None
    with no_imds or contextlib.nullcontext(), no_telemetry or contextlib.nullcontext(), \
            interceptor.active():
        if session is None:
            if dry_run:
                import boto3

                # Placeholder keys: nothing is signed or sent, and looking up real
                # credentials could itself reach the network (instance metadata).
                boto_session = boto3.Session(
                    aws_access_key_id="DRYRUN", aws_secret_access_key="DRYRUN",
                    region_name=region or boto3.Session().region_name or "us-east-1",
                )
                session = make_session(boto_session=boto_session)
            else:
                session = make_session(region=region)
        estimator = build_estimator(plan, session)
        estimator.fit(inputs=plan.inputs, job_name=plan.job_name, wait=wait and not dry_run,
                      logs="All" if wait and not dry_run else "None")
    if interceptor.create_training_job_request is None:
        raise RuntimeError("the SageMaker SDK made no CreateTrainingJob call")
    return interceptor.create_training_job_request


def main(argv=None):
    os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    send_sdk_logs_to_stderr()
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if args.dry_run:
        # Importing the SDK already creates boto clients; keep them off the metadata service.
        with temporary_env("AWS_EC2_METADATA_DISABLED", "true"):
            return _run(args, rest)
    return _run(args, rest)


def _run(args, rest):
    passthrough = parse_passthrough(rest)
    plan = plan_launch(args, passthrough)
    if not plan.image_uri:
        print(f"launch: note: no --image_name; using the SageMaker TF {TF_VERSION} training "
              "image, which does not contain keras-electra: give --source_dir with a "
              "requirements.txt that installs it (docs/SAGEMAKER.md)", file=sys.stderr)
    request = launch(plan, dry_run=args.dry_run, region=args.region,
                     telemetry=not (args.disable_sdk_telemetry or args.dry_run), wait=args.wait)
    if args.dry_run:
        print(json.dumps(request, indent=2, sort_keys=True))
    else:
        print(f"launch: created training job {request['TrainingJobName']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

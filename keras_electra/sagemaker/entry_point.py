"""SageMaker training entry point: map the container's environment onto the CLI.

SageMaker starts this script on every instance of a training job (the image's
`SAGEMAKER_PROGRAM`, or the `entry_point` the launcher uploads). It does no work
of its own; it only translates SageMaker's environment into a
`keras-electra pretrain ...` or `keras-electra squad ...` command line and calls
`keras_electra.cli.main` with it:

| SageMaker                                   | `pretrain` gets                | `squad` gets                  |
|---------------------------------------------|--------------------------------|-------------------------------|
| hyperparameters (`SM_HPS`, else the         | `--key value` each (values parsed as JSON data, never         |
| `hyperparameters.json` file)                | evaluated); `task` picks the command (default `pretrain`)      |
| `SM_HOSTS`, `SM_CURRENT_HOST` (>1 host)     | `TF_CONFIG` for MultiWorkerMirroredStrategy, unless set; with  |
|                                             | `KERAS_BACKEND=jax`: `JAX_COORDINATOR_ADDRESS` (first sorted   |
|                                             | host, port `KERAS_ELECTRA_JAX_PORT`, default 12345),           |
|                                             | `JAX_NUM_PROCESSES`, `JAX_PROCESS_ID` (the host's sorted index)|
| channel `training` (FSx mount or S3 prefix) | `--filesystem_prefix <path>`   | relative `train_file`,        |
|                                             |                                | `predict_file`,               |
|                                             |                                | `checkpoint_path`,            |
|                                             |                                | `vocab_file` joined to <path> |
| channel `train`                             | `--train_dir <path>`           | `--train_file <the .json>`    |
| channel `validation` (or `val`)             | `--val_dir <path>`             | `--predict_file <the .json>`  |
| channel `init` / `init_generator`           | `--init_from` /                | -                             |
|                                             | `--init_generator_from <path>` |                               |
| `/opt/ml/checkpoints` (synced to S3)        | `--checkpoint_dir` (spot       | -                             |
|                                             | restarts resume)               |                               |
| `SM_MODEL_DIR` (uploaded as model.tar.gz)   | `--export_dir` (final presets) | `--output_dir`                |
| `SM_OUTPUT_DATA_DIR`                        | `--log_dir <it>/logs`          | -                             |

Hyperparameters given explicitly win over these defaults, except that a channel
always sets the flag it maps to. SageMaker's own hyperparameters (`sagemaker_*`,
`model_dir`) are dropped.

Test hooks (environment): `KERAS_ELECTRA_CHECKPOINT_DIR` replaces
`/opt/ml/checkpoints`; `KERAS_ELECTRA_MWMS_PORT` (default 2222) is the port
every host listens on; `KERAS_ELECTRA_SM_HOST_PORTS`, a JSON object
`{"algo-1": "127.0.0.1:23456", ...}`, gives each host its own address (two
"hosts" on one machine). `TF_CONFIG` and `JAX_*` are built by
`keras_electra.training.distribute` (`tf_config_from_sagemaker`,
`jax_env_from_sagemaker`), the runtime setup the drivers use too.

Example (what an instance of a 2-node pretraining job runs):

>>> env = {"SM_HOSTS": '["algo-1", "algo-2"]', "SM_CURRENT_HOST": "algo-2",
...        "SM_HPS": '{"model_size": "small", "total_steps": 125000}',
...        "SM_CHANNEL_TRAINING": "/opt/ml/input/data/training",
...        "SM_MODEL_DIR": "/opt/ml/model"}
>>> plan = plan_from_environment(env)
>>> plan.argv[:5]
['pretrain', '--model_size', 'small', '--total_steps', '125000']
>>> plan.tf_config["task"]
{'type': 'worker', 'index': 1}
"""

import json
import os
import sys
from dataclasses import dataclass

from keras_electra.training import distribute

DEFAULT_CHECKPOINT_DIR = "/opt/ml/checkpoints"
DEFAULT_INPUT_CONFIG_DIR = "/opt/ml/input/config"
TASKS = ("pretrain", "squad")

# Per task: channel name -> (CLI flag, what the flag takes: a "dir" or the channel's "json" file).
# `training` is the AWS scripts' FSx channel: the whole file system.
CHANNEL_FLAGS = {
    "pretrain": {
        "training": ("--filesystem_prefix", "dir"),
        "train": ("--train_dir", "dir"),
        "validation": ("--val_dir", "dir"),
        "val": ("--val_dir", "dir"),
        # released weights to continue pretraining (`--init_from` / `--init_generator_from`)
        "init": ("--init_from", "dir"),
        "init_generator": ("--init_generator_from", "dir"),
    },
    "squad": {
        "train": ("--train_file", "json"),
        "validation": ("--predict_file", "json"),
        "val": ("--predict_file", "json"),
    },
}
# squad has no --filesystem_prefix: these path hyperparameters are taken relative to
# channel `training` instead (the AWS layout {prefix}/squad_data/train-v2.0.json).
SQUAD_PATH_HYPERPARAMETERS = ("train_file", "predict_file", "checkpoint_path", "vocab_file")
# Per task: where SM_MODEL_DIR, the checkpoints and the logs go (None: not supported).
OUTPUT_FLAGS = {
    "pretrain": {"model": "--export_dir", "checkpoint": "--checkpoint_dir", "log": "--log_dir"},
    "squad": {"model": "--output_dir", "checkpoint": None, "log": None},
}
# Hyperparameters that SageMaker adds for itself; never forwarded.
_SAGEMAKER_OWN = ("model_dir",)
_TASK_KEYS = ("task", "job")


def parse_hyperparameter_value(value):
    """Decode one hyperparameter as JSON data; anything else stays the raw string.

    Never evaluates code: `json.loads` only builds numbers, strings, booleans,
    null, lists and dicts.

    Example:

    >>> parse_hyperparameter_value('"small"'), parse_hyperparameter_value("2e-3")
    ('small', 0.002)
    >>> parse_hyperparameter_value("__import__('os').system('x')")
    "__import__('os').system('x')"
    """
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def read_hyperparameters(env):
    """The job's hyperparameters as a dict of decoded values.

    Reads `SM_HPS` (a JSON object, as the SageMaker training toolkit exports it),
    else `<SM_INPUT_CONFIG_DIR>/hyperparameters.json` (what SageMaker writes; the
    SDK JSON-encodes each value), else returns `{}`. Each value goes through
    `parse_hyperparameter_value`.
    """
    if env.get("SM_HPS"):
        source = "SM_HPS"
        try:
            raw = json.loads(env["SM_HPS"])
        except ValueError as error:
            raise ValueError(f"SM_HPS is not valid JSON ({error}): {env['SM_HPS'][:200]!r}")
    else:
        path = os.path.join(
            env.get("SM_INPUT_CONFIG_DIR", DEFAULT_INPUT_CONFIG_DIR), "hyperparameters.json"
        )
        if not os.path.exists(path):
            return {}
        source = path
        with open(path, encoding="utf-8") as handle:
            try:
                raw = json.load(handle)
            except ValueError as error:
                raise ValueError(f"{path} is not valid JSON: {error}")
    if not isinstance(raw, dict):
        raise ValueError(f"{source} must hold a JSON object of hyperparameters, got {raw!r:.200}")
    return {str(key): parse_hyperparameter_value(value) for key, value in raw.items()}


def _flag_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def hyperparameters_to_argv(hps):
    """`--key value` pairs for every forwarded hyperparameter (insertion order).

    Booleans become `true`/`false` (the AWS scripts' convention), lists and dicts
    JSON text, `None` is dropped. SageMaker's own keys (`sagemaker_*`,
    `model_dir`) and the task selector (`task`, `job`) are not forwarded.

    Example:

    >>> hyperparameters_to_argv({"model_size": "small", "skip_xla": True,
    ...                          "sagemaker_program": "x.py", "name": None})
    ['--model_size', 'small', '--skip_xla', 'true']
    """
    argv = []
    for key, value in hps.items():
        if value is None or key in _TASK_KEYS or key in _SAGEMAKER_OWN:
            continue
        if key.startswith("sagemaker_"):
            continue
        flag = key if key.startswith("--") else f"--{key}"
        argv += [flag, _flag_value(value)]
    return argv


def select_task(hps):
    """The CLI command named by hyperparameter `task` (or `job`); `pretrain` by default."""
    for key in _TASK_KEYS:
        if hps.get(key) not in (None, ""):
            task = str(hps[key])
            if task not in TASKS:
                raise ValueError(
                    f"hyperparameter {key}={task!r} is not a task; use one of {', '.join(TASKS)}"
                )
            return task
    return "pretrain"


def _channel_json(path, name):
    files = sorted(f for f in os.listdir(path) if f.endswith(".json")) if os.path.isdir(path) \
        else []
    if len(files) != 1:
        raise ValueError(
            f"channel {name!r} ({path}) must hold exactly one .json SQuAD file, found "
            f"{files or 'none'}; send a prefix with just that file"
        )
    return os.path.join(path, files[0])


def channel_args(env, task="pretrain"):
    """CLI flags for the job's input channels (`SM_CHANNEL_<NAME>` variables).

    Example:

    >>> channel_args({"SM_CHANNEL_TRAIN": "/opt/ml/input/data/train",
    ...               "SM_CHANNEL_VALIDATION": "/opt/ml/input/data/validation"})
    ['--train_dir', '/opt/ml/input/data/train', '--val_dir', '/opt/ml/input/data/validation']
    """
    argv = []
    seen = {}
    for name, (flag, kind) in CHANNEL_FLAGS[task].items():
        path = env.get(f"SM_CHANNEL_{name.upper()}")
        if not path:
            continue
        if flag in seen:
            raise ValueError(
                f"channels {seen[flag]!r} and {name!r} both map to {flag}; send only one of them"
            )
        seen[flag] = name
        argv += [flag, _channel_json(path, name) if kind == "json" else path]
    return argv


def squad_paths_under_channel(hps, env):
    """For `squad`: relative path hyperparameters joined to channel `training`, if there is one."""
    root = env.get("SM_CHANNEL_TRAINING")
    if not root:
        return dict(hps)
    joined = dict(hps)
    for key in SQUAD_PATH_HYPERPARAMETERS:
        value = joined.get(key)
        if isinstance(value, str) and value and not os.path.isabs(value):
            joined[key] = os.path.join(root, value)
    return joined


@dataclass
class EntryPointPlan:
    """What the entry point will do: the CLI argv and the TF_CONFIG or JAX_* to export."""

    argv: list
    tf_config: dict = None
    jax_env: dict = None


def build_cli_argv(hps, env):
    """The full `keras_electra.cli.main` argv for these hyperparameters and environment."""
    task = select_task(hps)
    if task == "squad":
        hps = squad_paths_under_channel(hps, env)
    from_channels = channel_args(env, task)
    channel_flags = set(from_channels[0::2])
    forwarded = {k: v for k, v in hps.items() if f"--{k.lstrip('-')}" not in channel_flags}
    argv = [task] + hyperparameters_to_argv(forwarded) + from_channels
    given = set(argv[1::2])

    def default(flag, value):
        if flag and value and flag not in given:
            argv.extend([flag, value])

    outputs = OUTPUT_FLAGS[task]
    default(
        outputs["checkpoint"],
        env.get("KERAS_ELECTRA_CHECKPOINT_DIR") or DEFAULT_CHECKPOINT_DIR,
    )
    default(outputs["model"], env.get("SM_MODEL_DIR"))
    if env.get("SM_OUTPUT_DATA_DIR"):
        default(outputs["log"], os.path.join(env["SM_OUTPUT_DATA_DIR"], "logs"))
    return argv


def plan_from_environment(env):
    """Everything the entry point decides, from an environment mapping (pure; for tests)."""
    hps = read_hyperparameters(env)
    argv = build_cli_argv(hps, env)
    if env.get("KERAS_BACKEND", "tensorflow") == "jax":
        jax_env = (None if env.get("JAX_COORDINATOR_ADDRESS")
                   else distribute.jax_env_from_sagemaker(env))
        return EntryPointPlan(argv=argv, jax_env=jax_env)
    tf_config = None if env.get("TF_CONFIG") else distribute.tf_config_from_sagemaker(env)
    return EntryPointPlan(argv=argv, tf_config=tf_config)


def main(environ=None):
    """Run the job: export TF_CONFIG (or JAX_*) if needed, then `keras_electra.cli.main(argv)`."""
    environ = os.environ if environ is None else environ
    plan = plan_from_environment(dict(environ))
    if plan.tf_config is not None:
        os.environ["TF_CONFIG"] = json.dumps(plan.tf_config)
    os.environ.update(plan.jax_env or {})
    cluster = (f"TF_CONFIG={os.environ.get('TF_CONFIG', '')}"
               if os.environ.get("KERAS_BACKEND", "tensorflow") != "jax" else
               " ".join(f"{k}={os.environ.get(k, '')}" for k in (
                   "JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID")))
    print(
        "keras-electra sagemaker entry point: "
        f"host={environ.get('SM_CURRENT_HOST', '?')} hosts={environ.get('SM_HOSTS', '?')} "
        f"gpus={environ.get('SM_NUM_GPUS', '?')} backend="
        f"{os.environ.get('KERAS_BACKEND', 'tensorflow')} {cluster}",
        flush=True,
    )
    print("keras-electra " + " ".join(plan.argv), flush=True)
    from keras_electra import cli

    return cli.main(plan.argv)


if __name__ == "__main__":
    sys.exit(main())

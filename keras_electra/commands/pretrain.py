"""`keras-electra pretrain`: ELECTRA pretraining with the AWS scripts' flag names.

A thin layer over `keras_electra.training.pretrain.pretrain` (usable from a
notebook with the same keys). Every option can also come from `--config
FILE` (YAML or JSON); flags given on the command line win over the file.
"""

import argparse
import logging
import sys

EPILOG = """\
example (the AWS scripts' README run, scaled down):
  keras-electra pretrain --train_dir shards/train --val_dir shards/val \\
    --model_type electra --model_size tiny --load_from scratch \\
    --hidden_dropout_prob 0.1 --attention_probs_dropout_prob 0.1 \\
    --checkpoint_frequency 10 --per_gpu_batch_size 8 --max_seq_length 128 \\
    --learning_rate 2e-3 --end_learning_rate 4e-4 --weight_decay 0.01 \\
    --warmup_steps 2 --validation_frequency 10 --total_steps 20 --log_frequency 5

continue pretraining released weights (README "Continue pretraining on your domain"):
  keras-electra pretrain --train_dir shards/train --max_seq_length 128 \\
    --init_from electra-small-discriminator --init_generator_from electra-small-generator

Re-running the same command after an interruption resumes from the newest checkpoint
in --checkpoint_dir (weights, optimizer, step, random streams, data position).
Multi-worker: set TF_CONFIG (or SageMaker's SM_HOSTS/SM_CURRENT_HOST) on every worker.
"""


def register(subparsers):
    from keras_electra.training.config import PretrainConfig
    from keras_electra.utils.cli_options import add_dataclass_options

    parser = subparsers.add_parser(
        "pretrain",
        help="pretrain an ELECTRA generator + discriminator (AWS scripts' flags)",
        description=(
            "Pretrain ELECTRA with replaced-token detection on TFRecord shards, on one "
            "device, several GPUs (MirroredStrategy) or several workers "
            "(MultiWorkerMirroredStrategy from TF_CONFIG / SM_HOSTS). Checkpoints are "
            "atomic and resume step-exactly; discriminator and generator presets are "
            "exported as {run_name}-step{N}-discriminator|generator."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_dataclass_options(parser, PretrainConfig)
    parser.set_defaults(func=run)


def run(args):
    from keras_electra.training.callbacks import NonFiniteLossError
    from keras_electra.training.config import config_from_args

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    # configuration, data and checkpoint errors are `UserError`s: `cli.main` prints them (exit 2)
    config = config_from_args(args)
    from keras_electra.training.pretrain import pretrain  # validates `config` first, once

    try:
        result = pretrain(config)
    except NonFiniteLossError as error:  # a training failure, not a user error: exit 1
        print(f"keras-electra pretrain: error: {error}", file=sys.stderr)
        return 1
    presets = (f"presets {result.discriminator_preset}, {result.generator_preset}"
               if result.discriminator_preset else "presets written by process 0")
    print(f"run {result.run_name}: step {result.step} in {result.seconds:.1f}s; "
          f"checkpoint {result.checkpoint_path}; {presets}; logs {result.log_dir}")
    return 0

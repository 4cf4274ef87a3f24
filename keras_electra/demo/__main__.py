"""`python -m keras_electra.demo`: parse the arguments, size the run, run the pipeline."""

import os
import sys

from keras_electra.demo.settings import DemoSettings, parse_args


def main(argv=None):
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    settings = DemoSettings.quick() if args.quick else DemoSettings()
    if args.steps is not None:
        settings.pretrain_steps = args.steps
    if args.vocab_size is not None:
        settings.vocab_size = args.vocab_size
    from keras_electra.demo.pipeline import run_pipeline

    return run_pipeline(args, settings)


if __name__ == "__main__":
    sys.exit(main())

"""`python -m keras_electra.demo`: parse the arguments, size the run, run the pipeline."""

import os
import sys

from keras_electra.demo.settings import DemoSettings, parse_args

DEPENDENCIES = {"matplotlib": "the report's plots"}  # beyond the runtime requirements


def missing_dependencies():
    """One line naming what the demo needs and lacks ("" when all is there)."""
    import importlib.util

    missing = [name for name in DEPENDENCIES if importlib.util.find_spec(name) is None]
    if not missing:
        return ""
    needs = ", ".join(f"{name} ({DEPENDENCIES[name]})" for name in missing)
    return (f"keras_electra.demo needs {needs}: pip install 'keras-electra[demo]' (or "
            f"pip install {' '.join(missing)}), then run it again")


def main(argv=None):
    args = parse_args(argv)
    missing = missing_dependencies()  # before minutes of pretraining, not after
    if missing:
        print(f"error: {missing}", file=sys.stderr)
        return 2
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

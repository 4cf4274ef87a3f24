"""`keras-electra glue`: fine-tune and evaluate a text classifier on a GLUE task or your own
CSV/TSV/JSONL files. The options are the fields of
`keras_electra.training.glue_config.GlueConfig`."""


def register(subparsers):
    from keras_electra.training.glue_config import GlueConfig
    from keras_electra.utils.cli_options import add_dataclass_options

    parser = subparsers.add_parser(
        "glue",
        help="fine-tune ELECTRA on a GLUE task (or your own labelled text) and evaluate",
        description=(
            "Fine-tunes an ElectraTextClassifier on --task's train.tsv in --data_dir (GLUE's "
            "layout, as the GLUE download script writes it) or on --train_file, evaluates on "
            "dev (MNLI: matched and mismatched) and writes OUTPUT_DIR/eval.json (CoLA: "
            "Matthews correlation; STS-B: Pearson, Spearman; MRPC, QQP: F1, accuracy; the "
            "rest: accuracy), OUTPUT_DIR/dev_predictions.tsv and the model (OUTPUT_DIR/model, "
            "a preset for `keras-electra export`). Defaults are google-research/electra's."
        ),
    )
    add_dataclass_options(parser, GlueConfig)
    # ValueError: flags or a model that do not fit the data (raised before training);
    # OSError: h5py cannot read a damaged weights file
    parser.set_defaults(func=run, user_errors=(ValueError, OSError))


def run(args):
    import logging

    from keras_electra.training.glue import run_glue
    from keras_electra.training.glue_config import GlueConfig
    from keras_electra.utils.cli_options import options_from_args

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    result = run_glue(GlueConfig(**options_from_args(args, GlueConfig)))
    for name, path in sorted(result["paths"].items()):
        print(f"wrote {name}: {path}")
    return 0

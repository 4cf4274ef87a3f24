"""`keras-electra glue`: fine-tune and evaluate a text classifier on a GLUE task or your own
CSV/TSV/JSONL files. The options are the fields of
`keras_electra.training.glue_config.GlueConfig`."""


def register(subparsers):
    from keras_electra.commands._config_command import register_config_command
    from keras_electra.training.glue_config import GlueConfig

    register_config_command(
        subparsers, "glue", GlueConfig, run,
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


def run(args):
    from keras_electra.commands._config_command import run_config_command
    from keras_electra.training.glue import run_glue
    from keras_electra.training.glue_config import GlueConfig

    return run_config_command(args, GlueConfig, run_glue)

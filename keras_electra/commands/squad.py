"""`keras-electra squad`: fine-tune on SQuAD, predict, evaluate (AWS scripts' flags).

The options are the fields of `keras_electra.training.squad_config.SquadConfig`.
"""


def register(subparsers):
    from keras_electra.training.squad_config import SquadConfig
    from keras_electra.utils.cli_options import add_dataclass_options

    parser = subparsers.add_parser(
        "squad",
        help="fine-tune ELECTRA on SQuAD v1.1/v2.0, write predictions, evaluate",
        description=(
            "Fine-tunes an ElectraQuestionAnswerer on --train_file, predicts --predict_file and "
            "runs the official evaluation. Writes predictions.json, null_odds.json, "
            "non_null_predictions.json, nbest.json, eval.json and the fine-tuned model "
            "(OUTPUT_DIR/model, a preset for `keras-electra answer`)."
        ),
    )
    add_dataclass_options(parser, SquadConfig)
    # ValueError: flags that do not fit together or a model/vocabulary that does not fit the
    # data (raised before training starts); OSError: h5py cannot read a damaged weights file
    parser.set_defaults(func=run, user_errors=(ValueError, OSError))


def run(args):
    import logging

    from keras_electra.training.finetune import run_squad
    from keras_electra.training.squad_config import SquadConfig
    from keras_electra.utils.cli_options import options_from_args

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    result = run_squad(SquadConfig(**options_from_args(args, SquadConfig)))
    for name, path in sorted(result["paths"].items()):
        print(f"wrote {name}: {path}")
    return 0

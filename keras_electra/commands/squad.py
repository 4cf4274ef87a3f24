"""`keras-electra squad`: fine-tune on SQuAD, predict, evaluate (AWS scripts' flags).

The options are the fields of `keras_electra.training.squad_config.SquadConfig`.
"""


def register(subparsers):
    from keras_electra.commands._config_command import register_config_command
    from keras_electra.training.squad_config import SquadConfig

    register_config_command(
        subparsers, "squad", SquadConfig, run,
        help="fine-tune ELECTRA on SQuAD v1.1/v2.0, write predictions, evaluate",
        description=(
            "Fine-tunes an ElectraQuestionAnswerer on --train_file, predicts --predict_file and "
            "runs the official evaluation. Writes predictions.json, null_odds.json, "
            "non_null_predictions.json, nbest.json, eval.json and the fine-tuned model "
            "(OUTPUT_DIR/model, a preset for `keras-electra answer`)."
        ),
    )


def run(args):
    from keras_electra.commands._config_command import run_config_command
    from keras_electra.training.finetune import run_squad
    from keras_electra.training.squad_config import SquadConfig

    return run_config_command(args, SquadConfig, run_squad)

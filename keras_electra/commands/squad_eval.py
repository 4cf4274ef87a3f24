"""`keras-electra squad-eval`: the official SQuAD v2.0 / v1.1 evaluation."""

import json
import sys


def register(subparsers):
    from keras_electra.utils.cli_options import add_option

    parser = subparsers.add_parser(
        "squad-eval",
        help="official SQuAD v2.0 (or v1.1) evaluation of a predictions file",
        description=(
            "Official SQuAD evaluation. Prints the official keys as JSON: exact, f1, "
            "total, HasAns_*, NoAns_*, and with --na_prob_file best_exact, "
            "best_exact_thresh, best_f1, best_f1_thresh. A v1.1 data file prints "
            "exact_match and f1."
        ),
    )
    parser.add_argument("data_file", metavar="DATA.json", help="SQuAD data file")
    parser.add_argument("pred_file", metavar="PREDICTIONS.json", help="{qid: answer text}")
    add_option(parser, "--na_prob_file", "-n", aliases=["--na-prob-file"],
               metavar="NULL_ODDS.json", default=None,
               help="{qid: null odds}; enables best_* threshold search")
    add_option(parser, "--na_prob_thresh", "-t", aliases=["--na-prob-thresh"], type=float,
               default=1.0, help='predict "" where null odds exceed this (default 1.0)')
    add_option(parser, "--out_file", "-o", aliases=["--out-file"], default=None,
               help="write the JSON here too")
    # ValueError: non-finite null odds (`check_null_odds`)
    parser.set_defaults(func=run, preflight=_check_outputs, user_errors=(ValueError,),
                        needs_tensorflow=False)


def _check_outputs(args):
    """--out_file: writable, and none of the files it reads."""
    from keras_electra.utils.output_dirs import check_output_file, check_output_not_input

    check_output_file(args.out_file, "--out_file")
    check_output_not_input(args.out_file, [("DATA.json", args.data_file),
                                           ("PREDICTIONS.json", args.pred_file),
                                           ("--na_prob_file", args.na_prob_file)],
                           "--out_file", "evaluation")


def squad_eval(data_file, pred_file, na_prob_file=None, na_prob_thresh=1.0):
    """Python API behind the command: returns the official result dict.

    Raises:
        InputFileError: a file is missing, truncated, not UTF-8 or not JSON, or not of the
            expected shape (the message names it).
        ValueError: a value in `na_prob_file` is NaN, Inf or not a number (the message names
            the file and the first such question id).
    """
    from keras_electra.squad.metrics import check_null_odds, evaluate
    from keras_electra.utils.errors import InputFileError, read_json_file

    dataset = read_json_file(data_file, "SQuAD data file")
    if not isinstance(dataset, dict) or not isinstance(dataset.get("data"), list):
        raise InputFileError(f"{data_file}: no top-level 'data' list; is this a SQuAD .json "
                             "file (e.g. dev-v2.0.json)?")
    predictions = read_json_file(pred_file, "predictions file")
    if not isinstance(predictions, dict) or not all(
            isinstance(v, str) for v in predictions.values()):
        raise InputFileError(f"{pred_file}: predictions must be a JSON object {{question id: "
                             "answer text}} (as `keras-electra squad` writes predictions.json)")
    na_probs = None
    if na_prob_file:
        # NaN/Inf are let through here: check_null_odds counts and names them
        na_probs = read_json_file(na_prob_file, "null odds file", finite_only=False)
        check_null_odds(na_probs, na_prob_file)
        missing = [k for k in predictions if k not in na_probs]
        if missing:
            raise InputFileError(
                f"{na_prob_file}: lacks null odds for {len(missing)} predicted question(s), "
                f"e.g. {missing[0]}; pass the null_odds.json written with {pred_file}"
            )
    return evaluate(dataset, predictions, na_probs=na_probs, na_prob_thresh=na_prob_thresh)


def run(args):
    result = squad_eval(args.data_file, args.pred_file, args.na_prob_file, args.na_prob_thresh)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out_file:
        from keras_electra.utils.output_dirs import write_file_atomically

        write_file_atomically(args.out_file, text + "\n")
    sys.stdout.flush()
    return 0

"""`keras-electra squad-eval`: the official SQuAD v2.0 / v1.1 evaluation."""

import json
import sys


def register(subparsers):
    parser = subparsers.add_parser(
        "squad-eval",
        help="official SQuAD v2.0 (or v1.1) evaluation of a predictions file",
        description=(
            "Official SQuAD evaluation. Prints the official keys as JSON: exact, f1, "
            "total, HasAns_*, NoAns_*, and with --na-prob-file best_exact, "
            "best_exact_thresh, best_f1, best_f1_thresh. A v1.1 data file prints "
            "exact_match and f1."
        ),
    )
    parser.add_argument("data_file", metavar="DATA.json", help="SQuAD data file")
    parser.add_argument("pred_file", metavar="PREDICTIONS.json", help="{qid: answer text}")
    parser.add_argument("--na-prob-file", "-n", metavar="NULL_ODDS.json", default=None,
                        help="{qid: null odds}; enables best_* threshold search")
    parser.add_argument("--na-prob-thresh", "-t", type=float, default=1.0,
                        help='predict "" where null odds exceed this (default 1.0)')
    parser.add_argument("--out-file", "-o", default=None, help="write the JSON here too")
    parser.set_defaults(func=run)


def _load_json(path, what):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise SystemExit(f"squad-eval: {what} file not found: {path}")
    except json.JSONDecodeError as e:
        raise SystemExit(f"squad-eval: {what} file {path} is not valid JSON: {e}")


def squad_eval(data_file, pred_file, na_prob_file=None, na_prob_thresh=1.0):
    """Python API behind the command: returns the official result dict.

    Raises:
        ValueError: a value in `na_prob_file` is NaN, Inf or not a number (the message names
            the file and the first such question id).
    """
    from keras_electra.squad.metrics import check_null_odds, evaluate

    dataset = _load_json(data_file, "data")
    if not isinstance(dataset, dict) or "data" not in dataset:
        raise SystemExit(f"squad-eval: {data_file} has no top-level 'data' list")
    predictions = _load_json(pred_file, "predictions")
    na_probs = _load_json(na_prob_file, "null odds") if na_prob_file else None
    if na_probs is not None:
        check_null_odds(na_probs, na_prob_file)
        missing = [k for k in predictions if k not in na_probs]
        if missing:
            raise SystemExit(
                f"squad-eval: {na_prob_file} lacks null odds for {len(missing)} predicted "
                f"question(s), e.g. {missing[0]}"
            )
    return evaluate(dataset, predictions, na_probs=na_probs, na_prob_thresh=na_prob_thresh)


def run(args):
    try:
        result = squad_eval(args.data_file, args.pred_file, args.na_prob_file,
                            args.na_prob_thresh)
    except ValueError as error:
        print(f"keras-electra squad-eval: error: {error}", file=sys.stderr)
        return 2
    text = json.dumps(result, indent=2)
    print(text)
    if args.out_file:
        with open(args.out_file, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    sys.stdout.flush()
    return 0

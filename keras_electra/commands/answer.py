"""`keras-electra answer`: answer questions about contexts with a fine-tuned model.

One question (`--question` with `--context` or `--context_file`), or many in batches
(`--input questions.jsonl --output answers.jsonl`).
"""

import json
import sys


def register(subparsers):
    parser = subparsers.add_parser(
        "answer",
        help="answer questions about contexts with a fine-tuned QA model",
        description=(
            "Prints the answer (its text built as G's SQuAD post-processing builds it; "
            "--whole_words for whole words of --context) with its score, or "
            "'no answer' when the null decision says so. With --input, answers every line of "
            "a JSON-lines file ({\"question\": ..., \"context\": ..., optional \"id\"}) in "
            "batches and writes one JSON line per question (its id and the full result) to "
            "--output (default: stdout)."
        ),
    )
    parser.add_argument("--model", required=True,
                        help="fine-tuned QA preset (keras-electra squad OUTPUT_DIR/model) or "
                             "an HF ElectraForQuestionAnswering dir")
    parser.add_argument("--question", help="the question (one-question form)")
    context = parser.add_mutually_exclusive_group()
    context.add_argument("--context", help="the passage text")
    context.add_argument("--context_file", help="read the passage from this file")
    parser.add_argument("--input", help="JSON lines of {\"question\", \"context\"[, \"id\"]} "
                                        "(batched form)")
    parser.add_argument("--output", help="with --input: write the answers here (JSON lines; "
                                         "default stdout)")
    parser.add_argument("--batch_size", type=int, default=32,
                        help="with --input: windows per model call (default 32)")
    parser.add_argument("--vocab_file", default=None, help="if the model dir has no vocab")
    parser.add_argument("--max_seq_length", type=int, default=None)
    parser.add_argument("--null_threshold", type=float, default=None,
                        help="default: electra head -2.75, simple head 0.0")
    parser.add_argument("--whole_words", action="store_true",
                        help="widen each answer to the whole words it touches (exact context "
                             "characters); default: G's text, which may start or end inside "
                             "a word")
    parser.add_argument("--json", action="store_true", help="print the full result as JSON")
    parser.add_argument("--no_progress", action="store_true", help="no progress bars")
    # ValueError: not a QA model, or a vocabulary that does not fit it; OSError: h5py cannot
    # read a damaged weights file
    parser.set_defaults(func=run, preflight=_preflight, user_errors=(ValueError, OSError))


def _preflight(args):
    """The flags and the whole questions file, before TensorFlow or the model is loaded."""
    _check(args)
    if args.input:
        args.questions = read_questions(args.input)


def read_questions(path):
    """`(ids, pairs)` from a JSON-lines file; `InputFileError` naming the file and line."""
    from keras_electra.utils.errors import InputFileError, read_text_file

    ids, pairs, lines = [], [], {}
    for number, line in enumerate(read_text_file(path, "questions file (JSON lines)")
                                  .splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as error:
            raise InputFileError(f"{path}: line {number}: not valid JSON ({error.msg}); each "
                                 "line must be one object {\"question\": ..., \"context\": ...}"
                                 ) from None
        if not isinstance(item, dict) or not all(
                isinstance(item.get(k), str) and item[k].strip() for k in ("question", "context")):
            raise InputFileError(f"{path}: line {number}: needs non-empty string fields "
                                 "\"question\" and \"context\"")
        identifier = str(item.get("id", len(ids)))
        if identifier in lines:  # one answer line per question: ids must tell them apart
            raise InputFileError(
                f"{path}: line {number}: id {identifier!r} is also the id of line "
                f"{lines[identifier]}; each question needs its own id (answers are written "
                "one line per question, keyed by id)")
        lines[identifier] = number
        ids.append(identifier)
        pairs.append((item["question"], item["context"]))
    if not pairs:
        raise InputFileError(f"{path}: no questions (one JSON object per line)")
    return ids, pairs


def _check(args):
    from keras_electra.utils.errors import UserError

    single = args.question is not None or args.context is not None or args.context_file
    if args.input and single:
        raise UserError("give either --input (many questions) or --question with --context / "
                        "--context_file (one), not both")
    if not args.input and not (args.question and (args.context or args.context_file)):
        raise UserError("give --question and --context (or --context_file), or --input "
                        "questions.jsonl")
    if args.output and not args.input:
        raise UserError("--output goes with --input")
    if args.batch_size < 1:
        raise UserError(f"--batch_size {args.batch_size}: must be a positive integer")
    from keras_electra.utils.output_dirs import check_output_file, check_output_not_input

    check_output_file(args.output, "--output")
    check_output_not_input(args.output, [("--input", args.input), ("--model", args.model),
                                         ("--vocab_file", args.vocab_file)],
                           "--output", "answers")


def run(args):
    from keras_electra.squad.answering import answer_question, answer_questions
    from keras_electra.squad.loading import load_question_answerer
    from keras_electra.utils.errors import read_text_file

    _check(args)
    ids = pairs = None
    if args.input:  # read and check the whole file before the model is loaded
        ids, pairs = getattr(args, "questions", None) or read_questions(args.input)
    context = args.context
    if args.context_file:
        context = read_text_file(args.context_file, "context file")
    task = load_question_answerer(args.model, vocab_file=args.vocab_file,
                                  max_seq_length=args.max_seq_length)
    if args.input:
        results = answer_questions(task, pairs, batch_size=args.batch_size,
                                   null_threshold=args.null_threshold,
                                   progress=not args.no_progress,
                                   whole_words=args.whole_words)
        if len(results) != len(ids):  # one answer per question, in order
            raise RuntimeError(f"{len(results)} answers for {len(ids)} questions")
        lines = "".join(json.dumps({"id": i, **r}, ensure_ascii=False) + "\n"
                        for i, r in zip(ids, results))
        if args.output:
            from keras_electra.utils.output_dirs import write_file_atomically

            write_file_atomically(args.output, lines)
            print(f"wrote {len(results)} answers to {args.output}", file=sys.stderr)
        else:
            sys.stdout.write(lines)
        return 0
    result = answer_question(task, args.question, context, null_threshold=args.null_threshold,
                             whole_words=args.whole_words)
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    elif result["answer"]:
        print(f"{result['answer']}\t(score {result['score']:.4f}, null odds "
              f"{result['null_odds']:.4f}, characters {result['char_start']}-"
              f"{result['char_end']})")
    else:
        print(f"no answer\t(null odds {result['null_odds']:.4f} > threshold "
              f"{result['null_threshold']}; best span {result['best_span']!r}, score "
              f"{result['score']:.4f})")
    return 0

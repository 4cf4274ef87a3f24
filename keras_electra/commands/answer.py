"""`keras-electra answer`: answer one question about a context with a fine-tuned model."""

import json


def register(subparsers):
    parser = subparsers.add_parser(
        "answer",
        help="answer a question about a context with a fine-tuned QA model",
        description=(
            "Prints the answer span (exact characters of --context) with its score, or "
            "'no answer' when the null decision says so."
        ),
    )
    parser.add_argument("--model", required=True,
                        help="fine-tuned QA preset (keras-electra squad OUTPUT_DIR/model) or "
                             "an HF ElectraForQuestionAnswering dir")
    parser.add_argument("--question", required=True)
    context = parser.add_mutually_exclusive_group(required=True)
    context.add_argument("--context", help="the passage text")
    context.add_argument("--context_file", help="read the passage from this file")
    parser.add_argument("--vocab_file", default=None, help="if the model dir has no vocab")
    parser.add_argument("--max_seq_length", type=int, default=None)
    parser.add_argument("--null_threshold", type=float, default=None,
                        help="default: electra head -2.75, simple head 0.0")
    parser.add_argument("--json", action="store_true", help="print the full result as JSON")
    # ValueError: not a QA model, or a vocabulary that does not fit it; OSError: h5py cannot
    # read a damaged weights file
    parser.set_defaults(func=run, user_errors=(ValueError, OSError))


def run(args):
    from keras_electra.training.finetune import answer_question, load_question_answerer
    from keras_electra.utils.errors import read_text_file

    context = args.context
    if args.context_file:
        context = read_text_file(args.context_file, "context file")
    task = load_question_answerer(args.model, vocab_file=args.vocab_file,
                                  max_seq_length=args.max_seq_length)
    result = answer_question(task, args.question, context, null_threshold=args.null_threshold)
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

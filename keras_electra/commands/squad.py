"""`keras-electra squad`: fine-tune on SQuAD, predict, evaluate (AWS scripts' flags)."""


def register(subparsers):
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
    add = parser.add_argument
    add("--train_file", help="SQuAD training JSON")
    add("--predict_file", help="SQuAD JSON to predict and evaluate (e.g. dev-v2.0.json)")
    add("--output_dir", required=True, help="where predictions, eval.json and the model go")
    add("--squad_version", choices=["squadv1", "squadv2"], default=None,
        help="expected file version (default: read from the file)")
    add("--load_from", choices=["scratch", "checkpoint"], default="scratch",
        help="random init (scratch) or --checkpoint_path")
    add("--checkpoint_path", help="preset dir: our pretraining/QA export, keras-hub or HF dir")
    add("--model_size", "--preset", dest="preset", default="electra_small",
        help="architecture preset for --load_from scratch (electra_tiny, electra_small, ...)")
    add("--vocab_file", help="WordPiece vocab.txt (needed when the checkpoint has none)")
    add("--head", choices=["electra", "simple"], default="electra",
        help="electra: G's joint beam + answerability head; simple: HF qa_outputs")
    add("--per_gpu_batch_size", type=int, default=32, help="batch per replica (G 32)")
    add("--predict_batch_size", type=int, default=None)
    add("--learning_rate", type=float, default=1e-4, help="peak lr (G 1e-4; small: 3e-4)")
    add("--warmup_steps", type=int, default=None, help="default 10%% of the total steps")
    add("--warmup_proportion", type=float, default=0.1)
    add("--total_steps", type=int, default=None, help="default: epochs x features / batch")
    add("--epochs", type=float, default=2.0, help="G: 2 for SQuAD")
    add("--max_seq_length", "--max_seq_len", dest="max_seq_length", type=int, default=384,
        help="G 512, A/HF 384")
    add("--doc_stride", type=int, default=128)
    add("--max_query_length", type=int, default=64)
    add("--layerwise_lr_decay", type=float, default=0.8, help="G: 0.8 (large: 0.9)")
    add("--weight_decay", type=float, default=0.01)
    add("--optimizer", choices=["adamw", "electra_adam"], default="adamw")
    add("--dropout", type=float, default=None, help="override the backbone dropout")
    add("--null_threshold", type=float, default=None,
        help="null-odds threshold (default: electra -2.75, simple 0.0)")
    add("--lenient", action="store_true", help="skip malformed questions instead of failing")
    add("--seed", type=int, default=0)
    # ValueError: flags that do not fit together or a model/vocabulary that does not fit the
    # data (raised before training starts); OSError: h5py cannot read a damaged weights file
    parser.set_defaults(func=run, user_errors=(ValueError, OSError))


def run(args):
    import logging

    from keras_electra.training.finetune import run_squad

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    result = run_squad(
        output_dir=args.output_dir, train_file=args.train_file, predict_file=args.predict_file,
        squad_version=args.squad_version, load_from=args.load_from,
        checkpoint_path=args.checkpoint_path, preset=args.preset, vocab_file=args.vocab_file,
        head=args.head, per_gpu_batch_size=args.per_gpu_batch_size,
        predict_batch_size=args.predict_batch_size, learning_rate=args.learning_rate,
        warmup_steps=args.warmup_steps, warmup_proportion=args.warmup_proportion,
        total_steps=args.total_steps, epochs=args.epochs, max_seq_length=args.max_seq_length,
        doc_stride=args.doc_stride, max_query_length=args.max_query_length,
        layerwise_lr_decay=args.layerwise_lr_decay, weight_decay=args.weight_decay,
        optimizer=args.optimizer, dropout=args.dropout, null_threshold=args.null_threshold,
        lenient=args.lenient, seed=args.seed,
    )
    for name, path in sorted(result["paths"].items()):
        print(f"wrote {name}: {path}")
    return 0

"""`keras-electra export`: our preset -> an HF transformers directory, or a fine-tuned QA model
-> a TensorFlow SavedModel with a raw-string serving signature."""


def register(subparsers):
    from keras_electra.utils.cli_options import add_option

    parser = subparsers.add_parser(
        "export",
        help="export a preset to a Hugging Face transformers directory (with its heads) or "
             "a keras-hub preset, or a fine-tuned QA model to a TensorFlow SavedModel for "
             "serving",
        description=(
            "--to hf: write config.json + model.safetensors (+ vocab.txt) that transformers' "
            "from_pretrained loads, with the heads the preset holds: a fine-tuned QA model "
            "(keras-electra squad OUTPUT_DIR/model, --head simple) -> "
            "ElectraForQuestionAnswering; a pretraining discriminator / generator preset "
            "(ckpt/presets/*-discriminator, *-generator) -> ElectraForPreTraining / "
            "ElectraForMaskedLM; a whole pretrainer preset -> the pair, OUT_DIR/discriminator "
            "and OUT_DIR/generator (as google releases ELECTRA); a backbone without heads -> "
            "ElectraModel. G's QA head (--head electra) has no HF class and is refused (use "
            "--to saved_model). --model_class picks the class; the head it needs must be in "
            "the preset (ElectraModel: the encoder alone). "
            "--to keras-hub: write a preset that keras-hub's own ElectraBackbone and "
            "ElectraTokenizer.from_preset load (heads are not part of it). "
            "--to saved_model: PRESET is a fine-tuned QA model (keras-electra squad "
            "OUTPUT_DIR/model); writes a SavedModel whose serving_default signature takes "
            "question and context strings and returns per-window logits, token character "
            "offsets and window ids (tokenization runs in the graph; load tensorflow_text "
            "first). `saved_model_cli show --dir OUT_DIR --all` lists it."
        ),
    )
    parser.add_argument("--to", dest="target_format", required=True, choices=["hf", "keras-hub", "saved_model"],
                        help="target format")
    parser.add_argument("preset", metavar="PRESET", help="preset dir (or any from_preset source)")
    parser.add_argument("out_dir", metavar="OUT_DIR", help="output directory")
    add_option(parser, "--null_threshold", type=float, default=None,
               help="saved_model: the default null threshold stored with the model "
                    "(default: electra head -2.75, simple head 0.0)")
    add_option(parser, "--model_class", aliases=["--model-class"], default=None,
               choices=["ElectraModel", "ElectraForPreTraining", "ElectraForMaskedLM",
                        "ElectraForQuestionAnswering"],
               help="hf: the transformers class (default: the one of the head the preset "
                    "holds)")
    # ValueError: a preset of another kind or shape; ImportError: safetensors missing;
    # OSError: h5py cannot read a damaged weights file
    parser.set_defaults(func=run, user_errors=(ValueError, ImportError, OSError))


def run(args):
    from keras_electra.convert.text_classifier import is_text_classifier_preset

    if is_text_classifier_preset(args.preset):  # issue 28: a fine-tuned text classifier
        return _run_text_classifier(args)
    if args.target_format == "saved_model":
        from keras_electra.serving import export_question_answerer
        from keras_electra.squad.loading import load_question_answerer

        task = load_question_answerer(args.preset)
        export_question_answerer(task, args.out_dir, null_threshold=args.null_threshold,
                                 source=args.preset)
        print(f"wrote {args.out_dir}: SavedModel, signature serving_default(question, context)"
              f" of a head={task.head} QA model")
        return 0
    if args.target_format == "keras-hub":
        from keras_electra.convert.keras_hub import export_preset_to_keras_hub

        written = export_preset_to_keras_hub(args.preset, args.out_dir)
        print(f"wrote {args.out_dir}: keras-hub {', '.join(written)} preset "
              "(keras_hub.models.ElectraBackbone.from_preset loads it)")
        return 0
    from keras_electra.convert.preset_io import export_preset_to_hf

    model_class = export_preset_to_hf(args.preset, args.out_dir, model_class=args.model_class)
    if isinstance(model_class, dict):  # a pretrainer: the pair
        import os

        skipped = ("" if "generator" in model_class else "; no generator: Electric's "
                   "two-tower cloze generator has no HF class")
        print(f"wrote {args.out_dir}: " + ", ".join(
            f"{os.path.join(args.out_dir, part)} ({cls})" for part, cls in model_class.items())
            + skipped)
    else:
        note = (" (the preset holds no head)"
                if model_class == "ElectraModel" and args.model_class is None else "")
        print(f"wrote {args.out_dir}: {model_class}{note} (config.json, model.safetensors)")
    return 0


def _run_text_classifier(args):
    """`export` of an `ElectraTextClassifier` preset (`keras-electra glue` OUTPUT_DIR/model):
    --to hf -> ElectraForSequenceClassification; --to saved_model -> raw-string signatures."""
    from keras_electra import ElectraTextClassifier

    classifier = ElectraTextClassifier.from_preset(args.preset)
    if args.target_format == "saved_model":
        from keras_electra.serving.text_classifier import export_text_classifier

        export_text_classifier(classifier, args.out_dir, source=args.preset)
        print(f"wrote {args.out_dir}: SavedModel, signatures serving_default(text) and "
              f"serve_pairs(text_a, text_b) of a {classifier.num_classes}-output classifier")
        return 0
    from keras_electra.convert.text_classifier import HF_MODEL_CLASS, export_text_classifier_to_hf

    if args.model_class not in (None, HF_MODEL_CLASS):
        raise ValueError(f"{args.preset} is a text classifier: it exports as {HF_MODEL_CLASS}, "
                         f"not --model_class {args.model_class}")
    export_text_classifier_to_hf(classifier, args.out_dir, source=args.preset)
    print(f"wrote {args.out_dir}: {HF_MODEL_CLASS} (config.json, model.safetensors)")
    return 0

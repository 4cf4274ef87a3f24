"""`keras-electra export`: our preset -> an HF transformers directory."""


def register(subparsers):
    parser = subparsers.add_parser(
        "export",
        help="export a keras_electra preset to a Hugging Face transformers directory",
        description=(
            "Write config.json + model.safetensors (+ vocab.txt) that transformers' "
            "from_pretrained loads. The class follows the heads stored with the preset "
            "(RTD -> ElectraForPreTraining, MLM -> ElectraForMaskedLM, QA -> "
            "ElectraForQuestionAnswering, none -> ElectraModel) unless --model-class is given."
        ),
    )
    parser.add_argument("--to", dest="target_format", required=True, choices=["hf"],
                        help="target format")
    parser.add_argument("preset", metavar="PRESET", help="preset dir (or any from_preset source)")
    parser.add_argument("out_dir", metavar="OUT_DIR", help="output directory")
    parser.add_argument("--model-class", default=None,
                        choices=["ElectraModel", "ElectraForPreTraining", "ElectraForMaskedLM",
                                 "ElectraForQuestionAnswering"])
    # ValueError: a preset of another kind or shape; ImportError: safetensors missing;
    # OSError: h5py cannot read a damaged weights file
    parser.set_defaults(func=run, user_errors=(ValueError, ImportError, OSError))


def run(args):
    from keras_electra.convert.preset_io import export_preset_to_hf

    model_class = export_preset_to_hf(args.preset, args.out_dir, model_class=args.model_class)
    print(f"wrote {args.out_dir}: {model_class} (config.json, model.safetensors)")
    return 0

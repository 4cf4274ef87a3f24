"""`keras-electra convert`: HF / google TF1 / keras-hub checkpoints -> our preset dir."""


def register(subparsers):
    from keras_electra.utils.cli_options import add_option

    parser = subparsers.add_parser(
        "convert",
        help="convert an HF, google-research TF1 or keras-hub Electra checkpoint to a preset",
        description=(
            "Convert a checkpoint into a keras-hub-format preset of keras_electra's "
            "ElectraBackbone (config.json, model.weights.h5, metadata.json, tokenizer "
            "files when a vocab is known, electra_heads.npz with the RTD/MLM/QA heads). "
            "SRC: --from hf: a save_pretrained dir or hf://org/name; --from google: a "
            "TF1 checkpoint prefix (dir/model.ckpt-N) or its dir; --from keras-hub: a "
            "keras-hub Electra preset name or dir."
        ),
    )
    parser.add_argument("--from", dest="source_format", required=True,
                        choices=["hf", "google", "keras-hub"], help="source format")
    parser.add_argument("src", metavar="SRC", help="checkpoint to convert")
    parser.add_argument("out_preset", metavar="OUT_PRESET", help="output preset directory")
    parser.add_argument("--part", choices=["discriminator", "generator"], default=None,
                        help="google only: which model of a pretraining checkpoint "
                             "(default discriminator)")
    add_option(parser, "--vocab_file", aliases=["--vocab"], default=None,
               help="vocab.txt (default: the one next to SRC, if any)")
    add_option(parser, "--num_heads", aliases=["--num-heads"], type=int, default=None,
               help="google only: discriminator attention heads (default H // 64)")
    add_option(parser, "--generator_num_heads", aliases=["--generator-num-heads"], type=int,
               default=None, help="google only: generator attention heads (default Hg // 64)")
    # ValueError: a checkpoint of another kind or shape; ImportError: torch/safetensors missing
    # for an HF source; OSError: h5py/safetensors cannot read a damaged file
    parser.set_defaults(func=run, user_errors=(ValueError, ImportError, OSError))


def run(args):
    from keras_electra.convert.preset_io import convert_to_preset

    summary = convert_to_preset(
        args.source_format, args.src, args.out_preset, part=args.part,
        vocabulary=args.vocab_file, num_heads=args.num_heads,
        generator_num_heads=args.generator_num_heads,
    )
    backbone = summary["backbone"]
    print(
        f"wrote {args.out_preset}: ElectraBackbone {backbone.count_params():,} params "
        f"(L={backbone.num_layers}, H={backbone.hidden_dim}, E={backbone.embedding_dim}, "
        f"heads={backbone.num_heads}); head weights: {summary['heads'] or 'none'}; "
        f"tokenizer: {'yes' if summary['tokenizer'] else 'no (pass --vocab_file)'}"
    )
    return 0

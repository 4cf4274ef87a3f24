"""What `squad` and `glue` share: a subcommand whose options are the fields of a config
dataclass (`utils/cli_options.add_dataclass_options`), run by a driver that returns
`{"paths": {name: path}}` (one declaration of the parser defaults and of the run)."""

from keras_electra.utils.cli_options import add_dataclass_options, options_from_args


def register_config_command(subparsers, name, config_class, run, help, description):
    parser = subparsers.add_parser(name, help=help, description=description)
    add_dataclass_options(parser, config_class)
    # ValueError: flags or a model that do not fit the data (raised before training starts);
    # OSError: h5py cannot read a damaged weights file
    parser.set_defaults(func=run, user_errors=(ValueError, OSError))
    return parser


def run_config_command(args, config_class, driver):
    """`driver(config_class(**options))`, then one `wrote NAME: PATH` line per output."""
    import logging

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    result = driver(config_class(**options_from_args(args, config_class)))
    for name, path in sorted(result["paths"].items()):
        print(f"wrote {name}: {path}")
    return 0

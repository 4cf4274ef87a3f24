"""Imports point down (docs/ARCHITECTURE.md, "Layers"), checked by `tests/layering.py`.

The check passes on the package; for every layer, an import of a layer above it planted in
one of its modules (on a copy of the package) fails it, and so does a third-party package the
layer may not import (or may import only inside functions); an import cycle fails it too.
The docs' table is `layering.markdown_table()`, so the docs and the check cannot drift apart.
"""

import pathlib
import shutil

import layering
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]

# layer: (module file, line planted inside a function, the layer it names)
UPWARD = {
    "utils": ("utils/errors.py", "from keras_electra.models import electra_backbone", "models"),
    "optimizers": ("optimizers/electra_optimizers.py", "import keras_electra.models", "models"),
    "models": ("models/electra_backbone.py", "from keras_electra.training import pretrain",
               "training"),
    "convert": ("convert/hf.py", "from keras_electra.training import finetune", "training"),
    "data": ("data/vocab.py", "from keras_electra.training import pretrain", "training"),
    "squad": ("squad/metrics.py", "from keras_electra.serving import saved_model", "serving"),
    "glue": ("glue/metrics.py", "from keras_electra.training import glue", "training"),
    "evaluation": ("evaluation/rtd.py", "import keras_electra.training.pretrain", "training"),
    "root": ("__init__.py", "from keras_electra.training import pretrain", "training"),
    "training": ("training/callbacks.py", "from keras_electra.sagemaker import launch",
                 "sagemaker"),
    "serving": ("serving/saved_model.py", "from keras_electra.commands import export",
                "commands"),
    "commands": ("commands/prepare.py", "from keras_electra.demo import pipeline", "demo"),
    "cli": ("cli.py", "from keras_electra.sagemaker import launch", "sagemaker"),
    "sagemaker": ("sagemaker/launch.py", "from keras_electra.demo import pipeline", "demo"),
    "demo": ("demo/pipeline.py", "from keras_electra.sagemaker import launch", "sagemaker"),
}
# layer: (module file, a third-party package it may not import, planted at import time?)
THIRD_PARTY = {
    "utils": ("utils/errors.py", "keras", True),
    "optimizers": ("optimizers/electra_optimizers.py", "torch", False),
    "models": ("models/electra_backbone.py", "tensorflow", True),
    "convert": ("convert/hf.py", "tensorflow", True),
    "data": ("data/vocab.py", "tensorflow", True),
    "squad": ("squad/metrics.py", "tensorflow", False),
    "glue": ("glue/tasks.py", "torch", False),
    "evaluation": ("evaluation/rtd.py", "torch", False),
    "root": ("__init__.py", "keras", True),
    "training": ("training/callbacks.py", "torch", False),
    "serving": ("serving/saved_model.py", "torch", False),
    "commands": ("commands/prepare.py", "numpy", True),
    "cli": ("cli.py", "keras", True),
    "sagemaker": ("sagemaker/launch.py", "boto3", True),
    "demo": ("demo/pipeline.py", "matplotlib", True),
}


def copy_package(tmp_path):
    shutil.copytree(ROOT / "keras_electra", tmp_path / "keras_electra",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path / "keras_electra"


def plant(path, statement, at_import_time):
    code = (f"\n{statement}  # noqa\n" if at_import_time
            else f"\n\ndef _planted():\n    {statement}  # noqa\n")
    path.write_text(path.read_text() + code)


def dotted(relative):
    name = "keras_electra." + relative[:-3].replace("/", ".")
    return name.removesuffix(".__init__")


def test_the_package_has_no_layering_violation_or_cycle():
    assert layering.check(ROOT) == []


def test_every_layer_has_a_planted_violation_and_every_module_a_layer():
    assert set(UPWARD) == set(THIRD_PARTY) == set(layering.RULES)
    layers = {layering.layer_of(m) for m in layering.modules(ROOT)}
    assert layers == set(layering.RULES)


@pytest.mark.parametrize("layer", sorted(UPWARD))
def test_an_upward_import_fails_the_check(layer, tmp_path):
    relative, statement, target_layer = UPWARD[layer]
    assert target_layer not in layering.RULES[layer]["package"]
    package = copy_package(tmp_path)
    plant(package / relative, statement, at_import_time=False)
    # (an upward import may close a cycle as well: cli <-> sagemaker, which imports cli)
    found = [line for line in layering.check(tmp_path) if not line.startswith("cycle: ")]
    assert len(found) == 1, found
    assert found[0].startswith(f"{dotted(relative)} imports keras_electra.{target_layer}")
    assert f"{layer} may not import {target_layer}" in found[0]


@pytest.mark.parametrize("layer", sorted(THIRD_PARTY))
def test_a_forbidden_third_party_import_fails_the_check(layer, tmp_path):
    relative, name, at_import_time = THIRD_PARTY[layer]
    package = copy_package(tmp_path)
    plant(package / relative, f"import {name}", at_import_time)
    found = layering.check(tmp_path)
    when = "at import time" if at_import_time else "inside a function"
    assert len(found) == 1, found
    assert found[0].startswith(f"{dotted(relative)} imports {name} {when}")


def test_a_package_allowed_only_inside_functions_fails_at_import_time(tmp_path):
    package = copy_package(tmp_path)
    # optimizers: tensorflow inside a function only; utils: only tf_startup.py may use it
    plant(package / "optimizers" / "layerwise_decay.py", "import tensorflow", True)
    plant(package / "utils" / "errors.py", "import tensorflow", False)
    found = layering.check(tmp_path)
    assert len(found) == 2, found
    assert found[0].startswith("keras_electra.optimizers.layerwise_decay imports tensorflow "
                               "at import time (keras_electra/optimizers/layerwise_decay.py:")
    assert found[1].startswith("keras_electra.utils.errors imports tensorflow inside a "
                               "function (keras_electra/utils/errors.py:")


def test_a_cycle_and_an_unknown_layer_fail_the_check(tmp_path):
    package = copy_package(tmp_path)
    (package / "utils" / "cycle_a.py").write_text("from keras_electra.utils import cycle_b\n")
    (package / "utils" / "cycle_b.py").write_text("from keras_electra.utils import cycle_a\n")
    (package / "newlayer").mkdir()
    (package / "newlayer" / "__init__.py").write_text("")
    found = layering.check(tmp_path)
    assert "cycle: keras_electra.utils.cycle_a <-> keras_electra.utils.cycle_b" in found
    assert any(line.startswith("keras_electra.newlayer: layer 'newlayer' is not in the "
                               "layering rules") for line in found)
    assert len(found) == 2


def test_the_docs_show_the_checked_table():
    docs = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    assert layering.markdown_table() in docs


def test_the_command_line_reports_and_exits_nonzero(tmp_path, capsys):
    assert layering.main([str(ROOT)]) == 0
    assert "layering violations and cycles: 0" in capsys.readouterr().out
    package = copy_package(tmp_path)
    plant(package / "models" / "electra_layers.py", "import tensorflow", True)
    assert layering.main([str(tmp_path)]) == 1
    assert "keras_electra.models.electra_layers imports tensorflow at import time" in (
        capsys.readouterr().out)

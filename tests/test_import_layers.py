"""Imports point down (issue 16): models import no higher layer and no TensorFlow at import
time, and no import cycle exists between the package's modules.

The rule and its checker are the project's shared tool (../shared/tools/import_layers.py,
beside the project root in CI too); this test runs it on the package and also checks that the
checker still catches what it should, so a broken checker cannot pass the test vacuously.
"""

import pathlib
import shutil
import subprocess
import sys

from conftest import SHARED, require_shared

ROOT = pathlib.Path(__file__).resolve().parents[1]
TOOL = SHARED / "tools" / "import_layers.py"


def _check(root):
    return subprocess.run([sys.executable, str(require_shared(TOOL)), str(root)],
                          capture_output=True, text=True, timeout=120)


def test_the_package_has_no_layering_violation_or_cycle():
    result = _check(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "layering violations and cycles: 0" in result.stdout


def test_the_checker_catches_an_upward_import_a_tensorflow_import_and_a_cycle(tmp_path):
    package = tmp_path / "keras_electra"
    shutil.copytree(ROOT / "keras_electra", package,
                    ignore=shutil.ignore_patterns("__pycache__"))
    backbone = package / "models" / "electra_backbone.py"
    backbone.write_text(backbone.read_text() + "\n\ndef _late():\n"
                        "    from keras_electra.training import pretrain  # noqa\n")
    (package / "models" / "uses_tf.py").write_text("import tensorflow as tf  # noqa\n")
    (package / "utils" / "cycle_a.py").write_text("from keras_electra.utils import cycle_b\n")
    (package / "utils" / "cycle_b.py").write_text("from keras_electra.utils import cycle_a\n")
    result = _check(tmp_path)
    assert result.returncode == 1
    assert "keras_electra.models.electra_backbone imports keras_electra.training" in result.stdout
    assert "keras_electra.models.uses_tf imports tensorflow at import time" in result.stdout
    assert "cycle: keras_electra.utils.cycle_a <-> keras_electra.utils.cycle_b" in result.stdout

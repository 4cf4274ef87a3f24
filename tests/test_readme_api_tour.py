"""The README's API tour runs as written (tiny files in its working directory), with warnings
as errors, and ends with a real, non-empty answer.

The files it reads are made here: `vocab.txt` (400 WordPieces learned by the package's vocab
builder), `corpus.txt` (64 lines of Frankenstein from tests/data/files/corpus), `train-v2.0.json` and `dev-v2.0.json`
(paragraphs of the shared SQuAD v2.0 sample). The block runs in a fresh process; the packages
are imported first, then every warning is an error, with documented exceptions:
DeprecationWarning / PendingDeprecationWarning (dependencies' notices to their own
developers, e.g. Keras' TF backend converting with numpy 2's `__array__(copy=...)` protocol in
`save_weights`). UserWarning (shuffle ignored, "Skipping variable loading ...") stays an
error.
"""

import json
import pathlib
import re
import subprocess
import sys

import pytest

PROJECT_ROOT = pathlib.Path(__file__).resolve().parents[1]

RUNNER = '''
import sys, warnings
import keras_electra, keras, tensorflow  # noqa: F401  (imports may warn; the tour may not)
warnings.simplefilter("error")
warnings.filterwarnings("default", category=DeprecationWarning)
warnings.filterwarnings("default", category=PendingDeprecationWarning)
with open(sys.argv[1], encoding="utf-8") as f:
    code = f.read()
exec(compile(code, "README.md (API tour)", "exec"), {"__name__": "__main__"})
'''


def api_tour_code():
    text = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## API tour", 1)[1]
    return re.search(r"^```python\n(.*?)^```", section, re.S | re.M).group(1)


def test_api_tour_is_real_code():
    code = api_tour_code()
    compile(code, "README.md", "exec")
    assert "..." not in code  # no placeholders


@pytest.mark.slow
def test_api_tour_runs_literally_quietly_and_answers(tmp_path, squad_sample_path, corpus_dir):
    from keras_electra.data.vocab import build_vocabulary

    lines = []
    for line in (corpus_dir / "gutenberg_84_frankenstein.txt").read_text(encoding="utf-8").splitlines():
        if len(line.split()) > 8 and not line.strip().startswith("="):
            lines.append(line.strip())
        if len(lines) == 64:
            break
    (tmp_path / "corpus.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    build_vocabulary(str(tmp_path / "corpus.txt"), vocabulary_size=400,
                     output_path=str(tmp_path / "vocab.txt"), show_progress=False)
    squad = json.loads(squad_sample_path.read_text(encoding="utf-8"))
    paragraphs = squad["data"][0]["paragraphs"]
    for name, chosen in (("train-v2.0.json", paragraphs[:2]), ("dev-v2.0.json", paragraphs[2:3])):
        data = {"version": "v2.0", "data": [{"title": "t", "paragraphs": chosen}]}
        (tmp_path / name).write_text(json.dumps(data), encoding="utf-8")
    (tmp_path / "tour.py").write_text(api_tour_code(), encoding="utf-8")

    proc = subprocess.run([sys.executable, "-c", RUNNER, "tour.py"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    assert "Skipping variable loading" not in proc.stdout + proc.stderr
    line = proc.stdout.strip().splitlines()[-1]
    print(f"the tour ended with: {line}")
    context = "ELECTRA, a pretraining method, detects replaced tokens."
    # a model fine-tuned for a few steps on tiny data usually judges the question unanswerable
    # (the README says so); either way the tour ends with its best span, a real non-empty span
    # of the context: never "" nor G's placeholder "empty"
    found = re.fullmatch(r"(?:answer:|judged unanswerable; best span:) (.+)", line)
    assert found, line
    answer = found.group(1)
    assert answer.strip() and answer != "empty" and answer in context, line
    # whole words: the answer neither starts nor ends inside a word of the context
    start = context.index(answer)
    end = start + len(answer)
    assert start == 0 or not (context[start - 1].isalnum() and context[start].isalnum())
    assert end == len(context) or not (context[end - 1].isalnum() and context[end].isalnum())

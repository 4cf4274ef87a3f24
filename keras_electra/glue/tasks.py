"""GLUE's nine tasks, read from the TSV files the GLUE download script writes.

Layouts follow google-research/electra `finetune/classification/classification_tasks.py`
(`_load_glue(lines, split, text_a_col, text_b_col, label_col, skip_first_line)`, read with
`csv.reader(delimiter="\\t", quotechar=None)`): columns of train/dev,

| task | file dir | text a | text b | label | header | labels |
|---|---|---|---|---|---|---|
| cola | CoLA | 3 | - | 1 | **no** | 0, 1 |
| sst2 | SST-2 | 0 | - | 1 | yes | 0, 1 |
| mrpc | MRPC | 3 | 4 | 0 | yes | 0, 1 |
| stsb | STS-B | -3 | -2 | -1 | yes | a score in [0, 5] |
| qqp | QQP | 3 | 4 | 5 | yes | 0, 1 |
| mnli | MNLI | 8 | 9 | -1 | yes | contradiction, entailment, neutral |
| qnli | QNLI | 1 | 2 | 3 | yes | entailment, not_entailment |
| rte | RTE | 1 | 2 | 3 | yes | entailment, not_entailment |
| wnli | WNLI | 1 | 2 | 3 | yes | 0, 1 |

MNLI's dev sets are `dev_matched.tsv` and `dev_mismatched.tsv`. G logs and skips a line
that does not parse; here a bad line is an `InputFileError` naming the file and the line
(a missing column, a label outside the task's set, a CoLA file that starts with a header,
an empty file), so a wrong file is never scored silently.

Example:
```python
from keras_electra.glue.tasks import GLUE_TASKS, read_glue_split

examples = read_glue_split("mrpc", "glue_data/MRPC", "dev")
examples[0].text_a, examples[0].text_b, examples[0].label   # ..., ..., "1"
GLUE_TASKS["mrpc"].labels                                   # ("0", "1")
```
"""

import csv
import dataclasses
import json
import math
import os
import sys

from keras_electra.utils.errors import InputFileError, read_text_file


@dataclasses.dataclass(frozen=True)
class GlueTask:
    """One GLUE task's file layout and labels (see the module table)."""

    name: str
    directory: str
    text_a: int
    text_b: int  # None: single sentence
    label: int
    header: bool
    labels: tuple  # () for regression
    metrics: tuple
    dev_splits: tuple = ("dev",)
    # G `double_unordered`: training pairs added again with text_a/text_b swapped
    double_unordered: bool = False

    @property
    def is_regression(self):
        return not self.labels

    @property
    def num_classes(self):
        return 1 if self.is_regression else len(self.labels)


_BINARY = ("0", "1")
_NLI2 = ("entailment", "not_entailment")
GLUE_TASKS = {t.name: t for t in (
    GlueTask("cola", "CoLA", 3, None, 1, False, _BINARY, ("mcc", "accuracy")),
    GlueTask("sst2", "SST-2", 0, None, 1, True, _BINARY, ("accuracy",)),
    GlueTask("mrpc", "MRPC", 3, 4, 0, True, _BINARY, ("f1", "accuracy"),
             double_unordered=True),
    GlueTask("stsb", "STS-B", -3, -2, -1, True, (), ("pearson", "spearman"),
             double_unordered=True),
    GlueTask("qqp", "QQP", 3, 4, 5, True, _BINARY, ("f1", "accuracy")),
    GlueTask("mnli", "MNLI", 8, 9, -1, True, ("contradiction", "entailment", "neutral"),
             ("accuracy",), dev_splits=("dev_matched", "dev_mismatched")),
    GlueTask("qnli", "QNLI", 1, 2, 3, True, _NLI2, ("accuracy",)),
    GlueTask("rte", "RTE", 1, 2, 3, True, _NLI2, ("accuracy",)),
    GlueTask("wnli", "WNLI", 1, 2, 3, True, _BINARY, ("accuracy",)),
)}
STSB_MAX = 5.0  # G: regression targets (label - 0) / 5


@dataclasses.dataclass
class Example:
    """One example: `label` is the label string, or the float score for regression."""

    text_a: str
    text_b: str
    label: object
    line: int  # 1-based line (or record) of its file


def _check_label(value, task_labels, where):
    if task_labels:
        if value not in task_labels:
            raise InputFileError(
                f"{where}: label {value!r} is not one of the task's labels "
                f"{list(task_labels)}; is this the right task's file?")
        return value
    try:
        score = float(value)
    except ValueError:
        score = math.nan
    if not math.isfinite(score):
        raise InputFileError(f"{where}: score {value!r} is not a finite number; is this the "
                             "right task's file?")
    return score


def _rows(path):
    text = read_text_file(path, "GLUE TSV file")
    csv.field_size_limit(sys.maxsize)
    return list(csv.reader(text.splitlines(), delimiter="\t", quotechar=None))


def read_glue_file(task, path, lenient=False, skipped=None):
    """Read one GLUE TSV (train or dev layout) of `task` (a name or a `GlueTask`).

    `lenient=True` skips a line with too few columns or a label outside the task's set
    (as G does; GLUE's QQP train.tsv has a few such lines) and appends its number to
    `skipped` (a list) instead of raising."""
    task = GLUE_TASKS[task] if isinstance(task, str) else task
    path = os.fspath(path)
    rows = _rows(path)
    if not rows or (task.header and len(rows) == 1):
        raise InputFileError(f"{path}: no examples (an empty file); pass the {task.directory} "
                             "file as the GLUE download script writes it")
    start = 1 if task.header else 0
    if not task.header:
        first = rows[0]
        if len(first) > task.label and first[task.label].strip() not in task.labels:
            raise InputFileError(
                f"{path}: line 1: {first[task.label].strip()!r} is not a label; "
                f"{task.directory}'s train/dev files have no header line (as the GLUE "
                "download script writes them): remove it")
    needed = max(c if c >= 0 else -c - 1 for c in
                 (task.text_a, task.label, task.text_b if task.text_b is not None else 0)) + 1
    examples = []
    hint = " (or --lenient to skip such lines, as google-research/electra does)"
    for number, row in enumerate(rows[start:], start=start + 1):
        where = f"{path}: line {number}"
        try:
            if len(row) < needed:
                raise InputFileError(
                    f"{where}: {len(row)} tab-separated columns, {task.directory} needs at "
                    f"least {needed}; is this the right task's file (train/dev layout)?{hint}")
            label = _check_label(row[task.label].strip(), task.labels, where)
        except InputFileError:
            if not lenient:
                raise
            if skipped is not None:
                skipped.append(number)
            continue
        examples.append(Example(row[task.text_a],
                                None if task.text_b is None else row[task.text_b],
                                label, number))
    if not examples:
        raise InputFileError(f"{path}: no examples; pass the {task.directory} file as the "
                             "GLUE download script writes it")
    return examples


def glue_split_path(task, data_dir, split):
    """`data_dir/<split>.tsv`, or `data_dir/<TaskDir>/<split>.tsv` (GLUE's whole tree)."""
    task = GLUE_TASKS[task] if isinstance(task, str) else task
    for candidate in (os.path.join(data_dir, f"{split}.tsv"),
                      os.path.join(data_dir, task.directory, f"{split}.tsv")):
        if os.path.isfile(candidate):
            return candidate
    raise InputFileError(
        f"--data_dir {data_dir}: no {split}.tsv there nor in {task.directory}/; pass the "
        f"{task.directory} directory the GLUE download script writes")


def read_glue_split(task, data_dir, split, lenient=False, skipped=None):
    """The examples of `split` ("train", "dev", "dev_matched", ...) of `task`."""
    return read_glue_file(task, glue_split_path(task, data_dir, split), lenient, skipped)


# --------------------------------------------------------------------------- generic files


def _generic_records(path):
    """(line, record) pairs of a CSV/TSV (with a header) or JSONL file."""
    text = read_text_file(path, "data file")
    lower = path.lower()
    if lower.endswith((".jsonl", ".json")):
        records = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as error:
                raise InputFileError(f"{path}: line {number}: not valid JSON ({error}); a "
                                     "JSONL file holds one JSON object a line") from None
            if not isinstance(record, dict):
                raise InputFileError(f"{path}: line {number}: not a JSON object")
            records.append((number, record))
        return records
    delimiter = "\t" if lower.endswith((".tsv", ".txt")) else ","
    csv.field_size_limit(sys.maxsize)
    quoting = dict(quoting=csv.QUOTE_NONE) if delimiter == "\t" else {}  # TSV: GLUE's way
    reader = csv.DictReader(text.splitlines(), delimiter=delimiter, **quoting)
    if reader.fieldnames is None:
        return []
    return [(number, row) for number, row in enumerate(reader, start=2)]


def read_generic_file(path, text_columns, label_column, labels=None):
    """Examples from a CSV (header), TSV (header) or JSONL file.

    Args:
        path: the file (`.csv`, `.tsv`/`.txt`, `.jsonl`).
        text_columns: one or two column names (text a, text b).
        label_column: the label's column name.
        labels: the label set (strings) to check against, or None to accept any string;
            `()` for a regression score.
    """
    path = os.fspath(path)
    text_columns = list(text_columns)
    if not 1 <= len(text_columns) <= 2:
        raise InputFileError(f"--text_columns: give one or two column names, got "
                             f"{text_columns}")
    records = _generic_records(path)
    if not records:
        raise InputFileError(f"{path}: no examples (an empty file)")
    examples = []
    for number, record in records:
        where = f"{path}: line {number}"
        for column in (*text_columns, label_column):
            if record.get(column) is None:
                raise InputFileError(f"{where}: no column {column!r} (columns: "
                                     f"{sorted(k for k in record if k is not None)}); check "
                                     "--text_columns / --label_column")
        value = record[label_column]
        if labels is None:
            label = str(value).strip()
        else:
            label = _check_label(str(value).strip(), labels, where)
        examples.append(Example(str(record[text_columns[0]]),
                                str(record[text_columns[1]]) if len(text_columns) == 2
                                else None, label, number))
    return examples

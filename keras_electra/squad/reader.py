"""Validating readers for SQuAD v1.1 and v2.0 JSON files.

Each article, paragraph, question and answer is checked as it is read. A
malformed entry raises `SquadFormatError` naming the file, the article title,
the question id and the problem; with `lenient=True` the offending question
(or paragraph, for an empty context) is skipped instead and counted.

Example:
```python
from keras_electra.squad.reader import read_squad

data = {"version": "v2.0", "data": [{"title": "Rhine", "paragraphs": [{
    "context": "The Rhine flows into the North Sea.",
    "qas": [{"id": "q1", "question": "Where does the Rhine flow?",
             "answers": [{"text": "the North Sea", "answer_start": 21}],
             "is_impossible": False}]}]}]}
squad = read_squad(data)
squad.examples[0].answers  # [("the North Sea", 21)]
```
"""

import collections
import dataclasses
import json

from keras_electra.utils.errors import UserError, read_text_file

SQUAD_VERSIONS = ("squadv1", "squadv2")


class SquadFormatError(UserError, ValueError):
    """A SQuAD file entry is malformed (the message says where and how to fix)."""


@dataclasses.dataclass
class SquadExample:
    """One question over one context.

    Attributes:
        qas_id: str. The question id.
        question: str. The question text.
        context: str. The paragraph.
        answers: list of `(text, char_start)`; `context[start:start+len(text)] == text`.
        is_impossible: bool. True for SQuAD v2.0 unanswerable questions.
        title: str. The article title.
    """

    qas_id: str
    question: str
    context: str
    answers: list
    is_impossible: bool = False
    title: str = ""


@dataclasses.dataclass
class SquadReadResult:
    """What `read_squad` returns.

    Attributes:
        examples: list of `SquadExample`, file order.
        version: "squadv1" or "squadv2".
        skipped: `collections.Counter` of problem kind -> skipped questions
            (lenient mode only; empty in strict mode).
        problems: the messages of the skipped entries (lenient mode).
        dataset: the raw `data` list (what the official evaluation reads).
    """

    examples: list
    version: str
    skipped: collections.Counter
    problems: list
    dataset: list

    def __len__(self):
        return len(self.examples)

    def __iter__(self):
        return iter(self.examples)


def _version_of(raw):
    version = str(raw.get("version", "")).strip().lower().lstrip("v")
    if version.startswith("1"):
        return "squadv1"
    if version.startswith("2"):
        return "squadv2"
    return None


def _detect_version(raw):
    version = _version_of(raw)
    if version:
        return version
    for article in raw.get("data") or []:
        for paragraph in article.get("paragraphs") or []:
            for qa in paragraph.get("qas") or []:
                if isinstance(qa, dict) and "is_impossible" in qa:
                    return "squadv2"
    return "squadv1"


def read_squad(source, squad_version=None, lenient=False, is_training=False):
    """Reads and validates a SQuAD v1.1 or v2.0 file.

    Args:
        source: path of a SQuAD JSON file, or the already loaded dict.
        squad_version: "squadv1", "squadv2" or None (from the file's
            `version`). Giving "squadv2" for a v1.1 file (or the reverse) is
            an error: v1.1 has no unanswerable questions, so a v2 model trained
            on it would never learn to abstain.
        lenient: skip malformed questions and count them instead of raising.
        is_training: also require every answerable question to have at least
            one answer (training needs a label).

    Returns:
        `SquadReadResult`.

    Raises:
        SquadFormatError: on the first malformed entry (strict mode), or when
            the file as a whole cannot be read.
    """
    raw, where = _load_squad_json(source)
    squad_version = _resolve_version(raw, where, squad_version)
    v2 = squad_version == "squadv2"

    examples, problems, skipped, seen_ids = [], [], collections.Counter(), {}

    def fail(kind, message):
        if not lenient:
            raise SquadFormatError(f"{where}: {message}")
        skipped[kind] += 1
        problems.append(f"{where}: {message}")

    for a_index, article in enumerate(raw["data"]):
        if not isinstance(article, dict):
            fail("bad_article", f"data[{a_index}] is {type(article).__name__}, expected an object")
            continue
        title = article.get("title", f"data[{a_index}]")
        if not isinstance(title, str):
            title = str(title)
        paragraphs = article.get("paragraphs")
        if not isinstance(paragraphs, list):
            fail("bad_article", f"article {title!r}: 'paragraphs' missing or not a list")
            continue
        for p_index, paragraph in enumerate(paragraphs):
            at = f"article {title!r} paragraph {p_index}"
            if not isinstance(paragraph, dict):
                fail("bad_paragraph", f"{at}: expected an object")
                continue
            context = paragraph.get("context")
            qas = paragraph.get("qas")
            if not isinstance(qas, list):
                fail("bad_paragraph", f"{at}: 'qas' missing or not a list")
                continue
            if not isinstance(context, str):
                fail("bad_paragraph", f"{at}: 'context' missing or not a string")
                continue
            if not context.strip():
                if not lenient:
                    raise SquadFormatError(f"{where}: {at}: empty context ({len(qas)} questions)")
                skipped["empty_context"] += len(qas)
                problems.append(f"{where}: {at}: empty context ({len(qas)} questions skipped)")
                continue
            for q_index, qa in enumerate(qas):
                example = _read_question(qa, context, title, at, q_index, v2, is_training,
                                         seen_ids, fail)
                if example is not None:
                    examples.append(example)
    return SquadReadResult(examples=examples, version=squad_version, skipped=skipped,
                           problems=problems, dataset=raw["data"])


def _load_squad_json(source):
    """`(the SQuAD dict, where)` of a path or an already loaded dict (`where`: the path, or
    "<dict>"); a missing file, bad JSON or no top-level `data` list is a SquadFormatError."""
    where = "<dict>"
    if isinstance(source, dict):
        raw = source
    else:
        where = str(source)
        try:
            raw = json.loads(read_text_file(source, "SQuAD .json file"))
        except FileNotFoundError:
            raise SquadFormatError(f"{where}: SQuAD file not found")
        except json.JSONDecodeError as e:
            raise SquadFormatError(f"{where}: not valid JSON ({e}); is this a SQuAD .json file?")
    if not isinstance(raw, dict) or not isinstance(raw.get("data"), list):
        raise SquadFormatError(
            f"{where}: no top-level 'data' list; a SQuAD file looks like "
            '{"version": "v2.0", "data": [{"title": ..., "paragraphs": [...]}]}'
        )
    return raw, where


def _resolve_version(raw, where, squad_version):
    """The requested `squad_version`, or the file's when None; a mismatch is an error."""
    if squad_version is not None and squad_version not in SQUAD_VERSIONS:
        raise SquadFormatError(f"squad_version must be one of {SQUAD_VERSIONS}, got {squad_version!r}")
    file_version = _detect_version(raw)
    if squad_version is None:
        return file_version
    if squad_version != file_version:
        raise SquadFormatError(
            f"{where}: the file is SQuAD {'v1.1' if file_version == 'squadv1' else 'v2.0'} "
            f"(version {raw.get('version')!r}) but squad_version={squad_version!r} was requested; "
            f"pass --squad_version {file_version} or use the matching file"
        )
    return squad_version


def _read_question(qa, context, title, at, q_index, v2, is_training, seen_ids, fail):
    if not isinstance(qa, dict):
        fail("bad_question", f"{at}: qas[{q_index}] is not an object")
        return None
    qid = qa.get("id")
    if not isinstance(qid, str) or not qid:
        fail("missing_field", f"{at}: qas[{q_index}] has no string 'id'")
        return None
    where = f"article {title!r}: question {qid}"
    if qid in seen_ids:
        fail("duplicate_id", f"{where}: duplicate id (first seen in {seen_ids[qid]})")
        return None
    seen_ids[qid] = at
    question = qa.get("question")
    if not isinstance(question, str):
        fail("missing_field", f"{where}: 'question' missing or not a string")
        return None
    if not question.strip():
        fail("empty_question", f"{where}: empty question text")
        return None
    answers = qa.get("answers")
    if not isinstance(answers, list):
        fail("missing_field", f"{where}: 'answers' missing or not a list")
        return None
    is_impossible = False
    if v2:
        if "is_impossible" not in qa:
            fail("missing_field", f"{where}: SQuAD v2.0 question lacks 'is_impossible' "
                                  "(is this a v1.1 file? use --squad_version squadv1)")
            return None
        is_impossible = qa["is_impossible"]
        if not isinstance(is_impossible, bool):
            fail("wrong_type", f"{where}: 'is_impossible' is {is_impossible!r}, expected true/false")
            return None
    elif "is_impossible" in qa and qa["is_impossible"]:
        fail("wrong_version", f"{where}: unanswerable question in a v1.1 reader; "
                              "use --squad_version squadv2")
        return None
    parsed = []
    for a_index, answer in enumerate(answers):
        if not isinstance(answer, dict) or "text" not in answer or "answer_start" not in answer:
            fail("missing_field", f"{where}: answers[{a_index}] needs 'text' and 'answer_start'")
            return None
        text, start = answer["text"], answer["answer_start"]
        if not isinstance(text, str):
            fail("wrong_type", f"{where}: answers[{a_index}].text is not a string")
            return None
        if isinstance(start, bool) or not isinstance(start, int):
            fail("wrong_type", f"{where}: answers[{a_index}].answer_start is {start!r}, "
                               "expected an integer")
            return None
        if not text:
            fail("empty_answer", f"{where}: answers[{a_index}] has empty text")
            return None
        found = context[start:start + len(text)] if 0 <= start <= len(context) else ""
        if found != text:
            occurs = context.find(text)
            fix = (f"fix answer_start (the text occurs at {occurs})" if occurs >= 0 else
                   "the text does not occur anywhere in the context: fix the answer text "
                   "(or the context)")
            fail("answer_mismatch",
                 f"{where}: answer_start {start} does not match text {text!r} "
                 f"(context has {found!r}); {fix}")
            return None
        parsed.append((text, start))
    if is_impossible and parsed:
        fail("impossible_with_answers", f"{where}: is_impossible is true but 'answers' is not "
                                        "empty (v2.0 keeps them in 'plausible_answers')")
        return None
    if not is_impossible and not parsed and (is_training or not v2):
        fail("no_answer", f"{where}: answerable question without answers")
        return None
    return SquadExample(qas_id=qid, question=question, context=context, answers=parsed,
                        is_impossible=is_impossible, title=title)

"""A generated SQuAD v2.0 question-answering set for the demo (no download needed).

The paragraphs read like API reference notes: each documents one fictional Python
function or class (`merge_lines`, `TokenBuffer`) with 2-4 of its facts (module,
return value, exception, first argument, replacement, base class, ...), in randomly
chosen paraphrases and order; half of them also state one fact about a second
function or class (a distractor with a fact of the same kind). It is the domain of
the demo's pretraining text (Python's documentation), with facts no model has seen.
Each paragraph gets 3-4 questions, in several phrasings:

* two about facts the paragraph states about the main entity (answerable),
* one about the distractor's fact, when there is one (answerable: the model must
  match the name in the question, not just the question type),
* one about a fact it does *not* state for the main entity (unanswerable, SQuAD
  v2.0 style; with a distractor, half of these are "hard": the fact is stated for
  the other entity).

Everything is a pure function of the seed, so the train and dev files are the same
on every machine. Train and dev use different seeds: dev paragraphs combine names
and values in ways never seen in training.

Example:
```python
from keras_electra.demo.data.qa import generate_squad_v2, write_demo_squad

data = generate_squad_v2(num_paragraphs=10, seed=1)
qa = data["data"][0]["paragraphs"][0]["qas"][0]
print(qa["question"], qa["answers"], qa["is_impossible"])
paths = write_demo_squad("demo_output/qa")  # train-v2.0.json, dev-v2.0.json
```
"""

import json
import os
import random

VERBS = ["read", "write", "parse", "format", "merge", "split", "join", "copy", "sort", "load",
         "dump", "find", "count", "encode", "decode", "scan", "strip", "check", "build", "match",
         "walk", "fetch", "pack", "unpack"]
NOUNS = ["items", "lines", "records", "blocks", "tokens", "fields", "entries", "chunks", "rows",
         "headers", "values", "keys", "names", "words"]
CLASS_PREFIXES = ["Line", "Text", "Path", "Data", "Stream", "Record", "Token", "Cache", "Task",
                  "Event", "Config", "Table"]
CLASS_SUFFIXES = ["Reader", "Writer", "Buffer", "Parser", "Queue", "Map", "Pool", "Store",
                  "Handler", "Builder", "View", "Loader"]
MODULES = ["io", "os", "csv", "json", "math", "time", "string", "shutil", "socket", "codecs",
           "struct", "textwrap", "queue", "sched", "zipfile", "gettext"]
RETURN_VALUES = ["list of strings", "tuple of two integers", "dictionary", "new iterator",
                 "boolean value", "bytes object", "file object", "set of names",
                 "floating point number", "string"]
EXCEPTIONS = ["ValueError", "TypeError", "KeyError", "OSError", "IndexError", "RuntimeError",
              "LookupError", "AttributeError", "EOFError", "UnicodeError"]
ARGUMENTS = ["path", "data", "timeout", "encoding", "size", "callback", "buffer", "mode", "limit",
             "prefix", "stream", "flags"]
BASES = ["object", "dict", "list", "Exception", "Mapping", "Iterator", "Sequence", "Thread",
         "tuple", "IOBase"]
CONTENTS = ["a list of open files", "the current position", "a mapping of names to values",
            "raw bytes", "the last error", "a queue of tasks", "a cache of results",
            "the text encoding", "the default timeout", "a counter of calls"]
METHODS = ["flush", "reset", "update", "close", "submit", "lookup", "render", "clear",
           "insert", "select", "rewind", "expand"]
FILLERS = [
    "See the examples at the end of this section.",
    "This is described in more detail below.",
    "The behaviour is the same on all platforms.",
    "Most programs never need to change the defaults.",
    "It is implemented in pure Python.",
    "The details may change in a future release.",
]
ADDED_FACT = (["{e} was added in version {v}.", "{e} is new in version {v}.",
               "{e} first appeared in Python {v}."],
              ["In which version was {e} added?", "When was {e} added?",
               "Which Python version first had {e}?"])

# kind -> attribute -> (fact templates, question templates). {e} is the entity (a
# function or class name) and {v} the value, which is the answer span.
FUNCTION_FACTS = {
    "module": (["{e} is defined in the {v} module.", "The {v} module provides {e}.",
                "{e} lives in the {v} module."],
               ["Which module defines {e}?", "In what module is {e} defined?",
                "Which module provides {e}?"]),
    "returns": (["{e} returns a {v}.", "The return value of {e} is a {v}.",
                 "Calling {e} gives back a {v}."],
                ["What does {e} return?", "What is the return value of {e}?",
                 "What does a call to {e} give back?"]),
    "added": ADDED_FACT,
    "raises": (["{e} raises {v} when the input is invalid.",
                "If the input is invalid, {e} raises {v}.",
                "An invalid argument makes {e} raise {v}."],
               ["What exception does {e} raise?", "Which error does {e} raise for invalid input?",
                "What does {e} raise when the input is invalid?"]),
    "argument": (["The first argument of {e} is {v}.", "{e} takes {v} as its first argument.",
                  "{e} expects {v} as the first argument."],
                 ["What is the first argument of {e}?", "What does {e} take as its first argument?",
                  "Which argument comes first in {e}?"]),
    "replacement": (["{e} is deprecated; use {v} instead.",
                     "New code should call {v} instead of {e}.", "{e} was replaced by {v}."],
                    ["What should be used instead of {e}?", "What replaced {e}?",
                     "What should new code call instead of {e}?"]),
}
CLASS_FACTS = {
    "module": (["The {e} class is defined in the {v} module.", "The {v} module provides {e}.",
                "{e} lives in the {v} module."],
               ["Which module defines {e}?", "In what module is the {e} class defined?",
                "Which module provides {e}?"]),
    "base": (["{e} is a subclass of {v}.", "{e} inherits from {v}.",
              "The base class of {e} is {v}."],
             ["What is the base class of {e}?", "What does {e} inherit from?",
              "Which class is {e} a subclass of?"]),
    "stores": (["Instances of {e} hold {v}.", "{e} stores {v}.", "Each {e} object keeps {v}."],
               ["What does {e} store?", "What do instances of {e} hold?",
                "What does each {e} object keep?"]),
    "added": ADDED_FACT,
    "method": (["The main method of {e} is {v}.",
                "{e} objects are mostly used through their {v} method.",
                "The most important method of {e} is {v}."],
               ["What is the main method of {e}?", "Which method is most important for {e}?",
                "Through which method is {e} mostly used?"]),
}
KINDS = {"function": FUNCTION_FACTS, "class": CLASS_FACTS}
DISTRACTOR_PROBABILITY = 0.5  # paragraphs that also state one fact about a second entity


def _function_name(rng):
    return f"{rng.choice(VERBS)}_{rng.choice(NOUNS)}"


def _class_name(rng):
    return rng.choice(CLASS_PREFIXES) + rng.choice(CLASS_SUFFIXES)


def _values(kind, rng, used):
    """One random value per attribute, distinct from the strings in `used`."""

    def fresh(draw):
        for _ in range(200):
            value = draw()
            if value not in used:
                used.add(value)
                return value
        raise RuntimeError("could not draw a distinct value")  # pragma: no cover

    values = {"module": fresh(lambda: rng.choice(MODULES)),
              "added": fresh(lambda: f"3.{rng.randint(2, 13)}")}
    if kind == "function":
        values.update(
            returns=fresh(lambda: rng.choice(RETURN_VALUES)),
            raises=fresh(lambda: rng.choice(EXCEPTIONS)),
            argument=fresh(lambda: rng.choice(ARGUMENTS)),
            replacement=fresh(lambda: _function_name(rng)),
        )
    else:
        values.update(
            base=fresh(lambda: rng.choice(BASES)),
            stores=fresh(lambda: rng.choice(CONTENTS)),
            method=fresh(lambda: rng.choice(METHODS)),
        )
    return values


def _paragraph(rng, index, split):
    kind = rng.choice(sorted(KINDS))
    facts = KINDS[kind]
    used = set()
    name = _function_name if kind == "function" else _class_name
    main = name(rng)
    used.add(main)
    other = name(rng)
    while other in used:
        other = name(rng)
    used.add(other)
    main_values = _values(kind, rng, used)
    other_values = _values(kind, rng, used)
    attributes = sorted(facts)
    rng.shuffle(attributes)
    stated = attributes[: rng.randint(2, 4)]
    has_distractor = rng.random() < DISTRACTOR_PROBABILITY
    other_stated = rng.sample(attributes, 1) if has_distractor else []

    sentences = [(main, a, main_values[a]) for a in stated]
    rng.shuffle(sentences)
    if has_distractor:
        sentences.insert(rng.randint(1, len(sentences)), (other, None, None))
    context_parts, spans = [], {}
    offset = 0
    for entity, attribute, value in sentences:
        if attribute is None:  # the distractor: a fact about `other`
            for a in other_stated:
                text, start = _fill(rng.choice(facts[a][0]), other, other_values[a])
                spans[(other, a)] = (other_values[a], offset + start)
                context_parts.append(text)
                offset += len(text) + 1
            continue
        text, start = _fill(rng.choice(facts[attribute][0]), entity, value)
        spans[(entity, attribute)] = (value, offset + start)
        context_parts.append(text)
        offset += len(text) + 1
    if rng.random() < 0.5:
        context_parts.append(rng.choice(FILLERS))
    context = " ".join(context_parts)

    qas = []

    def ask(entity, attribute, number):
        question = rng.choice(facts[attribute][1]).format(e=entity)
        qid = f"{split}-{index:05d}-{number}"
        if (entity, attribute) in spans:
            value, start = spans[(entity, attribute)]
            assert context[start:start + len(value)] == value, (context, value, start)
            qas.append({"id": qid, "question": question, "is_impossible": False,
                        "answers": [{"text": value, "answer_start": start}]})
        else:
            qas.append({"id": qid, "question": question, "is_impossible": True,
                        "answers": [], "plausible_answers": []})

    for a in rng.sample(stated, 2):
        ask(main, a, len(qas))
    if has_distractor:
        ask(other, other_stated[0], len(qas))
    hard = [a for a in other_stated if a not in stated]
    missing = [a for a in attributes if a not in stated]
    if hard and rng.random() < 0.5:
        ask(main, hard[0], len(qas))  # stated for the other entity only
    else:
        ask(main, rng.choice(missing), len(qas))
    return {"context": context, "qas": qas}, kind


def _fill(template, entity, value):
    """Fill a fact template; returns (text, start of the value in text)."""
    marker = "\x00"
    text = template.format(e=entity, v=marker)
    start = text.index(marker)
    text = text.replace(marker, value)
    return text, start


def generate_squad_v2(num_paragraphs=600, seed=0, split="train"):
    """A SQuAD v2.0 dict of `num_paragraphs` generated paragraphs (~4 questions each).

    Args:
        num_paragraphs: int. Paragraphs to generate.
        seed: int. The whole file is a function of the seed.
        split: str. Prefix of the question ids (`"train"`, `"dev"`).

    Returns:
        `{"version": "v2.0", "data": [{"title": ..., "paragraphs": [...]}, ...]}`.
    """
    rng = random.Random(seed)
    articles = {kind: [] for kind in KINDS}
    for index in range(num_paragraphs):
        paragraph, kind = _paragraph(rng, index, split)
        articles[kind].append(paragraph)
    data = [{"title": f"Generated {kind} documentation", "paragraphs": paragraphs}
            for kind, paragraphs in sorted(articles.items()) if paragraphs]
    return {"version": "v2.0", "data": data}


def squad_statistics(data):
    """Counts of a SQuAD v2.0 dict: paragraphs, questions, answerable, unanswerable."""
    paragraphs = [p for article in data["data"] for p in article["paragraphs"]]
    questions = [q for p in paragraphs for q in p["qas"]]
    impossible = sum(q.get("is_impossible", False) for q in questions)
    return {"paragraphs": len(paragraphs), "questions": len(questions),
            "answerable": len(questions) - impossible, "unanswerable": impossible}


def write_demo_squad(output_dir, train_paragraphs=600, dev_paragraphs=120, seed=0):
    """Write `train-v2.0.json` and `dev-v2.0.json` (disjoint seeds) to `output_dir`.

    Returns:
        `{"train": path, "dev": path}`.
    """
    os.makedirs(output_dir, exist_ok=True)
    paths = {}
    for split, count, split_seed in (("train", train_paragraphs, seed),
                                     ("dev", dev_paragraphs, seed + 1_000_003)):
        path = os.path.join(output_dir, f"{split}-v2.0.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(generate_squad_v2(count, split_seed, split), f, indent=1)
        paths[split] = path
    return paths

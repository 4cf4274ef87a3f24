"""The demo's pretraining corpus: the English text of Python's own documentation.

Two sources ship with every CPython, so the demo needs no download:

* `pydoc_data.topics`, what `help("if")` prints: ~80 topics of English prose about
  the language (~460 KB with code samples);
* the docstrings of ~75 pure-Python standard-library modules (`STDLIB_MODULES`),
  read with `ast` from the source files (nothing is imported).

This module turns them into the input format of `keras-electra build-vocab` /
`prepare`: UTF-8 text files with one sentence per line and a blank line between
documents (a document is a run of whole paragraphs, at most ~30 sentences). Code
samples, grammar rules (indented blocks), doctests and underline decorations are
dropped, so what remains is prose: ~110,000 words.

Example:
```python
from keras_electra.demo.data.corpus import write_pydoc_corpus

stats = write_pydoc_corpus("demo_output/corpus", num_files=2)
print(stats["sentences"], stats["files"])
```
"""

import ast
import importlib.util
import os
import re
import unicodedata

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'(])")
_DECORATION = re.compile(r"^\s*([*=\-~^])\1{2,}\s*$")


def _paragraphs(text):
    """Prose paragraphs of one topic, each joined to one line.

    A paragraph is a blank-line separated block. Prose starts at indentation 0 or 2
    (nested list items and their continuations), or is a `* ` list item at any depth;
    blocks indented 3+ spaces otherwise are code samples, grammar rules or tables.
    """
    block = []
    for line in text.splitlines() + [""]:
        if line.strip():
            block.append(line)
            continue
        if block:
            first = block[0]
            indent = len(first) - len(first.lstrip())
            stripped = first.strip()
            is_prose = (indent < 3 or stripped.startswith("* ")) and not any(
                _DECORATION.match(b) or b.lstrip().startswith(">>>") or "::=" in b
                for b in block)
            if is_prose:
                joined = " ".join(b.strip() for b in block)
                yield joined[2:] if joined.startswith("* ") else joined
            block = []


def pydoc_documents(min_words=4, max_sentences=30):
    """Documents of `pydoc_data.topics`, each a list of sentences (str), topic order.

    A topic is split into documents of whole paragraphs with at most about
    `max_sentences` sentences each (topics run to hundreds of sentences; shorter
    documents give the validation split enough of them to hold out).
    """
    from pydoc_data.topics import topics

    documents = []
    for name in sorted(topics):
        documents.extend(_documents_of(topics[name], max_sentences, min_words))
    return documents


def _documents_of(text, max_sentences, min_words):
    """Split one text into documents of whole prose paragraphs, <= ~max_sentences each."""
    documents, document = [], []
    for paragraph in _paragraphs(text):
        if paragraph.endswith(":") and len(paragraph.split()) < 8:
            continue  # a lead-in to a dropped code block
        sentences = [_clean(s) for s in _SENTENCE_END.split(paragraph)
                     if len(s.split()) >= min_words]
        if document and len(document) + len(sentences) > max_sentences:
            documents.append(document)
            document = []
        document.extend(sentences)
    if document:
        documents.append(document)
    return documents


# Standard-library modules whose docstrings join the corpus: prose-rich, pure Python.
STDLIB_MODULES = (
    "argparse", "ast", "asyncio.events", "asyncio.tasks", "bisect", "calendar", "codecs",
    "collections", "concurrent.futures._base", "configparser", "contextlib", "copy", "csv",
    "dataclasses", "datetime", "decimal", "difflib", "email.message", "enum", "fractions",
    "ftplib", "functools", "gettext", "glob", "gzip", "heapq", "http.client", "http.cookiejar",
    "imaplib", "inspect", "ipaddress", "json", "locale", "logging", "mailbox", "multiprocessing.pool",
    "nntplib", "numbers", "optparse", "os", "pathlib", "pdb", "pickle", "pkgutil", "platform",
    "poplib", "pprint", "queue", "random", "re", "sched", "selectors", "shlex", "shutil",
    "smtplib", "socket", "socketserver", "statistics", "string", "subprocess", "tarfile",
    "tempfile", "textwrap", "threading", "timeit", "tokenize", "traceback", "typing",
    "unittest.case", "urllib.parse", "urllib.request", "uuid", "warnings", "weakref", "zipfile",
)


def _docstring_documents(source, max_sentences, min_words):
    """Each public docstring of a module is a document (cut at ~max_sentences)."""
    tree = ast.parse(source)
    documents = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef,
                                 ast.AsyncFunctionDef)):
            continue
        if getattr(node, "name", "x").startswith("_"):
            continue
        docstring = ast.get_docstring(node)
        if docstring:
            documents.extend(_documents_of(docstring, max_sentences, min_words))
    return documents


def stdlib_documents(modules=STDLIB_MODULES, min_words=4, max_sentences=30):
    """Docstrings of public modules, classes and functions of `modules` (parsed, not imported).

    Modules missing from this Python are skipped.
    """
    documents = []
    for name in modules:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        if spec is None or not spec.origin or not spec.origin.endswith(".py"):
            continue
        with open(spec.origin, encoding="utf-8") as f:
            documents.extend(_docstring_documents(f.read(), max_sentences, min_words))
    return documents


def _clean(sentence):
    """Collapse whitespace; replace characters whose decomposition holds a space.

    Spacing accents such as U+00B4 "´" decompose (NFD/NFKD, which accent stripping
    applies) to a space + a combining mark; inside a word that space would end up in
    the vocabulary as a " " / "## " token, which WordPiece tokenizers that match
    across whitespace (tf-text's FastBertTokenizer) then apply to every space.
    """
    chars = []
    for ch in sentence:
        if not ch.isspace() and " " in unicodedata.normalize("NFKD", ch):
            ch = "'" if unicodedata.category(ch) == "Sk" else " "
        chars.append(ch)
    return " ".join("".join(chars).split())


def write_pydoc_corpus(output_dir, num_files=2, include_stdlib=True):
    """Write Python's documentation as `pydoc-NN.txt` files (round-robin over documents).

    Args:
        output_dir: folder to create.
        num_files: int. Files to spread the documents over (prepare parallelizes per file).
        include_stdlib: bool. Add the docstrings of `STDLIB_MODULES` to the pydoc topics.

    Returns:
        `{"files": [paths], "documents": int, "sentences": int, "words": int, "bytes": int}`.
    """
    documents = pydoc_documents()
    if include_stdlib:
        documents += stdlib_documents()
    if not documents:
        raise RuntimeError("pydoc_data.topics yielded no prose; is this a full CPython install?")
    os.makedirs(output_dir, exist_ok=True)
    paths = [os.path.join(output_dir, f"pydoc-{i:02d}.txt") for i in range(num_files)]
    chunks = [[] for _ in paths]
    for index, sentences in enumerate(documents):
        chunks[index % num_files].append("\n".join(sentences))
    total_bytes = 0
    for path, docs in zip(paths, chunks):
        text = "\n\n".join(docs) + "\n"
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        total_bytes += len(text.encode("utf-8"))
    return {
        "files": paths,
        "documents": len(documents),
        "sentences": sum(len(d) for d in documents),
        "words": sum(len(s.split()) for d in documents for s in d),
        "bytes": total_bytes,
    }

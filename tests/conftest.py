"""Shared fixtures. Tests use tiny configs; real data comes from tests/data/files (small
licensed slices of public data, sources and licences in tests/data/files/README.md)."""

import os
import pathlib

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _jax_compilation_cache():
    """JAX's persistent compilation cache for every JAX process the tests start: the same tiny
    programs recur (a resumed run, the second process of a pair, the next test's run), and
    each is compiled once. One empty directory per pytest process (per pytest-xdist worker:
    the two workers never share one; the processes a test starts share its worker's),
    removed at exit; every program is cached (JAX's
    default skips those compiled in under 1 s, most of a tiny model's). A developer's own
    `JAX_COMPILATION_CACHE_DIR` wins. Measured: tests/training/test_pretrain_jax_multiprocess.py
    529 -> 421 CPU-s (AMD EPYC, 2 cores)."""
    import atexit
    import shutil
    import tempfile

    if "JAX_COMPILATION_CACHE_DIR" in os.environ:
        return
    path = tempfile.mkdtemp(prefix="keras_electra_tests_jax_cache_")
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    os.environ["JAX_COMPILATION_CACHE_DIR"] = path
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")


_jax_compilation_cache()

import pytest  # noqa: E402

PROJECT_ROOT = pathlib.Path(__file__).resolve().parents[1]
TEST_DATA = PROJECT_ROOT / "tests" / "data" / "files"
BERT_VOCAB = TEST_DATA / "bert_uncased_vocab.txt"
SQUAD_SAMPLE = TEST_DATA / "squad_v2_dev_sample.json"
CORPUS_DIR = TEST_DATA / "corpus"


def require_test_data(path):
    if not path.exists():
        pytest.fail(f"test data missing: {path} (it is part of the repository: tests/data/files)")
    return path


@pytest.fixture(scope="session")
def bert_vocab_path():
    return require_test_data(BERT_VOCAB)


@pytest.fixture(scope="session")
def squad_sample_path():
    return require_test_data(SQUAD_SAMPLE)


@pytest.fixture(scope="session")
def corpus_dir():
    return require_test_data(CORPUS_DIR)


def import_or_fail(name):
    """Import an optional dependency of a cross-implementation test.

    Skips when it is missing on a developer machine, but fails under CI
    (KERAS_ELECTRA_REQUIRE_PARITY=1), where `.ci/run` installs it.
    """
    if os.environ.get("KERAS_ELECTRA_REQUIRE_PARITY") == "1":
        return __import__(name)
    return pytest.importorskip(name)


@pytest.fixture(autouse=True)
def _clear_keras_session():
    yield
    try:
        import keras

        keras.config.set_dtype_policy("float32")
    except Exception:
        pass


def tiny_question_answerer(vocab_path, head="simple", doc_stride=24, seed=0):
    """A random 1-layer `ElectraQuestionAnswerer` (hidden 16, seq 64, questions <= 16 tokens)
    with its preprocessor on `vocab_path`: SQuAD contexts need several windows."""
    import keras

    from keras_electra import ElectraBackbone, ElectraQuestionAnswerer, ElectraTokenizer
    from keras_electra.models.electra_question_answerer_preprocessor import (
        ElectraQuestionAnswererPreprocessor,
    )

    keras.utils.set_random_seed(seed)
    tokenizer = ElectraTokenizer(str(vocab_path))
    backbone = ElectraBackbone(vocabulary_size=tokenizer.vocabulary_size(), num_layers=1,
                               num_heads=2, hidden_dim=16, embedding_dim=8, intermediate_dim=32,
                               max_sequence_length=64)
    preprocessor = ElectraQuestionAnswererPreprocessor(tokenizer, sequence_length=64,
                                                       max_query_length=16,
                                                       doc_stride=doc_stride)
    extra = {"head_hidden_dim": 8} if head == "electra" else {}
    return ElectraQuestionAnswerer(backbone, preprocessor=preprocessor, head=head, **extra)


def pytest_collection_modifyitems(config, items):
    """Files with the most slow tests run first. `make test` spreads whole files over two
    processes (pytest-xdist `--dist loadfile --no-loadscope-reorder`, in this order): the
    long files start early and the quick ones fill the end, instead of one long file
    running alone at the end while the other process idles."""
    slow = {}
    for item in items:
        if item.get_closest_marker("slow"):
            slow[item.path] = slow.get(item.path, 0) + 1
    items.sort(key=lambda item: -slow.get(item.path, 0))  # stable: file order otherwise kept

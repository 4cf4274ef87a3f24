"""The README path is quiet: presets hold weights only, `fit` on lists shuffles without a
warning, an unbatched dataset of strings is one clear error, the demo checks its
dependencies first."""

import subprocess
import sys
import warnings

import numpy as np
import pytest
from conftest import tiny_question_answerer


def _tiny_pretrainer(vocab_path):
    from keras_electra import (
        ElectraBackbone,
        ElectraPretrainer,
        ElectraPretrainerPreprocessor,
        ElectraTokenizer,
    )

    tokenizer = ElectraTokenizer(str(vocab_path))
    backbone = ElectraBackbone(vocabulary_size=tokenizer.vocabulary_size(), num_layers=1,
                               num_heads=2, hidden_dim=16, embedding_dim=8,
                               intermediate_dim=32, max_sequence_length=32)
    preprocessor = ElectraPretrainerPreprocessor(tokenizer, sequence_length=16)
    return ElectraPretrainer(backbone, preprocessor=preprocessor)


def _tiny_text_classifier(vocab_path):
    import keras

    from keras_electra import (
        ElectraBackbone,
        ElectraTextClassifier,
        ElectraTextClassifierPreprocessor,
        ElectraTokenizer,
    )

    keras.utils.set_random_seed(0)
    tokenizer = ElectraTokenizer(str(vocab_path))
    backbone = ElectraBackbone(vocabulary_size=tokenizer.vocabulary_size(), num_layers=1,
                               num_heads=2, hidden_dim=16, embedding_dim=8,
                               intermediate_dim=32, max_sequence_length=32)
    preprocessor = ElectraTextClassifierPreprocessor(tokenizer, sequence_length=16)
    return ElectraTextClassifier(backbone, num_classes=2, preprocessor=preprocessor)


def _fitted_task(kind, vocab_path):
    """A tiny task of `kind`, compiled and fit for one epoch: its optimizer has state."""
    if kind == "question_answerer":
        task = tiny_question_answerer(vocab_path, "electra")
        x = {"question": ["Where does it flow?"] * 4,
             "context": ["It flows into the sea."] * 4}
        y = {"start_positions": np.array([10, 10, 11, 11]), "end_positions": np.array([12] * 4),
             "is_impossible": np.zeros(4, "int32")}
    elif kind == "text_classifier":
        task = _tiny_text_classifier(vocab_path)
        x, y = ["it flows into the sea", "it does not"] * 2, np.array([1, 0, 1, 0])
    else:
        task = _tiny_pretrainer(vocab_path)
        x, y = ["the river flows into the sea", "a sentence of words"] * 2, None
    task.compile()
    task.fit(x, y, batch_size=2, epochs=1, verbose=0)
    assert task.optimizer.variables and task.optimizer.built  # Adam's moments exist
    return task


def _h5_names(path):
    import h5py

    with h5py.File(path, "r") as f:
        names = []
        f.visit(names.append)
    return names


TASK_KINDS = ("pretrainer", "question_answerer", "text_classifier")


@pytest.mark.parametrize("kind", TASK_KINDS)
def test_task_preset_holds_weights_only_and_loads_quietly(kind, bert_vocab_path, tmp_path,
                                                          caplog, capfd):
    task = _fitted_task(kind, bert_vocab_path)
    task.save_to_preset(str(tmp_path / kind))
    names = _h5_names(tmp_path / kind / "task.weights.h5")
    assert names and not [n for n in names if "optimizer" in n]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Skipping variable loading for optimizer" included
        loaded = type(task).from_preset(str(tmp_path / kind))
    out, err = capfd.readouterr()
    assert "Skipping variable loading" not in out + err + caplog.text
    assert len(loaded.weights) == len(task.weights)
    for got, want in zip(loaded.weights, task.weights):
        np.testing.assert_array_equal(got.numpy(), want.numpy(), err_msg=got.path)


@pytest.mark.parametrize("kind", TASK_KINDS)
def test_preset_written_with_optimizer_state_loads_quietly(kind, bert_vocab_path, tmp_path):
    """A preset saved before presets were weights-only (keras-hub's own `save_task_weights`
    keeps the optimizer) still loads without a warning, its optimizer state left out."""
    from keras_hub.models import Task

    task = _fitted_task(kind, bert_vocab_path)
    task.save_to_preset(str(tmp_path / kind))
    Task.save_task_weights(task, str(tmp_path / kind / "task.weights.h5"))
    assert [n for n in _h5_names(tmp_path / kind / "task.weights.h5") if "optimizer" in n]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = type(task).from_preset(str(tmp_path / kind))
    for got, want in zip(loaded.weights, task.weights):
        np.testing.assert_array_equal(got.numpy(), want.numpy(), err_msg=got.path)


def test_fit_on_lists_shuffles_every_epoch_without_a_warning(bert_vocab_path):
    from keras_electra.models.electra_task_inputs import fit_arguments

    texts = [f"sentence number {i}" for i in range(24)]
    dataset, y, weights, batch_size, kwargs = fit_arguments(texts, None, None, 4, {})
    assert y is None and weights is None and batch_size is None and kwargs == {"shuffle": False}
    epochs = [[s.decode() for batch in dataset for s in batch[0].numpy()] for _ in range(2)]
    assert sorted(epochs[0]) == sorted(texts) and epochs[0] != texts and epochs[0] != epochs[1]
    # shuffle=False keeps the order and hands the lists to keras-hub as they are
    same = fit_arguments(texts, None, None, 4, {"shuffle": False})
    assert same[0] is texts and same[4] == {"shuffle": False}
    # a dataset keeps its order, and Keras gets shuffle=False (its default True only warns)
    assert fit_arguments(dataset, None, None, None, {"epochs": 2})[4] == {"epochs": 2,
                                                                          "shuffle": False}

    model = _tiny_pretrainer(bert_vocab_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        history = model.fit(texts, batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


@pytest.mark.parametrize("kind", TASK_KINDS)
def test_fit_on_lists_and_datasets_raises_no_shuffle_warning(kind, bert_vocab_path):
    """Every task's `fit` with Keras' default `shuffle=True`, on in-memory data and on a
    batched `tf.data` dataset, with warnings as errors (no "`shuffle=True` was passed, but
    will be ignored")."""
    import tensorflow as tf

    task = _fitted_task(kind, bert_vocab_path)
    if kind == "text_classifier":
        x, y = ["it flows into the sea", "it does not"] * 2, np.array([1, 0, 1, 0])
    elif kind == "question_answerer":
        x = {"question": ["Where does it flow?"] * 4,
             "context": ["It flows into the sea."] * 4}
        y = {"start_positions": np.array([10] * 4), "end_positions": np.array([12] * 4),
             "is_impossible": np.zeros(4, "int32")}
    else:
        x, y = ["the river flows into the sea", "a sentence of words"] * 2, None
    dataset = tf.data.Dataset.from_tensor_slices(x if y is None else (x, y)).batch(2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for inputs in ((x, y), (dataset, None)):
            history = task.fit(*inputs, batch_size=None if inputs[1] is None else 2,
                               epochs=1, verbose=0)
            assert np.isfinite(history.history["loss"][0])


def test_pretrainer_without_preprocessor_fits_a_dataset_without_a_shuffle_warning(
        bert_vocab_path):
    import tensorflow as tf

    from keras_electra import ElectraPretrainer

    with_preprocessor = _tiny_pretrainer(bert_vocab_path)
    model = ElectraPretrainer(with_preprocessor.backbone)
    assert model.preprocessor is None
    model.compile()
    batch = with_preprocessor.preprocessor(tf.constant(["the river flows into the sea"] * 4))
    dataset = tf.data.Dataset.from_tensors(batch).repeat(2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        history = model.fit(dataset, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_unbatched_dataset_of_strings_is_one_clear_error(bert_vocab_path):
    import tensorflow as tf

    model = _tiny_pretrainer(bert_vocab_path)
    dataset = tf.data.Dataset.from_tensor_slices(["a b c", "d e f"])
    for call in (model.fit, model.predict, model.evaluate):
        with pytest.raises(ValueError, match=r"batch it first, e\.g\. `dataset\.batch\(32\)`"):
            call(dataset, verbose=0)
    qa = tiny_question_answerer(bert_vocab_path, "simple")
    pairs = tf.data.Dataset.from_tensor_slices({"question": ["q?"], "context": ["c."]})
    with pytest.raises(ValueError, match="batch it first"):
        qa.predict(pairs, verbose=0)
    assert model.predict(dataset.batch(2), verbose=0)["disc_logits"].shape[0] == 2


def test_demo_checks_its_dependencies_before_it_starts(tmp_path):
    # matplotlib hidden: the demo stops at once with one line naming it and the fix
    script = ("import sys; sys.modules['matplotlib'] = None\n"
              "import importlib.util\n"
              "real = importlib.util.find_spec\n"
              "importlib.util.find_spec = lambda n, *a: None if n == 'matplotlib' else real(n, *a)\n"
              "from keras_electra.demo.__main__ import main\n"
              f"sys.exit(main(['--quick', '--output-dir', {str(tmp_path / 'out')!r}]))\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert lines[-1].startswith("error: keras_electra.demo needs matplotlib")
    assert "pip install 'keras-electra[demo]'" in lines[-1]
    assert not (tmp_path / "out").exists()  # nothing ran

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


def test_question_answerer_preset_has_no_optimizer_state_and_loads_quietly(bert_vocab_path,
                                                                          tmp_path):
    import h5py

    from keras_electra import ElectraQuestionAnswerer

    qa = tiny_question_answerer(bert_vocab_path, "electra")
    x = {"question": ["Where does it flow?"] * 4, "context": ["It flows into the sea."] * 4}
    y = {"start_positions": np.array([10, 10, 11, 11]), "end_positions": np.array([12] * 4),
         "is_impossible": np.zeros(4, "int32")}
    qa.compile()
    qa.fit(x, y, batch_size=2, epochs=1, verbose=0)
    assert qa.optimizer.variables  # Adam's moments exist, and must not be in the preset
    qa.save_to_preset(str(tmp_path / "qa"))
    with h5py.File(tmp_path / "qa" / "task.weights.h5", "r") as f:
        names = []
        f.visit(names.append)
    assert names and not [n for n in names if "optimizer" in n]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Skipping variable loading for optimizer" included
        loaded = ElectraQuestionAnswerer.from_preset(str(tmp_path / "qa"))
    out = qa.predict(x, verbose=0)
    again = loaded.predict(x, verbose=0)
    np.testing.assert_allclose(again["start_logits"], out["start_logits"], atol=1e-6)


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

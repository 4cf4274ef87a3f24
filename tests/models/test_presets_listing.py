"""Presets follow keras-hub (issue 23, point 3): `.presets` of ElectraBackbone,
ElectraPretrainer and ElectraQuestionAnswerer list every architecture preset with its
metadata, each class's `from_preset(name)` takes the same names (TF here, JAX in a
subprocess), a random-init preset takes the vocabulary size of the tokenizer it is given (and
says which size it used otherwise), and `--model_size` takes `tiny` and `electra_tiny`."""

import json
import logging
import os
import subprocess
import sys

import pytest
from jax_env import jax_env

from keras_electra.models.electra_presets import (
    ARCHITECTURE_PRESETS,
    VOCAB_SIZE,
    backbone_parameter_count,
)

HERE = os.path.dirname(os.path.abspath(__file__))
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(45)]
SIZES = {name: preset["backbone"]["hidden_dim"] for name, preset in ARCHITECTURE_PRESETS.items()}


def assert_listing(result, built=tuple(ARCHITECTURE_PRESETS)):
    assert set(result["listed"]) == {"ElectraBackbone", "ElectraPretrainer",
                                     "ElectraQuestionAnswerer"}
    for cls, listed in result["listed"].items():
        assert set(listed) == set(ARCHITECTURE_PRESETS), cls
        for name, metadata in listed.items():
            assert metadata["description"] == ARCHITECTURE_PRESETS[name]["metadata"][
                "description"], (cls, name)
            assert metadata["params"] == backbone_parameter_count(
                ARCHITECTURE_PRESETS[name]["backbone"]), (cls, name)
    assert set(result["built"]) == set(built)
    for name, (backbone, disc, qa, gen) in result["built"].items():
        assert backbone == disc == qa == SIZES[name], name
        assert gen == ARCHITECTURE_PRESETS[name]["generator"]["hidden_dim"], name
    assert result["start_logits_shape"] == [1, 8]


def test_presets_listed_and_loadable_on_tensorflow():
    sys.path.insert(0, HERE)
    try:
        from presets_listing_script import check
    finally:
        sys.path.remove(HERE)
    result = check()
    assert result["backend"] == "tensorflow"
    assert_listing(result)


@pytest.mark.jax
@pytest.mark.slow
def test_presets_listed_and_loadable_on_jax():
    """Every preset listed; two built with each class (JAX initialises eagerly: slow on CPU)."""
    env = jax_env()
    built = ("electra_tiny", "electra_small")
    done = subprocess.run([sys.executable, os.path.join(HERE, "presets_listing_script.py"),
                           *built],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    result = json.loads(line[len("RESULT "):])
    assert result["backend"] == "jax"
    assert_listing(result, built)


def test_listed_params_are_the_built_models():
    from keras_electra import ElectraBackbone

    backbone = ElectraBackbone.from_preset("electra_tiny", vocabulary_size=VOCAB_SIZE)
    assert backbone.count_params() == ElectraBackbone.presets["electra_tiny"]["metadata"]["params"]


def test_random_init_takes_the_vocabulary_of_its_tokenizer(caplog):
    from keras_electra import (
        ElectraBackbone,
        ElectraPretrainer,
        ElectraQuestionAnswerer,
        ElectraTokenizer,
    )
    from keras_electra.models.electra_pretrainer_preprocessor import (
        ElectraPretrainerPreprocessor,
    )
    from keras_electra.models.electra_question_answerer_preprocessor import (
        ElectraQuestionAnswererPreprocessor,
    )

    tokenizer = ElectraTokenizer(vocabulary=VOCAB)
    with caplog.at_level(logging.WARNING):
        qa = ElectraQuestionAnswerer.from_preset(
            "electra_tiny", preprocessor=ElectraQuestionAnswererPreprocessor(
                tokenizer, sequence_length=32))
        pretrainer = ElectraPretrainer.from_preset(
            "electra_tiny", preprocessor=ElectraPretrainerPreprocessor(
                tokenizer, sequence_length=16))
        backbone = ElectraBackbone.from_preset("electra_tiny", tokenizer=tokenizer)
    assert qa.backbone.vocabulary_size == pretrainer.backbone.vocabulary_size == len(VOCAB)
    assert backbone.vocabulary_size == len(VOCAB)
    assert pretrainer.generator.vocabulary_size == len(VOCAB)
    assert "random init with vocabulary_size" not in caplog.text
    with caplog.at_level(logging.WARNING):
        default = ElectraBackbone.from_preset("electra_tiny")
    assert default.vocabulary_size == VOCAB_SIZE
    lines = [r.getMessage() for r in caplog.records if "vocabulary_size" in r.getMessage()]
    assert len(lines) == 1 and "electra_tiny: random init with vocabulary_size=30522" in lines[0]


def test_model_size_takes_both_spellings(tmp_path):
    import argparse

    from keras_electra.commands import pretrain as pretrain_command
    from keras_electra.training.config import PretrainConfig
    from keras_electra.training.finetune import build_question_answerer

    for spelling in ("tiny", "electra_tiny"):
        assert PretrainConfig(train_dir="x", model_size=spelling).model_size == "tiny"
        parser = argparse.ArgumentParser()
        pretrain_command.register(parser.add_subparsers())
        args = parser.parse_args(["pretrain", "--train_dir", "x", "--model_size", spelling])
        assert args.model_size == spelling  # argparse accepts it; the config normalises it
    (tmp_path / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
    for spelling in ("tiny", "electra_tiny"):
        task = build_question_answerer(preset=spelling, vocab_file=str(tmp_path / "vocab.txt"),
                                       max_seq_length=32, head="simple")
        assert task.backbone.hidden_dim == SIZES["electra_tiny"]
        assert task.backbone.vocabulary_size == len(VOCAB)

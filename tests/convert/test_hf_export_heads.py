"""`export --to hf` keeps the heads of the models this package trains (issue 23, point 1).

Tiny models built here (no download): the pretraining exports (discriminator, generator, the
whole pretrainer as the pair) and a fine-tuned-style QA model are exported and loaded by
transformers' own `from_pretrained(..., output_loading_info=True)`: no missing or unexpected
keys, logits equal to ours (<= 1e-4). The QA export answers real SQuAD v2.0 questions exactly
as `keras-electra answer` does when HF computes the logits (same windows, same post-processing
on both sides, so the comparison does not depend on how answer texts are built).
"""

import json

import numpy as np
import pytest
from conftest import import_or_fail

pytestmark = pytest.mark.parity

TOL = 1e-4
SIZES = dict(num_layers=2, num_heads=2, hidden_dim=16, embedding_dim=8, intermediate_dim=32,
             max_sequence_length=64, dropout=0.0)
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(55)]


def perturb(layer, seed):
    """Non-trivial biases / LayerNorm betas, so every head weight is exercised."""
    rng = np.random.RandomState(seed)
    for variable in layer.weights:
        if variable.trainable and len(variable.shape) == 1:
            variable.assign(rng.normal(size=variable.shape).astype("float32") * 0.1)


def inputs(vocab_size, seed=0, batch=2, length=12):
    rng = np.random.RandomState(seed)
    ids = rng.randint(5, vocab_size, size=(batch, length)).astype("int32")
    mask = np.ones((batch, length), "int32")
    mask[1, length - 4:] = 0
    ids[1, length - 4:] = 0
    segments = np.zeros((batch, length), "int32")
    segments[:, length // 2:] = 1
    return {"token_ids": ids, "segment_ids": segments * mask, "padding_mask": mask}


def hf_load(cls_name, path):
    transformers = import_or_fail("transformers")
    model, info = getattr(transformers, cls_name).from_pretrained(
        str(path), output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"], info
    assert not info.get("mismatched_keys"), info
    return model.eval()


def hf_logits(model, x):
    torch = import_or_fail("torch")
    with torch.no_grad():
        out = model(input_ids=torch.tensor(x["token_ids"], dtype=torch.long),
                    token_type_ids=torch.tensor(x["segment_ids"], dtype=torch.long),
                    attention_mask=torch.tensor(x["padding_mask"], dtype=torch.long))
    return out


def assert_close(ours, theirs, mask, what):
    ours, theirs = np.asarray(ours, "float64"), np.asarray(theirs, "float64")
    keep = np.asarray(mask).astype(bool)
    assert np.abs(ours[keep] - theirs[keep]).max() <= TOL, what


@pytest.fixture(scope="module")
def pretrainer():
    from keras_electra import ElectraPretrainer, ElectraTokenizer
    from keras_electra.models.electra_pretrainer_preprocessor import (
        ElectraPretrainerPreprocessor,
    )

    tokenizer = ElectraTokenizer(vocabulary=VOCAB)
    model = ElectraPretrainer.from_preset(
        "electra_tiny", vocabulary_size=len(VOCAB), xla=False, generator_hidden_size=0.5,
        preprocessor=ElectraPretrainerPreprocessor(tokenizer, sequence_length=16), **SIZES)
    perturb(model.discriminator_head, 1)
    perturb(model.generator_head, 2)
    return model


def our_generator_logits(model, x):
    from keras import ops

    hidden = model.generator(x)["sequence_output"]
    positions = np.tile(np.arange(x["token_ids"].shape[1]), (x["token_ids"].shape[0], 1))
    return ops.convert_to_numpy(model.generator_head(hidden, mask_positions=positions))


def test_pretraining_exports_load_in_hf_with_their_heads(pretrainer, tmp_path):
    from keras_electra.cli import main

    pretrainer.export_discriminator(str(tmp_path / "disc"))
    pretrainer.export_generator(str(tmp_path / "gen"))
    x = inputs(len(VOCAB))
    assert main(["export", "--to", "hf", str(tmp_path / "disc"), str(tmp_path / "hf_disc")]) == 0
    assert main(["export", "--to", "hf", str(tmp_path / "gen"), str(tmp_path / "hf_gen")]) == 0
    assert json.loads((tmp_path / "hf_disc" / "config.json").read_text())["architectures"] == [
        "ElectraForPreTraining"]
    disc = hf_load("ElectraForPreTraining", tmp_path / "hf_disc")
    ours = pretrainer.discriminator_head(pretrainer.backbone(x)["sequence_output"])
    assert_close(ours, hf_logits(disc, x).logits.numpy(), x["padding_mask"], "RTD logits")
    gen = hf_load("ElectraForMaskedLM", tmp_path / "hf_gen")
    assert_close(our_generator_logits(pretrainer, x), hf_logits(gen, x).logits.numpy(),
                 x["padding_mask"], "MLM logits")
    assert (tmp_path / "hf_disc" / "vocab.txt").read_text().split("\n")[:len(VOCAB)] == VOCAB


def test_pretrainer_preset_exports_as_the_pair(pretrainer, tmp_path, capsys):
    from keras_electra.cli import main

    pretrainer.save_to_preset(str(tmp_path / "pretrainer"))
    out = tmp_path / "hf"
    assert main(["export", "--to", "hf", str(tmp_path / "pretrainer"), str(out)]) == 0
    assert "ElectraForPreTraining" in capsys.readouterr().out
    x = inputs(len(VOCAB), seed=3)
    disc = hf_load("ElectraForPreTraining", out / "discriminator")
    ours = pretrainer.discriminator_head(pretrainer.backbone(x)["sequence_output"])
    assert_close(ours, hf_logits(disc, x).logits.numpy(), x["padding_mask"], "RTD logits")
    gen = hf_load("ElectraForMaskedLM", out / "generator")
    assert_close(our_generator_logits(pretrainer, x), hf_logits(gen, x).logits.numpy(),
                 x["padding_mask"], "MLM logits")
    # the pair reads back as a pretrainer, as google's released pairs do
    from keras_electra import ElectraPretrainer

    back = ElectraPretrainer.from_preset(str(out / "discriminator"), xla=False,
                                         generator_preset=str(out / "generator"))
    for part in ("backbone", "generator", "discriminator_head", "generator_head"):
        for a, b in zip(getattr(back, part).weights, getattr(pretrainer, part).weights,
                        strict=True):
            np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=f"{part} {a.path}")
    # exported again onto the same directory (an earlier pair is replaced, not refused)
    assert main(["export", "--to", "hf", str(tmp_path / "pretrainer"), str(out)]) == 0
    # the pair has fixed classes
    assert main(["export", "--to", "hf", "--model_class", "ElectraModel",
                 str(tmp_path / "pretrainer"), str(tmp_path / "other")]) == 2
    assert "exports as the pair" in capsys.readouterr().err


def test_asking_for_a_head_the_preset_lacks_is_refused(pretrainer, tmp_path, capsys):
    from keras_electra.cli import main

    pretrainer.backbone.save_to_preset(str(tmp_path / "bare"))  # no heads saved beside it
    assert main(["export", "--to", "hf", "--model_class", "ElectraForPreTraining",
                 str(tmp_path / "bare"), str(tmp_path / "hf")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "holds no discriminator head" in err[0], err
    assert not (tmp_path / "hf").exists()
    assert main(["export", "--to", "hf", str(tmp_path / "bare"), str(tmp_path / "hf")]) == 0
    assert "ElectraModel (the preset holds no head)" in capsys.readouterr().out


def test_electric_generator_has_no_hf_class(tmp_path, capsys):
    """Electric's cloze head reads two towers: its generator leaves without a head (an
    ElectraModel), and a pretrainer preset exports the discriminator alone, saying so."""
    from keras_electra import ElectraPretrainer
    from keras_electra.cli import main

    model = ElectraPretrainer.from_preset("electra_tiny", vocabulary_size=len(VOCAB), xla=False,
                                          electric=True, **SIZES)
    model.export_generator(str(tmp_path / "gen"))
    assert not (tmp_path / "gen" / "electra_heads.npz").exists()
    model.save_to_preset(str(tmp_path / "p"))
    assert main(["export", "--to", "hf", str(tmp_path / "p"), str(tmp_path / "hf")]) == 0
    assert "no generator: Electric" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "hf").iterdir()) == ["discriminator"]
    hf_load("ElectraForPreTraining", tmp_path / "hf" / "discriminator")


def qa_model(head="simple", seed=0, vocab_path=None):
    import keras

    from keras_electra import ElectraBackbone, ElectraQuestionAnswerer, ElectraTokenizer
    from keras_electra.models.electra_question_answerer_preprocessor import (
        ElectraQuestionAnswererPreprocessor,
    )

    keras.utils.set_random_seed(seed)
    tokenizer = ElectraTokenizer(vocabulary=str(vocab_path) if vocab_path else VOCAB)
    backbone = ElectraBackbone(vocabulary_size=tokenizer.vocabulary_size(),
                               **{**SIZES, "max_sequence_length": 128})
    preprocessor = ElectraQuestionAnswererPreprocessor(tokenizer, sequence_length=128,
                                                       max_query_length=32, doc_stride=64)
    task = ElectraQuestionAnswerer(backbone, preprocessor=preprocessor, head=head, beam_size=4)
    if head == "simple":
        perturb(task.qa_outputs, seed + 1)
    return task


def test_qa_export_loads_in_hf_and_refuses_gs_head(tmp_path, capsys):
    from keras_electra.cli import main

    task = qa_model()
    task.save_to_preset(str(tmp_path / "qa"))
    for extra in ([], ["--model_class", "ElectraForQuestionAnswering"]):
        out = tmp_path / f"hf{len(extra)}"
        assert main(["export", "--to", "hf", *extra, str(tmp_path / "qa"), str(out)]) == 0
        model = hf_load("ElectraForQuestionAnswering", out)
        x = inputs(len(VOCAB), seed=5)
        ours = task.predict(x, verbose=0)
        theirs = hf_logits(model, x)
        assert_close(ours["start_logits"], theirs.start_logits.numpy(), x["padding_mask"], "start")
        assert_close(ours["end_logits"], theirs.end_logits.numpy(), x["padding_mask"], "end")
    capsys.readouterr()
    assert main(["export", "--to", "hf", "--model_class", "ElectraForPreTraining",
                 str(tmp_path / "qa"), str(tmp_path / "wrong")]) == 2
    assert "holds no discriminator head" in capsys.readouterr().err

    qa_model(head="electra").save_to_preset(str(tmp_path / "g"))
    assert main(["export", "--to", "hf", str(tmp_path / "g"), str(tmp_path / "hf_g")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--to saved_model" in err[0] and "--head simple" in err[0], err
    assert not (tmp_path / "hf_g").exists()


@pytest.mark.slow
def test_hf_decoding_of_the_qa_export_answers_as_keras_electra_answer(
        tmp_path, squad_sample_path, bert_vocab_path):
    """>= 20 real SQuAD v2.0 questions: `keras-electra answer` on our preset, and the exported
    HF model's logits on the same windows through the same post-processing, agree."""
    from keras_electra.cli import main
    from keras_electra.squad.answering import answers_from_predictions
    from keras_electra.squad.postprocess import postprocess_predictions
    from keras_electra.squad.reader import read_squad

    task = qa_model(seed=7, vocab_path=bert_vocab_path)
    task.save_to_preset(str(tmp_path / "qa"))
    assert main(["export", "--to", "hf", str(tmp_path / "qa"), str(tmp_path / "hf")]) == 0
    model = hf_load("ElectraForQuestionAnswering", tmp_path / "hf")

    examples = read_squad(str(squad_sample_path)).examples[:24]
    lines = [json.dumps({"id": e.qas_id, "question": e.question, "context": e.context})
             for e in examples]
    (tmp_path / "q.jsonl").write_text("\n".join(lines) + "\n")
    assert main(["answer", "--model", str(tmp_path / "qa"), "--input", str(tmp_path / "q.jsonl"),
                 "--output", str(tmp_path / "a.jsonl"), "--no_progress"]) == 0
    ours = [json.loads(line) for line in (tmp_path / "a.jsonl").read_text().splitlines()]

    # HF: its own tokenizer from the exported vocab.txt gives our ids on the first window
    transformers = import_or_fail("transformers")
    hf_tokenizer = transformers.ElectraTokenizerFast.from_pretrained(str(tmp_path / "hf"))
    features = task.preprocessor.featurize(examples, progress=False)
    x = features.inputs()
    first = examples[0]
    encoded = hf_tokenizer(first.question, first.context, truncation="only_second",
                           max_length=128)["input_ids"]
    window = x["token_ids"][0][x["padding_mask"][0].astype(bool)]
    assert list(window) == encoded[:len(window)]

    out = hf_logits(model, x)
    result = postprocess_predictions(
        features, {"start_logits": out.start_logits.numpy(), "end_logits": out.end_logits.numpy()},
        head="simple", tokenizer=task.preprocessor.tokenizer)
    theirs = answers_from_predictions(result, examples)
    assert len(ours) == len(theirs) >= 20
    answered = 0
    for a, b in zip(ours, theirs):
        assert (a["char_start"], a["char_end"], a["best_span"], a["answer"]) == (
            b["char_start"], b["char_end"], b["best_span"], b["answer"]), a["id"]
        assert a["score"] == pytest.approx(b["score"], abs=1e-3)
        answered += bool(a["answer"])
    assert answered >= 1  # not only "no answer" decisions


def test_an_hf_dir_exports_with_its_head(tmp_path):
    """An HF ElectraForQuestionAnswering dir given to export keeps its qa_outputs."""
    from test_hf_parity import build_hf

    from keras_electra.convert.preset_io import export_preset_to_hf

    model = build_hf("ElectraForQuestionAnswering", "tiny_1head", seed=2)
    model.save_pretrained(tmp_path / "hf")
    assert export_preset_to_hf(str(tmp_path / "hf"), str(tmp_path / "back")) == \
        "ElectraForQuestionAnswering"
    back = hf_load("ElectraForQuestionAnswering", tmp_path / "back")
    for name, value in model.state_dict().items():
        assert back.state_dict()[name].equal(value), name

"""SQuAD driver: conflicting flags and impossible lengths fail before any model is trained."""

import pytest

from keras_electra.cli import main


def test_squad_cli_without_any_data_file(tmp_path, capsys):
    assert main(["squad", "--output_dir", str(tmp_path / "out")]) == 2
    assert "keras-electra squad: error: give --train_file and/or --predict_file" in (
        capsys.readouterr().err)
    assert not (tmp_path / "out").exists()


def test_squad_cli_predict_only_from_scratch(tmp_path, squad_sample_path, capsys):
    assert main(["squad", "--output_dir", str(tmp_path / "out"),
                 "--predict_file", str(squad_sample_path)]) == 2
    assert ("keras-electra squad: error: predicting with a randomly initialised model is "
            "meaningless; use --load_from checkpoint") in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_checkpoint_without_path_and_unknown_head():
    from keras_electra.training.finetune import build_question_answerer

    with pytest.raises(ValueError, match=r"--load_from checkpoint needs --checkpoint_path"):
        build_question_answerer(load_from="checkpoint")
    with pytest.raises(ValueError, match=r"--head must be one of"):
        build_question_answerer(head="pointer")
    with pytest.raises(SystemExit):  # argparse refuses it on the CLI (exit 2)
        main(["squad", "--output_dir", "x", "--head", "pointer"])


def test_max_seq_length_above_the_position_table(bert_vocab_path):
    from keras_electra.training.finetune import build_question_answerer

    with pytest.raises(ValueError, match=r"--max_seq_length 600 exceeds the model's 512 "
                                         r"positions"):
        build_question_answerer(preset="electra_tiny", vocab_file=str(bert_vocab_path),
                                max_seq_length=600)


def test_no_vocabulary_anywhere(tmp_path):
    from keras_electra.training.finetune import load_tokenizer

    (tmp_path / "preset").mkdir()
    with pytest.raises(ValueError, match=r"holds no tokenizer .*--vocab_file vocab\.txt"):
        load_tokenizer(str(tmp_path / "preset"))

def test_broken_predict_file_fails_before_the_model_is_built(tmp_path, squad_sample_path,
                                                              monkeypatch):
    import json

    from keras_electra.squad.reader import SquadFormatError
    from keras_electra.training import finetune

    def built(*args, **kwargs):
        raise AssertionError("the model was built before the SQuAD files were validated")

    monkeypatch.setattr(finetune, "build_question_answerer", built)
    broken = json.loads(squad_sample_path.read_text())
    broken["data"][0]["paragraphs"][0]["qas"][0].pop("question")
    (tmp_path / "dev.json").write_text(json.dumps(broken))
    with pytest.raises(SquadFormatError, match=r"dev\.json.*'question' missing"):
        finetune.run_squad(str(tmp_path / "out"), train_file=str(squad_sample_path),
                           predict_file=str(tmp_path / "dev.json"), preset="electra_tiny")

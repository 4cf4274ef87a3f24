"""`convert` and `export` never write onto what they read and never lose an earlier output
(issue 15, safe writes): the new directory is written aside and swapped in whole."""

import errno
import os

import pytest

from keras_electra.cli import main


def _tree(directory):
    out = {}
    for root, _, names in os.walk(directory):
        for name in names:
            path = os.path.join(root, name)
            out[os.path.relpath(path, directory)] = open(path, "rb").read()
    return out


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory):
    import transformers

    root = tmp_path_factory.mktemp("hf")
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(59)]
    config = transformers.ElectraConfig(vocab_size=len(tokens), embedding_size=8,
                                        hidden_size=16, num_hidden_layers=1,
                                        num_attention_heads=2, intermediate_size=32,
                                        max_position_embeddings=32)
    transformers.ElectraForPreTraining(config).save_pretrained(str(root / "hf"))
    (root / "hf" / "vocab.txt").write_text("\n".join(tokens) + "\n")
    return root / "hf"


def _one_error_line(capsys, command):
    err = capsys.readouterr().err
    lines = [x for x in err.splitlines() if x.startswith(f"keras-electra {command}: error: ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_export_onto_or_inside_its_source_is_refused(hf_dir, tmp_path, capsys):
    preset = tmp_path / "preset"
    assert main(["convert", "--from", "hf", str(hf_dir), str(preset)]) == 0
    before = _tree(preset)
    for out in (preset, preset / "hf"):
        assert main(["export", "--to", "hf", str(preset), str(out)]) == 2
        line = _one_error_line(capsys, "export")
        assert "the output directory is" in line and str(preset) in line
    assert _tree(preset) == before
    # and convert onto its HF source
    hf_before = _tree(hf_dir)
    assert main(["convert", "--from", "hf", str(hf_dir), str(hf_dir)]) == 2
    assert "the output directory is the input" in _one_error_line(capsys, "convert")
    assert _tree(hf_dir) == hf_before


def test_a_failed_convert_keeps_the_earlier_output(hf_dir, tmp_path, capsys):
    preset = tmp_path / "preset"
    assert main(["convert", "--from", "hf", str(hf_dir), str(preset)]) == 0
    before = _tree(preset)
    short_vocab = tmp_path / "short_vocab.txt"  # 10 tokens: does not fit the 64-row table
    short_vocab.write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\na\nb\nc\nd\ne\n")
    assert main(["convert", "--from", "hf", str(hf_dir), str(preset), "--vocab",
                 str(short_vocab)]) == 2
    assert "the vocabulary has 10 tokens" in _one_error_line(capsys, "convert")
    assert _tree(preset) == before
    assert sorted(os.listdir(tmp_path)) == ["preset", "short_vocab.txt"]  # no staging left


def test_disk_full_during_export_keeps_the_earlier_export(hf_dir, tmp_path, capsys,
                                                          monkeypatch):
    from keras_electra.convert import hf

    preset, out = tmp_path / "preset", tmp_path / "exported"
    assert main(["convert", "--from", "hf", str(hf_dir), str(preset)]) == 0
    assert main(["export", "--to", "hf", str(preset), str(out)]) == 0
    before = _tree(out)
    assert "model.safetensors" in before
    real = hf.export_backbone_to_hf

    def full_disk(backbone, out_dir, **kwargs):
        real(backbone, out_dir, **kwargs)  # every file written, then the disk fills up
        raise OSError(errno.ENOSPC, "No space left on device",
                      os.path.join(out_dir, "model.safetensors"))

    monkeypatch.setattr(hf, "export_backbone_to_hf", full_disk)
    assert main(["export", "--to", "hf", str(preset), str(out)]) == 2
    line = _one_error_line(capsys, "export")
    assert "No space left on device" in line and "the disk is full" in line
    assert _tree(out) == before
    assert sorted(os.listdir(tmp_path)) == ["exported", "preset"]


def test_an_output_dir_holding_other_files_is_refused(hf_dir, tmp_path, capsys):
    out = tmp_path / "my_documents"
    out.mkdir()
    (out / "thesis.tex").write_text("years of work")
    assert main(["convert", "--from", "hf", str(hf_dir), str(out)]) == 2
    assert "holds files that are not an earlier output" in _one_error_line(capsys, "convert")
    assert (out / "thesis.tex").read_text() == "years of work"

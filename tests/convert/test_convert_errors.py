"""Bad input to convert/export/from_preset: each error names the file and the problem."""

import json

import numpy as np
import pytest


def write_hf_dir(path, config_overrides=None, tensors=None, vocab=20, emb=8, hidden=16):
    """A minimal HF ElectraModel dir written with safetensors (no torch needed)."""
    from safetensors.numpy import save_file

    path.mkdir(parents=True, exist_ok=True)
    config = {"model_type": "electra", "architectures": ["ElectraModel"], "vocab_size": vocab,
              "embedding_size": emb, "hidden_size": hidden, "num_hidden_layers": 1,
              "num_attention_heads": 2, "intermediate_size": 32, "max_position_embeddings": 12,
              "type_vocab_size": 2, "hidden_act": "gelu", "layer_norm_eps": 1e-12}
    config.update(config_overrides or {})
    (path / "config.json").write_text(json.dumps(config))
    rng = np.random.RandomState(0)
    if tensors is None:
        shapes = {
            "embeddings.word_embeddings.weight": (vocab, emb),
            "embeddings.position_embeddings.weight": (12, emb),
            "embeddings.token_type_embeddings.weight": (2, emb),
            "embeddings.LayerNorm.weight": (emb,), "embeddings.LayerNorm.bias": (emb,),
            "embeddings_project.weight": (hidden, emb), "embeddings_project.bias": (hidden,),
        }
        pre = "encoder.layer.0."
        for m in ("attention.self.query", "attention.self.key", "attention.self.value",
                  "attention.output.dense"):
            shapes[pre + m + ".weight"] = (hidden, hidden)
            shapes[pre + m + ".bias"] = (hidden,)
        for m in ("attention.output.LayerNorm", "output.LayerNorm"):
            shapes[pre + m + ".weight"] = (hidden,)
            shapes[pre + m + ".bias"] = (hidden,)
        shapes[pre + "intermediate.dense.weight"] = (32, hidden)
        shapes[pre + "intermediate.dense.bias"] = (32,)
        shapes[pre + "output.dense.weight"] = (hidden, 32)
        shapes[pre + "output.dense.bias"] = (hidden,)
        tensors = {k: rng.normal(size=s).astype("float32") for k, s in shapes.items()}
    save_file(tensors, str(path / "model.safetensors"))
    return tensors


def test_valid_minimal_dir_loads(tmp_path):
    from keras_electra import ElectraBackbone

    tensors = write_hf_dir(tmp_path / "ok")
    backbone = ElectraBackbone.from_preset(str(tmp_path / "ok"))
    np.testing.assert_array_equal(backbone.token_embedding.embeddings.numpy(),
                                  tensors["embeddings.word_embeddings.weight"])


def test_hf_vocab_becomes_the_preset_tokenizer_and_is_exported(tmp_path):
    from keras_electra import ElectraTokenizer
    from keras_electra.cli import main

    write_hf_dir(tmp_path / "hf")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "rhine", "##s", "."]
    vocab += [f"w{i}" for i in range(20 - len(vocab))]
    (tmp_path / "hf" / "vocab.txt").write_text("\n".join(vocab) + "\n")
    assert main(["convert", "--from", "hf", str(tmp_path / "hf"), str(tmp_path / "p")]) == 0
    tokenizer = ElectraTokenizer.from_preset(str(tmp_path / "p"))
    assert np.asarray(tokenizer("The Rhines.")).tolist() == [5, 6, 7, 8]
    assert main(["export", "--to", "hf", str(tmp_path / "p"), str(tmp_path / "back")]) == 0
    assert (tmp_path / "back" / "vocab.txt").read_text().split("\n")[:len(vocab)] == vocab


def test_shared_embeddings_mismatch_warns(tmp_path):
    from keras_electra.convert import hf

    write_hf_dir(tmp_path / "a")
    disc = hf.backbone_from_hf(str(tmp_path / "a"))
    tensors = write_hf_dir(tmp_path / "b")
    tensors["embeddings.LayerNorm.bias"] = tensors["embeddings.LayerNorm.bias"] + 1.0
    write_hf_dir(tmp_path / "b", tensors=tensors)
    with pytest.warns(UserWarning, match="embeddings.LayerNorm.bias"):
        gen = hf.backbone_from_hf(str(tmp_path / "b"), embeddings=disc.embeddings)
    assert gen.embeddings is disc.embeddings


def test_missing_weights_file(tmp_path):
    from keras_electra import ElectraBackbone

    write_hf_dir(tmp_path / "d")
    (tmp_path / "d" / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="no model.safetensors") as info:
        ElectraBackbone.from_preset(str(tmp_path / "d"))
    assert str(tmp_path / "d") in str(info.value)


def test_missing_directory_and_config(tmp_path, capsys):
    from keras_electra.cli import main
    from keras_electra.convert import hf

    with pytest.raises(FileNotFoundError, match="not found"):
        hf.load_hf_checkpoint(str(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="config.json: missing"):
        hf.load_hf_checkpoint(str(tmp_path / "empty"))
    assert main(["convert", "--from", "hf", str(tmp_path / "empty"), str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "config.json" in err and str(tmp_path / "empty") in err


def test_wrong_model_type_and_activation(tmp_path):
    from keras_electra import ElectraBackbone

    write_hf_dir(tmp_path / "bert", {"model_type": "bert"})
    with pytest.raises(ValueError, match="model_type is 'bert'") as info:
        ElectraBackbone.from_preset(str(tmp_path / "bert"))
    assert "config.json" in str(info.value)
    write_hf_dir(tmp_path / "relu", {"hidden_act": "relu"})
    with pytest.raises(ValueError, match="hidden_act is 'relu'"):
        ElectraBackbone.from_preset(str(tmp_path / "relu"))


def test_vocab_size_mismatch_names_tensor_and_file(tmp_path, capsys):
    from keras_electra.cli import main

    write_hf_dir(tmp_path / "v", {"vocab_size": 25})  # tensors have 20 rows
    assert main(["convert", "--from", "hf", str(tmp_path / "v"), str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "embeddings.word_embeddings.weight" in err
    assert "model.safetensors" in err
    assert "(20, 8)" in err and "(25, 8)" in err


def test_unknown_tensor_names_are_listed(tmp_path):
    from keras_electra.convert import hf

    tensors = write_hf_dir(tmp_path / "u")
    tensors["encoder.layer.0.attention.self.rel_bias.weight"] = np.zeros(3, "float32")
    write_hf_dir(tmp_path / "u", tensors=tensors)
    with pytest.raises(ValueError, match="unknown Electra tensor names") as info:
        hf.load_hf_checkpoint(str(tmp_path / "u"))
    assert "rel_bias" in str(info.value) and "model.safetensors" in str(info.value)


def test_missing_head_and_bad_vocab(tmp_path):
    from keras_electra.convert import hf
    from keras_electra.convert.preset_io import convert_to_preset

    write_hf_dir(tmp_path / "m")
    with pytest.raises(ValueError, match="no discriminator head"):
        hf.hf_discriminator_head_weights(str(tmp_path / "m"))
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a"]) + "\n")
    with pytest.raises(ValueError, match="6 tokens but the model's word embeddings have 20"):
        convert_to_preset("hf", str(tmp_path / "m"), str(tmp_path / "o"), vocabulary=str(vocab))


def test_export_of_missing_preset(tmp_path, capsys):
    from keras_electra.cli import main

    (tmp_path / "p").mkdir()
    assert main(["export", "--to", "hf", str(tmp_path / "p"), str(tmp_path / "o")]) == 2
    assert "config.json" in capsys.readouterr().err


def test_unknown_preset_name():
    from keras_electra import ElectraBackbone

    with pytest.raises(Exception, match="electra_huge"):
        ElectraBackbone.from_preset("electra_huge")

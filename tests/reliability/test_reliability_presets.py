"""Preset dirs with missing or mismatched files: each load fails naming the file and the fix,
and a failed load never modifies the preset."""

import json
import os
import shutil

import pytest


@pytest.fixture(scope="module")
def saved_preset(tmp_path_factory):
    from keras_electra import ElectraBackbone

    backbone = ElectraBackbone(vocabulary_size=50, num_layers=1, num_heads=2, hidden_dim=16,
                               embedding_dim=8, intermediate_dim=32, max_sequence_length=16)
    path = tmp_path_factory.mktemp("preset") / "tiny"
    backbone.save_to_preset(str(path))
    return path


def _copy(saved_preset, tmp_path):
    target = tmp_path / "p"
    shutil.copytree(saved_preset, target)
    return target


def _contents(path):
    return {n: (path / n).read_bytes() for n in sorted(os.listdir(path))}


def test_intact_preset_loads(saved_preset):
    from keras_electra import ElectraBackbone

    assert ElectraBackbone.from_preset(str(saved_preset)).hidden_dim == 16


def test_missing_weights_file(saved_preset, tmp_path):
    from keras_electra import ElectraBackbone

    preset = _copy(saved_preset, tmp_path)
    os.remove(preset / "model.weights.h5")
    with pytest.raises(FileNotFoundError, match=r"model\.weights\.h5: missing .*load_weights"):
        ElectraBackbone.from_preset(str(preset))
    # load_weights=False is the documented way to get the architecture anyway
    assert ElectraBackbone.from_preset(str(preset), load_weights=False).hidden_dim == 16


def test_missing_config_file(saved_preset, tmp_path):
    from keras_electra import ElectraBackbone

    preset = _copy(saved_preset, tmp_path)
    os.remove(preset / "config.json")
    with pytest.raises(FileNotFoundError, match=r"p/config\.json: missing"):
        ElectraBackbone.from_preset(str(preset))


def test_missing_directory():
    from keras_electra import ElectraBackbone

    with pytest.raises(FileNotFoundError, match=r"\./no/such/preset: no such preset directory"):
        ElectraBackbone.from_preset("./no/such/preset")


@pytest.mark.parametrize("change", [
    {"hidden_dim": 32, "intermediate_dim": 64},  # another architecture
    {"vocabulary_size": 60},  # another vocabulary
    {"num_layers": 2},  # a layer the weights file does not have
])
def test_config_and_weights_disagree(saved_preset, tmp_path, change):
    from keras_electra import ElectraBackbone

    preset = _copy(saved_preset, tmp_path)
    config = json.loads((preset / "config.json").read_text())
    config["config"].update(change)
    (preset / "config.json").write_text(json.dumps(config))
    before = _contents(preset)
    with pytest.raises(ValueError, match=r"model\.weights\.h5: cannot be loaded into the model "
                                         r"described by .*config\.json .*re-export"):
        ElectraBackbone.from_preset(str(preset))
    assert _contents(preset) == before  # a failed load writes nothing


def test_truncated_weights_file(saved_preset, tmp_path):
    from keras_electra import ElectraBackbone

    preset = _copy(saved_preset, tmp_path)
    with open(preset / "model.weights.h5", "r+b") as f:
        f.truncate(2000)
    with pytest.raises(ValueError, match=r"model\.weights\.h5: cannot be loaded .*truncated"):
        ElectraBackbone.from_preset(str(preset))


def test_config_not_json(saved_preset, tmp_path):
    from keras_electra import ElectraBackbone

    preset = _copy(saved_preset, tmp_path)
    (preset / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"config\.json: truncated or not valid JSON"):
        ElectraBackbone.from_preset(str(preset))

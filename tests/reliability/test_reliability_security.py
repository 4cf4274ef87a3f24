"""Security: loading presets, configs and weights never runs code; nothing extracts archives.

Every "malicious" input below would create a marker file if it were executed; each test
asserts the load is refused AND the marker does not exist.
"""

import json
import os
import pickle

import numpy as np
import pytest


class _Payload:
    """Unpickling this calls `open(marker, "w")`: code execution if pickle is honoured."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


# ------------------------------------------------------------------ archive extraction
def test_no_unsafe_extraction_in_the_package():
    """The package extracts no archive (presets are directories; SageMaker unpacks
    model.tar.gz itself): an extraction added later needs member checks and a test."""
    import keras_electra

    root = os.path.dirname(keras_electra.__file__)
    offenders = []
    for directory, _, files in os.walk(root):
        for name in files:
            if not name.endswith(".py"):
                continue
            text = open(os.path.join(directory, name), encoding="utf-8").read()
            for needle in (".extractall(", "unpack_archive(", ".extract("):
                if needle in text:
                    offenders.append(f"{name}: {needle}")
    assert offenders == []


# ------------------------------------------------------------------ weights and presets
def test_hf_pytorch_bin_is_loaded_with_weights_only(tmp_path):
    from conftest import import_or_fail

    torch = import_or_fail("torch")
    from keras_electra.convert.hf import read_hf_tensors

    marker = tmp_path / "code_ran"
    hf_dir = tmp_path / "hf"
    hf_dir.mkdir()
    (hf_dir / "config.json").write_text(json.dumps({"model_type": "electra"}))
    # a legitimate-looking state dict with one poisoned entry
    with open(hf_dir / "pytorch_model.bin", "wb") as f:
        torch.save({"w": torch.zeros(2), "evil": _Payload(marker)}, f)
    assert not marker.exists()
    with pytest.raises(pickle.UnpicklingError, match="[Ww]eights only load failed"):
        read_hf_tensors(str(hf_dir))
    assert not marker.exists()
    # the same file without the payload loads fine: the refusal is about the payload
    with open(hf_dir / "pytorch_model.bin", "wb") as f:
        torch.save({"w": torch.ones(2)}, f)
    tensors, _ = read_hf_tensors(str(hf_dir))
    np.testing.assert_array_equal(tensors["w"], np.ones(2, "float32"))


def test_preset_heads_npz_refuses_pickled_objects(tmp_path):
    from keras_electra.convert.preset_io import load_preset_heads

    marker = tmp_path / "code_ran"
    np.savez(tmp_path / "electra_heads.npz",
             **{"rtd/kernel": np.array([_Payload(marker)], dtype=object)})
    with pytest.raises(ValueError, match="allow_pickle=False"):
        load_preset_heads(tmp_path)
    assert not marker.exists()


def test_preset_config_with_a_lambda_is_not_executed(tmp_path):
    """A preset config.json smuggling Python bytecode (Keras Lambda) is refused by safe_mode."""
    import base64
    import marshal

    from keras_electra.models.electra_backbone import ElectraBackbone

    marker = tmp_path / "code_ran"
    code = compile(f"open({str(marker)!r}, 'w')", "<payload>", "eval")
    lam = eval("lambda x: x")  # a function object whose code we swap for the payload
    lam.__code__ = lam.__code__.replace(co_consts=code.co_consts, co_names=code.co_names,
                                        co_code=code.co_code, co_stacksize=10)
    payload = base64.b64encode(marshal.dumps(lam.__code__)).decode("ascii")
    config = {
        "module": "keras.layers", "class_name": "Lambda",
        "config": {"name": "evil", "function": {"class_name": "__lambda__", "config": {
            "code": payload, "defaults": None, "closure": None}}},
        "registered_name": "Lambda",
    }
    preset = tmp_path / "preset"
    preset.mkdir()
    (preset / "config.json").write_text(json.dumps(config))
    (preset / "metadata.json").write_text(json.dumps({"keras_version": "3.15.1"}))
    with pytest.raises(Exception) as info:
        ElectraBackbone.from_preset(str(preset), load_weights=False)
    assert not marker.exists(), "loading a preset executed code from its config.json"
    assert "Lambda" in str(info.value) or "lambda" in str(info.value) \
        or "safe_mode" in str(info.value), str(info.value)


def test_pretrain_config_file_values_are_data(tmp_path):
    from keras_electra.training.config import ConfigError, PretrainConfig

    marker = tmp_path / "code_ran"
    expr = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    with pytest.raises(ConfigError, match=r"option total_steps=.*: expected int"):
        PretrainConfig.from_dict({"total_steps": expr})
    # numbers written as strings (hand-written JSON, SageMaker) are converted, not evaluated
    config = PretrainConfig.from_dict({"total_steps": "10", "learning_rate": "1e-3",
                                       "skip_xla": "true"})
    assert (config.total_steps, config.learning_rate, config.skip_xla) == (10, 1e-3, True)
    with pytest.raises(ConfigError, match=r"option skip_xla='maybe': expected bool"):
        PretrainConfig.from_dict({"skip_xla": "maybe"})
    config = PretrainConfig.from_dict({"run_name": expr})
    assert config.run_name == expr  # kept verbatim as a string
    assert not marker.exists()


def test_yaml_config_python_tags_are_not_executed(tmp_path):
    from keras_electra.training.config import ConfigError, load_config_file

    marker = tmp_path / "code_ran"
    path = tmp_path / "run.yaml"
    path.write_text(f"total_steps: !!python/object/apply:os.system ['touch {marker}']\n")
    with pytest.raises(ConfigError, match=r"run\.yaml: cannot parse"):
        load_config_file(str(path))
    assert not marker.exists()

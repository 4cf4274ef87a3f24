"""`pretrain --init_from SRC [--init_generator_from GEN_SRC]`: continued pretraining from an HF
pair, a google-research/electra TF1 checkpoint and a keras-hub preset pair, all built here.

At a vanishing learning rate (1e-12) the trained pretrainer and the exported discriminator and
generator presets equal the sources (HF forward, heads included, to 1e-5; keras-hub weights);
a rerun resumes from the run's checkpoint and never reads the source again; a vocabulary
mismatch is refused before any work; two processes (TF MWMS, JAX) start from identical weights.
"""

import os

import keras
import numpy as np
import pytest
import training_procs as procs
from checkpoint_weights import h5_datasets, max_abs_diff
from conftest import import_or_fail
from init_sources import (
    hf_pair,
    other_vocab,
    write_google_checkpoint,
    write_hf_pair,
    write_keras_hub_pair,
    write_prepared_shards,
)
from jax_env import jax_env

from keras_electra.training.config import ConfigError

TOL = 1e-5
SEQ = 16


@pytest.fixture(scope="module")
def pair():
    import_or_fail("torch")
    import_or_fail("transformers")
    return hf_pair(seed=0)


@pytest.fixture(scope="module")
def shards(tmp_path_factory, pair):
    from pretrain_shards import write_vocab

    root = tmp_path_factory.mktemp("init_shards")
    return write_prepared_shards(str(root), write_vocab(str(root / "vocab.txt")), SEQ)


class _Keep(keras.callbacks.Callback):
    """Keeps the trained pretrainer (fit's model) for the comparisons."""

    def on_train_end(self, logs=None):
        _Keep.model = self.model


def _pretrain(shards, out, **flags):
    from keras_electra.training.pretrain import pretrain

    options = dict(
        train_dir=os.path.join(shards, "train"), checkpoint_dir=str(out / "ckpt"),
        log_dir=str(out / "logs"), run_name="r", max_seq_length=SEQ, per_gpu_batch_size=4,
        total_steps=2, warmup_steps=0, learning_rate=1e-12, end_learning_rate=0.0,
        checkpoint_frequency=0, validation_frequency=0, cue_free_batches=0, log_frequency=1,
        progress=False, skip_xla=True, step_timeout_s=0)
    options.update(flags)
    _Keep.model = None
    return pretrain(callbacks=[_Keep()], **options)


def _inputs(seed=3):
    rng = np.random.RandomState(seed)
    ids = rng.randint(104, 120, size=(3, 12)).astype("int32")
    mask = np.ones_like(ids)
    mask[1, 9:], mask[2, 6:] = 0, 0
    ids[mask == 0] = 0
    ids[:, 0] = 101
    segments = np.zeros_like(ids)
    segments[:, 5:] = 1
    return {"token_ids": ids, "segment_ids": segments * mask, "padding_mask": mask}


def _hf(model, inputs):
    import torch

    kwargs = {"input_ids": torch.tensor(inputs["token_ids"], dtype=torch.long),
              "token_type_ids": torch.tensor(inputs["segment_ids"], dtype=torch.long),
              "attention_mask": torch.tensor(inputs["padding_mask"], dtype=torch.long)}
    with torch.no_grad():
        return (model.electra(**kwargs).last_hidden_state.numpy(),
                model(**kwargs).logits.numpy())


def _close(ours, ref, mask, what):
    keep = mask.astype(bool)
    diff = float(np.abs(np.asarray(ours)[keep] - np.asarray(ref)[keep]).max())
    assert diff <= TOL, f"{what}: max |diff| {diff:.3g} > {TOL}"


def _assert_equals_pair(result, pair, model=None):
    """The exported presets (and the trained pretrainer with its heads) against HF."""
    from keras_electra import ElectraBackbone

    inputs = _inputs()
    mask = inputs["padding_mask"]
    (disc_seq, disc_logits), (gen_seq, gen_logits) = _hf(pair[0], inputs), _hf(pair[1], inputs)
    for preset, ref, what in ((result.discriminator_preset, disc_seq, "discriminator preset"),
                              (result.generator_preset, gen_seq, "generator preset")):
        _close(ElectraBackbone.from_preset(preset)(inputs)["sequence_output"], ref, mask, what)
    if model is None:
        return
    ours = model.discriminator(inputs)["sequence_output"]
    _close(model.discriminator_head(ours), disc_logits, mask, "RTD logits")
    positions = np.array([[1, 4, 7], [0, 2, 8], [3, 5, 1]], "int32")
    mlm = model.generator_head(model.generator(inputs)["sequence_output"],
                               mask_positions=positions)
    ref = np.take_along_axis(gen_logits, positions[..., None], axis=1)
    assert float(np.abs(np.asarray(mlm) - ref).max()) <= TOL, "MLM logits"


@pytest.mark.slow  # a few pretraining runs: ~25 s on a quiet 2-core box
def test_hf_pair_continues_resumes_and_never_rereads_the_source(tmp_path, pair, shards):
    disc, gen = write_hf_pair(str(tmp_path / "src"), pair)
    out = tmp_path / "run"
    result = _pretrain(shards, out, init_from=disc, init_generator_from=gen,
                       stop_after_steps=1)
    assert (result.step, result.resumed_from_step) == (1, 0)
    _assert_equals_pair(result, pair, _Keep.model)

    # the source changes under the run: a rerun resumes from its checkpoint, not from it
    write_hf_pair(str(tmp_path / "src2"), hf_pair(seed=5))
    for name in ("disc", "gen"):
        for f in ("model.safetensors",):
            os.replace(tmp_path / "src2" / name / f, tmp_path / "src" / name / f)
    result = _pretrain(shards, out, init_from=disc, init_generator_from=gen)
    assert (result.step, result.resumed_from_step) == (2, 1)
    _assert_equals_pair(result, pair, _Keep.model)  # still the original weights

    # the init flags are resume-critical: another source is refused, naming the flag
    with pytest.raises(ConfigError, match="init_generator_from: checkpoint"):
        _pretrain(shards, out, init_from=disc, init_generator_from=disc, total_steps=4)


@pytest.mark.slow  # a few pretraining runs: ~25 s on a quiet 2-core box
def test_google_tf1_checkpoint_holds_both_models_and_heads(tmp_path, pair, shards):
    prefix = write_google_checkpoint(str(tmp_path / "electra_tiny"), pair)
    for source in (prefix, str(tmp_path / "electra_tiny")):  # prefix or its directory
        result = _pretrain(shards, tmp_path / os.path.basename(source), init_from=source,
                           total_steps=1)
        _assert_equals_pair(result, pair, _Keep.model)
    with pytest.raises(ConfigError, match="holds its own generator"):
        _pretrain(shards, tmp_path / "both", init_from=prefix, init_generator_from=prefix)


@pytest.mark.slow  # a few pretraining runs: ~25 s on a quiet 2-core box
def test_keras_hub_pair(tmp_path, shards, caplog):
    import logging

    from keras_electra import ElectraBackbone
    from keras_electra.convert.keras_hub import backbone_from_keras_hub

    (disc, gen), _ = write_keras_hub_pair(str(tmp_path / "kh"))
    with caplog.at_level(logging.WARNING):
        result = _pretrain(shards, tmp_path / "run", init_from=disc, init_generator_from=gen,
                           total_steps=1)
    said = [r.getMessage() for r in caplog.records]
    assert any("no discriminator (RTD) head" in m for m in said)
    assert any("differ from" in m and "discriminator's" in m for m in said)  # kept: disc's
    ref_disc, ref_gen = backbone_from_keras_hub(disc), backbone_from_keras_hub(gen)
    ours_disc = ElectraBackbone.from_preset(result.discriminator_preset)
    ours_gen = ElectraBackbone.from_preset(result.generator_preset)
    for ours, ref, shared in ((ours_disc, ref_disc, ref_disc), (ours_gen, ref_gen, ref_disc)):
        ref_by_path = {v.path: np.asarray(v.numpy()) for v in ref.weights}
        shared_by_path = {v.path: np.asarray(v.numpy()) for v in shared.weights}
        for variable in ours.weights:
            source = shared_by_path if "embedding" in variable.path and \
                "project" not in variable.path else ref_by_path
            diff = np.abs(np.asarray(variable.numpy()) - source[variable.path]).max()
            assert diff <= TOL, (variable.path, diff)



@pytest.mark.parametrize("case", ["manifest", "vocab_file"])
def test_vocabulary_mismatch_is_refused_before_any_work(tmp_path, pair, case):
    disc, gen = write_hf_pair(str(tmp_path / "src"), pair)
    other = other_vocab(str(tmp_path / "other.txt"))
    shards = write_prepared_shards(str(tmp_path / "data"), other if case == "manifest"
                                   else os.path.join(disc, "vocab.txt"), SEQ)
    flags = {"vocab_file": other} if case == "vocab_file" else {}
    with pytest.raises(ConfigError) as error:
        _pretrain(shards, tmp_path / "run", init_from=disc, init_generator_from=gen, **flags)
    message = str(error.value)
    assert "\n" not in message and "keras-electra prepare" in message
    assert os.path.join(disc, "vocab.txt") in message and "--init_from" in message
    assert ("--vocab_file " + other if case == "vocab_file" else "manifest.json") in message
    assert not (tmp_path / "run").exists()  # nothing written: refused before any work


def test_model_size_must_agree_and_flags_are_checked(tmp_path, pair, shards):
    from keras_electra.training.config import PretrainConfig

    disc, gen = write_hf_pair(str(tmp_path / "src"), pair)
    with pytest.raises(ConfigError, match="--model_size small does not match --init_from"):
        _pretrain(shards, tmp_path / "run", init_from=disc, model_size="small")
    with pytest.raises(ConfigError, match="--init_generator_from needs --init_from"):
        PretrainConfig(train_dir=os.path.join(shards, "train"),
                       init_generator_from=gen).validate()
    with pytest.raises(ConfigError, match="use one of them"):
        PretrainConfig(train_dir=os.path.join(shards, "train"), init_from=disc,
                       load_from="checkpoint", checkpoint_path="x").validate()
    with pytest.raises(ConfigError, match="is an architecture"):
        PretrainConfig(train_dir=os.path.join(shards, "train"),
                       init_from="electra_small").validate()
    assert PretrainConfig(train_dir="x").model_size == "base"  # as before without --init_from
    assert PretrainConfig(train_dir="x", init_from=disc).model_size is None


# ------------------------------------------------------------------------- two processes
def _argv(shards, out, disc, gen):
    return ["tests/training/cli_guarded.py", "pretrain",
            "--train_dir", os.path.join(shards, "train"), "--init_from", disc,
            "--init_generator_from", gen, "--checkpoint_dir", str(out / "ckpt"),
            "--log_dir", str(out / "logs"), "--run_name", "r", "--max_seq_length", str(SEQ),
            "--per_gpu_batch_size", "2", "--total_steps", "2", "--warmup_steps", "0",
            "--learning_rate", "1e-12", "--end_learning_rate", "0", "--checkpoint_frequency",
            "1", "--validation_frequency", "0", "--cue_free_batches", "0", "--data_readers",
            "2", "--skip_xla", "--progress", "false", "--step_timeout_s", "0"]


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["tf_mwms", pytest.param("jax", marks=pytest.mark.jax)])
def test_two_processes_start_from_identical_source_weights(tmp_path, pair, shards, engine):
    disc, gen = write_hf_pair(str(tmp_path / "src"), pair)
    out = tmp_path / "run"
    argv = _argv(shards, out, disc, gen)
    if engine == "tf_mwms":
        workers = procs.start_workers(argv, 2, str(tmp_path), tag="mwms")
    else:
        (port,) = procs.free_ports(1)
        workers = [procs.start(argv, jax_env(procs.base_env(), JAX_COORDINATOR_ADDRESS=f"127.0.0.1:{port}",
            JAX_NUM_PROCESSES=2, JAX_PROCESS_ID=i), str(tmp_path / f"jax{i}.log"))
            for i in range(2)]
    try:
        rcs = procs.wait_all(workers, timeout=480)
    finally:
        procs.kill_all(workers, grace=3)
    assert rcs == [0, 0], "\n".join(procs.tail(w._log_path) for w in workers)
    if engine == "tf_mwms":  # each worker writes its own checkpoints: bit-identical
        first, second = (h5_datasets(out / "ckpt" / f"worker-{i}" / "ckpt-0000000001" /
                                     "model.weights.h5") for i in range(2))
        assert max_abs_diff(first, second) == 0.0
    presets = out / "ckpt" / "presets"

    class Result:
        discriminator_preset = str(presets / "r-step2-discriminator")
        generator_preset = str(presets / "r-step2-generator")

    _assert_equals_pair(Result, pair)

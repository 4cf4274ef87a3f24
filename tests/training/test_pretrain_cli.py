"""`keras-electra pretrain`: flags, config files, validation errors, and a scaled-down AWS run."""

import glob
import json
import os
import re
import shutil

import pytest
from pretrain_shards import write_shards

from keras_electra import cli
from keras_electra.training.config import ConfigError, PretrainConfig


def _aws_lr(step, peak, total, warmup, end):  # A's LinearWarmupPolyDecaySchedule, power 1
    if step <= warmup:
        return peak * step / warmup
    return (peak - end) * (total - step) / (total - warmup) + end


def test_flags_config_file_and_precedence(tmp_path):
    parser = cli.build_parser()
    config_file = tmp_path / "run.yaml"
    config_file.write_text("model_size: small\ntotal_steps: 50\nwarmup_steps: 5\n"
                           "max_seq_len: 64\nskip_xla: true\n")
    args = parser.parse_args(["pretrain", "--config", str(config_file), "--total_steps", "40",
                              "--skip_xla", "false", "--train_dir", "x"])
    from keras_electra.training.config import config_from_args

    config = config_from_args(args)
    assert config.model_size == "small"       # from the file
    assert config.total_steps == 40           # the flag wins over the file
    assert config.max_seq_length == 64        # file key max_seq_len is the alias
    assert config.skip_xla is False           # A-style "--skip_xla false"
    assert config.warmup_steps == 5
    assert config.learning_rate == 0.00176    # A's default where nobody set it
    args = parser.parse_args(["pretrain", "--max_seq_len", "256", "--skip_xla"])
    assert config_from_args(args).max_seq_length == 256
    assert config_from_args(args).skip_xla is True
    json_file = tmp_path / "run.json"
    json_file.write_text(json.dumps({"per_gpu_batch_size": 3, "optimizer": "electra_adam"}))
    config = config_from_args(parser.parse_args(["pretrain", "--config", str(json_file)]))
    assert (config.per_gpu_batch_size, config.resolved_schedule) == (3, "google")
    with pytest.raises(ConfigError, match="unknown pretraining option"):
        PretrainConfig.from_dict({"totl_steps": 3})


@pytest.mark.parametrize("flags, message", [
    (["--warmup_steps", "20", "--total_steps", "10"], "--warmup_steps 20 must be in"),
    (["--per_gpu_batch_size", "0"], "--per_gpu_batch_size 0: must be a positive integer"),
    (["--end_learning_rate", "1.0"], "--end_learning_rate 1.0 must be in"),
    (["--load_from", "checkpoint"], "--load_from checkpoint needs --checkpoint_path"),
    (["--max_seq_length", "1024"], "--max_seq_length 1024: must be in"),
    (["--generator_hidden_size", "2"], "--generator_hidden_size 2.0: must be in (0, 1]"),
    (["--jax_prng", "philox"], "--jax_prng philox: expected one of threefry2x32, rbg"),
    (["--jax_prng", "rbg"], "--jax_prng rbg needs the JAX backend"),  # this test runs on TF
])
def test_invalid_combinations_fail_before_any_work(tmp_path, capsys, flags, message):
    write_shards(str(tmp_path / "train"), num_examples=4, sequence_length=16, num_shards=1)
    rc = cli.main(["pretrain", "--train_dir", str(tmp_path / "train"),
                   "--checkpoint_dir", str(tmp_path / "ckpt"), *flags])
    assert rc == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert not os.path.exists(tmp_path / "ckpt")  # nothing was started


def test_generator_hidden_size_flag_sizes_the_generator():
    from keras_electra.training.config import config_from_args
    from keras_electra.training.pretrain import build_pretrainer

    parser = cli.build_parser()
    sized = config_from_args(parser.parse_args(
        ["pretrain", "--train_dir", "x", "--model_size", "tiny", "--generator_hidden_size", "0.5"]))
    default = config_from_args(parser.parse_args(["pretrain", "--train_dir", "x",
                                                  "--model_size", "tiny"]))
    assert default.generator_hidden_size is None
    # G's rule: Hg = round(H x fraction), FFN 4 Hg, heads max(1, Hg // 64); tiny H is 128
    generator = build_pretrainer(sized, None).generator
    assert (generator.hidden_dim, generator.intermediate_dim) == (64, 256)
    assert build_pretrainer(default, None).generator.hidden_dim == 32


def test_missing_shards_and_unknown_size(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert cli.main(["pretrain", "--train_dir", str(tmp_path / "empty")]) == 2
    assert "no TFRecord shards" in capsys.readouterr().err
    assert cli.main(["pretrain", "--train_dir", str(tmp_path / "nope")]) == 2
    assert "not a directory" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["pretrain", "--train_dir", "x", "--model_size", "huge"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'huge'" in capsys.readouterr().err


def test_help_documents_every_flag(capsys):
    with pytest.raises(SystemExit):
        cli.main(["pretrain", "--help"])
    out = capsys.readouterr().out
    for flag in ["--train_dir", "--val_dir", "--log_dir", "--checkpoint_dir", "--filesystem_prefix",
                 "--model_type", "--model_size", "--load_from", "--checkpoint_path",
                 "--per_gpu_batch_size", "--max_seq_length", "--max_seq_len", "--learning_rate",
                 "--end_learning_rate", "--learning_rate_decay_power", "--warmup_steps",
                 "--total_steps", "--weight_decay", "--beta_1", "--beta_2", "--epsilon",
                 "--max_grad_norm", "--gradient_accumulation_steps", "--hidden_dropout_prob",
                 "--attention_probs_dropout_prob", "--checkpoint_frequency",
                 "--validation_frequency", "--log_frequency", "--run_name", "--name", "--seed",
                 "--skip_xla", "--precision", "--optimizer", "--config", "--export_dir"]:
        assert re.search(rf"{re.escape(flag)}\b", out), flag


def _events(run_dir):
    import tensorflow as tf
    from tensorflow.core.util import event_pb2

    scalars, texts = {}, {}
    for path in glob.glob(os.path.join(run_dir, "events.out.tfevents*")):
        for record in tf.data.TFRecordDataset(path):
            event = event_pb2.Event.FromString(record.numpy())
            for value in event.summary.value:
                tensor = tf.make_ndarray(value.tensor)
                plugin = value.metadata.plugin_data.plugin_name
                if plugin == "scalars":
                    scalars.setdefault(value.tag, {})[event.step] = float(tensor)
                elif plugin == "text":
                    texts.setdefault(value.tag, {})[event.step] = tensor.item().decode()
    return scalars, texts


@pytest.mark.slow
def test_aws_readme_flags_scaled_down_on_corpus_shards(tmp_path, capsys, corpus_dir,
                                                       bert_vocab_path):
    from keras_electra.data.pretraining_builder import prepare_pretraining_data
    from keras_electra.models.electra_backbone import ElectraBackbone
    from keras_electra.models.electra_tokenizer import ElectraTokenizer
    from keras_electra.sagemaker.metrics_format import parse_metrics_line

    text = tmp_path / "text"
    text.mkdir()
    with open(os.path.join(corpus_dir, "gutenberg_84_frankenstein.txt"), "rb") as f:
        (text / "part.txt").write_bytes(f.read(120_000))
    prepare_pretraining_data(str(text / "part.txt"), str(bert_vocab_path), str(tmp_path / "fsx"),
                             max_seq_length=64, num_shards=2, num_val_shards=1,
                             val_fraction=0.1, workers=1, show_progress=False)
    shutil.rmtree(text)
    # The AWS README command, scaled down (tiny model, 6 steps, S 64).
    rc = cli.main([
        "pretrain", "--filesystem_prefix", str(tmp_path / "fsx"), "--train_dir", "train",
        "--val_dir", "val", "--log_dir", "logs", "--checkpoint_dir", "checkpoints",
        "--vocab_file", str(bert_vocab_path),
        "--model_type", "electra", "--model_size", "tiny", "--load_from", "scratch",
        "--hidden_dropout_prob", "0.1", "--attention_probs_dropout_prob", "0.1",
        "--checkpoint_frequency", "3", "--per_gpu_batch_size", "8", "--max_seq_len", "64",
        "--learning_rate", "2e-3", "--end_learning_rate", "4e-4", "--weight_decay", "0.01",
        "--warmup_steps", "2", "--validation_frequency", "3", "--validation_steps", "2",
        "--total_steps", "6", "--log_frequency", "2", "--progress", "false",
    ])
    out = capsys.readouterr().out
    assert rc == 0, out[-3000:]
    run_name = re.search(r"run (\S+): step 6", out).group(1)
    assert re.fullmatch(r"\d{8}-\d{6}-electra-1gpus-8globalbatch-6steps", run_name)
    root = tmp_path / "fsx"

    # checkpoints every 3 steps (and at the end), with the data position
    ckpts = sorted(os.listdir(root / "checkpoints" / "worker-0"))
    assert ckpts == ["ckpt-0000000003", "ckpt-0000000006"]
    state = json.loads((root / "checkpoints/worker-0/ckpt-0000000006/state.json").read_text())
    assert state["step"] == 6 and state["batches_consumed"] == 6 and state["seed"] == 42

    # console metrics lines in the SageMaker format
    lines = [parse_metrics_line(line) for line in out.splitlines()]
    train = {s: v for s, v in (x for x in lines if x) if "gen_loss" in v}
    val = {s: v for s, v in (x for x in lines if x) if "val_gen_loss" in v}
    assert sorted(train) == [2, 4, 6] and sorted(val) == [3, 6]
    for key in ("disc_loss", "gen_accuracy", "disc_accuracy", "lr", "tokens_per_s"):
        assert key in train[4]
    for step in (3, 6):  # the honest RTD numbers (--cue_free_batches, default 4)
        for key in ("val_cue_free_auc", "val_context_free_auc", "val_cue_free_positions"):
            assert key in val[step], (key, sorted(val[step]))
        assert 0.0 <= val[step]["val_cue_free_auc"] <= 1.0
        assert 0.0 <= val[step]["val_context_free_auc"] <= 1.0
        # 4 batches of 8 rows x 64 tokens, minus [CLS]/[SEP]/padding/duplicate slots
        assert 0 < val[step]["val_cue_free_positions"] < 4 * 8 * 62
    assert "ORIGINAL" in out and "DISCRIMINATOR" in out

    # TensorBoard: scalars for all metrics + lr + throughput + step time, text example view
    scalars, texts = _events(str(root / "logs" / run_name))
    for tag in ("train/gen_loss", "train/disc_loss", "train/gen_accuracy", "train/disc_accuracy",
                "train/disc_auc", "learning_rate", "tokens_per_s", "step_time_s",
                "val/gen_loss", "val/disc_auc"):
        assert tag in scalars, (tag, sorted(scalars))
    # written at the log steps only (issue 14: nothing is read from the model in between)
    assert sorted(scalars["learning_rate"]) == [2, 4, 6]
    for step, lr in scalars["learning_rate"].items():  # lr of the next update, A's formula
        assert lr == pytest.approx(_aws_lr(step, 2e-3, 6, 2, 4e-4), rel=1e-5)
    assert set(texts["validation/example"]) == {3, 6}
    assert "MASKED" in texts["validation/example"][6]

    # JSONL metrics
    records = [json.loads(line) for line in
               (root / "logs" / run_name / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if r["split"] == "train"] == [2, 4, 6]
    assert [r["step"] for r in records if r["split"] == "validation"] == [3, 6]

    # exported presets with A's naming, loadable for fine-tuning
    presets = root / "checkpoints" / "presets"
    for step in (3, 6):
        for part in ("discriminator", "generator"):
            assert (presets / f"{run_name}-step{step}-{part}" / "config.json").exists()
    disc = str(presets / f"{run_name}-step6-discriminator")
    backbone = ElectraBackbone.from_preset(disc)
    assert backbone.vocabulary_size == 30522 and backbone.num_layers == 2
    assert ElectraTokenizer.from_preset(disc).token_to_id("[MASK]") == 103
    # trained heads travel with the presets: transformers loads both exports whole (issue 23)
    transformers = pytest.importorskip("transformers")
    for part, cls in (("discriminator", "ElectraForPreTraining"),
                      ("generator", "ElectraForMaskedLM")):
        source = presets / f"{run_name}-step6-{part}"
        assert (source / "electra_heads.npz").exists()
        assert cli.main(["export", "--to", "hf", str(source), str(root / f"hf_{part}")]) == 0
        _, info = getattr(transformers, cls).from_pretrained(
            str(root / f"hf_{part}"), output_loading_info=True)
        assert not info["missing_keys"] and not info["unexpected_keys"], (part, info)


@pytest.mark.slow
def test_python_api_with_accumulation_bfloat16_and_electra_adam(tmp_path):
    """The notebook path: pretrain(**kwargs); steps count updates, data position micro-batches."""
    import math

    from pretrain_shards import write_vocab

    from keras_electra.training.pretrain import pretrain

    write_shards(str(tmp_path / "train"), num_examples=32, sequence_length=32, num_shards=1)
    write_vocab(str(tmp_path / "train" / "vocab.txt"))  # found beside the shards
    result = pretrain(
        train_dir=str(tmp_path / "train"), model_size="tiny", max_seq_length=32,
        per_gpu_batch_size=4, gradient_accumulation_steps=2, total_steps=3, warmup_steps=2,
        learning_rate=1e-3, end_learning_rate=0.0, precision="mixed_bfloat16",
        optimizer="electra_adam", checkpoint_frequency=2, log_frequency=1, skip_xla=True,
        progress=False, checkpoint_dir=str(tmp_path / "ckpt"), log_dir=str(tmp_path / "logs"),
        run_name="acc")
    assert result.step == 3 and result.run_name == "acc"
    worker = tmp_path / "ckpt" / "worker-0"
    consumed = {n: json.loads((worker / n / "state.json").read_text())["batches_consumed"]
                for n in os.listdir(worker)}
    assert consumed == {"ckpt-0000000002": 4, "ckpt-0000000003": 6}  # 2 micro-batches/update
    records = [json.loads(line) for line in
               (tmp_path / "logs" / "acc" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3]
    for r in records:  # G's schedule (electra_adam default): decay * min(1, step / warmup)
        expected = 1e-3 * (1 - r["step"] / 3) * min(1.0, r["step"] / 2)
        assert r["lr"] == pytest.approx(expected, abs=1e-9)
        assert math.isfinite(r["loss"]) and math.isfinite(r["gen_loss"])
    assert os.path.isfile(result.discriminator_preset + "/tokenizer.json")


def test_jax_prng_choices_are_the_models():
    from keras_electra.models.electra_layers import JAX_PRNG_IMPLS
    from keras_electra.training.config import JAX_PRNGS

    assert JAX_PRNGS == JAX_PRNG_IMPLS

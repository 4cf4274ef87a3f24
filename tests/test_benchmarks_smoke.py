"""Benchmark scripts: --help, tiny --smoke runs writing valid JSON, and the pieces they trust.

No speed assertions: timings on a shared CI machine mean nothing. What is checked:
the scripts run and write complete JSON; the HF baseline step masks and scatters
exactly as G (numpy reference of tests/models); the FLOP counting reproduces the
ELECTRA paper's compute numbers; the GPU script runs with TensorFlow blocked.
"""

import json
import math
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from jax_env import jax_env

ROOT = pathlib.Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
SCRIPTS = ("pretrain_step.py", "data_prep.py", "squad_inference.py", "gpu.py")
# learning_sweep.py and learning_curve_jax.py have no --smoke either: tiny runs below
# learning_curve.py has no --smoke: its smallest run is tested below
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT / "tests" / "models"))


def run_script(name, *args, timeout=900, jax=False):
    """Run benchmarks/`name`; `jax=True` for a script that runs JAX (tests/jax_env.py)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", HF_HUB_OFFLINE="1")
    if jax:
        env = jax_env(env)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, str(BENCH / name), *map(str, args)],
                          capture_output=True, text=True, env=env, cwd=str(ROOT),
                          timeout=timeout)
    assert proc.returncode == 0, f"{name} rc={proc.returncode}\n{proc.stdout[-3000:]}\n" \
                                 f"{proc.stderr[-3000:]}"
    return proc.stdout


@pytest.mark.parametrize("name", SCRIPTS)
def test_help(name):
    out = run_script(name, "--help", timeout=120)
    assert out.startswith("usage:") and "--smoke" in out


def test_flops_reproduce_the_papers_compute_column():
    from electra_flops import TRAIN_MULTIPLIER_6ND, electra_train_flops

    # ELECTRA paper, Table 1 "Train FLOPs": Base 6.4e19, ELECTRA-400K 7.1e20, 1.75M 3.1e21.
    assert electra_train_flops(768, 12, 256, 12, 256, 766000) == pytest.approx(6.4e19, rel=0.01)
    assert electra_train_flops(1024, 24, 256, 24, 2048, 400000) == pytest.approx(7.1e20, rel=0.01)
    assert electra_train_flops(1024, 24, 256, 24, 2048, 1.75e6) == pytest.approx(3.1e21, rel=0.01)
    # The 6ND variant is exactly 1.5x G's 2x-forward count.
    g = electra_train_flops(256, 12, 64, 12, 128, 1, e=128, s=128)
    six = electra_train_flops(256, 12, 64, 12, 128, 1, e=128, s=128,
                              multiplier=TRAIN_MULTIPLIER_6ND)
    assert six == pytest.approx(1.5 * g)
    # Dominant terms by hand (x batch 128 x S 128 tokens x 2 passes): 12 disc layers of
    # 2 (4 H^2 + 2 H 4H), and G's dense one-hot embedding lookups 2 E V in both models.
    h, e, v, tokens = 256, 128, 30522, 128 * 128
    dominant = (12 * 2 * 12 * h * h + 2 * 2 * e * v) * tokens * 2
    assert dominant < g < 1.25 * dominant


def test_gpu_peak_table():
    from gpu import AWS_V100_SEQ_PER_S, peak_flops

    assert peak_flops("NVIDIA H100 80GB HBM3") == 989e12
    assert peak_flops("NVIDIA H200") == 989e12
    assert peak_flops("NVIDIA A100-SXM4-40GB") == 312e12
    assert peak_flops("Tesla V100-SXM2-16GB") == 125e12
    assert peak_flops("cpu") is None
    # AWS README: 125k steps x 1024 sequences in 11 h 40 min on 64 V100s.
    assert AWS_V100_SEQ_PER_S == pytest.approx(47.6, abs=0.05)


def test_hf_baseline_scatter_is_gs_scatter_update():
    torch = pytest.importorskip("torch")
    from electra_numpy_reference import scatter_update
    from pretrain_step import _torch_scatter_update

    rng = np.random.default_rng(0)
    seq = rng.integers(0, 50, size=(6, 12))
    positions = rng.integers(0, 12, size=(6, 7))
    positions[:, 0] = 0
    positions[:, 1] = positions[:, 2]  # duplicates are averaged (floor) in G
    updates = rng.integers(0, 50, size=(6, 7))
    got, got_mask = _torch_scatter_update(torch, torch.tensor(seq), torch.tensor(updates),
                                          torch.tensor(positions))
    want, want_mask = scatter_update(seq, updates, positions)
    np.testing.assert_array_equal(got.numpy(), want)
    np.testing.assert_array_equal(got_mask.numpy(), want_mask)


def test_hf_baseline_masking_follows_g():
    torch = pytest.importorskip("torch")
    from pretrain_step import _torch_masking

    rng = np.random.default_rng(1)
    batch, length, n = 64, 40, int(0.155 * 40)
    lengths = rng.integers(4, length + 1, size=batch)
    pad = (np.arange(length)[None, :] < lengths[:, None]).astype(np.int64)
    ids = rng.integers(104, 1000, size=(batch, length)) * pad
    ids[:, 0] = 101
    ids[np.arange(batch), lengths - 1] = 102
    gen = torch.Generator().manual_seed(0)
    masked, positions, originals, weights = _torch_masking(
        torch, torch.tensor(ids), torch.tensor(pad), 0.15, n, 103, (102, 101, 103, 0), gen)
    masked, positions = masked.numpy(), positions.numpy()
    originals, weights = originals.numpy(), weights.numpy()
    want_count = np.clip(np.round(pad.sum(1) * 0.15), 1, n)
    np.testing.assert_array_equal(weights.sum(1), want_count)
    for row in range(batch):
        used = positions[row][weights[row] > 0]
        # every used slot is a real, non-special token; its original id is reported
        assert np.all((ids[row, used] >= 104) & (pad[row, used] == 1))
        np.testing.assert_array_equal(originals[row][weights[row] > 0], ids[row, used])
        changed = np.nonzero(masked[row] != ids[row])[0]
        assert set(changed) <= set(used) and np.all(masked[row, changed] == 103)
        assert masked[row, 0] == 101
    # about 85% of used slots become [MASK] (never a random token)
    used_total = weights.sum()
    became_mask = sum(np.sum(masked[r][positions[r][weights[r] > 0]] == 103)
                      for r in range(batch))
    assert 0.7 < became_mask / used_total <= 1.0
    assert set(np.unique(masked[masked != ids])) <= {103}


@pytest.mark.slow
def test_pretrain_step_smoke_json(tmp_path):
    out = tmp_path / "p.json"
    stdout = run_script("pretrain_step.py", "--smoke", "--output", out)
    assert "vs hf_eager" in stdout
    payload = json.loads(out.read_text())
    summary = payload["summary"]
    assert set(summary) == {"tf_noxla_f32", "hf_eager"}
    for config, s in summary.items():
        assert s["errors"] == [], s["errors"]
        assert s["tokens_per_s"]["min"] > 0 and s["peak_rss_mb"]["median"] > 0
    assert summary["hf_eager"]["ratio_vs_hf_eager"] == pytest.approx(1.0)
    for runs in payload["runs"].values():
        for run in runs:
            assert len(run["step_times_s"]) == 3  # 1 warm-up + 2 timed
            assert math.isfinite(run["first_loss"]) and math.isfinite(run["last_loss"])
            # the same loss formula in both: ~ln(1000) MLM + 50 x ~ln(2) RTD at init
            assert 20 < run["first_loss"] < 60


@pytest.mark.slow
def test_data_prep_smoke_json(tmp_path):
    out = tmp_path / "d.json"
    run_script("data_prep.py", "--smoke", "--configs", "ours_core,hf_tokenizers",
               "--output", out)
    payload = json.loads(out.read_text())
    summary = payload["summary"]
    assert summary["ours_core"]["mb_per_s"]["median"] > 0
    # same tokens in, same G packing with the same seed -> the same examples out
    assert summary["ours_core"]["examples"] == summary["hf_tokenizers"]["examples"] > 100
    assert payload["tokenization_agreement"]["identical_fraction"] > 0.99


@pytest.mark.slow
def test_squad_inference_smoke_json(tmp_path):
    out = tmp_path / "s.json"
    run_script("squad_inference.py", "--smoke", "--output", out)
    payload = json.loads(out.read_text())
    ours, hf = payload["summary"]["ours_simple"], payload["summary"]["hf_eager"]
    assert ours["errors"] == [] and hf["errors"] == []
    assert ours["features_per_s"]["median"] > 0 and hf["questions_per_s"]["median"] > 0
    # both slide the same windows (seq 128, stride 64) over the same 8 questions
    assert ours["features"] == hf["features"] >= 8


@pytest.mark.slow
def test_gpu_script_runs_without_tensorflow(tmp_path):
    out = tmp_path / "g.json"
    run_script("gpu.py", "--smoke", "--block-tensorflow", "--cases", "small_s128",
               "--variants", "default", "--profile-cases", "none", "--output", out, jax=True)
    payload = json.loads(out.read_text())
    (result,) = payload["results"]
    assert "error" not in result, result
    assert result["tensorflow_imported"] is False and result["backend"] == "jax"
    assert result["sequences_per_s"] > 0 and result["model_flops_per_step_g"] > 0
    assert result["mfu"] is None  # CPU: no peak in the table


@pytest.mark.slow
def test_gpu_script_variants_hf_profile_and_tables(tmp_path):
    """The whole GPU script on CPU: every speed variant, the HF step, the profile, the tables."""
    out = tmp_path / "g.json"
    run_script("gpu.py", "--smoke", "--cases", "base_s512", "--with-hf", "--output", out,
               jax=True)
    payload = json.loads(out.read_text())
    results = {(r["impl"], r["variant"]): r for r in payload["results"]}
    assert set(results) == {("ours", "default"), ("ours", "rbg"), ("ours", "attn0"),
                            ("hf", "default")}
    for r in results.values():
        assert "error" not in r, r
        assert r["sequences_per_s"] > 0 and len(r["step_times_s"]) >= 3
        assert math.isfinite(r["first_loss"]) and math.isfinite(r["last_loss"])
    default, rbg, attn0 = (results["ours", v] for v in ("default", "rbg", "attn0"))
    # the shipped recipe trains through Keras' einsum path (attention dropout 0.1), threefry
    paths = default["attention_paths"]
    assert paths["einsum"] > 0 and paths["dot_product_attention"] == {}
    assert paths["rng_bit_generator"] == 0 and default["prng_impl"] == "threefry2x32"
    assert default["attention_dropout"] == 0.1
    # rbg: same attention path, random bits from RngBitGenerator
    assert rbg["attention_paths"]["einsum"] > 0 and rbg["attention_paths"]["rng_bit_generator"] > 0
    assert rbg["prng_impl"] == "rbg"
    # attn0: only the fused op (CPU: Keras asks JAX for its XLA implementation)
    paths = attn0["attention_paths"]
    assert attn0["attention_dropout"] == 0.0 and paths["einsum"] == 0
    assert paths["dot_product_attention"]["xla"]["ok"] > 0
    # the first case's default and attn0 runs are profiled (CPU: host-plane fallback)
    for r in (default, attn0):
        profile = r["profile"]
        assert "error" not in profile, profile
        assert 0 < len(profile["top_ops"]) <= 15 and profile["device_ms_per_step"] > 0
        assert not os.path.exists(profile["trace_file"])  # in a temporary dir, cleaned up
    assert "profile" not in rbg
    # projection of the AWS recipe: 1.28e8 sequences / (N x measured rate), linear scaling
    (row,) = [p for p in payload["projection"] if (p["impl"], p["variant"]) == ("ours", "default")]
    for n in (1, 8, 64):
        assert row["hours"][str(n)] == pytest.approx(
            125_000 * 1024 / (n * default["sequences_per_s"]) / 3600)
    table = out.with_suffix(".md").read_text()
    assert "| base_s512 | hf | default |" in table and "linear scaling" in table
    assert "Profile: base_s512 default" in table and "Profile: base_s512 attn0" in table


def test_gpu_profile_summary_of_a_device_plane():
    """The GPU branch of the profile summary, on a hand-made device plane."""
    from types import SimpleNamespace as NS

    from gpu import summarize_profile

    def event(name, ns, **stats):
        return NS(name=name, duration_ns=ns, stats=list(stats.items()))

    ops = NS(name="XLA Ops", events=[event("fusion.1", 6e6, hlo_category="loop fusion"),
                                     event("custom-call.2", 3e6, long_name="__cudnn$fmha"),
                                     event("fusion.1", 6e6, hlo_category="loop fusion")])
    stream = NS(name="Stream #13(Compute)", events=[
        event("sm90_xmma_gemm_bf16", 4e6, hlo_op="dot.3"),
        event("cudnn_generated_fort_native_sdpa", 3e6, hlo_op="custom-call.2"),
        event("loop_add_fusion", 5e6, hlo_op="fusion.1")])
    data = NS(planes=[NS(name="/host:CPU", lines=[]),
                      NS(name="/device:GPU:0", lines=[ops, stream])])
    summary = summarize_profile(data, steps=2)
    assert summary["source"] == "/device:GPU:0"
    assert summary["device_ms_per_step"] == pytest.approx(6.0)  # 12 ms of kernels / 2 steps
    top = summary["top_ops"]
    assert [e["name"] for e in top] == ["fusion.1", "custom-call.2"]
    assert top[0]["ms_per_step"] == pytest.approx(6.0) and top[0]["percent"] == pytest.approx(80)
    assert top[0]["calls_per_step"] == 1.0
    assert top[1]["group"].startswith("attention")
    kernels = [e["name"] for e in summary["top_kernels"]]
    assert kernels == ["loop_add_fusion", "sm90_xmma_gemm_bf16", "cudnn_generated_fort_native_sdpa"]
    assert summary["top_kernels"][1]["group"].startswith("matmul")


@pytest.fixture(scope="module")
def learning_curve_cache(tmp_path_factory):
    """Where learning_curve.py keeps its tokenized passages: made by the first run that needs
    them, read by the next (the script packs the data only when the file is missing)."""
    return tmp_path_factory.mktemp("learning_curve") / "data.npz"


@pytest.mark.slow
@pytest.mark.parity
def test_learning_curve_both_sides_write_their_curves(learning_curve_cache, corpus_dir,
                                                      bert_vocab_path):
    run_script("learning_curve.py", "--steps", 2, "--eval-every", 2, "--tag", "pytest",
               "--cache", learning_curve_cache, "--eval-passages", 64)
    path = BENCH / "results" / "learning_curve_pytest.json"
    try:
        curves = json.loads(path.read_text())["curves"]
    finally:
        path.unlink(missing_ok=True)
    for impl in ("keras", "hf"):
        assert [r["step"] for r in curves[impl]] == [0, 2]
        assert all(0.0 <= r["disc_auc"] <= 1.0 and r["disc_loss"] > 0 for r in curves[impl])
    # same packed data on both sides: 320 held-out passages of 64 tokens
    data = np.load(learning_curve_cache)
    assert data["ev_token_ids"].shape == (320, 64)


@pytest.mark.slow
def test_learning_curve_variants_write_one_curve_each(learning_curve_cache, corpus_dir,
                                                      bert_vocab_path):
    run_script("learning_curve.py", "--impl", "variants", "--variants", "electra,gdes",
               "--steps", 2, "--eval-every", 2, "--tag", "pytest", "--cache",
               learning_curve_cache, "--eval-passages", 64)
    path = BENCH / "results" / "learning_curve_variants_pytest.json"
    try:
        curves = json.loads(path.read_text())["curves"]
    finally:
        path.unlink(missing_ok=True)
    for name in ("electra", "gdes"):
        assert [r["step"] for r in curves[name]] == [0, 2]
        assert {r["variant"] for r in curves[name]} == {name}
    # same initial weights and data: identical before training (GDES' residual starts at 0)
    assert curves["electra"][0]["disc_auc"] == pytest.approx(curves["gdes"][0]["disc_auc"])


def test_learning_curve_auc_is_the_pairwise_auc():
    from electra_numpy_reference import auc
    from learning_curve import exact_auc

    rng = np.random.default_rng(0)
    labels = (rng.random(500) < 0.2).astype(int)
    scores = rng.normal(size=500) + labels
    assert exact_auc(labels, scores) == pytest.approx(auc(labels, scores, np.ones(500)), abs=1e-12)


@pytest.mark.slow
def test_learning_curve_jax_writes_one_record_per_epoch(tmp_path):
    rng = np.random.default_rng(0)

    def split(rows):
        ids = rng.integers(1000, 30000, size=(rows, 64))
        ids[:, 0], ids[:, -1] = 101, 102
        return {"token_ids": ids, "segment_ids": np.zeros_like(ids),
                "padding_mask": np.ones_like(ids)}

    data = {**{"tr_" + k: v for k, v in split(64).items()},
            **{"ev_" + k: v for k, v in split(32).items()}}
    np.savez(tmp_path / "d.npz", **data)
    out = tmp_path / "curve.jsonl"
    run_script("learning_curve_jax.py", "--data", tmp_path / "d.npz", "--seconds", 0,
               "--max-epochs", 2, "--output", out, jax=True)
    # --seconds 0: the first epoch's evaluation stops training
    (record,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert record["epoch"] == 1 and record["step"] == 2  # 64 rows / batch 32
    assert 0.0 <= record["disc_auc"] <= 1.0 and record["disc_loss"] > 0
    assert record["backend"] == "jax"


@pytest.mark.slow
def test_learning_sweep_unigram_generator_run(tmp_path, corpus_dir, bert_vocab_path):
    out = run_script("learning_sweep.py", "--steps", 2, "--every", 2, "--passages", 400,
                     "--unigram-generator")
    (record,) = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert record["step"] == 2 and 0.0 <= record["disc_auc"] <= 1.0
    collision = record["setting"]["unigram_collision"]
    assert 0.001 < collision < 0.1  # sum p^2 of English word pieces
    # the fakes are unigram draws: sampled == original about as often as sum p^2
    assert record["sampled_accuracy"] < 5 * collision


def test_demo_sweep_builds_its_shards_from_the_corpus_flag(tmp_path, monkeypatch):
    """`--corpus`: build-vocab and prepare read those files (no built-in corpus is written),
    once per vocabulary size. (The sweep's run on real shards is in tests/test_demo.py: it
    reuses the demo run's shards there.)"""
    import demo_sweep

    calls = []

    def fake_run(argv, log):
        calls.append(argv)
        if argv[0] == "prepare":
            shards = pathlib.Path(argv[argv.index("--output_dir") + 1])
            shards.mkdir(parents=True)
            (shards / "stats.json").write_text("{}")

    monkeypatch.setattr(demo_sweep, "_run", fake_run)
    for _ in range(2):
        vocab, shards = demo_sweep.shards_for(tmp_path, 1024, 128, "/texts/*.txt")
    assert [c[0] for c in calls] == ["build-vocab", "prepare"]
    for argv in calls:
        assert argv[argv.index("--input") + 1] == "/texts/*.txt"
    assert calls[0][calls[0].index("--vocab_size") + 1] == "1024"
    assert calls[1][calls[1].index("--max_seq_length") + 1] == "128"
    assert calls[1][calls[1].index("--vocab_file") + 1] == str(vocab)
    assert vocab == tmp_path / "vocab1024" / "vocab.txt" and not (tmp_path / "corpus").exists()


def test_continued_pretraining_runs_do_not_replay_the_brief_runs_noise():
    """benchmarks/continued_pretraining.py (RESULTS.md section 7): a run's batches and masks are
    a function of (seed, update), so the compared runs must not share the brief run's seed;
    the uninterrupted baseline has the brief + continued updates; run names hold every setting
    (--reuse reads a run by its name)."""
    import continued_pretraining as bench

    args = bench.argparse.Namespace(steps=150, warm_steps=100, learning_rate=1e-4,
                                    warm_learning_rate=1e-3, seed=42, warm_seed=None)
    runs = bench.plan(args)
    assert list(runs) == ["warm", "scratch", "continued", "continued_fresh_heads", "scratch_long",
                          "scratch_warm_lr"]
    assert runs["warm"]["seed"] == 43
    assert {runs[k]["seed"] for k in runs if k != "warm"} == {42}
    assert runs["scratch_long"]["steps"] == 250 and runs["scratch_long"]["validate_every"] == 150
    assert runs["scratch_long"]["learning_rate"] == 1e-3
    assert runs["continued"]["learning_rate"] == runs["scratch"]["learning_rate"] == 1e-4
    assert len({r["name"] for r in runs.values()}) == 6
    # a gentler restart is also compared with the run from scratch at the brief run's rate,
    # the same run (name) as the scratch run of an invocation at that rate
    same_lr = bench.plan(bench.argparse.Namespace(**{**vars(args), "learning_rate": 1e-3}))
    assert "scratch_warm_lr" not in same_lr
    assert runs["scratch_warm_lr"]["name"] == same_lr["scratch"]["name"]
    assert runs["warm"]["name"] in runs["continued"]["name"]
    other = bench.plan(bench.argparse.Namespace(**{**vars(args), "warm_learning_rate": 2e-3}))
    assert other["continued"]["name"] != runs["continued"]["name"]
    assert bench.plan(bench.argparse.Namespace(**{**vars(args), "warm_seed": 7}))["warm"][
        "seed"] == 7


def test_continued_pretraining_backbones_only_source_has_no_heads(tmp_path):
    """The exports of `pretrain` hold their RTD / MLM heads (electra_heads.npz): the
    backbones-only source is a copy without them, else both continued runs load the heads."""
    import continued_pretraining as bench

    presets = []
    for kind in ("discriminator", "generator"):
        preset = tmp_path / "presets" / kind
        preset.mkdir(parents=True)
        (preset / "config.json").write_text("{}")
        np.savez(preset / "electra_heads.npz", **{f"{kind}/w": np.zeros(2)})
        presets.append(str(preset))
    copies = bench.without_heads(tmp_path, "warm", presets)
    for preset, copy in zip(presets, copies):
        assert sorted(p.name for p in pathlib.Path(copy).iterdir()) == ["config.json"]
        assert (pathlib.Path(preset) / "electra_heads.npz").is_file()  # the source is kept
    os.remove(pathlib.Path(presets[1]) / "electra_heads.npz")
    with pytest.raises(SystemExit, match="generator.*no electra_heads.npz"):
        bench.without_heads(tmp_path, "warm", presets)

"""Soak: 2,000 steps of a tiny pretrainer (benchmarks/soak.py in a fresh process).

Resident memory after warm-up grows < 5 %; CPU time per step stays flat (a leak, an
ever-growing metric state or a retrace per step would fail this); the loss goes down.
"""

import json
import math
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_soak_2000_steps_memory_and_speed_flat(tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", HF_HUB_OFFLINE="1", KERAS_BACKEND="tensorflow",
               CUDA_VISIBLE_DEVICES="")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    out = tmp_path / "soak.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "soak.py"), "--steps", "2000", "--window",
         "100", "--warmup", "300", "--out", str(out)],
        capture_output=True, text=True, env=env, cwd=str(ROOT), timeout=1500)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert [w["step"] for w in report["windows"]] == list(range(100, 2001, 100))
    assert report["rss_max_growth_pct"] < 5.0, report["windows"]
    assert abs(report["rss_growth_pct"]) < 5.0
    assert report["cpu_throughput_ratio"] > 0.7, report["windows"]
    losses = [w["loss"] for w in report["windows"]]
    assert all(math.isfinite(x) for x in losses)
    assert losses[-1] < losses[0]

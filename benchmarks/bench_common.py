"""Shared helpers of the benchmark scripts: child processes, statistics, JSON output.

Every measured configuration runs in its own child process (one process per
configuration per repetition) so imports, thread pools and peak RSS never leak
between configurations. A child prints one line `BENCH_RESULT {json}`; the
parent collects those lines, alternates configurations across repetitions and
summarizes with min / median / max.
"""

import datetime
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import time

RESULT_PREFIX = "BENCH_RESULT "
BENCH_DIR = pathlib.Path(__file__).resolve().parent
PROJECT_ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
# default data: the small licensed slices the tests use (tests/data/files/README.md)
TEST_DATA = PROJECT_ROOT / "tests" / "data" / "files"


def child_env(extra=None):
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    env["PYTHONPATH"] = os.pathsep.join(
        [str(PROJECT_ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    )
    env.update(extra or {})
    return env


def emit_result(result):
    """Child side: print the one machine-readable line the parent looks for."""
    result = dict(result)
    result["peak_rss_mb"] = peak_rss_mb()
    sys.stdout.write(RESULT_PREFIX + json.dumps(result) + "\n")
    sys.stdout.flush()


def peak_rss_mb():
    import resource

    # Linux reports ru_maxrss in KiB (macOS in bytes).
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(kib / (1024.0 if sys.platform != "darwin" else 1024.0 ** 2), 1)


def run_child(script, args, env=None, timeout=1800):
    """Run `python script args...` and return its parsed result dict (or an error dict)."""
    cmd = [sys.executable, str(script)] + [str(a) for a in args]
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, env=child_env(env), timeout=timeout,
            cwd=str(PROJECT_ROOT),
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s", "cmd": cmd}
    wall = time.perf_counter() - start
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            result = json.loads(line[len(RESULT_PREFIX):])
            result["process_wall_s"] = round(wall, 2)
            return result
    tail = (proc.stderr or proc.stdout or "")[-2000:]
    return {"error": f"child exited with rc={proc.returncode} and no result", "tail": tail,
            "cmd": cmd}


def run_alternating(script, configs, reps, child_args, describe, timeout=1800,
                    before_rep=None):
    """One child process per (configuration, repetition), order reversed every other rep.

    `child_args(config)` gives the child's arguments, `describe(result)` the text
    printed after each run; `before_rep(runs, rep)` (optional) is called before
    every repetition after the first. Returns {config: [result, ...]}.
    """
    runs = {c: [] for c in configs}
    for rep in range(reps):
        if before_rep is not None and rep > 0:
            before_rep(runs, rep)
        order = configs if rep % 2 == 0 else list(reversed(configs))
        for config in order:
            result = run_child(script, child_args(config), timeout=timeout)
            result.setdefault("config", config)
            result["rep"] = rep
            result["load_average"] = load_average()
            runs[config].append(result)
            status = (describe(result) if "error" not in result
                      else "ERROR " + result["error"] + "\n" + result.get("tail", ""))
            width = max(len(c) for c in configs)
            print(f"[rep {rep + 1}/{reps}] {config:{width}s} {status}", flush=True)
    return runs


def summarize(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {
        "min": min(values), "median": statistics.median(values), "max": max(values),
        "n": len(values),
    }


def load_average():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def machine_info():
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = next((ln for ln in f if ln.startswith("flags")), "")
        bf16 = "avx512_bf16" in flags or "amx_bf16" in flags
    except OSError:
        bf16 = None
    return {
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "cpu_bf16_instructions": bf16,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average_at_start": load_average(),
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def package_versions(names):
    from importlib import metadata

    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def write_json(payload, output, default_name):
    path = pathlib.Path(output) if output else RESULTS_DIR / default_name
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(payload, f, indent=2, sort_keys=False)
        f.write("\n")
    return path


def fmt(value, digits=0):
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"

"""PNG plots for RESULTS.md from the JSON files in benchmarks/results/.

* pretrain_ratio.png: tokens/s per configuration (median, min-max bars) with the
  ratio to HF eager, from `--main` (default results/pretrain_step_main.json);
* pretrain_sweep.png: tokens/s vs batch size (seq 128) and vs sequence length
  (batch 32) for every configuration present in results/pretrain_step_sweep_*.json
  (written by `pretrain_step.py --tag sweep_b<B>_s<S> --batch-size B --seq-length S`);
* squad_ratio.png: features/s and questions/s vs HF, from results/squad_inference_*.json.

Example:
    python benchmarks/plots.py
"""

import argparse
import glob
import json
import os
import sys

import bench_common as common


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def bar_chart(plt, path, title, labels, medians, lows, highs, ratios, ylabel):
    fig, ax = plt.subplots(figsize=(9, 4.2))
    colors = ["#d62728" if label.startswith("hf") else "#1f77b4" for label in labels]
    errors = [[m - lo for m, lo in zip(medians, lows)], [hi - m for m, hi in zip(medians, highs)]]
    ax.bar(labels, medians, yerr=errors, color=colors, capsize=4)
    for i, (m, r) in enumerate(zip(medians, ratios)):
        if r:
            ax.text(i, m, f"{r:.2f}x", ha="center", va="bottom", fontsize=9)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    plt.setp(ax.get_xticklabels(), rotation=25, ha="right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_main(plt, main_path, out_dir):
    payload = load(main_path)
    items = [(c, s) for c, s in payload["summary"].items() if s["tokens_per_s"]]
    items.sort(key=lambda kv: -kv[1]["tokens_per_s"]["median"])
    settings = payload["settings"]
    title = (f"ELECTRA-Small pretraining step on CPU ({payload['machine']['cpu_count']} cores), "
             f"batch {settings['batch_size']}, seq {settings['seq_length']};\n"
             f"median of {settings['reps']} processes, bars min-max; labels: x HF eager")
    path = os.path.join(out_dir, "pretrain_ratio.png")
    bar_chart(plt, path, title, [c for c, _ in items],
              [s["tokens_per_s"]["median"] for _, s in items],
              [s["tokens_per_s"]["min"] for _, s in items],
              [s["tokens_per_s"]["max"] for _, s in items],
              [s["ratio_vs_hf_eager"] for _, s in items], "tokens / s")
    return path


def plot_sweep(plt, files, out_dir):
    points = {}  # config -> {(batch, seq): median tokens/s}
    for path in files:
        payload = load(path)
        b, s = payload["settings"]["batch_size"], payload["settings"]["seq_length"]
        for config, summary in payload["summary"].items():
            if summary["tokens_per_s"]:
                points.setdefault(config, {})[(b, s)] = summary["tokens_per_s"]["median"]
    if not points:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for config, values in sorted(points.items()):
        style = "--" if config.startswith("hf") else "-"
        by_batch = sorted((b, v) for (b, s), v in values.items() if s == 128)
        by_seq = sorted((s, v) for (b, s), v in values.items() if b == 32)
        if by_batch:
            axes[0].plot(*zip(*by_batch), style, marker="o", label=config)
        if by_seq:
            axes[1].plot(*zip(*by_seq), style, marker="o", label=config)
    axes[0].set(xlabel="batch size (seq 128)", ylabel="tokens / s", xscale="log", xticks=[8, 16, 32, 64])
    axes[0].get_xaxis().set_major_formatter(plt.matplotlib.ticker.ScalarFormatter())
    axes[1].set(xlabel="sequence length (batch 32)", ylabel="tokens / s")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("ELECTRA-Small pretraining step on CPU: throughput vs batch and sequence length",
                 fontsize=10)
    fig.tight_layout()
    path = os.path.join(out_dir, "pretrain_sweep.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_squad(plt, path_in, out_dir):
    payload = load(path_in)
    items = [(c, s) for c, s in payload["summary"].items() if s["features_per_s"]]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key, label in ((axes[0], "features_per_s", "features / s (forward)"),
                           (axes[1], "questions_per_s", "questions / s (end to end)")):
        medians = [s[key]["median"] for _, s in items]
        errors = [[s[key]["median"] - s[key]["min"] for _, s in items],
                  [s[key]["max"] - s[key]["median"] for _, s in items]]
        colors = ["#d62728" if c.startswith("hf") else "#1f77b4" for c, _ in items]
        ax.bar([c for c, _ in items], medians, yerr=errors, color=colors, capsize=4)
        for i, (_, s) in enumerate(items):
            r = s[f"{key}_ratio_vs_hf_eager"]
            if r:
                ax.text(i, medians[i], f"{r:.2f}x", ha="center", va="bottom", fontsize=8)
        ax.set_ylabel(label)
        plt.setp(ax.get_xticklabels(), rotation=30, ha="right", fontsize=8)
    fig.suptitle(f"ELECTRA-Small SQuAD inference on CPU, seq {payload['settings']['max_seq_length']}"
                 f", {payload['questions']} questions; labels: x HF eager", fontsize=10)
    fig.tight_layout()
    path = os.path.join(out_dir, "squad_ratio.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def markdown_tables(results_dir):
    """Markdown tables (min / median / max) of every results JSON, for RESULTS.md."""
    lines = []
    for path in sorted(glob.glob(os.path.join(results_dir, "*.json"))):
        payload = load(path)
        kind = payload.get("benchmark")
        name = os.path.basename(path)
        load_avg = (payload.get("machine", {}).get("load_average_at_start"),
                    payload.get("load_average_at_end"))
        if kind == "pretrain_step":
            st = payload["settings"]
            lines += [f"\n`{name}`: {st['model']}, batch {st['batch_size']}, seq {st['seq_length']}"
                      f", {st['reps']} processes x {st['steps']} timed steps (+{st['warmup']} "
                      f"warm-up); load average start/end {load_avg[0]} / {load_avg[1]}\n",
                      "| config | tokens/s min | median | max | x HF eager | peak RSS MB |",
                      "|---|---|---|---|---|---|"]
            for config, s in payload["summary"].items():
                t = s["tokens_per_s"]
                if not t:
                    lines.append(f"| {config} | failed: {'; '.join(s['errors'])[:120]} |||||")
                    continue
                r = s["ratio_vs_hf_eager"]
                lines.append(f"| {config} | {t['min']:,.0f} | {t['median']:,.0f} | "
                             f"{t['max']:,.0f} | {r:.2f} | {s['peak_rss_mb']['median']:,.0f} |")
        elif kind == "data_prep":
            lines += [f"\n`{name}`: {payload['settings']['reps']} processes; load average "
                      f"{load_avg[0]} / {load_avg[1]}\n",
                      "| config | MB/s min | median | max | x HF tokenizers | examples |",
                      "|---|---|---|---|---|---|"]
            for config, s in payload["summary"].items():
                m = s["mb_per_s"]
                if m:
                    lines.append(f"| {config} | {m['min']:.2f} | {m['median']:.2f} | "
                                 f"{m['max']:.2f} | {s['ratio_vs_hf_tokenizers']:.2f} | "
                                 f"{s['examples']} |")
        elif kind == "squad_inference":
            lines += [f"\n`{name}`: {payload['questions']} questions, seq "
                      f"{payload['settings']['max_seq_length']}, {payload['settings']['reps']} "
                      f"processes; load average {load_avg[0]} / {load_avg[1]}\n",
                      "| config | features/s min | median | max | x HF | questions/s min | "
                      "median | max | x HF |", "|---|---|---|---|---|---|---|---|---|"]
            for config, s in payload["summary"].items():
                f, q = s["features_per_s"], s["questions_per_s"]
                if f:
                    lines.append(
                        f"| {config} | {f['min']:.2f} | {f['median']:.2f} | {f['max']:.2f} | "
                        f"{s['features_per_s_ratio_vs_hf_eager']:.2f} | {q['min']:.2f} | "
                        f"{q['median']:.2f} | {q['max']:.2f} | "
                        f"{s['questions_per_s_ratio_vs_hf_eager']:.2f} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", default=str(common.RESULTS_DIR))
    parser.add_argument("--main", default=None, help="main pretrain_step JSON")
    parser.add_argument("--squad", default=None, help="squad_inference JSON")
    parser.add_argument("--out-dir", default=str(common.BENCH_DIR))
    parser.add_argument("--markdown", action="store_true", help="print tables, no plots")
    args = parser.parse_args(argv)
    if args.markdown:
        print(markdown_tables(args.results))
        return 0
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    main_path = args.main or os.path.join(args.results, "pretrain_step_main.json")
    if os.path.exists(main_path):
        written.append(plot_main(plt, main_path, args.out_dir))
    sweep = sorted(glob.glob(os.path.join(args.results, "pretrain_step_sweep_*.json")))
    if sweep:
        written.append(plot_sweep(plt, sweep, args.out_dir))
    squad = args.squad or os.path.join(args.results, "squad_inference_main.json")
    if os.path.exists(squad):
        written.append(plot_squad(plt, squad, args.out_dir))
    for path in filter(None, written):
        print("wrote", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())

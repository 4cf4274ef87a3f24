"""What `keras_electra.demo` writes: `report.md`, the terminal tables and the plots.

Pure Python + matplotlib (Agg); no Keras. The baselines it shows are computed by
`keras_electra.evaluation`.

Example:
```python
from keras_electra.demo.report import read_metrics_jsonl

train, validation = read_metrics_jsonl("demo_output/pretrain/logs/demo/metrics.jsonl")
train[-1]["disc_auc"], validation[-1]["val_disc_auc"]
```
"""

import json
import math
import os

# (key in the JSONL, label) of the curves in the two pretraining plots.
LOSS_CURVES = (("loss", "total loss (gen + 50 x disc)"), ("gen_loss", "generator MLM loss"),
               ("disc_loss", "discriminator RTD loss"))
ACCURACY_CURVES = (("disc_auc", "discriminator AUC"), ("disc_accuracy", "discriminator accuracy"),
                   ("gen_accuracy", "generator MLM accuracy"))


def read_metrics_jsonl(path):
    """The pretrain command's `metrics.jsonl` -> (train records, validation records).

    Each record is a dict with `step` and the metric values; records are sorted by step.
    A record of a later run of the same log dir replaces an earlier one at the same step.
    """
    by_split = {"train": {}, "validation": {}}
    with open(path, encoding="utf-8") as f:
        for line_number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}:{line_number}: not a JSON line ({error})") from None
            split = record.get("split", "train")
            if split in by_split and "step" in record:
                by_split[split][int(record["step"])] = record
    return ([by_split["train"][s] for s in sorted(by_split["train"])],
            [by_split["validation"][s] for s in sorted(by_split["validation"])])


def plot_pretraining(train, validation, output_dir):
    """Write `pretrain_loss.png` and `pretrain_accuracy.png`; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not train:
        raise ValueError("no training records in metrics.jsonl: nothing to plot")
    paths = []
    for name, curves, ylabel in (("pretrain_loss.png", LOSS_CURVES, "loss"),
                                 ("pretrain_accuracy.png", ACCURACY_CURVES, "value")):
        fig, axes = plt.subplots(1, len(curves), figsize=(4.2 * len(curves), 3.4))
        for axis, (key, label) in zip(axes, curves):
            steps = [r["step"] for r in train if key in r]
            axis.plot(steps, [r[key] for r in train if key in r], label="train", lw=1.5)
            val_key = f"val_{key}"
            val_steps = [r["step"] for r in validation if val_key in r]
            if val_steps:
                axis.plot(val_steps, [r[val_key] for r in validation if val_key in r], "o--",
                          label="validation", lw=1.2)
            if key == "disc_auc":
                axis.axhline(0.5, color="grey", ls=":", lw=1, label="chance (0.5)")
                for honest, label in (("val_cue_free_auc", "validation, no trivial cues"),
                                      ("val_context_free_auc", "context-free baseline")):
                    points = [(r["step"], r[honest]) for r in validation
                              if r.get(honest) is not None]
                    if points:
                        axis.plot(*zip(*points), "s-" if "cue" in honest else "x:",
                                  label=label, lw=1.2)
            axis.set_title(label, fontsize=10)
            axis.set_xlabel("step")
            axis.set_ylabel(ylabel)
            axis.grid(alpha=0.3)
            axis.legend(fontsize=8)
        fig.tight_layout()
        path = os.path.join(output_dir, name)
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths.append(path)
    return paths


def plot_qa(model_eval, baselines, path, random_init_eval=None):
    """Bar chart of EM / F1 (and HasAns / NoAns EM) for the model, the same fine-tuning
    from random initialization and the baselines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [("exact", "EM"), ("f1", "F1"), ("HasAns_exact", "HasAns EM"),
            ("NoAns_exact", "NoAns EM")]
    rows = [("fine-tuned ELECTRA", model_eval)]
    if random_init_eval is not None:
        rows.append((RANDOM_INIT_LABEL, random_init_eval))
    rows += [(BASELINE_LABELS[name], value) for name, value in baselines.items()]
    fig, axis = plt.subplots(figsize=(7, 3.4))
    width = 0.8 / len(rows)
    for i, (label, values) in enumerate(rows):
        xs = [k + i * width for k in range(len(keys))]
        axis.bar(xs, [values.get(key, 0.0) for key, _ in keys], width, label=label)
    axis.set_xticks([k + width * (len(rows) - 1) / 2 for k in range(len(keys))])
    axis.set_xticklabels([label for _, label in keys])
    axis.set_ylim(0, 100)
    axis.set_ylabel("score (%)")
    axis.set_title("SQuAD v2.0 metrics on the dev split", fontsize=10)
    axis.legend(fontsize=8)
    axis.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


BASELINE_LABELS = {
    "all_null": "all-null baseline",
    "random_span": "random-span baseline",
}


def fmt(value, digits=1):
    """A table cell: `digits` decimals for floats, "n/a" for None."""
    if value is None:
        return "n/a"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return f"{value:.{digits}f}"
    return str(value)


def markdown_table(header, rows, digits=1):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(c if isinstance(c, str) else fmt(c, digits) for c in row)
              + " |" for row in rows]
    return "\n".join(lines)


def text_table(header, rows, digits=1):
    """A plain fixed-width table for the terminal."""
    cells = [[str(h) for h in header]] + [
        [c if isinstance(c, str) else fmt(c, digits) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    out = []
    for n, row in enumerate(cells):
        out.append("  ".join(c.ljust(w) for c, w in zip(row, widths)))
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


RANDOM_INIT_LABEL = "same fine-tuning from random init"


def qa_rows(model_eval, baselines, random_init_eval=None):
    """Rows (name, EM, F1, HasAns EM, NoAns EM, best F1) for the QA tables."""
    rows = [("fine-tuned ELECTRA (ours)", model_eval)]
    if random_init_eval is not None:
        rows.append((RANDOM_INIT_LABEL, random_init_eval))
    rows += [(BASELINE_LABELS[k], v) for k, v in baselines.items()]
    return [(name, e.get("exact"), e.get("f1"), e.get("HasAns_exact"), e.get("NoAns_exact"),
             e.get("best_f1")) for name, e in rows]


QA_HEADER = ("predictor", "EM", "F1", "HasAns EM", "NoAns EM", "best F1")


def stage_rows(stages):
    return [(s["name"], s["status"], f"{s['wall_s']:.1f}", f"{s['cpu_s']:.1f}")
            for s in stages]


STAGE_HEADER = ("stage", "status", "wall s", "CPU s")


def write_report(summary, path):
    """Write `report.md` from the demo's summary dict (see `keras_electra.demo`)."""
    lines = []
    for section in (_status_section, _run_section, _pretraining_section, _qa_section,
                    _answers_section, _classification_section, _error_section):
        lines += section(summary)
    lines += ["", f"Machine-readable: `summary.json`. Outputs: `{summary['output_dir']}`.", ""]
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    return path


def _status_section(s):
    """The title, the status and verdict, and the table of claims."""
    lines = [
        "# keras-electra demo report",
        "",
        f"Status: **{s['status']}**. {s['verdict']}",
        "",
    ]
    if s.get("claims"):
        lines += ["| claim | shown? | evidence (this run) |", "|---|---|---|"]
        lines += [f"| {name} | {'yes' if c['shown'] else '**no**'} | {c['evidence']} |"
                  for name, c in s["claims"].items()]
        lines.append("")
    return lines


def _run_section(s):
    """The machine, the stages' timings, the commands and the data."""
    lines = [
        f"Run on {s['environment']['cpus']} CPU core(s), Python {s['environment']['python']}, "
        f"TensorFlow {s['environment'].get('tensorflow', '?')}, "
        f"Keras {s['environment'].get('keras', '?')}, backend "
        f"{s['environment'].get('backend', '?')}; total wall time "
        f"{s['total_wall_s']:.0f} s (CPU {s['total_cpu_s']:.0f} s). Load average at the end: "
        f"{s['environment'].get('loadavg', '?')}.",
        "",
        "## Stages and timings",
        "",
        markdown_table(STAGE_HEADER, stage_rows(s["stages"])),
        "",
        "CPU s = user + system time of this process and its child processes during the stage.",
        "",
        "## Commands",
        "",
        "Each stage ran the equivalent of (in-process through `keras_electra.cli.main` unless "
        "`--subprocess` was given):",
        "",
        "```bash",
    ]
    lines += [c for c in s["commands"]]
    lines += ["```", "", "## Data", ""]
    for key, value in s["data"].items():
        lines.append(f"- {key}: {value}")
    return lines


def _pretraining_section(s):
    """Pretraining metrics against untrained models, and the cue-free AUC curve."""
    pre = s.get("pretraining")
    if not pre:
        return []
    lines = [
        "", "## Pretraining (replaced-token detection)", "",
        f"{pre['steps']} steps of `electra_{pre.get('model_size', 'tiny')}` (global batch "
        f"{pre['batch_size']}, sequence length {pre['sequence_length']}"
        + "".join(f", {k} {v}" for k, v in pre.get("options", {}).items()) + ").",
        "Validation on the same held-out batches (chance AUC = 0.5): the trained model; "
        "the same checkpoint with the discriminator's own weights reset to their random "
        "initialization (same generator, hence the very same replaced tokens); the whole "
        "model untrained (step 0, its random generator makes random replacements).",
        "",
        markdown_table(
            ("metric", "trained (ours)", "untrained discriminator, same replacements",
             "untrained model"),
            [(k, pre["trained_validation"].get(f"val_{k}"),
              pre["untrained_discriminator_validation"].get(f"val_{k}"),
              pre["untrained_validation"].get(f"val_{k}"))
             for k in ("disc_auc", "disc_accuracy", "disc_loss", "gen_accuracy",
                       "gen_loss")], digits=3),
        "",
        f"(The pretrain command's own validation at step {pre['steps']} logged disc_auc "
        f"{fmt(pre['final_validation'].get('val_disc_auc'), 3)}.)",
        "",
        "### Did the discriminator learn context?",
        "",
        "A discriminator gets an AUC above 0.5 without any contextual skill from cues that "
        "need no context: [CLS]/[SEP] are never replaced, and two masked slots on one "
        "position write the floor-average of two sampled ids, a nonsense token. The "
        "*cue-free AUC* leaves those positions out. The *context-free baseline* scores "
        "each remaining token by how often that token id was a replacement in training "
        "batches (token identity only). Only a cue-free AUC above that baseline shows "
        "contextual detection (`keras_electra.evaluation.rtd_cues`; the pretrain "
        "command's `--cue_free_batches`).",
        "",
        markdown_table(("step", "disc AUC", "cue-free AUC", "context-free baseline",
                        "generator MLM accuracy"),
                       [(str(r["step"]), r.get("val_disc_auc"), r.get("val_cue_free_auc"),
                         r.get("val_context_free_auc"), r.get("val_gen_accuracy"))
                        for r in pre.get("cue_free_curve", [])], digits=3),
        "",
        "![pretraining losses](pretrain_loss.png)",
        "",
        "![pretraining accuracy and AUC](pretrain_accuracy.png)",
    ]
    return lines


def _qa_section(s):
    """The SQuAD v2.0 metrics against the baselines and the random-init control."""
    qa = s.get("qa")
    if not qa:
        return []
    lines = [
        "", "## SQuAD v2.0 fine-tuning (official metrics, dev split)", "",
        f"{qa['train_questions']} training questions, {qa['dev_questions']} dev questions "
        f"({qa['dev_unanswerable']} unanswerable); {qa['steps']} fine-tuning steps.",
        "",
        markdown_table(QA_HEADER, qa_rows(qa["eval"], qa["baselines"],
                                          qa.get("random_init_eval"))),
        "",
        f"\"{RANDOM_INIT_LABEL}\": the same architecture, data, steps, learning rate and "
        "seed, starting from random weights instead of the pretrained discriminator: "
        "what pretraining contributed.",
        "",
        f"Null threshold {qa.get('null_threshold', 0.0)}: the model answers unless its "
        "answerability logit says P(no answer) > 0.5. With G's default threshold -2.75 "
        "(calibrated for fully trained models) the same predictions score EM "
        f"{fmt(qa.get('eval_g_threshold', {}).get('exact'))}, F1 "
        f"{fmt(qa.get('eval_g_threshold', {}).get('f1'))}. best F1 is the official "
        "metric at the best threshold on this dev set.",
        "",
        "![QA metrics vs baselines](qa_metrics.png)",
    ]
    return lines


def _answers_section(s):
    """`keras-electra answer`'s answers next to the expected ones."""
    answers = s.get("answers")
    if not answers:
        return []
    lines = ["", "## `keras-electra answer`", ""]
    lines.append(markdown_table(
        ("question", "expected", "model's answer"),
        [(a["question"], a["expected"] or "(no answer)", a["answer"] or "(no answer)")
         for a in answers]))
    return lines


def _classification_section(s):
    """The QNLI-layout accuracies against the majority class."""
    cls = s.get("classification")
    if not cls:
        return []
    lines = ["", "## Text classification (`keras-electra glue`, QNLI layout)", "",
              "Does the paragraph answer the question? The QA set's questions as QNLI "
              f"pairs: {sum(cls['train'].values())} train, {sum(cls['dev'].values())} dev "
              f"({cls['dev']}).", ""]
    lines.append(markdown_table(
        ("model", "dev accuracy"),
        [("fine-tuned from the pretrained discriminator", cls["accuracy"]),
         ("fine-tuned from random initialization", cls["random_init_accuracy"]),
         ("majority class", cls["majority_accuracy"])], digits=3))
    return lines


def _error_section(s):
    """The failed stage's error (a failed run only)."""
    if not s.get("error"):
        return []
    return ["", "## Error", "", "```", s["error"], "```"]

"""The metrics sink owns the console line, TensorBoard and metrics.jsonl (issue 26)."""

import ast
import io
import json
import pathlib

import keras_electra.training.callbacks as callbacks_module
from keras_electra.training.metrics_sink import MetricsSink

TRAIN = {"gen_loss": 1.5, "disc_loss": 0.25, "lr": 1e-4, "tokens_per_s": 100.0,
         "steps_per_s": 2.0, "step_time_s": 0.5}


def _event_tags(run_dir):
    import tensorflow as tf

    tags = []
    for path in sorted(pathlib.Path(run_dir).glob("events.out.tfevents.*")):
        for record in tf.data.TFRecordDataset(str(path)):
            event = tf.compat.v1.Event.FromString(record.numpy())
            tags += [(event.step, value.tag) for value in event.summary.value]
    return tags


def test_the_sink_writes_the_three_outputs(tmp_path):
    console = io.StringIO()
    sink = MetricsSink(str(tmp_path), "run", stream=console)
    sink.write(10, dict(TRAIN), split="train")
    sink.write(10, {"val_gen_loss": 2.0, "val_disc_auc": 0.75}, split="validation")
    sink.example(10, "ORIGINAL a b")
    sink.close()
    assert console.getvalue() == (
        "step 10 gen_loss=1.5 disc_loss=0.25 lr=0.0001 tokens_per_s=100 steps_per_s=2 "
        "step_time_s=0.5\n"
        "step 10 val_gen_loss=2 val_disc_auc=0.75\n"
        "validation example (step 10):\nORIGINAL a b\n")
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    assert [(r["step"], r["split"]) for r in records] == [(10, "train"), (10, "validation")]
    assert {k: v for k, v in records[0].items() if k != "time"} == dict(
        TRAIN, step=10, split="train")
    assert _event_tags(tmp_path / "run") == [
        (10, "train/gen_loss"), (10, "train/disc_loss"), (10, "learning_rate"),
        (10, "tokens_per_s"), (10, "step_time_s"), (10, "val/gen_loss"), (10, "val/disc_auc"),
        (10, "validation/example")]


def test_a_worker_that_is_not_the_chief_writes_nothing(tmp_path):
    console = io.StringIO()
    sink = MetricsSink(str(tmp_path), "run", is_chief=False, stream=console)
    sink.write(1, dict(TRAIN))
    sink.example(1, "view")
    sink.close()
    assert console.getvalue() == "" and not (tmp_path / "run").exists()


def test_a_console_view_shares_the_files_and_prints_elsewhere(tmp_path):
    sink = MetricsSink(str(tmp_path), "run")
    other = io.StringIO()
    sink.console(True, other).write(3, dict(TRAIN))
    sink.close()
    assert other.getvalue().startswith("step 3 gen_loss=1.5")
    assert len((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()) == 1


def test_the_callbacks_write_no_output_themselves():
    """Callbacks decide when; the sink writes (no TensorBoard, JSONL or metrics line there)."""
    tree = ast.parse(pathlib.Path(callbacks_module.__file__).read_text(encoding="utf-8"))
    names = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    names |= {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    assert not names & {"summary", "create_file_writer", "dumps", "format_metrics_line",
                        "_Sink"}

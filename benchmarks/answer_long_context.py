"""`keras-electra answer` on one long context: featurize, predict, post-process (issue 25).

A 1 MB context used to take ~485 s, 80 % of it in G's max-context rule evaluated per token
against every window (quadratic in the number of windows). `max_context_flags` scores each
token only against the windows that overlap its own; this script times the answering path of
`keras-electra answer` (`squad.answering.answer_question`) on a context of `--context-bytes`
(default 1,000,000) cut from the shared Gutenberg corpus, stage by stage, and checks that the
old per-position rule gives the same features and the same answer on a `--check-bytes` prefix
(default 100,000; `--check-bytes 0` skips it, `--check-bytes 1000000` runs the old path on the
whole context: minutes).

The model is a random 1-layer QA model (hidden 64) with the BERT uncased vocabulary,
max_seq_length 384, doc stride 128 (speed of the windowing does not depend on the weights; the
forward pass of a real ELECTRA-small is on top and is measured by squad_inference.py). Writes
`benchmarks/results/answer_long_context.json` with the CPU model, core count and load average.

Example:
    python benchmarks/answer_long_context.py
    python benchmarks/answer_long_context.py --context-bytes 200000 --check-bytes 20000
"""

import argparse
import json
import os
import sys
import time

import bench_common as common


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--context-bytes", type=int, default=1_000_000)
    parser.add_argument("--check-bytes", type=int, default=100_000)
    parser.add_argument("--output", default=None)
    parser.add_argument("--smoke", action="store_true", help="20 KB context, 5 KB check")
    return parser.parse_args(argv)


def lscpu_model():
    import subprocess

    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for line in out.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return None


def read_context(size):
    text = []
    total = 0
    for name in sorted(os.listdir(common.SHARED_DATA / "corpus")):
        with open(common.SHARED_DATA / "corpus" / name, encoding="utf-8") as f:
            part = f.read()
        text.append(part)
        total += len(part.encode("utf-8"))
        if total >= size:
            break
    data = "".join(text).encode("utf-8")[:size]
    return data.decode("utf-8", errors="ignore")


def build_model():
    import keras

    from keras_electra import ElectraBackbone, ElectraQuestionAnswerer, ElectraTokenizer
    from keras_electra.models.electra_question_answerer_preprocessor import (
        ElectraQuestionAnswererPreprocessor,
    )

    keras.utils.set_random_seed(0)
    tokenizer = ElectraTokenizer(str(common.SHARED_DATA / "bert_uncased_vocab.txt"))
    backbone = ElectraBackbone(vocabulary_size=tokenizer.vocabulary_size(), num_layers=1,
                               num_heads=1, hidden_dim=64, embedding_dim=32,
                               intermediate_dim=128, max_sequence_length=512)
    preprocessor = ElectraQuestionAnswererPreprocessor(tokenizer, sequence_length=384,
                                                       max_query_length=64, doc_stride=128)
    return ElectraQuestionAnswerer(backbone, preprocessor=preprocessor, head="simple")


def answer_timed(task, question, context):
    """`answer_question`'s steps, timed: (result, features, {stage: seconds})."""
    from keras_electra.squad.answering import answers_from_predictions, predict_features
    from keras_electra.squad.postprocess import postprocess_predictions
    from keras_electra.squad.reader import SquadExample

    times = {}
    start = time.perf_counter()
    examples = [SquadExample("0", question, context, [], False)]
    features = task.preprocessor.featurize(examples, is_training=False, progress=False)
    times["featurize_s"] = time.perf_counter() - start
    start = time.perf_counter()
    outputs = predict_features(task, features, batch_size=32, verbose=0)
    times["predict_s"] = time.perf_counter() - start
    start = time.perf_counter()
    result = postprocess_predictions(features, outputs, head=task.head,
                                     tokenizer=task.preprocessor.tokenizer)
    answer = answers_from_predictions(result, examples)[0]
    times["postprocess_s"] = time.perf_counter() - start
    times["total_s"] = sum(times.values())
    return answer, features, times


def old_rule():
    """A context manager: featurize with the per-position rule (before issue 25)."""
    import contextlib

    import numpy as np

    from keras_electra.models import electra_question_answerer_features as module

    def per_position(spans):
        return [np.array([module.is_max_context(spans, w, start + i) for i in range(length)],
                         bool) for w, (start, length) in enumerate(spans)]

    @contextlib.contextmanager
    def patched():
        saved = module.max_context_flags
        module.max_context_flags = per_position
        try:
            yield
        finally:
            module.max_context_flags = saved

    return patched()


def main(argv=None):
    args = parse_args(argv)
    if args.smoke:
        args.context_bytes, args.check_bytes = 20_000, 5_000
    import numpy as np

    task = build_model()
    question = "Who was the captain of the ship?"
    answer_timed(task, question, read_context(5_000))  # warm-up: tracing, thread pools
    context = read_context(args.context_bytes)
    load_before = common.load_average()
    answer, features, times = answer_timed(task, question, context)
    result = {"context_bytes": len(context.encode("utf-8")), "windows": len(features),
              **{k: round(v, 3) for k, v in times.items()},
              "answer": answer["answer"], "char_start": answer["char_start"]}
    check = None
    if args.check_bytes:
        prefix = read_context(args.check_bytes)
        new_answer, new_features, new_times = answer_timed(task, question, prefix)
        with old_rule():
            old_answer, old_features, old_times = answer_timed(task, question, prefix)
        check = {"context_bytes": len(prefix.encode("utf-8")), "windows": len(new_features),
                 "same_max_context": bool(np.array_equal(new_features.token_is_max_context,
                                                         old_features.token_is_max_context)),
                 "same_answer": new_answer == old_answer,
                 "featurize_s_new": round(new_times["featurize_s"], 3),
                 "featurize_s_old": round(old_times["featurize_s"], 3)}
    payload = {
        "benchmark": "answer_long_context",
        "machine": {**common.machine_info(), "lscpu_model_name": lscpu_model(),
                    "load_average_before_run": load_before,
                    "load_average_after_run": common.load_average()},
        "model": "random ElectraQuestionAnswerer: 1 layer, hidden 64, BERT uncased vocab, "
                 "max_seq_length 384, doc stride 128, simple head",
        "result": result, "old_rule_check": check,
    }
    path = common.write_json(payload, args.output, "answer_long_context.json")
    print(json.dumps(payload, indent=2))
    print(f"wrote {path}", file=sys.stderr)
    return 0 if check is None or (check["same_max_context"] and check["same_answer"]) else 1


if __name__ == "__main__":
    sys.exit(main())

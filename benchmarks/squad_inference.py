"""ELECTRA-small SQuAD inference on CPU: keras-electra vs HF ElectraForQuestionAnswering.

Two numbers per configuration, both on the SQuAD v2 dev sample in tests/data/files
(`--squad`, first `--max-questions` questions), max_seq_length 384, doc stride 128,
n-best 20, max answer length 30, batch 32:

  features/s      model forward only, over all features (after one warm-up batch)
  questions/s     end to end: parsed JSON -> tokenization + sliding windows ->
                  forward -> post-processing -> {question id: answer text}

Configurations (one process per configuration per repetition, alternating):

  ours_simple     keras-electra TF backend: `read_squad` + `convert_examples_to_features`
                  + `ElectraQuestionAnswerer(head="simple")` (= HF's qa_outputs head)
                  `.predict` + `postprocess_predictions(head="simple")`
  ours_simple_xla the same with `compile(jit_compile=True)`
  ours_electra    the same with G's head (20x20 start/end beam + answerability)
  ours_simple_bf16 ours_simple under the mixed_bfloat16 policy
  ours_simple_jax ours_simple on the JAX backend
  hf_eager        HF: `ElectraTokenizerFast` (question, context, truncation="only_second",
                  stride, overflowing tokens, offsets) as in transformers' run_qa.py
                  `prepare_validation_features`, `ElectraForQuestionAnswering` under
                  torch.inference_mode, and the post-processing of run_qa.py's
                  `utils_qa.postprocess_qa_predictions` (version_2_with_negative=True),
                  re-implemented here because transformers 5 no longer ships the squad
                  utilities.
  hf_eager_bf16   hf_eager under torch.autocast(cpu, bfloat16)
  ours_answer     what `keras-electra answer --input` runs: `squad.answering.answer_questions`
                  on (question, context) strings (featurize, predict, post-process; simple
                  head), end to end only

There is no `hf_pipeline` configuration: transformers 5 removed the question-answering
pipeline (`pipeline("question-answering")` raises "The task question-answering has been
removed"), so the HF side of a bulk-answering comparison is `hf_eager`, the run_qa.py path.

Weights are random (speed does not depend on them); the vocabulary is BERT uncased.

Example:
    python benchmarks/squad_inference.py --reps 5
    python benchmarks/squad_inference.py --smoke
"""

import argparse
import collections
import json
import os
import sys
import time

import bench_common as common

CONFIGS = ("ours_simple", "ours_simple_xla", "ours_electra", "ours_simple_bf16",
           "ours_simple_jax", "hf_eager", "hf_eager_bf16", "ours_answer")
DEFAULT_CONFIGS = ("ours_simple", "ours_simple_xla", "ours_electra", "ours_simple_bf16",
                   "ours_simple_jax", "hf_eager", "hf_eager_bf16")
BASELINE = "hf_eager"
N_BEST, MAX_ANSWER = 20, 30


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--squad", default=str(common.TEST_DATA / "squad_v2_dev_sample.json"))
    parser.add_argument("--vocab", default=str(common.TEST_DATA / "bert_uncased_vocab.txt"))
    parser.add_argument("--configs", default=",".join(DEFAULT_CONFIGS))
    parser.add_argument("--model", default="electra_small")
    parser.add_argument("--max-questions", type=int, default=160)
    parser.add_argument("--max-seq-length", type=int, default=384)
    parser.add_argument("--doc-stride", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--smoke", action="store_true",
                        help="electra_tiny, 8 questions, seq 128, 1 rep")
    parser.add_argument("--output", default=None)
    parser.add_argument("--tag", default=None)
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.smoke:
        args.model, args.max_questions, args.max_seq_length = "electra_tiny", 8, 128
        args.doc_stride, args.batch_size, args.reps = 64, 8, 1
        if args.configs == ",".join(DEFAULT_CONFIGS):
            args.configs = "ours_simple,hf_eager"
        args.tag = args.tag or "smoke"
    args.configs = args.configs.split(",")
    bad = [c for c in args.configs if c not in CONFIGS]
    if bad:
        parser.error(f"unknown configuration(s) {bad}; choose from {list(CONFIGS)}")
    return args


def load_raw(args):
    with open(args.squad, encoding="utf-8") as f:
        raw = json.load(f)
    kept, count = [], 0
    for article in raw["data"]:
        paragraphs = []
        for paragraph in article["paragraphs"]:
            qas = paragraph["qas"][: max(0, args.max_questions - count)]
            count += len(qas)
            if qas:
                paragraphs.append({**paragraph, "qas": qas})
        if paragraphs:
            kept.append({**article, "paragraphs": paragraphs})
    return {"version": raw.get("version", "v2.0"), "data": kept}, count


def backbone_config(args):
    from keras_electra.models.electra_presets import ARCHITECTURE_PRESETS

    config = dict(ARCHITECTURE_PRESETS[args.model]["backbone"])
    config["max_sequence_length"] = max(512, args.max_seq_length)
    return config


# --------------------------------------------------------------------- ours
def run_ours(args, config, raw, num_questions):
    os.environ["KERAS_BACKEND"] = "jax" if config.endswith("_jax") else "tensorflow"
    import keras
    import numpy as np

    from keras_electra import ElectraBackbone, ElectraQuestionAnswerer, ElectraTokenizer
    from keras_electra.squad.features import convert_examples_to_features
    from keras_electra.squad.postprocess import postprocess_predictions
    from keras_electra.squad.reader import read_squad

    head = "electra" if config == "ours_electra" else "simple"
    dtype = "mixed_bfloat16" if config.endswith("bf16") else "float32"
    build_start = time.perf_counter()
    keras.utils.set_random_seed(0)
    backbone = ElectraBackbone(**backbone_config(args), dropout=0.0, dtype=dtype)
    model = ElectraQuestionAnswerer(backbone, head=head)
    model.compile(jit_compile=config.endswith("_xla") or config.endswith("_jax"))
    tokenizer = ElectraTokenizer(args.vocab)
    build_s = time.perf_counter() - build_start

    def features_of(raw_json):
        examples = read_squad(raw_json).examples
        return convert_examples_to_features(
            examples, tokenizer, max_seq_length=args.max_seq_length, doc_stride=args.doc_stride,
            is_training=False, progress=False)

    def forward(features):
        return model.predict(features.inputs(), batch_size=args.batch_size, verbose=0)

    # Warm-up: trace/compile predict on one full batch (and a last partial one).
    features = features_of(raw)
    warm_start = time.perf_counter()
    warm = {k: v[: args.batch_size] for k, v in features.inputs().items()}
    model.predict(warm, batch_size=args.batch_size, verbose=0)
    warmup_s = time.perf_counter() - warm_start

    start = time.perf_counter()
    outputs = forward(features)
    forward_s = time.perf_counter() - start

    start = time.perf_counter()
    features = features_of(raw)
    outputs = {k: np.asarray(v, dtype="float32" if v.dtype.kind == "f" else v.dtype)
               for k, v in forward(features).items()}
    answers = postprocess_predictions(features, outputs, head=head,
                                      tokenizer=tokenizer).predictions
    e2e_s = time.perf_counter() - start
    return {
        "config": config, "features": len(features), "questions": num_questions,
        "features_per_s": len(features) / forward_s, "questions_per_s": num_questions / e2e_s,
        "forward_s": forward_s, "end_to_end_s": e2e_s, "warmup_s": warmup_s, "build_s": build_s,
        "answered": sum(bool(a) for a in answers.values()), "backend": keras.backend.backend(),
        "dtype_policy": dtype, "head": head,
    }


def pairs_of(raw_json):
    """`(ids, questions, contexts)` of a SQuAD JSON, in file order."""
    ids, questions, contexts = [], [], []
    for article in raw_json["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                ids.append(qa["id"])
                questions.append(qa["question"])
                contexts.append(paragraph["context"])
    return ids, questions, contexts


def run_ours_answer(args, config, raw, num_questions):
    """`keras-electra answer --input`: strings in, answers out (`answer_questions`)."""
    os.environ["KERAS_BACKEND"] = "tensorflow"
    import keras

    from keras_electra import ElectraBackbone, ElectraQuestionAnswerer, ElectraTokenizer
    from keras_electra.models.electra_question_answerer_preprocessor import (
        ElectraQuestionAnswererPreprocessor,
    )
    from keras_electra.squad.answering import answer_questions

    keras.utils.set_random_seed(0)
    build_start = time.perf_counter()
    backbone = ElectraBackbone(**backbone_config(args), dropout=0.0)
    preprocessor = ElectraQuestionAnswererPreprocessor(
        ElectraTokenizer(args.vocab), sequence_length=args.max_seq_length,
        doc_stride=args.doc_stride)
    task = ElectraQuestionAnswerer(backbone, preprocessor=preprocessor, head="simple")
    build_s = time.perf_counter() - build_start
    _, questions, contexts = pairs_of(raw)
    pairs = list(zip(questions, contexts))
    warm_start = time.perf_counter()
    answer_questions(task, pairs[:4], batch_size=args.batch_size)
    warmup_s = time.perf_counter() - warm_start
    start = time.perf_counter()
    answers = answer_questions(task, pairs, batch_size=args.batch_size)
    e2e_s = time.perf_counter() - start
    return {"config": config, "features": None, "questions": num_questions,
            "features_per_s": None, "questions_per_s": num_questions / e2e_s,
            "end_to_end_s": e2e_s, "warmup_s": warmup_s, "build_s": build_s,
            "answered": sum(bool(a["answer"]) for a in answers), "head": "simple"}


# ----------------------------------------------------------------------- HF
def hf_prepare(tokenizer, questions, contexts, ids, args):
    """run_qa.py `prepare_validation_features`: overflowing windows, context-only offsets."""
    questions = [q.lstrip() for q in questions]
    enc = tokenizer(
        questions, contexts, truncation="only_second", max_length=args.max_seq_length,
        stride=args.doc_stride, return_overflowing_tokens=True, return_offsets_mapping=True,
        padding="max_length", return_tensors=None,
    )
    sample_map = enc.pop("overflow_to_sample_mapping")
    example_ids, offsets = [], []
    for i, offset in enumerate(enc["offset_mapping"]):
        sequence_ids = enc.sequence_ids(i)
        example_ids.append(ids[sample_map[i]])
        offsets.append([o if sequence_ids[k] == 1 else None for k, o in enumerate(offset)])
    enc.pop("offset_mapping")
    return enc, example_ids, offsets


def hf_postprocess(ids, contexts, example_ids, offsets, start_logits, end_logits):
    """run_qa.py `postprocess_qa_predictions(version_2_with_negative=True)`, same rules."""
    import numpy as np

    by_example = collections.defaultdict(list)
    for i, example_id in enumerate(example_ids):
        by_example[example_id].append(i)
    answers = {}
    for example_id, context in zip(ids, contexts):
        best_null, candidates = None, []
        for f in by_example[example_id]:
            starts, ends, offset = start_logits[f], end_logits[f], offsets[f]
            null_score = starts[0] + ends[0]
            if best_null is None or null_score < best_null:
                best_null = null_score
            top_starts = np.argsort(starts)[-1: -N_BEST - 1: -1].tolist()
            top_ends = np.argsort(ends)[-1: -N_BEST - 1: -1].tolist()
            for s in top_starts:
                for e in top_ends:
                    if offset[s] is None or offset[e] is None:
                        continue
                    if e < s or e - s + 1 > MAX_ANSWER:
                        continue
                    candidates.append((starts[s] + ends[e], starts[s], ends[e],
                                       offset[s][0], offset[e][1]))
        candidates.append((best_null, None, None, 0, 0))
        candidates.sort(key=lambda c: c[0], reverse=True)
        candidates = candidates[:N_BEST]
        texts = [context[c[3]:c[4]] for c in candidates]
        non_null = [(c, t) for c, t in zip(candidates, texts) if t != ""]
        if not non_null:
            answers[example_id] = ""
            continue
        best, text = non_null[0]
        scores = np.array([c[0] for c in candidates])
        probs = np.exp(scores - scores.max())
        probs /= probs.sum()  # computed as run_qa does (n-best probabilities)
        diff = best_null - best[1] - best[2]
        answers[example_id] = "" if diff > 0.0 else text
    return answers


def run_hf(args, config, raw, num_questions):
    import numpy as np
    import torch
    import transformers
    from transformers import ElectraConfig, ElectraForQuestionAnswering, ElectraTokenizerFast

    torch.manual_seed(0)
    autocast = config.endswith("bf16")
    build_start = time.perf_counter()
    c = backbone_config(args)
    model = ElectraForQuestionAnswering(ElectraConfig(
        vocab_size=c["vocabulary_size"], embedding_size=c["embedding_dim"],
        hidden_size=c["hidden_dim"], num_hidden_layers=c["num_layers"],
        num_attention_heads=c["num_heads"], intermediate_size=c["intermediate_dim"],
        max_position_embeddings=c["max_sequence_length"], hidden_act="gelu",
    )).eval()
    tokenizer = ElectraTokenizerFast(vocab_file=args.vocab, do_lower_case=True)
    build_s = time.perf_counter() - build_start

    flatten = pairs_of

    def forward(enc):
        keys = ("input_ids", "token_type_ids", "attention_mask")
        tensors = {k: torch.tensor(enc[k]) for k in keys}
        n = len(tensors["input_ids"])
        starts, ends = [], []
        with torch.inference_mode(), torch.autocast("cpu", torch.bfloat16, enabled=autocast):
            for i in range(0, n, args.batch_size):
                out = model(**{k: v[i:i + args.batch_size] for k, v in tensors.items()})
                starts.append(out.start_logits.float().numpy())
                ends.append(out.end_logits.float().numpy())
        return np.concatenate(starts), np.concatenate(ends)

    ids, questions, contexts = flatten(raw)
    enc, example_ids, offsets = hf_prepare(tokenizer, questions, contexts, ids, args)
    warm_start = time.perf_counter()
    forward({k: enc[k][: args.batch_size] for k in ("input_ids", "token_type_ids",
                                                    "attention_mask")})
    warmup_s = time.perf_counter() - warm_start

    start = time.perf_counter()
    forward(enc)
    forward_s = time.perf_counter() - start

    start = time.perf_counter()
    ids, questions, contexts = flatten(raw)
    enc, example_ids, offsets = hf_prepare(tokenizer, questions, contexts, ids, args)
    start_logits, end_logits = forward(enc)
    answers = hf_postprocess(ids, contexts, example_ids, offsets, start_logits, end_logits)
    e2e_s = time.perf_counter() - start
    num_features = len(enc["input_ids"])
    return {
        "config": config, "features": num_features, "questions": num_questions,
        "features_per_s": num_features / forward_s, "questions_per_s": num_questions / e2e_s,
        "forward_s": forward_s, "end_to_end_s": e2e_s, "warmup_s": warmup_s, "build_s": build_s,
        "answered": sum(bool(a) for a in answers.values()), "torch": torch.__version__,
        "transformers": transformers.__version__, "torch_threads": torch.get_num_threads(),
        "autocast_bf16": autocast,
    }


def main(argv=None):
    args = parse_args(argv)
    raw, num_questions = load_raw(args)
    if args.worker:
        runner = {"ours_answer": run_ours_answer}.get(
            args.worker, run_hf if args.worker.startswith("hf") else run_ours)
        common.emit_result(runner(args, args.worker, raw, num_questions))
        return 0
    started = time.perf_counter()
    machine = common.machine_info()
    base = ["--squad", args.squad, "--vocab", args.vocab, "--model", args.model,
            "--max-questions", args.max_questions, "--max-seq-length", args.max_seq_length,
            "--doc-stride", args.doc_stride, "--batch-size", args.batch_size]
    runs = common.run_alternating(
        __file__, args.configs, args.reps, lambda config: base + ["--worker", config],
        lambda r: (f"{common.fmt(r['features_per_s'], 2)} features/s, "
                   f"{r['questions_per_s']:.2f} questions/s ({r['features']} features)"),
    )
    summary = {}
    for config, results in runs.items():
        ok = [r for r in results if "error" not in r]
        summary[config] = {
            key: common.summarize([r[key] for r in ok])
            for key in ("features_per_s", "questions_per_s", "peak_rss_mb")
        }
        summary[config]["features"] = ok[0]["features"] if ok else None
        summary[config]["errors"] = [r["error"] for r in results if "error" in r]
    hf = summary.get(BASELINE, {})
    for s in summary.values():
        for key in ("features_per_s", "questions_per_s"):
            ok = s.get(key) and hf.get(key)
            s[f"{key}_ratio_vs_hf_eager"] = (s[key]["median"] / hf[key]["median"]) if ok else None
    ratio = summary.get("ours_answer", {}).get("questions_per_s_ratio_vs_hf_eager")
    if ratio:
        print(f"batched `answer` vs HF (run_qa.py path; transformers 5 has no QA pipeline), "
              f"end to end: {ratio:.2f}x (goal >= 1.5x)")
    print(f"\nSQuAD inference ({args.model}, seq {args.max_seq_length}, {num_questions} "
          f"questions, batch {args.batch_size}), medians of {args.reps} processes")
    print(f"{'config':17s} {'feat/s min':>10s} {'median':>7s} {'max':>7s} "
          f"{'q/s min':>8s} {'median':>7s} {'max':>7s} {'RSS MB':>7s} {'feat x':>6s} {'q x':>6s}")
    for config, s in summary.items():
        f, q = s["features_per_s"] or {}, s["questions_per_s"] or {}
        fr, qr = s["features_per_s_ratio_vs_hf_eager"], s["questions_per_s_ratio_vs_hf_eager"]
        print(f"{config:17s} {common.fmt(f.get('min'), 2):>10s} {common.fmt(f.get('median'), 2):>7s}"
              f" {common.fmt(f.get('max'), 2):>7s} {common.fmt(q.get('min'), 2):>8s}"
              f" {common.fmt(q.get('median'), 2):>7s} {common.fmt(q.get('max'), 2):>7s}"
              f" {common.fmt((s['peak_rss_mb'] or {}).get('median')):>7s}"
              f" {(f'{fr:.2f}x' if fr else '-'):>6s} {(f'{qr:.2f}x' if qr else '-'):>6s}")
    payload = {
        "benchmark": "squad_inference",
        "settings": {k: v for k, v in vars(args).items() if k != "worker"},
        "questions": num_questions, "machine": machine,
        "load_average_at_end": common.load_average(),
        "versions": common.package_versions(
            ["keras", "keras-hub", "tensorflow", "jax", "torch", "transformers", "tokenizers"]),
        "total_wall_s": round(time.perf_counter() - started, 1),
        "summary": summary, "runs": runs,
    }
    path = common.write_json(payload, args.output,
                             f"squad_inference_{args.tag or args.model}.json")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

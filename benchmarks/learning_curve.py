"""Learning curve of G's joint objective: keras-electra vs an HF/PyTorch G step, same data.

Both sides train `electra_tiny` (2 layers, H 128, E 64, generator 1/4, BERT uncased vocab) on
the same ~60-token passages of `--corpus` (default: the repository's `tests/data/files/corpus`),
in the same order, with the same
optimizer (AdamW, lr, decay 0.01 except bias/LayerNorm, eps 1e-6, clip 1.0, optional linear
warm-up) and G's objective (masking, Gumbel-max sampling, MLM + 50 x RTD). Every
`--eval-every` steps each side reports discriminator AUC over the real tokens of 320 held-out
passages, generator accuracy at the masked slots and the RTD loss. The HF step is the one of
`pretrain_step.py` (its masking/scatter are checked against a numpy transcription of G in
`tests/test_benchmarks_smoke.py`).

Why it exists: with the full objective the discriminator AUC of a tiny model stays near 0.55
for the first ~1,000 steps. This script shows whether that is our implementation or the
objective: an independent implementation on the same data should follow the same curve.

Each side runs in its own process with one thread, the two in parallel.

`--impl variants --variants electra,gdes,...` instead trains the keras side once per objective
variant (`VARIANTS`: G's ELECTRA, GDES, G's disallow_correct / uniform_generator switches,
the unigram generator on the training passages' token counts, Electric),
in parallel, same data and steps, and prints their curves side by side.

Example:
    python benchmarks/learning_curve.py --steps 1000            # both sides, ~20 min on 2 cores
    python benchmarks/learning_curve.py --impl hf --steps 200 --eval-every 100
    python benchmarks/learning_curve.py --impl variants --variants electra,gdes --steps 1000
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import time

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
# default data: the licensed slices the tests use (tests/data/files/README.md)
CORPUS = ROOT / "tests" / "data" / "files" / "corpus"
VOCAB = ROOT / "tests" / "data" / "files" / "bert_uncased_vocab.txt"
SEQUENCE_LENGTH, BATCH_SIZE, NUM_EVAL = 64, 32, 320


def corpus_passages(corpus_dir, max_chars=250, limit=12000):
    """Consecutive corpus sentences grouped into ~60-token passages (as the learning test)."""
    texts, current = [], []
    for path in sorted(pathlib.Path(corpus_dir).glob("*.txt")):
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                current.append(line)
                if sum(len(s) for s in current) >= max_chars:
                    texts.append(" ".join(current))
                    current = []
                if len(texts) >= limit:
                    return texts
    return texts


def adamw(learning_rate, epsilon=1e-6, clipnorm=1.0):
    """The learning runs' Keras optimizer: `ElectraAdamW` (AdamW, weight decay 0.01 except
    biases and LayerNorm, global-norm clipping of the all-reduced gradient; `clipnorm` 0 =
    none). The HF side of `run_hf` mirrors it in torch."""
    from keras_electra.optimizers import ElectraAdamW

    return ElectraAdamW(learning_rate=learning_rate, weight_decay=0.01, epsilon=epsilon,
                        global_clipnorm=clipnorm or None)


def make_data(cache, corpus=CORPUS, vocab=VOCAB):
    """Tokenize + pack once with keras-electra's preprocessor; both sides read the arrays.
    `corpus`: a directory of `*.txt` files."""
    if os.path.exists(cache):
        return
    from keras_electra import ElectraPretrainerPreprocessor, ElectraTokenizer

    texts = corpus_passages(corpus)
    np.random.default_rng(0).shuffle(texts)
    preprocessor = ElectraPretrainerPreprocessor(
        ElectraTokenizer(str(vocab)), sequence_length=SEQUENCE_LENGTH)

    def arrays(items):
        return {k: np.asarray(v) for k, v in preprocessor(np.array(items)).items()}

    train, held_out = arrays(texts[:-NUM_EVAL]), arrays(texts[-NUM_EVAL:])
    np.savez(cache, **{"tr_" + k: v for k, v in train.items()},
             **{"ev_" + k: v for k, v in held_out.items()})


def exact_auc(labels, scores):
    """Rank-based ROC AUC (Mann-Whitney U)."""
    pos, neg = scores[labels == 1], scores[labels == 0]
    order = np.argsort(np.concatenate([pos, neg]), kind="mergesort")
    ranks = np.empty(len(order))
    ranks[order] = np.arange(1, len(order) + 1)
    return (ranks[:len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg))


def _load(cache, eval_passages=0):
    """(training passages, held-out passages: the first `eval_passages` of them, 0: all)."""
    data = np.load(cache)
    train = {k[3:]: data[k] for k in data if k.startswith("tr_")}
    held_out = {k[3:]: data[k][:eval_passages or None] for k in data if k.startswith("ev_")}
    return train, held_out


def _batch(d, i):
    n = len(d["token_ids"]) // BATCH_SIZE
    j = i % n
    return {k: v[j * BATCH_SIZE:(j + 1) * BATCH_SIZE] for k, v in d.items()}


# objective variants of the keras side: ElectraPretrainer arguments ("train" for the unigram
# generator: the token counts of this benchmark's own training passages, `train_token_counts`)
VARIANTS = {"electra": {}, "gdes": {"gdes": True}, "disallow_correct": {"disallow_correct": True},
            "uniform_generator": {"uniform_generator": True},
            "unigram_generator": {"unigram_generator": "train"}, "electric": {"electric": True}}


def train_token_counts(train, vocabulary_size):
    """Per-id counts of the real tokens of the training passages (what `prepare` writes to
    token_counts.tsv for a corpus)."""
    ids = train["token_ids"][train["padding_mask"] > 0]
    return np.bincount(ids, minlength=vocabulary_size).tolist()


def run_keras(args, emit):
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras

    from keras_electra import ElectraPretrainer

    train, held_out = _load(args.cache, args.eval_passages)
    keras.utils.set_random_seed(1)  # every variant starts from the same weights
    variant = dict(VARIANTS[args.variant])
    if variant.get("unigram_generator") == "train":
        from keras_electra.models.electra_presets import ARCHITECTURE_PRESETS

        vocabulary_size = ARCHITECTURE_PRESETS["electra_tiny"]["backbone"]["vocabulary_size"]
        variant["unigram_generator"] = train_token_counts(train, vocabulary_size)
    model = ElectraPretrainer.from_preset("electra_tiny", seed=1, xla=not args.no_xla,
                                          **variant)

    class Warmup(keras.optimizers.schedules.LearningRateSchedule):
        def __call__(self, step):
            ramp = keras.ops.cast(step + 1, "float32") / max(1, args.warmup)
            return args.lr * keras.ops.minimum(1.0, ramp)

    model.compile(optimizer=adamw(Warmup()))
    n = len(train["token_ids"]) // BATCH_SIZE * BATCH_SIZE
    ds = tf.data.Dataset.from_tensor_slices({k: v[:n] for k, v in train.items()})
    ds = ds.repeat().batch(BATCH_SIZE)
    held_out_ds = tf.data.Dataset.from_tensor_slices(held_out).batch(BATCH_SIZE)
    from keras_electra.evaluation.rtd_cues import (
        context_free_baseline,
        cue_free_auc,
        rtd_outputs,
    )

    held_out_batches = [_batch(held_out, i) for i in range(len(held_out["token_ids"])
                                                          // BATCH_SIZE)]
    fit_batches = [_batch(train, i) for i in range(len(held_out_batches))]
    real = np.concatenate([b["padding_mask"].ravel() for b in held_out_batches]) > 0
    done = 0
    while True:
        r = model.evaluate(held_out_ds, verbose=0, return_dict=True)
        model.reset_metrics()
        # the same replacements for both: the model's own fakes on held-out passages; the
        # context-free baseline learns token identities from training passages
        outputs = rtd_outputs(model, held_out_batches)
        emit(done, {"disc_auc": r["disc_auc"], "gen_accuracy": r["gen_accuracy"],
                    # rank AUC over all real tokens: Keras' AUC (200 thresholds on the
                    # sigmoid) reads ~0.5 when every probability is tiny (Electric's corrected
                    # logits start near log q + log(p / (1 - p)), i.e. < -10)
                    "exact_disc_auc": exact_auc(outputs["labels"][real],
                                                outputs["scores"][real]),
                    "disc_loss": r["disc_loss"], "cue_free_auc": cue_free_auc(outputs),
                    "context_free_auc": context_free_baseline(
                        rtd_outputs(model, fit_batches), outputs)})
        if done >= args.steps:
            return
        todo = min(args.eval_every, args.steps - done)
        model.fit(ds.skip(done), steps_per_epoch=todo, epochs=1, verbose=0)
        done += todo


def run_hf(args, emit):
    import torch

    sys.path.insert(0, str(HERE))
    from pretrain_step import _torch_masking, _torch_scatter_update, build_hf

    torch.set_num_threads(1)
    torch.manual_seed(0)
    train, held_out = _load(args.cache, args.eval_passages)

    class Spec:
        model, vocab_size = "electra_tiny", 0

    disc, gen, optimizer, params, mask_prob = build_hf(Spec, torch)
    num_slots = int((mask_prob + 0.005) * SEQUENCE_LENGTH)
    rng = torch.Generator().manual_seed(0)

    def forward(batch):
        ids, seg, pad = (torch.from_numpy(batch[k]).long()
                         for k in ("token_ids", "segment_ids", "padding_mask"))
        masked_ids, positions, mlm_ids, weights = _torch_masking(
            torch, ids, pad, mask_prob, num_slots, 103, (102, 101, 103, 0), rng)
        hidden = gen.electra(input_ids=masked_ids, attention_mask=pad,
                             token_type_ids=seg).last_hidden_state
        index = positions[:, :, None].expand(-1, -1, hidden.shape[-1])
        logits = gen.generator_lm_head(gen.generator_predictions(torch.gather(hidden, 1, index)))
        nll = -torch.log_softmax(logits, -1).gather(-1, mlm_ids[:, :, None]).squeeze(-1)
        gen_loss = (weights * nll).sum() / (weights.sum() + 1e-6)
        with torch.no_grad():
            uniform = torch.rand(logits.shape, generator=rng)
            sampled = torch.argmax(logits - torch.log(-torch.log(uniform + 1e-9) + 1e-9), -1)
            original, _ = _torch_scatter_update(torch, masked_ids, mlm_ids, positions)
            corrupted, updated = _torch_scatter_update(torch, original, sampled, positions)
            labels = (updated * (corrupted != original).long()).float()
        disc_logits = disc(input_ids=corrupted, attention_mask=pad, token_type_ids=seg).logits
        mask = pad.float()
        bce = torch.nn.functional.binary_cross_entropy_with_logits(disc_logits, labels,
                                                                   reduction="none")
        disc_loss = (bce * mask).sum() / mask.sum()
        gen_acc = ((logits.argmax(-1) == mlm_ids).float() * weights).sum() / weights.sum()
        return gen_loss, disc_loss, disc_logits, labels, pad, gen_acc

    def evaluate():
        disc.eval()
        gen.eval()
        labels, scores, accs, losses = [], [], [], []
        with torch.no_grad():
            for i in range(len(held_out["token_ids"]) // BATCH_SIZE):
                _, disc_loss, logits, lab, pad, acc = forward(_batch(held_out, i))
                real = pad.bool()
                labels.append(lab[real].numpy())
                scores.append(logits[real].numpy())
                accs.append(float(acc))
                losses.append(float(disc_loss))
        disc.train()
        gen.train()
        return {"disc_auc": exact_auc(np.concatenate(labels), np.concatenate(scores)),
                "gen_accuracy": float(np.mean(accs)), "disc_loss": float(np.mean(losses))}

    for step in range(args.steps + 1):
        if step % args.eval_every == 0 or step == args.steps:
            emit(step, evaluate())
        if step == args.steps:
            return
        for group in optimizer.param_groups:
            group["lr"] = args.lr * min(1.0, (step + 1) / max(1, args.warmup))
        gen_loss, disc_loss, *_ = forward(_batch(train, step))
        loss = gen_loss + 50.0 * disc_loss
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--impl", choices=("both", "keras", "hf", "variants"), default="both")
    parser.add_argument("--variant", choices=sorted(VARIANTS), default="electra",
                        help="keras side: the objective variant")
    parser.add_argument("--variants", default="electra,gdes",
                        help="--impl variants: comma-separated variants to compare")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--warmup", type=int, default=0, help="linear warm-up steps")
    parser.add_argument("--no-xla", action="store_true", help="keras side without XLA")
    parser.add_argument("--eval-passages", type=int, default=0,
                        help="evaluate on the first N of the 320 held-out passages (a multiple "
                        "of the batch, 32; default 0: all); smaller is a quicker smoke run")
    parser.add_argument("--cache", default=os.path.join(
        os.environ.get("TMPDIR", "/tmp"), "keras_electra_learning_curve_data.npz"))
    parser.add_argument("--tag", default="main")
    parser.add_argument("--corpus", default=str(CORPUS), help="directory of *.txt files")
    parser.add_argument("--vocab", default=str(VOCAB))
    return parser.parse_args(argv)


def compare_variants(args):
    """Train the keras side once per variant, in parallel; print and store the curves."""
    make_data(args.cache, args.corpus, args.vocab)
    names = args.variants.split(",")
    base = [sys.executable, __file__, "--impl", "keras", "--steps", str(args.steps),
            "--eval-every", str(args.eval_every), "--lr", str(args.lr), "--warmup",
            str(args.warmup), "--cache", args.cache, "--eval-passages", str(args.eval_passages)]
    base += ["--no-xla"] if args.no_xla else []
    procs = {name: subprocess.Popen(base + ["--variant", name], stdout=subprocess.PIPE,
                                    text=True) for name in names}
    curves = {}
    for name, proc in procs.items():
        out, _ = proc.communicate()
        if proc.returncode:
            raise SystemExit(f"variant {name} failed (exit {proc.returncode})")
        curves[name] = [json.loads(line[5:]) for line in out.splitlines()
                        if line.startswith("JSON ")]
    print("\nper variant: disc AUC / cue-free AUC / context-free baseline AUC / gen accuracy")
    print("step  " + "  ".join(n.rjust(27) for n in names))
    for rows in zip(*(curves[n] for n in names)):
        print(f"{rows[0]['step']:>5} " + "  ".join(
            f"{r['disc_auc']:.3f}/{r['cue_free_auc']:.3f}/{r['context_free_auc']:.3f}/"
            f"{r['gen_accuracy']:.3f}".rjust(27) for r in rows))
    out_path = HERE / "results" / f"learning_curve_variants_{args.tag}.json"
    out_path.parent.mkdir(exist_ok=True)
    payload = {"args": vars(args), "load_average": os.getloadavg(), "curves": curves}
    out_path.write_text(json.dumps(payload, indent=1))
    print(f"wrote {out_path}")


def main(argv=None):
    args = parse_args(argv)
    if args.impl == "variants":
        return compare_variants(args)
    if args.impl == "both":
        make_data(args.cache, args.corpus, args.vocab)
        base = [sys.executable, __file__, "--steps", str(args.steps), "--eval-every",
                str(args.eval_every), "--lr", str(args.lr), "--warmup", str(args.warmup),
                "--cache", args.cache, "--tag", args.tag, "--eval-passages",
                str(args.eval_passages)] + (["--no-xla"] if args.no_xla else [])
        procs = {impl: subprocess.Popen(base + ["--impl", impl], stdout=subprocess.PIPE,
                                        text=True) for impl in ("keras", "hf")}
        curves = {}
        for impl, proc in procs.items():
            out, _ = proc.communicate()
            if proc.returncode:
                raise SystemExit(f"{impl} side failed (exit {proc.returncode})")
            curves[impl] = [json.loads(line[5:]) for line in out.splitlines()
                            if line.startswith("JSON ")]
        print("\nstep   keras AUC  hf AUC   keras gen_acc  hf gen_acc")
        for a, b in zip(curves["keras"], curves["hf"]):
            print(f"{a['step']:>5}  {a['disc_auc']:.3f}      {b['disc_auc']:.3f}    "
                  f"{a['gen_accuracy']:.3f}          {b['gen_accuracy']:.3f}")
        out_path = HERE / "results" / f"learning_curve_{args.tag}.json"
        out_path.parent.mkdir(exist_ok=True)
        payload = {"args": vars(args), "load_average": os.getloadavg(), "curves": curves}
        out_path.write_text(json.dumps(payload, indent=1))
        print(f"wrote {out_path}")
        return
    make_data(args.cache, args.corpus, args.vocab)
    start = time.perf_counter()

    def emit(step, metrics):
        record = {"impl": args.impl, "variant": args.variant, "step": step, "seconds": time.perf_counter() - start,
                  **{k: float(v) for k, v in metrics.items()}}
        print(f"{args.impl} {args.variant} step {step}: AUC {record['disc_auc']:.3f}, gen acc "
              f"{record['gen_accuracy']:.3f}", file=sys.stderr, flush=True)
        print("JSON " + json.dumps(record), flush=True)

    (run_keras if args.impl == "keras" else run_hf)(args, emit)


if __name__ == "__main__":
    main()

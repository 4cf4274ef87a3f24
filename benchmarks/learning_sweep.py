"""One learning-curve variant of electra_tiny on a small corpus: settings vs disc AUC.

`learning_curve.py` compares keras-electra with an HF step under one setting. This script
varies the setting (learning rate, vocabulary, gradient clipping, Adam epsilon, generator
size, or the paper's "unigram generator") and prints held-out discriminator AUC, generator
accuracy and sampled accuracy every `--every` steps, one JSON line each (also appended to
`results/learning_sweep_<tag>.jsonl`). RESULTS.md section 4 lists the runs made with it.

Data as in the learning test: ~60-token passages of `--corpus` (default
`tests/data/files/corpus`)
(`learning_curve.corpus_passages`), shuffled, the last 320 held out; batch 32, seq 64.

Examples (each ~0.45 s/step on 2 cores):
    python benchmarks/learning_sweep.py --steps 1000                       # G's objective
    python benchmarks/learning_sweep.py --steps 500 --unigram-generator    # context-only RTD
    python benchmarks/learning_sweep.py --steps 500 --generator-hidden-size 0.0625
"""

import argparse
import json
import pathlib
import sys
import time

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
TEST_DATA = HERE.parent / "tests" / "data" / "files"  # licences: its README.md
NUM_EVAL = 320


def unigram_generator(model, train_ds):
    """Make the generator the paper's "unigram generator" (Fig. 3) and return sum(p^2).

    Output bias = log corpus frequencies of the maskable tokens (the untrained tied-embedding
    term is ~0.1 against it), so samples are near context-free draws from the distribution
    of the tokens they replace. Train with `gen_weight=0` so that it stays so.
    """
    counts = np.zeros(model.backbone.vocabulary_size)
    for batch in train_ds:
        ids = np.asarray(batch["token_ids"])[np.asarray(batch["padding_mask"]).astype(bool)]
        counts += np.bincount(ids, minlength=len(counts))
    counts[[model.pad_token_id, model.cls_token_id, model.sep_token_id, model.mask_token_id]] = 0
    probabilities = (counts + 0.01) / (counts + 0.01).sum()
    model.generator_head._bias.assign(np.log(probabilities).astype("float32"))
    return float(np.sum(probabilities ** 2))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--every", type=int, default=250, help="evaluate every N steps")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--clip", type=float, default=1.0, help="global clip norm; 0 = none")
    parser.add_argument("--eps", type=float, default=1e-6, help="Adam epsilon")
    parser.add_argument("--generator-hidden-size", type=float, default=0.25)
    parser.add_argument("--unigram-generator", action="store_true",
                        help="gen_weight=0 and a unigram generator (see unigram_generator)")
    parser.add_argument("--corpus", default=str(TEST_DATA / "corpus"),
                        help="directory of *.txt files")
    parser.add_argument("--vocab", default=str(TEST_DATA / "bert_uncased_vocab.txt"))
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--sequence-length", type=int, default=64)
    parser.add_argument("--passages", type=int, default=12000)
    parser.add_argument("--threads", type=int, default=0, help="TF intra-op threads; 0 = all")
    parser.add_argument("--tag", default=None, help="also append to results/learning_sweep_TAG")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import tensorflow as tf

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    import keras

    sys.path.insert(0, str(HERE))
    from learning_curve import adamw, corpus_passages

    from keras_electra import ElectraPretrainer, ElectraPretrainerPreprocessor, ElectraTokenizer

    texts = corpus_passages(args.corpus, limit=args.passages)
    np.random.default_rng(0).shuffle(texts)
    tokenizer = ElectraTokenizer(args.vocab)
    preprocessor = ElectraPretrainerPreprocessor(tokenizer, sequence_length=args.sequence_length)

    def dataset(items, repeat):
        ds = tf.data.Dataset.from_tensor_slices(items)
        if repeat:
            ds = ds.shuffle(len(items), seed=0).repeat()
        ds = ds.batch(args.batch_size, drop_remainder=True)
        return ds.map(preprocessor, num_parallel_calls=tf.data.AUTOTUNE).prefetch(4)

    train_texts, eval_texts = texts[:-NUM_EVAL], texts[-NUM_EVAL:]
    held_out = dataset(eval_texts, False).cache()
    model = ElectraPretrainer.from_preset(
        "electra_tiny", seed=1, vocabulary_size=tokenizer.vocabulary_size(),
        generator_hidden_size=args.generator_hidden_size,
        gen_weight=0.0 if args.unigram_generator else 1.0,
    )
    setting = {k: v for k, v in vars(args).items() if k != "tag"}
    if args.unigram_generator:
        setting["unigram_collision"] = unigram_generator(model, dataset(train_texts, False))
    model.compile(optimizer=adamw(args.lr, epsilon=args.eps, clipnorm=args.clip))
    out = None
    if args.tag:
        (HERE / "results").mkdir(exist_ok=True)
        out = open(HERE / "results" / f"learning_sweep_{args.tag}.jsonl", "a")
    clock = {"train_s": 0.0}

    class Evaluate(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            clock.setdefault("t", time.perf_counter())

        def on_train_batch_end(self, batch, logs=None):
            if (batch + 1) % args.every and batch + 1 != args.steps:
                return
            clock["train_s"] += time.perf_counter() - clock.pop("t")
            r = self.model.evaluate(held_out, verbose=0, return_dict=True)
            record = {"step": batch + 1, "train_s": round(clock["train_s"], 1),
                      **{k: round(float(r[k]), 4) for k in
                         ("disc_auc", "gen_accuracy", "sampled_accuracy", "disc_loss")},
                      "setting": setting}
            print(json.dumps(record), flush=True)
            if out:
                out.write(json.dumps(record) + "\n")
                out.flush()

    model.fit(dataset(train_texts, True), steps_per_epoch=args.steps, epochs=1, verbose=0,
              callbacks=[Evaluate()])
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Long learning curve of G's joint objective on the JAX backend (for a GPU): electra_tiny.

Same data, model and optimizer as `learning_curve.py` (its packed passages, AdamW lr 2e-3,
decay 0.01 except bias/LayerNorm, eps 1e-6, clip 1.0, batch 32, seq 64), but one process on
`KERAS_BACKEND=jax` for as many epochs as `--seconds` allows, evaluating held-out
discriminator AUC / generator accuracy after every epoch (one JSON line each).

Why it exists: `learning_curve.py` shows the tiny discriminator near AUC 0.55 for the first
1,000 CPU steps in keras-electra and in an HF step alike. This asks whether it is only a
matter of steps. On one H100 (2026-11-26, `results/learning_curve_jax_h100.jsonl`) 18,615
steps in 121 s left AUC at 0.55 (range 0.536-0.569 over 51 epochs), generator accuracy 0.19.

The data file needs TensorFlow (the tokenizer) once; make it where TF is installed:
    python -c "import sys; sys.path.insert(0, 'benchmarks'); import learning_curve as lc; \
lc.make_data('lc.npz')"
then, on the GPU machine (no TensorFlow needed):
    python benchmarks/learning_curve_jax.py --data lc.npz --seconds 120
"""

import argparse
import json
import os
import sys
import time

import numpy as np

BATCH_SIZE = 32


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="npz written by learning_curve.make_data")
    parser.add_argument("--seconds", type=float, default=120, help="stop after the epoch that "
                        "passes this many seconds")
    parser.add_argument("--max-epochs", type=int, default=1000)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--output", default="learning_curve_jax.jsonl")
    parser.add_argument("--backend", default="jax", help="Keras backend (default jax)")
    args = parser.parse_args(argv)
    os.environ["KERAS_BACKEND"] = args.backend

    import keras

    from keras_electra import ElectraPretrainer

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from learning_curve import adamw

    data = np.load(args.data)
    train = {k[3:]: data[k] for k in data if k.startswith("tr_")}
    held_out = {k[3:]: data[k] for k in data if k.startswith("ev_")}
    n = len(train["token_ids"]) // BATCH_SIZE * BATCH_SIZE
    train = {k: v[:n] for k, v in train.items()}
    model = ElectraPretrainer.from_preset("electra_tiny", seed=1)
    model.compile(optimizer=adamw(args.lr))
    start = time.time()
    out = open(args.output, "w")

    class Evaluate(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            r = self.model.evaluate(held_out, batch_size=BATCH_SIZE, verbose=0, return_dict=True)
            record = {"backend": keras.backend.backend(), "epoch": epoch + 1,
                      "step": (epoch + 1) * (n // BATCH_SIZE),
                      "s": round(time.time() - start, 1),
                      **{k: round(float(r[k]), 4) for k in
                         ("disc_auc", "gen_accuracy", "disc_loss", "sampled_accuracy")}}
            print(json.dumps(record), flush=True)
            out.write(json.dumps(record) + "\n")
            out.flush()
            if time.time() - start > args.seconds:
                self.model.stop_training = True

    model.fit(train, batch_size=BATCH_SIZE, epochs=args.max_epochs, shuffle=True, verbose=0,
              callbacks=[Evaluate()])
    return 0


if __name__ == "__main__":
    sys.exit(main())

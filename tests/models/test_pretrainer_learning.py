"""electra_tiny learns on real English text (slow, runs in CI).

Two runs on passages of the shared corpus, BERT uncased vocab:

* the full ELECTRA objective (generator 1 + discriminator 50): the generator
  learns fast (accuracy far above the 1/30522 chance) and the discriminator
  beats the untrained model;
* the same model with the generator loss switched off (`gen_weight=0`, so
  the fakes come from the untrained generator): the discriminator reaches
  AUC >= 0.80 within ~100 steps, i.e. replaced-token detection itself learns.

With a *trained* generator the fakes are plausible words, and on this corpus
the discriminator AUC stays near 0.55 for the first ~1,000 steps. That is the
objective, not this implementation: an independent HF/PyTorch G step on the
same data, config and optimizer follows the same curve (AUC 0.540 / 0.565 /
0.569 / 0.560 at steps 100 / 300 / 600 / 1000 vs ours 0.538 / 0.565 / 0.549
at 100 / 300 / 600; `benchmarks/learning_curve.py`, RESULTS.md). Reaching
0.80 with the full objective takes longer than a CPU test can afford.
"""

import pathlib
import sys

import numpy as np
import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "benchmarks"))
from learning_curve import corpus_passages  # noqa: E402

from keras_electra import (  # noqa: E402
    ElectraPretrainer,
    ElectraPretrainerPreprocessor,
    ElectraTokenizer,
)

SEQUENCE_LENGTH = 64
BATCH_SIZE = 32


def corpus_texts(corpus_dir, limit=4000):
    """Consecutive sentences of the shared corpus grouped into ~60-token passages
    (the same passages `benchmarks/learning_curve.py` trains both implementations on)."""
    return corpus_passages(corpus_dir, limit=limit)


def _train(corpus_dir, bert_vocab_path, steps, **pretrainer_kwargs):
    import keras
    import tensorflow as tf

    texts = corpus_texts(corpus_dir)
    np.random.default_rng(0).shuffle(texts)
    train_texts, eval_texts = texts[:-320], texts[-320:]
    preprocessor = ElectraPretrainerPreprocessor(
        ElectraTokenizer(str(bert_vocab_path)), sequence_length=SEQUENCE_LENGTH
    )

    def dataset(items, repeat):
        ds = tf.data.Dataset.from_tensor_slices(items)
        if repeat:
            ds = ds.shuffle(len(items), seed=0).repeat()
        ds = ds.batch(BATCH_SIZE, drop_remainder=True)
        return ds.map(preprocessor, num_parallel_calls=tf.data.AUTOTUNE).prefetch(4)

    model = ElectraPretrainer.from_preset("electra_tiny", seed=1, **pretrainer_kwargs)
    assert model.backbone.vocabulary_size == 30522
    optimizer = keras.optimizers.AdamW(learning_rate=2e-3, weight_decay=0.01, epsilon=1e-6,
                                       global_clipnorm=1.0)
    optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    model.compile(optimizer=optimizer)
    untrained = model.evaluate(dataset(eval_texts, False), verbose=0, return_dict=True)
    model.fit(dataset(train_texts, True), steps_per_epoch=steps, epochs=1, verbose=2)
    trained = model.evaluate(dataset(eval_texts, False), verbose=0, return_dict=True)
    print("untrained", untrained)
    print("trained", trained)
    return untrained, trained


@pytest.mark.slow
def test_full_objective_generator_learns_and_discriminator_improves(corpus_dir, bert_vocab_path):
    untrained, trained = _train(corpus_dir, bert_vocab_path, steps=150)
    # chance for the generator is 1 / 30522; frequent words alone give a few percent
    assert trained["gen_accuracy"] >= 0.04, trained
    assert trained["gen_loss"] < untrained["gen_loss"] - 2.0
    assert trained["disc_loss"] < untrained["disc_loss"] - 0.2
    assert trained["disc_accuracy"] > 0.8


@pytest.mark.slow
def test_replaced_token_detection_reaches_auc_0_8(corpus_dir, bert_vocab_path):
    untrained, trained = _train(corpus_dir, bert_vocab_path, steps=100, gen_weight=0.0)
    assert untrained["disc_auc"] < 0.6, untrained
    assert trained["disc_auc"] >= 0.80, trained

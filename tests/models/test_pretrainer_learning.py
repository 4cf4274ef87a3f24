"""electra_tiny learns on real English text (slow, runs in CI).

Two runs on passages of the test corpus (tests/data/files/corpus), BERT uncased vocab:

* the full ELECTRA objective (generator 1 + discriminator 50): the generator
  learns fast (accuracy far above the 1/30522 chance) and the discriminator
  beats the untrained model;
* replaced-token detection against the paper's "unigram generator" (fakes drawn
  from the corpus' token distribution, `gen_weight=0`): identity gives a fake
  away only slightly, so reaching AUC >= 0.80 (within ~600 steps) shows the
  discriminator learning to use context.

With the *trained* generator of the full objective the fakes fit their context,
and the tiny discriminator's AUC stays near 0.55: for 1,000 steps in our code
and in an independent HF/PyTorch G step alike (`benchmarks/learning_curve.py`),
and still after 18,615 steps on an H100 (`benchmarks/learning_curve_jax.py`),
whatever the vocabulary, learning rate, clipping or generator size
(`benchmarks/learning_sweep.py`; RESULTS.md section 4). AUC >= 0.80 with the full
objective is therefore not asserted: `electra_tiny` does not get there.
"""

import pathlib
import sys

import numpy as np
import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "benchmarks"))
from learning_curve import adamw, corpus_passages  # noqa: E402
from learning_sweep import unigram_generator  # noqa: E402

from keras_electra import (  # noqa: E402
    ElectraPretrainer,
    ElectraPretrainerPreprocessor,
    ElectraTokenizer,
)

SEQUENCE_LENGTH = 64
BATCH_SIZE = 32
# Steps for the unigram-generator test: AUC 0.80 was reached at 250-500 steps in trial runs.
UNIGRAM_STEPS = 600


def corpus_texts(corpus_dir, limit=4000):
    """Consecutive sentences of the test corpus grouped into ~60-token passages
    (the same passages `benchmarks/learning_curve.py` trains both implementations on)."""
    return corpus_passages(corpus_dir, limit=limit)


def _train(corpus_dir, bert_vocab_path, steps, prepare=None, stop_when=None, chunk=100,
           **pretrainer_kwargs):
    """Train `steps` steps and evaluate before and after. With `stop_when(metrics)`, evaluate
    every `chunk` steps as well and stop at the first evaluation that satisfies it (the same
    batches in the same order as one `steps`-step run: the stream resumes where it stopped)."""
    import tensorflow as tf

    texts = corpus_texts(corpus_dir)
    np.random.default_rng(0).shuffle(texts)
    train_texts, eval_texts = texts[:-320], texts[-320:]
    preprocessor = ElectraPretrainerPreprocessor(
        ElectraTokenizer(str(bert_vocab_path)), sequence_length=SEQUENCE_LENGTH
    )

    def dataset(items, repeat, skip=0):
        ds = tf.data.Dataset.from_tensor_slices(items)
        if repeat:
            ds = ds.shuffle(len(items), seed=0).repeat()
        ds = ds.batch(BATCH_SIZE, drop_remainder=True).skip(skip)
        return ds.map(preprocessor, num_parallel_calls=tf.data.AUTOTUNE).prefetch(4)

    model = ElectraPretrainer.from_preset("electra_tiny", seed=1, **pretrainer_kwargs)
    assert model.backbone.vocabulary_size == 30522
    if prepare is not None:
        prepare(model, dataset(train_texts, False))
    model.compile(optimizer=adamw(2e-3))
    untrained = model.evaluate(dataset(eval_texts, False), verbose=0, return_dict=True)
    done = 0
    while done < steps:
        todo = min(chunk if stop_when else steps, steps - done)
        model.fit(dataset(train_texts, True, skip=done), steps_per_epoch=todo, epochs=1,
                  verbose=2)
        done += todo
        trained = model.evaluate(dataset(eval_texts, False), verbose=0, return_dict=True)
        print("step", done, "trained", trained)
        if stop_when is not None and stop_when(trained):
            break
    print("untrained", untrained)
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
def test_discriminator_learns_context_against_a_unigram_generator(corpus_dir, bert_vocab_path):
    """Replaced-token detection that needs context, not token identity.

    The fakes are drawn from the corpus' unigram distribution, the distribution of the tokens
    they replace, so a token's identity says almost nothing about whether it was replaced
    (unlike the untrained generator's uniform draws over 30k word pieces, mostly rare ones).
    Only its fit with the neighbours does: the discriminator must learn to use attention and
    positions. It reaches AUC >= 0.80 within UNIGRAM_STEPS steps (~4 min on 2 CPU cores)."""
    captured = {}

    def prepare(model, train_ds):
        captured["collision"] = unigram_generator(model, train_ds)

    # evaluated every 100 steps, stopped at the first AUC >= 0.80 (at most UNIGRAM_STEPS)
    untrained, trained = _train(corpus_dir, bert_vocab_path, steps=UNIGRAM_STEPS,
                                prepare=prepare, stop_when=lambda m: m["disc_auc"] >= 0.80,
                                gen_weight=0.0)
    # The fakes really are unigram draws: a fake equals the original about as often as two
    # independent unigram draws agree (sum p^2), far above the uniform generator's 1/30522.
    assert 0.3 * captured["collision"] < trained["sampled_accuracy"] < 3 * captured["collision"]
    assert untrained["disc_auc"] < 0.6, untrained
    assert trained["disc_auc"] >= 0.80, trained

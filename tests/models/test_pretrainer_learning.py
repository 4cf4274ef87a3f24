"""electra_tiny learns on real English text (slow, runs in CI).

Two runs on passages of the test corpus (tests/data/files/corpus), with a WordPiece
vocabulary of 4,096 pieces that the package's `build_vocabulary` learns from that corpus
(`corpus_vocab_path`): a step costs about a third of one with BERT's 30,522 (the generator's
output layer and the embedding table's update shrink with the vocabulary), and the corpus'
words are its own pieces, as in `make demo` and in real pretraining.

* the full ELECTRA objective (generator 1 + discriminator 50): the generator
  learns fast (accuracy far above the 1/4096 chance, loss far below ln 4096) and the
  discriminator beats the untrained model;
* replaced-token detection against a near-unigram generator (its output bias set to the
  corpus' log frequencies, `gen_weight=0`): the discriminator's cue-free AUC beats the
  context-free baseline, a detector that sees token identity only, on the same fakes
  (`keras_electra.evaluation.rtd_cues`), so it uses the context.

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
VOCABULARY_SIZE = 4096
# The near-unigram test: trial runs (seeds 0 / 1 of `keras.utils.set_random_seed`; AMD EPYC,
# TF, 2 cores) ended at 300 steps with cue-free AUC 0.705 / 0.862 against a context-free
# baseline of 0.671 / 0.843 (fitted on 32 training batches): margins +0.034 / +0.019, on
# ~19,600 positions (AUC standard error ~0.005).
UNIGRAM_STEPS = 300
CONTEXT_MARGIN = 0.01


@pytest.fixture(scope="module")
def corpus_vocab_path(corpus_dir, tmp_path_factory):
    """A 4,096-piece WordPiece vocabulary learned from the test corpus by the package."""
    from keras_electra.data.vocab import build_vocabulary

    path = tmp_path_factory.mktemp("corpus_vocab") / "vocab.txt"
    build_vocabulary(str(corpus_dir / "*.txt"), vocabulary_size=VOCABULARY_SIZE,
                     output_path=str(path), show_progress=False)
    return path


def corpus_texts(corpus_dir, limit=4000):
    """Consecutive sentences of the test corpus grouped into ~60-token passages
    (the same passages `benchmarks/learning_curve.py` trains both implementations on)."""
    return corpus_passages(corpus_dir, limit=limit)


def _train(corpus_dir, vocab_path, steps, prepare=None, cue_free=False, **pretrainer_kwargs):
    """Train `steps` steps from fixed seeds (weights, dropout, data order and masking: the same
    run every time on one machine) and evaluate before and after. With `cue_free`, also return
    `rtd_cues.cue_free_evaluation` at the end: the cue-free AUC on the evaluation passages and
    the context-free baseline fitted on 32 training batches' fakes."""
    import keras
    import tensorflow as tf

    from keras_electra.evaluation.rtd_cues import cue_free_evaluation

    keras.utils.set_random_seed(0)
    texts = corpus_texts(corpus_dir)
    np.random.default_rng(0).shuffle(texts)
    train_texts, eval_texts = texts[:-320], texts[-320:]
    preprocessor = ElectraPretrainerPreprocessor(
        ElectraTokenizer(str(vocab_path)), sequence_length=SEQUENCE_LENGTH
    )

    def dataset(items, repeat):
        ds = tf.data.Dataset.from_tensor_slices(items)
        if repeat:
            ds = ds.shuffle(len(items), seed=0).repeat()
        ds = ds.batch(BATCH_SIZE, drop_remainder=True)
        return ds.map(preprocessor, num_parallel_calls=tf.data.AUTOTUNE).prefetch(4)

    model = ElectraPretrainer.from_preset(
        "electra_tiny", seed=1, vocabulary_size=preprocessor.tokenizer.vocabulary_size(),
        **pretrainer_kwargs)
    assert model.backbone.vocabulary_size == VOCABULARY_SIZE
    if prepare is not None:
        prepare(model, dataset(train_texts, False))
    model.compile(optimizer=adamw(2e-3))
    untrained = model.evaluate(dataset(eval_texts, False), verbose=0, return_dict=True)
    model.fit(dataset(train_texts, True), steps_per_epoch=steps, epochs=1, verbose=2)
    trained = model.evaluate(dataset(eval_texts, False), verbose=0, return_dict=True)
    print("untrained", untrained, "\ntrained", trained)
    if not cue_free:
        return untrained, trained, None
    cues = cue_free_evaluation(model, list(dataset(eval_texts, False)),
                               list(dataset(train_texts, False).take(32)))
    print("cue-free evaluation", cues)
    return untrained, trained, cues


@pytest.mark.slow
def test_full_objective_generator_learns_and_discriminator_improves(corpus_dir,
                                                                    corpus_vocab_path):
    untrained, trained, _ = _train(corpus_dir, corpus_vocab_path, steps=150)
    # chance for the generator is 1 / 4096 (loss ln 4096 = 8.3 untrained); frequent words
    # alone give a few percent. Trial run: accuracy 0.068, loss 8.33 -> 6.07
    assert trained["gen_accuracy"] >= 0.04, trained
    assert untrained["gen_loss"] == pytest.approx(np.log(VOCABULARY_SIZE), abs=0.1), untrained
    assert trained["gen_loss"] < untrained["gen_loss"] - 2.0
    assert trained["disc_loss"] < untrained["disc_loss"] - 0.2
    assert trained["disc_accuracy"] > 0.8


@pytest.mark.slow
def test_discriminator_uses_context_against_a_near_unigram_generator(corpus_dir,
                                                                     corpus_vocab_path):
    """Replaced-token detection that needs context, not token identity alone.

    The generator's output bias is set to the corpus' log frequencies and it gets no MLM
    gradient (`gen_weight=0`), so its first fakes are unigram draws: the distribution of the
    tokens they replace, which token identity hardly gives away (unlike the untrained
    generator's uniform draws over the vocabulary, mostly rare pieces). Its tied embeddings
    are the discriminator's and keep training, so its draws drift from the unigram one and
    identity becomes informative (trial runs: the context-free baseline 0.62-0.72 at step
    100, 0.65-0.83 at step 300). The plain AUC is therefore not read as contextual skill: the
    test asserts that the discriminator's cue-free AUC beats that baseline on the same fakes.
    (With the package's exact unigram objective, `unigram_generator=counts`, electra_tiny
    shows no contextual skill within 600 steps: RESULTS.md section 5b.)"""
    captured = {}

    def prepare(model, train_ds):
        captured["collision"] = unigram_generator(model, train_ds)

    untrained, trained, cues = _train(corpus_dir, corpus_vocab_path, steps=UNIGRAM_STEPS,
                                      prepare=prepare, cue_free=True, gen_weight=0.0)
    # The fakes stay close to unigram draws: a fake equals the original about as often as two
    # independent unigram draws agree (sum p^2), far above the uniform generator's 1/4096.
    assert 0.3 * captured["collision"] < trained["sampled_accuracy"] < 3 * captured["collision"]
    assert untrained["disc_auc"] < 0.6, untrained
    # ~20k cue-free positions: the AUC's standard error is ~0.005
    assert cues["cue_free_positions"] > 10000, cues
    assert cues["cue_free_auc"] >= 0.65, cues
    assert cues["cue_free_auc"] >= cues["context_free_auc"] + CONTEXT_MARGIN, cues

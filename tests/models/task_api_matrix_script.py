"""The task API on raw strings, run by `test_task_api_matrix.py` once per backend.

Every (task, dtype, call) of: ElectraQuestionAnswerer (both heads) and ElectraPretrainer x
float32 / mixed_bfloat16 x predict / fit / evaluate, on tiny models and raw strings. Prints
one `OK task dtype call` line per cell, then `MATRIX-OK <backend>`; argv[1]: a vocab.txt;
argv[2:] (optional, for debugging): run only these `task:dtype` rows, e.g. `pretrainer:float32`.
"""

import sys

import keras
import numpy as np

from keras_electra import (
    ElectraBackbone,
    ElectraPretrainer,
    ElectraPretrainerPreprocessor,
    ElectraQuestionAnswerer,
    ElectraQuestionAnswererPreprocessor,
    ElectraTokenizer,
)

vocab_path = sys.argv[1]
QUESTIONS = ["Where does the Rhine flow?", "Who wrote it?", "What is ELECTRA?",
             "When did it start?"]
CONTEXTS = ["The Rhine flows into the North Sea.", "It was written by a committee in 1990.",
            "ELECTRA detects replaced tokens.", "It started in the spring of 2020."]


def backbone(tokenizer, dtype):
    return ElectraBackbone(vocabulary_size=tokenizer.vocabulary_size(), num_layers=1,
                           num_heads=2, hidden_dim=16, embedding_dim=8, intermediate_dim=32,
                           max_sequence_length=32, dtype=dtype)


def check_outputs(outputs, rows):
    for key, value in outputs.items():
        value = np.asarray(value)
        assert value.shape[0] == rows, (key, value.shape)
        if value.dtype.kind == "f":
            assert np.isfinite(value).all(), key


def run_question_answerer(tokenizer, dtype, head):
    keras.utils.set_random_seed(0)
    preprocessor = ElectraQuestionAnswererPreprocessor(tokenizer, sequence_length=32,
                                                       max_query_length=8)
    extra = {"head_hidden_dim": 8, "beam_size": 4} if head == "electra" else {}
    qa = ElectraQuestionAnswerer(backbone(tokenizer, dtype), preprocessor=preprocessor,
                                 head=head, **extra)
    x = {"question": QUESTIONS, "context": CONTEXTS}
    y = {"start_positions": np.array([9, 8, 7, 8]), "end_positions": np.array([12, 9, 9, 12]),
         "is_impossible": np.array([0, 0, 0, 0])}
    name = f"qa-{head}"
    check_outputs(qa.predict(x, batch_size=2, verbose=0), 4)
    print("OK", name, dtype, "predict", flush=True)
    history = qa.fit(x, y, batch_size=2, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][-1])
    print("OK", name, dtype, "fit", flush=True)
    loss = qa.evaluate(x, y, batch_size=2, verbose=0, return_dict=True)["loss"]
    assert np.isfinite(loss)
    print("OK", name, dtype, "evaluate", flush=True)


def run_pretrainer(tokenizer, dtype):
    keras.utils.set_random_seed(0)
    preprocessor = ElectraPretrainerPreprocessor(tokenizer, sequence_length=16)
    model = ElectraPretrainer(backbone(tokenizer, dtype), preprocessor=preprocessor)
    texts = [q + " " + c for q, c in zip(QUESTIONS, CONTEXTS)]
    check_outputs(model.predict(texts, batch_size=2, verbose=0), 4)
    print("OK pretrainer", dtype, "predict", flush=True)
    history = model.fit(texts, batch_size=2, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][-1])
    print("OK pretrainer", dtype, "fit", flush=True)
    result = model.evaluate(texts, batch_size=2, verbose=0, return_dict=True)
    assert np.isfinite(result["loss"])
    print("OK pretrainer", dtype, "evaluate", flush=True)


only = set(sys.argv[2:])
tokenizer = ElectraTokenizer(vocab_path)
for dtype in ("float32", "mixed_bfloat16"):
    for head in ("simple", "electra"):
        if not only or f"qa-{head}:{dtype}" in only:
            run_question_answerer(tokenizer, dtype, head)
    if not only or f"pretrainer:{dtype}" in only:
        run_pretrainer(tokenizer, dtype)
if not only:
    print("MATRIX-OK", keras.backend.backend())

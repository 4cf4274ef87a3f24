"""`keras-electra answer` on a saved QA preset returns a span of the given context."""

import json
import subprocess
import sys

import pytest


@pytest.mark.parametrize("head", ["electra"])
def test_answer_cli_returns_span_of_context(head, tmp_path, bert_vocab_path):
    import keras

    from keras_electra import ElectraBackbone, ElectraQuestionAnswerer, ElectraTokenizer
    from keras_electra.models.electra_question_answerer_preprocessor import (
        ElectraQuestionAnswererPreprocessor,
    )

    keras.utils.set_random_seed(0)
    tokenizer = ElectraTokenizer(str(bert_vocab_path))
    backbone = ElectraBackbone(vocabulary_size=tokenizer.vocabulary_size(), num_layers=1,
                               num_heads=2, hidden_dim=16, embedding_dim=8, intermediate_dim=32,
                               max_sequence_length=64)
    preprocessor = ElectraQuestionAnswererPreprocessor(tokenizer, sequence_length=64,
                                                       max_query_length=16, doc_stride=16)
    qa = ElectraQuestionAnswerer(backbone, preprocessor=preprocessor, head=head,
                                 head_hidden_dim=8)
    qa.save_to_preset(str(tmp_path / "qa"))
    # long enough for several 64-token windows; accents to exercise char offsets
    context = ("The Rhine rises in the Swiss canton of Graubünden in the southeastern Swiss "
               "Alps, forms part of the Swiss-Austrian, Swiss-Liechtenstein border, "
               "Swiss-German and then the Franco-German border, then flows through the "
               "Rhineland and eventually empties into the North Sea in the Netherlands.")
    proc = subprocess.run(
        [sys.executable, "-m", "keras_electra.cli", "answer", "--model", str(tmp_path / "qa"),
         "--question", "Where does the Rhine empty?", "--context", context, "--json"],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout[proc.stdout.index("{"):])
    span = result["best_span"]
    assert span and context[result["char_start"]:result["char_end"]] == span
    assert result["answer"] in ("", span)
    assert (result["answer"] == "") == (result["null_odds"] > result["null_threshold"])

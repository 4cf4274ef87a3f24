"""An HF ElectraForQuestionAnswering dir loads (backbone + qa_outputs) and answers like HF."""

import shutil

import numpy as np
import pytest
from conftest import import_or_fail


@pytest.mark.parity
@pytest.mark.slow
def test_hf_question_answering_dir_matches_transformers(tmp_path, bert_vocab_path):
    torch = import_or_fail("torch")
    transformers = import_or_fail("transformers")
    from keras_electra.squad.answering import answer_question, predict_features
    from keras_electra.squad.loading import load_question_answerer
    from keras_electra.squad.reader import SquadExample

    config = transformers.ElectraConfig(
        vocab_size=30522, embedding_size=8, hidden_size=16, num_hidden_layers=2,
        num_attention_heads=2, intermediate_size=32, max_position_embeddings=128,
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    torch.manual_seed(0)
    hf = transformers.ElectraForQuestionAnswering(config).eval()
    for name, p in hf.named_parameters():
        torch.nn.init.normal_(p, mean=1.0 if "LayerNorm.weight" in name else 0.0, std=0.2)
    hf.save_pretrained(tmp_path / "hf_qa")
    shutil.copy(bert_vocab_path, tmp_path / "hf_qa" / "vocab.txt")

    task = load_question_answerer(str(tmp_path / "hf_qa"), max_seq_length=64)
    assert task.head == "simple"
    context = "The Rhine flows from the Swiss Alps into the North Sea in the Netherlands."
    example = SquadExample("q", "Where does the Rhine flow?", context, [], False)
    features = task.preprocessor.featurize([example], progress=False)
    ours = predict_features(task, features, verbose=0)
    with torch.no_grad():
        ref = hf(input_ids=torch.tensor(features.token_ids, dtype=torch.long),
                 attention_mask=torch.tensor(features.padding_mask, dtype=torch.long),
                 token_type_ids=torch.tensor(features.segment_ids, dtype=torch.long))
    np.testing.assert_allclose(ours["start_logits"], ref.start_logits.numpy(), atol=1e-5)
    np.testing.assert_allclose(ours["end_logits"], ref.end_logits.numpy(), atol=1e-5)

    answer = answer_question(task, example.question, context)
    assert context[answer["char_start"]:answer["char_end"]] == answer["best_span"]
    # HF null rule: score_null = start[0] + end[0], best span = max start + end logit
    s, e = ref.start_logits.numpy()[0], ref.end_logits.numpy()[0]
    assert answer["null_odds"] == pytest.approx(s[0] + e[0] - answer["score"], abs=1e-4)

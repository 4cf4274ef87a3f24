"""Answer texts are G's: every question's n-best equals a transcription of G's path.

The reference (`tests/squad/g_squad_reference.py`) re-implements G's tokenizer, featurization
and `write_predictions`/`get_final_text` from google-research/electra, independent of
keras_electra. Model outputs come from tiny random models (both heads) on real SQuAD v2.0
paragraphs, with a 400-token vocabulary learned by the package's vocab builder (pieces are
frequent, many spans start or end inside words) and with the BERT vocabulary of converted
models; a few paragraphs get double spaces, zero-width characters inside words, a no-break space
and CJK text.
"""

import unicodedata

import g_squad_reference as G
import numpy as np
import pytest
from conftest import tiny_question_answerer

MAX_SEQ, STRIDE, MAX_QUERY = 64, 24, 16


def _examples(squad_sample_path, count=24):
    from keras_electra.squad.reader import SquadExample, read_squad

    examples = read_squad(str(squad_sample_path)).examples
    # one question per context, the first `count` contexts
    chosen, seen = [], set()
    for e in examples:
        if e.context not in seen:
            seen.add(e.context)
            chosen.append(e)
        if len(chosen) == count:
            break
    edited = []
    for i, e in enumerate(chosen[:6]):  # G's fallbacks: deleted characters, double spaces, CJK
        words = e.context.split(" ")
        if i % 3 == 0:  # inside words (G deletes them: one word), a no-break space
            words[5] = words[5][:2] + "\u200b" + words[5][2:]
            words[9] = words[9][:1] + "\u200e" + words[9][1:] + "\ufeff"
            words[11] = words[11] + "\u00a0" + words[12]
            del words[12]
            context = " ".join(words)
        elif i % 3 == 1:
            context = "  ".join(words[:20]) + " " + " ".join(words[20:])
        else:
            words[3] = "(乾隆)." + words[3]
            words[7] = words[7] + "東京"
            context = " ".join(words)
        edited.append(SquadExample(e.qas_id + "-edited", e.question, context, [], True))
    return chosen + edited


@pytest.fixture(scope="module")
def small_vocab_path(squad_sample_path, tmp_path_factory):
    from keras_electra.data.vocab import build_vocabulary
    from keras_electra.squad.reader import read_squad

    folder = tmp_path_factory.mktemp("vocab")
    contexts = list(dict.fromkeys(e.context for e in read_squad(str(squad_sample_path)).examples))
    (folder / "contexts.txt").write_text("\n".join(contexts) + "\n", encoding="utf-8")
    path = folder / "vocab.txt"
    vocab = build_vocabulary(str(folder / "contexts.txt"), vocabulary_size=400,
                             output_path=str(path), show_progress=False)
    assert len(vocab) == 400
    return path


def _reference_nbest(example, features, outputs, rows, g_tokenizer, head):
    g_features = G.featurize(example.question, G.doc_tokens_of(example.context), g_tokenizer,
                             MAX_SEQ, STRIDE, MAX_QUERY)
    assert len(g_features) == len(rows)
    results = []
    for g_feature, row in zip(g_features, rows):
        ids = features.token_ids[row]
        # the same windows as G's featurization (so its maps apply to our outputs)
        assert list(ids[:len(g_feature["input_ids"])]) == g_feature["input_ids"]
        if head == "electra":
            results.append({
                "start_top_index": [int(x) for x in outputs["start_top_index"][row]],
                "end_top_index": [[int(x) for x in r] for r in outputs["end_top_index"][row]],
                "start_top_log_probs": [float(x) for x in outputs["start_top_log_probs"][row]],
                "end_top_log_probs": [[float(x) for x in r]
                                      for r in outputs["end_top_log_probs"][row]]})
        else:
            results.append({"start_logits": [float(x) for x in outputs["start_logits"][row]],
                            "end_logits": [float(x) for x in outputs["end_logits"][row]]})
    return G.nbest_texts(G.doc_tokens_of(example.context), g_features, results,
                         joint_prediction=head == "electra", do_lower_case=True)


def _is_word_char(char):  # letters and digits, CJK ideographs apart
    return char.isalnum() and not ("\u4e00" <= char <= "\u9fff")


@pytest.mark.parametrize("vocab", ["small", "bert"])
@pytest.mark.parametrize("head", ["simple", "electra"])
def test_nbest_texts_equal_g_and_whole_words_are_whole(vocab, head, squad_sample_path,
                                                       small_vocab_path, bert_vocab_path):
    from keras_electra.squad.answering import predict_features
    from keras_electra.squad.postprocess import postprocess_predictions
    from keras_electra.utils.vocab_file import read_vocabulary_file

    vocab_path = small_vocab_path if vocab == "small" else bert_vocab_path
    qa = tiny_question_answerer(vocab_path, head, doc_stride=STRIDE, seed=3)
    examples = _examples(squad_sample_path)
    tokenizer = qa.preprocessor.tokenizer
    features = qa.preprocessor.featurize(examples, is_training=False, progress=False)
    outputs = predict_features(qa, features, batch_size=64, verbose=0)
    result = postprocess_predictions(features, outputs, head=head, tokenizer=tokenizer)

    g_tokenizer = G.FullTokenizer(read_vocabulary_file(str(vocab_path)))
    compared = inside_word = fallbacks = 0
    for example_index, example in enumerate(examples):
        rows = np.nonzero(features.example_index == example_index)[0]
        expected = _reference_nbest(example, features, outputs, rows, g_tokenizer, head)
        ours = [n["text"] for n in result.nbest[example.qas_id]]
        assert ours == expected, example.qas_id
        compared += len(ours)
        for n in result.nbest[example.qas_id]:
            cs, ce = n["char_start"], n["char_end"]
            inside_word += (cs > 0 and _is_word_char(example.context[cs - 1])
                            and _is_word_char(example.context[cs]))
            fallbacks += " " not in n["text"] and n["text"] != example.context[cs:ce]
        assert result.non_null_predictions[example.qas_id] == expected[0]
    print(f"{vocab}/{head}: {compared} n-best texts equal G's; {inside_word} start inside a word")
    assert compared >= 10 * len(examples)  # the n-best lists are full, the check not vacuous
    if vocab == "small":
        assert inside_word > 0  # G's texts can start inside a word: whole_words matters

    # whole words: exact context characters, never starting or ending inside a word,
    # covering the span the model chose
    whole = postprocess_predictions(features, outputs, head=head, whole_words=True)
    for example in examples:
        context = example.context
        for n in whole.nbest[example.qas_id]:
            cs, ce = n["char_start"], n["char_end"]
            assert n["text"] == context[cs:ce] and n["text"].strip() == n["text"]
            assert not (cs > 0 and _is_word_char(context[cs - 1]) and _is_word_char(context[cs]))
            assert not (ce < len(context) and _is_word_char(context[ce - 1])
                        and _is_word_char(context[ce]))


def test_get_final_text_cases():
    from keras_electra.squad.final_text import get_final_text, join_pieces

    cases = [("steve smith", "Steve Smith's"), ("ra", "ELECTRA"), ("m", "Malcolm"),
             ("[UNK] ra", "(乾隆)ELECTRA"), ("乾", "(乾)."), ("followed . \" this", 'followed." This'),
             ("cafe", "Café"), ("ab", "a\u200bb"), ("e", "élan e")]
    for pred, orig in cases:
        assert get_final_text(pred, orig) == G.get_final_text(pred, orig, True), (pred, orig)
    assert get_final_text("m", "Malcolm") == "M"  # the first occurrence, as G
    assert join_pieces(["ele", "##ct", "##ra", "de", "##tects"]) == "electra detects"
    for text in ["Café (乾隆) x\u200by, \"q\" — 3.5%", "ÉLECTRA\u00a0d\u202fe", "a\tb\nc"]:
        from keras_electra.squad.final_text import basic_tokenize

        assert basic_tokenize(text) == G.BasicTokenizer().tokenize(text)
        assert basic_tokenize(text, False) == G.BasicTokenizer(False).tokenize(text)
    assert unicodedata.category("\u200b") == "Cf"


def test_no_valid_span_gives_g_placeholder_empty(squad_sample_path, bert_vocab_path):
    from keras_electra.squad.postprocess import postprocess_predictions

    qa = tiny_question_answerer(bert_vocab_path, "simple", doc_stride=STRIDE)
    examples = _examples(squad_sample_path, count=2)[:2]
    features = qa.preprocessor.featurize(examples, is_training=False, progress=False)
    n, seq = features.token_ids.shape
    logits = np.random.default_rng(0).normal(size=(n, seq)).astype(np.float32)
    result = postprocess_predictions(features, {"start_logits": logits, "end_logits": logits},
                                     head="simple", tokenizer=qa.preprocessor.tokenizer,
                                     max_answer_length=0)  # no span is valid
    for e in examples:
        assert result.non_null_predictions[e.qas_id] == "empty"  # G: "a nonce prediction"
        assert result.nbest[e.qas_id][0]["char_start"] == -1
    with pytest.raises(ValueError, match="tokenizer="):
        postprocess_predictions(features, {"start_logits": logits, "end_logits": logits},
                                head="simple")


def test_answers_inside_deleted_characters_map_to_the_original_characters(bert_vocab_path):
    """Training labels and answer offsets on contexts with characters G deletes (U+200B,
    U+200E, U+FEFF inside words) and Unicode spaces: the labelled tokens start and end on
    the answer's characters of the original context."""
    from keras_electra.squad.reader import SquadExample

    qa = tiny_question_answerer(bert_vocab_path, "simple")
    context = ("The Rhi\u200bne flows\u200e\ufeff through Basel into the North\u00a0Sea; "
               "it is long.")
    answers = ["Rhi\u200bne", "North\u00a0Sea", "flows\u200e\ufeff through"]
    examples = [SquadExample(str(i), "What?", context, [(a, context.index(a))], False)
                for i, a in enumerate(answers)]
    features = qa.preprocessor.featurize(examples, is_training=True, progress=False)
    for row, answer in enumerate(answers):
        start, end = features.start_positions[row], features.end_positions[row]
        assert 0 < start <= end
        char_start = features.token_char_start[row][start]
        char_end = features.token_char_end[row][end]
        assert context[char_start:char_end] == answer, (answer, context[char_start:char_end])

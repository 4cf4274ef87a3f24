"""A transcription of G's SQuAD evaluation path, independent of keras_electra (test reference).

Transcribed from google-research/electra: `model/tokenization.py` (`BasicTokenizer`,
`WordpieceTokenizer`, `FullTokenizer`, `_is_whitespace`, `_is_control`, `_is_punctuation`),
`finetune/qa/qa_tasks.py` (`QATask._add_examples` doc_tokens split, `QATask.featurize` with
`for_eval=True`, `_check_is_max_context`) and `finetune/qa/qa_metrics.py`
(`SpanBasedQAScorer.write_predictions`, `_get_best_indexes`, `get_final_text`). The code
follows the originals line by line (Python 3 only, config fields as arguments); do not
"simplify" it with keras_electra's helpers, it is the reference they are tested against.
"""

import collections
import unicodedata


def whitespace_tokenize(text):
    text = text.strip()
    if not text:
        return []
    tokens = text.split()
    return tokens


def _is_whitespace(char):
    if char == " " or char == "\t" or char == "\n" or char == "\r":
        return True
    cat = unicodedata.category(char)
    if cat == "Zs":
        return True
    return False


def _is_control(char):
    if char == "\t" or char == "\n" or char == "\r":
        return False
    cat = unicodedata.category(char)
    if cat.startswith("C"):
        return True
    return False


def _is_punctuation(char):
    cp = ord(char)
    if ((cp >= 33 and cp <= 47) or (cp >= 58 and cp <= 64) or
            (cp >= 91 and cp <= 96) or (cp >= 123 and cp <= 126)):
        return True
    cat = unicodedata.category(char)
    if cat.startswith("P"):
        return True
    return False


class BasicTokenizer(object):
    def __init__(self, do_lower_case=True, strip_accents=True):
        self.do_lower_case = do_lower_case
        self.strip_accents = strip_accents

    def tokenize(self, text):
        text = self._clean_text(text)
        text = self._tokenize_chinese_chars(text)
        orig_tokens = whitespace_tokenize(text)
        split_tokens = []
        for token in orig_tokens:
            if self.do_lower_case:
                token = token.lower()
                if self.strip_accents:
                    token = self._run_strip_accents(token)
            split_tokens.extend(self._run_split_on_punc(token))
        output_tokens = whitespace_tokenize(" ".join(split_tokens))
        return output_tokens

    def _run_strip_accents(self, text):
        text = unicodedata.normalize("NFD", text)
        output = []
        for char in text:
            cat = unicodedata.category(char)
            if cat == "Mn":
                continue
            output.append(char)
        return "".join(output)

    def _run_split_on_punc(self, text):
        chars = list(text)
        i = 0
        start_new_word = True
        output = []
        while i < len(chars):
            char = chars[i]
            if _is_punctuation(char):
                output.append([char])
                start_new_word = True
            else:
                if start_new_word:
                    output.append([])
                start_new_word = False
                output[-1].append(char)
            i += 1
        return ["".join(x) for x in output]

    def _tokenize_chinese_chars(self, text):
        output = []
        for char in text:
            cp = ord(char)
            if self._is_chinese_char(cp):
                output.append(" ")
                output.append(char)
                output.append(" ")
            else:
                output.append(char)
        return "".join(output)

    def _is_chinese_char(self, cp):
        if ((cp >= 0x4E00 and cp <= 0x9FFF) or
                (cp >= 0x3400 and cp <= 0x4DBF) or
                (cp >= 0x20000 and cp <= 0x2A6DF) or
                (cp >= 0x2A700 and cp <= 0x2B73F) or
                (cp >= 0x2B740 and cp <= 0x2B81F) or
                (cp >= 0x2B820 and cp <= 0x2CEAF) or
                (cp >= 0xF900 and cp <= 0xFAFF) or
                (cp >= 0x2F800 and cp <= 0x2FA1F)):
            return True
        return False

    def _clean_text(self, text):
        output = []
        for char in text:
            cp = ord(char)
            if cp == 0 or cp == 0xfffd or _is_control(char):
                continue
            if _is_whitespace(char):
                output.append(" ")
            else:
                output.append(char)
        return "".join(output)


class WordpieceTokenizer(object):
    def __init__(self, vocab, unk_token="[UNK]", max_input_chars_per_word=200):
        self.vocab = vocab
        self.unk_token = unk_token
        self.max_input_chars_per_word = max_input_chars_per_word

    def tokenize(self, text):
        output_tokens = []
        for token in whitespace_tokenize(text):
            chars = list(token)
            if len(chars) > self.max_input_chars_per_word:
                output_tokens.append(self.unk_token)
                continue
            is_bad = False
            start = 0
            sub_tokens = []
            while start < len(chars):
                end = len(chars)
                cur_substr = None
                while start < end:
                    substr = "".join(chars[start:end])
                    if start > 0:
                        substr = "##" + substr
                    if substr in self.vocab:
                        cur_substr = substr
                        break
                    end -= 1
                if cur_substr is None:
                    is_bad = True
                    break
                sub_tokens.append(cur_substr)
                start = end
            if is_bad:
                output_tokens.append(self.unk_token)
            else:
                output_tokens.extend(sub_tokens)
        return output_tokens


class FullTokenizer(object):
    def __init__(self, vocab_list, do_lower_case=True):
        self.vocab = collections.OrderedDict((t, i) for i, t in enumerate(vocab_list))
        self.basic_tokenizer = BasicTokenizer(do_lower_case=do_lower_case)
        self.wordpiece_tokenizer = WordpieceTokenizer(vocab=self.vocab)

    def tokenize(self, text):
        split_tokens = []
        for token in self.basic_tokenizer.tokenize(text):
            for sub_token in self.wordpiece_tokenizer.tokenize(token):
                split_tokens.append(sub_token)
        return split_tokens

    def convert_tokens_to_ids(self, tokens):
        return [self.vocab[t] for t in tokens]


def doc_tokens_of(paragraph_text):
    """qa_tasks.QATask._add_examples: the context's whitespace words."""
    def is_whitespace(c):
        return c == " " or c == "\t" or c == "\r" or c == "\n" or ord(c) == 0x202F

    doc_tokens = []
    char_to_word_offset = []
    prev_is_whitespace = True
    for c in paragraph_text:
        if is_whitespace(c):
            prev_is_whitespace = True
        else:
            if prev_is_whitespace:
                doc_tokens.append(c)
            else:
                doc_tokens[-1] += c
            prev_is_whitespace = False
        char_to_word_offset.append(len(doc_tokens) - 1)
    return doc_tokens


def _check_is_max_context(doc_spans, cur_span_index, position):
    best_score = None
    best_span_index = None
    for (span_index, doc_span) in enumerate(doc_spans):
        end = doc_span.start + doc_span.length - 1
        if position < doc_span.start:
            continue
        if position > end:
            continue
        num_left_context = position - doc_span.start
        num_right_context = end - position
        score = min(num_left_context, num_right_context) + 0.01 * doc_span.length
        if best_score is None or score > best_score:
            best_score = score
            best_span_index = span_index
    return cur_span_index == best_span_index


def featurize(question_text, doc_tokens, tokenizer, max_seq_length, doc_stride,
              max_query_length):
    """qa_tasks.QATask.featurize(example, is_training=False, for_eval=True)."""
    all_features = []
    query_tokens = tokenizer.tokenize(question_text)
    if len(query_tokens) > max_query_length:
        query_tokens = query_tokens[0:max_query_length]
    tok_to_orig_index = []
    orig_to_tok_index = []
    all_doc_tokens = []
    for (i, token) in enumerate(doc_tokens):
        orig_to_tok_index.append(len(all_doc_tokens))
        sub_tokens = tokenizer.tokenize(token)
        for sub_token in sub_tokens:
            tok_to_orig_index.append(i)
            all_doc_tokens.append(sub_token)
    max_tokens_for_doc = max_seq_length - len(query_tokens) - 3
    _DocSpan = collections.namedtuple("DocSpan", ["start", "length"])
    doc_spans = []
    start_offset = 0
    while start_offset < len(all_doc_tokens):
        length = len(all_doc_tokens) - start_offset
        if length > max_tokens_for_doc:
            length = max_tokens_for_doc
        doc_spans.append(_DocSpan(start=start_offset, length=length))
        if start_offset + length == len(all_doc_tokens):
            break
        start_offset += min(length, doc_stride)
    for (doc_span_index, doc_span) in enumerate(doc_spans):
        tokens = []
        token_to_orig_map = {}
        token_is_max_context = {}
        tokens.append("[CLS]")
        for token in query_tokens:
            tokens.append(token)
        tokens.append("[SEP]")
        for i in range(doc_span.length):
            split_token_index = doc_span.start + i
            token_to_orig_map[len(tokens)] = tok_to_orig_index[split_token_index]
            is_max_context = _check_is_max_context(doc_spans, doc_span_index,
                                                   split_token_index)
            token_is_max_context[len(tokens)] = is_max_context
            tokens.append(all_doc_tokens[split_token_index])
        tokens.append("[SEP]")
        all_features.append({"tokens": tokens, "token_to_orig_map": token_to_orig_map,
                             "token_is_max_context": token_is_max_context,
                             "input_ids": tokenizer.convert_tokens_to_ids(tokens)})
    return all_features


def _get_best_indexes(logits, n_best_size):
    index_and_score = sorted(enumerate(logits), key=lambda x: x[1], reverse=True)
    best_indexes = []
    for i in range(len(index_and_score)):
        if i >= n_best_size:
            break
        best_indexes.append(index_and_score[i][0])
    return best_indexes


def get_final_text(pred_text, orig_text, do_lower_case):
    def _strip_spaces(text):
        ns_chars = []
        ns_to_s_map = collections.OrderedDict()
        for (i, c) in enumerate(text):
            if c == " ":
                continue
            ns_to_s_map[len(ns_chars)] = i
            ns_chars.append(c)
        ns_text = "".join(ns_chars)
        return (ns_text, dict(ns_to_s_map))

    tokenizer = BasicTokenizer(do_lower_case=do_lower_case)
    tok_text = " ".join(tokenizer.tokenize(orig_text))
    start_position = tok_text.find(pred_text)
    if start_position == -1:
        return orig_text
    end_position = start_position + len(pred_text) - 1
    (orig_ns_text, orig_ns_to_s_map) = _strip_spaces(orig_text)
    (tok_ns_text, tok_ns_to_s_map) = _strip_spaces(tok_text)
    if len(orig_ns_text) != len(tok_ns_text):
        return orig_text
    tok_s_to_ns_map = {}
    for (i, tok_index) in tok_ns_to_s_map.items():
        tok_s_to_ns_map[tok_index] = i
    orig_start_position = None
    if start_position in tok_s_to_ns_map:
        ns_start_position = tok_s_to_ns_map[start_position]
        if ns_start_position in orig_ns_to_s_map:
            orig_start_position = orig_ns_to_s_map[ns_start_position]
    if orig_start_position is None:
        return orig_text
    orig_end_position = None
    if end_position in tok_s_to_ns_map:
        ns_end_position = tok_s_to_ns_map[end_position]
        if ns_end_position in orig_ns_to_s_map:
            orig_end_position = orig_ns_to_s_map[ns_end_position]
    if orig_end_position is None:
        return orig_text
    output_text = orig_text[orig_start_position:(orig_end_position + 1)]
    return output_text


def nbest_texts(doc_tokens, features, results, joint_prediction, do_lower_case,
                n_best_size=20, max_answer_length=30):
    """qa_metrics.SpanBasedQAScorer.write_predictions for one example: its n-best texts.

    `results[i]`: the model outputs of `features[i]` (joint: `start_top_log_probs`,
    `start_top_index`, `end_top_log_probs`, `end_top_index`; else `start_logits`,
    `end_logits`), scores as Python floats.
    """
    _PrelimPrediction = collections.namedtuple(
        "PrelimPrediction",
        ["feature_index", "start_index", "end_index", "start_logit", "end_logit"])
    prelim_predictions = []
    for (feature_index, feature) in enumerate(features):
        result = results[feature_index]
        if joint_prediction:
            start_indexes = result["start_top_index"]
            end_indexes = result["end_top_index"]
        else:
            start_indexes = _get_best_indexes(result["start_logits"], n_best_size)
            end_indexes = _get_best_indexes(result["end_logits"], n_best_size)
        for i, start_index in enumerate(start_indexes):
            for j, end_index in enumerate(
                    end_indexes[i] if joint_prediction else end_indexes):
                if start_index >= len(feature["tokens"]):
                    continue
                if end_index >= len(feature["tokens"]):
                    continue
                if start_index == 0:
                    continue
                if start_index not in feature["token_to_orig_map"]:
                    continue
                if end_index not in feature["token_to_orig_map"]:
                    continue
                if not feature["token_is_max_context"].get(start_index, False):
                    continue
                if end_index < start_index:
                    continue
                length = end_index - start_index + 1
                if length > max_answer_length:
                    continue
                start_logit = (result["start_top_log_probs"][i] if joint_prediction
                               else result["start_logits"][start_index])
                end_logit = (result["end_top_log_probs"][i][j] if joint_prediction
                             else result["end_logits"][end_index])
                prelim_predictions.append(_PrelimPrediction(
                    feature_index=feature_index, start_index=start_index,
                    end_index=end_index, start_logit=start_logit, end_logit=end_logit))
    prelim_predictions = sorted(prelim_predictions,
                                key=lambda x: (x.start_logit + x.end_logit), reverse=True)
    seen_predictions = {}
    nbest = []
    for pred in prelim_predictions:
        if len(nbest) >= n_best_size:
            break
        feature = features[pred.feature_index]
        tok_tokens = feature["tokens"][pred.start_index:(pred.end_index + 1)]
        orig_doc_start = feature["token_to_orig_map"][pred.start_index]
        orig_doc_end = feature["token_to_orig_map"][pred.end_index]
        orig_tokens = doc_tokens[orig_doc_start:(orig_doc_end + 1)]
        tok_text = " ".join(tok_tokens)
        tok_text = tok_text.replace(" ##", "")
        tok_text = tok_text.replace("##", "")
        tok_text = tok_text.strip()
        tok_text = " ".join(tok_text.split())
        orig_text = " ".join(orig_tokens)
        final_text = get_final_text(tok_text, orig_text, do_lower_case)
        if final_text in seen_predictions:
            continue
        seen_predictions[final_text] = True
        nbest.append(final_text)
    if not nbest:
        nbest.append("empty")
    return nbest

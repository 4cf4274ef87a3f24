"""GLUE's readers on lines in exactly GLUE's layout (as the GLUE download script writes
them), the generic CSV/TSV/JSONL reader, and one-line errors naming the file and line."""

import pytest

from keras_electra.glue.tasks import GLUE_TASKS, read_generic_file, read_glue_file, read_glue_split
from keras_electra.utils.errors import InputFileError

# a few real-format lines of each task's train/dev files
GLUE_LINES = {
    "cola": ("CoLA", "dev", [
        "gj04\t1\t\tOur friends won't buy this analysis, let alone the next one we propose.",
        "gj04\t0\t*\tThey drank the pub.",
    ], [("Our friends won't buy this analysis, let alone the next one we propose.", None, "1"),
        ("They drank the pub.", None, "0")]),
    "sst2": ("SST-2", "dev", [
        "sentence\tlabel",
        "it 's a charming and often affecting journey . \t1",
        "unflinchingly bleak and desperate \t0",
    ], [("it 's a charming and often affecting journey . ", None, "1"),
        ("unflinchingly bleak and desperate ", None, "0")]),
    "mrpc": ("MRPC", "dev", [
        "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String",
        '1\t1355540\t1355592\tHe said the foodservice pie business doesn \'t fit the company '
        '\'s long-term growth strategy .\t" The foodservice pie business does not fit our '
        'long-term growth strategy .',
        "0\t2029631\t2029565\tMagnarelli said Racicot hated the Iraqi regime .\tHis wife "
        "said he was \" 100 percent behind George Bush \" .",
    ], [("He said the foodservice pie business doesn 't fit the company 's long-term growth "
         "strategy .", '" The foodservice pie business does not fit our long-term growth '
         "strategy .", "1"),
        ("Magnarelli said Racicot hated the Iraqi regime .",
         'His wife said he was " 100 percent behind George Bush " .', "0")]),
    "stsb": ("STS-B", "dev", [
        "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore",
        "0\tmain-captions\tMSRvid\t2012test\t0000\tnone\tnone\tA man with a hard hat is "
        "dancing.\tA man wearing a hard hat is dancing.\t5.000",
        "1\tmain-captions\tMSRvid\t2012test\t0002\tnone\tnone\tA young child is riding a "
        "horse.\tA child is riding a horse.\t4.750",
    ], [("A man with a hard hat is dancing.", "A man wearing a hard hat is dancing.", 5.0),
        ("A young child is riding a horse.", "A child is riding a horse.", 4.75)]),
    "qqp": ("QQP", "dev", [
        "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate",
        "201359\t303345\t303346\tWhy are African-Americans so beautiful?\tWhy are hispanics "
        "so beautiful?\t0",
        "263843\t69383\t380476\tI want to pursue PhD in Computer Science about social network,"
        "what is the open problem in social networks?\tI handle social media for a non-profit. "
        "Should I start going to social media networking events? Are there any good ones in "
        "the bay area?\t0",
    ], [("Why are African-Americans so beautiful?", "Why are hispanics so beautiful?", "0"),
        ("I want to pursue PhD in Computer Science about social network,what is the open "
         "problem in social networks?", "I handle social media for a non-profit. Should I "
         "start going to social media networking events? Are there any good ones in the bay "
         "area?", "0")]),
    "mnli": ("MNLI", "dev_matched", [
        "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\t"
        "sentence1_parse\tsentence2_parse\tsentence1\tsentence2\tlabel1\tlabel2\tlabel3\t"
        "label4\tlabel5\tgold_label",
        "0\t63735\t63735n\tslate\t( ( The ( new rights ) ) ( are ( nice enough ) ) )\t"
        "( Everyone ( really ( likes ( the ( newest benefits ) ) ) ) )\t(ROOT (S (NP (DT The) "
        "(JJ new) (NNS rights)) (VP (VBP are) (ADJP (JJ nice) (RB enough)))))\t(ROOT (S (NP "
        "(NN Everyone)) (VP (ADVP (RB really)) (VBZ likes) (NP (DT the) (JJS newest) (NNS "
        "benefits)))))\tThe new rights are nice enough\tEveryone really likes the newest "
        "benefits \tneutral\tentailment\tneutral\tneutral\tneutral\tneutral",
    ], [("The new rights are nice enough", "Everyone really likes the newest benefits ",
         "neutral")]),
    "qnli": ("QNLI", "dev", [
        "index\tquestion\tsentence\tlabel",
        "0\tWhat came into force after the new constitution was herald?\tAs of that day, the "
        "new constitution heralding the Second Republic came into force.\tentailment",
    ], [("What came into force after the new constitution was herald?", "As of that day, the "
         "new constitution heralding the Second Republic came into force.", "entailment")]),
    "rte": ("RTE", "dev", [
        "index\tsentence1\tsentence2\tlabel",
        "0\tDana Reeve, the widow of the actor Christopher Reeve, has died of lung cancer at "
        "age 44, according to the Christopher Reeve Foundation.\tChristopher Reeve had an "
        "accident.\tnot_entailment",
    ], [("Dana Reeve, the widow of the actor Christopher Reeve, has died of lung cancer at age "
         "44, according to the Christopher Reeve Foundation.", "Christopher Reeve had an "
         "accident.", "not_entailment")]),
    "wnli": ("WNLI", "dev", [
        "index\tsentence1\tsentence2\tlabel",
        "0\tThe drain is clogged with hair. It has to be cleaned.\tThe hair has to be cleaned."
        "\t0",
    ], [("The drain is clogged with hair. It has to be cleaned.", "The hair has to be "
         "cleaned.", "0")]),
}


def _write(path, lines):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("task", sorted(GLUE_TASKS))
def test_each_task_reads_its_glue_layout(task, tmp_path):
    directory, split, lines, expected = GLUE_LINES[task]
    _write(tmp_path / directory / f"{split}.tsv", lines)
    # the GLUE root or the task's own directory
    for data_dir in (tmp_path, tmp_path / directory):
        examples = read_glue_split(task, str(data_dir), split)
        assert [(e.text_a, e.text_b, e.label) for e in examples] == expected
    first_line = 1 if not GLUE_TASKS[task].header else 2
    assert examples[0].line == first_line


def test_mnli_reads_both_dev_sets(tmp_path):
    _, _, lines, _ = GLUE_LINES["mnli"]
    for split in GLUE_TASKS["mnli"].dev_splits:
        _write(tmp_path / f"{split}.tsv", lines)
        assert read_glue_split("mnli", str(tmp_path), split)[0].label == "neutral"
    assert GLUE_TASKS["mnli"].dev_splits == ("dev_matched", "dev_mismatched")


def _error(callable_, *args):
    with pytest.raises(InputFileError) as info:
        callable_(*args)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_a_missing_column_names_the_file_and_line(tmp_path):
    path = _write(tmp_path / "dev.tsv", ["index\tsentence1\tsentence2\tlabel",
                                         "0\ta\tb\tentailment", "1\tonly one sentence"])
    message = _error(read_glue_file, "rte", path)
    assert str(path) in message and "line 3" in message and "columns" in message


def test_a_label_outside_the_tasks_set_names_the_file_and_line(tmp_path):
    path = _write(tmp_path / "dev.tsv", ["sentence\tlabel", "good\t1", "bad\t2"])
    message = _error(read_glue_file, "sst2", path)
    assert str(path) in message and "line 3" in message and "'2'" in message
    stsb = _write(tmp_path / "sts.tsv", [GLUE_LINES["stsb"][2][0], GLUE_LINES["stsb"][2][1]
                                         .replace("5.000", "high")])
    assert "line 2" in _error(read_glue_file, "stsb", stsb)


@pytest.mark.parametrize("lines", [[], ["index\tsentence1\tsentence2\tlabel"]])
def test_an_empty_dev_file_is_refused_naming_it(lines, tmp_path):
    path = tmp_path / "dev.tsv"
    path.write_text("\n".join(lines), encoding="utf-8")
    message = _error(read_glue_file, "rte", path)
    assert str(path) in message and "no examples" in message


def test_a_cola_file_with_a_header_is_refused_naming_line_1(tmp_path):
    path = _write(tmp_path / "train.tsv", ["source\tlabel\tmark\tsentence"]
                  + GLUE_LINES["cola"][2])
    message = _error(read_glue_file, "cola", path)
    assert str(path) in message and "line 1" in message and "header" in message


def test_generic_reader_reads_csv_tsv_and_jsonl(tmp_path):
    csv_path = _write(tmp_path / "d.csv", ["premise,hypothesis,label",
                                           '"A, quoted",b,yes', "c,d,no"])
    tsv_path = _write(tmp_path / "d.tsv", ["premise\thypothesis\tlabel", 'A, "q"\tb\tyes'])
    jsonl_path = _write(tmp_path / "d.jsonl", ['{"premise": "A", "hypothesis": "b", '
                                               '"label": "yes"}', ""])
    csv_examples = read_generic_file(csv_path, ["premise", "hypothesis"], "label")
    assert [(e.text_a, e.text_b, e.label, e.line) for e in csv_examples] == [
        ("A, quoted", "b", "yes", 2), ("c", "d", "no", 3)]
    assert read_generic_file(tsv_path, ["premise", "hypothesis"], "label")[0].text_a == 'A, "q"'
    jsonl = read_generic_file(jsonl_path, ["premise"], "label", labels=("yes", "no"))
    assert (jsonl[0].text_a, jsonl[0].text_b, jsonl[0].label) == ("A", None, "yes")
    message = _error(read_generic_file, csv_path, ["premise", "missing"], "label")
    assert str(csv_path) in message and "line 2" in message and "'missing'" in message
    message = _error(read_generic_file, csv_path, ["premise"], "label", ("yes",))
    assert "line 3" in message and "'no'" in message


def test_lenient_skips_malformed_lines_and_reports_them(tmp_path):
    path = _write(tmp_path / "train.tsv", [GLUE_LINES["qqp"][2][0], GLUE_LINES["qqp"][2][1],
                                           "363362\tHow do I?", GLUE_LINES["qqp"][2][2],
                                           "1\t2\t3\ta\tb\t7"])
    assert "--lenient" in _error(read_glue_file, "qqp", path)
    skipped = []
    examples = read_glue_file("qqp", path, lenient=True, skipped=skipped)
    assert [e.line for e in examples] == [2, 4] and skipped == [3, 5]

"""llmcourse.data on the real shipped corpus and on realistic user files."""

import codecs
import json

import pytest

from llmcourse import data
from llmcourse.data import NEGATIVE, POSITIVE


# --------------------------------------------------------------------------- shipped corpus
def test_report_counts_match_the_corpus(reviews):
    r = reviews.report
    assert r.raw_lines == {POSITIVE: 16548, NEGATIVE: 18576}
    assert r.unique_lines[POSITIVE] == 8379
    assert r.unique_lines[NEGATIVE] == 9078
    assert r.conflicts_dropped == 47
    assert r.final == reviews.counts()
    assert r.total == len(reviews) == 17361
    # every line is accounted for: kept + duplicates + conflicting copies + blank
    for label in (POSITIVE, NEGATIVE):
        assert (
            r.final[label] + r.duplicates_removed[label] + r.conflicts_dropped + r.blank_lines[label]
            == r.raw_lines[label]
        )


def test_report_prints_readably(reviews):
    text = str(reviews.report)
    assert "16,548" in text and "8,379" in text and "17,361" in text and "正面" in text


def test_corpus_has_no_duplicates_or_conflicts(reviews):
    assert len(set(reviews.texts)) == len(reviews)
    assert all(t == data.normalize_whitespace(t) and t for t in reviews.texts)


def test_split_is_disjoint_stratified_and_seeded(reviews):
    s1 = data.split_dataset(reviews, 0.1, 0.1, seed=3)
    s2 = data.split_dataset(reviews, 0.1, 0.1, seed=3)
    s3 = data.split_dataset(reviews, 0.1, 0.1, seed=4)
    train, val, test = set(s1.train.texts), set(s1.val.texts), set(s1.test.texts)
    assert not (train & val) and not (train & test) and not (val & test)
    assert len(train) + len(val) + len(test) == len(reviews)
    assert s1.test.texts == s2.test.texts and s1.train.labels == s2.train.labels
    assert s1.test.texts != s3.test.texts
    share = reviews.counts()[POSITIVE] / len(reviews)
    for part in (s1.train, s1.val, s1.test):
        assert abs(part.counts()[POSITIVE] / len(part) - share) < 0.01


def test_split_refuses_duplicated_texts():
    dup = data.LabeledTexts(["好", "好", "差", "差"], [1, 1, 0, 0])
    with pytest.raises(ValueError, match="deduplicate"):
        data.split_dataset(dup)


def test_deduplicate_drops_conflicts_and_counts_copies():
    texts, labels, removed, conflicts = data.deduplicate(["a", "b", "a", "c", "c"], [1, 1, 1, 1, 0])
    assert texts == ["a", "b"] and labels == [1, 1]
    assert removed == {POSITIVE: 1, NEGATIVE: 0} and conflicts == 1


def test_sample_is_stratified(reviews):
    part = reviews.sample(1000, seed=1)
    assert 990 <= len(part) <= 1010
    assert abs(part.counts()[POSITIVE] / len(part) - reviews.counts()[POSITIVE] / len(reviews)) < 0.01


def test_gold_segmentation_is_read():
    sents = data.load_gold_segmentation(max_lines=3)
    assert sents[0][:3] == ["迈向", "充满", "希望"]


# --------------------------------------------------------------------------- user files
def write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def test_csv_with_quoted_commas_and_blank_lines(tmp_path):
    f = write(
        tmp_path / "r.csv",
        'text,label\n"房间很大，干净,安静",1\n\n"他说""不错""，其实一般",neg\n"服务好",正面\n',
    )
    ds = data.read_labeled_file(f)
    assert ds.texts == ["房间很大，干净,安静", '他说"不错"，其实一般', "服务好"]
    assert ds.labels == [1, 0, 1]
    assert ds.report.blank_lines_skipped == 1 and ds.report.rows == 3
    assert "跳过空行 1 行" in str(ds.report)


def test_utf8_bom_file(tmp_path):
    f = tmp_path / "bom.csv"
    f.write_bytes(codecs.BOM_UTF8 + "text,label\n很好,positive\n很差,negative\n".encode("utf-8"))
    ds = data.read_labeled_file(f)
    assert ds.report.encoding == "utf-8-sig" and ds.texts == ["很好", "很差"] and ds.labels == [1, 0]


def test_gbk_file_is_detected(tmp_path):
    f = write(tmp_path / "gbk.csv", "评论,情感\n酒店位置不错,积极\n早餐太差了,消极\n", encoding="gbk")
    ds = data.read_labeled_file(f, text_col="评论", label_col="情感")
    assert ds.report.encoding == "gb18030"
    assert ds.texts == ["酒店位置不错", "早餐太差了"] and ds.labels == [1, 0]


def test_tsv_and_jsonl(tmp_path):
    tsv = write(tmp_path / "r.tsv", "label\ttext\n1\t好, 很好\n0\t不好\n")
    assert data.read_labeled_file(tsv).texts == ["好, 很好", "不好"]
    lines = [
        json.dumps({"text": "喜欢", "label": 1}, ensure_ascii=False),
        "",
        json.dumps({"text": "讨厌", "label": "neg"}, ensure_ascii=False),
    ]
    jl = write(tmp_path / "r.jsonl", "\n".join(lines) + "\n")
    ds = data.read_labeled_file(jl)
    assert ds.labels == [1, 0] and ds.report.blank_lines_skipped == 1


@pytest.mark.parametrize(
    "content, error, line, fragment",
    [
        ("review,label\n好,1\n", data.MissingColumnError, 1, "'text'"),
        ("text,label\n好,1\n,0\n", data.EmptyTextError, 3, "文本为空"),
        ("text,label\n好,1\n差,maybe\n", data.UnknownLabelError, 3, "maybe"),
        ("text,label\n好,1\n差\n", data.DataFormatError, 3, "只有 1 列"),
    ],
)
def test_bad_csv_raises_specific_error_with_line(tmp_path, content, error, line, fragment):
    f = write(tmp_path / "bad.csv", content)
    with pytest.raises(error) as info:
        data.read_labeled_file(f)
    assert info.value.line == line
    assert str(f) in str(info.value) and f"第 {line} 行" in str(info.value) and fragment in str(info.value)


def test_undecodable_bytes_name_the_line(tmp_path):
    f = tmp_path / "broken.csv"
    f.write_bytes("text,label\n很好,1\n".encode("utf-8") + b"\xff\xfe\xfa,0\n")
    with pytest.raises(data.DecodeError) as info:
        data.read_labeled_file(f)
    assert info.value.line == 3 and "无法解码" in str(info.value)


def test_file_without_rows(tmp_path):
    for name, content in [("empty.csv", ""), ("header.csv", "text,label\n\n"), ("e.jsonl", "\n\n")]:
        with pytest.raises(data.EmptyFileError, match=name):
            data.read_labeled_file(write(tmp_path / name, content))


def test_jsonl_missing_field_and_bad_json(tmp_path):
    f = write(tmp_path / "m.jsonl", '{"text": "好", "label": 1}\n{"text": "差"}\n')
    with pytest.raises(data.MissingColumnError) as info:
        data.read_labeled_file(f)
    assert info.value.line == 2
    g = write(tmp_path / "j.jsonl", '{"text": "好", "label": 1}\n{oops\n')
    with pytest.raises(data.DataFormatError, match="第 2 行"):
        data.read_labeled_file(g)


def test_missing_file_is_reported(tmp_path):
    with pytest.raises(data.UnreadableFileError, match="nope.csv：找不到文件"):
        data.read_labeled_file(tmp_path / "nope.csv")


def test_rows_remember_their_lines_through_sampling(tmp_path):
    f = write(tmp_path / "l.csv", 'text,label\n"多\n行",1\n\n好,0\n差,0\n')
    ds = data.read_labeled_file(f)
    assert ds.lines == [2, 5, 6]
    part = ds.sample(2, seed=0)
    assert all(ds.lines[ds.texts.index(t)] == line for t, line in zip(part.texts, part.lines))


def test_deduplicate_dataset_says_what_went_and_from_where(tmp_path):
    rows = "".join(f"{t},{lab}\n" for t, lab in [("好", 1), ("差", 0), ("好", 1), ("中", 1), ("中", 0), ("好", 1)])
    ds = data.deduplicate_dataset(data.read_labeled_file(write(tmp_path / "d.csv", "text,label\n" + rows)))
    assert (ds.texts, ds.labels, ds.lines) == (["好", "差"], [1, 0], [2, 3])
    r = ds.report
    assert (r.rows_read, r.duplicate_lines, r.conflict_lines, r.conflicting_texts) == (6, [4, 7], [5, 6], 1)
    assert r.rows_read == r.rows_used + len(r.duplicate_lines) + len(r.conflict_lines)
    text = str(r)
    assert text.startswith("文件：") and "读取 6 行，去掉重复 2 行（第 4、7 行）" in text
    assert "冲突文本 1 条（共 2 行：第 5、6 行），剩 2 条，其中正面 1、负面 1" in text
    # without line numbers the report counts rows from 1; the old tuple contract is unchanged
    plain = data.deduplicate_dataset(data.LabeledTexts(["a", "a"], [1, 1]))
    assert plain.lines is None and "读取 2 条，去掉重复 1 条（第 2 条）" in str(plain.report)
    assert data.deduplicate(["a", "a"], [1, 1]) == (["a"], [1], {POSITIVE: 1, NEGATIVE: 0}, 0)


def test_check_trainable_passes_the_corpus_through(small_reviews):
    checked = data.check_trainable(small_reviews)
    assert checked.texts == small_reviews.texts and checked.labels == small_reviews.labels
    assert checked.report.duplicate_lines == [] and checked.report.source is small_reviews.report


def test_check_trainable_names_the_file(tmp_path):
    f = write(tmp_path / "one.csv", "text,label\n" + "".join(f"好{i},1\n" for i in range(25)))
    with pytest.raises(data.TrainingDataError) as info:
        data.check_trainable(data.read_labeled_file(f))
    assert str(info.value).startswith(f"{f}：去重后没有负面评论") and info.value.line is None
    assert isinstance(info.value, data.DataFormatError)  # the command line's one-line handler covers it
    with pytest.raises(data.TrainingDataError, match="^随包语料：去重后只剩 2 条"):
        data.check_trainable(data.LabeledTexts(["好", "差"], [1, 0]), source="随包语料")


def test_decode_bytes_takes_back_what_python_decoded_from_argv():
    gbk_arg = "你好".encode("gbk").decode("utf-8", "surrogateescape")  # how Python hands GBK argv bytes over
    assert data.decode_bytes(gbk_arg, "参数") == ("你好", "gb18030")
    assert data.decode_bytes("很好", "参数") == ("很好", "utf-8")
    assert data.decode_bytes("很好".encode("utf-8"), "标准输入") == ("很好", "utf-8")
    with pytest.raises(data.DecodeError, match=r"^参数 第 2 行：.*U\+D800"):
        data.decode_bytes("好\n\ud800", "参数")
    with pytest.raises(data.DecodeError, match=r"^参数 第 2 行：.*U\+D801"):  # not the escaped byte before it
        data.decode_bytes("\udcff\n好\ud801", "参数")
    with pytest.raises(data.DecodeError, match=r"^参数 第 1 行：既不是 UTF-8"):
        data.decode_bytes(b"\xff" + "好".encode(), "参数")


def test_reading_never_lowers_a_raised_csv_field_limit(tmp_path):
    import csv
    import sys

    old = csv.field_size_limit(sys.maxsize)
    try:
        data.read_labeled_file(write(tmp_path / "r.csv", "text,label\n好,1\n"))
        assert csv.field_size_limit() == sys.maxsize
    finally:
        csv.field_size_limit(old)


# --------------------------------------------------------------------------- chapter 1 views
def test_read_raw_lines_keeps_every_non_blank_line(reviews):
    lines = data.read_raw_lines()
    r = reviews.report
    assert len(lines) == sum(r.raw_lines.values()) - sum(r.blank_lines.values())
    assert lines[0][1] == POSITIVE and lines[-1][1] == NEGATIVE
    assert all(t == data.normalize_whitespace(t) and t for t, _ in lines[:500])


def test_guess_domain_and_counts():
    assert data.guess_domain("酒店的早餐不错") == "酒店"
    assert data.guess_domain("屏幕很亮") == "电脑"
    assert data.guess_domain("酒店房间里看书") == data.UNKNOWN_DOMAIN  # two domains
    assert data.guess_domain("很好") == data.UNKNOWN_DOMAIN
    counts = data.domain_counts(["酒店很好", "屏幕差", "很好"], [POSITIVE, NEGATIVE, POSITIVE])
    assert counts == {("酒店", POSITIVE): 1, ("电脑", NEGATIVE): 1, (data.UNKNOWN_DOMAIN, POSITIVE): 1}


def test_naive_split_is_seeded_and_leaks_copies():
    pairs = [("同一句", POSITIVE)] * 10 + [(f"句子{i}", NEGATIVE) for i in range(10)]
    train, test = data.naive_split(pairs, test_fraction=0.1, seed=42)
    assert len(test) == 2 and len(train) == 18
    assert (train, test) == data.naive_split(pairs, test_fraction=0.1, seed=42)
    assert sorted(train + test) == sorted(pairs)


def test_memorizer_accuracy():
    train = [("好", POSITIVE), ("好", POSITIVE), ("差", NEGATIVE), ("好", NEGATIVE)]
    assert data.memorizer_accuracy(train, [("好", POSITIVE), ("差", NEGATIVE)]) == 1.0
    assert data.memorizer_accuracy(train, [("没见过", POSITIVE), ("没见过", NEGATIVE)]) == 0.5  # majority: positive


def test_length_table():
    by_label = data.lengths_by_label(["好", "很好", "太差了"], [POSITIVE, POSITIVE, NEGATIVE])
    assert by_label == {"正面": [1, 2], "负面": [3]}
    table = data.length_table({"字": by_label})
    assert list(table["类别"]) == ["全部", "正面", "负面"]
    assert list(table["评论数"]) == [3, 2, 1] and list(table["最大值"]) == [3, 2, 3]
    assert table.loc[0, "中位数"] == 2 and "90% 分位" in table.attrs["formats"]

"""Hostile but fair input files: one table of cases, each refused with one clear line or accepted.

Every case is a file (name and bytes) and what must happen: an exception of a named
`llmcourse.data` class whose one-line message names the file, the line where it
applies, and matches a pattern; or, for the valid edge cases, the rows read back.
Training cases go on through `data.check_trainable`, the check run after
de-duplication and before any training. The property-based tests below the table
(hypothesis) write random data with the csv and json modules and read it back, and
feed arbitrary bytes to the reader, which may only ever raise a `DataFormatError`.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import errno
import io
import json
import re
import tempfile
from pathlib import Path
from typing import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmcourse import data
from llmcourse.errors import CourseError

LONG = 200_000  # more than the csv module's default field limit of 131,072 characters
TOO_LONG = 10_000_001  # one more than data.MAX_FIELD_CHARS


def table(rows: list[tuple[str, str]], header: str = "text,label") -> str:
    """A CSV text: the header line, then one line per (text, label) written as given (no quoting)."""
    return "".join(f"{line}\n" for line in [header] + [f"{t},{lab}" for t, lab in rows])


def jsonl(*objects: object) -> str:
    return "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objects)


def balanced(n: int, prefix: str = "评论") -> list[tuple[str, str]]:
    """`n` distinct texts, labels alternating 1, 0."""
    return [(f"{prefix}{i}", str(1 - i % 2)) for i in range(n)]


@dataclasses.dataclass(frozen=True)
class Case:
    """One file and what the reader (and, with `train`, check_trainable) must do with it."""

    id: str
    name: str  # the file name; its suffix picks the format
    content: str | bytes | None  # str is written as UTF-8; None: `setup` makes the path
    error: str | None  # the data.* exception class the message must come with; None: accepted
    pattern: str = ""  # a regex the message must match (search)
    line: int | None = None  # the line the error names, when it names one
    setup: str | None = None  # "directory", "missing", "permission" or "oserror"
    train: bool = False  # run check_trainable on what was read
    check: Callable[[data.LabeledTexts], bool] | None = None  # for accepted cases
    kwargs: tuple = ()  # extra keyword arguments for read_labeled_file, as pairs


CASES = [
    # --- field length: the csv module's 131,072-character default is raised; beyond the bound, one clear line
    Case(
        "csv-field-over-131072-accepted",
        "long.csv",
        table([("好" * LONG, "1"), ("差", "0")]),
        None,
        check=lambda ds: len(ds.texts[0]) == LONG and ds.labels == [1, 0],
    ),
    Case(
        "tsv-field-over-131072-accepted",
        "long.tsv",
        f"text\tlabel\n{'好' * LONG}\t1\n",
        None,
        check=lambda ds: len(ds.texts[0]) == LONG,
    ),
    Case(
        "csv-field-over-limit",
        "huge.csv",
        "text,label\n好,1\n" + "a" * TOO_LONG + ",0\n",
        "DataFormatError",
        r"超过 [\d,]+ 个字符的上限",
        line=3,
    ),
    Case(
        "tsv-field-over-limit",
        "huge.tsv",
        "text\tlabel\n" + "a" * TOO_LONG + "\t0\n",
        "DataFormatError",
        r"超过 [\d,]+ 个字符的上限",
        line=2,
    ),
    Case(
        "jsonl-text-over-limit",
        "huge.jsonl",
        jsonl({"text": "a" * TOO_LONG, "label": 1}),
        "DataFormatError",
        r"字段 text：文本有 10,000,001 个字符，超过 10,000,000",
        line=1,
    ),
    # --- JSON Lines: split on "\n" only; the text must be a string
    Case(
        "jsonl-u2028-accepted",
        "ls.jsonl",
        jsonl({"text": "房间\u2028很好", "label": 1}, {"text": "差", "label": 0}),
        None,
        check=lambda ds: ds.texts == ["房间 很好", "差"] and ds.lines == [1, 2],
    ),
    Case(
        "jsonl-u2029-accepted",
        "ps.jsonl",
        jsonl({"text": "第一段\u2029第二段", "label": 0}),
        None,
        check=lambda ds: ds.texts == ["第一段 第二段"],
    ),
    Case(
        "jsonl-u0085-accepted",
        "nel.jsonl",
        jsonl({"text": "好\u0085评", "label": "pos"}),
        None,
        check=lambda ds: ds.texts == ["好 评"] and ds.labels == [1],
    ),
    Case(
        "jsonl-other-splitlines-breaks-accepted",
        "ctl.jsonl",
        '{"text": "a\x1cb\x1dc\x1ed\x0be\x0cf", "label": 1}\n',
        None,
        check=lambda ds: ds.texts == ["a b c d e f"],
    ),
    Case(
        "jsonl-crlf-accepted",
        "crlf.jsonl",
        '{"text": "好", "label": 1}\r\n\r\n{"text": "差", "label": 0}\r\n',
        None,
        check=lambda ds: ds.labels == [1, 0] and ds.report.blank_lines_skipped == 1 and ds.lines == [1, 3],
    ),
    Case(
        "jsonl-text-list",
        "list.jsonl",
        jsonl({"text": "好", "label": 1}, {"text": ["很好"], "label": 1}),
        "DataFormatError",
        r"字段 text：文本必须是字符串，这里是数组 \['很好'\]",
        line=2,
    ),
    Case(
        "jsonl-text-number",
        "num.jsonl",
        jsonl({"text": 5, "label": 1}),
        "DataFormatError",
        r"文本必须是字符串，这里是数字 5",
        line=1,
    ),
    Case(
        "jsonl-text-object",
        "obj.jsonl",
        jsonl({"text": {"a": 1}, "label": 1}),
        "DataFormatError",
        r"这里是对象",
        line=1,
    ),
    Case(
        "jsonl-text-bool", "bool.jsonl", jsonl({"text": True, "label": 1}), "DataFormatError", r"这里是布尔值", line=1
    ),
    Case(
        "jsonl-text-null",
        "null.jsonl",
        jsonl({"text": "好", "label": 1}, {"text": None, "label": 0}),
        "DataFormatError",
        r"文本必须是字符串，这里是 null",
        line=2,
    ),
    Case(
        "jsonl-text-and-label-null-not-a-blank-line",
        "nulls.jsonl",
        jsonl({"text": "好", "label": 1}, {"text": None, "label": None}),
        "DataFormatError",
        r"null",
        line=2,
    ),
    Case(
        "jsonl-label-list",
        "lablist.jsonl",
        jsonl({"text": "好", "label": [1]}),
        "UnknownLabelError",
        r"无法识别的标签 \[1\]",
        line=1,
    ),
    Case(
        "jsonl-label-null",
        "labnull.jsonl",
        jsonl({"text": "好", "label": None}),
        "UnknownLabelError",
        r"无法识别的标签 None",
        line=1,
    ),
    Case(
        "jsonl-lone-surrogate",
        "sur.jsonl",
        '{"text": "好", "label": 1}\n{"text": "\\ud800", "label": 1}\n',
        "DecodeError",
        r"字段 text：文本中有单独的代理字符 U\+D800",
        line=2,
    ),
    Case(
        "jsonl-duplicate-text-key",
        "dupkey.jsonl",
        '{"text": "好", "text": "差", "label": 1}\n',
        "DataFormatError",
        r"字段 'text' 出现了 2 次",
        line=1,
    ),
    Case("jsonl-deep-nesting", "deep.jsonl", "[" * 100_000 + "\n", "DataFormatError", r"嵌套太深", line=1),
    Case(
        "jsonl-huge-number",
        "bignum.jsonl",
        '{"text": "好", "label": ' + "1" * 5000 + "}\n",
        "DataFormatError",
        r"数字位数太多",
        line=1,
    ),
    Case(
        "jsonl-array-line",
        "arr.jsonl",
        '{"text": "好", "label": 1}\n[1, 2]\n',
        "DataFormatError",
        r"必须是一个 JSON 对象",
        line=2,
    ),
    Case(
        "jsonl-bad-json",
        "bad.jsonl",
        '{"text": "好", "label": 1}\n{oops\n',
        "DataFormatError",
        r"不是合法的 JSON",
        line=2,
    ),
    Case(
        "jsonl-missing-field",
        "miss.jsonl",
        '{"text": "好", "label": 1}\n{"text": "差"}\n',
        "MissingColumnError",
        r"没有字段 'label'",
        line=2,
    ),
    Case(
        "jsonl-raw-tab-in-string-accepted",
        "tab.jsonl",
        '{"text": "好\t评", "label": 1}\n',
        None,
        check=lambda ds: ds.texts == ["好 评"],
    ),
    # --- CSV rows with more cells than the header: an unquoted comma cut the text
    Case(
        "csv-unquoted-comma-text-first",
        "cut.csv",
        table([("好", "1"), ("房间很大,干净", "1")]),
        "DataFormatError",
        r"这一行有 3 列，多于表头的 2 列.*双引号",
        line=3,
    ),
    Case(
        "csv-unquoted-comma-label-first",
        "cut2.csv",
        "label,text\n1,房间很大,干净\n0,差\n",
        "DataFormatError",
        r"有 3 列，多于表头的 2 列",
        line=2,
    ),
    Case("tsv-unquoted-tab", "cut.tsv", "text\tlabel\n好\t评\t1\n", "DataFormatError", r"制表符", line=2),
    Case(
        "csv-trailing-empty-cell-accepted",
        "trail.csv",
        "text,label\n好,1,\n差,0, \n",
        None,
        check=lambda ds: ds.texts == ["好", "差"] and ds.labels == [1, 0],
    ),
    Case("csv-too-few-cells", "few.csv", "text,label\n好,1\n差\n", "DataFormatError", r"只有 1 列", line=3),
    # --- quotes: the line where an unterminated quote opened
    Case(
        "csv-unterminated-quote-line-2",
        "quote.csv",
        'text,label\n"好,1\n差,0\n还行,1\n',
        "DataFormatError",
        r"这一行开始的引号直到文件末尾都没有闭合",
        line=2,
    ),
    Case(
        "csv-unterminated-quote-last-line",
        "quote2.csv",
        'text,label\n好,1\n"差,0',
        "DataFormatError",
        r"没有闭合",
        line=3,
    ),
    Case(
        "csv-quote-closed-late",
        "quote3.csv",
        'text,label\n"好,1\n差,0\n"还行",1\n',
        "DataFormatError",
        r"到第 4 行才闭合",
        line=2,
    ),
    Case(
        "csv-text-after-closing-quote",
        "quote4.csv",
        'text,label\n好,1\n"好"评,1\n',
        "DataFormatError",
        r'结束引号后面还紧跟着别的字符.*""',
        line=3,
    ),
    Case(
        "csv-multiline-quoted-text-accepted",
        "multi.csv",
        'text,label\n"第一行\n第二行",1\n"他说""好""",0\n',
        None,
        check=lambda ds: ds.texts == ["第一行 第二行", '他说"好"'] and ds.lines == [2, 4],
    ),
    Case(
        "csv-error-after-multiline-row-names-its-line",
        "multi2.csv",
        'text,label\n"多\n行",1\n好,maybe\n',
        "UnknownLabelError",
        r"'maybe'",
        line=4,
    ),
    Case(
        "csv-multiline-row-error-names-first-line",
        "multi3.csv",
        'text,label\n好,1\n"多\n行",maybe\n',
        "UnknownLabelError",
        r"'maybe'",
        line=3,
    ),
    # --- header and cells
    Case("csv-missing-column", "nocol.csv", "review,label\n好,1\n", "MissingColumnError", r"没有列 'text'", line=1),
    Case(
        "csv-repeated-column",
        "twice.csv",
        "text,text,label\n好,差,1\n",
        "DataFormatError",
        r"列 'text' 出现了 2 次",
        line=1,
    ),
    Case(
        "csv-other-column-names",
        "cols.csv",
        "评论,情感\n好,积极\n",
        None,
        kwargs=(("text_col", "评论"), ("label_col", "情感")),
        check=lambda ds: ds.texts == ["好"] and ds.labels == [1],
    ),
    Case("csv-empty-text", "et.csv", "text,label\n好,1\n  ,0\n", "EmptyTextError", r"字段 text：文本为空", line=3),
    Case("csv-unknown-label", "lab.csv", "text,label\n好,1\n差,maybe\n", "UnknownLabelError", r"'maybe'", line=3),
    Case(
        "csv-long-label-cut-in-message",
        "longlab.csv",
        "text,label\n好," + "x" * 5000 + "\n",
        "UnknownLabelError",
        r"无法识别的标签 'x{30,40}…（",
        line=2,
    ),
    # --- empty and blank
    Case("empty-file", "empty.csv", "", "EmptyFileError", r"文件是空的"),
    Case("header-only", "head.csv", "text,label\n\n", "EmptyFileError", r"没有任何数据行"),
    Case("blank-lines-only-jsonl", "blank.jsonl", "\n  \n\n", "EmptyFileError", r"没有任何数据行"),
    Case(
        "blank-lines-counted",
        "blanks.csv",
        "text,label\n\n好,1\n   \n,\n差,0\n",
        None,
        check=lambda ds: ds.report.blank_lines_skipped == 3 and ds.lines == [3, 6],
    ),
    # --- encodings
    Case(
        "utf8-bom-accepted",
        "bom.csv",
        codecs.BOM_UTF8 + "text,label\n很好,1\n".encode(),
        None,
        check=lambda ds: ds.report.encoding == "utf-8-sig" and ds.texts == ["很好"],
    ),
    Case(
        "gbk-accepted",
        "gbk.csv",
        "text,label\n酒店位置不错,积极\n".encode("gbk"),
        None,
        check=lambda ds: ds.report.encoding == "gb18030" and ds.texts == ["酒店位置不错"],
    ),
    Case(
        "gb18030-four-byte-accepted",
        "gb.csv",
        "text,label\n𠀀好,1\n".encode("gb18030"),
        None,
        check=lambda ds: ds.texts == ["𠀀好"],
    ),
    Case(
        "crlf-csv-accepted",
        "crlf.csv",
        b"text,label\r\n\xe5\xa5\xbd,1\r\n",
        None,
        check=lambda ds: ds.texts == ["好"] and ds.lines == [2],
    ),
    Case(
        "damaged-utf8",
        "dmg.csv",
        "text,label\n很好,1\n".encode() + b"\xff\xfe,0\n",
        "DecodeError",
        r"UTF-8 文件中有无法解码的字节",
        line=3,
    ),
    Case(
        "neither-utf8-nor-gbk",
        "bin.csv",
        b"text,label\n\xff\xff,1\n",
        "DecodeError",
        r"既不是 UTF-8 也不是 GBK",
        line=2,
    ),
    Case("utf16-with-bom", "u16.csv", "text,label\n好,1\n".encode("utf-16"), "DecodeError", r"UTF-16", line=1),
    Case("nul-byte", "nul.csv", "text,label\n好,1\n".encode("utf-16-le"), "DecodeError", r"NUL", line=1),
    # --- the path itself
    Case("directory", "adir.csv", None, "UnreadableFileError", r"是一个目录，不是文件$", setup="directory"),
    Case("missing-file", "nope.csv", None, "UnreadableFileError", r"找不到文件$", setup="missing"),
    Case("missing-parent-is-a-file", "nope.csv", None, "UnreadableFileError", r"找不到文件$", setup="under-a-file"),
    Case(
        "no-read-permission",
        "secret.csv",
        "text,label\n好,1\n",
        "UnreadableFileError",
        r"没有读取权限$",
        setup="permission",
    ),
    Case("other-os-error", "eio.csv", "text,label\n好,1\n", "UnreadableFileError", r"读取文件时出错", setup="oserror"),
    Case(
        "unsupported-format",
        "x.csv",
        "text,label\n好,1\n",
        "DataFormatError",
        r"不支持的格式 'xml'",
        kwargs=(("fmt", "xml"),),
    ),
    # --- training data: validated after de-duplication and conflict removal
    Case(
        "train-one-class",
        "pos.csv",
        table([(f"好评{i}", "1") for i in range(30)]),
        "TrainingDataError",
        r"去重后没有负面评论（读取 30 行.*剩 30 条，其中正面 30、负面 0）",
        train=True,
    ),
    Case(
        "train-all-conflicting",
        "conf.csv",
        table([(f"评论{i}", lab) for i in range(15) for lab in "10"]),
        "TrainingDataError",
        r"去重后一条也不剩（.*冲突文本 15 条（共 30 行：第 2、3、4、5、6 行……）",
        train=True,
    ),
    Case(
        "train-30-rows-dedup-to-9",
        "dup.csv",
        table([(f"评论{i % 9}", str(i % 9 % 2)) for i in range(30)]),
        "TrainingDataError",
        r"去重后只剩 9 条不重复的评论（读取 30 行，去掉重复 21 行（第 11、12、13、14、15 行……）",
        train=True,
    ),
    Case(
        "train-too-few-of-one-class",
        "skew.csv",
        table(balanced(6) + [(f"正{i}", "1") for i in range(20)]),
        "TrainingDataError",
        r"去重后负面评论只有 3 条.*每类至少需要 10 条",
        train=True,
    ),
    Case(
        "train-34-read-31-used-is-explained",
        "ok.csv",
        table(
            balanced(28) + [("评论0", "1"), ("评论1", "0"), ("冲突", "1"), ("冲突", "0"), ("冲突", "1"), ("独一", "1")]
        ),
        None,
        train=True,
        check=lambda ds: (
            len(ds) == 29
            and "读取 34 行，去掉重复 3 行（第 30、31、34 行）" in str(ds.report)
            and "冲突文本 1 条（共 2 行：第 32、33 行），剩 29 条" in str(ds.report)
            and str(ds.report).startswith("文件：")
        ),
    ),
    Case(
        "train-balanced-accepted",
        "fine.jsonl",
        jsonl(*({"text": f"评论{i}", "label": i % 2} for i in range(20))),
        None,
        train=True,
        check=lambda ds: len(ds) == 20 and ds.counts() == {1: 10, 0: 10},
    ),
]


def make_path(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Write the case's file (or make the path its setup asks for) and return it."""
    path = tmp_path / case.name
    if case.content is not None:
        path.write_bytes(case.content if isinstance(case.content, bytes) else case.content.encode("utf-8"))
    if case.setup == "directory":
        path.mkdir()
    elif case.setup == "under-a-file":
        (tmp_path / "plain").write_text("x")
        path = tmp_path / "plain" / case.name
    elif case.setup in ("permission", "oserror"):
        # The tests may run as root, which ignores file modes: simulate the refusal the OS would give.
        err = (
            PermissionError(errno.EACCES, "Permission denied")
            if case.setup == "permission"
            else OSError(errno.EIO, "Input/output error")
        )

        def refuse(self):
            raise err

        monkeypatch.setattr(Path, "read_bytes", refuse)
        monkeypatch.setattr(Path, "read_text", refuse)
    return path


def run(case: Case, path: Path) -> data.LabeledTexts:
    dataset = data.read_labeled_file(path, **dict(case.kwargs))
    return data.check_trainable(dataset) if case.train else dataset


def test_the_table_is_large_and_its_ids_unique():
    assert data.MAX_FIELD_CHARS == TOO_LONG - 1
    assert len(CASES) >= 30 and len({c.id for c in CASES}) == len(CASES)
    assert sum(c.error is None for c in CASES) >= 10  # valid edge cases that must be accepted


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_file(case, tmp_path, monkeypatch):
    path = make_path(case, tmp_path, monkeypatch)
    if case.error is None:
        result = run(case, path)
        assert case.check is None or case.check(result), result
        return
    with pytest.raises(CourseError) as info:
        run(case, path)
    err = info.value
    assert type(err) is getattr(data, case.error), repr(err)
    message = str(err)
    assert "\n" not in message
    where = re.escape(str(path)) + ("" if case.line is None else f" 第 {case.line} 行")
    assert re.match(where + r"( 字段 \S+)?：", message), message
    assert err.line == case.line, message
    assert re.search(case.pattern, message), message


# --------------------------------------------------------------------------- property-based tests
# Texts mix Chinese, ASCII, the CSV specials (comma, quote, tab, CR, LF) and Unicode line separators.
TEXT = st.text(st.sampled_from(list("好差房间很大ab Z9,\"'\t\r\n\u2028\u2029\u0085\u3000😀")), min_size=1, max_size=12)
LABEL = st.sampled_from(["1", "0", "pos", "neg", "正面", "负面", " Positive ", "FALSE"])
ROWS = st.lists(st.tuples(TEXT, LABEL), min_size=1, max_size=25).filter(
    lambda rows: all(data.normalize_whitespace(t) for t, _ in rows)
)
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def read_back(name: str, raw: bytes, **kwargs) -> data.LabeledTexts:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(raw)
        return data.read_labeled_file(path, **kwargs)


def written(rows, delimiter: str) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(["label", "text"])  # the label first: a comma cutting the text would show
    writer.writerows([(label, text) for text, label in rows])
    return out.getvalue().encode("utf-8")


@PROPERTY
@given(ROWS, st.sampled_from([("r.csv", ","), ("r.tsv", "\t")]))
def test_whatever_the_csv_module_writes_reads_back(rows, file):
    ds = read_back(file[0], written(rows, file[1]))
    assert ds.texts == [data.normalize_whitespace(t) for t, _ in rows]
    assert ds.labels == [data.parse_label(label, "-", 0) for _, label in rows]
    assert ds.lines[0] == 2 and ds.lines == sorted(set(ds.lines))


@PROPERTY
@given(ROWS, st.booleans())
def test_whatever_json_dumps_writes_reads_back(rows, ascii_only):
    lines = [json.dumps({"text": t, "label": label}, ensure_ascii=ascii_only) for t, label in rows]
    ds = read_back("r.jsonl", ("\n".join(lines) + "\n").encode("utf-8"))
    assert ds.texts == [data.normalize_whitespace(t) for t, _ in rows]
    assert ds.lines == list(range(1, len(rows) + 1))


PIECES = st.sampled_from(
    [
        "text",
        "label",
        ",",
        "\t",
        '"',
        '""',
        "\n",
        "\r\n",
        "\r",
        "1",
        "0",
        "好",
        "{",
        "}",
        ":",
        "[",
        "]",
        "null",
        '"text"',
        '"label"',
        " ",
        "\\",
        "\\ud800",
        "\u2028",
        "\x00",
        "\xff",
    ]
)
SOUP = st.lists(PIECES, max_size=40).map("".join)


def accepted_texts_are_clean(ds: data.LabeledTexts) -> bool:
    """Every text is non-empty, normalised and encodable as UTF-8 (no lone surrogate); every label 0 or 1."""
    return (
        all(t and t == data.normalize_whitespace(t) and not re.search("[\ud800-\udfff]", t) for t in ds.texts)
        and set(ds.labels) <= {0, 1}
        and len(ds.lines) == len(ds)
    )


@PROPERTY
@given(
    st.one_of(
        st.binary(max_size=200),
        SOUP.map(lambda s: s.encode("utf-8", "surrogatepass")),
        st.text(max_size=60).map(lambda s: s.encode("utf-8", "surrogatepass")),
    ),
    st.sampled_from(["f.csv", "f.tsv", "f.jsonl"]),
)
def test_arbitrary_bytes_raise_nothing_but_a_data_format_error(raw, name):
    try:
        ds = read_back(name, raw)
    except data.DataFormatError as err:
        assert "\n" not in str(err) and name in str(err)
    else:
        assert accepted_texts_are_clean(ds)


JSON_LINES = st.sampled_from(
    [
        '{"text": "好", "label": 1}',
        '{"text": "a\u2028b", "label": 0}',
        '{"text": "x\u0085y", "label": "neg"}',
        '{"text": null, "label": null}',
        '{"text": ["好"], "label": 1}',
        '{"text": 3, "label": 0}',
        '{"text": "\\ud800", "label": 1}',
        '{"text": "好", "label": 2}',
        '{"label": 1}',
        "[]",
        "{",
        "",
        "  ",
        "\r",
        '{"text": "a", "text": "b", "label": 1}',
        '{"text": " ", "label": 1}',
        '{"text": "好", "label": 1}\r',
    ]
)


@PROPERTY
@given(st.lists(JSON_LINES, min_size=1, max_size=12))
def test_json_lines_are_each_a_row_or_a_counted_blank_line(lines):
    try:
        ds = read_back("f.jsonl", ("\n".join(lines) + "\n").encode("utf-8"))
    except data.DataFormatError as err:
        assert err.line is None or 1 <= err.line <= len(lines)
        return
    assert accepted_texts_are_clean(ds)
    assert ds.report.blank_lines_skipped == sum(not line.strip() for line in lines)
    assert len(ds) + ds.report.blank_lines_skipped == len(lines)


@PROPERTY
@given(st.one_of(st.text(max_size=30), st.binary(max_size=30)))
def test_decode_bytes_returns_clean_text_or_a_decode_error(raw):
    try:
        text, encoding = data.decode_bytes(raw, "参数")
    except data.DecodeError as err:
        assert str(err).startswith("参数 第 ")
    else:
        assert encoding in ("utf-8", "utf-8-sig", "gb18030")
        assert not re.search("[\ud800-\udfff\x00]", text)
        text.encode("utf-8")


@PROPERTY
@given(st.lists(st.tuples(st.sampled_from([f"t{i}" for i in range(30)]), st.sampled_from([0, 1])), max_size=80))
def test_check_trainable_accepts_only_enough_distinct_rows_of_both_classes(pairs):
    dataset = data.LabeledTexts([t for t, _ in pairs], [lab for _, lab in pairs])
    try:
        result = data.check_trainable(dataset, min_rows=20, min_per_class=10)
    except data.TrainingDataError as err:
        assert "去重后" in str(err) and f"读取 {len(pairs)} 条" in str(err)
        return
    report = result.report
    assert len(set(result.texts)) == len(result) >= 20 and min(result.counts().values()) >= 10
    assert report.rows_read == len(result) + len(report.duplicate_lines) + len(report.conflict_lines)

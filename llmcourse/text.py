"""Chinese text processing: normalisation, jieba segmentation, stopwords.

Segmenting 17,000 reviews takes jieba several seconds, so `segment_corpus`
keeps its results in the course's cache (`llmcourse.cache`), keyed by the texts,
the jieba version, every setting that changes the result and this module's code;
a notebook run twice segments once. Taught in chapter 3.
"""

from __future__ import annotations

import collections
import dataclasses
import gzip
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Iterable, Sequence

import jieba
import numpy as np
import pandas as pd
import stopwordsiso
from tqdm.auto import tqdm

from llmcourse import cache, data, profiling

jieba.setLogLevel(logging.WARNING)  # jieba prints "Building prefix dict..." otherwise

# Negation words flip a review's meaning: removing them turns "不喜欢" into "喜欢".
NEGATION_WORDS = frozenset("不 没 没有 无 非 未 别 不是 不要 不会 不能".split())
# Words kept out of every stopword list for sentiment: the negations, degree words and contrasts.
SENTIMENT_KEEP_WORDS = NEGATION_WORDS | frozenset("很 非常 太 最 但是 却".split())

SEGMENT_MODES = ("accurate", "full", "search")


def to_halfwidth(text: str) -> str:
    """Map full-width ASCII forms (ＡＢＣ１２３，！) and the ideographic space to half-width. Taught in chapter 3."""
    out = []
    for ch in text:
        code = ord(ch)
        if code == 0x3000:
            out.append(" ")
        elif 0xFF01 <= code <= 0xFF5E:
            out.append(chr(code - 0xFEE0))
        else:
            out.append(ch)
    return "".join(out)


def normalize_text(text: str, lowercase: bool = True) -> str:
    """Half-width forms, collapsed whitespace and (by default) lower-case Latin letters. Taught in chapter 3."""
    text = data.normalize_whitespace(to_halfwidth(text))
    return text.lower() if lowercase else text


class Segmenter:
    """A jieba tokenizer of its own (a user dictionary here leaves jieba's global one alone).

    mode: "accurate" (jieba.cut), "full" (cut_all=True) or "search" (cut_for_search).
    Taught in chapter 3.
    """

    def __init__(
        self,
        mode: str = "accurate",
        hmm: bool = True,
        user_dict: str | os.PathLike | None = None,
        user_words: Iterable[str] = (),
        normalize: bool = True,
    ):
        if mode not in SEGMENT_MODES:
            raise ValueError(f"未知的分词模式 {mode!r}：可选 {', '.join(SEGMENT_MODES)}")
        self.mode = mode
        self.hmm = hmm
        self.normalize = normalize
        self.user_dict = None if user_dict is None else Path(user_dict)
        self.user_words = tuple(user_words)
        self._tokenizer: jieba.Tokenizer | None = None

    @property
    def tokenizer(self) -> "jieba.Tokenizer":
        """The jieba tokenizer, created (and its dictionary loaded) on first use."""
        if self._tokenizer is None:
            tok = jieba.Tokenizer()
            tok.initialize()
            if self.user_dict is not None:
                if not self.user_dict.is_file():
                    raise FileNotFoundError(f"找不到用户词典：{self.user_dict}")
                tok.load_userdict(str(self.user_dict))
            for word in self.user_words:
                tok.add_word(word)
            self._tokenizer = tok
        return self._tokenizer

    def fingerprint(self) -> str:
        """A string that changes whenever the segmentation of some text could change."""
        parts = [
            f"jieba={jieba.__version__}",
            f"mode={self.mode}",
            f"hmm={self.hmm}",
            f"normalize={self.normalize}",
            "words=" + "|".join(self.user_words),
        ]
        if self.user_dict is not None:
            parts.append("dict=" + hashlib.sha256(self.user_dict.read_bytes()).hexdigest())
        return ";".join(parts)

    def cut(self, text: str) -> list[str]:
        """Segment one text into a list of words (whitespace tokens dropped).

        jieba.cut returns a generator that can be consumed only once; a list can
        be reused.
        """
        if self.normalize:
            text = normalize_text(text)
        tok = self.tokenizer
        if self.mode == "full":
            words = tok.cut(text, cut_all=True, HMM=self.hmm)
        elif self.mode == "search":
            words = tok.cut_for_search(text, HMM=self.hmm)
        else:
            words = tok.cut(text, HMM=self.hmm)
        return [w for w in words if w.strip()]


_DEFAULT_SEGMENTER: Segmenter | None = None


def default_segmenter() -> Segmenter:
    """The shared accurate-mode segmenter (its dictionary is loaded once per process). Taught in chapter 3."""
    global _DEFAULT_SEGMENTER
    if _DEFAULT_SEGMENTER is None:
        _DEFAULT_SEGMENTER = Segmenter()
    return _DEFAULT_SEGMENTER


def segment(text: str, segmenter: Segmenter | None = None) -> list[str]:
    """Words of one text, with the default segmenter unless one is given. Taught in chapter 3."""
    return (segmenter or default_segmenter()).cut(text)


def _write_tokens(tokens: list[list[str]], folder: Path) -> None:
    with gzip.open(folder / "tokens.json.gz", "wt", encoding="utf-8") as handle:
        json.dump(tokens, handle, ensure_ascii=False)


def _read_tokens(folder: Path) -> list[list[str]]:
    with gzip.open(folder / "tokens.json.gz", "rt", encoding="utf-8") as handle:
        return json.load(handle)


def segment_corpus(
    texts: Sequence[str],
    segmenter: Segmenter | None = None,
    use_cache: bool = True,
    directory: str | os.PathLike | None = None,
    progress: bool = True,
) -> list[list[str]]:
    """Segment many texts, reading from / writing to the course's cache.

    The entry's key hashes the texts, the jieba version, the segmenter's settings and
    this module's code, so a changed text, setting or function never reuses old tokens.
    directory: a cache root of its own (default `cache.cache_dir()`). Taught in chapter 3.
    """
    segmenter = segmenter or default_segmenter()
    texts = list(texts)

    def compute() -> list[list[str]]:
        items: Iterable[str] = texts
        if progress and len(texts) > 2000:
            items = tqdm(texts, desc="jieba 分词", unit="条")
        with profiling.stage("segmentation"):
            return [segmenter.cut(t) for t in items]

    key = cache.make_key(__name__, segmenter.fingerprint(), texts)
    tokens, _ = cache.cached("segments", key, compute, _write_tokens, _read_tokens, directory, enabled=use_cache)
    return tokens


# --------------------------------------------------------------------------- stopwords
def load_stopwords(keep: Iterable[str] = SENTIMENT_KEEP_WORDS, extra: Iterable[str] = ()) -> frozenset[str]:
    """Chinese stopwords of stopwordsiso (794 entries), minus `keep`, plus `extra`.

    By default negation and degree words (不, 没有, 很, 非常, 但是 ...) are kept
    out of the list because they carry the sentiment; pass `keep=()` for the
    raw list.
    Taught in chapter 3.
    """
    words = set(stopwordsiso.stopwords("zh"))
    return frozenset((words - set(keep)) | set(extra))


def remove_stopwords(tokens: Sequence[str], stopwords: frozenset[str] | set[str]) -> list[str]:
    """The tokens that are not stopwords, in order. Taught in chapter 3."""
    return [t for t in tokens if t not in stopwords]


def tokenize_corpus(
    texts: Sequence[str],
    stopwords: frozenset[str] | set[str] | None = None,
    segmenter: Segmenter | None = None,
    use_cache: bool = True,
    progress: bool = True,
) -> list[list[str]]:
    """Segment (cached) then drop stopwords: the token lists the vectors module needs. Taught in chapter 3."""
    segmented = segment_corpus(texts, segmenter, use_cache=use_cache, progress=progress)
    if not stopwords:
        return segmented
    return [remove_stopwords(tokens, stopwords) for tokens in segmented]


# --------------------------------------------------------------------------- segmentation quality
def word_spans(words: Sequence[str]) -> set[tuple[int, int]]:
    """(start, end) character offsets of every word of one segmented sentence. Taught in chapter 3."""
    spans, start = set(), 0
    for word in words:
        spans.add((start, start + len(word)))
        start += len(word)
    return spans


def _prf(correct: int, n_predicted: int, n_gold: int) -> tuple[float, float, float]:
    if n_predicted == 0 and n_gold == 0:
        return 1.0, 1.0, 1.0
    precision = correct / n_predicted if n_predicted else 0.0
    recall = correct / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


@dataclasses.dataclass(frozen=True)
class SegmentationScores:
    """Word-level and boundary-level precision, recall and F1 of a segmentation.

    Word level (the SIGHAN bakeoff measure): a predicted word is right when both
    of its ends match a gold word. Boundary level: each cut point inside a
    sentence is a decision; sentence starts and ends are not counted.
    Taught in chapter 3.
    """

    precision: float
    recall: float
    f1: float
    boundary_precision: float
    boundary_recall: float
    boundary_f1: float
    predicted_words: int
    gold_words: int
    sentences: int

    def __str__(self) -> str:
        return (
            f"{self.sentences:,d} 句，标准答案 {self.gold_words:,d} 词，分词结果 {self.predicted_words:,d} 词\n"
            f"词级：  精确率 {self.precision:.4f}  召回率 {self.recall:.4f}  F1 {self.f1:.4f}\n"
            f"切分点：精确率 {self.boundary_precision:.4f}  召回率 {self.boundary_recall:.4f}  "
            f"F1 {self.boundary_f1:.4f}"
        )


def segmentation_scores(
    predicted: Sequence[Sequence[str]] | Sequence[str], gold: Sequence[Sequence[str]] | Sequence[str]
) -> SegmentationScores:
    """Compare a segmentation with a hand-segmented gold standard.

    `predicted` and `gold` are one sentence (a list of words) or many (a list
    of word lists) covering the same characters, sentence by sentence; only the
    character counts must agree, so a normalised (half-width) copy can be
    compared with the original. Counts are pooled over all sentences.
    Taught in chapter 3.
    """
    if predicted and isinstance(predicted[0], str):
        predicted = [predicted]
    if gold and isinstance(gold[0], str):
        gold = [gold]
    if len(predicted) != len(gold):
        raise ValueError(f"分词结果有 {len(predicted)} 句，标准答案有 {len(gold)} 句，数目必须相同")
    word_hits = n_pred = n_gold = 0
    cut_hits = n_pred_cuts = n_gold_cuts = 0
    for index, (pred_words, gold_words) in enumerate(zip(predicted, gold)):
        pred_len, gold_len = sum(map(len, pred_words)), sum(map(len, gold_words))
        if pred_len != gold_len:
            raise ValueError(
                f"第 {index} 句：分词结果共 {pred_len} 个字，标准答案共 {gold_len} 个字，两者必须覆盖相同的文字"
            )
        pred_spans, gold_spans = word_spans(pred_words), word_spans(gold_words)
        word_hits += len(pred_spans & gold_spans)
        n_pred += len(pred_spans)
        n_gold += len(gold_spans)
        pred_cuts = {end for _, end in pred_spans} - {pred_len}
        gold_cuts = {end for _, end in gold_spans} - {gold_len}
        cut_hits += len(pred_cuts & gold_cuts)
        n_pred_cuts += len(pred_cuts)
        n_gold_cuts += len(gold_cuts)
    return SegmentationScores(
        *_prf(word_hits, n_pred, n_gold), *_prf(cut_hits, n_pred_cuts, n_gold_cuts), n_pred, n_gold, len(gold)
    )


def segmentation_differences(
    predicted: Sequence[Sequence[str]], gold: Sequence[Sequence[str]]
) -> tuple[collections.Counter, collections.Counter]:
    """(missed, extra): Counters of gold words the segmentation did not produce, and of its words not in gold.

    Sentences are compared span by span, as in `segmentation_scores`. Taught in chapter 3.
    """
    missed, extra = collections.Counter(), collections.Counter()
    for pred_words, gold_words in zip(predicted, gold):
        sentence = "".join(gold_words)
        pred_spans, gold_spans = word_spans(pred_words), word_spans(gold_words)
        missed.update(sentence[a:b] for a, b in gold_spans - pred_spans)
        extra.update(sentence[a:b] for a, b in pred_spans - gold_spans)
    return missed, extra


def segmentation_difference_table(
    predicted: Sequence[Sequence[str]], gold: Sequence[Sequence[str]], k: int = 10
) -> pd.DataFrame:
    """The k most frequent missed gold words and extra predicted words side by side, with their counts.

    Taught in chapter 3.
    """
    missed, extra = segmentation_differences(predicted, gold)
    rows = [
        {
            "名次": rank,
            "jieba 没切出的人工词（次数）": f"{m_word}（{m_n:,d}）",
            "jieba 多切出的词（次数）": f"{e_word}（{e_n:,d}）",
        }
        for rank, ((m_word, m_n), (e_word, e_n)) in enumerate(zip(missed.most_common(k), extra.most_common(k)), 1)
    ]
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- words and labels
def contains_any(token_lists: Sequence[Sequence[str]], words: Iterable[str]) -> np.ndarray:
    """Boolean array: does each token list contain at least one of `words`? Taught in chapter 3."""
    words = frozenset(words)
    return np.array([any(w in words for w in tokens) for tokens in token_lists], dtype=bool)


def stopword_changes(texts: Sequence[str], stopwords_a: Iterable[str], stopwords_b: Iterable[str]) -> int:
    """How many texts end up with different tokens under the two stopword lists. Taught in chapter 3."""
    a, b = frozenset(stopwords_a), frozenset(stopwords_b)
    return sum(remove_stopwords(tokens, a) != remove_stopwords(tokens, b) for tokens in map(segment, texts))


def word_label_table(
    token_lists: Sequence[Sequence[str]], labels: Sequence[int], words: Iterable[str], by_count: bool = False
) -> pd.DataFrame:
    """For each word: how many token lists contain it and the positive share among them.

    With `by_count`, words are sorted by that number (ties by the word) and
    absent words are left out; otherwise the order of `words` is kept and an
    absent word has no share. Taught in chapters 2 and 3.
    """
    token_sets = [set(tokens) for tokens in token_lists]
    labels = np.asarray(labels)
    rows = []
    for word in words:
        has_word = np.array([word in ts for ts in token_sets], dtype=bool)
        share = labels[has_word].mean() if has_word.any() else float("nan")
        rows.append({"词": word, "含这个词的训练评论": int(has_word.sum()), "其中正面评论的比例": share})
    frame = pd.DataFrame(rows)
    if by_count:
        frame = frame[frame["含这个词的训练评论"] > 0]
        frame = frame.sort_values(["含这个词的训练评论", "词"], ascending=[False, True], ignore_index=True)
    frame.attrs["formats"] = {"含这个词的训练评论": "{:,d}", "其中正面评论的比例": "{:.1%}"}
    return frame


# --------------------------------------------------------------------------- negation probes
# Short review sentences whose polarity hangs on a negation, written for the course (chapter 3):
# a negated praise is negative (0), a negated complaint is positive (1); 18 of each, hotel, book and
# computer reviews. In every one jieba leaves the negation as a word of its own, so removing
# NEGATION_WORDS changes its tokens (sentences such as 不错 or 不卡, one word for jieba, were left out).
NEGATION_PROBES: tuple[tuple[str, int], ...] = (
    ("早餐不好吃", 0),
    ("不推荐入住", 0),
    ("房间不干净", 0),
    ("服务不热情", 0),
    ("床不舒服", 0),
    ("前台态度不友好", 0),
    ("交通不方便", 0),
    ("不是很满意", 0),
    ("不会再来了", 0),
    ("没有宣传的那么好", 0),
    ("这本书不好看", 0),
    ("内容不精彩", 0),
    ("不喜欢这本书的翻译", 0),
    ("屏幕不清楚", 0),
    ("电池不耐用", 0),
    ("散热不理想", 0),
    ("系统运行不流畅", 0),
    ("不值得买", 0),
    ("一点也不吵", 1),
    ("房间没有异味", 1),
    ("晚上没有噪音", 1),
    ("房间没有蚊子", 1),
    ("价格不贵", 1),
    ("没有什么缺点", 1),
    ("买了不会失望", 1),
    ("没有让我失望", 1),
    ("不后悔买了这本书", 1),
    ("故事一点都不枯燥", 1),
    ("书里没有错别字", 1),
    ("包装没有破损", 1),
    ("送货不慢", 1),
    ("开机不慢", 1),
    ("从来没有死机", 1),
    ("运行没有任何问题", 1),
    ("没有发热的问题", 1),
    ("电脑用着没毛病", 1),
)


def negation_probes():
    """NEGATION_PROBES as `data.LabeledTexts` (texts and 0/1 labels), ready for `evaluation.evaluate`.

    Taught in chapter 3.
    """
    return data.LabeledTexts([t for t, _ in NEGATION_PROBES], [label for _, label in NEGATION_PROBES])


def _accuracy_row(
    name: str, run: tuple, test_labels: np.ndarray, has_negation: np.ndarray, probe_labels: np.ndarray
) -> dict:
    val_acc, test_probs, probe_probs, seconds = run
    correct = (np.asarray(test_probs) >= 0.5) == (test_labels == 1)
    probe_correct = (np.asarray(probe_probs) >= 0.5) == (probe_labels == 1)
    return {
        "设置": name,
        "验证集": val_acc,
        "测试集": correct.mean(),
        f"含否定词的测试评论（{has_negation.sum():,d} 条）": correct[has_negation].mean(),
        f"不含否定词的测试评论（{(~has_negation).sum():,d} 条）": correct[~has_negation].mean(),
        f"探针句：全部 {len(probe_labels)} 条": probe_correct.mean(),
        f"探针句：负面 {(probe_labels == 0).sum()} 条": probe_correct[probe_labels == 0].mean(),
        f"探针句：正面 {(probe_labels == 1).sum()} 条": probe_correct[probe_labels == 1].mean(),
        "每轮秒数": seconds,
    }


def negation_accuracy_table(
    results: dict[str, tuple], test_labels: Sequence[int], has_negation: Sequence[bool], probe_labels: Sequence[int]
) -> pd.DataFrame:
    """Accuracy of each model overall, on test reviews with and without a negation, and on the probes.

    `results` maps a name to (validation accuracy, test probabilities, probe
    probabilities, seconds per epoch); probabilities of at least 0.5 mean
    positive. Taught in chapter 3.
    """
    test_labels, probe_labels = np.asarray(test_labels), np.asarray(probe_labels)
    has_negation = np.asarray(has_negation, dtype=bool)
    frame = pd.DataFrame(
        [_accuracy_row(name, run, test_labels, has_negation, probe_labels) for name, run in results.items()]
    )
    frame.attrs["formats"] = {**{column: "{:.4f}" for column in frame.columns[1:-1]}, "每轮秒数": "{:.1f}"}
    return frame


def probe_table(probe_probabilities: dict[str, Sequence[float]]) -> pd.DataFrame:
    """Each probe sentence, its label and every model's positive probability, marked ✗ when wrong.

    `probe_probabilities` maps a model name to probabilities in the order of
    NEGATION_PROBES. Taught in chapter 3.
    """
    rows = []
    for i, (probe, label) in enumerate(NEGATION_PROBES):
        row = {"探针句": probe, "标签": data.LABEL_NAMES[label]}
        for name, probs in probe_probabilities.items():
            p = probs[i]
            row[name] = f"{p:.2f}{'' if (p >= 0.5) == (label == 1) else ' ✗'}"
        rows.append(row)
    return pd.DataFrame(rows)

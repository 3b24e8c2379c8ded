"""Chinese text processing: normalisation, jieba segmentation, stopwords.

Segmenting 17,000 reviews takes jieba several seconds, so `segment_corpus`
keeps an on-disk cache keyed by the texts, the jieba version and every
setting that changes the result; a notebook run twice segments once.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import logging
import os
import re
from pathlib import Path
from typing import Iterable, Sequence

import jieba

jieba.setLogLevel(logging.WARNING)  # jieba prints "Building prefix dict..." otherwise

# Negation and degree words: removing them turns "不喜欢" into "喜欢".
SENTIMENT_KEEP_WORDS = frozenset(
    "不 没 没有 无 非 未 别 不是 不要 不会 不能 很 非常 太 最 但是 却".split()
)

SEGMENT_MODES = ("accurate", "full", "search")
_SPACE_RUN = re.compile(r"\s+")


def to_halfwidth(text: str) -> str:
    """Map full-width ASCII forms (ＡＢＣ１２３，！) and the ideographic space to half-width."""
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
    """Half-width forms, collapsed whitespace and (by default) lower-case Latin letters."""
    text = _SPACE_RUN.sub(" ", to_halfwidth(text)).strip()
    return text.lower() if lowercase else text


class Segmenter:
    """A jieba tokenizer of its own (a user dictionary here leaves jieba's global one alone).

    mode: "accurate" (jieba.cut), "full" (cut_all=True) or "search" (cut_for_search).
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
        parts = [f"jieba={jieba.__version__}", f"mode={self.mode}", f"hmm={self.hmm}",
                 f"normalize={self.normalize}", "words=" + "|".join(self.user_words)]
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
    """The shared accurate-mode segmenter (its dictionary is loaded once per process)."""
    global _DEFAULT_SEGMENTER
    if _DEFAULT_SEGMENTER is None:
        _DEFAULT_SEGMENTER = Segmenter()
    return _DEFAULT_SEGMENTER


def segment(text: str, segmenter: Segmenter | None = None) -> list[str]:
    """Words of one text, with the default segmenter unless one is given."""
    return (segmenter or default_segmenter()).cut(text)


def cache_dir() -> Path:
    """Where segmented corpora are cached: $LLMCOURSE_CACHE_DIR or ~/.cache/llmcourse."""
    root = os.environ.get("LLMCOURSE_CACHE_DIR") or Path.home() / ".cache" / "llmcourse"
    return Path(root)


def _cache_key(texts: Sequence[str], segmenter: Segmenter) -> str:
    digest = hashlib.sha256(segmenter.fingerprint().encode("utf-8"))
    for text in texts:
        digest.update(text.encode("utf-8"))
        digest.update(b"\x00")
    return digest.hexdigest()[:32]


def segment_corpus(
    texts: Sequence[str],
    segmenter: Segmenter | None = None,
    use_cache: bool = True,
    directory: str | os.PathLike | None = None,
    progress: bool = True,
) -> list[list[str]]:
    """Segment many texts, reading from / writing to the on-disk cache.

    The cache file is named after a hash of the texts, the jieba version and the
    segmenter's settings, so a changed text or setting never reuses old tokens.
    """
    segmenter = segmenter or default_segmenter()
    path = Path(directory or cache_dir()) / f"segments-{_cache_key(texts, segmenter)}.json.gz"
    if use_cache and path.is_file():
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            return json.load(handle)
    items: Iterable[str] = texts
    if progress and len(texts) > 2000:
        from tqdm.auto import tqdm

        items = tqdm(texts, desc="jieba 分词", unit="条")
    tokens = [segmenter.cut(text) for text in items]
    if use_cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        with gzip.open(tmp, "wt", encoding="utf-8") as handle:
            json.dump(tokens, handle, ensure_ascii=False)
        os.replace(tmp, path)  # atomic: a parallel reader never sees half a file
    return tokens


# --------------------------------------------------------------------------- stopwords
def load_stopwords(
    keep: Iterable[str] = SENTIMENT_KEEP_WORDS, extra: Iterable[str] = ()
) -> frozenset[str]:
    """Chinese stopwords of stopwordsiso (794 entries), minus `keep`, plus `extra`.

    By default negation and degree words (不, 没有, 很, 非常, 但是 ...) are kept
    out of the list because they carry the sentiment; pass `keep=()` for the
    raw list.
    """
    import stopwordsiso

    words = set(stopwordsiso.stopwords("zh"))
    return frozenset((words - set(keep)) | set(extra))


def remove_stopwords(tokens: Sequence[str], stopwords: frozenset[str] | set[str]) -> list[str]:
    """The tokens that are not stopwords, in order."""
    return [t for t in tokens if t not in stopwords]


def tokenize_corpus(
    texts: Sequence[str],
    stopwords: frozenset[str] | set[str] | None = None,
    segmenter: Segmenter | None = None,
    use_cache: bool = True,
    progress: bool = True,
) -> list[list[str]]:
    """Segment (cached) then drop stopwords: the token lists the vectors module needs."""
    segmented = segment_corpus(texts, segmenter, use_cache=use_cache, progress=progress)
    if not stopwords:
        return segmented
    return [remove_stopwords(tokens, stopwords) for tokens in segmented]


# --------------------------------------------------------------------------- segmentation quality
def word_spans(words: Sequence[str]) -> set[tuple[int, int]]:
    """(start, end) character offsets of every word of one segmented sentence."""
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
        return (f"{self.sentences:,d} 句，标准答案 {self.gold_words:,d} 词，分词结果 {self.predicted_words:,d} 词\n"
                f"词级：  精确率 {self.precision:.4f}  召回率 {self.recall:.4f}  F1 {self.f1:.4f}\n"
                f"切分点：精确率 {self.boundary_precision:.4f}  召回率 {self.boundary_recall:.4f}  "
                f"F1 {self.boundary_f1:.4f}")


def segmentation_scores(
    predicted: Sequence[Sequence[str]] | Sequence[str], gold: Sequence[Sequence[str]] | Sequence[str]
) -> SegmentationScores:
    """Compare a segmentation with a hand-segmented gold standard.

    `predicted` and `gold` are one sentence (a list of words) or many (a list
    of word lists) covering the same characters, sentence by sentence; only the
    character counts must agree, so a normalised (half-width) copy can be
    compared with the original. Counts are pooled over all sentences.
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
    return SegmentationScores(*_prf(word_hits, n_pred, n_gold), *_prf(cut_hits, n_pred_cuts, n_gold_cuts),
                              n_pred, n_gold, len(gold))


# --------------------------------------------------------------------------- negation probes
# The negation words among SENTIMENT_KEEP_WORDS (the degree words and 但是/却 left out).
NEGATION_WORDS = frozenset("不 没 没有 无 非 未 别 不是 不要 不会 不能".split())

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
    """NEGATION_PROBES as `data.LabeledTexts` (texts and 0/1 labels), ready for `evaluation.evaluate`."""
    from llmcourse import data

    return data.LabeledTexts([t for t, _ in NEGATION_PROBES], [label for _, label in NEGATION_PROBES])

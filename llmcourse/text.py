"""Chinese text processing: normalisation, jieba segmentation, stopwords.

Segmenting 17,000 reviews takes jieba several seconds, so `segment_corpus`
keeps an on-disk cache keyed by the texts, the jieba version and every
setting that changes the result; a notebook run twice segments once.
"""

from __future__ import annotations

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

"""From token lists to numbers: vocabulary, padded id arrays, Word2Vec, embedding matrix.

Conventions used across the course: id 0 is padding, id 1 is the unknown
word; sequences are padded *after* the text (`post`), which keeps the
LSTM eligible for the cuDNN kernel on a GPU. A `TextEncoder` segments at most
`max_len * CHARS_PER_TOKEN` characters of each text: the part its model reads.
"""

from __future__ import annotations

import collections
import json
import os
import zlib
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
from gensim.models import KeyedVectors, Word2Vec
from sklearn.decomposition import PCA

from llmcourse import cache, profiling, text
from llmcourse.config import resolve_seed

PAD_ID, UNK_ID = 0, 1
PAD_TOKEN, UNK_TOKEN = "<pad>", "<unk>"
VOCAB_FORMAT = "llmcourse.vocabulary/1"
MAX_LEN_LIMIT = 10_000  # the most tokens a TextEncoder keeps per text (a saved max_len above it is refused)
# Characters segmented per kept token. On the shipped corpus the max_len-th kept token never lies
# beyond 4.67 characters per token (any stopword list of chapter 3), and cutting at 5 per token already
# gives identical encodings at max_len 48 and 400; 8 leaves a margin (tests/test_vectors.py checks it).
CHARS_PER_TOKEN = 8


class Vocabulary:
    """A word <-> id mapping with 0 = padding and 1 = unknown. Taught in chapter 3.

    char_fallback: a word outside the vocabulary is read as its characters (those in
    the vocabulary; the others become UNK_ID) instead of one UNK_ID, so an unfamiliar
    product name or a segmentation error still reaches the model through its characters.
    """

    def __init__(self, words: Iterable[str], counts: dict[str, int] | None = None, char_fallback: bool = False):
        self.char_fallback = bool(char_fallback)
        self.index_to_word: list[str] = [PAD_TOKEN, UNK_TOKEN]
        for word in words:
            if word in (PAD_TOKEN, UNK_TOKEN):
                continue
            self.index_to_word.append(word)
        self.word_to_index = {w: i for i, w in enumerate(self.index_to_word)}
        if len(self.word_to_index) != len(self.index_to_word):
            raise ValueError("词表中有重复的词")
        self.counts = dict(counts or {})

    @classmethod
    def build(
        cls,
        token_lists: Iterable[Sequence[str]],
        min_count: int = 1,
        max_size: int | None = None,
        char_fallback: bool = False,
    ) -> "Vocabulary":
        """Most frequent words first (ties by the word itself, so the order is stable).

        max_size counts the two special ids: max_size=10 gives 8 real words.
        char_fallback: also keep every character seen at least min_count times inside
        the words (after the words, which give up the last places if max_size is reached).
        """
        if max_size is not None and max_size < 2:
            raise ValueError("max_size 至少为 2（填充符和未知词各占一个位置）")
        counter: collections.Counter[str] = collections.Counter()
        for tokens in token_lists:
            counter.update(tokens)
        ranked = sorted((w for w, c in counter.items() if c >= min_count), key=lambda w: (-counter[w], w))
        counts = {w: counter[w] for w in ranked}
        extra: list[str] = []  # characters kept besides the words (char_fallback)
        if char_fallback:
            chars: collections.Counter[str] = collections.Counter()
            for word, n in counter.items():
                for char in word:
                    chars[char] += n
            extra = sorted(
                (c for c, n in chars.items() if n >= min_count and c not in counts), key=lambda c: (-chars[c], c)
            )
            counts.update((c, chars[c]) for c in extra)
        room = None if max_size is None else max_size - 2
        extra = extra[:room]
        kept = ranked[: None if room is None else room - len(extra)] + extra
        return cls(kept, {w: counts[w] for w in kept}, char_fallback)

    def __len__(self) -> int:
        return len(self.index_to_word)

    def __contains__(self, word: str) -> bool:
        return word in self.word_to_index

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Vocabulary)
            and self.index_to_word == other.index_to_word
            and self.char_fallback == other.char_fallback
        )

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} 个词，含 {PAD_TOKEN} 与 {UNK_TOKEN})"

    def encode(self, tokens: Sequence[str]) -> list[int]:
        """Ids of the tokens; words outside the vocabulary become UNK_ID (1), or their characters' ids."""
        get = self.word_to_index.get
        if not self.char_fallback:
            return [get(t, UNK_ID) for t in tokens]
        ids = []
        for token in tokens:
            index = get(token)
            ids.extend([index] if index is not None else [get(c, UNK_ID) for c in token])
        return ids

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Words of the ids, padding skipped."""
        return [self.index_to_word[i] for i in ids if i != PAD_ID]

    def to_dict(self) -> dict:
        out = {"format": VOCAB_FORMAT, "words": self.index_to_word[2:], "counts": self.counts}
        if self.char_fallback:  # written only when on, so that every earlier vocabulary file reads as before
            out["char_fallback"] = True
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "Vocabulary":
        if data.get("format") != VOCAB_FORMAT:
            raise ValueError("不是 llmcourse 词表文件（缺少 format 字段）")
        return cls(data["words"], data.get("counts"), data.get("char_fallback", False))

    def save(self, path: str | os.PathLike) -> None:
        """Write the vocabulary as UTF-8 JSON (readable, and safe to load)."""
        Path(path).write_text(json.dumps(self.to_dict(), ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Vocabulary":
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


def pad_sequences(sequences: Sequence[Sequence[int]], max_len: int, truncating: str = "post") -> np.ndarray:
    """Right-pad (post) with 0 and cut to max_len; returns int32 of shape (n, max_len).

    truncating="post" keeps the start of a long text, "pre" keeps its end.
    Taught in chapter 3.
    """
    if max_len < 1:
        raise ValueError("max_len 必须是正整数")
    if truncating not in ("post", "pre"):
        raise ValueError("truncating 只能是 'post' 或 'pre'")
    out = np.zeros((len(sequences), max_len), dtype=np.int32)  # (样本数, 时间步数)
    for row, seq in enumerate(sequences):
        seq = list(seq)[:max_len] if truncating == "post" else list(seq)[-max_len:]
        out[row, : len(seq)] = seq
    return out


def encode_corpus(
    vocab: Vocabulary, token_lists: Sequence[Sequence[str]], max_len: int, truncating: str = "post"
) -> np.ndarray:
    """Token lists -> padded id array of shape (n, max_len). Taught in chapter 3."""
    return pad_sequences([vocab.encode(t) for t in token_lists], max_len, truncating)


def stable_hash(text: str) -> int:
    """A hash that is the same in every process (Python's hash() of str is not). Taught in chapter 3."""
    return zlib.crc32(text.encode("utf-8"))


@profiling.timed("word2vec")
def train_word2vec(
    token_lists: Sequence[Sequence[str]],
    vector_size: int = 100,
    window: int = 5,
    min_count: int = 2,
    epochs: int = 10,
    sg: int = 1,
    seed: int | None = None,
    deterministic: bool = True,
    workers: int = 2,
):
    """Train gensim 4 Word2Vec on a *list of token lists* (one list per text).

    With `deterministic`, one worker thread and a process-independent hash make
    two runs give identical vectors. Returns the gensim Word2Vec model; its
    vectors are in `model.wv[word]`.
    Taught in chapter 3.
    """
    if isinstance(token_lists, (str, bytes)) or (token_lists and isinstance(token_lists[0], str)):
        raise TypeError(
            "Word2Vec 需要“词列表的列表”（每条文本一个列表）；传入扁平的词列表会把每个词当成一句由单字组成的句子"
        )
    sentences = [list(t) for t in token_lists if len(t) > 0]
    return Word2Vec(
        sentences=sentences,
        vector_size=vector_size,
        window=window,
        min_count=min_count,
        sg=sg,
        epochs=epochs,
        seed=resolve_seed(seed),
        workers=1 if deterministic else workers,
        hashfxn=stable_hash,
    )


def _save_vectors(kv, folder: Path) -> None:
    (folder / "words.json").write_text(json.dumps(kv.index_to_key, ensure_ascii=False), encoding="utf-8")
    np.save(folder / "vectors.npy", kv.vectors)


def _load_vectors(folder: Path):
    words = json.loads((folder / "words.json").read_text(encoding="utf-8"))
    matrix = np.load(folder / "vectors.npy")
    kv = KeyedVectors(vector_size=matrix.shape[1])
    kv.add_vectors(words, matrix)
    return kv


def cached_word2vec(token_lists: Sequence[Sequence[str]], directory: str | os.PathLike | None = None, **params):
    """`train_word2vec(token_lists, **params)`, kept in the course's cache (`llmcourse.cache`).

    The entry's key hashes every token, every parameter and this module's code, so
    any change trains anew. Only the vectors are stored (a JSON list of words and a
    NumPy array, no pickle); the result is a gensim KeyedVectors, which
    `embedding_matrix` and `nearest_words` accept like the full model.
    directory: a cache root of its own. Returns (keyed_vectors, was_cached). Taught in chapter 3.
    """
    key = cache.make_key(__name__, sorted(params.items()), [list(t) for t in token_lists])
    return cache.cached(
        "word2vec", key, lambda: train_word2vec(token_lists, **params).wv, _save_vectors, _load_vectors, directory
    )


def embedding_matrix(
    vocab: Vocabulary, word_vectors, seed: int | None = None, scale: float | None = None
) -> np.ndarray:
    """An array of shape (len(vocab), dim) whose row i is the vector of vocab word i.

    `word_vectors` is a gensim Word2Vec model or its KeyedVectors. Row 0
    (padding) is zero; words without a vector (and UNK_ID) get small random
    vectors with the spread of the trained ones, so they can still be learned.
    Taught in chapter 3.
    """
    kv = getattr(word_vectors, "wv", word_vectors)
    dim = kv.vector_size
    if scale is None:
        scale = float(np.std(kv.vectors)) if len(kv.index_to_key) else 0.1
    rng = np.random.default_rng(resolve_seed(seed))
    matrix = rng.normal(0.0, scale, size=(len(vocab), dim)).astype(np.float32)
    matrix[PAD_ID] = 0.0
    for index, word in enumerate(vocab.index_to_word):
        if index > UNK_ID and word in kv.key_to_index:
            matrix[index] = kv[word]
    return matrix


def embedding_coverage(vocab: Vocabulary, word_vectors) -> float:
    """Share of real vocabulary words (PAD_ID/UNK_ID excluded) that have a Word2Vec vector. Taught in chapter 3."""
    kv = getattr(word_vectors, "wv", word_vectors)
    words = vocab.index_to_word[2:]
    if not words:
        return 0.0
    return sum(w in kv.key_to_index for w in words) / len(words)


class TextEncoder:
    """Raw texts -> padded id arrays: segmentation, stopword removal, vocabulary, padding.

    The same object is used at training and prediction time, so a saved model
    sees its inputs prepared exactly as during training. An empty text (or one
    whose words are all stopwords) becomes [UNK_ID]: every row has length >= 1,
    which keeps masked recurrent layers (and cuDNN) well defined.

    Only the part of a text the model can read is segmented: its first `max_chars`
    (= max_len * CHARS_PER_TOKEN) characters, or its last ones when truncating="pre".
    A million-character text costs what a 400-character one does, and every review of
    the shipped corpus encodes exactly as without the cut. A text whose first max_len
    kept tokens need more characters than that (long runs of stopwords, punctuation
    or blanks) is read only up to the cut.
    Taught in chapter 3.
    """

    def __init__(self, vocab: Vocabulary, max_len: int, stopwords: Iterable[str] = (), truncating: str = "post"):
        if isinstance(max_len, bool) or not 1 <= int(max_len) <= MAX_LEN_LIMIT:
            raise ValueError(f"max_len 应在 1 到 {MAX_LEN_LIMIT} 之间，实际是 {max_len!r}")
        if truncating not in ("post", "pre"):
            raise ValueError("truncating 只能是 'post' 或 'pre'")
        self.vocab = vocab
        self.max_len = int(max_len)
        self.stopwords = frozenset(stopwords)
        self.truncating = truncating

    @property
    def max_chars(self) -> int:
        """The most characters of one text that are segmented: max_len * CHARS_PER_TOKEN."""
        return self.max_len * CHARS_PER_TOKEN

    def clip(self, texts: Sequence[str]) -> list[str]:
        """Each text cut to the max_chars characters its model reads: the start ("post") or the end ("pre")."""
        n = self.max_chars
        return [t[:n] if self.truncating == "post" else t[-n:] for t in texts]

    def tokens(self, texts: Sequence[str], use_cache: bool = False, progress: bool = False) -> list[list[str]]:
        """Token lists after cutting each text to `max_chars`, segmentation and stopword removal."""
        return text.tokenize_corpus(self.clip(texts), self.stopwords, use_cache=use_cache, progress=progress)

    def encode_tokens(self, token_lists: Sequence[Sequence[str]]) -> np.ndarray:
        ids = [self.vocab.encode(t) or [UNK_ID] for t in token_lists]
        return pad_sequences(ids, self.max_len, self.truncating)  # (样本数, max_len)

    def encode(self, texts: Sequence[str], use_cache: bool = False, progress: bool = False) -> np.ndarray:
        """Padded ids of shape (len(texts), max_len)."""
        return self.encode_tokens(self.tokens(texts, use_cache, progress))

    def config(self) -> dict:
        return {"max_len": self.max_len, "stopwords": sorted(self.stopwords), "truncating": self.truncating}


# --------------------------------------------------------------------------- looking at word vectors
def nearest_words(word_vectors, word: str, k: int = 5) -> list[tuple[str, float]]:
    """The k words whose vectors have the highest cosine similarity with `word`'s, with the similarity.

    `word_vectors` is a gensim Word2Vec model or its KeyedVectors; a word
    without a vector raises KeyError with a message saying so.
    Taught in chapter 3.
    """
    kv = getattr(word_vectors, "wv", word_vectors)
    if word not in kv.key_to_index:
        raise KeyError(f"“{word}”没有词向量（训练语料中出现次数少于 min_count，或者根本没出现）")
    return [(w, float(s)) for w, s in kv.most_similar(word, topn=k)]


def project_2d(word_vectors, words: Sequence[str], seed: int | None = None) -> np.ndarray:
    """2-D coordinates of the words' vectors by PCA (scikit-learn), shape (len(words), 2).

    The two axes are the directions of largest variance *among these words*,
    so the picture depends on which words are chosen.
    Taught in chapter 3.
    """
    kv = getattr(word_vectors, "wv", word_vectors)
    missing = [w for w in words if w not in kv.key_to_index]
    if missing:
        raise KeyError(f"这些词没有词向量：{'、'.join(missing)}")
    if len(words) < 2:
        raise ValueError("至少需要两个词才能做二维投影")
    matrix = np.stack([kv[w] for w in words])  # (词数, 词向量维度)
    return PCA(n_components=2, random_state=resolve_seed(seed)).fit_transform(matrix)


def nearest_table(word_vectors, words: Sequence[str], k: int = 6) -> pd.DataFrame:
    """One row per word: its k nearest words with cosine similarities, or a note when it has no vector.

    Taught in chapter 3.
    """
    rows = []
    for word in words:
        try:
            neighbours = "　".join(f"{w}（{s:.2f}）" for w, s in nearest_words(word_vectors, word, k=k))
        except KeyError:
            neighbours = "（语料太少，这个词没有向量）"
        rows.append({"词": word, f"最相近的 {k} 个词（余弦相似度）": neighbours})
    return pd.DataFrame(rows)


def words_with_vectors(word_vectors, groups: dict[str, Sequence[str]]) -> tuple[list[str], list[str]]:
    """(words, group of each word) of the grouped words that have a vector, in the given order.

    Taught in chapter 3.
    """
    kv = getattr(word_vectors, "wv", word_vectors)
    pairs = [(word, group) for group, members in groups.items() for word in members if word in kv.key_to_index]
    return [w for w, _ in pairs], [g for _, g in pairs]

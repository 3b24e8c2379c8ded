"""A character n-gram language model with interpolated Kneser-Ney smoothing.

The model predicts the next character of a text from the `order - 1`
characters before it. Every distribution it returns is proper: the
probabilities over the vocabulary (the training characters, the end-of-text
symbol `EOS_TOKEN` and the unknown symbol `UNK_TOKEN`) sum to 1, so perplexities are
comparable with those of any other character model scored on the same text
(chapter 6 scores an LSTM on the texts of `lm_splits`).

Counting is done with Python dicts keyed by strings; fitting an order-3 model on
the ~14,000 training reviews (about a million characters) takes a second or two.
"""

from __future__ import annotations

import collections
import math
import time
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from llmcourse import data
from llmcourse.config import resolve_seed

# Readable names of the two special symbols (what the public methods accept and return).
EOS_TOKEN = "</s>"  # end of text: predicted after the last character
UNK_TOKEN = "<unk>"  # any character not seen in training

# Internal one-character codes, so that an n-gram is just a str slice.
_BOS, _EOS, _UNK = "\x02", "\x03", "\x1a"
_STRIP = str.maketrans("", "", _BOS + _EOS + _UNK)
_TO_INTERNAL = {EOS_TOKEN: _EOS, UNK_TOKEN: _UNK}
_TO_PUBLIC = {_EOS: EOS_TOKEN, _UNK: UNK_TOKEN}


def _discount(count_of_counts: collections.Counter) -> float:
    """Absolute discount D = n1 / (n1 + 2 n2) (Ney et al.), kept inside (0.05, 0.95)."""
    n1, n2 = count_of_counts.get(1, 0), count_of_counts.get(2, 0)
    if n1 == 0:
        return 0.5
    return min(0.95, max(0.05, n1 / (n1 + 2 * n2)))


class CharNgramLM:
    """Character n-gram language model with interpolated Kneser-Ney smoothing.

    order=1 is a unigram model, order=3 looks at the two previous characters.
    The beginning of a text is padded with `order - 1` start symbols, which are
    only ever conditioned on, never predicted.
    Taught in chapter 2.
    """

    def __init__(self, order: int = 3):
        if not isinstance(order, int) or order < 1:
            raise ValueError(f"阶数 order 必须是正整数，得到 {order!r}")
        self.order = order
        self.vocab: list[str] = []  # internal symbols, index = position in distributions
        self._index: dict[str, int] = {}
        # per level k = 1..order: counts of k-grams (raw counts at the top level,
        # continuation counts below), context -> (total, distinct followers), the discount
        self._counts: list[dict[str, int]] = []
        self._contexts: list[dict[str, tuple[int, int]]] = []
        self._discounts: list[float] = []
        self.n_train_chars = 0

    # ------------------------------------------------------------------ fitting
    def fit(self, texts: Iterable[str]) -> "CharNgramLM":
        """Count the n-grams of `texts` (each text ends with EOS_TOKEN) and set the discounts."""
        n = self.order
        pad = _BOS * (n - 1)
        texts = [t.translate(_STRIP) for t in texts]
        if not texts:
            raise ValueError("训练文本为空")
        stream = "".join(pad + t + _EOS for t in texts)
        self.n_train_chars = len(stream) - len(texts) * (n - 1)

        # raw counts of the n-grams that end in a predicted symbol (never in _BOS);
        # with exactly n-1 start symbols such an n-gram never spans two texts
        top = collections.Counter(
            map(stream.__getitem__, map(slice, range(len(stream) - n + 1), range(n, len(stream) + 1)))
        )
        for gram in [g for g in top if g[-1] == _BOS]:
            del top[gram]

        # level k (1-based) holds k-grams: raw counts at the top, below it the number of
        # distinct characters seen to the left (continuation counts). Every k-gram
        # occurrence is the suffix of an n-gram occurrence, so the distinct k-grams are
        # the suffixes of the distinct (k+1)-grams.
        counts: list[dict[str, int]] = [dict() for _ in range(n)]
        counts[n - 1] = dict(top)
        for k in range(n - 1, 0, -1):
            counts[k - 1] = dict(collections.Counter(g[1:] for g in counts[k]))

        # the total of each context h: at the top the raw count of h before a predicted
        # symbol, below it N1+(. h .), the number of distinct (k+1)-grams with h inside
        totals: list[dict[str, int]] = [dict() for _ in range(n)]
        if n > 1:
            ctx = collections.Counter(
                map(stream.__getitem__, map(slice, range(len(stream) - n + 1), range(n - 1, len(stream))))
            )
            totals[n - 1] = {h: c for h, c in ctx.items() if _EOS not in h}
        else:
            totals[0] = {"": sum(top.values())}
        for k in range(n - 1, 0, -1):
            totals[k - 1] = dict(collections.Counter(g[1:-1] for g in counts[k]))

        self.vocab = sorted(g for g in counts[0] if g != _EOS) + [_EOS, _UNK]
        self._index = {ch: i for i, ch in enumerate(self.vocab)}
        self._counts = counts
        self._contexts = []
        self._discounts = []
        for k in range(n):
            types = collections.Counter(g[:-1] for g in counts[k])
            self._contexts.append({h: (t, types[h]) for h, t in totals[k].items()})
            self._discounts.append(_discount(collections.Counter(counts[k].values())))
        return self

    def _check_fitted(self) -> None:
        if not self.vocab:
            raise RuntimeError("模型还没有训练：请先调用 fit(texts)")

    # ------------------------------------------------------------------ probabilities
    def _symbol(self, char: str) -> str:
        """Internal code of a public symbol or character (unseen characters -> _UNK)."""
        ch = _TO_INTERNAL.get(char, char)
        if len(ch) != 1:
            raise ValueError(f"一次只能查询一个字符（或 {EOS_TOKEN!r}、{UNK_TOKEN!r}），得到 {char!r}")
        return ch if ch in self._index else _UNK

    def _history(self, context: str) -> str:
        """The last order-1 symbols of `context`, start-padded, unseen characters as _UNK."""
        if self.order == 1:
            return ""
        context = context.translate(_STRIP)
        tail = context[-(self.order - 1) :] if context else ""
        tail = "".join(ch if ch in self._index else _UNK for ch in tail)
        return (_BOS * (self.order - 1) + tail)[-(self.order - 1) :]

    def _prob(self, ch: str, history: str) -> float:
        """P(ch | history), both internal; the recursion runs from unigrams upward."""
        p = 1.0 / len(self.vocab)  # level 0: uniform over the vocabulary
        for k in range(1, self.order + 1):
            h = history[len(history) - (k - 1) :] if k > 1 else ""
            stats = self._contexts[k - 1].get(h)
            if stats is None:  # context never seen at this level: keep the lower-order estimate
                continue
            total, types = stats
            d = self._discounts[k - 1]
            c = self._counts[k - 1].get(h + ch, 0)
            p = max(c - d, 0.0) / total + d * types / total * p
        return p

    def prob(self, char: str, context: str = "") -> float:
        """P(char | context); `char` may be EOS_TOKEN or UNK_TOKEN, `context` is the text so far."""
        self._check_fitted()
        return self._prob(self._symbol(char), self._history(context))

    def distribution(self, context: str = "") -> np.ndarray:
        """Probabilities of every symbol of `symbols()` after `context` (sums to 1)."""
        self._check_fitted()
        history = self._history(context)
        p = np.full(len(self.vocab), 1.0 / len(self.vocab))
        for k in range(1, self.order + 1):
            h = history[len(history) - (k - 1) :] if k > 1 else ""
            stats = self._contexts[k - 1].get(h)
            if stats is None:
                continue
            total, types = stats
            d = self._discounts[k - 1]
            level = self._counts[k - 1]
            c = np.fromiter((level.get(h + ch, 0) for ch in self.vocab), dtype=float, count=len(self.vocab))
            p = np.maximum(c - d, 0.0) / total + d * types / total * p
        return p

    def symbols(self) -> list[str]:
        """The vocabulary in the order of `distribution()`, with EOS_TOKEN and UNK_TOKEN by their public names."""
        return [_TO_PUBLIC.get(ch, ch) for ch in self.vocab]

    def next_char_distribution(self, context: str = "", k: int = 10) -> list[tuple[str, float]]:
        """The k most probable next symbols after `context`, as (symbol, probability)."""
        p = self.distribution(context)
        top = np.argsort(-p, kind="stable")[:k]
        return [(_TO_PUBLIC.get(self.vocab[i], self.vocab[i]), float(p[i])) for i in top]

    # ------------------------------------------------------------------ evaluation
    def log_prob(self, text: str) -> tuple[float, int]:
        """Natural-log probability of `text` followed by EOS_TOKEN, and the number of symbols scored."""
        self._check_fitted()
        text = text.translate(_STRIP)
        symbols = [ch if ch in self._index else _UNK for ch in text] + [_EOS]
        padded = _BOS * (self.order - 1) + "".join(symbols)
        total = 0.0
        width = self.order - 1
        for i, ch in enumerate(symbols):
            total += math.log(self._prob(ch, padded[i : i + width]))
        return total, len(symbols)

    def cross_entropy(self, texts: Sequence[str]) -> float:
        """Average negative log-probability per symbol (nats), end-of-text symbols included."""
        total, count = 0.0, 0
        for text in texts:
            lp, n = self.log_prob(text)
            total += lp
            count += n
        if count == 0:
            raise ValueError("没有可评估的文本")
        return -total / count

    def perplexity(self, texts: Sequence[str]) -> float:
        """Per-character perplexity exp(cross-entropy), one EOS_TOKEN per text included."""
        return math.exp(self.cross_entropy(texts))

    # ------------------------------------------------------------------ generation
    def generate(
        self,
        prefix: str = "",
        max_chars: int = 50,
        temperature: float = 1.0,
        seed: int | None = 0,
    ) -> str:
        """Continue `prefix` by sampling up to `max_chars` characters (stops at EOS_TOKEN).

        temperature < 1 sharpens the distribution, > 1 flattens it, 0 takes the
        most probable character every time. UNK_TOKEN is never sampled. The same seed
        gives the same text.
        """
        self._check_fitted()
        if temperature < 0:
            raise ValueError("temperature 不能为负数")
        rng = np.random.default_rng(seed)
        unk, eos = self._index[_UNK], self._index[_EOS]
        out = prefix
        for _ in range(max_chars):
            p = self.distribution(out)
            p[unk] = 0.0
            if temperature == 0:
                i = int(np.argmax(p))
            else:
                logits = np.log(np.maximum(p, 1e-300)) / temperature
                logits[unk] = -np.inf
                q = np.exp(logits - logits.max())
                i = int(rng.choice(len(q), p=q / q.sum()))
            if i == eos:
                break
            out += self.vocab[i]
        return out

    # ------------------------------------------------------------------ inspection
    def count(self, gram: str) -> int:
        """Raw training count of a character string of length `order` (top-level n-gram)."""
        self._check_fitted()
        if len(gram) != self.order:
            raise ValueError(f"需要长度为 {self.order} 的字符串，得到 {gram!r}")
        return self._counts[-1].get(gram, 0)

    @property
    def discounts(self) -> list[float]:
        """Kneser-Ney discount of each level, unigrams first."""
        return list(self._discounts)

    def num_ngrams(self) -> list[int]:
        """Number of distinct k-grams stored at each level k = 1..order."""
        return [len(level) for level in self._counts]

    def __repr__(self) -> str:
        state = f"{len(self.vocab):,d} 个符号" if self.vocab else "未训练"
        return f"CharNgramLM(order={self.order}, {state})"


def lm_splits(seed: int | None = None, max_reviews: int | None = None) -> tuple[list[str], list[str]]:
    """(train_texts, heldout_texts) of the review corpus for language modelling.

    The texts of the train and test parts of `data.split_dataset(load_reviews(), seed)`;
    with `max_reviews` a stratified sample of the corpus is split instead (quick profile).
    Every character-level language model in the book is scored on these held-out texts.
    Taught in chapter 2.
    """
    seed = resolve_seed(seed)
    reviews = data.load_reviews().sample(max_reviews, seed=seed)
    parts = data.split_dataset(reviews, seed=seed)
    return list(parts.train.texts), list(parts.test.texts)


def unseen_characters(lm: CharNgramLM, texts: Sequence[str]) -> tuple[int, int]:
    """(characters of `texts` the model never saw in training, all characters). Taught in chapter 2."""
    known = set(lm.symbols())
    chars = "".join(texts)
    return sum(ch not in known for ch in chars), len(chars)


def next_char_table(lm: CharNgramLM, prefixes: Sequence[str], k: int = 5) -> pd.DataFrame:
    """One row per prefix: the k most probable next characters with their probabilities. Taught in chapter 2."""
    rows = [
        {
            "前缀": prefix,
            f"最可能的 {k} 个下一个字（概率）": "　".join(
                f"{ch}（{p:.3f}）" for ch, p in lm.next_char_distribution(prefix, k=k)
            ),
        }
        for prefix in prefixes
    ]
    return pd.DataFrame(rows)


def compare_orders(
    train_texts: Sequence[str], heldout_texts: Sequence[str], orders: Sequence[int], fitted: CharNgramLM | None = None
) -> pd.DataFrame:
    """Fit one model per order and compare perplexities on training and held-out texts.

    The training perplexity uses the first len(heldout_texts) training texts;
    a `fitted` model of one of the orders is reused instead of refitted.
    Columns: 阶数 n, 最高阶组合数, 训练集困惑度, 测试集困惑度, 用时 (seconds
    to fit). Taught in chapter 2.
    """
    train_sample = train_texts[: len(heldout_texts)]
    rows = []
    for order in orders:
        start = time.perf_counter()
        model = fitted if fitted is not None and order == fitted.order else CharNgramLM(order=order).fit(train_texts)
        seconds = time.perf_counter() - start
        rows.append(
            {
                "阶数 n": order,
                "最高阶组合数": model.num_ngrams()[-1],
                "训练集困惑度": model.perplexity(train_sample),
                "测试集困惑度": model.perplexity(heldout_texts),
                "用时": seconds,
            }
        )
    frame = pd.DataFrame(rows)
    frame.attrs["formats"] = {
        "最高阶组合数": "{:,d}",
        "训练集困惑度": "{:,.1f}",
        "测试集困惑度": "{:,.1f}",
        "用时": "{:.1f}",
    }
    return frame

"""Tokenizers for language models: characters, jieba words and a sentencepiece subword model.

A language model predicts one token after another, and what a token is changes
what the model must learn: characters give a small vocabulary and long sequences,
words short sequences but many unknown words, and a subword model (BPE or unigram,
trained by `sentencepiece` on the training text only) sits between the two.
All three tokenizers here share one interface and one id layout:
0 = padding, 1 = EOS_TOKEN (also the first input of every text), 2 = UNK_TOKEN,
3... = the units. Each one writes itself as plain files (JSON, or sentencepiece's
protobuf model), never as a pickle.

Comparing them on the same text needs a unit that does not depend on the
tokenizer: bits per character. A model's log-probability of a text is divided by
the text's characters (plus one end-of-text symbol per text, as for the n-gram
model), and a unit the tokenizer does not know (an unseen character, a word
outside the vocabulary) is spelled out character by character with a character
unigram model (`CharSpeller`), so that no tokenizer gains by calling hard text
"unknown". Taught in chapter 8.
"""

from __future__ import annotations

import collections
import io
import json
import math
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
import sentencepiece as spm

from llmcourse import text
from llmcourse.lm import CharVocabulary
from llmcourse.ngram import EOS_TOKEN, UNK_TOKEN

PAD_ID, EOS_ID, UNK_ID = CharVocabulary.PAD_ID, CharVocabulary.EOS_ID, CharVocabulary.UNK_ID
TOKENIZER_FORMAT = "llmcourse.tokenizer/1"
TOKENIZER_FILE, SENTENCEPIECE_FILE = "tokenizer.json", "tokenizer.model"
# The control characters CharNgramLM and CharVocabulary remove before scoring; removed by every tokenizer.
_STRIP = str.maketrans("", "", "\x02\x03\x1a")
UNICODE_BMP = 65536  # an unseen character is spelled as one of the 65,536 code points of the BMP
KINDS = ("char", "word", "sentencepiece")


def clean(text_: str) -> str:
    """The text every tokenizer reads: the three control characters the n-gram model reserves removed.

    Taught in chapter 8.
    """
    return text_.translate(_STRIP)


class CharSpeller:
    """Spells a unit the tokenizer does not know, character by character, to charge it honestly.

    Cost of a unit of L characters: sum of -ln q(c) over its characters, plus ln 2 per
    character (is the spelling over?). q is the character unigram distribution of the
    training text; characters never seen there share the Good-Turing probability of a
    new character, spread evenly over the BMP. Taught in chapter 8.
    """

    def __init__(self, counts: dict[str, int]):
        self.counts = dict(counts)
        total = max(sum(self.counts.values()), 1)
        singletons = sum(1 for c in self.counts.values() if c == 1)
        self.new_share = max(singletons, 1) / total
        self.total = total

    @classmethod
    def fit(cls, texts: Iterable[str]) -> "CharSpeller":
        counts: collections.Counter = collections.Counter()
        for t in texts:
            counts.update(clean(t))
        return cls(dict(counts))

    def nats(self, unit: str) -> float:
        """-ln P(spelling of `unit`) in nats."""
        cost = 0.0
        for ch in unit:
            count = self.counts.get(ch, 0)
            q = (1 - self.new_share) * count / self.total if count else self.new_share / UNICODE_BMP
            cost += -math.log(q) + math.log(2)
        return cost


class _Tokenizer:
    """What the three tokenizers share: ids, inputs, the unknown share and bits-per-character bookkeeping."""

    kind = ""
    PAD_ID, EOS_ID, UNK_ID = PAD_ID, EOS_ID, UNK_ID
    # None: UNK_TOKEN is an ordinary target the model learns; a number: its fixed probability; 0: never occurs
    unk_probability: float | None = None
    speller: CharSpeller

    def __len__(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def units(self, text_: str) -> list[str]:  # pragma: no cover - abstract
        """The pieces of `text_`, in order; joined they give `clean(text_)`."""
        raise NotImplementedError

    def unit_id(self, unit: str) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def target_ids(self, text_: str) -> np.ndarray:
        """Ids of the units of `text_` followed by EOS_TOKEN (what the model predicts), shape (单元数+1,)."""
        return np.array([self.unit_id(u) for u in self.units(text_)] + [EOS_ID], dtype=np.int32)

    def input_ids(self, target_ids: np.ndarray) -> np.ndarray:
        """What the model reads: EOS_TOKEN, then the targets shifted by one."""
        return np.concatenate([[EOS_ID], np.asarray(target_ids, dtype=np.int32)[:-1]]).astype(np.int32)

    def input_id(self, i: int) -> int:
        """The id the model reads after predicting id i (the same id, unless the tokenizer reads it as UNK_TOKEN)."""
        return int(i)

    def prompt_ids(self, prompt: str) -> np.ndarray:
        """The ids the model reads before continuing `prompt`: EOS_TOKEN and the prompt's units."""
        return self.input_ids(self.target_ids(prompt))

    def decode(self, ids: Sequence[int]) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def unknown_units(self, text_: str) -> list[str]:
        """The units of `text_` this tokenizer cannot name (each becomes UNK_TOKEN or bytes)."""
        return [u for u in self.units(text_) if self.unit_id(u) == UNK_ID]

    def spelling_nats(self, text_: str) -> float:
        """Extra nats to spell out the unknown units of `text_` (see `CharSpeller`)."""
        return sum(self.speller.nats(u) for u in self.unknown_units(text_))

    def save(self, directory: str | Path) -> None:
        """Write tokenizer.json (and the sentencepiece model) into `directory`."""
        state = {"format": TOKENIZER_FORMAT, "kind": self.kind, "speller": self.speller.counts, **self.state()}
        Path(directory, TOKENIZER_FILE).write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")

    def state(self) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError


class CharTokenizer(_Tokenizer):
    """One token per character: exactly the symbols of `lm.CharVocabulary` and `ngram.CharNgramLM`.

    UNK_TOKEN (a character never seen in training) has the vocabulary's fixed Good-Turing
    probability, and characters seen fewer than `min_input_count` times are read as
    UNK_TOKEN, as in chapter 6. Taught in chapter 8.
    """

    kind = "char"

    def __init__(self, vocab: CharVocabulary, n_symbols: int, speller: CharSpeller):
        self.vocab = vocab
        self.n_symbols = n_symbols  # training characters plus one EOS_TOKEN per text
        self.speller = speller
        self.unk_probability = vocab.unk_probability

    @classmethod
    def fit(cls, texts: Sequence[str], min_input_count: int = 2) -> "CharTokenizer":
        texts = list(texts)
        vocab = CharVocabulary.build(texts, min_input_count)
        return cls(vocab, sum(vocab.counts.values()) + len(texts), CharSpeller(vocab.counts))

    def __len__(self) -> int:
        return len(self.vocab)

    def units(self, text_: str) -> list[str]:
        return list(clean(text_))

    def unit_id(self, unit: str) -> int:
        return self.vocab.index.get(unit, UNK_ID)

    def target_ids(self, text_: str) -> np.ndarray:
        return self.vocab.target_ids(text_)

    def input_ids(self, target_ids: np.ndarray) -> np.ndarray:
        return self.vocab.input_ids(target_ids)

    def input_id(self, i: int) -> int:
        return self.vocab.input_id(i)

    def decode(self, ids: Sequence[int]) -> str:
        return "".join(self.vocab.symbol(int(i)) for i in ids if int(i) > UNK_ID)

    def state(self) -> dict:
        return {"counts": self.vocab.counts, "n_symbols": self.n_symbols, "min_input_count": self.vocab.min_input_count}

    @classmethod
    def from_state(cls, state: dict, speller: CharSpeller) -> "CharTokenizer":
        vocab = CharVocabulary(state["counts"], state["n_symbols"], state["min_input_count"])
        return cls(vocab, state["n_symbols"], speller)


class WordTokenizer(_Tokenizer):
    """jieba words (accurate mode, on the raw text, spaces kept as tokens); the `max_size` most frequent
    words seen at least `min_count` times have ids, every other word is UNK_TOKEN.

    UNK_TOKEN is an ordinary target here: the model learns how likely an unknown word is.
    Taught in chapter 8.
    """

    kind = "word"
    REMEMBERED = 50_000  # texts whose words are kept after their first cut

    def __init__(self, words: Sequence[str], speller: CharSpeller):
        self.words = list(words)
        self.index = {w: i + 3 for i, w in enumerate(self.words)}
        self.speller = speller
        self._cut = text.Segmenter(normalize=False).tokenizer.cut
        self._segmented: dict[str, tuple[str, ...]] = {}  # words of texts already cut (fit's texts included)

    @classmethod
    def fit(cls, texts: Sequence[str], max_size: int = 20000, min_count: int = 2) -> "WordTokenizer":
        probe = cls([], CharSpeller({}))
        segmented = {t: tuple(probe.units(t)) for t in texts}
        counts = collections.Counter(w for units in segmented.values() for w in units)
        kept = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
        tokenizer = cls(kept[: max(max_size - 3, 0)], CharSpeller.fit(texts))
        tokenizer._segmented = segmented
        return tokenizer

    def __len__(self) -> int:
        return len(self.words) + 3

    def units(self, text_: str) -> list[str]:
        known = self._segmented.get(text_)
        if known is None:  # a page reads the same held-out reviews for several tables: cut each once
            known = tuple(w for w in self._cut(clean(text_), HMM=True) if w)
            if len(self._segmented) < self.REMEMBERED:
                self._segmented[text_] = known
        return list(known)

    def unit_id(self, unit: str) -> int:
        return self.index.get(unit, UNK_ID)

    def decode(self, ids: Sequence[int]) -> str:
        return "".join(self.words[int(i) - 3] for i in ids if int(i) > UNK_ID)

    def state(self) -> dict:
        return {"words": self.words}

    @classmethod
    def from_state(cls, state: dict, speller: CharSpeller) -> "WordTokenizer":
        return cls(state["words"], speller)


class SentencePieceTokenizer(_Tokenizer):
    """A subword model trained by sentencepiece (unigram or BPE) on the training text only.

    The text is read as it is (no normalisation, spaces kept), and a character outside
    the model's vocabulary is written as its UTF-8 bytes (byte fallback), so no text is
    ever unknown: the "unknown rate" of this tokenizer counts the characters that needed
    bytes. Taught in chapter 8.
    """

    kind = "sentencepiece"
    unk_probability = 0.0

    def __init__(self, model_proto: bytes, speller: CharSpeller):
        self.model_proto = bytes(model_proto)
        self.processor = spm.SentencePieceProcessor()
        self.processor.LoadFromSerializedProto(self.model_proto)
        self.speller = speller

    @classmethod
    def fit(cls, texts: Sequence[str], vocab_size: int = 8000, model_type: str = "unigram") -> "SentencePieceTokenizer":
        model = io.BytesIO()
        try:
            _train_sentencepiece(texts, model, vocab_size, model_type)
        except RuntimeError as err:  # e.g. fewer pieces than the characters the text needs
            raise ValueError(f"sentencepiece 无法在这些文本上训练 {vocab_size} 个词元的模型：{err}") from err
        return cls(model.getvalue(), CharSpeller.fit(texts))

    def __len__(self) -> int:
        return int(self.processor.GetPieceSize())

    def units(self, text_: str) -> list[str]:
        return list(self.processor.EncodeAsPieces(clean(text_)))

    def unit_id(self, unit: str) -> int:
        return int(self.processor.PieceToId(unit))

    def target_ids(self, text_: str) -> np.ndarray:
        return np.array(list(self.processor.EncodeAsIds(clean(text_))) + [EOS_ID], dtype=np.int32)

    def decode(self, ids: Sequence[int]) -> str:
        return self.processor.DecodeIds([int(i) for i in ids if int(i) > UNK_ID])

    def unknown_units(self, text_: str) -> list[str]:
        return []  # byte fallback: the model itself spells every character it does not know

    def byte_characters(self, text_: str) -> int:
        """Characters of `text_` that are not in the model's vocabulary (written as UTF-8 bytes)."""
        return sum(self.processor.PieceToId("▁" if ch == " " else ch) == UNK_ID for ch in clean(text_))

    def save(self, directory: str | Path) -> None:
        super().save(directory)
        Path(directory, SENTENCEPIECE_FILE).write_bytes(self.model_proto)

    def state(self) -> dict:
        return {"model_file": SENTENCEPIECE_FILE}


def _train_sentencepiece(texts: Sequence[str], writer, vocab_size: int, model_type: str) -> None:
    """Train sentencepiece on the raw texts (no normalisation, spaces kept, byte fallback) into `writer`."""
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter([clean(t) for t in texts if clean(t)]),
        model_writer=writer,
        vocab_size=vocab_size,
        model_type=model_type,
        character_coverage=0.9995,
        byte_fallback=True,
        pad_id=PAD_ID,
        eos_id=EOS_ID,
        unk_id=UNK_ID,
        bos_id=-1,
        normalization_rule_name="identity",
        add_dummy_prefix=False,
        remove_extra_whitespaces=False,
        max_sentence_length=1 << 16,
        num_threads=2,  # a fixed count: the same model on every machine, and faster than one on two cores
        hard_vocab_limit=False,  # a small text may not fill the vocabulary: fewer pieces, not an error
        minloglevel=2,
    )


def unknown_characters(tokenizer: _Tokenizer, text_: str) -> int:
    """Characters of `text_` inside units the tokenizer cannot name (for sentencepiece: written as bytes).

    Taught in chapter 8.
    """
    if isinstance(tokenizer, SentencePieceTokenizer):
        return tokenizer.byte_characters(text_)
    return sum(len(u) for u in tokenizer.unknown_units(text_))


def fit_tokenizer(kind: str, texts: Sequence[str], vocab_size: int | None = None) -> _Tokenizer:
    """A tokenizer of `kind` ("char", "word" or "sentencepiece") fitted on `texts` (training text only).

    vocab_size: the largest vocabulary for words and the subword model's size; characters keep them all.
    Taught in chapter 8.
    """
    if kind == "char":
        return CharTokenizer.fit(texts)
    if kind == "word":
        return WordTokenizer.fit(texts, **({"max_size": vocab_size} if vocab_size else {}))
    if kind == "sentencepiece":
        return SentencePieceTokenizer.fit(texts, **({"vocab_size": vocab_size} if vocab_size else {}))
    raise ValueError(f"未知的分词方式 {kind!r}：可选 {', '.join(KINDS)}")


def tokenizer_from_state(state: dict, directory: Path) -> _Tokenizer:
    """The tokenizer written by `save` into `directory`, from its already-read tokenizer.json.

    The caller checks the fields (see `gpt.load_lm`); a sentencepiece model that does not
    parse raises ValueError. Taught in chapter 8.
    """
    speller = CharSpeller(state["speller"])
    if state["kind"] == "char":
        return CharTokenizer.from_state(state, speller)
    if state["kind"] == "word":
        return WordTokenizer.from_state(state, speller)
    proto = (directory / SENTENCEPIECE_FILE).read_bytes()
    try:
        return SentencePieceTokenizer(proto, speller)
    except (RuntimeError, OSError) as err:
        raise ValueError(f"无法解析 sentencepiece 模型（{err}）") from err


def tokenizer_table(tokenizers: dict[str, _Tokenizer], texts: Sequence[str]) -> pd.DataFrame:
    """One row per tokenizer on the same texts: vocabulary size, tokens per text, unknown rate.

    The unknown rate is the share of characters inside units the tokenizer cannot name.
    Taught in chapter 8.
    """
    chars = sum(len(clean(t)) for t in texts)
    rows = []
    for name, tok in tokenizers.items():
        tokens = sum(len(tok.units(t)) for t in texts)
        unknown = sum(unknown_characters(tok, t) for t in texts)
        rows.append(
            {
                "分词方式": name,
                "词表大小": len(tok),
                "每条评论的词元数": tokens / len(texts),
                "每个词元的字数": chars / tokens,
                "未登录的字": unknown / chars,
            }
        )
    frame = pd.DataFrame(rows)
    frame.attrs["formats"] = {
        "词表大小": "{:,d}",
        "每条评论的词元数": "{:.1f}",
        "每个词元的字数": "{:.2f}",
        "未登录的字": "{:.2%}",
    }
    return frame


def show_units(tokenizer: _Tokenizer, text_: str) -> str:
    """The units of `text_` separated by " / ", unknown ones marked with UNK_TOKEN. Taught in chapter 8."""
    return " / ".join(u if tokenizer.unit_id(u) != UNK_ID else f"{UNK_TOKEN}({u})" for u in tokenizer.units(text_))


__all__ = [
    "CharSpeller",
    "CharTokenizer",
    "WordTokenizer",
    "SentencePieceTokenizer",
    "fit_tokenizer",
    "tokenizer_from_state",
    "tokenizer_table",
    "unknown_characters",
    "show_units",
    "clean",
    "EOS_TOKEN",
]

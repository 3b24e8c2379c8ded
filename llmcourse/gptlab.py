"""The experiments of the miniature GPT (chapter 8): pretraining, the language-model table, a scaling
curve, the tokenizer comparison, adaptation to sentiment, and the checks of the section's exercises.

Every trained language model goes through `cached_lm` (the course cache, entries of
kind "gpt"): the same texts, settings, code and library versions give the same
model, so a second build reads it back, with the seconds measured when it was
trained. Sizes are chosen per run profile by `gpt_sizes()`: `full` for the book,
`quick` (a few hundred reviews, a few dozen steps) for the tests. Taught in chapter 8.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from llmcourse import cache, config, data, evaluation, exercises, gpt, lm, ngram, profiling, saving, subword
from llmcourse.config import resolve_seed

tf = gpt.tf
keras = gpt.keras


@dataclasses.dataclass(frozen=True)
class GPTSizes:
    """Model sizes and training budgets of the section, for one run profile. Taught in chapter 8."""

    profile: str
    tokenizer: str  # the main model's tokenizer ("char", "word" or "sentencepiece")
    context: int
    dim: int
    depth: int
    heads: int
    batch_size: int
    steps: int  # pretraining steps of the main model
    learning_rate: float
    final_lr_fraction: float  # where the cosine ends, as a fraction of the peak rate (1.0: constant after warm-up)
    softmax_samples: int | None  # sampled softmax in training (None: the full softmax over the vocabulary)
    extra_sentences: int  # People's Daily sentences added to the pretraining text
    scaling: tuple[tuple[int, int], ...]  # (dim, depth) of each size; the last one has the main model's shape
    scaling_steps: int  # pretraining steps of every model of the scaling curve (the same budget in tokens)
    tokenizer_size: tuple[int, int]  # (dim, depth) of the models that compare tokenizers
    tokenizer_steps: int
    subword_vocab: int
    word_vocab: int
    finetune_epochs: int
    finetune_learning_rate: float
    finetune_reviews: int | None  # the first this many of chapter 5's training reviews are fine-tuned on (None: all)
    heldout_reviews: int | None  # the first this many held-out reviews are scored (None: all)


GPT_SIZES: dict[str, GPTSizes] = {
    "full": GPTSizes(
        profile="full",
        tokenizer="sentencepiece",
        context=128,
        dim=64,
        depth=2,
        heads=4,
        batch_size=16,
        steps=2000,  # about four passes over the pretraining text: what it takes to pass the 5-gram model
        learning_rate=5e-3,
        final_lr_fraction=1.0,  # far from convergence, a decaying rate only slows the descent
        softmax_samples=None,  # the sampled softmax trains faster but leaves the full softmax badly calibrated
        extra_sentences=3000,
        scaling=((32, 1), (48, 1), (64, 2)),
        scaling_steps=60,  # the first size and budget are the tokenizer comparison's: that model is shared
        tokenizer_size=(32, 1),
        tokenizer_steps=60,
        subword_vocab=8000,
        word_vocab=8000,
        finetune_epochs=1,
        finetune_learning_rate=5e-4,
        finetune_reviews=4000,  # a part of the training split, for the build time (the page says so)
        heldout_reviews=600,  # likewise: every language model of the page is scored on the same part
    ),
    "quick": GPTSizes(
        profile="quick",
        tokenizer="sentencepiece",
        context=32,
        dim=32,
        depth=1,
        heads=2,
        batch_size=16,
        steps=20,
        learning_rate=3e-3,
        final_lr_fraction=1.0,
        softmax_samples=None,
        extra_sentences=100,
        scaling=((16, 1), (24, 1), (32, 1)),
        scaling_steps=20,
        tokenizer_size=(16, 1),
        tokenizer_steps=20,
        subword_vocab=3000,
        word_vocab=2000,
        finetune_epochs=1,
        finetune_learning_rate=1e-3,
        finetune_reviews=None,
        heldout_reviews=None,
    ),
}


def gpt_sizes(profile: str | None = None) -> GPTSizes:
    """The section's sizes for `profile` (default: the active `config.sizes()` profile). Taught in chapter 8."""
    return GPT_SIZES[profile or config.sizes().profile]


# --------------------------------------------------------------------------- pretraining text
@dataclasses.dataclass
class LMData:
    """The texts of the section: the review split of every language model of the book, plus news.

    Taught in chapter 8.
    """

    train: list[str]  # training reviews (ngram.lm_splits): the only reviews any model here learns from
    heldout: list[str]  # the first sizes.heldout_reviews held-out reviews of chapters 2 and 6 (every bits number)
    news: list[str]  # People's Daily sentences added to the pretraining text
    heldout_total: int = 0  # the held-out reviews of chapters 2 and 6 before the cut

    @property
    def pretraining(self) -> list[str]:
        """What the GPTs of the language-model table and of the scaling curve are trained on."""
        return self.train + self.news


def lm_data(sizes: GPTSizes | None = None, seed: int | None = None) -> LMData:
    """The language-model split of the active profile (held-out reviews cut to `sizes.heldout_reviews`),
    and `sizes.extra_sentences` news sentences.

    Taught in chapter 8.
    """
    sizes = sizes or gpt_sizes()
    train, heldout = ngram.lm_splits(seed, config.sizes(sizes.profile).max_reviews)
    news = data.load_unlabeled_news(sizes.extra_sentences)
    return LMData(train, heldout[: sizes.heldout_reviews], news, len(heldout))


def train_gpt(
    texts: Sequence[str],
    sizes: GPTSizes,
    size: tuple[int, int] | None = None,
    tokenizer: str | None = None,
    steps: int | None = None,
    seed: int | None = None,
) -> gpt.GPTLanguageModel:
    """A GPT of `size` = (dim, depth) (default: the main model) trained on `texts` by the profile's recipe, cached.

    Taught in chapter 8.
    """
    dim, depth = size or (sizes.dim, sizes.depth)
    tokenizer = tokenizer or sizes.tokenizer
    vocab = {"sentencepiece": sizes.subword_vocab, "word": sizes.word_vocab}.get(tokenizer)
    model, _ = gpt.cached_lm(
        texts,
        tokenizer,
        dim=dim,
        depth=depth,
        heads=min(sizes.heads, dim // 8 or 1),
        context=sizes.context,
        steps=steps or sizes.steps,
        batch_size=sizes.batch_size,
        learning_rate=sizes.learning_rate,
        vocab_size=vocab,
        softmax_samples=sizes.softmax_samples,
        final_lr_fraction=sizes.final_lr_fraction,
        seed=seed,
    )
    return model


# --------------------------------------------------------------------------- the language-model table
# Chapter 6's LSTM settings (notebooks/06_applications.ipynb; tests/test_gpt.py checks that they agree).
CHAPTER6_LSTM = {"window": 32, "softmax_samples": 512, "learning_rate": 1e-2}


def chapter6_lstm(train: Sequence[str], seed: int | None = None) -> tuple[lm.CharLSTMLM, bool]:
    """Chapter 6's character LSTM, read back from the cache where chapter 6 left it (trained here if missing).

    The same training texts, held-out texts, sizes and settings as chapter 6, so the same
    cache entry. (model, whether it came from the cache). Taught in chapter 8.
    """
    run, seed = config.sizes(), resolve_seed(seed)
    val = data.split_dataset(data.load_reviews().sample(run.max_reviews, seed=seed), seed=seed).val.texts
    return lm.cached_char_lstm(
        list(train),
        list(val),
        epochs=run.lm_epochs,
        batch_size=run.batch_size,
        learning_rate=CHAPTER6_LSTM["learning_rate"],
        embedding_dim=run.lm_embedding_dim,
        hidden_units=run.lm_hidden_units,
        window=CHAPTER6_LSTM["window"],
        softmax_samples=CHAPTER6_LSTM["softmax_samples"],
        verbose=False,
    )


def bits(cross_entropy_nats: float) -> float:
    """Bits per character from a cross-entropy in nats per character. Taught in chapter 8."""
    return cross_entropy_nats / math.log(2)


def lm_row(name: str, text: str, bits_per_char: float, parameters: int | None, seconds: float) -> dict:
    """One row of the language-model table. Taught in chapter 8."""
    return {
        "模型": name,
        "训练文本": text,
        "每字比特": bits_per_char,
        "每字困惑度": 2**bits_per_char,
        "参数": parameters,
        "训练秒数": seconds,
    }


def lm_table(rows: Sequence[dict]) -> pd.DataFrame:
    """The language-model table, fewest bits per character first. Taught in chapter 8."""
    frame = pd.DataFrame(list(rows)).sort_values("每字比特", kind="stable").reset_index(drop=True)
    frame["参数"] = frame["参数"].astype("Int64")
    frame.attrs["formats"] = {"每字比特": "{:.3f}", "每字困惑度": "{:.1f}", "参数": "{:,d}", "训练秒数": "{:.0f}"}
    return frame


def ngram_row(order: int, texts: Sequence[str], heldout: Sequence[str], text_name: str) -> dict:
    """Fit a Kneser-Ney n-gram model of `order` on `texts` and score it on `heldout`. Taught in chapter 8."""
    start = time.perf_counter()
    model = ngram.CharNgramLM(order=order).fit(texts)
    seconds = time.perf_counter() - start
    return lm_row(f"{order} 元语法（Kneser-Ney）", text_name, bits(model.cross_entropy(heldout)), None, seconds)


# --------------------------------------------------------------------------- scaling
def scaling_table(models: Sequence[gpt.GPTLanguageModel], heldout: Sequence[str]) -> pd.DataFrame:
    """One row per model size trained for the same number of tokens: parameters, compute, held-out bits.

    Compute is estimated as 6 x N x D floating-point operations (N: parameters outside the
    embeddings, D: training tokens), the usual rule for a forward and a backward pass.
    Taught in chapter 8.
    """
    rows = []
    for model in models:
        c = model.config
        n, d = c.block_parameters(), model.training["tokens"]
        rows.append(
            {
                "维度": c.dim,
                "层数": c.depth,
                "非嵌入参数": n,
                "全部参数": model.count_parameters(),
                "训练词元": d,
                "计算量（FLOPs）": 6.0 * n * d,
                "训练秒数": model.training["seconds"],
                "留出每字比特": model.bits_per_char(heldout),
            }
        )
    frame = pd.DataFrame(rows)
    frame.attrs["formats"] = {
        "非嵌入参数": "{:,d}",
        "全部参数": "{:,d}",
        "训练词元": "{:,d}",
        "计算量（FLOPs）": "{:.2e}",
        "训练秒数": "{:.0f}",
        "留出每字比特": "{:.3f}",
    }
    return frame


def plot_scaling(frame: pd.DataFrame, reference: Mapping[str, float] | None = None):
    """Held-out bits per character against parameters and against compute (log axes); returns the figure.

    `reference`: horizontal lines, e.g. {"5 元语法": 5.7}. Taught in chapter 8.
    """
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    for ax, column, label in (
        (axes[0], "非嵌入参数", "非嵌入参数（对数刻度）"),
        (axes[1], "计算量（FLOPs）", "训练计算量 6ND（FLOPs，对数刻度）"),
    ):
        ax.plot(frame[column], frame["留出每字比特"], "o-", color="#264653")
        for _, row in frame.iterrows():
            ax.annotate(
                f"{row['维度']} 维 × {row['层数']} 层",
                (row[column], row["留出每字比特"]),
                textcoords="offset points",
                xytext=(5, 5),
                fontsize=8,
            )
        for name, value in (reference or {}).items():
            ax.axhline(value, color="#e76f51", linestyle="--", linewidth=1)
            ax.annotate(
                name,
                (frame[column].min(), value),
                textcoords="offset points",
                xytext=(0, 4),
                fontsize=8,
                color="#e76f51",
            )
        ax.set_xscale("log")
        ax.set_xlabel(label)
    axes[0].set_ylabel("留出评论上的每字比特")
    fig.suptitle("同样的训练词元数，不同大小的模型")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- tokenizers
TOKENIZER_NAMES = {"char": "字", "word": "jieba 词", "sentencepiece": "sentencepiece 子词（unigram）"}


def tokenizer_models(train: Sequence[str], sizes: GPTSizes) -> dict[str, gpt.GPTLanguageModel]:
    """One GPT per tokenizer, the same shape and steps, tokenizer and model fitted on `texts` only (cached).

    Taught in chapter 8.
    """
    return {
        kind: train_gpt(train, sizes, sizes.tokenizer_size, kind, sizes.tokenizer_steps) for kind in TOKENIZER_NAMES
    }


def tokenizer_comparison(models: Mapping[str, gpt.GPTLanguageModel], heldout: Sequence[str]) -> pd.DataFrame:
    """The tokenizers' table on the held-out reviews, with their models' bits per character.

    Bits per character charge every unit a tokenizer cannot name for its spelling
    (`subword.CharSpeller`), so the three numbers are comparable. Taught in chapter 8.
    """
    frame = subword.tokenizer_table({TOKENIZER_NAMES[k]: m.tokenizer for k, m in models.items()}, heldout)
    frame["参数"] = [m.count_parameters() for m in models.values()]
    frame["训练秒数"] = [m.training["seconds"] for m in models.values()]
    frame["每字比特"] = [m.bits_per_char(heldout, spell_unknown=True) for m in models.values()]
    frame.attrs["formats"].update({"参数": "{:,d}", "训练秒数": "{:.0f}", "每字比特": "{:.3f}"})
    return frame


# --------------------------------------------------------------------------- adaptation to sentiment
@dataclasses.dataclass
class Adapted:
    """One way of turning the pretrained GPT into a sentiment classifier, scored on chapter 5's split.

    Taught in chapter 8.
    """

    name: str
    val_probabilities: np.ndarray  # (验证评论数,) P(positive)
    test_probabilities: np.ndarray  # (测试评论数,)
    seconds: float  # adaptation time measured when it was computed (fine-tuning or scoring)
    detail: dict  # what was chosen on validation data (epochs, label words, threshold)

    def metrics(self, y_test: Sequence[int]) -> evaluation.Metrics:
        return evaluation.compute_metrics(y_test, self.test_probabilities)

    def save(self, folder) -> None:
        np.savez(folder / "probabilities.npz", val=self.val_probabilities, test=self.test_probabilities)
        state = {"name": self.name, "seconds": self.seconds, "detail": self.detail}
        (folder / "adapted.json").write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, folder) -> "Adapted":
        arrays = np.load(folder / "probabilities.npz")
        state = json.loads((folder / "adapted.json").read_text(encoding="utf-8"))
        return cls(state["name"], arrays["val"], arrays["test"], state["seconds"], state["detail"])


def classifier_inputs(lm: gpt.GPTLanguageModel, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Ids (评论数, 上下文长度) of each review read from EOS_TOKEN (its last tokens when too long), and lengths.

    Padding goes after the review: the attention is causal, so it changes nothing before it.
    Taught in chapter 8.
    """
    c = lm.config.context
    reads = [lm.tokenizer.prompt_ids(t + "\n")[-c:] for t in texts]  # "\n": the review is over
    x = np.zeros((len(reads), c), dtype=np.int32)
    for row, ids in enumerate(reads):
        x[row, : len(ids)] = ids
    return x, np.array([len(r) for r in reads], dtype=np.int32)


def length_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator | None = None) -> list[np.ndarray]:
    """Indices in batches of reviews of similar length (little padding); with `rng`, shuffled within and across.

    Taught in chapter 8.
    """
    order = np.argsort(lengths + (rng.random(len(lengths)) if rng is not None else 0), kind="stable")
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    if rng is not None:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


class GPTSentiment:
    """The pretrained GPT with one logistic unit on the hidden state after the review's last token.

    Every weight is fine-tuned (GPT-1's recipe, without the auxiliary language-model loss).
    Taught in chapter 8.
    """

    def __init__(self, lm: gpt.GPTLanguageModel, seed: int | None = None):
        self.seed = resolve_seed(seed)
        config.set_seed(self.seed, tensorflow=True)
        self.lm = lm
        self.backbone = gpt.build_gpt(lm.config, seed)
        self.backbone.set_weights(lm.model.get_weights())
        self.head = keras.layers.Dense(1, name="sentiment")
        self.head.build((None, lm.config.dim))
        unused = id(self.backbone.output_bias)  # the next-token output is not used for classification
        backbone = [v for v in self.backbone.trainable_variables if id(v) != unused]
        self.variables = backbone + self.head.trainable_variables
        self.val_probabilities: np.ndarray | None = None  # set by fit

    def logits(self, x, lengths, training=False):
        """x (批量, 上下文长度), lengths (批量,) -> positive-class logits (批量,)."""
        h = tf.gather(self.backbone.hidden(x, training=training)[0], lengths - 1, batch_dims=1)  # (批量, 维度)
        return self.head(h)[:, 0]

    def predict_proba(self, texts: Sequence[str], batch_size: int = 128) -> np.ndarray:
        """P(positive) of each review, shape (评论数,); reviews of similar length are batched together."""
        x, lengths = classifier_inputs(self.lm, texts)
        out = np.zeros(len(x), dtype=np.float64)
        for index in length_batches(lengths, batch_size):
            width = int(lengths[index].max())
            out[index] = tf.sigmoid(self.logits(tf.constant(x[index, :width]), tf.constant(lengths[index]))).numpy()
        return out

    @profiling.timed("gpt-adaptation")
    def fit(self, texts, labels, val_texts, val_labels, epochs: int, learning_rate: float, batch_size: int = 32):
        """Fine-tune for `epochs`; keep the weights of the epoch with the best validation accuracy.

        Returns the validation accuracy of every epoch; `val_probabilities` keeps the kept
        epoch's validation predictions. Taught in chapter 8.
        """
        x, lengths = classifier_inputs(self.lm, texts)
        y = np.asarray(labels, dtype=np.float32)
        optimizer = keras.optimizers.Adam(learning_rate, clipnorm=1.0)
        optimizer.build(self.variables)
        step = self._train_step(optimizer)
        rng = np.random.default_rng(self.seed)
        history, best = [], (-1.0, None, None)
        for _ in range(epochs):
            for index in length_batches(lengths, batch_size, rng):
                width = int(lengths[index].max())  # padded to the longest review of the batch only
                step(tf.constant(x[index, :width]), tf.constant(lengths[index]), tf.constant(y[index]))
            val_probabilities = self.predict_proba(val_texts)
            accuracy = float(np.mean((val_probabilities >= 0.5) == np.asarray(val_labels)))
            history.append(accuracy)
            if accuracy > best[0]:
                best = (accuracy, [v.numpy() for v in self.variables], val_probabilities)
        for variable, value in zip(self.variables, best[1]):
            variable.assign(value)
        self.val_probabilities = best[2]  # (验证评论数,) of the kept weights: not predicted a second time
        return history

    def _train_step(self, optimizer):
        spec = tf.TensorSpec((None, None), tf.int32)

        @tf.function(
            input_signature=[spec, tf.TensorSpec((None,), tf.int32), tf.TensorSpec((None,), tf.float32)],
            autograph=False,
        )
        def step(x, lengths, y):
            with tf.GradientTape() as tape:
                logits = self.logits(x, lengths, training=True)
                loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=logits))
            optimizer.apply_gradients(zip(tape.gradient(loss, self.variables), self.variables))
            return loss

        return step


def finetuned(lm: gpt.GPTLanguageModel, splits: data.Splits, sizes: GPTSizes, seed: int | None = None) -> Adapted:
    """The pretrained GPT fine-tuned on chapter 5's training reviews, epochs chosen on validation (cached).

    Only the first `sizes.finetune_reviews` training reviews are read (the split is already
    in a seeded random order, so they are a random part of it). Taught in chapter 8.
    """
    seed = resolve_seed(seed)
    n = (
        len(splits.train.texts)
        if sizes.finetune_reviews is None
        else min(sizes.finetune_reviews, len(splits.train.texts))
    )
    train_texts, train_y = list(splits.train.texts[:n]), splits.train.y[:n]

    @profiling.timed("gpt-adaptation")
    def compute() -> Adapted:
        start = time.perf_counter()
        model = GPTSentiment(lm, seed)
        history = model.fit(
            train_texts,
            train_y,
            splits.val.texts,
            splits.val.y,
            sizes.finetune_epochs,
            sizes.finetune_learning_rate,
        )
        val, test = model.val_probabilities, model.predict_proba(splits.test.texts)
        detail = {"val_accuracy_by_epoch": history, "epochs_kept": int(np.argmax(history)) + 1, "reviews": n}
        return Adapted("小 GPT 微调", val, test, time.perf_counter() - start, detail)

    settings = {
        "epochs": sizes.finetune_epochs,
        "lr": sizes.finetune_learning_rate,
        "seed": seed,
        "lm": lm.training,
        "versions": saving.library_versions(),
    }
    key = cache.make_key(__name__, train_texts, list(splits.val.texts), list(splits.test.texts), settings)
    return cache.cached("gpt-sentiment", key, compute, Adapted.save, Adapted.load)[0]


# The label words compared after a prompt; the pair and the template are chosen on validation data.
LABEL_WORDS = (("很好", "很差"), ("满意", "失望"))
PROMPT_TEMPLATES = ("{review}总的来说，", "{review}总之，")


def prompt_scores(lm: gpt.GPTLanguageModel, texts: Sequence[str], template: str) -> dict[tuple[str, str], np.ndarray]:
    """For each label pair: ln P(positive word | prompt) - ln P(negative word | prompt), per review.

    A word that is one token is read from one pass over the prompts (`next_log_probs`, shared
    by all such words); a word of several tokens is scored by the chain rule
    (`continuation_log_probs`). Taught in chapter 8.
    """
    prompts = [template.format(review=t) for t in texts]
    words = [word for pair in LABEL_WORDS for word in pair]
    ids = {word: lm.tokenizer.target_ids(word)[:-1] for word in words}  # without EOS_TOKEN
    scored = {}
    if any(len(ids[word]) == 1 for word in words):
        after = lm.next_log_probs(prompts)  # (评论数, 词表大小)
        scored = {word: after[:, ids[word][0]] for word in words if len(ids[word]) == 1}
    scored |= {word: lm.continuation_log_probs(prompts, word) for word in words if word not in scored}
    return {pair: scored[pair[0]] - scored[pair[1]] for pair in LABEL_WORDS}


def best_threshold(scores: np.ndarray, labels: Sequence[int]) -> tuple[float, float]:
    """(threshold, validation accuracy): the cut of `scores` that classifies `labels` best. Taught in chapter 8."""
    y = np.asarray(labels) == 1
    cuts = np.unique(scores)
    accuracy = [float(np.mean((scores >= c) == y)) for c in cuts]
    best = int(np.argmax(accuracy))
    return float(cuts[best]), accuracy[best]


def zero_shot(lm: gpt.GPTLanguageModel, splits: data.Splits, seed: int | None = None) -> Adapted:
    """The pretrained GPT without fine-tuning: compare label words after a prompt.

    Every template x word pair is scored on the validation reviews; the one with the best
    validation accuracy (at its best threshold, which calibrates the prior of the two
    words) is applied to the test reviews. No weight changes. Taught in chapter 8.
    """

    @profiling.timed("gpt-adaptation")
    def compute() -> Adapted:
        start = time.perf_counter()
        trials = []
        for template in PROMPT_TEMPLATES:
            for words, scores in prompt_scores(lm, splits.val.texts, template).items():
                trials.append((best_threshold(scores, splits.val.y), template, words, scores))
        (cut, accuracy), template, words, val_scores = max(trials, key=lambda t: t[0][1])
        test_scores = prompt_scores(lm, splits.test.texts, template)[words]
        detail = {
            "template": template,
            "words": list(words),
            "threshold": cut,
            "val_accuracy": accuracy,
            "trials": [{"template": t, "words": list(w), "val_accuracy": a} for (_, a), t, w, _ in trials],
        }
        probabilities = (_as_probability(val_scores - cut), _as_probability(test_scores - cut))
        return Adapted("小 GPT 提示（不微调）", *probabilities, time.perf_counter() - start, detail)

    settings = {"lm": lm.training, "templates": PROMPT_TEMPLATES, "words": LABEL_WORDS, "seed": resolve_seed(seed)}
    key = cache.make_key(__name__, list(splits.val.texts), list(splits.test.texts), settings)
    return cache.cached("gpt-prompt", key, compute, Adapted.save, Adapted.load)[0]


def _as_probability(margin: np.ndarray) -> np.ndarray:
    """A score margin (>= 0: positive) as a probability, >= 0.5 exactly when the margin is >= 0."""
    return np.where(margin >= 0, 0.5 + 0.5 * (1 - np.exp(-np.abs(margin))), 0.5 * np.exp(-np.abs(margin)))


# --------------------------------------------------------------------------- the section's exercises
def _expected_attention(x: np.ndarray, wq: np.ndarray, wk: np.ndarray, wv: np.ndarray) -> np.ndarray:
    """Single-head causal attention (T, d) -> (T, d_v): the package's reference with one head, no biases."""
    d = wq.shape[1]
    kernel = np.concatenate([wq, wk, wv], axis=1)
    return gpt.reference_attention(x[None], kernel, np.zeros(3 * d), np.eye(d), np.zeros(d), heads=1)[0]


def check_causal_attention(fn, quiet: bool = False) -> exercises.CheckResult:
    """Exercise ch8-gpt-ex1: `fn(x, wq, wk, wv)` is single-head causal self-attention in NumPy.

    Checked on random inputs against `gpt.reference_attention`, and for causality: changing
    the last position must leave every earlier output unchanged. Taught in chapter 8.
    """
    exercise = "ch8-gpt-ex1"
    rng = np.random.default_rng(8)
    x, wq, wk, wv = rng.normal(size=(7, 6)), *(rng.normal(size=(6, 6)) for _ in range(3))
    try:
        mine = np.asarray(fn(x, wq, wk, wv), dtype=np.float64)
        changed = x.copy()
        changed[-1] += 10.0
        mine_changed = np.asarray(fn(changed, wq, wk, wv), dtype=np.float64)
    except Exception as err:  # noqa: BLE001  a learner's code may raise anything
        return exercises._verdict(exercise, False, exercises._error_message(err), quiet=quiet)
    expected = _expected_attention(x, wq, wk, wv)
    if mine.shape != expected.shape:
        return exercises._verdict(
            exercise, False, f"输出的形状应是 {expected.shape}，实际是 {mine.shape}。", quiet=quiet
        )
    if not np.allclose(mine[:-1], mine_changed[:-1], atol=1e-9):
        hint = "改变最后一个位置，前面位置的输出也变了：掩码没有挡住后面的位置（j > t 的分数应是负无穷）。"
        return exercises._verdict(exercise, False, hint, quiet=quiet)
    if np.allclose(mine, expected, atol=1e-6):
        return exercises._verdict(
            exercise, True, "与 gpt.reference_attention（一个头）一致，而且看不到后面的位置。", quiet=quiet
        )
    unscaled = _expected_attention(x, wq * np.sqrt(np.sqrt(6)), wk * np.sqrt(np.sqrt(6)), wv)
    hint = (
        "分数忘了除以 √d。"
        if np.allclose(mine, unscaled, atol=1e-6)
        else "数值不一致：检查 softmax 是否按行（对键）归一化。"
    )
    return exercises._verdict(exercise, False, hint, quiet=quiet)


def check_sampling_distribution(fn, quiet: bool = False) -> exercises.CheckResult:
    """Exercise ch8-gpt-ex2: `fn(logits, temperature, top_k)` gives the probabilities generation samples from.

    Compared with `gpt.sampling_distribution` (padding and UNK_TOKEN excluded) on random logits.
    Taught in chapter 8.
    """
    exercise = "ch8-gpt-ex2"
    logits = np.random.default_rng(5).normal(scale=2.0, size=40)
    for temperature, top_k in ((1.0, None), (0.5, None), (2.0, 5), (1.0, 1)):
        expected = gpt.sampling_distribution(logits, temperature, top_k)
        try:
            mine = np.asarray(fn(logits.copy(), temperature, top_k), dtype=np.float64)
        except Exception as err:  # noqa: BLE001
            return exercises._verdict(exercise, False, exercises._error_message(err), quiet=quiet)
        if mine.shape != expected.shape or not np.allclose(mine, expected, atol=1e-9):
            where = f"temperature={temperature}, top_k={top_k}"
            hint = "概率之和应为 1。" if not np.isclose(np.sum(mine), 1) else "检查温度的除法和只保留前 k 个的方式。"
            if np.isclose(np.sum(mine), 1) and mine.shape == expected.shape and mine[[0, 2]].sum() > 0:
                hint = "编号 0（填充）和 2（未知字）的概率应是 0。"
            return exercises._verdict(exercise, False, f"{where} 时不一致：{hint}", quiet=quiet)
    return exercises._verdict(exercise, True, "四组温度和 top-k 都与 gpt.sampling_distribution 一致。", quiet=quiet)


def check_bits_per_char(my_bits: float, lm_: gpt.GPTLanguageModel, texts: Sequence[str], quiet: bool = False):
    """Exercise ch8-gpt-ex3: bits per character of `texts` from `lm_.log_probs`, by hand.

    Taught in chapter 8.
    """
    exercise = "ch8-gpt-ex3"
    if not exercises._is_number(my_bits):
        return exercises._verdict(exercise, False, f"my_bits 应当是一个有限的数，实际是 {my_bits!r}。", quiet=quiet)
    texts = list(texts)
    right = lm_.bits_per_char(texts)
    if exercises._close(float(my_bits), right, rel=1e-6):
        return exercises._verdict(exercise, True, f"每字比特 {right:.4f}，与 bits_per_char 一致。", quiet=quiet)
    totals, tokens = lm_.log_probs(texts)
    chars = sum(len(subword.clean(t)) for t in texts)
    mistakes = {
        "忘了把每条文本末尾的结束符算作一个字。": -totals.sum() / chars / math.log(2),
        "用的是自然对数（奈特），要除以 ln 2 换成比特。": -totals.sum() / (chars + len(texts)),
        "除以的是词元数，不是字数。": -totals.sum() / tokens.sum() / math.log(2),
    }
    for hint, value in mistakes.items():
        if exercises._close(float(my_bits), value, rel=1e-6):
            return exercises._verdict(exercise, False, hint, quiet=quiet)
    return exercises._verdict(exercise, False, "公式：−Σ ln P(文本) / (字数 + 文本条数) / ln 2。", quiet=quiet)

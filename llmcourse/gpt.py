"""A miniature GPT: a decoder-only Transformer language model, built from parts, trained, scored,
sampled with a key/value cache, and saved as a directory that loads without running code.

The model reads token ids and, at every position, outputs a distribution over the
next token:

    ids -> token embedding + position embedding
        -> depth x [x + attention(LayerNorm(x)); x + MLP(LayerNorm(x))]   (pre-LayerNorm blocks)
        -> LayerNorm -> logits = h · Eᵀ + b                                (output tied to the embedding)

The attention is causal: position t mixes the values of positions 0..t only, so one
pass over a window of length T gives T next-token predictions at once (training),
and generating a new token needs only the new token's query against the keys and
values already computed (the key/value cache). `reference_attention` is the NumPy
version of the same computation, which the tests compare with the Keras layer.

Scoring follows chapter 6: every text is read from EOS_TOKEN at position 0 and
scored up to its own EOS_TOKEN; texts longer than the context are scored with a
sliding window (each new token sees at least half a context of history). With the
character tokenizer the symbols and UNK_TOKEN's share are exactly those of
`ngram.CharNgramLM`, so bits per character can be set beside the n-gram's and the
LSTM's. Taught in chapter 8.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from llmcourse import cache, profiling, saving, subword
from llmcourse.config import import_tensorflow, resolve_seed, set_seed
from llmcourse.saving import ModelLoadError

tf = import_tensorflow()
import keras  # noqa: E402  (after TensorFlow, quietly imported)
from keras import layers, ops  # noqa: E402

LM_FORMAT = "llmcourse.lm/1"
CONFIG_FILE, WEIGHTS_FILE = "config.json", "model.weights.h5"
MASKED = -1e9  # the score of a position attention may not look at: exp(MASKED - max) is exactly 0
LIMITS = {"vocab_size": 1_000_000, "context": 4096, "dim": 4096, "depth": 64, "heads": 256, "mlp_ratio": 16}


@dataclasses.dataclass(frozen=True)
class GPTConfig:
    """The shape of a MiniGPT. Taught in chapter 8."""

    vocab_size: int
    context: int = 128  # the most tokens the model reads at once (the number of position embeddings)
    dim: int = 128
    depth: int = 2  # Transformer blocks
    heads: int = 4
    mlp_ratio: int = 4  # the MLP's hidden width is mlp_ratio x dim
    dropout: float = 0.0

    def __post_init__(self):
        for name, limit in LIMITS.items():
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= limit:
                raise ValueError(f"{name} 应是 1 到 {limit} 之间的整数，实际是 {value!r}")
        if self.dim % self.heads:
            raise ValueError(f"dim（{self.dim}）必须能被 heads（{self.heads}）整除")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout 应在 [0, 1) 之间，实际是 {self.dropout!r}")

    def block_parameters(self) -> int:
        """Parameters outside the embeddings and the output bias (the usual N of scaling laws)."""
        d, m = self.dim, self.mlp_ratio * self.dim
        per_block = 2 * d + (3 * d * d + 3 * d) + (d * d + d) + 2 * d + (d * m + m) + (m * d + d)
        return self.depth * per_block + 2 * d


# --------------------------------------------------------------------------- layers
@keras.saving.register_keras_serializable(package="llmcourse")
class CausalSelfAttention(layers.Layer):
    """Multi-head self-attention in which position t sees positions 0..t only.

    One Dense layer makes queries, keys and values, (B, T, D) -> (B, T, 3D); each of the
    `heads` heads works on D / heads of the features; a second Dense layer mixes the
    heads' outputs back. `attend` takes the keys and values of earlier positions (the
    cache) and returns them extended by the new ones. Taught in chapter 8.
    """

    def __init__(self, dim: int, heads: int, **kwargs):
        super().__init__(**kwargs)
        self.dim, self.heads = dim, heads
        self.qkv = layers.Dense(3 * dim, name="qkv")
        self.proj = layers.Dense(dim, name="proj")

    def build(self, input_shape):
        for layer in (self.qkv, self.proj):
            if not layer.built:
                layer.build((None, None, self.dim))

    def attend(self, x, past=None):
        """x (B, T, D) and past (k, v), each (B, H, P, D/H) or None -> (B, T, D) and (k, v) of P + T positions."""
        b, t = ops.shape(x)[0], ops.shape(x)[1]
        head_dim = self.dim // self.heads
        qkv = ops.reshape(self.qkv(x), (b, t, 3, self.heads, head_dim))
        qkv = ops.transpose(qkv, (2, 0, 3, 1, 4))  # (3, 批量大小, 头数, 时间步数, 每头维度)
        q, k, v = qkv[0], qkv[1], qkv[2]
        if past is not None:
            k = ops.concatenate([past[0], k], axis=2)
            v = ops.concatenate([past[1], v], axis=2)
        p = ops.shape(k)[2] - t  # how many earlier positions the cache holds
        scores = ops.matmul(q, ops.swapaxes(k, 2, 3)) / math.sqrt(head_dim)  # (批量, 头数, T, P+T)
        allowed = ops.arange(p + t)[None, :] <= ops.arange(t)[:, None] + p  # key j <= query's position
        weights = tf.nn.softmax(ops.where(allowed, scores, MASKED), axis=-1)  # (no warning when P+T is 1)
        out = ops.transpose(ops.matmul(weights, v), (0, 2, 1, 3))  # (批量, T, 头数, 每头维度)
        return self.proj(ops.reshape(out, (b, t, self.dim))), (k, v)

    def call(self, x):
        return self.attend(x)[0]

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "heads": self.heads}


@keras.saving.register_keras_serializable(package="llmcourse")
class TransformerBlock(layers.Layer):
    """x + attention(LayerNorm(x)), then x + MLP(LayerNorm(x)) (pre-LayerNorm). Taught in chapter 8."""

    def __init__(self, dim: int, heads: int, mlp_dim: int, dropout: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.dim, self.heads, self.mlp_dim, self.dropout_rate = dim, heads, mlp_dim, dropout
        self.norm1 = layers.LayerNormalization(epsilon=1e-5, name="norm1")
        self.attention = CausalSelfAttention(dim, heads, name="attention")
        self.norm2 = layers.LayerNormalization(epsilon=1e-5, name="norm2")
        self.mlp_in = layers.Dense(mlp_dim, activation="gelu", name="mlp_in")
        self.mlp_out = layers.Dense(dim, name="mlp_out")
        self.dropout = layers.Dropout(dropout)

    def build(self, input_shape):
        for layer, width in (
            (self.norm1, self.dim),
            (self.attention, self.dim),
            (self.norm2, self.dim),
            (self.mlp_in, self.dim),
            (self.mlp_out, self.mlp_dim),
        ):
            if not layer.built:
                layer.build((None, None, width))

    def step(self, x, past=None, training=False):
        """(x, the cache of this block) -> (output, the extended cache)."""
        h, present = self.attention.attend(self.norm1(x), past)
        x = x + self.dropout(h, training=training)
        x = x + self.dropout(self.mlp_out(self.mlp_in(self.norm2(x))), training=training)
        return x, present

    def call(self, x, training=False):
        return self.step(x, None, training)[0]

    def get_config(self):
        return {
            **super().get_config(),
            "dim": self.dim,
            "heads": self.heads,
            "mlp_dim": self.mlp_dim,
            "dropout": self.dropout_rate,
        }


@keras.saving.register_keras_serializable(package="llmcourse")
class MiniGPT(keras.Model):
    """Ids (B, T) -> next-token logits (B, T, vocab_size); T is at most `context`. Taught in chapter 8."""

    def __init__(
        self,
        vocab_size: int,
        context: int = 128,
        dim: int = 128,
        depth: int = 2,
        heads: int = 4,
        mlp_ratio: int = 4,
        dropout: float = 0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.settings = GPTConfig(vocab_size, context, dim, depth, heads, mlp_ratio, dropout)
        self.token_embedding = layers.Embedding(vocab_size, dim, name="token_embedding")
        self.position_embedding = layers.Embedding(context, dim, name="position_embedding")
        self.embedding_dropout = layers.Dropout(dropout)
        self.blocks = [TransformerBlock(dim, heads, mlp_ratio * dim, dropout, name=f"block_{i}") for i in range(depth)]
        self.final_norm = layers.LayerNormalization(epsilon=1e-5, name="final_norm")
        self.output_bias = self.add_weight(shape=(vocab_size,), initializer="zeros", name="output_bias")
        # every weight is created here, in a fixed order: the blocks are run through `step`, not called
        self.token_embedding.build((None, None))
        self.position_embedding.build((None, None))
        for block in self.blocks:
            block.build((None, None, dim))
        self.final_norm.build((None, None, dim))

    def hidden(self, ids, past=None, training=False):
        """Final hidden states (B, T, D) of `ids`, which follow the P positions in `past`; and every block's cache."""
        start = 0 if past is None else ops.shape(past[0][0])[2]
        t = ops.shape(ids)[1]
        x = self.token_embedding(ids) + self.position_embedding(ops.arange(t) + start)[None, :, :]
        x = self.embedding_dropout(x, training=training)
        presents = []
        for i, block in enumerate(self.blocks):
            x, present = block.step(x, None if past is None else past[i], training)
            presents.append(present)
        return self.final_norm(x), presents

    def logits(self, h):
        """Hidden states (..., D) -> logits (..., vocab_size) through the token embedding itself (weight tying)."""
        return ops.matmul(h, ops.transpose(self.token_embedding.embeddings)) + self.output_bias

    def call(self, ids, training=False):
        return self.logits(self.hidden(ids, training=training)[0])

    def step(self, ids, past=None):
        """Logits of the new positions `ids` (B, T) after the cached ones, and the extended cache."""
        h, presents = self.hidden(ids, past)
        return self.logits(h), presents

    def get_config(self):
        return {**dataclasses.asdict(self.settings), "name": self.name}


def build_gpt(config: GPTConfig, seed: int | None = None) -> MiniGPT:
    """A new, untrained MiniGPT of shape `config`, its weights created (seeded). Taught in chapter 8."""
    set_seed(resolve_seed(seed), tensorflow=True)
    model = MiniGPT(**dataclasses.asdict(config), name="mini_gpt")
    model(np.zeros((1, min(2, config.context)), dtype=np.int32))  # run once (two positions: no 1-wide softmax)
    return model


# --------------------------------------------------------------------------- the NumPy reference
def reference_attention(
    x: np.ndarray,
    qkv_kernel: np.ndarray,
    qkv_bias: np.ndarray,
    proj_kernel: np.ndarray,
    proj_bias: np.ndarray,
    heads: int,
) -> np.ndarray:
    """Causal multi-head self-attention in NumPy (float64), the weights of `CausalSelfAttention`.

    x: (B, T, D). For each head h: Q, K, V = the h-th slices of x·W_qkv + b; the
    score of query t and key j is Q_t·K_j / sqrt(D/H), minus infinity for j > t;
    softmax over j; the heads' weighted values are concatenated and mapped by W_o.
    Taught in chapter 8.
    """
    x = np.asarray(x, dtype=np.float64)
    b, t, d = x.shape
    head_dim = d // heads
    qkv = x @ qkv_kernel + qkv_bias  # (B, T, 3D): queries, then keys, then values
    q, k, v = (qkv[..., i * d : (i + 1) * d].reshape(b, t, heads, head_dim).transpose(0, 2, 1, 3) for i in range(3))
    scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(head_dim)  # (B, H, T, T)
    scores = np.where(np.tril(np.ones((t, t), dtype=bool)), scores, -np.inf)
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights /= weights.sum(axis=-1, keepdims=True)
    out = (weights @ v).transpose(0, 2, 1, 3).reshape(b, t, d)
    return out @ proj_kernel + proj_bias


# --------------------------------------------------------------------------- the language model
@dataclasses.dataclass
class TrainingLog:
    """What happened during `GPTLanguageModel.fit`. Taught in chapter 8."""

    loss: list[float]  # mean training loss of each stretch of `log_every` steps (sampled softmax when sampling)
    steps: int
    tokens: int  # training tokens read: steps x batch_size x context
    seconds: float
    text_tokens: int  # tokens in the training text (one pass)

    @property
    def epochs(self) -> float:
        """How many passes over the training text the steps made."""
        return self.tokens / max(self.text_tokens, 1)


def token_stream(tokenizer, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, targets) of all texts joined, each text read from EOS_TOKEN and predicted up to its EOS_TOKEN.

    Taught in chapter 8.
    """
    targets = np.concatenate([tokenizer.target_ids(t) for t in texts]).astype(np.int32)
    return tokenizer.input_ids(targets), targets


def warmup_cosine(learning_rate: float, steps: int, warmup: int | None = None, final_lr_fraction: float = 0.1):
    """The rate of each step: from a tenth of `learning_rate` up to it over `warmup` steps (default a tenth),
    then along a cosine down to `final_lr_fraction` of it at the last step. Taught in chapter 8."""
    warmup = max(1, steps // 10) if warmup is None else warmup
    return keras.optimizers.schedules.CosineDecay(
        learning_rate / 10,
        max(1, steps - warmup),
        alpha=final_lr_fraction,
        warmup_target=learning_rate,
        warmup_steps=warmup,
    )


class GPTLanguageModel:
    """A MiniGPT with its tokenizer: trained on texts, scored in bits per character, sampled, saved.

    Taught in chapter 8.
    """

    def __init__(self, tokenizer, config: GPTConfig, seed: int | None = None, model: MiniGPT | None = None):
        if config.vocab_size != len(tokenizer):
            raise ValueError(f"vocab_size（{config.vocab_size}）与分词器的词表大小（{len(tokenizer)}）不一致")
        self.tokenizer = tokenizer
        self.config = config
        self.seed = resolve_seed(seed)
        self.model = model if model is not None else build_gpt(config, self.seed)
        self.log: TrainingLog | None = None
        self.training: dict = {}
        self._score_fn = None
        self._scored: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # log_probs results by texts and weights

    def count_parameters(self) -> int:
        return int(self.model.count_params())

    # ------------------------------------------------------------------ training
    @profiling.timed("gpt")
    def fit(
        self,
        texts: Sequence[str],
        steps: int,
        batch_size: int = 32,
        learning_rate: float = 3e-3,
        softmax_samples: int | None = 512,
        warmup: int | None = None,
        final_lr_fraction: float = 0.1,
        log_every: int = 50,
        verbose: bool = False,
    ) -> "GPTLanguageModel":
        """`steps` updates of Adam on windows of `context` tokens cut from the joined texts.

        Each pass cuts the stream into windows from a new random offset and shuffles them.
        The learning rate rises over `warmup` steps (default a tenth), then falls along a
        cosine to `final_lr_fraction` of its peak (1.0: it stays at the peak). With
        `softmax_samples`, each position scores the true next token against that many
        sampled tokens (sampled softmax, as in chapter 6); scoring always uses the full
        softmax. Without sampling the step is compiled with XLA, which fuses the small
        operations of a model this size (about a quarter faster on a 2-core CPU).
        Taught in chapter 8.
        """
        set_seed(self.seed, tensorflow=True)
        inputs, targets = token_stream(self.tokenizer, texts)
        schedule = warmup_cosine(learning_rate, steps, warmup, final_lr_fraction)
        optimizer = keras.optimizers.Adam(schedule, clipnorm=1.0)
        optimizer.build(self.model.trainable_variables)
        train_step = self._train_step(optimizer, softmax_samples)
        rng = np.random.default_rng(self.seed)
        losses, stretch, batches = [], [], iter(())
        start = time.perf_counter()
        for step in range(steps):
            batch = next(batches, None)
            if batch is None:  # a new pass over the text
                batches = self._batches(inputs, targets, batch_size, rng)
                batch = next(batches)
            stretch.append(float(train_step(*batch)))
            if len(stretch) == log_every or step == steps - 1:
                losses.append(float(np.mean(stretch)))
                stretch = []
                if verbose:
                    print(
                        f"第 {step + 1}/{steps} 步：训练损失 {losses[-1]:.3f}（{time.perf_counter() - start:.0f} 秒）"
                    )
        seconds = time.perf_counter() - start
        self.log = TrainingLog(losses, steps, steps * batch_size * self.config.context, seconds, len(targets))
        self.training = {
            "steps": steps,
            "batch_size": batch_size,
            "learning_rate": learning_rate,
            "final_lr_fraction": final_lr_fraction,
            "softmax_samples": softmax_samples,
            "seed": self.seed,
            "seconds": seconds,
            "tokens": self.log.tokens,
            "text_tokens": len(targets),
            "loss": losses,
        }
        return self

    def _batches(self, inputs: np.ndarray, targets: np.ndarray, batch_size: int, rng):
        """One pass: non-overlapping windows from a random offset, shuffled, in batches (批量大小, 上下文长度)."""
        c = self.config.context
        offset = int(rng.integers(c)) if len(inputs) > 2 * c else 0
        n = (len(inputs) - offset) // c
        if n < 1:
            raise ValueError(f"训练文本只有 {len(inputs)} 个词元，不够一个长 {c} 的窗口")
        x = inputs[offset : offset + n * c].reshape(n, c)
        y = targets[offset : offset + n * c].reshape(n, c)
        order = rng.permutation(n)
        for i in range(0, n - batch_size + 1 if n >= batch_size else 1, batch_size):
            index = order[i : i + batch_size]
            yield tf.constant(x[index]), tf.constant(y[index])

    def _train_step(self, optimizer, softmax_samples: int | None):
        """A compiled step: windows x, y (批量大小, 上下文长度) -> mean loss, after one update."""
        model, variables = self.model, self.model.trainable_variables
        vocab_size, dim = self.config.vocab_size, self.config.dim
        samples = softmax_samples if softmax_samples and softmax_samples < vocab_size // 2 else None

        # XLA has no kernel for the sampler of the sampled softmax; the full softmax compiles.
        @tf.function(
            input_signature=[tf.TensorSpec((None, None), tf.int32)] * 2, autograph=False, jit_compile=not samples
        )
        def train_step(x, y):
            with tf.GradientTape() as tape:
                if samples:
                    h = tf.reshape(model.hidden(x, training=True)[0], (-1, dim))  # (批量×时间步, 维度)
                    loss = tf.reduce_mean(
                        tf.nn.sampled_softmax_loss(
                            model.token_embedding.embeddings,
                            model.output_bias,
                            tf.reshape(tf.cast(y, tf.int64), (-1, 1)),
                            h,
                            num_sampled=samples,
                            num_classes=vocab_size,
                            seed=self.seed,
                        )
                    )
                else:
                    logits = model(x, training=True)  # (批量, 时间步, 词表大小)
                    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits))
            grads = tape.gradient(loss, variables)
            optimizer.apply_gradients(zip(grads, variables))
            return loss

        return train_step

    # ------------------------------------------------------------------ probabilities
    def _log_probs(self, logits):
        """Log-probabilities over the ids (..., vocab): padding gets none; UNK_TOKEN as the tokenizer says.

        The tokenizer's `unk_probability`: None, UNK_TOKEN is learned like any token; 0, it
        never occurs; a number, UNK_TOKEN gets that fixed share (chapter 6's Good-Turing estimate).
        """
        unk = self.tokenizer.unk_probability
        ids = tf.range(self.config.vocab_size)
        blocked = ids == subword.PAD_ID
        if unk is not None:
            blocked |= ids == subword.UNK_ID
        log_p = tf.nn.log_softmax(tf.where(blocked, tf.constant(-np.inf, logits.dtype), logits), axis=-1)
        if not unk:
            return log_p
        log_p += math.log1p(-unk)
        return tf.where(ids == subword.UNK_ID, tf.constant(math.log(unk), logits.dtype), log_p)

    def distribution(self, context: str = "") -> np.ndarray:
        """Probabilities of every id after `context` (padding 0), shape (词表大小,), float64. Taught in chapter 8."""
        ids = self.tokenizer.prompt_ids(context)[-self.config.context :]
        logits = self.model(ids[None, :], training=False)[:, -1, :]  # (1, 词表大小)
        return np.exp(self._log_probs(logits).numpy()[0].astype(np.float64))

    def _scorer(self):
        if self._score_fn is None:
            model = self.model
            spec = tf.TensorSpec((None, None), tf.int32)

            @tf.function(input_signature=[spec, spec, tf.TensorSpec((None,), tf.int32)], autograph=False)
            def score(x, y, first):
                picked = tf.gather(self._log_probs(model(x, training=False)), y, batch_dims=2)  # (批量, 时间步)
                keep = (y != subword.PAD_ID) & (tf.range(tf.shape(y)[1])[None, :] >= first[:, None])
                return tf.reduce_sum(tf.where(keep, picked, 0.0), axis=1)

            self._score_fn = score
        return self._score_fn

    def _rows(self, targets: list[np.ndarray]) -> list[tuple[int, np.ndarray, np.ndarray, int]]:
        """(text, inputs, targets, first scored position) windows; a long text slides by half a context."""
        c = self.config.context
        stride = max(1, c // 2)
        rows = []
        for i, y in enumerate(targets):
            x, n, done, end = self.tokenizer.input_ids(y), len(y), 0, min(len(y), c)
            while True:
                begin = max(0, end - c)
                rows.append((i, x[begin:end], y[begin:end], done - begin))
                if end == n:
                    break
                done, end = end, min(n, end + stride)
        return rows

    def score_rows(
        self, rows: list[tuple[int, np.ndarray, np.ndarray, int]], tokens_per_batch: int = 8192
    ) -> np.ndarray:
        """The summed log-probability of each (_, inputs, targets, first scored position) row, in row order.

        Rows of similar length are batched together, padded to the longest of the batch.
        Taught in chapter 8.
        """
        order = sorted(range(len(rows)), key=lambda i: len(rows[i][2]))
        sums = np.zeros(len(rows), dtype=np.float64)
        score = self._scorer()
        start = 0
        while start < len(order):
            end = start + 1  # grow the batch while (rows x longest row) fits the budget
            while end < len(order) and (end + 1 - start) * len(rows[order[end]][2]) <= tokens_per_batch:
                end += 1
            batch = order[start:end]
            width = max(len(rows[i][2]) for i in batch)
            x = np.zeros((len(batch), width), dtype=np.int32)  # (批量大小, 本批最长长度)
            y = np.zeros((len(batch), width), dtype=np.int32)
            for row, i in enumerate(batch):
                x[row, : len(rows[i][1])], y[row, : len(rows[i][2])] = rows[i][1], rows[i][2]
            first = np.array([rows[i][3] for i in batch], dtype=np.int32)
            sums[batch] = score(tf.constant(x), tf.constant(y), tf.constant(first)).numpy()
            start = end
        return sums

    @profiling.timed("evaluation")
    def log_probs(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Natural-log probability of each text followed by EOS_TOKEN, and the tokens scored per text.

        The latest result is kept: the same texts under the same weights are not scored twice.
        Taught in chapter 8.
        """
        texts = list(texts)
        key = self._scoring_key(texts)
        if key not in self._scored:  # a page scores the same held-out texts in several tables
            targets = [self.tokenizer.target_ids(t) for t in texts]
            rows = self._rows(targets)
            totals = np.zeros(len(texts), dtype=np.float64)
            np.add.at(totals, [r[0] for r in rows], self.score_rows(rows))
            self._scored = {key: (totals, np.array([len(y) for y in targets], dtype=np.int64))}  # the latest only
        totals, counts = self._scored[key]
        return totals.copy(), counts.copy()

    def _scoring_key(self, texts: list[str]) -> str:
        """A digest of the texts and of every weight: a result is reused only for the same texts and weights."""
        digest = hashlib.sha256("\x00".join(texts).encode("utf-8"))
        for weight in self.model.get_weights():
            digest.update(np.ascontiguousarray(weight).tobytes())
        return digest.hexdigest()

    def continuation_log_probs(self, prefixes: Sequence[str], continuation: str) -> np.ndarray:
        """ln P(continuation | prefix) for each prefix (each read from EOS_TOKEN; long prefixes keep their end).

        Taught in chapter 8.
        """
        word = self.tokenizer.target_ids(continuation)[:-1]  # without EOS_TOKEN
        if not 0 < len(word) < self.config.context:
            raise ValueError(f"续写 {continuation!r} 为空，或不比上下文短")
        rows = []
        for i, prefix in enumerate(prefixes):
            reads = np.concatenate([self.tokenizer.prompt_ids(prefix), word])[-(self.config.context + 1) :]
            y = np.concatenate([reads[1 : len(reads) - len(word)], word])
            rows.append((i, reads[:-1], y, len(y) - len(word)))
        return self.score_rows(rows)

    def next_log_probs(self, prefixes: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """ln P(next token | prefix) over every id, one row per prefix, shape (前缀数, 词表大小).

        Each prefix is read from EOS_TOKEN; a prefix longer than the context keeps its end.
        Taught in chapter 8.
        """
        reads = [self.tokenizer.prompt_ids(p)[-self.config.context :] for p in prefixes]
        order = np.argsort([len(r) for r in reads], kind="stable")
        out = np.zeros((len(reads), self.config.vocab_size), dtype=np.float64)
        last = self._last_position_fn()
        for start in range(0, len(order), batch_size):
            index = order[start : start + batch_size]
            width = max(len(reads[i]) for i in index)
            x = np.zeros((len(index), width), dtype=np.int32)  # (批量大小, 本批最长长度)
            for row, i in enumerate(index):
                x[row, : len(reads[i])] = reads[i]
            lengths = np.array([len(reads[i]) for i in index], dtype=np.int32)
            out[index] = last(tf.constant(x), tf.constant(lengths)).numpy()
        return out

    def _last_position_fn(self):
        """A compiled function: (ids (批量, 时间步), lengths) -> log-probabilities after each row's last token."""
        model = self.model

        @tf.function(
            input_signature=[tf.TensorSpec((None, None), tf.int32), tf.TensorSpec((None,), tf.int32)], autograph=False
        )
        def last(x, lengths):
            h = tf.gather(model.hidden(x)[0], lengths - 1, batch_dims=1)  # (批量大小, 维度)
            return self._log_probs(model.logits(h))

        return last

    def bits_per_char(self, texts: Sequence[str], spell_unknown: bool = False) -> float:
        """-log2 P(texts) per character, one EOS_TOKEN per text counted as a character (as the n-gram model does).

        With `spell_unknown`, every unit the tokenizer cannot name is also spelled out
        (`subword.CharSpeller`), which makes different tokenizers comparable. Taught in chapter 8.
        """
        texts = list(texts)
        if not texts:
            raise ValueError("没有可评估的文本")
        totals, _ = self.log_probs(texts)
        nats = -totals.sum()
        if spell_unknown:
            nats += sum(self.tokenizer.spelling_nats(t) for t in texts)
        chars = sum(len(subword.clean(t)) + 1 for t in texts)
        return float(nats / chars / math.log(2))

    # ------------------------------------------------------------------ generation
    def generate_ids(
        self,
        prompt: str = "",
        max_tokens: int = 50,
        temperature: float = 1.0,
        top_k: int | None = None,
        seed: int | None = None,
        use_cache: bool = True,
    ) -> list[int]:
        """The ids of up to `max_tokens` tokens that continue `prompt` (fewer at EOS_TOKEN or a full context).

        temperature 0 takes the most probable token (greedy); otherwise the logits are
        divided by it and, with top_k, only the k most probable tokens are kept before
        sampling with a generator seeded by `seed`. Padding and UNK_TOKEN are never chosen.
        With `use_cache` each new token runs through the model alone, against the keys
        and values kept from the earlier positions; without it the whole sequence is read
        again at every step. Both give the same distributions. Taught in chapter 8.
        """
        check_sampling(max_tokens, temperature, top_k)
        reads = [int(i) for i in self.tokenizer.prompt_ids(prompt)]
        if len(reads) >= self.config.context:
            raise ValueError(f"开头有 {len(reads) - 1} 个词元，模型最多读 {self.config.context - 1} 个")
        rng = np.random.default_rng(resolve_seed(seed))
        logits, past = self._first_logits(reads, use_cache)
        out: list[int] = []
        while len(out) < max_tokens:
            i = pick_token(logits, temperature, top_k, rng)
            if i == subword.EOS_ID:
                break
            out.append(i)
            reads.append(self.tokenizer.input_id(i))
            if len(reads) >= self.config.context:  # every position embedding is used: the length limit
                break
            if use_cache:
                step_logits, past = self._compiled("step")(tf.constant([[reads[-1]]], dtype=tf.int32), past)
                logits = step_logits.numpy()[0, -1]
            else:
                logits = self._compiled("call")(tf.constant([reads], dtype=tf.int32)).numpy()[0, -1]
        return out

    def _compiled(self, which: str):
        """The model's cached step or its whole forward pass as a compiled function (one per model).

        Lengths change at every step, so the functions are traced for unknown lengths
        (`reduce_retracing`); compiled, both ways of decoding pay only for their arithmetic.
        """
        functions = self.__dict__.setdefault("_decode_fns", {})
        if which not in functions:
            if which == "step":
                functions[which] = tf.function(lambda ids, past: self.model.step(ids, past), reduce_retracing=True)
            else:
                functions[which] = tf.function(lambda ids: self.model(ids, training=False), reduce_retracing=True)
        return functions[which]

    def _first_logits(self, reads: list[int], use_cache: bool):
        """The next-token logits after the prompt, and the cache (None without one)."""
        ids = tf.constant([reads], dtype=tf.int32)
        if use_cache:
            logits, past = self.model.step(ids)
            return logits.numpy()[0, -1], past
        return self._compiled("call")(ids).numpy()[0, -1], None

    def generate(
        self,
        prompt: str = "",
        max_tokens: int = 50,
        temperature: float = 1.0,
        top_k: int | None = None,
        seed: int | None = None,
        use_cache: bool = True,
    ) -> str:
        """`prompt` and the text of `generate_ids(...)`. Taught in chapter 8."""
        ids = self.generate_ids(prompt, max_tokens, temperature, top_k, seed, use_cache)
        return prompt + self.tokenizer.decode(ids)

    # ------------------------------------------------------------------ saving
    def save(self, directory: str | Path, metrics: dict | None = None) -> Path:
        """Write the model directory: config.json, model.weights.h5 and the tokenizer's files. Taught in chapter 8."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.model.save_weights(directory / WEIGHTS_FILE)
        self.tokenizer.save(directory)
        config = {
            "format": LM_FORMAT,
            "architecture": dataclasses.asdict(self.config),
            "tokenizer": self.tokenizer.kind,
            "seed": self.seed,
            "training": self.training,
            "metrics": metrics or {},
            "versions": saving.library_versions(),
        }
        (directory / CONFIG_FILE).write_text(json.dumps(config, ensure_ascii=False, indent=2), encoding="utf-8")
        return directory

    def __repr__(self) -> str:
        c = self.config
        return (
            f"GPTLanguageModel({self.tokenizer.kind}，词表 {c.vocab_size:,d}，上下文 {c.context}，"
            f"{c.depth} 层 × {c.dim} 维 × {c.heads} 头，参数 {self.count_parameters():,d} 个)"
        )


def check_sampling(max_tokens: int, temperature: float, top_k: int | None) -> None:
    """Refuse settings that cannot sample, with a Chinese ValueError. Taught in chapter 8."""
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise ValueError(f"max_tokens 必须是正整数，实际是 {max_tokens!r}")
    if not isinstance(temperature, (int, float)) or not math.isfinite(temperature) or temperature < 0:
        raise ValueError(f"temperature 必须是非负的有限数，实际是 {temperature!r}")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise ValueError(f"top_k 必须是正整数，实际是 {top_k!r}")


def sampling_distribution(logits: np.ndarray, temperature: float, top_k: int | None = None) -> np.ndarray:
    """The probabilities generation draws the next id from, shape (词表大小,), float64.

    Padding and UNK_TOKEN get 0. Temperature 0: all the mass on the most probable id
    (greedy). Otherwise softmax(logits / temperature) over the `top_k` most probable ids
    (all when top_k is None). Taught in chapter 8.
    """
    z = np.asarray(logits, dtype=np.float64).copy()
    z[[subword.PAD_ID, subword.UNK_ID]] = -np.inf
    if temperature == 0:
        greedy = np.zeros_like(z)
        greedy[int(np.argmax(z))] = 1.0
        return greedy
    z = z / temperature
    if top_k is not None and top_k < np.isfinite(z).sum():
        z[z < np.partition(z, -top_k)[-top_k]] = -np.inf
    q = np.exp(z - z.max())
    return q / q.sum()


def pick_token(logits: np.ndarray, temperature: float, top_k: int | None, rng: np.random.Generator) -> int:
    """One id from next-token logits (词表大小,), drawn from `sampling_distribution`. Taught in chapter 8."""
    if temperature == 0:
        return int(np.argmax(sampling_distribution(logits, 0)))
    q = sampling_distribution(logits, temperature, top_k)
    return int(rng.choice(len(q), p=q))


# --------------------------------------------------------------------------- training, cached
_TOKENIZERS: dict[str, subword._Tokenizer] = {}  # fitted in this process, by (kind, texts, vocab_size)


def _fitted_tokenizer(kind: str, texts: list[str], vocab_size: int | None):
    """`subword.fit_tokenizer`, fitted once per process for the same texts (several models share one)."""
    key = cache.make_key("llmcourse.subword", kind, texts, vocab_size)
    if key not in _TOKENIZERS:
        _TOKENIZERS[key] = subword.fit_tokenizer(kind, texts, vocab_size)
    return _TOKENIZERS[key]


def cached_lm(
    texts: Sequence[str],
    tokenizer_kind: str = "char",
    *,
    dim: int,
    depth: int,
    heads: int,
    context: int,
    steps: int,
    batch_size: int,
    learning_rate: float,
    vocab_size: int | None = None,
    softmax_samples: int | None = 512,
    final_lr_fraction: float = 0.1,
    seed: int | None = None,
) -> tuple[GPTLanguageModel, bool]:
    """Fit a tokenizer on `texts` and train a GPT on them; or read the identical earlier result back.

    (model, whether it came from the cache). The key covers the texts, every setting, this
    module's code (its whole import closure) and the library versions; the stored model
    keeps the training seconds measured when it was trained (`lm.training["seconds"]`).
    Taught in chapter 8.
    """
    texts = list(texts)
    seed = resolve_seed(seed)
    settings = {
        "tokenizer": tokenizer_kind,
        "vocab_size": vocab_size,
        "dim": dim,
        "depth": depth,
        "heads": heads,
        "context": context,
        "steps": steps,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "softmax_samples": softmax_samples,
        "final_lr_fraction": final_lr_fraction,
        "seed": seed,
        "versions": saving.library_versions(),
    }

    def train() -> GPTLanguageModel:
        tokenizer = _fitted_tokenizer(tokenizer_kind, texts, vocab_size)
        shape = GPTConfig(len(tokenizer), context=context, dim=dim, depth=depth, heads=heads)
        return GPTLanguageModel(tokenizer, shape, seed).fit(
            texts, steps, batch_size, learning_rate, softmax_samples, final_lr_fraction=final_lr_fraction
        )

    key = cache.make_key(__name__, texts, settings)
    return cache.cached("gpt", key, train, lambda model, folder: model.save(folder), load_lm)


# --------------------------------------------------------------------------- loading, checked
def _architecture(fields: saving._Fields) -> GPTConfig:
    """config.json's "architecture": integers inside their limits, dim divisible by heads."""
    arch = saving._Fields(fields.get("architecture", dict, "对象"), fields.path, "architecture.")
    values = {name: arch.get(name, int, "整数") for name in LIMITS}
    values["dropout"] = arch.number("dropout")
    try:
        return GPTConfig(**values)
    except ValueError as err:
        arch.fail(next((n for n in LIMITS if n in str(err)), "dim"), str(err))


def _tokenizer_state(directory: Path, kind: str) -> dict:
    """tokenizer.json: the format, the same kind as config.json, and the fields of that kind."""
    path = directory / subword.TOKENIZER_FILE
    fields = saving._Fields(saving._read_json(path), path)
    fields.format(subword.TOKENIZER_FORMAT)
    if fields.get("kind", str, "字符串") != kind:
        fields.fail("kind", f"是 {fields.state['kind']!r}，与 {CONFIG_FILE} 中的 {kind!r} 不一致")
    for name, counts in (
        ("speller", fields.get("speller", dict, "对象")),
        ("counts", fields.get("counts", dict, "对象") if kind == "char" else {}),
    ):
        bad = next((k for k, c in counts.items() if isinstance(c, bool) or not isinstance(c, int) or c < 0), None)
        if bad is not None:
            fields.fail(name, f"{bad!r} 的次数应是非负整数，实际是 {counts[bad]!r}")
    if kind == "char":
        if any(len(ch) != 1 for ch in fields.state["counts"]):
            fields.fail("counts", "每个键应是一个字符")
        for name in ("n_symbols", "min_input_count"):
            if fields.get(name, int, "整数") < 1:
                fields.fail(name, "应是正整数")
    elif kind == "word":
        words = fields.strings("words")
        if len(set(words)) != len(words):
            fields.fail("words", "有重复的词")
    else:
        saving._read_bytes(directory / subword.SENTENCEPIECE_FILE, 1)
    return fields.state


def load_lm(directory: str | Path) -> GPTLanguageModel:
    """A saved language model directory, every file checked before anything is built from it.

    Nothing in it is executed: the architecture is read from JSON and checked, the
    model is built from the package's own layers, and only numbers (HDF5 weights, the
    tokenizer's JSON or protobuf) are read in. A problem raises `saving.ModelLoadError`
    naming the file and the field. Taught in chapter 8.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise ModelLoadError("找不到这个模型目录" if not directory.exists() else "应是目录，却是一个文件", directory)
    path = directory / CONFIG_FILE
    fields = saving._Fields(saving._read_json(path), path)
    if fields.state.get("format") == saving.FORMAT:
        fields.fail("format", "这是情感分类器的模型目录，不是语言模型（请用 llmcourse predict）")
    fields.format(LM_FORMAT)
    config = _architecture(fields)
    kind = fields.get("tokenizer", str, "字符串")
    if kind not in subword.KINDS:
        fields.fail("tokenizer", f"未知的分词方式 {kind!r}：可选 {', '.join(subword.KINDS)}")
    try:
        tokenizer = subword.tokenizer_from_state(_tokenizer_state(directory, kind), directory)
    except ValueError as err:
        raise ModelLoadError(str(err), directory / subword.SENTENCEPIECE_FILE) from err
    if len(tokenizer) != config.vocab_size:
        fields.fail("architecture.vocab_size", f"是 {config.vocab_size}，分词器的词表却有 {len(tokenizer)} 个词元")
    model = _read_weights(directory / WEIGHTS_FILE, config)
    lm = GPTLanguageModel(
        tokenizer, config, fields.state.get("seed") if isinstance(fields.state.get("seed"), int) else None, model
    )
    lm.training = fields.state.get("training") if isinstance(fields.state.get("training"), dict) else {}
    return lm


def _read_weights(path: Path, config: GPTConfig) -> MiniGPT:
    """The weights of model.weights.h5 in a model of shape `config` (no code is read from the file)."""
    saving._read_bytes(path, 1)
    model = MiniGPT(**dataclasses.asdict(config), name="mini_gpt")
    model(np.zeros((1, min(2, config.context)), dtype=np.int32))
    try:
        model.load_weights(path)
    except Exception as err:  # noqa: BLE001  h5py and Keras raise many kinds; each means a bad file
        raise ModelLoadError(
            f"无法读取权重（文件损坏，或与 {CONFIG_FILE} 中的结构不符）：{type(err).__name__}", path
        ) from err
    return model

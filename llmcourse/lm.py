"""A character-level LSTM language model (chapter 6), comparable with `ngram.CharNgramLM`.

The model reads a review one character at a time and outputs, after every
character, a distribution over the next one. It is trained sequence to
sequence: the training reviews are joined into one stream (each review
followed by the end-of-text symbol) and cut into windows; for every position
of a window the model predicts the character that follows, so one window of
length L gives L training targets at once.

The output layer reuses the input embedding matrix (weight tying), and
training scores each target against a sample of the vocabulary (sampled
softmax) instead of all ~4,400 characters; evaluation always uses the full
softmax.

Its symbols are exactly those of `ngram.CharNgramLM` fitted on the same texts:
every training character, `EOS_TOKEN` and `UNK_TOKEN` (any character never seen in
training). `UNK_TOKEN` gets a fixed probability estimated by Good-Turing (the share
of training symbols whose character occurs only once), the other symbols share
the rest, so every distribution sums to 1 and the per-character perplexity on
held-out texts (each text scored from its start, one EOS_TOKEN per text) can be set
beside the n-gram's.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import math
import time
from typing import Iterable, Sequence

import numpy as np

from llmcourse import cache, profiling
from llmcourse.config import import_tensorflow, resolve_seed, set_seed
from llmcourse.ngram import EOS_TOKEN, UNK_TOKEN

tf = import_tensorflow()
import keras  # noqa: E402  (after TensorFlow, quietly imported)
from keras import layers  # noqa: E402

from llmcourse.training import without_autotune  # noqa: E402

# The control characters CharNgramLM removes from every text before scoring it;
# removed here too, so that both models score exactly the same characters.
_STRIP = str.maketrans("", "", "\x02\x03\x1a")


class CharVocabulary:
    """Character ids: 0 = padding, 1 = EOS_TOKEN (also the start of every text), 2 = UNK_TOKEN, 3... = characters.

    Output side: every character seen in training has its own id.
    Input side: characters seen fewer than `min_input_count` times are read as UNK_TOKEN,
    so the UNK_TOKEN embedding is trained and unseen characters in new text are read sensibly.
    Taught in chapter 6.
    """

    PAD_ID, EOS_ID, UNK_ID = 0, 1, 2

    def __init__(self, counts: dict[str, int], n_symbols: int, min_input_count: int = 2):
        self.chars = sorted(counts, key=lambda ch: (-counts[ch], ch))  # most frequent first
        self.counts = dict(counts)
        self.n_symbols = n_symbols  # training characters plus one EOS_TOKEN per text
        self.min_input_count = min_input_count
        self.index = {ch: i + 3 for i, ch in enumerate(self.chars)}
        # Good-Turing: the probability of meeting a new character is about the share of
        # training symbols (characters and EOS_TOKEN) that are characters seen exactly once.
        singletons = sum(1 for c in counts.values() if c == 1)
        self.unk_probability = max(singletons, 1) / max(n_symbols, 1)
        self._input_ids = np.arange(len(self), dtype=np.int32)
        rare = [self.index[ch] for ch in self.chars if counts[ch] < min_input_count]
        self._input_ids[rare] = self.UNK_ID

    @classmethod
    def build(cls, texts: Iterable[str], min_input_count: int = 2) -> "CharVocabulary":
        counts: collections.Counter = collections.Counter()
        n_texts = 0
        for t in texts:
            counts.update(t.translate(_STRIP))
            n_texts += 1
        if not counts:
            raise ValueError("训练文本为空")
        return cls(dict(counts), sum(counts.values()) + n_texts, min_input_count)

    def __len__(self) -> int:
        return len(self.chars) + 3

    def __repr__(self) -> str:
        return f"CharVocabulary({len(self.chars):,d} 个字 + </s> + <unk>)"

    def target_ids(self, text: str) -> np.ndarray:
        """Ids of the characters of `text` followed by EOS_TOKEN (what the model predicts), shape (len+1,)."""
        text = text.translate(_STRIP)
        ids = [self.index.get(ch, self.UNK_ID) for ch in text]
        return np.array(ids + [self.EOS_ID], dtype=np.int32)

    def input_ids(self, target_ids: np.ndarray) -> np.ndarray:
        """What the model reads: EOS_TOKEN, then the targets shifted by one, rare characters as UNK_TOKEN."""
        ids = np.concatenate([[self.EOS_ID], np.asarray(target_ids, dtype=np.int32)[:-1]])
        return self._input_ids[ids]

    def input_id(self, i: int) -> int:
        """The id the model reads for output id i: i itself, or UNK_ID for a character too rare as input."""
        return int(self._input_ids[i])

    def symbol(self, i: int) -> str:
        """Public name of id i (a character, EOS_TOKEN or UNK_TOKEN)."""
        if i == self.EOS_ID:
            return EOS_TOKEN
        if i == self.UNK_ID:
            return UNK_TOKEN
        if i < 3:
            raise ValueError("0 是填充符，不是一个符号")
        return self.chars[i - 3]

    def symbols(self) -> list[str]:
        """Every symbol in the order of `CharLSTMLM.distribution()`: the characters, then EOS_TOKEN, then UNK_TOKEN."""
        return list(self.chars) + [EOS_TOKEN, UNK_TOKEN]


@keras.saving.register_keras_serializable(package="llmcourse")
class TiedOutput(layers.Layer):
    """Next-character logits from the embedding matrix itself: (..., dim) -> (..., vocab).

    logits = x · Eᵀ + b, where E is the input embedding (vocab, dim). Sharing E between
    input and output (weight tying) saves a (dim x vocab) matrix and lets rare characters
    learn from both sides.
    Taught in chapter 6.
    """

    def __init__(self, embedding: layers.Embedding, **kwargs):
        super().__init__(**kwargs)
        self.embedding = embedding

    def build(self, input_shape):
        self.bias = self.add_weight(shape=(self.embedding.input_dim,), initializer="zeros", name="bias")

    def call(self, x):
        return keras.ops.matmul(x, keras.ops.transpose(self.embedding.embeddings)) + self.bias

    def compute_mask(self, inputs, mask=None):
        return mask


def build_char_lstm(
    vocab_size: int, embedding_dim: int = 64, hidden_units: int = 256, dropout: float = 0.1
) -> keras.Model:
    """Ids (batch, time) -> next-character logits (batch, time, vocab_size); padding id 0 is masked.

    Embedding -> LSTM -> a linear map back to the embedding width -> tied output layer.
    The LSTM keeps the defaults that allow the cuDNN kernel on a GPU.
    Taught in chapter 6.
    """
    inputs = keras.Input(shape=(None,), dtype="int32", name="char_ids")  # (批量大小, 时间步数)
    embedding = layers.Embedding(vocab_size, embedding_dim, mask_zero=True, name="embedding")
    x = embedding(inputs)  # (批量大小, 时间步数, 嵌入维度)
    x = layers.Dropout(dropout, name="embedding_dropout")(x)
    x = layers.LSTM(hidden_units, return_sequences=True, name="lstm")(x)  # (批量大小, 时间步数, 隐藏单元数)
    x = layers.Dropout(dropout, name="dropout")(x)
    x = layers.Dense(embedding_dim, name="projection")(x)  # (批量大小, 时间步数, 嵌入维度)
    logits = TiedOutput(embedding, name="logits")(x)  # (批量大小, 时间步数, 词表大小)
    return keras.Model(inputs, logits, name="char_lstm_lm")


@dataclasses.dataclass
class TrainingLog:
    """What happened during `CharLSTMLM.fit`. Taught in chapter 6."""

    loss: list[float]  # mean training loss per epoch (sampled-softmax loss when sampling)
    epoch_seconds: list[float]
    heldout_perplexity: list[float]  # after each epoch, when held-out texts were given

    @property
    def seconds(self) -> float:
        return float(sum(self.epoch_seconds))


class CharLSTMLM:
    """Character-level LSTM language model with the interface of `ngram.CharNgramLM`.

    window: characters per training window (and predictions per window); the
    windows do not overlap and start from a new seeded random offset every epoch.
    softmax_samples: sampled-softmax size during training (None = full softmax).

    Taught in chapter 6.
    """

    def __init__(
        self,
        embedding_dim: int = 128,
        hidden_units: int = 256,
        dropout: float = 0.1,
        window: int = 32,
        softmax_samples: int | None = 512,
        min_input_count: int = 2,
        seed: int | None = None,
    ):
        if window < 2:
            raise ValueError("window 至少为 2")
        self.embedding_dim = embedding_dim
        self.hidden_units = hidden_units
        self.dropout = dropout
        self.window = window
        self.softmax_samples = softmax_samples
        self.min_input_count = min_input_count
        self.seed = resolve_seed(seed)
        self.vocab: CharVocabulary | None = None
        self.model: keras.Model | None = None
        self.log: TrainingLog | None = None
        self._score_fn = None
        self._step_fn = None

    # ------------------------------------------------------------------ training
    def _stream(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(inputs, targets) of all texts joined: every text read from EOS_TOKEN and predicted up to its EOS_TOKEN."""
        targets = np.concatenate([self.vocab.target_ids(t) for t in texts])
        inputs = self.vocab.input_ids(targets)
        return inputs, targets

    def windows(self, inputs: np.ndarray, targets: np.ndarray, offset: int) -> tuple[np.ndarray, np.ndarray]:
        """Non-overlapping windows starting at `offset`: two arrays of shape (窗口数, window)."""
        n = (len(inputs) - offset) // self.window
        end = offset + n * self.window
        return (inputs[offset:end].reshape(n, self.window), targets[offset:end].reshape(n, self.window))

    @profiling.timed("char-lm")
    def fit(
        self,
        texts: Sequence[str],
        epochs: int = 5,
        batch_size: int = 64,
        learning_rate: float = 1e-2,
        heldout: Sequence[str] | None = None,
        verbose: bool = True,
    ) -> "CharLSTMLM":
        """Train on `texts` with Adam; with `heldout`, report its perplexity after every epoch.

        Every epoch cuts the stream into windows from a new random offset and shuffles
        them. The learning rate falls along a cosine from `learning_rate` to a tenth of it.
        With `softmax_samples`, each step scores the true next character against that many
        sampled characters instead of the whole vocabulary (sampled softmax); evaluation
        always uses the full softmax.
        """
        texts = list(texts)
        set_seed(self.seed, tensorflow=True)
        self._build(texts)
        inputs, targets = self._stream(texts)
        steps_per_epoch = -(-((len(inputs) - self.window) // self.window) // batch_size)
        train_step = self._train_step_function(self._optimizer(learning_rate, epochs * steps_per_epoch))
        rng = np.random.default_rng(self.seed)
        self.log = TrainingLog([], [], [])
        for epoch in range(epochs):
            start = time.perf_counter()
            x, y = self.windows(inputs, targets, int(rng.integers(self.window)))
            self.log.loss.append(self._train_epoch(train_step, self._epoch_dataset(x, y, batch_size, epoch)))
            self.log.epoch_seconds.append(time.perf_counter() - start)
            if heldout is not None:
                self.log.heldout_perplexity.append(self.perplexity(heldout))
            if verbose:
                print(self._epoch_message(epoch, epochs), flush=True)
        return self

    def _build(self, texts: list[str]) -> None:
        """A new vocabulary and a new, untrained model for `texts` (call after seeding)."""
        self.vocab = CharVocabulary.build(texts, self.min_input_count)
        self.model = build_char_lstm(len(self.vocab), self.embedding_dim, self.hidden_units, self.dropout)
        self._score_fn = self._step_fn = None

    def _optimizer(self, learning_rate: float, total_steps: int) -> keras.optimizers.Optimizer:
        """Adam with gradient clipping, the rate falling along a cosine to a tenth; built for the model."""
        schedule = keras.optimizers.schedules.CosineDecay(learning_rate, max(1, total_steps), alpha=0.1)
        optimizer = keras.optimizers.Adam(schedule, clipnorm=1.0)
        optimizer.build(self.model.trainable_variables)
        return optimizer

    def _train_step_function(self, optimizer: keras.optimizers.Optimizer):
        """A compiled step: (x, y) windows (批量大小, 窗口长度) -> mean loss, after one update of the weights."""
        model, vocab_size = self.model, len(self.vocab)
        body = keras.Model(model.inputs[0], model.get_layer("projection").output)  # ids -> (批量, 时间步, 嵌入维度)
        table = model.get_layer("embedding").embeddings
        bias = model.get_layer("logits").bias
        variables = model.trainable_variables
        # sampling pays off only when the vocabulary is much larger than the sample
        samples = self.softmax_samples if self.softmax_samples and self.softmax_samples < vocab_size // 2 else None

        @tf.function(input_signature=[tf.TensorSpec((None, None), tf.int32)] * 2, autograph=False)
        def train_step(x, y):
            with tf.GradientTape() as tape:
                if samples:
                    h = tf.reshape(body(x, training=True), (-1, self.embedding_dim))  # (批量×时间步, 嵌入维度)
                    labels = tf.reshape(tf.cast(y, tf.int64), (-1, 1))
                    loss = tf.reduce_mean(
                        tf.nn.sampled_softmax_loss(
                            table.value,
                            bias.value,
                            labels,
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

    def _epoch_dataset(self, x: np.ndarray, y: np.ndarray, batch_size: int, epoch: int) -> tf.data.Dataset:
        """The epoch's windows, shuffled with a seed of their own, in batches."""
        dataset = (
            tf.data.Dataset.from_tensor_slices((x, y))  # 每个元素：(窗口长度,) 的输入和目标
            .shuffle(len(x), seed=self.seed + epoch)
            .batch(batch_size)
            .prefetch(2)
        )
        return without_autotune(dataset)  # no per-epoch stall when the iterator is released

    @staticmethod
    def _train_epoch(train_step, dataset: tf.data.Dataset) -> float:
        """One pass over the batches; the mean of the batches' losses."""
        total, n = 0.0, 0
        for xb, yb in dataset:  # xb, yb: (批量大小, 窗口长度)
            total += float(train_step(xb, yb))
            n += 1
        return total / max(n, 1)

    def _epoch_message(self, epoch: int, epochs: int) -> str:
        """One line about the last epoch of `self.log`, in Chinese."""
        message = f"第 {epoch + 1}/{epochs} 轮：训练损失 {self.log.loss[-1]:.3f}（{self.log.epoch_seconds[-1]:.0f} 秒）"
        if self.log.heldout_perplexity:
            message += f"，留出文本困惑度 {self.log.heldout_perplexity[-1]:.2f}"
        return message

    def _check_fitted(self) -> None:
        if self.model is None:
            raise RuntimeError("模型还没有训练：请先调用 fit(texts)")

    # ------------------------------------------------------------------ probabilities
    def _log_probs(self, logits):
        """Log-probabilities over the ids from logits (..., vocab): padding gets none, UNK_TOKEN its fixed share."""
        v = len(self.vocab)
        ids = tf.range(v)
        blocked = (ids == CharVocabulary.PAD_ID) | (ids == CharVocabulary.UNK_ID)
        log_known = tf.nn.log_softmax(tf.where(blocked, tf.constant(-np.inf, logits.dtype), logits), axis=-1)
        log_known += math.log1p(-self.vocab.unk_probability)
        log_unk = tf.constant(math.log(self.vocab.unk_probability), logits.dtype)
        return tf.where(ids == CharVocabulary.UNK_ID, log_unk, log_known)

    def distribution(self, context: str = "") -> np.ndarray:
        """Probabilities of every symbol of `symbols()` after `context` (sums to 1)."""
        self._check_fitted()
        targets = self.vocab.target_ids(context)  # context + EOS_TOKEN; the EOS_TOKEN is not read
        x = self.vocab.input_ids(targets)[None, :]  # (1, 上下文长度 + 1)
        logits = self.model(x, training=False)[:, -1, :]  # (1, 词表大小)
        p = np.exp(self._log_probs(logits).numpy()[0].astype(np.float64))
        # reorder from ids (pad, EOS_TOKEN, UNK_TOKEN, chars...) to symbols() (chars..., EOS_TOKEN, UNK_TOKEN)
        return np.concatenate([p[3:], p[[CharVocabulary.EOS_ID, CharVocabulary.UNK_ID]]])

    def position_log_probs(self, text: str) -> np.ndarray:
        """ln P(each character of `text` | the characters before it), shape (字数,), from one forward pass.

        The same numbers as asking `distribution` once per prefix, without reading the text
        again for every character. Taught in chapter 6.
        """
        self._check_fitted()
        targets = self.vocab.target_ids(text)  # (字数 + 1,): the text, then EOS_TOKEN
        x = self.vocab.input_ids(targets)[None, :]  # (1, 字数 + 1)
        log_p = self._log_probs(self.model(x, training=False)).numpy()[0]  # (字数 + 1, 词表大小)
        chars = len(targets) - 1
        return log_p[np.arange(chars), targets[:chars]].astype(np.float64)

    def symbols(self) -> list[str]:
        self._check_fitted()
        return self.vocab.symbols()

    def prob(self, char: str, context: str = "") -> float:
        """P(char | context); `char` may be EOS_TOKEN or UNK_TOKEN."""
        self._check_fitted()
        symbols = self.symbols()
        if char not in (EOS_TOKEN, UNK_TOKEN) and len(char) != 1:
            raise ValueError(f"一次只能查询一个字符（或 {EOS_TOKEN!r}、{UNK_TOKEN!r}），得到 {char!r}")
        if char not in (EOS_TOKEN, UNK_TOKEN) and char not in self.vocab.index:
            char = UNK_TOKEN
        return float(self.distribution(context)[symbols.index(char)])

    def next_char_distribution(self, context: str = "", k: int = 10) -> list[tuple[str, float]]:
        """The k most probable next symbols after `context`, as (symbol, probability)."""
        p = self.distribution(context)
        symbols = self.symbols()
        top = np.argsort(-p, kind="stable")[:k]
        return [(symbols[i], float(p[i])) for i in top]

    # ------------------------------------------------------------------ evaluation
    def _scorer(self):
        if self._score_fn is None:
            model = self.model

            @tf.function(input_signature=[tf.TensorSpec((None, None), tf.int32)] * 2, autograph=False)
            def score(x, y):
                logits = model(x, training=False)  # (批量大小, 时间步数, 词表大小)
                log_p = self._log_probs(logits)
                picked = tf.gather(log_p, y, batch_dims=2)  # (批量大小, 时间步数)
                return tf.reduce_sum(tf.where(y != CharVocabulary.PAD_ID, picked, 0.0), axis=1)

            self._score_fn = score
        return self._score_fn

    @profiling.timed("evaluation")
    def log_probs(self, texts: Sequence[str], symbols_per_batch: int = 8192) -> tuple[np.ndarray, np.ndarray]:
        """Natural-log probability of each text followed by EOS_TOKEN, and the symbols scored per text.

        Every text is read from its start (EOS_TOKEN as the first input, a fresh LSTM state).
        Texts of similar length are batched together, padded to the longest of the batch.
        """
        self._check_fitted()
        targets = [self.vocab.target_ids(t) for t in texts]
        lengths = np.array([len(t) for t in targets], dtype=np.int64)
        totals = np.zeros(len(texts), dtype=np.float64)
        order = np.argsort(lengths, kind="stable")
        score = self._scorer()
        start = 0
        while start < len(order):
            end = start + 1  # grow the batch while (rows x longest row) fits the budget
            while end < len(order) and (end + 1 - start) * lengths[order[end]] <= symbols_per_batch:
                end += 1
            index = order[start:end]
            width = int(lengths[index].max())
            x = np.zeros((len(index), width), dtype=np.int32)  # (批量大小, 本批最长长度)
            y = np.zeros((len(index), width), dtype=np.int32)
            for row, i in enumerate(index):
                y[row, : lengths[i]] = targets[i]
                x[row, : lengths[i]] = self.vocab.input_ids(targets[i])
            totals[index] = score(tf.constant(x), tf.constant(y)).numpy()
            start = end
        return totals, lengths

    def log_prob(self, text: str) -> tuple[float, int]:
        """Natural-log probability of `text` followed by EOS_TOKEN, and the number of symbols scored."""
        total, n = self.log_probs([text])
        return float(total[0]), int(n[0])

    def cross_entropy(self, texts: Sequence[str]) -> float:
        """Average negative log-probability per symbol (nats), end-of-text symbols included."""
        texts = list(texts)
        if not texts:
            raise ValueError("没有可评估的文本")
        totals, lengths = self.log_probs(texts)
        return float(-totals.sum() / lengths.sum())

    def perplexity(self, texts: Sequence[str]) -> float:
        """Per-character perplexity exp(cross-entropy), one EOS_TOKEN per text included (as in CharNgramLM)."""
        return math.exp(self.cross_entropy(texts))

    # ------------------------------------------------------------------ generation
    def _stepper(self):
        """A compiled function: (ids (1, 1), h, c) -> (logits (1, vocab), h, c), one character at a time."""
        if self._step_fn is None:
            embedding = self.model.get_layer("embedding")
            lstm = self.model.get_layer("lstm")
            projection = self.model.get_layer("projection")
            output = self.model.get_layer("logits")
            cell = lstm.cell

            @tf.function(reduce_retracing=True, autograph=False)
            def step(ids, h, c):
                x = embedding(ids)[:, 0, :]  # (1, 嵌入维度)
                out, (h, c) = cell(x, [h, c], training=False)
                return output(projection(out)), h, c

            self._step_fn = step
        return self._step_fn

    def generate(
        self,
        prefix: str = "",
        max_chars: int = 50,
        temperature: float = 1.0,
        top_k: int | None = None,
        seed: int | None = 0,
    ) -> str:
        """Continue `prefix` by sampling up to `max_chars` characters (stops at EOS_TOKEN).

        temperature < 1 sharpens the distribution, > 1 flattens it, 0 takes the
        most probable character; top_k keeps only the k most probable symbols.
        UNK_TOKEN is never sampled. The same seed gives the same text.
        """
        self._check_fitted()
        if temperature < 0:
            raise ValueError("temperature 不能为负数")
        if top_k is not None and top_k < 1:
            raise ValueError("top_k 至少为 1")
        rng = np.random.default_rng(seed)
        step = self._stepper()
        h = tf.zeros((1, self.hidden_units))
        c = tf.zeros((1, self.hidden_units))
        reads = self.vocab.input_ids(self.vocab.target_ids(prefix))  # EOS_TOKEN + prefix
        logits = None
        for i in reads:
            logits, h, c = step(tf.constant([[int(i)]], dtype=tf.int32), h, c)
        out = prefix
        blocked = [CharVocabulary.PAD_ID, CharVocabulary.UNK_ID]
        for _ in range(max_chars):
            z = logits.numpy()[0].astype(np.float64)
            z[blocked] = -np.inf
            if temperature == 0:
                i = int(np.argmax(z))
            else:
                z = z / temperature
                if top_k is not None and top_k < len(z):
                    cut = np.partition(z, -top_k)[-top_k]
                    z[z < cut] = -np.inf
                q = np.exp(z - z.max())
                i = int(rng.choice(len(q), p=q / q.sum()))
            if i == CharVocabulary.EOS_ID:
                break
            out += self.vocab.symbol(i)
            logits, h, c = step(tf.constant([[self.vocab.input_id(i)]], dtype=tf.int32), h, c)
        return out

    def count_parameters(self) -> int:
        self._check_fitted()
        return int(self.model.count_params())

    def __repr__(self) -> str:
        state = f"{len(self.vocab.chars):,d} 个字" if self.vocab else "未训练"
        return f"CharLSTMLM(嵌入 {self.embedding_dim}，LSTM {self.hidden_units}，窗口 {self.window}，{state})"


# --------------------------------------------------------------------------- trained once, cached
_SETTINGS = ("embedding_dim", "hidden_units", "dropout", "window", "softmax_samples", "min_input_count", "seed")
_WEIGHTS, _STATE = "model.weights.h5", "lstm_lm.json"


def _save_lstm(model: CharLSTMLM, folder) -> None:
    model.model.save_weights(folder / _WEIGHTS)
    state = {
        "settings": {name: getattr(model, name) for name in _SETTINGS},
        "vocab": {"counts": model.vocab.counts, "n_symbols": model.vocab.n_symbols},
        "log": dataclasses.asdict(model.log),
    }
    (folder / _STATE).write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")


def _load_lstm(folder) -> CharLSTMLM:
    state = json.loads((folder / _STATE).read_text(encoding="utf-8"))
    model = CharLSTMLM(**state["settings"])
    model.vocab = CharVocabulary(state["vocab"]["counts"], state["vocab"]["n_symbols"], model.min_input_count)
    model.model = build_char_lstm(len(model.vocab), model.embedding_dim, model.hidden_units, model.dropout)
    model.model.load_weights(folder / _WEIGHTS)
    model.log = TrainingLog(**state["log"])
    return model


def cached_char_lstm(
    texts: Sequence[str],
    heldout: Sequence[str] | None = None,
    *,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    verbose: bool = True,
    **settings,
) -> tuple[CharLSTMLM, bool]:
    """`CharLSTMLM(**settings).fit(texts, ...)`, or the identical model trained earlier, read from the cache.

    (model, whether it came from the cache). Chapter 6 trains its model through this, so
    that chapter 8 can set the same model beside the GPT without training it again; the
    training log (losses, seconds, held-out perplexities) is the one measured then.
    Taught in chapter 6.
    """
    model = CharLSTMLM(**settings)
    fitted = {name: getattr(model, name) for name in _SETTINGS}
    key = cache.make_key(__name__, list(texts), list(heldout or []), fitted, [epochs, batch_size, learning_rate])

    def train() -> CharLSTMLM:
        return model.fit(
            list(texts),
            epochs=epochs,
            batch_size=batch_size,
            learning_rate=learning_rate,
            heldout=heldout,
            verbose=verbose,
        )

    return cache.cached("char-lstm", key, train, _save_lstm, _load_lstm)

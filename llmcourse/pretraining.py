"""Language-model pretraining of a recurrent encoder before it learns sentiment.

A classifier trained from labels alone learns its recurrent weights from about
14,000 reviews and one bit of supervision per review. Before that, the same
embedding and recurrent layer can learn from every word of the training
reviews by predicting the next word (and, for a bidirectional layer, the
previous word with its backward half): a language model. The classifier then
starts from these weights and is fine-tuned on the labels (Dai and Le 2015,
"Semi-supervised Sequence Learning"; Howard and Ruder 2018, ULMFiT).

Only training-split text is used, so validation and test stay unseen. The
output layer reuses the embedding matrix (weight tying) and training scores
each target word against a sample of the vocabulary (sampled softmax); the
held-out perplexity is computed with the full softmax. Targets that are
padding or the unknown word are skipped.
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np

from llmcourse.config import import_tensorflow, resolve_seed, set_seed
from llmcourse.registry import PRETRAINABLE_KINDS
from llmcourse.vectors import PAD_ID, UNK_ID

tf = import_tensorflow()
import keras  # noqa: E402  (after TensorFlow, quietly imported)
from keras import layers  # noqa: E402

from llmcourse import models, training  # noqa: E402

DIRECTIONS = ("forward", "backward")


@dataclasses.dataclass
class PretrainingRecord:
    """The figures of one pretraining run, without its weights: what tables and config files show.

    Taught in chapter 5.
    """

    kind: str
    hidden_units: int
    loss: dict[str, list[float]]  # direction -> mean sampled-softmax loss per epoch
    heldout_perplexity: dict[str, list[float]]  # direction -> per-word perplexity after each epoch
    epoch_seconds: list[float]

    @property
    def seconds(self) -> float:
        return float(sum(self.epoch_seconds))

    def summary(self) -> dict:
        """Figures for a config file or a table, rounded."""
        return {
            "epochs": len(self.epoch_seconds),
            "seconds": round(self.seconds, 1),
            "loss": {d: [round(v, 4) for v in vals] for d, vals in self.loss.items()},
            "heldout_perplexity": {d: [round(v, 2) for v in vals] for d, vals in self.heldout_perplexity.items()},
        }


@dataclasses.dataclass
class PretrainedEncoder(PretrainingRecord):
    """Embedding and recurrent weights learned as a language model, ready to start a classifier.

    Taught in chapter 5.
    """

    embedding: np.ndarray  # (词表大小, 词向量维度)
    recurrent_weights: list[np.ndarray]  # in the order of the classifier's recurrent layer

    @property
    def layer_name(self) -> str:
        return models.recurrent_layer_name(self.kind)

    def record(self) -> PretrainingRecord:
        """The figures alone (what the trained-model cache keeps; the weights live on in the classifier)."""
        return PretrainingRecord(self.kind, self.hidden_units, self.loss, self.heldout_perplexity, self.epoch_seconds)

    def apply(self, model: keras.Model) -> keras.Model:
        """Copy the weights into a classifier built by `models.build_classifier` with the same kind and sizes."""
        embedding = model.get_layer("embedding")
        if embedding.get_weights()[0].shape != self.embedding.shape:
            raise ValueError(
                f"词向量矩阵形状不一致：模型 {embedding.get_weights()[0].shape}，预训练 {self.embedding.shape}"
            )
        embedding.set_weights([self.embedding])
        model.get_layer(self.layer_name).set_weights(self.recurrent_weights)
        return model


def _directions(kind: str) -> tuple[str, ...]:
    return DIRECTIONS if kind == "bilstm" else DIRECTIONS[:1]


def _joined_ids(ids: np.ndarray, extra_ids: np.ndarray | None) -> np.ndarray:
    """The training ids with the extra text's ids below them, both right-padded to one width."""
    ids = np.asarray(ids, dtype=np.int32)
    if extra_ids is None or not len(extra_ids):
        return ids
    extra = np.asarray(extra_ids, dtype=np.int32)
    width = max(ids.shape[1], extra.shape[1])
    return np.concatenate(
        [np.pad(ids, ((0, 0), (0, width - ids.shape[1]))), np.pad(extra, ((0, 0), (0, width - extra.shape[1])))]
    )


class _EncoderLanguageModel:
    """Embedding + recurrent layer + one output projection per direction, trained with sampled softmax.

    The output layer reuses the embedding matrix (weight tying): a projected state of
    width 词向量维度 is scored against every word's vector.
    """

    def __init__(
        self,
        matrix: np.ndarray,
        kind: str,
        hidden_units: int,
        dropout: float,
        learning_rate: float,
        softmax_samples: int,
        seed: int,
        probe: np.ndarray,
    ):
        self.vocab_size, dim = matrix.shape
        self.hidden_units, self.seed = hidden_units, seed
        self.directions = _directions(kind)
        self.embed = layers.Embedding(self.vocab_size, dim, mask_zero=True, name="embedding")
        self.embed.build((None, None))
        self.embed.set_weights([matrix])
        self.recurrent = models.recurrent_layer(kind, hidden_units, sequences=True)
        self.drop = layers.Dropout(dropout)
        self.projections = {d: layers.Dense(dim, name=f"{d}_projection") for d in self.directions}
        self.biases = {d: tf.Variable(tf.zeros(self.vocab_size), name=f"{d}_bias") for d in self.directions}
        probe = tf.constant(probe)  # build every layer once: (1, 2) ids
        states = self.recurrent(self.embed(probe), mask=probe != PAD_ID)
        for d in self.directions:
            self.projections[d](states[..., :hidden_units])
        self.variables = (
            self.embed.trainable_variables
            + self.recurrent.trainable_variables
            + [v for d in self.directions for v in self.projections[d].trainable_variables]
            + [self.biases[d] for d in self.directions]
        )
        self.optimizer = keras.optimizers.Adam(learning_rate, clipnorm=1.0)
        self.optimizer.build(self.variables)
        self.samples = min(softmax_samples, self.vocab_size // 2)
        spec = [tf.TensorSpec((None, None), tf.int32)]
        self.train_step = tf.function(self._train_step, input_signature=spec, autograph=False)
        self.heldout_step = tf.function(self._heldout_step, input_signature=spec, autograph=False)

    def hidden_and_targets(self, x, training_mode: bool) -> dict:
        """Per direction: projected states (词数, 词向量维度) and the word each must predict (词数,)."""
        mask = x != PAD_ID
        e = self.drop(self.embed(x), training=training_mode)  # (批量大小, 时间步数, 词向量维度)
        h = self.drop(
            self.recurrent(e, mask=mask, training=training_mode), training=training_mode
        )  # (批量大小, 时间步数, 单元数[×2])
        out = {}
        for i, d in enumerate(self.directions):
            part = h[..., i * self.hidden_units : (i + 1) * self.hidden_units]
            if d == "forward":  # the state after word t predicts word t+1
                states_d, targets = part[:, :-1], x[:, 1:]
            else:  # the backward state at word t has read t..end and predicts word t-1
                states_d, targets = part[:, 1:], x[:, :-1]
            keep = targets > UNK_ID  # neither padding nor the unknown word
            out[d] = (self.projections[d](tf.boolean_mask(states_d, keep)), tf.boolean_mask(targets, keep))
        return out

    def _train_step(self, x):
        with tf.GradientTape() as tape:
            losses = []
            for d, (h, y) in self.hidden_and_targets(x, True).items():
                losses.append(
                    tf.reduce_mean(
                        tf.nn.sampled_softmax_loss(
                            self.embed.embeddings.value,
                            self.biases[d],
                            tf.reshape(tf.cast(y, tf.int64), (-1, 1)),
                            h,
                            num_sampled=self.samples,
                            num_classes=self.vocab_size,
                            seed=self.seed,
                        )
                    )
                )
            total = tf.add_n(losses)
        grads = tape.gradient(total, self.variables)
        self.optimizer.apply_gradients(zip(grads, self.variables))
        return tf.stack(losses)  # (方向数,)

    def _heldout_step(self, x):
        sums = []
        for d, (h, y) in self.hidden_and_targets(x, False).items():
            logits = tf.matmul(h, self.embed.embeddings, transpose_b=True) + self.biases[d]  # (词数, 词表大小)
            nll = tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits)
            sums.append(tf.stack([tf.reduce_sum(nll), tf.cast(tf.size(y), tf.float32)]))
        return tf.stack(sums)  # (方向数, 2): total negative log-likelihood and word count

    def epoch(self, dataset) -> np.ndarray:
        """One pass over the batches; the mean loss per direction."""
        sums, batches = np.zeros(len(self.directions)), 0
        for xb in dataset:  # a new seeded order of length-grouped batches every epoch
            sums += self.train_step(xb).numpy()
            batches += 1
        return sums / max(batches, 1)

    def perplexity(self, heldout_ids: np.ndarray) -> dict[str, float]:
        """Per-word perplexity of each direction on held-out ids (full softmax)."""
        totals = np.zeros((len(self.directions), 2))
        for xb in training.make_dataset(heldout_ids, None, 16, shuffle=False):
            totals += self.heldout_step(xb).numpy()
        return {d: math.exp(totals[i, 0] / max(totals[i, 1], 1)) for i, d in enumerate(self.directions)}


def _check_pretraining(kind: str, epochs: int) -> None:
    if kind not in PRETRAINABLE_KINDS:
        raise ValueError(f"只有循环网络可以做语言模型预训练：可选 {', '.join(PRETRAINABLE_KINDS)}，得到 {kind!r}")
    if epochs < 1:
        raise ValueError("预训练轮数至少为 1")


def _record_epoch(lm, mean_loss, heldout_ids, loss: dict, heldout: dict) -> None:
    """Append one epoch's training loss and (when held-out ids are given) held-out perplexity, per direction."""
    for i, d in enumerate(lm.directions):
        loss[d].append(float(mean_loss[i]))
    if heldout_ids is not None and len(heldout_ids):
        for d, value in lm.perplexity(heldout_ids).items():
            heldout[d].append(value)


def pretrain_encoder(
    ids: np.ndarray,
    embedding: np.ndarray,
    kind: str = "bilstm",
    hidden_units: int = 64,
    epochs: int = 6,
    batch_size: int = 64,
    learning_rate: float = 2e-3,
    dropout: float = 0.3,
    softmax_samples: int = 512,
    heldout_ids: np.ndarray | None = None,
    extra_ids: np.ndarray | None = None,
    seed: int | None = None,
    verbose: bool = True,
) -> PretrainedEncoder:
    """Train embedding + recurrent layer of `kind` as a language model on padded training ids.

    ids: (评论数, 最大长度) right-padded word ids, training split only.
    embedding: (词表大小, 词向量维度) starting matrix (Word2Vec), updated by the training.
    heldout_ids: optional padded ids (e.g. part of the validation split) whose per-word
    perplexity is printed after every epoch, one value per direction.
    extra_ids: optional padded ids of unlabelled text (e.g. People's Daily sentences encoded
    with the same vocabulary), read by the language model together with `ids`.
    Batches are grouped by length like the classifier's (`training.make_dataset`).
    Taught in chapter 5.
    """
    _check_pretraining(kind, epochs)
    ids = _joined_ids(ids, extra_ids)
    seed = resolve_seed(seed)
    set_seed(seed, tensorflow=True)
    lm = _EncoderLanguageModel(
        np.asarray(embedding, dtype=np.float32),
        kind,
        hidden_units,
        dropout,
        learning_rate,
        softmax_samples,
        seed,
        ids[:1, :2],
    )
    dataset = training.make_dataset(ids, None, batch_size, shuffle=True, seed=seed)
    loss = {d: [] for d in lm.directions}
    heldout = {d: [] for d in lm.directions}
    seconds = []
    names = [f"{d}_{m}" for d in lm.directions for m in ("loss", "ppl")]
    progress = keras.utils.Progbar(epochs, stateful_metrics=names, unit_name="轮") if verbose else None
    for epoch in range(epochs):
        start = time.perf_counter()
        mean_loss = lm.epoch(dataset)
        seconds.append(time.perf_counter() - start)
        _record_epoch(lm, mean_loss, heldout_ids, loss, heldout)
        if progress is not None:
            values = [(f"{d}_loss", loss[d][-1]) for d in lm.directions]
            values += [(f"{d}_ppl", heldout[d][-1]) for d in lm.directions if heldout[d]]
            progress.update(epoch + 1, values=values, finalize=epoch + 1 == epochs)
    return PretrainedEncoder(
        kind, hidden_units, loss, heldout, seconds, lm.embed.get_weights()[0], lm.recurrent.get_weights()
    )

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

from llmcourse.config import import_tensorflow, set_seed
from llmcourse.vectors import PAD, UNK

tf = import_tensorflow()
import keras  # noqa: E402  (after TensorFlow, quietly imported)
from keras import layers  # noqa: E402

from llmcourse import models, training  # noqa: E402

PRETRAINABLE_KINDS = ("rnn", "lstm", "gru", "bilstm")
DIRECTIONS = ("forward", "backward")


@dataclasses.dataclass
class PretrainedEncoder:
    """Embedding and recurrent weights learned as a language model, ready to start a classifier."""

    kind: str
    hidden_units: int
    embedding: np.ndarray  # (词表大小, 词向量维度)
    recurrent_weights: list[np.ndarray]  # in the order of the classifier's recurrent layer
    loss: dict[str, list[float]]  # direction -> mean sampled-softmax loss per epoch
    heldout_perplexity: dict[str, list[float]]  # direction -> per-word perplexity after each epoch
    epoch_seconds: list[float]

    @property
    def seconds(self) -> float:
        return float(sum(self.epoch_seconds))

    @property
    def layer_name(self) -> str:
        return models.recurrent_layer_name(self.kind)

    def apply(self, model: keras.Model) -> keras.Model:
        """Copy the weights into a classifier built by `models.build_classifier` with the same kind and sizes."""
        embedding = model.get_layer("embedding")
        if embedding.get_weights()[0].shape != self.embedding.shape:
            raise ValueError(f"词向量矩阵形状不一致：模型 {embedding.get_weights()[0].shape}，"
                             f"预训练 {self.embedding.shape}")
        embedding.set_weights([self.embedding])
        model.get_layer(self.layer_name).set_weights(self.recurrent_weights)
        return model

    def summary(self) -> dict:
        """Figures for a config file or a table (no arrays)."""
        return {"epochs": len(self.epoch_seconds), "seconds": round(self.seconds, 1),
                "loss": {d: [round(v, 4) for v in vals] for d, vals in self.loss.items()},
                "heldout_perplexity": {d: [round(v, 2) for v in vals] for d, vals in self.heldout_perplexity.items()}}


def _directions(kind: str) -> tuple[str, ...]:
    return DIRECTIONS if kind == "bilstm" else DIRECTIONS[:1]


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
    seed: int = 42,
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
    """
    if kind not in PRETRAINABLE_KINDS:
        raise ValueError(f"只有循环网络可以做语言模型预训练：可选 {', '.join(PRETRAINABLE_KINDS)}，得到 {kind!r}")
    if epochs < 1:
        raise ValueError("预训练轮数至少为 1")
    ids = np.asarray(ids, dtype=np.int32)
    if extra_ids is not None and len(extra_ids):
        extra = np.asarray(extra_ids, dtype=np.int32)
        width = max(ids.shape[1], extra.shape[1])
        ids = np.concatenate([np.pad(ids, ((0, 0), (0, width - ids.shape[1]))),
                              np.pad(extra, ((0, 0), (0, width - extra.shape[1])))])
    matrix = np.asarray(embedding, dtype=np.float32)
    vocab_size, dim = matrix.shape
    set_seed(seed, tensorflow=True)
    directions = _directions(kind)

    embed = layers.Embedding(vocab_size, dim, mask_zero=True, name="embedding")
    embed.build((None, None))
    embed.set_weights([matrix])
    recurrent = models.recurrent_layer(kind, hidden_units, sequences=True)
    drop = layers.Dropout(dropout)
    projections = {d: layers.Dense(dim, name=f"{d}_projection") for d in directions}
    biases = {d: tf.Variable(tf.zeros(vocab_size), name=f"{d}_bias") for d in directions}
    probe = tf.constant(ids[:1, :2])
    states = recurrent(embed(probe), mask=probe != PAD)
    for d in directions:
        projections[d](states[..., :hidden_units])
    variables = (embed.trainable_variables + recurrent.trainable_variables
                 + [v for d in directions for v in projections[d].trainable_variables]
                 + [biases[d] for d in directions])
    optimizer = keras.optimizers.Adam(learning_rate, clipnorm=1.0)
    optimizer.build(variables)
    samples = min(softmax_samples, vocab_size // 2)

    def hidden_and_targets(x, training_mode: bool):
        """Per direction: projected states (词数, 词向量维度) and the word each must predict (词数,)."""
        mask = x != PAD
        e = drop(embed(x), training=training_mode)  # (批量大小, 时间步数, 词向量维度)
        h = drop(recurrent(e, mask=mask, training=training_mode), training=training_mode)  # (批量, 时间步, 单元数[×2])
        out = {}
        for i, d in enumerate(directions):
            part = h[..., i * hidden_units:(i + 1) * hidden_units]
            if d == "forward":  # the state after word t predicts word t+1
                states_d, targets = part[:, :-1], x[:, 1:]
            else:  # the backward state at word t has read t..end and predicts word t-1
                states_d, targets = part[:, 1:], x[:, :-1]
            keep = targets > UNK  # neither padding nor the unknown word
            out[d] = (projections[d](tf.boolean_mask(states_d, keep)), tf.boolean_mask(targets, keep))
        return out

    spec = [tf.TensorSpec((None, None), tf.int32)]

    @tf.function(input_signature=spec, autograph=False)
    def train_step(x):
        with tf.GradientTape() as tape:
            losses = []
            for d, (h, y) in hidden_and_targets(x, True).items():
                losses.append(tf.reduce_mean(tf.nn.sampled_softmax_loss(
                    embed.embeddings.value, biases[d], tf.reshape(tf.cast(y, tf.int64), (-1, 1)), h,
                    num_sampled=samples, num_classes=vocab_size, seed=seed)))
            total = tf.add_n(losses)
        grads = tape.gradient(total, variables)
        optimizer.apply_gradients(zip(grads, variables))
        return tf.stack(losses)

    @tf.function(input_signature=spec, autograph=False)
    def heldout_step(x):
        sums = []
        for d, (h, y) in hidden_and_targets(x, False).items():
            logits = tf.matmul(h, embed.embeddings, transpose_b=True) + biases[d]  # (词数, 词表大小)
            nll = tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits)
            sums.append(tf.stack([tf.reduce_sum(nll), tf.cast(tf.size(y), tf.float32)]))
        return tf.stack(sums)  # (方向数, 2): total negative log-likelihood and word count

    def perplexity() -> dict[str, float]:
        totals = np.zeros((len(directions), 2))
        for xb in training.make_dataset(heldout_ids, None, 16, shuffle=False):
            totals += heldout_step(xb).numpy()
        return {d: math.exp(totals[i, 0] / max(totals[i, 1], 1)) for i, d in enumerate(directions)}

    dataset = training.make_dataset(ids, None, batch_size, shuffle=True, seed=seed)
    loss = {d: [] for d in directions}
    heldout = {d: [] for d in directions}
    seconds = []
    names = [f"{d}_{m}" for d in directions for m in ("loss", "ppl")]
    progress = keras.utils.Progbar(epochs, stateful_metrics=names, unit_name="轮") if verbose else None
    for epoch in range(epochs):
        start = time.perf_counter()
        sums, batches = np.zeros(len(directions)), 0
        for xb in dataset:  # a new seeded order of length-grouped batches every epoch
            sums += train_step(xb).numpy()
            batches += 1
        seconds.append(time.perf_counter() - start)
        for i, d in enumerate(directions):
            loss[d].append(float(sums[i] / max(batches, 1)))
        if heldout_ids is not None and len(heldout_ids):
            for d, value in perplexity().items():
                heldout[d].append(value)
        if progress is not None:
            values = [(f"{d}_loss", loss[d][-1]) for d in directions]
            values += [(f"{d}_ppl", heldout[d][-1]) for d in directions if heldout[d]]
            progress.update(epoch + 1, values=values, finalize=epoch + 1 == epochs)
    return PretrainedEncoder(kind, hidden_units, embed.get_weights()[0], recurrent.get_weights(), loss,
                             heldout, seconds)

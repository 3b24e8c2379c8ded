"""Keras model builders for sentence classification, all with one signature.

Every builder maps padded id sequences of shape (batch, time) to ONE logit per
sentence, shape (batch, 1) — not one per time step (the article's
`LSTM(return_sequences=True)` + `Dense(1)` mistake). Padding (id 0) is masked,
and recurrent layers keep the defaults that let Keras use the cuDNN kernel on
a GPU: tanh/sigmoid activations, recurrent_dropout=0, unroll=False,
use_bias=True, right-padded input.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from llmcourse.config import import_tensorflow
from llmcourse.registry import NEURAL, model_kind

tf = import_tensorflow()
import keras  # noqa: E402  (after TensorFlow, quietly imported)
from keras import layers  # noqa: E402

POOLINGS = ("last", "mean", "max", "meanmax")


@keras.saving.register_keras_serializable(package="llmcourse")
class MaskedGlobalMaxPooling1D(layers.Layer):
    """Max over the real (unmasked) time steps: (batch, time, features) -> (batch, features).

    Keras' GlobalMaxPooling1D ignores the mask, so padded steps could win the max.
    Taught in chapter 5.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is not None:
            very_negative = keras.ops.full_like(inputs, -1e9)
            inputs = keras.ops.where(keras.ops.expand_dims(mask, -1), inputs, very_negative)
        return keras.ops.max(inputs, axis=1)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])


def _embedding_block(inputs, vocab_size: int, embedding, trainable: bool):
    """Embedding with mask_zero=True; `embedding` is a matrix (vocab, dim) or a width."""
    if isinstance(embedding, (int, np.integer)):
        dim, matrix = int(embedding), None
    else:
        matrix = np.asarray(embedding, dtype=np.float32)
        if matrix.ndim != 2 or matrix.shape[0] != vocab_size:
            raise ValueError(f"词向量矩阵的形状应为 ({vocab_size}, 维度)，实际为 {matrix.shape}")
        dim = matrix.shape[1]
    layer = layers.Embedding(vocab_size, dim, mask_zero=True, trainable=trainable, name="embedding")
    x = layer(inputs)  # (批量大小, 时间步数, 词向量维度)
    if matrix is not None:
        # Set after building: a Constant initializer would copy the matrix into the model config.
        layer.set_weights([matrix])
    return x


RECURRENT_LAYER_NAMES = {"rnn": "simple_rnn", "lstm": "lstm", "gru": "gru", "bilstm": "bilstm"}


def recurrent_layer_name(kind: str) -> str:
    """Name of the recurrent layer in a classifier of `kind` (where pretrained weights go). Taught in chapter 4."""
    if kind not in RECURRENT_LAYER_NAMES:
        raise ValueError(f"{kind!r} 没有循环层：可选 {', '.join(RECURRENT_LAYER_NAMES)}")
    return RECURRENT_LAYER_NAMES[kind]


def recurrent_layer(kind: str, units: int, sequences: bool):
    """The recurrent layer of `kind`; a bidirectional one concatenates forward then backward states.

    Taught in chapter 4.
    """
    if kind == "rnn":
        return layers.SimpleRNN(units, return_sequences=sequences, name="simple_rnn")
    if kind == "lstm":
        return layers.LSTM(units, return_sequences=sequences, name="lstm")
    if kind == "gru":
        return layers.GRU(units, return_sequences=sequences, name="gru")
    if kind == "bilstm":
        return layers.Bidirectional(layers.LSTM(units, return_sequences=sequences), name="bilstm")
    raise ValueError(f"{kind!r} 没有循环层：可选 {', '.join(RECURRENT_LAYER_NAMES)}")


def build_classifier(
    kind: str,
    vocab_size: int,
    embedding: int | np.ndarray = 100,
    trainable_embeddings: bool = True,
    hidden_units: int = 64,
    dropout: float = 0.3,
    pooling: str = "last",
    word_dropout: float = 0.0,
) -> keras.Model:
    """One builder for every neural kind of `registry.KINDS`; returns an uncompiled model with a logit output.

    kind: "mean" (masked average of word vectors), "rnn", "lstm", "bilstm", "gru" or
    "transformer" (learned position embeddings, one encoder block of 4 heads, the masked
    mean of its outputs; `pooling` and `word_dropout` do not apply).
    embedding: a width, or a Word2Vec-initialised matrix of shape (vocab_size, dim).
    pooling (recurrent kinds): "last" uses the final hidden state; "mean" / "max" take
    the average / maximum of the hidden states over the real (unmasked) time steps;
    "meanmax" concatenates both.
    word_dropout (recurrent kinds): during training, drop whole words (all of a word's
    vector at once) with this probability, so the model cannot lean on a few words.

    Taught in chapter 3.
    """
    if pooling not in POOLINGS:
        raise ValueError(f"未知的池化方式 {pooling!r}：可选 {', '.join(POOLINGS)}")
    model_kind(kind, NEURAL)
    inputs = keras.Input(shape=(None,), dtype="int32", name="token_ids")  # (批量大小, 时间步数)
    x = _embedding_block(inputs, vocab_size, embedding, trainable_embeddings)  # (批量大小, 时间步数, 维度)
    if kind == "mean":
        x = layers.GlobalAveragePooling1D(name="masked_mean")(x)  # (批量大小, 词向量维度)
        x = layers.Dense(hidden_units, activation="relu", name="hidden")(x)
    elif kind == "transformer":  # self-attention: no recurrent state to pool, `pooling` does not apply
        x = _transformer_encoder(x, hidden_units, dropout)  # (批量大小, 词向量维度)
    else:
        x = _recurrent_encoder(x, kind, hidden_units, dropout, pooling, word_dropout)  # (批量大小, 隐藏[×2])
    x = layers.Dropout(dropout, name="dropout")(x)
    logits = layers.Dense(1, name="logit")(x)  # (批量大小, 1)
    return keras.Model(inputs, logits, name=kind)


def _recurrent_encoder(x, kind: str, hidden_units: int, dropout: float, pooling: str, word_dropout: float):
    """Word vectors (batch, time, dim) -> one vector per sentence (batch, units[×2]), from a recurrent layer."""
    if word_dropout:  # one draw per word, shared by all its features: (批量大小, 时间步数, 1)
        x = layers.Dropout(word_dropout, noise_shape=(None, None, 1), name="word_dropout")(x)
    x = layers.Dropout(dropout, name="embedding_dropout")(x)
    x = recurrent_layer(kind, hidden_units, pooling != "last")(x)
    if pooling == "last":
        return x  # (批量大小, 隐藏单元数[×2])
    pooled = []  # x: (批量大小, 时间步数, 隐藏单元数[×2])
    if "mean" in pooling:
        pooled.append(layers.GlobalAveragePooling1D(name="masked_mean_states")(x))
    if "max" in pooling:
        pooled.append(MaskedGlobalMaxPooling1D(name="masked_max_states")(x))
    return pooled[0] if len(pooled) == 1 else layers.Concatenate(name="pooled_states")(pooled)


@keras.saving.register_keras_serializable(package="llmcourse")
class PositionEmbedding(layers.Layer):
    """Adds a learned vector for each position: (batch, time, dim) -> same shape, mask kept.

    Self-attention by itself ignores word order; this layer tells the model where each
    token stands. Positions past `max_len - 1` share the last vector.
    Taught in chapter 8.
    """

    def __init__(self, max_len: int = 512, **kwargs):
        super().__init__(**kwargs)
        self.max_len = max_len
        self.supports_masking = True

    def build(self, input_shape):
        self.positions = self.add_weight(
            shape=(self.max_len, input_shape[-1]),
            name="positions",
            initializer=keras.initializers.RandomNormal(stddev=0.02),
        )

    def call(self, inputs):
        steps = keras.ops.minimum(keras.ops.arange(keras.ops.shape(inputs)[1]), self.max_len - 1)
        return inputs + keras.ops.expand_dims(keras.ops.take(self.positions, steps, axis=0), 0)

    def compute_mask(self, inputs, mask=None):
        return mask

    def get_config(self):
        return {**super().get_config(), "max_len": self.max_len}


@keras.saving.register_keras_serializable(package="llmcourse")
class TransformerEncoderBlock(layers.Layer):
    """One encoder block: multi-head self-attention and a feed-forward net, each with residual + LayerNorm.

    (batch, time, dim) -> (batch, time, dim). Padded positions (mask False) are never
    attended to, so extra padding does not change the real positions' outputs.
    Taught in chapter 8.
    """

    def __init__(self, num_heads: int = 4, key_dim: int = 16, ff_units: int = 128, dropout: float = 0.1, **kwargs):
        super().__init__(**kwargs)
        self.num_heads, self.key_dim, self.ff_units, self.rate = num_heads, key_dim, ff_units, dropout
        self.supports_masking = True
        self.attention = layers.MultiHeadAttention(num_heads, key_dim, dropout=dropout, name="attention")
        self.ff_hidden = layers.Dense(ff_units, activation="relu", name="ff_hidden")
        self.norm1 = layers.LayerNormalization(epsilon=1e-6, name="norm1")
        self.norm2 = layers.LayerNormalization(epsilon=1e-6, name="norm2")
        self.drop = layers.Dropout(dropout)

    def build(self, input_shape):
        dim = input_shape[-1]
        self.ff_out = layers.Dense(dim, name="ff_out")
        self.attention.build(input_shape, input_shape)
        self.ff_hidden.build(input_shape)
        self.ff_out.build((*input_shape[:-1], self.ff_units))
        self.norm1.build(input_shape)
        self.norm2.build(input_shape)

    # [start-encoder-block-call]
    def call(self, x, mask=None, training=None):
        # attention_mask (批量大小, 1, 时间步数): every query may look only at real (unpadded) keys
        attention_mask = None if mask is None else keras.ops.expand_dims(mask, 1)
        attended = self.attention(x, x, attention_mask=attention_mask, training=training)
        x = self.norm1(x + self.drop(attended, training=training))
        transformed = self.ff_out(self.ff_hidden(x))
        return self.norm2(x + self.drop(transformed, training=training))

    # [end-encoder-block-call]

    def compute_mask(self, inputs, mask=None):
        return mask

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "ff_units": self.ff_units,
            "dropout": self.rate,
        }


def _transformer_encoder(
    x, hidden_units: int, dropout: float, num_heads: int = 4, num_layers: int = 1, max_len: int = 512
):
    """Word vectors (batch, time, dim) -> one vector per sentence (batch, dim), read by a Transformer encoder.

    Learned position embeddings, `num_layers` encoder blocks with `num_heads` heads of
    size hidden_units // num_heads and a feed-forward layer of 2 * hidden_units, then the
    mean over the real (unmasked) positions. `dropout` applies to the embeddings (inside
    the blocks it is 0.1).
    """
    x = PositionEmbedding(max_len, name="position_embedding")(x)
    x = layers.Dropout(dropout, name="embedding_dropout")(x)
    for i in range(num_layers):
        x = TransformerEncoderBlock(
            num_heads, max(1, hidden_units // num_heads), 2 * hidden_units, dropout=0.1, name=f"encoder_{i + 1}"
        )(x)
    return layers.GlobalAveragePooling1D(name="masked_mean_states")(x)  # (批量大小, 维度)


def build_ensemble(members: list[keras.Model], name: str = "ensemble") -> keras.Model:
    """One model whose logit is the mean of the members' logits: (batch, time) ids -> (batch, 1).

    The members keep their trained weights (they are wrapped, not copied) and become
    sub-models "member_1", "member_2", ...; the result saves and loads like any
    classifier, in safe mode.
    Taught in chapter 5.
    """
    if not members:
        raise ValueError("集成至少需要一个模型")
    inputs = keras.Input(shape=(None,), dtype="int32", name="token_ids")  # (批量大小, 时间步数)
    logits = [
        keras.Model(m.input, m.output, name=f"member_{i}")(inputs)  # 每个 (批量大小, 1)
        for i, m in enumerate(members, start=1)
    ]
    mean = logits[0] if len(logits) == 1 else layers.Average(name="mean_logit")(logits)
    return keras.Model(inputs, mean, name=name)


def builder(kind: str, **kwargs) -> Callable[[], keras.Model]:
    """A zero-argument function that builds the model (needed to build inside a tf.distribute scope).

    Taught in chapter 3.
    """
    return lambda: build_classifier(kind, **kwargs)


def count_parameters(model: keras.Model) -> int:
    """Number of trainable and frozen weights. Taught in chapter 3."""
    return int(model.count_params())

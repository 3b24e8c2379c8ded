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

tf = import_tensorflow()
import keras  # noqa: E402  (after TensorFlow, quietly imported)
from keras import layers

MODEL_KINDS = ("mean", "rnn", "lstm", "bilstm", "gru", "transformer")
POOLINGS = ("last", "mean", "max", "meanmax")
MODEL_NAMES = {
    "mean": "平均词向量",
    "rnn": "SimpleRNN",
    "lstm": "LSTM",
    "bilstm": "双向 LSTM",
    "gru": "GRU",
    "transformer": "Transformer 编码器",
}


@keras.saving.register_keras_serializable(package="llmcourse")
class MaskedGlobalMaxPooling1D(layers.Layer):
    """Max over the real (unmasked) time steps: (batch, time, features) -> (batch, features).

    Keras' GlobalMaxPooling1D ignores the mask, so padded steps could win the max.
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
    """Name of the recurrent layer in a classifier of `kind` (where pretrained weights go)."""
    if kind not in RECURRENT_LAYER_NAMES:
        raise ValueError(f"{kind!r} 没有循环层：可选 {', '.join(RECURRENT_LAYER_NAMES)}")
    return RECURRENT_LAYER_NAMES[kind]


def recurrent_layer(kind: str, units: int, sequences: bool):
    """The recurrent layer of `kind`; a bidirectional one concatenates forward then backward states."""
    if kind == "rnn":
        return layers.SimpleRNN(units, return_sequences=sequences, name="simple_rnn")
    if kind == "lstm":
        return layers.LSTM(units, return_sequences=sequences, name="lstm")
    if kind == "gru":
        return layers.GRU(units, return_sequences=sequences, name="gru")
    if kind == "bilstm":
        return layers.Bidirectional(layers.LSTM(units, return_sequences=sequences), name="bilstm")
    raise ValueError(f"未知的模型类型 {kind!r}：可选 {', '.join(MODEL_KINDS)}")


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
    """One builder for every kind in MODEL_KINDS; returns an uncompiled model with a logit output.

    kind: "mean" (masked average of word vectors), "rnn", "lstm", "bilstm" or "gru".
    embedding: a width, or a Word2Vec-initialised matrix of shape (vocab_size, dim).
    pooling (recurrent kinds): "last" uses the final hidden state; "mean" / "max" take
    the average / maximum of the hidden states over the real (unmasked) time steps;
    "meanmax" concatenates both.
    word_dropout (recurrent kinds): during training, drop whole words (all of a word's
    vector at once) with this probability, so the model cannot lean on a few words.
    """
    if pooling not in POOLINGS:
        raise ValueError(f"未知的池化方式 {pooling!r}：可选 {', '.join(POOLINGS)}")
    if kind not in MODEL_KINDS:
        raise ValueError(f"未知的模型类型 {kind!r}：可选 {', '.join(MODEL_KINDS)}")
    if kind == "transformer":  # self-attention: no recurrent state to pool, `pooling` does not apply
        return build_transformer_classifier(vocab_size, embedding, trainable_embeddings, hidden_units, dropout)
    inputs = keras.Input(shape=(None,), dtype="int32", name="token_ids")  # (批量大小, 时间步数)
    x = _embedding_block(inputs, vocab_size, embedding, trainable_embeddings)
    if kind == "mean":
        x = layers.GlobalAveragePooling1D(name="masked_mean")(x)  # (批量大小, 词向量维度)
        x = layers.Dense(hidden_units, activation="relu", name="hidden")(x)
    else:
        if word_dropout:  # one draw per word, shared by all its features: (批量大小, 时间步数, 1)
            x = layers.Dropout(word_dropout, noise_shape=(None, None, 1), name="word_dropout")(x)
        x = layers.Dropout(dropout, name="embedding_dropout")(x)
        x = recurrent_layer(kind, hidden_units, pooling != "last")(x)
        if pooling != "last":  # x: (批量大小, 时间步数, 隐藏单元数[×2])
            pooled = []
            if "mean" in pooling:
                pooled.append(layers.GlobalAveragePooling1D(name="masked_mean_states")(x))
            if "max" in pooling:
                pooled.append(MaskedGlobalMaxPooling1D(name="masked_max_states")(x))
            x = pooled[0] if len(pooled) == 1 else layers.Concatenate(name="pooled_states")(pooled)
        # x: (批量大小, 隐藏单元数[×2])
    x = layers.Dropout(dropout, name="dropout")(x)
    logits = layers.Dense(1, name="logit")(x)  # (批量大小, 1)
    return keras.Model(inputs, logits, name=kind)


@keras.saving.register_keras_serializable(package="llmcourse")
class PositionEmbedding(layers.Layer):
    """Adds a learned vector for each position: (batch, time, dim) -> same shape, mask kept.

    Self-attention by itself ignores word order; this layer tells the model where each
    token stands. Positions past `max_len - 1` share the last vector.
    """

    def __init__(self, max_len: int = 512, **kwargs):
        super().__init__(**kwargs)
        self.max_len = max_len
        self.supports_masking = True

    def build(self, input_shape):
        self.positions = self.add_weight(shape=(self.max_len, input_shape[-1]), name="positions",
                                         initializer=keras.initializers.RandomNormal(stddev=0.02))

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
    """

    def __init__(self, num_heads: int = 4, key_dim: int = 16, ff_units: int = 128, dropout: float = 0.1,
                 **kwargs):
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

    def call(self, x, mask=None, training=None):
        # attention_mask (批量大小, 1, 时间步数): every query may look only at real (unpadded) keys
        attention_mask = None if mask is None else keras.ops.expand_dims(mask, 1)
        attended = self.attention(x, x, attention_mask=attention_mask, training=training)
        x = self.norm1(x + self.drop(attended, training=training))
        transformed = self.ff_out(self.ff_hidden(x))
        return self.norm2(x + self.drop(transformed, training=training))

    def compute_mask(self, inputs, mask=None):
        return mask

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "key_dim": self.key_dim,
                "ff_units": self.ff_units, "dropout": self.rate}


def build_transformer_classifier(
    vocab_size: int,
    embedding: int | np.ndarray = 100,
    trainable_embeddings: bool = True,
    hidden_units: int = 64,
    dropout: float = 0.3,
    pooling: str = "mean",
    num_heads: int = 4,
    num_layers: int = 1,
    max_len: int = 512,
) -> keras.Model:
    """A small Transformer encoder classifier with a logit output (kind "transformer").

    Token embeddings (optionally Word2Vec) + learned position embeddings, `num_layers`
    encoder blocks with `num_heads` heads of size hidden_units // num_heads and a
    feed-forward layer of 2 * hidden_units, then the mean over the real (unmasked)
    positions. `dropout` applies to the embeddings and to the pooled vector (inside the
    blocks it is 0.1). `pooling` is accepted for a uniform signature and ignored: the
    pooling is always this masked mean.
    """
    del pooling
    inputs = keras.Input(shape=(None,), dtype="int32", name="token_ids")  # (批量大小, 时间步数)
    x = _embedding_block(inputs, vocab_size, embedding, trainable_embeddings)  # (批量大小, 时间步数, 维度)
    x = PositionEmbedding(max_len, name="position_embedding")(x)
    x = layers.Dropout(dropout, name="embedding_dropout")(x)
    for i in range(num_layers):
        x = TransformerEncoderBlock(num_heads, max(1, hidden_units // num_heads), 2 * hidden_units,
                                    dropout=0.1, name=f"encoder_{i + 1}")(x)
    x = layers.GlobalAveragePooling1D(name="masked_mean_states")(x)  # (批量大小, 维度)
    x = layers.Dropout(dropout, name="dropout")(x)
    logits = layers.Dense(1, name="logit")(x)  # (批量大小, 1)
    return keras.Model(inputs, logits, name="transformer")


def build_ensemble(members: list[keras.Model], name: str = "ensemble") -> keras.Model:
    """One model whose logit is the mean of the members' logits: (batch, time) ids -> (batch, 1).

    The members keep their trained weights (they are wrapped, not copied) and become
    sub-models "member_1", "member_2", ...; the result saves and loads like any
    classifier, in safe mode.
    """
    if not members:
        raise ValueError("集成至少需要一个模型")
    inputs = keras.Input(shape=(None,), dtype="int32", name="token_ids")  # (批量大小, 时间步数)
    logits = [keras.Model(m.input, m.output, name=f"member_{i}")(inputs)  # 每个 (批量大小, 1)
              for i, m in enumerate(members, start=1)]
    mean = logits[0] if len(logits) == 1 else layers.Average(name="mean_logit")(logits)
    return keras.Model(inputs, mean, name=name)


def builder(kind: str, **kwargs) -> Callable[[], keras.Model]:
    """A zero-argument function that builds the model (needed to build inside a tf.distribute scope)."""
    return lambda: build_classifier(kind, **kwargs)


def count_parameters(model: keras.Model) -> int:
    """Number of trainable and frozen weights."""
    return int(model.count_params())

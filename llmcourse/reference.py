"""NumPy reference implementations of the SimpleRNN and LSTM layers (chapter 4).

The equations of chapter 4, written out in NumPy, step by step, with the same
weight layout as Keras so that `layer.get_weights()` can be passed straight in:

- SimpleRNN: kernel (d, n), recurrent_kernel (n, n), bias (n,);
- LSTM: kernel (d, 4n), recurrent_kernel (n, 4n), bias (4n,), the four blocks of
  n columns in Keras' order i (input gate), f (forget gate), c (candidate cell),
  o (output gate).

Shapes: batch B, time T, input width d, hidden width n. Inputs are (B, T, d).
A mask (B, T) of booleans marks the real steps; at a masked step the state is
carried over unchanged and the output repeats the previous output, as Keras
does (its default `zero_output_for_mask=False`).

`gradient_vs_distance` measures how the gradient of a loss at the last step
reaches back to earlier inputs (vanishing gradients), with tf.GradientTape.
TensorFlow is imported only by the functions that need it.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np

from llmcourse.config import import_tensorflow

LSTM_GATES = ("i", "f", "c", "o")  # order of the four blocks in Keras' fused LSTM weights
LSTM_GATE_NAMES = {"i": "输入门 i", "f": "遗忘门 f", "c": "候选记忆 c̃", "o": "输出门 o"}


def sigmoid(z: np.ndarray) -> np.ndarray:
    """The logistic function 1 / (1 + e^(-z)), elementwise, in the dtype of `z`: a logit's probability.

    For very negative z, e^(-z) overflows to infinity (float32: below about -88) and
    1 / (1 + inf) is exactly the limit 0, so that overflow (and the underflow of tiny
    results) is expected and not reported; +inf and -inf give 1 and 0. (The form
    0.5 * (1 + tanh(z / 2)) cannot overflow either, but rounds every z from about -20
    down (float32; -38 in float64) to 0.) The one sigmoid of the package: `training` uses it too.
    Taught in chapter 4.
    """
    z = np.asarray(z)
    with np.errstate(over="ignore", under="ignore"):
        return 1.0 / (1.0 + np.exp(-z))


def _check_inputs(x, kernel, recurrent_kernel, bias, blocks: int, mask):
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 3:
        raise ValueError(f"输入的形状应为 (批量大小, 时间步数, 输入维度)，实际为 {x.shape}")
    kernel = np.asarray(kernel, dtype=np.float64)
    recurrent_kernel = np.asarray(recurrent_kernel, dtype=np.float64)
    n = recurrent_kernel.shape[0]
    if kernel.shape != (x.shape[2], blocks * n) or recurrent_kernel.shape != (n, blocks * n):
        raise ValueError(
            f"权重形状不匹配：kernel 应为 ({x.shape[2]}, {blocks * n})，实际 {kernel.shape}；"
            f"recurrent_kernel 应为 ({n}, {blocks * n})，实际 {recurrent_kernel.shape}"
        )
    bias = np.zeros(blocks * n) if bias is None else np.asarray(bias, dtype=np.float64)
    if bias.shape != (blocks * n,):
        raise ValueError(f"bias 的形状应为 ({blocks * n},)，实际为 {bias.shape}")
    if mask is None:
        mask = np.ones(x.shape[:2], dtype=bool)
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != x.shape[:2]:
        raise ValueError(f"mask 的形状应为 {x.shape[:2]}，实际为 {mask.shape}")
    return x, kernel, recurrent_kernel, bias, mask, n


# --------------------------------------------------------------------------- SimpleRNN
def simple_rnn_step(x_t, h_prev, kernel, recurrent_kernel, bias):
    """One step h_t = tanh(x_t W_x + h_{t-1} W_h + b): x_t (B, d), h_prev (B, n) -> (B, n). Taught in chapter 4."""
    return np.tanh(x_t @ kernel + h_prev @ recurrent_kernel + bias)


def simple_rnn_forward(x, kernel, recurrent_kernel, bias, mask=None, initial_state=None):
    """Run a SimpleRNN over a whole sequence.

    x: (B, T, d); kernel: (d, n); recurrent_kernel: (n, n); bias: (n,) or None;
    mask: (B, T) booleans or None; initial_state: (B, n) or None (zeros).
    Returns (outputs, h_T): outputs (B, T, n) are the outputs at every step,
    h_T (B, n) the final state.
    Taught in chapter 4.
    """
    x, kernel, recurrent_kernel, bias, mask, n = _check_inputs(x, kernel, recurrent_kernel, bias, 1, mask)
    batch, steps, _ = x.shape
    h = np.zeros((batch, n)) if initial_state is None else np.asarray(initial_state, dtype=np.float64)
    outputs = np.zeros((batch, steps, n))
    for t in range(steps):
        h_new = simple_rnn_step(x[:, t], h, kernel, recurrent_kernel, bias)  # (B, n)
        keep = mask[:, t, None]  # (B, 1)：被遮盖的样本沿用上一步的状态
        h = np.where(keep, h_new, h)
        outputs[:, t] = h
    return outputs, h


# --------------------------------------------------------------------------- LSTM
def split_gates(weights) -> dict[str, np.ndarray]:
    """Cut a fused LSTM weight (..., 4n) into its four blocks {i, f, c, o}, each (..., n). Taught in chapter 4."""
    weights = np.asarray(weights)
    n = weights.shape[-1] // 4
    return {g: weights[..., k * n : (k + 1) * n] for k, g in enumerate(LSTM_GATES)}


# [start-lstm-step]
def lstm_step(x_t, h_prev, c_prev, kernel, recurrent_kernel, bias):
    """One LSTM step. x_t (B, d), h_prev and c_prev (B, n).

    Returns (h_t, c_t, gates), gates = {"i", "f", "c", "o"}: the input, forget
    and output gates and the candidate cell c̃, each (B, n).
        i = σ(x W_i + h U_i + b_i)      f = σ(x W_f + h U_f + b_f)
        c̃ = tanh(x W_c + h U_c + b_c)   o = σ(x W_o + h U_o + b_o)
        c_t = f ⊙ c_{t-1} + i ⊙ c̃       h_t = o ⊙ tanh(c_t)

    Taught in chapter 4.
    """
    z = split_gates(x_t @ kernel + h_prev @ recurrent_kernel + bias)  # 每块 (B, n)
    gates = {"i": sigmoid(z["i"]), "f": sigmoid(z["f"]), "c": np.tanh(z["c"]), "o": sigmoid(z["o"])}
    c_t = gates["f"] * c_prev + gates["i"] * gates["c"]
    h_t = gates["o"] * np.tanh(c_t)
    return h_t, c_t, gates


# [end-lstm-step]


class LSTMResult(NamedTuple):
    """What `lstm_forward` returns. Taught in chapter 4."""

    outputs: np.ndarray  # (B, T, n) the output h_t at every step
    final_state: tuple[np.ndarray, np.ndarray]  # (h_T, c_T), each (B, n)
    gates: dict[str, np.ndarray] | None  # {"i", "f", "c", "o"} -> (B, T, n) when asked for


def lstm_forward(x, kernel, recurrent_kernel, bias, mask=None, initial_state=None, return_gates=False):
    """Run an LSTM over a whole sequence with Keras' weight layout (gate order i, f, c, o).

    x: (B, T, d); kernel: (d, 4n); recurrent_kernel: (n, 4n); bias: (4n,) or None;
    mask: (B, T) booleans or None; initial_state: (h_0, c_0), each (B, n), or None.
    Returns LSTMResult(outputs (B, T, n), (h_T, c_T), gates or None).
    Taught in chapter 4.
    """
    x, kernel, recurrent_kernel, bias, mask, n = _check_inputs(x, kernel, recurrent_kernel, bias, 4, mask)
    batch, steps, _ = x.shape
    if initial_state is None:
        h, c = np.zeros((batch, n)), np.zeros((batch, n))
    else:
        h, c = (np.asarray(s, dtype=np.float64) for s in initial_state)
    outputs = np.zeros((batch, steps, n))
    gate_values = {g: np.zeros((batch, steps, n)) for g in LSTM_GATES} if return_gates else None
    for t in range(steps):
        h_new, c_new, gates = lstm_step(x[:, t], h, c, kernel, recurrent_kernel, bias)
        keep = mask[:, t, None]  # (B, 1)
        h, c = np.where(keep, h_new, h), np.where(keep, c_new, c)
        outputs[:, t] = h
        if return_gates:
            for g in LSTM_GATES:
                gate_values[g][:, t] = gates[g]
    return LSTMResult(outputs, (h, c), gate_values)


def step_contributions(x, kernel, recurrent_kernel, bias, output_weights) -> np.ndarray:
    """Each step's share w·h_t / T of the logit of a classifier that averages the LSTM's outputs.

    Such a classifier computes logit = b + w·(h_1 + ... + h_T) / T, so the logit is
    exactly the output bias b plus the sum of these shares. x: (B, T, d), every step
    real (no padding); kernel, recurrent_kernel, bias as in `lstm_forward`;
    output_weights: (n,) the output layer's weight of every hidden unit.
    Returns (B, T): the share of the hidden state after each word.
    Taught in chapter 4.
    """
    outputs = lstm_forward(x, kernel, recurrent_kernel, bias).outputs  # (B, T, n)
    weights = np.asarray(output_weights, dtype=np.float64)
    if weights.shape != (outputs.shape[2],):
        raise ValueError(f"output_weights 的形状应为 ({outputs.shape[2]},)，实际为 {weights.shape}")
    return outputs @ weights / outputs.shape[1]  # (B, T)


# --------------------------------------------------------------------------- Keras layers
def layer_weights(layer) -> dict[str, np.ndarray]:
    """kernel, recurrent_kernel and bias of a built Keras SimpleRNN or LSTM layer.

    Refuses layers whose activations differ from the defaults the reference
    implements (tanh, and sigmoid for the LSTM gates).
    Taught in chapter 4.
    """
    cfg = layer.get_config()
    kind = type(layer).__name__
    if kind not in ("SimpleRNN", "LSTM"):
        raise TypeError(f"只支持 SimpleRNN 和 LSTM 层，收到的是 {kind}")
    if cfg.get("activation") != "tanh" or (kind == "LSTM" and cfg.get("recurrent_activation") != "sigmoid"):
        raise ValueError("参考实现只支持默认激活函数：tanh，以及 LSTM 门上的 sigmoid")
    if not layer.built:
        raise ValueError("这一层还没有权重：先在一批输入上调用它一次（或调用 build）")
    weights = layer.get_weights()
    names = ["kernel", "recurrent_kernel", "bias"]
    out = dict(zip(names, weights))
    out.setdefault("bias", None)  # use_bias=False
    return out


def simple_rnn_from_layer(layer, x, mask=None):
    """simple_rnn_forward with the weights of a Keras SimpleRNN layer; returns (outputs, h_T). Taught in chapter 4."""
    return simple_rnn_forward(x, mask=mask, **layer_weights(layer))


def lstm_from_layer(layer, x, mask=None, return_gates=False) -> LSTMResult:
    """lstm_forward with the weights of a Keras LSTM layer. Taught in chapter 4."""
    return lstm_forward(x, mask=mask, return_gates=return_gates, **layer_weights(layer))


def max_abs_difference(a, b) -> float:
    """Largest absolute elementwise difference between two arrays of the same shape. Taught in chapter 4."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"形状不同：{a.shape} 与 {b.shape}")
    return float(np.max(np.abs(a - b))) if a.size else 0.0


def compare_with_keras(layer, x, mask=None) -> float:
    """Max abs difference between the Keras layer and the NumPy reference on every output.

    The layer is called with return_sequences as configured; both outputs are
    compared over all steps (or only the last when return_sequences=False).
    Taught in chapter 4.
    """
    tf = import_tensorflow()  # deferred: the NumPy functions above do not need TensorFlow
    x32 = np.asarray(x, dtype=np.float32)
    keras_out = layer(tf.constant(x32), mask=None if mask is None else tf.constant(np.asarray(mask, bool)))
    if isinstance(keras_out, (list, tuple)):  # return_state=True
        keras_out = keras_out[0]
    keras_out = np.asarray(keras_out)
    if type(layer).__name__ == "LSTM":
        outputs = lstm_from_layer(layer, x32, mask).outputs
    else:
        outputs = simple_rnn_from_layer(layer, x32, mask)[0]
    if not layer.return_sequences:
        outputs = outputs[:, -1]
    return max_abs_difference(keras_out, outputs)


# --------------------------------------------------------------------------- vanishing gradients
def input_gradient_norms(layer, x) -> np.ndarray:
    """‖∂L/∂x_t‖ for L = the sum of the layer's final hidden state, by distance from the last step.

    x: (B, T, d). The gradient with respect to every input step is taken with
    tf.GradientTape; its Euclidean norm over d is averaged over the batch.
    Returns an array of length T whose element k belongs to the input k steps
    before the last one (k = T - 1 - t; k = 0 is the last step itself).
    Taught in chapter 4.
    """
    tf = import_tensorflow()  # deferred: the NumPy functions above do not need TensorFlow
    inputs = tf.constant(np.asarray(x, dtype=np.float32))
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        out = layer(inputs)
        if isinstance(out, (list, tuple)):
            out = out[0]
        last = out[:, -1] if len(out.shape) == 3 else out  # (B, n) 最后一步的隐藏状态
        loss = tf.reduce_sum(last)
    grads = tape.gradient(loss, inputs).numpy()  # (B, T, d)
    norms = np.linalg.norm(grads.astype(np.float64), axis=2).mean(axis=0)  # (T,)
    return norms[::-1].copy()


def gradient_vs_distance(
    kind: str,
    units: int,
    length: int = 100,
    input_dim: int | None = None,
    batch_size: int = 32,
    seeds: Sequence[int] = (0, 1, 2),
    input_scale: float = 1.0,
    forget_bias: float | None = None,
) -> np.ndarray:
    """Mean ‖∂L/∂x_t‖ over several freshly initialised layers, by distance k = T - 1 - t.

    kind: "rnn" (SimpleRNN) or "lstm"; each seed draws new Keras default
    initial weights and new standard normal inputs (times input_scale) of
    shape (batch_size, length, input_dim). forget_bias (LSTM only) replaces
    the forget-gate bias, 1.0 in Keras' default initialisation. Returns an
    array of length `length`.
    Taught in chapter 4.
    """
    import_tensorflow()  # deferred: the NumPy functions above do not need TensorFlow
    import keras  # deferred: after TensorFlow, quietly imported, and only here

    layer_class = {"rnn": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM}.get(kind)
    if layer_class is None:
        raise ValueError(f"kind 只能是 'rnn' 或 'lstm'，收到 {kind!r}")
    if forget_bias is not None and kind != "lstm":
        raise ValueError("forget_bias 只对 LSTM 有意义")
    input_dim = input_dim or units
    curves = []
    for seed in seeds:
        keras.utils.set_random_seed(seed)
        layer = layer_class(units)
        layer.build((None, length, input_dim))
        if forget_bias is not None:
            kernel, recurrent_kernel, bias = layer.get_weights()
            bias[units : 2 * units] = forget_bias  # the f block (order i, f, c, o)
            layer.set_weights([kernel, recurrent_kernel, bias])
        x = np.random.default_rng(seed).normal(0.0, input_scale, size=(batch_size, length, input_dim))
        curves.append(input_gradient_norms(layer, x))
    return np.mean(curves, axis=0)

"""The NumPy SimpleRNN/LSTM of chapter 4 agree with Keras; the SimpleRNN's gradient vanishes."""

import warnings

import matplotlib.pyplot as plt
import numpy as np
import pytest

from llmcourse import plotting, reference
from llmcourse.config import import_tensorflow

tf = import_tensorflow()
import keras  # noqa: E402

TOLERANCE = 1e-5
LAYERS = {"SimpleRNN": keras.layers.SimpleRNN, "LSTM": keras.layers.LSTM}


@pytest.fixture(scope="module")
def batch():
    """Random inputs (batch 5, time 11, width 7) and a right-padding mask with lengths 11, 8, 3, 1, 6."""
    rng = np.random.default_rng(0)
    x = rng.normal(0.0, 1.0, size=(5, 11, 7)).astype(np.float32)
    lengths = np.array([11, 8, 3, 1, 6])
    mask = np.arange(11)[None, :] < lengths[:, None]  # (批量大小, 时间步数)
    return x, mask


def make_layer(name, units=6, input_dim=7, seed=1, **kwargs):
    keras.utils.set_random_seed(seed)
    layer = LAYERS[name](units, return_sequences=True, **kwargs)
    layer.build((None, None, input_dim))
    # Non-zero biases, so that a wrong bias layout cannot go unnoticed.
    weights = layer.get_weights()
    weights[-1] = np.random.default_rng(seed).normal(0, 0.5, size=weights[-1].shape).astype(np.float32)
    layer.set_weights(weights)
    return layer


def numpy_outputs(layer, x, mask=None):
    if isinstance(layer, keras.layers.LSTM):
        return reference.lstm_from_layer(layer, x, mask).outputs
    return reference.simple_rnn_from_layer(layer, x, mask)[0]


@pytest.mark.parametrize("name", LAYERS)
def test_matches_keras_without_mask(name, batch):
    x, _ = batch
    layer = make_layer(name)
    expected = layer(tf.constant(x)).numpy()
    assert reference.max_abs_difference(expected, numpy_outputs(layer, x)) < TOLERANCE


@pytest.mark.parametrize("name", LAYERS)
def test_matches_keras_with_right_padding_mask(name, batch):
    x, mask = batch
    layer = make_layer(name)
    expected = layer(tf.constant(x), mask=tf.constant(mask)).numpy()
    unmasked = layer(tf.constant(x)).numpy()
    assert reference.max_abs_difference(expected, unmasked) > 1e-3  # the mask really changes the result
    ours = numpy_outputs(layer, x, mask)
    assert reference.max_abs_difference(expected, ours) < TOLERANCE
    # masked steps repeat the last real output
    np.testing.assert_allclose(ours[2, 3:], np.repeat(ours[2, 2:3], 8, axis=0))


@pytest.mark.parametrize("name", LAYERS)
def test_compare_with_keras_and_final_state(name, batch):
    x, mask = batch
    layer = make_layer(name)
    assert reference.compare_with_keras(layer, x, mask) < TOLERANCE
    keras.utils.set_random_seed(3)
    last_only = LAYERS[name](4, return_state=True)
    out = last_only(tf.constant(x), mask=tf.constant(mask))
    assert reference.compare_with_keras(last_only, x, mask) < TOLERANCE
    if name == "LSTM":
        _, (h, c), _ = reference.lstm_from_layer(last_only, x, mask)
        assert reference.max_abs_difference(out[1], h) < TOLERANCE
        assert reference.max_abs_difference(out[2], c) < TOLERANCE
    else:
        _, h = reference.simple_rnn_from_layer(last_only, x, mask)
        assert reference.max_abs_difference(out[1], h) < TOLERANCE


def test_lstm_gates_follow_keras_order_i_f_c_o():
    """Raising only the forget-gate bias (second block) must push f, and only f, towards 1."""
    layer = make_layer("LSTM", units=3, input_dim=2)
    w = reference.layer_weights(layer)
    bias = np.zeros(12)
    bias[3:6] = 20.0
    x = np.random.default_rng(0).normal(size=(2, 4, 2))
    result = reference.lstm_forward(x, w["kernel"], w["recurrent_kernel"], bias, return_gates=True)
    assert result.gates["f"].min() > 0.999
    assert result.gates["i"].max() < 0.999 and result.gates["o"].max() < 0.999
    assert set(reference.split_gates(w["kernel"])) == {"i", "f", "c", "o"}
    assert reference.split_gates(w["kernel"])["c"].shape == (2, 3)


def test_lstm_step_equations_by_hand():
    """A 1-unit LSTM whose pre-activations are all zero: every gate is 0.5 and c̃ = 0."""
    h, c, gates = reference.lstm_step(
        np.zeros((1, 1)), np.zeros((1, 1)), np.ones((1, 1)), np.zeros((1, 4)), np.zeros((1, 4)), np.zeros(4)
    )
    assert gates["i"][0, 0] == gates["f"][0, 0] == gates["o"][0, 0] == 0.5 and gates["c"][0, 0] == 0
    assert c[0, 0] == 0.5  # f * c_prev + i * c̃ = 0.5 * 1 + 0.5 * 0
    assert h[0, 0] == pytest.approx(0.5 * np.tanh(0.5))


def test_gate_table_rows_match_lstm_forward():
    """The table of one step lists the units by |w_j| with the gates and states lstm_forward computes."""
    x = np.random.default_rng(2).normal(size=(1, 5, 4))
    kernel, recurrent_kernel, bias = (
        reference.layer_weights(make_layer("LSTM", units=6, input_dim=4))[k]
        for k in ("kernel", "recurrent_kernel", "bias")
    )
    result = reference.lstm_forward(x, kernel, recurrent_kernel, bias, return_gates=True)
    t = 3
    c_prev = reference.lstm_forward(x[:, :t], kernel, recurrent_kernel, bias).final_state[1]  # (1, n)
    c_t = reference.lstm_forward(x[:, : t + 1], kernel, recurrent_kernel, bias).final_state[1]
    gates = {g: result.gates[g][:, t] for g in reference.LSTM_GATES}  # 各 (1, n)
    w = np.array([0.1, -0.9, 0.3, 0.9, -0.05, 0.5])
    table = plotting.gate_table(w, gates, c_prev, c_t, result.outputs[:, t], top=4)
    assert table.columns.tolist() == ["单元 j", "输出层权重 w_j", "i", "f", "c̃", "c（读入前）", "c（读入后）", "o", "h"]
    assert table["单元 j"].tolist() == [1, 3, 5, 2]  # |w| 从大到小，并列时单元号小的在前
    for _, row in table.iterrows():
        j = int(row["单元 j"])
        assert row["输出层权重 w_j"] == w[j]
        for column, gate in (("i", "i"), ("f", "f"), ("c̃", "c"), ("o", "o")):
            assert row[column] == pytest.approx(result.gates[gate][0, t, j])
        assert row["h"] == pytest.approx(result.outputs[0, t, j])
        assert row["c（读入后）"] == pytest.approx(row["f"] * row["c（读入前）"] + row["i"] * row["c̃"])
    assert "+0.900" in plotting.show_table(table).to_html()
    with pytest.raises(ValueError, match="一个句子"):
        plotting.gate_table(w, {g: result.gates[g][:, :2] for g in gates}, c_prev, c_t, result.outputs[:, t])


def test_step_contributions_add_up_to_the_averaged_logit():
    """w·h_t / T summed over t is w·mean(h); each share depends only on the words read so far."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 6, 3))
    kernel, recurrent_kernel, bias = rng.normal(size=(3, 20)), rng.normal(size=(5, 20)), rng.normal(size=20)
    w = rng.normal(size=5)
    shares = reference.step_contributions(x, kernel, recurrent_kernel, bias, w)
    assert shares.shape == (2, 6)
    outputs = reference.lstm_forward(x, kernel, recurrent_kernel, bias).outputs
    np.testing.assert_allclose(shares.sum(axis=1), outputs.mean(axis=1) @ w)
    prefix = reference.step_contributions(x[:, :4], kernel, recurrent_kernel, bias, w)
    np.testing.assert_allclose(prefix * 4, shares[:, :4] * 6)
    with pytest.raises(ValueError, match="output_weights"):
        reference.step_contributions(x, kernel, recurrent_kernel, bias, w[:3])


def test_sigmoid_is_stable_and_exact():
    """Extreme float32 logits give 0 and 1 without overflow warnings; ordinary ones the textbook value."""
    z = np.array([-100.0, -88.5, -20.0, 0.0, 20.0, 100.0, -np.inf, np.inf], dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            p = reference.sigmoid(z)
            scalar = reference.sigmoid(np.float32(-100.0))
    assert p.dtype == np.float32 and np.all(np.isfinite(p))
    assert p[0] == 0.0 and p[-1] == 1.0 and p[5] == 1.0 and p[3] == 0.5 and scalar == 0.0
    assert 0 < p[2] < 1e-8  # the tail is kept: sigmoid(-20) is about 2e-9, not rounded to 0
    assert np.all(np.diff(p[:6]) >= 0)
    z64 = np.linspace(-30, 30, 101)
    np.testing.assert_allclose(reference.sigmoid(z64), 1 / (1 + np.exp(-z64)), rtol=1e-15)
    assert reference.sigmoid([-1.0, 1.0]).sum() == pytest.approx(1.0)


def test_bad_shapes_and_layers_are_rejected():
    with pytest.raises(ValueError, match="形状"):
        reference.simple_rnn_forward(np.zeros((2, 3)), np.zeros((3, 4)), np.zeros((4, 4)), np.zeros(4))
    with pytest.raises(ValueError, match="权重形状"):
        reference.lstm_forward(np.zeros((2, 3, 5)), np.zeros((5, 8)), np.zeros((4, 16)), np.zeros(16))
    with pytest.raises(TypeError, match="SimpleRNN"):
        reference.layer_weights(keras.layers.GRU(3))
    with pytest.raises(ValueError, match="激活函数"):
        reference.layer_weights(keras.layers.SimpleRNN(3, activation="relu"))


def test_simple_rnn_gradient_vanishes_with_distance():
    grads = reference.gradient_vs_distance("rnn", units=32, length=60, batch_size=8, seeds=(0, 1))
    assert grads.shape == (60,)
    assert np.all(np.isfinite(grads)) and grads[1] > 0
    assert grads[50] < 1e-3 * grads[1]


def test_lstm_forget_bias_keeps_the_gradient_alive():
    default = reference.gradient_vs_distance("lstm", units=16, length=60, batch_size=8, seeds=(0,))
    remembering = reference.gradient_vs_distance("lstm", units=16, length=60, batch_size=8, seeds=(0,), forget_bias=3.0)
    assert remembering[50] / remembering[1] > 100 * default[50] / default[1]


def test_gradient_plot_has_no_missing_glyphs():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ax = plotting.plot_gradient_vs_distance(
            {"SimpleRNN": np.logspace(0, -8, 50), "LSTM": np.logspace(0, -3, 50)}, mark=[1, 40]
        )
        ax.figure.canvas.draw()
    assert ax.get_yscale() == "log"
    plt.close("all")

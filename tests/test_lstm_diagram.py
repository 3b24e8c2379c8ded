"""The LSTM cell diagram of chapter 4: every part of the equations is drawn, labelled and wired in order."""

import warnings

import matplotlib.pyplot as plt
import pytest

from llmcourse import plotting


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture
def texts():
    """(text, x, y) of every text object of a freshly drawn diagram."""
    ax = plotting.draw_lstm_cell()
    return [(t.get_text(), *t.get_position()) for t in ax.texts]


def _find(texts, fragment):
    found = [(x, y) for text, x, y in texts if fragment in text]
    assert found, f"图中没有写着 {fragment!r} 的文字"
    return found


def test_every_gate_the_candidate_and_every_state_is_labelled(texts):
    for name in ("遗忘门", "输入门", "输出门", "候选记忆", "记忆元", "隐状态", "输入"):
        _find(texts, name)
    for symbol in (
        r"\mathbf{F}_t",
        r"\mathbf{I}_t",
        r"\tilde{\mathbf{C}}_t",
        r"\mathbf{O}_t",
        r"\mathbf{X}_t",
        r"\mathbf{H}_{t-1}",
        r"\mathbf{C}_{t-1}",
    ):
        _find(texts, symbol)
    labels = [text for text, _, _ in texts]
    assert labels.count("σ") == 3, "三个门各用一次 sigmoid"
    assert labels.count("tanh") == 2, "候选记忆和输出各用一次 tanh"
    assert labels.count("×") == 3 and labels.count("+") == 1, "三次逐元素相乘，一次加法"


def test_memory_cell_runs_from_c_prev_through_forget_and_add_to_c_t(texts):
    ((c_prev_x, top),) = _find(texts, r"记忆元 $\mathbf{C}_{t-1}$")
    ((c_t_x, c_t_y),) = [(x, y) for text, x, y in texts if text == r"$\mathbf{C}_t$"]
    on_path = sorted(x for text, x, y in texts if text in ("×", "+") and y == top)
    assert c_t_y == top and len(on_path) == 2, "记忆元这条线上恰好一个 × 和一个 +"
    ((forget_x, _),) = [(x, y) for text, x, y in texts if text == "×" and y == top]
    ((add_x, _),) = _find([(t, x, y) for t, x, y in texts if y == top], "+")
    assert c_prev_x < forget_x < add_x < c_t_x, "先乘遗忘门，再加上写入的内容"
    ((gate_x, _),) = _find(texts, "遗忘门")
    assert gate_x == forget_x, "遗忘门正下方连着记忆元上的 ×"


def test_output_is_the_output_gate_times_tanh_of_the_memory(texts):
    ((h_t_x, low),) = [(x, y) for text, x, y in texts if text == r"$\mathbf{H}_t$"]
    ((_, h_prev_y),) = _find(texts, r"隐状态 $\mathbf{H}_{t-1}$")
    assert low == h_prev_y, "H_{t-1} 进来、H_t 出去，在同一条线上"
    ((gate_x, gate_y),) = _find(texts, "输出门")
    off_path = [(x, y) for text, x, y in texts if text == "×" and gate_x < x < h_t_x]
    tanh_x = [x for text, x, y in texts if text == "tanh" and y > gate_y]
    assert len(off_path) == 1 and tanh_x == [off_path[0][0]], "输出门右边的 × 正上方是 tanh(C_t)"


def test_draws_into_a_given_axes_without_missing_glyphs():
    fig, ax = plt.subplots()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Glyph ... missing from font(s)" would raise here
        assert plotting.draw_lstm_cell(ax) is ax
        fig.canvas.draw()
    assert not ax.axison and len(ax.patches) > 10

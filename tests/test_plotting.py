"""Figures render Chinese text with the zhplot font and without missing-glyph warnings."""

import warnings

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib import font_manager

from llmcourse import plotting


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_chinese_font_is_registered_and_default():
    assert plotting.chinese_font_path().name == "NotoSansSC-Regular.ttf"
    found = font_manager.findfont(font_manager.FontProperties(family=["sans-serif"]), fallback_to_default=False)
    assert found.endswith("NotoSansSC-Regular.ttf")


FIGURES = [
    lambda: plotting.plot_label_counts({"正面": 8330, "负面": 9031}),
    lambda: plotting.plot_length_histogram({"正面": [3, 30, 50, 120], "负面": [5, 20, 80, 300]}),
    lambda: plotting.plot_embedding_2d(["喜欢", "讨厌"], np.array([[0, 1], [1, -1]]), ["正", "负"]),
    lambda: plotting.plot_learning_curves(
        {"loss": [0.6, 0.4], "val_loss": [0.5, 0.45], "accuracy": [0.7, 0.8], "val_accuracy": [0.74, 0.8]}
    ),
    lambda: plotting.plot_confusion_matrix(np.array([[800, 100], [90, 700]])),
    lambda: plotting.plot_roc_curves({"逻辑回归": (np.array([0, 0.2, 1]), np.array([0, 0.9, 1]), 0.9)}),
]


@pytest.mark.parametrize("make_figure", FIGURES)
def test_figures_draw_without_missing_glyphs(make_figure):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Glyph ... missing from font(s)" would raise here
        ax = make_figure()
        fig = ax[0].figure if isinstance(ax, (list, np.ndarray)) else ax.figure
        fig.canvas.draw()


# --------------------------------------------------------------------------- tables
def test_show_table_hides_index_and_formats_columns():
    import pandas as pd

    frame = pd.DataFrame({"词": ["好"], "比例": [0.5], "条数": [1234]})
    frame.attrs["formats"] = {"比例": "{:.1%}", "缺的列": "{:d}"}
    html = plotting.show_table(frame, {"条数": "{:,d}"}).to_html()
    assert "50.0%" in html and "1,234" in html and "好" in html


def test_print_values_pads_by_display_width(capsys):
    plotting.print_values("损失", [1.0, -0.5])
    plotting.print_values("loss", [1.0])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "损失" + " " * 12 + "   1.0000  -0.5000"
    assert lines[1] == "loss" + " " * 12 + "   1.0000"


def test_history_table_and_gap():
    fit = {"loss": [0.7, 0.5], "val_accuracy": [0.6, 0.7]}
    loop = {"loss": [0.7, 0.45, 0.4], "val_accuracy": [0.6, 0.7, 0.75]}
    table = plotting.history_table({"fit": fit, "循环": loop})
    assert list(table["轮次"]) == [1, 2, 3]
    assert np.isnan(table["fit：训练损失"][2]) and table["循环：验证准确率"][2] == 0.75
    assert plotting.history_gap(fit, loop) == pytest.approx(0.05)


def test_gradient_ratio_and_probability_tables():
    curves = {("强输入", "LSTM"): [0.0, 2.0, 1.0, 0.5]}
    table = plotting.gradient_ratio_table(curves, far=2)
    assert table.columns.tolist() == ["输入", "模型", "距离 1 处的梯度", "距离 2 与距离 1 之比", "距离 3 与距离 1 之比"]
    assert table.iloc[0, 2:].tolist() == [2.0, 0.5, 0.25]
    probs = plotting.probability_table(["好", "差"], [0.9, 0.5])
    assert probs["判断"].tolist() == ["正面", "负面"]


def test_contribution_table_adds_the_shares_to_the_bias():
    table = plotting.contribution_table(
        {"我喜欢": [("我", 0.25), ("喜欢", 0.5)], "我不喜欢": [("我", 0.25), ("不", -1.0), ("喜欢", -0.5)]}, bias=-0.75
    )
    assert table.columns.tolist() == ["句子", "每个词读完后的贡献", "偏置 b", "logit", "概率"]
    assert table["每个词读完后的贡献"][0] == "我（+0.250）　喜欢（+0.500）"
    assert table["logit"].tolist() == [0.0, -2.0]
    assert table["概率"][0] == 0.5 and table["概率"][1] == pytest.approx(1 / (1 + np.exp(2.0)))
    html = plotting.show_table(table).to_html()
    assert "-0.750" in html and "+0.000" in html and "0.119" in html


def test_recurrent_table_counts_the_recurrent_layer_only():
    from types import SimpleNamespace

    from llmcourse.config import import_tensorflow

    import_tensorflow()
    import keras

    def run(kind, layer, accuracy):
        model = keras.Sequential([keras.Input((None, 3)), layer, keras.layers.Dense(1, name="logit")])
        return SimpleNamespace(
            kind=kind,
            model=SimpleNamespace(model=model),
            train_seconds=12.4,
            val=SimpleNamespace(accuracy=accuracy),
            test=SimpleNamespace(accuracy=accuracy - 0.1),
        )

    runs = {
        "简单 RNN": run("rnn", keras.layers.SimpleRNN(2, name="simple_rnn"), 0.7),
        "LSTM": run("lstm", keras.layers.LSTM(2, name="lstm"), 0.8),
    }
    table = plotting.recurrent_table(runs)
    assert table.columns.tolist() == ["循环层", "循环层参数", "验证集准确率", "测试集准确率", "训练秒数"]
    assert table["循环层参数"].tolist() == [2 * (3 + 2 + 1), 4 * 2 * (3 + 2 + 1)]  # n(d+n+1) 与 4n(d+n+1)，不含 Dense
    assert table["验证集准确率"].tolist() == [0.7, 0.8]
    assert table["测试集准确率"].tolist() == pytest.approx([0.6, 0.7])
    html = plotting.show_table(table).to_html()
    assert "0.800" in html and ">12<" in html

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
    lambda: plotting.plot_top_items([("不错", 30), ("失望", -12)], "高频词"),
    lambda: plotting.plot_embedding_2d(["喜欢", "讨厌"], np.array([[0, 1], [1, -1]]), ["正", "负"]),
    lambda: plotting.plot_learning_curves({"loss": [0.6, 0.4], "val_loss": [0.5, 0.45],
                                           "accuracy": [0.7, 0.8], "val_accuracy": [0.74, 0.8]}),
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

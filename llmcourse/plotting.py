"""Every figure of the course, with Chinese text rendered by the Noto Sans SC font of zhplot.

matplotlib has no CJK glyphs of its own; `setup_chinese_font()` registers the
font shipped in the zhplot package (OFL-1.1) in this process and makes it the
default, so labels such as “正面/负面” never turn into empty boxes.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Mapping, Sequence

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib import font_manager

CHINESE_FONT = "Noto Sans SC"
POS_COLOR, NEG_COLOR = "#2a9d8f", "#e76f51"
_FONT_READY = False


def chinese_font_path() -> Path:
    """Path of NotoSansSC-Regular.ttf inside the installed zhplot package (not imported)."""
    spec = importlib.util.find_spec("zhplot")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("需要安装 zhplot（pip install zhplot）：它附带绘图用的中文字体")
    path = Path(list(spec.submodule_search_locations)[0]) / "fonts" / "NotoSansSC-Regular.ttf"
    if not path.is_file():
        raise FileNotFoundError(f"zhplot 中没有找到字体文件：{path}")
    return path


def setup_chinese_font() -> str:
    """Register the CJK font in this process and make it matplotlib's default; returns its name."""
    global _FONT_READY
    if not _FONT_READY:
        font_manager.fontManager.addfont(str(chinese_font_path()))
        _FONT_READY = True
    matplotlib.rcParams["font.family"] = "sans-serif"
    matplotlib.rcParams["font.sans-serif"] = [CHINESE_FONT, "DejaVu Sans"]
    matplotlib.rcParams["axes.unicode_minus"] = False  # the font lacks U+2212
    matplotlib.rcParams["figure.dpi"] = 100
    matplotlib.rcParams["savefig.bbox"] = "tight"
    return CHINESE_FONT


setup_chinese_font()


def _axes(ax=None, figsize=(6, 4)):
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


# --------------------------------------------------------------------------- data
def plot_label_counts(counts: Mapping[str, int], title: str = "各类别评论数", ax=None):
    """Bar chart of examples per class, the count written above each bar."""
    ax = _axes(ax, (4.5, 3.5))
    names = list(counts)
    values = [counts[n] for n in names]
    bars = ax.bar(names, values, color=[POS_COLOR, NEG_COLOR, "#8d99ae", "#adb5bd"][: len(names)])
    ax.bar_label(bars, labels=[f"{v:,d}" for v in values])
    ax.set_ylabel("评论数")
    ax.set_title(title)
    ax.margins(y=0.12)
    return ax


def plot_length_histogram(
    lengths_by_group: Mapping[str, Sequence[int]],
    unit: str = "词",
    bins: int = 60,
    clip_percentile: float = 99,
    title: str = "评论长度分布",
    ax=None,
):
    """Overlaid histograms of text lengths, one per group, with median and 90th percentile marked."""
    ax = _axes(ax, (7, 4))
    everything = np.concatenate([np.asarray(v) for v in lengths_by_group.values()])
    upper = float(np.percentile(everything, clip_percentile))
    edges = np.linspace(0, upper, bins + 1)
    colors = [POS_COLOR, NEG_COLOR, "#8d99ae"]
    for (name, values), color in zip(lengths_by_group.items(), colors):
        ax.hist(np.clip(values, 0, upper), bins=edges, alpha=0.55, label=name, color=color)
    for q, style in ((50, "--"), (90, ":")):
        value = float(np.percentile(everything, q))
        ax.axvline(value, color="black", linestyle=style, linewidth=1)
        ax.annotate(f"{q}% 分位 {value:.0f}", (value, ax.get_ylim()[1] * 0.9), xytext=(4, 0),
                    textcoords="offset points", fontsize=9)
    ax.set_xlabel(f"长度（{unit}，超过 {clip_percentile:g}% 分位的截断显示）")
    ax.set_ylabel("评论数")
    ax.set_title(title)
    ax.legend()
    return ax


def plot_top_items(items: Sequence[tuple[str, float]], title: str, xlabel: str = "次数", ax=None, color=None):
    """Horizontal bar chart of (label, value) pairs, largest on top."""
    ax = _axes(ax, (5, 0.32 * len(items) + 1))
    labels = [k for k, _ in items][::-1]
    values = [v for _, v in items][::-1]
    ax.barh(labels, values, color=color or "#457b9d")
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    return ax


def plot_embedding_2d(words: Sequence[str], coords: np.ndarray, groups: Sequence[str] | None = None,
                      title: str = "词向量的二维投影", ax=None):
    """Scatter of 2-D word coordinates with each word written beside its point."""
    ax = _axes(ax, (7, 6))
    coords = np.asarray(coords)
    if groups is None:
        groups = [""] * len(words)
    for g_index, group in enumerate(dict.fromkeys(groups)):
        mask = np.array([g == group for g in groups])
        ax.scatter(coords[mask, 0], coords[mask, 1], s=18, label=group or None,
                   color=plt.cm.tab10(g_index % 10))
    for word, (x, y) in zip(words, coords):
        ax.annotate(word, (x, y), xytext=(3, 2), textcoords="offset points", fontsize=9)
    if any(groups):
        ax.legend()
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


# --------------------------------------------------------------------------- training and evaluation
_METRIC_NAMES = {"loss": "损失", "accuracy": "准确率", "binary_accuracy": "准确率", "auc": "AUC"}


def plot_learning_curves(history: Mapping[str, Sequence[float]], title: str = "学习曲线", axes=None):
    """Loss and accuracy per epoch for the training and validation sets.

    `history` is a Keras History.history dict (loss, val_loss, accuracy, ...).
    """
    history = getattr(history, "history", history)
    metrics = [m for m in ("loss", "accuracy") if m in history]
    if axes is None:
        _, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.6), squeeze=False)
        axes = axes[0]
    for ax, metric in zip(axes, metrics):
        epochs = np.arange(1, len(history[metric]) + 1)
        ax.plot(epochs, history[metric], "o-", label="训练集")
        if f"val_{metric}" in history:
            ax.plot(epochs, history[f"val_{metric}"], "s--", label="验证集")
        ax.set_xlabel("轮次（epoch）")
        ax.set_ylabel(_METRIC_NAMES.get(metric, metric))
        ax.set_xticks(epochs)
        ax.legend()
    axes[0].figure.suptitle(title)
    return axes


def plot_confusion_matrix(matrix: np.ndarray, class_names: Sequence[str] = ("负面", "正面"),
                          title: str = "混淆矩阵", ax=None):
    """Counts (and row percentages) of true class against predicted class."""
    ax = _axes(ax, (4.2, 3.8))
    matrix = np.asarray(matrix)
    ax.imshow(matrix, cmap="Blues")
    row_sums = matrix.sum(axis=1, keepdims=True).clip(min=1)
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            dark = matrix[i, j] > matrix.max() / 2
            ax.text(j, i, f"{matrix[i, j]:,d}\n{matrix[i, j] / row_sums[i, 0]:.1%}",
                    ha="center", va="center", color="white" if dark else "black")
    ax.set_xticks(range(len(class_names)), class_names)
    ax.set_yticks(range(len(class_names)), class_names)
    ax.set_xlabel("预测类别")
    ax.set_ylabel("真实类别")
    ax.set_title(title)
    return ax


def plot_roc_curves(curves: Mapping[str, tuple[np.ndarray, np.ndarray, float]], title: str = "ROC 曲线", ax=None):
    """ROC curves: `curves` maps a model name to (false positive rate, true positive rate, AUC)."""
    ax = _axes(ax, (4.8, 4.4))
    for name, (fpr, tpr, auc) in curves.items():
        ax.plot(fpr, tpr, label=f"{name}（AUC={auc:.3f}）")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="随机猜测")
    ax.set_xlabel("假正例率（FPR）")
    ax.set_ylabel("真正例率（TPR）")
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=9)
    return ax

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


# --------------------------------------------------------------------------- language models
def plot_perplexity(orders: Sequence[int], curves: Mapping[str, Sequence[float]],
                    title: str = "困惑度与 n-gram 阶数", logy: bool = True, ax=None):
    """Perplexity against the n-gram order, one line per text set (e.g. 训练集, 测试集)."""
    ax = _axes(ax, (5.5, 3.8))
    markers = ["o-", "s--", "^:", "d-."]
    for i, ((name, values), style) in enumerate(zip(curves.items(), markers * 2)):
        ax.plot(list(orders), list(values), style, label=name)
        offset = (5, -11) if i % 2 == 0 else (5, 5)  # alternate below/above so labels do not collide
        for x, y in zip(orders, values):
            ax.annotate(f"{y:,.1f}", (x, y), xytext=offset, textcoords="offset points", fontsize=8)
    if logy:
        ax.set_yscale("log")
    ax.set_xticks(list(orders))
    ax.set_xlim(min(orders) - 0.3, max(orders) + 0.5)  # room for the value labels
    ax.set_xlabel("阶数 n（模型看前 n-1 个字）")
    ax.set_ylabel("每字困惑度" + ("（对数坐标）" if logy else ""))
    ax.set_title(title)
    ax.legend()
    return ax


# --------------------------------------------------------------------------- diagrams
def _text_width(line: str) -> float:
    """Width of a line in units of one Chinese character (Latin letters count about half)."""
    import unicodedata

    return sum(1.0 if unicodedata.east_asian_width(ch) in "WF" else 0.6 for ch in line)


def _layers(nodes: Sequence[str], edges: Sequence[tuple]) -> tuple[dict[str, int], set[tuple[str, str]]]:
    """Layer of every node (longest path from a source) and the edges that close a cycle."""
    succ: dict[str, list[str]] = {n: [] for n in nodes}
    for edge in edges:
        succ[edge[0]].append(edge[1])
    back: set[tuple[str, str]] = set()
    state: dict[str, int] = {}  # 1 = on the DFS stack, 2 = done

    def visit(u: str) -> None:
        state[u] = 1
        for v in succ[u]:
            if state.get(v) == 1:
                back.add((u, v))
            elif v not in state:
                visit(v)
        state[u] = 2

    for n in nodes:
        if n not in state:
            visit(n)
    layer = {n: 0 for n in nodes}
    for _ in range(len(nodes)):  # relax: at most len(nodes) rounds in a DAG
        changed = False
        for edge in edges:
            u, v = edge[0], edge[1]
            if (u, v) not in back and layer[v] < layer[u] + 1:
                layer[v] = layer[u] + 1
                changed = True
        if not changed:
            break
    return layer, back


def plot_flow_diagram(
    nodes: Sequence[str],
    edges: Sequence[tuple],
    direction: str = "TB",
    title: str | None = None,
    colors: Mapping[str, str] | None = None,
    fontsize: float = 12,
    node_gap: float = 0.5,
    layer_gap: float = 0.7,
):
    """Draw a directed graph as rounded boxes joined by arrows, entirely with matplotlib.

    nodes: box labels (a label may contain "\\n"); edges: (source, target) or
    (source, target, edge label). Nodes are placed in layers by the longest path
    from a source, top to bottom (direction="TB") or left to right ("LR").
    A depth-first search visits the nodes in the order given, so list them along
    the main flow: an edge back to a node still on the search path closes a cycle
    (a feedback loop) and is drawn dashed, in a lane outside the boxes. Needs no network and no
    external tool, so the figure also shows when the book is opened from disk.
    Returns the Axes.
    """
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
    from matplotlib.path import Path

    if direction not in ("TB", "LR"):
        raise ValueError("direction 只能是 'TB'（自上而下）或 'LR'（从左到右）")
    nodes = list(dict.fromkeys(nodes))
    for edge in edges:
        for end in edge[:2]:
            if end not in nodes:
                raise ValueError(f"边 {edge[:2]} 中的节点 {end!r} 不在 nodes 里")
    colors = dict(colors or {})
    layer, back = _layers(nodes, edges)

    # box sizes in inches (the axes fill the figure and one data unit is one inch)
    em = fontsize / 72
    size = {}
    for n in nodes:
        lines = n.split("\n")
        size[n] = (max(_text_width(line) for line in lines) * em + 0.4, len(lines) * em * 1.35 + 0.3)

    # order the nodes of each layer by the mean position of their parents (fewer crossings)
    by_layer: dict[int, list[str]] = {}
    for n in nodes:
        by_layer.setdefault(layer[n], []).append(n)
    rank: dict[str, float] = {}
    fed_back = {v for _, v in back}
    for lay in sorted(by_layer):
        members = by_layer[lay]
        for i, n in enumerate(members):
            parents = [rank[e[0]] for e in edges if e[1] == n and e[0] in rank and (e[0], n) not in back]
            # a source node that receives a feedback edge goes to the outer side, next to the lanes
            rank[n] = sum(parents) / len(parents) if parents else i + len(nodes) * (n in fed_back)
        members.sort(key=lambda n: (rank[n], nodes.index(n)))
        for i, n in enumerate(members):
            rank[n] = i - (len(members) - 1) / 2

    # centres: along the flow by layer, across it spread around 0
    along = "y" if direction == "TB" else "x"
    cross_extent = {lay: sum(size[n][0 if along == "y" else 1] for n in m) + node_gap * (len(m) - 1)
                    for lay, m in by_layer.items()}
    thickness = {lay: max(size[n][1 if along == "y" else 0] for n in m) for lay, m in by_layer.items()}
    centre: dict[str, tuple[float, float]] = {}
    pos_along = 0.0
    for lay in sorted(by_layer):
        a = pos_along + thickness[lay] / 2
        c = -cross_extent[lay] / 2
        for n in by_layer[lay]:
            w = size[n][0 if along == "y" else 1]
            c_mid = c + w / 2
            centre[n] = (c_mid, -a) if along == "y" else (a, -c_mid)
            c += w + node_gap
        pos_along += thickness[lay] + layer_gap

    xs = [centre[n][0] + s * size[n][0] / 2 for n in nodes for s in (-1, 1)]
    ys = [centre[n][1] + s * size[n][1] / 2 for n in nodes for s in (-1, 1)]
    # edges that close a cycle run in a lane outside all boxes: right of them (TB) or below (LR)
    # (shorter loops on the inner lanes; in TB a lane is as wide as the longest edge label)
    back_edges = sorted((e for e in edges if (e[0], e[1]) in back), key=lambda e: layer[e[0]] - layer[e[1]])
    labels = [e[2] for e in back_edges if len(e) > 2 and e[2]]
    step = 0.3
    if labels and along == "y":
        step = max(_text_width(t) for t in labels) * em * 0.8 + 0.3
    lane = [0.3 + step * (i + (0.5 if labels and along == "y" else 0)) for i in range(len(back_edges))]
    extra = lane[-1] + (step / 2 if labels and along == "y" else 0.15) if back_edges else 0
    x0, x1 = min(xs) - 0.2, max(xs) + 0.2 + (extra if along == "y" else 0)
    y0, y1 = min(ys) - 0.2 - (extra if along == "x" else 0), max(ys) + (0.45 if title else 0.2)
    fig = plt.figure(figsize=(x1 - x0, y1 - y0))
    ax = fig.add_axes([0, 0, 1, 1])
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_axis_off()

    for n in nodes:
        (cx, cy), (w, h) = centre[n], size[n]
        ax.add_patch(FancyBboxPatch((cx - w / 2, cy - h / 2), w, h, boxstyle="round,pad=0,rounding_size=0.12",
                                    facecolor=colors.get(n, "#e8f1f8"), edgecolor="#457b9d", linewidth=1.4,
                                    zorder=2))
        ax.text(cx, cy, n, ha="center", va="center", fontsize=fontsize, zorder=3, linespacing=1.3)

    def border(n: str, towards: tuple[float, float]) -> tuple[float, float]:
        """Where the straight line from the centre of n towards a point leaves its box."""
        (cx, cy), (w, h) = centre[n], size[n]
        dx, dy = towards[0] - cx, towards[1] - cy
        scale = min(w / 2 / abs(dx) if dx else np.inf, h / 2 / abs(dy) if dy else np.inf)
        return cx + dx * scale, cy + dy * scale

    def write(x: float, y: float, label: str, ha: str = "center") -> None:
        ax.text(x, y, label, ha=ha, va="center", fontsize=fontsize * 0.8, color="#333333", zorder=4,
                bbox=dict(boxstyle="round,pad=0.15", facecolor="white", edgecolor="none"))

    for edge in edges:
        u, v = edge[0], edge[1]
        label = edge[2] if len(edge) > 2 else None
        if (u, v) in back:
            i = back_edges.index(edge)
            if along == "y":
                a = (centre[u][0] + size[u][0] / 2, centre[u][1])
                b = (centre[v][0] + size[v][0] / 2, centre[v][1])
                x_lane = max(xs) + lane[i]
                points = [a, (x_lane, a[1]), (x_lane, b[1]), b]
                label_at = (x_lane, (a[1] + b[1]) / 2, "center")
            else:
                a = (centre[u][0], centre[u][1] - size[u][1] / 2)
                b = (centre[v][0], centre[v][1] - size[v][1] / 2)
                y_lane = min(ys) - lane[i]
                points = [a, (a[0], y_lane), (b[0], y_lane), b]
                label_at = ((a[0] + b[0]) / 2, y_lane, "center")
            path = Path(points, [Path.MOVETO] + [Path.LINETO] * 3)
            ax.add_patch(FancyArrowPatch(path=path, arrowstyle="-|>", mutation_scale=14, linewidth=1.3,
                                         linestyle="--", color="#8d99ae", zorder=1))
            if label:
                write(*label_at[:2], label, ha=label_at[2])
        else:
            a, b = border(u, centre[v]), border(v, centre[u])
            ax.add_patch(FancyArrowPatch(a, b, arrowstyle="-|>", mutation_scale=14, linewidth=1.3,
                                         shrinkA=1, shrinkB=1, color="#1d3557", zorder=1))
            if label:
                write((a[0] + b[0]) / 2, (a[1] + b[1]) / 2, label)
    if title:
        ax.text((x0 + x1) / 2, y1 - 0.22, title, ha="center", va="center", fontsize=fontsize * 1.1)
    return ax


# --------------------------------------------------------------------------- recurrent networks (chapter 4)
def plot_gradient_vs_distance(curves: Mapping[str, Sequence[float]], title: str = "梯度随距离的衰减",
                              mark: Sequence[int] = (), ax=None):
    """Gradient norm against the distance k = T - 1 - t, one line per model, log-scale y axis.

    `curves` maps a name to an array whose element k is the mean ‖∂L/∂x_t‖ for
    the input k steps before the last one (see reference.gradient_vs_distance).
    Distances in `mark` get a dotted vertical line.
    """
    ax = _axes(ax, (7, 4.2))
    styles = ["-", "--", "-.", ":"]
    for i, (name, values) in enumerate(curves.items()):
        values = np.asarray(values, dtype=float)
        ax.plot(np.arange(len(values)), values, styles[i % len(styles)], linewidth=1.8, label=name)
    for k in mark:
        ax.axvline(k, color="grey", linestyle=":", linewidth=1)
    ax.set_yscale("log")
    ax.set_xlabel("距离 T - t（输入在最后一步之前多少步）")
    ax.set_ylabel(r"$\Vert \partial L / \partial x_t \Vert$（对数坐标）")
    ax.set_title(title)
    ax.legend()
    return ax


# --------------------------------------------------------------------------- applications (chapter 6)
def plot_probability_histogram(probabilities: Sequence[float], labels: Sequence[int] | None = None,
                               bins: int = 20, title: str = "正面概率的分布", ax=None):
    """Histogram of predicted positive-class probabilities, split by true label (1 正面, 0 负面) when given."""
    ax = _axes(ax, (6, 3.8))
    probabilities = np.asarray(probabilities, dtype=float)
    edges = np.linspace(0, 1, bins + 1)
    if labels is None:
        ax.hist(probabilities, bins=edges, color="#457b9d")
    else:
        labels = np.asarray(labels)
        for value, name, color in ((1, "真实为正面", POS_COLOR), (0, "真实为负面", NEG_COLOR)):
            ax.hist(probabilities[labels == value], bins=edges, alpha=0.6, label=name, color=color)
        ax.legend()
    ax.axvline(0.5, color="black", linestyle="--", linewidth=1)
    ax.set_xlabel("模型给出的正面概率")
    ax.set_ylabel("评论数")
    ax.set_title(title)
    return ax


def plot_daily_share(shares: Mapping[str, Sequence[float]], alarm: float | None = None,
                     title: str = "每天的负面评论比例", ax=None):
    """Share of negative reviews per day (batch), one line per estimate; an optional alarm level."""
    ax = _axes(ax, (7, 3.8))
    styles = ["o-", "s--", "^:", "d-."]
    days = None
    for (name, values), style in zip(shares.items(), styles * 2):
        days = np.arange(1, len(values) + 1)
        ax.plot(days, list(values), style, label=name)
    if alarm is not None:
        ax.axhline(alarm, color=NEG_COLOR, linestyle=":", linewidth=1.5, label=f"告警线 {alarm:.0%}")
    if days is not None:
        ax.set_xticks(days)
    ax.set_ylim(0, 1)
    from matplotlib.ticker import PercentFormatter

    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("天")
    ax.set_ylabel("负面评论比例")
    ax.set_title(title)
    ax.legend(fontsize=9)
    return ax


def plot_perplexity_curve(values: Sequence[float], references: Mapping[str, float] | None = None,
                          title: str = "LSTM 语言模型的测试困惑度", ax=None):
    """Held-out perplexity after each training epoch, with horizontal lines for reference models."""
    ax = _axes(ax, (6, 3.8))
    epochs = np.arange(1, len(values) + 1)
    ax.plot(epochs, list(values), "o-", label="字级 LSTM")
    for (name, value), style in zip((references or {}).items(), ["--", ":", "-."] * 3):
        ax.axhline(value, color="grey", linestyle=style, linewidth=1.2, label=f"{name}（{value:.1f}）")
    ax.set_xticks(epochs)
    ax.set_xlabel("轮次（epoch）")
    ax.set_ylabel("每字困惑度")
    ax.set_title(title)
    ax.legend()
    return ax

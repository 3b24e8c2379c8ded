"""Every figure of the course, with Chinese text rendered by the Noto Sans SC font of zhplot.

matplotlib has no CJK glyphs of its own; `setup_chinese_font()` registers the
font shipped in the zhplot package (OFL-1.1) in this process and makes it the
default, so labels such as “正面/负面” never turn into empty boxes.
"""

from __future__ import annotations

import importlib.util
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib import font_manager
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch
from matplotlib.path import Path as MplPath
from matplotlib.ticker import PercentFormatter

from llmcourse import profiling
from llmcourse.reference import sigmoid

CHINESE_FONT = "Noto Sans SC"
POS_COLOR, NEG_COLOR = "#2a9d8f", "#e76f51"
_FONT_READY = False


def chinese_font_path() -> Path:
    """Path of NotoSansSC-Regular.ttf inside the installed zhplot package (not imported). Taught in chapter 9."""
    spec = importlib.util.find_spec("zhplot")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("需要安装 zhplot（pip install zhplot）：它附带绘图用的中文字体")
    path = Path(list(spec.submodule_search_locations)[0]) / "fonts" / "NotoSansSC-Regular.ttf"
    if not path.is_file():
        raise FileNotFoundError(f"zhplot 中没有找到字体文件：{path}")
    return path


def setup_chinese_font() -> str:
    """Register the CJK font in this process and make it matplotlib's default; returns its name. Taught in chapter 9."""
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
@profiling.timed("plotting")
def plot_label_counts(counts: Mapping[str, int], title: str = "各类别评论数", ax=None):
    """Bar chart of examples per class, the count written above each bar. Taught in chapter 1."""
    ax = _axes(ax, (4.5, 3.5))
    names = list(counts)
    values = [counts[n] for n in names]
    bars = ax.bar(names, values, color=[POS_COLOR, NEG_COLOR, "#8d99ae", "#adb5bd"][: len(names)])
    ax.bar_label(bars, labels=[f"{v:,d}" for v in values])
    ax.set_ylabel("评论数")
    ax.set_title(title)
    ax.margins(y=0.12)
    return ax


@profiling.timed("plotting")
def plot_length_histogram(
    lengths_by_group: Mapping[str, Sequence[int]],
    unit: str = "词",
    bins: int = 60,
    clip_percentile: float = 99,
    title: str = "评论长度分布",
    ax=None,
):
    """Overlaid histograms of text lengths, one per group, with median and 90th percentile marked.

    Taught in chapter 1.
    """
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
        ax.annotate(
            f"{q}% 分位 {value:.0f}",
            (value, ax.get_ylim()[1] * 0.9),
            xytext=(4, 0),
            textcoords="offset points",
            fontsize=9,
        )
    ax.set_xlabel(f"长度（{unit}，超过 {clip_percentile:g}% 分位的截断显示）")
    ax.set_ylabel("评论数")
    ax.set_title(title)
    ax.legend()
    return ax


@profiling.timed("plotting")
def plot_embedding_2d(
    words: Sequence[str],
    coords: np.ndarray,
    groups: Sequence[str] | None = None,
    title: str = "词向量的二维投影",
    ax=None,
):
    """Scatter of 2-D word coordinates with each word written beside its point. Taught in chapter 3."""
    ax = _axes(ax, (7, 6))
    coords = np.asarray(coords)
    if groups is None:
        groups = [""] * len(words)
    for g_index, group in enumerate(dict.fromkeys(groups)):
        mask = np.array([g == group for g in groups])
        ax.scatter(coords[mask, 0], coords[mask, 1], s=18, label=group or None, color=plt.cm.tab10(g_index % 10))
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


@profiling.timed("plotting")
def plot_learning_curves(history: Mapping[str, Sequence[float]], title: str = "学习曲线", axes=None):
    """Loss and accuracy per epoch for the training and validation sets.

    `history` is a Keras History.history dict (loss, val_loss, accuracy, ...).
    Taught in chapter 3.
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


@profiling.timed("plotting")
def plot_confusion_matrix(
    matrix: np.ndarray, class_names: Sequence[str] = ("负面", "正面"), title: str = "混淆矩阵", ax=None
):
    """Counts (and row percentages) of true class against predicted class. Taught in chapter 5."""
    ax = _axes(ax, (4.2, 3.8))
    matrix = np.asarray(matrix)
    ax.imshow(matrix, cmap="Blues")
    row_sums = matrix.sum(axis=1, keepdims=True).clip(min=1)
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            dark = matrix[i, j] > matrix.max() / 2
            ax.text(
                j,
                i,
                f"{matrix[i, j]:,d}\n{matrix[i, j] / row_sums[i, 0]:.1%}",
                ha="center",
                va="center",
                color="white" if dark else "black",
            )
    ax.set_xticks(range(len(class_names)), class_names)
    ax.set_yticks(range(len(class_names)), class_names)
    ax.set_xlabel("预测类别")
    ax.set_ylabel("真实类别")
    ax.set_title(title)
    return ax


@profiling.timed("plotting")
def plot_roc_curves(curves: Mapping[str, tuple[np.ndarray, np.ndarray, float]], title: str = "ROC 曲线", ax=None):
    """ROC curves: `curves` maps a model name to (false positive rate, true positive rate, AUC). Taught in chapter 5."""
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
@profiling.timed("plotting")
def plot_perplexity(
    orders: Sequence[int],
    curves: Mapping[str, Sequence[float]],
    title: str = "困惑度与 n-gram 阶数",
    logy: bool = True,
    ax=None,
):
    """Perplexity against the n-gram order, one line per text set (e.g. 训练集, 测试集). Taught in chapter 2."""
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
# plot_flow_diagram lays the graph out by hand, one step per function:
#   _find_feedback_edges / _longest_path_layers   which layer along the flow each node goes in
#   _box_sizes, _order_layers, _place_nodes        box sizes and centres, in inches
#   _feedback_lanes                                where the dashed feedback edges run, outside the boxes
#   _open_canvas, _draw_boxes, _draw_edges         the matplotlib figure and patches
# Coordinates: one data unit is one inch and y grows upwards, so a TB flow goes towards negative y.


def _text_width(line: str) -> float:
    """Width of a line in units of one Chinese character (Latin letters count about half)."""
    return sum(1.0 if unicodedata.east_asian_width(ch) in "WF" else 0.6 for ch in line)


def _find_feedback_edges(nodes: Sequence[str], edges: Sequence[tuple]) -> set[tuple[str, str]]:
    """The (source, target) pairs of the edges that close a cycle.

    A depth-first search visits the nodes in the order given; an edge to a node still on the
    search path is a feedback edge. Without these edges the graph has no cycle, so it can be layered.
    """
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
    return back


def _longest_path_layers(nodes: Sequence[str], edges: Sequence[tuple], back: set[tuple[str, str]]) -> dict[str, int]:
    """Layer of every node: the number of edges on the longest path to it from a source, edges in `back` left out."""
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
    return layer


def _box_sizes(nodes: Sequence[str], em: float) -> dict[str, tuple[float, float]]:
    """(width, height) in inches of the box of every node, in the order of `nodes`.

    em is the font size in inches; the box fits the longest line and all lines, plus padding.
    """
    size = {}
    for n in nodes:
        lines = n.split("\n")
        size[n] = (max(_text_width(line) for line in lines) * em + 0.4, len(lines) * em * 1.35 + 0.3)
    return size


def _order_layers(
    nodes: list[str], edges: Sequence[tuple], layer: Mapping[str, int], back: set[tuple[str, str]]
) -> dict[int, list[str]]:
    """The nodes of every layer, ordered by the mean position of their parents (fewer crossings)."""
    by_layer: dict[int, list[str]] = {}
    for n in nodes:
        by_layer.setdefault(layer[n], []).append(n)
    rank: dict[str, float] = {}  # position across the flow, centred on 0: -1, 0, 1 for three nodes
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
    return by_layer


def _place_nodes(
    by_layer: Mapping[int, list[str]],
    size: Mapping[str, tuple[float, float]],
    vertical: bool,
    node_gap: float,
    layer_gap: float,
) -> dict[str, tuple[float, float]]:
    """Centre (x, y) of every box.

    Along the flow the layers follow one another from 0, each as thick as its largest box and
    layer_gap apart; across it the boxes of a layer sit node_gap apart, spread around 0.
    """
    across, along = (0, 1) if vertical else (1, 0)  # index into (width, height)
    centre: dict[str, tuple[float, float]] = {}
    pos_along = 0.0
    for lay in sorted(by_layer):
        members = by_layer[lay]
        thickness = max(size[n][along] for n in members)
        a = pos_along + thickness / 2
        c = -(sum(size[n][across] for n in members) + node_gap * (len(members) - 1)) / 2
        for n in members:
            w = size[n][across]
            c_mid = c + w / 2
            # TB: layers go down, a layer's first node on the left; LR: layers go right, first node on top
            centre[n] = (c_mid, -a) if vertical else (a, -c_mid)
            c += w + node_gap
        pos_along += thickness + layer_gap
    return centre


def _feedback_lanes(back_edges: Sequence[tuple], vertical: bool, em: float) -> tuple[list[float], float]:
    """Distance of each feedback edge's lane from the boxes, and the margin all lanes need.

    The lanes run right of the boxes (TB) or below them (LR), one per edge in the order given.
    In TB a label sits on its lane, so a lane is as wide as the longest label, the edge in its middle.
    """
    labels = [e[2] for e in back_edges if len(e) > 2 and e[2]]
    wide = bool(labels) and vertical
    step = max(_text_width(t) for t in labels) * em * 0.8 + 0.3 if wide else 0.3
    lanes = [0.3 + step * (i + (0.5 if wide else 0)) for i in range(len(back_edges))]
    margin = lanes[-1] + (step / 2 if wide else 0.15) if back_edges else 0
    return lanes, margin


@dataclass
class _FlowLayout:
    """Where everything of a flow diagram goes, in inches."""

    centre: dict[str, tuple[float, float]]  # box centre (x, y) of every node
    size: dict[str, tuple[float, float]]  # box (width, height) of every node
    vertical: bool  # True for direction "TB", False for "LR"
    back_edges: list[tuple]  # the feedback edges, the shortest loop (innermost lane) first
    lanes: list[float]  # distance of each feedback edge's lane from the boxes
    margin: float  # room the lanes need right of the boxes (TB) or below them (LR)
    extent: tuple[float, float, float, float]  # (left, right, bottom, top) around all boxes


def _layout_flow(
    nodes: list[str], edges: Sequence[tuple], vertical: bool, em: float, node_gap: float, layer_gap: float
) -> _FlowLayout:
    """Run the layout steps: layers, box sizes, order inside the layers, centres, feedback lanes."""
    back = _find_feedback_edges(nodes, edges)
    layer = _longest_path_layers(nodes, edges, back)
    size = _box_sizes(nodes, em)
    centre = _place_nodes(_order_layers(nodes, edges, layer, back), size, vertical, node_gap, layer_gap)
    # shorter loops on the inner lanes
    back_edges = sorted((e for e in edges if (e[0], e[1]) in back), key=lambda e: layer[e[0]] - layer[e[1]])
    lanes, margin = _feedback_lanes(back_edges, vertical, em)
    xs = [centre[n][0] + s * size[n][0] / 2 for n in nodes for s in (-1, 1)]
    ys = [centre[n][1] + s * size[n][1] / 2 for n in nodes for s in (-1, 1)]
    return _FlowLayout(centre, size, vertical, back_edges, lanes, margin, (min(xs), max(xs), min(ys), max(ys)))


def _open_canvas(layout: _FlowLayout, title: str | None):
    """A figure exactly as large as the diagram, with axes filling it so that one data unit is one inch.

    Leaves 0.2 in around the boxes, the lanes' margin right (TB) or below (LR), and room for a title.
    """
    left, right, bottom, top = layout.extent
    x0, x1 = left - 0.2, right + 0.2 + (layout.margin if layout.vertical else 0)
    y0, y1 = bottom - 0.2 - (0 if layout.vertical else layout.margin), top + (0.45 if title else 0.2)
    fig = plt.figure(figsize=(x1 - x0, y1 - y0))
    ax = fig.add_axes([0, 0, 1, 1])
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_axis_off()
    return ax


def _draw_boxes(ax, nodes: Sequence[str], layout: _FlowLayout, colors: Mapping[str, str], fontsize: float) -> None:
    """A rounded box with its label centred in it for every node."""
    for n in nodes:
        (cx, cy), (w, h) = layout.centre[n], layout.size[n]
        ax.add_patch(
            FancyBboxPatch(
                (cx - w / 2, cy - h / 2),
                w,
                h,
                boxstyle="round,pad=0,rounding_size=0.12",
                facecolor=colors.get(n, "#e8f1f8"),
                edgecolor="#457b9d",
                linewidth=1.4,
                zorder=2,
            )
        )
        ax.text(cx, cy, n, ha="center", va="center", fontsize=fontsize, zorder=3, linespacing=1.3)


def _border_point(
    centre: tuple[float, float], size: tuple[float, float], towards: tuple[float, float]
) -> tuple[float, float]:
    """Where the straight line from the centre of a box towards a point leaves the box."""
    (cx, cy), (w, h) = centre, size
    dx, dy = towards[0] - cx, towards[1] - cy
    scale = min(w / 2 / abs(dx) if dx else np.inf, h / 2 / abs(dy) if dy else np.inf)
    return cx + dx * scale, cy + dy * scale


def _feedback_route(layout: _FlowLayout, edge: tuple) -> list[tuple[float, float]]:
    """The four corners of the path of a feedback edge, outside all boxes.

    TB: out of the right side of the source, along its lane right of the boxes, into the right
    side of the target. LR: the same with the bottom sides and a lane below the boxes.
    """
    (ux, uy), (uw, uh) = layout.centre[edge[0]], layout.size[edge[0]]
    (vx, vy), (vw, vh) = layout.centre[edge[1]], layout.size[edge[1]]
    _, right, bottom, _ = layout.extent
    lane = layout.lanes[layout.back_edges.index(edge)]
    if layout.vertical:
        a, b, x_lane = (ux + uw / 2, uy), (vx + vw / 2, vy), right + lane
        return [a, (x_lane, a[1]), (x_lane, b[1]), b]
    a, b, y_lane = (ux, uy - uh / 2), (vx, vy - vh / 2), bottom - lane
    return [a, (a[0], y_lane), (b[0], y_lane), b]


def _draw_edges(ax, edges: Sequence[tuple], layout: _FlowLayout, fontsize: float) -> None:
    """An arrow for every edge, its label (if any) written on a white patch at the arrow's middle.

    Edges along the flow go straight from box border to box border; feedback edges are dashed
    and grey, and their label sits on the lane.
    """
    back = {(e[0], e[1]) for e in layout.back_edges}
    for edge in edges:
        u, v = edge[0], edge[1]
        if (u, v) in back:
            points = _feedback_route(layout, edge)
            path = MplPath(points, [MplPath.MOVETO] + [MplPath.LINETO] * 3)
            ax.add_patch(
                FancyArrowPatch(
                    path=path,
                    arrowstyle="-|>",
                    mutation_scale=14,
                    linewidth=1.3,
                    linestyle="--",
                    color="#8d99ae",
                    zorder=1,
                )
            )
            a, b = points[1], points[2]  # the stretch along the lane
        else:
            a = _border_point(layout.centre[u], layout.size[u], layout.centre[v])
            b = _border_point(layout.centre[v], layout.size[v], layout.centre[u])
            ax.add_patch(
                FancyArrowPatch(
                    a,
                    b,
                    arrowstyle="-|>",
                    mutation_scale=14,
                    linewidth=1.3,
                    shrinkA=1,
                    shrinkB=1,
                    color="#1d3557",
                    zorder=1,
                )
            )
        if len(edge) > 2 and edge[2]:
            ax.text(
                (a[0] + b[0]) / 2,
                (a[1] + b[1]) / 2,
                edge[2],
                ha="center",
                va="center",
                fontsize=fontsize * 0.8,
                color="#333333",
                zorder=4,
                bbox=dict(boxstyle="round,pad=0.15", facecolor="white", edgecolor="none"),
            )


@profiling.timed("plotting")
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
    Taught in chapter 2.
    """
    if direction not in ("TB", "LR"):
        raise ValueError("direction 只能是 'TB'（自上而下）或 'LR'（从左到右）")
    nodes = list(dict.fromkeys(nodes))
    for edge in edges:
        for end in edge[:2]:
            if end not in nodes:
                raise ValueError(f"边 {edge[:2]} 中的节点 {end!r} 不在 nodes 里")
    layout = _layout_flow(nodes, edges, direction == "TB", fontsize / 72, node_gap, layer_gap)
    ax = _open_canvas(layout, title)
    _draw_boxes(ax, nodes, layout, dict(colors or {}), fontsize)
    _draw_edges(ax, edges, layout, fontsize)
    if title:
        (x0, x1), y1 = ax.get_xlim(), ax.get_ylim()[1]
        ax.text((x0 + x1) / 2, y1 - 0.22, title, ha="center", va="center", fontsize=fontsize * 1.1)
    return ax


# --------------------------------------------------------------------------- recurrent networks (chapter 4)
@profiling.timed("plotting")
def plot_gradient_vs_distance(
    curves: Mapping[str, Sequence[float]], title: str = "梯度随距离的衰减", mark: Sequence[int] = (), ax=None
):
    """Gradient norm against the distance k = T - 1 - t, one line per model, log-scale y axis.

    `curves` maps a name to an array whose element k is the mean ‖∂L/∂x_t‖ for
    the input k steps before the last one (see reference.gradient_vs_distance).
    Distances in `mark` get a dotted vertical line.
    Taught in chapter 4.
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


# --------------------------------------------------------------------------- the LSTM cell (chapter 4)
_LSTM_INK, _LSTM_OP = "#1d3557", "#e76f51"


def _lstm_wire(ax, points, arrow: bool = True, width: float = 1.6) -> None:
    """A polyline through `points`, with an arrow head on its last stretch when `arrow`."""
    xs, ys = zip(*points)
    if len(points) > 2:
        ax.plot(xs[:-1], ys[:-1], color=_LSTM_INK, linewidth=width, solid_capstyle="round", zorder=1)
    ax.add_patch(
        FancyArrowPatch(
            points[-2],
            points[-1],
            arrowstyle="-|>" if arrow else "-",
            mutation_scale=13,
            linewidth=width,
            color=_LSTM_INK,
            shrinkA=0,
            shrinkB=0,
            zorder=1,
        )
    )


def _lstm_node(ax, x: float, y: float, op: str) -> None:
    """A pointwise operation centred at (x, y): "×" or "+" on a circle, "tanh" in a rounded box."""
    style = dict(facecolor="#ffe8d6", edgecolor=_LSTM_OP, linewidth=1.4, zorder=3)
    if op == "tanh":
        ax.add_patch(
            FancyBboxPatch((x - 0.32, y - 0.17), 0.64, 0.34, boxstyle="round,pad=0,rounding_size=0.17", **style)
        )
    else:
        ax.add_patch(Circle((x, y), 0.2, **style))
    ax.text(x, y, op, ha="center", va="center", fontsize=10 if op == "tanh" else 13, zorder=4)


def _lstm_gates(ax, low: float, gate_y: float) -> None:
    """The three gates and the candidate: a box each, fed from the input line, its symbol above it."""
    gates = [
        (2.5, "遗忘门", "σ", r"$\mathbf{F}_t$"),
        (3.8, "输入门", "σ", r"$\mathbf{I}_t$"),
        (5.1, "候选记忆", "tanh", r"$\tilde{\mathbf{C}}_t$"),
        (6.4, "输出门", "σ", r"$\mathbf{O}_t$"),
    ]
    for x, name, function, symbol in gates:
        _lstm_wire(ax, [(x, low), (x, gate_y - 0.36)])
        ax.add_patch(
            FancyBboxPatch(
                (x - 0.5, gate_y - 0.36),
                1.0,
                0.72,
                boxstyle="round,pad=0,rounding_size=0.1",
                facecolor="#a8dadc",
                edgecolor="#457b9d",
                linewidth=1.4,
                zorder=3,
            )
        )
        ax.text(x, gate_y + 0.12, name, ha="center", va="center", fontsize=10, zorder=4)
        ax.text(x, gate_y - 0.16, function, ha="center", va="center", fontsize=10, zorder=4)
        if name == "输出门":  # its arrow goes right, to the output's "×"
            ax.text(7.15, gate_y + 0.22, symbol, ha="center", va="bottom", fontsize=11, color="#333333")
        else:
            ax.text(x + 0.08, gate_y + 0.62, symbol, ha="left", va="center", fontsize=11, color="#333333")


def _lstm_frame(ax):
    """The Axes of the diagram (a new figure when None) with the cell's rounded outline."""
    if ax is None:
        _, ax = plt.subplots(figsize=(9.6, 4.6))
    ax.set_xlim(-1.5, 10.5)
    ax.set_ylim(-0.45, 5.1)
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.add_patch(
        FancyBboxPatch(
            (1.3, 0.45),
            7.4,
            4.0,
            boxstyle="round,pad=0,rounding_size=0.35",
            facecolor="#f1f6fb",
            edgecolor="#457b9d",
            linewidth=1.6,
            zorder=0,
        )
    )
    return ax


def _lstm_labels(ax, top: float, low: float) -> None:
    """The names of the four wires that enter and leave the cell, and the two equations above it."""
    ends = [
        (0.25, top, r"记忆元 $\mathbf{C}_{t-1}$", "right"),
        (10.1, top, r"$\mathbf{C}_t$", "left"),
        (0.25, low, r"隐状态 $\mathbf{H}_{t-1}$", "right"),
        (10.1, low, r"$\mathbf{H}_t$", "left"),
        (1.9, -0.28, r"输入 $\mathbf{X}_t$", "center"),
    ]
    for x, y, label, ha in ends:
        ax.text(x, y, label, ha=ha, va="center", fontsize=12)
    ax.text(
        5.0,
        4.75,
        r"$\mathbf{C}_t = \mathbf{F}_t \odot \mathbf{C}_{t-1} + \mathbf{I}_t \odot \tilde{\mathbf{C}}_t$"
        r"，$\mathbf{H}_t = \mathbf{O}_t \odot \tanh(\mathbf{C}_t)$",
        ha="center",
        va="center",
        fontsize=11,
    )


@profiling.timed("plotting")
def draw_lstm_cell(ax=None):
    """One LSTM time step as a diagram: inputs, three gates, candidate, memory cell path and output.

    Labelled with the chapter's equations in batch notation: X_t and H_{t-1} come in
    at the bottom and feed the forget, input and output gates (σ) and the candidate
    memory (tanh); the memory cell runs along the top from C_{t-1} through "×"
    (the forget gate) and "+" (what the input gate lets in) to C_t; and
    H_t = O_t ⊙ tanh(C_t) leaves on the right. Drawn with matplotlib only, no
    network and no image file. Returns the Axes. Taught in chapter 4.
    """
    ax = _lstm_frame(ax)
    top, low, gate_y = 3.85, 1.0, 2.05
    _lstm_wire(ax, [(0.35, low), (6.4, low)], arrow=False)  # H_{t-1}, joined by X_t, feeds the four boxes
    _lstm_wire(ax, [(1.9, -0.05), (1.9, low)], arrow=False)
    ax.add_patch(Circle((1.9, low), 0.06, color=_LSTM_INK, zorder=2))
    _lstm_gates(ax, low, gate_y)
    _lstm_wire(ax, [(0.35, top), (10.0, top)], width=2.6)  # the memory cell: C_{t-1} → × → + → C_t
    _lstm_wire(ax, [(2.5, gate_y + 0.36), (2.5, top - 0.2)])
    _lstm_wire(ax, [(3.8, gate_y + 0.36), (3.8, 2.95), (4.25, 2.95)])
    _lstm_wire(ax, [(5.1, gate_y + 0.36), (5.1, 2.95), (4.65, 2.95)])
    _lstm_wire(ax, [(4.45, 3.15), (4.45, top - 0.2)])
    _lstm_wire(ax, [(7.6, top), (7.6, 3.17)])  # the output: H_t = O_t ⊙ tanh(C_t)
    _lstm_wire(ax, [(7.6, 2.83), (7.6, gate_y + 0.2)])
    _lstm_wire(ax, [(6.9, gate_y), (7.4, gate_y)])
    _lstm_wire(ax, [(7.6, gate_y - 0.2), (7.6, low), (10.0, low)])
    for x, y, op in [(2.5, top, "×"), (4.45, top, "+"), (4.45, 2.95, "×"), (7.6, 3.0, "tanh"), (7.6, gate_y, "×")]:
        _lstm_node(ax, x, y, op)
    _lstm_labels(ax, top, low)
    return ax


# --------------------------------------------------------------------------- applications (chapter 6)
@profiling.timed("plotting")
def plot_probability_histogram(
    probabilities: Sequence[float],
    labels: Sequence[int] | None = None,
    bins: int = 20,
    title: str = "正面概率的分布",
    ax=None,
):
    """Histogram of predicted positive-class probabilities, split by true label (1 正面, 0 负面) when given.

    Taught in chapter 6.
    """
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


@profiling.timed("plotting")
def plot_daily_share(
    shares: Mapping[str, Sequence[float]], alarm: float | None = None, title: str = "每天的负面评论比例", ax=None
):
    """Share of negative reviews per day (batch), one line per estimate; an optional alarm level.

    Taught in chapter 6.
    """
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
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("天")
    ax.set_ylabel("负面评论比例")
    ax.set_title(title)
    ax.legend(fontsize=9)
    return ax


@profiling.timed("plotting")
def plot_perplexity_curve(
    values: Sequence[float],
    references: Mapping[str, float] | None = None,
    title: str = "LSTM 语言模型的测试困惑度",
    ax=None,
):
    """Held-out perplexity after each training epoch, with horizontal lines for reference models.

    Taught in chapter 6.
    """
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


# --------------------------------------------------------------------------- tables
def show_table(frame: pd.DataFrame, formats: Mapping[str, str] | None = None):
    """A pandas Styler of `frame` for display: no index, numbers formatted per column.

    Formats come from `frame.attrs["formats"]` (set by the table helpers of the
    package) updated by `formats`, e.g. {"准确率": "{:.4f}"}. Taught in chapter 1.
    """
    styles = {**frame.attrs.get("formats", {}), **(formats or {})}
    styles = {column: style for column, style in styles.items() if column in frame.columns}
    return frame.style.hide(axis="index").format(styles, na_rep="")


def print_values(name: str, values, width: int = 16) -> None:
    """Print one row: `name` padded to a display width (a Chinese character takes two columns), then numbers.

    Each value is printed with four decimals in nine columns. Taught in chapter 3.
    """
    used = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in name)
    print(name + " " * (width - used) + "".join(f"{v:>9.4f}" for v in np.asarray(values)))


def history_table(histories: Mapping[str, Mapping[str, Sequence[float]]]) -> pd.DataFrame:
    """Training loss and validation accuracy per epoch of several runs side by side (blank after a run stops).

    `histories` maps a run name to a Keras-style history dict. Taught in chapter 3.
    """
    longest = max(len(h["loss"]) for h in histories.values())
    frame = pd.DataFrame({"轮次": range(1, longest + 1)})
    for name, h in histories.items():
        for key, column in (("loss", "训练损失"), ("val_accuracy", "验证准确率")):
            values = list(h[key]) + [float("nan")] * (longest - len(h[key]))
            frame[f"{name}：{column}"] = values
    frame.attrs["formats"] = {column: "{:.4f}" for column in frame.columns[1:]}
    return frame


def history_gap(
    first: Mapping[str, Sequence[float]],
    second: Mapping[str, Sequence[float]],
    keys: Sequence[str] = ("loss", "val_accuracy"),
) -> float:
    """Largest absolute difference between two histories over the epochs both ran. Taught in chapter 3."""
    epochs = min(len(first["loss"]), len(second["loss"]))
    return max(abs(first[k][i] - second[k][i]) for k in keys for i in range(epochs))


def gradient_ratio_table(curves: Mapping[tuple[str, str], Sequence[float]], far: int) -> pd.DataFrame:
    """Gradient at distance 1 and its ratio at distance `far` and at the last distance, per (input, model).

    `curves` maps (input name, model name) to a curve as drawn by
    `plot_gradient_vs_distance`. Taught in chapter 4.
    """
    rows = []
    for (scale_name, model_name), g in curves.items():
        g = np.asarray(g, dtype=float)
        rows.append(
            {
                "输入": scale_name,
                "模型": model_name,
                "距离 1 处的梯度": g[1],
                f"距离 {far} 与距离 1 之比": g[far] / g[1],
                f"距离 {len(g) - 1} 与距离 1 之比": g[-1] / g[1],
            }
        )
    frame = pd.DataFrame(rows)
    frame.attrs["formats"] = {"距离 1 处的梯度": "{:.3g}", **{c: "{:.2e}" for c in frame.columns[3:]}}
    return frame


def probability_table(texts: Sequence[str], probabilities: Sequence[float], threshold: float = 0.5) -> pd.DataFrame:
    """Each text with its positive probability and the decision (positive above `threshold`). Taught in chapter 4."""
    frame = pd.DataFrame(
        {
            "句子": list(texts),
            "正面的概率": [float(p) for p in probabilities],
            "判断": ["正面" if p > threshold else "负面" for p in probabilities],
        }
    )
    frame.attrs["formats"] = {"正面的概率": "{:.3f}"}
    return frame


def gate_table(output_weights, gates: Mapping[str, np.ndarray], c_prev, c_t, h_t, top: int = 6) -> pd.DataFrame:
    """One LSTM step unit by unit, for the `top` units with the largest output-layer weight |w_j|.

    output_weights: (n,) the output layer's weight of every hidden unit; gates: the
    step's {"i", "f", "c", "o"} as `reference.lstm_step` returns them; c_prev, c_t:
    the memory cell before and after the step; h_t: the step's output. Gates and
    states are (n,) or (1, n), one sentence. Ties in |w_j| go to the lower unit number.
    Taught in chapter 4.
    """
    w = np.asarray(output_weights, dtype=np.float64).reshape(-1)
    named = {
        "i": gates["i"],
        "f": gates["f"],
        "c̃": gates["c"],
        "c（读入前）": c_prev,
        "c（读入后）": c_t,
        "o": gates["o"],
        "h": h_t,
    }
    values = {name: np.asarray(v, dtype=np.float64).reshape(-1) for name, v in named.items()}
    wrong = [name for name, v in values.items() if v.shape != w.shape]
    if wrong:
        raise ValueError(f"{'、'.join(wrong)} 的长度与输出层权重（{w.size} 个单元）不同：一次只能看一个句子")
    units = np.argsort(-np.abs(w), kind="stable")[:top]
    frame = pd.DataFrame({"单元 j": units, "输出层权重 w_j": w[units], **{k: v[units] for k, v in values.items()}})
    frame.attrs["formats"] = {column: "{:+.3f}" for column in frame.columns[1:]}
    return frame


def contribution_table(contributions: Mapping[str, Sequence[tuple[str, float]]], bias: float) -> pd.DataFrame:
    """Each sentence with every word's share of the logit, the output bias, the logit and the probability.

    `contributions` maps a sentence to its (word, share) pairs, the shares from
    `reference.step_contributions`; the logit is `bias` plus the sum of the shares.
    Taught in chapter 4.
    """
    rows = []
    for sentence, items in contributions.items():
        logit = bias + sum(share for _, share in items)
        rows.append(
            {
                "句子": sentence,
                "每个词读完后的贡献": "　".join(f"{word}（{share:+.3f}）" for word, share in items),
                "偏置 b": float(bias),
                "logit": float(logit),
                "概率": float(sigmoid(logit)),
            }
        )
    frame = pd.DataFrame(rows)
    frame.attrs["formats"] = {"偏置 b": "{:+.3f}", "logit": "{:+.3f}", "概率": "{:.3f}"}
    return frame


def recurrent_table(runs: Mapping[str, object]) -> pd.DataFrame:
    """Parameters of the recurrent layer, validation and test accuracy and training seconds of trained classifiers.

    `runs` maps a display name to a training result (`pipeline.Trained`) of a kind
    with a recurrent layer ("rnn", "lstm", "bilstm", ...). Taught in chapter 4.
    """
    from llmcourse import models  # deferred: models imports TensorFlow, which the figures and other tables do not need

    rows = []
    for name, run in runs.items():
        layer = run.model.model.get_layer(models.recurrent_layer_name(run.kind))
        rows.append(
            {
                "循环层": name,
                "循环层参数": layer.count_params(),
                "验证集准确率": run.val.accuracy,
                "测试集准确率": run.test.accuracy,
                "训练秒数": run.train_seconds,
            }
        )
    frame = pd.DataFrame(rows)
    frame.attrs["formats"] = {
        "循环层参数": "{:,d}",
        "验证集准确率": "{:.3f}",
        "测试集准确率": "{:.3f}",
        "训练秒数": "{:.0f}",
    }
    return frame

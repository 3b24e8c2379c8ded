"""Metrics, tables of results and of mistakes, for any classifier.

Every classifier of the course (neural or TF-IDF) exposes
`predict_proba(texts) -> array of positive-class probabilities`, so one
function evaluates them all on the same texts.
"""

from __future__ import annotations

import dataclasses
from typing import Protocol, Sequence

import numpy as np
import pandas as pd
from scipy.stats import binomtest
from sklearn import metrics as skm

from llmcourse import data
from llmcourse.config import resolve_seed


class TextClassifier(Protocol):
    """Anything with `predict_proba(texts)`: every classifier of the course. Taught in chapter 3."""

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclasses.dataclass
class Metrics:
    """Binary classification scores; the positive class is 1 (正面). Taught in chapter 3."""

    n: int
    accuracy: float
    precision: float
    recall: float
    f1: float
    macro_f1: float
    roc_auc: float
    confusion: list[list[int]]  # rows: true 0/1, columns: predicted 0/1

    def as_dict(self) -> dict:
        """The scores as a plain dict (for JSON)."""
        return dataclasses.asdict(self)

    def __str__(self) -> str:
        return (
            f"样本数 {self.n:,d}  准确率 {self.accuracy:.4f}  精确率 {self.precision:.4f}  "
            f"召回率 {self.recall:.4f}  F1 {self.f1:.4f}  宏平均 F1 {self.macro_f1:.4f}  "
            f"ROC-AUC {self.roc_auc:.4f}"
        )


def compute_metrics(y_true: Sequence[int], probabilities: Sequence[float], threshold: float = 0.5) -> Metrics:
    """All scores from true labels and predicted positive-class probabilities. Taught in chapter 3."""
    y_true = np.asarray(y_true, dtype=int)
    prob = np.asarray(probabilities, dtype=float)
    if y_true.shape != prob.shape:
        raise ValueError(f"标签数 {y_true.shape} 与概率数 {prob.shape} 不一致")
    pred = (prob >= threshold).astype(int)
    both_classes = len(np.unique(y_true)) == 2
    return Metrics(
        n=int(len(y_true)),
        accuracy=float(skm.accuracy_score(y_true, pred)),
        precision=float(skm.precision_score(y_true, pred, zero_division=0)),
        recall=float(skm.recall_score(y_true, pred, zero_division=0)),
        f1=float(skm.f1_score(y_true, pred, zero_division=0)),
        macro_f1=float(skm.f1_score(y_true, pred, average="macro", zero_division=0)),
        roc_auc=float(skm.roc_auc_score(y_true, prob)) if both_classes else float("nan"),
        confusion=skm.confusion_matrix(y_true, pred, labels=[0, 1]).tolist(),
    )


UNDEFINED_REASONS = {"roc_auc": "数据只有一个类别，ROC-AUC 没有定义"}


def json_metrics(metrics: Metrics) -> dict:
    """The scores as strict JSON: an undefined score is null, and "undefined" says why.

    JSON has no NaN; `json.dumps(..., allow_nan=False)` accepts the result. Taught in chapter 5.
    """
    values = metrics.as_dict()
    undefined = {
        name: UNDEFINED_REASONS.get(name, "没有定义")
        for name, value in values.items()
        if isinstance(value, float) and not np.isfinite(value)
    }
    values.update(dict.fromkeys(undefined))
    if undefined:
        values["undefined"] = undefined
    return values


def evaluate(classifier: TextClassifier, texts: Sequence[str], labels: Sequence[int]) -> Metrics:
    """Scores of any classifier with `predict_proba(texts)` on labelled texts. Taught in chapter 3."""
    return compute_metrics(labels, classifier.predict_proba(list(texts)))


def roc_points(y_true: Sequence[int], probabilities: Sequence[float]) -> tuple[np.ndarray, np.ndarray, float]:
    """(false positive rates, true positive rates, AUC) for plotting.plot_roc_curves. Taught in chapter 5."""
    fpr, tpr, _ = skm.roc_curve(np.asarray(y_true), np.asarray(probabilities))
    return fpr, tpr, float(skm.auc(fpr, tpr))


def _shorten(text: str, max_chars: int) -> str:
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


def _latin(char: str) -> bool:
    return char.isascii() and char.isalnum()


def _zh(*parts: str) -> str:
    """Join pieces with the book's spacing: a space between a Latin letter or digit and a Chinese character."""
    out = ""
    for part in parts:
        if out and part and _latin(out[-1]) != _latin(part[0]) and not {out[-1], part[0]} & set("（）：，。 "):
            out += " "
        out += part
    return out


def misclassified(
    texts: Sequence[str], y_true: Sequence[int], probabilities: Sequence[float], k: int = 10, max_chars: int = 80
):
    """The k most confidently wrong predictions as a pandas DataFrame. Taught in chapter 5."""
    y_true = np.asarray(y_true, dtype=int)
    prob = np.asarray(probabilities, dtype=float)
    wrong = np.flatnonzero((prob >= 0.5).astype(int) != y_true)
    confidence = np.abs(prob[wrong] - 0.5)
    chosen = wrong[np.argsort(-confidence, kind="stable")[:k]]
    rows = [
        {
            "文本": _shorten(texts[i], max_chars),
            "真实": data.LABEL_NAMES[int(y_true[i])],
            "预测": data.LABEL_NAMES[int(prob[i] >= 0.5)],
            "正面概率": round(float(prob[i]), 3),
        }
        for i in chosen
    ]
    return pd.DataFrame(rows, columns=["文本", "真实", "预测", "正面概率"])


def reasons_by_prefix(texts: Sequence[str], reasons: dict[str, str], missing: str = "（未标注）") -> list[str]:
    """For each text, the reason written for the first prefix it starts with, or `missing`. Taught in chapter 5."""
    return [next((reason for prefix, reason in reasons.items() if t.startswith(prefix)), missing) for t in texts]


def results_table(rows: Sequence[dict]):
    """A results table (one dict per model) as a DataFrame, best accuracy first. Taught in chapter 5."""
    frame = pd.DataFrame(list(rows))
    if "准确率" in frame:
        frame = frame.sort_values("准确率", ascending=False, kind="stable").reset_index(drop=True)
    return frame


@dataclasses.dataclass
class PairedComparison:
    """Two classifiers on the same test texts: where they disagree, and how likely a tie explains it.

    Taught in chapter 5.
    """

    only_a: int  # texts A gets right and B gets wrong
    only_b: int  # texts B gets right and A gets wrong
    p_value: float  # two-sided sign test (exact binomial) on the disagreements

    def __str__(self) -> str:
        return f"只有 A 对 {self.only_a} 条，只有 B 对 {self.only_b} 条，双侧符号检验 p = {self.p_value:.3f}"


def paired_comparison(
    y_true: Sequence[int], prob_a: Sequence[float], prob_b: Sequence[float], threshold: float = 0.5
) -> PairedComparison:
    """Sign (McNemar exact) test of two classifiers scored on the same examples.

    Only the examples exactly one of them gets right carry information; if both were
    equally good, each such example would be A's with probability 1/2. Taught in chapter 5.
    """
    y = np.asarray(y_true) == 1
    right_a = (np.asarray(prob_a) >= threshold) == y
    right_b = (np.asarray(prob_b) >= threshold) == y
    only_a, only_b = int(np.sum(right_a & ~right_b)), int(np.sum(right_b & ~right_a))
    p = binomtest(only_a, only_a + only_b, 0.5).pvalue if only_a + only_b else 1.0
    return PairedComparison(only_a, only_b, float(p))


def accuracy_stderr(accuracy: float, n: int) -> float:
    """Binomial standard error of an accuracy measured on n examples. Taught in chapter 5."""
    return float(np.sqrt(accuracy * (1 - accuracy) / n))


def pretraining_table(record) -> pd.DataFrame:
    """One row per epoch of a language-model pretraining (`pretraining.PretrainingRecord`):
    sampled losses, held-out perplexities and seconds, both directions. Taught in chapter 5."""
    rows = [
        {
            "预训练轮次": i + 1,
            "前向损失（采样）": round(record.loss["forward"][i], 3),
            "后向损失（采样）": round(record.loss["backward"][i], 3),
            "前向困惑度（验证评论）": round(record.heldout_perplexity["forward"][i], 1),
            "后向困惑度（验证评论）": round(record.heldout_perplexity["backward"][i], 1),
            "秒": round(seconds),
        }
        for i, seconds in enumerate(record.epoch_seconds)
    ]
    return pd.DataFrame(rows)


def parameter_table(trained: Sequence, embedding_parameters: int) -> pd.DataFrame:
    """Neural models' parameters split into the embedding and the rest, with their epochs.

    `trained` holds `pipeline.Trained` results of neural models. Taught in chapter 8.
    """
    return pd.DataFrame(
        [
            {
                "模型": t.name,
                "嵌入层参数": embedding_parameters,
                "其余参数": t.parameters - embedding_parameters,
                "每轮秒数": round(float(np.mean(t.epoch_seconds)), 1),
                "训练轮数": len(t.epoch_seconds),
                "最好的一轮": t.model.config["training"]["best_epoch"],
            }
            for t in trained
        ]
    )


# --------------------------------------------------------------------------- monitoring a stream (chapter 6)
def most_confident(
    texts: Sequence[str],
    labels: Sequence[int],
    probabilities: Sequence[float],
    k: int = 5,
    positive: bool = True,
    max_chars: int = 60,
) -> pd.DataFrame:
    """The k texts with the highest (positive=True) or lowest positive probability. Taught in chapter 6."""
    prob = np.asarray(probabilities, dtype=float)
    order = np.argsort(-prob if positive else prob, kind="stable")[:k]
    return pd.DataFrame(
        [
            {
                "正面概率": round(float(prob[i]), 4),
                "真实类别": data.LABEL_NAMES[int(labels[i])],
                "评论": _shorten(texts[i], max_chars),
            }
            for i in order
        ]
    )


def simulated_days(
    labels: Sequence[int], negative_shares: Sequence[float], day_size: int, seed: int | None = None
) -> list[np.ndarray]:
    """Indices of labelled examples dealt into days, day d with about negative_shares[d] negatives.

    No example is used twice; the order within a day is shuffled. Taught in chapter 6.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(resolve_seed(seed))
    pools = {label: list(rng.permutation(np.flatnonzero(labels == label))) for label in (data.NEGATIVE, data.POSITIVE)}
    days = []
    for share in negative_shares:
        n_negative = round(day_size * share)
        chosen = [pools[data.NEGATIVE].pop() for _ in range(n_negative)] + [
            pools[data.POSITIVE].pop() for _ in range(day_size - n_negative)
        ]
        days.append(rng.permutation(chosen))
    return days


def negative_rates(
    labels: Sequence[int], probabilities: Sequence[float], threshold: float = 0.5
) -> tuple[float, float]:
    """(t, f): the share of negative examples predicted negative, and of positive ones. Taught in chapter 6."""
    y = np.asarray(labels)
    predicted_negative = np.asarray(probabilities) < threshold
    return (
        float(np.mean(predicted_negative[y == data.NEGATIVE])),
        float(np.mean(predicted_negative[y == data.POSITIVE])),
    )


def adjusted_share(counted: float, t: float, f: float) -> float:
    """Adjusted classify-and-count: p = (q - f) / (t - f), clipped to [0, 1]. Taught in chapter 6."""
    return float(np.clip((counted - f) / (t - f), 0, 1))


def daily_negative_shares(
    classifier,
    texts: Sequence[str],
    labels: Sequence[int],
    days: Sequence[np.ndarray],
    t: float,
    f: float,
    min_gap: float = 0.05,
) -> pd.DataFrame:
    """Per day: the true negative share, the classified count and its adjusted value (3 decimals).

    `classifier.predict` labels each day's texts; when t - f <= min_gap the classifier
    cannot tell the classes apart, and the count is left unadjusted. Taught in chapter 6.
    """
    labels = np.asarray(labels)
    rows = []
    for day, index in enumerate(days, start=1):
        results = classifier.predict([texts[i] for i in index])
        counted = float(np.mean([r["label"] == data.NEGATIVE for r in results]))
        adjusted = adjusted_share(counted, t, f) if t - f > min_gap else counted
        rows.append(
            {
                "天": day,
                "评论数": len(index),
                "真实负面比例": float(np.mean(labels[index] == data.NEGATIVE)),
                "分类计数": counted,
                "校正后": adjusted,
            }
        )
    return pd.DataFrame(rows).round({"真实负面比例": 3, "分类计数": 3, "校正后": 3})


# --------------------------------------------------------------------------- language models (chapter 6)
def perplexity_table(perplexities: dict[str, float], reference: str, label: str | None = None) -> pd.DataFrame:
    """Test perplexity of each language model and its change relative to `reference` (a key). Taught in chapter 6."""
    base = perplexities[reference]
    change = _zh("与", label or reference, "相比")
    return pd.DataFrame(
        [
            {"模型": name, "测试困惑度": round(ppl, 2), change: f"{ppl / base - 1:+.1%}"}
            for name, ppl in perplexities.items()
        ]
    )


def next_char_table(prefixes: Sequence[str], models: dict, k: int = 5) -> pd.DataFrame:
    """For each prefix, each model's k most likely next characters, e.g. "好（0.31）".

    `models` maps a display name to a model with `next_char_distribution(prefix, k)`. Taught in chapter 6.
    """
    return pd.DataFrame(
        [
            {
                "前缀": p,
                **{
                    _zh(name, f"的前 {k} 个字"): "　".join(
                        f"{ch}（{q:.2f}）" for ch, q in m.next_char_distribution(p, k=k)
                    )
                    for name, m in models.items()
                },
            }
            for p in prefixes
        ]
    )

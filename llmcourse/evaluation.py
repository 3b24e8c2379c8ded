"""Metrics, tables of results and of mistakes, for any classifier.

Every classifier of the course (neural or TF-IDF) exposes
`predict_proba(texts) -> array of positive-class probabilities`, so one
function evaluates them all on the same texts.
"""

from __future__ import annotations

import dataclasses
from typing import Protocol, Sequence

import numpy as np
from sklearn import metrics as skm


class TextClassifier(Protocol):
    def predict_proba(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclasses.dataclass
class Metrics:
    """Binary classification scores; the positive class is 1 (正面)."""

    n: int
    accuracy: float
    precision: float
    recall: float
    f1: float
    macro_f1: float
    roc_auc: float
    confusion: list[list[int]]  # rows: true 0/1, columns: predicted 0/1

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    def __str__(self) -> str:
        return (f"样本数 {self.n:,d}  准确率 {self.accuracy:.4f}  精确率 {self.precision:.4f}  "
                f"召回率 {self.recall:.4f}  F1 {self.f1:.4f}  宏平均 F1 {self.macro_f1:.4f}  "
                f"ROC-AUC {self.roc_auc:.4f}")


def compute_metrics(y_true: Sequence[int], probabilities: Sequence[float], threshold: float = 0.5) -> Metrics:
    """All scores from true labels and predicted positive-class probabilities."""
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


def evaluate(classifier: TextClassifier, texts: Sequence[str], labels: Sequence[int]) -> Metrics:
    """Scores of any classifier with `predict_proba(texts)` on labelled texts."""
    return compute_metrics(labels, classifier.predict_proba(list(texts)))


def roc_points(y_true: Sequence[int], probabilities: Sequence[float]) -> tuple[np.ndarray, np.ndarray, float]:
    """(false positive rates, true positive rates, AUC) for plotting.plot_roc_curves."""
    fpr, tpr, _ = skm.roc_curve(np.asarray(y_true), np.asarray(probabilities))
    return fpr, tpr, float(skm.auc(fpr, tpr))


def misclassified(
    texts: Sequence[str], y_true: Sequence[int], probabilities: Sequence[float], k: int = 10, max_chars: int = 80
):
    """The k most confidently wrong predictions as a pandas DataFrame."""
    import pandas as pd

    y_true = np.asarray(y_true, dtype=int)
    prob = np.asarray(probabilities, dtype=float)
    wrong = np.flatnonzero((prob >= 0.5).astype(int) != y_true)
    confidence = np.abs(prob[wrong] - 0.5)
    chosen = wrong[np.argsort(-confidence, kind="stable")[:k]]
    rows = [
        {
            "文本": texts[i] if len(texts[i]) <= max_chars else texts[i][: max_chars - 1] + "…",
            "真实": "正面" if y_true[i] == 1 else "负面",
            "预测": "正面" if prob[i] >= 0.5 else "负面",
            "正面概率": round(float(prob[i]), 3),
        }
        for i in chosen
    ]
    return pd.DataFrame(rows, columns=["文本", "真实", "预测", "正面概率"])


def results_table(rows: Sequence[dict]):
    """A results table (one dict per model) as a DataFrame, best accuracy first."""
    import pandas as pd

    frame = pd.DataFrame(list(rows))
    if "准确率" in frame:
        frame = frame.sort_values("准确率", ascending=False, kind="stable").reset_index(drop=True)
    return frame


@dataclasses.dataclass
class PairedComparison:
    """Two classifiers on the same test texts: where they disagree, and how likely a tie explains it."""

    only_a: int  # texts A gets right and B gets wrong
    only_b: int  # texts B gets right and A gets wrong
    p_value: float  # two-sided sign test (exact binomial) on the disagreements

    def __str__(self) -> str:
        return f"只有 A 对 {self.only_a} 条，只有 B 对 {self.only_b} 条，双侧符号检验 p = {self.p_value:.3f}"


def paired_comparison(y_true: Sequence[int], prob_a: Sequence[float], prob_b: Sequence[float],
                      threshold: float = 0.5) -> PairedComparison:
    """Sign (McNemar exact) test of two classifiers scored on the same examples.

    Only the examples exactly one of them gets right carry information; if both were
    equally good, each such example would be A's with probability 1/2.
    """
    from scipy.stats import binomtest

    y = np.asarray(y_true) == 1
    right_a = (np.asarray(prob_a) >= threshold) == y
    right_b = (np.asarray(prob_b) >= threshold) == y
    only_a, only_b = int(np.sum(right_a & ~right_b)), int(np.sum(right_b & ~right_a))
    p = binomtest(only_a, only_a + only_b, 0.5).pvalue if only_a + only_b else 1.0
    return PairedComparison(only_a, only_b, float(p))

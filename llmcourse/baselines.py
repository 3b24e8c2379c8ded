"""Linear baselines: TF-IDF features + logistic regression (scikit-learn pipelines).

A neural model earns its place in the book only if it beats these, measured
in the same run on the same split. They share the `predict_proba(texts)`
interface of the neural models, and save to JSON (no pickle) so a saved
baseline loads as safely as a saved Keras model.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from llmcourse import profiling, text
from llmcourse.config import resolve_seed
from llmcourse.registry import BASELINE, model_kind

C_GRID = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)  # inverse regularisation strengths tried on validation
TFIDF_FILE, TFIDF_FORMAT = "tfidf.json", "llmcourse.tfidf/1"


def _words(doc: str) -> list[str]:
    return text.segment(doc)


def _vectorizer(kind: str) -> TfidfVectorizer:
    model_kind(kind, BASELINE)
    if kind == "tfidf-char":
        return TfidfVectorizer(analyzer="char", ngram_range=(1, 3), min_df=2, sublinear_tf=True)
    if kind == "tfidf-word":
        return TfidfVectorizer(
            tokenizer=_words, token_pattern=None, lowercase=False, ngram_range=(1, 2), min_df=2, sublinear_tf=True
        )
    raise AssertionError(f"registry lists {kind!r} as a baseline, but no vectorizer is defined for it")


class TfidfClassifier:
    """TF-IDF (characters or jieba words) + logistic regression. Taught in chapter 3."""

    def __init__(self, kind: str = "tfidf-char", C: float = 4.0, seed: int | None = None):
        self.kind = kind
        self.C = C
        self.seed = resolve_seed(seed)
        self.validation_scores: dict[float, float] = {}
        self.pipeline = Pipeline(
            [
                ("tfidf", _vectorizer(kind)),
                ("logreg", LogisticRegression(C=C, max_iter=2000, random_state=seed)),
            ]
        )

    @profiling.timed("baseline")
    def fit(
        self,
        texts: Sequence[str],
        labels: Sequence[int],
        val_texts: Sequence[str] | None = None,
        val_labels: Sequence[int] | None = None,
        C_grid: Sequence[float] = C_GRID,
    ) -> "TfidfClassifier":
        """Fit on the training texts; with a validation set, choose C from C_grid on it.

        The same protocol as the neural models (which pick their epoch on the
        validation set): the test set is never used to choose anything.
        """
        y = np.asarray(labels)
        if val_texts is None:
            self.pipeline.fit(list(texts), y)
            return self
        tfidf = self.pipeline.named_steps["tfidf"]
        features = tfidf.fit_transform(list(texts))  # the vocabulary does not depend on C: fit it once
        val_features = tfidf.transform(list(val_texts))
        self.validation_scores = {}
        best = None
        for C in C_grid:
            logreg = LogisticRegression(C=C, max_iter=2000, random_state=self.seed).fit(features, y)
            score = float(np.mean(logreg.predict(val_features) == np.asarray(val_labels)))
            self.validation_scores[C] = score
            if best is None or score > best[0]:
                best = (score, C, logreg)
        _, self.C, logreg = best
        self.pipeline.steps[-1] = ("logreg", logreg)
        return self

    @profiling.timed("evaluation")
    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Probability of the positive class, shape (n,)."""
        return self.pipeline.predict_proba(list(texts))[:, 1]

    def count_parameters(self) -> int:
        """Weights and bias of the logistic regression."""
        logreg = self.pipeline.named_steps["logreg"]
        return int(logreg.coef_.size + logreg.intercept_.size)

    # ---------------------------------------------------------------- JSON persistence
    def save(self, directory: str | os.PathLike) -> None:
        """Write tfidf.json: vocabulary, idf, weights and bias (no pickle)."""
        tfidf = self.pipeline.named_steps["tfidf"]
        logreg = self.pipeline.named_steps["logreg"]
        state = {
            "format": TFIDF_FORMAT,
            "kind": self.kind,
            "C": self.C,
            "vocabulary": {k: int(v) for k, v in tfidf.vocabulary_.items()},
            "idf": tfidf.idf_.tolist(),
            "coef": logreg.coef_[0].tolist(),
            "intercept": float(logreg.intercept_[0]),
        }
        Path(directory, TFIDF_FILE).write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def from_state(cls, state: dict) -> "TfidfClassifier":
        """A classifier from the fields of tfidf.json: kind, C, vocabulary, idf, coef, intercept.

        The fields are taken as they are: `saving.load_model` checks every one of them first.
        """
        model = cls(state["kind"], state["C"])
        tfidf = model.pipeline.named_steps["tfidf"]
        tfidf.vocabulary_ = dict(state["vocabulary"])
        tfidf.idf_ = np.asarray(state["idf"], dtype=np.float64)
        logreg = model.pipeline.named_steps["logreg"]
        logreg.classes_ = np.array([0, 1])
        logreg.coef_ = np.asarray(state["coef"], dtype=np.float64)[None, :]
        logreg.intercept_ = np.array([state["intercept"]], dtype=np.float64)
        return model

"""A trained model as one self-contained directory, and prediction on raw text.

A neural model directory holds:
- model.keras        the Keras model (architecture + weights; loaded in safe mode)
- vocabulary.json    the Vocabulary
- config.json        kind, preprocessing, training settings, metrics, library versions
A TF-IDF baseline directory holds tfidf.json instead of the first two files.
Nothing is pickled, so loading a model directory never runs code from it.
TensorFlow is imported only when a neural model is saved, loaded or used, so a
baseline works without it. Taught in chapter 5.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import os
import platform
from pathlib import Path
from typing import Iterable, Sequence

import gensim
import jieba
import numpy as np
import pandas as pd
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from llmcourse import __version__, baselines, evaluation
from llmcourse.config import import_tensorflow
from llmcourse.registry import BASELINE_KINDS
from llmcourse.vectors import TextEncoder, Vocabulary

FORMAT = "llmcourse.model/1"
MODEL_FILE, VOCAB_FILE, CONFIG_FILE = "model.keras", "vocabulary.json", "config.json"


class ModelLoadError(Exception):
    """A model directory is missing, incomplete or not an llmcourse model. Taught in chapter 5."""


def library_versions() -> dict[str, str]:
    """Versions of Python and the libraries that shape a model's behaviour. Taught in chapter 5."""
    tf = import_tensorflow()
    import keras  # deferred on purpose, with TensorFlow (see the module docstring)

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "jieba": jieba.__version__,
        "gensim": gensim.__version__,
        "numpy": np.__version__,
        "llmcourse": __version__,
    }


NOT_INSTALLED = "未安装"


def installed_version(name: str) -> str | None:
    """The installed version of a distribution ("python" gives Python's own), or None. Taught in chapter 7."""
    if name.lower() == "python":
        return platform.python_version()
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def package_versions(names: Iterable[str]) -> pd.DataFrame:
    """A table of the installed version of each distribution (未安装 when missing). Taught in chapter 7."""
    return pd.DataFrame([{"包": name, "版本": installed_version(name) or NOT_INSTALLED} for name in names])


def check_versions(requirements: dict[str, str]) -> pd.DataFrame:
    """Check installed versions against PEP 440 specifiers, e.g. {"keras": ">=3,<4", "jieba": ""}.

    An empty specifier only asks for the package to be installed. Taught in chapter 9.
    """
    table = package_versions(requirements)
    table.insert(1, "要求", [spec or "已安装" for spec in requirements.values()])
    table["结果"] = ["通过" if _satisfies(installed_version(name), spec) else "有问题"
                   for name, spec in requirements.items()]
    return table


def _satisfies(version: str | None, spec: str) -> bool:
    if version is None:
        return False
    try:
        return SpecifierSet(spec).contains(Version(version), prereleases=True)
    except InvalidVersion:
        return not spec


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("predict 需要文本列表，例如 ['很好']，而不是单个字符串")
    texts = list(texts)
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"第 {i} 个输入不是字符串：{t!r}")
    return texts


class _Predictor:
    """Shared prediction front-end: probabilities -> labelled results."""

    kind: str
    config: dict

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def predict(self, texts: Sequence[str], threshold: float = 0.5) -> list[dict]:
        """One dict per text: the text, label (1/0), 正面/负面 and the positive probability."""
        texts = _check_texts(texts)
        probs = self.predict_proba(texts) if texts else np.zeros(0)
        return [
            {"text": t, "label": int(p >= threshold), "label_name": "正面" if p >= threshold else "负面",
             "probability": round(float(p), 6)}
            for t, p in zip(texts, probs)
        ]

    def evaluate(self, texts: Sequence[str], labels: Sequence[int]) -> evaluation.Metrics:
        """Scores on labelled texts (see `evaluation.evaluate`)."""
        return evaluation.evaluate(self, texts, labels)

    @property
    def metrics(self) -> dict:
        """The metrics recorded in config.json when the model was trained."""
        return self.config.get("metrics", {})

    def _write_config(self, directory: Path, **extra) -> None:
        """config.json: this model's settings and metrics, the format, library versions and the time."""
        config = {**self.config, **extra, "format": FORMAT, "kind": self.kind, "versions": library_versions(),
                  "saved_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
        (directory / CONFIG_FILE).write_text(json.dumps(config, ensure_ascii=False, indent=2), encoding="utf-8")


class SentimentModel(_Predictor):
    """A Keras classifier together with the encoder that prepares its input. Taught in chapter 5."""

    def __init__(self, model, encoder: TextEncoder, config: dict | None = None):
        self.model = model
        self.encoder = encoder
        self.config = dict(config or {})
        self.kind = self.config.get("kind", model.name)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Positive-class probability for each raw text, shape (n,)."""
        from llmcourse.training import predict_proba  # deferred on purpose: imports TensorFlow

        texts = _check_texts(texts)
        if not texts:
            return np.zeros(0, dtype=np.float32)
        return predict_proba(self.model, self.encoder.encode(texts))

    def save(self, directory: str | os.PathLike) -> Path:
        """Write the model directory (model.keras, vocabulary.json, config.json)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.model.save(directory / MODEL_FILE)
        self.encoder.vocab.save(directory / VOCAB_FILE)
        self._write_config(directory, encoder=self.encoder.config())
        return directory


class BaselineModel(_Predictor):
    """A TF-IDF + logistic regression baseline with the same interface as SentimentModel. Taught in chapter 5."""

    def __init__(self, classifier: baselines.TfidfClassifier, config: dict | None = None):
        self.classifier = classifier
        self.config = dict(config or {})
        self.kind = classifier.kind

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Positive-class probability for each raw text, shape (n,)."""
        texts = _check_texts(texts)
        return self.classifier.predict_proba(texts) if texts else np.zeros(0)

    def save(self, directory: str | os.PathLike) -> Path:
        """Write the model directory (tfidf.json, config.json)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.classifier.save(directory)
        self._write_config(directory)
        return directory


def load_model(directory: str | os.PathLike) -> SentimentModel | BaselineModel:
    """Load a saved model directory (Keras safe mode: no code from the file is run). Taught in chapter 5."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ModelLoadError(f"找不到模型目录：{directory}")
    config_path = directory / CONFIG_FILE
    if not config_path.is_file():
        raise ModelLoadError(f"{directory} 不是 llmcourse 模型目录：缺少 {CONFIG_FILE}")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ModelLoadError(f"{config_path} 第 {err.lineno} 行：不是合法的 JSON") from err
    if config.get("format") != FORMAT:
        raise ModelLoadError(f"{config_path}：格式 {config.get('format')!r} 不是 {FORMAT}")
    if config.get("kind") in BASELINE_KINDS:
        if not (directory / "tfidf.json").is_file():
            raise ModelLoadError(f"{directory} 缺少 tfidf.json")
        return BaselineModel(baselines.TfidfClassifier.load(directory), config)
    for name in (MODEL_FILE, VOCAB_FILE):
        if not (directory / name).is_file():
            raise ModelLoadError(f"{directory} 缺少 {name}")
    # deferred on purpose: a baseline loads without TensorFlow
    import llmcourse.models  # noqa: F401  registers the course's custom layers (imports TF quietly)
    import keras

    model = keras.saving.load_model(directory / MODEL_FILE, compile=False, safe_mode=True)
    enc = config.get("encoder", {})
    encoder = TextEncoder(Vocabulary.load(directory / VOCAB_FILE), enc.get("max_len", 128),
                          enc.get("stopwords", ()), enc.get("truncating", "post"))
    return SentimentModel(model, encoder, config)

"""A trained model as one self-contained directory, and prediction on raw text.

A neural model directory holds:
- model.keras        the Keras model (architecture + weights; loaded in safe mode)
- vocabulary.json    the Vocabulary
- config.json        kind, preprocessing, training settings, metrics, library versions
A TF-IDF baseline directory holds tfidf.json instead of the first two files.
Nothing is pickled, so loading a model directory never runs code from it, and
loading checks every file against its schema (types, finite numbers, sizes that
agree) before anything is built from it.
TensorFlow is imported only when a neural model is saved, loaded or used, so a
baseline works without it. Taught in chapter 5.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import math
import os
import platform
import warnings
import zipfile
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
from llmcourse.errors import CourseError
from llmcourse.registry import BASELINE_KINDS, KINDS
from llmcourse.vectors import MAX_LEN_LIMIT, PAD_TOKEN, UNK_TOKEN, VOCAB_FORMAT, TextEncoder, Vocabulary

FORMAT = "llmcourse.model/1"
MODEL_FILE, VOCAB_FILE, CONFIG_FILE = "model.keras", "vocabulary.json", "config.json"


class ModelLoadError(CourseError):
    """A model directory is missing, incomplete, damaged or not an llmcourse model; names the file and field.

    Taught in chapter 5.
    """


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
    table["结果"] = [
        "通过" if _satisfies(installed_version(name), spec) else "有问题" for name, spec in requirements.items()
    ]
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
            {
                "text": t,
                "label": int(p >= threshold),
                "label_name": "正面" if p >= threshold else "负面",
                "probability": round(float(p), 6),
            }
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
        config = {
            **self.config,
            **extra,
            "format": FORMAT,
            "kind": self.kind,
            "versions": library_versions(),
            "saved_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        }
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


# --------------------------------------------------------------------------- loading, checked against a schema
_JSON_TYPES = ((bool, "布尔值"), ((int, float), "数"), (str, "字符串"), (list, "列表"), (dict, "对象"))
# Keras warnings that mean some weights kept their fresh random values instead of the saved ones.
_UNLOADED_WEIGHTS = ("could not be loaded", "Skipping", "freshly-initialized")


def _json_type(value) -> str:
    """The JSON name of a parsed value, in Chinese, for messages."""
    return next((name for types, name in _JSON_TYPES if isinstance(value, types)), "null")


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_finite(value: int | float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer beyond the float range
        return False


class _Fields:
    """The fields of one JSON object read from `path`; every refusal names the file and the field."""

    def __init__(self, state: dict, path: Path, prefix: str = ""):
        self.state, self.path, self.prefix = state, path, prefix

    def fail(self, name: str, problem: str):
        raise ModelLoadError(problem, self.path, field=self.prefix + name)

    def get(self, name: str, types, what: str, optional: bool = False):
        """The field's value, which must be of `types` (a bool is never a number); `what` names them."""
        if name not in self.state:
            if optional:
                return None
            self.fail(name, "缺少这个字段")
        value = self.state[name]
        if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
            self.fail(name, f"应是{what}，实际是布尔值")
        if not isinstance(value, types):
            self.fail(name, f"应是{what}，实际是{_json_type(value)}")
        return value

    def format(self, expected: str) -> None:
        """The "format" field must be exactly `expected`."""
        found = self.get("format", str, "字符串")
        if found != expected:
            self.fail("format", f"应是 {expected!r}，实际是 {found!r}")

    def strings(self, name: str) -> list[str]:
        """A list whose every item is a string."""
        values = self.get(name, list, "字符串列表")
        for i, value in enumerate(values):
            if not isinstance(value, str):
                self.fail(name, f"应是字符串列表，第 {i + 1} 项却是{_json_type(value)}")
        return values

    def number(self, name: str, positive: bool = False) -> float:
        """A finite number (and > 0 when `positive`)."""
        value = self.get(name, (int, float), "数")
        if not _is_finite(value) or (positive and value <= 0):
            self.fail(name, f"应是{'正' if positive else '有限'}数，实际是 {value!r}")
        return float(value)

    def numbers(self, name: str, length: int) -> np.ndarray:
        """A list of `length` finite numbers, as float64."""
        values = self.get(name, list, "数的列表")
        bad = next((i for i, v in enumerate(values) if not _is_number(v)), None)
        if bad is not None:
            self.fail(name, f"应是数的列表，第 {bad + 1} 项却是{_json_type(values[bad])}")
        array = np.asarray([v if _is_finite(v) else math.nan for v in values], dtype=np.float64)
        if len(array) != length:
            self.fail(name, f"应有 {length} 个数（与 vocabulary 的大小相同），实际有 {len(array)} 个")
        if not np.isfinite(array).all():
            self.fail(name, f"第 {int(np.argmin(np.isfinite(array))) + 1} 项不是有限数（NaN 或无穷大）")
        return array


def _read_bytes(path: Path, limit: int = -1) -> bytes:
    """The bytes of one file of a model directory (the first `limit` bytes when given)."""
    if not path.exists():
        raise ModelLoadError("缺少这个文件", path)
    if path.is_dir():
        raise ModelLoadError("应是文件，却是一个目录", path)
    try:
        with path.open("rb") as handle:
            return handle.read(limit)
    except PermissionError as err:
        raise ModelLoadError("没有读取权限", path) from err
    except OSError as err:
        raise ModelLoadError(f"无法读取（{err.strerror or err}）", path) from err


def _read_json(path: Path) -> dict:
    """A JSON object from a UTF-8 file (a byte-order mark is allowed)."""
    raw = _read_bytes(path)
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ModelLoadError("不是 UTF-8 编码的文本", path, line=raw[: err.start].count(b"\n") + 1) from err
    try:
        state = json.loads(content)
    except json.JSONDecodeError as err:
        raise ModelLoadError(f"不是合法的 JSON（第 {err.colno} 列附近）", path, line=err.lineno) from err
    except (RecursionError, ValueError) as err:  # nesting too deep; an integer of more than 4,300 digits
        why = "嵌套太深" if isinstance(err, RecursionError) else "有位数太多的整数"
        raise ModelLoadError(f"无法解析 JSON（{why}）", path) from err
    if not isinstance(state, dict):
        raise ModelLoadError(f"应是一个 JSON 对象，实际是{_json_type(state)}", path)
    return state


def _read_config(path: Path) -> dict:
    """config.json: format, a known kind; versions and metrics, when present, are objects."""
    config = _read_json(path)
    fields = _Fields(config, path)
    fields.format(FORMAT)
    kind = fields.get("kind", str, "字符串")
    if kind not in KINDS:
        fields.fail("kind", f"未知的模型种类 {kind!r}：可选 {', '.join(KINDS)}")
    for name in ("versions", "metrics", "encoder"):
        fields.get(name, dict, "对象", optional=True)
    return config


def _encoder_settings(config: dict, path: Path) -> tuple[int, list[str], str]:
    """config.json's "encoder": (max_len, stopwords, truncating), each checked."""
    enc = _Fields(_Fields(config, path).get("encoder", dict, "对象"), path, "encoder.")
    max_len = enc.get("max_len", int, "整数")
    if not 1 <= max_len <= MAX_LEN_LIMIT:
        enc.fail("max_len", f"应在 1 到 {MAX_LEN_LIMIT} 之间，实际是 {max_len}")
    stopwords = enc.strings("stopwords")
    truncating = enc.get("truncating", str, "字符串")
    if truncating not in ("post", "pre"):
        enc.fail("truncating", f"只能是 'post' 或 'pre'，实际是 {truncating!r}")
    return max_len, stopwords, truncating


def _read_vocabulary(path: Path) -> Vocabulary:
    """vocabulary.json: format, unique words without the special tokens, counts >= 0 and char_fallback when present."""
    fields = _Fields(_read_json(path), path)
    fields.format(VOCAB_FORMAT)
    words = fields.strings("words")
    seen: set[str] = set()
    for i, word in enumerate(words):
        if word in (PAD_TOKEN, UNK_TOKEN) or word in seen:
            fields.fail("words", f"第 {i + 1} 项 {word!r} {'是保留的特殊符号' if word not in seen else '重复'}")
        seen.add(word)
    counts = fields.get("counts", dict, "对象", optional=True) or {}
    bad = next((w for w, c in counts.items() if not isinstance(c, int) or isinstance(c, bool) or c < 0), None)
    if bad is not None:
        fields.fail("counts", f"{bad!r} 的次数应是非负整数，实际是 {counts[bad]!r}")
    char_fallback = fields.get("char_fallback", bool, "布尔值", optional=True)
    return Vocabulary(words, counts, bool(char_fallback))


def _read_tfidf(path: Path, kind: str) -> baselines.TfidfClassifier:
    """tfidf.json: format, the config's kind, C > 0, ids 0..n-1 once each, n finite idf > 0 and coef."""
    fields = _Fields(_read_json(path), path)
    fields.format(baselines.TFIDF_FORMAT)
    found = fields.get("kind", str, "字符串")
    if found not in BASELINE_KINDS:
        fields.fail("kind", f"未知的基线模型种类 {found!r}：可选 {', '.join(BASELINE_KINDS)}")
    if found != kind:
        fields.fail("kind", f"是 {found!r}，与 {CONFIG_FILE} 中的 {kind!r} 不一致")
    C = fields.number("C", positive=True)
    vocabulary = fields.get("vocabulary", dict, "对象")
    n = len(vocabulary)
    if n == 0:
        fields.fail("vocabulary", "是空的")
    seen: set[int] = set()
    for word, i in vocabulary.items():
        if not (isinstance(i, int) and not isinstance(i, bool) and 0 <= i < n) or i in seen:
            fields.fail(
                "vocabulary",
                f"应把 {n} 个词一一编号为 0 到 {n - 1}，{word!r} 的编号却是 {i!r}" + ("（重复）" if i in seen else ""),
            )
        seen.add(i)
    idf = fields.numbers("idf", n)
    if (idf <= 0).any():
        fields.fail("idf", f"应都是正数，第 {int(np.argmax(idf <= 0)) + 1} 项是 {float(idf[idf <= 0][0])}")
    coef = fields.numbers("coef", n)
    intercept = fields.number("intercept")
    return baselines.TfidfClassifier.from_state(
        {"kind": kind, "C": C, "vocabulary": vocabulary, "idf": idf, "coef": coef, "intercept": intercept}
    )


def _keras_refusal(err: Exception) -> str:
    """Our message for an exception from keras.saving.load_model (never its advice to turn safe mode off)."""
    if "safe_mode" in str(err):
        return (
            "含有加载时会执行的代码（例如用 Python lambda 写的 Lambda 层），安全模式拒绝加载；"
            "本课程保存的模型不含这类内容，请只加载来源可信的模型目录"
        )
    return f"无法加载 Keras 模型（文件损坏，或含有本课程之外的层）：{type(err).__name__}"


def _read_keras_model(path: Path):
    """model.keras in safe mode: a readable zip, every weight loaded, one input of ids and one logit out."""
    _read_bytes(path, 1)
    if not zipfile.is_zipfile(path):
        raise ModelLoadError("不是有效的 .keras 文件（应是 zip 压缩包；文件损坏或被截断）", path)
    # deferred on purpose: a baseline loads without TensorFlow
    import keras

    import llmcourse.models  # noqa: F401  registers the course's custom layers (imports TF quietly)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model = keras.saving.load_model(path, compile=False, safe_mode=True)
        except Exception as err:  # noqa: BLE001  whatever Keras raises for a damaged file, the file is at fault
            raise ModelLoadError(_keras_refusal(err), path) from err
    if any(marker in str(w.message) for w in caught for marker in _UNLOADED_WEIGHTS):
        raise ModelLoadError("有些权重没能从文件中读出（文件损坏，或权重与模型结构不符）", path)
    for w in caught:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if (
        not isinstance(model, keras.Model)
        or len(model.inputs) != 1
        or len(model.outputs) != 1
        or model.outputs[0].shape[-1] != 1
    ):
        raise ModelLoadError("不是情感分类模型：应有一个词编号输入和一个 logit 输出", path)
    return model


def _embedding_rows(model, path: Path) -> int:
    """The number of rows of the model's word embeddings (the same in every ensemble member)."""
    import keras  # deferred on purpose, with TensorFlow (see the module docstring)

    def embeddings(layer):
        for sub in getattr(layer, "layers", ()):
            yield from [sub] if isinstance(sub, keras.layers.Embedding) else embeddings(sub)

    rows = {int(layer.input_dim) for layer in embeddings(model)}
    if len(rows) != 1:
        raise ModelLoadError("没有词嵌入层" if not rows else f"各部分的词嵌入行数不同：{sorted(rows)}", path)
    return rows.pop()


def _load_neural(directory: Path, config: dict) -> SentimentModel:
    """The three files of a neural model, each checked, and the vocabulary against the embedding."""
    for name in (MODEL_FILE, VOCAB_FILE):
        if not (directory / name).exists():
            raise ModelLoadError(
                f"缺少这个文件（{config['kind']} 模型目录应有 {MODEL_FILE} 和 {VOCAB_FILE}）", directory / name
            )
    max_len, stopwords, truncating = _encoder_settings(config, directory / CONFIG_FILE)
    vocab = _read_vocabulary(directory / VOCAB_FILE)
    model = _read_keras_model(directory / MODEL_FILE)
    rows = _embedding_rows(model, directory / MODEL_FILE)
    if rows != len(vocab):
        raise ModelLoadError(
            f"有 {len(vocab)} 个词（含 {PAD_TOKEN} 与 {UNK_TOKEN}），而 {MODEL_FILE} 的词嵌入有 {rows} 行：两者应相同",
            directory / VOCAB_FILE,
            field="words",
        )
    return SentimentModel(model, TextEncoder(vocab, max_len, stopwords, truncating), config)


def load_model(directory: str | os.PathLike) -> SentimentModel | BaselineModel:
    """Load a saved model directory, checking every file against its schema. Taught in chapter 5.

    Keras loads in safe mode, so no code from the directory is run. Anything missing,
    unreadable, of the wrong type, not finite or inconsistent (a vocabulary whose size
    is not the embedding's) raises ModelLoadError naming the file and the field.
    """
    directory = Path(directory)
    if not directory.exists():
        raise ModelLoadError("找不到模型目录", directory)
    if not directory.is_dir():
        raise ModelLoadError("不是目录：模型目录应包含 config.json 等文件", directory)
    if not (directory / CONFIG_FILE).exists():
        raise ModelLoadError(f"不是 llmcourse 模型目录：缺少 {CONFIG_FILE}", directory)
    config = _read_config(directory / CONFIG_FILE)
    if config["kind"] in BASELINE_KINDS:
        return BaselineModel(_read_tfidf(directory / baselines.TFIDF_FILE, config["kind"]), config)
    return _load_neural(directory, config)

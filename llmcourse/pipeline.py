"""The whole project in a few calls: prepare the data once, train any model kind on it.

This module sits at the end of the chain (data -> text -> vectors -> models ->
training -> evaluation -> serving) and only composes it; the CLI, the
benchmarks and chapter 5 all call these functions, so they measure the same
thing on the same split.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Iterable

import numpy as np

from llmcourse import baselines, config, data, evaluation, text, vectors
from llmcourse.config import RunSizes

NEURAL_KINDS = ("mean", "rnn", "lstm", "bilstm", "gru", "transformer")
ALL_KINDS = NEURAL_KINDS + baselines.BASELINE_KINDS
DEFAULT_KIND = "bilstm"
DEFAULT_POOLING = "mean"  # average of the hidden states over real time steps (measured best)


@dataclasses.dataclass
class Prepared:
    """One split and everything derived from it, shared by every model trained on it."""

    splits: data.Splits
    tokens: dict[str, list[list[str]]]  # train/val/test -> token lists
    encoder: vectors.TextEncoder
    word2vec: object  # gensim KeyedVectors (cached on disk, see vectors.cached_word2vec)
    embedding: np.ndarray  # (词表大小, 词向量维度), row i = vector of word i
    x: dict[str, np.ndarray]  # train/val/test -> (样本数, max_len) padded ids
    y: dict[str, np.ndarray]  # train/val/test -> (样本数,) 0/1 labels
    sizes: RunSizes
    seed: int
    seconds: dict[str, float]  # time spent per preparation step

    @property
    def vocab(self) -> vectors.Vocabulary:
        return self.encoder.vocab


def _timed(seconds: dict, name: str):
    class _Timer:
        def __enter__(self):
            self.start = time.perf_counter()

        def __exit__(self, *exc):
            seconds[name] = time.perf_counter() - self.start

    return _Timer()


def prepare(
    dataset: data.LabeledTexts | None = None,
    sizes: RunSizes | None = None,
    seed: int = 42,
    stopwords: Iterable[str] = (),
    extra_word2vec_text: bool = True,
    progress: bool = True,
) -> Prepared:
    """Deduplicate, split, segment, build the vocabulary, train Word2Vec, encode.

    dataset: labelled texts (default: the shipped review corpus), sampled down
    to `sizes.max_reviews`. Word2Vec is trained on the training texts only
    (never on validation or test), plus People's Daily sentences as extra
    unlabelled text when `extra_word2vec_text`.
    """
    sizes = sizes or config.sizes()
    seconds: dict[str, float] = {}
    if dataset is None:
        dataset = data.load_reviews()
    texts, labels, _, _ = data.deduplicate(dataset.texts, dataset.labels)
    dataset = data.LabeledTexts(texts, labels, dataset.report).sample(sizes.max_reviews, seed)
    splits = data.split_dataset(dataset, seed=seed)
    stopwords = frozenset(stopwords)
    with _timed(seconds, "分词"):
        tokens = {
            name: text.tokenize_corpus(getattr(splits, name).texts, stopwords, progress=progress)
            for name in ("train", "val", "test")
        }
    vocab = vectors.Vocabulary.build(tokens["train"], min_count=2, max_size=sizes.vocab_size)
    w2v_text = list(tokens["train"])
    if extra_word2vec_text and sizes.extra_w2v_sentences != 0:
        for words in data.load_gold_segmentation(sizes.extra_w2v_sentences):
            w2v_text.append(text.remove_stopwords([text.normalize_text(w) for w in words], stopwords))
    with _timed(seconds, "Word2Vec"):
        w2v, _ = vectors.cached_word2vec(w2v_text, vector_size=sizes.embedding_dim, epochs=sizes.w2v_epochs,
                                         min_count=2, seed=seed)
    embedding = vectors.embedding_matrix(vocab, w2v, seed=seed)
    encoder = vectors.TextEncoder(vocab, sizes.max_len, stopwords)
    x = {name: encoder.encode_tokens(tokens[name]) for name in tokens}
    y = {name: getattr(splits, name).y for name in tokens}
    return Prepared(splits, tokens, encoder, w2v, embedding, x, y, sizes, seed, seconds)


@dataclasses.dataclass
class Trained:
    """A trained model (neural or baseline) with its scores on the prepared split."""

    name: str
    kind: str
    model: object  # serving.SentimentModel or serving.BaselineModel
    val: evaluation.Metrics
    test: evaluation.Metrics
    train_seconds: float
    epoch_seconds: list[float] | None
    parameters: int
    history: dict | None = None
    test_probabilities: np.ndarray | None = None

    def row(self) -> dict:
        """One row of a results table."""
        per_epoch = float(np.mean(self.epoch_seconds)) if self.epoch_seconds else None
        return {
            "模型": self.name,
            "验证准确率": round(self.val.accuracy, 4),
            "准确率": round(self.test.accuracy, 4),
            "宏平均F1": round(self.test.macro_f1, 4),
            "ROC-AUC": round(self.test.roc_auc, 4),
            "训练秒数": round(self.train_seconds, 1),
            "每轮秒数": None if per_epoch is None else round(per_epoch, 1),
            "轮数": len(self.epoch_seconds) if self.epoch_seconds else None,
            "参数量": self.parameters,
        }


def train_neural(
    prepared: Prepared,
    kind: str = DEFAULT_KIND,
    epochs: int | None = None,
    seed: int | None = None,
    hidden_units: int | None = None,
    dropout: float = 0.3,
    pooling: str | None = None,
    trainable_embeddings: bool = True,
    pretrained: bool = True,
    learning_rate: float = 1e-3,
    patience: int = 2,
    batching: str = "bucket",
    strategy=None,
    verbose: int | str = "auto",
) -> Trained:
    """Train one neural kind on the prepared split with early stopping; score it on val and test."""
    from llmcourse import models, serving, training

    if kind not in NEURAL_KINDS:
        raise ValueError(f"未知的神经网络模型 {kind!r}：可选 {', '.join(NEURAL_KINDS)}")
    sizes = prepared.sizes
    seed = prepared.seed if seed is None else seed
    pooling = pooling or (DEFAULT_POOLING if kind != "mean" else "last")
    model_config = {
        "kind": kind,
        "vocab_size": len(prepared.vocab),
        "embedding_dim": int(prepared.embedding.shape[1]),
        "trainable_embeddings": trainable_embeddings,
        "hidden_units": hidden_units or sizes.hidden_units,
        "dropout": dropout,
        "pooling": pooling,
    }
    embedding = prepared.embedding if pretrained else model_config["embedding_dim"]
    build = models.builder(kind, vocab_size=len(prepared.vocab), embedding=embedding,
                           trainable_embeddings=trainable_embeddings,
                           hidden_units=model_config["hidden_units"], dropout=dropout, pooling=pooling)
    result = training.train_keras(
        build, prepared.x["train"], prepared.y["train"], prepared.x["val"], prepared.y["val"],
        epochs=epochs or sizes.epochs, batch_size=sizes.batch_size, learning_rate=learning_rate,
        patience=patience, seed=seed, batching=batching, strategy=strategy, verbose=verbose,
    )
    val_prob = training.predict_proba(result.model, prepared.x["val"])
    test_prob = training.predict_proba(result.model, prepared.x["test"])
    val = evaluation.compute_metrics(prepared.y["val"], val_prob)
    test = evaluation.compute_metrics(prepared.y["test"], test_prob)
    cfg = {
        "kind": kind,
        "model": model_config,
        "training": {"epochs_run": len(result.epoch_seconds), "best_epoch": result.best_epoch,
                     "batch_size": sizes.batch_size, "learning_rate": learning_rate, "seed": seed,
                     "batching": batching, "pretrained_word2vec": pretrained, "profile": sizes.profile},
        "metrics": {"validation": val.as_dict(), "test": test.as_dict()},
    }
    wrapped = serving.SentimentModel(result.model, prepared.encoder, cfg)
    return Trained(models.MODEL_NAMES[kind], kind, wrapped, val, test, result.seconds, result.epoch_seconds,
                   models.count_parameters(result.model), result.history, test_prob)


def train_baseline(prepared: Prepared, kind: str = "tfidf-char") -> Trained:
    """Fit a TF-IDF + logistic regression baseline on the same split, C chosen on validation."""
    from llmcourse import serving

    start = time.perf_counter()
    clf = baselines.TfidfClassifier(kind, seed=prepared.seed).fit(
        prepared.splits.train.texts, prepared.splits.train.labels,
        prepared.splits.val.texts, prepared.splits.val.labels)  # C chosen on validation
    seconds = time.perf_counter() - start
    val = evaluation.evaluate(clf, prepared.splits.val.texts, prepared.splits.val.labels)
    test_prob = clf.predict_proba(prepared.splits.test.texts)
    test = evaluation.compute_metrics(prepared.splits.test.labels, test_prob)
    cfg = {"kind": kind, "metrics": {"validation": val.as_dict(), "test": test.as_dict()},
           "training": {"profile": prepared.sizes.profile, "seed": prepared.seed, "C": clf.C,
                        "validation_accuracy_by_C": clf.validation_scores}}
    return Trained(baselines.BASELINE_NAMES[kind], kind, serving.BaselineModel(clf, cfg), val, test, seconds,
                   None, clf.count_parameters(), None, test_prob)


def train_any(prepared: Prepared, kind: str, **kwargs) -> Trained:
    """train_baseline for the TF-IDF kinds, train_neural for the others."""
    if kind in baselines.BASELINE_KINDS:
        return train_baseline(prepared, kind)
    return train_neural(prepared, kind, **kwargs)

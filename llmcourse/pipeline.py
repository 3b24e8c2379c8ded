"""The whole project in a few calls: prepare the data once, train any model kind on it.

This module sits at the end of the chain (data -> text -> vectors -> models ->
training -> evaluation -> serving) and only composes it; the CLI, the
benchmarks and chapter 5 all call these functions, so they measure the same
thing on the same split.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Iterable

import numpy as np

from llmcourse import baselines, config, data, evaluation, text, vectors
from llmcourse.config import RunSizes

NEURAL_KINDS = ("mean", "rnn", "lstm", "bilstm", "gru", "transformer")
ALL_KINDS = NEURAL_KINDS + baselines.BASELINE_KINDS
DEFAULT_KIND = "bilstm"
DEFAULT_POOLING = "mean"  # average of the hidden states over real time steps (measured best)
# The recipe of the default BiLSTM (chapter 5): pretrain its embedding and recurrent layer
# as a language model on the training reviews, then fine-tune it with whole-word dropout
# and AdamW, `sizes.ensemble` times from the same pretrained weights with different seeds
# (at most `sizes.finetune_epochs` epochs each: validation accuracy peaked by the 4th or
# 5th epoch in every fine-tune we measured), and average the fine-tuned models' logits.
# `llmcourse train` uses it for every recurrent kind.
PRETRAINED_RECIPE = {"word_dropout": 0.2, "weight_decay": 0.01}
ENSEMBLE_SEED_STEP = 100  # member k of an ensemble trains with seed + 100 * k


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
    if extra_word2vec_text:
        w2v_text.extend(extra_sentences(sizes, stopwords))
    with _timed(seconds, "Word2Vec"):
        w2v, _ = vectors.cached_word2vec(w2v_text, vector_size=sizes.embedding_dim, epochs=sizes.w2v_epochs,
                                         min_count=2, seed=seed)
    embedding = vectors.embedding_matrix(vocab, w2v, seed=seed)
    encoder = vectors.TextEncoder(vocab, sizes.max_len, stopwords)
    x = {name: encoder.encode_tokens(tokens[name]) for name in tokens}
    y = {name: getattr(splits, name).y for name in tokens}
    return Prepared(splits, tokens, encoder, w2v, embedding, x, y, sizes, seed, seconds)


def extra_sentences(sizes: RunSizes, stopwords: Iterable[str] = ()) -> list[list[str]]:
    """People's Daily sentences as token lists, normalised and filtered like the reviews.

    Unlabelled extra text for Word2Vec and for language-model pretraining; as many
    sentences as `sizes.extra_w2v_sentences` (None = all, 0 = none).
    """
    if sizes.extra_w2v_sentences == 0:
        return []
    stopwords = frozenset(stopwords)
    return [text.remove_stopwords([text.normalize_text(w) for w in words], stopwords)
            for words in data.load_gold_segmentation(sizes.extra_w2v_sentences)]


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
    pretraining: object | None = None  # pretraining.PretrainedEncoder when the encoder was pretrained
    from_cache: bool = False  # read from the trained-model cache instead of trained now
    members: list[dict] | None = None  # an ensemble's members, each scored alone (see `train_neural`)

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

    def member_row(self, index: int = 0) -> dict:
        """A results-table row for one member of an ensemble, used alone (its pretraining time included)."""
        if not self.members:
            raise ValueError(f"{self.name} 不是集成模型，没有成员可以单独列出")
        member = self.members[index]
        seconds = sum(member["epoch_seconds"]) + (self.pretraining.seconds if self.pretraining else 0.0)
        name = self.name.split("（")[0] + ("（语言模型预训练，单个）" if self.pretraining else "（单个）")
        return {
            "模型": name,
            "验证准确率": round(member["val_accuracy"], 4),
            "准确率": round(member["test_accuracy"], 4),
            "宏平均F1": round(member["test_macro_f1"], 4),
            "ROC-AUC": round(member["test_roc_auc"], 4),
            "训练秒数": round(seconds, 1),
            "每轮秒数": round(float(np.mean(member["epoch_seconds"])), 1),
            "轮数": member["epochs_run"],
            "参数量": self.parameters // len(self.members),
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
    pretrain_epochs: int = 0,
    word_dropout: float = 0.0,
    weight_decay: float = 0.0,
    pretrain_extra_text: bool = False,
    ensemble: int = 1,
    cache: bool = False,
) -> Trained:
    """Train one neural kind on the prepared split with early stopping; score it on val and test.

    pretrain_epochs > 0 (recurrent kinds): first train the embedding and recurrent layer as a
    language model on the training reviews (`pretraining.pretrain_encoder`), then fine-tune
    from those weights; its time counts in `train_seconds`. word_dropout drops whole words
    during training; weight_decay > 0 uses AdamW. pretrain_extra_text: the language model
    also reads the People's Daily sentences Word2Vec reads (`extra_sentences`).
    ensemble > 1: fine-tune that many models from the same starting weights (the same
    pretrained encoder, when there is one) with seeds seed, seed + 100, ..., and average
    their logits (`models.build_ensemble`); `history` is the first member's, `epoch_seconds`
    lists every member's epochs and `members` scores each member alone.
    `pretrained_settings(sizes)` gives the values `llmcourse train` uses. cache=True reuses
    the result of an identical earlier call (see `cached_training`); a run under a
    tf.distribute strategy is never cached.
    """
    from llmcourse import models, pretraining, serving, training

    if cache and strategy is None:
        seed = prepared.seed if seed is None else seed  # the same run, whether the seed was named or not
        settings = dict(kind=kind, epochs=epochs, seed=seed, hidden_units=hidden_units, dropout=dropout,
                        pooling=pooling, trainable_embeddings=trainable_embeddings, pretrained=pretrained,
                        learning_rate=learning_rate, patience=patience, batching=batching,
                        pretrain_epochs=pretrain_epochs, word_dropout=word_dropout, weight_decay=weight_decay,
                        pretrain_extra_text=pretrain_extra_text, ensemble=ensemble)
        return cached_training(prepared, settings, lambda: train_neural(prepared, verbose=verbose, **settings))

    if kind not in NEURAL_KINDS:
        raise ValueError(f"未知的神经网络模型 {kind!r}：可选 {', '.join(NEURAL_KINDS)}")
    if int(ensemble) != ensemble or ensemble < 1:
        raise ValueError(f"集成的模型个数 ensemble 应为正整数，得到 {ensemble!r}")
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
        "word_dropout": word_dropout,
    }
    embedding = prepared.embedding if pretrained else model_config["embedding_dim"]
    build = models.builder(kind, vocab_size=len(prepared.vocab), embedding=embedding,
                           trainable_embeddings=trainable_embeddings, hidden_units=model_config["hidden_units"],
                           dropout=dropout, pooling=pooling, word_dropout=word_dropout)
    encoder = None
    if pretrain_epochs:
        if kind not in pretraining.PRETRAINABLE_KINDS:
            raise ValueError(f"{models.MODEL_NAMES[kind]} 不能做语言模型预训练：可选 "
                             f"{', '.join(pretraining.PRETRAINABLE_KINDS)}")
        start_matrix = prepared.embedding if pretrained else np.random.default_rng(seed).normal(
            0, 0.05, prepared.embedding.shape).astype(np.float32)
        extra = extra_sentences(sizes, prepared.encoder.stopwords) if pretrain_extra_text else []
        extra_ids = prepared.encoder.encode_tokens(extra) if extra else None
        encoder = pretraining.pretrain_encoder(
            prepared.x["train"], start_matrix, kind, model_config["hidden_units"], epochs=pretrain_epochs,
            batch_size=sizes.batch_size, heldout_ids=prepared.x["val"][:300], extra_ids=extra_ids, seed=seed,
            verbose=verbose not in (0, False))
        plain_build = build
        build = lambda: encoder.apply(plain_build())  # noqa: E731  (built inside a strategy scope if any)
    member_seeds = [seed + ENSEMBLE_SEED_STEP * k for k in range(ensemble)]
    runs = [training.train_keras(
        build, prepared.x["train"], prepared.y["train"], prepared.x["val"], prepared.y["val"],
        epochs=epochs or sizes.epochs, batch_size=sizes.batch_size, learning_rate=learning_rate,
        patience=patience, seed=member_seed, batching=batching, strategy=strategy,
        verbose=verbose, weight_decay=weight_decay,
    ) for member_seed in member_seeds]
    result = runs[0]
    members = None
    if ensemble == 1:
        model = result.model
        val_prob = training.predict_proba(model, prepared.x["val"])
        test_prob = training.predict_proba(model, prepared.x["test"])
    else:
        with strategy.scope() if strategy is not None else contextlib.nullcontext():
            model = models.build_ensemble([run.model for run in runs])
        # each member's logits once: scored alone, and averaged exactly as the ensemble model does
        logits = {name: np.stack([training.predict_logits(run.model, prepared.x[name]) for run in runs])
                  for name in ("val", "test")}  # (成员数, 样本数)
        members = [_score_member(prepared, run, member_seed, logits["val"][k], logits["test"][k])
                   for k, (run, member_seed) in enumerate(zip(runs, member_seeds))]
        val_prob, test_prob = (training.sigmoid(logits[name].mean(axis=0)) for name in ("val", "test"))
    val = evaluation.compute_metrics(prepared.y["val"], val_prob)
    test = evaluation.compute_metrics(prepared.y["test"], test_prob)
    epoch_seconds = [s for run in runs for s in run.epoch_seconds]
    cfg = {
        "kind": kind,
        "model": {**model_config, "ensemble": ensemble},
        "training": {"epochs_run": len(result.epoch_seconds), "best_epoch": result.best_epoch,
                     "batch_size": sizes.batch_size, "learning_rate": learning_rate, "seed": seed,
                     "weight_decay": weight_decay, "batching": batching, "pretrained_word2vec": pretrained,
                     "language_model_pretraining": encoder.summary() if encoder else None,
                     "ensemble_members": members, "profile": sizes.profile},
        "metrics": {"validation": val.as_dict(), "test": test.as_dict()},
    }
    wrapped = serving.SentimentModel(model, prepared.encoder, cfg)
    notes = (["语言模型预训练"] if encoder else []) + (
        [f"{ensemble} 次微调平均" if encoder else f"{ensemble} 个模型平均"] if ensemble > 1 else [])
    name = models.MODEL_NAMES[kind] + (f"（{'，'.join(notes)}）" if notes else "")
    seconds = sum(run.seconds for run in runs) + (encoder.seconds if encoder else 0.0)
    return Trained(name, kind, wrapped, val, test, seconds, epoch_seconds, models.count_parameters(model),
                   result.history, test_prob, encoder, members=members)


def _score_member(prepared: Prepared, run, seed: int, val_logits: np.ndarray, test_logits: np.ndarray) -> dict:
    """One ensemble member scored alone on validation and test (for the tables that compare them)."""
    from llmcourse.training import sigmoid

    val = evaluation.compute_metrics(prepared.y["val"], sigmoid(val_logits))
    test = evaluation.compute_metrics(prepared.y["test"], sigmoid(test_logits))
    return {"seed": seed, "epochs_run": len(run.epoch_seconds), "best_epoch": run.best_epoch,
            "epoch_seconds": [round(s, 2) for s in run.epoch_seconds], "val_accuracy": val.accuracy,
            "test_accuracy": test.accuracy,
            "test_macro_f1": test.macro_f1, "test_roc_auc": test.roc_auc}


def pretrained_settings(sizes: RunSizes | None = None) -> dict:
    """Keyword arguments of `train_neural` for the pretrained recipe (what `llmcourse train` uses)."""
    sizes = sizes or config.sizes()
    return {"pretrain_epochs": sizes.pretrain_epochs, "epochs": sizes.finetune_epochs, **PRETRAINED_RECIPE,
            "ensemble": sizes.ensemble}


def train_baseline(prepared: Prepared, kind: str = "tfidf-char", cache: bool = False) -> Trained:
    """Fit a TF-IDF + logistic regression baseline on the same split, C chosen on validation."""
    from llmcourse import serving

    if cache:
        return cached_training(prepared, {"kind": kind}, lambda: train_baseline(prepared, kind))

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


# --------------------------------------------------------------------------- trained-model cache
_CACHED_SOURCES = ("baselines", "data", "models", "pipeline", "pretraining", "serving", "text", "training", "vectors")


def _cache_key(prepared: Prepared, settings: dict) -> str:
    """A hash of everything the result depends on: the prepared arrays, the settings, the code, the libraries."""
    from llmcourse import serving

    digest = hashlib.sha256()
    for name in ("train", "val", "test"):
        digest.update(np.ascontiguousarray(prepared.x[name]).tobytes())
        digest.update(np.ascontiguousarray(prepared.y[name]).tobytes())
        digest.update("\x1e".join(getattr(prepared.splits, name).texts).encode("utf-8"))
    digest.update(np.ascontiguousarray(prepared.embedding).tobytes())
    described = {"sizes": dataclasses.asdict(prepared.sizes), "seed": prepared.seed,
                 "encoder": prepared.encoder.config(), "settings": settings,
                 "versions": serving.library_versions()}
    digest.update(json.dumps(described, sort_keys=True, default=str, ensure_ascii=False).encode("utf-8"))
    package = Path(__file__).parent
    for module in _CACHED_SOURCES:
        digest.update((package / f"{module}.py").read_bytes())
    return digest.hexdigest()[:32]


def _store(trained: Trained, root: Path) -> None:
    tmp = root.with_name(root.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    trained.model.save(tmp / "model")
    encoder = trained.pretraining
    record = {
        "name": trained.name, "kind": trained.kind, "val": trained.val.as_dict(), "test": trained.test.as_dict(),
        "train_seconds": trained.train_seconds, "epoch_seconds": trained.epoch_seconds,
        "parameters": trained.parameters, "history": trained.history, "members": trained.members,
        "test_probabilities": None if trained.test_probabilities is None else
        [float(p) for p in trained.test_probabilities],
        "pretraining": None if encoder is None else {
            "kind": encoder.kind, "hidden_units": encoder.hidden_units, "loss": encoder.loss,
            "heldout_perplexity": encoder.heldout_perplexity, "epoch_seconds": encoder.epoch_seconds},
    }
    (tmp / "trained.json").write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    try:
        os.replace(tmp, root)
    except OSError:  # another process stored the same result first
        shutil.rmtree(tmp, ignore_errors=True)


def _load(root: Path) -> Trained:
    from llmcourse import serving

    record = json.loads((root / "trained.json").read_text(encoding="utf-8"))
    pretrained = record["pretraining"]
    if pretrained is not None:
        from llmcourse.pretraining import PretrainedEncoder

        # the figures of the pretraining run; its weights live on inside the saved classifier
        pretrained = PretrainedEncoder(pretrained["kind"], pretrained["hidden_units"], np.zeros((0, 0), np.float32),
                                       [], pretrained["loss"], pretrained["heldout_perplexity"],
                                       pretrained["epoch_seconds"])
    probabilities = record["test_probabilities"]
    return Trained(record["name"], record["kind"], serving.load_model(root / "model"),
                   evaluation.Metrics(**record["val"]), evaluation.Metrics(**record["test"]),
                   record["train_seconds"], record["epoch_seconds"], record["parameters"], record["history"],
                   None if probabilities is None else np.asarray(probabilities, dtype=np.float32), pretrained,
                   from_cache=True, members=record.get("members"))


def cached_training(prepared: Prepared, settings: dict, train) -> Trained:
    """Return `train()`, or the stored result of an identical earlier call.

    Training is deterministic (seeded, deterministic TF ops), so the same prepared
    data, settings, package code and library versions give the same model: chapters
    that show a model another chapter already trained (5, 6 and 8) read it back from
    `$LLMCOURSE_CACHE_DIR/models` instead of training it again. The stored timings are
    those of the run that trained it. `make clean-cache` empties the cache.
    """
    from llmcourse.text import cache_dir

    root = cache_dir() / "models" / _cache_key(prepared, settings)
    if (root / "trained.json").is_file():
        return _load(root)
    trained = train()
    _store(trained, root)
    return trained

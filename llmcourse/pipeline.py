"""The whole project in a few calls: prepare the data once, train any model kind on it.

This module sits at the end of the chain (data -> text -> vectors -> models ->
training -> evaluation -> saving) and only composes it; the command line, the
benchmarks and chapter 5 all call `prepare` and `train` with a recipe from
`registry`, so they measure the same thing on the same split. Taught in chapter 5.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from llmcourse import (
    baselines,
    cache,
    config,
    data,
    evaluation,
    models,
    pretraining,
    profiling,
    reference,
    saving,
    text,
    training,
    vectors,
)
from llmcourse.config import RunSizes
from llmcourse.registry import BASELINE, DEFAULT_KIND, DEFAULT_RECIPE, KINDS, NEURAL, model_kind
from llmcourse.registry import recipe as named_recipe

DEFAULT_POOLING = "mean"  # average of the hidden states over real time steps (measured best)
ENSEMBLE_SEED_STEP = 100  # member k of an ensemble trains with seed + 100 * k
SPLITS = ("train", "val", "test")
VOCAB_MIN_COUNT = 2  # a word seen once in training gets no id of its own


@dataclasses.dataclass
class Prepared:
    """One split and everything derived from it, shared by every model trained on it.

    Taught in chapter 5.
    """

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


@contextlib.contextmanager
def _timed(seconds: dict, name: str):
    start = time.perf_counter()
    yield
    seconds[name] = time.perf_counter() - start


def prepare(
    dataset: data.LabeledTexts | None = None,
    sizes: RunSizes | None = None,
    seed: int | None = None,
    stopwords: Iterable[str] = (),
    extra_word2vec_text: bool = True,
    progress: bool = True,
) -> Prepared:
    """Deduplicate, split, segment, build the vocabulary, train Word2Vec, encode.

    dataset: labelled texts (default: the shipped review corpus), sampled down
    to `sizes.max_reviews`. Word2Vec is trained on the training texts only
    (never on validation or test), plus People's Daily sentences as extra
    unlabelled text when `extra_word2vec_text`. Taught in chapter 5.
    """
    sizes = sizes or config.sizes()
    seconds: dict[str, float] = {}
    if dataset is None:
        dataset = data.load_reviews()
    texts, labels, _, _ = data.deduplicate(dataset.texts, dataset.labels)
    seed = config.resolve_seed(seed)
    dataset = data.LabeledTexts(texts, labels, dataset.report).sample(sizes.max_reviews, seed)
    splits = data.split_dataset(dataset, seed=seed)
    stopwords = frozenset(stopwords)
    with _timed(seconds, "分词"):
        tokens = {
            name: text.tokenize_corpus(getattr(splits, name).texts, stopwords, progress=progress) for name in SPLITS
        }
    vocab = vectors.Vocabulary.build(tokens["train"], VOCAB_MIN_COUNT, sizes.vocab_size)
    w2v_text = list(tokens["train"])
    if extra_word2vec_text:
        w2v_text.extend(extra_sentences(sizes, stopwords))
    with _timed(seconds, "Word2Vec"):
        w2v, _ = vectors.cached_word2vec(
            w2v_text, vector_size=sizes.embedding_dim, epochs=sizes.w2v_epochs, min_count=2, seed=seed
        )
    encoder, embedding, x = _encoded(vocab, tokens, w2v, sizes.max_len, stopwords, seed)
    y = {name: getattr(splits, name).y for name in SPLITS}
    return Prepared(splits, tokens, encoder, w2v, embedding, x, y, sizes, seed, seconds)


def _encoded(vocab: vectors.Vocabulary, tokens: dict, word2vec, max_len: int, stopwords: frozenset[str], seed: int):
    """(encoder, embedding matrix, padded ids per split) of the token lists read with `vocab`."""
    encoder = vectors.TextEncoder(vocab, max_len, stopwords)
    embedding = vectors.embedding_matrix(vocab, word2vec, seed=seed)
    return encoder, embedding, {name: encoder.encode_tokens(tokens[name]) for name in SPLITS}


def with_char_fallback(prepared: Prepared) -> Prepared:
    """The same split read with a character fallback: words never seen in training become their characters.

    The vocabulary also keeps the characters of the training words (`Vocabulary.build`
    with char_fallback); a character without a Word2Vec vector starts from a small random
    one. Segmentation and Word2Vec are reused, not redone. Taught in chapter 5.
    """
    vocab = vectors.Vocabulary.build(
        prepared.tokens["train"], VOCAB_MIN_COUNT, prepared.sizes.vocab_size, char_fallback=True
    )
    encoder, embedding, x = _encoded(
        vocab, prepared.tokens, prepared.word2vec, prepared.encoder.max_len, prepared.encoder.stopwords, prepared.seed
    )
    return dataclasses.replace(prepared, encoder=encoder, embedding=embedding, x=x)


def extra_sentences(sizes: RunSizes, stopwords: Iterable[str] = ()) -> list[list[str]]:
    """People's Daily sentences as token lists, normalised and filtered like the reviews.

    Unlabelled extra text for Word2Vec and for language-model pretraining; as many
    sentences as `sizes.extra_w2v_sentences` (None = all, 0 = none). Taught in chapter 5.
    """
    if sizes.extra_w2v_sentences == 0:
        return []
    stopwords = frozenset(stopwords)
    return [
        text.remove_stopwords([text.normalize_text(w) for w in words], stopwords)
        for words in data.load_gold_segmentation(sizes.extra_w2v_sentences)
    ]


# --------------------------------------------------------------------------- results
def trained_name(kind: str, pretrained: bool = False, ensemble: int = 1, single: bool = False) -> str:
    """The name of a trained model in the book's tables, e.g. "双向 LSTM（语言模型预训练，3 次微调平均）".

    Taught in chapter 5.
    """
    notes = ["语言模型预训练"] if pretrained else []
    if single:
        notes.append("单个")
    elif ensemble > 1:
        notes.append(f"{ensemble} 次微调平均" if pretrained else f"{ensemble} 个模型平均")
    return KINDS[kind].name + (f"（{'，'.join(notes)}）" if notes else "")


@dataclasses.dataclass
class Trained:
    """A trained model (neural or baseline) with its scores on the prepared split.

    Taught in chapter 5.
    """

    name: str
    kind: str
    model: saving.SentimentModel | saving.BaselineModel
    val: evaluation.Metrics
    test: evaluation.Metrics
    train_seconds: float
    epoch_seconds: list[float] | None
    parameters: int
    history: dict | None = None
    test_probabilities: np.ndarray | None = None
    pretraining: pretraining.PretrainingRecord | None = None  # figures of the language-model pretraining
    from_cache: bool = False  # read from the trained-model cache instead of trained now
    members: list[dict] | None = None  # an ensemble's members, each scored alone (see `train_neural`)

    def row(self) -> dict:
        """One row of a results table."""
        epochs = self.epoch_seconds or []
        return _table_row(
            self.name,
            self.val.accuracy,
            self.test.accuracy,
            self.test.macro_f1,
            self.test.roc_auc,
            self.train_seconds,
            epochs,
            self.parameters,
        )

    def member_row(self, index: int = 0) -> dict:
        """A results-table row for one member of an ensemble, used alone (its pretraining time included)."""
        if not self.members:
            raise ValueError(f"{self.name} 不是集成模型，没有成员可以单独列出")
        m = self.members[index]
        seconds = sum(m["epoch_seconds"]) + (self.pretraining.seconds if self.pretraining else 0.0)
        return _table_row(
            trained_name(self.kind, self.pretraining is not None, single=True),
            m["val_accuracy"],
            m["test_accuracy"],
            m["test_macro_f1"],
            m["test_roc_auc"],
            seconds,
            m["epoch_seconds"],
            self.parameters // len(self.members),
        )


def _table_row(
    name: str,
    val_accuracy: float,
    accuracy: float,
    macro_f1: float,
    roc_auc: float,
    seconds: float,
    epoch_seconds: list[float],
    parameters: int,
) -> dict:
    """The columns of chapter 5's results table (seconds per epoch and epochs empty for a baseline)."""
    return {
        "模型": name,
        "验证准确率": round(val_accuracy, 4),
        "准确率": round(accuracy, 4),
        "宏平均F1": round(macro_f1, 4),
        "ROC-AUC": round(roc_auc, 4),
        "训练秒数": round(seconds, 1),
        "每轮秒数": round(float(np.mean(epoch_seconds)), 1) if epoch_seconds else None,
        "轮数": len(epoch_seconds) if epoch_seconds else None,
        "参数量": parameters,
    }


# --------------------------------------------------------------------------- neural models
@dataclasses.dataclass(frozen=True)
class NeuralSettings:
    """Every choice that shapes a trained neural classifier; None = the run size's value.

    pretrained: start the embedding from Word2Vec. pretrain_epochs > 0 (recurrent
    kinds): first train the embedding and recurrent layer as a language model
    (`pretraining.pretrain_encoder`), reading People's Daily too when
    `pretrain_extra_text`. word_dropout drops whole words during training;
    weight_decay > 0 uses AdamW. ensemble > 1: fine-tune that many models from the
    same starting weights with seeds seed, seed + 100, ... and average their logits.
    length_balance: weigh the training examples so that, within each length bin, both
    labels count the same (`training.length_balanced_weights`).
    Taught in chapter 5.
    """

    epochs: int | None = None
    seed: int | None = None
    hidden_units: int | None = None
    dropout: float = 0.3
    pooling: str | None = None
    trainable_embeddings: bool = True
    pretrained: bool = True
    learning_rate: float = 1e-3
    patience: int = 2
    batching: str = "bucket"
    pretrain_epochs: int = 0
    word_dropout: float = 0.0
    weight_decay: float = 0.0
    pretrain_extra_text: bool = False
    ensemble: int = 1
    length_balance: bool = False

    def resolved(self, kind: str, prepared: Prepared) -> NeuralSettings:
        """The same settings with every None replaced by the value this run uses."""
        if int(self.ensemble) != self.ensemble or self.ensemble < 1:
            raise ValueError(f"集成的模型个数 ensemble 应为正整数，得到 {self.ensemble!r}")
        if self.pretrain_epochs and not model_kind(kind, NEURAL).pretrainable:
            raise ValueError(
                f"{KINDS[kind].name} 不能做语言模型预训练：可选 "
                f"{', '.join(k for k, v in KINDS.items() if v.pretrainable)}"
            )
        sizes = prepared.sizes
        return dataclasses.replace(
            self,
            epochs=self.epochs or sizes.epochs,
            hidden_units=self.hidden_units or sizes.hidden_units,
            seed=prepared.seed if self.seed is None else self.seed,
            pooling=self.pooling or (DEFAULT_POOLING if kind != "mean" else "last"),
        )


def _model_config(prepared: Prepared, kind: str, s: NeuralSettings) -> dict:
    """The architecture of one classifier (saved in config.json)."""
    return {
        "kind": kind,
        "vocab_size": len(prepared.vocab),
        "embedding_dim": int(prepared.embedding.shape[1]),
        "trainable_embeddings": s.trainable_embeddings,
        "hidden_units": s.hidden_units,
        "dropout": s.dropout,
        "pooling": s.pooling,
        "word_dropout": s.word_dropout,
    }


@profiling.timed("pretraining")
def _pretrain(prepared: Prepared, kind: str, s: NeuralSettings, verbose) -> pretraining.PretrainedEncoder:
    """Language-model pretraining of the classifier's embedding and recurrent layer (training text only)."""
    start_matrix = (
        prepared.embedding
        if s.pretrained
        else np.random.default_rng(s.seed).normal(0, 0.05, prepared.embedding.shape).astype(np.float32)
    )
    extra = extra_sentences(prepared.sizes, prepared.encoder.stopwords) if s.pretrain_extra_text else []
    return pretraining.pretrain_encoder(
        prepared.x["train"],
        start_matrix,
        kind,
        s.hidden_units,
        epochs=s.pretrain_epochs,
        batch_size=prepared.sizes.batch_size,
        heldout_ids=prepared.x["val"][:300],
        extra_ids=prepared.encoder.encode_tokens(extra) if extra else None,
        seed=s.seed,
        verbose=verbose not in (0, False),
    )


def _fit_members(prepared: Prepared, build: Callable, s: NeuralSettings, strategy, verbose) -> list:
    """`s.ensemble` fine-tunes from the same starting weights, seeds seed, seed + 100, ..."""
    weights = training.length_balanced_weights(prepared.x["train"], prepared.y["train"]) if s.length_balance else None
    return [
        training.train_keras(
            build,
            prepared.x["train"],
            prepared.y["train"],
            prepared.x["val"],
            prepared.y["val"],
            epochs=s.epochs,
            batch_size=prepared.sizes.batch_size,
            learning_rate=s.learning_rate,
            patience=s.patience,
            seed=s.seed + ENSEMBLE_SEED_STEP * k,
            batching=s.batching,
            strategy=strategy,
            verbose=verbose,
            weight_decay=s.weight_decay,
            sample_weight=weights,
        )
        for k in range(s.ensemble)
    ]


def _score_member(prepared: Prepared, run: training.TrainResult, seed: int, logits: dict) -> dict:
    """One ensemble member scored alone on validation and test (for the tables that compare them)."""
    val = evaluation.compute_metrics(prepared.y["val"], reference.sigmoid(logits["val"]))
    test = evaluation.compute_metrics(prepared.y["test"], reference.sigmoid(logits["test"]))
    return {
        "seed": seed,
        "epochs_run": len(run.epoch_seconds),
        "best_epoch": run.best_epoch,
        "epoch_seconds": [round(t, 2) for t in run.epoch_seconds],
        "val_accuracy": val.accuracy,
        "test_accuracy": test.accuracy,
        "test_macro_f1": test.macro_f1,
        "test_roc_auc": test.roc_auc,
    }


def _combine(prepared: Prepared, runs: list, s: NeuralSettings, strategy) -> tuple:
    """(model, validation probabilities, test probabilities, members scored alone or None)."""
    if len(runs) == 1:
        model = runs[0].model
        return (
            model,
            training.predict_proba(model, prepared.x["val"]),
            training.predict_proba(model, prepared.x["test"]),
            None,
        )
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        model = models.build_ensemble([run.model for run in runs])
    # each member's logits once: scored alone, and averaged exactly as the ensemble model does
    logits = {
        name: np.stack([training.predict_logits(run.model, prepared.x[name]) for run in runs])
        for name in ("val", "test")
    }  # (成员数, 样本数)
    members = [
        _score_member(prepared, run, s.seed + ENSEMBLE_SEED_STEP * k, {name: logits[name][k] for name in logits})
        for k, run in enumerate(runs)
    ]
    val_prob, test_prob = (reference.sigmoid(logits[name].mean(axis=0)) for name in ("val", "test"))
    return model, val_prob, test_prob, members


def _saved_config(
    prepared: Prepared, kind: str, s: NeuralSettings, model_config: dict, first, record, members, val, test
) -> dict:
    """The config.json a trained neural model is saved with: architecture, training settings, metrics."""
    return {
        "kind": kind,
        "model": {**model_config, "ensemble": s.ensemble},
        "training": {
            "epochs_run": len(first.epoch_seconds),
            "best_epoch": first.best_epoch,
            "batch_size": prepared.sizes.batch_size,
            "learning_rate": s.learning_rate,
            "seed": s.seed,
            "weight_decay": s.weight_decay,
            "length_balance": s.length_balance,
            "batching": s.batching,
            "pretrained_word2vec": s.pretrained,
            "language_model_pretraining": record.summary() if record else None,
            "ensemble_members": members,
            "profile": prepared.sizes.profile,
        },
        "metrics": {"validation": val.as_dict(), "test": test.as_dict()},
    }


def train_neural(
    prepared: Prepared,
    kind: str = DEFAULT_KIND,
    *,
    strategy=None,
    verbose: int | str = "auto",
    cache: bool = False,
    **choices,
) -> Trained:
    """Train one neural kind on the prepared split with early stopping; score it on val and test.

    choices: fields of `NeuralSettings` (epochs=, seed=, pretrain_epochs=, ensemble=, ...);
    `train(prepared, kind, recipe)` fills them from a named recipe. strategy: a
    tf.distribute strategy to train under (never cached). cache=True reuses the result
    of an identical earlier call (see `cached_training`). Taught in chapters 4 and 5.
    """
    s = NeuralSettings(**choices).resolved(kind, prepared)
    if cache and strategy is None:
        return cached_training(
            prepared,
            {"kind": kind, **dataclasses.asdict(s)},
            lambda: train_neural(prepared, kind, verbose=verbose, **dataclasses.asdict(s)),
        )
    model_config = _model_config(prepared, kind, s)
    build = models.builder(
        kind,
        vocab_size=len(prepared.vocab),
        embedding=prepared.embedding if s.pretrained else model_config["embedding_dim"],
        trainable_embeddings=s.trainable_embeddings,
        hidden_units=s.hidden_units,
        dropout=s.dropout,
        pooling=s.pooling,
        word_dropout=s.word_dropout,
    )
    encoder = _pretrain(prepared, kind, s, verbose) if s.pretrain_epochs else None
    if encoder is not None:
        plain_build = build
        build = lambda: encoder.apply(plain_build())  # noqa: E731  (built inside a strategy scope if any)
    runs = _fit_members(prepared, build, s, strategy, verbose)
    model, val_prob, test_prob, members = _combine(prepared, runs, s, strategy)
    val = evaluation.compute_metrics(prepared.y["val"], val_prob)
    test = evaluation.compute_metrics(prepared.y["test"], test_prob)
    first = runs[0]
    record = encoder.record() if encoder else None
    cfg = _saved_config(prepared, kind, s, model_config, first, record, members, val, test)
    seconds = sum(run.seconds for run in runs) + (record.seconds if record else 0.0)
    return Trained(
        trained_name(kind, encoder is not None, s.ensemble),
        kind,
        saving.SentimentModel(model, prepared.encoder, cfg),
        val,
        test,
        seconds,
        [t for run in runs for t in run.epoch_seconds],
        models.count_parameters(model),
        first.history,
        test_prob,
        record,
        members=members,
    )


# --------------------------------------------------------------------------- baselines and recipes
def train_baseline(prepared: Prepared, kind: str = "tfidf-char", cache: bool = False) -> Trained:
    """Fit a TF-IDF + logistic regression baseline on the same split, C chosen on validation.

    Taught in chapter 5.
    """
    model_kind(kind, BASELINE)
    if cache:
        return cached_training(prepared, {"kind": kind}, lambda: train_baseline(prepared, kind))
    start = time.perf_counter()
    clf = baselines.TfidfClassifier(kind, seed=prepared.seed).fit(
        prepared.splits.train.texts, prepared.splits.train.labels, prepared.splits.val.texts, prepared.splits.val.labels
    )  # C chosen on validation
    seconds = time.perf_counter() - start
    val = evaluation.evaluate(clf, prepared.splits.val.texts, prepared.splits.val.labels)
    test_prob = clf.predict_proba(prepared.splits.test.texts)
    test = evaluation.compute_metrics(prepared.splits.test.labels, test_prob)
    cfg = {
        "kind": kind,
        "metrics": {"validation": val.as_dict(), "test": test.as_dict()},
        "training": {
            "profile": prepared.sizes.profile,
            "seed": prepared.seed,
            "C": clf.C,
            "validation_accuracy_by_C": clf.validation_scores,
        },
    }
    return Trained(
        KINDS[kind].name,
        kind,
        saving.BaselineModel(clf, cfg),
        val,
        test,
        seconds,
        None,
        clf.count_parameters(),
        None,
        test_prob,
    )


def recipe_settings(kind: str, recipe: str = DEFAULT_RECIPE, sizes: RunSizes | None = None, **overrides) -> dict:
    """The `train_neural` choices of a named recipe for `kind`, with `overrides` on top.

    Taught in chapter 5.
    """
    return {**named_recipe(recipe).settings(kind, sizes or config.sizes()), **overrides}


def train(
    prepared: Prepared,
    kind: str = DEFAULT_KIND,
    recipe: str = DEFAULT_RECIPE,
    *,
    verbose: int | str = "auto",
    cache: bool = False,
    **overrides,
) -> Trained:
    """Train `kind` by the named recipe of `registry.RECIPES` (baselines have one way to train).

    What the command line, the benchmarks and chapter 5 call; overrides: fields of
    `NeuralSettings` that replace the recipe's (e.g. ensemble=1). Taught in chapter 5.
    """
    if model_kind(kind).family == BASELINE:
        if overrides:
            raise ValueError(f"基线模型 {kind} 没有可调的训练设置：{', '.join(overrides)}")
        return train_baseline(prepared, kind, cache=cache)
    settings = recipe_settings(kind, recipe, prepared.sizes, **overrides)
    return train_neural(prepared, kind, verbose=verbose, cache=cache, **settings)


# --------------------------------------------------------------------------- trained-model cache
def _cache_key(prepared: Prepared, settings: dict) -> str:
    """Everything a result depends on: the prepared arrays, the settings, the code (this module's
    whole import closure, see `cache.code_fingerprint`) and the library versions."""
    arrays = [part for name in SPLITS for part in (prepared.x[name], prepared.y[name])]
    texts = [getattr(prepared.splits, name).texts for name in SPLITS]
    described = {
        "sizes": dataclasses.asdict(prepared.sizes),
        "seed": prepared.seed,
        "encoder": prepared.encoder.config(),
        "settings": settings,
        "versions": saving.library_versions(),
    }
    return cache.make_key(__name__, *arrays, *texts, prepared.embedding, described)


def _save_trained(trained: Trained, folder: Path) -> None:
    trained.model.save(folder / "model")
    record = {
        "name": trained.name,
        "kind": trained.kind,
        "train_seconds": trained.train_seconds,
        "epoch_seconds": trained.epoch_seconds,
        "parameters": trained.parameters,
        "history": trained.history,
        "members": trained.members,
        "test_probabilities": None
        if trained.test_probabilities is None
        else [float(p) for p in trained.test_probabilities],
        "pretraining": None if trained.pretraining is None else dataclasses.asdict(trained.pretraining),
    }
    (folder / "trained.json").write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")


def _load_trained(folder: Path) -> Trained:
    record = json.loads((folder / "trained.json").read_text(encoding="utf-8"))
    model = saving.load_model(folder / "model")
    metrics = model.config["metrics"]
    probabilities = record["test_probabilities"]
    return Trained(
        record["name"],
        record["kind"],
        model,
        evaluation.Metrics(**metrics["validation"]),
        evaluation.Metrics(**metrics["test"]),
        record["train_seconds"],
        record["epoch_seconds"],
        record["parameters"],
        record["history"],
        None if probabilities is None else np.asarray(probabilities, dtype=np.float32),
        None if record["pretraining"] is None else pretraining.PretrainingRecord(**record["pretraining"]),
        from_cache=True,
        members=record["members"],
    )


def cached_training(prepared: Prepared, settings: dict, train_now: Callable[[], Trained]) -> Trained:
    """Return `train_now()`, or the stored result of an identical earlier call.

    Training is deterministic (seeded, deterministic TF ops), so the same prepared
    data, settings, package code and library versions give the same model: chapters
    that show a model another chapter already trained (4, 5, 6 and 8) read it back from
    the cache (`llmcourse.cache`, entries of kind "models") instead of training it again.
    The stored timings are those of the run that trained it. Taught in chapter 5.
    """
    trained, _ = cache.cached("models", _cache_key(prepared, settings), train_now, _save_trained, _load_trained)
    return trained

"""Training done correctly, two ways: `model.fit` and an explicit GradientTape loop.

Both use the same input pipeline, loss and early stopping, so they reach the
same validation accuracy. The loss is binary cross-entropy *from logits*: the
models output a logit, and the sigmoid is applied exactly once, inside the
loss (the article applied it twice). Batches are grouped by length by default:
each batch is padded (after the text) only to its own longest review, which
keeps masks right-padded for cuDNN and wastes far less work on padding.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import time
import weakref
from typing import Callable, Iterator

import numpy as np

from llmcourse import data, profiling
from llmcourse.config import import_tensorflow, resolve_seed, set_seed
from llmcourse.reference import sigmoid

tf = import_tensorflow()
import keras  # noqa: E402  (after TensorFlow, quietly imported)

BATCHING_MODES = ("bucket", "fixed")


# --------------------------------------------------------------------------- input pipeline
def sequence_lengths(ids: np.ndarray) -> np.ndarray:
    """Real (non-padding) length of each right-padded row, shape (n,). Taught in chapter 3."""
    return (np.asarray(ids) != 0).sum(axis=1)


def length_grouped_batches(
    lengths: np.ndarray, batch_size: int, rng: np.random.Generator | None, pool_batches: int = 32
) -> list[np.ndarray]:
    """Index batches of similar lengths.

    With an rng (training): shuffle, sort pools of `pool_batches` batches by
    length, cut them into batches, shuffle the batch order. Without (inference):
    sort everything by length.
    Taught in chapter 3.
    """
    n = len(lengths)
    if rng is None:
        order = np.argsort(lengths, kind="stable")
        return [order[i : i + batch_size] for i in range(0, n, batch_size)]
    order = rng.permutation(n)
    pool = batch_size * pool_batches
    batches = []
    for start in range(0, n, pool):
        chunk = order[start : start + pool]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


def length_balanced_weights(ids: np.ndarray, labels: np.ndarray, bins: int = 8) -> np.ndarray:
    """One weight per example, shape (n,), so that within each length bin both labels weigh the same.

    The bins are length quantiles of `ids` (right-padded rows). In the shipped corpus the
    label depends on length (long book reviews are mostly positive, long hotel reviews
    mostly negative), a shortcut that does not carry over to other domains or to short
    sentences; with these weights length alone predicts nothing. The weights average 1.
    Taught in chapter 5.
    """
    lengths = sequence_lengths(ids)
    y = np.asarray(labels).astype(int)
    if len(y) != len(lengths):
        raise ValueError(f"标签有 {len(y)} 个，文本有 {len(lengths)} 条，两者应一样多")
    _, which = data.length_bins(lengths, bins)  # (样本数,) 每条文本所在的长度箱
    weights = np.ones(len(y), dtype=np.float64)
    for b in np.unique(which):
        in_bin = which == b
        present = [c for c in (0, 1) if (in_bin & (y == c)).any()]
        for c in present:  # each label present in the bin gets an equal share of the bin's weight
            members = in_bin & (y == c)
            weights[members] = in_bin.sum() / (len(present) * members.sum())
    return (weights / weights.mean()).astype(np.float32) if len(y) else weights.astype(np.float32)


def make_dataset(
    ids: np.ndarray,
    labels: np.ndarray | None,
    batch_size: int = 64,
    shuffle: bool = True,
    seed: int | None = None,
    batching: str = "bucket",
    weights: np.ndarray | None = None,
) -> tf.data.Dataset:
    """A tf.data pipeline of (ids, labels) batches; a new, seeded order every epoch.

    batching="bucket": per-batch padding of length-grouped batches, ids of shape
    (batch, longest in batch). batching="fixed": every batch keeps the full
    padded width, ids of shape (batch, max_len). weights (one per example, with
    labels): batches are (ids, labels, weights), which Keras reads as sample weights.
    Taught in chapter 3.
    """
    if batching not in BATCHING_MODES:
        raise ValueError(f"未知的分批方式 {batching!r}：可选 {', '.join(BATCHING_MODES)}")
    ids = np.asarray(ids, dtype=np.int32)
    y = None if labels is None else np.asarray(labels, dtype=np.float32)
    if weights is not None and (y is None or len(weights) != len(ids)):
        raise ValueError("样本权重要和标签一起给出，而且每条文本一个")
    w = None if weights is None else np.asarray(weights, dtype=np.float32)
    lengths = sequence_lengths(ids)
    epoch = {"n": 0}

    def generate() -> Iterator:
        rng = np.random.default_rng(resolve_seed(seed) + epoch["n"]) if shuffle else None
        epoch["n"] += 1
        if batching == "bucket":
            batches = length_grouped_batches(lengths, batch_size, rng)
        else:
            order = rng.permutation(len(ids)) if rng is not None else np.arange(len(ids))
            batches = [order[i : i + batch_size] for i in range(0, len(ids), batch_size)]
        for index in batches:
            width = max(1, int(lengths[index].max())) if batching == "bucket" else ids.shape[1]
            x = ids[index, :width]  # (批量大小, 本批最长长度)
            if y is None:
                yield x
            else:
                yield (x, y[index]) if w is None else (x, y[index], w[index])

    x_spec = tf.TensorSpec(shape=(None, None), dtype=tf.int32)
    per_example = tf.TensorSpec(shape=(None,), dtype=tf.float32)
    signature = x_spec if y is None else (x_spec, per_example) if w is None else (x_spec, per_example, per_example)
    n_batches = -(-len(ids) // batch_size)  # every grouping cuts the data into ceil(n / batch) batches
    dataset = tf.data.Dataset.from_generator(generate, output_signature=signature)
    return without_autotune(dataset.apply(tf.data.experimental.assert_cardinality(n_batches)).prefetch(2))


def without_autotune(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """The same dataset with tf.data's autotuning switched off.

    Autotuning runs a background thread per iterator. On CPU, destroying an
    iterator (every epoch: Keras and our loops start a new one) often waited
    about 9 seconds for that thread, which nearly doubled a 10-second BiLSTM
    epoch (benchmarks/iterator_stall.py). Our pipelines have nothing for it to
    tune: one generator and a fixed prefetch of two batches.
    Taught in chapter 3.
    """
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)


# --------------------------------------------------------------------------- compile helpers
def loss_function() -> keras.losses.Loss:
    """Binary cross-entropy on logits: the sigmoid is applied once, inside the loss. Taught in chapter 3."""
    return keras.losses.BinaryCrossentropy(from_logits=True)


def accuracy_metric() -> keras.metrics.Metric:
    """Accuracy of a logit: positive when the logit is above 0 (probability above 0.5). Taught in chapter 3."""
    return keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0)


def make_optimizer(learning_rate: float = 1e-3, weight_decay: float = 0.0) -> keras.optimizers.Optimizer:
    """Adam, or AdamW (decoupled weight decay) when weight_decay > 0. Taught in chapter 3."""
    if weight_decay:
        return keras.optimizers.AdamW(learning_rate, weight_decay=weight_decay)
    return keras.optimizers.Adam(learning_rate)


def compile_model(model: keras.Model, learning_rate: float = 1e-3, weight_decay: float = 0.0) -> keras.Model:
    """Give a model its optimizer, its loss on logits and its accuracy metric; returns the same model.

    Taught in chapter 3.
    """
    model.compile(
        optimizer=make_optimizer(learning_rate, weight_decay),
        loss=loss_function(),
        metrics=[accuracy_metric()],
    )
    return model


@dataclasses.dataclass
class TrainResult:
    """A trained model and what happened while training it. Taught in chapter 3."""

    model: keras.Model
    history: dict[str, list[float]]
    epoch_seconds: list[float]
    best_epoch: int  # 1-based epoch whose weights the model holds

    @property
    def seconds(self) -> float:
        return float(sum(self.epoch_seconds))

    @property
    def best_val_accuracy(self) -> float:
        return float(self.history["val_accuracy"][self.best_epoch - 1])


class _EpochTimer(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


@profiling.timed("classifier")
def train_keras(
    build: Callable[[], keras.Model],
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    epochs: int = 5,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    patience: int = 2,
    seed: int | None = None,
    batching: str = "bucket",
    strategy: tf.distribute.Strategy | None = None,
    verbose: int | str = "auto",
    weight_decay: float = 0.0,
    sample_weight: np.ndarray | None = None,
) -> TrainResult:
    """Build, compile and `fit` a model with validation and early stopping.

    `build` is a zero-argument function (see models.builder) so that the model
    can be created inside `strategy.scope()` when a tf.distribute strategy
    (MirroredStrategy, MultiWorkerMirroredStrategy) is given. The weights of
    the epoch with the best validation accuracy are restored at the end.
    sample_weight (one per training example, e.g. `length_balanced_weights`) weighs
    each example's loss; validation is never weighted.
    Taught in chapter 3.
    """
    seed = resolve_seed(seed)
    set_seed(seed, tensorflow=True)
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        model = compile_model(build(), learning_rate, weight_decay)
    train_ds = make_dataset(x_train, y_train, batch_size, True, seed, batching, weights=sample_weight)
    val_ds = make_dataset(x_val, y_val, batch_size * 4, False, seed, batching)
    stopper = keras.callbacks.EarlyStopping(
        monitor="val_accuracy", mode="max", patience=patience, restore_best_weights=True
    )
    timer = _EpochTimer()
    history = model.fit(
        train_ds,
        validation_data=val_ds,
        epochs=epochs,
        callbacks=[stopper, timer],
        verbose=verbose,
        shuffle=False,  # the dataset reshuffles itself, seeded, every epoch
    )
    hist = {k: [float(v) for v in vals] for k, vals in history.history.items()}
    best_epoch = int(np.argmax(hist["val_accuracy"])) + 1
    return TrainResult(model, hist, timer.seconds, best_epoch)


@profiling.timed("classifier")
def train_custom_loop(
    build: Callable[[], keras.Model],
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    epochs: int = 5,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    patience: int = 2,
    seed: int | None = None,
    batching: str = "bucket",
    verbose: bool = True,
) -> TrainResult:
    """The training loop the article meant to write, done correctly.

    An optimizer object (not `model.optimizer` of an uncompiled model), a loss
    on logits, gradients from `tf.GradientTape`, a `tf.function`-compiled step
    and the same early stopping as `train_keras`.
    Taught in chapter 3.
    """
    seed = resolve_seed(seed)
    set_seed(seed, tensorflow=True)
    model = build()
    optimizer = keras.optimizers.Adam(learning_rate)
    loss_fn = loss_function()
    spec = (tf.TensorSpec((None, None), tf.int32), tf.TensorSpec((None,), tf.float32))

    # [start-custom-loop-step]
    @tf.function(input_signature=spec)
    def train_step(x, y):
        with tf.GradientTape() as tape:
            logits = model(x, training=True)  # (批量大小, 1)
            loss = loss_fn(y[:, None], logits)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        correct = tf.cast((logits[:, 0] > 0) == (y > 0.5), tf.float32)
        return loss, tf.reduce_sum(correct)

    # [end-custom-loop-step]

    train_ds = make_dataset(x_train, y_train, batch_size, True, seed, batching)
    y_val = np.asarray(y_val, dtype=np.float32)
    validate = functools.partial(_validation_scores, model, loss_fn, x_val, y_val, batch_size * 4)
    stopper = _EarlyStopping(model, patience)
    history, epoch_seconds = _run_epochs(train_step, train_ds, validate, stopper, epochs, verbose)
    stopper.restore_best_weights()
    return TrainResult(model, history, epoch_seconds, stopper.best_epoch)


def _train_one_epoch(train_step: Callable, train_ds: tf.data.Dataset) -> tuple[float, float]:
    """One pass over the training batches: (mean loss, accuracy), each batch weighted by its size."""
    total_loss, total_correct, seen = 0.0, 0.0, 0
    for x, y in train_ds:
        loss, correct = train_step(x, y)
        n = int(tf.shape(y)[0])
        total_loss += float(loss) * n
        total_correct += float(correct)
        seen += n
    return total_loss / seen, total_correct / seen


def _validation_scores(
    model: keras.Model, loss_fn: keras.losses.Loss, x_val: np.ndarray, y_val: np.ndarray, batch_size: int
) -> tuple[float, float]:
    """(loss, accuracy) of the model's logits on the validation set; y_val holds float32 labels."""
    val_logits = predict_logits(model, x_val, batch_size)  # (验证样本数,)
    val_loss = float(loss_fn(y_val[:, None], val_logits[:, None]))
    val_acc = float(np.mean((val_logits > 0) == (y_val > 0.5)))
    return val_loss, val_acc


class _EarlyStopping:
    """Early stopping by hand: keeps the weights of the epoch with the best validation accuracy."""

    def __init__(self, model: keras.Model, patience: int):
        self.model, self.patience = model, patience
        self.best_accuracy, self.best_epoch, self.best_weights, self.waited = -1.0, 0, None, 0

    def should_stop(self, epoch: int, val_accuracy: float) -> bool:
        """Record a finished epoch; True once `patience` epochs in a row brought no improvement."""
        if val_accuracy > self.best_accuracy:
            self.best_accuracy, self.best_epoch, self.waited = val_accuracy, epoch, 0
            self.best_weights = self.model.get_weights()
            return False
        self.waited += 1
        return self.waited >= self.patience

    def restore_best_weights(self) -> None:
        if self.best_weights is not None:
            self.model.set_weights(self.best_weights)


def _run_epochs(
    train_step: Callable,
    train_ds: tf.data.Dataset,
    validate: Callable[[], tuple[float, float]],
    stopper: _EarlyStopping,
    epochs: int,
    verbose: bool,
) -> tuple[dict[str, list[float]], list[float]]:
    """Train and validate epoch after epoch until `epochs` or early stopping; (history, seconds per epoch)."""
    history: dict[str, list[float]] = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": []}
    epoch_seconds: list[float] = []
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        loss, accuracy = _train_one_epoch(train_step, train_ds)
        epoch_seconds.append(time.perf_counter() - start)
        val_loss, val_acc = validate()
        for key, value in zip(history, (loss, accuracy, val_loss, val_acc)):
            history[key].append(value)
        if verbose:
            print(
                f"第 {epoch}/{epochs} 轮：loss={loss:.4f} accuracy={accuracy:.4f} "
                f"val_loss={val_loss:.4f} val_accuracy={val_acc:.4f}（{epoch_seconds[-1]:.1f} 秒）"
            )
        if stopper.should_stop(epoch, val_acc):
            break
    return history, epoch_seconds


# --------------------------------------------------------------------------- inference
_PREDICT_FUNCTIONS: "weakref.WeakKeyDictionary[keras.Model, Callable]" = weakref.WeakKeyDictionary()


def _forward(model: keras.Model, x):
    return model(x, training=False)


def _predict_function(model: keras.Model) -> Callable:
    fn = _PREDICT_FUNCTIONS.get(model)
    if fn is None:
        # A partial, not a lambda: TensorFlow counts traces per code object, so one lambda
        # shared by several models (an ensemble and its members) looks like retracing.
        fn = tf.function(
            functools.partial(_forward, model),
            input_signature=[tf.TensorSpec((None, None), tf.int32)],
            reduce_retracing=True,
        )
        _PREDICT_FUNCTIONS[model] = fn
    return fn


@profiling.timed("evaluation")
def predict_logits(model: keras.Model, ids: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Logits for right-padded ids, shape (n,); batches grouped by length for speed. Taught in chapter 5."""
    ids = np.asarray(ids, dtype=np.int32)
    out = np.zeros(len(ids), dtype=np.float32)
    if len(ids) == 0:
        return out
    lengths = sequence_lengths(ids)
    fn = _predict_function(model)
    for index in length_grouped_batches(lengths, batch_size, None):
        width = max(1, int(lengths[index].max()))
        out[index] = fn(tf.constant(ids[index, :width])).numpy()[:, 0]
    return out


def predict_proba(model: keras.Model, ids: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Probability of the positive class for each row, shape (n,). Taught in chapter 3."""
    return sigmoid(predict_logits(model, ids, batch_size))

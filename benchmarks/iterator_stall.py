"""The pause at the start of every epoch that tf.data's autotuning causes on CPU.

    python benchmarks/iterator_stall.py [--epochs 5] [--modes autotune off] [--save]

Keras starts a new iterator over the training dataset every epoch and releases
the previous one. With tf.data's autotuning on (TensorFlow's default), the
release waits for the iterator's background tuning thread; on this 2-core CPU
that wait was often several seconds, paid before the first batch of an epoch.
`training.make_dataset` therefore switches autotuning off
(`training.without_autotune`); mode "autotune" switches it back on to measure
the difference.

Both modes train chapter 5's fine-tuning recipe (BiLSTM, Word2Vec start,
word dropout 0.2, AdamW) with the same seed, so they see the same batches and
reach the same weights. For every epoch the script prints the epoch's seconds
(validation included) and the seconds from the start of the epoch to the end
of its first batch (the release of the previous iterator happens in between);
then, per mode, the mean seconds per epoch after the first (the first traces
the graph) and the total time spent in first batches after the first epoch.
The pause does not come every epoch, so look at the totals of several epochs.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from llmcourse import models, pipeline, registry, training  # noqa: E402

tf = training.tf
keras = training.keras
MODES = ("autotune", "off")


class FirstBatchTimer(keras.callbacks.Callback):
    """Seconds per epoch, and from the start of each epoch to the end of its first batch."""

    def __init__(self):
        super().__init__()
        self.epoch_seconds, self.first_batch_seconds = [], []

    def on_epoch_begin(self, epoch, logs=None):
        self._start, self._first = time.perf_counter(), None

    def on_train_batch_end(self, batch, logs=None):
        if self._first is None:
            self._first = time.perf_counter() - self._start

    def on_epoch_end(self, epoch, logs=None):
        self.epoch_seconds.append(time.perf_counter() - self._start)
        self.first_batch_seconds.append(self._first)


def autotuned(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """`dataset` with TensorFlow's default back: autotuning on (make_dataset switches it off)."""
    options = tf.data.Options()
    options.autotune.enabled = True
    return dataset.with_options(options)


def run(prepared: pipeline.Prepared, mode: str, epochs: int, seed: int) -> dict:
    sizes = prepared.sizes
    recipe = registry.recipe("default")  # the fine-tune of `llmcourse train` (without its pretraining)
    training.set_seed(seed, tensorflow=True)  # before building: both modes start from the same weights
    model = models.build_classifier(
        "bilstm",
        vocab_size=len(prepared.vocab),
        embedding=prepared.embedding,
        hidden_units=sizes.hidden_units,
        pooling=pipeline.DEFAULT_POOLING,
        word_dropout=recipe.word_dropout,
    )
    training.compile_model(model, weight_decay=recipe.weight_decay)
    train = training.make_dataset(prepared.x["train"], prepared.y["train"], sizes.batch_size, True, seed)
    val = training.make_dataset(prepared.x["val"], prepared.y["val"], sizes.batch_size * 4, False, seed)
    if mode == "autotune":
        train, val = autotuned(train), autotuned(val)
    assert train.options().autotune.enabled is (mode == "autotune")
    timer = FirstBatchTimer()
    history = model.fit(
        train, validation_data=val, epochs=epochs, callbacks=[timer], verbose=0, shuffle=False
    )  # the dataset reshuffles itself
    return {
        "epoch_seconds": [round(s, 2) for s in timer.epoch_seconds],
        "first_batch_seconds": [round(s, 2) for s in timer.first_batch_seconds],
        "val_accuracy": [round(float(v), 4) for v in history.history["val_accuracy"]],
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--save", action="store_true", help="write benchmarks/results/iterator_stall.json")
    args = parser.parse_args(argv)
    if args.epochs < 2:
        parser.error("--epochs 至少为 2：第一轮包含建图时间，不参与比较")

    prepared = pipeline.prepare(seed=args.seed, progress=False)
    print(f"profile={prepared.sizes.profile} epochs={args.epochs} train reviews={len(prepared.x['train']):,}")
    results = {}
    for mode in args.modes:
        result = results[mode] = run(prepared, mode, args.epochs, args.seed)
        for epoch, (total, first) in enumerate(zip(result["epoch_seconds"], result["first_batch_seconds"]), 1):
            print(f"{mode:8s} epoch {epoch}: {total:6.1f} s, first batch {first:5.2f} s")
        later = result["epoch_seconds"][1:]
        result["mean_epoch_seconds"] = round(float(np.mean(later)), 2)
        result["first_batch_total_seconds"] = round(float(sum(result["first_batch_seconds"][1:])), 2)
        print(
            f"{mode:8s} epochs 2-{args.epochs}: mean {result['mean_epoch_seconds']:.1f} s per epoch; "
            f"first batches {result['first_batch_total_seconds']:.1f} s in total; "
            f"validation accuracy {result['val_accuracy']}"
        )
    if set(MODES) <= set(results):
        ratio = results["autotune"]["mean_epoch_seconds"] / results["off"]["mean_epoch_seconds"]
        same = results["autotune"]["val_accuracy"] == results["off"]["val_accuracy"]
        print(f"autotune on / off, seconds per epoch: {ratio:.2f}; same validation accuracies: {same}")
        results["ratio"] = round(ratio, 2)
        results["same_val_accuracy"] = same
    if args.save:
        from results import save

        save("iterator_stall", results)


if __name__ == "__main__":
    main()

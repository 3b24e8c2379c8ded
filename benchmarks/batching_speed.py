"""LSTM training throughput: fixed-length padding versus length-grouped batches.

    python benchmarks/batching_speed.py [--epochs 3] [--max-len 128]

Both runs train the same LSTM (Word2Vec-initialised embeddings, same seed)
on the same deduplicated split. For each it prints seconds per epoch, real
(non-padding) tokens per second, padded tokens processed per second and the
test accuracy of the best epoch, then the throughput ratio and the accuracy
difference. Padding stays `post` and masks stay on in both, so the cuDNN
path remains available on a GPU.
"""

from __future__ import annotations

import argparse
import dataclasses
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from llmcourse import config, pipeline, training  # noqa: E402


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--max-len", type=int, default=128, help="padding length of the fixed mode")
    parser.add_argument("--kind", default="lstm")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)

    sizes = dataclasses.replace(config.sizes(), max_len=args.max_len)
    prepared = pipeline.prepare(sizes=sizes, seed=args.seed, progress=False)
    real_tokens = int(training.sequence_lengths(prepared.x["train"]).sum())
    rows = {}
    for batching in ("fixed", "bucket"):
        trained = pipeline.train_neural(prepared, args.kind, epochs=args.epochs, patience=args.epochs,
                                        batching=batching, pooling="last", verbose=0)
        # The first epoch includes tracing; report the median of the others when there are any.
        epochs = trained.epoch_seconds[1:] or trained.epoch_seconds
        per_epoch = float(np.median(epochs))
        if batching == "fixed":
            processed = prepared.x["train"].size
        else:
            batches = training.length_grouped_batches(training.sequence_lengths(prepared.x["train"]),
                                                      sizes.batch_size, np.random.default_rng(0))
            lengths = training.sequence_lengths(prepared.x["train"])
            processed = int(sum(len(b) * lengths[b].max() for b in batches))
        rows[batching] = (per_epoch, real_tokens / per_epoch, processed / per_epoch, trained.test.accuracy)
        print(f"{batching:>6s}: {per_epoch:6.1f} s/epoch  {real_tokens / per_epoch:9,.0f} real tokens/s  "
              f"{processed / per_epoch:9,.0f} padded tokens/s  padding share {1 - real_tokens / processed:5.1%}  "
              f"test accuracy {trained.test.accuracy:.4f}", flush=True)
    ratio = rows["bucket"][1] / rows["fixed"][1]
    diff = 100 * (rows["bucket"][3] - rows["fixed"][3])
    print(f"length-grouped / fixed: {ratio:.2f}x real tokens per second; accuracy difference {diff:+.2f} points")


if __name__ == "__main__":
    main()

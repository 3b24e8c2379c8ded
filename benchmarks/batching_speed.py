"""LSTM training throughput: fixed-length padding versus length-grouped batches.

    python benchmarks/batching_speed.py [--epochs 3] [--max-len 128] [--seeds 42 43 44] [--save]

Both modes train the same LSTM (Word2Vec-initialised embeddings) on the same
deduplicated split, once per seed (the seed drives initialisation and batch
order; the split stays the one of the first seed). For each run it prints
seconds per epoch (the fastest epoch after the first, which includes tracing;
validation included), real (non-padding) tokens per second, padded tokens
processed per second and the test accuracy of the best epoch; then, over all
seeds, the median throughput ratio and the difference of the mean test
accuracies. One seed alone cannot settle accuracy: two runs that differ only
in batch order already differ by about a point on 1,736 test reviews.
Padding stays `post` and masks stay on in both modes, so the cuDNN path
remains available on a GPU.
"""

from __future__ import annotations

import argparse
import dataclasses
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from llmcourse import config, pipeline, training  # noqa: E402

MODES = ("fixed", "bucket")


def padded_tokens(prepared: pipeline.Prepared, batching: str, batch_size: int) -> int:
    """Token positions one training epoch processes, padding included."""
    if batching == "fixed":
        return int(prepared.x["train"].size)
    lengths = training.sequence_lengths(prepared.x["train"])
    batches = training.length_grouped_batches(lengths, batch_size, np.random.default_rng(0))
    return int(sum(len(b) * lengths[b].max() for b in batches))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--max-len", type=int, default=128, help="padding length of the fixed mode")
    parser.add_argument("--kind", default="lstm")
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 43, 44])
    parser.add_argument("--save", action="store_true", help="write benchmarks/results/batching_speed.json")
    args = parser.parse_args(argv)

    sizes = dataclasses.replace(config.sizes(), max_len=args.max_len)
    prepared = pipeline.prepare(sizes=sizes, seed=args.seeds[0], progress=False)
    real_tokens = int(training.sequence_lengths(prepared.x["train"]).sum())
    print(
        f"profile={sizes.profile} kind={args.kind} epochs={args.epochs} max_len={args.max_len} "
        f"train reviews={len(prepared.x['train']):,} real tokens per epoch={real_tokens:,}"
    )
    speed = {mode: [] for mode in MODES}
    accuracy = {mode: [] for mode in MODES}
    runs = []
    for seed in args.seeds:
        for batching in MODES:
            trained = pipeline.train_neural(
                prepared,
                args.kind,
                epochs=args.epochs,
                patience=args.epochs,
                seed=seed,
                batching=batching,
                pooling="last",
                verbose=0,
            )
            # The first epoch includes tracing. Of the others take the fastest, as timeit does: other
            # processes on the machine can only slow an epoch down, never speed it up.
            per_epoch = float(min(trained.epoch_seconds[1:] or trained.epoch_seconds))
            processed = padded_tokens(prepared, batching, sizes.batch_size)
            speed[batching].append(real_tokens / per_epoch)
            accuracy[batching].append(trained.test.accuracy)
            runs.append(
                {
                    "seed": seed,
                    "batching": batching,
                    "seconds_per_epoch": round(per_epoch, 2),
                    "real_tokens_per_second": round(real_tokens / per_epoch),
                    "padded_tokens_per_second": round(processed / per_epoch),
                    "padding_share": round(1 - real_tokens / processed, 4),
                    "test_accuracy": round(trained.test.accuracy, 4),
                }
            )
            print(
                f"seed {seed} {batching:>6s}: {per_epoch:6.1f} s/epoch  {real_tokens / per_epoch:9,.0f} real tokens/s  "
                f"{processed / per_epoch:9,.0f} padded tokens/s  padding share {1 - real_tokens / processed:5.1%}  "
                f"test accuracy {trained.test.accuracy:.4f}",
                flush=True,
            )
    ratios = np.array(speed["bucket"]) / np.array(speed["fixed"])
    mean_fixed, mean_bucket = np.mean(accuracy["fixed"]), np.mean(accuracy["bucket"])
    print(f"mean test accuracy over {len(args.seeds)} seeds: fixed {mean_fixed:.4f}, bucket {mean_bucket:.4f}")
    print(
        f"length-grouped / fixed: {np.median(ratios):.2f}x real tokens per second (median over seeds); "
        f"accuracy difference {100 * (mean_bucket - mean_fixed):+.2f} points"
    )
    if args.save:
        from results import save

        save(
            "batching_speed",
            {
                "kind": args.kind,
                "epochs": args.epochs,
                "max_len": args.max_len,
                "seeds": args.seeds,
                "real_tokens_per_epoch": real_tokens,
                "runs": runs,
                "mean_test_accuracy": {"fixed": round(mean_fixed, 4), "bucket": round(mean_bucket, 4)},
                "accuracy_difference_points": round(100 * (mean_bucket - mean_fixed), 2),
                "speedup_median": round(float(np.median(ratios)), 2),
            },
        )


if __name__ == "__main__":
    main()

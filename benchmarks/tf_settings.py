"""Seconds per training epoch of the chapters' BiLSTM under TensorFlow settings meant for small CPUs.

    python benchmarks/tf_settings.py [--reviews 5000] [--epochs 2] [--save]

Each setting is measured in a fresh process (TensorFlow's thread pools are fixed when
it starts): the same reviews, vocabulary, Word2Vec start and seed, a BiLSTM classifier
as chapter 4 builds it, trained for a few epochs on length-grouped batches of 64; the
figure is the fastest epoch after the first (the first one includes tracing and, with
XLA, compiling). Settings: TensorFlow's default thread pools; one thread per op and one
op at a time; two threads per op and one op at a time; XLA (`jit_compile=True`, batch
widths rounded up to a multiple of 32 so that few shapes need compiling). Batches of
128 are measured too, as a reference for what fewer, larger steps would save.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

SETTINGS = {
    "default": {"label": "TensorFlow 默认线程池"},
    "threads-1-1": {"label": "每个算子 1 个线程，一次 1 个算子", "intra": 1, "inter": 1},
    "threads-2-1": {"label": "每个算子 2 个线程，一次 1 个算子", "intra": 2, "inter": 1},
    "xla": {"label": "XLA 编译（jit_compile）", "xla": True},
    "batch-128": {"label": "默认线程池，批量 128", "batch": 128},
}


def measure(setting: dict, reviews: int, epochs: int) -> dict:
    """Train in this process under `setting`; seconds of every epoch."""
    from llmcourse import config, data, models, pipeline, training

    tf = config.import_tensorflow()
    if "intra" in setting:
        tf.config.threading.set_intra_op_parallelism_threads(setting["intra"])
        tf.config.threading.set_inter_op_parallelism_threads(setting["inter"])
    import numpy as np

    sizes = config.sizes("full")
    sample = data.load_reviews().sample(reviews, seed=config.resolve_seed())
    prepared = pipeline.prepare(sample, sizes, progress=False, extra_word2vec_text=False)
    x, y = prepared.x["train"], prepared.y["train"].astype("float32")
    config.set_seed(tensorflow=True)
    model = models.build_classifier(
        "bilstm", len(prepared.vocab), prepared.embedding, hidden_units=sizes.hidden_units, pooling="mean"
    )
    model.compile(
        optimizer=training.make_optimizer(),
        loss=training.loss_function(),
        metrics=[training.accuracy_metric()],
        jit_compile=bool(setting.get("xla")),
    )
    lengths = training.sequence_lengths(x)
    round_to = 32 if setting.get("xla") else 1
    seconds = []
    for epoch in range(epochs):
        rng = np.random.default_rng(config.resolve_seed() + epoch)
        start = time.perf_counter()
        for index in training.length_grouped_batches(lengths, setting.get("batch", 64), rng):
            width = min(x.shape[1], -(-max(1, int(lengths[index].max())) // round_to) * round_to)
            model.train_on_batch(x[index, :width], y[index])  # (批量大小, 本批宽度)
        seconds.append(round(time.perf_counter() - start, 2))
    return {"epoch_seconds": seconds, "train_reviews": int(len(x))}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviews", type=int, default=5000, help="reviews sampled from the corpus (80%% train)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--save", action="store_true", help="write benchmarks/results/tf_settings.json")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: measure one setting in this process
    args = parser.parse_args(argv)
    if args.epochs < 2:
        parser.error("--epochs 至少为 2：第一轮包含构建计算图的时间，不计入")
    if args.one:
        print(json.dumps(measure(SETTINGS[args.one], args.reviews, args.epochs)))
        return
    rows = []
    for key, setting in SETTINGS.items():
        cmd = [sys.executable, __file__, "--one", key, "--reviews", str(args.reviews), "--epochs", str(args.epochs)]
        done = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
        if done.returncode != 0:
            raise SystemExit(f"{key} failed:\n{done.stderr[-3000:]}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        best = min(result["epoch_seconds"][1:])
        rows.append({"setting": key, "label": setting["label"], "best_epoch_seconds": best, **result})
        print(f"{key:12s} {best:7.2f} s per epoch (epochs: {result['epoch_seconds']})", flush=True)
    base = rows[0]["best_epoch_seconds"]
    for row in rows:
        row["relative"] = round(row["best_epoch_seconds"] / base, 3)
    print("relative to the default: " + ", ".join(f"{r['setting']} {r['relative']:.2f}" for r in rows))
    if args.save:
        sys.path.insert(0, str(Path(__file__).parent))
        from results import save

        save("tf_settings", {"reviews": args.reviews, "epochs": args.epochs, "rows": rows})


if __name__ == "__main__":
    main()

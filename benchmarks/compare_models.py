"""Train every model kind on the same deduplicated split and print one results table.

    python benchmarks/compare_models.py                 # full profile: the whole corpus
    LLMCOURSE_PROFILE=quick python benchmarks/compare_models.py   # a smoke run in seconds

Columns: validation and test accuracy, macro-F1 and ROC-AUC on the test split,
training seconds, seconds per epoch, epochs run (early stopping) and
parameters. The TF-IDF baselines are fitted in the same run, on the same
training texts, so the comparison is fair. Kind "bilstm-lm" is what
`llmcourse train` trains by default (the recipe "default" of
`llmcourse.registry`): the bidirectional LSTM with language-model pretraining,
then one fine-tune with word dropout and AdamW; its training seconds include
the pretraining. When a recipe averages several fine-tunes (`--ensemble N` of
the CLI, or the "averaged" recipe), row "bilstm-lm/1" is its first fine-tuned
model used alone, scored in the same run (no extra training).
Kind "bilstm-lm-pd" also lets the language model read People's Daily, for half
as many pretraining epochs (each epoch reads about 2.8 times as many words).
Kind "bilstm-lm-len" weighs the training examples so that within each length bin
both labels count the same (`training.length_balanced_weights`); kind
"bilstm-lm-char" reads words never seen in training as their characters
(`pipeline.with_char_fallback`). Each changes one thing of the default recipe.

With several --seeds the neural kinds are trained once per seed on the same
split (the seed changes initialisation, dropout and batch order) and the
table also shows the mean and range of their test accuracy.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from llmcourse import config, pipeline, registry  # noqa: E402

PRETRAINED = "bilstm-lm"
PRETRAINED_EXTRA = "bilstm-lm-pd"  # the language model also reads People's Daily (slower; not the default)
PRETRAINED_LENGTH = "bilstm-lm-len"  # fine-tuned with length-balanced example weights
PRETRAINED_CHARS = "bilstm-lm-char"  # words never seen in training are read as their characters
VARIANTS = (PRETRAINED_EXTRA, PRETRAINED_LENGTH, PRETRAINED_CHARS)  # the default recipe with one change each
KINDS = (*registry.KINDS, PRETRAINED, *VARIANTS)


def train(prepared, kind: str, seed: int, epochs: int | None, cache: bool = False):
    if kind in (PRETRAINED, *VARIANTS):
        overrides = {"epochs": epochs} if epochs else {}
        if kind == PRETRAINED_EXTRA:
            overrides.update(pretrain_extra_text=True, pretrain_epochs=max(1, prepared.sizes.pretrain_epochs // 2))
        if kind == PRETRAINED_LENGTH:
            overrides.update(length_balance=True)
        if kind == PRETRAINED_CHARS:
            prepared = pipeline.with_char_fallback(prepared)
        return pipeline.train(prepared, "bilstm", "default", seed=seed, verbose=0, cache=cache, **overrides)
    if kind in registry.BASELINE_KINDS:
        return pipeline.train_baseline(prepared, kind, cache=cache)
    return pipeline.train(prepared, kind, "plain", seed=seed, epochs=epochs, verbose=0, cache=cache)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    parser.add_argument("--seed", type=int, default=42, help="seed of the split (and of the first run)")
    parser.add_argument(
        "--seeds", type=int, nargs="+", default=None, help="train the neural kinds once per seed (default: only --seed)"
    )
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--json", default=None, help="also write the rows to this JSON file")
    parser.add_argument(
        "--cache",
        action="store_true",
        help="reuse identical earlier runs from the trained-model cache (their timings are "
        "those of the run that trained them)",
    )
    args = parser.parse_args(argv)

    sizes = config.sizes()
    start = time.perf_counter()
    prepared = pipeline.prepare(sizes=sizes, seed=args.seed, progress=False)
    print(f"profile={sizes.profile} seed={args.seed} {prepared.splits}", flush=True)
    print(f"preparation: {prepared.seconds}", flush=True)
    seeds = args.seeds or [args.seed]
    rows, by_seed = [], {}
    for kind in args.kinds:
        runs = seeds if kind not in registry.BASELINE_KINDS else [args.seed]  # TF-IDF: no seed effect
        for seed in runs:
            trained = train(prepared, kind, seed, args.epochs, args.cache)
            by_seed.setdefault(kind, []).append(trained.test.accuracy)
            print(
                f"  {kind:<10s} seed {seed}: test accuracy {trained.test.accuracy:.4f}  "
                f"({trained.train_seconds:.1f} s)",
                flush=True,
            )
            if trained.members:  # an ensemble: its first member alone is the single-model figure
                single = trained.member_row(0)
                by_seed.setdefault(f"{kind}/1", []).append(single["准确率"])
                print(
                    f"  {kind + '/1':<10s} seed {seed}: test accuracy {single['准确率']:.4f}  (first member alone)",
                    flush=True,
                )
            if seed == runs[0]:
                rows.append({"kind": kind, **trained.row()})
                if trained.members:
                    rows.append({"kind": f"{kind}/1", **trained.member_row(0)})

    headers = ["kind", "模型", "验证准确率", "准确率", "宏平均F1", "ROC-AUC", "训练秒数", "每轮秒数", "轮数", "参数量"]
    print()
    print("| " + " | ".join(headers) + " |")
    print("|" + "---|" * len(headers))
    for row in sorted(rows, key=lambda r: -r["准确率"]):
        print("| " + " | ".join("" if row[h] is None else str(row[h]) for h in headers) + " |")
    if len(seeds) > 1:
        print(f"\ntest accuracy over seeds {seeds} (TF-IDF fitted once):")
        for kind, values in by_seed.items():
            print(
                f"  {kind:<10s} mean {np.mean(values):.4f}  min {min(values):.4f}  max {max(values):.4f}  "
                f"({', '.join(f'{v:.4f}' for v in values)})"
            )
    neural = [r for r in rows if r["kind"] not in registry.BASELINE_KINDS]
    linear = [r for r in rows if r["kind"] in registry.BASELINE_KINDS]
    if neural and linear:
        best_n = max(neural, key=lambda r: r["准确率"])
        best_l = max(linear, key=lambda r: r["准确率"])
        print(
            f"\nbest neural: {best_n['kind']} {best_n['准确率']:.4f}; best TF-IDF: {best_l['kind']} "
            f"{best_l['准确率']:.4f}; difference {100 * (best_n['准确率'] - best_l['准确率']):+.2f} points"
        )
    print(f"total wall time {time.perf_counter() - start:.0f} s")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(rows, handle, ensure_ascii=False, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())

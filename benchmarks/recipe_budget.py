"""What the default model's training budget buys: variants of the default recipe, side by side.

    python benchmarks/recipe_budget.py --save          # the variants below, full run size, about 10 minutes
    python benchmarks/recipe_budget.py --variant book --variant "epochs=4"
    LLMCOURSE_PROFILE=quick python benchmarks/recipe_budget.py --variant book   # a smoke run

The book's run size cuts the default model's training to what a cold build affords (one epoch of
language-model pretraining, one fine-tune of at most three epochs, batches of 128; see
benchmarks/chapter_profile.py). This script trains the default recipe ("book") and variants that
spend about the same seconds differently (the previous default: two shorter fine-tunes at a smaller
learning rate, averaged; a fourth fine-tuning epoch; a second pretraining epoch), all on the same
split, and prints for each: validation and test accuracy, each fine-tune's own validation accuracy,
the training seconds, and the paired sign test of chapter 5 against the better TF-IDF baseline
(chosen by validation accuracy). Settings are chosen on validation accuracy only; the negation
probes are not used here.

A variant is a space-separated list of `NeuralSettings` fields, `name=value`, that replace the
default recipe's (see llmcourse/pipeline.py); "book" is the recipe unchanged.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from llmcourse import config, evaluation, pipeline, registry  # noqa: E402

import results as saved_results  # noqa: E402  (benchmarks/results.py)

VARIANTS = (
    "book",
    "ensemble=2 epochs=2 learning_rate=0.001 word_dropout=0.2",
    "epochs=4",
    "pretrain_epochs=2",
)


def parse_variant(text: str) -> dict:
    """'ensemble=1 learning_rate=0.003' -> {'ensemble': 1, 'learning_rate': 0.003}; 'book' -> {}."""
    if text.strip() == "book":
        return {}
    fields = {f.name for f in dataclasses.fields(pipeline.NeuralSettings)}
    overrides = {}
    for item in text.split():
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ValueError(f"变体写法应为 名字=值，用空格分开：{item!r}")
        if name not in fields:
            raise ValueError(f"变体里的 {name!r} 不是训练设置：可选 {', '.join(sorted(fields))}")
        try:
            overrides[name] = json.loads(value)
        except json.JSONDecodeError:
            overrides[name] = value
    return overrides


def run_variant(prepared, text: str, overrides: dict, baseline) -> dict:
    """Train the default recipe with the variant's overrides; its figures as one row."""
    start = time.perf_counter()
    trained = pipeline.train(prepared, "bilstm", "default", verbose=0, **overrides)
    paired = evaluation.paired_comparison(prepared.y["test"], trained.test_probabilities, baseline.test_probabilities)
    return {
        "variant": text,
        "val_accuracy": trained.val.accuracy,
        "test_accuracy": trained.test.accuracy,
        "member_val_accuracy": [m["val_accuracy"] for m in trained.members or []],
        "train_seconds": trained.train_seconds,
        "wall_seconds": time.perf_counter() - start,
        "versus_baseline": {"only_model": paired.only_a, "only_baseline": paired.only_b, "p_value": paired.p_value},
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", action="append", default=None, help="one variant (repeatable); default: all")
    parser.add_argument("--save", action="store_true", help="write benchmarks/results/recipe_budget.json")
    args = parser.parse_args(argv)
    try:  # a malformed variant fails before any training, with exit status 2
        variants = {text: parse_variant(text) for text in args.variant or VARIANTS}
    except ValueError as err:
        parser.error(str(err))

    start = time.perf_counter()
    config.import_tensorflow()
    prepared = pipeline.prepare(progress=False)
    baselines = {kind: pipeline.train_baseline(prepared, kind) for kind in registry.BASELINE_KINDS}
    best = max(baselines, key=lambda k: baselines[k].val.accuracy)
    print(f"profile={prepared.sizes.profile} seed={prepared.seed}; {prepared.splits}", flush=True)
    for kind, b in baselines.items():
        print(f"  {kind}: val {b.val.accuracy:.4f}  test {b.test.accuracy:.4f}", flush=True)

    rows = []
    for text, overrides in variants.items():
        row = run_variant(prepared, text, overrides, baselines[best])
        rows.append(row)
        members = " ".join(f"{v:.4f}" for v in row["member_val_accuracy"]) or "-"
        print(
            f"  {text}: val {row['val_accuracy']:.4f}  test {row['test_accuracy']:.4f}  members' val {members}  "
            f"train {row['train_seconds']:.0f} s",
            flush=True,
        )

    print(f"\n| variant | val | test | fine-tunes' val | train s | right only model / only {best} | p |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        v = r["versus_baseline"]
        members = ", ".join(f"{x:.4f}" for x in r["member_val_accuracy"]) or "(one)"
        print(
            f"| {r['variant']} | {r['val_accuracy']:.4f} | {r['test_accuracy']:.4f} | {members} | "
            f"{r['train_seconds']:.0f} | {v['only_model']} / {v['only_baseline']} | {v['p_value']:.3f} |"
        )
    print(f"| {best} (baseline) | {baselines[best].val.accuracy:.4f} | {baselines[best].test.accuracy:.4f} | | | | |")
    print(f"total wall time {time.perf_counter() - start:.0f} s")
    if args.save:
        baseline_rows = {
            k: {"val_accuracy": b.val.accuracy, "test_accuracy": b.test.accuracy} for k, b in baselines.items()
        }
        saved_results.save(
            "recipe_budget",
            {
                "seed": prepared.seed,
                "book_settings": pipeline.recipe_settings("bilstm", registry.DEFAULT_RECIPE, prepared.sizes),
                "best_baseline": best,
                "baselines": baseline_rows,
                "variants": rows,
            },
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

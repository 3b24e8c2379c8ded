"""Score model kinds on the course's negation and contrast probes (llmcourse.probes), over seeds.

    python benchmarks/negation_probes.py --kinds tfidf-word tfidf-char bilstm-lm --seeds 42 43 44 --cache
    LLMCOURSE_PROFILE=quick python benchmarks/negation_probes.py --kinds tfidf-word lstm   # a smoke run

Every model is trained on the same deduplicated split of the shipped corpus (the split of --seed;
the neural kinds once per seed, the TF-IDF baselines once: the seed does not change them), with
its settings chosen on validation data as everywhere in the course. The probes are read only
here, after training: nothing is tuned on them.

Printed, per kind: accuracy on all probes and per category, the minimal-pair accuracy (both
members of a pair right; a model that ignores the negation scores 0), each averaged over the
seeds with its range; and, for every neural kind against the best TF-IDF baseline, the paired
sign test of chapter 5 on the probes (seed by seed). --json writes the rows.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from llmcourse import config, evaluation, pipeline, probes, registry  # noqa: E402

from compare_models import KINDS, train  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kinds", nargs="+", default=["tfidf-word", "tfidf-char", "bilstm-lm"], choices=KINDS)
    parser.add_argument("--seed", type=int, default=None, help="seed of the split (default: LLMCOURSE_SEED or 42)")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="seeds of the neural kinds")
    parser.add_argument("--cache", action="store_true", help="reuse identical earlier runs from the model cache")
    parser.add_argument("--json", default=None, help="also write the rows to this JSON file")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    split_seed = config.resolve_seed(args.seed)
    seeds = args.seeds or [split_seed]
    prepared = pipeline.prepare(sizes=config.sizes(), seed=split_seed, progress=False)
    texts = [p.text for p in probes.PROBES]
    labels = np.array([p.label for p in probes.PROBES])
    print(
        f"profile={prepared.sizes.profile} split seed={split_seed} seeds={seeds}; {len(texts)} probes, "
        f"{len(probes.minimal_pairs())} minimal pairs",
        flush=True,
    )

    rows, probabilities = {}, {}
    for kind in args.kinds:
        runs = [split_seed] if kind in registry.BASELINE_KINDS else seeds
        for seed in runs:
            trained = train(prepared, kind, seed, None, args.cache)
            prob = np.asarray(trained.model.predict_proba(texts), dtype=float)
            row = probes.score(prob)
            rows.setdefault(kind, []).append({"seed": seed, "test_accuracy": trained.test.accuracy, **row})
            probabilities.setdefault(kind, []).append(prob)
            print(
                f"  {kind:<12s} seed {seed}: probes {row['全部']:.3f}  pairs {row['配对（两句都对）']:.3f}  "
                f"test {trained.test.accuracy:.4f}  ({trained.train_seconds:.0f} s"
                f"{', cached' if trained.from_cache else ''})",
                flush=True,
            )

    columns = ["test_accuracy", "全部", "配对（两句都对）", *probes.CATEGORY_NAMES.values()]
    print("\n| kind | runs | " + " | ".join(columns) + " |")
    print("|---|---|" + "---|" * len(columns))
    for kind, runs in rows.items():
        cells = []
        for column in columns:
            values = [r[column] for r in runs]
            spread = f" ({min(values):.3f}–{max(values):.3f})" if len(values) > 1 else ""
            cells.append(f"{np.mean(values):.3f}{spread}")
        print(f"| {kind} | {len(runs)} | " + " | ".join(cells) + " |")

    baselines = [k for k in rows if k in registry.BASELINE_KINDS]
    if baselines:
        best = max(baselines, key=lambda k: rows[k][0]["全部"])
        print(f"\npaired sign test on the probes against the best TF-IDF baseline ({best}):")
        for kind in (k for k in rows if k not in registry.BASELINE_KINDS):
            for run, prob in zip(rows[kind], probabilities[kind]):
                test = evaluation.paired_comparison(labels, prob, probabilities[best][0])
                print(
                    f"  {kind} seed {run['seed']}: only {kind} right {test.only_a}, only {best} right "
                    f"{test.only_b}, p = {test.p_value:.3f}"
                )
    print(f"total wall time {time.perf_counter() - start:.0f} s")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(rows, handle, ensure_ascii=False, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())

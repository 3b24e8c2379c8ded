"""Leave one domain out: train on two of the corpus's domains, score on the third, for every model kind.

    python benchmarks/domain_transfer.py --seeds 42 43 44 --cache --save    # chapter 5's table
    LLMCOURSE_PROFILE=quick python benchmarks/domain_transfer.py --kinds tfidf-word lstm   # a smoke run

Every review of the shipped corpus gets a domain (hotel, book, computer) from `llmcourse.domains`
(keywords, then a classifier for the rest; its error rate on a hand-checked sample is printed).
Fold "none" is the usual split of the whole corpus; fold "hotel" trains on the book and computer
reviews only (their own train/validation/test split, Word2Vec and vocabulary included) and scores
the models on every hotel review; likewise for the other two. Every setting is chosen on the
fold's validation split. The course's negation probes (`llmcourse.probes`) are read in every
fold, after training: all 167 in fold "none", the held-out domain's own in the others.

More rows come from models already trained, with no extra training:
- "bilstm-lm+tfidf": the average of the default model's and the better TF-IDF baseline's
  positive probabilities, the weight (0, 0.1, ..., 1) and the baseline chosen on validation;
  "bilstm-lm-len+tfidf" likewise for the length-balanced variant;
- the paired sign test of chapter 5 between each of these (and the neural model alone) and the
  better TF-IDF baseline (by validation accuracy), on the held-out domain and on the probes.

The neural kinds in --seeded-kinds are trained once per seed in --seeds on the same split;
the others once, with the split seed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from llmcourse import config, data, domains, evaluation, pipeline, probes, registry  # noqa: E402

import results as saved_results  # noqa: E402  (benchmarks/results.py)
from compare_models import KINDS, PRETRAINED, PRETRAINED_LENGTH, train  # noqa: E402

MIXED = (PRETRAINED, PRETRAINED_LENGTH)  # neural kinds also scored averaged with the better TF-IDF baseline
FOLDS = ("none", *domains.DOMAINS)
WEIGHTS = np.round(np.linspace(0.0, 1.0, 11), 2)


def accuracy(labels, prob) -> float:
    return float(np.mean((np.asarray(prob) >= 0.5) == (np.asarray(labels) == 1)))


def combine(neural: dict, linear: dict[str, dict], val_labels) -> tuple[dict, str, float]:
    """Weighted average of the neural and one TF-IDF model's probabilities, both chosen on validation."""
    best = None
    for kind, run in linear.items():
        for w in WEIGHTS:
            score = accuracy(val_labels, w * neural["val"] + (1 - w) * run["val"])
            if best is None or score > best[0] + 1e-12:
                best = (score, kind, float(w))
    _, kind, w = best
    mixed = {part: w * neural[part] + (1 - w) * linear[kind][part] for part in neural}
    return mixed, kind, w


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    parser.add_argument("--folds", nargs="+", default=list(FOLDS), choices=FOLDS)
    parser.add_argument("--seed", type=int, default=None, help="seed of the split (default: LLMCOURSE_SEED or 42)")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="seeds of the --seeded-kinds")
    parser.add_argument("--seeded-kinds", nargs="+", default=[PRETRAINED], choices=KINDS)
    parser.add_argument(
        "--held-out-seeds",
        type=int,
        nargs="+",
        default=None,
        help="seeds in the held-out-domain folds (default: --seeds)",
    )
    parser.add_argument(
        "--held-out-kinds", nargs="+", default=None, choices=KINDS, help="kinds in those folds (default: --kinds)"
    )
    parser.add_argument("--cache", action="store_true", help="reuse identical earlier runs from the model cache")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    parser.add_argument(
        "--save", action="store_true", help="write benchmarks/results/domain_transfer.json (read by chapter 5)"
    )
    args = parser.parse_args(argv)

    start = time.perf_counter()
    split_seed = config.resolve_seed(args.seed)
    seeds = args.seeds or [split_seed]
    sizes = config.sizes()
    corpus = data.deduplicate_dataset(data.load_reviews())
    assignment = domains.assign(corpus.texts, seed=split_seed)
    check = domains.hand_check(corpus.texts, assignment)
    counts = {d: int(sum(1 for x in assignment.domains if x == d)) for d in domains.DOMAINS}
    print(
        f"profile={sizes.profile} split seed={split_seed} seeds={seeds}; {len(corpus):,d} reviews: "
        + ", ".join(f"{d} {n:,d}" for d, n in counts.items())
        + f"; {assignment.share_by_classifier():.1%} placed by the classifier",
        flush=True,
    )
    print(
        f"hand check: {check.checked} reviews, {check.unclear} unclear to a reader, {check.wrong} of "
        f"{check.checked - check.unclear} wrong ({check.error_rate:.1%}); by method "
        + ", ".join(f"{m} {w}/{n}" for m, (w, n) in check.wrong_by_method.items()),
        flush=True,
    )

    results = {
        "profile": sizes.profile,
        "split_seed": split_seed,
        "seeds": seeds,
        "held_out_seeds": args.held_out_seeds or seeds,
        # how the default model ("bilstm-lm") was trained, so that a reader can tell a stale result
        "default_recipe": pipeline.recipe_settings("bilstm", registry.DEFAULT_RECIPE, sizes),
        "domains": counts,
        "classifier_share": assignment.share_by_classifier(),
        "hand_check": {
            "checked": check.checked,
            "unclear": check.unclear,
            "wrong": check.wrong,
            "error_rate": check.error_rate,
            "by_method": check.wrong_by_method,
        },
        # per domain, the positive share in each length quartile: the shortcut "bilstm-lm-len" removes
        "positive_by_length": data.positive_share_by_length(corpus.texts, corpus.labels, assignment.domains),
        "runs": [],
        "comparisons": [],
    }
    for fold in args.folds:
        fold_start = time.perf_counter()
        held_out = np.zeros(len(corpus), dtype=bool) if fold == "none" else domains.domain_mask(assignment, fold)
        keep = [i for i in range(len(corpus)) if not held_out[i]]
        dataset = data.LabeledTexts([corpus.texts[i] for i in keep], [corpus.labels[i] for i in keep], corpus.report)
        prepared = pipeline.prepare(dataset=dataset, sizes=sizes, seed=split_seed, progress=False)
        outside = {
            "texts": [corpus.texts[i] for i in np.flatnonzero(held_out)],
            "labels": np.array([corpus.labels[i] for i in np.flatnonzero(held_out)]),
        }
        probe_set = probes.PROBES if fold == "none" else [p for p in probes.PROBES if p.domain == fold]
        probe_texts = [p.text for p in probe_set]
        probe_labels = np.array([p.label for p in probe_set])
        val_labels = np.array(prepared.splits.val.labels)
        print(
            f"\nfold {fold}: trained on {prepared.splits}; held out {len(outside['texts']):,d} reviews, "
            f"{len(probe_set)} probes",
            flush=True,
        )
        probabilities: dict[str, dict[int, dict]] = {}
        fold_kinds = args.kinds if fold == "none" else args.held_out_kinds or args.kinds
        fold_seeds = seeds if fold == "none" else args.held_out_seeds or seeds
        for kind in fold_kinds:
            runs = [split_seed] if kind in registry.BASELINE_KINDS or kind not in args.seeded_kinds else fold_seeds
            for seed in runs:
                trained = train(prepared, kind, seed, None, args.cache)
                prob = {
                    "val": np.asarray(trained.model.predict_proba(prepared.splits.val.texts), dtype=float),
                    "test": np.asarray(trained.test_probabilities, dtype=float),
                    "outside": np.asarray(trained.model.predict_proba(outside["texts"]), dtype=float)
                    if outside["texts"]
                    else np.zeros(0),
                    "probes": np.asarray(trained.model.predict_proba(probe_texts), dtype=float),
                }
                probabilities.setdefault(kind, {})[seed] = prob
                results["runs"].append(
                    run_row(fold, kind, seed, prob, prepared, outside, probe_set, trained.train_seconds)
                )
                r = results["runs"][-1]
                print(
                    f"  {kind:<14s} seed {seed}: val {r['val_accuracy']:.4f}  test {r['test_accuracy']:.4f}  "
                    f"held-out {r['outside_accuracy'] if r['outside_accuracy'] is not None else float('nan'):.4f}  "
                    f"probes {r['probe_accuracy']:.3f}  pairs {r['pair_accuracy']:.3f}  "
                    f"({trained.train_seconds:.0f} s{', cached' if trained.from_cache else ''})",
                    flush=True,
                )
        linear = {k: probabilities[k][split_seed] for k in probabilities if k in registry.BASELINE_KINDS}
        if not linear:
            write(results, args, start, complete=fold == args.folds[-1])
            continue
        best_linear = max(linear, key=lambda k: accuracy(val_labels, linear[k]["val"]))
        for base in MIXED:
            for seed, neural in probabilities.get(base, {}).items():
                mixed_kind = f"{base}+tfidf"
                mixed, partner, weight = combine(neural, linear, val_labels)
                row = run_row(fold, mixed_kind, seed, mixed, prepared, outside, probe_set, None)
                row.update(partner=partner, weight=weight)
                results["runs"].append(row)
                print(
                    f"  {mixed_kind:<14s} seed {seed}: {weight:.1f} x {base} + {1 - weight:.1f} x {partner}: "
                    f"val {row['val_accuracy']:.4f}  test {row['test_accuracy']:.4f}  held-out "
                    f"{row['outside_accuracy'] if row['outside_accuracy'] is not None else float('nan'):.4f}  "
                    f"probes {row['probe_accuracy']:.3f}",
                    flush=True,
                )
                for name, prob in ((base, neural), (mixed_kind, mixed)):
                    results["comparisons"].extend(
                        paired_rows(fold, name, seed, prob, linear, best_linear, prepared, outside, probe_labels)
                    )
        print(f"  fold {fold}: {time.perf_counter() - fold_start:.0f} s; best TF-IDF on validation: {best_linear}")
        write(results, args, start, complete=fold == args.folds[-1])

    print_tables(results)
    print(f"total wall time {time.perf_counter() - start:.0f} s")
    return 0


def paired_rows(fold, name, seed, prob, linear, best_linear, prepared, outside, probe_labels) -> list[dict]:
    """Chapter 5's paired sign test of `prob` against the better TF-IDF baseline, on test, held-out domain, probes."""
    rows = []
    for part, labels in (
        ("test", prepared.splits.test.labels),
        ("outside", outside["labels"]),
        ("probes", probe_labels),
    ):
        if len(labels) == 0:
            continue
        test = evaluation.paired_comparison(labels, prob[part], linear[best_linear][part])
        rows.append(
            {
                "fold": fold,
                "kind": name,
                "seed": seed,
                "against": best_linear,
                "part": part,
                "only_kind": test.only_a,
                "only_against": test.only_b,
                "p_value": test.p_value,
            }
        )
    return rows


def write(results: dict, args, start: float, complete: bool) -> None:
    """Write what has been measured so far (after every fold, so that a long run that is stopped keeps its folds)."""
    results["seconds"] = time.perf_counter() - start
    results["complete"] = complete
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(results, handle, ensure_ascii=False, indent=1)
    if args.save:
        saved_results.save("domain_transfer", results)


def run_row(fold, kind, seed, prob, prepared, outside, probe_set, seconds) -> dict:
    score = probes.score(prob["probes"]) if fold == "none" else None
    by_text = {p.text: float(x) for p, x in zip(probe_set, prob["probes"])}
    return {
        "fold": fold,
        "kind": kind,
        "seed": seed,
        "val_accuracy": accuracy(prepared.splits.val.labels, prob["val"]),
        "test_accuracy": accuracy(prepared.splits.test.labels, prob["test"]),
        "outside_accuracy": accuracy(outside["labels"], prob["outside"]) if len(outside["labels"]) else None,
        "outside_n": len(outside["labels"]),
        "probe_accuracy": accuracy([p.label for p in probe_set], prob["probes"]),
        "pair_accuracy": probes.pair_accuracy(by_text, None if fold == "none" else fold),
        "probe_categories": score,
        "train_seconds": seconds,
    }


def print_tables(results: dict) -> None:
    runs = results["runs"]
    kinds = list(dict.fromkeys(r["kind"] for r in runs))
    folds = list(dict.fromkeys(r["fold"] for r in runs))
    print("\nheld-out domain accuracy (fold none: test accuracy), mean over seeds:")
    print("| kind | " + " | ".join(folds) + " | probes (fold none) | pairs (fold none) |")
    print("|---|" + "---|" * (len(folds) + 2))
    for kind in kinds:
        cells = []
        for fold in folds:
            values = [r["outside_accuracy"] if fold != "none" else r["test_accuracy"] for r in runs
                      if r["kind"] == kind and r["fold"] == fold]  # fmt: skip
            cells.append(f"{np.mean(values):.4f} ({len(values)})" if values else "")
        none = [r for r in runs if r["kind"] == kind and r["fold"] == "none"]
        cells.append(f"{np.mean([r['probe_accuracy'] for r in none]):.3f}" if none else "")
        cells.append(f"{np.mean([r['pair_accuracy'] for r in none]):.3f}" if none else "")
        print(f"| {kind} | " + " | ".join(cells) + " |")
    print("\npaired sign tests against the better TF-IDF baseline (by validation accuracy):")
    for c in results["comparisons"]:
        print(
            f"  fold {c['fold']:<8s} {c['part']:<7s} {c['kind']:<14s} seed {c['seed']}: only it right "
            f"{c['only_kind']}, only {c['against']} right {c['only_against']}, p = {c['p_value']:.3f}"
        )


if __name__ == "__main__":
    sys.exit(main())

"""benchmarks/domain_transfer.py runs end to end (quick profile, both TF-IDF baselines, one left-out
domain) and prints its table, so the benchmark that chapter 5's leave-one-domain-out table comes
from cannot rot unnoticed."""

import json

from llmcourse import domains


def test_the_domain_transfer_benchmark_prints_its_table(tmp_path, run_quick_benchmark):
    out = run_quick_benchmark(
        "domain_transfer",
        "--kinds",
        "tfidf-word",
        "tfidf-char",
        "--folds",
        "book",
        "--json",
        str(tmp_path / "rows.json"),
    )
    assert "hand check: 60 reviews" in out
    rows = json.loads((tmp_path / "rows.json").read_text(encoding="utf-8"))
    assert rows["hand_check"]["checked"] == len(domains.HAND_CHECKED)
    assert [len(rows["positive_by_length"][d]) for d in domains.DOMAINS] == [4, 4, 4]
    assert rows["complete"] is True  # written after every fold; the last write marks the run complete
    runs = rows["runs"]
    assert {r["kind"] for r in runs} == {"tfidf-word", "tfidf-char"} and {r["fold"] for r in runs} == {"book"}
    for r in runs:
        # every book review is held out, and only the book probes are read
        assert r["outside_n"] == rows["domains"]["book"]
        # (the quick profile trains on 800 reviews of the other two domains: near chance on books)
        assert 0.3 < r["outside_accuracy"] < 1 and 0 <= r["probe_accuracy"] <= 1
    table = [line for line in out.splitlines() if line.startswith("| tfidf-char |")]
    assert len(table) == 1 and f"{runs[1]['outside_accuracy']:.4f} (1)" in table[0]


def test_the_default_recipe_variants_train_in_the_benchmark(tmp_path, run_quick_benchmark):
    # "bilstm-lm-len" (length-balanced weights) and "bilstm-lm-char" (character fallback): one change each
    out = run_quick_benchmark(
        "domain_transfer",
        "--kinds",
        "bilstm-lm-len",
        "bilstm-lm-char",
        "--folds",
        "computer",
        "--json",
        str(tmp_path / "rows.json"),
    )
    runs = json.loads((tmp_path / "rows.json").read_text(encoding="utf-8"))["runs"]
    assert [r["kind"] for r in runs] == ["bilstm-lm-len", "bilstm-lm-char"]
    assert all(0.3 < r["outside_accuracy"] < 1 for r in runs)
    assert "| bilstm-lm-char |" in out

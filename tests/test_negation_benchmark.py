"""benchmarks/negation_probes.py runs end to end (quick profile, the word TF-IDF baseline only) and
prints its table, so the benchmark that issue 19's figures come from cannot rot unnoticed."""

from llmcourse import probes


def test_the_probe_benchmark_prints_its_table(tmp_path, run_quick_benchmark):
    out = run_quick_benchmark(
        "negation_probes",
        "--kinds",
        "tfidf-word",
        "--json",
        str(tmp_path / "rows.json"),
    )
    assert f"{len(probes.PROBES)} probes, {len(probes.minimal_pairs())} minimal pairs" in out
    table = [line for line in out.splitlines() if line.startswith("| tfidf-word | 1 |")]
    assert len(table) == 1
    values = [float(cell) for cell in table[0].strip("| ").split(" | ")[2:]]
    assert len(values) == 3 + len(probes.CATEGORIES) and all(0 <= v <= 1 for v in values)
    assert (tmp_path / "rows.json").exists()

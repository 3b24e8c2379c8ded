"""benchmarks/negation_probes.py runs end to end (quick profile, the word TF-IDF baseline only) and
prints its table, so the benchmark that issue 19's figures come from cannot rot unnoticed."""

import os
import subprocess
import sys
from pathlib import Path

from llmcourse import probes

ROOT = Path(__file__).resolve().parents[1]


def test_the_probe_benchmark_prints_its_table(tmp_path):
    env = dict(os.environ, LLMCOURSE_PROFILE="quick", LLMCOURSE_CACHE_DIR=str(tmp_path / "cache"))
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "negation_probes.py"),
            "--kinds",
            "tfidf-word",
            "--json",
            str(tmp_path / "rows.json"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=True,
    ).stdout
    assert f"{len(probes.PROBES)} probes, {len(probes.minimal_pairs())} minimal pairs" in out
    table = [line for line in out.splitlines() if line.startswith("| tfidf-word | 1 |")]
    assert len(table) == 1
    values = [float(cell) for cell in table[0].strip("| ").split(" | ")[2:]]
    assert len(values) == 3 + len(probes.CATEGORIES) and all(0 <= v <= 1 for v in values)
    assert (tmp_path / "rows.json").exists()

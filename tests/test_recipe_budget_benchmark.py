"""benchmarks/recipe_budget.py runs end to end (quick profile, two variants), prints one table row per
variant plus the baseline, and refuses a malformed variant with exit status 2 before training anything."""

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "recipe_budget.py"


def test_the_recipe_benchmark_prints_one_row_per_variant(run_quick_benchmark):
    out = run_quick_benchmark("recipe_budget", "--variant", "book", "--variant", "ensemble=2 learning_rate=0.001")
    rows = [line for line in out.splitlines() if line.startswith("| ") and not line.startswith("| variant")]
    assert [row.split(" | ")[0] for row in rows[:2]] == ["| book", "| ensemble=2 learning_rate=0.001"]
    assert "(baseline)" in rows[2]
    assert rows[0].split(" | ")[3] == "(one)"  # the default recipe fine-tunes once
    assert len(rows[1].split(" | ")[3].split(", ")) == 2  # two fine-tunes, averaged
    for row in rows[:2]:
        val, test = (float(cell) for cell in row.split(" | ")[1:3])
        assert 0 <= val <= 1 and 0 <= test <= 1


def test_a_malformed_variant_exits_2_before_training():
    for bad, said in [("ensemble", "名字=值"), ("nope=1", "不是训练设置")]:
        done = subprocess.run(
            [sys.executable, str(SCRIPT), "--variant", bad], capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 2
        assert said in done.stderr and "Traceback" not in done.stderr

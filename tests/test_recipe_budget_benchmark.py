"""benchmarks/recipe_budget.py runs end to end (quick profile, one variant), prints one table row per
variant plus the baseline, and refuses a malformed variant with exit status 2 before training anything."""

import pytest


def test_the_recipe_benchmark_prints_one_row_per_variant(run_quick_benchmark):
    out = run_quick_benchmark("recipe_budget", "--variant", "ensemble=2 learning_rate=0.001")
    rows = [line for line in out.splitlines() if line.startswith("| ") and not line.startswith("| variant")]
    assert rows[0].split(" | ")[0] == "| ensemble=2 learning_rate=0.001" and "(baseline)" in rows[1]
    assert len(rows[0].split(" | ")[3].split(", ")) == 2  # two fine-tunes, averaged, each with its validation accuracy
    val, test = (float(cell) for cell in rows[0].split(" | ")[1:3])
    assert 0 <= val <= 1 and 0 <= test <= 1


def test_a_malformed_variant_exits_2_before_training(load_benchmark, capsys):
    module = load_benchmark("recipe_budget")
    assert module.parse_variant("book") == {} and module.parse_variant("epochs=4 learning_rate=0.003") == {
        "epochs": 4,
        "learning_rate": 0.003,
    }
    for bad, said in [("ensemble", "名字=值"), ("nope=1", "不是训练设置")]:
        with pytest.raises(SystemExit) as exit_info:
            module.main(["--variant", bad])
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert said in err and "Traceback" not in err

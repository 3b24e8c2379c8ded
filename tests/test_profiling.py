"""Stage timing (llmcourse/profiling.py) and the two benchmarks built on it: what the performance
page's profile and the side-by-side cold build rest on."""

import time
from pathlib import Path

import pytest

from llmcourse import data, profiling, text

ROOT = Path(__file__).resolve().parents[1]


def test_nothing_is_written_without_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv(profiling.TIMINGS_ENV, raising=False)
    with profiling.stage("evaluation"):
        pass
    assert list(tmp_path.iterdir()) == []


def test_nested_stages_count_their_seconds_once(tmp_path, monkeypatch):
    log = tmp_path / "timings.jsonl"
    monkeypatch.setenv(profiling.TIMINGS_ENV, str(log))
    with profiling.stage("classifier"):
        time.sleep(0.05)
        with profiling.stage("evaluation"):
            time.sleep(0.2)
    totals = profiling.read_timings(log)
    assert totals["evaluation"]["calls"] == 1 and totals["evaluation"]["seconds"] >= 0.2
    # the outer stage's own time leaves out the nested one
    assert 0.05 <= totals["classifier"]["seconds"] < 0.2


def test_an_unknown_stage_name_is_refused():
    with pytest.raises(ValueError, match="未登记的阶段名"):
        with profiling.stage("no-such-stage"):
            pass


def test_segmenting_real_reviews_is_timed_then_read_back(tmp_path, monkeypatch):
    log = tmp_path / "timings.jsonl"
    monkeypatch.setenv(profiling.TIMINGS_ENV, str(log))
    texts = data.load_reviews().sample(40, seed=1).texts
    first = text.segment_corpus(texts, directory=tmp_path / "cache", progress=False)
    again = text.segment_corpus(texts, directory=tmp_path / "cache", progress=False)
    assert first == again
    totals = profiling.read_timings(log)
    assert totals["segmentation"]["calls"] == 1  # computed once ...
    assert totals["cache-read"]["calls"] >= 1  # ... and read back the second time


def test_the_chapter_profile_prints_each_chapter_and_its_stages(run_quick_benchmark):
    out = run_quick_benchmark("chapter_profile", str(ROOT / "notebooks" / "03_algorithms_3_training.ipynb"))
    assert "03_algorithms_3_training.ipynb:" in out
    header = next(line for line in out.splitlines() if line.startswith("notebook"))
    assert "classifier" in header and "segmentati" in header  # the page trains an LSTM on segmented text
    assert "all notebooks:" in out


def test_the_side_by_side_comparison_prints_totals_chapters_and_ratio(capsys, load_benchmark):
    compare = load_benchmark("cold_build_compare")
    reference = {"commit": "a" * 40, "seconds": 1000.0, "notebooks": {"05_project.ipynb": 400.0, "01.ipynb": 10.0}}
    current = {"commit": "b" * 40, "seconds": 450.0, "notebooks": {"05_project.ipynb": 200.0, "01.ipynb": 10.0}}
    compare.print_comparison(reference, current)
    out = capsys.readouterr().out
    assert "ratio current / reference: 0.450" in out
    assert any(line.startswith("05_project.ipynb") and line.rstrip().endswith("0.50") for line in out.splitlines())
    assert "slowest notebook of the current commit: 05_project.ipynb 200.0 s" in out


def test_each_timing_line_goes_to_the_notebook_that_was_running(tmp_path, load_benchmark):
    compare = load_benchmark("cold_build_compare")
    log = tmp_path / "timings.jsonl"
    log.write_text(
        "\n".join(
            [
                '{"stage": "word2vec", "seconds": 30.0, "end": 1030.0}',
                '{"stage": "classifier", "seconds": 50.0, "end": 1090.0}',
                '{"stage": "char-lm", "seconds": 70.0, "end": 1180.0}',
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    executions = {"04_math.ipynb": (100.0, 1100.0), "06_applications.ipynb": (90.0, 1200.0)}
    chapters = compare.chapter_profiles(executions, log)
    assert set(chapters["04_math.ipynb"]["stages"]) == {"word2vec", "classifier"}
    assert chapters["04_math.ipynb"]["other_seconds"] == 20.0
    assert chapters["06_applications.ipynb"]["stages"] == {"char-lm": {"seconds": 70.0, "calls": 1}}


def test_a_notebook_that_raised_fails_the_comparison(tmp_path, load_benchmark):
    compare = load_benchmark("cold_build_compare")
    assert compare.failed_notebooks(tmp_path) == []
    reports = tmp_path / "_build" / "html" / "reports" / "notebooks"
    reports.mkdir(parents=True)
    (reports / "05_project.err.log").write_text("AssertionError: 本章比较八个模型", encoding="utf-8")
    failed = compare.failed_notebooks(tmp_path)
    assert len(failed) == 1 and "05_project.err.log" in failed[0] and "本章比较八个模型" in failed[0]

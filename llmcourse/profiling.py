"""Where a chapter's time goes: named stages, timed only when asked.

The expensive steps of the course (segmentation, Word2Vec, pretraining, each
fine-tune, the character language model, the GPT, evaluation, plotting) run
inside `stage(name)`. When the environment variable LLMCOURSE_TIMINGS names a
file, every stage that ends appends one JSON line to it: the stage's name and its
*own* seconds, the time of the stages nested inside it taken out, so the lines of
one run add up to the time spent in stages without counting anything twice.
Without the variable a stage costs one dictionary lookup.
`benchmarks/chapter_profile.py` sets the variable for each chapter and sums the
lines; the performance page shows its table.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import time
from typing import Callable, Iterator, TypeVar

TIMINGS_ENV = "LLMCOURSE_TIMINGS"

# Every stage name used in the package, with the label the performance page shows.
STAGES = {
    "segmentation": "分词",
    "word2vec": "Word2Vec",
    "baseline": "TF-IDF 基线",
    "classifier": "训练分类器（含每次微调）",
    "pretraining": "语言模型预训练",
    "evaluation": "评估",
    "char-lm": "字符语言模型",
    "gpt": "GPT 预训练",
    "gpt-adaptation": "GPT 的微调与提示",
    "plotting": "作图",
    "cache-read": "读缓存",
}

F = TypeVar("F", bound=Callable)
_open_stages: list[list] = []  # [name, start time, seconds of the stages nested inside]


@contextlib.contextmanager
def stage(name: str) -> Iterator[None]:
    """Time the block as stage `name` when LLMCOURSE_TIMINGS is set."""
    if name not in STAGES:
        raise ValueError(f"未登记的阶段名 {name!r}：可选 {', '.join(STAGES)}")
    path = os.environ.get(TIMINGS_ENV)
    if not path:
        yield
        return
    frame = [name, time.perf_counter(), 0.0]
    _open_stages.append(frame)
    try:
        yield
    finally:
        _open_stages.pop()
        elapsed = time.perf_counter() - frame[1]
        if _open_stages:
            _open_stages[-1][2] += elapsed
        with open(path, "a", encoding="utf-8") as handle:
            own = round(elapsed - frame[2], 4)
            handle.write(json.dumps({"stage": name, "seconds": own, "end": round(time.time(), 3)}) + "\n")


def timed(name: str) -> Callable[[F], F]:
    """Decorator form of `stage`: every call of the function is one stage `name`."""

    def decorate(function: F) -> F:
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            with stage(name):
                return function(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def read_records(path: str | os.PathLike) -> list[dict]:
    """The lines of a timings file: stage, own seconds, and the wall-clock time (Unix) it ended."""
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def totals(records: list[dict]) -> dict[str, dict[str, float]]:
    """{stage: {"seconds": total own seconds, "calls": count}} of some timing records."""
    summed: dict[str, dict[str, float]] = {}
    for record in records:
        entry = summed.setdefault(record["stage"], {"seconds": 0.0, "calls": 0})
        entry["seconds"] += record["seconds"]
        entry["calls"] += 1
    return summed


def read_timings(path: str | os.PathLike) -> dict[str, dict[str, float]]:
    """`totals` of a whole timings file."""
    return totals(read_records(path))

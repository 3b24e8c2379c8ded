"""Where each chapter's cold execution time goes, stage by stage.

    python benchmarks/chapter_profile.py [--save] [notebooks/05_project.ipynb ...]

Every notebook (by default all of them, in the book's order) is executed by
nbclient in a kernel of its own, one after the other, as a cold `BOOK_JOBS=1 make book`
executes them: llmcourse's cache starts empty and is shared by the chapters, so
what an early chapter computes a later one reads back. The package times its
expensive steps as named stages (llmcourse/profiling.py) when LLMCOURSE_TIMINGS
names a file; this script gives every notebook its own file and prints, per
chapter, the wall time and the seconds of each stage; "其他" is the rest
(imports, TensorFlow's start, small cells). The profile is LLMCOURSE_PROFILE
(default full, the book's). The slowest cells are printed too.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from llmcourse import profiling  # noqa: E402  (the checkout's package, not an installed one)


def cell_seconds(cell) -> float:
    """Wall seconds of one executed cell, from the timestamps nbclient records."""
    timing = cell.get("metadata", {}).get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return 0.0
    parse = datetime.datetime.fromisoformat
    return (parse(end.replace("Z", "+00:00")) - parse(start.replace("Z", "+00:00"))).total_seconds()


def profile_notebook(path: Path, timings_file: Path) -> dict:
    """Execute one notebook; its wall seconds, stage seconds and slowest cells."""
    notebook = nbformat.read(path, as_version=4)
    os.environ[profiling.TIMINGS_ENV] = str(timings_file)
    start = time.perf_counter()
    NotebookClient(
        notebook, timeout=3600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    seconds = time.perf_counter() - start
    stages = profiling.read_timings(timings_file) if timings_file.exists() else {}
    return summarise(seconds, stages, slowest_cells(notebook))


def slowest_cells(notebook, n: int = 3) -> list[dict]:
    cells = sorted(
        (
            (cell_seconds(c), c.get("id", "?"), c.source.splitlines()[0][:60] if c.source else "")
            for c in notebook.cells
            if c.cell_type == "code"
        ),
        reverse=True,
    )
    return [{"seconds": round(s, 1), "id": i, "first_line": line} for s, i, line in cells[:n]]


def summarise(seconds: float, stages: dict, slowest: list[dict]) -> dict:
    """One chapter's entry: wall seconds, each stage's own seconds and calls, the rest, the slowest cells."""
    return {
        "seconds": round(seconds, 1),
        "stages": {name: {"seconds": round(v["seconds"], 1), "calls": v["calls"]} for name, v in stages.items()},
        "other_seconds": round(seconds - sum(v["seconds"] for v in stages.values()), 1),
        "slowest_cells": slowest,
    }


def print_profile(chapters: dict) -> None:
    names = [name for name in profiling.STAGES if any(name in c["stages"] for c in chapters.values())]
    print(f"{'notebook':34s} {'total':>7s} " + " ".join(f"{n[:10]:>10s}" for n in names) + f" {'other':>7s}")
    for notebook, c in chapters.items():
        row = " ".join(f"{c['stages'].get(n, {}).get('seconds', 0.0):10.1f}" for n in names)
        print(f"{notebook:34s} {c['seconds']:7.1f} {row} {c['other_seconds']:7.1f}")
    total = sum(c["seconds"] for c in chapters.values())
    print(f"all notebooks: {total:.1f} s ({total / 60:.1f} min)")
    slow = [
        (notebook, cell) for notebook, c in chapters.items() for cell in c["slowest_cells"] if cell["seconds"] >= 10
    ]
    if slow:  # a profile read from a `make book` has no per-cell times
        print("slowest cells:")
    for notebook, cell in slow:
        print(f"  {notebook:34s} {cell['seconds']:7.1f} s  [{cell['id']}] {cell['first_line']}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every notebooks/*.ipynb, in order")
    parser.add_argument("--save", action="store_true", help="write benchmarks/results/chapter_profile.json")
    args = parser.parse_args(argv)
    notebooks = [p.resolve() for p in args.notebooks] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    os.environ.setdefault("LLMCOURSE_PROFILE", "full")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    chapters = {}
    with tempfile.TemporaryDirectory(prefix="llmcourse-profile-") as scratch:
        os.environ["LLMCOURSE_CACHE_DIR"] = str(Path(scratch) / "cache")  # cold: an empty cache
        for path in notebooks:
            chapters[path.name] = profile_notebook(path, Path(scratch) / f"{path.stem}.jsonl")
            print(f"{path.name}: {chapters[path.name]['seconds']:.1f} s", flush=True)
    print_profile(chapters)
    if args.save:
        sys.path.insert(0, str(Path(__file__).parent))
        from results import save

        save("chapter_profile", {"chapters": chapters, "stage_labels": profiling.STAGES})


if __name__ == "__main__":
    main()

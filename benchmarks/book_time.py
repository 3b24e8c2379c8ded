"""Time `make book` cold and cached, and read each notebook's execution time from the cache.

    python benchmarks/book_time.py [--save]

Cold means nothing is reused: the book's execution cache (_build/.jupyter_cache)
and Sphinx's build state (_build/.doctrees, _build/html) are removed, and llmcourse's own cache (segmentation, Word2Vec, trained models)
points at a new, empty directory, so every notebook runs and every model is
trained. The second `make book` runs with both caches as the first one left
them. The installation (.venv) is assumed done (`make install`); your own
~/.cache/llmcourse is not touched. Peak memory is the largest resident set of
any process of the build (the notebook kernels included).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))  # course tooling lives in tools/, outside the package
import execute_book  # noqa: E402


def make_book(env: dict) -> float:
    start = time.perf_counter()
    done = subprocess.run(["make", "-s", "book"], cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"make book failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return seconds


def notebook_seconds() -> dict[str, float]:
    """Execution seconds per notebook as recorded by jupyter-cache during the cold build."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from cold_build_compare import execution_records  # one reader of jupyter-cache's records

    return {name: round(seconds, 1) for name, (seconds, _) in execution_records(ROOT).items()}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--save", action="store_true", help="write benchmarks/results/book_time.json")
    args = parser.parse_args(argv)
    # the execution cache, and Sphinx's record of which pages are up to date (without it,
    # unchanged chapters are neither re-read nor re-executed)
    for stale in (".jupyter_cache", ".doctrees", "html", "jupyter_execute"):
        shutil.rmtree(ROOT / "_build" / stale, ignore_errors=True)
    try:
        jobs = execute_book.jobs_count(execute_book.default_jobs())  # what make book will use
    except argparse.ArgumentTypeError as err:
        raise SystemExit(str(err)) from None
    with tempfile.TemporaryDirectory(prefix="llmcourse-cold-") as cache:
        env = dict(os.environ, LLMCOURSE_CACHE_DIR=cache)
        cold = make_book(env)
        per_notebook = notebook_seconds()
        cached = make_book(env)
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    for name, seconds in sorted(per_notebook.items()):
        print(f"  {name:32s} {seconds:7.1f} s")
    print(f"notebooks executed: {len(per_notebook)}, {sum(per_notebook.values()):.0f} s in total")
    print(f"cold make book:   {cold:7.1f} s ({cold / 60:.1f} min), {jobs} notebook(s) at a time")
    print(f"cached make book: {cached:7.1f} s")
    print(f"peak memory of one process: {peak_mib:,.0f} MiB")
    if args.save:
        sys.path.insert(0, str(Path(__file__).parent))
        from results import save

        save(
            "book_time",
            {
                "cold_seconds": round(cold, 1),
                "jobs": jobs,
                "cached_seconds": round(cached, 1),
                "notebook_seconds": per_notebook,
                "peak_memory_mib": round(peak_mib),
            },
        )


if __name__ == "__main__":
    main()

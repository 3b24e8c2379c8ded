"""Execution time and peak memory of every chapter notebook, cold and warm.

    python benchmarks/notebook_times.py [notebooks/0*.ipynb ...]

Each notebook is executed by `jupyter nbconvert --execute` in its own process,
twice: cold (an empty llmcourse segmentation cache) and warm (the cache the
cold run filled). Peak memory is the largest resident set of the processes
involved (the kernel included), read from the operating system. The profile
is whatever LLMCOURSE_PROFILE says (the book uses full). For the time a
cached `make book` takes, run `time make book` twice; myst-nb's own
per-notebook table is in the book's performance page.
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_notebook(path: str, cache_dir: str) -> tuple[float, float]:
    """(wall seconds, peak RSS in MiB of this run's child processes)."""
    env = dict(os.environ, LLMCOURSE_CACHE_DIR=cache_dir, TF_CPP_MIN_LOG_LEVEL="3")
    with tempfile.TemporaryDirectory() as out:
        script = (
            "import resource, subprocess, sys\n"
            "r = subprocess.run(sys.argv[1:])\n"
            "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
            "print(f'PEAK_KIB {peak}', file=sys.stderr)\n"
            "sys.exit(r.returncode)\n"
        )
        cmd = [
            sys.executable,
            "-c",
            script,
            sys.executable,
            "-m",
            "jupyter",
            "nbconvert",
            "--to",
            "notebook",
            "--execute",
            "--ExecutePreprocessor.timeout=1800",
            "--output-dir",
            out,
            path,
        ]
        start = time.perf_counter()
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{path} failed:\n{done.stderr[-3000:]}")
    peak_kib = int(done.stderr.rsplit("PEAK_KIB", 1)[1].split()[0])
    return seconds, peak_kib / 1024


def main(argv: list[str]) -> None:
    notebooks = argv or sorted(glob.glob("notebooks/[0-9]*.ipynb"))
    profile = os.environ.get("LLMCOURSE_PROFILE", "full")
    print(f"profile={profile}")
    print(f"{'notebook':32s} {'cold s':>8s} {'warm s':>8s} {'peak MiB':>9s}")
    totals = [0.0, 0.0]
    for path in notebooks:
        with tempfile.TemporaryDirectory() as cache:
            cold, peak_cold = run_notebook(path, cache)
            warm, peak_warm = run_notebook(path, cache)
        totals[0] += cold
        totals[1] += warm
        print(f"{Path(path).name:32s} {cold:8.1f} {warm:8.1f} {max(peak_cold, peak_warm):9.0f}", flush=True)
    print(f"{'total':32s} {totals[0]:8.1f} {totals[1]:8.1f}")


if __name__ == "__main__":
    main(sys.argv[1:])

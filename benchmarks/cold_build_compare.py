"""Cold `make book` of two commits, one after the other on this machine, side by side.

    python benchmarks/cold_build_compare.py REFERENCE [CURRENT] [--save]

REFERENCE and CURRENT (default HEAD) are anything `git rev-parse` understands.
Each commit is checked out into a temporary git worktree that shares this
checkout's installed environment (.venv), and built cold: no _build, and
llmcourse's cache pointed at a new, empty directory, so every notebook runs and
every model is trained. The worktree's own llmcourse is the one its notebooks
import (PYTHONPATH), which the script checks before building. Printed: both
totals, the seconds of each notebook (from the build's execution cache) and the
ratio current / reference. The two builds run in turn, never at once, so that
neither slows the other; run it on an otherwise idle machine. Each build executes
its notebooks one at a time (BOOK_JOBS=1; `make book` otherwise runs two at once
on two cores): the comparison is of the chapters' own work, chapter by chapter.
`benchmarks/book_time.py` times `make book` as a reader runs it. The current
commit is built first, so that a build that fails stops the script early.

The current build also records llmcourse's stage timings (llmcourse/profiling.py):
each line is given to the notebook whose execution was running when it ended, and
the per-chapter profile is printed as benchmarks/chapter_profile.py prints it
(with --save, written to chapter_profile.json as well).
"""

from __future__ import annotations

import argparse
import datetime
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from chapter_profile import print_profile, summarise  # noqa: E402

from llmcourse import profiling  # noqa: E402


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip()


def build_env(worktree: Path, cache: Path, timings: Path) -> dict:
    """One notebook at a time (BOOK_JOBS=1), so that each chapter's seconds and stages are its own."""
    return dict(
        os.environ,
        LLMCOURSE_CACHE_DIR=str(cache),
        PYTHONPATH=str(worktree),
        BOOK_JOBS="1",
        **{profiling.TIMINGS_ENV: str(timings)},
    )


def check_imports_worktree(worktree: Path, env: dict) -> None:
    where = subprocess.run(
        [str(VENV / "bin" / "python"), "-c", "import llmcourse; print(llmcourse.__file__)"],
        cwd=worktree / "notebooks",
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not Path(where).resolve().is_relative_to(worktree.resolve()):
        raise SystemExit(f"the notebooks of {worktree} would import llmcourse from {where}")


def execution_records(worktree: Path) -> dict[str, tuple[float, float]]:
    """{notebook: (execution seconds, Unix time it ended)}, as jupyter-cache recorded them during the build."""
    from jupyter_cache import get_cache

    found = {}
    for record in get_cache(str(worktree / "_build" / ".jupyter_cache")).list_cache_records():
        created = record.created if record.created.tzinfo else record.created.replace(tzinfo=datetime.timezone.utc)
        found[Path(record.uri).name] = (float(record.data.get("execution_seconds", 0.0)), created.timestamp())
    return found


def chapter_profiles(executions: dict[str, tuple[float, float]], timings: Path) -> dict:
    """Each notebook's stage profile: a timing line belongs to the notebook executing when it ended."""
    records = profiling.read_records(timings) if timings.exists() else []
    chapters = {}
    for name, (seconds, ended) in sorted(executions.items()):
        mine = [r for r in records if ended - seconds - 1 <= r["end"] <= ended + 1]
        chapters[name] = summarise(seconds, profiling.totals(mine), [])
    return chapters


def failed_notebooks(worktree: Path) -> list[str]:
    """The execution reports jupyter-book writes for notebooks that raised (with --keep-going)."""
    reports = worktree / "_build" / "html" / "reports"
    return [f"{p.name}:\n{p.read_text(errors='replace')[-1500:]}" for p in sorted(reports.glob("**/*.log"))]


def cold_build(commit: str, scratch: Path, label: str) -> dict:
    """Check `commit` out into a worktree, `make book` there cold; its total and per-notebook seconds."""
    worktree = scratch / label
    git("worktree", "add", "--detach", str(worktree), commit)
    try:
        (worktree / ".venv").symlink_to(VENV)
        timings = scratch / f"timings-{label}.jsonl"
        env = build_env(worktree, scratch / f"cache-{label}", timings)
        check_imports_worktree(worktree, env)
        start = time.perf_counter()
        # -o: the environment is installed already (this checkout's .venv); do not reinstall it
        done = subprocess.run(
            ["make", "-s", "-o", ".venv/.installed-stamp", "book"],
            cwd=worktree,
            env=env,
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - start
        failed = failed_notebooks(worktree)
        if done.returncode != 0 or failed:
            raise SystemExit(
                f"make book of {commit} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}\n" + "\n".join(failed)
            )
        executions = execution_records(worktree)
        return {
            "commit": commit,
            "seconds": round(seconds, 1),
            "notebooks": {name: round(s, 1) for name, (s, _) in executions.items()},
            "chapters": chapter_profiles(executions, timings),
        }
    finally:
        git("worktree", "remove", "--force", str(worktree))


def print_comparison(reference: dict, current: dict) -> None:
    names = sorted(set(reference["notebooks"]) | set(current["notebooks"]))
    print(f"{'notebook':34s} {'reference':>10s} {'current':>10s} {'ratio':>7s}")
    for name in names:
        a, b = reference["notebooks"].get(name), current["notebooks"].get(name)
        ratio = f"{b / a:7.2f}" if a and b is not None else f"{'-':>7s}"
        print(f"{name:34s} {a if a is not None else '-':>10} {b if b is not None else '-':>10} {ratio}")
    print(
        f"cold make book, reference {reference['commit'][:10]}: {reference['seconds']:.1f} s ({reference['seconds'] / 60:.1f} min)"
    )
    print(
        f"cold make book, current   {current['commit'][:10]}: {current['seconds']:.1f} s ({current['seconds'] / 60:.1f} min)"
    )
    print(f"ratio current / reference: {current['seconds'] / reference['seconds']:.3f}")
    slowest = max(current["notebooks"].items(), key=lambda item: item[1])
    print(f"slowest notebook of the current commit: {slowest[0]} {slowest[1]:.1f} s")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference", help="the commit to compare against")
    parser.add_argument("current", nargs="?", default="HEAD", help="the commit measured now (default HEAD)")
    parser.add_argument("--save", action="store_true", help="write benchmarks/results/cold_build_compare.json")
    args = parser.parse_args(argv)
    if not (VENV / "bin" / "jupyter-book").exists():
        raise SystemExit("run `make install` first: both builds use this checkout's .venv")
    commits = {
        label: git("rev-parse", "--verify", f"{rev}^{{commit}}")
        for label, rev in (("current", args.current), ("reference", args.reference))
    }
    with tempfile.TemporaryDirectory(prefix="llmcourse-cold-build-") as scratch:
        results = {}
        for label, commit in commits.items():
            print(f"building {label} {commit[:10]} cold ...", flush=True)
            results[label] = cold_build(commit, Path(scratch), label)
            print(f"  {results[label]['seconds']:.1f} s", flush=True)
    git("worktree", "prune")
    chapters = results["current"].pop("chapters")
    results["reference"].pop("chapters")
    print_profile(chapters)
    print_comparison(results["reference"], results["current"])
    if args.save:
        from results import save

        results["ratio"] = round(results["current"]["seconds"] / results["reference"]["seconds"], 3)
        save("cold_build_compare", results)
        save("chapter_profile", {"chapters": chapters, "stage_labels": profiling.STAGES, "source": "make book"})


if __name__ == "__main__":
    main()

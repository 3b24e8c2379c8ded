"""Execute the book's notebooks several at a time into the execution cache that `jupyter-book build` reads.

Jupyter Book 1 executes the pages one after another. Much of a chapter's time is
single-threaded Python (segmentation, n-gram counts, pandas, kernel start-up), and small
TensorFlow models do not keep two cores busy, so on a 2-core machine two chapters at a
time finish the whole book much sooner. Each notebook runs in its own kernel, exactly as
myst-nb would run it (same working folder, timeout and error rules from `_config.yml`),
and the result is stored in the same jupyter-cache under the same hash: the book build that
follows finds every page executed and only renders it. Chapters that need the same trained
model do not train it twice: the course cache holds a lock while an entry is computed
(`llmcourse.cache.computing`), so the second chapter waits and reads it.

The longest chapters start first (their times in benchmarks/results/chapter_profile.json),
which keeps the two lanes even. A failed notebook is reported with its traceback and the
exit status is 1. Usage: `python tools/execute_book.py [--jobs N] [BUILD_DIR]`.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import sys
import time
from pathlib import Path

import nbformat
import yaml
from jupyter_cache import get_cache
from jupyter_cache.base import CacheBundleIn
from jupyter_cache.executors.utils import single_nb_execution

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_state import toc_pages  # noqa: E402  (tools/ is not a package)

ROOT = Path(__file__).resolve().parents[1]
PROFILE = ROOT / "benchmarks" / "results" / "chapter_profile.json"


def toc_notebooks(root: Path = ROOT) -> list[Path]:
    """The .ipynb pages of _toc.yml, in book order (Markdown pages are left to the book build)."""
    return [root / f"{page}.ipynb" for page in toc_pages(root) if (root / f"{page}.ipynb").is_file()]


def execution_settings(root: Path = ROOT) -> dict:
    """The `execute:` section of _config.yml that applies here: the per-cell timeout and allow_errors."""
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8")).get("execute", {})
    return {"timeout": int(config.get("timeout", 30)), "allow_errors": bool(config.get("allow_errors", False))}


def measured_seconds(path: Path = PROFILE) -> dict[str, float]:
    """Seconds each notebook took in the last measured cold build (empty when there is none)."""
    try:
        chapters = json.loads(path.read_text(encoding="utf-8"))["figures"]["chapters"]
        return {name: float(entry["seconds"]) for name, entry in chapters.items()}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def longest_first(notebooks: list[Path], seconds: dict[str, float]) -> list[Path]:
    """Notebooks by decreasing measured time; unmeasured ones first (they may be long), in book order."""
    return sorted(notebooks, key=lambda p: -seconds.get(p.name, float("inf")))


def execute_one(path: str, timeout: int, allow_errors: bool) -> tuple[str, float, str | None]:
    """Run one notebook in its folder, in a fresh kernel: (executed notebook as JSON, seconds, traceback or None)."""
    notebook = nbformat.read(path, as_version=4)
    result = single_nb_execution(
        notebook, cwd=str(Path(path).parent), timeout=timeout, allow_errors=allow_errors, meta_override=True
    )
    return nbformat.writes(notebook), result.time, result.exc_string if result.err is not None else None


def pending(root: Path, build_dir: Path) -> list[Path]:
    """The notebooks of the book whose current code has no executed copy in the build's execution cache."""
    cache = get_cache(str(build_dir / ".jupyter_cache"))
    todo = []
    for path in toc_notebooks(root):
        try:
            cache.match_cache_notebook(nbformat.read(path, as_version=4))  # the lookup myst-nb makes
        except KeyError:
            todo.append(path)
    return todo


def execute_into_cache(notebooks: list[Path], build_dir: Path, jobs: int, root: Path = ROOT) -> list[Path]:
    """Run `notebooks` `jobs` at a time, longest first, storing each success in the execution cache.

    Prints one line per finished notebook (a failure with its traceback); returns the failed ones.
    """
    cache = get_cache(str(build_dir / ".jupyter_cache"))
    settings = execution_settings(root)
    todo = longest_first(notebooks, measured_seconds())
    print(f"同时执行 {jobs} 个笔记本，共 {len(todo)} 个：" + "、".join(p.stem for p in todo), flush=True)
    start, failed = time.perf_counter(), []
    with concurrent.futures.ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = {
            pool.submit(execute_one, str(path), settings["timeout"], settings["allow_errors"]): path for path in todo
        }
        for done, future in enumerate(concurrent.futures.as_completed(futures), 1):
            path = futures[future]
            executed, seconds, error = future.result()
            if error is not None:
                failed.append(path)
                print(f"[{done}/{len(todo)}] {path.name} 执行失败（{seconds:.0f} 秒）：\n{error}", flush=True)
                continue
            cache.cache_notebook_bundle(
                CacheBundleIn(nbformat.reads(executed, as_version=4), str(path), data={"execution_seconds": seconds}),
                check_validity=False,
                overwrite=True,
            )
            elapsed = (time.perf_counter() - start) / 60
            print(f"[{done}/{len(todo)}] {path.name}：{seconds:.0f} 秒（开始后 {elapsed:.1f} 分钟）", flush=True)
    return failed


def default_jobs() -> str:
    """$BOOK_JOBS as given, or the number of cores up to 4 (parsed by `jobs_count`, as --jobs is)."""
    return os.environ.get("BOOK_JOBS") or str(min(4, os.cpu_count() or 1))


def jobs_count(text: str) -> int:
    """How many notebooks at a time, from --jobs or $BOOK_JOBS: a whole number of at least 1."""
    try:
        jobs = int(text)
    except ValueError:
        jobs = 0
    if jobs < 1:
        raise argparse.ArgumentTypeError(f"--jobs（或环境变量 BOOK_JOBS）应是至少为 1 的整数，实际是 {text!r}")
    return jobs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("build_dir", nargs="?", default="_build", help="the book's build folder (default _build)")
    parser.add_argument(
        "--jobs",
        type=jobs_count,
        default=default_jobs(),  # a string default goes through jobs_count too: a bad $BOOK_JOBS is refused
        help="notebooks at a time (default $BOOK_JOBS, or the number of cores up to 4)",
    )
    parser.add_argument("--root", type=Path, default=ROOT, help="the book's source folder (default: this checkout)")
    args = parser.parse_args(argv)
    todo = pending(args.root, Path(args.build_dir))
    if not todo:
        print("每个笔记本都已在执行缓存中，无需执行")
        return 0
    start = time.perf_counter()
    failed = execute_into_cache(todo, Path(args.build_dir), args.jobs, args.root)
    if failed:
        print("执行失败的笔记本：" + "、".join(p.name for p in failed), file=sys.stderr)
        return 1
    print(f"全部执行完毕，用时 {(time.perf_counter() - start) / 60:.1f} 分钟", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

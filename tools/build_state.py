"""Keep Sphinx's saved state of a book build in step with the rest of the build folder.

    python tools/build_state.py BUILD_DIR [--cache DIR]

BUILD_DIR is a Jupyter Book build folder: `_build` for `make book`,
`_build/quick/_build` for `make book-check`. Sphinx keeps its environment in
BUILD_DIR/.doctrees and re-reads only the pages whose source changed since; a
page it does not re-read is neither executed nor looked up in the execution
cache. Three other parts of the folder are not covered by that bookkeeping:

- BUILD_DIR/jupyter_execute: myst-nb writes `<page>.ipynb` (and the output
  images) there only when it reads a page. The theme's launch buttons copy the
  executed notebook of every Markdown notebook page (book/performance) into
  html/_sources whenever the page is written, so a missing copy there makes the
  HTML step fail with FileNotFoundError; a missing image gives a broken figure.
- the execution cache (default BUILD_DIR/.jupyter_cache): without it the saved
  pages are outputs that no cache holds any more; re-reading executes them again.
- benchmarks/results: the performance page reads these files when it runs
  (`execution_mode: force`), but only runs when Sphinx re-reads it, and Sphinx
  does not know about them.

When one of these is missing or newer than the environment, this script removes
BUILD_DIR/.doctrees, so that the next build reads every page again (pages whose
code is unchanged come from the execution cache, which is quick). A missing
html/ folder needs nothing: Sphinx writes every page that has no HTML file.

The execution cache keys a notebook on its code, not on LLMCOURSE_SEED; so the
seed of the last build is recorded in BUILD_DIR/.llmcourse-run, and a build under
another seed first removes the execution cache and .doctrees (every notebook runs
again, under the new seed).
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# Folders the forced pages read at build time; Sphinx cannot see them (book/performance.md).
UNSEEN_INPUTS = ("benchmarks/results",)
_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*$", re.S | re.M)


def toc_pages(root: Path) -> list[str]:
    """Every page of `_toc.yml` (root first), as a docname without suffix."""
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8")) or {}
    pages = [str(toc["root"])] if toc.get("root") else []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "file" in node:
                pages.append(str(node["file"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk({k: v for k, v in toc.items() if k != "root"})
    return [p.removesuffix(".md").removesuffix(".ipynb") for p in pages]


def is_notebook_page(root: Path, page: str) -> bool:
    """True for a page myst-nb executes: a .ipynb, or a MyST Markdown notebook (front matter
    `file_format: mystnb` or jupytext's `format_name: myst`, as myst_nb.core.read decides)."""
    if (root / f"{page}.ipynb").exists():
        return True
    source = root / f"{page}.md"
    if not source.exists():
        return False
    front = _FRONT_MATTER.match(source.read_text(encoding="utf-8"))
    meta = yaml.safe_load(front.group(1)) if front else None
    if not isinstance(meta, dict):
        return False
    representation = (meta.get("jupytext") or {}).get("text_representation") or {}
    return meta.get("file_format") == "mystnb" or representation.get("format_name") == "myst"


def _newest_mtime(folder: Path) -> float:
    times = [p.stat().st_mtime for p in folder.rglob("*") if p.is_file()] if folder.is_dir() else []
    return max(times, default=0.0)


def stale_reasons(build_dir: str | Path, root: Path = ROOT, cache: str | Path | None = None) -> list[str]:
    """Why BUILD_DIR's saved Sphinx environment no longer matches the folder ([] if it does)."""
    build_dir = Path(build_dir)
    environment = build_dir / ".doctrees" / "environment.pickle"
    if not environment.exists():
        return []  # nothing saved: Sphinx reads every page anyway
    reasons = []
    executed = build_dir / "jupyter_execute"
    missing = [p for p in toc_pages(root) if is_notebook_page(root, p) and not (executed / f"{p}.ipynb").exists()]
    if missing:
        reasons.append(f"{executed} 中缺少 {len(missing)} 个已执行的笔记本（{', '.join(missing[:3])}…）")
    cache = Path(cache) if cache else build_dir / ".jupyter_cache"
    if not cache.exists():
        reasons.append(f"执行缓存 {cache} 不存在")
    saved = environment.stat().st_mtime
    for folder in UNSEEN_INPUTS:
        if _newest_mtime(root / folder) > saved:
            reasons.append(f"{folder} 中有比上次构建更新的文件")
    return reasons


def reset_if_stale(build_dir: str | Path, root: Path = ROOT, cache: str | Path | None = None) -> list[str]:
    """Remove BUILD_DIR/.doctrees when `stale_reasons` finds any; returns the reasons."""
    reasons = stale_reasons(build_dir, root, cache)
    if reasons:
        shutil.rmtree(Path(build_dir) / ".doctrees")
        print(f"删除 {Path(build_dir) / '.doctrees'}，所有页面将重新读取：" + "；".join(reasons), flush=True)
    return reasons


RUN_RECORD = ".llmcourse-run"  # in BUILD_DIR: the seed the saved outputs were computed under


def run_key() -> str:
    """The settings a build's outputs depend on but the execution cache does not see: the seed.

    jupyter-cache keys an executed notebook on its code only, so a build under
    LLMCOURSE_SEED=7 would otherwise show the outputs of the last build under 42.
    A bad LLMCOURSE_SEED stops the build here with the package's own message.
    """
    from llmcourse import config  # tools sit above the package

    return f"{config.SEED_ENV}={config.resolve_seed()}"


def reset_if_run_changed(build_dir: str | Path, key: str, cache: str | Path | None = None) -> bool:
    """Remove the execution cache and .doctrees of BUILD_DIR when its outputs were computed
    under another `key`; then record `key`. True when something was removed."""
    build_dir = Path(build_dir)
    record = build_dir / RUN_RECORD
    cache = Path(cache) if cache else build_dir / ".jupyter_cache"
    previous = record.read_text(encoding="utf-8").strip() if record.exists() else None
    changed = previous is not None and previous != key
    if changed:
        for folder in (cache, build_dir / ".doctrees"):
            shutil.rmtree(folder, ignore_errors=True)
        print(
            f"上次构建用的是 {previous}，这次是 {key}：删除执行缓存 {cache} 和 {build_dir / '.doctrees'}，"
            "所有笔记本将重新执行",
            flush=True,
        )
    build_dir.mkdir(parents=True, exist_ok=True)
    record.write_text(key + "\n", encoding="utf-8")
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python tools/build_state.py",
        description="构建目录中的执行结果或缓存缺失时，删除 Sphinx 的构建记录（.doctrees）。",
    )
    parser.add_argument("build_dir", help="构建目录：_build（make book）或 _build/quick/_build（make book-check）")
    parser.add_argument("--cache", help="执行缓存目录（默认 BUILD_DIR/.jupyter_cache）")
    args = parser.parse_args(argv)
    try:
        key = run_key()
    except ValueError as err:  # a bad LLMCOURSE_SEED: one line, before anything is executed
        print(f"错误：{err}", file=sys.stderr)
        return 2
    reset_if_run_changed(args.build_dir, key, cache=args.cache)
    reset_if_stale(args.build_dir, cache=args.cache)
    return 0


if __name__ == "__main__":
    sys.exit(main())

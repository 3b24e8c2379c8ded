"""The book's caches do what the README says: `make clean-cache` makes the next build
execute every notebook again, and any part of a build folder can be deleted before a build.

Sphinx keeps its own record of the pages it has read (`.doctrees`); a page it does not
re-read is neither executed nor looked up in the execution cache. So `clean-cache`
removes that record together with the caches, and `tools/build_state.py` removes it
before a build when the folder no longer matches it (executed notebooks or the cache
deleted). The last test builds a one-page book (a few seconds) to show both at work.
"""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))  # course tooling lives in tools/, outside the package
import build_state  # noqa: E402

needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
JUPYTER_BOOK = Path(sys.executable).with_name("jupyter-book")


def touch(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- the Makefile


@needs_make
def test_clean_cache_removes_caches_and_build_records(tmp_path):
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    removed = [
        "_build/.jupyter_cache/global.db",
        "_build/.doctrees/environment.pickle",
        "_build/.package-stamp",
        "_build/quick/.package-stamp",
        "_build/quick/_build/.jupyter_cache/global.db",
        "_build/quick/_build/.doctrees/environment.pickle",
        "_build/.student-work/_build/.doctrees/environment.pickle",
    ]
    kept = [
        "_build/html/index.html",
        "_build/jupyter_execute/notebooks/01_background.ipynb",
        "_build/quick/_build/html/index.html",
    ]
    for name in removed + kept:
        touch(tmp_path / name)
    own_cache = touch(tmp_path / "own-cache" / "segments" / "entry")
    default_cache = touch(tmp_path / "home" / ".cache" / "llmcourse" / "models" / "entry")

    env = dict(os.environ, LLMCOURSE_CACHE_DIR=str(tmp_path / "own-cache"), HOME=str(tmp_path / "home"))
    subprocess.run(["make", "clean-cache"], cwd=tmp_path, env=env, check=True, capture_output=True)
    assert not own_cache.exists() and default_cache.exists()
    env.pop("LLMCOURSE_CACHE_DIR")
    subprocess.run(["make", "clean-cache"], cwd=tmp_path, env=env, check=True, capture_output=True)
    assert not default_cache.exists()

    assert [name for name in removed if (tmp_path / name).exists()] == []
    assert [name for name in kept if not (tmp_path / name).exists()] == []


@needs_make
def test_builds_check_their_saved_state_first():
    done = subprocess.run(["make", "-n", "book", "book-check"], cwd=ROOT, check=True, capture_output=True, text=True)
    lines = done.stdout.splitlines()

    def first(text: str) -> int:
        return next(i for i, line in enumerate(lines) if text in line)

    assert first("tools/build_state.py _build") < first("jupyter-book build . --keep-going")
    assert first("tools/build_state.py _build/quick/_build") < first("jupyter-book build . --path-output _build/quick")


# ---------------------------------------------------------------- tools/build_state.py on a fake build folder


NOTEBOOK_PAGE = (
    "---\njupytext:\n  text_representation:\n    format_name: myst\nkernelspec:\n  name: python3\n---\n\n# P\n"
)


@pytest.fixture
def book(tmp_path):
    """A source tree with two notebook pages and a plain page, and a complete build of it."""
    root = tmp_path / "src"
    touch(root / "_toc.yml", "format: jb-book\nroot: intro\nchapters:\n  - file: notebooks/ch1\n  - file: page.md\n")
    touch(root / "intro.md", "# Intro\n")
    touch(root / "notebooks" / "ch1.ipynb", "{}")
    touch(root / "page.md", NOTEBOOK_PAGE)
    build = tmp_path / "_build"
    for name in ("jupyter_execute/notebooks/ch1.ipynb", "jupyter_execute/page.ipynb", ".jupyter_cache/global.db"):
        touch(build / name)
    old = time.time() - 60
    os.utime(touch(root / "benchmarks" / "results" / "speed.json"), (old, old))
    touch(build / ".doctrees" / "environment.pickle")
    return root, build


def test_notebook_pages_are_those_myst_nb_executes(book):
    root, _ = book
    touch(root / "kernel_only.md", "---\nkernelspec:\n  name: python3\n---\n# K\n")
    assert build_state.toc_pages(root) == ["intro", "notebooks/ch1", "page"]
    assert [
        p for p in ("intro", "notebooks/ch1", "page", "kernel_only", "missing") if build_state.is_notebook_page(root, p)
    ] == ["notebooks/ch1", "page"]


def test_a_complete_build_is_left_alone(book):
    root, build = book
    assert build_state.reset_if_stale(build, root) == []
    assert (build / ".doctrees" / "environment.pickle").exists()
    shutil.rmtree(build / ".doctrees")
    assert build_state.stale_reasons(build, root) == [], "no saved state: nothing to reset"


@pytest.mark.parametrize("deleted", ["jupyter_execute/page.ipynb", "jupyter_execute", ".jupyter_cache"])
def test_a_deleted_part_resets_the_saved_state(book, deleted):
    root, build = book
    target = build / deleted
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    assert len(build_state.reset_if_stale(build, root)) == 1
    assert not (build / ".doctrees").exists()


def test_new_benchmark_results_reset_the_saved_state(book):
    root, build = book
    touch(root / "benchmarks" / "results" / "speed.json", "{}")
    os.utime(build / ".doctrees" / "environment.pickle", (time.time() - 30, time.time() - 30))
    assert build_state.stale_reasons(build, root) == ["benchmarks/results 中有比上次构建更新的文件"]


def test_another_seed_empties_the_execution_cache(book):
    root, build = book
    assert build_state.reset_if_run_changed(build, "LLMCOURSE_SEED=42") is False, "first build: nothing to compare"
    assert (build / ".jupyter_cache" / "global.db").exists() and (build / ".doctrees").exists()
    assert build_state.reset_if_run_changed(build, "LLMCOURSE_SEED=42") is False
    assert build_state.reset_if_run_changed(build, "LLMCOURSE_SEED=7") is True
    assert not (build / ".jupyter_cache").exists() and not (build / ".doctrees").exists()
    assert (build / build_state.RUN_RECORD).read_text(encoding="utf-8").strip() == "LLMCOURSE_SEED=7"


def test_the_run_key_follows_the_environment(monkeypatch):
    monkeypatch.delenv("LLMCOURSE_SEED", raising=False)
    assert build_state.run_key() == "LLMCOURSE_SEED=42"
    monkeypatch.setenv("LLMCOURSE_SEED", "7")
    assert build_state.run_key() == "LLMCOURSE_SEED=7"


def test_a_bad_seed_stops_before_the_build(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LLMCOURSE_SEED", "seven")
    assert build_state.main([str(tmp_path / "_build")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("错误：环境变量 LLMCOURSE_SEED='seven' 无效") and "\n" not in err
    assert not (tmp_path / "_build").exists()


def test_another_cache_can_be_named(book):
    root, build = book
    assert build_state.stale_reasons(build, root, cache=root / "elsewhere") != []
    assert build_state.stale_reasons(build, root, cache=build / ".jupyter_cache") == []


# ---------------------------------------------------------------- a real (one-page) build


TINY_CONFIG = """title: tiny
only_build_toc_files: true
execute:
  execute_notebooks: cache
repository:
  url: https://github.com/example/tiny
  branch: main
launch_buttons:
  colab_url: https://colab.research.google.com
"""


@pytest.mark.skipif(not JUPYTER_BOOK.exists(), reason="jupyter-book is not installed")
def test_a_real_build_after_deleting_parts(tmp_path):
    """With launch buttons, the theme copies jupyter_execute/page.ipynb of a Markdown notebook
    into html/_sources whenever it writes the page. Deleting html/ and jupyter_execute/ makes
    Sphinx write the page without reading it again (its record says it is up to date), so the
    copy is missing and the build fails with FileNotFoundError, unless the record goes too."""
    src, out = tmp_path / "src", tmp_path / "out"
    touch(src / "_config.yml", TINY_CONFIG)
    touch(src / "_toc.yml", "format: jb-book\nroot: intro\nchapters:\n  - file: page\n")
    touch(src / "intro.md", "# Intro\n")
    touch(src / "page.md", NOTEBOOK_PAGE + "\n```{code-cell} ipython3\nprint(6 * 7)\n```\n")
    build = out / "_build"

    def build_book() -> int:
        """Build as `make book` does; returns how many notebooks were executed."""
        build_state.reset_if_stale(build, src)
        done = subprocess.run(
            [str(JUPYTER_BOOK), "build", str(src), "--path-output", str(out)],
            capture_output=True,
            text=True,
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return done.stdout.count("Executing notebook")

    assert build_book() == 1
    shutil.rmtree(build / "html")
    shutil.rmtree(build / "jupyter_execute")
    assert build_book() == 0, "the page comes from the execution cache"
    assert (build / "html" / "_sources" / "page.ipynb").exists()
    for name in (".jupyter_cache", ".doctrees"):  # what make clean-cache removes
        shutil.rmtree(build / name)
    assert build_book() == 1, "after clean-cache every notebook runs again"

"""tools/execute_book.py runs the book's notebooks two at a time before `make book`'s jupyter-book build,
and the build then finds every page in its execution cache: it renders them without executing any.

Shown on a two-page book (a few seconds): the two notebooks overlap in time, the build
executes nothing, and a failing notebook is named, with exit status 1, and left uncached.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))  # course tooling lives in tools/, outside the package
import execute_book  # noqa: E402

JUPYTER_BOOK = Path(sys.executable).with_name("jupyter-book")
CONFIG = "title: tiny\nonly_build_toc_files: true\nexecute:\n  execute_notebooks: cache\n  timeout: 60\n"


def notebook(path: Path, *sources: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def timed_cell(name: str) -> str:
    """A cell that records when it ran (start and end, in seconds) and prints a known line."""
    return (
        "import time, pathlib\n"
        "start = time.time(); time.sleep(1.5)\n"
        f"pathlib.Path('{name}.span').write_text(f'{{start}} {{time.time()}}')\n"
        f"print('{name}', 6 * 7)"
    )


@pytest.fixture
def tiny_book(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "_config.yml").write_text(CONFIG, encoding="utf-8")
    (src / "_toc.yml").write_text(
        "format: jb-book\nroot: intro\nchapters:\n  - file: notebooks/a\n  - file: notebooks/b\n", encoding="utf-8"
    )
    (src / "intro.md").write_text("# Intro\n", encoding="utf-8")
    notebook(src / "notebooks" / "a.ipynb", timed_cell("a"))
    notebook(src / "notebooks" / "b.ipynb", timed_cell("b"))
    return src, tmp_path / "out"


def test_the_pages_are_those_of_the_toc_in_book_order(tiny_book):
    src, _ = tiny_book
    assert [p.name for p in execute_book.toc_notebooks(src)] == ["a.ipynb", "b.ipynb"]
    assert [p.name for p in execute_book.toc_notebooks()][:2] == ["01_background.ipynb", "02_core_concepts.ipynb"]


def test_longest_first_and_unmeasured_before_measured():
    paths = [Path(f"{name}.ipynb") for name in ("short", "long", "new", "middle")]
    seconds = {"short.ipynb": 3.0, "long.ipynb": 200.0, "middle.ipynb": 40.0}
    assert [p.stem for p in execute_book.longest_first(paths, seconds)] == ["new", "long", "middle", "short"]


def test_the_settings_come_from_the_book_config():
    assert execute_book.execution_settings() == {"timeout": 900, "allow_errors": False}


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_book_executes_before_it_builds():
    done = subprocess.run(["make", "-n", "book"], cwd=ROOT, check=True, capture_output=True, text=True)
    lines = done.stdout.splitlines()
    order = [next(i for i, line in enumerate(lines) if text in line) for text in ("execute_book.py", "jupyter-book")]
    assert order[0] < order[1]


@pytest.mark.skipif(not JUPYTER_BOOK.exists(), reason="jupyter-book is not installed")
def test_executed_in_parallel_then_rendered_without_executing(tiny_book):
    src, out = tiny_book
    build = out / "_build"
    assert execute_book.main(["--root", str(src), "--jobs", "2", str(build)]) == 0
    (a_start, a_end), (b_start, b_end) = (
        map(float, (src / "notebooks" / f"{n}.span").read_text().split()) for n in "ab"
    )
    assert a_start < b_end and b_start < a_end, "the two notebooks ran at the same time"
    assert execute_book.pending(src, build) == []
    assert execute_book.main(["--root", str(src), str(build)]) == 0  # nothing left to run

    done = subprocess.run(
        [str(JUPYTER_BOOK), "build", str(src), "--path-output", str(out)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Executing notebook" not in done.stdout and done.stdout.count("Using cached notebook") == 2
    assert "a 42" in (build / "html" / "notebooks" / "a.html").read_text(encoding="utf-8")


def test_a_failing_notebook_is_named_and_not_cached(tiny_book, capsys):
    src, out = tiny_book
    notebook(src / "notebooks" / "b.ipynb", "raise ValueError('坏了')")
    assert execute_book.main(["--root", str(src), "--jobs", "2", str(out / "_build")]) == 1
    captured = capsys.readouterr()
    assert "b.ipynb 执行失败" in captured.out and "ValueError" in captured.out
    assert "执行失败的笔记本：b.ipynb" in captured.err
    assert [p.name for p in execute_book.pending(src, out / "_build")] == ["b.ipynb"]


@pytest.mark.parametrize("jobs", ["0", "-1", "two", "1.5"])
def test_bad_jobs_is_refused(capsys, jobs):
    with pytest.raises(SystemExit) as stop:
        execute_book.main(["--jobs", jobs])
    assert stop.value.code == 2 and f"应是至少为 1 的整数，实际是 '{jobs}'" in capsys.readouterr().err


def test_a_bad_book_jobs_variable_is_refused_in_one_line(capsys, monkeypatch):
    monkeypatch.setenv("BOOK_JOBS", "many")
    with pytest.raises(SystemExit) as stop:
        execute_book.main([])
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert stop.value.code == 2 and "BOOK_JOBS" in error and "'many'" in error and "Traceback" not in error

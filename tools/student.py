"""Student edition: the book and the chapter notebooks without solutions.

    python tools/student.py [--output _build/student] [--notebooks-only]
                            [--repository-url URL] [--branch BRANCH]

Like fast.ai's "clean" notebooks, the student copies are generated, never kept
by hand. `make student` runs this script from the repository root and writes

    <output>/html/        the book with every solution hidden (publish this folder)
    <output>/notebooks/   one notebook per chapter: outputs cleared, solution cells
                          removed, an answer cell after every exercise

The book is built by `jupyter-book build` with a configuration generated from
`_config.yml` (never a second hand-kept copy): sphinx-exercise's
`hide_solutions`, no `_sources` copy and no download button, so neither the
pages, the search index nor a downloadable source holds a solution. The
execution cache is the one of the normal build of the same profile
(`_build/.jupyter_cache` for full, `_build/quick/_build/.jupyter_cache` for
quick), so notebooks whose code is unchanged are not executed again.

This is course tooling, not part of the `llmcourse` package: it imports the
package (for the exercise checks and the run profile), never the other way.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

from llmcourse import config as course_config
from llmcourse import exercises

import build_state  # tools/build_state.py, next to this script

SOLUTION_TAG = "solution"  # cell tag of every solution cell (CONTRIBUTING.md)
ANSWER_TAG = "answer"  # tag of the answer cells the student copies add
INSTRUCTOR_PAGES = ("book/instructor",)  # pages left out of the student edition
STUDENT_TITLE_SUFFIX = "（学生版）"

PROSE_PLACEHOLDER = "✍️ 在这里写下你的答案。"
CODE_PLACEHOLDER = "# 你的代码"
STUDENT_BANNER = (
    "> **学生版**：本笔记本由 `make student` 从课程仓库自动生成，练习的参考答案已经移除。"
    "每道练习后面留有作答的单元格；运行结果以你自己的运行为准。"
)

# An opening fence of a MyST directive, e.g. ```{exercise} title  or  ::::{solution} ch1-ex2
_FENCE = re.compile(r"^(?P<fence>`{3,}|:{3,})\{(?P<name>[a-z-]+)\}(?P<arg>.*)$")
_LABEL = re.compile(r"^:label:\s*(\S+)\s*$", re.M)
_CODE_FENCE = re.compile(r"^(`{3,}|~{3,})\s*(?:python|py|ipython3?|\{code-cell\}.*)\s*$")
_ASKS_FOR_CODE = re.compile(r"补全|改错|实验|写代码|编程|实现|代码")
_ASKS_FOR_PROSE = re.compile(r"[？?]|说明|解释|为什么|推导|证明|手算|预期|观察")


# ---------------------------------------------------------------------------
# notebooks


def cell_source(cell: dict) -> str:
    """A cell's source as one string (nbformat allows a string or a list of lines)."""
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def directive_blocks(text: str, name: str) -> list[tuple[int, int]]:
    """(start, end) line ranges of every top-level `name` directive in MyST text."""
    lines = text.splitlines()
    blocks, i = [], 0
    while i < len(lines):
        match = _FENCE.match(lines[i].strip())
        if match and match.group("name") == name:
            fence = match.group("fence")
            end = i + 1
            while end < len(lines):
                closing = lines[end].strip()
                if closing and set(closing) == {fence[0]} and len(closing) >= len(fence):
                    break
                end += 1
            blocks.append((i, min(end, len(lines) - 1)))
            i = end + 1
        else:
            i += 1
    return blocks


def strip_solutions(text: str) -> str:
    """`text` without its `{solution}` directives (fence to closing fence)."""
    blocks = directive_blocks(text, SOLUTION_TAG)
    if not blocks:
        return text
    lines = _lines(text)
    drop = {k for start, end in blocks for k in range(start, end + 1)}
    kept = "".join(line for k, line in enumerate(lines) if k not in drop)
    return re.sub(r"\n{3,}", "\n\n", kept).strip("\n") + ("\n" if kept.strip() else "")


def is_solution_cell(cell: dict) -> bool:
    """True for a cell tagged `solution`, or a cell that holds nothing but solutions."""
    if SOLUTION_TAG in cell.get("metadata", {}).get("tags", []):
        return True
    text = cell_source(cell)
    return bool(directive_blocks(text, SOLUTION_TAG)) and not strip_solutions(text).strip()


def exercises_in(text: str) -> list[dict]:
    """The exercise directives in MyST text: label, title, body and template code."""
    found = []
    lines = text.splitlines()
    for start, end in directive_blocks(text, "exercise"):
        title = _FENCE.match(lines[start].strip()).group("arg").strip()
        body = "\n".join(lines[start + 1 : end])
        label = _LABEL.search(body)
        prose, code = split_code(body)
        found.append(
            {"label": label.group(1) if label else None, "title": title, "body": body, "prose": prose, "code": code}
        )
    return found


def split_code(body: str) -> tuple[str, list[str]]:
    """(the text without its Python code blocks, the code blocks).

    A code block left open runs to the end of `body`: that is how MyST reads a
    ```python block inside a ```{exercise} fenced with three backticks too.
    """
    prose, code, block, fence = [], [], None, ""
    for line in body.splitlines():
        if block is None:
            match = _CODE_FENCE.match(line.strip())
            if match:
                block, fence = [], match.group(1)
            else:
                prose.append(line)
        elif line.strip() and set(line.strip()) == {fence[0]} and len(line.strip()) >= len(fence):
            code.append("\n".join(block))
            block = None
        else:
            block.append(line)
    if block is not None:
        code.append("\n".join(block))
    return "\n".join(prose), [c for c in code if c.strip()]


def _new_cell(kind: str, source: str, cell_id: str) -> dict:
    cell = {"cell_type": kind, "id": cell_id, "metadata": {"tags": [ANSWER_TAG]}, "source": _lines(source)}
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def check_usage(label: str) -> str:
    """Commented-out lines that run the exercise's check (llmcourse.exercises), if it has one."""
    if label not in exercises.USAGE:
        return ""
    how, call = exercises.USAGE[label]
    first = "# 写完后用下面两行检查答案（去掉行首的 #）" + (f"；{how}" if how else "") + "："
    return f"{first}\n# from llmcourse import exercises\n# {call}"


def answer_cells(exercise: dict, index: int) -> list[dict]:
    """The empty answer cells that follow an exercise in the student notebook."""
    label = exercise["label"] or f"exercise-{index}"
    text = exercise["title"] + "\n" + exercise["prose"]
    wants_code = bool(exercise["code"]) or bool(_ASKS_FOR_CODE.search(exercise["title"]))
    wants_prose = not wants_code or bool(_ASKS_FOR_PROSE.search(text))
    cells = []
    if wants_code:
        code = CODE_PLACEHOLDER
        if exercise["code"]:
            template = "\n\n".join(block.strip("\n") for block in exercise["code"])
            code = f"{CODE_PLACEHOLDER}：补全练习中的代码（___ 和 ... 处）\n{template}"
        usage = check_usage(label)
        if usage:
            code += "\n\n" + usage
        cells.append(_new_cell("code", code + "\n", f"{label}-code"[:64]))
    if wants_prose:
        cells.append(_new_cell("markdown", f"**你的答案（{label}）**\n\n{PROSE_PLACEHOLDER}\n", f"{label}-answer"[:64]))
    return cells


def student_notebook(notebook: dict) -> dict:
    """A student copy of a chapter notebook (the input is left unchanged).

    Outputs and execution counts are cleared, solution cells (tag `solution`,
    or any `{solution}` directive) are removed, and every exercise cell is
    followed by answer cells: a code cell (with the exercise's code template
    when it has one) for exercises that ask for code, a markdown cell for those
    that ask a question.
    """
    nb = copy.deepcopy(notebook)
    cells = []
    n_exercises = 0
    for cell in nb.get("cells", []):
        if is_solution_cell(cell):
            continue
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
            cell.get("metadata", {}).pop("execution", None)
        text = cell_source(cell)
        if cell.get("cell_type") == "markdown" and directive_blocks(text, SOLUTION_TAG):
            cell["source"] = _lines(strip_solutions(text))
        cells.append(cell)
        if cell.get("cell_type") == "markdown":
            for exercise in exercises_in(cell_source(cell)):
                n_exercises += 1
                cells.extend(answer_cells(exercise, n_exercises))
    if cells and cells[0].get("cell_type") == "markdown":
        cells.insert(
            1,
            {"cell_type": "markdown", "id": "student-edition", "metadata": {}, "source": _lines(STUDENT_BANNER + "\n")},
        )
    nb["cells"] = cells
    nb.setdefault("metadata", {})["llmcourse"] = {"edition": "student"}
    return nb


def read_notebook(path: str | os.PathLike) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def write_notebook(notebook: dict, path: str | os.PathLike) -> None:
    """Write in nbformat's own layout (one-space indent, UTF-8 kept readable)."""
    Path(path).write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def write_student_notebooks(source_dir: str | os.PathLike, output_dir: str | os.PathLike) -> list[Path]:
    """Student copies of every `*.ipynb` in source_dir; old copies are replaced."""
    output_dir = Path(output_dir)
    if output_dir.exists():
        shutil.rmtree(output_dir)
    output_dir.mkdir(parents=True)
    written = []
    for path in sorted(Path(source_dir).glob("*.ipynb")):
        target = output_dir / path.name
        write_notebook(student_notebook(read_notebook(path)), target)
        written.append(target)
    return written


# ---------------------------------------------------------------------------
# book configuration


def default_cache(root: Path, profile: str) -> Path:
    """The execution cache of the normal build of this profile (see the Makefile)."""
    if profile == "quick":
        return root / "_build" / "quick" / "_build" / ".jupyter_cache"
    return root / "_build" / ".jupyter_cache"


def student_config(
    config: dict,
    cache: str | os.PathLike,
    repository_url: str | None = None,
    branch: str | None = None,
) -> dict:
    """The student edition's Jupyter Book configuration, derived from `_config.yml`'s.

    repository_url: a repository that holds the student notebooks under
    `notebooks/`; the launch (Colab) and repository buttons then point at it.
    Without it, those buttons are removed, since the course repository holds
    the solutions.
    """
    cfg = copy.deepcopy(config)
    cfg["title"] = str(cfg.get("title", "")) + STUDENT_TITLE_SUFFIX
    cfg.setdefault("execute", {})["cache"] = str(Path(cache).resolve())

    html = cfg.setdefault("html", {})
    html["use_edit_page_button"] = False
    if repository_url:
        repo = cfg.setdefault("repository", {})
        repo["url"] = repository_url
        repo["path_to_book"] = ""
        if branch:
            repo["branch"] = branch
    else:
        cfg.pop("launch_buttons", None)
        html["use_repository_button"] = False
        html["use_issues_button"] = False

    sphinx = cfg.setdefault("sphinx", {})
    sphinx["recursive_update"] = True  # keep the theme options _config.yml sets (launch buttons...)
    sphinx_config = sphinx.get("config") or {}
    sphinx["config"] = sphinx_config
    sphinx_config["hide_solutions"] = True  # sphinx-exercise: solutions never reach the doctree
    sphinx_config["html_copy_source"] = False  # no _sources/ copy of the notebooks
    sphinx_config["html_show_sourcelink"] = False
    theme = sphinx_config.get("html_theme_options") or {}
    theme["use_download_button"] = False  # its .ipynb/.md links would point at the sources
    sphinx_config["html_theme_options"] = theme
    extensions = list(sphinx.get("extra_extensions") or [])
    if "sphinx_exercise" not in extensions:
        extensions.append("sphinx_exercise")
    sphinx["extra_extensions"] = extensions
    return cfg


def student_toc(toc: object, drop: tuple[str, ...] = INSTRUCTOR_PAGES) -> object:
    """The table of contents without the instructor pages."""

    def keep(entry: object) -> bool:
        return not (isinstance(entry, dict) and str(entry.get("file", "")).removesuffix(".md") in drop)

    if isinstance(toc, list):
        return [student_toc(e, drop) for e in toc if keep(e)]
    if isinstance(toc, dict):
        return {k: student_toc(v, drop) for k, v in toc.items()}
    return toc


def anchor_paths(config: dict, root: Path) -> dict:
    """`config` with its local extension paths made absolute (Jupyter Book reads them
    relative to the configuration file, which the student build writes elsewhere)."""
    sphinx = config.get("sphinx") or {}
    local = sphinx.get("local_extensions") or {}
    for name, path in list(local.items()):
        local[name] = str((root / path).resolve())
    return config


def _dump_yaml(data: object, path: Path) -> None:
    header = "# 由 tools/student.py 从仓库根目录的同名文件生成，不要手工修改。\n"
    path.write_text(header + yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def write_student_config(
    root: Path, work: Path, profile: str, cache: Path | None = None, **options
) -> tuple[Path, Path]:
    """Write the student `_config.yml` and `_toc.yml` next to the build folder."""
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8")) or {}
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8")) or {}
    if cache is None:
        configured = (config.get("execute") or {}).get("cache")
        cache = root / configured if configured else default_cache(root, profile)
    work.mkdir(parents=True, exist_ok=True)
    config_path = work.parent / "student_config.yml"
    toc_path = work.parent / "student_toc.yml"
    _dump_yaml(anchor_paths(student_config(config, cache, **options), root), config_path)
    _dump_yaml(student_toc(toc), toc_path)
    return config_path, toc_path


# ---------------------------------------------------------------------------
# the whole edition


def find_root() -> Path:
    """The repository root: the folder holding _config.yml above tools/, else the cwd."""
    here = Path(__file__).resolve().parents[1]
    return here if (here / "_config.yml").exists() else Path.cwd()


def _jupyter_book() -> list[str]:
    script = Path(sys.executable).with_name("jupyter-book")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from jupyter_book.cli.main import main; sys.exit(main())"]


def build(
    root: str | os.PathLike | None = None,
    output: str | os.PathLike | None = None,
    profile: str | None = None,
    cache: str | os.PathLike | None = None,
    work: str | os.PathLike | None = None,
    notebooks_only: bool = False,
    repository_url: str | None = None,
    branch: str | None = None,
    quiet: bool = False,
) -> Path:
    """Build the student edition into `output` (default `<root>/_build/student`); returns it.

    work: Sphinx's own output folder (default `<output>/../.student-work`): its
    doctrees and executed notebooks still hold the solutions, so only the HTML
    is copied into `output`. Its saved Sphinx state is dropped first when it no
    longer matches the folder or the cache (tools/build_state.py).
    """
    root = Path(root).resolve() if root else find_root()
    output = Path(output).resolve() if output else root / "_build" / "student"
    work = Path(work).resolve() if work else output.parent / ".student-work"
    profile = profile or course_config.active_profile()

    notebooks = write_student_notebooks(root / "notebooks", output / "notebooks")
    if not quiet:
        print(f"学生版笔记本：{len(notebooks)} 个，写入 {output / 'notebooks'}")
    if notebooks_only:
        return output

    config_path, toc_path = write_student_config(
        root, work, profile, Path(cache).resolve() if cache else None, repository_url=repository_url, branch=branch
    )
    used_cache = yaml.safe_load(config_path.read_text(encoding="utf-8"))["execute"]["cache"]
    build_state.reset_if_stale(work / "_build", root, cache=used_cache)
    command = [
        *_jupyter_book(),
        "build",
        str(root),
        "--config",
        str(config_path),
        "--toc",
        str(toc_path),
        "--path-output",
        str(work),
        "--keep-going",
    ]
    env = dict(os.environ, LLMCOURSE_PROFILE=profile)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=root, env=env, capture_output=quiet, text=True)
    if done.returncode != 0:
        tail = (done.stdout or "")[-4000:] + (done.stderr or "")[-4000:] if quiet else ""
        raise RuntimeError(f"学生版构建失败（退出码 {done.returncode}）：{' '.join(command)}\n{tail}")
    html = output / "html"
    if html.exists():
        shutil.rmtree(html)
    shutil.copytree(work / "_build" / "html", html)
    if not quiet:
        print(f"学生版网页（{profile} 规模，用时 {time.perf_counter() - start:.0f} 秒）：{html / 'index.html'}")
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python tools/student.py", description="生成不含参考答案的学生版书籍和笔记本。"
    )
    parser.add_argument("--output", help="输出目录（默认 _build/student）")
    parser.add_argument(
        "--profile", choices=["full", "quick"], help="运行规模（默认取 LLMCOURSE_PROFILE，未设置时为 full）"
    )
    parser.add_argument("--cache", help="执行缓存目录（默认使用同一规模的普通构建的缓存）")
    parser.add_argument("--notebooks-only", action="store_true", help="只生成学生版笔记本，不构建网页")
    parser.add_argument("--repository-url", help="存放学生版笔记本（notebooks/ 下）的仓库；Colab 按钮指向它")
    parser.add_argument("--branch", help="该仓库的分支（默认沿用 _config.yml）")
    args = parser.parse_args(argv)
    build(
        output=args.output,
        profile=args.profile,
        cache=args.cache,
        notebooks_only=args.notebooks_only,
        repository_url=args.repository_url,
        branch=args.branch,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

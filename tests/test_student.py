"""The student edition: no solution text anywhere in it, every exercise still there.

The build test builds the book twice under the quick profile (once as is, once
as the student edition) into a temporary folder, both with the execution cache
of `make book-check` (`_build/quick/_build/.jupyter_cache`): a notebook is
executed at most once, and book-check then finds it cached.
"""

import copy
import html
import json
import os
import re
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
import yaml

from llmcourse import exercises

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))  # the student builder is course tooling: tools/student.py, not in the package
import build_state  # noqa: E402
import student  # noqa: E402

NOTEBOOKS = sorted(ROOT.glob("notebooks/*.ipynb"))
CJK_RUN = re.compile(r"[\u4e00-\u9fff，。；：、“”（）！？《》]{12,}")


# ---------------------------------------------------------------- helpers


def load(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def public_text():
    """Every source text a reader may see: non-solution cells and the Markdown pages."""
    parts = [p.read_text(encoding="utf-8") for p in ROOT.glob("book/*.md")]
    for path in NOTEBOOKS:
        for cell in load(path)["cells"]:
            if not student.is_solution_cell(cell):
                parts.append(student.strip_solutions(student.cell_source(cell)))
    return "\n".join(parts)


def snippets(text, public, k=2):
    """Pieces of `text` that occur nowhere in `public`: up to k CJK prose runs and k code lines."""
    prose, code, in_code = [], [], False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("```") and not stripped.startswith("````"):
            in_code = not in_code
            continue
        if stripped.startswith(("````", ":::", ":class:", ":label:")):
            continue
        if in_code:
            if len(stripped) >= 20:
                code.append(stripped[:40].rstrip())
        else:
            prose += [run[:30] for run in CJK_RUN.findall(stripped)]

    def best(found):
        found = [s for s in dict.fromkeys(found) if s not in public]
        return sorted(found, key=len, reverse=True)[:k]

    return best(prose) + best(code)


def solution_snippets():
    """{(notebook stem, label): snippets} for every solution cell."""
    public = public_text()
    out = {}
    for path in NOTEBOOKS:
        for cell in load(path)["cells"]:
            if student.is_solution_cell(cell):
                source = student.cell_source(cell)
                label = re.search(r"\{solution\}\s*(\S+)", source)
                out[path.stem, label.group(1) if label else source[:20]] = snippets(source, public)
    return out


def exercise_snippets():
    out = {}
    for path in NOTEBOOKS:
        for cell in load(path)["cells"]:
            for exercise in student.exercises_in(student.cell_source(cell)):
                runs = CJK_RUN.findall(exercise["prose"])
                out[path.stem, exercise["label"]] = max(runs, key=len)[:30] if runs else exercise["title"]
    return out


def readable(path: Path) -> str:
    """A file's text as a reader (or a search engine) would see it; '' for binary files."""
    raw = path.read_bytes()
    if path.name == "objects.inv":
        head = raw.split(b"\n", 4)
        raw = b"\n".join(head[:4]) + b"\n" + zlib.decompress(head[4])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return ""
    if path.suffix in {".js", ".json", ".inv"}:
        text = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)
    if path.suffix == ".ipynb":
        nb = json.loads(text)
        cells = [student.cell_source(c) for c in nb["cells"]]
        outputs = [json.dumps(c.get("outputs", []), ensure_ascii=False) for c in nb["cells"]]
        return "\n".join(cells + outputs)
    if path.suffix in {".html", ".htm"}:
        visible = html.unescape(re.sub(r"<[^>]+>", "", text))
        return text + "\n" + visible
    return text


def all_text(folder: Path) -> dict[Path, str]:
    return {p: readable(p) for p in folder.rglob("*") if p.is_file()}


def visible_text(html_dir: Path) -> str:
    return "\n".join(
        html.unescape(re.sub(r"<[^>]+>", "", p.read_text(encoding="utf-8"))) for p in html_dir.rglob("*.html")
    )


def index_terms(html_dir: Path) -> set[str]:
    raw = (html_dir / "searchindex.js").read_text(encoding="utf-8")
    index = json.loads(raw[raw.index("(") + 1 : raw.rindex(")")])
    return set(index["terms"]) | set(index["titleterms"])


# ---------------------------------------------------------------- the notebook transform (fast)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_student_notebook(path):
    original = load(path)
    before = copy.deepcopy(original)
    nb = student.student_notebook(original)
    assert original == before, "student_notebook must not change its input"

    n_solutions = sum(student.is_solution_cell(c) for c in original["cells"])
    exercises_before = [e["label"] for c in original["cells"] for e in student.exercises_in(student.cell_source(c))]
    assert n_solutions == len(exercises_before) > 0, "every exercise has its solution cell"
    cells = nb["cells"]
    assert not any(student.is_solution_cell(c) or "{solution}" in student.cell_source(c) for c in cells)
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in cells if c["cell_type"] == "code")
    assert len({c["id"] for c in cells}) == len(cells), "cell ids stay unique"

    for i, cell in enumerate(cells):
        found = student.exercises_in(student.cell_source(cell))
        if not found:
            continue
        answers = []
        for following in cells[i + 1 :]:
            if student.ANSWER_TAG not in following["metadata"].get("tags", []):
                break
            answers.append(following)
        assert answers, f"no answer cell after {found[0]['label']}"
        sources = "".join(student.cell_source(a) for a in answers)
        assert student.PROSE_PLACEHOLDER in sources or student.CODE_PLACEHOLDER in sources
        label = found[0]["label"]
        if "补全代码" in found[0]["title"]:
            code = [a for a in answers if a["cell_type"] == "code"]
            assert code, f"{label} asks for code but has no code cell"
            assert "___" in student.cell_source(code[0]) or "..." in student.cell_source(code[0])
        if label in exercises.USAGE:
            assert exercises.USAGE[label][1] in sources


def test_written_notebooks_are_valid(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    written = student.write_student_notebooks(ROOT / "notebooks", tmp_path / "nb")
    assert [p.name for p in written] == [p.name for p in NOTEBOOKS]
    for path in written:
        nbformat.validate(nbformat.read(path, as_version=4))


def test_mixed_cell_and_three_backtick_exercise():
    exercise = "```{exercise} 补全代码：示例\n:label: chX-ex1\n\n说明为什么？\n\n```python\nx = ___\n```\n```\n"
    solution = "````{solution} chX-ex1\n:class: dropdown\n\n```python\nx = 42\n```\n答案是四十二。\n````\n"
    cell = {"cell_type": "markdown", "id": "a", "metadata": {}, "source": exercise + "\n" + solution}
    nb = student.student_notebook(
        {
            "cells": [{"cell_type": "markdown", "id": "t", "metadata": {}, "source": "# 标题"}, cell],
            "metadata": {},
            "nbformat": 4,
            "nbformat_minor": 5,
        }
    )
    text = "".join(student.cell_source(c) for c in nb["cells"])
    assert "x = 42" not in text and "四十二" not in text and "x = ___" in text
    kinds = [c["cell_type"] for c in nb["cells"] if student.ANSWER_TAG in c["metadata"].get("tags", [])]
    assert kinds == ["code", "markdown"]


def test_student_config_and_toc():
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    before = copy.deepcopy(config)
    cfg = student.student_config(config, cache="/tmp/cache")
    assert config == before
    sphinx_config = cfg["sphinx"]["config"]
    assert sphinx_config["hide_solutions"] is True and sphinx_config["html_copy_source"] is False
    assert sphinx_config["html_theme_options"]["use_download_button"] is False
    assert cfg["sphinx"]["recursive_update"] is True and "sphinx_exercise" in cfg["sphinx"]["extra_extensions"]
    assert cfg["execute"]["cache"] == str(Path("/tmp/cache").resolve())
    assert "launch_buttons" not in cfg and cfg["html"]["use_repository_button"] is False
    for key, value in config.get("sphinx", {}).get("config", {}).items():
        assert sphinx_config[key] == value, "the book's own Sphinx settings are kept"

    linked = student.student_config(
        config, cache="c", repository_url="https://github.com/me/course-student", branch="s"
    )
    assert linked["repository"]["url"].endswith("course-student") and linked["repository"]["branch"] == "s"
    assert linked.get("launch_buttons") == config.get("launch_buttons")

    toc = {
        "root": "book/intro",
        "chapters": [{"file": "notebooks/01_background"}, {"file": "book/instructor"}],
        "parts": [{"chapters": [{"file": "book/instructor.md"}, {"file": "book/glossary"}]}],
    }
    assert student.student_toc(toc) == {
        "root": "book/intro",
        "chapters": [{"file": "notebooks/01_background"}],
        "parts": [{"chapters": [{"file": "book/glossary"}]}],
    }


# ---------------------------------------------------------------- the two builds (slow: one pair per session)


@pytest.fixture(scope="module")
def editions(tmp_path_factory):
    """(normal html, student output folder), both built under the quick profile."""
    out = tmp_path_factory.mktemp("editions")
    cache = student.default_cache(ROOT, "quick")
    env = dict(os.environ, LLMCOURSE_PROFILE="quick", TF_CPP_MIN_LOG_LEVEL="2")

    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    config.setdefault("execute", {})["cache"] = str(cache)
    student.anchor_paths(config, ROOT)
    normal_config = out / "normal_config.yml"
    normal_config.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    command = [
        *student._jupyter_book(),
        "build",
        str(ROOT),
        "--config",
        str(normal_config),
        "--path-output",
        str(out / "normal"),
        "--keep-going",
    ]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    output = student.build(root=ROOT, output=out / "student", work=out / "student-work", profile="quick", quiet=True)
    return out / "normal" / "_build" / "html", output


def test_student_output_layout(editions):
    normal, output = editions
    assert sorted(p.name for p in output.iterdir()) == ["html", "notebooks"]
    html_dir = output / "html"
    assert (html_dir / "index.html").exists() and (html_dir / "searchindex.js").exists()
    assert not (html_dir / "_sources").exists() and (normal / "_sources").exists()
    assert not list(html_dir.rglob("*.ipynb"))
    page = (html_dir / "notebooks" / "01_background.html").read_text(encoding="utf-8")
    assert "download-source-button" not in page and "download-notebook-button" not in page
    assert 'class="solution' not in page and 'class="solution' in (
        normal / "notebooks" / "01_background.html"
    ).read_text("utf-8")
    assert "学生版" in page
    in_book = {Path(f).stem for f in build_state.toc_pages(ROOT)}
    assert {p.stem for p in html_dir.rglob("*.html")} >= in_book - {"instructor"}
    assert not (html_dir / "book" / "instructor.html").exists()
    assert sorted(p.name for p in (output / "notebooks").glob("*.ipynb")) == [p.name for p in NOTEBOOKS]


def test_no_solution_text_in_the_student_edition(editions):
    normal, output = editions
    solutions = solution_snippets()
    assert solutions and all(solutions.values()), {k: v for k, v in solutions.items() if not v}
    in_book = {Path(f).stem for f in build_state.toc_pages(ROOT)}

    normal_text = "\n".join(all_text(normal).values())
    for (chapter, label), pieces in solutions.items():
        if chapter in in_book:  # the check below means something only if the normal edition shows them
            assert any(p in normal_text for p in pieces), f"{label}: {pieces} 不在普通版中（检查片段的提取）"

    leaks = []
    for path, content in all_text(output).items():
        for (_chapter, label), pieces in solutions.items():
            leaks += [(str(path.relative_to(output)), label, p) for p in pieces if p in content]
    assert not leaks, leaks[:10]


def test_no_solution_words_in_the_student_search_index(editions):
    import jieba

    normal, output = editions
    html_dir = output / "html"
    student_terms, normal_terms = index_terms(html_dir), index_terms(normal)
    shown = visible_text(html_dir)
    in_book = {Path(f).stem for f in build_state.toc_pages(ROOT)}
    words = set()
    for path in NOTEBOOKS:
        if path.stem not in in_book:
            continue
        for cell in load(path)["cells"]:
            if student.is_solution_cell(cell):
                words |= {
                    w
                    for w in jieba.cut_for_search(student.cell_source(cell))
                    if len(w) >= 2 and re.fullmatch(r"[\u4e00-\u9fff]+", w)
                }
    only_in_solutions = {w for w in words if w not in shown}
    indexed = only_in_solutions & normal_terms
    assert indexed, "the normal edition should index some words that only solutions use"
    assert not (only_in_solutions & student_terms), sorted(only_in_solutions & student_terms)[:20]


def test_exercises_are_in_the_student_edition(editions):
    _, output = editions
    html_text = "\n".join(readable(p) for p in (output / "html").rglob("*.html"))
    notebook_text = "\n".join(readable(p) for p in (output / "notebooks").glob("*.ipynb"))
    in_book = {Path(f).stem for f in build_state.toc_pages(ROOT)}
    for (chapter, label), piece in exercise_snippets().items():
        assert piece in notebook_text, f"{label} 不在学生版笔记本中"
        if chapter in in_book:
            assert piece in html_text, f"{label} 不在学生版网页中"
            assert f'id="{label}"' in html_text

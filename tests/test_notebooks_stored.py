"""Notebooks are committed as CONTRIBUTING.md says: outputs cleared except the cells nbval compares,
in nbformat's layout (so that `git diff` shows changed lines), and every compared cell carries the
execution count nbval needs to treat it as run (a compared cell without one fails nbval with
"Unrun reference cell has outputs")."""

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import strip_outputs  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stored_as_the_hook_writes_it(path):
    assert strip_outputs.needs_change(path) is False, f"运行 python tools/strip_outputs.py {path.relative_to(ROOT)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_compared_cells_were_run(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    unrun = [
        i
        for i, c in enumerate(cells)
        if c["cell_type"] == "code"
        and strip_outputs.is_checked(c)
        and (c.get("execution_count") is None or not c.get("outputs"))
    ]
    assert unrun == [], (
        f"{path.name} 的单元格 {unrun} 标了 NBVAL_CHECK_OUTPUT 却没有执行结果：运行 tools/refresh_checked_outputs.py"
    )


def test_a_hand_edited_output_is_caught(tmp_path):
    nb = json.loads(NOTEBOOKS[0].read_text(encoding="utf-8"))
    plain = next(c for c in nb["cells"] if c["cell_type"] == "code" and not strip_outputs.is_checked(c))
    plain["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["0.8583\n"]}]
    edited = tmp_path / "edited.ipynb"
    edited.write_text(json.dumps(nb, ensure_ascii=False), encoding="utf-8")
    assert strip_outputs.needs_change(edited) is True


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_compared_cells_do_not_glue(path):
    # A glued value is an output only where MyST-NB is installed (the book build); on Colab and in
    # `make compat` book.glue stores nothing, so a compared cell that glues would differ there.
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    gluing = [
        i
        for i, c in enumerate(cells)
        if c["cell_type"] == "code" and strip_outputs.is_checked(c) and "glue" in "".join(c["source"])
    ]
    assert gluing == [], (
        f"{path.name} 的单元格 {gluing} 既标了 NBVAL_CHECK_OUTPUT 又调用 book.glue：把 glue 移到下一个单元格"
    )

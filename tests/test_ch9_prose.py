"""Chapter 9's exercise solutions run on the installed Keras and say what they print.

The solutions are Markdown (the book does not execute them), so nothing else would
notice when a library change breaks them or makes their explanation wrong: exercise 3's
explanation of what Keras does with per-step predictions and sentence labels, in
particular, is checked here against the shapes the solution code prints.
"""

import contextlib
import io
import json
import re
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "09_appendix.ipynb"


def solution(label: str) -> tuple[str, str]:
    """(python code, prose) of the {solution} of exercise `label` in chapter 9."""
    for cell in json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]:
        source = "".join(cell["source"])
        if re.search(r"\{solution\}\s*" + re.escape(label) + r"\b", source):
            code = re.search(r"```python\n(.*?)```", source, re.S).group(1)
            return code, source.replace(code, "")
    raise AssertionError(f"第 9 章没有 {label} 的参考答案")


def run(code: str) -> str:
    """What `code` prints."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "<solution>", "exec"), {})
    return out.getvalue()


def test_flat_word_list_gives_single_characters():
    code, _ = solution("ch9-ex1")
    wrong, right = run(code).splitlines()
    assert all(len(w) == 1 for w in eval(wrong))
    assert "干净" in eval(right) and "房间" in eval(right)


def test_sigmoid_twice_cannot_go_below_its_floor():
    code, prose = solution("ch9-ex2")
    rows = [line.split() for line in run(code).splitlines()]
    wrong_losses = [float(r[3]) for r in rows]
    assert min(wrong_losses) > 0.31 and "0.31" in prose
    right_gradient_at_minus_4 = float(rows[0][2])
    assert right_gradient_at_minus_4 == pytest.approx(-1, abs=0.05)  # “梯度接近 −1”


def test_per_step_predictions_broadcast_against_sentence_labels():
    code, prose = solution("ch9-ex3")
    printed = run(code)
    assert "return_sequences=True：输出形状 (2, 5, 1)" in printed
    assert "return_sequences=False：输出形状 (2, 1)" in printed
    assert "标签减每步输出： (2, 5, 2)" in printed  # (B,) against (B, T, 1) gives (B, T, B), not a copy per step
    assert "均方误差（不求平均）： (2, 5)" in printed
    assert "二元交叉熵：ValueError" in printed  # Keras 3 refuses labels of another rank
    assert "标签先变成 (2, 1, 1) 再减： (2, 5, 1)" in printed
    for shape in ("`(2, 5, 2)`", "`(2, 5)`", "`ValueError`", "`(2, 5, 1)`"):
        assert shape in prose

"""The prose carries no typed measurement: every digit is glued, printed by code, or structural.

`tools/prose_check.py` lists the digits of every Markdown cell and book page that are
neither inside code, mathematics or a role ({glue:text}, {ref}, {cite}, ...) nor
structural (chapter and exercise numbers, years, list markers, a short list of names).
"""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import prose_check  # noqa: E402

SOURCES = prose_check.book_sources()


@pytest.mark.parametrize("path", SOURCES, ids=[p.name for p in SOURCES])
def test_no_typed_number_in_the_prose(path):
    found = prose_check.report([path])
    assert not found, "这些数字是手写的：改为 {glue:text} 粘贴、由代码打印，或写成公式/代码\n" + "\n".join(found)


@pytest.mark.parametrize(
    "sentence",
    [
        "平均模型的测试准确率是 0.8583。",
        "每轮二十秒左右，共 18,051 个词。",
        "p 值为 0.056，差距不显著。",
        "- 训练只用了 38 秒",
    ],
)
def test_a_typed_measurement_is_caught(sentence):
    assert prose_check.typed_numbers(sentence)


@pytest.mark.parametrize(
    "sentence",
    [
        "平均模型的测试准确率是 {glue:text}`ch5_acc:.4f`。",
        "见第 3 章和第 4、5 章，以及练习 2。",
        "## 5.2 源代码实现",
        "1. 读入评论",
        "原文 4.1 节说 2017 年以后的模型都用 Transformer。",
        "用 `seed=42` 训练 Word2Vec，报告 F1；公式 $h_t = o_t \\odot \\tanh(c_t)$。",
        "```python\nx = 3\n```",
        ":::{admonition} 提示\n:class: tip\n按 {ref}`sec-5-2` 做。\n:::",
        "[链接](https://example.org/a1b2)",
    ],
)
def test_structure_code_math_and_roles_are_allowed(sentence):
    assert not prose_check.typed_numbers(sentence)


def test_a_number_typed_into_a_notebook_fails_the_check(tmp_path):
    notebook = json.loads(SOURCES[0].read_text(encoding="utf-8"))
    notebook["cells"].append({"cell_type": "markdown", "metadata": {}, "source": ["测试准确率为 0.8600。"]})
    edited = tmp_path / SOURCES[0].name
    edited.write_text(json.dumps(notebook, ensure_ascii=False), encoding="utf-8")
    found = prose_check.report([edited])
    assert any("0.8600" in line for line in found)


def test_code_inside_a_directive_is_still_code():
    text = "```{exercise}\n:label: ex-1\n试试看：\n\n```python\nmodel.fit(x, epochs=5)\n```\n```"
    assert not prose_check.typed_numbers(text)
    assert prose_check.typed_numbers("```{note}\n训练了 5 轮\n```")


def rejected_terms() -> dict[str, str]:
    """{rejected: chosen} from the terminology table of CONTRIBUTING.md."""
    text = (Path(__file__).resolve().parents[1] / "CONTRIBUTING.md").read_text(encoding="utf-8")
    table = text.split("## 术语表", 1)[1].split("\n## ", 1)[0]
    pairs = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0] not in ("概念", "---"):
            for word in cells[2].split("、"):
                pairs[word] = cells[1]
    return pairs


def test_the_terminology_table_is_read():
    assert rejected_terms()["隐藏状态"] == "隐状态"


@pytest.mark.parametrize("path", SOURCES, ids=[p.name for p in SOURCES])
def test_one_term_per_concept(path):
    used = []
    for where, markdown in prose_check.markdown_of(path):
        for word, chosen in rejected_terms().items():
            if word in markdown:
                used.append(f"{where}：“{word}”应写作“{chosen}”")
    assert not used, "\n".join(used)

"""The Colab install cells and metadata agree with the one source of truth (tools/colab.py).

The repository URL lives in _config.yml, the version in pyproject.toml, the way Colab installs the
package in [tool.llmcourse.colab]; `make colab-cells` writes every notebook's install cell and Colab
metadata, CITATION.cff and [project.urls] from them. These tests fail when any copy disagrees,
e.g. a notebook whose cell was edited by hand, and check the tool on copies of the notebooks.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import colab  # noqa: E402  (tools/colab.py)

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
FORK = "https://github.com/someone/my-course"


def test_every_notebook_agrees_with_the_source_of_truth():
    problems = colab.problems(ROOT)
    assert not problems, "运行 make colab-cells 重新生成：\n" + "\n".join(problems)


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 9


@pytest.fixture
def checkout(tmp_path):
    """A copy of what the tool reads and writes: _config.yml, pyproject.toml, CITATION.cff, notebooks/."""
    for name in ("_config.yml", "pyproject.toml", "CITATION.cff"):
        shutil.copy2(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks", ignore=shutil.ignore_patterns("*.py"))
    colab.write_all(tmp_path)
    assert colab.problems(tmp_path) == []
    return tmp_path


def _first_code_cell(path: Path) -> dict:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return next(c for c in nb["cells"] if c["cell_type"] == "code")


def test_changing_the_url_in_one_place_changes_every_install_cell(checkout):
    config = checkout / "_config.yml"
    config.write_text(
        config.read_text(encoding="utf-8").replace(colab.read_source(ROOT).repository, FORK), encoding="utf-8"
    )
    stale = colab.problems(checkout)
    names = {p.name for p in (checkout / "notebooks").glob("*.ipynb")}
    assert {line.split("：")[0] for line in stale} >= names | {"CITATION.cff", "pyproject.toml"}
    changed = colab.write_all(checkout)
    assert len(changed) == len(names) + 2
    assert colab.problems(checkout) == []
    version = colab.read_source(checkout).version
    for path in (checkout / "notebooks").glob("*.ipynb"):
        source = "".join(_first_code_cell(path)["source"])
        assert f'%pip install -q "llmcourse @ git+{FORK}@v{version}"' in source
    assert f'repository-code: "{FORK}"' in (checkout / "CITATION.cff").read_text(encoding="utf-8")
    assert f'Homepage = "{FORK}"' in (checkout / "pyproject.toml").read_text(encoding="utf-8")


def test_a_new_version_changes_every_pin(checkout):
    pyproject = checkout / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    old = colab.read_source(checkout).version
    pyproject.write_text(text.replace(f'version = "{old}"', 'version = "9.8.7"', 1), encoding="utf-8")
    assert len(colab.problems(checkout)) >= len(NOTEBOOKS)
    colab.write_all(checkout)
    for path in (checkout / "notebooks").glob("*.ipynb"):
        assert '@v9.8.7"' in "".join(_first_code_cell(path)["source"])
    assert 'version: "9.8.7"' in (checkout / "CITATION.cff").read_text(encoding="utf-8")


def test_pypi_mode_pins_the_release(checkout):
    pyproject = checkout / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    pyproject.write_text(text.replace('install-from = "git-tag"', 'install-from = "pypi"'), encoding="utf-8")
    source = colab.read_source(checkout)
    assert source.requirement == f"llmcourse=={source.version}"
    colab.write_all(checkout)
    cell = "".join(_first_code_cell(next((checkout / "notebooks").glob("*.ipynb")))["source"])
    assert f'%pip install -q "llmcourse=={source.version}"' in cell


def test_an_unknown_install_mode_is_refused(checkout):
    pyproject = checkout / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    pyproject.write_text(text.replace('install-from = "git-tag"', 'install-from = "conda"'), encoding="utf-8")
    with pytest.raises(ValueError, match="install-from"):
        colab.read_source(checkout)


def _edit(path: Path, change) -> None:
    nb = json.loads(path.read_text(encoding="utf-8"))
    change(nb)
    path.write_text(colab.notebook_text(nb), encoding="utf-8")


def _code(nb: dict) -> dict:
    return next(c for c in nb["cells"] if c["cell_type"] == "code")


HAND_EDITS = {
    "unpinned install": lambda nb: _code(nb).update(source=["".join(_code(nb)["source"]).replace("@v", "@main-")]),
    "another repository": lambda nb: _code(nb).update(
        source=["".join(_code(nb)["source"]).replace("https://github.com/", "https://gitlab.com/")]
    ),
    "tag removed": lambda nb: _code(nb)["metadata"].update(tags=[]),
    "output kept": lambda nb: _code(nb).update(execution_count=1),
    "no accelerator": lambda nb: nb["metadata"].pop("accelerator"),
    "another kernel": lambda nb: nb["metadata"]["kernelspec"].update(name="python2"),
    "no provenance": lambda nb: nb["metadata"]["colab"].pop("provenance"),
    "cell moved down": lambda nb: nb["cells"].insert(
        nb["cells"].index(_code(nb)),
        {"cell_type": "code", "execution_count": None, "id": "x", "metadata": {}, "outputs": [], "source": ["1 + 1"]},
    ),
    "second install cell": lambda nb: nb["cells"].append(dict(_code(nb), id="y")),
}


@pytest.mark.parametrize("edit", sorted(HAND_EDITS))
def test_a_notebook_edited_by_hand_is_caught(checkout, edit):
    path = sorted((checkout / "notebooks").glob("*.ipynb"))[3]
    _edit(path, HAND_EDITS[edit])
    problems = colab.problems(checkout)
    assert problems and all(line.startswith(path.name) for line in problems), problems
    colab.write_all(checkout)
    assert colab.problems(checkout) == []


def test_the_tool_is_idempotent_and_keeps_everything_else(checkout):
    before = {p.name: p.read_text(encoding="utf-8") for p in (checkout / "notebooks").glob("*.ipynb")}
    assert colab.write_all(checkout) == []
    for name, text in before.items():
        original = json.loads((ROOT / "notebooks" / name).read_text(encoding="utf-8"))
        rewritten = json.loads(text)
        assert len(rewritten["cells"]) == len(original["cells"])
        for old, new in zip(original["cells"], rewritten["cells"]):
            if not colab.is_install_cell(old):
                assert new == old


def test_a_notebook_without_an_install_cell_gets_one(checkout):
    path = sorted((checkout / "notebooks").glob("*.ipynb"))[0]
    _edit(path, lambda nb: nb["cells"].remove(_code(nb)))
    assert colab.problems(checkout)
    colab.write_all(checkout)
    assert colab.problems(checkout) == []
    assert "remove-cell" in _first_code_cell(path)["metadata"]["tags"]


def test_the_install_cell_is_valid_ipython():
    from IPython.core.inputtransformer2 import TransformerManager

    source = colab.read_source(ROOT)
    code = TransformerManager().transform_cell(colab.install_source(source))
    compile(code, "<install cell>", "exec")
    assert "pip" in code and source.requirement in code


def test_the_requirement_is_a_valid_pep508_requirement():
    from packaging.requirements import Requirement

    source = colab.read_source(ROOT)
    req = Requirement(source.requirement)
    assert req.name == "llmcourse"
    if source.install_from == "git-tag":
        assert req.url == f"git+{source.repository}@v{source.version}"
    else:
        assert str(req.specifier) == f"=={source.version}"

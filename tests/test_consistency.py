"""The conda environment and pyproject.toml must name the same packages."""

import sys
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]


def pyproject_requirements():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    reqs = list(project["dependencies"])
    for group in project["optional-dependencies"].values():
        reqs.extend(group)
    return {Requirement(r).name.lower(): str(Requirement(r).specifier) for r in reqs}


def environment_requirements():
    env = yaml.safe_load((ROOT / "environment.yml").read_text("utf-8"))
    pip_items = [d for d in env["dependencies"] if isinstance(d, dict)]
    assert len(pip_items) == 1, "environment.yml 应只有一个 pip: 段"
    reqs = [r for r in pip_items[0]["pip"] if not r.startswith("-e")]
    return {Requirement(r).name.lower(): str(Requirement(r).specifier) for r in reqs}


def test_environment_mirrors_pyproject():
    assert environment_requirements() == pyproject_requirements()


def test_environment_installs_the_package_itself():
    env = yaml.safe_load((ROOT / "environment.yml").read_text("utf-8"))
    pip_items = [d for d in env["dependencies"] if isinstance(d, dict)][0]["pip"]
    assert "-e ." in pip_items


def test_python_range_matches():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text("utf-8"))
    conda_python = [d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python")]
    assert conda_python == ["python" + project["requires-python"]]


def test_jupyter_book_is_pinned_below_2():
    spec = pyproject_requirements()["jupyter-book"]
    assert "<2" in spec and ">=1.0.4" in spec

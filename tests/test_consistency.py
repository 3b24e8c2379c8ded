"""The conda environment, the Makefile, the lock and pyproject.toml must agree on the packages."""

import re
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


def _spec(text):
    req = Requirement(text)
    return req.name.lower(), (str(req.specifier), str(req.marker or ""))


def pyproject_requirements():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    reqs = list(project["dependencies"])
    for group in project["optional-dependencies"].values():
        reqs.extend(group)
    out = {}
    for r in reqs:
        name, spec = _spec(r)
        assert out.setdefault(name, spec) == spec, f"{name} 在 pyproject.toml 的两个依赖组里范围不同"
    return {name: spec for name, (spec, marker) in out.items()}, {n: m for n, (s, m) in out.items()}


def environment_requirements():
    env = yaml.safe_load((ROOT / "environment.yml").read_text("utf-8"))
    pip_items = [d for d in env["dependencies"] if isinstance(d, dict)]
    assert len(pip_items) == 1, "environment.yml 应只有一个 pip: 段"
    reqs = [r for r in pip_items[0]["pip"] if not r.startswith("-e")]
    out = dict(_spec(r) for r in reqs)
    return {name: spec for name, (spec, marker) in out.items()}, {n: m for n, (s, m) in out.items()}


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


def test_environment_markers_match():
    assert environment_requirements()[1] == pyproject_requirements()[1]


def test_jupyter_book_is_pinned_below_2():
    spec = pyproject_requirements()[0]["jupyter-book"]
    assert "<2" in spec and ">=1.0.4" in spec


def _all_extras():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    return set(project["optional-dependencies"])


def test_make_installs_every_extra_from_the_lock():
    makefile = (ROOT / "Makefile").read_text("utf-8")
    extras = re.search(r"^EXTRAS\s*:=\s*(\S+)$", makefile, re.M).group(1)
    assert set(extras.split(",")) == _all_extras()
    assert re.search(r"^LOCK\s*:=\s*requirements/lock\.txt$", makefile, re.M)
    assert '-c $(LOCK) -e ".[$(EXTRAS)]"' in makefile
    assert (ROOT / "requirements" / "lock.txt").is_file()


def test_environment_points_at_the_lock():
    text = (ROOT / "environment.yml").read_text("utf-8")
    extras = re.search(r'-c requirements/lock\.txt -e "\.\[([a-z,]+)\]"', text).group(1)
    assert set(extras.split(",")) == _all_extras()


def test_ci_runs_test_and_compat():
    script = (ROOT / ".ci" / "run").read_text("utf-8")
    assert script.index("make test") < script.index("make compat")

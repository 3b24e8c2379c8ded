"""Packaging and publishing: declared dependencies, the lock, floors, licences, citation, workflows, hooks."""

from __future__ import annotations

import ast
import importlib.metadata as metadata
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import check_offline_html  # noqa: E402  (tests/check_offline_html.py)
import colab  # noqa: E402  (tools/colab.py)
import compat  # noqa: E402  (tools/compat.py)
import lock  # noqa: E402  (tools/lock.py)

PYPROJECT = colab.tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
SOURCE_DIRS = ("llmcourse", "tools", "tests", "benchmarks", "notebooks")
# modules of this repository imported by name (tools/, tests/, benchmarks/ put their folder on sys.path)
LOCAL = {"llmcourse"} | {
    path.stem for folder in ("tools", "tests", "benchmarks") for path in (ROOT / folder).glob("*.py")
}
OPTIONAL = {"tomli"}  # imported only where tomllib is missing (Python 3.10); declared with a marker


def declared() -> set[str]:
    names = {canonicalize_name(Requirement(r).name) for r in PROJECT["dependencies"]}
    for reqs in PROJECT["optional-dependencies"].values():
        names |= {canonicalize_name(Requirement(r).name) for r in reqs}
    return names


def _imports_of(code: str) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module.split(".")[0])
    return out


def imported_modules() -> dict[str, set[str]]:
    """{top-level module: files importing it} over the repository's Python files and notebook code."""
    from IPython.core.inputtransformer2 import TransformerManager

    found: dict[str, set[str]] = {}
    for folder in SOURCE_DIRS:
        for path in (ROOT / folder).rglob("*.py"):
            for name in _imports_of(path.read_text(encoding="utf-8")):
                found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
        for path in (ROOT / folder).glob("*.ipynb"):
            for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
                if cell["cell_type"] == "code":
                    code = TransformerManager().transform_cell("".join(cell["source"]))
                    for name in _imports_of(code):
                        found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_imported_distribution_is_declared():
    """Every third-party module the repository imports comes from a distribution pyproject.toml names."""
    owners = metadata.packages_distributions()
    missing = {}
    for module, files in sorted(imported_modules().items()):
        if module in sys.stdlib_module_names or module in LOCAL or module in OPTIONAL or module == "__future__":
            continue
        dists = {canonicalize_name(d) for d in owners.get(module, [])}
        assert dists, f"{module}（{sorted(files)[:3]}）不是任何已安装的包提供的"
        if not dists & declared():
            missing[module] = (sorted(dists), sorted(files)[:3])
    assert not missing, f"导入了但没有在 pyproject.toml 中声明：{missing}"


def test_the_core_package_declares_what_it_imports_at_module_level():
    """Modules of llmcourse/ (not deploy/) import at the top only the core dependencies."""
    core = {canonicalize_name(Requirement(r).name) for r in PROJECT["dependencies"]}
    owners = metadata.packages_distributions()
    for path in (ROOT / "llmcourse").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:  # module level only: deferred imports are optional on purpose
            names = _imports_of(ast.unparse(node)) if isinstance(node, (ast.Import, ast.ImportFrom)) else set()
            for module in names - sys.stdlib_module_names - LOCAL - {"__future__"}:
                dists = {canonicalize_name(d) for d in owners.get(module, [])}
                assert dists & core, f"{path.name} 在模块顶层导入 {module}，但它不是核心依赖"


def test_the_version_has_one_source():
    import llmcourse

    assert llmcourse.__version__ == PROJECT["version"], "llmcourse/__init__.py 的 __version__ 与 pyproject.toml 不一致"


def test_every_requirement_has_one_floor():
    """Each requirement names the oldest version `make compat` installs (a floor, >=)."""
    for text in PROJECT["dependencies"] + [r for reqs in PROJECT["optional-dependencies"].values() for r in reqs]:
        req = Requirement(text)
        lows = [s for s in req.specifier if s.operator == ">="]
        assert len(lows) == 1, f"{text}：需要且只需要一个下限（>=）"


def test_compat_installs_every_core_floor():
    pins = dict(p.split("==") for p in compat.floors(PYPROJECT))
    for text in PROJECT["dependencies"]:
        req = Requirement(text)
        assert pins[canonicalize_name(req.name)] == next(s.version for s in req.specifier if s.operator == ">=")
    assert "tensorflow" in pins and "keras" in pins


def test_known_floors_are_honest():
    """Floors that are known not to work together (issue 17) stay fixed."""
    from packaging.version import Version

    def floor(name):
        for text in PROJECT["dependencies"]:
            req = Requirement(text)
            if canonicalize_name(req.name) == name:
                return Version(next(s.version for s in req.specifier if s.operator == ">="))
        raise KeyError(name)

    assert floor("matplotlib") >= Version("3.9.2")  # zhplot 1.0 requires it
    assert floor("gensim") >= Version("4.4")  # gensim 4.3 caps numpy below 2
    assert floor("numpy") >= Version("2.0")
    assert floor("pandas") >= Version("2.2.2")  # the first pandas built for NumPy 2


def test_the_lock_covers_pyproject():
    assert lock.stale() == [], "运行 make lock"


def test_the_environment_matches_the_lock():
    """The installed versions are the locked ones (make install installs with -c requirements/lock.txt)."""
    pins = lock.read_lock()
    wrong = {}
    for name, version in pins.items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            wrong[name] = (version, None)
            continue
        if installed != version:
            wrong[name] = (version, installed)
    assert not wrong, f"与锁文件不一致（锁定, 已安装）：{wrong}；运行 make install 或 make lock"


def test_licences():
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")
    assert PROJECT["license"] == "MIT" and "LICENSE" in PROJECT["license-files"]
    text = (ROOT / "LICENSE-TEXT.md").read_text(encoding="utf-8")
    assert "CC BY-SA 4.0" in text and "creativecommons.org/licenses/by-sa/4.0" in text
    footer = CONFIG["html"]["extra_footer"]
    assert "CC BY-SA 4.0" in footer and "MIT" in footer


def test_citation_file_is_valid_and_current():
    import jsonschema

    schema_path = Path(__import__("check_jsonschema").__file__).parent / "builtin_schemas" / "vendor"
    schema = json.loads((schema_path / "citation-file-format.json").read_text(encoding="utf-8"))
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    jsonschema.validators.validator_for(schema)(schema).validate(citation)
    assert citation["version"] == PROJECT["version"]
    assert citation["repository-code"] == colab.read_source(ROOT).repository
    assert citation["license"] == PROJECT["license"]


def test_logo_and_favicon():
    for key, value in (("logo", CONFIG["logo"]), ("favicon", CONFIG["html"]["favicon"])):
        path = ROOT / value
        assert path.is_file() and path.stat().st_size > 0, f"{key}: {value}"
    assert (ROOT / CONFIG["logo"]).read_text(encoding="utf-8").lstrip().startswith("<?xml")
    assert (ROOT / CONFIG["html"]["favicon"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_mathjax_is_shipped_with_the_book():
    sphinx = CONFIG["sphinx"]
    assert "sphinx-mathjax-offline" in sphinx["extra_extensions"]
    assert not check_offline_html.is_remote(sphinx["config"]["mathjax_path"])
    package = Path(metadata.distribution("sphinx-mathjax-offline").locate_file("sphinx-mathjax-offline"))
    assert (package / "static" / sphinx["config"]["mathjax_path"]).is_file()


@pytest.mark.parametrize(
    ("html", "bad"),
    [
        ('<script src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"></script>', True),
        ('<script src="//cdnjs.cloudflare.com/require.js"></script>', True),
        ('<link rel="stylesheet" href="https://fonts.googleapis.com/css">', True),
        ('<a href="https://creativecommons.org/licenses/by-sa/4.0/">CC</a>', False),
        ('<script src="_static/mathjax/tex-chtml.js"></script>', False),
        ("<script>var x = 1;</script>", False),
        ('<img src="data:image/png;base64,AAAA">', False),
    ],
)
def test_offline_check_finds_remote_loads(tmp_path, html, bad):
    (tmp_path / "_static" / "mathjax").mkdir(parents=True)
    (tmp_path / "_static" / "mathjax" / "tex-chtml.js").write_text("", encoding="utf-8")
    page = tmp_path / "index.html"
    page.write_text(f"<html><head>{html}</head></html>", encoding="utf-8")
    problems, _ = check_offline_html.page_problems(page, page.read_text(encoding="utf-8"))
    assert bool(problems) == bad


def test_offline_check_wants_local_mathjax(tmp_path):
    (tmp_path / "index.html").write_text("<html><script src='_static/app.js'></script></html>", encoding="utf-8")
    (tmp_path / "_static").mkdir()
    (tmp_path / "_static" / "app.js").write_text("", encoding="utf-8")
    assert any("MathJax" in p for p in check_offline_html.check(tmp_path))


WORKFLOWS = ROOT / ".github" / "workflows"


def test_workflows_do_what_the_course_needs():
    ci = yaml.safe_load((WORKFLOWS / "ci.yml").read_text(encoding="utf-8"))
    trigger = ci[True]  # YAML 1.1 reads the key `on` as True
    assert "push" in trigger and "pull_request" in trigger
    assert any("bash .ci/run" in step.get("run", "") for step in ci["jobs"]["ci"]["steps"])

    pages = (WORKFLOWS / "pages.yml").read_text(encoding="utf-8")
    for needed in ("make book", "make student", "_build/student/html", "site/student", "actions/deploy-pages"):
        assert needed in pages

    release = yaml.safe_load((WORKFLOWS / "release.yml").read_text(encoding="utf-8"))
    assert release[True]["push"]["tags"] == ["v*"]
    publish = release["jobs"]["publish"]
    assert publish["permissions"] == {"id-token": "write"}  # trusted publishing: no token
    assert any(step.get("uses", "").startswith("pypa/gh-action-pypi-publish") for step in publish["steps"])


def test_workflow_linter_is_clean():
    actionlint = shutil.which("actionlint", path=str(Path(sys.executable).parent))
    if actionlint is None:
        pytest.skip("actionlint 没有安装（make install 会安装它）")
    done = subprocess.run([actionlint, "-shellcheck=", "-pyflakes="], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_pre_commit_hooks_pin_the_locked_versions():
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    pins = lock.read_lock()
    hooks = [hook for repo in config["repos"] for hook in repo["hooks"]]
    ids = {hook["id"] for hook in hooks}
    assert {"ruff", "ruff-format", "strip-outputs", "check-json", "check-yaml"} <= ids
    for hook in hooks:
        for dep in hook.get("additional_dependencies", []):
            name, _, version = dep.partition("==")
            if canonicalize_name(name) in pins:
                assert pins[canonicalize_name(name)] == version, f"{hook['id']}: {dep}，锁定的是 {pins[name]}"


def test_readme_tells_a_fork_the_one_thing_to_change():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "repository.url" in readme and "make colab-cells" in readme
    assert re.search(r"make compat", readme) and "make lock" in readme

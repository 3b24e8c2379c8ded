"""The package's layout: imports go one way, deployment is a room of its own, functions stay short.

The imports are read from the source with `ast` (every import, also those inside
functions), so a module that reaches up the chain fails here even if it is never run.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from llmcourse import cache

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "llmcourse"

# Each module may import only modules of a strictly lower layer (see llmcourse/__init__.py).
LAYERS = {
    "llmcourse": 0,
    "llmcourse.config": 0,
    "llmcourse.errors": 0,
    "llmcourse.profiling": 0,
    "llmcourse.cache": 1,
    "llmcourse.registry": 1,
    "llmcourse.data": 2,
    "llmcourse.domains": 2,
    "llmcourse.text": 3,
    "llmcourse.probes": 3,
    "llmcourse.vectors": 4,
    "llmcourse.ngram": 4,
    "llmcourse.reference": 5,
    "llmcourse.models": 5,
    "llmcourse.baselines": 5,
    "llmcourse.training": 6,
    "llmcourse.pretraining": 7,
    "llmcourse.lm": 7,
    "llmcourse.evaluation": 8,
    "llmcourse.subword": 8,
    "llmcourse.plotting": 8,
    "llmcourse.saving": 9,
    "llmcourse.pipeline": 10,
    "llmcourse.exercises": 10,
    "llmcourse.gpt": 10,
    "llmcourse.gptlab": 11,
    # the rooms above the core: the book's prose tools, and deployment
    "llmcourse.book": 12,
    "llmcourse.deploy": 12,
    "llmcourse.deploy.service": 12,
    "llmcourse.deploy.export": 12,
    "llmcourse.deploy.cli": 13,
    "llmcourse.__main__": 14,  # `python -m llmcourse` runs the command line
}
DEPLOY_LAYER = 12
SERVE_DEPENDENCIES = {"fastapi", "uvicorn", "starlette", "pydantic"}
MAX_FUNCTION_LINES = 60


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = sorted(module_name(p) for p in PACKAGE.rglob("*.py"))


def layer(module: str) -> int:
    assert module in LAYERS, f"{module} 不在 LAYERS 中：新模块要在这里和 llmcourse/__init__.py 里登记它的层"
    return LAYERS[module]


def third_party_imports(module: str) -> set[str]:
    tree = ast.parse(cache._source_path(module, PACKAGE).read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("module", MODULES)
def test_imports_go_one_way(module):
    upward = [other for other in cache.imported_modules(module) if layer(other) >= layer(module)]
    assert not upward, f"{module}（第 {layer(module)} 层）导入了同层或更高层的 {upward}"


@pytest.mark.parametrize("module", [m for m in MODULES if layer(m) < DEPLOY_LAYER])
def test_core_never_imports_deployment_dependencies(module):
    assert not third_party_imports(module) & SERVE_DEPENDENCIES


def test_course_tooling_is_outside_the_package():
    assert not (PACKAGE / "student.py").exists() and (ROOT / "tools" / "student.py").is_file()


def test_importing_the_core_does_not_import_fastapi():
    core = [m for m in MODULES if layer(m) < DEPLOY_LAYER]
    code = (
        f"import importlib, sys\nfor m in {core!r}: importlib.import_module(m)\n"
        "print(sorted(d for d in {'fastapi', 'uvicorn', 'starlette'} if d in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_the_layout_check_can_fail(tmp_path):
    """The checks above would catch an upward import and a long function."""
    (tmp_path / "pipeline.py").write_text("")
    (tmp_path / "data.py").write_text("def f():\n    from llmcourse import pipeline\n" + "    x = 1\n" * 70)
    assert "llmcourse.pipeline" in cache.imported_modules("llmcourse.data", tmp_path)
    assert long_functions(tmp_path / "data.py") == [("f", 72)]


def long_functions(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        (node.name, node.end_lineno - node.lineno + 1)
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_functions_are_short(path):
    assert not long_functions(path), f"超过 {MAX_FUNCTION_LINES} 行的函数：{long_functions(path)}"

"""The compatibility check: every notebook, run as on Colab, on the oldest supported versions.

    python tools/compat.py [--work _build/compat] [NOTEBOOK ...]

`make compat` runs it (and `.ci/run` after `make test`). In order:

1. A fresh virtual environment in WORK/venv with the pip of Colab's runtime and, exactly, the floor
   of every requirement of the package and of its `serve` and `test` extras in pyproject.toml
   (`tensorflow>=2.19` installs tensorflow==2.19, ...). A requirement without a floor is an error.
   This is the only step that uses the network (PyPI).
2. The package itself is NOT installed there. Instead the checkout becomes what the install cell
   asks for, offline:
   - install-from = "git-tag": a local git repository WORK/origin holding the checkout, tagged
     v<version>, and a git configuration (GIT_CONFIG_GLOBAL) whose `url.<origin>.insteadOf` sends
     the repository URL of _config.yml there; pip clones the tag and builds the wheel, with the
     build requirements from WORK/wheelhouse;
   - install-from = "pypi": the wheel built from the checkout in WORK/wheelhouse, which pip finds
     for `llmcourse==<version>` through PIP_FIND_LINKS.
   Every notebook step runs with PIP_NO_INDEX=1, pip's configuration files ignored and the HTTP(S)
   proxy pointed at a closed local port, so nothing can come from the network.
3. Colab simulated: a stand-in `google.colab` module on PYTHONPATH, imported by an IPython startup
   file (IPYTHONDIR), as Colab's kernel does; so each notebook's first cell really runs `%pip install`.
4. For each notebook: uninstall llmcourse, run nbval (`pytest --nbval-lax`, LLMCOURSE_PROFILE=quick,
   a course cache of its own), then check that the install cell installed the pinned version (and,
   for git-tag, from the pinned tag of the repository URL).
5. The HTTP service's tests (tests/test_http.py) on the same environment: the `serve` floors.

The versions installed, the time of each step and the total are printed and written to
WORK/report.json. Exit status 1 on any failure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement

import colab  # tools/colab.py, next to this script

ROOT = Path(__file__).resolve().parents[1]
EXTRAS = ("serve", "test")  # extras whose floors are installed; the book's are exercised by the lock
COLAB_PIP = "24.1.2"  # the pip of Colab's runtime (googlecolab/backend-info, pip-freeze.gpu.txt)
BUILD_REQUIREMENTS = ("setuptools>=77", "wheel")  # [build-system] requires, for the offline git build
SERVICE_TESTS = ("tests/test_http.py",)
CLOSED_PORT_PROXY = "http://127.0.0.1:9"  # discard port: nothing listens, so any download fails at once
REPORTED = (
    "tensorflow",
    "keras",
    "numpy",
    "pandas",
    "scipy",
    "scikit-learn",
    "matplotlib",
    "gensim",
    "jieba",
    "snownlp",
    "zhplot",
    "stopwordsiso",
    "tqdm",
    "packaging",
    "fastapi",
    "starlette",
    "pydantic",
    "uvicorn",
    "ipykernel",
    "ipython",
    "pytest",
    "nbval",
    "pip",
)
STUB = '''"""Stand-in for Colab's google.colab (tools/compat.py): the notebooks only test that it is imported."""
'''


def floors(pyproject: dict, extras=EXTRAS) -> list[str]:
    """`name==floor` for every requirement (and of `extras`) that applies to this interpreter."""
    project = pyproject["project"]
    requirements = list(project["dependencies"])
    for extra in extras:
        requirements += project["optional-dependencies"][extra]
    env = default_environment()
    pins: dict[str, str] = {}
    for text in requirements:
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate(env):
            continue
        lows = [s.version for s in req.specifier if s.operator in (">=", "==", "~=")]
        if len(lows) != 1:
            raise ValueError(f"{text}: pyproject.toml 中的每个依赖都要有且只有一个下限（>=）")
        pins[req.name.lower()] = lows[0]
    return [f"{name}=={version}" for name, version in sorted(pins.items())]


def run(cmd, *, env=None, cwd=ROOT, check=True, capture=False) -> subprocess.CompletedProcess:
    print("$", " ".join(str(c) for c in cmd), flush=True)
    return subprocess.run(
        [str(c) for c in cmd],
        env=env,
        cwd=cwd,
        check=check,
        text=True,
        stdout=subprocess.PIPE if capture else None,
        stderr=subprocess.STDOUT if capture else None,
    )


def checkout_files(root: Path = ROOT) -> list[str]:
    """The files of the checkout: tracked and untracked, without what .gitignore ignores."""
    out = run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=root, capture=True).stdout
    return sorted(f for f in out.split("\0") if f and (root / f).is_file())


def make_origin(work: Path, source: colab.Source) -> Path:
    """A git repository holding the checkout as one commit tagged v<version>; returns its path."""
    origin = work / "origin"
    for name in checkout_files():
        target = origin / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    git = ["git", "-c", "user.name=compat", "-c", "user.email=compat@localhost", "-c", "init.defaultBranch=main"]
    run([*git, "init", "-q"], cwd=origin)
    run([*git, "add", "-A"], cwd=origin)
    run([*git, "commit", "-q", "-m", f"checkout for {source.tag}"], cwd=origin)
    run([*git, "tag", source.tag], cwd=origin)
    return origin


def offline_env(work: Path, source: colab.Source, venv: Path) -> dict:
    """The environment of every notebook step: offline pip, redirected git, simulated Colab."""
    gitconfig = work / "gitconfig"
    gitconfig.write_text(f'[url "file://{work / "origin"}"]\n\tinsteadOf = {source.repository}\n', encoding="utf-8")
    stub = work / "colab" / "google" / "colab"
    stub.mkdir(parents=True, exist_ok=True)
    (stub / "__init__.py").write_text(STUB, encoding="utf-8")
    startup = work / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True, exist_ok=True)
    (startup / "00-colab.py").write_text(
        "import google.colab  # noqa: F401  (as Colab's kernel does)\n", encoding="utf-8"
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PIP_")
        and k.lower()
        not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "pythonpath", "virtual_env", "ipythondir")
    }
    env.update(
        {
            "PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
            "VIRTUAL_ENV": str(venv),
            "PIP_NO_INDEX": "1",
            "PIP_FIND_LINKS": str(work / "wheelhouse"),
            "PIP_CONFIG_FILE": os.devnull,
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PIP_NO_CACHE_DIR": "1",
            "http_proxy": CLOSED_PORT_PROXY,
            "https_proxy": CLOSED_PORT_PROXY,
            "HTTP_PROXY": CLOSED_PORT_PROXY,
            "HTTPS_PROXY": CLOSED_PORT_PROXY,
            "no_proxy": "127.0.0.1,localhost",
            "NO_PROXY": "127.0.0.1,localhost",
            "GIT_CONFIG_GLOBAL": str(gitconfig),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0",
            "PYTHONPATH": str(work / "colab"),
            "IPYTHONDIR": str(work / "ipython"),
            "LLMCOURSE_PROFILE": "quick",
            "LLMCOURSE_CACHE_DIR": str(work / "cache"),
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "PYTHONWARNINGS": "ignore::DeprecationWarning:jieba._compat",
        }
    )
    return env


def installed(venv: Path, env: dict, work: Path) -> dict:
    """Version, location and direct_url.json of the llmcourse installed in `venv` (empty: none)."""
    code = (
        "import importlib.metadata as m, json\n"
        "try:\n d = m.distribution('llmcourse')\nexcept m.PackageNotFoundError:\n print('{}')\nelse:\n"
        " import llmcourse\n"
        " print(json.dumps({'version': d.version, 'file': llmcourse.__file__,"
        " 'direct_url': json.loads(d.read_text('direct_url.json') or 'null')}))"
    )
    out = run([venv / "bin" / "python", "-c", code], env=env, cwd=work, capture=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def check_install(info: dict, source: colab.Source, venv: Path) -> list[str]:
    """What is wrong with the llmcourse the install cell left (empty: what the cell pins)."""
    if not info:
        return ["安装单元没有安装 llmcourse（google.colab 没有被导入？）"]
    errors = []
    if info["version"] != source.version:
        errors.append(f"装上的版本是 {info['version']}，不是 {source.version}")
    if not Path(info["file"]).resolve().is_relative_to(venv.resolve()):
        errors.append(f"导入的 llmcourse 来自 {info['file']}，不是虚拟环境")
    direct = info.get("direct_url") or {}
    if source.install_from == "git-tag":
        vcs = direct.get("vcs_info", {})
        if direct.get("url") != source.repository or vcs.get("requested_revision") != source.tag:
            errors.append(f"不是从 {source.repository}@{source.tag} 安装的：{direct}")
    elif direct:
        errors.append(f"应当从轮子（{source.requirement}）安装，却来自 {direct}")
    return errors


def prepare(work: Path, source: colab.Source, pins: list[str], python: str, reuse: bool = False) -> Path:
    """Steps 1-2: the venv with the floors, the wheelhouse, and the origin repository (git-tag).

    With `reuse`, a venv left by an earlier run with the same floors is kept (for working on the
    notebooks; `make compat` always starts afresh).
    """
    venv, stamp = work / "venv", work / "venv-floors.txt"
    pip = [venv / "bin" / "python", "-m", "pip"]
    if not (reuse and stamp.is_file() and stamp.read_text(encoding="utf-8") == "\n".join(pins)):
        shutil.rmtree(venv, ignore_errors=True)
        stamp.unlink(missing_ok=True)
        run([python, "-m", "venv", venv])
        run([*pip, "install", "-q", f"pip=={COLAB_PIP}"])
        run([*pip, "install", "-q", *pins])
        stamp.write_text("\n".join(pins), encoding="utf-8")
    run([*pip, "check"])
    wheelhouse = work / "wheelhouse"
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", wheelhouse, ROOT])
    if source.install_from == "git-tag":
        run([*pip, "download", "-q", "--only-binary", ":all:", "-d", wheelhouse, *BUILD_REQUIREMENTS])
        make_origin(work, source)
    return venv


def versions(venv: Path) -> dict[str, str]:
    code = (
        "import importlib.metadata as m, json, sys\nout = {'python': sys.version.split()[0]}\n"
        f"for n in {REPORTED!r}:\n"
        "    try: out[n] = m.version(n)\n    except m.PackageNotFoundError: pass\nprint(json.dumps(out))"
    )
    return json.loads(run([venv / "bin" / "python", "-c", code], capture=True).stdout.strip().splitlines()[-1])


def run_notebooks(venv: Path, env: dict, work: Path, source: colab.Source, notebooks: list[Path]) -> dict:
    """Step 4: each notebook with its own install; {notebook: seconds}."""
    pytest = [venv / "bin" / "pytest", "-p", "no:cacheprovider", "-q"]
    times, failures = {}, []
    for nb in notebooks:
        start = time.monotonic()
        run([venv / "bin" / "python", "-m", "pip", "uninstall", "-q", "-y", "llmcourse"], env=env, cwd=work)
        result = run([*pytest, "--nbval-lax", "--nbval-current-env", nb], env=env, check=False)
        errors = [] if result.returncode == 0 else [f"nbval 失败（退出码 {result.returncode}）"]
        errors += check_install(installed(venv, env, work), source, venv)
        times[nb.name] = round(time.monotonic() - start, 1)
        failures += [f"{nb.name}：{e}" for e in errors]
        print(f"compat: {nb.name} {'失败' if errors else '通过'}，{times[nb.name]} s", flush=True)
    if failures:
        raise SystemExit("兼容性检查失败：\n" + "\n".join(failures))
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=ROOT / "_build" / "compat")
    parser.add_argument("--python", default=sys.executable, help="创建虚拟环境用的 Python")
    parser.add_argument("--reuse-venv", action="store_true", help="沿用上次建好的、最低版本相同的虚拟环境")
    parser.add_argument("--skip-service", action="store_true", help="不运行 HTTP 服务的测试")
    parser.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args(argv)
    started = time.monotonic()
    work = args.work.resolve()
    for name in ("origin", "wheelhouse", "colab", "ipython", "cache", "gitconfig", "report.json"):
        path = work / name
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    if not args.reuse_venv:
        shutil.rmtree(work / "venv", ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    source = colab.read_source(ROOT)
    notebooks = [p.resolve() for p in args.notebooks] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    stale = [line for nb in notebooks for line in colab.notebook_problems(nb, source)]
    if stale:
        raise SystemExit(
            "安装单元或 Colab 元数据与 pyproject.toml / _config.yml 不一致，请先运行 make colab-cells：\n"
            + "\n".join(stale)
        )
    pyproject = colab.tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    pins = floors(pyproject)
    print("compat: 最低版本：" + " ".join(pins), flush=True)
    venv = prepare(work, source, pins, args.python, reuse=args.reuse_venv)
    report = {
        "install_from": source.install_from,
        "requirement": source.requirement,
        "floors": pins,
        "versions": versions(venv),
        "prepare_s": round(time.monotonic() - started, 1),
    }
    env = offline_env(work, source, venv)
    report["notebooks_s"] = run_notebooks(venv, env, work, source, notebooks)
    if not args.skip_service:
        start = time.monotonic()
        run([venv / "bin" / "pytest", "-p", "no:cacheprovider", "-q", *SERVICE_TESTS], env=env)
        report["service_tests_s"] = round(time.monotonic() - start, 1)
    report["total_s"] = round(time.monotonic() - started, 1)
    (work / "report.json").write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(report, ensure_ascii=False, indent=1))
    print(f"compat: 全部通过，用时 {report['total_s']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Write requirements/lock.txt: the exact versions, in this environment, of everything the course needs.

    .venv/bin/python tools/lock.py [--output requirements/lock.txt]
    .venv/bin/python tools/lock.py --check      exit 1 when the lock no longer covers pyproject.toml

`make lock` runs the first form with the course's virtual environment. It starts from the
requirements of the package and of every extra in pyproject.toml, follows each installed
distribution's own requirements (with the extras asked for and the markers of this interpreter),
and writes `name==version` for every distribution reached, sorted, with a header naming the
Python and platform. It is `pip freeze` restricted to what the course needs: nothing installed
by hand gets in, and nothing the course needs is left out (a missing distribution is an error).

`make install` (and so `make book` and `make test`) installs with `-c requirements/lock.txt`,
so the book's numbers are computed with these versions. The ranges in pyproject.toml stay
for people who install the package alone; `make compat` checks their floors.

To move the lock forward: `make lock-upgrade` (upgrade everything in .venv within the ranges,
then write the lock), or install the versions you want into .venv and run `make lock`.
"""

from __future__ import annotations

import argparse
import importlib.metadata as metadata
import platform
import re
import sys
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements" / "lock.txt"
PACKAGE = "llmcourse"


def top_requirements(root: Path = ROOT) -> list[tuple[Requirement, str]]:
    """(requirement, extra it comes from or "") for the package and every extra."""
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    out = [(Requirement(r), "") for r in project["dependencies"]]
    for extra, reqs in project.get("optional-dependencies", {}).items():
        out += [(Requirement(r), extra) for r in reqs]
    return out


def _applies(req: Requirement, extra: str) -> bool:
    if req.marker is None:
        return True
    return req.marker.evaluate({**default_environment(), "extra": extra})


def closure(root: Path = ROOT) -> dict[str, str]:
    """{canonical name: installed version} of every distribution the course needs, found by walking."""
    found: dict[str, str] = {}
    asked: set[tuple[str, str]] = set()
    todo = [(req, "") for req, extra in top_requirements(root) if _applies(req, extra)]
    while todo:
        req, _ = todo.pop()
        name = canonicalize_name(req.name)
        if name == PACKAGE:  # the package's own extras (llmcourse[serve] in an extra)
            continue
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            raise SystemExit(f"{req.name} 没有安装在 {sys.prefix}：先运行 make install") from None
        found[name] = dist.version
        for extra in ("", *sorted(req.extras)):
            if (name, extra) in asked:
                continue
            asked.add((name, extra))
            for text in dist.requires or []:
                sub = Requirement(text)
                if _applies(sub, extra) and (extra or "extra" not in str(sub.marker or "")):
                    todo.append((sub, extra))
    return dict(sorted(found.items()))


def render(pins: dict[str, str]) -> str:
    head = [
        "# 课程的锁定版本（make lock 由 tools/lock.py 生成，不要手改）：pyproject.toml 的依赖及全部可选依赖组，",
        "# 连同它们的依赖，在下面这个环境中安装的确切版本。make install 用 -c 约束安装，书中的数字就是用它们算出的。",
        f"# Python {platform.python_version()}, {platform.system()} {platform.machine()}",
    ]
    return "\n".join(head + [f"{name}=={version}" for name, version in pins.items()]) + "\n"


def read_lock(path: Path = LOCK) -> dict[str, str]:
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = re.fullmatch(r"([A-Za-z0-9._-]+)==(\S+)", line).groups()
            pins[canonicalize_name(name)] = version
    return pins


def stale(root: Path = ROOT, path: Path = LOCK) -> list[str]:
    """Requirements of pyproject.toml that the lock misses or pins outside their range."""
    pins = read_lock(path)
    problems = []
    for req, extra in top_requirements(root):
        name = canonicalize_name(req.name)
        if name == PACKAGE or not _applies(req, extra):
            continue
        if name not in pins:
            problems.append(f"{req}：锁文件中没有")
        elif not req.specifier.contains(Version(pins[name]), prereleases=True):
            problems.append(f"{req}：锁定的是 {pins[name]}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=LOCK)
    parser.add_argument("--check", action="store_true", help="只检查锁文件是否覆盖 pyproject.toml 的全部依赖")
    args = parser.parse_args(argv)
    if args.check:
        problems = stale(ROOT, args.output)
        print("\n".join(problems) or f"{args.output}：覆盖 pyproject.toml 的全部依赖")
        return 1 if problems else 0
    pins = closure(ROOT)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(render(pins), encoding="utf-8")
    print(f"{args.output}：{len(pins)} 个包")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Write every notebook's Colab install cell and Colab metadata from the one source of truth.

    python tools/colab.py            rewrite notebooks/*.ipynb, CITATION.cff and [project.urls]
    python tools/colab.py --check    change nothing; list what disagrees (exit status 1)
    python tools/colab.py --notebooks DIR   work on the notebooks of another folder

`make colab-cells` runs the first form. The source of truth is

- the repository: `repository.url` in `_config.yml` (a fork changes this line only);
- the version: `project.version` in `pyproject.toml` (a release is the tag v<version>);
- how the package is installed on Colab: `[tool.llmcourse.colab] install-from` in `pyproject.toml`:
  "git-tag" installs `llmcourse @ git+<repository>@v<version>`, "pypi" installs `llmcourse==<version>`.

From them this script writes, in every notebook,

- the install cell: the first code cell, tagged `remove-cell` (the book's pages do not show it), that
  runs `%pip install` only where `google.colab` is imported, i.e. on Colab;
- the notebook metadata Colab reads: the runtime type it asks for (`accelerator`, `colab.gpuType`),
  `colab.provenance`, the `python3` kernel and `language_info`;

and, outside the notebooks, the repository URL and version of `CITATION.cff` and the Homepage of
`[project.urls]`. tests/test_colab.py calls `problems()` and fails on any difference, so a notebook
edited by hand is caught. This is course tooling: it is not part of the `llmcourse` package.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

import strip_outputs  # tools/strip_outputs.py, next to this script

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "llmcourse"
INSTALL_MODES = ("git-tag", "pypi")
INSTALL_TAG = "remove-cell"
COLAB_MARKER = '"google.colab" in sys.modules'
KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}
CELL_TEMPLATE = (
    "import sys\n"
    f"if {COLAB_MARKER}:  # 只在 Colab 上安装本书这一版的 llmcourse 及缺少的依赖（由 make colab-cells 生成）\n"
    '    %pip install -q "{requirement}"'
)


@dataclass(frozen=True)
class Source:
    """Everything the generated parts are computed from."""

    repository: str  # e.g. https://github.com/llmcourse/llmcourse-zh (no trailing slash, no .git)
    version: str
    install_from: str
    accelerator: str
    gpu_type: str

    @property
    def tag(self) -> str:
        return f"v{self.version}"

    @property
    def requirement(self) -> str:
        """The pip requirement of the install cell."""
        if self.install_from == "pypi":
            return f"{PACKAGE}=={self.version}"
        return f"{PACKAGE} @ git+{self.repository}@{self.tag}"


def read_source(root: Path = ROOT) -> Source:
    """The source of truth, read from _config.yml and pyproject.toml under `root`."""
    book = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    repository = str(book["repository"]["url"]).rstrip("/")
    repository = repository[: -len(".git")] if repository.endswith(".git") else repository
    if not re.fullmatch(r"https://[^\s\"'@]+", repository):
        raise ValueError(f"_config.yml 的 repository.url 不是 https 地址：{repository!r}")
    colab = project.get("tool", {}).get("llmcourse", {}).get("colab", {})
    install_from = colab.get("install-from", "git-tag")
    if install_from not in INSTALL_MODES:
        raise ValueError(f"[tool.llmcourse.colab] install-from 只能是 {INSTALL_MODES} 之一，而不是 {install_from!r}")
    return Source(
        repository=repository,
        version=project["project"]["version"],
        install_from=install_from,
        accelerator=colab.get("accelerator", "GPU"),
        gpu_type=colab.get("gpu-type", "T4"),
    )


def install_source(source: Source) -> str:
    """The exact source of the install cell."""
    return CELL_TEMPLATE.format(requirement=source.requirement)


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def is_install_cell(cell: dict) -> bool:
    return cell.get("cell_type") == "code" and COLAB_MARKER in _source(cell)


def expected_metadata(metadata: dict, source: Source) -> dict:
    """The notebook metadata with the Colab part set; other keys are kept as they are."""
    new = copy.deepcopy(metadata)
    new["accelerator"] = source.accelerator
    colab = dict(new.get("colab") or {})
    colab["provenance"] = list(colab.get("provenance") or [])
    colab["gpuType"] = source.gpu_type
    new["colab"] = dict(sorted(colab.items()))
    new["kernelspec"] = dict(KERNELSPEC)
    new["language_info"] = {"name": "python"}
    return dict(sorted(new.items()))


def install_cell(source: Source, old: dict | None) -> dict:
    """The install cell; an existing one keeps its id and other tags, and loses outputs."""
    metadata = {k: v for k, v in (old or {}).get("metadata", {}).items() if k not in ("execution", "tags")}
    tags = [t for t in (old or {}).get("metadata", {}).get("tags", []) if t != INSTALL_TAG]
    metadata["tags"] = [INSTALL_TAG, *tags]
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": (old or {}).get("id", "colab-install"),
        "metadata": metadata,
        "outputs": [],
        "source": _lines(install_source(source)),
    }


def rewrite(nb: dict, source: Source) -> dict:
    """`nb` with one install cell, written from `source`, as its first code cell, and the Colab metadata.

    Any install cell already there is removed (the first one lends its id and tags to the new one).
    """
    nb = copy.deepcopy(nb)
    old = [c for c in nb["cells"] if is_install_cell(c)]
    cells = [c for c in nb["cells"] if not is_install_cell(c)]
    first = next((i for i, c in enumerate(cells) if c.get("cell_type") == "code"), len(cells))
    if old:  # where the first old install cell stood, unless a code cell now comes before that
        first = min(first, sum(1 for c in nb["cells"][: nb["cells"].index(old[0])] if not is_install_cell(c)))
    cells.insert(first, install_cell(source, old[0] if old else None))
    nb["cells"] = cells
    nb["metadata"] = expected_metadata(nb.get("metadata", {}), source)
    return nb


def notebook_text(nb: dict) -> str:
    """A notebook as the repository stores it (tools/strip_outputs.py: nbformat's layout)."""
    return strip_outputs.text(nb)


def notebook_problems(path: Path, source: Source) -> list[str]:
    """What disagrees with `source` in one notebook (empty: nothing)."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    found = []
    code = [c for c in nb["cells"] if c.get("cell_type") == "code"]
    if not code or not is_install_cell(code[0]):
        found.append(f"{path.name}：第一个代码单元不是 Colab 安装单元")
    else:
        cell = code[0]
        if _source(cell) != install_source(source):
            found.append(f"{path.name}：安装单元与 {source.requirement!r} 不一致")
        if INSTALL_TAG not in cell.get("metadata", {}).get("tags", []):
            found.append(f"{path.name}：安装单元缺少标签 {INSTALL_TAG}")
        if cell.get("outputs") or cell.get("execution_count") is not None:
            found.append(f"{path.name}：安装单元带有输出")
    if nb.get("metadata") != expected_metadata(nb.get("metadata", {}), source):
        found.append(f"{path.name}：Colab 元数据（accelerator、colab、kernelspec、language_info）不一致")
    if sum(is_install_cell(c) for c in nb["cells"]) != 1:
        found.append(f"{path.name}：应当恰好有一个 Colab 安装单元")
    return found


def citation_text(text: str, source: Source) -> str:
    """CITATION.cff with its version and repository URL set (other lines unchanged)."""
    text = re.sub(r"(?m)^version: .*$", f'version: "{source.version}"', text)
    return re.sub(r"(?m)^repository-code: .*$", f'repository-code: "{source.repository}"', text)


def pyproject_text(text: str, source: Source) -> str:
    """pyproject.toml with the Homepage of [project.urls] set."""
    return re.sub(r'(?m)^Homepage = ".*"$', f'Homepage = "{source.repository}"', text)


def notebooks_in(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.ipynb"))


def _derived_files(root: Path, source: Source) -> list[tuple[Path, str, str]]:
    """(path, current text, expected text) of the files outside the notebooks."""
    out = []
    for name, render in (("CITATION.cff", citation_text), ("pyproject.toml", pyproject_text)):
        path = root / name
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            out.append((path, text, render(text, source)))
    return out


def problems(root: Path = ROOT, notebooks: Path | None = None) -> list[str]:
    """Every disagreement with the source of truth (empty: all generated parts are current)."""
    source = read_source(root)
    folder = notebooks or root / "notebooks"
    found = [p for path in notebooks_in(folder) for p in notebook_problems(path, source)]
    found += [
        f"{path.name}：与 {source.repository} / {source.version} 不一致"
        for path, now, expected in _derived_files(root, source)
        if now != expected
    ]
    return found


def write_all(root: Path = ROOT, notebooks: Path | None = None) -> list[Path]:
    """Rewrite every generated part; return the files that changed."""
    source = read_source(root)
    changed = []
    for path in notebooks_in(notebooks or root / "notebooks"):
        text = path.read_text(encoding="utf-8")
        new = notebook_text(rewrite(json.loads(text), source))
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed.append(path)
    for path, now, expected in _derived_files(root, source):
        if now != expected:
            path.write_text(expected, encoding="utf-8")
            changed.append(path)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="只检查，不改写；有不一致时退出码为 1")
    parser.add_argument("--root", type=Path, default=ROOT, help="仓库根目录（_config.yml、pyproject.toml 所在）")
    parser.add_argument("--notebooks", type=Path, default=None, help="笔记本目录（默认 ROOT/notebooks）")
    args = parser.parse_args(argv)
    source = read_source(args.root)
    if args.check:
        found = problems(args.root, args.notebooks)
        for line in found:
            print(line)
        return 1 if found else 0
    changed = write_all(args.root, args.notebooks)
    print(f"安装单元：{source.requirement}（{len(changed)} 个文件有改动）")
    for path in changed:
        print(f"  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

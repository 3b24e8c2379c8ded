"""Clear notebook outputs as the repository keeps them: only the cells nbval compares keep theirs.

    python tools/strip_outputs.py [--check] NOTEBOOK ...

The pre-commit hook `strip-outputs` runs it on the notebooks of a commit. Every code cell loses
its outputs and execution count, except a cell whose first line is `# NBVAL_CHECK_OUTPUT`: nbval
compares its output (CONTRIBUTING.md), so it keeps it, less what goes to stderr (TensorFlow's and
jieba's logs). Every cell loses the timing metadata a run leaves (`execution`). The notebook
metadata (kernel, Colab) is left alone: tools/colab.py owns it. nbstripout cannot do this: it
keeps outputs only by a flag in the cell's metadata, not by the cell's first line.

With --check nothing is written; the exit status is 1 when a notebook would change. The file
is written like nbformat writes it (one-space indent, UTF-8, sorted keys, final newline), so
tools/refresh_checked_outputs.py and this hook agree byte for byte.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

CHECK_MARK = "# NBVAL_CHECK_OUTPUT"
RUN_METADATA = ("execution", "collapsed", "scrolled", "ExecuteTime")


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def is_checked(cell: dict) -> bool:
    return _source(cell).lstrip().startswith(CHECK_MARK)


def strip(nb: dict) -> dict:
    """`nb` with outputs cleared as described above (a new dict; `nb` is not changed)."""
    nb = json.loads(json.dumps(nb))
    for cell in nb.get("cells", []):
        meta = cell.get("metadata", {})
        for key in RUN_METADATA:
            meta.pop(key, None)
        if cell.get("cell_type") != "code":
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
            continue
        if is_checked(cell):
            cell["outputs"] = [
                o
                for o in cell.get("outputs", [])
                if not (o.get("output_type") == "stream" and o.get("name") == "stderr")
            ]
        else:
            cell["outputs"] = []
            cell["execution_count"] = None
    return nb


def _lines(value):
    """A multi-line string as nbformat stores it: a list of lines, each with its newline."""
    return value.splitlines(keepends=True) if isinstance(value, str) else value


def text(nb: dict) -> str:
    """`nb` as the repository stores it: nbformat's layout (sources and text outputs as lists of
    lines, so that a diff shows the changed lines), one-space indent, sorted keys, final newline."""
    nb = json.loads(json.dumps(nb))
    for cell in nb.get("cells", []):
        cell["source"] = _lines(cell.get("source", ""))
        for output in cell.get("outputs", []):
            if "text" in output:
                output["text"] = _lines(output["text"])
            for mime, value in output.get("data", {}).items():
                if mime.startswith("text/") or mime == "image/svg+xml":
                    output["data"][mime] = _lines(value)
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def stored(path: Path) -> tuple[str, str]:
    """(the notebook's text now, the text the hook would write)."""
    old = path.read_text(encoding="utf-8")
    return old, text(strip(json.loads(old)))


def needs_change(path: Path) -> bool:
    """True when the hook would rewrite the notebook at `path`."""
    old, new = stored(path)
    return new != old


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="只检查，不改写")
    parser.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args(argv)
    changed = []
    for path in args.notebooks:
        old, new = stored(path)
        if new != old:
            changed.append(path)
            if not args.check:
                path.write_text(new, encoding="utf-8")
    for path in changed:
        print(f"{path}: {'应清除输出' if args.check else '已清除输出'}（只保留 {CHECK_MARK} 单元格的输出）")
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main())

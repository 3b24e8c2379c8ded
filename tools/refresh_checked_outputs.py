"""Re-execute notebooks under the quick profile and store only the outputs nbval compares.

    python tools/refresh_checked_outputs.py notebooks/05_project.ipynb [...]

Cells whose first line is `# NBVAL_CHECK_OUTPUT` keep the output of this run
(it becomes what `make nbval` expects); every other cell is cleared, as the
repository's convention asks. Run it after a change that alters a checked
cell's output, then review the diff.
"""

from __future__ import annotations

import copy
import json
import os
import sys

import nbformat
from nbclient import NotebookClient

import strip_outputs  # tools/strip_outputs.py, next to this script


def refresh(path: str) -> int:
    """Execute `path` (quick profile) and rewrite it; returns the number of checked cells."""
    notebook = nbformat.read(path, as_version=4)
    metadata = copy.deepcopy(notebook.metadata)  # the kernel rewrites language_info; tools/colab.py owns it
    os.environ["LLMCOURSE_PROFILE"] = "quick"
    NotebookClient(
        notebook,
        timeout=1800,
        kernel_name="python3",
        resources={"metadata": {"path": os.path.dirname(os.path.abspath(path))}},
    ).execute()
    notebook.metadata = metadata
    stripped = strip_outputs.strip(json.loads(nbformat.writes(notebook)))  # exactly what the hook keeps
    stored = strip_outputs.text(stripped)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(stored)
    return sum(1 for cell in stripped["cells"] if cell.get("cell_type") == "code" and strip_outputs.is_checked(cell))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    for name in sys.argv[1:]:
        print(f"{name}: {refresh(name)} 个核对输出的单元格已更新", flush=True)

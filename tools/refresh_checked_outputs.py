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

CHECK_MARK = "# NBVAL_CHECK_OUTPUT"


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
    checked = 0
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        if cell.source.lstrip().startswith(CHECK_MARK):
            checked += 1
            cell.outputs = [
                o for o in cell.outputs if not (o.get("output_type") == "stream" and o.get("name") == "stderr")
            ]
        else:
            cell.outputs = []
            cell.execution_count = None
    notebook.metadata = metadata
    stored = strip_outputs.text(strip_outputs.strip(json.loads(nbformat.writes(notebook))))  # what the hook writes
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(stored)
    return checked


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    for name in sys.argv[1:]:
        print(f"{name}: {refresh(name)} 个核对输出的单元格已更新", flush=True)

"""Convert assignment2.ipynb to and from a plain-text "percent" script for editing.

The notebook is the only source of truth. This tool lets a developer edit it as a
Python file (diffable, lintable) and write it back stored clean: no outputs, no
execution counts, deterministic cell ids.

    python tools/nbsync.py to-py assignment2.ipynb /tmp/a2.py
    python tools/nbsync.py to-nb /tmp/a2.py assignment2.ipynb

Format: a line ``# %% [markdown]`` or ``# %%`` (optionally followed by
``tags=["a", "b"]``) starts a cell; markdown lines are stored behind ``# ``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import tempfile
from pathlib import Path

import nbformat

HEADER = re.compile(r"^# %%(?P<md> \[markdown\])?(?: tags=(?P<tags>\[.*\]))?\s*$")


def script_to_cells(text: str) -> list[dict]:
    """Split a percent script into (kind, tags, source) cell dicts."""
    cells: list[dict] = []
    for line in text.splitlines():
        match = HEADER.match(line)
        if match:
            tags = json.loads(match["tags"]) if match["tags"] else []
            cells.append({"kind": "markdown" if match["md"] else "code", "tags": tags, "lines": []})
        elif cells:
            cells[-1]["lines"].append(line)
    for cell in cells:
        lines = cell.pop("lines")
        while lines and not lines[-1].strip():
            lines.pop()
        if cell["kind"] == "markdown":
            lines = [ln[2:] if ln.startswith("# ") else ln.lstrip("#") for ln in lines]
        cell["source"] = "\n".join(lines)
    return cells


def cells_to_notebook(cells: list[dict]) -> nbformat.NotebookNode:
    """Build a clean notebook (no outputs, no execution counts, stable ids)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "colab": {"provenance": []},
    }
    for index, cell in enumerate(cells):
        make = nbformat.v4.new_markdown_cell if cell["kind"] == "markdown" else nbformat.v4.new_code_cell
        node = make(cell["source"])
        node.id = hashlib.sha1(f"{index}:{cell['source'][:200]}".encode()).hexdigest()[:12]
        if cell["tags"]:
            node.metadata["tags"] = cell["tags"]
        nb.cells.append(node)
    return nb


def notebook_to_script(nb: nbformat.NotebookNode) -> str:
    """Render a notebook as a percent script (inverse of script_to_cells)."""
    parts = []
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        header = "# %% [markdown]" if cell.cell_type == "markdown" else "# %%"
        if tags:
            header += " tags=" + json.dumps(tags)
        body = cell.source
        if cell.cell_type == "markdown":
            body = "\n".join(("# " + ln) if ln else "#" for ln in body.splitlines())
        parts.append(header + "\n" + body + "\n")
    return "\n".join(parts)


def write_atomically(path: Path, text: str) -> None:
    """Write text to path through a temporary file in the same folder."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def main(argv: list[str]) -> int:
    """Command-line entry point."""
    if len(argv) != 3 or argv[0] not in {"to-py", "to-nb"}:
        print(__doc__)
        return 2
    mode, src, dst = argv[0], Path(argv[1]), Path(argv[2])
    if mode == "to-nb":
        nb = cells_to_notebook(script_to_cells(src.read_text(encoding="utf-8")))
        nbformat.validate(nb)
        write_atomically(dst, nbformat.writes(nb) + "\n")
    else:
        write_atomically(dst, notebook_to_script(nbformat.read(src, as_version=4)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

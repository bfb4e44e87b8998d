"""Execute assignment2.ipynb top to bottom in a fresh kernel and save the executed copy.

    python tools/run_notebook.py                  # full settings (hours on a CPU, minutes on a GPU)
    A2_SMOKE=1 python tools/run_notebook.py       # smoke mode: a couple of minutes on a CPU
    python tools/run_notebook.py --if-stale       # only if the executed copy is missing, older, or of another mode

The committed notebook is never modified: the executed copy is written (atomically) to
outputs/assignment2.executed.ipynb, which `make pdf` turns into a PDF.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "assignment2.ipynb"
TARGET = REPO / "outputs" / "assignment2.executed.ipynb"


def current_mode() -> str:
    """'smoke' or 'full', from A2_SMOKE as the notebook reads it."""
    return "smoke" if os.environ.get("A2_SMOKE") == "1" else "full"


def is_stale(source: Path = SOURCE, target: Path = TARGET) -> bool:
    """True unless `target` exists, is newer than `source` and was executed in the current mode."""
    if not target.is_file() or target.stat().st_mtime < source.stat().st_mtime:
        return True
    return nbformat.read(target, as_version=4).metadata.get("a2_mode") != current_mode()


def execute(source: Path = SOURCE, target: Path = TARGET, timeout_s: int = 6 * 3600) -> float:
    """Run `source` in its own folder with a fresh python3 kernel, write it to `target`; return seconds."""
    notebook = nbformat.read(source, as_version=4)
    notebook.metadata["a2_mode"] = current_mode()
    client = NotebookClient(notebook, timeout=timeout_s, kernel_name="python3",
                            resources={"metadata": {"path": str(source.parent)}})
    start = time.perf_counter()
    try:
        client.execute()
    finally:  # save what ran, also when a cell failed, so the error can be read in context
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".ipynb.partial")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            nbformat.write(notebook, handle)
        os.replace(tmp, target)
    return time.perf_counter() - start


def main() -> int:
    """Command-line entry point."""
    mode = current_mode()
    if "--if-stale" in sys.argv[1:] and not is_stale():
        print(f"{TARGET} is up to date ({mode} mode); not executing again.")
        return 0
    print(f"Executing {SOURCE.name} ({mode} mode) ...", flush=True)
    try:
        seconds = execute()
    except CellExecutionError as exc:
        print(f"A cell failed; the partial run is in {TARGET}.\n{exc}", file=sys.stderr)
        return 1
    print(f"Done in {seconds:.0f} s. Executed notebook: {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

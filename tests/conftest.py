"""Shared fixtures: the notebook's own definitions, and one smoke-mode run of the whole notebook.

Tests never copy notebook code. `nb` executes the notebook's cells tagged `parameters` and
`definitions` (imports, configuration and function/class definitions, no experiments) in one
namespace, in smoke mode, and exposes that namespace. `executed_notebook` runs the whole notebook
top to bottom in a fresh Jupyter kernel, once per test session, in a scratch copy of the project.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
from notebook_namespace import NOTEBOOK, REPO, load_notebook_namespace  # tools/ is on pytest's pythonpath

SMOKE_RUN_TIMEOUT_S = 900


class NotebookNamespace(SimpleNamespace):
    """Attribute access to the notebook's globals; `.globals` is the live dict its functions read."""


@pytest.fixture(scope="session")
def nb() -> NotebookNamespace:
    """The notebook's definitions, loaded once per session."""
    namespace = load_notebook_namespace()
    view = NotebookNamespace(**{k: v for k, v in namespace.items() if not k.startswith("__")})
    view.globals = namespace
    return view


def make_project_copy(dest: Path) -> Path:
    """A scratch project folder: the notebook plus links to the bundled data (outputs land there)."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(NOTEBOOK, dest / NOTEBOOK.name)
    for folder in ("images", "labels", "data"):
        (dest / folder).symlink_to(REPO / folder, target_is_directory=True)
    return dest


@pytest.fixture(scope="session")
def executed_notebook(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """Run the whole notebook in smoke mode in a fresh kernel; return the executed notebook and its folder."""
    from nbclient import NotebookClient

    workdir = make_project_copy(tmp_path_factory.mktemp("smoke_run"))
    notebook = nbformat.read(workdir / NOTEBOOK.name, as_version=4)
    client = NotebookClient(notebook, timeout=SMOKE_RUN_TIMEOUT_S, kernel_name="python3",
                            resources={"metadata": {"path": str(workdir)}})
    start = time.perf_counter()
    client.execute(env={**os.environ, "A2_SMOKE": "1", "PYTHONHASHSEED": "0"})
    elapsed = time.perf_counter() - start
    print(f"smoke run of the notebook took {elapsed:.1f} s", file=sys.stderr)
    return SimpleNamespace(notebook=notebook, workdir=workdir, seconds=elapsed)


def cell_text(cell: nbformat.NotebookNode) -> str:
    """All a code cell printed or displayed (streams, else text/markdown, else text/plain), a part a line."""
    parts = []
    for output in cell.get("outputs", []):
        data = output.get("data", {})
        text = output.get("text", "") if output.get("output_type") == "stream" else data.get(
            "text/markdown", data.get("text/plain", ""))
        parts.append(text if text.endswith("\n") or not text else text + "\n")
    return "".join(parts)


def notebook_text(notebook: nbformat.NotebookNode) -> str:
    """Everything the executed notebook printed, concatenated."""
    return "\n".join(cell_text(c) for c in notebook.cells if c.cell_type == "code")

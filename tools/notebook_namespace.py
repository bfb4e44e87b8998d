"""Load the notebook's own definitions (no copies) for tests and benchmarks.

Executes the cells tagged `parameters` and `definitions` of assignment2.ipynb, in smoke
mode and with the repository as working folder, into a real module named `assignment2`.
It lives in tools/ because both the tests and the benchmarks import it (pytest's `pythonpath`
in pyproject.toml, and `PYTHONPATH=tools` for the benchmarks, put tools/ on the import path).
"""

from __future__ import annotations

import linecache
import os
import sys
import types
from collections.abc import Callable
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "assignment2.ipynb"
DEFINITION_TAGS = frozenset({"parameters", "definitions"})


def load_notebook_namespace(tags: frozenset[str] = DEFINITION_TAGS, smoke: bool = True,
                            edit: Callable[[str], str] = lambda source: source) -> dict:
    """Execute the notebook's cells carrying any of `tags` (each cell's source passed through `edit`).

    Returns the module's globals.
    """
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    module = types.ModuleType("assignment2")  # a real module, so dataclasses and pickling resolve names
    sys.modules["assignment2"] = module
    namespace = module.__dict__
    previous_cwd, previous_smoke = os.getcwd(), os.environ.get("A2_SMOKE")
    os.environ["A2_SMOKE"] = "1" if smoke else "0"
    os.chdir(REPO)
    try:
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type == "code" and tags & set(cell.get("metadata", {}).get("tags", [])):
                filename = f"assignment2.ipynb[cell {index}]"
                source = edit(cell.source)
                # As a Jupyter kernel does: the source stays readable (inspect.getsource, tracebacks).
                linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
                exec(compile(source, filename, "exec"), namespace)  # noqa: S102
    finally:
        os.chdir(previous_cwd)
        if previous_smoke is None:
            os.environ.pop("A2_SMOKE", None)
        else:
            os.environ["A2_SMOKE"] = previous_smoke
    return namespace

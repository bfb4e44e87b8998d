"""Shared fixtures: the notebook's own definitions, and one smoke-mode run of the whole notebook.

Tests never copy notebook code. `nb` executes the notebook's cells tagged `parameters` and
`definitions` (imports, configuration and function/class definitions, no experiments) in one
namespace, in smoke mode, and exposes that namespace. `smoke_runs` is the suite's one execution of the
whole notebook: a fresh Jupyter kernel in a scratch copy of the project, with cuDNN's RNN rule emulated
(tests/cuda_rules), Run all twice and one cell again; `executed_notebook` is its first Run all.
"""

from __future__ import annotations

import copy
import json
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


CUDA_RULES = REPO / "tests" / "cuda_rules"  # sitecustomize.py: cuDNN's RNN rule, emulated on the CPU


def run_cells(client: object, notebook: nbformat.NotebookNode, indices: list[int]) -> None:
    """Execute these cells in the client's live kernel, as Jupyter's Run does (a cell run again included)."""
    for index in indices:
        client.clear_display_id_mapping(index)
        client.execute_cell(notebook.cells[index], index)


def checks_record(workdir: Path) -> list[dict]:
    """The checks.json that the notebook's last cell wrote."""
    return json.loads((workdir / "outputs" / "checks.json").read_text(encoding="utf-8"))


# IPython's own compiler, as Colab's kernel has: a cell's code is named by its execution count.
COLAB_NAMING = ("import IPython.core.compilerop\n"
                "get_ipython().compile = IPython.core.compilerop.CachingCompiler()")


@pytest.fixture(scope="session")
def smoke_runs(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """The test suite's one kernel for the whole notebook: smoke mode, cuDNN's RNN rule emulated.

    As a Jupyter user would, under ipykernel's naming of cells (a hash of the code): Run all; one checking
    cell edited (a comment added) and run again, then the closing cell. Then under Colab's naming (IPython's
    own compiler: the execution count): Run all again (the trained models load); one checking cell and the
    closing cell again. Each stage keeps a copy of the executed notebook and of checks.json.
    """
    from nbclient import NotebookClient
    from run_notebook import KERNEL_CONFIG  # tools/: the kernel's transport encrypted, as `make run` has it

    workdir = make_project_copy(tmp_path_factory.mktemp("smoke_run"))
    notebook = nbformat.read(workdir / NOTEBOOK.name, as_version=4)
    client = NotebookClient(notebook, timeout=SMOKE_RUN_TIMEOUT_S, kernel_name="python3",
                            config=KERNEL_CONFIG, resources={"metadata": {"path": str(workdir)}})
    python_path = os.pathsep.join(filter(None, [str(CUDA_RULES), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "A2_SMOKE": "1", "PYTHONHASHSEED": "0", "PYTHONPATH": python_path}
    everything = list(range(len(notebook.cells)))
    code = [i for i in everything if notebook.cells[i].cell_type == "code"]
    checking = next(i for i in code if 'Answer(\n    "Q1(a)"' in notebook.cells[i].source)
    original = notebook.cells[checking].source
    stages = {}
    with client.setup_kernel(env=env):
        for stage, indices in (("run all", everything), ("edited cell again", [checking, code[-1]]),
                               ("colab naming", []), ("run all again", everything),
                               ("one cell again", [checking, code[-1]])):
            if stage == "colab naming":  # a cell run once, then taken out of the notebook again
                notebook.cells.append(nbformat.v4.new_code_cell(COLAB_NAMING))
                client.execute_cell(notebook.cells[-1], len(notebook.cells) - 1)
                notebook.cells.pop()
                continue
            notebook.cells[checking].source = ("# edited\n" + original if stage == "edited cell again"
                                               else original)
            start = time.perf_counter()
            run_cells(client, notebook, indices)
            stages[stage] = SimpleNamespace(notebook=copy.deepcopy(notebook), checks=checks_record(workdir),
                                            seconds=time.perf_counter() - start)
    notebook.cells[checking].source = original
    print(f"smoke run of the notebook took {stages['run all'].seconds:.1f} s", file=sys.stderr)
    return SimpleNamespace(workdir=workdir, stages=stages)


@pytest.fixture(scope="session")
def stopped_run(smoke_runs: SimpleNamespace) -> nbformat.NotebookNode:
    """A fresh kernel's Run all that stops with an error just before Question 3 (the models load, trained)."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    from run_notebook import KERNEL_CONFIG

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    question_3 = next(i for i, c in enumerate(notebook.cells) if c.source.startswith("# Question 3"))
    notebook.cells.insert(question_3, nbformat.v4.new_code_cell('raise RuntimeError("the run stops here")'))
    client = NotebookClient(notebook, timeout=SMOKE_RUN_TIMEOUT_S, kernel_name="python3",
                            config=KERNEL_CONFIG, resources={"metadata": {"path": str(smoke_runs.workdir)}})
    with pytest.raises(CellExecutionError, match="the run stops here"):
        client.execute(env={**os.environ, "A2_SMOKE": "1"})
    return notebook


@pytest.fixture(scope="session")
def executed_notebook(smoke_runs: SimpleNamespace) -> SimpleNamespace:
    """The notebook as its first Run all left it (smoke mode), and the folder it ran in."""
    first = smoke_runs.stages["run all"]
    return SimpleNamespace(notebook=first.notebook, workdir=smoke_runs.workdir, seconds=first.seconds)


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

"""`make run`'s tool logs the notebook's live progress display (through papermill's internals), quietly.

tools/run_notebook.py wraps `PapermillNotebookClient.process_message` (no public hook sees display updates),
so requirements-dev.txt pins papermill, and this runs the tool as `make run` does on a notebook of two cells.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys

import nbformat
import run_notebook  # tools/ is on pytest's pythonpath
from conftest import REPO

PROGRESS_CELL = """\
from IPython.display import display
line = display({'text/plain': ''}, raw=True, display_id=True)
other = display({'text/plain': ''}, raw=True, display_id=True)
line.update({'text/plain': 'step 1 of 3'}, raw=True)
other.update({'text/plain': 'another display, step 1'}, raw=True)
line.update({'text/plain': 'step 2 of 3'}, raw=True)  # within 30 s of step 1: not logged
"""


def test_make_run_logs_a_progress_display_update_with_the_installed_papermill(tmp_path):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(PROGRESS_CELL), nbformat.v4.new_code_cell("print('done')")]
    nbformat.write(notebook, tmp_path / "progress.ipynb")
    command = [sys.executable, str(REPO / "tools" / "run_notebook.py"), "progress.ipynb", "executed.ipynb",
               "--cwd", ".", "--kernel", "python3", "--log-output", "--no-progress-bar"]
    env = {key: value for key, value in os.environ.items() if key != "A2_SMOKE"}
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
                            check=False)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log
    # The kernel's transport is encrypted (run_notebook.KERNEL_CONFIG): no plain-TCP warning from ipykernel.
    assert not run_notebook.ENCRYPTION or "without encryption" not in log, log

    logged = [line.strip() for line in log.splitlines()]
    assert "step 1 of 3" in logged and "another display, step 1" in logged, log  # one line per display
    assert "step 2 of 3" not in log, log  # at most one line per display every 30 s
    assert logged.index("step 1 of 3") < logged.index("done"), log  # live, while the notebook runs

    # Papermill's own handling still runs: the executed notebook holds the display's last state.
    executed = nbformat.read(tmp_path / "executed.ipynb", as_version=4)
    shown = [output.data["text/plain"] for output in executed.cells[0].outputs]
    assert shown == ["step 2 of 3", "another display, step 1"]


def test_papermill_is_pinned_to_the_installed_version_the_tool_was_checked_against():
    pins = re.findall(r"^papermill==([\w.]+)", (REPO / "requirements-dev.txt").read_text(), re.MULTILINE)
    assert pins == [importlib.metadata.version("papermill")]

"""`make run`'s log starts without ipykernel's "Kernel is running over TCP without encryption" warning.

tools/run_notebook.py and tools/rehearsal.py ask jupyter_client to provision CurveZMQ keys for the kernel
(`KernelManager.transport_encryption`), so ipykernel (7.4.0 here) has no plain transport to warn about.
"""

from __future__ import annotations

import os
import subprocess
import sys

import nbformat
import pytest
import run_notebook  # tools/ is on pytest's pythonpath
from conftest import REPO


@pytest.mark.skipif(not run_notebook.ENCRYPTION, reason="no CurveZMQ in this jupyter_client or pyzmq")
def test_make_run_log_has_no_unencrypted_kernel_warning(tmp_path):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("print('the cell ran')")]
    nbformat.write(notebook, tmp_path / "tiny.ipynb")
    command = [sys.executable, str(REPO / "tools" / "run_notebook.py"), "tiny.ipynb", "executed.ipynb",
               "--cwd", ".", "--kernel", "python3", "--log-output", "--no-progress-bar"]
    env = {key: value for key, value in os.environ.items() if key != "A2_SMOKE"}
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
                            check=False)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log
    assert "the cell ran" in log, log  # the kernel ran the cell and its output reached the log
    assert "without encryption" not in log, log

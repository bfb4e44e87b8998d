"""`make clean` deletes what a run regenerates in minutes, not the trained models: `clean-checkpoints` does.

`make pdf` installs its tools before it executes the notebook, so that a missing one stops it within seconds.
Each target runs on a copy of the Makefile in a scratch folder, never on this repository.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import REPO

REGENERATED = ("outputs/assignment2.smoke.ipynb", "outputs/assignment2.full.ipynb", "outputs/assignment2.pdf",
               "outputs/assignment2.html", "outputs/sample_greedy.txt", "outputs/checks.json",
               "outputs/adversarial/goldfish-to-great-white-shark.png", ".pytest_cache/v/cache/lastfailed",
               ".ruff_cache/0.17.6/123", "tests/__pycache__/conftest.cpython-311.pyc")
CHECKPOINTS = ("outputs/checkpoints/rnnlm-tf-0123abcd.pt", "outputs/checkpoints/rnnlm-4567ef.pt.partial")
ENVIRONMENT = (".venv/bin/python", ".venv/lib/python3.11/site-packages/pkg/__pycache__/m.cpython-311.pyc",
               ".pdf-tools/node_modules/mathjax/MathJax.js")
SOURCES = ("assignment2.ipynb", "images/goldfish.jpg", "tools/export_pdf.py")

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")


@pytest.fixture
def project(tmp_path) -> Path:
    """A scratch project: this Makefile, and one file of each kind the targets may or may not delete."""
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(REPO / "Makefile", project / "Makefile")
    for relpath in REGENERATED + CHECKPOINTS + ENVIRONMENT + SOURCES:
        (project / relpath).parent.mkdir(parents=True, exist_ok=True)
        (project / relpath).write_text("x")
    return project


def make(project: Path, target: str, decoy_venv: Path) -> None:
    """`make -C project target`, with VENV pointing at a decoy outside it (no target here may delete it)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("MAKE") and key != "MFLAGS"}
    env["VENV"] = str(decoy_venv)  # were `clean` to remove $(VENV), the decoy would go, never the real .venv
    subprocess.run(["make", "--no-print-directory", "-C", str(project), target], env=env, check=True,
                   capture_output=True, text=True)


def existing(project: Path, relpaths: tuple[str, ...]) -> list[str]:
    return [relpath for relpath in relpaths if (project / relpath).exists()]


def test_clean_keeps_the_trained_models_and_clean_checkpoints_deletes_them(project, tmp_path):
    decoy = tmp_path / "decoy-venv"
    (decoy / "bin").mkdir(parents=True)
    real_venv = sorted(path.name for path in (REPO / ".venv").glob("*"))

    make(project, "clean", decoy)
    assert existing(project, REGENERATED) == []
    assert existing(project, CHECKPOINTS + ENVIRONMENT + SOURCES) == list(CHECKPOINTS + ENVIRONMENT + SOURCES)
    assert not (project / "outputs" / "adversarial").exists()

    make(project, "clean-checkpoints", decoy)
    assert existing(project, CHECKPOINTS) == [] and not (project / "outputs").exists()
    assert existing(project, ENVIRONMENT + SOURCES) == list(ENVIRONMENT + SOURCES)

    make(project, "clean", decoy)  # nothing left to delete: still succeeds
    assert (decoy / "bin").is_dir()
    assert sorted(path.name for path in (REPO / ".venv").glob("*")) == real_venv


def test_clean_env_deletes_the_environment_only(project):
    env = {key: value for key, value in os.environ.items() if not key.startswith("MAKE") and key != "VENV"}
    subprocess.run(["make", "--no-print-directory", "-C", str(project), "clean-env"], env=env, check=True,
                   capture_output=True, text=True)
    assert not (project / ".venv").exists() and not (project / ".pdf-tools").exists()
    assert existing(project, CHECKPOINTS + SOURCES) == list(CHECKPOINTS + SOURCES)


FAKE_PYTHON = """#!/bin/sh
echo "$*" >> "$A2_CALLS"
case "$*" in *--find-browser*) [ -n "$A2_BROWSER" ] || exit 1 ;; esac
"""


@pytest.mark.parametrize("jobs", ["-j1", "-j4"])
@pytest.mark.parametrize("missing", ["browser", "mathjax", None])
def test_make_pdf_installs_its_tools_before_it_executes_the_notebook(tmp_path, jobs, missing):
    """`make pdf` (a stand-in python logs its calls): a missing PDF tool stops it before the notebook runs.

    Without apt-get or npm on PATH, a missing browser or MathJax cannot be installed; with both present, the
    notebook is executed next, then exported.
    """
    project = tmp_path / "project"
    venv, tools = tmp_path / "venv", tmp_path / "path"
    (venv / "bin").mkdir(parents=True)
    tools.mkdir()
    project.mkdir()
    shutil.copy(REPO / "Makefile", project / "Makefile")
    for relpath in ("requirements.txt", "requirements-dev.txt", "assignment2.ipynb"):
        (project / relpath).write_text("x")
    (venv / "bin" / "python").write_text(FAKE_PYTHON)
    (venv / "bin" / "python").chmod(0o755)
    (venv / ".installed").write_text("")
    os.utime(venv / ".installed", (2e9, 2e9))  # newer than the requirements: nothing to install
    for command in ("mkdir", "touch"):  # what the notebook's recipe uses; no apt-get, no npm
        (tools / command).symlink_to(shutil.which(command))
    if missing != "browser":
        (tools / "pdftoppm").symlink_to(shutil.which("true"))
    if missing is None:
        (project / ".pdf-tools/node_modules/mathjax").mkdir(parents=True)
        (project / ".pdf-tools/node_modules/mathjax/MathJax.js").write_text("x")
    calls = tmp_path / "calls.txt"
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("MAKE", "A2_")) and key != "MFLAGS"}
    env.update(PATH=str(tools), VENV=str(venv), A2_CALLS=str(calls))
    if missing != "browser":
        env["A2_BROWSER"] = "1"

    result = subprocess.run([shutil.which("make"), "--no-print-directory", jobs, "-C", str(project), "pdf"],
                            env=env, capture_output=True, text=True, check=False)
    logged = calls.read_text().splitlines()
    steps = [next((step for step in ("--find-browser", "run_notebook.py", "export_pdf.py outputs/")
                   if step in line), line) for line in logged]
    if missing is None:
        assert result.returncode == 0, result.stdout + result.stderr
        assert steps == ["--find-browser", "run_notebook.py", "export_pdf.py outputs/"]
    else:
        assert result.returncode != 0
        assert "run_notebook.py" not in steps and steps[0] == "--find-browser", steps
        assert not (project / "outputs").exists()

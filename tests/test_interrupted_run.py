"""A real interruption: a smoke run killed (SIGKILL) mid-training resumes and ends with the same numbers."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import torch
from conftest import REPO, make_project_copy

# Three epochs of 30 steps: the kill lands before the first model has finished.
PARAMETERS = ["-p", "LM_NUM_EPOCHS", "3", "-p", "LM_TRAIN_COLUMNS", "901"]


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (the Jupyter kernel that papermill started, and its children), from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, stack = [], [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def run(workdir: Path, kill_after: str | None = None) -> str:
    """`make run`'s command, smoke mode; with `kill_after`, SIGKILL it and its kernel once that is logged."""
    command = [
        sys.executable,
        str(REPO / "tools" / "run_notebook.py"),
        "assignment2.ipynb",
        "executed.ipynb",
        "--cwd",
        ".",
        "--log-output",
        "--no-progress-bar",
        *PARAMETERS,
    ]
    process = subprocess.Popen(
        command,
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "A2_SMOKE": "1"},
    )
    lines = []
    for line in process.stdout:
        lines.append(line)
        if kill_after is not None and kill_after in line:
            for pid in [*descendants(process.pid), process.pid]:
                os.kill(pid, signal.SIGKILL)
            break
    process.wait(timeout=900)
    return "".join(lines)


def q2_numbers(workdir: Path, log: str) -> dict:
    """Both models' validation perplexities and losses (checkpoints) and the printed cosine distances."""
    numbers = {}
    for path in sorted((workdir / "outputs" / "checkpoints").glob("*.pt")):
        history = torch.load(path, weights_only=True)["history"]
        numbers[path.name] = (history["valid_ppl"], history["loss"])
    numbers["distances"] = re.findall(r"cosine distance\(army, taxpayer\) in the .* = [\d.]+", log)
    return numbers


def test_a_killed_run_resumes_at_the_next_epoch_and_ends_with_the_numbers_of_an_uninterrupted_run(tmp_path):
    interrupted = make_project_copy(tmp_path / "interrupted")
    first = run(interrupted, kill_after="Epoch [1/3]")
    assert "Epoch [1/3]" in first and "Epoch [3/3]" not in first
    checkpoints = list((interrupted / "outputs" / "checkpoints").glob("rnnlm-tf-*.pt"))
    assert len(checkpoints) == 1
    saved_epoch = torch.load(checkpoints[0], weights_only=True)["epoch"]  # 1, or 2 if the kill came late
    second = run(interrupted)
    assert f"Resuming rnnlm-tf at epoch {saved_epoch + 1} of 3 (from its checkpoint)" in second
    assert (
        "Epoch [1/3]" not in second.split("Resuming rnnlm-tf")[1].split("Resuming")[0].split("rnnlm-free")[0]
    )

    clean = make_project_copy(tmp_path / "clean")
    uninterrupted = run(clean)
    assert "Resuming" not in uninterrupted
    resumed_numbers = q2_numbers(interrupted, second)
    assert len(resumed_numbers["distances"]) == 3
    assert resumed_numbers == q2_numbers(clean, uninterrupted)

"""A real interruption: a training process killed (SIGKILL) mid-run resumes and ends with the same numbers.

The process runs the notebook's own train_or_load_lm (loaded by tools/notebook_namespace.py) on the real
Penn Treebank ids at smoke sizes, as the notebook's training cell does; the kill gives it no chance to clean
up.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import torch
from conftest import REPO

TRAIN = textwrap.dedent("""
    import sys
    import torch
    from notebook_namespace import load_notebook_namespace

    nb = load_notebook_namespace()
    corpus = nb["Corpus"]()
    ids = corpus.get_data(nb["asset_path"](nb["PTB_TRAIN"]), 20)[:, :901]  # 30 windows an epoch
    valid = corpus.get_data(nb["asset_path"](nb["PTB_VALID"]), 20, extend_vocab=False)[:, :121]
    config = {"vocab_size": len(corpus.dictionary), "embed_size": 16, "hidden_size": 64, "num_layers": 1,
              "num_epochs": 3, "seq_length": 30, "learning_rate": 0.002, "clip_norm": 0.5, "seed": 0,
              "train_shape": tuple(ids.shape), "valid_shape": tuple(valid.shape), "precision": "fp32",
              "teacher_forcing": True}
    nb["train_or_load_lm"]("rnnlm-tf", config, ids, valid, __import__("pathlib").Path(sys.argv[1]),
                           torch.device("cpu"))
""")


def train(folder: Path, kill_after: str | None = None) -> str:
    """Run the training process on `folder`; with `kill_after`, SIGKILL it once that line is printed."""
    process = subprocess.Popen([sys.executable, "-c", TRAIN, str(folder)], cwd=REPO, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               env={**os.environ, "PYTHONPATH": str(REPO / "tools"), "OMP_NUM_THREADS": "1",
                                    "MKL_NUM_THREADS": "1"})  # one thread: the same sums on a busy machine
    lines = []
    for line in process.stdout:
        lines.append(line)
        if kill_after is not None and line.startswith(kill_after):
            process.kill()
            break
    process.wait(timeout=600)
    assert process.returncode == (-9 if kill_after else 0), "".join(lines)
    return "".join(lines)


def history(folder: Path) -> dict:
    """The finished model's training history and weights, as its checkpoint holds them."""
    (path,) = (folder / "checkpoints").glob("rnnlm-tf-*.pt")
    return torch.load(path, weights_only=True)


def test_a_killed_run_resumes_at_the_next_epoch_and_ends_with_the_numbers_of_an_uninterrupted_run(tmp_path):
    interrupted = tmp_path / "interrupted"
    first = train(interrupted, kill_after="Epoch [1/3]")
    assert "Epoch [2/3]" not in first and not list((interrupted / "checkpoints").glob("*.partial"))
    saved_epoch = history(interrupted)["epoch"]  # 1, or 2 if the kill came late
    assert saved_epoch in (1, 2)
    train(interrupted)
    resumed = history(interrupted)
    assert resumed["epoch"] == 3
    assert resumed["history"]["log"].count(f"Resuming rnnlm-tf at epoch {saved_epoch + 1} of 3 (from its "
                                           "checkpoint)") == 1
    clean = tmp_path / "clean"
    train(clean)
    uninterrupted = history(clean)
    for field in ("loss", "valid_ppl", "input_counts"):
        assert resumed["history"][field] == uninterrupted["history"][field], field
    assert all(torch.equal(a, b) for a, b in zip(resumed["model"].values(), uninterrupted["model"].values()))

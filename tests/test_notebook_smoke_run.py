"""The whole notebook runs top to bottom in smoke mode in a fresh kernel, and prints its answers."""

import json
import os
import re

import nbformat
import pytest
from conftest import cell_text, notebook_text


def test_the_smoke_run_has_no_errors_and_says_it_is_a_smoke_run(executed_notebook):
    errors = [o for c in executed_notebook.notebook.cells if c.cell_type == "code"
              for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert errors == []
    assert "NOT FOR SUBMISSION" in notebook_text(executed_notebook.notebook)


def test_q1a_prints_both_readings_checked_by_autograd(executed_notebook):
    text = notebook_text(executed_notebook.notebook)
    assert "Layer 1 (55×55): unit 27: (105, 115, 105, 115), unit 28: (109, 119, 109, 119)" in text
    assert "Layer 2 (27×27): unit 13: (97, 115, 97, 115), unit 14: (105, 123, 105, 123)" in text
    assert "Layer 3 (27×27): unit 13: (81, 131, 81, 131), unit 14: (89, 139, 89, 139)" in text
    assert "✓ The interval formula, autograd and the hand derivation agree on all six." in text


def test_q1b_labels_the_untrained_model_and_q1c_saves_six_pngs(executed_notebook):
    text = notebook_text(executed_notebook.notebook)
    assert "AlexNet (UNTRAINED" in text and "RANDOM weights" in text
    saved = sorted((executed_notebook.workdir / "outputs" / "adversarial").glob("*__to_*.png"))
    assert len(saved) == 6
    assert "| photo | target | AlexNet on the saved PNG | fooled |" in text and "| α | fooled |" in text
    assert "(0%)" not in text


def test_q2_trains_both_models_samples_and_measures(executed_notebook):
    text = notebook_text(executed_notebook.notebook)
    out = executed_notebook.workdir / "outputs"
    assert "vocabulary: 10,000 words; training ids (20, 46479): 1,549 batches per epoch" in text
    assert text.count("Epoch [2/2] step 20/20") == 2
    assert "retain_graph=False: window 2's backward raises RuntimeError: Trying to backward" in text
    assert "retain_graph=True: window 2's backward raises RuntimeError: one of the variables needed" in text
    assert (out / "sample_multinomial.txt").read_text().strip() and (out / "sample_greedy.txt").read_text().strip()
    for name in ("rnnlm-tf", "rnnlm-free"):
        assert len(list((out / "checkpoints").glob(f"{name}-*.pt"))) == 1
    assert "cosine distance(army, taxpayer) = " in text and "| validation perplexity | epoch 1 | epoch 2 |" in text
    assert "Language-model precision: " in text


def test_q3_checks_print(executed_notebook):
    text = notebook_text(executed_notebook.notebook)
    assert "✓ PS(X) = S(PX) in 20 random problems" in text and "✓ G(PX) = G(X) with w = 1" in text
    assert "✓ Both map Z (4, 10, 16) to H(Z) (4, 10, 16) and agree" in text


def test_the_last_cell_counts_every_check_and_fills_the_answer_sheet_on_top(executed_notebook):
    cells = [c for c in executed_notebook.notebook.cells if c.cell_type == "code"]
    verdicts = [line for line in notebook_text(executed_notebook.notebook).splitlines() if line[:2] in ("✓ ", "✗ ")]
    checks = [line for line in verdicts if not re.match(r"✗ Q\d", line)]  # the last cell repeats each ✗ with its section
    failed = [line[2:] for line in checks if line.startswith("✗ ")]
    summary = cell_text(cells[-1]).splitlines()
    assert summary[0] == f"{len(checks) - len(failed)} of {len(checks)} checks agree with this run."
    assert [line.split(": ", 1)[1] for line in summary[1:]] == failed  # each ✗, with its section
    assert len(checks) >= 19
    sheet = [o["data"]["text/markdown"] for o in cells[0].outputs if "Answer sheet" in json.dumps(o.get("data", {}))]
    assert len(sheet) == 1  # in the setup cell's output, on page 1
    table = sheet[0]
    assert "Answer sheet (this run)" in table and "appears here" not in table  # replaced by the last cell
    for section in ("Q1(a)", "Q1(b)", "Q1(c)", "Q2.1", "Q2.2", "Q2.3", "Q2.4", "Q2.5", "Q3(b)", "Q3(c)", "Q3(d)"):
        assert f"| [{section}](#" in table, section
    assert "layer 1 (105, 115, 105, 115), layer 2 (97, 115, 97, 115), layer 3 (81, 131, 81, 131)" in table
    assert "**w = 1**" in table


def test_a_second_run_loads_the_trained_models_and_prints_their_log(executed_notebook):
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(executed_notebook.workdir / "assignment2.ipynb", as_version=4)
    first_log = [line for line in notebook_text(executed_notebook.notebook).splitlines() if line.startswith("Epoch [")]
    stop = next(i for i, c in enumerate(notebook.cells) if "train_or_load_lm(\"rnnlm-tf\"" in c.source) + 1
    notebook.cells = notebook.cells[:stop]
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {
        "path": str(executed_notebook.workdir)}}).execute(env={**os.environ, "A2_SMOKE": "1"})
    second = notebook_text(notebook)
    assert "Loaded rnnlm-tf-" in second and all(line in second for line in first_log[:2])


def test_a_strict_run_executes_every_cell_then_fails_naming_each_disagreeing_check(tmp_path, monkeypatch):
    """CHECK_CONCLUSIONS injected by papermill: no check stops the run; the last cell raises and names them all."""
    import papermill
    from conftest import make_project_copy

    monkeypatch.setenv("A2_SMOKE", "1")
    workdir = make_project_copy(tmp_path / "strict")
    out = workdir / "strict.ipynb"
    with pytest.raises(papermill.PapermillExecutionError) as failure:
        papermill.execute_notebook(str(workdir / "assignment2.ipynb"), str(out), parameters={"CHECK_CONCLUSIONS": True},
                                   cwd=str(workdir), kernel_name="python3", progress_bar=False)
    executed = nbformat.read(out, as_version=4)
    code = [c for c in executed.cells if c.cell_type == "code"]
    errors = [i for i, c in enumerate(code) if any(o.get("output_type") == "error" for o in c.outputs)]
    assert errors == [len(code) - 1]  # only the last cell failed: every other cell, Q3(d) included, ran
    assert "Both map Z (4, 10, 16) to H(Z)" in cell_text(code[-2])
    failed = [line[2:] for line in notebook_text(executed).splitlines()
              if line.startswith("✗ ") and not re.match(r"✗ Q\d", line)]
    assert failed, "the smoke run is expected to disagree with some full-run conclusion"
    assert f"{len(failed)} check(s) disagree with this run" in str(failure.value)
    assert all(claim in str(failure.value) for claim in failed)

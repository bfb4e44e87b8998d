"""The whole notebook runs top to bottom in smoke mode in a fresh kernel, and prints its answers."""

import json
import os
import re

import nbformat
import pytest
from conftest import cell_text, notebook_text


def test_the_smoke_run_has_no_errors_and_says_it_is_a_smoke_run(executed_notebook):
    errors = [
        o
        for c in executed_notebook.notebook.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    ]
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
    assert "| photo | target | AlexNet on the PNG | fooled |" in text and "| α | fooled |" in text
    assert "(0%)" not in text


def test_q2_trains_both_models_samples_and_measures(executed_notebook):
    text = notebook_text(executed_notebook.notebook)
    out = executed_notebook.workdir / "outputs"
    assert "vocabulary: 10,000 words; training ids (20, 46479): 1,549 batches per epoch" in text
    assert text.count("Epoch [2/2] step 20/20") == 2
    assert "retain_graph=False: window 2's backward raises RuntimeError: Trying to backward" in text
    assert "retain_graph=True: window 2's backward raises RuntimeError: one of the variables needed" in text
    assert (out / "sample_multinomial.txt").read_text().strip() and (
        out / "sample_greedy.txt"
    ).read_text().strip()
    for name in ("rnnlm-tf", "rnnlm-free"):
        assert len(list((out / "checkpoints").glob(f"{name}-*.pt"))) == 1
    assert (
        "cosine distance(army, taxpayer) in the teacher-forced model = " in text
        and "| | epoch 1 | epoch 2 | fed its own predictions, at the end |" in text
    )
    assert "Language-model precision: " in text


def test_q3_checks_print(executed_notebook):
    text = notebook_text(executed_notebook.notebook)
    assert "✓ PS(X) = S(PX) in 20 random problems" in text and "✓ G(PX) = G(X) with w = 1" in text
    assert "✓ Both map Z (4, 10, 16) to H(Z) (4, 10, 16) and agree" in text


def test_the_last_cell_counts_every_check_records_them_and_fills_the_answer_sheet_on_top(executed_notebook):
    cells = [c for c in executed_notebook.notebook.cells if c.cell_type == "code"]
    records = json.loads((executed_notebook.workdir / "outputs" / "checks.json").read_text(encoding="utf-8"))
    assert len(records) >= 19 and all(set(r) == {"section", "claim", "agrees"} for r in records)
    agreeing = sum(r["agrees"] for r in records)
    summary = cell_text(cells[-1]).splitlines()
    assert summary[0].startswith(f"{agreeing} of {len(records)} checks agree with this run")
    assert summary[1:] == [f"✗ {r['section']}: {r['claim']}" for r in records if not r["agrees"]]
    printed = notebook_text(executed_notebook.notebook)
    assert all(
        ("✓ " if r["agrees"] else "✗ ") + r["claim"] in printed for r in records
    )  # each printed where made
    sheet = [
        o["data"]["text/markdown"]
        for o in cells[3].outputs
        if "Answer sheet" in json.dumps(o.get("data", {}))
    ]
    assert len(sheet) == 1  # in the first cell with output, on page 1
    table = sheet[0]
    assert "Answer sheet (this run)" in table and "appears here" not in table  # replaced by the last cell
    for section in (
        "Q1(a)",
        "Q1(b)",
        "Q1(c)",
        "Q2.1",
        "Q2.2",
        "Q2.3",
        "Q2.4",
        "Q2.5",
        "Q3(b)",
        "Q3(c)",
        "Q3(d)",
    ):
        assert f"| [{section}](#" in table, section
    assert "layer 1 (105, 115, 105, 115), layer 2 (97, 115, 97, 115), layer 3 (81, 131, 81, 131)" in table
    assert "**w = 1**" in table
    assert "DisplayHandle" not in printed


def test_each_run_dependent_section_opens_with_its_bold_answer_and_this_runs_numbers(executed_notebook):
    cells = executed_notebook.notebook.cells
    answers = {}
    for index, cell in enumerate(cells):
        if cell.cell_type == "code" and 'answer_slot("' in cell.source:
            section = cell.source.split('answer_slot("')[1].split('"')[0]
            heading = next(c.source for c in reversed(cells[:index]) if c.cell_type == "markdown")
            assert "<a id=" in heading, section  # right under its question
            answers[section] = cell_text(cell)
    assert set(answers) == {"Q1(b)", "Q1(c)", "Q2.1(c)", "Q2.2", "Q2.3", "Q2.4", "Q2.5"}
    for section, text in answers.items():
        assert text.startswith("**Answer") and text.rstrip().endswith("**") and "filled in" not in text, (
            section
        )
        assert re.search(r"\d", text), section  # a number of this run
    assert "MiB per window" in answers["Q2.1(c)"] and "-word cycle" in answers["Q2.2"]


def test_training_cells_print_only_the_log(executed_notebook):
    """The live progress line is blanked when training ends: the executed notebook keeps only the log."""
    for cell in executed_notebook.notebook.cells:
        if cell.cell_type == "code" and 'train_or_load_lm("' in cell.source:
            lines = [line for line in cell_text(cell).splitlines() if line.strip()]
            log = [line for line in lines if line.startswith("Epoch [") or " min expected for " in line]
            assert len(log) == 3 and log[0].endswith("steps on cpu"), log  # the estimate, then 2 epochs
            assert not any("s/step" in line or "min left" in line for line in lines)


def test_a_second_run_loads_the_trained_models_and_prints_their_log(executed_notebook):
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(executed_notebook.workdir / "assignment2.ipynb", as_version=4)
    first_log = [
        line for line in notebook_text(executed_notebook.notebook).splitlines() if line.startswith("Epoch [")
    ]
    stop = next(i for i, c in enumerate(notebook.cells) if 'train_or_load_lm("rnnlm-tf"' in c.source) + 1
    notebook.cells = notebook.cells[:stop]
    NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(executed_notebook.workdir)}},
    ).execute(env={**os.environ, "A2_SMOKE": "1"})
    second = notebook_text(notebook)
    assert "Loaded rnnlm-tf-" in second and all(line in second for line in first_log[:2])


def test_settings_are_papermill_parameters_and_a_strict_run_fails_naming_each_disagreeing_check(
    tmp_path, monkeypatch, caplog
):
    """Papermill injects settings (no 'unknown parameter'); no check stops the run; the last cell lists."""
    import papermill
    from conftest import make_project_copy

    monkeypatch.setenv("A2_SMOKE", "1")
    workdir = make_project_copy(tmp_path / "strict")
    out = workdir / "strict.ipynb"
    with pytest.raises(papermill.PapermillExecutionError) as failure:
        papermill.execute_notebook(
            str(workdir / "assignment2.ipynb"),
            str(out),
            cwd=str(workdir),
            parameters={"CHECK_CONCLUSIONS": True, "LM_NUM_EPOCHS": 1},
            kernel_name="python3",
            progress_bar=False,
        )
    assert "unknown parameter" not in caplog.text.lower()
    executed = nbformat.read(out, as_version=4)
    code = [c for c in executed.cells if c.cell_type == "code"]
    errors = [i for i, c in enumerate(code) if any(o.get("output_type") == "error" for o in c.outputs)]
    assert errors == [len(code) - 1]  # only the last cell failed: every other cell, Q3(d) included, ran
    q3d = [i for i, c in enumerate(code) if "Both map Z (4, 10, 16) to H(Z)" in cell_text(c)]
    assert q3d and q3d[0] < len(code) - 1  # Q3(d)'s check ran before the failing last cell
    text = notebook_text(executed)
    assert text.count("Epoch [1/1] step 10/10") == 2 and "Epoch [2/" not in text  # the -p value won
    records = json.loads((workdir / "outputs" / "checks.json").read_text(encoding="utf-8"))
    failed = [r["claim"] for r in records if not r["agrees"]]
    assert failed, "the smoke run is expected to disagree with some full-run conclusion"
    assert f"{len(failed)} check(s) disagree with this run" in str(failure.value)
    assert all(claim in str(failure.value) for claim in failed)


def test_papermill_lists_every_setting_with_a_literal_default():
    import subprocess
    import sys

    from conftest import NOTEBOOK

    listing = subprocess.run(
        [sys.executable, "-m", "papermill", "--help-notebook", str(NOTEBOOK)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for name in (
        "LM_NUM_EPOCHS",
        "LM_HIDDEN_SIZE",
        "LM_EMBED_SIZE",
        "LM_TRAIN_COLUMNS",
        "ADV_MAX_STEPS",
        "ADV_PATIENCE",
        "LM_PRECISION",
        "OUTPUT_DIR",
        "SEED",
        "CHECK_CONCLUSIONS",
        "LM_RETRAIN",
        "TBPTT_WINDOWS",
        "Q3_TRIALS",
        "NUM_SHOWN_IMAGES",
    ):
        assert re.search(
            rf"^  {name}: .*\(default (None|True|False|-?[\d.]+|\"[^\"]*\")\)$", listing, re.M
        ), name
    assert 'LM_PRECISION: Unknown type (default "fp32")' in listing

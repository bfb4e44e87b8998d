"""A full-mode run with settings cut by papermill and a trained stand-in for AlexNet (tools/rehearsal.py).

The report must say where it departs from the assignment: page 1 names each changed setting with this run's
value and the assignment's, the answer sheet's title says so, and Q2 prints what it trained from the settings.
"""

from __future__ import annotations

import json

import nbformat
import pytest
import rehearsal  # tools/ is on pytest's pythonpath
from conftest import cell_text

CUT = {"LM_EMBED_SIZE": 16, "LM_HIDDEN_SIZE": 64, "LM_NUM_EPOCHS": 2, "LM_TRAIN_COLUMNS": 301,
       "LM_VALID_COLUMNS": 121, "ADV_MAX_STEPS": 40, "ADV_PATIENCE": 10, "TBPTT_WINDOWS": 4}


@pytest.fixture(scope="module")
def rehearsed(tmp_path_factory) -> nbformat.NotebookNode:
    folder = tmp_path_factory.mktemp("rehearsal")
    executed = rehearsal.rehearse(folder, CUT | {"CHECK_CONCLUSIONS": False})
    notebook = nbformat.read(executed, as_version=4)
    notebook.folder = folder
    return notebook


def first_outputs(notebook: nbformat.NotebookNode) -> str:
    """What the cells before Question 1 show: page 1."""
    question_1 = next(i for i, c in enumerate(notebook.cells) if c.source.startswith("# Question 1"))
    return "\n".join(cell_text(c) for c in notebook.cells[:question_1] if c.cell_type == "code")


def test_page_one_names_each_departed_setting_with_its_value_and_the_assignments(rehearsed):
    page_one = first_outputs(rehearsed)
    assert "SMOKE RUN" not in page_one
    assignment = {"LM_EMBED_SIZE": 128, "LM_HIDDEN_SIZE": 1024, "LM_NUM_EPOCHS": 5, "LM_TRAIN_COLUMNS": "all",
                  "LM_VALID_COLUMNS": "all", "ADV_MAX_STEPS": 1000, "ADV_PATIENCE": 100, "TBPTT_WINDOWS": 8}
    lines = [line for line in page_one.splitlines() if "setting `" in line]
    assert len(lines) == len(CUT)
    for name, value in CUT.items():
        (line,) = [line for line in lines if f"setting `{name}`" in line]
        assert f"**{value}**" in line and f"the assignment's: {assignment[name]};" in line, line
    assert "settings differ from the assignment's" in page_one  # the answer sheet's title


def test_q2_prints_what_it_trained_from_the_settings(rehearsed):
    cell = next(c for c in rehearsed.cells
                if c.cell_type == "code" and 'train_or_load_lm("rnnlm-tf"' in c.source)
    described = next(line for line in cell_text(cell).splitlines() if line.startswith("This run trains"))
    assert "Embedding(10000, 16) → LSTM(16, 64," in described and "Linear(64, 10000)" in described
    assert "for 2 epochs of 10 batches of 20×30 tokens" in described
    assert "(the assignment: 5 epochs of 1,549 batches)" in described


def test_the_stand_in_is_trained_so_q1s_checks_agree(rehearsed):
    records = json.loads((rehearsed.folder / "outputs" / "checks.json").read_text(encoding="utf-8"))
    q1 = [r for r in records if r["section"] in ("Q1(b)", "Q1(c)")]
    assert len(q1) >= 6 and all(r["agrees"] for r in q1), [r["claim"] for r in q1 if not r["agrees"]]


def slot_text(notebook: nbformat.NotebookNode, section: str) -> str:
    """What the answer slot of `section` shows: the bold answer and the departures that change its figures."""
    slot = f'REPORT.show_slot("{section}")'
    (cell,) = [c for c in notebook.cells if c.cell_type == "code" and slot in c.source]
    return cell_text(cell)


def test_each_section_names_the_departures_that_change_its_figures(rehearsed):
    for section in ("Q2.1", "Q2.2", "Q2.3", "Q2.4", "Q2.5"):
        assert "10 of 1,549 batches per epoch" in slot_text(rehearsed, section), section
        assert "LSTM hidden size in Q2: 64 (assignment: 1024)" in slot_text(rehearsed, section), section
    for section in ("Q1(b)", "Q1(c)"):
        assert "classifier TEST STAND-IN" in slot_text(rehearsed, section), section
    assert "Adam steps at most per attack in Q1(c): 40 (assignment: 1000)" in slot_text(rehearsed, "Q1(c)")
    for section in ("Q1(a)", "Q3(b)", "Q3(c)", "Q3(d)"):
        assert "departs" not in slot_text(rehearsed, section), section


def test_a_word_never_an_input_leaves_q2_3_and_q2_5_without_a_conclusion_and_gives_the_count(rehearsed):
    """301 tokens per stream never feed "taxpayer" to the model: its embedding row is its random start."""
    records = json.loads((rehearsed.folder / "outputs" / "checks.json").read_text(encoding="utf-8"))
    denied = {(r["section"], r["check"]) for r in records if not r["agrees"]}
    assert ("Q2.3", "taxpayer learned") in denied
    assert ("Q2.5", "both words learned with teacher forcing") in denied
    assert "and 0 times. Not established in this run (✗ taxpayer learned" in slot_text(rehearsed, "Q2.3")
    denial = "Not established in this run (✗ both words learned with teacher forcing"
    assert denial in slot_text(rehearsed, "Q2.5")


def test_the_end_of_a_full_run_names_the_unfilled_title_fields(rehearsed):
    last = [c for c in rehearsed.cells if c.cell_type == "code"][-1]
    named = "⚠ Fill in the title fields before printing: STUDENT_NAME, STUDENT_ID, DISCUSSED_WITH"
    assert named in cell_text(last)


def test_every_answer_states_its_figures_and_one_conclusion_in_at_most_60_words(rehearsed):
    """Most checks agree here, so most answers show their conclusion: the whole bold text is counted."""
    established = 0
    sections = ("Q1(a)", "Q1(b)", "Q1(c)", "Q2.1", "Q2.2", "Q2.3", "Q2.4", "Q2.5", "Q3(b)", "Q3(c)", "Q3(d)")
    for section in sections:
        answer = slot_text(rehearsed, section).split("\n\n")[0].removeprefix("**Answer: ")
        established += "Not established" not in answer
        words = answer.split("Not established in this run")[0].split()
        assert len(words) <= 60, (section, len(words))
    assert established >= 8

"""The whole notebook runs top to bottom in smoke mode, under cuDNN's RNN rule, and prints its answers.

Every test here reads the suite's one kernel (the `smoke_runs` fixture): Run all; an edited checking cell
and the closing cell again; then, under Colab's naming of cells, Run all again and one checking cell and the
closing cell again. `stopped_run`, a fresh kernel, stops just before Question 3. Results are read
from checks.json, the files the notebook writes, and the answer slots, not from the wording of its printouts.
"""

import ast
import os
import re
import subprocess
import sys

import nbformat
from conftest import CUDA_RULES, cell_text, checks_record, notebook_text

SECTIONS = ["Q1(a)", "Q1(b)", "Q1(c)", "Q2.1", "Q2.2", "Q2.3", "Q2.4", "Q2.5", "Q3(b)", "Q3(c)", "Q3(d)"]


def errors(notebook) -> list:
    return [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])
            if o.get("output_type") == "error"]


def summary(notebook) -> tuple[int, int]:
    """(agreeing, all) as the last cell reports them."""
    last = [c for c in notebook.cells if c.cell_type == "code"][-1]
    agreeing, total = re.match(r"(\d+) of (\d+) checks agree", cell_text(last)).groups()
    return int(agreeing), int(total)


def test_every_stage_runs_to_the_end_under_cudnns_rnn_rule(smoke_runs):
    for name, stage in smoke_runs.stages.items():
        assert errors(stage.notebook) == [], name


def test_the_kernel_ran_with_the_cudnn_rule_that_refuses_an_eval_mode_rnn_backward():
    """The fixture's kernel has tests/cuda_rules first on PYTHONPATH: Python then applies the rule."""
    code = ("import torch\nlstm = torch.nn.LSTM(2, 3).eval()\nout, _ = lstm(torch.ones(4, 1, 2))\n"
            "try:\n    out.sum().backward()\nexcept RuntimeError as error:\n    print(type(error).__name__)")
    env = {**os.environ, "PYTHONPATH": str(CUDA_RULES)}
    refused = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                             check=True)
    assert refused.stdout.strip() == "RuntimeError"


def test_an_edited_cell_colab_naming_run_all_again_and_one_cell_again_report_the_same_checks(smoke_runs):
    """Checks belong to their section's answer, not to how a kernel names cells: one count in every stage."""
    assert list(smoke_runs.stages) == ["run all", "edited cell again", "run all again", "one cell again"]
    first = smoke_runs.stages["run all"]
    assert len(first.checks) >= 20 and {r["section"] for r in first.checks} == set(SECTIONS)
    for name, stage in smoke_runs.stages.items():
        assert stage.checks == first.checks, name
        assert summary(stage.notebook) == (sum(r["agrees"] for r in first.checks), len(first.checks)), name
        sheet = answer_sheet(stage.notebook)
        for section in SECTIONS:
            agreeing = sum(r["agrees"] for r in first.checks if r["section"] == section)
            if agreeing:
                assert f"{agreeing} ✓" in sheet_row(sheet, section), (name, section)


def test_run_all_again_loads_the_trained_models(smoke_runs):
    again = smoke_runs.stages["run all again"].notebook
    training = [c for c in again.cells if c.cell_type == "code" and 'train_or_load_lm("' in c.source]
    assert len(training) == 2 and all("Loaded rnnlm-" in cell_text(c) for c in training)
    assert all(" min expected for " not in cell_text(c).split("Its training log:")[0] for c in training)


def answer_sheet(notebook) -> str:
    sheets = [o["data"]["text/markdown"] for c in notebook.cells[:6] if c.cell_type == "code"
              for o in c.get("outputs", [])
              if "### Answer sheet" in o.get("data", {}).get("text/markdown", "")]
    assert len(sheets) == 1  # one sheet, before Question 1
    return sheets[0]


def sheet_row(sheet: str, section: str) -> str:
    (row,) = [line for line in sheet.splitlines() if line.startswith(f"| [{section}](#")]
    return row


def test_q1_saves_six_adversarial_pngs_and_labels_the_untrained_model(executed_notebook):
    saved = sorted((executed_notebook.workdir / "outputs" / "adversarial").glob("*__to_*.png"))
    assert len(saved) == 6
    sweep = executed_notebook.workdir / "outputs" / "adversarial" / "alpha_sweep"
    assert len(list(sweep.glob("*.png"))) == 4  # a row each, but the first attack's (already saved)
    assert "RANDOM weights" in notebook_text(executed_notebook.notebook)  # the smoke run's AlexNet says so


def test_q1b_tabulates_all_twelve_predictions(executed_notebook):
    cell = next(c for c in executed_notebook.notebook.cells if c.cell_type == "code"
                and "show_predictions(alexnet, [photos[photo] for photo in shown]" in c.source)
    table = [o["data"]["text/markdown"] for o in cell.outputs if "text/markdown" in o.get("data", {})]
    assert len(table) == 1
    rows = [line for line in table[0].splitlines()[2:] if line.startswith("|")]
    numbers = [int(n) for row in rows for n in re.findall(r"\| (\d+) \|", row)]
    assert sorted(numbers) == list(range(1, 13))


def test_q2_trains_both_models_samples_and_saves_checkpoints(executed_notebook):
    out = executed_notebook.workdir / "outputs"
    for strategy in ("multinomial", "greedy"):
        assert (out / f"sample_{strategy}.txt").read_text().split()
    for name in ("rnnlm-tf", "rnnlm-free"):
        assert len(list((out / "checkpoints").glob(f"{name}-*.pt"))) == 1


def test_q1a_q2_1_and_q3_checks_agree_even_at_smoke_sizes(executed_notebook):
    """These conclusions do not depend on training: they hold in any run."""
    records = checks_record(executed_notebook.workdir)
    for section in ("Q1(a)", "Q2.1", "Q3(b)", "Q3(c)", "Q3(d)"):
        verdicts = [r["agrees"] for r in records if r["section"] == section]
        assert verdicts and all(verdicts), section


def test_the_last_cell_counts_every_check_and_the_answer_sheet_is_on_top(executed_notebook):
    records = checks_record(executed_notebook.workdir)
    assert all(set(r) == {"section", "check", "claim", "agrees"} for r in records)
    assert summary(executed_notebook.notebook) == (sum(r["agrees"] for r in records), len(records))
    printed = notebook_text(executed_notebook.notebook)
    assert all(("✓ " if r["agrees"] else "✗ ") + r["claim"] in printed for r in records)  # each where made
    sheet = answer_sheet(executed_notebook.notebook)
    for section in SECTIONS:
        sheet_row(sheet, section)
    assert "(105, 115, 105, 115)" in sheet_row(sheet, "Q1(a)") and "DisplayHandle" not in printed


def test_the_end_names_the_unfilled_title_fields(executed_notebook):
    last = [c for c in executed_notebook.notebook.cells if c.cell_type == "code"][-1]
    named = "Fill in the title fields before printing: STUDENT_NAME, STUDENT_ID, DISCUSSED_WITH"
    assert named in cell_text(last)


def slot_answers(notebook) -> dict[str, str]:
    """Each section's answer as its slot at the top of the section shows it (the first paragraph)."""
    cells = notebook.cells
    answers = {}
    for index, cell in enumerate(cells):
        if cell.cell_type == "code" and 'REPORT.show_slot("' in cell.source:
            section = cell.source.split('REPORT.show_slot("')[1].split('"')[0]
            heading = next(c.source for c in reversed(cells[:index]) if c.cell_type == "markdown")
            assert "<a id=" in heading, section  # right under its question
            answers[section] = cell_text(cell).split("\n\n")[0].strip()
    return answers


def test_each_section_opens_with_its_bold_answer_from_the_run(executed_notebook):
    answers = slot_answers(executed_notebook.notebook)
    assert set(answers) == set(SECTIONS)
    for section, text in answers.items():
        assert text.startswith("**Answer: ") and text.endswith("**"), section
        assert "shown when" not in text, section  # the slot's placeholder was replaced


def test_a_bold_answer_is_the_figures_and_one_conclusion_in_at_most_60_words(executed_notebook):
    for section, text in slot_answers(executed_notebook.notebook).items():
        words = text.removeprefix("**Answer: ").split("Not established in this run")[0].split()
        assert len(words) <= 60, (section, len(words), text)


def test_a_section_with_a_disagreeing_check_says_so_in_its_answer_and_its_sheet_row(executed_notebook):
    records = checks_record(executed_notebook.workdir)
    denied = {section: [r["check"] for r in records if r["section"] == section and not r["agrees"]]
              for section in SECTIONS}
    assert any(denied.values()), "a smoke run disagrees with some full-run conclusion"
    answers = slot_answers(executed_notebook.notebook)
    sheet = answer_sheet(executed_notebook.notebook)
    for section in SECTIONS:
        row = sheet_row(sheet, section).split(" | ")[1].replace("\\|", "|")  # the answer column, unescaped
        assert row == answers[section].removeprefix("**Answer: ").removesuffix("**"), section  # derived
        assert ("Not established in this run" in row) == bool(denied[section]), section
        assert all(f"✗ {name}" in row for name in denied[section]), section


def test_a_run_stopped_before_question_3_keeps_the_answers_of_q1_and_q2(stopped_run):
    answers = slot_answers(stopped_run)
    sheet = answer_sheet(stopped_run)
    for section in SECTIONS:
        ran = not section.startswith("Q3")
        shown = answers[section].startswith("**Answer: ") and "shown when" not in answers[section]
        assert shown == ran, section
        assert ("(not run yet)" not in sheet_row(sheet, section)) == ran, section


def test_q2_3_and_q2_5_say_a_never_trained_word_establishes_nothing(executed_notebook):
    """301 tokens per stream never feed "taxpayer": its row is its random start, so no conclusion is drawn."""
    records = {(r["section"], r["check"]): r["agrees"] for r in checks_record(executed_notebook.workdir)}
    assert not records["Q2.3", "taxpayer learned"]
    assert not records["Q2.5", "both words learned with teacher forcing"]
    answers = slot_answers(executed_notebook.notebook)
    assert re.search(r"inputs \d+ and 0 times", answers["Q2.3"])
    inputs = r"Army and taxpayer were inputs \d+ and 0 times without, \d+ and 0 with"
    assert re.search(inputs, answers["Q2.5"])
    for section in ("Q2.3", "Q2.5"):
        assert "Not established in this run" in answers[section], section


def test_q2_5_prints_a_difference_that_its_printed_distances_give(executed_notebook):
    text = slot_answers(executed_notebook.notebook)["Q2.5"]
    free, forced = re.match(r"\*\*Answer: (\d\.\d{4}) without teacher forcing against (\d\.\d{4}) with",
                            text).groups()
    (difference,) = re.findall(r"They differ by ([+-]\d\.\d{4})", text)
    assert f"{float(free) - float(forced):+.4f}" == difference


def test_training_cells_print_only_the_log(executed_notebook):
    """The live progress line is blanked when training ends: the executed notebook keeps only the log."""
    for cell in executed_notebook.notebook.cells:
        if cell.cell_type == "code" and 'train_or_load_lm("' in cell.source:
            blanks = [o for o in cell.outputs if o.get("output_type") == "display_data"]
            assert blanks and all(o["data"]["text/plain"] == "" for o in blanks)


def test_papermill_lists_every_setting_with_its_type_and_help_and_parses_without_a_warning(tmp_path):
    from conftest import NOTEBOOK

    listing = subprocess.run([sys.executable, "-m", "papermill", "--help-notebook", str(NOTEBOOK)],
                             capture_output=True, text=True, check=True)
    assert "Unable to parse" not in listing.stdout + listing.stderr and "Unknown type" not in listing.stdout
    text = re.sub(r"\n {20,}", " ", listing.stdout)  # a help text wrapped onto its own line
    kinds = r"(str|int|float|bool|Optional\[(int|bool)\])"
    default = r"\(default (None|True|False|-?[\d.]+|\"[^\"]*\")\)"
    for name in ("STUDENT_NAME", "OUTPUT_DIR", "MOUNT_DRIVE", "LM_NUM_EPOCHS", "LM_HIDDEN_SIZE",
                 "LM_EMBED_SIZE", "LM_TRAIN_COLUMNS", "ADV_MAX_STEPS", "ADV_PATIENCE", "LM_PRECISION", "SEED",
                 "CHECK_CONCLUSIONS", "LM_RETRAIN", "TBPTT_WINDOWS", "Q3_TRIALS", "NUM_SHOWN_IMAGES"):
        assert re.search(rf"^  {name}: {kinds} {default} +\S.*\w", text, re.M), name  # type, default, help
    prepared = subprocess.run([sys.executable, "-m", "papermill", str(NOTEBOOK), str(tmp_path / "out.ipynb"),
                               "-p", "SEED", "1", "-p", "LM_NUM_EPOCHS", "1", "--prepare-only"],
                              capture_output=True, text=True, check=True)
    assert "Unable to parse" not in prepared.stdout + prepared.stderr


def test_the_settings_form_fields_parse_under_colabs_syntax():
    """Each `#@param` line: NAME (: type) = a literal, then #@param with {type: ...} or a list, then help."""
    from conftest import NOTEBOOK

    cell = next(c for c in nbformat.read(NOTEBOOK, as_version=4).cells
                if "parameters" in c.metadata.get("tags", []))
    fields = {}
    for line in cell.source.splitlines():
        if "#@param" in line:
            match = re.fullmatch(r'([A-Z][A-Z0-9_]*)(?:: [\w"\[\]]+)? = (.+?)  '
                                 r'#@param (\{type:"(\w+)"\}|\[.*?\])(  # .+)?', line)
            assert match, line
            value = ast.literal_eval(match[2])
            kind = match[4]
            if kind == "string":
                assert isinstance(value, str), line
            elif kind == "boolean":
                assert isinstance(value, bool), line
            elif kind is None:
                assert value in ast.literal_eval(match[3]), line  # a dropdown's value is one of its choices
            fields[match[1]] = kind
    assert set(fields) >= {"STUDENT_NAME", "STUDENT_ID", "DISCUSSED_WITH", "OUTPUT_DIR", "MOUNT_DRIVE",
                           "LM_PRECISION", "LM_RETRAIN", "CHECK_CONCLUSIONS"}
    assert fields["MOUNT_DRIVE"] == "boolean"


def test_every_section_records_its_checks_once_each_named_uniquely(executed_notebook):
    records = checks_record(executed_notebook.workdir)
    names = [(r["section"], r["check"]) for r in records]
    assert len(names) == len(set(names)) and [r["section"] for r in records] == sorted(
        (r["section"] for r in records), key=SECTIONS.index)  # the notebook's order
    counts = {section: sum(r["section"] == section for r in records) for section in SECTIONS}
    assert counts["Q1(c)"] >= 6 and counts["Q2.4"] >= 4 and counts["Q2.5"] >= 5 and min(counts.values()) >= 1

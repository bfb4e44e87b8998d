"""The whole notebook runs top to bottom in smoke mode, under cuDNN's RNN rule, and prints its answers.

Every test here reads the suite's one execution (the `smoke_runs` fixture): Run all, Run all again, then one
checking cell and the closing cells again, in one kernel. Results are read from checks.json, the files the
notebook writes, and the answer slots, not from the wording of its printouts.
"""

import os
import re
import subprocess
import sys

from conftest import CUDA_RULES, cell_text, checks_record, notebook_text

SECTIONS = ["Q1(a)", "Q1(b)", "Q1(c)", "Q2.1", "Q2.2", "Q2.3", "Q2.4", "Q2.5", "Q3(b)", "Q3(c)", "Q3(d)"]


def errors(notebook) -> list:
    return [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])
            if o.get("output_type") == "error"]


def summary(notebook) -> tuple[int, int]:
    """(agreeing, all) as the last cell reports them."""
    last = [c for c in notebook.cells if c.cell_type == "code"][-1]
    agreeing, total = re.match(r"(\d+) of (\d+) ", cell_text(last)).groups()
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


def test_run_all_twice_and_one_cell_again_report_the_same_checks(smoke_runs):
    first = smoke_runs.stages["run all"]
    assert len(first.checks) >= 20 and {r["section"] for r in first.checks} >= set(SECTIONS)
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
              for o in c.get("outputs", []) if "|---|" in o.get("data", {}).get("text/markdown", "")]
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


def test_the_last_cell_counts_every_check_and_fills_the_answer_sheet_on_top(executed_notebook):
    records = checks_record(executed_notebook.workdir)
    assert all(set(r) == {"section", "claim", "agrees"} for r in records)
    assert summary(executed_notebook.notebook) == (sum(r["agrees"] for r in records), len(records))
    printed = notebook_text(executed_notebook.notebook)
    assert all(("✓ " if r["agrees"] else "✗ ") + r["claim"] in printed for r in records)  # each where made
    sheet = answer_sheet(executed_notebook.notebook)
    for section in SECTIONS:
        sheet_row(sheet, section)
    assert "(105, 115, 105, 115)" in sheet_row(sheet, "Q1(a)") and "DisplayHandle" not in printed


def test_each_run_dependent_section_opens_with_its_bold_answer_filled_in_by_the_run(executed_notebook):
    cells = executed_notebook.notebook.cells
    answers = {}
    for index, cell in enumerate(cells):
        if cell.cell_type == "code" and 'answer_slot("' in cell.source:
            section = cell.source.split('answer_slot("')[1].split('"')[0]
            heading = next(c.source for c in reversed(cells[:index]) if c.cell_type == "markdown")
            assert "<a id=" in heading, section  # right under its question
            answers[section] = cell_text(cell)
    assert set(answers) == {"Q1(b)", "Q1(c)", "Q2.1", "Q2.2", "Q2.3", "Q2.4", "Q2.5"}
    for section, text in answers.items():
        assert text.startswith("**Answer: ") and text.rstrip().endswith("**"), section
        assert "filled in" not in text, section  # the slot's placeholder was replaced


def test_a_section_with_a_disagreeing_check_says_so_in_its_answer_and_its_sheet_row(executed_notebook):
    records = checks_record(executed_notebook.workdir)
    denied = {r["section"] for r in records if not r["agrees"]}
    assert denied, "a smoke run disagrees with some full-run conclusion"
    cells = executed_notebook.notebook.cells
    answers = {c.source.split('answer_slot("')[1].split('"')[0]: cell_text(c) for c in cells
               if c.cell_type == "code" and 'answer_slot("' in c.source}
    sheet = answer_sheet(executed_notebook.notebook)
    for section in SECTIONS:
        row = sheet_row(sheet, section).split(" | ")[1]  # the answer column
        assert row.startswith("✗") == (section in denied), section
        if section in answers:
            assert answers[section].startswith("**Answer: ✗") == (section in denied), section


def test_training_cells_print_only_the_log(executed_notebook):
    """The live progress line is blanked when training ends: the executed notebook keeps only the log."""
    for cell in executed_notebook.notebook.cells:
        if cell.cell_type == "code" and 'train_or_load_lm("' in cell.source:
            blanks = [o for o in cell.outputs if o.get("output_type") == "display_data"]
            assert blanks and all(o["data"]["text/plain"] == "" for o in blanks)


def test_papermill_lists_every_setting_with_a_literal_default():
    from conftest import NOTEBOOK

    listing = subprocess.run([sys.executable, "-m", "papermill", "--help-notebook", str(NOTEBOOK)],
                             capture_output=True, text=True, check=True).stdout
    for name in ("LM_NUM_EPOCHS", "LM_HIDDEN_SIZE", "LM_EMBED_SIZE", "LM_TRAIN_COLUMNS", "ADV_MAX_STEPS",
                 "ADV_PATIENCE", "LM_PRECISION", "OUTPUT_DIR", "SEED", "CHECK_CONCLUSIONS", "LM_RETRAIN",
                 "TBPTT_WINDOWS", "Q3_TRIALS", "NUM_SHOWN_IMAGES"):
        default = r"\(default (None|True|False|-?[\d.]+|\"[^\"]*\")\)$"
        assert re.search(rf"^  {name}: .*{default}", listing, re.M), name


def test_every_check_in_the_notebook_is_recorded_once_in_checks_json(executed_notebook):
    """Each check_conclusion call of the notebook's source has one record (Q2.1's GPU check: on CUDA only)."""
    import collections

    source = "\n".join(c.source for c in executed_notebook.notebook.cells if c.cell_type == "code")
    in_source = collections.Counter(re.findall(r'check_conclusion\("([^"]+)"', source))
    in_source["Q2.1"] -= 1  # `if on_gpu:` check: this run is on the CPU
    recorded = collections.Counter(r["section"] for r in checks_record(executed_notebook.workdir))
    assert recorded == in_source
    assert recorded["Q1(c)"] >= 6 and recorded["Q2.4"] >= 5 and recorded["Q2.5"] >= 3  # sweep, curves, pairs

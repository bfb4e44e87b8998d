"""The report layer: checks, answers, departures, page 1's answer sheet and the closing record of the checks.

Each test builds its own `Report()`, never the notebook's REPORT. Outside a kernel IPython's display and
update_display print a placeholder line; the tests that read what is printed record those calls instead.
"""

from __future__ import annotations

import dataclasses
import json

import pytest


@pytest.fixture
def displays(nb, monkeypatch) -> list[tuple[str, str]]:
    """(display id, Markdown text) of every display and update_display that the report makes, in order."""
    shown = []

    def record(obj: object, display_id: str | None = None) -> None:
        shown.append((display_id, obj.data))

    monkeypatch.setitem(nb.globals, "display", record)
    monkeypatch.setitem(nb.globals, "update_display", record)
    return shown


def answer(nb, section: str, *verdicts: tuple[str, bool], figures: str = "Figures.",
           conclusion: str = "Conclusion.") -> object:
    """An Answer of `section` whose checks are (name, holds) pairs, each claim 'claim <name>'."""
    checks = tuple(nb.Check(name, holds, f"claim {name}") for name, holds in verdicts)
    return nb.Answer(section, figures, conclusion, checks)


def sheet_rows(page: str) -> list[str]:
    """The answer sheet's rows (one per section), from page 1's Markdown."""
    return [line for line in page.splitlines() if line.startswith("| [")]


def test_a_check_prints_its_verdict_and_returns_it(nb, capsys):
    holds = nb.check("fits", True, "the rectangle fits the input")
    fails = nb.check("grows", 0, "the graph grows")  # any falsy value: a ✗
    assert capsys.readouterr().out.splitlines() == ["✓ the rectangle fits the input", "✗ the graph grows"]
    assert holds == nb.Check("fits", True, "the rectangle fits the input")
    assert fails == nb.Check("grows", False, "the graph grows") and fails.holds is False
    with pytest.raises(dataclasses.FrozenInstanceError):
        holds.holds = False


def test_an_answer_states_its_conclusion_only_when_every_check_holds(nb):
    agreed = answer(nb, "Q2.1", ("a", True), ("b", True), figures="Saved: 3 MiB.",
                    conclusion="So it is flat.")
    assert agreed.text() == "Saved: 3 MiB. So it is flat."
    denied = answer(nb, "Q2.1", ("a", True), ("b", False), ("c", False), figures="Saved: 3 MiB.",
                    conclusion="So it is flat.")
    assert denied.text() == "Saved: 3 MiB. Not established in this run (✗ b; ✗ c): no conclusion is drawn."
    assert "So it is flat" not in denied.text() and "✗ a" not in denied.text()
    assert answer(nb, "Q3(d)", figures="", conclusion="No checks.").text() == "No checks."


def test_a_section_published_again_keeps_only_its_second_answer_and_checks_follow_the_notebooks_order(
        nb, displays):
    report = nb.Report()
    first = answer(nb, "Q2.1", ("a1", True), ("a2", True), figures="First figures.")
    second = answer(nb, "Q2.1", ("a3", False), figures="Second figures.", conclusion="Second conclusion.")
    late, early = answer(nb, "Q3(d)", ("d", True)), answer(nb, "Q1(a)", ("q", True))
    for published in (first, late, early, second):  # not the notebook's order; Q2.1 run again
        report.publish(published)
    assert report.answers["Q2.1"] is second and list(report.answers) == ["Q2.1", "Q3(d)", "Q1(a)"]
    assert report.checks() == [("Q1(a)", early.checks[0]), ("Q2.1", second.checks[0]),
                               ("Q3(d)", late.checks[0])]
    page = report.page_one()
    (row,) = [row for row in sheet_rows(page) if row.startswith("| [Q2.1](#q21) |")]
    assert "Second figures." in row and "First figures." not in row and row.endswith("| 1 ✗ |")
    # Each publish refreshed page 1 and the answers shown so far; the last one shows the second answer.
    assert displays[-4:] == [("page-one", page)] + [
        (f"answer-{nb.anchor(section)}", report.answer_markdown(section).data)
        for section in ("Q2.1", "Q3(d)", "Q1(a)")]


def test_publish_rejects_duplicate_check_names_and_unknown_sections(nb, displays):
    report = nb.Report()
    kept = answer(nb, "Q1(b)", ("a", True))
    report.publish(kept)
    with pytest.raises(ValueError, match="Q1\\(b\\)"):
        report.publish(answer(nb, "Q1(b)", ("a", True), ("a", False)))
    with pytest.raises(ValueError, match="Q9"):
        report.publish(answer(nb, "Q9", ("a", True)))
    assert report.answers == {"Q1(b)": kept}  # neither replaced the answer held


def test_page_one_has_a_row_per_section_with_its_tally_and_lists_departures_only_when_asked(nb, displays):
    report = nb.Report()
    report.publish(answer(nb, "Q1(a)", ("a", True), ("b", False), ("c", True), figures="Rectangles."))
    report.publish(answer(nb, "Q2.2", ("loop", True), figures="Samples.", conclusion="Greedy loops."))
    page = report.page_one()
    rows = sheet_rows(page)
    assert [row.split("](")[0].removeprefix("| [") for row in rows] == list(nb.SECTIONS)
    by_section = dict(zip(nb.SECTIONS, rows))
    assert by_section["Q1(a)"] == ("| [Q1(a)](#q1a) | Rectangles. Not established in this run (✗ b): no "
                                   "conclusion is drawn. | 2 ✓ 1 ✗ |")
    assert by_section["Q2.2"] == "| [Q2.2](#q22) | Samples. Greedy loops. | 1 ✓ |"
    missing = [s for s in nb.SECTIONS if s not in ("Q1(a)", "Q2.2")]
    assert all(by_section[s] == f"| [{s}](#{nb.anchor(s)}) | *(not run yet)* |  |" for s in missing)
    assert "### Answer sheet (this run)\n" in page and "settings differ" not in page and "departs" not in page
    departure = nb.Departure(
        "LSTM hidden size in Q2: **64** (the assignment's: 1024; setting `LM_HIDDEN_SIZE`)",
        "LSTM hidden size in Q2: 64 (assignment: 1024)", ("Q2.1",))
    report.depart("LM_HIDDEN_SIZE", departure)
    listed = report.page_one()
    assert "### Answer sheet (this run; settings differ from the assignment's)" in listed
    assert f"* {departure.line}" in listed and listed.index("departs") < listed.index("### Answer sheet")
    report.list_departures = False  # a smoke run: its banner says it all
    unlisted = report.page_one()
    assert "settings differ from the assignment's" in unlisted and departure.line not in unlisted
    assert sheet_rows(unlisted) == sheet_rows(listed) == rows


def test_setting_departures_and_each_sections_answer_shows_only_its_own_clauses(nb, displays):
    departures = nb.setting_departures({
        "LM_HIDDEN_SIZE": (64, 1024, "LSTM hidden size in Q2", ("Q2.1", "Q2.2")),
        "ADV_LR": (0.1, 0.01, "Adam's learning rate in Q1(c)", ("Q1(c)",)),
        "LM_VALID_COLUMNS": (121, None, "tokens per stream validated on in Q2", ("Q2.1",)),
        "LM_TRAIN_COLUMNS": (301, None, "tokens per stream trained on in Q2", ()),
    })
    assert departures["LM_HIDDEN_SIZE"] == nb.Departure(
        "LSTM hidden size in Q2: **64** (the assignment's: 1024; setting `LM_HIDDEN_SIZE`)",
        "LSTM hidden size in Q2: 64 (assignment: 1024)", ("Q2.1", "Q2.2"))
    assert departures["LM_VALID_COLUMNS"].clause == (
        "tokens per stream validated on in Q2: 121 (assignment: all)")
    report = nb.Report()
    for key, departure in departures.items():
        report.depart(key, departure)
    q21 = report.answer_markdown("Q2.1").data
    assert q21.startswith("**Answer:** *(shown when its cell runs)*")
    assert ("⚠ This run departs: LSTM hidden size in Q2: 64 (assignment: 1024); tokens per stream "
            "validated on in Q2: 121 (assignment: all).") in q21
    assert "Adam" not in q21 and "trained on" not in q21
    q1c = report.answer_markdown("Q1(c)").data
    assert "Adam's learning rate in Q1(c): 0.1 (assignment: 0.01)" in q1c and "LSTM" not in q1c
    assert "departs" not in report.answer_markdown("Q3(b)").data
    report.publish(answer(nb, "Q2.1", ("a", True), figures="Saved: 3 MiB.", conclusion="Flat."))
    assert report.answer_markdown("Q2.1").data.startswith("**Answer: Saved: 3 MiB. Flat.**\n\n<span")
    page = report.page_one()
    assert all(f"* {d.line}" in page for d in departures.values())  # a departure of no section is on page 1


def test_show_slot_displays_the_answer_where_its_cell_updates_it(nb, displays):
    report = nb.Report()
    report.show_slot("Q2.4")
    assert displays == [("answer-q24", "**Answer:** *(shown when its cell runs)*")]
    report.publish(answer(nb, "Q2.4", ("a", True), figures="Curves.", conclusion="Forced wins."))
    assert ("answer-q24", "**Answer: Curves. Forced wins.**") in displays[1:]


def test_title_block_names_the_setting_of_each_unfilled_field(nb):
    fields = {"STUDENT_NAME": "Ada Lovelace", "STUDENT_ID": "  ", "DISCUSSED_WITH": ""}
    assert nb.unfilled_title_fields(fields) == ["STUDENT_ID", "DISCUSSED_WITH"]
    block = nb.title_block(fields)
    assert "| **Student** | Ada Lovelace |" in block
    assert "| **Student ID** | *not filled in: set `STUDENT_ID` in the settings* |" in block
    assert "| **Discussed with** | *not filled in: set `DISCUSSED_WITH` in the settings* |" in block
    assert nb.unfilled_title_fields({name: "x" for name in fields}) == []


FILLED = {"STUDENT_NAME": "Ada Lovelace", "STUDENT_ID": "40012345", "DISCUSSED_WITH": "nobody"}


def test_report_checks_writes_every_check_counts_them_and_only_a_strict_run_raises_naming_each_disagreement(
        nb, displays, tmp_path, capsys):
    report = nb.Report()
    report.publish(answer(nb, "Q3(b)", ("second", False)))
    report.publish(answer(nb, "Q1(a)", ("fine", True)))
    report.publish(answer(nb, "Q2.1", ("first", False), ("also fine", True)))
    path = tmp_path / "out" / "checks.json"
    unfilled = FILLED | {"STUDENT_NAME": "", "DISCUSSED_WITH": " "}
    nb.report_checks(report, path, strict=False, title_fields=unfilled)  # a smoke run: listed, no error
    assert json.loads(path.read_text(encoding="utf-8")) == [
        {"section": section, "check": name, "claim": f"claim {name}", "agrees": holds}
        for section, name, holds in (("Q1(a)", "fine", True), ("Q2.1", "first", False),
                                     ("Q2.1", "also fine", True), ("Q3(b)", "second", False))]
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("2 of 4 checks agree with this run, in the answers of 3 of 11 sections "
                             "(recorded in ")
    assert out[1:3] == ["✗ Q2.1: claim first", "✗ Q3(b): claim second"]
    assert out[3] == ("⚠ Fill in the title fields before printing: STUDENT_NAME, DISCUSSED_WITH "
                      "(the settings cell).")
    with pytest.raises(AssertionError) as failure:
        nb.report_checks(report, path, strict=True, title_fields=FILLED)
    message = str(failure.value)
    assert "2 check(s) disagree" in message
    assert "Q2.1: claim first" in message and "Q3(b): claim second" in message
    assert "claim fine" not in message and "claim also fine" not in message
    assert "⚠ Fill in" not in capsys.readouterr().out  # every title field filled
    agreeing = nb.Report()
    agreeing.publish(answer(nb, "Q1(a)", ("fine", True)))
    nb.report_checks(agreeing, path, strict=True, title_fields=FILLED)  # all agree: no error
    assert "No check disagrees." in capsys.readouterr().out
    nb.report_checks(nb.Report(), path, strict=True, title_fields=FILLED)  # nothing run yet: no error either
    assert json.loads(path.read_text(encoding="utf-8")) == []
    assert capsys.readouterr().out.startswith("0 of 0 checks agree with this run, in the answers of 0 of 11 ")


def test_publishing_outside_a_kernel_is_harmless(nb, capsys):
    report = nb.Report()  # IPython's real display functions: outside a kernel they print, nothing more
    report.show_slot("Q1(a)")
    report.publish(answer(nb, "Q1(a)", ("a", True)))
    report.depart("SEED", nb.Departure("seed: **1**", "seed: 1 (assignment: 0)", ("Q1(a)",)))
    capsys.readouterr()
    assert report.answers["Q1(a)"].checks[0].name == "a" and "SEED" in report.departures


def test_mount_drive_outside_colab_says_so_and_goes_on(nb, capsys):
    nb.mount_drive(False)
    assert capsys.readouterr().out == ""
    nb.mount_drive(True)  # no google.colab here: no error, one line
    assert capsys.readouterr().out == "MOUNT_DRIVE is for Colab: not mounting anything here.\n"

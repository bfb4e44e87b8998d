"""The submission PDF: built from a smoke-mode run, with every section, the title fields, math and figures."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import REPO

sys.path.insert(0, str(REPO / "tools"))
import export_pdf

HEADINGS = ["Q1(a)", "Q1(b)", "Q1(c)", "Q2.1", "Q2.2", "Q2.3", "Q2.4", "Q2.5", "Q3(b)", "Q3(c)", "Q3(d)"]


@pytest.fixture(scope="module")
def pdf(executed_notebook, tmp_path_factory) -> Path:
    missing = [tool for tool in ("pdftotext", "pdfinfo", "pdfimages") if shutil.which(tool) is None]
    try:
        export_pdf.find_chromium()
        export_pdf.find_mathjax()
    except export_pdf.ExportError as exc:
        missing.append(str(exc))
    if missing:
        pytest.skip(f"PDF converter missing ({'; '.join(missing)}); `make pdf-deps` installs it (CI does).")
    folder = tmp_path_factory.mktemp("pdf")
    notebook = folder / "executed.ipynb"
    nbformat.write(executed_notebook.notebook, notebook)
    return export_pdf.export(notebook, folder / "assignment2.pdf")


def run(*command: str) -> str:
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


def test_pdf_has_pages_title_fields_and_every_section(pdf):
    pages = int(next(line.split()[-1] for line in run("pdfinfo", str(pdf)).splitlines() if line.startswith("Pages:")))
    assert pages >= 10
    text = run("pdftotext", str(pdf), "-")
    for field in ("Student", "Student ID", "Discussed with"):
        assert field in text
    for heading in HEADINGS:
        assert heading in text, heading


def test_pdf_renders_math_not_raw_latex(pdf):
    text = run("pdftotext", str(pdf), "-")
    markdown_only = text.split("Question 1")[0]
    assert "$$" not in text and "\\frac" not in text and "\\mathbf" not in text
    assert "\\alpha" not in markdown_only


def test_pdf_embeds_the_figures(pdf):
    listing = run("pdfimages", "-list", str(pdf)).splitlines()[2:]
    assert len(listing) >= 8  # Q1(a), Q1(b), 2x Q1(c), sweep, Q2.1 graph + plot, Q2.4 curves


def test_missing_notebook_gives_a_clear_error(tmp_path):
    with pytest.raises(export_pdf.ExportError, match="make run"):
        export_pdf.export(tmp_path / "absent.ipynb", tmp_path / "x.pdf")

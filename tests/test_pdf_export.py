"""The submission PDF, built from the smoke run: short, answer-first, titled, math typeset, figures embedded.

The body shows the answers and the printed code; the code of the cells tagged `remove-input` follows in an
appendix. Nothing that fits on a page is split across two, and no absolute path of the machine is printed.
"""

from __future__ import annotations

import collections
import html
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import export_pdf
import nbformat
import pytest
from conftest import REPO

HEADINGS = ["Q1(a)", "Q1(b)", "Q1(c)", "Q2.1", "Q2.2", "Q2.3", "Q2.4", "Q2.5", "Q3(b)", "Q3(c)", "Q3(d)"]
SETUP_CODE = ("import torch", "SAMPLE_IMAGES = {", "def asset_path", "class Report", "def lm_precision")
MAX_BODY_PAGES = 18  # issue 24: the body (title to the checks) in at most 18 pages
MAX_PAGES = 26  # issue 24: the whole PDF, appendix included, in at most 26
ABSOLUTE_PATHS = ("/tmp/", "/home/", "/work/", "/root/", "C:\\")


def run(*command: str) -> str:
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def pdf_tools() -> None:
    missing = [tool for tool in ("pdftotext", "pdfinfo", "pdfimages") if shutil.which(tool) is None]
    try:
        export_pdf.find_browser()
        export_pdf.find_mathjax()
    except export_pdf.ExportError as exc:
        missing.append(str(exc))
    if missing:
        pytest.skip(f"PDF tools missing ({'; '.join(missing)}); `make pdf-deps` installs them (CI does).")


@pytest.fixture(scope="module")
def pdf(pdf_tools, executed_notebook, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("pdf")
    nbformat.write(executed_notebook.notebook, folder / "executed.ipynb")
    return export_pdf.export(folder / "executed.ipynb", folder / "assignment2.pdf")


def pages(pdf: Path) -> list[str]:
    return run("pdftotext", "-layout", str(pdf), "-").split("\f")


def body_and_appendix(text: list[str]) -> tuple[list[str], list[str]]:
    """The pages before the appendix's heading, and the appendix's (it starts a page)."""
    starts = [i for i, page in enumerate(text) if page.lstrip().startswith(export_pdf.APPENDIX_TITLE)]
    assert len(starts) == 1, starts
    return text[:starts[0]], text[starts[0]:]


def collapse(text: str) -> str:
    return " ".join(text.split())


def squash(text: str) -> str:
    """Without any whitespace (the PDF's text puts spaces around inline code) or Markdown backticks."""
    return "".join(text.replace("`", "").split())


def tags(cell: nbformat.NotebookNode) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def printed_code_cells(notebook: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    """The code cells whose code the body prints (not `remove-input`, not papermill's parameters)."""
    hidden = {export_pdf.HIDDEN_INPUT_TAG, export_pdf.INJECTED_CELL_TAG}
    return [cell for cell in notebook.cells
            if cell.cell_type == "code" and cell.source.strip() and not hidden & set(tags(cell))]


def test_the_body_and_the_whole_pdf_stay_within_their_page_limits_with_the_answer_sheet_on_page_1(pdf):
    text = [page for page in pages(pdf) if page.strip()]
    body, appendix = body_and_appendix(text)
    assert len(body) <= MAX_BODY_PAGES, f"the body has {len(body)} pages (the appendix {len(appendix)})"
    assert len(text) <= MAX_PAGES, f"{len(text)} pages: {len(body)} of body and {len(appendix)} of appendix"
    first = text[0]
    assert "Answer sheet (this run" in first and "(105, 115, 105, 115)" in first and "w = 1" in first
    for section in HEADINGS:
        assert section in first, section


def code_font_size(pdf: Path, first_page: int, last_page: int, word: str) -> float:
    """The font size (pt) of the monospaced code word `word` on these pages, from its width in the PDF."""
    boxes = run("pdftotext", "-bbox", "-f", str(first_page), "-l", str(last_page), str(pdf), "-")
    box = rf'xMin="([\d.]+)" yMin="[\d.]+" xMax="([\d.]+)" yMax="[\d.]+">{re.escape(word)}<'
    widths = [float(x_max) - float(x_min) for x_min, x_max in re.findall(box, boxes)]
    assert widths, f"{word} not found on pages {first_page}-{last_page}"
    return widths[0] / len(word) / 0.602  # DejaVu Sans Mono: each character 0.602 em wide


def test_the_body_prints_code_at_8_pt(pdf):
    text = pages(pdf)
    body, _ = body_and_appendix([page for page in text if page.strip()])
    size = code_font_size(pdf, 1, len(body), "receptive_field(layers:")  # Q1(a)'s code, in the body
    assert 7.9 <= size <= 8.5, size


def test_each_question_starts_a_page_and_no_heading_ends_one(pdf):
    text = pages(pdf)
    for number in (1, 2, 3):
        starts = [i for i, page in enumerate(text) if f"Question {number}:" in page]
        assert len(starts) == 1 and text[starts[0]].lstrip().startswith(f"Question {number}:"), number
    notebook = nbformat.read(REPO / "assignment2.ipynb", as_version=4)
    headings = [re.sub(r"<[^>]+>", "", line.lstrip("#").strip())[:14] for cell in notebook.cells
                if cell.cell_type == "markdown" for line in cell.source.splitlines() if line.startswith("#")]
    for number, page in enumerate(text[:-1], start=1):
        last = ([line.strip() for line in page.splitlines() if line.strip()] or [""])[-1]
        assert not any(last.startswith(heading) for heading in headings), (number, last)


def test_no_setup_code_before_the_appendix_and_no_tiny_percentages(pdf):
    text = pages(pdf)
    body, _ = body_and_appendix(text)
    for setup in SETUP_CODE:
        assert setup not in "".join(body), setup
    whole = "".join(text)
    assert "injected" not in whole
    assert "(0%)" not in whole and "DisplayHandle" not in whole and "Traceback" not in whole


def test_the_appendix_prints_the_hidden_code_in_order_without_outputs(pdf, executed_notebook):
    text = pages(pdf)
    body, appendix = body_and_appendix(text)
    appendix_text = collapse("".join(appendix))
    positions = [appendix_text.find(code) for code in SETUP_CODE]
    assert -1 not in positions and positions == sorted(positions), positions  # all there, in notebook order
    hidden = [cell for cell in executed_notebook.notebook.cells if cell.cell_type == "code"
              and export_pdf.HIDDEN_INPUT_TAG in tags(cell)]
    titles = [cell.source.splitlines()[0].removeprefix(export_pdf.COLAB_TITLE) for cell in hidden
              if cell.source.startswith(export_pdf.COLAB_TITLE)]
    assert len(titles) >= 3 and all(squash(title) in squash(appendix_text) for title in titles)
    printed = [collapse(line) for cell in hidden for output in cell.get("outputs", [])
               if output.get("output_type") == "stream" for line in output.get("text", "").splitlines()
               if len(line.strip()) >= 20]
    assert [line for line in printed if line in appendix_text] == []  # their outputs are in the body only
    assert any(line in collapse("".join(body)) for line in printed)
    listing = run("pdfimages", "-list", str(pdf)).splitlines()[2:]
    assert all(int(row.split()[0]) <= len(body) for row in listing)  # no figure in the appendix
    for number, page in enumerate(appendix[:-1], start=len(body) + 1):  # no title ends a page
        last = ([line.strip() for line in page.splitlines() if line.strip()] or [""])[-1]
        assert not any(squash(last) == squash(title) for title in titles), (number, last)


def test_short_code_cells_are_not_split_and_longer_ones_break_only_between_statements(pdf, executed_notebook):
    """Each printed code cell of at most a page is on one page; a longer one, each of its statement blocks.

    A statement block runs from one of `export_pdf.break_points` to the next. Blocks are found in order by
    their first two and last two non-blank lines, whitespace collapsed.
    """
    text = [collapse(page) for page in pages(pdf)]
    starts = [sum(len(page) + 1 for page in text[:i]) for i in range(len(text))]
    document = "\n".join(text)

    def page_of(position: int) -> int:
        return max(i for i, start in enumerate(starts) if start <= position) + 1

    blocks = []
    for cell in printed_code_cells(executed_notebook.notebook):
        if export_pdf.printed_lines(cell.source) <= export_pdf.PAGE_CODE_LINES:
            blocks.append(cell.source)
            continue
        lines = cell.source.splitlines()
        points = sorted(export_pdf.break_points(cell.source) | {0})
        blocks += ["\n".join(lines[a:b]) for a, b in zip(points, [*points[1:], len(lines)])]
    assert len(blocks) > len(printed_code_cells(executed_notebook.notebook))  # some cells exceed a page
    cursor, split = 0, []
    for block in blocks:
        lines = [line for line in block.splitlines() if line.strip()]
        head, tail = collapse(" ".join(lines[:2]))[:80], collapse(" ".join(lines[-2:]))[:80]
        first = document.find(head, cursor)
        last = document.find(tail, max(first, 0))
        assert first >= 0 and last >= 0, (head, tail)
        cursor = last + len(tail)
        if page_of(first) != page_of(last):
            split.append((page_of(first), head))
    assert split == []


def test_a_page_may_break_only_where_a_statement_starts():
    source = ('@dataclass\nclass A:\n    """Doc."""\n\n    x: int\n    y: int\n\n\n'
              'def f(a: int,\n      b: int) -> int:\n    """Doc."""\n'
              '    c = a + (\n        b)\n    return c\n')
    assert export_pdf.break_points(source) == {0, 5, 8, 13}  # not inside a statement, nor after a header
    assert export_pdf.break_points("print(") == set()  # not Python: no block structure at all
    lines = [f"x{i} = (\n    {i})" for i in range(60)]
    page = ('<div class="highlight hl-ipython3"><pre>' + "\n".join(lines) + "</pre></div>"
            '<div class="highlight hl-ipython3"><pre>y = 1</pre></div>')
    result = export_pdf.with_statement_blocks(page)
    opening = f'<span class="{export_pdf.STATEMENT_CLASS}">'
    assert result.count(opening) == 60  # the long input, statement by statement
    assert result.count("x0 = (\n    0)</span>") == 1
    assert result.endswith("<pre>y = 1</pre></div>")  # the short one as it was
    lines = re.sub(r"<[^>]*>", "", result.replace("</span>" + opening, "\n"))  # each block on its own lines
    assert html.unescape(lines) == html.unescape(re.sub(r"<[^>]*>", "", page))


def test_no_figure_is_split_across_pages(pdf):
    """Every image is drawn on one page only.

    Chrome slices an image taller than the room left on a page into pieces on two pages, each listed by
    `pdfimages -list` with the same object ID; an image that fits (`break-inside: avoid`) moves whole.
    """
    listing = [row.split() for row in run("pdfimages", "-list", str(pdf)).splitlines()[2:]]
    pages_of = collections.defaultdict(set)
    for row in listing:
        pages_of[row[10]].add(int(row[0]))  # object ID -> the pages it is drawn on
    assert len(pages_of) >= 4 and all(len(drawn) == 1 for drawn in pages_of.values()), pages_of


def test_no_absolute_path_is_printed(pdf):
    text = "".join(pages(pdf))
    assert [path for path in ABSOLUTE_PATHS if path in text] == []


def test_every_section_is_there_and_the_document_title_is_the_assignment(pdf):
    text = "".join(pages(pdf))
    for heading in HEADINGS:
        assert heading in text, heading
    assert "Title:           COMP 691 Deep Learning, Assignment 2" in run("pdfinfo", str(pdf))


def test_math_is_typeset_not_raw_latex(pdf):
    body, _ = body_and_appendix(pages(pdf))
    text = "".join(body)
    assert "$$" not in text and "\\frac" not in text and "\\mathbf" not in text


def test_the_figures_are_embedded(pdf):
    listing = run("pdfimages", "-list", str(pdf)).splitlines()[2:]
    assert len(listing) >= 4  # Q1(b), two Q1(c) comparisons, Q2.4's curves


def page_one(title: str) -> nbformat.NotebookNode:
    """A tiny executed-looking notebook: one code cell whose Markdown output is page 1's title `title`."""
    new = nbformat.v4
    output = new.new_output("display_data", data={"text/markdown": title,
                                                  "text/plain": "<IPython.core.display.Markdown object>"})
    return new.new_notebook(cells=[new.new_markdown_cell("# COMP 691 Deep Learning · Assignment 2"),
                                   new.new_code_cell("display(Markdown(title_block(TITLE_FIELDS)))",
                                                     outputs=[output])])


def test_placeholder_title_fields_are_warned_about(nb, tmp_path, monkeypatch, capsys):
    """Page 1 prints an empty title field as 'not filled in: set `NAME`': the export names each and warns."""
    unfilled = page_one(nb.title_block({"STUDENT_NAME": "", "STUDENT_ID": "40012345", "DISCUSSED_WITH": " "}))
    filled = page_one(nb.title_block({"STUDENT_NAME": "Ada Lovelace", "STUDENT_ID": "40012345",
                                      "DISCUSSED_WITH": "nobody"}))
    assert export_pdf.placeholder_fields(unfilled) == ["STUDENT_NAME", "DISCUSSED_WITH"]
    assert export_pdf.placeholder_fields(filled) == []
    source_only = nbformat.v4.new_notebook(cells=[  # the text in a cell's source, not printed: no warning
        nbformat.v4.new_markdown_cell("empty, it reads *not filled in: set `STUDENT_ID` in the settings*"),
        nbformat.v4.new_code_cell("print('not filled in: set `STUDENT_ID`')")])
    assert export_pdf.placeholder_fields(source_only) == []
    # The warning, without a browser: the export is stubbed from the HTML on.
    monkeypatch.setattr(export_pdf, "find_browser", lambda: "chrome")
    monkeypatch.setattr(export_pdf, "find_mathjax", lambda: tmp_path / "MathJax.js")
    monkeypatch.setattr(export_pdf, "html_to_pdf", lambda html, pdf, browser: pdf.write_bytes(b"%PDF"))
    for notebook, warned in ((unfilled, True), (filled, False)):
        nbformat.write(notebook, tmp_path / "title.ipynb")
        export_pdf.export(tmp_path / "title.ipynb", tmp_path / "title.pdf")
        err = capsys.readouterr().err
        assert ("WARNING: the title fields are not filled in (STUDENT_NAME, DISCUSSED_WITH)" in err) is warned
        assert ("WARNING" in err) is warned


@pytest.fixture
def empty_tmpdir(tmp_path, monkeypatch) -> Iterator[Path]:
    """An empty folder that is TMPDIR during the test, made after `tmp_path` (pytest's own folders).

    Short: Chrome puts a socket there, whose path may be at most 107 bytes long.
    """
    scratch = Path(tempfile.mkdtemp(prefix="a2-tmpdir-"))
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(tempfile, "tempdir", None)  # tempfile reads TMPDIR again (monkeypatch restores it)
    yield scratch
    shutil.rmtree(scratch, ignore_errors=True)


def test_the_browser_profile_is_removed_after_printing(pdf_tools, empty_tmpdir, tmp_path):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# A title\n\nSome text.")])
    nbformat.write(notebook, tmp_path / "small.ipynb")
    assert export_pdf.export(tmp_path / "small.ipynb", tmp_path / "out" / "small.pdf").is_file()
    assert tempfile.gettempdir() == str(empty_tmpdir)  # the export's temporary folders went there
    assert list(empty_tmpdir.iterdir()) == []


def test_the_appendix_is_appended_after_the_unchanged_cells():
    new = nbformat.v4
    cells = [new.new_markdown_cell("# Title"),
             new.new_code_cell("x = 1\ny = 2", metadata={"tags": ["parameters", "remove-input"]}),
             new.new_code_cell("x = 2", metadata={"tags": ["injected-parameters"]}),
             new.new_code_cell("#@title Setup: imports\nimport os\nimport re\n",
                               metadata={"tags": ["remove-input"]}),
             new.new_code_cell("print(x)", outputs=[new.new_output("stream", text="1\n")]),
             new.new_code_cell("answers = {}\nsheet = 1", metadata={"tags": ["remove-input"]},
                               outputs=[new.new_output("stream", text="sheet\n")])]
    notebook = new.new_notebook(cells=cells)
    before = nbformat.writes(notebook)
    result = export_pdf.with_code_appendix(notebook)
    assert nbformat.writes(notebook) == before  # the input is not modified
    assert result.cells[:len(cells)] == cells  # the notebook's cells, in their order
    appended = result.cells[len(cells):]
    assert appended[0].source.startswith(f"# {export_pdf.APPENDIX_TITLE}")
    titles = [cell.source for cell in appended[1::2]]
    codes = appended[2::2]
    assert titles == ["### Code cell 1", f"### {export_pdf.INJECTED_TITLE}", "### Setup: imports",
                      "### Code cell 4"]  # papermill's cell printed, not counted, not with the one-liners
    assert [cell.source for cell in codes] == ["x = 1\ny = 2", "x = 2", "import os\nimport re",
                                               "answers = {}\nsheet = 1"]
    appendix_code = [export_pdf.APPENDIX_CODE_TAG]  # the tag: smaller print, never kept whole
    assert all(cell.cell_type == "code" and cell.outputs == [] and tags(cell) == appendix_code
               for cell in codes)
    assert len(appended) == 9
    nbformat.validate(result)
    plain = new.new_notebook(cells=[new.new_code_cell("print(1)")])
    assert export_pdf.with_code_appendix(plain).cells == plain.cells  # nothing hidden: no appendix


def test_one_line_cells_are_listed_together_where_the_first_one_is():
    new = nbformat.v4
    hidden = {"tags": ["remove-input"]}
    cells = [new.new_code_cell("#@title Setup\nimport os\nimport re", metadata=hidden),
             new.new_code_cell("#@title Q1's answer\nREPORT.show_slot('Q1')", metadata=hidden),
             new.new_code_cell("#@title Drawing\nfig = 1\nfig += 1", metadata=hidden),
             new.new_code_cell("#@title Q2's answer\nREPORT.show_slot('Q2')\n", metadata=hidden)]
    appended = export_pdf.with_code_appendix(new.new_notebook(cells=cells)).cells[len(cells):]
    assert "the one-line cells together" in appended[0].source
    assert [cell.source for cell in appended[1::2]] == [
        "### Setup", f"### {export_pdf.ONE_LINERS_TITLE}", "### Drawing"]
    assert appended[4].source == ("REPORT.show_slot('Q1')  # Q1's answer\n"
                                  "REPORT.show_slot('Q2')  # Q2's answer")
    single = [new.new_code_cell("#@title Setup\nimport os", metadata=hidden)]
    appended = export_pdf.with_code_appendix(new.new_notebook(cells=single)).cells[1:]
    assert [cell.source for cell in appended[1:]] == ["### Setup", "import os"]  # one alone keeps its title


def test_the_command_line(tmp_path):
    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(REPO / "tools" / "export_pdf.py"), *args],
                              capture_output=True, text=True, check=False)

    for bad in ((), ("only.ipynb",), ("--find-browser", "a.ipynb", "b.pdf"), ("a", "b", "c")):
        assert cli(*bad).returncode == 2, bad
    missing = cli(str(tmp_path / "absent.ipynb"), str(tmp_path / "x.pdf"))
    assert missing.returncode == 1 and "make run" in missing.stderr
    browser = tmp_path / "my-chrome"
    browser.write_text("")
    found = subprocess.run([sys.executable, str(REPO / "tools" / "export_pdf.py"), "--find-browser"],
                           capture_output=True, text=True, check=False,
                           env={**os.environ, "A2_CHROME": str(browser)})
    assert found.returncode == 0 and found.stdout.strip() == str(browser)  # A2_CHROME comes first


def test_missing_tools_give_clear_messages(tmp_path, monkeypatch):
    with pytest.raises(export_pdf.ExportError, match="make run"):
        export_pdf.export(tmp_path / "absent.ipynb", tmp_path / "x.pdf")
    monkeypatch.setattr(export_pdf, "BROWSER_NAMES", ())
    monkeypatch.setattr(export_pdf, "BROWSER_PATHS", ())
    monkeypatch.delenv("A2_CHROME", raising=False)
    with pytest.raises(export_pdf.ExportError, match="apt-get install chromium.*brew install --cask"):
        export_pdf.find_browser()

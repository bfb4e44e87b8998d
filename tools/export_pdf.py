"""Turn an executed notebook into a PDF: nbconvert HTML (math by a local MathJax) printed by headless Chrome.

    python tools/export_pdf.py EXECUTED.ipynb OUT.pdf
    python tools/export_pdf.py --find-browser      # print the browser it would use, or what to install

Needs Chrome or Chromium (found on PATH, in the usual macOS and Windows install folders, or named by the
environment variable A2_CHROME) and MathJax 2.7 from the npm registry in .pdf-tools/ (`make pdf-deps`).
Nothing is downloaded at run time. Cells tagged `remove-input` (setup) show only their output in the body, and
their code is printed in an appendix at the end ("Appendix: setup and helper code"), as are the settings that
papermill injected (the body leaves them out). Each "Question N" and the appendix start a page, a code cell or
figure that fits on a page is never split across two, a longer cell breaks only where a statement starts, long
code lines wrap, wide tables shrink and figures fit the page; the document title is the notebook's title.
"""

from __future__ import annotations

import argparse
import ast
import copy
import html
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter
from nbconvert.preprocessors import TagRemovePreprocessor

REPO = Path(__file__).resolve().parents[1]
MATHJAX = REPO / ".pdf-tools" / "node_modules" / "mathjax" / "MathJax.js"
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome", "msedge")
BROWSER_PATHS = (  # the usual install folders on macOS and Windows
    "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
    "/Applications/Chromium.app/Contents/MacOS/Chromium",
    *(str(Path(os.environ.get(root, "")) / sub)
      for root in ("PROGRAMFILES", "PROGRAMFILES(X86)", "LOCALAPPDATA")
      for sub in ("Google/Chrome/Application/chrome.exe", "Chromium/Application/chrome.exe",
                  "Microsoft/Edge/Application/msedge.exe") if os.environ.get(root)),
)
INSTALL_ADVICE = ("No Chrome or Chromium found. Install one: Debian/Ubuntu `sudo apt-get install chromium`; "
                  "macOS `brew install --cask chromium` or Google Chrome from "
                  "https://www.google.com/chrome/; Windows Google Chrome (or use Edge). "
                  "Or set A2_CHROME=/path/to/the/browser.")
TITLE_SETTINGS = ("STUDENT_NAME", "STUDENT_ID", "DISCUSSED_WITH")  # the settings that page 1 prints
UNFILLED = "not filled in: set `{}`"  # how page 1 prints an empty one (the notebook's title_block)
HIDDEN_INPUT_TAG = "remove-input"  # the body shows only the cell's output; the appendix prints its code
INJECTED_CELL_TAG = "injected-parameters"  # papermill's: not in the body, in the appendix (INJECTED_TITLE)
INJECTED_TITLE = "Settings that papermill (the tool that ran the notebook) gave this run, in force from here"
APPENDIX_TITLE = "Appendix: setup and helper code"
ONE_LINERS_TITLE = "The cells of one line (each line, then its cell's title)"
APPENDIX_TAG, APPENDIX_ENTRY_TAG = "a2-appendix", "a2-appendix-entry"  # CSS hooks on the appendix's titles
APPENDIX_CODE_TAG = "a2-appendix-code"  # CSS hook: the appendix's code, for maintainers (smaller, packed)
KEEP_TOGETHER_TAG = "a2-keep-together"  # CSS hook: a code cell whose input fits on a page, never split
STATEMENT_CLASS = "a2-statement"  # CSS hook: the lines of one statement of a longer cell, never split
HIGHLIGHTED_CODE = re.compile(r'(<div class="highlight hl-ipython3"><pre>)(.*?)(</pre>)', re.S)
PAGE_CODE_LINES, PAGE_CODE_CHARS = 80, 110  # code lines that surely fit on one A4 page, characters per line
COLAB_TITLE = "#@title "
PRINT_CSS = """
<style>
@page { size: A4; margin: 6mm 6mm; }
body, .jp-RenderedHTMLCommon { font-size: 9pt; }
.jp-RenderedHTMLCommon h1 { font-size: 15pt !important; margin: 0.2em 0 0.4em !important; }
.jp-RenderedHTMLCommon h2 { font-size: 12.5pt !important; margin: 0.5em 0 0.3em !important; }
.jp-RenderedHTMLCommon h3 { font-size: 11pt !important; margin: 0.4em 0 0.3em !important; }
.jp-Notebook { padding: 0 !important; }
.jp-Cell { padding: 1px 0 !important; }
.jp-InputArea-editor, .jp-OutputArea-output { overflow: visible !important; }
pre, code, .highlight pre, .jp-OutputArea-output pre, .jp-RenderedText pre {
  white-space: pre-wrap !important; overflow-wrap: anywhere !important; word-break: break-word;
  font-size: 8pt !important; line-height: 1.08 !important;
}
/* The appendix is for maintainers: its code is smaller, and it packs pages (statements still stay whole). */
.celltag_a2-appendix-code pre, .celltag_a2-appendix-code .highlight pre {
  font-size: 6.5pt !important; line-height: 1.0 !important;
}
img { max-width: 100% !important; height: auto !important; break-inside: avoid; }
table { font-size: 8pt !important; max-width: 100% !important; table-layout: auto; }
td, th { overflow-wrap: anywhere; padding: 2px 4px !important; }
th { overflow-wrap: normal !important; }  /* a header wraps between words, never inside one */
td:first-child, td:last-child { white-space: nowrap; }
.jp-RenderedHTMLCommon { padding-right: 0 !important; }
.jp-RenderedHTMLCommon p, .jp-RenderedHTMLCommon li {
  margin-top: 0.2em !important; margin-bottom: 0.3em !important; break-inside: avoid;
}
/* No scroll areas on paper: an output prints whole, with no scrollbars beside it. */
.jp-OutputArea-output pre, .jp-OutputArea-child, .jp-Cell-outputArea {
  overflow: visible !important; max-height: none !important;
}
/* A Markdown output (a table with its caption) stays on one page. */
.jp-OutputArea-output.jp-RenderedMarkdown { break-inside: avoid; }
.MathJax_Display, .MathJax { max-width: 100%; }
.jp-Cell:has(h1[id^="Question-"]), .jp-Cell:has(.celltag_a2-appendix) { break-before: page; }
h1, h2, h3, h4, .jp-Cell:has(.celltag_a2-appendix-entry) { break-after: avoid; }
/* A section's heading and question stay with the bold answer that a hidden cell shows under them. */
.jp-MarkdownCell:has(h2):has(+ .celltag_remove-input) { break-after: avoid; }
/* A code cell's input that fits on a page (tagged at export) and a figure are never split across pages. */
.celltag_a2-keep-together .jp-Cell-inputWrapper, .celltag_a2-keep-together .jp-InputArea,
.jp-OutputArea-output img, .jp-RenderedImage, .jp-RenderedMarkdown table, .jp-RenderedHTMLCommon pre {
  break-inside: avoid;
}
/* A longer input breaks only between statements: each statement's lines are one unbreakable block. */
.a2-statement { display: block; break-inside: avoid; }
</style>
"""


class ExportError(RuntimeError):
    """A tool the export needs is missing, or the browser failed (the message says what to do)."""


def find_browser() -> str:
    """Path of a Chrome/Chromium executable (A2_CHROME first), or an ExportError that says what to install."""
    candidates = [os.environ.get("A2_CHROME", ""), *(shutil.which(name) or "" for name in BROWSER_NAMES),
                  *BROWSER_PATHS]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return candidate
    raise ExportError(INSTALL_ADVICE)


def find_mathjax() -> Path:
    """MathJax 2.7's MathJax.js (A2_MATHJAX overrides), or an ExportError that says how to get it."""
    path = Path(os.environ.get("A2_MATHJAX", MATHJAX))
    if not path.is_file():
        raise ExportError(f"MathJax not found at {path}. Run `make pdf-deps` (npm install mathjax@2.7.9 into "
                          ".pdf-tools/; npm comes with Node.js, https://nodejs.org).")
    return path


def output_text(notebook: nbformat.NotebookNode) -> str:
    """The text/markdown and text/plain outputs of the notebook's code cells, one after another."""
    parts = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            for mime in ("text/markdown", "text/plain"):
                text = output.get("data", {}).get(mime, "")
                parts.append("".join(text) if isinstance(text, list) else text)
    return "\n".join(parts)


def placeholder_fields(notebook: nbformat.NotebookNode) -> list[str]:
    """The title settings (STUDENT_NAME, ...) that the executed notebook's page 1 printed as not filled in."""
    printed = output_text(notebook)
    return [name for name in TITLE_SETTINGS if UNFILLED.format(name) in printed]


def cell_tags(cell: nbformat.NotebookNode) -> list[str]:
    """The cell's tags (none when its metadata has no `tags`)."""
    return cell.get("metadata", {}).get("tags", [])


def with_code_appendix(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of `notebook` with an appendix that prints the code of its `remove-input` cells.

    The appendix is appended after the last cell: a heading, then for each code cell tagged `remove-input`
    or `injected-parameters` (papermill's settings for this run), in notebook order, a markdown title and an
    untagged code cell with its source and no outputs. The title is the text of the cell's `#@title ` line
    (which the code then omits), INJECTED_TITLE for papermill's cell, else "Code cell N", N counting the
    notebook's code cells from 1 (papermill's not counted). Hidden cells of one line of code are listed
    together, each line followed by its title as a comment, where the first of them would be. The notebook's
    own cells and their order are unchanged; without such cells, nothing is added.
    """
    result = copy.deepcopy(notebook)
    entries = []  # (title, code) of each hidden cell, in notebook order
    number = 0  # code cells, papermill's not counted
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        if INJECTED_CELL_TAG in cell_tags(cell):
            entries.append((INJECTED_TITLE, cell.source.strip("\n")))
            continue
        number += 1
        if HIDDEN_INPUT_TAG not in cell_tags(cell):
            continue
        first, _, rest = cell.source.partition("\n")
        if first.startswith(COLAB_TITLE):
            entries.append((first[len(COLAB_TITLE):].strip(), rest.strip("\n")))
        else:
            entries.append((f"Code cell {number}", cell.source.strip("\n")))
    if not entries:
        return result
    one_liners = [index for index, (title, code) in enumerate(entries)
                  if "\n" not in code and title != INJECTED_TITLE]
    if len(one_liners) > 1:  # listed together, where the first of them is
        together = "\n".join(f"{entries[i][1]}  # {entries[i][0]}" for i in one_liners)
        entries[one_liners[0]] = (ONE_LINERS_TITLE, together)
        entries = [entry for index, entry in enumerate(entries) if index not in one_liners[1:]]
    order = "in notebook order, the one-line cells together" if len(one_liners) > 1 else "in notebook order"
    result.cells.append(nbformat.v4.new_markdown_cell(
        f"# {APPENDIX_TITLE}\n\nThe code of the cells that show only their output above, {order}.",
        metadata={"tags": [APPENDIX_TAG]}))
    for title, code in entries:
        result.cells.append(nbformat.v4.new_markdown_cell(f"### {title}",
                                                          metadata={"tags": [APPENDIX_ENTRY_TAG]}))
        result.cells.append(nbformat.v4.new_code_cell(code, metadata={"tags": [APPENDIX_CODE_TAG]}))
    if (result.nbformat, result.nbformat_minor) < (4, 5):  # cell ids came with nbformat 4.5
        for new_cell in result.cells[len(notebook.cells):]:
            new_cell.pop("id", None)
    return result


def printed_lines(source: str, width: int = PAGE_CODE_CHARS) -> int:
    """How many lines `source` takes in the PDF, its long lines wrapped at `width` characters."""
    return sum(max(1, -(-len(line) // width)) for line in source.splitlines())


def with_keep_together_tags(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of `notebook` whose code cells that fit on a page carry KEEP_TOGETHER_TAG (a CSS hook)."""
    result = copy.deepcopy(notebook)
    for cell in result.cells:
        if (cell.cell_type == "code" and APPENDIX_CODE_TAG not in cell_tags(cell)
                and printed_lines(cell.source) <= PAGE_CODE_LINES):
            cell.setdefault("metadata", {})["tags"] = [*cell_tags(cell), KEEP_TOGETHER_TAG]
    return result


def break_points(source: str) -> set[int]:
    """0-based numbers of the lines of `source` before which a page may break: where a statement starts.

    Not before a function's or class's docstring, nor before the statement that follows it, so that a
    definition's header is never alone at the foot of a page; a decorator starts its definition. Empty if the
    source does not parse.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    points, glued = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.stmt):
            decorators = getattr(node, "decorator_list", [])
            points.add(min([node.lineno, *(d.lineno for d in decorators)]) - 1)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            glued.update(statement.lineno - 1 for statement in node.body[:2])
    return points - glued


def with_statement_blocks(page: str) -> str:
    """`page` (HTML) in which every code input longer than a page has each statement's lines in one block."""

    def wrap(match: re.Match) -> str:
        lines = match.group(2).split("\n")  # Pygments closes its spans at the end of every line
        source = "\n".join(html.unescape(re.sub(r"<[^>]*>", "", line)) for line in lines)
        if printed_lines(source) <= PAGE_CODE_LINES:
            return match.group(0)
        points = sorted(break_points(source) | {0})
        if points == [0]:
            return match.group(0)
        # A block's last line break is not drawn, so a block that ends with a blank line gets one more.
        blocks = ["\n".join(lines[a:b]) + "\n" * (not lines[b - 1].strip())
                  for a, b in zip(points, [*points[1:], len(lines)])]
        spans = "".join(f'<span class="{STATEMENT_CLASS}">{block}</span>' for block in blocks)
        return match.group(1) + spans + match.group(3)

    return HIGHLIGHTED_CODE.sub(wrap, page)


def notebook_to_html(notebook: nbformat.NotebookNode, mathjax: Path) -> str:
    """Standalone HTML of the executed notebook and its code appendix, with print CSS and a local MathJax."""
    exporter = HTMLExporter(template_name="lab", exclude_input_prompt=True, exclude_output_prompt=True)
    exporter.register_preprocessor(TagRemovePreprocessor(remove_input_tags={HIDDEN_INPUT_TAG},
                                                         remove_cell_tags={INJECTED_CELL_TAG}), enabled=True)
    exporter.mathjax_url = mathjax.as_uri() + "?config=TeX-AMS_CHTML-full,Safe"
    body, _ = exporter.from_notebook_node(with_keep_together_tags(with_code_appendix(notebook)))
    return with_statement_blocks(body).replace("</head>", PRINT_CSS + "</head>", 1)


def html_to_pdf(html: Path, pdf: Path, browser: str, timeout_s: int = 300) -> None:
    """Print `html` to `pdf` with the headless browser (it waits for MathJax), in a throwaway profile."""
    pdf.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="a2-chrome-", ignore_cleanup_errors=True) as profile:
        command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
                   "--disable-background-networking", "--disable-component-update",
                   "--allow-file-access-from-files", "--no-pdf-header-footer",
                   "--run-all-compositor-stages-before-draw", "--virtual-time-budget=60000",
                   f"--user-data-dir={profile}", f"--print-to-pdf={pdf}", html.as_uri()]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)
    if result.returncode != 0 or not pdf.is_file() or pdf.stat().st_size == 0:
        raise ExportError(f"{browser} failed (exit {result.returncode}): {result.stderr[-2000:]}")


def export(notebook_path: Path, pdf: Path) -> Path:
    """Executed notebook -> HTML next to the PDF -> PDF; warns of unfilled title fields; returns the PDF."""
    if not notebook_path.is_file():
        raise ExportError(f"No executed notebook at {notebook_path}. "
                          "Run `make run` (or `A2_SMOKE=1 make run`) first.")
    browser, mathjax = find_browser(), find_mathjax()
    notebook = nbformat.read(notebook_path, as_version=4)
    unfilled = placeholder_fields(notebook)
    if unfilled:
        print(f"WARNING: the title fields are not filled in ({', '.join(unfilled)}): set them in the "
              "settings cell of assignment2.ipynb and run it again before printing.", file=sys.stderr)
    pdf.parent.mkdir(parents=True, exist_ok=True)
    html = pdf.with_suffix(".html")
    html.write_text(notebook_to_html(notebook, mathjax), encoding="utf-8")
    html_to_pdf(html, pdf, browser)
    return pdf


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line: EXECUTED.ipynb OUT.pdf, or --find-browser alone (exit status 2 otherwise)."""
    parser = argparse.ArgumentParser(prog="export_pdf.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebook", nargs="?", type=Path, metavar="EXECUTED.ipynb",
                        help="the executed notebook")
    parser.add_argument("pdf", nargs="?", type=Path, metavar="OUT.pdf", help="the PDF to write")
    parser.add_argument("--find-browser", action="store_true",
                        help="print the Chrome/Chromium the export would use (if none: exit 1 and say "
                             "what to install)")
    args = parser.parse_args(argv)
    if args.find_browser and args.notebook is not None:
        parser.error("--find-browser takes no other arguments")
    if not args.find_browser and args.pdf is None:
        parser.error("give EXECUTED.ipynb and OUT.pdf, or --find-browser")
    return args


def main(argv: list[str]) -> int:
    """Command-line entry point: 0 on success, 1 when a tool is missing or the export fails, 2 bad usage."""
    args = parse_args(argv)
    try:
        if args.find_browser:
            print(find_browser())
        else:
            print(f"PDF written to {export(args.notebook.resolve(), args.pdf.resolve())}")
    except ExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Turn an executed notebook into a PDF: nbconvert HTML (math by a local MathJax) printed by headless Chrome/Chromium.

    python tools/export_pdf.py EXECUTED.ipynb OUT.pdf
    python tools/export_pdf.py --find-browser      # print the browser it would use, or what to install

Needs Chrome or Chromium (found on PATH, in the usual macOS and Windows install folders, or named by the
environment variable A2_CHROME) and MathJax 2.7 from the npm registry in .pdf-tools/ (`make pdf-deps`).
Nothing is downloaded at run time. Cells tagged `remove-input` (setup) show only their output, papermill's
injected parameters are left out, each "Question N" starts a page, long code lines wrap, wide tables shrink and
figures fit the page; the PDF's document title is the notebook's metadata title.
"""

from __future__ import annotations

import os
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
    *(str(Path(os.environ.get(root, "")) / sub) for root in ("PROGRAMFILES", "PROGRAMFILES(X86)", "LOCALAPPDATA")
      for sub in ("Google/Chrome/Application/chrome.exe", "Chromium/Application/chrome.exe",
                  "Microsoft/Edge/Application/msedge.exe") if os.environ.get(root)),
)
INSTALL_ADVICE = ("No Chrome or Chromium found. Install one: Debian/Ubuntu `sudo apt-get install chromium`; macOS "
                  "`brew install --cask chromium` or Google Chrome from https://www.google.com/chrome/; Windows Google "
                  "Chrome (or use Edge). Or set A2_CHROME=/path/to/the/browser.")
PLACEHOLDERS = ("*your name*", "*your ID*", "*names of anyone")
PRINT_CSS = """
<style>
@page { size: A4; margin: 10mm 9mm; }
body, .jp-RenderedHTMLCommon { font-size: 9.5pt; }
.jp-RenderedHTMLCommon h1 { font-size: 15pt !important; margin: 0.2em 0 0.4em !important; }
.jp-RenderedHTMLCommon h2 { font-size: 12.5pt !important; margin: 0.5em 0 0.3em !important; }
.jp-RenderedHTMLCommon h3 { font-size: 11pt !important; margin: 0.4em 0 0.3em !important; }
.jp-Notebook { padding: 0 !important; }
.jp-Cell { padding: 1px 0 !important; }
.jp-InputArea-editor, .jp-OutputArea-output { overflow: visible !important; }
pre, code, .highlight pre, .jp-OutputArea-output pre, .jp-RenderedText pre {
  white-space: pre-wrap !important; overflow-wrap: anywhere !important; word-break: break-word; font-size: 7.4pt !important;
  line-height: 1.2 !important;
}
img { max-width: 100% !important; height: auto !important; break-inside: avoid; }
table { font-size: 8pt !important; max-width: 100% !important; table-layout: auto; }
td, th { overflow-wrap: anywhere; padding: 2px 4px !important; }
td:first-child, td:last-child { white-space: nowrap; }
.jp-RenderedHTMLCommon { padding-right: 0 !important; }
.jp-RenderedHTMLCommon p, .jp-RenderedHTMLCommon li { margin-top: 0.2em !important; margin-bottom: 0.3em !important; }
.MathJax_Display, .MathJax { max-width: 100%; }
.jp-Cell:has(h1[id^="Question-"]) { break-before: page; }
h1, h2, h3, h4 { break-after: avoid; }
.jp-OutputArea-output img, .jp-RenderedMarkdown table, .jp-RenderedHTMLCommon pre { break-inside: avoid; }
</style>
"""


class ExportError(RuntimeError):
    """A tool the export needs is missing, or the browser failed (the message says what to do)."""


def find_browser() -> str:
    """Path of a Chrome/Chromium executable (A2_CHROME first), or an ExportError that says what to install."""
    candidates = [os.environ.get("A2_CHROME", ""), *(shutil.which(name) or "" for name in BROWSER_NAMES), *BROWSER_PATHS]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return candidate
    raise ExportError(INSTALL_ADVICE)


def find_mathjax() -> Path:
    """MathJax 2.7's MathJax.js (A2_MATHJAX overrides), or an ExportError that says how to get it."""
    path = Path(os.environ.get("A2_MATHJAX", MATHJAX))
    if not path.is_file():
        raise ExportError(f"MathJax not found at {path}. Run `make pdf-deps` (npm install mathjax@2.7.9 into .pdf-tools/; "
                          "npm comes with Node.js, https://nodejs.org).")
    return path


def placeholder_fields(notebook: nbformat.NotebookNode) -> list[str]:
    """The title fields of the first cell that still hold their placeholder text."""
    first = notebook.cells[0].source if notebook.cells else ""
    return [text for text in PLACEHOLDERS if text in first]


def notebook_to_html(notebook: nbformat.NotebookNode, mathjax: Path) -> str:
    """Standalone HTML of the executed notebook, with print CSS and a local MathJax."""
    exporter = HTMLExporter(template_name="lab", exclude_input_prompt=True, exclude_output_prompt=True)
    exporter.register_preprocessor(TagRemovePreprocessor(remove_input_tags={"remove-input"},
                                                         remove_cell_tags={"injected-parameters"}), enabled=True)
    exporter.mathjax_url = mathjax.as_uri() + "?config=TeX-AMS_CHTML-full,Safe"
    body, _ = exporter.from_notebook_node(notebook)
    return body.replace("</head>", PRINT_CSS + "</head>", 1)


def html_to_pdf(html: Path, pdf: Path, browser: str, timeout_s: int = 300) -> None:
    """Print `html` to `pdf` with the headless browser (it waits for MathJax)."""
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
               "--disable-background-networking", "--disable-component-update", "--allow-file-access-from-files",
               "--no-pdf-header-footer", "--run-all-compositor-stages-before-draw", "--virtual-time-budget=60000",
               f"--user-data-dir={tempfile.mkdtemp(prefix='a2-chrome-')}", f"--print-to-pdf={pdf}", html.as_uri()]
    pdf.unlink(missing_ok=True)
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)
    if result.returncode != 0 or not pdf.is_file() or pdf.stat().st_size == 0:
        raise ExportError(f"{browser} failed (exit {result.returncode}): {result.stderr[-2000:]}")


def export(notebook_path: Path, pdf: Path) -> Path:
    """Executed notebook -> HTML (next to the PDF) -> PDF; warns about unfilled title fields; returns the PDF path."""
    if not notebook_path.is_file():
        raise ExportError(f"No executed notebook at {notebook_path}. Run `make run` (or `A2_SMOKE=1 make run`) first.")
    browser, mathjax = find_browser(), find_mathjax()
    notebook = nbformat.read(notebook_path, as_version=4)
    if placeholder_fields(notebook):
        print(f"WARNING: the title fields still hold placeholders ({', '.join(placeholder_fields(notebook))}): "
              "fill in your name, ID and 'discussed with' in the first cell of assignment2.ipynb.", file=sys.stderr)
    pdf.parent.mkdir(parents=True, exist_ok=True)
    html = pdf.with_suffix(".html")
    html.write_text(notebook_to_html(notebook, mathjax), encoding="utf-8")
    html_to_pdf(html, pdf, browser)
    return pdf


def main(argv: list[str]) -> int:
    """Command-line entry point."""
    try:
        if argv == ["--find-browser"]:
            print(find_browser())
        elif len(argv) == 2:
            print(f"PDF written to {export(Path(argv[0]).resolve(), Path(argv[1]).resolve())}")
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except ExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

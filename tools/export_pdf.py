"""Turn an executed notebook into a PDF: nbconvert HTML (math by a local MathJax) printed by headless Chromium.

    python tools/export_pdf.py [executed.ipynb] [out.pdf]

Defaults: outputs/assignment2.executed.ipynb -> outputs/assignment2.pdf. Needs Debian's `chromium`
and MathJax 2.7 from the npm registry (`make pdf-deps` installs both); nothing is downloaded at run
time. Long code lines wrap, wide tables shrink and figures fit the page.
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

REPO = Path(__file__).resolve().parents[1]
DEFAULT_NOTEBOOK = REPO / "outputs" / "assignment2.executed.ipynb"
DEFAULT_PDF = REPO / "outputs" / "assignment2.pdf"
MATHJAX = REPO / ".pdf-tools" / "node_modules" / "mathjax" / "MathJax.js"
PRINT_CSS = """
<style>
@page { size: A4; margin: 13mm 11mm; }
body { font-size: 10pt; }
.jp-Notebook { padding: 0 !important; }
.jp-Cell { padding: 2px 0 !important; }
.jp-InputArea-editor, .jp-OutputArea-output { overflow: visible !important; }
pre, code, .highlight pre, .jp-OutputArea-output pre, .jp-RenderedText pre {
  white-space: pre-wrap !important; overflow-wrap: anywhere !important; word-break: break-word; font-size: 8.2pt !important;
}
img { max-width: 100% !important; height: auto !important; break-inside: avoid; }
table { font-size: 8pt !important; max-width: 100% !important; table-layout: auto; }
td, th { overflow-wrap: anywhere; padding: 2px 4px !important; }
.jp-RenderedHTMLCommon { padding-right: 0 !important; }
.MathJax_Display, .MathJax { max-width: 100%; }
</style>
"""


class ExportError(RuntimeError):
    """A tool the export needs is missing, or Chromium failed (the message says what to do)."""


def find_chromium() -> str:
    """Path of a Chromium/Chrome executable, or an error that says how to install Debian's."""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    raise ExportError("No Chromium found. Install Debian's: `sudo apt-get install chromium` (or run `make pdf-deps`).")


def find_mathjax() -> Path:
    """MathJax 2.7's MathJax.js (A2_MATHJAX overrides), or an error that says how to get it."""
    path = Path(os.environ.get("A2_MATHJAX", MATHJAX))
    if not path.is_file():
        raise ExportError(f"MathJax not found at {path}. Run `make pdf-deps` (npm install mathjax@2.7.9 into .pdf-tools/).")
    return path


def notebook_to_html(notebook: Path, mathjax: Path) -> str:
    """Standalone HTML of the executed notebook, with print CSS and a local MathJax."""
    exporter = HTMLExporter(template_name="lab", exclude_input_prompt=True, exclude_output_prompt=True)
    exporter.mathjax_url = mathjax.as_uri() + "?config=TeX-AMS_CHTML-full,Safe"
    body, _ = exporter.from_notebook_node(nbformat.read(notebook, as_version=4))
    return body.replace("</head>", PRINT_CSS + "</head>", 1)


def html_to_pdf(html: Path, pdf: Path, chromium: str, timeout_s: int = 300) -> None:
    """Print `html` to `pdf` with headless Chromium (waits for MathJax), writing the PDF atomically."""
    fd, tmp = tempfile.mkstemp(dir=pdf.parent, suffix=".pdf.partial")
    os.close(fd)
    command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
               "--disable-background-networking", "--disable-component-update", "--allow-file-access-from-files",
               "--no-pdf-header-footer", "--run-all-compositor-stages-before-draw", "--virtual-time-budget=60000",
               f"--user-data-dir={tempfile.mkdtemp(prefix='a2-chromium-')}", f"--print-to-pdf={tmp}", html.as_uri()]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)
        if result.returncode != 0 or Path(tmp).stat().st_size == 0:
            raise ExportError(f"Chromium failed (exit {result.returncode}): {result.stderr[-2000:]}")
        os.replace(tmp, pdf)
    finally:
        Path(tmp).unlink(missing_ok=True)


def export(notebook: Path = DEFAULT_NOTEBOOK, pdf: Path = DEFAULT_PDF) -> Path:
    """Executed notebook -> HTML (next to the PDF) -> PDF; return the PDF path."""
    if not notebook.is_file():
        raise ExportError(f"No executed notebook at {notebook}. Run `make run` (or `A2_SMOKE=1 make run`) first.")
    chromium, mathjax = find_chromium(), find_mathjax()
    pdf.parent.mkdir(parents=True, exist_ok=True)
    html = pdf.with_suffix(".html")
    html.write_text(notebook_to_html(notebook, mathjax), encoding="utf-8")
    html_to_pdf(html, pdf, chromium)
    return pdf


def main(argv: list[str]) -> int:
    """Command-line entry point."""
    notebook = Path(argv[0]) if argv else DEFAULT_NOTEBOOK
    pdf = Path(argv[1]) if len(argv) > 1 else DEFAULT_PDF
    try:
        print(f"PDF written to {export(notebook.resolve(), pdf.resolve())}")
    except ExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

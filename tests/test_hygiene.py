"""The committed notebook: stored clean, one parameters cell, short enough to grade, ruff-clean, documented."""

import ast
import subprocess
import sys

import nbformat
from conftest import NOTEBOOK, REPO

NOTEBOOK_NODE = nbformat.read(NOTEBOOK, as_version=4)
CODE = [cell for cell in NOTEBOOK_NODE.cells if cell.cell_type == "code"]


def test_notebook_is_valid_and_stored_without_outputs_or_execution_counts():
    nbformat.validate(NOTEBOOK_NODE)
    dirty = [i for i, c in enumerate(CODE) if c.get("outputs") or c.get("execution_count") is not None]
    assert dirty == [], f"code cells {dirty} carry outputs or execution counts; clear them before committing"


def test_exactly_one_parameters_cell_reads_smoke_from_the_environment():
    tagged = [c for c in CODE if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1
    assert 'SMOKE = os.environ.get("A2_SMOKE") == "1"' in tagged[0].source


def test_at_most_800_code_lines_none_wider_than_the_page():
    lines = [line for cell in CODE for line in cell.source.splitlines() if line.strip()]
    assert len(lines) <= 800, len(lines)
    wide = [line for line in lines if len(line) > 110]
    assert wide == [], wide  # the PDF fits about 114 characters of code per line


def test_setup_and_shared_helpers_are_collapsed_in_colab_and_not_printed():
    first_two = CODE[:2]
    for cell in first_two:
        assert cell.source.startswith("#@title ") and cell.metadata.get("cellView") == "form"
        assert "remove-input" in cell.metadata.get("tags", [])
    hidden = [c for c in CODE if "remove-input" in c.metadata.get("tags", [])]
    assert all(c.source.startswith("#@title ") or c is CODE[-1] for c in hidden)  # the last: the answer sheet


def test_the_prose_quotes_no_other_run_network_or_test_suite():
    """The PDF is a report about the run that made it: figures from elsewhere belong in the README and the tests."""
    prose = "\n".join(c.source for c in NOTEBOOK_NODE.cells if c.cell_type == "markdown").lower()
    for phrase in ("two full runs", "earlier run", "mobilenet", "test suite", "project's tests", "in two runs"):
        assert phrase not in prose, phrase


def test_pdf_title_comes_from_the_notebook_metadata():
    assert NOTEBOOK_NODE.metadata["title"].startswith("COMP 691")


def test_definition_cells_only_define():
    """Cells tagged `definitions` hold functions, classes and constants: no experiments."""
    allowed = (ast.FunctionDef, ast.ClassDef, ast.Assign, ast.AnnAssign, ast.Import, ast.ImportFrom, ast.Expr)
    for cell in CODE:
        if "definitions" in cell.get("metadata", {}).get("tags", []):
            for node in ast.parse(cell.source).body:
                assert isinstance(node, allowed), f"statement {ast.dump(node)[:80]} in a definitions cell"
                if isinstance(node, ast.Expr):  # only docstrings/constants, never calls
                    assert isinstance(node.value, ast.Constant)


def test_every_function_is_defined_once_with_a_docstring_and_type_hints():
    problems, names = [], []
    for cell in CODE:
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.FunctionDef):
                names.append(node.name)
                args = [a for a in node.args.args + node.args.kwonlyargs if a.arg not in {"self", "cls"}]
                if ast.get_docstring(node) is None and not node.name.startswith("__"):
                    problems.append(f"{node.name}: docstring")
                if node.returns is None or any(a.annotation is None for a in args):
                    problems.append(f"{node.name}: type hints")
    methods = {"__init__", "forward", "__len__"}
    duplicates = {n for n in names if names.count(n) > 1 and n not in methods}
    assert problems == [] and duplicates == set()


def test_ruff_finds_no_problems_in_the_notebook():
    paths = [str(NOTEBOOK)] + [str(REPO / folder) for folder in ("tools", "tests", "benchmarks")]  # `make lint`
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", *paths],
                            check=False, cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_readme_jupytext_round_trip_gives_back_the_same_notebook(tmp_path):
    """README's 'Editing the notebook': to a percent script and back, with the project's jupytext.toml."""
    import shutil

    jupytext = [sys.executable, "-m", "jupytext", "-q"]
    copy = tmp_path / NOTEBOOK.name
    shutil.copy(NOTEBOOK, copy)
    shutil.copy(REPO / "jupytext.toml", tmp_path / "jupytext.toml")
    subprocess.run([*jupytext, "--to", "py:percent", str(copy), "-o", str(tmp_path / "a2.py")], check=True, cwd=tmp_path)
    script = (tmp_path / "a2.py").read_text()
    assert 'tags=["parameters", "remove-input"]' in script and 'cellView="form"' in script and "title: COMP 691" in script
    subprocess.run([*jupytext, "--update", "--to", "notebook", str(tmp_path / "a2.py"), "-o", str(copy)], check=True,
                   cwd=tmp_path)
    assert copy.read_bytes() == NOTEBOOK.read_bytes()

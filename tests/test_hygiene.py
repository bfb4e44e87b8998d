"""The committed notebook is stored clean, has one parameters cell, and is ruff-clean."""

import subprocess
import sys

import nbformat
from conftest import NOTEBOOK, REPO


def test_notebook_is_stored_without_outputs_or_execution_counts():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    dirty = [i for i, c in enumerate(notebook.cells)
             if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count") is not None)]
    assert dirty == [], f"code cells {dirty} carry outputs or execution counts; clear them before committing"


def test_notebook_is_valid_nbformat():
    nbformat.validate(nbformat.read(NOTEBOOK, as_version=4))


def test_exactly_one_parameters_cell_reads_smoke_from_environment():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    tagged = [c for c in notebook.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1
    assert 'SMOKE = os.environ.get("A2_SMOKE") == "1"' in tagged[0].source


def test_definition_cells_only_define():
    """Cells tagged `definitions` hold imports, functions, classes and constants: no experiments."""
    import ast

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    allowed = (ast.FunctionDef, ast.ClassDef, ast.Assign, ast.AnnAssign, ast.Import, ast.ImportFrom, ast.Expr)
    for cell in notebook.cells:
        if "definitions" in cell.get("metadata", {}).get("tags", []):
            for node in ast.parse(cell.source).body:
                assert isinstance(node, allowed), f"statement {ast.dump(node)[:80]} in a definitions cell"
                if isinstance(node, ast.Expr):  # only docstrings/constants, never calls
                    assert isinstance(node.value, ast.Constant)


def test_every_notebook_function_has_docstring_and_type_hints():
    import ast

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    missing = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.FunctionDef):
                args = [a for a in node.args.args + node.args.kwonlyargs if a.arg not in {"self", "cls"}]
                if ast.get_docstring(node) is None and not node.name.startswith("_"):
                    missing.append(f"{node.name}: docstring")
                if node.returns is None or any(a.annotation is None for a in args):
                    missing.append(f"{node.name}: type hints")
    assert missing == []


def test_ruff_finds_no_problems_in_the_notebook():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", str(NOTEBOOK)],
                            check=False, cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr

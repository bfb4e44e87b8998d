"""The committed notebook: stored clean, one parameters cell, one statement per idea, ruff-clean."""

import ast
import re
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


def test_exactly_one_parameters_cell_and_the_setup_cell_reads_smoke_from_the_environment():
    tagged = [c for c in CODE if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1 and tagged[0] is CODE[0]
    assert 'SMOKE = os.environ.get("A2_SMOKE") == "1"' in CODE[1].source


def test_at_most_two_tuple_assignments_of_unrelated_values():
    """One statement per idea: `a, b = x, y` is read twice (unpacking a function's result is fine)."""
    packed = []
    for cell in CODE:
        for node in ast.walk(ast.parse(cell.source)):
            if (
                isinstance(node, ast.Assign)
                and isinstance(node.targets[0], ast.Tuple)
                and isinstance(node.value, ast.Tuple)
            ):
                packed.append(ast.unparse(node))
    assert len(packed) <= 2, packed


def test_the_parameters_cell_holds_one_typed_literal_setting_per_line_with_a_help_comment():
    """What `papermill --help-notebook` lists: NAME: type = literal  # help (a form field: #@param too)."""
    cell = next(c for c in CODE if "parameters" in c.metadata.get("tags", []))
    lines = cell.source.splitlines()
    assert lines[0].startswith("#@title ") and lines[1] == "from typing import Optional"  # the annotations
    settings = [line for line in lines[2:] if line.strip() and not line.startswith("#@markdown")]
    for line in settings:
        match = re.fullmatch(r'([A-Z][A-Z0-9_]*): (str|int|float|bool|"Optional\[(int|bool)\]") = (.+?)'
                             r"(  #@param [^#]+)?  # (.+)", line)
        assert match and "=" not in match[6], line  # papermill skips a line with a second "="
        ast.literal_eval(match[4])  # a literal: papermill shows it as the default
    assert len(settings) >= 25


def test_settings_setup_and_helpers_are_collapsed_in_colab_and_printed_only_in_the_appendix():
    for cell in CODE[:3]:
        assert cell.metadata.get("cellView") == "form" and "remove-input" in cell.metadata.get("tags", [])
    hidden = [c for c in CODE if "remove-input" in c.metadata.get("tags", [])]
    assert all(c.source.startswith("#@title ") for c in hidden)  # the appendix's title for each


def test_the_prose_quotes_no_other_run_network_or_test_suite():
    """The PDF reports the run that made it: figures from elsewhere belong in the README and the tests."""
    prose = "\n".join(c.source for c in NOTEBOOK_NODE.cells if c.cell_type == "markdown").lower()
    for phrase in (
        "two full runs",
        "earlier run",
        "mobilenet",
        "test suite",
        "project's tests",
        "in two runs",
    ):
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


def test_ruff_finds_no_problems_in_the_notebook():
    paths = [str(NOTEBOOK)] + [
        str(REPO / folder) for folder in ("tools", "tests", "benchmarks")
    ]  # `make lint`
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", *paths],
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_readme_jupytext_round_trip_gives_back_the_same_notebook(tmp_path):
    """MAINTAINERS.md's 'Editing the notebook': to a percent script and back, with the project's settings."""
    import shutil

    jupytext = [sys.executable, "-m", "jupytext", "-q"]
    copy = tmp_path / NOTEBOOK.name
    shutil.copy(NOTEBOOK, copy)
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    subprocess.run(
        [*jupytext, "--to", "py:percent", str(copy), "-o", str(tmp_path / "a2.py")], check=True, cwd=tmp_path
    )
    script = (tmp_path / "a2.py").read_text()
    assert (
        'tags=["parameters", "remove-input"]' in script
        and 'cellView="form"' in script
        and "title: COMP 691" in script
    )
    subprocess.run(
        [*jupytext, "--update", "--to", "notebook", str(tmp_path / "a2.py"), "-o", str(copy)],
        check=True,
        cwd=tmp_path,
    )
    assert copy.read_bytes() == NOTEBOOK.read_bytes()


def settings_and_run_globals() -> set[str]:
    """The settings (the parameters cell's names) and what the setup cell derives from them for this run."""
    names = set()
    for cell in CODE[:2]:  # the parameters cell and the setup cell
        for node in ast.parse(cell.source).body:
            if isinstance(node, ast.Assign):
                names |= {target.id for target in node.targets if isinstance(target, ast.Name)}
            elif isinstance(node, ast.AnnAssign):
                names.add(node.target.id)
    return names - {"ASSIGNMENT", "PROJECT_ROOT"}  # the assignment's values; the folder the notebook runs in


def test_no_function_reads_a_setting_it_is_not_given():
    """The settings cell and the cells that call the functions are the only readers of the settings."""
    settings = settings_and_run_globals()
    assert {"SEED", "DEVICE", "OUTPUT_DIR", "ADV_NUM_IMAGES", "LM_HIDDEN_SIZE", "SMOKE"} <= settings
    readers = []
    for cell in CODE:
        if "definitions" not in cell.metadata.get("tags", []):
            continue
        for function in ast.walk(ast.parse(cell.source)):
            if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                read = {node.id for node in ast.walk(function) if isinstance(node, ast.Name)
                        and isinstance(node.ctx, ast.Load) and node.id in settings}
                readers += [f"{function.name} reads {name}" for name in sorted(read)]
    assert readers == []


def test_each_top_level_name_of_the_experiment_cells_holds_one_thing():
    """A name assigned at the top level of one experiment cell is not assigned again in another."""
    assigned_in: dict[str, set[int]] = {}
    scopes = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda, ast.ListComp, ast.SetComp,
              ast.DictComp, ast.GeneratorExp)  # their names are not the cell's

    def top_level(node: ast.AST) -> list[ast.AST]:
        found = [node]
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, scopes):
                found += top_level(child)
        return found

    for index, cell in enumerate(CODE):
        if "definitions" in cell.metadata.get("tags", []):
            continue
        for node in top_level(ast.parse(cell.source)):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                assigned_in.setdefault(node.id, set()).add(index)
    reused = {name: cells for name, cells in assigned_in.items() if len(cells) > 1 and name != "_"}
    assert reused == {}, reused

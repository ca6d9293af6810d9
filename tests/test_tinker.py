"""tools/tinker.py: the grid of a parameters cell, the injected values, and its verdicts."""

import ast
from pathlib import Path

import nbformat
import pytest

from tools import tinker

ROOT = Path(__file__).resolve().parent.parent


def notebook(source, tinker_grid=None, tags=("parameters",)):
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": list(tags)})
    if tinker_grid is not None:
        cell.metadata["tinker"] = tinker_grid
    later = nbformat.v4.new_code_cell("print(separation * K)")
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import math"), cell, later])


PARAMS = "separation = 5.0  # try 2.0 to 8.0\nK = 3  # try 2 to 5\n"


def test_grid_reads_the_entries():
    nb = notebook(PARAMS, [{"separation": 2.0}, {"K": 4}])
    assert tinker.grid(nb) == (1, [{"separation": 2.0}, {"K": 4}])


def test_a_chapter_without_parameters_cell_has_no_grid():
    assert tinker.grid(notebook(PARAMS, [{"K": 4}], tags=())) == (None, [])


@pytest.mark.parametrize(
    "grid_, message",
    [
        (None, "non-empty list 'tinker'"),
        ([], "non-empty list 'tinker'"),
        ([{"seperation": 2.0}], r"sets \['seperation'\], which the parameters cell does not"),
        ([{"tinker_expect_error": "expected K"}], "at least one knob"),
        (["K=4"], "each tinker entry to be a dict"),
    ],
)
def test_a_malformed_grid_is_refused(grid_, message):
    with pytest.raises(tinker.GridError, match=message):
        tinker.grid(notebook(PARAMS, grid_))


def test_two_parameters_cells_are_refused():
    nb = notebook(PARAMS, [{"K": 4}])
    nb.cells.append(nbformat.v4.new_code_cell("K = 1", metadata={"tags": ["parameters"]}))
    with pytest.raises(tinker.GridError, match="expected one cell tagged 'parameters', got 2"):
        tinker.grid(nb)


def test_values_are_injected_after_the_parameters_cell_of_a_copy():
    nb = notebook(PARAMS, [{"K": 4}])
    entry = {"K": 4, "separation": 2.0, "tinker_expect_error": "expected K"}
    run = tinker.with_values(nb, 1, entry)
    assert run.cells[2].source == (
        "# tinker: injected parameters (K=4, separation=2.0)\nK = 4\nseparation = 2.0"
    )
    assert len(nb.cells) == 3 and len(run.cells) == 4  # the original is untouched


class FakeError(Exception):
    def __init__(self, ename, evalue):
        self.ename, self.evalue = ename, evalue


def test_verdicts():
    assert tinker.verdict({"K": 4}, None) == (True, "ran through")
    passed, message = tinker.verdict({"K": 4}, FakeError("IndexError", "list index out of range"))
    assert not passed and message == "IndexError: list index out of range"
    declared = {"K": 0, "tinker_expect_error": "expected K"}
    clear = FakeError("ValueError", "expected K >= 1, got 0; try K = 3")
    assert tinker.verdict(declared, clear) == (
        True,
        "stopped as declared: ValueError: expected K >= 1, got 0; try K = 3",
    )
    passed, message = tinker.verdict(declared, None)
    assert not passed and "it ran through" in message
    passed, message = tinker.verdict(declared, FakeError("ValueError", "zero-size array"))
    assert not passed and message.endswith("got ValueError: zero-size array")
    passed, _ = tinker.verdict(declared, FakeError("KeyError", "expected K, try"))
    assert not passed


def test_a_run_reports_the_first_error(tmp_path):
    """One real kernel: the injected K reaches the later cells, and a raising cell is caught."""
    nb = notebook(PARAMS, [{"K": 4}])
    nb.cells.append(nbformat.v4.new_code_cell("assert K == 3, 'K changed'"))
    path = tmp_path / "01_x.ipynb"
    assert tinker.run(tinker.with_values(nb, 1, {"K": 3}), path) is None
    run = tinker.with_values(nb, 1, {"K": 4})
    error = tinker.run(run, path)
    assert (error.ename, error.evalue) == ("AssertionError", "K changed")
    assert run.cells[3].outputs[0]["text"] == "20.0\n"


def test_stderr_lines_are_collected():
    nb = notebook(PARAMS, [{"K": 4}])
    nb.cells[2].outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="15.0\n"),
        nbformat.v4.new_output("stream", name="stderr", text="RuntimeWarning: invalid value\nx\n"),
    ]
    assert tinker.stderr_lines(nb) == ["RuntimeWarning: invalid value"]


def _only_set_up(source):
    """True for a cell of imports and calls only (``np.set_printoptions(...)``,
    ``_ = threadpool_limits(1)``), no knobs."""

    def set_up(node):
        if isinstance(node, ast.Assign):
            return all(isinstance(t, ast.Name) and t.id == "_" for t in node.targets)
        return isinstance(node, (ast.Import, ast.ImportFrom, ast.Expr))

    return all(map(set_up, ast.parse(source).body))


@pytest.mark.parametrize("path", tinker.chapters(), ids=lambda p: p.stem)
def test_every_chapter_grid_is_well_formed(path):
    """Without running anything: one parameters cell at most, its grid sets only knobs the cell
    assigns, and it is the first code cell after the imports (issue 25's convention)."""
    nb = nbformat.read(path, as_version=4)
    index, entries = tinker.grid(nb)
    if index is None:
        pytest.skip(f"{path.name} has no parameters cell yet")
    before = [c.source for c in nb.cells[:index] if c.cell_type == "code"]
    assert all(map(_only_set_up, before)), f"{path.name}: code before the parameters cell"
    assert entries

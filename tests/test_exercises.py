"""The exercises: every check cell has an expected answer, every answer a worked solution."""

import json
import re
from pathlib import Path

import numpy as np
import pytest

import exercises

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
CHECK = re.compile(r"""check_answer\(\s*["'](\d+\.\d+)["']""")


def _checked_names(path):
    cells = json.loads(path.read_text())["cells"]
    return {
        name
        for cell in cells
        if cell["cell_type"] == "code"
        for name in CHECK.findall("".join(cell["source"]))
    }


def _chapters():
    return sorted(p for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("name", exercises.names())
def test_every_expected_answer_is_computed(name):
    value, rtol, atol = exercises.expected(name)
    assert np.all(np.isfinite(np.asarray(value, dtype=float)))
    assert rtol >= 0 and atol >= 0


@pytest.mark.parametrize("path", _chapters(), ids=lambda p: p.stem)
def test_every_check_cell_names_a_registered_exercise(path):
    unknown = _checked_names(path) - set(exercises.names())
    assert not unknown, f"{path.name} checks exercises missing from exercises.py: {unknown}"


def test_every_exercise_has_a_worked_solution():
    solved = _checked_names(NOTEBOOKS / "solutions.ipynb")
    missing = set(exercises.names()) - solved
    assert not missing, f"exercises without a solution in solutions.ipynb: {sorted(missing)}"


def test_the_solutions_pass_their_checks():
    """The committed solutions notebook prints "correct!" for every check it runs."""
    cells = json.loads((NOTEBOOKS / "solutions.ipynb").read_text())["cells"]
    text = "".join(
        "".join(out.get("text", ""))
        for cell in cells
        if cell["cell_type"] == "code"
        for out in cell.get("outputs", [])
    )
    verdicts = re.findall(r"Exercise (\d+\.\d+): (.*)", text)
    assert verdicts, "the solutions notebook has no executed checks"
    assert all(v == "correct!" for _, v in verdicts), verdicts

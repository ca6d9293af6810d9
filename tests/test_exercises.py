"""The exercises: every check cell has an expected answer, every answer a worked solution."""

import json
import re
from pathlib import Path

import numpy as np
import pytest

from gmm import exercises
from gmm.exercises import check_answer

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
CHECK = re.compile(r"""check_answer\(\s*["'](\d+\.\d+)["']""")
CHECK_CELL = re.compile(r'(_ = )?check_answer\("(\d+)\.\d+", answer\)')


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


@pytest.mark.parametrize("path", _chapters(), ids=lambda p: p.stem)
def test_checking_cells_hold_only_the_call(path):
    """A check cell is the call alone, so it cannot show the answer, and names its own chapter."""
    cells = json.loads(path.read_text())["cells"]
    for cell in cells:
        src = "".join(cell["source"]).strip()
        if cell["cell_type"] == "code" and "check_answer(" in src and "import" not in src:
            match = CHECK_CELL.fullmatch(src)
            assert match, f"{path.name}: a check cell holds more than the call:\n{src}"
            assert int(match.group(2)) == int(path.name[:2]), src


def test_wrong_answers_fail(capsys):

    assert check_answer("6.1", 2.0) is False
    assert check_answer("7.1", 20) is False
    assert "not yet" in capsys.readouterr().out
    with pytest.raises(ValueError, match="expected an exercise name"):
        exercises.expected("5.99")


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

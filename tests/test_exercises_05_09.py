"""Chapters 5-9's exercises: every check in a notebook has its expected value in exercises.py,
the checking cell never holds the answer, and the worked solutions pass every check."""

import contextlib
import io
import json
import re
from pathlib import Path

import pytest

import exercises

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("0[5-9]_*.ipynb"))
CHECK = re.compile(r'gh\.check_answer\("(\d+\.\d+)", answer\)')


def code_cells(path):
    cells = json.loads(path.read_text())["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]


def checks(path):
    return [name for src in code_cells(path) for name in CHECK.findall(src)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_checking_cells_hold_only_the_call(path):
    chapter = str(int(path.name[:2]))
    cells = [src for src in code_cells(path) if "check_answer" in src]
    assert cells, f"{path.name} has no exercise checks"
    for src in cells:
        assert CHECK.fullmatch(src.strip().removeprefix("_ = ")), src
        assert CHECK.search(src).group(1).split(".")[0] == chapter, src


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_check_has_an_expected_value(path):
    for name in checks(path):
        value, rtol, atol = exercises.expected(name)
        assert value is not None and rtol >= 0 and atol >= 0, name


def test_the_worked_solutions_pass_every_check(monkeypatch):
    names = [name for path in NOTEBOOKS for name in checks(path)]
    source = (ROOT / "solutions_05_09.py").read_text()
    monkeypatch.chdir(ROOT / "notebooks")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(source, "solutions_05_09.py", "exec"), {"__name__": "solutions"})
    text = out.getvalue()
    for name in names:
        assert f"Exercise {name}: correct!" in text, f"no correct solution of {name}:\n{text}"
    assert "not yet" not in text, text


def test_an_unknown_exercise_is_a_clear_error():
    with pytest.raises(ValueError, match="expected an exercise name"):
        exercises.expected("5.99")


def test_wrong_answers_fail(capsys):
    import gmm_helpers as gh

    assert gh.check_answer("6.1", 2.0) is False
    assert gh.check_answer("7.1", 20) is False
    assert "not yet" in capsys.readouterr().out

"""check_answer says what is wrong with an answer (issue 25), never what the answer is."""

import numpy as np
import pytest

from gmm import exercises
from gmm.exercises import check_answer


def verdict(capsys, answer, expected, **tolerances):
    """(returned value, the printed line) of check_answer on exercise "9.9"."""
    ok = check_answer("9.9", answer, expected, **tolerances)
    return ok, capsys.readouterr().out.strip()


def test_correct(capsys):
    assert verdict(capsys, [1.0, 2.0 + 1e-9], np.array([1.0, 2.0])) == (
        True,
        "Exercise 9.9: correct!",
    )
    assert verdict(capsys, 12.0, np.int64(12)) == (True, "Exercise 9.9: correct!")


def test_not_attempted_points_to_the_cell_above(capsys):
    assert verdict(capsys, None, 1.0) == (
        False,
        "Exercise 9.9: not attempted yet: replace None in the cell above, then run both cells",
    )


@pytest.mark.parametrize(
    "answer, expected, message",
    [
        ("0.5", 0.5, "expected a single number, got text"),
        (True, 1.0, "expected a single number, got True/False values"),
        ([True, False], [1.0, 0.0], "expected an array of shape (2,), got True/False values"),
        (1 + 2j, 1.0, "expected a single number, got complex numbers"),
        ({"a": 1}, 1.0, "expected a single number, got a dict"),
        ([[1, 2], [3]], [1.0, 2.0], "expected an array of shape (2,), got a list whose rows "
         "differ in length"),
    ],
)  # fmt: skip
def test_not_a_number(capsys, answer, expected, message):
    assert verdict(capsys, answer, expected) == (False, f"Exercise 9.9: not yet: {message}")


@pytest.mark.parametrize(
    "answer, expected, message",
    [
        ([1.0], [1.0, 2.0], "expected shape (2,), got (1,)"),
        (np.eye(2), np.stack([np.eye(2)] * 3), "expected shape (3, 2, 2), got (2, 2)"),
        (1 / 3, np.full(3, 1 / 3), "expected an array of shape (3,), got a single number"),
        ([0.5, 0.5], 0.5, "expected a single number, got an array of shape (2,)"),
        ([0.5], 0.5, "expected a single number, got an array of shape (1,) "
         "(take the number out with float(...))"),
    ],
)  # fmt: skip
def test_wrong_shape_says_expected_and_got(capsys, answer, expected, message):
    """Numpy would broadcast these; the check does not."""
    assert verdict(capsys, answer, expected) == (False, f"Exercise 9.9: not yet: {message}")


def test_not_finite(capsys):
    cause = "a 0/0, a log(0) or an overflow?"
    assert verdict(capsys, float("nan"), 1.0)[1] == (
        f"Exercise 9.9: not yet: your answer is not finite (nan): {cause}"
    )
    assert verdict(capsys, -np.inf, 1.0)[1] == (
        f"Exercise 9.9: not yet: your answer is not finite (inf): {cause}"
    )
    assert verdict(capsys, [np.nan, np.inf, 1.0], [1.0, 2.0, 3.0])[1] == (
        f"Exercise 9.9: not yet: 2 of its 3 entries are not finite (nan and inf): {cause}"
    )


def test_a_single_number_hears_how_far_off_and_which_way(capsys):
    assert verdict(capsys, 1.2, 1.0) == (
        False,
        "Exercise 9.9: not yet: too large, by a relative error of about 2e-01",
    )
    assert verdict(capsys, -4.5, -4.38)[1] == (
        "Exercise 9.9: not yet: too small, by a relative error of about 3e-02"
    )
    assert verdict(capsys, 0.0, 2.0)[1] == (
        "Exercise 9.9: not yet: too small, by a relative error of about 1e+00"
    )
    assert verdict(capsys, -2.0, 2.0)[1] == "Exercise 9.9: not yet: the sign is wrong"
    assert verdict(capsys, 0.25, 0.0)[1] == (
        "Exercise 9.9: not yet: off by 2e-01 (absolute difference)"
    )


def test_a_count_only_hears_that_it_is_wrong(capsys):
    """Too large / too small would let a learner find a count by bisection."""
    assert verdict(capsys, 13, np.int64(12))[1] == "Exercise 9.9: not yet: not the expected number"
    assert verdict(capsys, 12.5, np.int64(12))[1] == (
        "Exercise 9.9: not yet: expected a whole number (a count or an index), got a fraction"
    )


def test_an_array_hears_which_entries_are_off(capsys):
    assert verdict(capsys, [1.0, 2.1, 3.0], [1.0, 2.0, 3.0])[1] == (
        "Exercise 9.9: not yet: 1 of 3 entries are off (at index 1); "
        "the largest relative error is about 5e-02"
    )
    assert verdict(capsys, np.ones((2, 2)), np.eye(2))[1] == (
        "Exercise 9.9: not yet: 2 of 4 entries are off (at index (0, 1), (1, 0)); "
        "the largest difference is about 1e+00"
    )
    assert verdict(capsys, np.arange(5.0) + 1, np.arange(5.0) + 2)[1] == (
        "Exercise 9.9: not yet: 5 of 5 entries are off (at index 0, 1, 2, ...); "
        "the largest relative error is about 5e-01"
    )
    assert verdict(capsys, [3.0, 1.0, 2.0], [1.0, 2.0, 3.0])[1] == (
        "Exercise 9.9: not yet: the right values, but not in the expected order"
    )


def test_tolerances_decide(capsys):
    assert verdict(capsys, 1.04, 1.0, atol=0.05)[0] is True
    assert verdict(capsys, 1.06, 1.0, atol=0.05, rtol=0)[1] == (
        "Exercise 9.9: not yet: too large, by a relative error of about 6e-02"
    )


@pytest.mark.parametrize("name", ["1.1", "2.1", "4.2"])
def test_registered_exercises_never_print_their_answer(capsys, name):
    """The verdict on a wrong answer names no digits of the expected value."""
    value, _, _ = exercises.expected(name)
    value = np.asarray(value, dtype=float)
    assert check_answer(name, value * 1.5 + 1.0) is False
    out = capsys.readouterr().out
    assert out.startswith(f"Exercise {name}: not yet: ")
    for v in np.atleast_1d(value):
        assert f"{v:.3g}" not in out.split("not yet: ")[1]

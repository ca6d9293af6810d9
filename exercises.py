"""The expected answers of the chapters' exercises, kept out of the notebooks.

``gh.check_answer("6.1", answer)`` looks the exercise up here by its name
(chapter.exercise), computes the expected value from scratch (fixed seeds, so it
is the same on every machine) and compares. The notebooks never show the
answer; an instructor's worked solutions are in ``notebooks/solutions.ipynb``.

Each exercise is a function registered with ``@exercise(name, rtol=..., atol=...)``
that returns the expected value; ``functools.cache`` keeps shared fits cheap.
"""

from functools import cache

import numpy as np

import gmm_helpers as gh

_EXERCISES = {}


def exercise(name, rtol=1e-6, atol=1e-8):
    """Register the function that computes exercise ``name``'s expected answer."""

    def register(fn):
        if name in _EXERCISES:
            raise ValueError(f"exercise {name!r} is registered twice")
        _EXERCISES[name] = (fn, rtol, atol)
        return fn

    return register


def names():
    """The registered exercise names, in chapter order."""
    return sorted(_EXERCISES, key=lambda n: tuple(int(p) for p in n.split(".")))


def expected(name):
    """(expected value, rtol, atol) of exercise ``name``; ValueError for an unknown name."""
    if name not in _EXERCISES:
        raise ValueError(
            f"expected an exercise name such as '6.1' (chapter.exercise), got {name!r}; "
            f"known: {', '.join(names()) or 'none yet'}"
        )
    fn, rtol, atol = _EXERCISES[name]
    return fn(), rtol, atol


@cache
def seed_data(separation=5.0, n_samples=2000, rng=0):
    """The chapters' seed data (X, labels), computed once per setting."""
    return gh.sample_seed_data(separation=separation, n_samples=n_samples, rng=rng)


# ---------------------------------------------------------------------------
# Chapter 0
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# Chapter 1
# ---------------------------------------------------------------------------


@exercise("1.1")
def _points_within_one_sd():
    """Share of cluster 1's points within one standard deviation (1) of its mean (s, s)."""
    X, labels = seed_data()
    mean = gh.seed_parameters()[1][1]
    return np.mean(np.linalg.norm(X[labels == 1] - mean, axis=1) < 1.0)


@exercise("1.2", atol=0.05)
def _mixture_mean_1d():
    """The mean sum_k pi_k mu_k of the 1-D mixture; a sample average is accepted within 0.05."""
    return 0.25 * -2.0 + 0.75 * 3.0


@exercise("1.3")
def _log_density_at_point():
    """log p(x) at x = (1, 4) under the true mixture, Eqs. (1.1)-(1.2)."""
    return gh.score_samples(np.array([[1.0, 4.0]]), gh.seed_parameters())[0]


# ---------------------------------------------------------------------------
# Chapter 2
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# Chapter 3
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# Chapter 4
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# Chapter 5
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# Chapter 6
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# Chapter 7
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# Chapter 8
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# Chapter 9
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# Chapter 10
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# Chapter 11
# ---------------------------------------------------------------------------

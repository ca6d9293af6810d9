"""The expected answers of the chapters' exercises, kept out of the notebooks.

``gh.check_answer("6.1", answer)`` looks the exercise up here by its name
(chapter.exercise), computes the expected value from scratch (fixed seeds, so it
is the same on every machine) and compares. The notebooks never show the
answer; an instructor's worked solutions are in ``notebooks/solutions.ipynb``.

Each exercise is a function registered with ``@exercise(name, rtol=..., atol=...)``
that returns the expected value; ``functools.cache`` keeps shared fits cheap.
"""

from functools import cache

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


@cache
def _digits_ch10():
    """Chapter 10's binarised digits (N, 64) and its K = 10 fit: best of five starts, polished."""
    from sklearn.datasets import load_digits

    X = (load_digits().data >= 8).astype(float)
    starts = [gh.fit_bernoulli_mixture(X, 10, rng=seed) for seed in range(5)]
    best = max(starts, key=lambda f: f.log_likelihoods[-1])
    fit = gh.fit_bernoulli_mixture(X, 10, init=(best.weights, best.means), tol=1e-10, max_iter=2000)
    return X, fit


@cache
def _china_ch10():
    """Chapter 10's photo as pixels (H W, 3) in 0..255 and its random sample of 4000."""
    import numpy as np
    from sklearn.datasets import load_sample_image

    pixels = load_sample_image("china.jpg")[::2, ::2].reshape(-1, 3).astype(float)
    sample = pixels[np.random.default_rng(0).choice(len(pixels), 4000, replace=False)]
    return pixels, sample


@exercise("10.1", rtol=1e-6, atol=1e-9)
def _fill_in_the_bottom_half():
    import gmm_bernoulli as gb

    # p(x_d = 1 | top half) = sum_k p(z = k | top half) mu_kd for the 32 bottom pixels
    X, fit = _digits_ch10()
    resp, _ = gb.bernoulli_e_step(X[-1:, :32], fit.weights, fit.means[:, :32])
    return resp[0] @ fit.means[:, 32:]


@exercise("10.2", rtol=1e-6, atol=1e-9)
def _pixel_marginals():
    # p(x_d = 1) = sum_k pi_k mu_kd
    _, fit = _digits_ch10()
    return fit.weights @ fit.means


@exercise("10.3", rtol=1e-3, atol=0)
def _palette_of_16():
    import numpy as np

    pixels, sample = _china_ch10()
    fit = gh.fit_gmm(sample, 16, rng=0, smoothing=1.0)
    resp, _ = gh.e_step(pixels, fit.weights, fit.means, fit.covariances)
    return float(np.sum((pixels - fit.means[resp.argmax(axis=1)]) ** 2, axis=1).mean())


@exercise("10.4", rtol=1e-6, atol=1e-9)
def _hard_em_on_the_digits():
    import numpy as np

    import gmm_bernoulli as gb

    X, fit = _digits_ch10()
    weights, means, previous = fit.weights, fit.means, None
    for _ in range(100):
        clusters = gb.bernoulli_e_step(X, weights, means)[0].argmax(axis=1)
        if previous is not None and np.array_equal(clusters, previous):
            break
        previous = clusters
        weights, means = gb.bernoulli_m_step(X, np.eye(10)[clusters], smoothing=1e-2)
    return float(gb.bernoulli_score_samples(X, (weights, means)).mean())


# ---------------------------------------------------------------------------
# Chapter 11
# ---------------------------------------------------------------------------

"""The expected answers of the chapters' exercises, kept out of the notebooks.

``gh.check_answer("6.1", answer)`` looks the exercise up here by its name
(chapter.exercise), computes the expected value from scratch (fixed seeds, so it
is the same on every machine) and compares. The notebooks never show the
answer; an instructor's worked solutions are in ``notebooks/solutions.ipynb``.

Each exercise is a function registered with ``@exercise(name, rtol=..., atol=...)``
that returns the expected value; ``functools.cache`` keeps shared fits cheap.
"""

from functools import cache
from pathlib import Path

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


def _worst_mean_error(separation, n_init=10, n_samples=2000, seed=0):
    """Largest distance from a true centre to its fitted mean (K = 3, best of n_init)."""
    X, _ = seed_data(separation, n_samples, seed)
    fit = gh.fit_restarts(X, 3, n_init=n_init, rng=seed)[0]
    true_means = gh.seed_parameters(separation)[1]
    order = gh.align_components(true_means, fit.means)
    return np.linalg.norm(fit.means[order] - true_means, axis=1).max()


@exercise("5.1", rtol=0, atol=1e-9)
def smallest_recovering_separation():
    for separation in np.arange(0.0, 8.0 + 0.125, 0.25):
        if _worst_mean_error(separation) < 0.5:
            return float(separation)
    raise AssertionError("no separation up to 8 recovers the clusters")


def _collapse_log_likelihood(smoothing, n_steps=5, point=0):
    """Log-likelihood after n_steps EM steps from the truth plus a spike on X[point]."""
    X, _ = seed_data()
    N = len(X)
    weights, means, covariances = gh.seed_parameters()
    start = (
        np.append(weights * (1 - 1 / N), 1 / N),
        np.vstack([means, X[point]]),
        np.concatenate([covariances, [1e-12 * np.eye(2)]]),
    )
    fit = gh.fit_gmm(X, 4, init=start, smoothing=smoothing, max_iter=n_steps, tol=0)
    return fit.log_likelihood


@exercise("5.2", rtol=1e-2, atol=0)
def collapse_gain_between_rows():
    X, _ = seed_data()
    honest = gh.fit_gmm(X, 3, init=gh.seed_parameters(), smoothing=3e-7)
    return _collapse_log_likelihood(3e-7) - honest.log_likelihood


# ---------------------------------------------------------------------------
# Chapter 6
# ---------------------------------------------------------------------------


@exercise("6.1")
def sigmas_for_95_percent():
    # Eq. (6.1) inverted: 1 - exp(-k^2 / 2) = 0.95.
    return np.sqrt(-2 * np.log(0.05))


@exercise("6.2", rtol=0, atol=1e-9)
def restarts_for_one_in_a_million():
    X, _ = seed_data()
    final = {
        init: np.array(
            [
                gh.fit_gmm(X, 3, init=init, tol=1e-4, max_iter=500, rng=s).log_likelihood / len(X)
                for s in range(60)
            ]
        )
        for init in ("random", "kmeans++")
    }
    best = max(ll.max() for ll in final.values())
    p = np.mean(final["kmeans++"] > best - 0.01)
    return int(np.ceil(np.log(1e-6) / np.log(1 - p)))


@exercise("6.3")
def map_covariance_of_one_point():
    X, _ = seed_data()
    X_small = X[::100]
    D = X.shape[1]
    nu = D + 2
    psi = np.cov(X_small.T) / 6 ** (2 / D)
    return psi / (1 + nu + D + 1)  # N_k = 1, S_k = 0


# ---------------------------------------------------------------------------
# Chapter 7
# ---------------------------------------------------------------------------


@exercise("7.1", rtol=0, atol=1e-9)
def tied_parameters():
    K, D = 4, 3
    return (K - 1) + K * D + D * (D + 1) // 2  # Eq. (7.1), tied


@exercise("7.2")
def bic_threshold_400_points():
    dp = gh.n_parameters(4, 2) - gh.n_parameters(3, 2)
    return dp * np.log(400) / 2


@exercise("7.3")
def held_out_scores_by_covariance_type():
    X, _ = seed_data()
    perm = np.random.default_rng(1).permutation(len(X))
    X_train, X_test = X[perm[:400]], X[perm[400:]]
    return np.array(
        [
            gh.score(X_test, gh.fit_restarts(X_train, 3, n_init=5, rng=0, covariance_type=t)[0])
            for t in gh.COVARIANCE_TYPES
        ]
    )


# ---------------------------------------------------------------------------
# Chapter 8
# ---------------------------------------------------------------------------


@cache
def _faithful():
    """Old Faithful in minutes and standardised, and chapter 8's K = 2 fit in minutes."""
    X = np.loadtxt(
        Path(__file__).resolve().parent / "data" / "faithful.csv", delimiter=",", skiprows=1
    )
    centre, scale = X.mean(axis=0), X.std(axis=0)
    Z = (X - centre) / scale
    fit = gh.fit_restarts(Z, 2, n_init=5, rng=0)[0]
    order = np.argsort(fit.means[:, 0])  # component 0: short eruptions
    start = fit.weights[order], fit.means[order], fit.covariances[order]
    ml = gh.fit_gmm(Z, 2, init=start, smoothing=1e-6, tol=1e-8, max_iter=1000)
    params = ml.weights, centre + ml.means * scale, ml.covariances * np.outer(scale, scale)
    return X, Z, params


@exercise("8.1", rtol=0, atol=1e-9)
def flagged_at_5th_percentile():
    X, _, params = _faithful()
    log_p = gh.score_samples(X, params)
    return int(np.sum(log_p < np.percentile(log_p, 5)))


@exercise("8.2")
def probability_long():
    _, _, params = _faithful()
    return gh.e_step(np.array([[3.5, 65.0]]), *params)[0][0, 1]


@exercise("8.3")
def diag_bic():
    _, Z, _ = _faithful()
    return gh.bic(Z, gh.fit_restarts(Z, 2, n_init=5, rng=0, covariance_type="diag")[0])


# ---------------------------------------------------------------------------
# Chapter 9
# ---------------------------------------------------------------------------


@cache
def _scaling_data():
    """Chapter 9's 20,000 seed points and its k-means++ start."""
    X, _ = seed_data(n_samples=20_000)
    return X, gh.initial_parameters(X, 3, rng=0)


@exercise("9.1")
def means_from_statistics():
    X, params = _scaling_data()
    resp, _ = gh.e_step(X, *params)
    return resp.T @ X / resp.sum(axis=0)[:, None]  # Eq. (9.2), computed without the shift


@exercise("9.2", rtol=0, atol=1e-9)
def spark_statistics_bytes():
    K, D = 10, 100
    return 8 * (K + K * D + K * D * (D + 1) // 2 + 1)


@exercise("9.3")
def memory_mapped_means():
    X, _ = _scaling_data()
    return gh.fit_gmm_chunked(X, 3, chunk_size=4096, rng=0).means


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

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


@cache
def _kmeans_clusters(separation=5.0):
    """Chapter 2's k-means (scikit-learn's, from gh.kmeans_plusplus(rng=0)), centres aligned."""
    from sklearn.cluster import KMeans

    X, _ = seed_data(separation)
    start = gh.kmeans_plusplus(X, 3, rng=0)
    km = KMeans(n_clusters=3, init=start, n_init=1, tol=0).fit(X)
    centres = km.cluster_centers_[
        gh.align_components(gh.seed_parameters(separation)[1], km.cluster_centers_)
    ]
    assign = ((X[:, None, :] - centres) ** 2).sum(axis=2).argmin(axis=1)
    return centres, assign


@exercise("2.1")
def _responsibilities_of_point():
    """Responsibilities of x = (0, 3) under the true parameters, Eq. (2.1)."""
    return gh.e_step(np.array([[0.0, 3.0]]), *gh.seed_parameters())[0][0]


@exercise("2.2")
def _points_that_change_with_equal_weights():
    """How many points change their most responsible component when the weights are equal."""
    X, _ = seed_data()
    weights, means, covariances = gh.seed_parameters()
    true = gh.e_step(X, weights, means, covariances)[0].argmax(axis=1)
    equal = gh.e_step(X, np.full(3, 1 / 3), means, covariances)[0].argmax(axis=1)
    return int(np.sum(true != equal))


@exercise("2.3")
def _kmeans_accuracy_far_apart():
    """Accuracy of k-means at separation 8."""
    _, labels = seed_data(8.0)
    return np.mean(_kmeans_clusters(8.0)[1] == labels)


@exercise("2.4")
def _hard_em_accuracy():
    """Accuracy of hard EM from the k-means clusters, run until the assignments stop changing."""
    X, labels = seed_data()
    assign = _kmeans_clusters()[1]
    params = gh.m_step(X, np.eye(3)[assign])
    for _ in range(1000):
        new = gh.e_step(X, *params)[0].argmax(axis=1)
        params = gh.m_step(X, np.eye(3)[new])
        if np.array_equal(new, assign):
            break
        assign = new
    return np.mean(assign == labels)


# ---------------------------------------------------------------------------
# Chapter 3
# ---------------------------------------------------------------------------


@cache
def _chapter3_start():
    """Chapter 3's k-means++ start theta0 and its responsibilities."""
    X, _ = seed_data()
    theta0 = gh.initial_parameters(X, 3, rng=0)
    return theta0, gh.e_step(X, *theta0)[0]


@exercise("3.1")
def _m_step_weights():
    """The M-step weights N_k / N, Eq. (3.6), from the start's responsibilities."""
    resp = _chapter3_start()[1]
    return resp.sum(axis=0) / resp.shape[0]


@exercise("3.2")
def _elbo_of_hard_assignments():
    """ELBO(q, theta0), Eq. (3.7), for the one-hot q of the most responsible components."""
    X, _ = seed_data()
    (weights, means, covariances), resp = _chapter3_start()
    log_joint = np.log(weights) + gh.log_gaussian_density(X, means, covariances)
    q = np.eye(3)[resp.argmax(axis=1)]
    return np.sum(q * log_joint)  # the entropy of a one-hot q is 0


@exercise("3.3")
def _tied_covariance():
    """The shared covariance maximising Q: sum_k sum_n gamma_nk (x_n - mu_k)(x_n - mu_k)^T / N."""
    X, _ = seed_data()
    resp = _chapter3_start()[1]
    nk = resp.sum(axis=0)
    means = resp.T @ X / nk[:, None]
    return sum((resp[:, k, None] * (X - means[k])).T @ (X - means[k]) for k in range(3)) / len(X)


@exercise("3.4")
def _smallest_change_with_smoothing():
    """Smallest change between consecutive log-likelihoods of EM with smoothing=1.0."""
    X, _ = seed_data()
    fit = gh.fit_gmm(X, 3, init="random", rng=0, smoothing=1.0, tol=0, max_iter=50)
    return np.diff(fit.log_likelihoods).min()


# ---------------------------------------------------------------------------
# Chapter 4
# ---------------------------------------------------------------------------


@exercise("4.1")
def _log_sum_exp_large():
    """log(e^1000 + e^999 + e^990), Eq. (4.1)."""
    from scipy.special import logsumexp

    return logsumexp([1000.0, 999.0, 990.0])


@exercise("4.2")
def _iterations_with_stopping_rule():
    """Iterations of EM from chapter 0's start until the per-point change is below 1e-5."""
    X, _ = seed_data()
    start = gh.initial_parameters(X, 3, init="random", rng=0)
    return gh.fit_gmm(X, 3, init=start, tol=1e-5).n_iter


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

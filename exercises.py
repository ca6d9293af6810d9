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


@exercise("11.1")
def _prior_mode_covariance():
    import gmm_bayes as gb

    X, _ = seed_data()
    p = gb.make_priors(X, 3, "dirichlet_distribution")
    D = X.shape[1]
    return p.covariance_prior / (p.degrees_of_freedom_prior + D + 2)


@exercise("11.2", rtol=1e-8)
def _one_gaussian_log_evidence():
    from scipy.special import multigammaln

    import gmm_bayes as gb

    X = seed_data()[0][::100]
    N, D = X.shape
    p = gb.make_priors(X, 1, "dirichlet_distribution")
    beta_n, nu_n = p.mean_precision_prior + N, p.degrees_of_freedom_prior + N
    xbar = X.mean(axis=0)
    d = xbar - p.mean_prior
    psi_n = (
        p.covariance_prior
        + (X - xbar).T @ (X - xbar)
        + p.mean_precision_prior * N / beta_n * np.outer(d, d)
    )
    return (
        -N * D / 2 * np.log(np.pi)
        + multigammaln(nu_n / 2, D)
        - multigammaln(p.degrees_of_freedom_prior / 2, D)
        + p.degrees_of_freedom_prior / 2 * np.linalg.slogdet(p.covariance_prior)[1]
        - nu_n / 2 * np.linalg.slogdet(psi_n)[1]
        + D / 2 * np.log(p.mean_precision_prior / beta_n)
    )


@exercise("11.3")
def _expected_number_of_clusters():
    alpha0, N = 1.0, 2000
    return float(np.sum(alpha0 / (alpha0 + np.arange(N))))


@cache
def _best_dirichlet_process_start(K=10, n_starts=3):
    """The seed of the start with the highest final ELBO (notebook 11's best_seed)."""
    X, _ = seed_data()
    elbos = [
        gh.fit_bayesian_gmm(X, K, max_iter=1000, rng=s).lower_bounds[-1] for s in range(n_starts)
    ]
    return int(np.argmax(elbos))


@exercise("11.4", rtol=0, atol=0)
def _dirichlet_distribution_survivors():
    import gmm_bayes as gb

    X, _ = seed_data()
    fit = gh.fit_bayesian_gmm(
        X,
        10,
        weight_concentration_prior_type="dirichlet_distribution",
        max_iter=1000,
        rng=_best_dirichlet_process_start(),
    )
    return len(gb.survivors(fit.weights))


@exercise("11.5", rtol=1e-8)
def _student_t_predictive_score():
    from scipy.special import logsumexp
    from scipy.stats import multivariate_t

    X, _ = seed_data()
    perm = np.random.default_rng(1).permutation(len(X))
    X_train, X_test = X[perm[:400]], X[perm[400:]]
    runs = [gh.fit_bayesian_gmm(X_train, 10, max_iter=1000, rng=s) for s in range(3)]
    fit = max(runs, key=lambda f: f.lower_bounds[-1])
    D = X.shape[1]
    log_p = []
    for k in range(fit.n_components):
        beta, nu = fit.mean_precision[k], fit.degrees_of_freedom[k]
        w_inv = fit.covariances[k] * nu
        df = nu + 1 - D
        shape = (1 + beta) / (df * beta) * w_inv
        log_p.append(
            np.log(fit.weights[k]) + multivariate_t(fit.means[k], shape, df=df).logpdf(X_test)
        )
    return float(logsumexp(np.array(log_p), axis=0).mean())

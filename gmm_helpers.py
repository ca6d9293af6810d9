"""Gaussian mixture models and the EM algorithm, in small functions that follow the math.

Each docstring names the equation and the notebook (chapter) that derives it. Notation::

    X            (N, D)     data, one row per point x_n
    weights      (K,)       mixing weights pi_k, positive, summing to 1
    means        (K, D)     component means mu_k
    covariances  (K, D, D)  component covariances Sigma_k (always full matrices)
    resp         (N, K)     responsibilities gamma_nk = p(z_n = k | x_n)
    nk           (K,)       effective number of points N_k = sum_n gamma_nk

``fit_gmm`` is chapter 4's loop: the checks, the start, then ``em`` (``gmm/em.py``, chapter
10's recipe) with the E-step and the M-step. Those two run over the sums of Eq. (9.1)
(``sum_steps``): the E-step on ``gmm/engine.py`` (chapter 9), block by block (on threads in
``fit_gmm_chunked``), equal to ``e_step`` and ``m_step`` here (tests/test_engine.py); the M-step
is Eq. (9.2), here. The public functions check their input once, with ``gmm/checks.py``; the
private ``_`` functions trust it. The plots are ``gmm/plots.py`` (``from gmm import plots as gp``).
"""

from dataclasses import dataclass, field

import numpy as np
from scipy.linalg import solve_triangular
from scipy.optimize import linear_sum_assignment

from gmm import engine
from gmm.checks import (
    COVARIANCE_TYPES,  # noqa: F401 (the notebooks loop over gh.COVARIANCE_TYPES)
    INITS,  # noqa: F401 (gh.INITS, the explorer's choices)
    NK_EPS,
    check_count,
    check_iterations,
    check_K,
    check_mixture,
    check_model,
    check_not_collapsed,
    check_number,
    check_parameters,
    check_resp,
    check_rng,
    check_start,
    check_X,
    collapse_error,
    has_cholesky,
)
from gmm.em import em

# ---------------------------------------------------------------------------
# 01 The data and the generative story
# ---------------------------------------------------------------------------


def sample_seed_data(separation=5.0, n_samples=2000, rng=0):
    """The original notebook's three clusters, their points grouped by cluster (notebook 01).

    60 % of the points with sd 2 around (0, 0), 30 % with sd 1 around (s, s) and 10 % with
    sd 0.5 around (0, s), s = ``separation``; N = 2000 in the original (1200, 600, 200).

    Returns
    -------
    X : ndarray of shape (N, 2)
    labels : ndarray of shape (N,)
        The cluster (0, 1 or 2) each point was drawn from.
    """
    check_number(separation, "separation", "separation=5.0")
    n_samples = check_count(n_samples, "n_samples", 2000)
    rng = check_rng(rng)
    weights, centres, covariances = seed_parameters(separation)
    n0, n1 = int(round(0.6 * n_samples)), int(round(0.3 * n_samples))
    counts = [n0, n1, n_samples - n0 - n1]
    sds = np.sqrt(covariances[:, 0, 0])
    parts = zip(counts, sds, centres, strict=True)
    X = np.concatenate([rng.standard_normal((n, 2)) * sd + c for n, sd, c in parts])
    return X, np.repeat(np.arange(3), counts)


def seed_parameters(separation=5.0):
    """The true (weights, means, covariances) behind ``sample_seed_data`` (notebook 01):
    arrays of shapes (3,), (3, 2) and (3, 2, 2)."""
    s = float(separation)
    weights = np.array([0.6, 0.3, 0.1])
    means = np.array([[0.0, 0.0], [s, s], [0.0, s]])
    covariances = np.array([sd**2 * np.eye(2) for sd in (2.0, 1.0, 0.5)])
    return weights, means, covariances


def sample_gmm(weights, means, covariances, n_samples, rng=None):
    """Ancestral sampling from a Gaussian mixture, Eq. (1.1) (notebook 01).

    First pick a component z_n ~ Categorical(pi), then a point x_n ~ N(mu_{z_n}, Sigma_{z_n}).

    Returns
    -------
    X : ndarray of shape (n_samples, D)
    labels : ndarray of shape (n_samples,)
        The component each point was drawn from.
    """
    weights, means, _, chol = check_mixture(weights, means, covariances)
    n_samples = check_count(n_samples, "n_samples", 500)
    rng = check_rng(rng)
    labels = rng.choice(len(weights), size=n_samples, p=weights)
    z = rng.standard_normal((n_samples, means.shape[1]))
    X = means[labels] + np.einsum("nij,nj->ni", chol[labels], z)
    return X, labels


# ---------------------------------------------------------------------------
# Densities and the E-step: Eqs. (1.2), (3.1), (3.2), (4.1) (notebooks 01-04)
# ---------------------------------------------------------------------------


def log_gaussian_density(X, means, covariances):
    """log N(x_n | mu_k, Sigma_k) for every point and component, Eq. (1.2) (notebook 01).

    With Sigma = L L^T (Cholesky), log|Sigma| = 2 sum_d log L_dd and the quadratic form is
    ||z||^2 with L z = x - mu: finite for points thousands of standard deviations away.

    Returns
    -------
    log_density : ndarray of shape (N, K)
    """
    X = check_X(X)
    _, means, _, chol = check_mixture(None, means, covariances, X.shape[1])
    return _log_gaussian_density(X, means, chol)


def _log_gaussian_density(X, means, chol):
    """``log_gaussian_density`` from the Cholesky factors chol (K, D, D) of the covariances."""
    N, D = X.shape
    out = np.empty((N, means.shape[0]))
    for k, (mean, L) in enumerate(zip(means, chol, strict=True)):
        z = solve_triangular(L, (X - mean).T, lower=True)  # D, N
        log_det = 2 * np.log(np.diag(L)).sum()
        out[:, k] = -0.5 * (D * np.log(2 * np.pi) + log_det + (z**2).sum(axis=0))
    return out


def logsumexp_rows(a):
    """log sum_k exp(a[k, n]) for a of shape (K, N): shape (N,), Eq. (4.1) (notebook 04).

    Subtract the largest term before exponentiating, so nothing overflows: the result of
    ``scipy.special.logsumexp(a, axis=0)``, written out because notebook 04 teaches it."""
    a = np.asarray(a, dtype=float)
    m = a.max(axis=0)
    m = np.where(np.isfinite(m), m, 0.0)  # a column of -inf sums to log(0) = -inf, not NaN
    with np.errstate(divide="ignore"):
        return m + np.log(np.exp(a - m).sum(axis=0))


def e_step(X, weights, means, covariances):
    """E-step: responsibilities by Bayes' rule, Eq. (3.2), and the log-likelihood, Eq. (3.1).

    gamma_nk = pi_k N(x_n | mu_k, Sigma_k) / sum_j pi_j N(x_n | mu_j, Sigma_j), computed in
    log space with the log-sum-exp trick (notebooks 02, 03, 04).

    Returns
    -------
    resp : ndarray of shape (N, K)
        Each row sums to 1.
    log_likelihood : float
        sum_n log sum_k pi_k N(x_n | mu_k, Sigma_k).
    """
    X = check_X(X)
    weights, means, _, chol = check_mixture(weights, means, covariances, X.shape[1])
    log_px, log_weighted = _log_px(X, weights, means, chol)  # N; N, K
    resp = np.exp(log_weighted - log_px[:, None])  # Eq. (3.2)
    return resp, float(log_px.sum())  # Eq. (3.1)


def _log_px(X, weights, means, chol):
    """log p(x_n), Eq. (4.1), shape (N,), and log pi_k N(x_n | mu_k, Sigma_k), shape (N, K)."""
    log_weighted = np.log(weights) + _log_gaussian_density(X, means, chol)  # N, K
    return logsumexp_rows(log_weighted.T), log_weighted


# ---------------------------------------------------------------------------
# M-step: Eqs. (3.3)-(3.6) (notebook 03)
# ---------------------------------------------------------------------------


def m_step(X, resp, smoothing=1e-2, covariance_type="full"):
    """M-step: the parameters that maximise the expected log-likelihood, Eqs. (3.3)-(3.6).

    N_k = sum_n gamma_nk                                                  (3.3)
    mu_k = (1 / N_k) sum_n gamma_nk x_n                                   (3.4)
    Sigma_k = (1 / N_k) sum_n gamma_nk (x_n - mu_k)(x_n - mu_k)^T         (3.5)
    pi_k = N_k / N  (from the Lagrange multiplier for sum_k pi_k = 1)     (3.6)

    Derived in notebook 03. The covariance returned is the smoothed update, Eq. (3.5s):
    (3.5) plus ``smoothing`` I, as the original notebook did (scikit-learn's ``reg_covar``).
    The constrained types maximise over a smaller set: "diag" keeps the diagonal of (3.5),
    "spherical" its mean variance, "tied" the N_k-weighted average of the components'.
    ``resp`` (N, K) is non-negative with rows summing to 1; returns (weights, means,
    covariances) of shapes (K,), (K, D), (K, D, D)."""
    X = check_X(X)
    smoothing = check_model(covariance_type, smoothing)
    return _m_step(X, check_resp(resp, X.shape[0]), smoothing, covariance_type)


def _m_step(X, resp, smoothing, covariance_type):
    """``m_step`` on checked arguments."""
    (N, D), K = X.shape, resp.shape[1]
    nk = resp.sum(axis=0) + NK_EPS  # (3.3); NK_EPS: an empty component keeps a finite mean
    means = resp.T @ X / nk[:, None]  # (3.4)
    scatter = np.empty((K, D, D))
    for k in range(K):
        diff = X - means[k]  # N, D
        scatter[k] = (resp[:, k, None] * diff).T @ diff / nk[k]  # (3.5)
    weights = nk / N  # (3.6)
    return weights, means, _constrain(scatter, nk, smoothing, covariance_type)  # (3.5s)


def _constrain(scatter, nk, smoothing, covariance_type):
    """The covariance_type's maximiser from the per-component scatters, plus smoothing I (3.5s)."""
    K, D, _ = scatter.shape
    eye = np.eye(D)
    scatter = (scatter + scatter.transpose(0, 2, 1)) / 2
    if covariance_type == "full":
        return scatter + smoothing * eye
    if covariance_type == "diag":
        return np.diagonal(scatter, axis1=1, axis2=2)[:, :, None] * eye + smoothing * eye
    if covariance_type == "spherical":
        var = np.trace(scatter, axis1=1, axis2=2) / D + smoothing
        return var[:, None, None] * eye
    tied = np.tensordot(nk, scatter, axes=1) / nk.sum() + smoothing * eye
    return np.broadcast_to(tied, (K, D, D)).copy()


# ---------------------------------------------------------------------------
# 04 Fitting: initialisation and the EM loop (notebooks 02, 04, 06)
# ---------------------------------------------------------------------------


@dataclass
class GMMFit:
    """The result of ``fit_gmm``: the fitted ``weights`` (K,), ``means`` (K, D) and
    ``covariances`` (K, D, D), ``resp`` (N, K) under them (None for chunked EM), and

    log_likelihoods : ndarray of shape (n_iter,)
        The log-likelihood computed in each iteration's E-step, i.e. of the parameters at the
        start of that iteration.
    history : list of (weights, means, covariances)
        With ``keep_history=True``: history[0] is the start and history[i] the parameters after
        iteration i; otherwise empty.
    """

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    resp: np.ndarray | None
    log_likelihoods: np.ndarray
    n_iter: int
    converged: bool
    covariance_type: str = "full"
    smoothing: float = 1e-2
    history: list = field(default_factory=list, repr=False)

    @property
    def n_components(self):
        return self.weights.shape[0]

    @property
    def log_likelihood(self):
        """The last of ``log_likelihoods``: that of the parameters *before* the final M-step.

        ``score`` and ``bic`` evaluate the returned parameters: at least as high with
        smoothing=0, usually about ``tol`` per point higher once EM has converged."""
        return float(self.log_likelihoods[-1])


def kmeans_plusplus(X, n_components, rng=None):
    """k-means++ seeding (notebook 02): K spread-out starting centres, shape (K, D).

    The first centre is a random point; each next one a point drawn with probability
    proportional to its squared distance to the nearest centre so far."""
    X = check_X(X)
    return _kmeans_plusplus(X, check_K(n_components, X.shape[0]), check_rng(rng))


def _kmeans_plusplus(X, K, rng, chunk_size=engine.CHUNK_SIZE):
    """k-means++ on X read ``chunk_size`` rows at a time (X may be a memmap)."""
    N = X.shape[0]
    idx = [int(rng.integers(N))]
    d2 = np.full(N, np.inf)  # squared distance to the nearest centre so far
    while len(idx) < K:
        centre = np.asarray(X[idx[-1]])
        for rows in engine.blocks(N, chunk_size):
            # Transposed to (D, n): numpy sums D long rows far faster than n short ones.
            diff = np.subtract(np.asarray(X[rows]).T, centre[:, None], order="C")
            np.minimum(d2[rows], (diff * diff).sum(axis=0), out=d2[rows])
        total = d2.sum()
        idx.append(int(rng.integers(N)) if total <= 0 else _draw(d2, total, rng, chunk_size))
    return np.asarray(X[idx]).copy()


def _draw(d2, total, rng, chunk_size):
    """An index n drawn with probability d2[n] / total, like rng.choice(N, p=d2 / total)."""
    target, passed = rng.random() * total, 0.0
    for rows in engine.blocks(d2.shape[0], chunk_size):
        cum = np.cumsum(d2[rows]) + passed  # the running sum, one chunk at a time
        if cum[-1] > target:
            return rows.start + int(np.searchsorted(cum, target, side="right"))
        passed = cum[-1]
    return int(np.flatnonzero(d2)[-1])  # rounding put the target past the last sum


def _nearest(X, centres):
    """Index of the nearest centre for every point; (N,)."""
    d2 = (centres**2).sum(1)[None, :] - 2 * X @ centres.T  # N, K (|x|^2 dropped)
    return d2.argmin(axis=1)


def initial_parameters(
    X, n_components, init="kmeans++", smoothing=1e-2, *, covariance_type="full", rng=None
):
    """Starting (weights, means, covariances) for EM (notebooks 04, 06).

    ``init="kmeans++"``: k-means++ centres, every point assigned to its nearest centre, then
    one M-step on those hard assignments. ``init="random"``: the original notebook's start,
    K distinct random data points as means, identity covariances and equal weights. A tuple
    (weights, means, covariances) is checked and returned as arrays."""
    X = check_X(X)
    smoothing = check_model(covariance_type, smoothing)
    return _initial_parameters(
        X, n_components, init, smoothing=smoothing, covariance_type=covariance_type, rng=rng
    )


def _initial_parameters(X, n_components, init, *, smoothing, covariance_type, rng, kmeans=None):
    """``initial_parameters`` on checked X, smoothing and covariance_type (the rest is checked
    here); ``kmeans(K, rng)`` replaces the k-means++ start (chunked EM's)."""
    N, D = X.shape
    K = check_K(n_components, N)
    if isinstance(init, (tuple, list)):
        return check_start(init, K, D)
    rng = check_rng(rng)
    if isinstance(init, str) and init == "random":
        means = np.array(X[rng.choice(N, size=K, replace=False)], dtype=float)
        return np.full(K, 1.0 / K), means, np.stack([np.eye(D)] * K)
    if isinstance(init, str) and init == "kmeans++":
        if kmeans is not None:
            return kmeans(K, rng)
        resp = np.eye(K)[_nearest(X, _kmeans_plusplus(X, K, rng))]  # N, K: one-hot
        weights, means, covariances = _m_step(X, resp, smoothing, covariance_type)
        check_not_collapsed(covariances, smoothing, X.var(axis=0).mean())
        return weights, means, covariances
    raise ValueError(
        f"expected init to be 'kmeans++', 'random' or a tuple (weights, means, covariances), "
        f"got {init!r}; try init='kmeans++'"
    )


def fit_gmm(
    X,
    n_components,
    *,
    covariance_type="full",
    init="kmeans++",
    max_iter=100,
    tol=1e-3,
    smoothing=1e-2,
    rng=None,
    keep_history=False,
    accelerate=False,
):
    """Fit a Gaussian mixture by EM (notebook 04); returns a ``GMMFit``.

    From the start, ``em`` (chapter 10's loop, ``gmm/em.py``) alternates the E-step,
    Eq. (3.2), recording the log-likelihood of the current parameters, Eq. (3.1), and the
    M-step, Eqs. (3.3)-(3.6) with (3.5s). Both steps run over the sums of Eq. (9.1)
    (``sum_steps``): the parameters of ``e_step`` and ``m_step`` (tests/test_engine.py), faster.
    Like scikit-learn's ``GaussianMixture`` it stops when the mean per-point log-likelihood
    changes by less than ``tol`` (``tol=0`` runs ``max_iter`` iterations). With
    ``smoothing=0`` the log-likelihood never decreases (notebook 03).

    Parameters
    ----------
    X : array-like of shape (N, D)
    n_components : int
        K, between 1 and N.
    covariance_type : {"full", "diag", "spherical", "tied"}
    init : "kmeans++", "random" or tuple (weights, means, covariances)
        See ``initial_parameters``.
    smoothing : float
        Added to the diagonal of every covariance, Eq. (3.5s).
    rng : None, int or numpy.random.Generator
        Used by the initialisation only.
    keep_history : bool
        Keep the parameters after every iteration in ``fit.history``.
    accelerate : bool
        True runs SQUAREM on the same EM steps (``em``; chapter 12), checking its extrapolated
        points with ``valid_gmm``: ``log_likelihoods`` then holds the accepted points' values
        and ``n_iter`` counts E-step + M-step evaluations, as ``max_iter`` does.
    """
    X = check_X(X)
    smoothing = check_model(covariance_type, smoothing)
    check_iterations(max_iter, tol)
    model = dict(smoothing=smoothing, covariance_type=covariance_type)
    # The start: k-means++ (notebook 02), the original's random points, or given
    start = _initial_parameters(X, n_components, init, rng=rng, **model)
    # The E-step, Eqs. (3.1)-(3.2), and the M-step, Eqs. (3.3)-(3.6), over the sums of Eq. (9.1)
    e_step_sums, m_step_sums = sum_steps(X, **model)
    # E-step, M-step, until the log-likelihood per point rises by less than tol
    run = em(
        start, e_step_sums, m_step_sums,
        n_points=X.shape[0], max_iter=max_iter, tol=tol, keep_history=keep_history,
        accelerate=accelerate, is_valid=valid_gmm,
    )  # fmt: skip
    del e_step_sums, m_step_sums  # they hold a centred copy of X: freed before the last E-step
    return _gmm_fit(run, responsibilities(X, *run.params), **model)


def _gmm_fit(run, resp, *, smoothing, covariance_type):
    """The ``GMMFit`` of an ``em`` run (``EMResult``) of the Gaussian mixture."""
    weights, means, covariances = run.params
    return GMMFit(
        weights=weights,
        means=means,
        covariances=covariances,
        resp=resp,
        log_likelihoods=run.objectives,
        n_iter=run.n_iter,
        converged=run.converged,
        covariance_type=covariance_type,
        smoothing=smoothing,
        history=run.history,
    )


def valid_gmm(params):
    """Whether (weights, means, covariances) are a Gaussian mixture: weights positive, every
    covariance with a Cholesky factor (SQUAREM's check of its extrapolated points, chapter 12)."""
    weights, means, covariances = params
    return bool(np.all(weights > 0) and np.isfinite(means).all()) and all(
        has_cholesky(cov) for cov in covariances
    )


def sum_steps(X, *, smoothing, covariance_type, statistics=None):
    """The E-step and M-step of ``fit_gmm``, over the sums of Eq. (9.1) (notebooks 04, 09).

    ``e_step_sums(params)`` returns the sums (N_k, sum gamma y, sum gamma y y^T) of
    y = x - shift, a shift near the data's mean, and the log-likelihood, Eq. (3.1);
    ``m_step_sums(sums)`` turns them into the parameters of Eqs. (3.3)-(3.6), Eq. (9.2). The
    sums come from ``gmm.engine``: all of X at once by default, or from ``statistics =
    (function, shift)``, ``function(weights, means, covariances)`` returning them (chunk by
    chunk in ``fit_gmm_chunked``). Returns the two functions, for ``em``."""
    N = X.shape[0]
    if statistics is None:
        YT, shift = engine.shifted_transpose(X)  # D, N

        def statistics(weights, means, covariances):
            return engine.statistics(YT, weights, means - shift, covariances)
    else:
        statistics, shift = statistics

    def e_step_sums(params):
        try:
            nk, sy, syy, log_likelihood = statistics(*params)
        except np.linalg.LinAlgError:  # a covariance lost its Cholesky factor
            bad = [k for k, cov in enumerate(params[2]) if not has_cholesky(cov)]
            raise collapse_error(bad, smoothing) from None
        return (nk, sy, syy), log_likelihood

    def m_step_sums(sums):
        return _m_step_from_sums(
            sums, N, shift, smoothing=smoothing, covariance_type=covariance_type
        )

    return e_step_sums, m_step_sums


def responsibilities(X, weights, means, covariances):
    """The responsibilities of Eq. (3.2), shape (N, K), computed by ``gmm.engine`` as in
    ``fit_gmm``'s E-step: ``e_step(X, ...)[0]`` to rounding. Unchecked: for fitted parameters."""
    YT, shift = engine.shifted_transpose(X)  # D, N
    resp = engine.responsibilities(YT, weights, means - shift, covariances)[0]  # K, N
    return np.ascontiguousarray(resp.T)


def fit_restarts(X, n_components, n_init=10, rng=0, **kwargs):
    """Fit from ``n_init`` starts and keep them all, best first (notebook 06).

    EM finds a local maximum that depends on the start; keeping the best of several starts is
    the usual remedy (scikit-learn's ``n_init``). Each start spawns its generator from ``rng``.
    Returns the list of GMMFit sorted by final log-likelihood: ``fits[0]`` is the one to keep."""
    rngs = check_rng(rng).spawn(check_count(n_init, "n_init", 10))
    fits = [fit_gmm(X, n_components, rng=r, **kwargs) for r in rngs]
    return sorted(fits, key=lambda f: -score(X, f))


# ---------------------------------------------------------------------------
# 07 Model selection and 08 applications
# ---------------------------------------------------------------------------


def as_parameters(fit):
    """(weights, means, covariances) of a GMMFit or of a tuple, checked."""
    return _as_mixture(fit)[:3]


def _as_mixture(fit):
    """``check_mixture`` of a GMMFit or of a tuple: (weights, means, covariances, chol)."""
    if isinstance(fit, GMMFit):
        return check_mixture(fit.weights, fit.means, fit.covariances)
    if isinstance(fit, (tuple, list)) and len(fit) == 3:
        return check_mixture(*fit)
    raise ValueError(
        f"expected a GMMFit or a tuple (weights, means, covariances), got {type(fit).__name__}; "
        "try the result of fit_gmm(X, K)"
    )


def score_samples(X, fit):
    """log p(x_n) = log sum_k pi_k N(x_n | mu_k, Sigma_k), Eq. (1.1) (notebook 08): shape (N,).

    ``fit`` is a GMMFit or a tuple (weights, means, covariances). A NaN entry of X is missing:
    the row's log-density is that of its observed coordinates, Eq. (13.1) (notebook 13)."""
    X, missing = _check_X_missing(X)
    weights, means, covariances, chol = _as_mixture(fit)
    if X.shape[1] != means.shape[1]:
        raise ValueError(
            f"expected X with D = {means.shape[1]} features like the fit, got {X.shape[1]}; "
            "try the same columns the model was fitted on"
        )
    if missing.any():
        log_weighted = _observed_log_weighted(X, _patterns(missing), weights, means, covariances)
        return logsumexp_rows(log_weighted[0].T)
    return _log_px(X, weights, means, chol)[0]


def score(X, fit):
    """The mean per-sample log-likelihood (1/N) sum_n log p(x_n) (notebooks 07, 08)."""
    return float(score_samples(X, fit).mean())


def n_parameters(n_components, n_features, covariance_type="full"):
    """Free parameters of a mixture, Eq. (7.1) (notebook 07).

    (K - 1) weights + K D means + the covariance parameters: K D (D + 1) / 2
    for "full", K D for "diag", K for "spherical", D (D + 1) / 2 for "tied".
    """
    K, D = check_count(n_components, "n_components", 3), check_count(n_features, "n_features", 2)
    check_model(covariance_type)
    cov = {
        "full": K * D * (D + 1) // 2,
        "diag": K * D,
        "spherical": K,
        "tied": D * (D + 1) // 2,
    }[covariance_type]
    return (K - 1) + K * D + cov


def _information_criterion(X, fit, penalty):
    X = check_X(X)
    if not isinstance(fit, GMMFit):
        raise ValueError(f"expected a GMMFit, got {type(fit).__name__}; try bic(X, fit_gmm(X, K))")
    p = n_parameters(fit.n_components, X.shape[1], fit.covariance_type)
    return -2.0 * score(X, fit) * X.shape[0] + penalty(X.shape[0]) * p


def bic(X, fit):
    """BIC = -2 log L + p log N, Eq. (7.2), p from Eq. (7.1) (notebook 07); lower is better."""
    return _information_criterion(X, fit, np.log)


def aic(X, fit):
    """AIC = -2 log L + 2 p, Eq. (7.3), p from Eq. (7.1) (notebook 07); lower is better."""
    return _information_criterion(X, fit, lambda n: 2.0)


def align_components(reference_means, means):
    """The permutation of components that best matches ``reference_means`` (notebook 06).

    Label switching: the mixture is the same under any relabelling of its components. The
    Hungarian algorithm (``linear_sum_assignment``) picks the one with the least total squared
    distance between means. Both arrays have shape (K, D); returns ``order`` (K,) such that
    ``means[order]`` lines up with ``reference_means`` row by row."""
    ref = np.asarray(reference_means, dtype=float)
    means = np.asarray(means, dtype=float)
    if ref.ndim != 2 or ref.shape != means.shape:
        raise ValueError(
            f"expected two arrays of means with the same shape (K, D), got {ref.shape} and "
            f"{means.shape}; try fits with the same number of components"
        )
    cost = ((ref[:, None, :] - means[None, :, :]) ** 2).sum(-1)  # K, K
    _, order = linear_sum_assignment(cost)
    return order


def ellipse_coverage(n_std, n_features=2):
    """Probability mass inside the n_std-sigma ellipse of a Gaussian, Eq. (6.1) (notebook 06).

    The squared Mahalanobis distance is chi-squared with D degrees of freedom; in 2-D
    P(inside) = 1 - exp(-n_std^2 / 2): 39 %, 86 %, 99 % for 1, 2, 3.
    """
    from scipy.stats import chi2

    return chi2.cdf(np.asarray(n_std, dtype=float) ** 2, df=n_features)


# ---------------------------------------------------------------------------
# 09 Scaling up: sufficient statistics and chunked EM
# ---------------------------------------------------------------------------


@dataclass
class SufficientStatistics:
    """Additive statistics of a chunk under the current parameters, Eq. (9.1) (notebook 09).

    With y_n = x_n - shift:  nk = sum_n gamma_nk (K,),  sy = sum_n gamma_nk y_n (K, D),
    syy = sum_n gamma_nk y_n y_n^T (K, D, D),  log_likelihood = sum_n log p(x_n),
    n = the number of points. Statistics of two chunks add up with ``+``.
    """

    nk: np.ndarray
    sy: np.ndarray
    syy: np.ndarray
    log_likelihood: float
    n: int
    shift: np.ndarray

    def __add__(self, other):
        if not np.array_equal(self.shift, other.shift):
            raise ValueError(
                "expected statistics computed with the same shift, got different shifts; "
                "try passing one shift to every sufficient_statistics call"
            )
        return SufficientStatistics(
            self.nk + other.nk,
            self.sy + other.sy,
            self.syy + other.syy,
            self.log_likelihood + other.log_likelihood,
            self.n + other.n,
            self.shift,
        )


def sufficient_statistics(X_chunk, weights, means, covariances, shift=None):
    """E-step statistics of one chunk of data, Eq. (9.1) (notebook 09).

    Everything the M-step needs, as sums that add across chunks, processes or machines.
    Shifting the data by a point near it keeps sum gamma y y^T - N_k m m^T from cancelling
    catastrophically: pass the same ``shift`` (D,) for every chunk (zeros if not given).
    ``X_chunk`` has shape (n, D); computed by ``gmm.engine``."""
    X_chunk = check_X(X_chunk, "X_chunk")
    weights, means, covariances = check_parameters(weights, means, covariances, X_chunk.shape[1])
    shift = np.zeros(X_chunk.shape[1]) if shift is None else np.asarray(shift, dtype=float)
    if shift.shape != (X_chunk.shape[1],):
        raise ValueError(
            f"expected shift of shape (D,) = ({X_chunk.shape[1]},), got {shift.shape}; try X[0]"
        )
    YT = np.ascontiguousarray((X_chunk - shift).T)  # D, n
    nk, sy, syy, ll = engine.statistics(YT, weights, means - shift, covariances)
    return SufficientStatistics(nk, sy, syy, ll, X_chunk.shape[0], shift)


def m_step_from_statistics(stats, smoothing=1e-2, covariance_type="full"):
    """M-step from summed sufficient statistics, Eq. (9.2) (notebook 09).

    mu_k = shift + sy_k / N_k,  Sigma_k = syy_k / N_k - m_k m_k^T + smoothing I with
    m_k = sy_k / N_k, pi_k = N_k / N: the same (weights, means, covariances) as ``m_step`` on
    all the data. With ``smoothing=0``, a component collapsed onto a point is an error, as in
    ``fit_gmm``."""
    if not isinstance(stats, SufficientStatistics):
        raise ValueError(
            f"expected SufficientStatistics, got {type(stats).__name__}; "
            "try the sum of sufficient_statistics(chunk, ...) over the chunks"
        )
    smoothing = check_model(covariance_type, smoothing)
    sums = (stats.nk, stats.sy, stats.syy)
    return _m_step_from_sums(
        sums, stats.n, stats.shift, smoothing=smoothing, covariance_type=covariance_type
    )


def _variance(sy, syy, n):
    """The data's mean variance per feature, from the sums of Eq. (9.1) over all K."""
    mean = sy.sum(0) / n
    return (np.trace(syy.sum(0)) / n - mean @ mean) / mean.shape[0]


def _m_step_from_sums(sums, n, shift, *, smoothing, covariance_type):
    """Eq. (9.2): Eqs. (3.3)-(3.6) written in the sums (nk, sy, syy) of Eq. (9.1) over n points
    shifted by ``shift``; with smoothing 0, a component collapsed onto a point is an error."""
    nk, sy, syy = sums
    nk = nk + NK_EPS  # as in m_step
    m = sy / nk[:, None]  # K, D, relative to shift
    scatter = syy / nk[:, None, None] - m[:, :, None] * m[:, None, :]
    covariances = _constrain(scatter, nk, smoothing, covariance_type)
    check_not_collapsed(covariances, smoothing, _variance(sy, syy, n))
    return nk / n, m + shift, covariances


def fit_gmm_chunked(
    X,
    n_components,
    *,
    covariance_type="full",
    init="kmeans++",
    chunk_size=engine.CHUNK_SIZE,
    n_jobs=1,
    max_iter=100,
    tol=1e-3,
    smoothing=1e-2,
    rng=None,
):
    """EM over chunks of the data, never holding the (N, K) responsibilities (notebook 09).

    Each iteration adds up the statistics of Eq. (9.1) over chunks of ``chunk_size`` rows,
    then runs the M-step from them, Eq. (9.2): with the same ``init`` and ``rng``, the
    parameters of ``fit_gmm`` to rounding. ``X`` can be anything sliceable by rows with a
    ``shape``, e.g. a ``np.memmap``, and is only ever read chunk by chunk, the start included.
    ``n_jobs`` threads (e.g. ``os.cpu_count()``) sum pieces at the same time
    (``engine.chunked_pass``): every ``n_jobs`` >= 2 gives the same result bit for bit,
    ``n_jobs=1`` the same to rounding. The other arguments are ``fit_gmm``'s; returns a
    ``GMMFit`` with ``resp=None``."""
    chunk_size = check_count(chunk_size, "chunk_size", engine.CHUNK_SIZE)
    n_jobs = check_count(n_jobs, "n_jobs", 2)
    check_iterations(max_iter, tol)
    smoothing = check_model(covariance_type, smoothing)
    model = dict(smoothing=smoothing, covariance_type=covariance_type)
    X = X if hasattr(X, "shape") else check_X(X)
    shift = check_X(X[:chunk_size]).mean(axis=0)
    for rows in engine.blocks(X.shape[0], chunk_size):
        check_X(X[rows])
    N, D = X.shape

    def kmeans_start(K, rng):
        # Hard k-means++ assignments: the sums of Eq. (9.1) with 0/1 responsibilities.
        centres = _kmeans_plusplus(X, K, rng, chunk_size)
        nk, sy, syy = engine.zero_sums(K, D)
        for rows in engine.blocks(N, chunk_size):
            Y = np.asarray(X[rows]) - shift  # n, D
            labels = _nearest(Y, centres - shift)
            for k in range(K):
                Yk = Y[labels == k]
                nk[k] += Yk.shape[0]
                sy[k] += Yk.sum(axis=0)
                syy[k] += Yk.T @ Yk
        return _m_step_from_sums((nk, sy, syy), N, shift, **model)

    start = _initial_parameters(X, n_components, init, rng=rng, kmeans=kmeans_start, **model)
    with engine.chunked_pass(X, shift, len(start[0]), chunk_size, n_jobs) as statistics:
        e_step_sums, m_step_sums = sum_steps(X, statistics=(statistics, shift), **model)
        run = em(start, e_step_sums, m_step_sums, n_points=N, max_iter=max_iter, tol=tol)
    return _gmm_fit(run, None, **model)


# ---------------------------------------------------------------------------
# 13 Missing values and partial labels
# ---------------------------------------------------------------------------


@dataclass
class GMMMissingFit(GMMFit):
    """The result of ``fit_gmm_missing``: a ``GMMFit`` plus ``imputed`` (N, D), X with each
    missing entry replaced by its conditional mean under the fit, Eq. (13.5)."""

    imputed: np.ndarray | None = None


def fit_gmm_missing(
    X,
    n_components,
    *,
    labels=None,
    rng=None,
    covariance_type="full",
    init="kmeans++",
    max_iter=100,
    tol=1e-3,
    smoothing=1e-2,
):
    """Fit a Gaussian mixture by EM to data with missing entries and partial labels (notebook 13).

    X may hold NaN entries, missing at random. The E-step computes, for every row and
    component, the density of the observed coordinates, Eq. (13.1), hence the responsibilities,
    and the conditional mean and covariance of the missing ones, Eqs. (13.2)-(13.3); the M-step,
    Eq. (13.4), uses the expected sums: the conditional covariance enters the covariance
    update (as the sums of Eq. (9.1), turned into parameters by Eq. (9.2)).
    ``log_likelihoods`` records the observed-data log-likelihood sum_n log p(x_n,o) of each
    E-step (before each M-step), and ``n_iter``, ``converged`` and ``tol`` follow ``fit_gmm``;
    with ``smoothing=0`` the log-likelihood never decreases.

    ``labels`` (N,) of ints: -1 where a row's component is unknown, 0..K-1 where it is known.
    A known row's responsibilities are one-hot (in every E-step and in ``.resp``), its missing
    entries are imputed from its own component, and the objective recorded is the one EM then
    increases, Eq. (13.6): sum over unlabelled rows of log p(x_o) plus sum over labelled rows
    of log pi_z N(x_o | mu_z,o, Sigma_z,oo).

    The start: ``init`` as in ``initial_parameters``, on X with each NaN replaced by its
    column's mean (k-means++ on those filled rows, nearest-centre assignments, one M-step).
    With labels and ``init="kmeans++"``, each class with labelled rows moves the k-means++
    centre closest to it onto its labelled rows' mean (the Hungarian algorithm picks a
    distinct centre per class), the labelled rows keep their class, and the M-step runs on
    those assignments. Without NaN and without labels it is ``fit_gmm`` (same start, same
    parameters, ``log_likelihoods`` and ``n_iter``).

    Returns a ``GMMMissingFit``: a ``GMMFit`` whose ``resp`` (N, K) are the responsibilities
    given the observed coordinates at the returned parameters, plus ``imputed`` (N, D): X with
    each NaN replaced by sum_k gamma_nk E[x_m | x_o, z = k], Eq. (13.5) (observed entries
    unchanged).
    """
    X, missing = _check_X_missing(X)
    N, D = X.shape
    K = check_K(n_components, N)
    smoothing = check_model(covariance_type, smoothing)
    check_iterations(max_iter, tol)
    labels = _check_labels(labels, N, K)
    if not missing.any() and labels is None:
        fit = fit_gmm(
            X, K, covariance_type=covariance_type, init=init, max_iter=max_iter, tol=tol,
            smoothing=smoothing, rng=rng,
        )  # fmt: skip
        return GMMMissingFit(**vars(fit), imputed=X.copy())

    X0 = np.where(missing, np.nanmean(X, axis=0), X)  # column-mean filled: for the start only
    if labels is not None and (labels >= 0).any() and isinstance(init, str) and init == "kmeans++":
        start = _labelled_start(
            X0, labels, K, smoothing=smoothing, covariance_type=covariance_type, rng=rng
        )
    else:
        start = initial_parameters(
            X0, K, init=init, smoothing=smoothing, covariance_type=covariance_type, rng=rng
        )
    patterns = _patterns(missing)
    shift = X0.mean(axis=0)

    def e_step_missing(params):
        try:
            resp, objective, filled, cond_covs = _missing_e_step(X, patterns, labels, params)
        except np.linalg.LinAlgError:  # a covariance lost its Cholesky factor
            bad = [k for k, cov in enumerate(params[2]) if not has_cholesky(cov)]
            raise collapse_error(bad, smoothing) from None
        nk = resp.sum(axis=0)  # K
        sy = np.empty((K, D))
        syy = np.empty((K, D, D))
        _, inverse = patterns
        for k in range(K):
            Y = filled[k] - shift  # N, D
            sy[k] = resp[:, k] @ Y
            weight = np.bincount(inverse, weights=resp[:, k], minlength=len(cond_covs[k]))
            syy[k] = (resp[:, k, None] * Y).T @ Y + np.tensordot(weight, cond_covs[k], axes=1)
        return (nk, sy, syy), objective

    def m_step_missing(sums):  # Eq. (13.4): the M-step of Eq. (9.2) on the expected sums
        return _m_step_from_sums(
            sums, N, shift, smoothing=smoothing, covariance_type=covariance_type
        )

    run = em(start, e_step_missing, m_step_missing, n_points=N, max_iter=max_iter, tol=tol)
    weights, means, covariances = run.params
    resp, _, filled, _ = _missing_e_step(X, patterns, labels, (weights, means, covariances))
    imputed = X.copy()
    imputed[missing] = np.einsum("nk,knd->nd", resp, filled)[missing]  # (13.5)
    return GMMMissingFit(
        weights, means, covariances, resp, run.objectives, run.n_iter, run.converged,
        covariance_type, smoothing, imputed=imputed,
    )  # fmt: skip


def _check_X_missing(X, name="X"):
    """X as a float array (N, D) where NaN marks a missing entry; returns (X, missing)."""
    try:
        A = np.asarray(X, dtype=float)
    except (TypeError, ValueError):
        A = check_X(X, name)  # raises check_X's message
    if np.isinf(A).any():
        n_bad = int(np.isinf(A).any(axis=-1).sum()) if A.ndim else 1
        raise ValueError(
            f"expected {name} to hold finite numbers, or NaN for a missing entry, got inf in "
            f"{n_bad} row(s); try np.where(np.isinf(X), np.nan, X) to treat them as missing"
        )
    missing = np.isnan(A)
    A = check_X(np.where(missing, 0.0, A), name)  # shape and emptiness, with check_X's messages
    empty = np.flatnonzero(missing.all(axis=1))
    if empty.size:
        raise ValueError(
            f"expected every row of {name} to have at least one observed entry, got "
            f"{empty.size} row(s) with every entry missing (the first is row {empty[0]}); "
            "try dropping them, e.g. X[~np.isnan(X).all(axis=1)]"
        )
    A[missing] = np.nan
    return A, missing


def _check_labels(labels, N, K):
    """None, or an int array (N,) with -1 for unknown and 0..K-1 for known."""
    if labels is None:
        return None
    arr = np.asarray(labels)
    if arr.shape != (N,):
        raise ValueError(
            f"expected labels of shape (N,) = ({N},), one per row of X, got shape {arr.shape}; "
            "try np.full(N, -1) with the known rows set to their component"
        )
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(
            f"expected integer labels (-1 for unknown, 0..K-1 for known), got dtype {arr.dtype}; "
            "try np.asarray(labels).astype(int) if they are whole numbers"
        )
    bad = arr[(arr < -1) | (arr >= K)]
    if bad.size:
        raise ValueError(
            f"expected labels between -1 (unknown) and K - 1 = {K - 1}, got {bad[0]}; "
            f"try -1 for an unlabelled row, or n_components > {int(arr.max())}"
        )
    return arr.astype(int)


def _patterns(missing):
    """The missingness patterns: observed (P, D), one bool row per pattern, and inverse (N,),
    the pattern of each row."""
    observed, inverse = np.unique(~missing, axis=0, return_inverse=True)
    return observed, inverse.ravel()


def _component_conditionals(X, patterns, mean, cov):
    """One component N(mean, cov) given the observed entries of every row, Eqs. (13.1)-(13.3).

    Per pattern, M = Sigma_oo with the identity on the missing block: its Cholesky factor L
    has det L = sqrt(det Sigma_oo), and z = L^-1 r, r the residual x - mu with 0 where x is
    missing, gives r_o^T Sigma_oo^-1 r_o = |z|^2. Returns log N(x_o | mu_o, Sigma_oo) (N,),
    x with each missing entry replaced by mu_m + Sigma_mo Sigma_oo^-1 r_o (N, D), and each
    pattern's Sigma_mm - Sigma_mo Sigma_oo^-1 Sigma_om, zero outside the missing block
    (P, D, D). A covariance without a Cholesky factor raises ``np.linalg.LinAlgError``."""
    observed, inverse = patterns  # P, D and N
    D = X.shape[1]
    oo = observed[:, :, None] & observed[:, None, :]  # P, D, D
    M = np.where(oo, cov, 0.0) + np.eye(D) * ~observed[:, None, :]
    L = np.linalg.cholesky(M)  # P, D, D
    L_inv = np.linalg.inv(L)
    rows_obs = observed[inverse]  # N, D
    r = np.where(rows_obs, X - mean, 0.0)  # N, D (NaN - mean is dropped here)
    L_inv_n = L_inv[inverse]  # N, D, D
    z = np.einsum("nij,nj->ni", L_inv_n, r)
    log_det = 2 * np.log(np.diagonal(L, axis1=1, axis2=2)).sum(axis=1)  # P
    const = observed.sum(axis=1) * np.log(2 * np.pi) + log_det  # P
    log_density = -0.5 * (const[inverse] + (z**2).sum(axis=1))  # (13.1)
    w = np.einsum("nji,nj->ni", L_inv_n, z)  # Sigma_oo^-1 r_o, 0 at the missing entries
    filled = np.where(rows_obs, X, mean + w @ cov)  # (13.2)
    precision_oo = (L_inv.transpose(0, 2, 1) @ L_inv) * oo  # P, D, D
    mm = ~observed[:, :, None] & ~observed[:, None, :]  # P, D, D: the missing block
    cond_cov = (cov - cov @ precision_oo @ cov) * mm  # (13.3)
    return log_density, filled, cond_cov


def _observed_log_weighted(X, patterns, weights, means, covariances):
    """log pi_k N(x_n,o | mu_k,o, Sigma_k,oo) (N, K), the conditionals of every component:
    filled (K, N, D) and conditional covariances (list of K arrays (P, D, D))."""
    pairs = zip(means, covariances, strict=True)
    parts = [_component_conditionals(X, patterns, mean, cov) for mean, cov in pairs]
    log_weighted = np.log(weights) + np.column_stack([p[0] for p in parts])  # N, K
    return log_weighted, np.stack([p[1] for p in parts]), [p[2] for p in parts]


def _missing_e_step(X, patterns, labels, params):
    """The E-step of ``fit_gmm_missing``: resp (N, K), the objective (13.1) or (13.6), and the
    conditionals (``_observed_log_weighted``)."""
    log_weighted, filled, cond_covs = _observed_log_weighted(X, patterns, *params)
    log_px = logsumexp_rows(log_weighted.T)  # N: log p(x_n,o), (13.1)
    resp = np.exp(log_weighted - log_px[:, None])
    if labels is not None:  # (13.6)
        known = np.flatnonzero(labels >= 0)
        resp[known] = np.eye(len(params[0]))[labels[known]]
        log_px[known] = log_weighted[known, labels[known]]
    return resp, float(log_px.sum()), filled, cond_covs


def _labelled_start(X0, labels, K, *, smoothing, covariance_type, rng):
    """The k-means++ start with labels (``fit_gmm_missing``): the centre nearest each labelled
    class moves onto its labelled mean, rows keep their labels or go to the nearest centre."""
    centres = kmeans_plusplus(X0, K, rng)  # K, D
    known = np.unique(labels[labels >= 0])
    class_means = np.array([X0[labels == k].mean(axis=0) for k in known])
    cost = ((class_means[:, None, :] - centres[None, :, :]) ** 2).sum(-1)  # classes, K
    _, taken = linear_sum_assignment(cost)
    others = np.setdiff1d(np.arange(K), known)
    new = np.empty_like(centres)
    new[known] = class_means
    new[others] = centres[np.setdiff1d(np.arange(K), taken)]
    nearest = ((X0[:, None, :] - new[None, :, :]) ** 2).sum(-1).argmin(axis=1)  # N
    resp = np.eye(K)[np.where(labels >= 0, labels, nearest)]
    return m_step(X0, resp, smoothing=smoothing, covariance_type=covariance_type)

"""Gaussian mixture models and the EM algorithm, in small functions that follow the math.

The notebooks in ``notebooks/`` derive every function here; each docstring names
the equation and the notebook it comes from. Notation::

    X            (N, D)     data, one row per point x_n
    weights      (K,)       mixing weights pi_k, positive, summing to 1
    means        (K, D)     component means mu_k
    covariances  (K, D, D)  component covariances Sigma_k (always full matrices)
    resp         (N, K)     responsibilities gamma_nk = p(z_n = k | x_n)
    nk           (K,)       effective number of points N_k = sum_n gamma_nk

Sections, in the order of the course: sampling (01), densities (01, 03),
EM steps (02-04), fitting (04), model selection (07), pitfalls and applications
(06, 08), sufficient statistics for chunked EM (09), plotting.

Internally the loop works on ``X.T`` (D, N) and ``resp.T`` (K, N): every
reduction over the K components is then a sum of contiguous rows, which keeps
the loop fast without leaving numpy.
"""

from collections import deque
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import cache
from numbers import Real
from threading import Lock

import numpy as np
from scipy.optimize import linear_sum_assignment

COVARIANCE_TYPES = ("full", "diag", "spherical", "tied")
INITS = ("kmeans++", "random")
# exp() of anything below about -708 is a subnormal float, and arithmetic on
# subnormals is slow; such responsibilities are zero for every purpose here.
_LOG_RESP_FLOOR = -700.0


# ---------------------------------------------------------------------------
# Input checks: every public function fails with "expected ..., got ..., try ..."
# ---------------------------------------------------------------------------


def _check_X(X, name="X"):
    try:
        X = np.asarray(X, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(
            f"expected {name} to be a numeric array of shape (N, D), got {type(X).__name__}; "
            "try np.asarray(X, dtype=float)"
        ) from None
    if X.ndim != 2:
        raise ValueError(
            f"expected {name} to be 2-D with shape (N, D), got an array with shape {X.shape}; "
            "try X.reshape(-1, 1) for a single feature or X.reshape(1, -1) for a single point"
        )
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(
            f"expected {name} to hold at least one point and one feature, got shape {X.shape}; "
            "try passing non-empty data"
        )
    if not np.all(np.isfinite(X)):
        n_bad = int(np.sum(~np.isfinite(X).all(axis=1)))
        raise ValueError(
            f"expected {name} to hold only finite numbers, got NaN or inf in {n_bad} row(s); "
            "try dropping them, e.g. X[np.isfinite(X).all(axis=1)]"
        )
    return X


def _is_real(x):
    return isinstance(x, Real) and not isinstance(x, bool)


def _check_rng(rng):
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    raise ValueError(
        f"expected rng to be None, an int seed or a numpy Generator, got {type(rng).__name__}; "
        "try rng=0 or rng=np.random.default_rng(0)"
    )


def _check_smoothing(smoothing):
    if not _is_real(smoothing) or not np.isfinite(smoothing) or smoothing < 0:
        raise ValueError(
            f"expected smoothing to be a finite number >= 0, got {smoothing!r}; "
            "try smoothing=1e-2 (the original notebook's value) or 1e-6"
        )
    return float(smoothing)


def _check_covariance_type(covariance_type):
    if covariance_type not in COVARIANCE_TYPES:
        raise ValueError(
            f"expected covariance_type to be one of {COVARIANCE_TYPES}, got {covariance_type!r}; "
            "try covariance_type='full'"
        )
    return covariance_type


def _check_n_components(n_components, n_samples):
    if isinstance(n_components, bool) or not isinstance(n_components, (int, np.integer)):
        raise ValueError(
            f"expected n_components to be an int, got {n_components!r}; try n_components=3"
        )
    if n_components < 1 or n_components > n_samples:
        raise ValueError(
            f"expected 1 <= n_components <= N = {n_samples} (the number of points), "
            f"got n_components={n_components}; try a K between 1 and {n_samples}"
        )
    return int(n_components)


def _check_parameters(weights, means, covariances, n_features=None):
    """Check (weights, means, covariances) and return them as float arrays."""
    weights = np.asarray(weights, dtype=float)
    means = np.asarray(means, dtype=float)
    covariances = np.asarray(covariances, dtype=float)
    if weights.ndim != 1 or weights.size == 0:
        raise ValueError(
            f"expected weights of shape (K,), got shape {weights.shape}; try np.full(K, 1 / K)"
        )
    K = weights.shape[0]
    if not np.all(np.isfinite(weights)) or np.any(weights <= 0):
        raise ValueError(
            f"expected positive weights, got {np.round(weights, 4)}; "
            "try np.full(K, 1 / K), or drop the components with weight 0"
        )
    if abs(weights.sum() - 1.0) > 1e-6:
        raise ValueError(
            f"expected weights that sum to 1, got a sum of {weights.sum():.6g}; "
            "try weights / weights.sum()"
        )
    D = n_features if n_features is not None else (means.shape[-1] if means.ndim == 2 else None)
    if means.ndim != 2 or means.shape[0] != K or (D is not None and means.shape[1] != D):
        raise ValueError(
            f"expected means of shape (K, D) = ({K}, {D}), got shape {means.shape}; "
            "try one row per component and one column per feature"
        )
    D = means.shape[1]
    if covariances.shape != (K, D, D):
        raise ValueError(
            f"expected covariances of shape (K, D, D) = ({K}, {D}, {D}), "
            f"got shape {covariances.shape}; try np.stack([np.eye(D)] * K)"
        )
    if not (np.all(np.isfinite(means)) and np.all(np.isfinite(covariances))):
        raise ValueError(
            "expected finite means and covariances, got NaN or inf; "
            "try re-initialising the parameters"
        )
    scale = np.abs(covariances).max(axis=(1, 2)) + 1e-300
    asym = np.abs(covariances - covariances.transpose(0, 2, 1)).max(axis=(1, 2)) / scale
    if np.any(asym > 1e-8):
        k = int(np.argmax(asym))
        raise ValueError(
            f"expected symmetric covariances, got component {k} with relative asymmetry "
            f"{asym[k]:.2g}; try (C + C.transpose(0, 2, 1)) / 2"
        )
    _cholesky(covariances, what="covariances")
    return weights, means, covariances


def _cholesky(covariances, what="covariances", smoothing=None):
    """Lower Cholesky factors L_k with Sigma_k = L_k L_k^T; (K, D, D)."""
    try:
        chol = np.linalg.cholesky(covariances)
    except np.linalg.LinAlgError:
        chol = None
    if chol is None or not np.isfinite(chol).all():
        bad = []
        for k, cov in enumerate(covariances):
            try:
                np.linalg.cholesky(cov)
            except np.linalg.LinAlgError:
                bad.append(k)
        if smoothing is not None:
            raise ValueError(
                f"expected every covariance to stay positive definite, got component(s) {bad} "
                f"collapsed onto too few points (smoothing={smoothing:g}); "
                "try increasing smoothing, e.g. smoothing=1e-6 or larger"
            )
        raise ValueError(
            f"expected symmetric positive definite {what}, got component(s) {bad} that are not; "
            "try adding a small multiple of the identity, e.g. C + 1e-6 * np.eye(D)"
        )
    return chol


# ---------------------------------------------------------------------------
# 01 The data and the generative story
# ---------------------------------------------------------------------------


def sample_seed_data(separation=5.0, n_samples=2000, rng=0):
    """The original notebook's three clusters (notebook 01).

    60 % of the points with sd 2 around (0, 0), 30 % with sd 1 around (s, s)
    and 10 % with sd 0.5 around (0, s), where s is ``separation``. The points
    come grouped by cluster, as in the original.

    Parameters
    ----------
    separation : float
        s, the distance scale between the cluster centres.
    n_samples : int
        N, the number of points (2000 in the original: 1200, 600, 200).
    rng : None, int or numpy.random.Generator

    Returns
    -------
    X : ndarray of shape (N, 2)
    labels : ndarray of shape (N,)
        The cluster (0, 1 or 2) each point was drawn from.
    """
    if not _is_real(separation) or not np.isfinite(separation):
        raise ValueError(
            f"expected separation to be a finite number, got {separation!r}; try separation=5.0"
        )
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
        raise ValueError(f"expected n_samples to be an int >= 1, got {n_samples!r}; try 2000")
    rng = _check_rng(rng)
    s = float(separation)
    n0 = int(round(0.6 * n_samples))
    n1 = int(round(0.3 * n_samples))
    counts = [n0, n1, n_samples - n0 - n1]
    centres = np.array([[0.0, 0.0], [s, s], [0.0, s]])
    sds = [2.0, 1.0, 0.5]
    X = np.concatenate(
        [
            rng.standard_normal((n, 2)) * sd + c
            for n, sd, c in zip(counts, sds, centres, strict=True)
        ]
    )
    labels = np.repeat(np.arange(3), counts)
    return X, labels


def seed_parameters(separation=5.0):
    """The true (weights, means, covariances) behind ``sample_seed_data`` (notebook 01).

    Returns
    -------
    weights : ndarray of shape (3,)
    means : ndarray of shape (3, 2)
    covariances : ndarray of shape (3, 2, 2)
    """
    s = float(separation)
    weights = np.array([0.6, 0.3, 0.1])
    means = np.array([[0.0, 0.0], [s, s], [0.0, s]])
    covariances = np.array([sd**2 * np.eye(2) for sd in (2.0, 1.0, 0.5)])
    return weights, means, covariances


def sample_gmm(weights, means, covariances, n_samples, rng=None):
    """Ancestral sampling from a Gaussian mixture, Eq. (1.1) (notebook 01).

    First pick a component z_n ~ Categorical(pi), then a point
    x_n ~ N(mu_{z_n}, Sigma_{z_n}).

    Parameters
    ----------
    weights : array-like of shape (K,)
    means : array-like of shape (K, D)
    covariances : array-like of shape (K, D, D)
    n_samples : int
    rng : None, int or numpy.random.Generator

    Returns
    -------
    X : ndarray of shape (n_samples, D)
    labels : ndarray of shape (n_samples,)
        The component each point was drawn from.
    """
    weights, means, covariances = _check_parameters(weights, means, covariances)
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
        raise ValueError(f"expected n_samples to be an int >= 1, got {n_samples!r}; try 500")
    rng = _check_rng(rng)
    chol = _cholesky(covariances)
    labels = rng.choice(len(weights), size=n_samples, p=weights)
    z = rng.standard_normal((n_samples, means.shape[1]))
    X = means[labels] + np.einsum("nij,nj->ni", chol[labels], z)
    return X, labels


# ---------------------------------------------------------------------------
# Densities: Eq. (1.2) and the E-step, Eq. (3.2), in log space (notebooks 01, 03, 04)
# ---------------------------------------------------------------------------


def _precision_factors(covariances, smoothing=None):
    """Inverse Cholesky factors and log-determinants.

    Returns ``prec_chol`` (K, D, D) with prec_chol[k] = L_k^{-1}, so that the
    Mahalanobis distance is ||L_k^{-1} (x - mu_k)||^2, and ``log_det`` (K,) =
    log |Sigma_k| = 2 sum_d log L_k[d, d].
    """
    chol = _cholesky(covariances, smoothing=smoothing)
    log_det = 2.0 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
    prec_chol = np.linalg.inv(chol)
    return prec_chol, log_det


def _log_gaussian_T(XT, means, prec_chol, log_det):
    """log N(x_n | mu_k, Sigma_k) as a (K, N) array, from XT of shape (D, N)."""
    D, N = XT.shape
    K = means.shape[0]
    out = np.empty((K, N))
    for k in range(K):
        y = prec_chol[k] @ XT  # D, N
        y -= (prec_chol[k] @ means[k])[:, None]
        np.square(y, out=y)
        y.sum(axis=0, out=out[k])
        out[k] += D * np.log(2 * np.pi) + log_det[k]
        out[k] *= -0.5
    return out


def log_gaussian_density(X, means, covariances):
    """log N(x_n | mu_k, Sigma_k) for every point and component, Eq. (1.2) (notebook 01).

    log N(x | mu, Sigma) = -1/2 [D log(2 pi) + log|Sigma| + (x - mu)^T Sigma^{-1} (x - mu)],
    computed with the Cholesky factor of Sigma, so it stays finite for points
    thousands of standard deviations away and for D in the hundreds.

    Parameters
    ----------
    X : array-like of shape (N, D)
    means : array-like of shape (K, D)
    covariances : array-like of shape (K, D, D)

    Returns
    -------
    log_density : ndarray of shape (N, K)
    """
    X = _check_X(X)
    means = np.asarray(means, dtype=float)
    K = means.shape[0] if means.ndim == 2 else 1
    _, means, covariances = _check_parameters(np.full(K, 1.0 / K), means, covariances, X.shape[1])
    prec_chol, log_det = _precision_factors(covariances)
    return _log_gaussian_T(np.ascontiguousarray(X.T), means, prec_chol, log_det).T


def logsumexp_rows(a):
    """log sum_k exp(a[k, n]) over the first axis, Eq. (4.1) (notebook 04).

    The log-sum-exp trick: subtract the largest term before exponentiating, so
    nothing overflows and at least one term is exp(0) = 1. Same result as
    ``scipy.special.logsumexp(a, axis=0)``; written out because it is what the
    notebook teaches, and because it runs on the contiguous (K, N) layout.

    Parameters
    ----------
    a : ndarray of shape (K, N)

    Returns
    -------
    ndarray of shape (N,)
    """
    a = np.asarray(a, dtype=float)
    m = a.max(axis=0)
    m = np.where(np.isfinite(m), m, 0.0)  # a column of -inf sums to log(0) = -inf, not NaN
    with np.errstate(divide="ignore"):
        return m + np.log(np.exp(a - m).sum(axis=0))


def _e_step_factors(weights, means, covariances, smoothing=None):
    """What the E-step needs from the parameters, computed once per pass over the data.

    Returns ``prec`` (K D, D), the inverse Cholesky factors L_k^{-1} stacked
    one under the other, ``offsets`` (K D, 1), the stacked L_k^{-1} mu_k, and
    ``const`` (K, 1) = log pi_k - (D log(2 pi) + log |Sigma_k|) / 2.
    """
    K, D = means.shape
    prec_chol, log_det = _precision_factors(covariances, smoothing=smoothing)
    offsets = np.einsum("kij,kj->ki", prec_chol, means)
    const = np.log(weights) - 0.5 * (D * np.log(2 * np.pi) + log_det)
    return prec_chol.reshape(K * D, D), offsets.reshape(K * D, 1), const[:, None]


def _e_step_block(Yb, factors, resp):
    """E-step, Eq. (3.2), on one block Yb (D, b), written into resp (K, b).

    Returns the block's log-likelihood, sum_n log sum_k pi_k N(y_n | mu_k, Sigma_k).
    """
    prec, offsets, const = factors
    K, b = resp.shape
    z = prec @ Yb  # row k D + d: (L_k^{-1} y)_d for every y in the block
    z -= offsets
    z *= z
    np.sum(z.reshape(K, -1, b), axis=1, out=resp)  # squared Mahalanobis distances
    resp *= -0.5
    resp += const  # log pi_k + log N(y | mu_k, Sigma_k)
    m = resp.max(axis=0)  # the log-sum-exp trick, Eq. (4.1)
    resp -= m
    np.maximum(resp, _LOG_RESP_FLOOR, out=resp)
    np.exp(resp, out=resp)
    total = resp.sum(axis=0)
    resp /= total
    return m.sum() + np.log(total).sum()


def _add_statistics(Yb, resp, nk, sy, syy):
    """Add one block's sums of Eq. (9.1) to nk (K,), sy (K, D) and syy (K, D, D), in place."""
    K, D = sy.shape
    nk += resp.sum(axis=1)
    sy += resp @ Yb.T
    weighted = (resp[:, None, :] * Yb).reshape(K * D, -1)  # row k D + d: gamma_nk y_nd
    syy += (weighted @ Yb.T).reshape(K, D, D)  # one matrix product for all K


# Columns per block in the E-step: the block's (K D, B) work array takes about 1 MiB, big
# enough that numpy's per-call cost is small. bench/block_size.py times one E-step pass
# against 256 KiB blocks: on the 2-core bench machine (2026-12-02, two runs) 1 MiB took about
# 0.94, 0.8 and 1.0 x the time at (N, D, K) = (1e6, 2, 3), (1e5, 10, 10), (1e5, 50, 20).
_BLOCK_BYTES = 1 << 20


def _block_columns(n_components, n_features):
    return max(256, _BLOCK_BYTES // (8 * n_components * n_features))


def _em_pass(YT, weights, means, covariances, smoothing=None, resp_out=None, statistics=True):
    """One E-step over column blocks of YT (D, N), adding up Eq. (9.1) as it goes.

    For each block: log pi_k + log N(y | mu_k, Sigma_k), the log-sum-exp over k,
    the responsibilities, and their sums N_k, sum gamma y, sum gamma y y^T. Doing
    all of it while the block is in cache is what makes the loop fast, and it
    never needs the (N, K) responsibilities unless ``resp_out`` (K, N) asks for them.

    Returns
    -------
    nk : (K,), sy : (K, D), syy : (K, D, D), log_likelihood : float
    """
    D, N = YT.shape
    K = means.shape[0]
    factors = _e_step_factors(weights, means, covariances, smoothing)
    nk, sy, syy = np.zeros(K), np.zeros((K, D)), np.zeros((K, D, D))
    log_likelihood = 0.0
    B = _block_columns(K, D)
    resp_block = np.empty((K, min(B, N)))
    for start in range(0, N, B):
        Yb = YT[:, start : start + B]  # D, b
        if resp_out is None:
            resp = resp_block[:, : Yb.shape[1]]
        else:
            resp = resp_out[:, start : start + B]
        log_likelihood += _e_step_block(Yb, factors, resp)
        if statistics:
            _add_statistics(Yb, resp, nk, sy, syy)
    return nk, sy, syy, float(log_likelihood)


def _e_step_T(XT, weights, means, covariances, smoothing=None):
    """E-step on the (D, N) layout: resp.T (K, N) and the total log-likelihood."""
    resp = np.empty((means.shape[0], XT.shape[1]))
    ll = _em_pass(XT, weights, means, covariances, smoothing, resp_out=resp, statistics=False)[3]
    return resp, ll


def e_step(X, weights, means, covariances):
    """E-step: responsibilities by Bayes' rule, Eq. (3.2), and the log-likelihood, Eq. (3.1).

    gamma_nk = pi_k N(x_n | mu_k, Sigma_k) / sum_j pi_j N(x_n | mu_j, Sigma_j),
    computed in log space with the log-sum-exp trick (notebooks 02, 03, 04).

    Parameters
    ----------
    X : array-like of shape (N, D)
    weights : array-like of shape (K,)
    means : array-like of shape (K, D)
    covariances : array-like of shape (K, D, D)

    Returns
    -------
    resp : ndarray of shape (N, K)
        Each row sums to 1.
    log_likelihood : float
        The total sum_n log sum_k pi_k N(x_n | mu_k, Sigma_k).
    """
    X = _check_X(X)
    weights, means, covariances = _check_parameters(weights, means, covariances, X.shape[1])
    resp, log_likelihood = _e_step_T(np.ascontiguousarray(X.T), weights, means, covariances)
    return np.ascontiguousarray(resp.T), log_likelihood


# ---------------------------------------------------------------------------
# M-step: Eqs. (3.3)-(3.6) (notebook 03)
# ---------------------------------------------------------------------------


def _params_from_statistics(nk, sy, syy, n, shift, smoothing, covariance_type):
    """Eqs. (3.3)-(3.6) written in the sums of Eq. (9.1), i.e. Eq. (9.2)."""
    # As scikit-learn does: a component that owns no point keeps a finite mean.
    nk = nk + 10 * np.finfo(float).eps
    m = sy / nk[:, None]  # K, D, relative to shift
    scatter = syy / nk[:, None, None] - m[:, :, None] * m[:, None, :]
    scatter = (scatter + scatter.transpose(0, 2, 1)) / 2
    return _constrain(nk / n, m + shift, scatter, nk, smoothing, covariance_type)


def _m_step_T(XT, resp, smoothing, covariance_type):
    """M-step on the (D, N) layout, from resp.T of shape (K, N)."""
    # Centring first keeps sum gamma y y^T - N_k m m^T from cancelling (notebook 09).
    shift = XT.mean(axis=1)
    YT = XT - shift[:, None]  # D, N
    (K, N), D = resp.shape, YT.shape[0]
    nk, sy, syy = np.zeros(K), np.zeros((K, D)), np.zeros((K, D, D))
    B = _block_columns(K, D)
    for start in range(0, N, B):
        _add_statistics(YT[:, start : start + B], resp[:, start : start + B], nk, sy, syy)
    return _params_from_statistics(nk, sy, syy, N, shift, smoothing, covariance_type)


def _constrain(weights, means, covariances, nk, smoothing, covariance_type):
    """Turn the per-component weighted scatter into the covariance_type's maximiser."""
    K, D, _ = covariances.shape
    eye = np.eye(D)
    if covariance_type == "full":
        covariances = covariances + smoothing * eye
    elif covariance_type == "diag":
        covariances = np.diagonal(covariances, axis1=1, axis2=2)[:, :, None] * eye + smoothing * eye
    elif covariance_type == "spherical":
        var = np.trace(covariances, axis1=1, axis2=2) / D + smoothing
        covariances = var[:, None, None] * eye
    else:  # tied: the nk-weighted average scatter, shared by every component
        tied = np.tensordot(nk, covariances, axes=1) / nk.sum() + smoothing * eye
        covariances = np.broadcast_to(tied, (K, D, D)).copy()
    return weights, means, covariances


def m_step(X, resp, smoothing=1e-2, covariance_type="full"):
    """M-step: the parameters that maximise the expected log-likelihood, Eqs. (3.3)-(3.6).

    N_k = sum_n gamma_nk                                              (3.3)
    mu_k = (1 / N_k) sum_n gamma_nk x_n                               (3.4)
    Sigma_k = (1 / N_k) sum_n gamma_nk (x_n - mu_k)(x_n - mu_k)^T + smoothing I   (3.5)
    pi_k = N_k / N  (from the Lagrange multiplier for sum_k pi_k = 1)   (3.6)

    Derived in notebook 03. ``smoothing`` is added to the diagonal of every
    covariance, as the original notebook did (scikit-learn's ``reg_covar``).
    The constrained types maximise the same objective over a smaller set:
    "diag" keeps the diagonal of (3.5), "spherical" its mean variance, and
    "tied" one covariance shared by all components (the N_k-weighted average).

    Parameters
    ----------
    X : array-like of shape (N, D)
    resp : array-like of shape (N, K)
        Non-negative, each row summing to 1.
    smoothing : float, default 1e-2
    covariance_type : {"full", "diag", "spherical", "tied"}

    Returns
    -------
    weights : ndarray of shape (K,)
    means : ndarray of shape (K, D)
    covariances : ndarray of shape (K, D, D)
    """
    X = _check_X(X)
    smoothing = _check_smoothing(smoothing)
    _check_covariance_type(covariance_type)
    resp = np.asarray(resp, dtype=float)
    if resp.ndim != 2 or resp.shape[0] != X.shape[0]:
        raise ValueError(
            f"expected resp of shape (N, K) with N = {X.shape[0]}, got shape {resp.shape}; "
            "try the resp returned by e_step(X, ...)"
        )
    if not np.all(np.isfinite(resp)) or np.any(resp < 0) or not np.allclose(resp.sum(1), 1.0):
        raise ValueError(
            "expected non-negative responsibilities whose rows sum to 1, got other values; "
            "try resp / resp.sum(axis=1, keepdims=True)"
        )
    return _m_step_T(
        np.ascontiguousarray(X.T), np.ascontiguousarray(resp.T), smoothing, covariance_type
    )


# ---------------------------------------------------------------------------
# 04 Fitting: initialisation and the EM loop
# ---------------------------------------------------------------------------


@dataclass
class GMMFit:
    """The result of ``fit_gmm``.

    Attributes
    ----------
    weights : ndarray of shape (K,)
    means : ndarray of shape (K, D)
    covariances : ndarray of shape (K, D, D)
    resp : ndarray of shape (N, K) or None
        Responsibilities under the final parameters (None for chunked EM).
    log_likelihoods : ndarray of shape (n_iter,)
        The total log-likelihood computed in each iteration's E-step, i.e. of
        the parameters at the start of that iteration.
    n_iter : int
    converged : bool
    covariance_type : str
    smoothing : float
    history : list of (weights, means, covariances) tuples
        With ``keep_history=True``: history[0] is the start and history[i] the
        parameters after iteration i (length n_iter + 1); otherwise empty.
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
        """The last log-likelihood in ``log_likelihoods``.

        It is that of the parameters *before* the final M-step; ``score`` and
        ``bic`` evaluate the returned (final) parameters, which is at least as
        high with smoothing=0. Once EM has converged they usually differ by
        about ``tol`` per point or less.
        """
        return float(self.log_likelihoods[-1])


def kmeans_plusplus(X, n_components, rng=None):
    """k-means++ seeding (notebook 02): spread-out starting centres.

    The first centre is a random point; each next one is a point drawn with
    probability proportional to its squared distance to the nearest centre
    chosen so far.

    Parameters
    ----------
    X : array-like of shape (N, D)
    n_components : int
    rng : None, int or numpy.random.Generator

    Returns
    -------
    centres : ndarray of shape (K, D)
    """
    X = _check_X(X)
    K = _check_n_components(n_components, X.shape[0])
    return _kmeans_plusplus(X, K, _check_rng(rng))


def _kmeans_plusplus(X, K, rng):
    N = X.shape[0]
    idx = [int(rng.integers(N))]
    d2 = np.full(N, np.inf)  # squared distance to the nearest centre so far
    while len(idx) < K:
        centre = X[idx[-1]]
        for start in range(0, N, 8192):  # blocks keep memory O(N), not O(N D)
            # Transposed to (D, b): numpy sums D rows far faster than N short rows.
            diff = np.subtract(X[start : start + 8192].T, centre[:, None], order="C")
            diff *= diff
            np.minimum(d2[start : start + 8192], diff.sum(axis=0), out=d2[start : start + 8192])
        total = d2.sum()
        idx.append(int(rng.integers(N)) if total <= 0 else _draw_proportional(d2, total, rng))
    return X[idx].copy()


def _draw_proportional(d2, total, rng, block=65536):
    """An index drawn with probability d2 / total, like rng.choice(N, p=d2 / total), in blocks."""
    target = rng.random() * total
    acc = 0.0
    for start in range(0, d2.shape[0], block):
        cum = np.cumsum(d2[start : start + block]) + acc
        if cum[-1] > target:
            return start + int(np.searchsorted(cum, target, side="right"))
        acc = cum[-1]
    return int(np.flatnonzero(d2)[-1])


def _nearest(X, centres):
    """Index of the nearest centre for every point; (N,)."""
    d2 = (centres**2).sum(1)[None, :] - 2 * X @ centres.T  # N, K (|x|^2 dropped)
    return d2.argmin(axis=1)


def initial_parameters(
    X, n_components, init="kmeans++", smoothing=1e-2, covariance_type="full", rng=None
):
    """Starting (weights, means, covariances) for EM (notebooks 04, 06).

    ``init="kmeans++"``: k-means++ centres, every point assigned to its nearest
    centre, then one M-step on those hard assignments. ``init="random"``: the
    original notebook's start, K distinct random data points as means, identity
    covariances and equal weights. A tuple (weights, means, covariances) is
    checked and returned as arrays.

    Returns
    -------
    weights : ndarray of shape (K,)
    means : ndarray of shape (K, D)
    covariances : ndarray of shape (K, D, D)
    """
    return _initial_parameters(
        _check_X(X), n_components, init, _check_smoothing(smoothing), covariance_type, rng
    )


def _initial_parameters(X, n_components, init, smoothing, covariance_type, rng):
    """``initial_parameters`` for an X and a smoothing that are already checked."""
    N, D = X.shape
    K = _check_n_components(n_components, N)
    _check_covariance_type(covariance_type)
    if isinstance(init, (tuple, list)):
        if len(init) != 3:
            raise ValueError(
                f"expected init as a tuple (weights, means, covariances), got {len(init)} items; "
                "try init=(weights, means, covariances)"
            )
        weights, means, covariances = _check_parameters(*init, n_features=D)
        if weights.shape[0] != K:
            raise ValueError(
                f"expected initial parameters for K = {K} components, got {weights.shape[0]}; "
                "try n_components=len(weights)"
            )
        return weights, means, covariances
    rng = _check_rng(rng)
    if isinstance(init, str) and init == "random":
        means = X[rng.choice(N, size=K, replace=False)].copy()
        return np.full(K, 1.0 / K), means, np.stack([np.eye(D)] * K)
    if isinstance(init, str) and init == "kmeans++":
        labels = _nearest(X, _kmeans_plusplus(X, K, rng))
        resp = np.zeros((K, N))
        resp[labels, np.arange(N)] = 1.0
        weights, means, covariances = _m_step_T(
            np.ascontiguousarray(X.T), resp, smoothing, covariance_type
        )
        if smoothing == 0:
            _cholesky(covariances, smoothing=smoothing)
        return weights, means, covariances
    raise ValueError(
        f"expected init to be 'kmeans++', 'random' or a tuple (weights, means, covariances), "
        f"got {init!r}; try init='kmeans++'"
    )


def _check_iteration_args(max_iter, tol):
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise ValueError(f"expected max_iter to be an int >= 1, got {max_iter!r}; try max_iter=100")
    if not _is_real(tol) or not np.isfinite(tol) or tol < 0:
        raise ValueError(f"expected tol to be a number >= 0, got {tol!r}; try tol=1e-3")


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
):
    """Fit a Gaussian mixture by EM (notebook 04).

    Each iteration runs the E-step, Eq. (3.2), recording the log-likelihood of
    the current parameters, Eq. (3.1), then the M-step, Eqs. (3.3)-(3.6). It
    stops when the mean per-sample log-likelihood changes by less than ``tol``
    between iterations (``tol=0`` runs exactly ``max_iter`` iterations), as
    scikit-learn's ``GaussianMixture`` does. With ``smoothing=0`` the
    log-likelihood never decreases (notebook 03).

    Parameters
    ----------
    X : array-like of shape (N, D)
    n_components : int
        K, between 1 and N.
    covariance_type : {"full", "diag", "spherical", "tied"}
    init : "kmeans++", "random" or tuple (weights, means, covariances)
        See ``initial_parameters``.
    max_iter : int
    tol : float
    smoothing : float
        Added to the diagonal of every covariance in the M-step.
    rng : None, int or numpy.random.Generator
        Used by the initialisation only.
    keep_history : bool
        Keep the parameters after every iteration in ``fit.history``.

    Returns
    -------
    GMMFit
    """
    X = _check_X(X)
    _check_iteration_args(max_iter, tol)
    smoothing = _check_smoothing(smoothing)
    init_params = _initial_parameters(X, n_components, init, smoothing, covariance_type, rng)
    XT = np.ascontiguousarray(X.T)  # D, N (X itself when D = 1: never write to it)
    shift = XT.mean(axis=1)  # EM is shift-invariant; centring keeps the sums precise
    YT = XT - shift[:, None]
    del XT

    def statistics(weights, means, covariances):
        return _em_pass(YT, weights, means - shift, covariances, smoothing)

    fit = _run_em(
        statistics,
        init_params,
        X.shape[0],
        shift,
        max_iter,
        tol,
        smoothing,
        covariance_type,
        keep_history,
    )
    resp = np.empty((fit.n_components, X.shape[0]))
    _em_pass(
        YT,
        fit.weights,
        fit.means - shift,
        fit.covariances,
        smoothing,
        resp_out=resp,
        statistics=False,
    )
    fit.resp = np.ascontiguousarray(resp.T)
    return fit


def _run_em(
    statistics, init_params, n, shift, max_iter, tol, smoothing, covariance_type, keep_history=False
):
    """The EM loop shared by ``fit_gmm`` and ``fit_gmm_chunked``.

    ``statistics(weights, means, covariances)`` runs the E-step over all the data
    and returns the summed (nk, sy, syy, log_likelihood) of Eq. (9.1) for data
    shifted by ``shift``; the M-step is Eq. (9.2).
    """
    weights, means, covariances = init_params
    history = [init_params] if keep_history else []
    log_likelihoods = []
    converged = False
    for _ in range(max_iter):
        nk, sy, syy, ll = statistics(weights, means, covariances)
        weights, means, covariances = _params_from_statistics(
            nk, sy, syy, n, shift, smoothing, covariance_type
        )
        # With smoothing = 0 a component on one point has rounding-noise variance:
        # compare its smallest eigenvalue with the data's mean variance.
        if smoothing == 0:
            mean = sy.sum(0) / n
            scale = max(np.trace(syy.sum(0)) / n - mean @ mean, 1e-300) / len(mean)
            collapsed = np.linalg.eigvalsh(covariances).min(axis=1) < 1e-10 * scale
            if np.any(collapsed):
                raise ValueError(
                    f"expected every covariance to stay positive definite, got component(s) "
                    f"{np.flatnonzero(collapsed).tolist()} collapsed onto too few points "
                    f"(smoothing={smoothing:g}); "
                    "try increasing smoothing, e.g. smoothing=1e-6 or larger"
                )
        if keep_history:
            history.append((weights, means, covariances))
        converged = bool(log_likelihoods) and abs(ll - log_likelihoods[-1]) / n < tol
        log_likelihoods.append(ll)
        if converged:
            break
    return GMMFit(
        weights=weights,
        means=means,
        covariances=covariances,
        resp=None,
        log_likelihoods=np.array(log_likelihoods),
        n_iter=len(log_likelihoods),
        converged=converged,
        covariance_type=covariance_type,
        smoothing=smoothing,
        history=history,
    )


def fit_restarts(X, n_components, n_init=10, rng=0, **kwargs):
    """Fit from ``n_init`` starts and keep them all, best first (notebook 06).

    EM finds a local maximum that depends on the start; restarting and keeping
    the highest final log-likelihood is the usual remedy (scikit-learn's
    ``n_init``). Each start uses its own generator spawned from ``rng``.

    Returns
    -------
    fits : list of GMMFit
        Sorted by final log-likelihood, best first; ``fits[0]`` is the one to keep.
    """
    if isinstance(n_init, bool) or not isinstance(n_init, (int, np.integer)) or n_init < 1:
        raise ValueError(f"expected n_init to be an int >= 1, got {n_init!r}; try n_init=10")
    rngs = _check_rng(rng).spawn(n_init)
    fits = [fit_gmm(X, n_components, rng=r, **kwargs) for r in rngs]
    return sorted(fits, key=lambda f: -score(X, f))


# ---------------------------------------------------------------------------
# 07 Model selection and 08 applications
# ---------------------------------------------------------------------------


def _as_parameters(fit):
    if isinstance(fit, GMMFit):
        return fit.weights, fit.means, fit.covariances
    if isinstance(fit, (tuple, list)) and len(fit) == 3:
        return _check_parameters(*fit)
    raise ValueError(
        f"expected a GMMFit or a tuple (weights, means, covariances), got {type(fit).__name__}; "
        "try the result of fit_gmm(X, K)"
    )


def score_samples(X, fit):
    """log p(x_n) = log sum_k pi_k N(x_n | mu_k, Sigma_k) for each point, Eq. (1.1) (notebook 08).

    Parameters
    ----------
    X : array-like of shape (N, D)
    fit : GMMFit or tuple (weights, means, covariances)

    Returns
    -------
    log_density : ndarray of shape (N,)
    """
    X = _check_X(X)
    weights, means, covariances = _as_parameters(fit)
    if X.shape[1] != means.shape[1]:
        raise ValueError(
            f"expected X with D = {means.shape[1]} features like the fit, got {X.shape[1]}; "
            "try the same columns the model was fitted on"
        )
    prec_chol, log_det = _precision_factors(covariances)
    log_p = _log_gaussian_T(np.ascontiguousarray(X.T), means, prec_chol, log_det)
    log_p += np.log(weights)[:, None]
    return logsumexp_rows(log_p)


def score(X, fit):
    """The mean per-sample log-likelihood (1/N) sum_n log p(x_n) (notebooks 07, 08)."""
    return float(score_samples(X, fit).mean())


def n_parameters(n_components, n_features, covariance_type="full"):
    """Free parameters of a mixture, Eq. (7.1) (notebook 07).

    (K - 1) weights + K D means + the covariance parameters: K D (D + 1) / 2
    for "full", K D for "diag", K for "spherical", D (D + 1) / 2 for "tied".
    """
    for name, value in (("n_components", n_components), ("n_features", n_features)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"expected {name} to be an int >= 1, got {value!r}; try 3")
    _check_covariance_type(covariance_type)
    K, D = int(n_components), int(n_features)
    cov = {
        "full": K * D * (D + 1) // 2,
        "diag": K * D,
        "spherical": K,
        "tied": D * (D + 1) // 2,
    }[covariance_type]
    return (K - 1) + K * D + cov


def _information_criterion(X, fit, penalty):
    X = _check_X(X)
    if not isinstance(fit, GMMFit):
        raise ValueError(f"expected a GMMFit, got {type(fit).__name__}; try bic(X, fit_gmm(X, K))")
    p = n_parameters(fit.n_components, X.shape[1], fit.covariance_type)
    return -2.0 * score(X, fit) * X.shape[0] + penalty(X.shape[0]) * p


def bic(X, fit):
    """Bayesian information criterion, Eq. (7.2) (notebook 07): -2 log L + p log N.

    Lower is better; p is ``n_parameters``, Eq. (7.1).
    """
    return _information_criterion(X, fit, np.log)


def aic(X, fit):
    """Akaike information criterion, Eq. (7.3) (notebook 07): -2 log L + 2 p.

    Lower is better; p is ``n_parameters``, Eq. (7.1).
    """
    return _information_criterion(X, fit, lambda n: 2.0)


def align_components(reference_means, means):
    """The permutation of components that best matches ``reference_means`` (notebook 06).

    Label switching: the mixture is the same under any relabelling of its
    components. The Hungarian algorithm (``scipy.optimize.linear_sum_assignment``)
    picks the relabelling with the least total squared distance between means.

    Parameters
    ----------
    reference_means : array-like of shape (K, D)
    means : array-like of shape (K, D)

    Returns
    -------
    order : ndarray of shape (K,)
        ``means[order]`` lines up with ``reference_means`` row by row.
    """
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

    In 2-D the squared Mahalanobis distance is chi-squared with 2 degrees of
    freedom, so P(inside) = 1 - exp(-n_std^2 / 2): 39 %, 86 %, 99 % for 1, 2, 3.
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

    Everything the M-step needs from the data, as sums that add across chunks,
    processes or machines. Shifting the data by a reference point near it keeps
    sum gamma y y^T - N_k m m^T from cancelling catastrophically.

    Parameters
    ----------
    X_chunk : array-like of shape (n, D)
    weights : array-like of shape (K,)
    means : array-like of shape (K, D)
    covariances : array-like of shape (K, D, D)
    shift : array-like of shape (D,), optional
        The reference point; zeros if not given. Use the same for every chunk.

    Returns
    -------
    SufficientStatistics
    """
    X_chunk = _check_X(X_chunk, "X_chunk")
    weights, means, covariances = _check_parameters(weights, means, covariances, X_chunk.shape[1])
    shift = np.zeros(X_chunk.shape[1]) if shift is None else np.asarray(shift, dtype=float)
    if shift.shape != (X_chunk.shape[1],):
        raise ValueError(
            f"expected shift of shape (D,) = ({X_chunk.shape[1]},), got {shift.shape}; try X[0]"
        )
    YT = np.ascontiguousarray((X_chunk - shift).T)  # D, n
    nk, sy, syy, ll = _em_pass(YT, weights, means - shift, covariances)
    return SufficientStatistics(nk, sy, syy, ll, X_chunk.shape[0], shift)


def m_step_from_statistics(stats, smoothing=1e-2, covariance_type="full"):
    """M-step from summed sufficient statistics, Eq. (9.2) (notebook 09).

    mu_k = shift + sy_k / N_k,  Sigma_k = syy_k / N_k - m_k m_k^T + smoothing I with
    m_k = sy_k / N_k, pi_k = N_k / N: the same parameters as ``m_step`` on all the data.

    Returns
    -------
    weights : ndarray of shape (K,)
    means : ndarray of shape (K, D)
    covariances : ndarray of shape (K, D, D)
    """
    if not isinstance(stats, SufficientStatistics):
        raise ValueError(
            f"expected SufficientStatistics, got {type(stats).__name__}; "
            "try the sum of sufficient_statistics(chunk, ...) over the chunks"
        )
    smoothing = _check_smoothing(smoothing)
    _check_covariance_type(covariance_type)
    return _params_from_statistics(
        stats.nk, stats.sy, stats.syy, stats.n, stats.shift, smoothing, covariance_type
    )


def _chunks(X, chunk_size):
    for start in range(0, X.shape[0], chunk_size):
        yield X[start : start + chunk_size]


# Rows per piece of work in fit_gmm_chunked: a few E-step blocks, so a worker thread's share
# is far bigger than the cost of handing it over. Pieces never cross a chunk boundary, and
# they are summed in order, so every n_jobs >= 2 gives the same result.
_PIECE_BLOCKS = 8


def _shifted_blocks(rows, shift, buffer):
    """Yield (start, Yb) for B = buffer.shape[1] rows at a time: Yb (D, b) = (rows - shift).T.

    One pass writes the shifted, transposed block into the buffer, which stays in the
    CPU cache while _e_step_block and _add_statistics read it.
    """
    B = buffer.shape[1]
    for start in range(0, rows.shape[0], B):
        block = rows[start : start + B]
        Yb = buffer[:, : block.shape[0]]
        np.subtract(block.T, shift[:, None], out=Yb)
        yield start, Yb


def _piece_statistics(rows, factors, shift, B):
    """nk, sy, syy and the log-likelihood of Eq. (9.1) over rows (n, D), B rows at a time."""
    D, K = shift.shape[0], factors[2].shape[0]
    b = min(B, rows.shape[0])
    buffer, resp_block = np.empty((D, b)), np.empty((K, b))
    nk, sy, syy, ll = np.zeros(K), np.zeros((K, D)), np.zeros((K, D, D)), 0.0
    for _, Yb in _shifted_blocks(rows, shift, buffer):
        resp = resp_block[:, : Yb.shape[1]]
        ll += _e_step_block(Yb, factors, resp)
        _add_statistics(Yb, resp, nk, sy, syy)
    return nk, sy, syy, ll


def _ordered_map(fn, items, pool, n_jobs):
    """fn(item) for every item, in order; on a thread pool with at most n_jobs + 1 items
    submitted and not yet returned, so memory stays bounded by n_jobs + 1 pieces."""
    if pool is None:
        yield from map(fn, items)
        return
    pending = deque()
    try:
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) > n_jobs:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:  # after an error, the pieces not started yet are not computed for nothing
        for future in pending:
            future.cancel()


@cache
def _blas_controller():
    # threadpoolctl looks for the loaded BLAS libraries when created: milliseconds, so once.
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


_blas_lock = Lock()
_blas_limit = {"users": 0, "limiter": None}


@contextmanager
def _one_blas_thread():
    """BLAS limited to one thread (process-wide) while any fit inside this is running.

    Counted, so that fits running at the same time in several threads restore the
    original limits only when the last one ends, whatever order they end in.
    """
    with _blas_lock:
        if _blas_limit["users"] == 0:
            _blas_limit["limiter"] = _blas_controller().limit(limits=1, user_api="blas")
        _blas_limit["users"] += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_limit["users"] -= 1
            if _blas_limit["users"] == 0:
                _blas_limit["limiter"].restore_original_limits()
                _blas_limit["limiter"] = None


def fit_gmm_chunked(
    X,
    n_components,
    *,
    chunk_size=65536,
    n_jobs=1,
    covariance_type="full",
    init="kmeans++",
    max_iter=100,
    tol=1e-3,
    smoothing=1e-2,
    rng=None,
):
    """EM over chunks of the data, never holding the (N, K) responsibilities (notebook 09).

    Each iteration reads ``X`` ``chunk_size`` rows at a time, adds up the
    statistics of Eq. (9.1) (what ``sufficient_statistics`` returns) over the
    chunks, then runs the M-step from them, Eq. (9.2); with the same ``init``
    and ``rng`` it gives the parameters of ``fit_gmm`` (to rounding). ``X`` can
    be anything sliceable by rows, e.g. a ``np.memmap``. The k-means++ start
    also runs chunk by chunk.

    Because the statistics add up, pieces of the data can be processed at the
    same time: ``n_jobs`` threads do so (numpy releases the GIL while it
    computes), with BLAS limited to one thread each meanwhile. The pieces are
    added in a fixed order, so every ``n_jobs`` >= 2 gives the same result bit
    for bit; ``n_jobs=1`` agrees to rounding (its BLAS may split a large matrix
    product over threads, which can change the last bit). Small data (a single
    piece of at most ``chunk_size`` rows and a few E-step blocks) runs on one
    thread.

    Parameters
    ----------
    X : array-like of shape (N, D), or anything sliceable by rows with a ``shape``
    n_components : int
    chunk_size : int
        Rows read from ``X`` at a time.
    n_jobs : int
        Threads computing the statistics, e.g. ``os.cpu_count()``.
    covariance_type, init, max_iter, tol, smoothing, rng
        As in ``fit_gmm``.

    Returns
    -------
    GMMFit
        With ``resp=None``.
    """
    for name, value, example in (("chunk_size", chunk_size, 65536), ("n_jobs", n_jobs, 2)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"expected {name} to be an int >= 1, got {value!r}; try {example}")
    _check_iteration_args(max_iter, tol)
    smoothing = _check_smoothing(smoothing)
    _check_covariance_type(covariance_type)
    if not hasattr(X, "shape"):
        X = _check_X(X)
    first = _check_X(X[:chunk_size])
    N, D = X.shape
    K = _check_n_components(n_components, N)
    for chunk in _chunks(X, chunk_size):
        _check_X(chunk)
    shift = first.mean(axis=0)
    B = _block_columns(K, D)
    if isinstance(init, str) and init == "kmeans++":
        # Hard k-means++ assignments: the statistics of Eq. (9.1) with 0/1 responsibilities.
        centres = kmeans_plusplus(X, K, rng)
        b = min(B, chunk_size, N)
        buffer, resp_block = np.empty((D, b)), np.empty((K, b))
        sums = [np.zeros(K), np.zeros((K, D)), np.zeros((K, D, D))]
        for chunk in _chunks(X, chunk_size):
            chunk = np.asarray(chunk)
            labels = _nearest(chunk, centres)
            for start, Yb in _shifted_blocks(chunk, shift, buffer):
                resp = resp_block[:, : Yb.shape[1]]
                resp[:] = 0.0
                resp[labels[start : start + Yb.shape[1]], np.arange(Yb.shape[1])] = 1.0
                _add_statistics(Yb, resp, *sums)
        init = _params_from_statistics(*sums, N, shift, smoothing, covariance_type)
        if smoothing == 0:
            _cholesky(init[2], smoothing=smoothing)
    init_params = initial_parameters(X, K, init, smoothing, covariance_type, rng)

    piece_rows = min(chunk_size, _PIECE_BLOCKS * B)

    def pieces():
        for chunk in _chunks(X, chunk_size):
            chunk = np.asarray(chunk)
            yield from _chunks(chunk, piece_rows)

    with ExitStack() as stack:
        pool = None
        if n_jobs > 1 and N > piece_rows:  # one piece: nothing to share, no threads
            stack.enter_context(_one_blas_thread())  # restored after the pool has stopped
            pool = stack.enter_context(ThreadPoolExecutor(n_jobs))

        def statistics(weights, means, covariances):
            factors = _e_step_factors(weights, means - shift, covariances, smoothing)
            nk, sy, syy, ll = np.zeros(K), np.zeros((K, D)), np.zeros((K, D, D)), 0.0
            piece_sums = _ordered_map(
                lambda rows: _piece_statistics(rows, factors, shift, B), pieces(), pool, n_jobs
            )
            for piece_nk, piece_sy, piece_syy, piece_ll in piece_sums:
                nk += piece_nk
                sy += piece_sy
                syy += piece_syy
                ll += piece_ll
            return nk, sy, syy, float(ll)

        return _run_em(statistics, init_params, N, shift, max_iter, tol, smoothing, covariance_type)


# ---------------------------------------------------------------------------
# Plotting: every helper takes ax=None and returns the axes
# ---------------------------------------------------------------------------


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(5, 5))
    return ax


def component_colors(n_components):
    """K distinct RGB colours, (K, 3): tab10, then evenly spaced hues for larger K."""
    import matplotlib as mpl

    if n_components <= 10:
        return np.array(mpl.colormaps["tab10"].colors[:n_components])
    return mpl.colormaps["hsv"](np.linspace(0, 1, n_components, endpoint=False))[:, :3]


def aligned_colors(reference_means, means):
    """Colours for fitted components so each takes its matching true cluster's colour (K, 3).

    Component ``order[j]`` (``align_components``) gets colour j of
    ``component_colors``: the same cluster has the same colour in every figure.
    """
    order = align_components(reference_means, means)
    base = component_colors(len(order))
    colors = np.empty_like(base)
    colors[order] = base
    return colors


def _label_axes(ax, xlabel="$x_1$", ylabel="$x_2$"):
    if not ax.get_xlabel():
        ax.set_xlabel(xlabel)
    if not ax.get_ylabel():
        ax.set_ylabel(ylabel)


def plot_responsibilities(X, resp, ax=None, colors=None, s=6, alpha=0.6):
    """Scatter the points, each coloured by its responsibilities (notebooks 02, 04).

    A point's colour is sum_k gamma_nk c_k (the original's ``R @ colors``): pure
    where one component owns it, a blend where components share it.

    Parameters
    ----------
    X : array-like of shape (N, 2)
    resp : array-like of shape (N, K)
    colors : array-like of shape (K, 3), optional
    """
    ax = _axes(ax)
    X = np.asarray(X)
    resp = np.asarray(resp)
    colors = component_colors(resp.shape[1]) if colors is None else np.asarray(colors)
    ax.scatter(
        X[:, 0], X[:, 1], c=np.clip(resp @ colors[:, :3], 0, 1), s=s, alpha=alpha, linewidths=0
    )
    # "datalim" is refused on axes that share both x and y (subplots(sharex=True, sharey=True))
    shared = len(ax.get_shared_x_axes().get_siblings(ax)) > 1
    shared = shared and len(ax.get_shared_y_axes().get_siblings(ax)) > 1
    ax.set_aspect("equal", adjustable="box" if shared else "datalim")
    _label_axes(ax)
    return ax


def plot_ellipses(
    means, covariances, ax=None, n_std=(1, 2, 3), colors=None, weights=None, **kwargs
):
    """Draw each component's covariance ellipses at ``n_std`` sigma (notebooks 04, 06).

    The ellipse at k sigma is {x : (x - mu)^T Sigma^{-1} (x - mu) = k^2}: its axes
    point along the eigenvectors of Sigma with half-lengths k sqrt(lambda). In 2-D
    it holds 1 - exp(-k^2 / 2) of the component's mass, Eq. (6.1). Means are
    marked with a cross; with ``weights`` the line width follows pi_k.

    Parameters
    ----------
    means : array-like of shape (K, 2)
    covariances : array-like of shape (K, 2, 2)
    n_std : sequence of float
    colors : array-like of shape (K, 3), optional
    weights : array-like of shape (K,), optional
    """
    from matplotlib.patches import Ellipse

    ax = _axes(ax)
    means = np.asarray(means)[:, :2]
    covariances = np.asarray(covariances)[:, :2, :2]
    K = means.shape[0]
    colors = component_colors(K) if colors is None else np.asarray(colors)
    lw = np.full(K, 1.5) if weights is None else 0.8 + 3 * np.asarray(weights) / np.max(weights)
    for k in range(K):
        vals, vecs = np.linalg.eigh(covariances[k])
        angle = np.degrees(np.arctan2(vecs[1, 1], vecs[0, 1]))
        for n in np.atleast_1d(n_std):
            width, height = 2 * n * np.sqrt(np.maximum(vals[::-1], 0))
            ax.add_patch(
                Ellipse(
                    means[k],
                    width,
                    height,
                    angle=angle,
                    fill=False,
                    color=colors[k][:3],
                    lw=lw[k],
                    **kwargs,
                )
            )
        ax.plot(*means[k], marker="x", color="k", ms=8, mew=2)
    ax.autoscale_view()
    return ax


def plot_fit(X, fit, ax=None, n_std=(1, 2), title=None, s=6, reference_means=None):
    """Points coloured by responsibilities with the fit's ellipses and means (notebook 04).

    ``s`` is the marker size of the points (larger for a handful of points). With
    ``reference_means`` (K, 2), e.g. the true means, each component takes the colour
    of the reference it matches (``aligned_colors``).
    """
    ax = _axes(ax)
    weights, means, covariances = _as_parameters(fit)
    resp = (
        fit.resp
        if isinstance(fit, GMMFit) and fit.resp is not None
        else e_step(X, weights, means, covariances)[0]
    )
    colors = (
        component_colors(len(weights))
        if reference_means is None
        else aligned_colors(reference_means, means)
    )
    plot_responsibilities(X, resp, ax=ax, colors=colors, s=s)
    plot_ellipses(means, covariances, ax=ax, n_std=n_std, colors=colors)
    if title is not None:
        ax.set_title(title)
    return ax


def plot_log_likelihood(log_likelihoods, ax=None, per_sample=None, marker=None, **kwargs):
    """The log-likelihood against the iteration (notebooks 03, 04).

    Parameters
    ----------
    log_likelihoods : array-like of shape (n_iter,)
    per_sample : int, optional
        If given (N), plot the mean per-sample log-likelihood instead.
    marker : int, optional
        Highlight this iteration (1-based) with a dot.
    """
    from matplotlib.ticker import MaxNLocator

    ax = _axes(ax)
    ll = np.asarray(log_likelihoods, dtype=float)
    ll = ll / per_sample if per_sample else ll
    it = np.arange(1, len(ll) + 1)
    ax.plot(it, ll, "-o", ms=3, **kwargs)
    if marker is not None and 1 <= marker <= len(ll):
        ax.plot(marker, ll[marker - 1], "o", ms=10, color="crimson")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("iteration")
    ax.set_ylabel("mean log-likelihood per point" if per_sample else "log-likelihood")
    return ax


def plot_density_contours(fit, X=None, ax=None, levels=12, grid_size=200, margin=0.1, **kwargs):
    """Contours of log p(x) of a fitted 2-D mixture, over the data if given (notebook 08).

    Returns
    -------
    ax : matplotlib Axes
    """
    ax = _axes(ax)
    weights, means, covariances = _as_parameters(fit)
    if X is not None:
        X = np.asarray(X)
        lo, hi = X[:, :2].min(0), X[:, :2].max(0)
    else:
        sd = np.sqrt(np.diagonal(covariances, axis1=1, axis2=2))[:, :2]
        lo, hi = (means[:, :2] - 3 * sd).min(0), (means[:, :2] + 3 * sd).max(0)
    pad = margin * (hi - lo)
    gx, gy = np.meshgrid(
        np.linspace(lo[0] - pad[0], hi[0] + pad[0], grid_size),
        np.linspace(lo[1] - pad[1], hi[1] + pad[1], grid_size),
    )
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    z = score_samples(grid, (weights, means, covariances)).reshape(gx.shape)
    ax.contour(gx, gy, z, levels=levels, **kwargs)
    if X is not None:
        ax.scatter(X[:, 0], X[:, 1], s=6, c="k", alpha=0.5, linewidths=0)
    _label_axes(ax)
    return ax


# ---------------------------------------------------------------------------
# Exercises
# ---------------------------------------------------------------------------


def check_answer(name, answer, expected=None, rtol=None, atol=None):
    """Compare a learner's exercise answer with the expected one and print a verdict.

    ``name`` is the exercise's chapter.number ("6.1"); its expected value is
    computed in ``exercises.py``, out of sight of the notebook. ``answer=None``
    means "not attempted yet", so notebooks run top to bottom before anyone has
    written a line. ``expected`` (with ``rtol``, ``atol``) overrides the lookup,
    for checks outside the course's exercises. Returns True only for a correct answer.
    """
    label = name if str(name).startswith("Exercise") else f"Exercise {name}"
    if answer is None:
        print(f"{label}: not attempted yet (replace None with your answer and re-run this cell)")
        return False
    if expected is None:
        import exercises

        expected, default_rtol, default_atol = exercises.expected(name)
    else:
        default_rtol, default_atol = 1e-6, 1e-8
    rtol = default_rtol if rtol is None else rtol
    atol = default_atol if atol is None else atol
    try:
        ok = np.shape(answer) == np.shape(expected) and np.allclose(
            np.asarray(answer, dtype=float), np.asarray(expected, dtype=float), rtol=rtol, atol=atol
        )
    except (TypeError, ValueError):
        ok = False
    print(f"{label}: " + ("correct!" if ok else "not yet: check your shapes and values"))
    return bool(ok)


# The other models of chapters 10 and 11 live in modules of their own, imported last so that
# they may import this one.
from gmm_bernoulli import fit_bernoulli_mixture  # noqa: E402, F401
from gmm_bayes import fit_bayesian_gmm  # noqa: E402, F401

"""A mixture of multivariate Bernoullis fitted by EM, and the plots of chapter 10.

Notebook 10 runs the general EM recipe on a second model: binary images (pixels 0 or 1),
each drawn from one of K components whose pixels are independent coins. Every function
follows an equation of that notebook, "Eq. (10.n)". Notation, as in ``gmm_helpers``::

    X        (N, D)  binary data, one row per image x_n, values 0 and 1
    weights  (K,)    mixing weights pi_k, positive, summing to 1
    means    (K, D)  pixel probabilities mu_kd = p(x_d = 1 | z = k), in [0, 1]
    resp     (N, K)  responsibilities gamma_nk = p(z_n = k | x_n)
    nk       (K,)    effective number of images N_k = sum_n gamma_nk

``fit_bernoulli_mixture`` runs the two steps on ``gmm.em.em``, the loop every model of the
course shares; the input checks are ``gmm.checks``'; the plots draw on ``gmm.plots``' axes.
"""

from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp

from gmm import plots as gp
from gmm.checks import (
    check_bernoulli_parameters,
    check_binary,
    check_count,
    check_iterations,
    check_K,
    check_number,
    check_resp,
    check_rng,
)
from gmm.em import em


def _check_smoothing(smoothing):
    return check_number(smoothing, "smoothing", "smoothing=1e-2", low=0)


# ---------------------------------------------------------------------------
# The model: log-densities, E-step, M-step
# ---------------------------------------------------------------------------


def log_bernoulli_density(X, means):
    """log p(x_n | mu_k) = sum_d [x_nd log mu_kd + (1 - x_nd) log(1 - mu_kd)], Eq. (10.4).

    Exact at the edges: a pixel with mu_kd = 0 adds 0 where x_nd = 0 and -inf where x_nd = 1
    (0 log 0 = 0), as ``scipy.stats.bernoulli.logpmf`` does.

    Parameters
    ----------
    X : array-like of shape (N, D), values 0 and 1
    means : array-like of shape (K, D), values in [0, 1]

    Returns
    -------
    log_density : ndarray of shape (N, K)
    """
    X = check_binary(X)
    means = np.asarray(means, dtype=float)
    if means.ndim != 2 or means.shape[1] != X.shape[1] or not np.all((means >= 0) & (means <= 1)):
        raise ValueError(
            f"expected means of shape (K, {X.shape[1]}) with values in [0, 1], got shape "
            f"{means.shape}; try the means of a fit on the same pixels"
        )
    return _log_bernoulli(X, means)


def _log_bernoulli(X, means):
    # x log mu + (1 - x) log(1 - mu) = x logit(mu) + log(1 - mu): one product over the pixels.
    # einsum, not @: for these small products BLAS threads cost more than they save.
    inside = (means > 0) & (means < 1)
    with np.errstate(divide="ignore"):
        log_on, log_off = np.log(means), np.log1p(-means)  # K, D
    logit = np.where(inside, log_on - log_off, 0.0)
    log_density = np.einsum("nd,kd->nk", X, logit)
    log_density += np.where(inside | (means == 0), log_off, 0.0).sum(axis=1)
    if not inside.all():  # an edge: mu = 1 adds log 1 = 0 where x = 1, -inf where x = 0
        impossible = np.einsum("nd,kd->nk", X, means == 0) + np.einsum(
            "nd,kd->nk", 1 - X, means == 1
        )
        log_density[impossible > 0] = -np.inf
    return log_density


def bernoulli_e_step(X, weights, means):
    """Responsibilities, Eq. (10.6), and the log-likelihood, Eq. (10.5).

    gamma_nk = pi_k p(x_n | mu_k) / sum_j pi_j p(x_n | mu_j), in log space: the log-joint
    log pi_k + log p(x_n | mu_k) minus its log-sum-exp over k, which is log p(x_n).

    Parameters
    ----------
    X : array-like of shape (N, D), values 0 and 1
    weights : array-like of shape (K,)
    means : array-like of shape (K, D)

    Returns
    -------
    resp : ndarray of shape (N, K)
    log_likelihood : float
        sum_n log p(x_n), Eq. (10.5).
    """
    X = check_binary(X)
    weights, means = check_bernoulli_parameters(weights, means, X.shape[1])
    return _e_step(X, weights, means)


def _e_step(X, weights, means):
    log_joint = np.log(weights) + _log_bernoulli(X, means)  # N, K
    log_px = logsumexp(log_joint, axis=1, keepdims=True)  # N, 1
    if not np.all(np.isfinite(log_px)):
        raise ValueError(
            f"expected every row of X to be possible under some component, got "
            f"{int(np.sum(~np.isfinite(log_px)))} row(s) with p(x_n) = 0 (a pixel on where "
            "every mu_kd = 0, or off where every mu_kd = 1); try smoothing > 0 or other means"
        )
    return np.exp(log_joint - log_px), float(log_px.sum())


def bernoulli_m_step(X, resp, smoothing=1e-2):
    """New weights, Eq. (10.8), and pixel probabilities, Eq. (10.7).

    mu_kd = (sum_n gamma_nk x_nd + s) / (N_k + 2 s) with s = ``smoothing``: the maximum a
    posteriori estimate under a Beta(1 + s, 1 + s) prior on each mu_kd, which keeps every
    probability strictly between 0 and 1; s = 0 gives the maximum-likelihood M-step.
    pi_k = N_k / N.

    Parameters
    ----------
    X : array-like of shape (N, D), values 0 and 1
    resp : array-like of shape (N, K), rows summing to 1
    smoothing : float >= 0

    Returns
    -------
    weights : ndarray of shape (K,)
    means : ndarray of shape (K, D)
    """
    X = check_binary(X)
    resp = check_resp(resp, X.shape[0])
    return _m_step(X, resp, _check_smoothing(smoothing))


def _m_step(X, resp, smoothing):
    nk = resp.sum(axis=0)  # K
    if smoothing == 0 and np.any(nk == 0):
        raise ValueError(
            f"expected every component to keep some responsibility, got N_k = 0 for component(s) "
            f"{np.flatnonzero(nk == 0).tolist()} with smoothing=0; try smoothing=1e-2"
        )
    means = (np.einsum("nk,nd->kd", resp, X) + smoothing) / (nk[:, None] + 2 * smoothing)  # K, D
    return nk / X.shape[0], np.clip(means, 0.0, 1.0)  # clip: rounding can pass 1 by 1 ulp


# ---------------------------------------------------------------------------
# Fitting
# ---------------------------------------------------------------------------


@dataclass
class BernoulliMixtureFit:
    """The result of ``fit_bernoulli_mixture``.

    Attributes
    ----------
    weights : ndarray of shape (K,)
    means : ndarray of shape (K, D)
        Pixel probabilities mu_kd.
    resp : ndarray of shape (N, K)
        Responsibilities under the final parameters.
    log_likelihoods : ndarray of shape (n_iter,)
        The total log-likelihood computed in each iteration's E-step, i.e. of the
        parameters at the start of that iteration.
    n_iter : int
    converged : bool
    smoothing : float
    """

    weights: np.ndarray
    means: np.ndarray
    resp: np.ndarray
    log_likelihoods: np.ndarray
    n_iter: int
    converged: bool
    smoothing: float = 1e-2

    @property
    def n_components(self):
        return self.weights.shape[0]


def _initial_parameters(X, K, init, rng):
    if isinstance(init, (tuple, list)):
        if len(init) != 2:
            raise ValueError(
                f"expected init as a tuple (weights, means), got {len(init)} items; "
                "try init=(weights, means)"
            )
        weights, means = check_bernoulli_parameters(*init, n_features=X.shape[1])
        if weights.shape[0] != K:
            raise ValueError(
                f"expected initial parameters for K = {K} components, got {weights.shape[0]}; "
                "try n_components=len(weights)"
            )
        return weights, means
    if isinstance(init, str) and init == "random":
        # K distinct random images, each pixel pulled to 1/4 (off) or 3/4 (on)
        rows = check_rng(rng).choice(X.shape[0], size=K, replace=False)
        return np.full(K, 1.0 / K), 0.25 + 0.5 * X[rows]
    raise ValueError(
        f"expected init to be 'random' or a tuple (weights, means), got {init!r}; try init='random'"
    )


def fit_bernoulli_mixture(
    X, n_components, *, init="random", max_iter=100, tol=1e-3, smoothing=1e-2, rng=None
):
    """Fit a mixture of multivariate Bernoullis by EM (chapter 10).

    ``gmm.em.em`` alternates the E-step, Eq. (10.6), recording the log-likelihood of the
    current parameters, Eq. (10.5), and the M-step, Eqs. (10.7)-(10.8). It stops when
    the mean per-sample log-likelihood changes by less than ``tol`` between iterations
    (``tol=0`` runs exactly ``max_iter`` iterations), as ``gmm_helpers.fit_gmm`` does.
    With ``smoothing=0`` the log-likelihood never decreases.

    Parameters
    ----------
    X : array-like of shape (N, D)
        Values 0 and 1 only.
    n_components : int
        K, between 1 and N.
    init : "random" or tuple (weights, means)
        "random": equal weights, and as means K distinct random rows of X with every
        0 replaced by 1/4 and every 1 by 3/4.
    max_iter : int
    tol : float
    smoothing : float
        s of Eq. (10.7): the M-step is the MAP estimate under a Beta(1 + s, 1 + s) prior.
    rng : None, int or numpy.random.Generator
        Used by ``init="random"`` only.

    Returns
    -------
    BernoulliMixtureFit
    """
    X = check_binary(X)
    K = check_K(n_components, X.shape[0])
    max_iter, tol = check_iterations(max_iter, tol)
    smoothing = _check_smoothing(smoothing)
    run = em(
        _initial_parameters(X, K, init, rng),
        lambda params: _e_step(X, *params),
        lambda resp: _m_step(X, resp, smoothing),
        n_points=X.shape[0], max_iter=max_iter, tol=tol,
    )  # fmt: skip
    weights, means = run.params
    return BernoulliMixtureFit(
        weights=weights,
        means=means,
        resp=_e_step(X, weights, means)[0],
        log_likelihoods=run.objectives,
        n_iter=run.n_iter,
        converged=run.converged,
        smoothing=smoothing,
    )


def bernoulli_score_samples(X, fit):
    """log p(x_n) = log sum_k pi_k p(x_n | mu_k) for each row, Eq. (10.5).

    Parameters
    ----------
    X : array-like of shape (N, D), values 0 and 1
    fit : BernoulliMixtureFit or tuple (weights, means)

    Returns
    -------
    log_density : ndarray of shape (N,)
    """
    X = check_binary(X)
    if isinstance(fit, BernoulliMixtureFit):
        weights, means = fit.weights, fit.means
    elif isinstance(fit, (tuple, list)) and len(fit) == 2:
        weights, means = fit
    else:
        raise ValueError(
            f"expected a BernoulliMixtureFit or a tuple (weights, means), got "
            f"{type(fit).__name__}; try the result of fit_bernoulli_mixture(X, K)"
        )
    weights, means = check_bernoulli_parameters(weights, means, X.shape[1])
    return logsumexp(np.log(weights) + _log_bernoulli(X, means), axis=1)


def sample_bernoulli_mixture(weights, means, n_samples, rng=None):
    """Draw from the mixture, Eq. (10.5): a component z ~ pi, then each pixel ~ Bernoulli(mu_zd).

    Returns
    -------
    X : ndarray of shape (n_samples, D), values 0 and 1
    labels : ndarray of shape (n_samples,)
    """
    weights, means = check_bernoulli_parameters(weights, means)
    n = check_count(n_samples, "n_samples", 20)
    rng = check_rng(rng)
    labels = rng.choice(len(weights), size=n, p=weights)
    X = (rng.random((n, means.shape[1])) < means[labels]).astype(float)
    return X, labels


# ---------------------------------------------------------------------------
# Plotting: every helper takes ax=None and returns the axes
# ---------------------------------------------------------------------------


def plot_images(
    images, shape=(8, 8), n_cols=10, ax=None, *, titles=None, title=None, cmap="gray_r", vmax=1.0
):
    """Tile flattened images into one picture, a row of ``n_cols`` at a time (chapters 10, 11).

    Parameters
    ----------
    images : array-like of shape (M, H * W)
        Values from 0 to ``vmax`` (outside: shown as 0 or ``vmax``).
    shape : (H, W)
    titles : sequence of M str, optional
        Printed above each tile.
    title : str, optional
        The whole picture's title.
    """
    images = np.asarray(images, dtype=float)
    H, W = shape
    M = images.shape[0]
    n_cols = min(n_cols, M)
    n_rows = -(-M // n_cols)
    gap = 1 if titles is None else 3  # pixels between tiles (more room for titles)
    mosaic = np.full((n_rows * (H + gap) - gap, n_cols * (W + 1) - 1), np.nan)
    for i, img in enumerate(images):
        r, c = divmod(i, n_cols)
        mosaic[r * (H + gap) : r * (H + gap) + H, c * (W + 1) : c * (W + 1) + W] = img.reshape(H, W)
    ax = gp._axes(ax, figsize=(n_cols * 1.0, n_rows * (1.0 if titles is None else 1.3)))
    ax.imshow(mosaic, cmap=cmap, vmin=0, vmax=vmax, interpolation="nearest")
    if titles is not None:
        for i, text in enumerate(titles):
            r, c = divmod(i, n_cols)
            x, y = c * (W + 1) + (W - 1) / 2, r * (H + gap) - 0.7
            ax.text(x, y, text, ha="center", va="bottom", fontsize=8)
    ax.set_axis_off()
    if title is not None:
        ax.set_title(title)
    return ax


def plot_counts(counts, ax=None, xlabel="true digit", ylabel="cluster"):
    """A table of counts as a heat map with the numbers written in (chapter 10).

    Parameters
    ----------
    counts : array-like of shape (R, C), integers
    """
    counts = np.asarray(counts)
    ax = gp._axes(ax, figsize=(6, 5))
    ax.imshow(counts, cmap="Blues")
    for (r, c), n in np.ndenumerate(counts):
        if n:
            color = "white" if n > counts.max() / 2 else "black"
            ax.text(c, r, str(n), ha="center", va="center", fontsize=8, color=color)
    ax.set_xticks(range(counts.shape[1]))
    ax.set_yticks(range(counts.shape[0]))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return ax


def show_image(image, ax=None, title=None, **kwargs):
    """Show an (H, W, 3) or (H, W) image without axes (chapter 10); ``ax.images[0]`` is it."""
    ax = gp._axes(ax, figsize=(6, 4))
    ax.imshow(image, **kwargs)
    ax.set_axis_off()
    if title is not None:
        ax.set_title(title)
    return ax

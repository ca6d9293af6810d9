"""The course's plots: scatter plots coloured by responsibilities, covariance ellipses,
log-likelihood curves and density contours (``gp.plot_fit``, ``gp.plot_ellipses``, ...).

Every ``plot_*`` helper takes ``ax=None`` (a new 5 x 5 inch figure, ``_axes``) and returns the
axes; none calls ``plt.show()``. A layer above ``gmm_helpers``: it imports gh, never the reverse.
"""

import numpy as np

import gmm_helpers as gh


def _axes(ax, figsize=(5, 5)):
    """``ax``, or the axes of a new pyplot figure of ``figsize`` inches when ``ax`` is None: the
    one helper behind every plot of the course (``gmm.bayes`` and ``gmm.bernoulli`` too)."""
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=figsize)
    return ax


def component_colors(n_components):
    """K distinct RGB colours, (K, 3): tab10, then evenly spaced hues for larger K."""
    import matplotlib as mpl

    if n_components <= 10:
        return np.array(mpl.colormaps["tab10"].colors[:n_components])
    return mpl.colormaps["hsv"](np.linspace(0, 1, n_components, endpoint=False))[:, :3]


def aligned_colors(reference_means, means):
    """(K, 3) colours: the component matched to reference j gets colour j of
    ``component_colors``, so a cluster has the same colour in every figure (notebook 06).

    With as many components as references the match is ``align_components``'s. With K
    components and another number R of references (a fit with K = 4 against three true
    clusters), the min(K, R) closest pairs are matched the same way (least total squared
    distance between means, ``linear_sum_assignment`` on the rectangular cost), and the
    K - R components left over take colours R, R + 1, ... of ``component_colors``.
    """
    from scipy.optimize import linear_sum_assignment

    ref = np.asarray(reference_means, dtype=float)
    means = np.asarray(means, dtype=float)
    if ref.shape == means.shape:
        order = gh.align_components(ref, means)
        colors = np.empty((len(order), 3))
        colors[order] = component_colors(len(order))
        return colors
    if ref.ndim != 2 or means.ndim != 2 or ref.shape[1] != means.shape[1]:
        raise ValueError(
            f"expected two arrays of means (R, D) and (K, D) with the same D, got {ref.shape} "
            f"and {means.shape}; try the means of fits of the same data"
        )
    R, K = len(ref), len(means)
    cost = ((ref[:, None, :] - means[None, :, :]) ** 2).sum(-1)  # R, K
    rows, cols = linear_sum_assignment(cost)  # min(R, K) pairs
    base = component_colors(max(R, K))
    colors = np.empty((K, 3))
    colors[cols] = base[rows]
    rest = np.setdiff1d(np.arange(K), cols)  # components without a reference (K > R)
    colors[rest] = base[R : R + len(rest)]
    return colors


def _label_axes(ax, xlabel="$x_1$", ylabel="$x_2$"):
    if not ax.get_xlabel():
        ax.set_xlabel(xlabel)
    if not ax.get_ylabel():
        ax.set_ylabel(ylabel)


def plot_responsibilities(X, resp, ax=None, *, colors=None, s=6, alpha=0.6):
    """Scatter the points, each coloured by its responsibilities (notebooks 02, 04).

    A point's colour is sum_k gamma_nk c_k (the original's ``R @ colors``): pure where one
    component owns it, a blend where components share it.

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
    means, covariances, ax=None, *, n_std=(1, 2, 3), colors=None, weights=None, **kwargs
):
    """Draw each component's covariance ellipses at ``n_std`` sigma (notebooks 04, 06).

    The ellipse at k sigma is {x : (x - mu)^T Sigma^{-1} (x - mu) = k^2}, its axes along the
    eigenvectors of Sigma with half-lengths k sqrt(lambda); it holds 1 - exp(-k^2 / 2) of the
    mass, Eq. (6.1). Means get a cross; with ``weights`` the line width follows pi_k.

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
            style = dict(fill=False, color=colors[k][:3], lw=lw[k], **kwargs)
            ax.add_patch(Ellipse(means[k], width, height, angle=angle, **style))
        ax.plot(*means[k], marker="x", color="k", ms=8, mew=2)
    ax.autoscale_view()
    return ax


def plot_fit(X, fit, ax=None, *, n_std=(1, 2), title=None, s=6, reference_means=None):
    """Points coloured by responsibilities with the fit's ellipses and means (notebook 04).

    ``s`` is the points' marker size. With ``reference_means`` (K, 2), e.g. the true means,
    each component takes the colour of the reference it matches (``aligned_colors``).
    """
    ax = _axes(ax)
    weights, means, covariances = gh.as_parameters(fit)
    resp = fit.resp if isinstance(fit, gh.GMMFit) else None
    if resp is None:
        resp = gh.e_step(X, weights, means, covariances)[0]
    colors = component_colors(len(weights))
    if reference_means is not None:
        colors = aligned_colors(reference_means, means)
    plot_responsibilities(X, resp, ax=ax, colors=colors, s=s)
    plot_ellipses(means, covariances, ax=ax, n_std=n_std, colors=colors)
    if title is not None:
        ax.set_title(title)
    return ax


def plot_log_likelihood(log_likelihoods, ax=None, *, per_sample=None, marker=None, **kwargs):
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


def plot_density_contours(fit, X=None, ax=None, *, levels=12, grid_size=200, margin=0.1, **kwargs):
    """Contours of log p(x), Eq. (1.1), of a fitted 2-D mixture, over X if given (notebook 08)."""
    ax = _axes(ax)
    weights, means, covariances = gh.as_parameters(fit)
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
    z = gh.score_samples(grid, (weights, means, covariances)).reshape(gx.shape)
    ax.contour(gx, gy, z, levels=levels, **kwargs)
    if X is not None:
        ax.scatter(X[:, 0], X[:, 1], s=6, c="k", alpha=0.5, linewidths=0)
    _label_axes(ax)
    return ax


# ---------------------------------------------------------------------------
# Chapters 3 and 12: the ELBO below the log-likelihood along a slice
# ---------------------------------------------------------------------------


def _on_line(theta_a, theta_b, t):
    """theta_a + t (theta_b - theta_a), leaf by leaf (weights keep summing to 1)."""
    return tuple(
        np.asarray(a) + t * (np.asarray(b) - np.asarray(a))
        for a, b in zip(theta_a, theta_b, strict=True)
    )


def elbo_slice(X, theta_a, theta_b, ts, anchors=(0.0, 1.0)):
    """The log-likelihood, Eq. (3.1), and ELBO bounds, Eq. (3.7), along the line
    theta(t) = theta_a + t (theta_b - theta_a) through two parameter settings (chapters 3, 12).

    Bound j fixes q = gamma(theta(anchors[j])), the responsibilities at that point, so it
    touches the log-likelihood at t = anchors[j] and lies below it elsewhere.

    Returns
    -------
    log_likelihood : ndarray of shape (T,)
        NaN where theta(t) is not a mixture (a weight <= 0 or a covariance not positive definite).
    bounds : ndarray of shape (len(anchors), T)
    """
    ts = np.asarray(ts, dtype=float)
    qs = [gh.e_step(X, *_on_line(theta_a, theta_b, a))[0] for a in anchors]  # (N, K) each
    entropies = [-np.sum(q * np.log(np.where(q > 0, q, 1.0))) for q in qs]
    log_likelihood, bounds = np.full(ts.shape, np.nan), np.full((len(qs), ts.size), np.nan)
    for i, t in enumerate(ts):
        weights, means, covariances = _on_line(theta_a, theta_b, t)
        if not gh.valid_gmm((weights, means, covariances)):
            continue
        log_joint = np.log(weights) + gh.log_gaussian_density(X, means, covariances)  # N, K
        log_likelihood[i] = gh.logsumexp_rows(log_joint.T).sum()
        bounds[:, i] = [np.sum(q * log_joint) + h for q, h in zip(qs, entropies, strict=True)]
    return log_likelihood, bounds


def plot_elbo_slice(ts, log_likelihood, bounds, *, anchors=(0.0, 1.0), ax=None, per_sample=None):
    """Plot ``elbo_slice``'s curves (PRML's Fig. 9.14): the log-likelihood, each bound, and a dot
    where each bound touches it; ``per_sample`` = N divides the values by N. Returns the axes."""
    ax = _axes(ax, figsize=(7, 4))
    scale = 1.0 / per_sample if per_sample else 1.0
    ax.plot(ts, log_likelihood * scale, color="k", lw=2, label="log-likelihood $\\ell(\\theta)$")
    colors = ["tab:blue", "tab:orange", "tab:green", "tab:red"]
    for j, (bound, a) in enumerate(zip(bounds, anchors, strict=True)):
        color = colors[j % len(colors)]
        ax.plot(
            ts, bound * scale, color=color, lw=1.5, label=f"ELBO with $q = \\gamma$ at t = {a:g}"
        )
        ax.plot([a], [np.interp(a, ts, log_likelihood) * scale], "o", color=color, ms=7)
    finite = log_likelihood[np.isfinite(log_likelihood)]
    low, high = finite.min(), finite.max()
    pad = 0.15 * (high - low)
    ax.set_ylim((low - pad) * scale, (high + pad) * scale)
    ax.set(xlabel="t along $\\theta(t) = \\theta_0 + t(\\theta_1 - \\theta_0)$")
    ax.set_ylabel("per point" if per_sample else "log-likelihood")
    ax.legend(loc="lower center", fontsize=9)
    return ax


def plot_method_curves(x, means, spreads=None, *, ax=None, xlabel=None, ylabel=None, **kwargs):
    """One line per method against ``x`` (notebook 13): ``means`` maps a method's name to its
    values (len(x),), ``spreads`` (same keys, optional) to the half-lengths of error bars,
    e.g. the standard deviation over seeds."""
    ax = _axes(ax)
    for name, values in means.items():
        yerr = None if spreads is None else spreads[name]
        ax.errorbar(x, values, yerr=yerr, marker="o", ms=4, capsize=3, label=name, **kwargs)
    ax.set(xlabel=xlabel, ylabel=ylabel)
    ax.legend(fontsize="small")
    return ax

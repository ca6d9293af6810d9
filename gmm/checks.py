"""The input checks of the course's modules.

Every public function of ``gmm_helpers`` checks its input here first (the modules of chapters
10 and 11 too, for what is not particular to their models), so that bad input fails with one
clear ``ValueError`` that says what was expected, what came, and what to try, instead of a NaN
or a deep traceback. The checks run once, at the public functions; ``check_mixture`` hands on
the Cholesky factors it computed, so the computation does not factorise again. The bottom
layer: it imports no course module, so every module can use it, and the few constants the
models share (``COVARIANCE_TYPES``, ``INITS``, ``NK_EPS``) live here too. Nothing here is
mathematics; tests/test_gmm_helpers.py checks the messages.
"""

from numbers import Real

import numpy as np

COVARIANCE_TYPES = ("full", "diag", "spherical", "tied")
INITS = ("kmeans++", "random")  # the named starts of fit_gmm and the models above it
# Added to every N_k = sum_n gamma_nk before dividing by it, as scikit-learn does: a component
# that owns no point keeps a finite mean and a positive weight (m_step, Eq. 9.2, gmm.bayes).
NK_EPS = 10 * np.finfo(float).eps


def check_X(X, name="X"):
    """X as a float array of shape (N, D): 2-D, non-empty and finite."""
    try:
        A = np.asarray(X, dtype=float)
    except (TypeError, ValueError):
        A = None
    if A is None:
        problem = f"be a numeric array of shape (N, D), got {type(X).__name__}"
        hint = "np.asarray(X, dtype=float)"
    elif A.ndim != 2:
        problem = f"be 2-D with shape (N, D), got an array with shape {A.shape}"
        hint = "X.reshape(-1, 1) for a single feature or X.reshape(1, -1) for a single point"
    elif 0 in A.shape:
        problem = f"hold at least one point and one feature, got shape {A.shape}"
        hint = "passing non-empty data"
    elif not np.isfinite(A).all():
        n_bad = int((~np.isfinite(A).all(axis=1)).sum())
        problem = f"hold only finite numbers, got NaN or inf in {n_bad} row(s)"
        hint = "dropping them, e.g. X[np.isfinite(X).all(axis=1)]"
    else:
        return A
    raise ValueError(f"expected {name} to {problem}; try {hint}")


def is_int(x):
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def check_number(value, name, hint, *, integer=False, low=None, high=None):
    """An int (``integer``) or a finite real number, in [low, high]; a bool is neither."""
    real = isinstance(value, Real) and not isinstance(value, bool)
    ok = is_int(value) if integer else real and np.isfinite(value)
    ok = ok and (low is None or value >= low) and (high is None or value <= high)
    if not ok:
        what = "an int" if integer else "a finite number"
        bounds = f" >= {low}" if high is None else f" between {low} and {high}"
        bounds = "" if low is None else bounds
        raise ValueError(f"expected {name} to be {what}{bounds}, got {value!r}; try {hint}")
    return int(value) if integer else float(value)


def check_count(value, name, example):
    """An int >= 1; ``example`` is the value the message suggests."""
    return check_number(value, name, f"{name}={example}", integer=True, low=1)


def check_iterations(max_iter, tol):
    """EM's ``max_iter`` (an int >= 1) and ``tol`` (>= 0, per point); returns both."""
    return check_count(max_iter, "max_iter", 100), check_number(tol, "tol", "tol=1e-3", low=0)


def check_K(n_components, N):
    """The number of components, an int between 1 and N."""
    hint = f"n_components between 1 and N = {N}, the number of points"
    return check_number(n_components, "n_components", hint, integer=True, low=1, high=N)


def check_rng(rng):
    """A numpy Generator from None, an int seed or a Generator."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or is_int(rng):
        return np.random.default_rng(rng)
    raise ValueError(
        f"expected rng to be None, an int seed or a numpy Generator, got {type(rng).__name__}; "
        "try rng=0 or rng=np.random.default_rng(0)"
    )


def check_model(covariance_type, smoothing=0.0):
    """Check the covariance type and return the smoothing as a float >= 0."""
    if covariance_type not in COVARIANCE_TYPES:
        raise ValueError(
            f"expected covariance_type to be one of {COVARIANCE_TYPES}, got {covariance_type!r}; "
            "try covariance_type='full'"
        )
    return check_number(smoothing, "smoothing", "smoothing=1e-2 (the original's) or 1e-6", low=0)


def check_parameters(weights, means, covariances, n_features=None):
    """Check a mixture's (weights, means, covariances), or K Gaussians' with weights=None, and
    return them as float arrays."""
    weights, means, covariances, _ = check_mixture(weights, means, covariances, n_features)
    return (means, covariances) if weights is None else (weights, means, covariances)


def check_mixture(weights, means, covariances, n_features=None):
    """``check_parameters`` plus the Cholesky factors (K, D, D) of the covariances, computed
    once to check them: (weights, means, covariances, chol), weights None if given None."""
    means = np.asarray(means, dtype=float)
    covariances = np.asarray(covariances, dtype=float)
    D = n_features if n_features is not None else (means.shape[-1] if means.ndim == 2 else None)
    if means.ndim != 2 or means.shape[0] == 0 or (D is not None and means.shape[1] != D):
        raise ValueError(
            f"expected means of shape (K, D) with D = {D}, got shape {means.shape}; "
            "try one row per component and one column per feature"
        )
    K, D = means.shape
    if covariances.shape != (K, D, D):
        raise ValueError(
            f"expected covariances of shape (K, D, D) = ({K}, {D}, {D}), "
            f"got shape {covariances.shape}; try np.stack([np.eye(D)] * K)"
        )
    if not (np.isfinite(means).all() and np.isfinite(covariances).all()):
        raise ValueError(
            "expected finite means and covariances, got NaN or inf; "
            "try re-initialising the parameters"
        )
    scale = np.abs(covariances).max(axis=(1, 2)) + 1e-300
    asym = np.abs(covariances - covariances.transpose(0, 2, 1)).max(axis=(1, 2)) / scale
    if np.any(asym > 1e-8):
        raise ValueError(
            f"expected symmetric covariances, got component {int(np.argmax(asym))} with relative "
            f"asymmetry {asym.max():.2g}; try (C + C.transpose(0, 2, 1)) / 2"
        )
    chol = _cholesky(covariances)
    if chol is None:
        bad = [k for k, cov in enumerate(covariances) if not has_cholesky(cov)]
        raise ValueError(
            f"expected symmetric positive definite covariances, got component(s) {bad} that "
            "are not; try adding a small multiple of the identity, e.g. C + 1e-6 * np.eye(D)"
        )
    if weights is None:
        return None, means, covariances, chol
    weights = np.asarray(weights, dtype=float)
    if weights.shape != (K,) or not np.isfinite(weights).all() or np.any(weights <= 0):
        raise ValueError(
            f"expected K = {K} positive weights, one per mean, got {np.round(weights, 4)}; "
            "try np.full(K, 1 / K), or drop the components with weight 0"
        )
    if abs(weights.sum() - 1.0) > 1e-6:
        raise ValueError(
            f"expected weights that sum to 1, got a sum of {weights.sum():.6g}; "
            "try weights / weights.sum()"
        )
    return weights, means, covariances, chol


def _cholesky(cov):
    """The Cholesky factor(s) of one (D, D) or a stack of (K, D, D) matrices, or None if any
    has none (a finite one)."""
    try:
        chol = np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        return None
    return chol if np.isfinite(chol).all() else None


def has_cholesky(cov):
    """Whether the matrix cov (D, D) has a finite Cholesky factor (is positive definite)."""
    return _cholesky(cov) is not None


def collapse_error(components, smoothing):
    return ValueError(
        f"expected every covariance to stay positive definite, got component(s) {components} "
        f"collapsed onto too few points (smoothing={smoothing:g}); "
        "try increasing smoothing, e.g. smoothing=1e-6 or larger"
    )


def check_not_collapsed(covariances, smoothing, variance):
    """With smoothing = 0, a component on one point has rounding-noise variance: compare its
    smallest eigenvalue with the data's mean variance."""
    if smoothing == 0:
        collapsed = np.linalg.eigvalsh(covariances).min(axis=1) < 1e-10 * max(variance, 1e-300)
        if np.any(collapsed):
            raise collapse_error(np.flatnonzero(collapsed).tolist(), smoothing)


def check_resp(resp, N, K=None):
    """Responsibilities as a float array of shape (N, K): non-negative, rows summing to 1."""
    try:
        resp = np.asarray(resp, dtype=float)
    except (TypeError, ValueError):
        resp = np.zeros(0)
    if resp.ndim != 2 or resp.shape[0] != N or (K is not None and resp.shape[1] != K):
        raise ValueError(
            f"expected resp of shape (N, K) = ({N}, {K if K else 'K'}), got shape {resp.shape}; "
            "try one row per point and one column per component, as the E-step returns"
        )
    if not np.all(np.isfinite(resp)) or np.any(resp < 0) or not np.allclose(resp.sum(1), 1.0):
        raise ValueError(
            "expected non-negative responsibilities whose rows sum to 1, got other values; "
            "try resp / resp.sum(axis=1, keepdims=True)"
        )
    return resp


def check_start(init, K, D):
    """An initial (weights, means, covariances) for K components in D dimensions."""
    if len(init) != 3:
        raise ValueError(
            f"expected init as a tuple (weights, means, covariances), got {len(init)} items; "
            "try init=(weights, means, covariances)"
        )
    weights, means, covariances = check_parameters(*init, n_features=D)
    if weights.shape[0] != K:
        raise ValueError(
            f"expected initial parameters for K = {K} components, got {weights.shape[0]}; "
            "try n_components=len(weights)"
        )
    return weights, means, covariances


# Appended for the models of chapters 10 and 11 (gmm.bayes, gmm.bernoulli).


def check_positive(value, name, hint, above=0.0):
    """A finite real number > ``above`` (strictly: a prior's strength or degrees of freedom)."""
    real = isinstance(value, Real) and not isinstance(value, bool)
    if not (real and np.isfinite(value) and value > above):
        raise ValueError(f"expected {name} to be a number > {above:g}, got {value!r}; try {hint}")
    return float(value)


def check_array(value, name, shape, hint):
    """A float array of the given shape with finite entries."""
    A = np.asarray(value, dtype=float)
    if A.shape != shape or not np.all(np.isfinite(A)):
        raise ValueError(
            f"expected {name} of shape {shape} with finite entries, got shape {A.shape}; try {hint}"
        )
    return A


def check_binary(X, name="X"):
    """Binary data: a non-empty float array of shape (N, D) holding only 0 and 1."""
    try:
        X = np.asarray(X, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(
            f"expected {name} to be an array of 0/1 values of shape (N, D), "
            f"got {type(X).__name__}; try np.asarray(X, dtype=float)"
        ) from None
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(
            f"expected {name} to be a non-empty 2-D array of shape (N, D), got shape {X.shape}; "
            "try X.reshape(len(X), -1) to flatten images into rows"
        )
    bad = (X != 0) & (X != 1)
    if bad.any():
        raise ValueError(
            f"expected {name} to hold only the values 0 and 1, got {int(bad.sum())} other "
            f"value(s) such as {X[bad].flat[0]!r}; try binarising, e.g. "
            "X = (X >= threshold).astype(float)"
        )
    return X


def check_bernoulli_parameters(weights, means, n_features=None):
    """A Bernoulli mixture's (weights (K,), means (K, D)): positive weights summing to 1 and
    pixel probabilities in [0, 1]."""
    weights = np.asarray(weights, dtype=float)
    means = np.asarray(means, dtype=float)
    if weights.ndim != 1 or means.ndim != 2 or means.shape[0] != weights.shape[0]:
        raise ValueError(
            f"expected weights of shape (K,) and means of shape (K, D), got {weights.shape} and "
            f"{means.shape}; try the weights and means of a fit"
        )
    if n_features is not None and means.shape[1] != n_features:
        raise ValueError(
            f"expected means with D = {n_features} columns like X, got {means.shape[1]}; "
            "try parameters fitted on the same pixels"
        )
    if not (np.all(weights > 0) and np.isclose(weights.sum(), 1.0)):
        raise ValueError(
            f"expected positive weights summing to 1, got {np.round(weights, 4).tolist()}; "
            "try weights / weights.sum()"
        )
    if not np.all((means >= 0) & (means <= 1)):
        raise ValueError(
            "expected means (pixel probabilities) between 0 and 1, got values outside; "
            "try np.clip(means, 0, 1)"
        )
    return weights, means

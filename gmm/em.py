"""The EM recipe of chapter 10, once, for every model of the course.

A model brings a start and its two steps:

    e_step(params) -> (expectations, objective)   what the hidden variables are expected to be
                                                  under ``params``, and the objective there
                                                  (log-likelihood, log posterior or ELBO)
    m_step(expectations) -> params                the parameters that maximise the bound

``em`` alternates them, records the objective of every E-step and stops by one rule: the
objective changed by less than ``tol`` per point (scikit-learn's ``tol``; ``tol=0`` runs
``max_iter`` iterations). The Gaussian mixture (``gmm_helpers.fit_gmm``), its MAP and
variational versions (``gmm.bayes``) and the Bernoulli mixture (``gmm.bernoulli``) all run here.
"""

from dataclasses import dataclass, field

import numpy as np

from gmm.checks import check_count, check_iterations


@dataclass
class EMResult:
    """What ``em`` returns.

    params : the parameters after the last M-step (whatever the model's ``m_step`` returns)
    objectives : ndarray of shape (n_iter,)
        The objective of each E-step, i.e. of the parameters at the start of that iteration.
    n_iter : int
        The number of iterations (E-step plus M-step) run.
    converged : bool
        The last change of the objective per point was below ``tol``.
    history : list
        With ``keep_history=True``: history[0] is the start and history[i] the parameters after
        iteration i; otherwise empty.
    """

    params: object
    objectives: np.ndarray
    n_iter: int
    converged: bool
    history: list = field(default_factory=list, repr=False)


def _leafwise(f, *trees):
    """Apply ``f`` leaf by leaf to parameters that are (nested) tuples or lists of arrays."""
    if isinstance(trees[0], (tuple, list)):
        return tuple(_leafwise(f, *leaves) for leaves in zip(*trees, strict=True))
    return f(*(np.asarray(leaf, dtype=float) for leaf in trees))


def _squared_norm(tree):
    if isinstance(tree, tuple):
        return sum(_squared_norm(leaf) for leaf in tree)
    return float(np.sum(tree * tree))


def _check_accelerate(accelerate, is_valid):
    if not isinstance(accelerate, (bool, np.bool_)):
        raise ValueError(
            f"expected accelerate to be True (SQUAREM) or False (plain EM), got {accelerate!r}; "
            "try accelerate=True"
        )
    if is_valid is not None and not callable(is_valid):
        raise ValueError(
            f"expected is_valid to be None or a function params -> bool, got {is_valid!r}; "
            "try is_valid=None"
        )
    return bool(accelerate)


def em(
    start,
    e_step,
    m_step,
    *,
    n_points,
    max_iter=100,
    tol=1e-3,
    keep_history=False,
    accelerate=False,
    is_valid=None,
):
    """Iterate E-step and M-step from ``start`` (chapter 10's recipe); returns an ``EMResult``.

    ``n_points`` (N >= 1) scales ``tol`` (>= 0) to a change per point; ``max_iter`` >= 1.

    ``accelerate=True`` runs SQUAREM (Varadhan and Roland 2008, step length S3; chapter 12) on
    the same EM map F (one E-step plus one M-step): from a point p0 it takes p1 = F(p0),
    p2 = F(p1), r = p1 - p0, v = p2 - 2 p1 + p0, alpha = -|r| / |v| (at most -1), and tries
    p' = p0 - 2 alpha r + alpha^2 v, leaf by leaf on the parameters (tuples of arrays). A p'
    that ``is_valid(params)`` rejects (e.g. a negative weight) is pulled halfway back towards
    p2 (alpha -> (alpha - 1) / 2) until valid; a p' whose objective is below p1's (or whose steps
    fail) falls back to p2, plain EM's second step. ``objectives`` then holds the objective of
    the accepted points only (p0, p1, p' or p2, ...), so with a monotone EM map it never
    decreases; ``n_iter`` counts evaluations of F, rejected trials included, and ``max_iter``
    caps them; ``tol`` compares successive accepted objectives per point. With
    ``accelerate=False`` (the default) this is the plain loop, unchanged."""
    check_count(n_points, "n_points", "len(X)")
    max_iter, tol = check_iterations(max_iter, tol)
    if _check_accelerate(accelerate, is_valid):
        return _squarem(
            start, e_step, m_step,
            n_points=n_points, max_iter=max_iter, tol=tol, keep_history=keep_history,
            is_valid=is_valid,
        )  # fmt: skip
    params, objectives, converged = start, [], False
    history = [start] if keep_history else []
    for _ in range(max_iter):
        expectations, objective = e_step(params)
        params = m_step(expectations)
        if keep_history:
            history.append(params)
        converged = bool(objectives) and abs(objective - objectives[-1]) / n_points < tol
        objectives.append(float(objective))
        if converged:
            break
    return EMResult(params, np.array(objectives), len(objectives), converged, history)


def _squarem(start, e_step, m_step, *, n_points, max_iter, tol, keep_history, is_valid):
    """``em(..., accelerate=True)``: SQUAREM cycles p0 -> p1 -> p2 -> p' (see ``em``).

    ``history`` holds the accepted points: history[i] has objective objectives[i]; the last
    entry is F of the last accepted point, the parameters returned (as in the plain loop)."""
    objectives, accepted, converged, n_evals = [], [], False, 0

    def evaluate(point):  # one evaluation of the EM map: objective at point, and F(point)
        nonlocal n_evals
        n_evals += 1
        expectations, objective = e_step(point)
        return float(objective), m_step(expectations)

    def accept(point, objective):
        nonlocal converged
        converged = bool(objectives) and abs(objective - objectives[-1]) / n_points < tol
        objectives.append(objective)
        accepted.append(point)
        return converged or n_evals >= max_iter

    p0, step_max = start, 1.0
    l0, p1 = evaluate(p0)
    done = accept(p0, l0)
    while not done:
        l1, p2 = evaluate(p1)
        if accept(p1, l1):
            params = p2
            break
        r = _leafwise(np.subtract, p1, p0)
        v = _leafwise(lambda a, b, c: c - 2 * b + a, p0, p1, p2)
        rr, vv = _squared_norm(r), _squared_norm(v)
        alpha = -np.sqrt(rr / vv) if vv > 0 else -1.0
        alpha = min(max(alpha, -step_max), -1.0)
        if alpha == -step_max:  # the cap bound: let the next cycle step further
            step_max *= 4
        trial = None
        for _ in range(30):  # pull an invalid p' halfway back towards p2, alpha = -1
            if alpha == -1.0:
                break
            point = _leafwise(lambda a, b, c, s=alpha: a - 2 * s * b + s**2 * c, p0, r, v)
            if is_valid is None or is_valid(point):
                trial = point
                break
            alpha = (alpha - 1) / 2
        if trial is not None:
            try:
                lt, ft = evaluate(trial)
                ok = np.isfinite(lt) and lt >= l1
            except (ValueError, np.linalg.LinAlgError, FloatingPointError):
                ok = False
            if not ok:  # overshot: shorten the cap
                step_max = max(1.0, step_max / 4)
            if ok:
                p0, p1 = trial, ft
                if accept(trial, lt):
                    params = ft
                    break
                continue
            if n_evals >= max_iter:
                params = p2
                break
        p0 = p2  # fall back to plain EM: p2 starts the next cycle
        l0, p1 = evaluate(p0)
        if accept(p0, l0):
            params = p1
            break
    else:
        params = p1
    history = [*accepted, params] if keep_history else []
    return EMResult(params, np.array(objectives), n_evals, converged, history)

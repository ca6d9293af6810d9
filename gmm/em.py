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


def em(start, e_step, m_step, *, n_points, max_iter=100, tol=1e-3, keep_history=False):
    """Iterate E-step and M-step from ``start`` (chapter 10's recipe); returns an ``EMResult``.

    The caller checks its arguments: ``n_points`` (N > 0) scales ``tol`` to a change per point,
    ``max_iter`` >= 1, ``tol`` >= 0."""
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

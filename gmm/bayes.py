"""Bayesian Gaussian mixtures: MAP EM with conjugate priors and variational Bayes (chapter 11).

Every function follows an equation of chapter 11, named in its docstring. The
variational updates are those of Bishop's PRML, section 10.2, with the conventions
of scikit-learn's ``BayesianGaussianMixture`` (``fit_bayesian_gmm`` reproduces it
from the same starting responsibilities). Notation, as in ``gmm_helpers``::

    X                     (N, D)     data
    resp                  (N, K)     responsibilities r_nk = q(z_n = k)
    nk                    (K,)       N_k = sum_n r_nk
    xk                    (K, D)     weighted means x_bar_k
    sk                    (K, D, D)  weighted covariances S_k (+ smoothing I)
    weight_concentration  (K,) or ((K,), (K,))  Dirichlet alpha_k, or the Beta (a_k, b_k)
                                     of the stick-breaking (Dirichlet-process) prior
    mean_precision        (K,)       beta_k
    means                 (K, D)     m_k
    degrees_of_freedom    (K,)       nu_k
    covariances           (K, D, D)  W_k^{-1} / nu_k = E[Lambda_k]^{-1}

Both fits run on ``gmm.em.em``, the one EM loop of the course (``map_steps`` and
``vb_steps`` are their E- and M-steps); N_k, x_bar_k and S_k are ``gmm_helpers.m_step``'s.
"""

from dataclasses import dataclass

import numpy as np
from scipy.special import betaln, digamma, gammaln, logsumexp

import gmm_helpers as gh
from gmm import engine
from gmm import explorer as gx
from gmm import plots as gp
from gmm.checks import (
    check_array,
    check_iterations,
    check_K,
    check_number,
    check_positive,
    check_resp,
    check_rng,
    check_X,
    has_cholesky,
)
from gmm.em import em

PRIOR_TYPES = ("dirichlet_process", "dirichlet_distribution")


def _check_X(X):
    X = check_X(X)
    if X.shape[0] < 2:
        raise ValueError(
            f"expected X of shape (N, D) with N >= 2 points, got shape {X.shape}; "
            "try more points: the default priors use the data's covariance"
        )
    return X


@dataclass
class Priors:
    """The prior of the Bayesian mixture, with scikit-learn's names (chapter 11).

    Attributes
    ----------
    weight_concentration_prior_type : {"dirichlet_process", "dirichlet_distribution"}
    weight_concentration_prior : float
        alpha_0: the Dirichlet's concentration, or the stick-breaking Beta(1, alpha_0).
    mean_precision_prior : float
        beta_0: mu_k | Lambda_k ~ N(m_0, (beta_0 Lambda_k)^{-1}).
    mean_prior : ndarray of shape (D,)
        m_0.
    degrees_of_freedom_prior : float
        nu_0 > D - 1: Lambda_k ~ Wishart(W_0, nu_0), i.e. Sigma_k ~ inverse-Wishart(W_0^{-1}, nu_0).
    covariance_prior : ndarray of shape (D, D)
        W_0^{-1}, the inverse-Wishart's scale matrix Psi.
    """

    weight_concentration_prior_type: str
    weight_concentration_prior: float
    mean_precision_prior: float
    mean_prior: np.ndarray
    degrees_of_freedom_prior: float
    covariance_prior: np.ndarray


def make_priors(
    X,
    n_components,
    weight_concentration_prior_type="dirichlet_process",
    *,
    weight_concentration_prior=None,
    mean_precision_prior=None,
    mean_prior=None,
    degrees_of_freedom_prior=None,
    covariance_prior=None,
):
    """The priors with scikit-learn's defaults computed from X (chapter 11).

    Defaults: alpha_0 = 1 / K, beta_0 = 1, m_0 = the mean of X, nu_0 = D, and
    W_0^{-1} = the sample covariance of X (``np.cov``, divisor N - 1).

    Returns
    -------
    Priors
    """
    X = _check_X(X)
    N, D = X.shape
    K = check_K(n_components, N)
    if weight_concentration_prior_type not in PRIOR_TYPES:
        raise ValueError(
            f"expected weight_concentration_prior_type to be one of {PRIOR_TYPES}, "
            f"got {weight_concentration_prior_type!r}; try 'dirichlet_process'"
        )
    alpha0, beta0, nu0 = weight_concentration_prior, mean_precision_prior, degrees_of_freedom_prior
    alpha0 = (
        1.0 / K if alpha0 is None else check_positive(alpha0, "weight_concentration_prior", "1 / K")
    )
    beta0 = 1.0 if beta0 is None else check_positive(beta0, "mean_precision_prior", "1.0")
    nu_hint = f"degrees_of_freedom_prior={D} (> D - 1)"
    nu0 = (
        float(D) if nu0 is None else check_positive(nu0, "degrees_of_freedom_prior", nu_hint, D - 1)
    )
    m0 = X.mean(axis=0) if mean_prior is None else mean_prior
    m0 = check_array(m0, "mean_prior", (D,), "mean_prior=X.mean(axis=0)")
    psi = np.cov(X.T).reshape(D, D) if covariance_prior is None else covariance_prior
    psi = check_array(psi, "covariance_prior", (D, D), "covariance_prior=np.cov(X.T)")
    if not (np.allclose(psi, psi.T) and has_cholesky(psi)):
        raise ValueError(
            "expected a symmetric positive definite covariance_prior, got one that is not"
            + (" (the data's covariance is singular)" if covariance_prior is None else "")
            + "; try np.cov(X.T) + 1e-6 * np.eye(D)"
        )
    return Priors(weight_concentration_prior_type, alpha0, beta0, m0, nu0, psi)


def initial_resp(X, n_components, init="kmeans++", rng=None):
    """Starting responsibilities (N, K) (chapter 11).

    "kmeans++": each point belongs wholly to its nearest k-means++ centre (the start
    of ``gmm_helpers.fit_gmm``); "random": the same with K distinct data points drawn
    at random as centres; an (N, K) array is checked and returned.
    """
    X = _check_X(X)
    N = X.shape[0]
    K = check_K(n_components, N)
    if isinstance(init, str):
        if init not in gh.INITS:
            raise ValueError(
                f"expected init to be 'kmeans++', 'random' or an (N, K) array of "
                f"responsibilities, got {init!r}; try init='kmeans++'"
            )
        rng = check_rng(rng)
        if init == "kmeans++":
            centres = gh.kmeans_plusplus(X, K, rng=rng)
        else:
            centres = X[rng.choice(N, size=K, replace=False)]
        d2 = ((X[:, None, :] - centres[None, :, :]) ** 2).sum(-1)  # N, K
        resp = np.zeros((N, K))
        resp[np.arange(N), d2.argmin(axis=1)] = 1.0
        return resp
    return check_resp(init, N, K)


# ---------------------------------------------------------------------------
# The statistics of the responsibilities, Eq. (11.5)
# ---------------------------------------------------------------------------


def gaussian_statistics(X, resp, smoothing=0.0):
    """N_k, x_bar_k and S_k of Eq. (11.5) (PRML 10.51-10.53): those of the M-step of chapter 3.

    N_k = sum_n r_nk,  x_bar_k = (1/N_k) sum_n r_nk x_n,
    S_k = (1/N_k) sum_n r_nk (x_n - x_bar_k)(x_n - x_bar_k)^T + smoothing I,

    computed by ``gmm_helpers.m_step`` (Eqs. (3.3)-(3.5s), N_k = N pi_k), which, as
    scikit-learn does, adds 10 machine epsilons to N_k: an empty component's mean stays finite.

    Returns
    -------
    nk : ndarray of shape (K,)
    xk : ndarray of shape (K, D)
    sk : ndarray of shape (K, D, D)
    """
    weights, xk, sk = gh.m_step(X, resp, smoothing)
    return weights * X.shape[0], xk, sk


# ---------------------------------------------------------------------------
# MAP EM with conjugate priors, Eqs. (11.1)-(11.4)
# ---------------------------------------------------------------------------


def map_m_step(X, resp, priors):
    """The M-step of MAP EM, Eqs. (11.2)-(11.4) (chapter 11).

    pi_k = (N_k + alpha_0 - 1) / (N + K (alpha_0 - 1))                         (11.2)
    mu_k = (beta_0 m_0 + N_k x_bar_k) / (beta_0 + N_k)                          (11.3)
    Sigma_k = (Psi + N_k S_k + beta_0 N_k / (beta_0 + N_k) d_k d_k^T)
              / (nu_0 + N_k + D + 2),   d_k = x_bar_k - m_0                     (11.4)

    The joint mode of the Dirichlet times the Normal-inverse-Wishart posterior of each
    component: the m_k and W_k^{-1} of ``update_gaussian_wishart``, Eq. (11.7), with
    W_k^{-1} divided by nu_k + D + 2 (the mode) instead of nu_k. It needs alpha_0 >= 1.

    Parameters
    ----------
    X : ndarray of shape (N, D)
    resp : ndarray of shape (N, K)
    priors : Priors

    Returns
    -------
    weights : ndarray of shape (K,)
    means : ndarray of shape (K, D)
    covariances : ndarray of shape (K, D, D)
    """
    nk, xk, sk = gaussian_statistics(X, resp)
    K, D = xk.shape
    alpha0 = priors.weight_concentration_prior
    weights = (nk + alpha0 - 1) / (nk.sum() + K * (alpha0 - 1))
    _, means, nu, covariances = update_gaussian_wishart(nk, xk, sk, priors)
    return weights, means, covariances * (nu / (nu + D + 2))[:, None, None]


def log_prior(weights, means, covariances, priors):
    """log p(pi) + sum_k log p(mu_k, Sigma_k), the prior terms of Eq. (11.1).

    pi ~ Dirichlet(alpha_0, ..., alpha_0); Sigma_k ~ inverse-Wishart(Psi, nu_0) and
    mu_k | Sigma_k ~ N(m_0, Sigma_k / beta_0). Computed with scipy's densities.
    """
    from scipy.stats import dirichlet, invwishart, multivariate_normal

    alpha0 = priors.weight_concentration_prior
    K = len(weights)
    lp = dirichlet.logpdf(weights, np.full(K, alpha0)) if alpha0 != 1 else gammaln(K)
    for mean, cov in zip(means, covariances, strict=True):
        lp += invwishart.logpdf(
            cov, df=priors.degrees_of_freedom_prior, scale=priors.covariance_prior
        )
        lp += multivariate_normal.logpdf(mean, priors.mean_prior, cov / priors.mean_precision_prior)
    return float(lp)


def log_posterior(X, weights, means, covariances, priors):
    """log p(X | theta) + log p(theta), Eq. (11.1): what MAP EM climbs (up to a constant)."""
    log_l = gh.score_samples(X, (weights, means, covariances)).sum()
    return float(log_l + log_prior(weights, means, covariances, priors))


@dataclass
class MAPFit:
    """The result of ``fit_map_gmm``.

    ``log_posteriors[i]`` is Eq. (11.1) at the parameters that iteration i + 1 starts from
    (computed in its E-step, as ``GMMFit.log_likelihoods``).
    """

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    resp: np.ndarray
    log_posteriors: np.ndarray
    n_iter: int
    converged: bool
    priors: Priors

    @property
    def parameters(self):
        return self.weights, self.means, self.covariances


def fit_map_gmm(
    X,
    n_components,
    *,
    weight_concentration_prior=1.0,
    init="kmeans++",
    max_iter=100,
    tol=1e-3,
    rng=None,
    **priors,
):
    """MAP EM for a Gaussian mixture with conjugate priors, Eqs. (11.1)-(11.4) (chapter 11).

    The first parameters come from ``map_m_step`` on the starting responsibilities
    (``initial_resp``); ``gmm.em.em`` then alternates the E-step of chapter 3, recording the
    log posterior, Eq. (11.1), and the MAP M-step, and stops when the log posterior changes by
    less than ``tol`` per point. No smoothing: the inverse-Wishart prior keeps every covariance
    positive definite. The priors default as in ``make_priors``, except alpha_0 = 1 (a flat
    Dirichlet); below 1 the Dirichlet's density is unbounded at the faces of the simplex.
    ``priors``: the other keywords of ``make_priors`` (``mean_precision_prior``, ...).

    Returns
    -------
    MAPFit
    """
    X = _check_X(X)
    hint = "1.0 (below 1 the MAP weights run to the boundary), or fit_bayesian_gmm"
    alpha0 = check_number(weight_concentration_prior, "weight_concentration_prior", hint, low=1)
    priors = make_priors(
        X, n_components, "dirichlet_distribution", weight_concentration_prior=alpha0, **priors
    )
    max_iter, tol = check_iterations(max_iter, tol)
    start = map_m_step(X, initial_resp(X, n_components, init, rng), priors)
    e_step, m_step = map_steps(X, priors)
    run = em(start, e_step, m_step, n_points=X.shape[0], max_iter=max_iter, tol=tol)
    resp = e_step(run.params)[0]
    return MAPFit(*run.params, resp, run.objectives, run.n_iter, run.converged, priors)


def map_steps(X, priors):
    """The E-step and M-step of MAP EM, for ``gmm.em.em`` (chapter 11).

    ``e_step(params)`` returns the responsibilities (N, K) of Eq. (3.2) and the log
    posterior, Eq. (11.1), of ``params`` = (weights, means, covariances); ``m_step(resp)``
    is ``map_m_step``. The E-step runs on ``gmm.engine``, as ``gmm_helpers.fit_gmm``'s does;
    nothing is checked here (the fit checks its input once)."""
    YT, shift = engine.shifted_transpose(X)  # D, N

    def e_step(params):
        weights, means, covariances = params
        resp, log_likelihood = engine.responsibilities(YT, weights, means - shift, covariances)
        return resp.T, log_likelihood + log_prior(*params, priors)

    return e_step, lambda resp: map_m_step(X, resp, priors)


# ---------------------------------------------------------------------------
# Variational Bayes: the updates of q(pi) and q(mu, Lambda), Eqs. (11.6)-(11.7)
# ---------------------------------------------------------------------------


def update_weight_concentration(nk, priors):
    """The parameters of q(pi), Eq. (11.6) (PRML 10.58 and its stick-breaking version).

    Dirichlet: alpha_k = alpha_0 + N_k.
    Dirichlet process: q(v_k) = Beta(a_k, b_k) with a_k = 1 + N_k and
    b_k = alpha_0 + sum_{j > k} N_j, for the sticks v_k of pi_k = v_k prod_{j<k} (1 - v_j).

    Returns
    -------
    ndarray of shape (K,), or tuple (a, b) of two such arrays
    """
    alpha0 = priors.weight_concentration_prior
    if priors.weight_concentration_prior_type == "dirichlet_process":
        later = np.hstack((np.cumsum(nk[::-1])[-2::-1], 0))  # sum_{j > k} N_j
        return 1.0 + nk, alpha0 + later
    return alpha0 + nk


def update_gaussian_wishart(nk, xk, sk, priors):
    """The parameters of q(mu_k, Lambda_k) = N(m_k, (beta_k Lambda_k)^-1) W(W_k, nu_k), Eq. (11.7).

    beta_k = beta_0 + N_k,   m_k = (beta_0 m_0 + N_k x_bar_k) / beta_k,   nu_k = nu_0 + N_k,
    W_k^{-1} = W_0^{-1} + N_k S_k + beta_0 N_k / (beta_0 + N_k) (x_bar_k - m_0)(x_bar_k - m_0)^T

    (PRML 10.60-10.63, with nu_k = nu_0 + N_k). As scikit-learn, it returns
    ``covariances`` = W_k^{-1} / nu_k, the inverse of E[Lambda_k] = nu_k W_k.

    Returns
    -------
    mean_precision : ndarray of shape (K,)
    means : ndarray of shape (K, D)
    degrees_of_freedom : ndarray of shape (K,)
    covariances : ndarray of shape (K, D, D)
    """
    beta0, m0 = priors.mean_precision_prior, priors.mean_prior
    mean_precision = beta0 + nk
    means = (beta0 * m0 + nk[:, None] * xk) / mean_precision[:, None]
    degrees_of_freedom = priors.degrees_of_freedom_prior + nk
    d = xk - m0  # K, D
    shrink = (nk * beta0 / mean_precision)[:, None, None] * d[:, :, None] * d[:, None, :]
    covariances = priors.covariance_prior + nk[:, None, None] * sk + shrink
    covariances /= degrees_of_freedom[:, None, None]
    return mean_precision, means, degrees_of_freedom, covariances


def expected_weights(weight_concentration):
    """E[pi] under q(pi) (scikit-learn's ``weights_``).

    Dirichlet: alpha_k / sum_j alpha_j. Stick breaking: E[v_k] prod_{j<k} E[1 - v_j],
    renormalised to sum to 1 (truncated at K, the sticks leave a little mass over).
    """
    if isinstance(weight_concentration, tuple):
        a, b = weight_concentration
        rest = b / (a + b)
        w = a / (a + b) * np.hstack((1, np.cumprod(rest[:-1])))
        return w / w.sum()
    return weight_concentration / weight_concentration.sum()


# ---------------------------------------------------------------------------
# Variational Bayes: the expectations of the E-step, Eqs. (11.8)-(11.11)
# ---------------------------------------------------------------------------


def expected_log_weights(weight_concentration):
    """E[log pi_k] under q(pi), Eq. (11.8) (PRML 10.66).

    Dirichlet: psi(alpha_k) - psi(sum_j alpha_j). Stick breaking:
    E[log v_k] + sum_{j<k} E[log(1 - v_j)], with E[log v] = psi(a) - psi(a + b) and
    E[log(1 - v)] = psi(b) - psi(a + b). (psi is the digamma function.)

    Returns
    -------
    ndarray of shape (K,)
    """
    if isinstance(weight_concentration, tuple):
        a, b = weight_concentration
        psi_ab = digamma(a + b)
        log_v, log_1mv = digamma(a) - psi_ab, digamma(b) - psi_ab
        return log_v + np.hstack((0, np.cumsum(log_1mv)[:-1]))
    return digamma(weight_concentration) - digamma(weight_concentration.sum())


def expected_log_det_precision(degrees_of_freedom, covariances):
    """E[log |Lambda_k|] under q(Lambda_k), Eq. (11.9) (PRML 10.65).

    sum_{i=1}^{D} psi((nu_k + 1 - i) / 2) + D log 2 + log |W_k|, with
    W_k = (nu_k covariances_k)^{-1}.

    Returns
    -------
    ndarray of shape (K,)
    """
    D = covariances.shape[-1]
    log_det_cov = 2 * np.log(np.diagonal(np.linalg.cholesky(covariances), axis1=1, axis2=2)).sum(1)
    log_det_w = -D * np.log(degrees_of_freedom) - log_det_cov
    psi = digamma(0.5 * (degrees_of_freedom[:, None] - np.arange(D)[None, :])).sum(1)
    return psi + D * np.log(2.0) + log_det_w


def expected_log_gaussian(X, means, covariances, mean_precision, degrees_of_freedom):
    """E[log N(x_n | mu_k, Lambda_k^{-1})] under q(mu_k, Lambda_k), Eq. (11.10) (PRML 10.64).

    = (1/2) E[log |Lambda_k|] - (D/2) log 2 pi
      - (1/2) (D / beta_k + nu_k (x_n - m_k)^T W_k (x_n - m_k)).

    Returns
    -------
    ndarray of shape (N, K)
    """
    D = X.shape[1]
    # nu_k W_k = covariances_k^{-1} = P_k^T P_k with P_k = L_k^{-1}, covariances_k = L_k L_k^T
    prec_chol = np.linalg.inv(np.linalg.cholesky(covariances))  # K, D, D
    y = prec_chol @ X.T - (prec_chol @ means[:, :, None])  # K, D, N: P_k (x_n - m_k)
    maha = (y * y).sum(axis=1).T  # N, K (a view: each column is contiguous)
    log_det = expected_log_det_precision(degrees_of_freedom, covariances)
    return 0.5 * log_det - 0.5 * D * np.log(2 * np.pi) - 0.5 * (D / mean_precision + maha)


def log_rho(X, params):
    """log rho_nk = E[log pi_k] + E[log N(x_n | mu_k, Lambda_k^{-1})], Eq. (11.11); (N, K).

    The E-step normalises each row: log r_nk = log rho_nk - logsumexp_j log rho_nj.
    """
    return expected_log_weights(params["weight_concentration"])[None, :] + expected_log_gaussian(
        X,
        params["means"],
        params["covariances"],
        params["mean_precision"],
        params["degrees_of_freedom"],
    )


def vb_m_step(X, resp, priors, smoothing=0.0):
    """q(pi) and q(mu, Lambda) from the responsibilities, Eqs. (11.5)-(11.7); a dict."""
    nk, xk, sk = gaussian_statistics(X, resp, smoothing)
    mean_precision, means, degrees_of_freedom, covariances = update_gaussian_wishart(
        nk, xk, sk, priors
    )
    return {
        "weight_concentration": update_weight_concentration(nk, priors),
        "mean_precision": mean_precision,
        "means": means,
        "degrees_of_freedom": degrees_of_freedom,
        "covariances": covariances,
    }


# ---------------------------------------------------------------------------
# The evidence lower bound, Eqs. (11.12)-(11.15)
# ---------------------------------------------------------------------------


def kl_weights(weight_concentration, priors):
    """KL(q(pi) || p(pi)), Eq. (11.14).

    Dirichlet(alpha) against Dirichlet(alpha_0, ..., alpha_0):
    log Gamma(sum alpha_k) - sum log Gamma(alpha_k) - log Gamma(K alpha_0) + K log Gamma(alpha_0)
    + sum_k (alpha_k - alpha_0) (psi(alpha_k) - psi(sum_j alpha_j)).
    Stick breaking: sum_k KL(Beta(a_k, b_k) || Beta(1, alpha_0)), each
    log B(1, alpha_0) - log B(a, b) + (a - 1) psi(a) + (b - alpha_0) psi(b)
    + (1 + alpha_0 - a - b) psi(a + b).
    """
    alpha0 = priors.weight_concentration_prior
    if isinstance(weight_concentration, tuple):
        a, b = weight_concentration
        return float(
            np.sum(
                betaln(1.0, alpha0)
                - betaln(a, b)
                + (a - 1) * digamma(a)
                + (b - alpha0) * digamma(b)
                + (1 + alpha0 - a - b) * digamma(a + b)
            )
        )
    alpha = weight_concentration
    K = len(alpha)
    return float(
        gammaln(alpha.sum())
        - gammaln(alpha).sum()
        - gammaln(K * alpha0)
        + K * gammaln(alpha0)
        + np.sum((alpha - alpha0) * (digamma(alpha) - digamma(alpha.sum())))
    )


def log_wishart_norm(W_inv, nu):
    """log B(W, nu) of the Wishart density, from W^{-1}; (K,) (PRML B.79).

    log B = (nu / 2) log |W^{-1}| - (nu D / 2) log 2 - log Gamma_D(nu / 2).
    """
    D = W_inv.shape[-1]
    log_det = 2 * np.log(np.diagonal(np.linalg.cholesky(W_inv), axis1=-2, axis2=-1)).sum(-1)
    half = 0.5 * np.asarray(nu, dtype=float)[..., None]  # log Gamma_D, as scipy's multigammaln
    multigamma = D * (D - 1) / 4 * np.log(np.pi) + gammaln(half - 0.5 * np.arange(D)).sum(-1)
    return 0.5 * nu * log_det - 0.5 * nu * D * np.log(2.0) - multigamma


def kl_gaussian_wishart(params, priors, per_component=False):
    """sum_k KL(q(mu_k, Lambda_k) || p(mu_k, Lambda_k)), Eq. (11.15); with ``per_component``
    the K terms, an array of shape (K,). ``params``: a dict as ``vb_m_step`` returns, or
    ``vars(fit)`` of a ``BayesianGMMFit``.

    Per component, the Wishart part
    log B(W_k, nu_k) - log B(W_0, nu_0) + (nu_k - nu_0)/2 E[log |Lambda_k|] - nu_k D / 2
    + (nu_k / 2) tr(W_0^{-1} W_k),
    plus the expected KL of the two Gaussians on mu_k given Lambda_k,
    (1/2) (D beta_0 / beta_k - D + D log(beta_k / beta_0)
           + beta_0 nu_k (m_k - m_0)^T W_k (m_k - m_0)).
    """
    beta0, m0, nu0 = (
        priors.mean_precision_prior,
        priors.mean_prior,
        priors.degrees_of_freedom_prior,
    )
    beta, means, nu, cov = (
        params["mean_precision"],
        params["means"],
        params["degrees_of_freedom"],
        params["covariances"],
    )
    D = means.shape[1]
    W_inv = cov * nu[:, None, None]
    W = np.linalg.inv(W_inv)
    e_log_det = expected_log_det_precision(nu, cov)
    log_b = log_wishart_norm(W_inv, nu)
    log_b0 = log_wishart_norm(priors.covariance_prior[None], np.array([nu0]))[0]
    trace = np.einsum("ij,kji->k", priors.covariance_prior, W)
    kl_wishart = log_b - log_b0 + 0.5 * (nu - nu0) * e_log_det - 0.5 * nu * D + 0.5 * nu * trace
    d = means - m0
    maha = np.einsum("ki,kij,kj->k", d, W, d)
    kl_mean = 0.5 * (D * beta0 / beta - D + D * np.log(beta / beta0) + beta0 * nu * maha)
    kl = kl_wishart + kl_mean  # K
    return kl if per_component else float(np.sum(kl))


def elbo_terms(X, resp, params, priors, *, log_rho_new=None, log_resp=None):
    """The four terms of the ELBO, Eq. (11.12); a dict whose values sum to the ELBO.

    "E[log p(X, Z | pi, mu, Lambda)]": sum_nk r_nk log rho_nk, Eq. (11.13);
    "H[q(Z)]": -sum_nk r_nk log r_nk;
    "-KL(q(pi) || p(pi))": Eq. (11.14);
    "-KL(q(mu, Lambda) || p(mu, Lambda))": Eq. (11.15).

    ``resp`` is q(Z) and ``params`` the q(pi) q(mu, Lambda) of ``vb_m_step``;
    ``log_rho_new`` (``log_rho(X, params)``) and ``log_resp`` (log r) may be passed
    when already computed.
    """
    lr = log_rho(X, params) if log_rho_new is None else log_rho_new
    if log_resp is None:
        with np.errstate(divide="ignore"):
            log_resp = np.log(resp)
    with np.errstate(invalid="ignore"):
        entropy = -np.sum(np.where(resp > 0, resp * log_resp, 0.0))
    return {
        "E[log p(X, Z | pi, mu, Lambda)]": float(np.sum(resp * lr)),
        "H[q(Z)]": float(entropy),
        "-KL(q(pi) || p(pi))": -kl_weights(params["weight_concentration"], priors),
        "-KL(q(mu, Lambda) || p(mu, Lambda))": -kl_gaussian_wishart(params, priors),
    }


def elbo(X, resp, params, priors, *, log_rho_new=None, log_resp=None):
    """The evidence lower bound, Eq. (11.12): sum of ``elbo_terms``; <= log p(X)."""
    terms = elbo_terms(X, resp, params, priors, log_rho_new=log_rho_new, log_resp=log_resp)
    return float(sum(terms.values()))


def collapsed_bound(entropy, params):
    """The ELBO with the terms that cancel at the exact update dropped, Eq. (11.16).

    When q(pi) q(mu, Lambda) is the exact update for q(Z) (``vb_m_step`` with
    smoothing 0), the ELBO equals, up to a constant that depends only on the prior, N
    and D,

        H[q(Z)] - log C(q(pi)) - sum_k log B(W_k, nu_k) - (D / 2) sum_k log beta_k,

    with log C(q(pi)) = log Gamma(sum alpha_k) - sum log Gamma(alpha_k) for the Dirichlet
    and -sum_k log B(a_k, b_k) for the sticks. scikit-learn's ``lower_bounds_`` hold
    this quantity (without the log pi constants of ``log_wishart_norm``), and its stopping
    rule compares it between iterations.
    """
    conc = params["weight_concentration"]
    if isinstance(conc, tuple):
        log_c = -np.sum(betaln(*conc))
    else:
        log_c = gammaln(conc.sum()) - gammaln(conc).sum()
    nu, beta = params["degrees_of_freedom"], params["mean_precision"]
    D = params["means"].shape[1]
    log_b = log_wishart_norm(params["covariances"] * nu[:, None, None], nu)
    return float(entropy - log_c - log_b.sum() - 0.5 * D * np.log(beta).sum())


# ---------------------------------------------------------------------------
# The fit
# ---------------------------------------------------------------------------


@dataclass
class BayesianGMMFit:
    """The result of ``fit_bayesian_gmm`` (scikit-learn's attribute names without "_").

    Attributes
    ----------
    weights : ndarray of shape (K,)
        E[pi] under q(pi) (``weights_``).
    means : ndarray of shape (K, D)
        m_k, the mean of q(mu_k) (``means_``).
    covariances : ndarray of shape (K, D, D)
        W_k^{-1} / nu_k = E[Lambda_k]^{-1} (``covariances_``).
    resp : ndarray of shape (N, K)
        q(Z) under the final parameters (scikit-learn's ``predict_proba(X)``).
    lower_bounds : ndarray of shape (n_iter,)
        The ELBO, Eq. (11.12), computed in each iteration's E-step: its q(Z) with the
        q(pi) q(mu, Lambda) the iteration starts from (as ``GMMFit.log_likelihoods``).
        scikit-learn's ``lower_bounds_`` hold the collapsed bound of Eq. (11.16) after
        each M-step instead.
    n_iter : int
    converged : bool
    weight_concentration : ndarray of shape (K,) or tuple of two
    mean_precision : ndarray of shape (K,)
    degrees_of_freedom : ndarray of shape (K,)
    priors : Priors
    smoothing : float
    """

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    resp: np.ndarray
    lower_bounds: np.ndarray
    n_iter: int
    converged: bool
    weight_concentration: object
    mean_precision: np.ndarray
    degrees_of_freedom: np.ndarray
    priors: Priors
    smoothing: float

    @property
    def n_components(self):
        return self.weights.shape[0]

    @property
    def parameters(self):
        """(weights, means, covariances): the plug-in mixture, for ``gmm_helpers`` functions."""
        return self.weights, self.means, self.covariances


def fit_bayesian_gmm(
    X,
    n_components,
    *,
    weight_concentration_prior_type="dirichlet_process",
    smoothing=1e-6,
    init="kmeans++",
    max_iter=5000,
    tol=1e-8,
    rng=None,
    **priors,
):
    """Variational Bayes for a Gaussian mixture with full covariances (chapter 11).

    The model: pi ~ Dirichlet(alpha_0) ("dirichlet_distribution") or stick breaking
    with v_k ~ Beta(1, alpha_0) truncated at K ("dirichlet_process");
    Lambda_k ~ Wishart(W_0, nu_0), mu_k | Lambda_k ~ N(m_0, (beta_0 Lambda_k)^{-1});
    z_n ~ Categorical(pi), x_n ~ N(mu_{z_n}, Lambda_{z_n}^{-1}). The posterior is
    approximated by q(Z) q(pi) prod_k q(mu_k, Lambda_k).

    The first q(pi) q(mu, Lambda) come from an M-step, Eqs. (11.5)-(11.7), on the
    starting responsibilities; ``gmm.em.em`` then alternates the E-step, Eq. (11.11),
    recording the ELBO, Eq. (11.12), and the M-step, and stops when the ELBO changes by less
    than ``tol`` per point. From the same start the iterates are those of scikit-learn's
    ``BayesianGaussianMixture`` (which stops when its collapsed bound, Eq. (11.16), changes by
    less than its ``tol`` in total).

    Parameters
    ----------
    X : array-like of shape (N, D)
    n_components : int
        K, the truncation level: an upper bound on the components used.
    weight_concentration_prior_type : {"dirichlet_process", "dirichlet_distribution"}
    smoothing : float, default 1e-6
        Added to the diagonal of every S_k (scikit-learn's ``reg_covar``).
    init : "kmeans++", "random" or array-like of shape (N, K)
        Starting responsibilities; see ``initial_resp``.
    max_iter : int
    tol : float
        The change of the ELBO per point that stops the fit. The default is far tighter than
        ``fit_gmm``'s: spare components hand over their points slowly, and at tol=1e-5 a fit
        of the seed data can stop on such a plateau with a fourth component (chapter 11).
    rng : None, int or numpy.random.Generator
        Used by the initialisation only.
    **priors
        The keywords of ``make_priors``, each defaulting to scikit-learn's:
        weight_concentration_prior : float, default 1 / K
            alpha_0. Small values favour few components.
        mean_precision_prior : float, default 1
            beta_0: how many points' worth of belief the prior on each mean holds.
        mean_prior : array-like of shape (D,), default the mean of X
            m_0.
        degrees_of_freedom_prior : float > D - 1, default D
            nu_0.
        covariance_prior : array-like of shape (D, D), default the covariance of X
            W_0^{-1}, the scale matrix of the inverse-Wishart prior on Sigma_k.

    Returns
    -------
    BayesianGMMFit
    """
    X = _check_X(X)
    priors = make_priors(X, n_components, weight_concentration_prior_type, **priors)
    smoothing = check_number(smoothing, "smoothing", "smoothing=1e-6", low=0)
    max_iter, tol = check_iterations(max_iter, tol)
    start = vb_m_step(X, initial_resp(X, n_components, init, rng), priors, smoothing)
    e_step, m_step = vb_steps(X, priors, smoothing)
    run = em(start, e_step, m_step, n_points=X.shape[0], max_iter=max_iter, tol=tol)
    params = run.params
    return BayesianGMMFit(
        weights=expected_weights(params["weight_concentration"]),
        means=params["means"],
        covariances=params["covariances"],
        resp=e_step(params)[0],
        lower_bounds=run.objectives,
        n_iter=run.n_iter,
        converged=run.converged,
        weight_concentration=params["weight_concentration"],
        mean_precision=params["mean_precision"],
        degrees_of_freedom=params["degrees_of_freedom"],
        priors=priors,
        smoothing=float(smoothing),
    )


def vb_steps(X, priors, smoothing):
    """The E-step and M-step of variational Bayes, for ``gmm.em.em`` (chapter 11).

    ``e_step(params)`` returns q(Z), Eq. (11.11), and the ELBO, Eq. (11.12), of that q(Z)
    with the q(pi) q(mu, Lambda) in ``params``; ``m_step(resp)`` is ``vb_m_step``."""

    def e_step(params):
        lr = log_rho(X, params)  # N, K
        log_resp = lr - logsumexp(lr, axis=1, keepdims=True)  # Eq. (11.11)
        resp = np.exp(log_resp)
        return resp, elbo(X, resp, params, priors, log_rho_new=lr, log_resp=log_resp)

    return e_step, lambda resp: vb_m_step(X, resp, priors, smoothing)


# ---------------------------------------------------------------------------
# Plots and the concentration explorer (chapter 11)
# ---------------------------------------------------------------------------

SURVIVAL_SHARE = 0.01  # a component "survives" if it owns more than 1 % of the points
SIZES = (50, 200, 2000)


def survivors(weights, share=SURVIVAL_SHARE):
    """Indices of the components whose weight exceeds ``share`` (1 % of the points)."""
    return np.flatnonzero(np.asarray(weights) > share)


def survivor_colors(weights, means, reference_means=None):
    """(K, 3) colours, the true clusters' for the components that match them.

    With reference (e.g. true) means of shape (J, D), heaviest first, the min(J, K) heaviest
    components are matched to the first min(J, K) references by ``gmm_helpers.align_components``
    (the Hungarian algorithm); the component matched to reference j gets colour j of
    ``gp.component_colors``, every other component one of the rest, heaviest first.
    """
    K = len(weights)
    order = np.arange(K)
    if reference_means is not None:
        ref = np.asarray(reference_means, dtype=float)
        heaviest = np.argsort(-np.asarray(weights), kind="stable")
        n = min(len(ref), K)
        matched = heaviest[:n][gh.align_components(ref[:n], np.asarray(means)[heaviest[:n]])]
        order = np.r_[matched, heaviest[n:]]
    palette = gp.component_colors(K)
    colors = np.empty((K, 3))
    colors[order] = palette[:, :3]
    return colors


def plot_bayesian_fit(X, fit, ax=None, *, reference_means=None, share=SURVIVAL_SHARE, s=6):
    """Points coloured by responsibilities, ellipses (1, 2 sd) of the surviving components only.

    ``fit`` is a ``BayesianGMMFit`` or ``MAPFit``; with ``reference_means`` each
    survivor takes the colour of the true cluster it matches (``survivor_colors``).
    Returns the axes.
    """
    ax = gp._axes(ax)
    colors = survivor_colors(fit.weights, fit.means, reference_means)
    gp.plot_responsibilities(X, fit.resp, ax=ax, colors=colors, s=s)
    alive = survivors(fit.weights, share)
    gp.plot_ellipses(
        fit.means[alive], fit.covariances[alive], ax=ax, n_std=(1, 2), colors=colors[alive]
    )
    return ax


def plot_weights(fit, n_samples, ax=None, colors=None, share=SURVIVAL_SHARE):
    """Bars of N pi_k, the points each component owns, on a log scale; the 1 % line dashed.

    Returns the axes.
    """
    ax = gp._axes(ax, figsize=(5, 3))
    points = np.maximum(np.asarray(fit.weights) * n_samples, 1e-3)
    ax.bar(np.arange(1, len(points) + 1), points, color=colors)
    ax.axhline(share * n_samples, color="k", ls="--", lw=1, label=f"{share:.0%} of the points")
    ax.set_yscale("log")
    ax.set_ylim(1e-3, 2 * n_samples)
    step = 1 if len(points) <= 15 else 5
    ax.set_xticks(
        np.r_[1, np.arange(step, len(points) + 1, step)]
        if step > 1
        else np.arange(1, len(points) + 1)
    )
    ax.set_xlabel("component k (stick order)")
    ax.set_ylabel(r"points owned, $N \, \mathrm{E}[\pi_k]$")
    ax.legend(loc="upper right")
    return ax


def seed_data_fit(
    weight_concentration_prior, n_samples, *, n_components=10, rng=2, separation=5.0, tol=1e-8
):
    """The seed data and its Dirichlet-process fit at one alpha_0 (chapter 11).

    ``gmm_helpers.sample_seed_data(separation, n_samples, rng=0)`` and ``fit_bayesian_gmm`` with
    K = ``n_components``, run to ``tol`` per point (at most 5000 iterations): a looser ``tol``
    stops on the plateaus where spare components slowly hand over their points.
    Returns (X, fit).
    """
    X, _ = gh.sample_seed_data(separation, n_samples, rng=0)
    fit = fit_bayesian_gmm(
        X,
        n_components,
        weight_concentration_prior=weight_concentration_prior,
        max_iter=5000,
        tol=tol,
        rng=rng,
    )
    return X, fit


def concentration_figure(weight_concentration_prior=1e-2, n_samples=2000, **fit_args):
    """The fit of ``seed_data_fit`` (``fit_args`` are its keywords) and its weights, side by
    side; returns a matplotlib Figure."""
    from matplotlib.figure import Figure

    X, fit = seed_data_fit(weight_concentration_prior, n_samples, **fit_args)
    true_means = gh.seed_parameters(fit_args.get("separation", 5.0))[1]
    colors = survivor_colors(fit.weights, fit.means, true_means)
    fig = Figure(figsize=(10, 4.2), layout="constrained")
    ax_fit, ax_w = fig.subplots(1, 2, width_ratios=(1, 1.3))
    plot_bayesian_fit(X, fit, ax=ax_fit, reference_means=true_means, s=6 if n_samples > 500 else 20)
    plot_weights(fit, n_samples, ax=ax_w, colors=colors)
    n_alive = len(survivors(fit.weights))
    fig.suptitle(
        rf"$\alpha_0$ = {weight_concentration_prior:.3g}, N = {n_samples}: {n_alive} of "
        f"{fit.n_components} components own more than 1 % of the points"
    )
    return fig


def concentration_explorer(weight_concentration_prior=1e-2, n_samples=2000, **fit_args):
    """A log-scale slider for alpha_0 and a choice of N for ``concentration_figure``
    (``fit_args``: the keywords of ``seed_data_fit``).

    The course's explorer (``gmm.explorer``): an error shows as a message, never a
    traceback. Returns a VBox carrying ``.controls`` and ``.state`` (the last figure).
    """
    import ipywidgets as w

    style = {"description_width": "initial"}
    controls = {
        "weight_concentration_prior": w.FloatLogSlider(
            value=weight_concentration_prior,
            base=10,
            min=-4,
            max=4,
            step=0.5,
            description="concentration prior alpha_0",
            continuous_update=False,
            readout_format=".3g",
            style=style,
            layout=w.Layout(width="460px"),
        ),
        "n_samples": w.SelectionSlider(
            options=SIZES,
            value=n_samples,
            description="points N",
            continuous_update=False,
            style=style,
        ),
    }
    return gx._explorer(
        lambda **values: concentration_figure(**values, **fit_args),
        controls,
        columns=(2,),
        css_class="gmm-concentration-explorer",
        unrun_text="[Concentration explorer: its sliders need a running kernel. Run this "
        "notebook (make lab); the figures below show the same fits.]",
        rows=w.HBox(list(controls.values())),
    )


def concentration_sweep(alphas, sizes=SIZES, **fit_args):
    """Survivor counts over a grid of alpha_0 for each N: the explorer's static version
    (``fit_args``: the keywords of ``seed_data_fit``).

    Returns
    -------
    counts : ndarray of shape (len(sizes), len(alphas))
        Components owning more than 1 % of the points.
    """
    counts = np.empty((len(sizes), len(alphas)), dtype=int)
    for i, n in enumerate(sizes):
        for j, a in enumerate(alphas):
            counts[i, j] = len(survivors(seed_data_fit(a, n, **fit_args)[1].weights))
    return counts


def plot_concentration_sweep(alphas, counts, sizes=SIZES, ax=None):
    """Survivor counts against alpha_0 (log scale), one line per N. Returns the axes."""
    ax = gp._axes(ax, figsize=(6.5, 3.8))
    for n, row in zip(sizes, counts, strict=True):
        ax.semilogx(alphas, row, "-o", label=f"N = {n}")
    ax.set_xlabel(r"weight concentration prior $\alpha_0$")
    ax.set_ylabel("components owning > 1 % of points")
    ax.set_ylim(0, counts.max() + 1)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.legend()
    return ax

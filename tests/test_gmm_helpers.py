"""Unit tests for gmm_helpers: each one mirrors an equation of the course and checks it
against an independent reference (scipy, scikit-learn, numpy or a few lines written here).

Equation numbers are those of the notebooks (see the docstrings in gmm_helpers.py).
"""

import re
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from matplotlib.collections import PathCollection
from matplotlib.contour import ContourSet
from matplotlib.patches import Ellipse
from scipy.special import logsumexp, softmax
from scipy.stats import multivariate_normal
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

import gmm_helpers as gh
from gmm import plots as gp
from gmm.exercises import check_answer

# Hypothesis runs the same examples every time (no random seed, no example database).
PROPERTY = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)


# ---------------------------------------------------------------------------
# References written out here
# ---------------------------------------------------------------------------


def random_spd(rng, K, D):
    """K random symmetric positive definite (D, D) matrices with varied scales."""
    A = rng.standard_normal((K, D, D))
    scales = rng.uniform(0.3, 3.0, size=(K, 1, 1))
    return scales * (A @ A.transpose(0, 2, 1) / D + 0.5 * np.eye(D))


def scipy_log_densities(X, means, covariances):
    """log N(x_n | mu_k, Sigma_k), Eq. (1.2), from scipy; (N, K)."""
    return np.column_stack(
        [
            np.atleast_1d(multivariate_normal(mu, cov).logpdf(X))
            for mu, cov in zip(means, covariances, strict=True)
        ]
    )


def scipy_mixture_log_density(X, weights, means, covariances):
    """log p(x_n) = log sum_k pi_k N(x_n | mu_k, Sigma_k), Eq. (1.1), in log space; (N,)."""
    return logsumexp(np.log(weights) + scipy_log_densities(X, means, covariances), axis=1)


def original_e_step(X, weights, means, covariances):
    """The original notebook's E-step, in pdf space (gmm_model_original.md, lines 51-53)."""
    weighted_pdfs = np.zeros((len(X), len(weights)))
    for k in range(len(weights)):
        weighted_pdfs[:, k] = weights[k] * multivariate_normal.pdf(X, means[k], covariances[k])
    return weighted_pdfs / weighted_pdfs.sum(axis=1, keepdims=True)


def hand_m_step(X, resp, smoothing):
    """Eqs. (3.3)-(3.6) with a loop over components, as in the original notebook."""
    N, D = X.shape
    K = resp.shape[1]
    nk = resp.sum(axis=0)  # (3.3)
    means = np.array([resp[:, k] @ X / nk[k] for k in range(K)])  # (3.4)
    covs = np.empty((K, D, D))
    for k in range(K):
        delta = X - means[k]
        covs[k] = (resp[:, k, None] * delta).T @ delta / nk[k] + smoothing * np.eye(D)  # (3.5)
    return nk / N, means, covs  # (3.6)


def to_sklearn_covariances(covariances, covariance_type):
    """Full (K, D, D) covariances in scikit-learn's per-type shapes."""
    return {
        "full": covariances,
        "diag": np.diagonal(covariances, axis1=1, axis2=2),
        "spherical": covariances[:, 0, 0],
        "tied": covariances[0],
    }[covariance_type]


def from_sklearn_covariances(covariances, covariance_type, K, D):
    """scikit-learn's per-type covariances as full (K, D, D) matrices."""
    if covariance_type == "full":
        return np.array(covariances)
    if covariance_type == "diag":
        return np.array([np.diag(v) for v in covariances])
    if covariance_type == "spherical":
        return np.array([v * np.eye(D) for v in covariances])
    return np.stack([covariances] * K)


def sklearn_precisions(covariances, covariance_type):
    """The inverse covariances in scikit-learn's per-type shapes (its precisions_init)."""
    return to_sklearn_covariances(np.linalg.inv(covariances), covariance_type)


@pytest.fixture(scope="module")
def seed_data():
    return gh.sample_seed_data(5.0, 2000, rng=0)[0]


@pytest.fixture(scope="module")
def seed_fit(seed_data):
    return gh.fit_gmm(seed_data, 3, rng=0)


# ---------------------------------------------------------------------------
# Eq. (1.2): the Gaussian log-density
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("D", [1, 2, 3, 7, 50])
def test_log_gaussian_density_matches_scipy(D):
    rng = np.random.default_rng(D)
    K = 3
    means = rng.standard_normal((K, D)) * 2
    covs = random_spd(rng, K, D)
    X = rng.standard_normal((120, D)) * 3
    ours = gh.log_gaussian_density(X, means, covs)
    assert ours.shape == (120, K)
    np.testing.assert_allclose(ours, scipy_log_densities(X, means, covs), rtol=1e-10, atol=1e-9)


def test_log_gaussian_density_single_point_and_single_component():
    x = np.array([[1.0, -2.0]])
    mu = np.array([[0.5, 0.5]])
    cov = np.array([[[2.0, 0.3], [0.3, 1.0]]])
    d = x[0] - mu[0]
    by_hand = -0.5 * (
        2 * np.log(2 * np.pi) + np.log(np.linalg.det(cov[0])) + d @ np.linalg.solve(cov[0], d)
    )
    assert gh.log_gaussian_density(x, mu, cov).shape == (1, 1)
    assert gh.log_gaussian_density(x, mu, cov)[0, 0] == pytest.approx(by_hand, rel=1e-12)


def test_log_gaussian_density_far_points_are_finite_and_exact():
    """Thousands of sd away the density underflows to 0, its logarithm stays exact."""
    means = np.array([[0.0, 0.0], [3.0, 3.0]])
    covs = np.array([np.eye(2) * 0.25, np.eye(2)])
    X = np.array([[5000 * 0.5, 0.0], [-1e4, 1e4], [1e6, 0.0]])
    assert np.all(scipy_mixture_log_density(X, [0.5, 0.5], means, covs) < -1e6)
    with np.errstate(under="ignore"):
        assert np.all(multivariate_normal(means[0], covs[0]).pdf(X) == 0.0)
    ours = gh.log_gaussian_density(X, means, covs)
    assert np.all(np.isfinite(ours))
    # Identity-type covariances: log N = -1/2 (D log 2 pi + D log s^2 + |x - mu|^2 / s^2).
    for k, s2 in enumerate([0.25, 1.0]):
        d2 = ((X - means[k]) ** 2).sum(axis=1)
        expected = -0.5 * (2 * np.log(2 * np.pi) + 2 * np.log(s2) + d2 / s2)
        np.testing.assert_allclose(ours[:, k], expected, rtol=1e-12)


def test_log_gaussian_density_in_200_dimensions():
    rng = np.random.default_rng(200)
    D = 200
    means = rng.standard_normal((2, D))
    covs = random_spd(rng, 2, D)
    X = rng.standard_normal((30, D)) * 50
    ours = gh.log_gaussian_density(X, means, covs)
    assert np.all(np.isfinite(ours))
    np.testing.assert_allclose(ours, scipy_log_densities(X, means, covs), rtol=1e-9)
    # The density itself is 0 in floating point there: only the log is usable.
    assert np.all(np.exp(ours) == 0.0)


# ---------------------------------------------------------------------------
# Eqs. (3.1), (3.2), (4.1): E-step and log-sum-exp
# ---------------------------------------------------------------------------


def test_e_step_responsibilities_and_log_likelihood_match_scipy(seed_data):
    w, m, c = gh.seed_parameters(5.0)
    resp, ll = gh.e_step(seed_data, w, m, c)
    assert resp.shape == (2000, 3)
    assert np.all(resp >= 0)
    np.testing.assert_allclose(resp.sum(axis=1), 1.0, atol=1e-12)
    # Eq. (3.1) in pdf space: no point of the seed data underflows.
    dens = np.column_stack(
        [w[k] * multivariate_normal(m[k], c[k]).pdf(seed_data) for k in range(3)]
    )
    assert np.all(dens.sum(axis=1) > 0)
    assert ll == pytest.approx(np.log(dens.sum(axis=1)).sum(), rel=1e-12)
    # Eq. (3.2), Bayes' rule in pdf space.
    np.testing.assert_allclose(resp, dens / dens.sum(axis=1, keepdims=True), atol=1e-12)


@pytest.mark.parametrize("D", [1, 4])
def test_e_step_random_parameters_match_scipy(D):
    rng = np.random.default_rng(10 + D)
    K = 4
    w = rng.dirichlet(np.ones(K))
    m, c = rng.standard_normal((K, D)) * 3, random_spd(rng, K, D)
    X = rng.standard_normal((300, D)) * 3
    resp, ll = gh.e_step(X, w, m, c)
    log_joint = np.log(w) + scipy_log_densities(X, m, c)
    np.testing.assert_allclose(resp, softmax(log_joint, axis=1), atol=1e-12)
    assert ll == pytest.approx(logsumexp(log_joint, axis=1).sum(), rel=1e-12)


def test_e_step_far_points_no_nan_where_the_original_loop_gives_nan(seed_data):
    """About 40 units from every mean with the original's identity covariances, and 1e4
    units from the true clusters, every pi_k N(x | mu_k, Sigma_k) underflows to 0 and the
    original pdf-space formula divides 0 by 0."""
    w_true, m_true, c_true = gh.seed_parameters(5.0)
    cases = [
        # the original notebook's start: equal weights, identity covariances
        (np.full(3, 1 / 3), m_true, np.stack([np.eye(2)] * 3), np.array([[-30.0, -30.0]])),
        (w_true, m_true, c_true, np.array([[1e4, 1e4]])),
    ]
    for w, m, c, far in cases:
        assert np.linalg.norm(far - m, axis=1).min() > 40
        with np.errstate(invalid="ignore", under="ignore"):
            original = original_e_step(far, w, m, c)
        assert np.all(np.isnan(original))
        X = np.vstack([seed_data, far])
        resp, ll = gh.e_step(X, w, m, c)
        assert np.all(np.isfinite(resp)) and np.isfinite(ll)
        np.testing.assert_allclose(resp.sum(axis=1), 1.0, atol=1e-12)
        log_joint = np.log(w) + scipy_log_densities(X, m, c)
        np.testing.assert_allclose(resp, softmax(log_joint, axis=1), atol=1e-12)
        assert ll == pytest.approx(logsumexp(log_joint, axis=1).sum(), rel=1e-12)


def test_e_step_handles_high_dimensions():
    X = np.random.default_rng(0).standard_normal((300, 200))
    fit = gh.fit_gmm(X, 2, rng=0, max_iter=5)
    assert np.all(np.isfinite(fit.log_likelihoods)) and np.all(np.isfinite(fit.resp))
    resp, ll = gh.e_step(X, fit.weights, fit.means, fit.covariances)
    np.testing.assert_allclose(resp.sum(axis=1), 1.0, atol=1e-12)
    assert ll == pytest.approx(
        scipy_mixture_log_density(X, fit.weights, fit.means, fit.covariances).sum(), rel=1e-10
    )


@PROPERTY
@given(
    seed=st.integers(0, 2**32 - 1),
    K=st.integers(1, 6),
    N=st.integers(1, 50),
    scale=st.sampled_from([1e-3, 1.0, 30.0, 1e3, 1e5]),
)
def test_logsumexp_rows_matches_scipy(seed, K, N, scale):
    a = np.random.default_rng(seed).standard_normal((K, N)) * scale
    ours = gh.logsumexp_rows(a)
    assert ours.shape == (N,)
    np.testing.assert_allclose(ours, logsumexp(a, axis=0), rtol=1e-12, atol=1e-12)


def test_logsumexp_rows_large_magnitudes_and_minus_inf():
    a = np.array([[1000.0, -1000.0, 0.0], [1000.0, -1001.0, -np.inf]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = gh.logsumexp_rows(a)
    np.testing.assert_allclose(ours, logsumexp(a, axis=0), rtol=1e-14)
    assert ours[0] == pytest.approx(1000 + np.log(2))
    assert ours[2] == 0.0


def test_logsumexp_rows_all_minus_inf_column_is_minus_inf_like_scipy():
    a = np.array([[-np.inf, 0.0], [-np.inf, np.log(3.0)]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = gh.logsumexp_rows(a)
    np.testing.assert_allclose(ours, logsumexp(a, axis=0), rtol=1e-14)
    assert ours[0] == -np.inf and ours[1] == pytest.approx(np.log(4.0))


# ---------------------------------------------------------------------------
# Eqs. (3.3)-(3.6): M-step
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("smoothing", [0.0, 0.5])
def test_m_step_one_component_is_sample_mean_and_biased_covariance(seed_data, smoothing):
    w, m, c = gh.m_step(seed_data, np.ones((len(seed_data), 1)), smoothing=smoothing)
    assert w.shape == (1,) and m.shape == (1, 2) and c.shape == (1, 2, 2)
    np.testing.assert_allclose(w, [1.0], atol=1e-12)
    np.testing.assert_allclose(m[0], seed_data.mean(axis=0), atol=1e-12)
    expected = np.cov(seed_data.T, bias=True) + smoothing * np.eye(2)
    np.testing.assert_allclose(c[0], expected, rtol=1e-12, atol=1e-12)


def test_m_step_one_hot_gives_group_means_covariances_and_fractions():
    X, labels = gh.sample_seed_data(5.0, 2000, rng=3)
    for smoothing in (0.0, 1e-2):
        w, m, c = gh.m_step(X, np.eye(3)[labels], smoothing=smoothing)
        for k in range(3):
            group = X[labels == k]
            np.testing.assert_allclose(m[k], group.mean(axis=0), atol=1e-12)
            expected = np.cov(group.T, bias=True) + smoothing * np.eye(2)
            np.testing.assert_allclose(c[k], expected, rtol=1e-11, atol=1e-12)
        np.testing.assert_allclose(w, np.bincount(labels) / len(X), atol=1e-12)
        np.testing.assert_allclose(w, [0.6, 0.3, 0.1], atol=1e-12)


@pytest.mark.parametrize("D", [1, 3])
def test_m_step_soft_responsibilities_match_the_equations(D):
    rng = np.random.default_rng(D)
    X = rng.standard_normal((150, D)) * 2 + 1
    resp = rng.dirichlet(np.ones(4), size=150)
    for got, want in zip(gh.m_step(X, resp, 0.1), hand_m_step(X, resp, 0.1), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-12)


def test_m_step_constrained_covariance_types():
    """diag keeps the diagonal of (3.5), spherical its mean variance, tied the N_k-weighted
    average of the per-component scatters; each plus smoothing I, each as (K, D, D)."""
    rng = np.random.default_rng(7)
    N, D, K, s = 200, 3, 4, 0.05
    X = rng.standard_normal((N, D)) @ rng.standard_normal((D, D)) + 2
    resp = rng.dirichlet(np.ones(K), size=N)
    w_full, m_full, scatter = hand_m_step(X, resp, smoothing=0.0)
    nk = resp.sum(axis=0)
    eye = np.eye(D)
    expected = {
        "full": scatter + s * eye,
        "diag": np.array([np.diag(np.diag(S)) for S in scatter]) + s * eye,
        "spherical": np.array([np.trace(S) / D * eye for S in scatter]) + s * eye,
        "tied": np.stack([np.tensordot(nk, scatter, axes=1) / N + s * eye] * K),
    }
    for covariance_type, want in expected.items():
        w, m, c = gh.m_step(X, resp, smoothing=s, covariance_type=covariance_type)
        assert c.shape == (K, D, D)
        np.testing.assert_allclose(w, w_full, atol=1e-12)
        np.testing.assert_allclose(m, m_full, atol=1e-12)
        np.testing.assert_allclose(c, want, rtol=1e-11, atol=1e-12)
        np.testing.assert_array_equal(c, c.transpose(0, 2, 1))


def test_tied_covariance_equals_pooled_within_group_scatter():
    """With one-hot responsibilities the tied covariance is the pooled within-group scatter."""
    X, labels = gh.sample_seed_data(5.0, 600, rng=4)
    _, m, c = gh.m_step(X, np.eye(3)[labels], smoothing=0.0, covariance_type="tied")
    pooled = sum((X[labels == k] - m[k]).T @ (X[labels == k] - m[k]) for k in range(3)) / len(X)
    for k in range(3):
        np.testing.assert_allclose(c[k], pooled, rtol=1e-11)


def test_m_step_with_a_component_that_owns_no_point_stays_finite():
    X = np.random.default_rng(0).standard_normal((50, 2))
    resp = np.column_stack([np.ones(50), np.zeros(50)])
    w, m, c = gh.m_step(X, resp, smoothing=1e-2)
    assert np.all(np.isfinite(w)) and np.all(np.isfinite(m)) and np.all(np.isfinite(c))
    assert w[1] == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(c[1], 1e-2 * np.eye(2), atol=1e-10)


# ---------------------------------------------------------------------------
# EM never decreases the log-likelihood (notebook 03)
# ---------------------------------------------------------------------------


@PROPERTY
# Found with 600 random examples: a component collapses onto one point, its variance is
# rounding noise (~2e-14), no error is raised and the log-likelihood goes down by 0.08.
@example(seed=0, N=20, D=1, K=4, start="random", covariance_type="full")
@given(
    seed=st.integers(0, 2**32 - 1),
    N=st.integers(20, 200),
    D=st.integers(1, 4),
    K=st.integers(1, 4),
    start=st.sampled_from(["random", "kmeans++", "tuple"]),
    covariance_type=st.sampled_from(gh.COVARIANCE_TYPES),
)
def test_log_likelihood_never_decreases(*, seed, N, D, K, start, covariance_type):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((K, D)) * rng.uniform(0, 6)
    X = rng.standard_normal((N, D)) * rng.uniform(0.1, 3) + centres[rng.integers(K, size=N)]
    if start == "tuple":
        init = (
            rng.dirichlet(np.ones(K)),
            X[rng.choice(N, K, replace=False)] + rng.standard_normal((K, D)),
            random_spd(rng, K, D),
        )
    else:
        init = start
    try:
        fit = gh.fit_gmm(
            X,
            K,
            init=init,
            covariance_type=covariance_type,
            smoothing=0.0,
            tol=0,
            max_iter=30,
            rng=seed,
        )
    except ValueError as err:
        assert "smoothing" in str(err)
        assume(False)
    ll = fit.log_likelihoods
    assert len(ll) == 30 and np.all(np.isfinite(ll))
    assert np.all(ll[1:] >= ll[:-1] - 1e-9 * np.abs(ll[:-1])), np.diff(ll)


# ---------------------------------------------------------------------------
# Parity with scikit-learn's GaussianMixture
# ---------------------------------------------------------------------------


def run_sklearn(X, init, covariance_type, smoothing, max_iter):
    K = len(init[0])
    sk = GaussianMixture(
        K,
        covariance_type=covariance_type,
        weights_init=init[0],
        means_init=init[1],
        precisions_init=sklearn_precisions(init[2], covariance_type),
        reg_covar=smoothing,
        tol=0,
        max_iter=max_iter,
        init_params="random_from_data",
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk.fit(X)
    return sk


@pytest.mark.parametrize("covariance_type", gh.COVARIANCE_TYPES)
@pytest.mark.parametrize("data", ["seed", "3d"])
def test_parity_with_sklearn(seed_data, covariance_type, data):
    if data == "seed":
        X, K, smoothing, max_iter = seed_data, 3, 1e-2, 15
    else:
        rng = np.random.default_rng(3)
        X = rng.standard_normal((400, 3)) @ rng.standard_normal((3, 3))
        X[:150] += 4
        K, smoothing, max_iter = 2, 1e-3, 12
    N, D = X.shape
    init = gh.initial_parameters(
        X, K, "kmeans++", smoothing, covariance_type=covariance_type, rng=1
    )
    fit = gh.fit_gmm(
        X,
        K,
        init=init,
        covariance_type=covariance_type,
        smoothing=smoothing,
        tol=0,
        max_iter=max_iter,
    )
    sk = run_sklearn(X, init, covariance_type, smoothing, max_iter)
    assert sk.n_iter_ == fit.n_iter == max_iter
    np.testing.assert_allclose(fit.weights, sk.weights_, atol=1e-8)
    np.testing.assert_allclose(fit.means, sk.means_, atol=1e-8)
    sk_cov = np.asarray(sk.covariances_)
    np.testing.assert_allclose(
        to_sklearn_covariances(fit.covariances, covariance_type), sk_cov, atol=1e-8
    )
    np.testing.assert_allclose(
        fit.covariances, from_sklearn_covariances(sk_cov, covariance_type, K, D), atol=1e-8
    )
    np.testing.assert_allclose(fit.log_likelihoods / N, sk.lower_bounds_, rtol=1e-10, atol=1e-8)
    np.testing.assert_allclose(gh.score_samples(X, fit), sk.score_samples(X), atol=1e-8)
    assert gh.score(X, fit) == pytest.approx(sk.score(X), abs=1e-8)
    assert gh.bic(X, fit) == pytest.approx(sk.bic(X), rel=1e-10)
    assert gh.aic(X, fit) == pytest.approx(sk.aic(X), rel=1e-10)
    np.testing.assert_allclose(fit.resp, sk.predict_proba(X), atol=1e-8)


@pytest.mark.parametrize("covariance_type", gh.COVARIANCE_TYPES)
def test_bic_aic_and_scores_equal_sklearn_on_sklearn_fit(seed_data, covariance_type):
    """Take scikit-learn's own fit, wrap its parameters in a GMMFit, compare the criteria."""
    sk = GaussianMixture(3, covariance_type=covariance_type, random_state=0, max_iter=50)
    sk.fit(seed_data)
    fit = gh.GMMFit(
        weights=sk.weights_,
        means=sk.means_,
        covariances=from_sklearn_covariances(sk.covariances_, covariance_type, 3, 2),
        resp=None,
        log_likelihoods=np.array([0.0]),
        n_iter=1,
        converged=True,
        covariance_type=covariance_type,
    )
    assert gh.bic(seed_data, fit) == pytest.approx(sk.bic(seed_data), rel=1e-10)
    assert gh.aic(seed_data, fit) == pytest.approx(sk.aic(seed_data), rel=1e-10)
    np.testing.assert_allclose(gh.score_samples(seed_data, fit), sk.score_samples(seed_data))
    assert gh.n_parameters(3, 2, covariance_type) == sk._n_parameters()


# ---------------------------------------------------------------------------
# fit_gmm: the loop, its history and its stopping rule (notebook 04)
# ---------------------------------------------------------------------------


def test_tol_zero_runs_exactly_max_iter(seed_data):
    for max_iter in (1, 2, 9):
        fit = gh.fit_gmm(seed_data, 3, tol=0, max_iter=max_iter, rng=0)
        assert fit.n_iter == max_iter == len(fit.log_likelihoods)
        assert not fit.converged
        assert fit.history == []


def test_history_is_the_sequence_of_em_steps(seed_data):
    """history[0] is the start; history[i + 1] = M-step(E-step(history[i])); log_likelihoods[i]
    is the log-likelihood of history[i]; resp are the final parameters' responsibilities."""
    init = gh.initial_parameters(seed_data, 3, "random", rng=5)
    fit = gh.fit_gmm(seed_data, 3, init=init, tol=0, max_iter=6, keep_history=True)
    assert len(fit.history) == fit.n_iter + 1 == 7
    for got, want in zip(fit.history[0], init, strict=True):
        np.testing.assert_array_equal(got, want)
    for i in range(fit.n_iter):
        resp, ll = gh.e_step(seed_data, *fit.history[i])
        assert fit.log_likelihoods[i] == pytest.approx(ll, rel=1e-12)
        for got, want in zip(fit.history[i + 1], gh.m_step(seed_data, resp), strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-11)
    for got, want in zip(fit.history[-1], (fit.weights, fit.means, fit.covariances), strict=True):
        np.testing.assert_array_equal(got, want)
    resp, ll = gh.e_step(seed_data, fit.weights, fit.means, fit.covariances)
    np.testing.assert_allclose(fit.resp, resp, atol=1e-12)
    assert fit.log_likelihood == fit.log_likelihoods[-1]


def test_keep_history_with_kmeans_start_and_convergence(seed_data):
    fit = gh.fit_gmm(seed_data, 3, rng=4, keep_history=True)
    assert len(fit.history) == fit.n_iter + 1
    start = gh.initial_parameters(seed_data, 3, "kmeans++", rng=4)
    for got, want in zip(fit.history[0], start, strict=True):
        np.testing.assert_array_equal(got, want)


def test_random_init_is_the_original_start(seed_data):
    fit = gh.fit_gmm(seed_data, 3, tol=0, max_iter=2, rng=0, keep_history=True, init="random")
    w0, m0, c0 = fit.history[0]
    np.testing.assert_array_equal(w0, np.full(3, 1 / 3))
    np.testing.assert_array_equal(c0, np.stack([np.eye(2)] * 3))
    rows = [np.flatnonzero((seed_data == mu).all(axis=1)) for mu in m0]
    assert all(len(r) == 1 for r in rows)
    assert len({int(r[0]) for r in rows}) == 3  # three distinct data points


def test_random_init_picks_distinct_points_even_when_k_equals_n():
    X = np.arange(12.0).reshape(6, 2)
    w, m, c = gh.initial_parameters(X, 6, "random", rng=0)
    assert sorted(map(tuple, m)) == sorted(map(tuple, X))


def test_kmeans_plusplus_start_is_one_m_step_on_hard_assignments(seed_data):
    centres = gh.kmeans_plusplus(seed_data, 3, rng=2)
    assert all((seed_data == c).all(axis=1).any() for c in centres)
    labels = ((seed_data[:, None, :] - centres[None]) ** 2).sum(-1).argmin(axis=1)
    for covariance_type in gh.COVARIANCE_TYPES:
        start = gh.initial_parameters(
            seed_data, 3, "kmeans++", 1e-2, covariance_type=covariance_type, rng=2
        )
        want = gh.m_step(seed_data, np.eye(3)[labels], 1e-2, covariance_type)
        for got, w in zip(start, want, strict=True):
            np.testing.assert_allclose(got, w, rtol=1e-10, atol=1e-12)


def test_fit_is_deterministic_given_rng(seed_data):
    for init in ("kmeans++", "random"):
        a = gh.fit_gmm(seed_data, 3, init=init, rng=0, keep_history=True)
        b = gh.fit_gmm(seed_data, 3, init=init, rng=0, keep_history=True)
        c = gh.fit_gmm(seed_data, 3, init=init, rng=np.random.default_rng(0), keep_history=True)
        for other in (b, c):
            np.testing.assert_array_equal(a.means, other.means)
            np.testing.assert_array_equal(a.covariances, other.covariances)
            np.testing.assert_array_equal(a.log_likelihoods, other.log_likelihoods)
        starts = [
            gh.fit_gmm(seed_data, 3, init=init, rng=r, keep_history=True, max_iter=1).history[0][1]
            for r in range(5)
        ]
        assert len({s.tobytes() for s in starts}) >= 4  # different rng, (usually) other start


@pytest.mark.parametrize("tol", [1e-1, 1e-3, 1e-6])
def test_converged_flag_semantics(seed_data, tol):
    """Stops at the first iteration whose mean per-sample log-likelihood changed by < tol."""
    fit = gh.fit_gmm(seed_data, 3, tol=tol, rng=1, init="random", max_iter=500)
    assert fit.converged and fit.n_iter < 500
    change = np.abs(np.diff(fit.log_likelihoods)) / len(seed_data)
    assert change[-1] < tol
    assert np.all(change[:-1] >= tol)
    full = gh.fit_gmm(seed_data, 3, tol=0, rng=1, init="random", max_iter=fit.n_iter + 3)
    np.testing.assert_allclose(full.log_likelihoods[: fit.n_iter], fit.log_likelihoods, rtol=1e-12)


def test_not_converged_when_max_iter_stops_first(seed_data):
    fit = gh.fit_gmm(seed_data, 3, tol=1e-12, rng=1, init="random", max_iter=3)
    assert fit.n_iter == 3 and not fit.converged
    huge = gh.fit_gmm(seed_data, 3, tol=1e9, rng=1, init="random", max_iter=50)
    assert huge.n_iter == 2 and huge.converged  # the first iteration has nothing to compare


# ---------------------------------------------------------------------------
# Collapse with smoothing = 0 (notebook 06)
# ---------------------------------------------------------------------------


def collapse_cases():
    rng = np.random.default_rng(0)
    cloud = rng.standard_normal((50, 2)) + 10
    # one component started on a duplicated point with a tiny covariance
    X1 = np.vstack([np.zeros((3, 2)), cloud])
    init1 = (
        np.array([0.5, 0.5]),
        np.array([[0.0, 0.0], [10.0, 10.0]]),
        np.array([1e-3 * np.eye(2), np.eye(2)]),
    )
    # two identical points far from the rest
    X2 = np.vstack([[[-20.0, 5.0], [-20.0, 5.0]], cloud])
    init2 = (
        np.array([0.5, 0.5]),
        np.array([[-20.0, 5.0], [10.0, 10.0]]),
        np.stack([np.eye(2)] * 2),
    )
    # a single point on its own
    X3 = np.vstack([[[0.0, 0.0]], cloud])
    init3 = (np.array([0.5, 0.5]), np.array([[0.0, 0.0], [10.0, 10.0]]), np.stack([np.eye(2)] * 2))
    return [(X1, init1), (X2, init2), (X3, init3)]


@pytest.mark.parametrize("case", range(3))
def test_collapse_without_smoothing_raises_clear_error_never_nan(case):
    X, init = collapse_cases()[case]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning from a NaN on the way
        with pytest.raises(ValueError) as err:
            gh.fit_gmm(X, 2, init=init, smoothing=0.0, tol=0, max_iter=20)
        assert re.fullmatch(
            r"expected every covariance to stay positive definite, got component\(s\) "
            r"\[[01](, 1)?\] collapsed onto too few points \(smoothing=0\); "
            r"try increasing smoothing, e\.g\. smoothing=1e-6 or larger",
            str(err.value),
        ), str(err.value)
        fit = gh.fit_gmm(X, 2, init=init, smoothing=1e-2, tol=0, max_iter=20)
    assert np.all(np.isfinite(fit.log_likelihoods)) and np.all(np.isfinite(fit.covariances))
    assert np.all(np.linalg.eigvalsh(fit.covariances) >= 1e-2 - 1e-12)


def test_kmeans_start_on_duplicated_points_without_smoothing_raises():
    X = np.repeat(np.array([[0.0, 0.0], [5.0, 5.0], [0.0, 9.0]]), 10, axis=0)
    with pytest.raises(ValueError, match="increas.*smoothing"):
        gh.fit_gmm(X, 3, smoothing=0.0, rng=0)


@PROPERTY
@given(seed=st.integers(0, 2**32 - 1), n_unique=st.integers(2, 6), K=st.integers(1, 4))
def test_fit_on_data_with_duplicates_is_finite_or_a_clear_error(seed, n_unique, K):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_unique, 2))[rng.integers(n_unique, size=40)]
    for smoothing in (0.0, 1e-6):
        try:
            fit = gh.fit_gmm(X, K, smoothing=smoothing, rng=seed, init="random", max_iter=20)
        except ValueError as err:
            assert "smoothing" in str(err) and smoothing == 0.0
            continue
        assert np.all(np.isfinite(fit.log_likelihoods))
        assert np.all(np.isfinite(fit.means)) and np.all(np.isfinite(fit.covariances))
        assert np.all(np.isfinite(fit.resp))


@pytest.mark.parametrize("D", [1, 2])
def test_fitting_never_writes_to_X(D):
    """With D = 1, X.T is already contiguous: an in-place shift of it would change X."""
    X = np.random.default_rng(0).standard_normal((300, D)) + 7.0
    before = X.copy()
    gh.fit_gmm(X, 2, rng=0, max_iter=3)
    gh.fit_gmm_chunked(X, 2, chunk_size=70, rng=0, max_iter=3)
    gh.initial_parameters(X, 2, rng=0)
    gh.kmeans_plusplus(X, 2, rng=0)
    np.testing.assert_array_equal(X, before)


# ---------------------------------------------------------------------------
# Bad input: ValueError("expected ..., got ..., try ...")
# ---------------------------------------------------------------------------

X_OK = np.random.default_rng(0).standard_normal((20, 2))
W, M, C = np.array([0.5, 0.5]), np.array([[0.0, 0.0], [1.0, 1.0]]), np.stack([np.eye(2)] * 2)
RESP_OK = np.full((20, 2), 0.5)
FIT_OK = gh.fit_gmm(X_OK, 2, rng=0, max_iter=3)

BAD_CALLS = {
    # X
    "X 1-D": lambda: gh.fit_gmm(np.ones(5), 1),
    "X 3-D": lambda: gh.fit_gmm(np.ones((2, 2, 2)), 1),
    "X empty rows": lambda: gh.fit_gmm(np.ones((0, 2)), 1),
    "X no features": lambda: gh.fit_gmm(np.ones((3, 0)), 1),
    "X NaN": lambda: gh.fit_gmm(np.array([[np.nan, 1.0], [0.0, 1.0]]), 1),
    "X inf": lambda: gh.fit_gmm(np.array([[np.inf, 1.0], [0.0, 1.0]]), 1),
    "X -inf": lambda: gh.e_step(np.array([[-np.inf, 1.0]]), W, M, C),
    "X text": lambda: gh.fit_gmm([["a", "b"], ["c", "d"]], 1),
    "X None": lambda: gh.fit_gmm(None, 1),
    "X ragged": lambda: gh.fit_gmm([[1.0, 2.0], [3.0]], 1),
    "e_step X wrong D": lambda: gh.e_step(np.ones((4, 3)), W, M, C),
    "log density X 1-D": lambda: gh.log_gaussian_density(np.ones(3), M, C),
    "log density means 1-D": lambda: gh.log_gaussian_density(X_OK, np.zeros(2), C),
    "log density covariances shape": lambda: gh.log_gaussian_density(X_OK, M, np.eye(2)),
    "log density not positive definite": lambda: gh.log_gaussian_density(X_OK, M, -C),
    # n_components
    "K zero": lambda: gh.fit_gmm(X_OK, 0),
    "K negative": lambda: gh.fit_gmm(X_OK, -1),
    "K > N": lambda: gh.fit_gmm(X_OK, 21),
    "K float": lambda: gh.fit_gmm(X_OK, 2.5),
    "K float integral": lambda: gh.fit_gmm(X_OK, 2.0),
    "K bool": lambda: gh.fit_gmm(X_OK, True),
    "K string": lambda: gh.fit_gmm(X_OK, "3"),
    "kmeans_plusplus K > N": lambda: gh.kmeans_plusplus(X_OK, 30),
    # smoothing
    "smoothing negative": lambda: gh.fit_gmm(X_OK, 2, smoothing=-1e-3),
    "smoothing NaN": lambda: gh.fit_gmm(X_OK, 2, smoothing=np.nan),
    "smoothing inf": lambda: gh.fit_gmm(X_OK, 2, smoothing=np.inf),
    "smoothing None": lambda: gh.fit_gmm(X_OK, 2, smoothing=None),
    "smoothing string": lambda: gh.fit_gmm(X_OK, 2, smoothing="0.01"),
    "m_step smoothing negative": lambda: gh.m_step(X_OK, RESP_OK, smoothing=-1),
    # covariance_type and init
    "unknown covariance_type": lambda: gh.fit_gmm(X_OK, 2, covariance_type="banana"),
    "covariance_type None": lambda: gh.fit_gmm(X_OK, 2, covariance_type=None),
    "m_step unknown covariance_type": lambda: gh.m_step(X_OK, RESP_OK, covariance_type="Full"),
    "unknown init string": lambda: gh.fit_gmm(X_OK, 2, init="kmeans"),
    "init None": lambda: gh.fit_gmm(X_OK, 2, init=None),
    "init tuple of 2": lambda: gh.fit_gmm(X_OK, 2, init=(W, M)),
    "init weights negative": lambda: gh.fit_gmm(X_OK, 2, init=([1.5, -0.5], M, C)),
    "init weights zero": lambda: gh.fit_gmm(X_OK, 2, init=([1.0, 0.0], M, C)),
    "init weights NaN": lambda: gh.fit_gmm(X_OK, 2, init=([np.nan, 0.5], M, C)),
    "init weights sum": lambda: gh.fit_gmm(X_OK, 2, init=([0.5, 0.6], M, C)),
    "init weights 2-D": lambda: gh.fit_gmm(X_OK, 2, init=([[0.5, 0.5]], M, C)),
    "init K mismatch": lambda: gh.fit_gmm(X_OK, 3, init=(W, M, C)),
    "init means wrong D": lambda: gh.fit_gmm(X_OK, 2, init=(W, np.zeros((2, 3)), C)),
    "init means wrong K": lambda: gh.fit_gmm(X_OK, 2, init=(W, np.zeros((3, 2)), C)),
    "init means 1-D": lambda: gh.fit_gmm(X_OK, 2, init=(W, np.zeros(2), C)),
    "init means NaN": lambda: gh.fit_gmm(X_OK, 2, init=(W, M + np.nan, C)),
    "init covariances (D, D)": lambda: gh.fit_gmm(X_OK, 2, init=(W, M, np.eye(2))),
    "init covariances (K, D)": lambda: gh.fit_gmm(X_OK, 2, init=(W, M, np.ones((2, 2)))),
    "init covariances not symmetric": lambda: gh.fit_gmm(
        X_OK, 2, init=(W, M, C + [[0.0, 0.5], [0.0, 0.0]])
    ),
    "init covariances negative definite": lambda: gh.fit_gmm(X_OK, 2, init=(W, M, -C)),
    "init covariances singular": lambda: gh.fit_gmm(
        X_OK, 2, init=(W, M, np.stack([np.ones((2, 2))] * 2))
    ),
    "init covariances indefinite": lambda: gh.fit_gmm(
        X_OK, 2, init=(W, M, np.stack([[[1.0, 2.0], [2.0, 1.0]]] * 2))
    ),
    # rng
    "rng string": lambda: gh.fit_gmm(X_OK, 2, rng="seed"),
    "rng float": lambda: gh.fit_gmm(X_OK, 2, rng=1.5),
    "rng RandomState": lambda: gh.fit_gmm(X_OK, 2, rng=np.random.RandomState(0)),
    "kmeans_plusplus rng": lambda: gh.kmeans_plusplus(X_OK, 2, rng=[1, 2]),
    # iteration arguments
    "max_iter 0": lambda: gh.fit_gmm(X_OK, 2, max_iter=0),
    "max_iter float": lambda: gh.fit_gmm(X_OK, 2, max_iter=10.0),
    "max_iter None": lambda: gh.fit_gmm(X_OK, 2, max_iter=None),
    "tol negative": lambda: gh.fit_gmm(X_OK, 2, tol=-1e-3),
    "tol NaN": lambda: gh.fit_gmm(X_OK, 2, tol=np.nan),
    "tol string": lambda: gh.fit_gmm(X_OK, 2, tol="small"),
    "fit_restarts n_init 0": lambda: gh.fit_restarts(X_OK, 2, n_init=0),
    # m_step responsibilities
    "resp wrong N": lambda: gh.m_step(X_OK, np.full((3, 2), 0.5)),
    "resp 1-D": lambda: gh.m_step(X_OK, np.ones(20)),
    "resp rows sum to 2": lambda: gh.m_step(X_OK, np.ones((20, 2))),
    "resp negative": lambda: gh.m_step(X_OK, np.tile([1.5, -0.5], (20, 1))),
    "resp NaN": lambda: gh.m_step(X_OK, np.full((20, 2), np.nan)),
    # sampling
    "sample_gmm n 0": lambda: gh.sample_gmm(W, M, C, 0),
    "sample_gmm n float": lambda: gh.sample_gmm(W, M, C, 10.0),
    "sample_gmm weights sum": lambda: gh.sample_gmm([0.2, 0.2], M, C, 10),
    "sample_gmm weights negative": lambda: gh.sample_gmm([1.2, -0.2], M, C, 10),
    "sample_gmm means shape": lambda: gh.sample_gmm(W, np.zeros((3, 2)), C, 10),
    "sample_gmm covariances shape": lambda: gh.sample_gmm(W, M, np.eye(2), 10),
    "sample_gmm not positive definite": lambda: gh.sample_gmm(W, M, 0 * C, 10),
    "sample_gmm rng": lambda: gh.sample_gmm(W, M, C, 10, rng="0"),
    "sample_seed_data n 0": lambda: gh.sample_seed_data(n_samples=0),
    "sample_seed_data n float": lambda: gh.sample_seed_data(n_samples=100.0),
    "sample_seed_data separation NaN": lambda: gh.sample_seed_data(separation=np.nan),
    "sample_seed_data separation string": lambda: gh.sample_seed_data(separation="far"),
    "sample_seed_data rng": lambda: gh.sample_seed_data(rng=0.5),
    # model selection
    "n_parameters K 0": lambda: gh.n_parameters(0, 2, "full"),
    "n_parameters D 0": lambda: gh.n_parameters(3, 0, "full"),
    "n_parameters K float": lambda: gh.n_parameters(2.5, 2, "full"),
    "n_parameters D bool": lambda: gh.n_parameters(3, True, "full"),
    "n_parameters type": lambda: gh.n_parameters(3, 2, "tide"),
    "bic not a fit": lambda: gh.bic(X_OK, (W, M, C)),
    "aic X wrong D": lambda: gh.aic(np.ones((5, 3)), FIT_OK),
    "score_samples not a fit": lambda: gh.score_samples(X_OK, "fit"),
    "score_samples X wrong D": lambda: gh.score_samples(np.ones((5, 3)), FIT_OK),
    "score bad tuple": lambda: gh.score(X_OK, (W, M, -C)),
    "align_components shapes": lambda: gh.align_components(np.zeros((3, 2)), np.zeros((2, 2))),
}


# What each bad call says: what was expected, what came, what to try.
MESSAGES = {
    "X 1-D": (
        "expected X to be 2-D with shape (N, D), got an array with shape (5,); try "
        "X.reshape(-1, 1) for a single feature or X.reshape(1, -1) for a single point"
    ),
    "X 3-D": (
        "expected X to be 2-D with shape (N, D), got an array with shape (2, 2, 2); try "
        "X.reshape(-1, 1) for a single feature or X.reshape(1, -1) for a single point"
    ),
    "X empty rows": (
        "expected X to hold at least one point and one feature, got shape (0, 2); try passing "
        "non-empty data"
    ),
    "X no features": (
        "expected X to hold at least one point and one feature, got shape (3, 0); try passing "
        "non-empty data"
    ),
    "X NaN": (
        "expected X to hold only finite numbers, got NaN or inf in 1 row(s); try dropping "
        "them, e.g. X[np.isfinite(X).all(axis=1)]"
    ),
    "X inf": (
        "expected X to hold only finite numbers, got NaN or inf in 1 row(s); try dropping "
        "them, e.g. X[np.isfinite(X).all(axis=1)]"
    ),
    "X -inf": (
        "expected X to hold only finite numbers, got NaN or inf in 1 row(s); try dropping "
        "them, e.g. X[np.isfinite(X).all(axis=1)]"
    ),
    "X text": (
        "expected X to be a numeric array of shape (N, D), got list; try np.asarray(X, dtype=float)"
    ),
    "X None": (
        "expected X to be 2-D with shape (N, D), got an array with shape (); try X.reshape(-1, "
        "1) for a single feature or X.reshape(1, -1) for a single point"
    ),
    "X ragged": (
        "expected X to be a numeric array of shape (N, D), got list; try np.asarray(X, dtype=float)"
    ),
    "e_step X wrong D": (
        "expected means of shape (K, D) with D = 3, got shape (2, 2); try one row per "
        "component and one column per feature"
    ),
    "log density X 1-D": (
        "expected X to be 2-D with shape (N, D), got an array with shape (3,); try "
        "X.reshape(-1, 1) for a single feature or X.reshape(1, -1) for a single point"
    ),
    "log density means 1-D": (
        "expected means of shape (K, D) with D = 2, got shape (2,); try one row per component "
        "and one column per feature"
    ),
    "log density covariances shape": (
        "expected covariances of shape (K, D, D) = (2, 2, 2), got shape (2, 2); try "
        "np.stack([np.eye(D)] * K)"
    ),
    "log density not positive definite": (
        "expected symmetric positive definite covariances, got component(s) [0, 1] that are "
        "not; try adding a small multiple of the identity, e.g. C + 1e-6 * np.eye(D)"
    ),
    "K zero": (
        "expected n_components to be an int between 1 and 20, got 0; try n_components between "
        "1 and N = 20, the number of points"
    ),
    "K negative": (
        "expected n_components to be an int between 1 and 20, got -1; try n_components between "
        "1 and N = 20, the number of points"
    ),
    "K > N": (
        "expected n_components to be an int between 1 and 20, got 21; try n_components between "
        "1 and N = 20, the number of points"
    ),
    "K float": (
        "expected n_components to be an int between 1 and 20, got 2.5; try n_components "
        "between 1 and N = 20, the number of points"
    ),
    "K float integral": (
        "expected n_components to be an int between 1 and 20, got 2.0; try n_components "
        "between 1 and N = 20, the number of points"
    ),
    "K bool": (
        "expected n_components to be an int between 1 and 20, got True; try n_components "
        "between 1 and N = 20, the number of points"
    ),
    "K string": (
        "expected n_components to be an int between 1 and 20, got '3'; try n_components "
        "between 1 and N = 20, the number of points"
    ),
    "kmeans_plusplus K > N": (
        "expected n_components to be an int between 1 and 20, got 30; try n_components between "
        "1 and N = 20, the number of points"
    ),
    "smoothing negative": (
        "expected smoothing to be a finite number >= 0, got -0.001; try smoothing=1e-2 (the "
        "original's) or 1e-6"
    ),
    "smoothing NaN": (
        "expected smoothing to be a finite number >= 0, got nan; try smoothing=1e-2 (the "
        "original's) or 1e-6"
    ),
    "smoothing inf": (
        "expected smoothing to be a finite number >= 0, got inf; try smoothing=1e-2 (the "
        "original's) or 1e-6"
    ),
    "smoothing None": (
        "expected smoothing to be a finite number >= 0, got None; try smoothing=1e-2 (the "
        "original's) or 1e-6"
    ),
    "smoothing string": (
        "expected smoothing to be a finite number >= 0, got '0.01'; try smoothing=1e-2 (the "
        "original's) or 1e-6"
    ),
    "m_step smoothing negative": (
        "expected smoothing to be a finite number >= 0, got -1; try smoothing=1e-2 (the "
        "original's) or 1e-6"
    ),
    "unknown covariance_type": (
        "expected covariance_type to be one of ('full', 'diag', 'spherical', 'tied'), got "
        "'banana'; try covariance_type='full'"
    ),
    "covariance_type None": (
        "expected covariance_type to be one of ('full', 'diag', 'spherical', 'tied'), got "
        "None; try covariance_type='full'"
    ),
    "m_step unknown covariance_type": (
        "expected covariance_type to be one of ('full', 'diag', 'spherical', 'tied'), got "
        "'Full'; try covariance_type='full'"
    ),
    "unknown init string": (
        "expected init to be 'kmeans++', 'random' or a tuple (weights, means, covariances), "
        "got 'kmeans'; try init='kmeans++'"
    ),
    "init None": (
        "expected init to be 'kmeans++', 'random' or a tuple (weights, means, covariances), "
        "got None; try init='kmeans++'"
    ),
    "init tuple of 2": (
        "expected init as a tuple (weights, means, covariances), got 2 items; try "
        "init=(weights, means, covariances)"
    ),
    "init weights negative": (
        "expected K = 2 positive weights, one per mean, got [ 1.5 -0.5]; try np.full(K, 1 / "
        "K), or drop the components with weight 0"
    ),
    "init weights zero": (
        "expected K = 2 positive weights, one per mean, got [1. 0.]; try np.full(K, 1 / K), or "
        "drop the components with weight 0"
    ),
    "init weights NaN": (
        "expected K = 2 positive weights, one per mean, got [nan 0.5]; try np.full(K, 1 / K), "
        "or drop the components with weight 0"
    ),
    "init weights sum": (
        "expected weights that sum to 1, got a sum of 1.1; try weights / weights.sum()"
    ),
    "init weights 2-D": (
        "expected K = 2 positive weights, one per mean, got [[0.5 0.5]]; try np.full(K, 1 / "
        "K), or drop the components with weight 0"
    ),
    "init K mismatch": (
        "expected initial parameters for K = 3 components, got 2; try n_components=len(weights)"
    ),
    "init means wrong D": (
        "expected means of shape (K, D) with D = 2, got shape (2, 3); try one row per "
        "component and one column per feature"
    ),
    "init means wrong K": (
        "expected covariances of shape (K, D, D) = (3, 2, 2), got shape (2, 2, 2); try "
        "np.stack([np.eye(D)] * K)"
    ),
    "init means 1-D": (
        "expected means of shape (K, D) with D = 2, got shape (2,); try one row per component "
        "and one column per feature"
    ),
    "init means NaN": (
        "expected finite means and covariances, got NaN or inf; try re-initialising the parameters"
    ),
    "init covariances (D, D)": (
        "expected covariances of shape (K, D, D) = (2, 2, 2), got shape (2, 2); try "
        "np.stack([np.eye(D)] * K)"
    ),
    "init covariances (K, D)": (
        "expected covariances of shape (K, D, D) = (2, 2, 2), got shape (2, 2); try "
        "np.stack([np.eye(D)] * K)"
    ),
    "init covariances not symmetric": (
        "expected symmetric covariances, got component 0 with relative asymmetry 0.5; try (C + "
        "C.transpose(0, 2, 1)) / 2"
    ),
    "init covariances negative definite": (
        "expected symmetric positive definite covariances, got component(s) [0, 1] that are "
        "not; try adding a small multiple of the identity, e.g. C + 1e-6 * np.eye(D)"
    ),
    "init covariances singular": (
        "expected symmetric positive definite covariances, got component(s) [0, 1] that are "
        "not; try adding a small multiple of the identity, e.g. C + 1e-6 * np.eye(D)"
    ),
    "init covariances indefinite": (
        "expected symmetric positive definite covariances, got component(s) [0, 1] that are "
        "not; try adding a small multiple of the identity, e.g. C + 1e-6 * np.eye(D)"
    ),
    "rng string": (
        "expected rng to be None, an int seed or a numpy Generator, got str; try rng=0 or "
        "rng=np.random.default_rng(0)"
    ),
    "rng float": (
        "expected rng to be None, an int seed or a numpy Generator, got float; try rng=0 or "
        "rng=np.random.default_rng(0)"
    ),
    "rng RandomState": (
        "expected rng to be None, an int seed or a numpy Generator, got RandomState; try rng=0 "
        "or rng=np.random.default_rng(0)"
    ),
    "kmeans_plusplus rng": (
        "expected rng to be None, an int seed or a numpy Generator, got list; try rng=0 or "
        "rng=np.random.default_rng(0)"
    ),
    "max_iter 0": "expected max_iter to be an int >= 1, got 0; try max_iter=100",
    "max_iter float": "expected max_iter to be an int >= 1, got 10.0; try max_iter=100",
    "max_iter None": "expected max_iter to be an int >= 1, got None; try max_iter=100",
    "tol negative": "expected tol to be a finite number >= 0, got -0.001; try tol=1e-3",
    "tol NaN": "expected tol to be a finite number >= 0, got nan; try tol=1e-3",
    "tol string": "expected tol to be a finite number >= 0, got 'small'; try tol=1e-3",
    "fit_restarts n_init 0": "expected n_init to be an int >= 1, got 0; try n_init=10",
    "resp wrong N": (
        "expected resp of shape (N, K) = (20, K), got shape (3, 2); try one row per point and "
        "one column per component, as the E-step returns"
    ),
    "resp 1-D": (
        "expected resp of shape (N, K) = (20, K), got shape (20,); try one row per point and "
        "one column per component, as the E-step returns"
    ),
    "resp rows sum to 2": (
        "expected non-negative responsibilities whose rows sum to 1, got other values; try "
        "resp / resp.sum(axis=1, keepdims=True)"
    ),
    "resp negative": (
        "expected non-negative responsibilities whose rows sum to 1, got other values; try "
        "resp / resp.sum(axis=1, keepdims=True)"
    ),
    "resp NaN": (
        "expected non-negative responsibilities whose rows sum to 1, got other values; try "
        "resp / resp.sum(axis=1, keepdims=True)"
    ),
    "sample_gmm n 0": "expected n_samples to be an int >= 1, got 0; try n_samples=500",
    "sample_gmm n float": "expected n_samples to be an int >= 1, got 10.0; try n_samples=500",
    "sample_gmm weights sum": (
        "expected weights that sum to 1, got a sum of 0.4; try weights / weights.sum()"
    ),
    "sample_gmm weights negative": (
        "expected K = 2 positive weights, one per mean, got [ 1.2 -0.2]; try np.full(K, 1 / "
        "K), or drop the components with weight 0"
    ),
    "sample_gmm means shape": (
        "expected covariances of shape (K, D, D) = (3, 2, 2), got shape (2, 2, 2); try "
        "np.stack([np.eye(D)] * K)"
    ),
    "sample_gmm covariances shape": (
        "expected covariances of shape (K, D, D) = (2, 2, 2), got shape (2, 2); try "
        "np.stack([np.eye(D)] * K)"
    ),
    "sample_gmm not positive definite": (
        "expected symmetric positive definite covariances, got component(s) [0, 1] that are "
        "not; try adding a small multiple of the identity, e.g. C + 1e-6 * np.eye(D)"
    ),
    "sample_gmm rng": (
        "expected rng to be None, an int seed or a numpy Generator, got str; try rng=0 or "
        "rng=np.random.default_rng(0)"
    ),
    "sample_seed_data n 0": "expected n_samples to be an int >= 1, got 0; try n_samples=2000",
    "sample_seed_data n float": (
        "expected n_samples to be an int >= 1, got 100.0; try n_samples=2000"
    ),
    "sample_seed_data separation NaN": (
        "expected separation to be a finite number, got nan; try separation=5.0"
    ),
    "sample_seed_data separation string": (
        "expected separation to be a finite number, got 'far'; try separation=5.0"
    ),
    "sample_seed_data rng": (
        "expected rng to be None, an int seed or a numpy Generator, got float; try rng=0 or "
        "rng=np.random.default_rng(0)"
    ),
    "n_parameters K 0": "expected n_components to be an int >= 1, got 0; try n_components=3",
    "n_parameters D 0": "expected n_features to be an int >= 1, got 0; try n_features=2",
    "n_parameters K float": "expected n_components to be an int >= 1, got 2.5; try n_components=3",
    "n_parameters D bool": "expected n_features to be an int >= 1, got True; try n_features=2",
    "n_parameters type": (
        "expected covariance_type to be one of ('full', 'diag', 'spherical', 'tied'), got "
        "'tide'; try covariance_type='full'"
    ),
    "bic not a fit": "expected a GMMFit, got tuple; try bic(X, fit_gmm(X, K))",
    "aic X wrong D": (
        "expected X with D = 2 features like the fit, got 3; try the same columns the model "
        "was fitted on"
    ),
    "score_samples not a fit": (
        "expected a GMMFit or a tuple (weights, means, covariances), got str; try the result "
        "of fit_gmm(X, K)"
    ),
    "score_samples X wrong D": (
        "expected X with D = 2 features like the fit, got 3; try the same columns the model "
        "was fitted on"
    ),
    "score bad tuple": (
        "expected symmetric positive definite covariances, got component(s) [0, 1] that are "
        "not; try adding a small multiple of the identity, e.g. C + 1e-6 * np.eye(D)"
    ),
    "align_components shapes": (
        "expected two arrays of means with the same shape (K, D), got (3, 2) and (2, 2); try "
        "fits with the same number of components"
    ),
}


@pytest.mark.parametrize("name", BAD_CALLS)
def test_bad_input_gets_clear_value_error(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(ValueError) as err:
            BAD_CALLS[name]()
    assert str(err.value) == MESSAGES[name]


def test_every_bad_call_has_its_message():
    assert MESSAGES.keys() == BAD_CALLS.keys()


# ---------------------------------------------------------------------------
# Sampling, Eq. (1.1) (notebook 01)
# ---------------------------------------------------------------------------


def test_sample_seed_data_shapes_counts_and_centres():
    X, labels = gh.sample_seed_data(5.0, 2000, rng=0)
    assert X.shape == (2000, 2) and labels.shape == (2000,)
    assert np.bincount(labels).tolist() == [1200, 600, 200]
    assert np.all(np.diff(labels) >= 0)  # grouped by cluster, as in the original
    w, m, c = gh.seed_parameters(5.0)
    np.testing.assert_allclose(w, np.bincount(labels) / 2000)
    for k in range(3):
        group = X[labels == k]
        sd = np.sqrt(c[k][0, 0])
        se = sd / np.sqrt(len(group))
        np.testing.assert_allclose(group.mean(axis=0), m[k], atol=5 * se)
        np.testing.assert_allclose(group.std(axis=0), sd, rtol=0.1)
        assert abs(np.corrcoef(group.T)[0, 1]) < 0.15


def test_sample_seed_data_determinism_and_separation():
    X, labels = gh.sample_seed_data(5.0, 2000, rng=0)
    again, labels2 = gh.sample_seed_data(5.0, 2000, rng=0)
    np.testing.assert_array_equal(X, again)
    np.testing.assert_array_equal(labels, labels2)
    np.testing.assert_array_equal(X, gh.sample_seed_data(rng=np.random.default_rng(0))[0])
    np.testing.assert_array_equal(X, gh.sample_seed_data()[0])  # the default is rng=0
    assert not np.array_equal(X, gh.sample_seed_data(5.0, 2000, rng=1)[0])
    # same noise, centres moved with the separation
    X8, _ = gh.sample_seed_data(8.0, 2000, rng=0)
    moved = gh.seed_parameters(8.0)[1] - gh.seed_parameters(5.0)[1]
    np.testing.assert_allclose(X8 - X, moved[labels], atol=1e-12)


@pytest.mark.parametrize("n", [1, 7, 10, 999])
def test_sample_seed_data_odd_sizes(n):
    X, labels = gh.sample_seed_data(5.0, n, rng=0)
    assert X.shape == (n, 2) and labels.shape == (n,) and np.bincount(labels).sum() == n


def test_seed_parameters():
    w, m, c = gh.seed_parameters(3.0)
    np.testing.assert_array_equal(w, [0.6, 0.3, 0.1])
    np.testing.assert_array_equal(m, [[0, 0], [3, 3], [0, 3]])
    np.testing.assert_array_equal(c, [4 * np.eye(2), np.eye(2), 0.25 * np.eye(2)])
    gh.sample_gmm(w, m, c, 5, rng=0)  # valid parameters for the sampler


def test_sample_gmm_matches_its_parameters_for_large_n():
    rng = np.random.default_rng(0)
    w = np.array([0.5, 0.3, 0.2])
    m = np.array([[0.0, 0.0, 0.0], [5.0, -1.0, 2.0], [-3.0, 4.0, 1.0]])
    c = random_spd(rng, 3, 3)
    N = 200_000
    X, z = gh.sample_gmm(w, m, c, N, rng=1)
    assert X.shape == (N, 3) and z.shape == (N,)
    counts = np.bincount(z, minlength=3)
    np.testing.assert_allclose(counts / N, w, atol=5 * np.sqrt(0.25 / N))
    for k in range(3):
        group = X[z == k]
        se = np.sqrt(np.diag(c[k]) / len(group))
        np.testing.assert_allclose(group.mean(axis=0), m[k], atol=6 * se.max())
        np.testing.assert_allclose(np.cov(group.T), c[k], atol=0.03 * np.abs(c[k]).max())
    # EM started from the truth stays near the truth on a large sample.
    fit = gh.fit_gmm(X, 3, init=(w, m, c), smoothing=0.0, max_iter=5)
    np.testing.assert_allclose(fit.weights, w, atol=0.01)
    np.testing.assert_allclose(fit.means, m, atol=0.05)


def test_sample_gmm_determinism_and_one_dimension():
    w, m, c = np.array([1.0]), np.array([[2.0]]), np.array([[[4.0]]])
    X, z = gh.sample_gmm(w, m, c, 50_000, rng=3)
    assert X.shape == (50_000, 1) and np.all(z == 0)
    assert X.mean() == pytest.approx(2.0, abs=0.05) and X.std() == pytest.approx(2.0, rel=0.02)
    np.testing.assert_array_equal(X, gh.sample_gmm(w, m, c, 50_000, rng=3)[0])
    assert not np.array_equal(X, gh.sample_gmm(w, m, c, 50_000, rng=4)[0])


# ---------------------------------------------------------------------------
# Model selection, Eqs. (7.1)-(7.3), and the other helpers
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "K, D, expected",
    [
        (3, 2, {"full": 2 + 6 + 9, "diag": 2 + 6 + 6, "spherical": 2 + 6 + 3, "tied": 2 + 6 + 3}),
        (1, 1, {"full": 0 + 1 + 1, "diag": 0 + 1 + 1, "spherical": 0 + 1 + 1, "tied": 0 + 1 + 1}),
        (
            4,
            5,
            {
                "full": 3 + 20 + 60,
                "diag": 3 + 20 + 20,
                "spherical": 3 + 20 + 4,
                "tied": 3 + 20 + 15,
            },
        ),
    ],
)
def test_n_parameters_hand_counts(K, D, expected):
    for covariance_type, count in expected.items():
        assert gh.n_parameters(K, D, covariance_type) == count
    assert gh.n_parameters(K, D) == expected["full"]  # the default type
    assert gh.n_parameters(np.int64(K), np.int64(D), "full") == expected["full"]


@pytest.mark.parametrize("covariance_type", gh.COVARIANCE_TYPES)
def test_bic_and_aic_from_their_definitions(seed_data, covariance_type):
    fit = gh.fit_gmm(seed_data, 3, covariance_type=covariance_type, rng=0)
    N = len(seed_data)
    log_l = scipy_mixture_log_density(seed_data, fit.weights, fit.means, fit.covariances).sum()
    p = gh.n_parameters(3, 2, covariance_type)
    assert gh.bic(seed_data, fit) == pytest.approx(-2 * log_l + p * np.log(N), rel=1e-12)
    assert gh.aic(seed_data, fit) == pytest.approx(-2 * log_l + 2 * p, rel=1e-12)
    assert gh.bic(seed_data, fit) - gh.aic(seed_data, fit) == pytest.approx(p * (np.log(N) - 2))


def test_bic_prefers_the_true_number_of_components(seed_data):
    bics = [
        gh.bic(seed_data, gh.fit_restarts(seed_data, K, n_init=5, rng=0)[0]) for K in range(1, 5)
    ]
    assert int(np.argmin(bics)) + 1 == 3


def test_score_samples_and_score_match_scipy_mixture_density(seed_fit, seed_data):
    fit = seed_fit
    X = np.vstack([seed_data[:300], [[1e3, -1e3]]])
    expected = scipy_mixture_log_density(X, fit.weights, fit.means, fit.covariances)
    np.testing.assert_allclose(gh.score_samples(X, fit), expected, rtol=1e-12)
    params = (fit.weights, fit.means, fit.covariances)
    np.testing.assert_allclose(gh.score_samples(X, params), expected, rtol=1e-12)
    np.testing.assert_allclose(gh.score_samples(X, list(params)), expected, rtol=1e-12)
    assert gh.score(X, fit) == pytest.approx(expected.mean(), rel=1e-12)
    # score of the training data = the log-likelihood of an E-step under the final parameters
    ll = gh.e_step(seed_data, *params)[1]
    assert gh.score(seed_data, fit) * len(seed_data) == pytest.approx(ll, rel=1e-12)


def test_score_samples_integrates_to_one_in_one_dimension():
    w, m, c = np.array([0.3, 0.7]), np.array([[-2.0], [1.5]]), np.array([[[0.5]], [[2.0]]])
    grid = np.linspace(-20, 20, 40_001)[:, None]
    mass = np.trapezoid(np.exp(gh.score_samples(grid, (w, m, c))), grid[:, 0])
    assert mass == pytest.approx(1.0, abs=1e-9)


def test_align_components_recovers_a_known_permutation():
    rng = np.random.default_rng(0)
    for K in (1, 2, 5, 8):
        ref = rng.standard_normal((K, 3)) * 10
        perm = rng.permutation(K)
        means = ref[perm] + rng.standard_normal((K, 3)) * 0.01
        order = gh.align_components(ref, means)
        np.testing.assert_array_equal(perm[order], np.arange(K))
        np.testing.assert_allclose(means[order], ref, atol=0.1)
        assert sorted(order.tolist()) == list(range(K))


def test_align_components_is_a_global_not_greedy_match():
    """Greedy nearest-first would pair ref 0 with means 0; the least total cost swaps them."""
    ref = np.array([[0.0], [1.0]])
    means = np.array([[0.6], [-2.0]])
    # greedy: ref 1 - means 0 (0.16), ref 0 - means 1 (4) = 4.16; identity: 0.36 + 9 = 9.36
    np.testing.assert_array_equal(gh.align_components(ref, means), [1, 0])


def test_ellipse_coverage():
    k = np.array([0.5, 1.0, 1.5, 2.0, 3.0])
    np.testing.assert_allclose(gh.ellipse_coverage(k), 1 - np.exp(-(k**2) / 2), rtol=1e-12)
    np.testing.assert_allclose(gh.ellipse_coverage([1, 2, 3]), [0.393, 0.865, 0.989], atol=5e-4)
    assert gh.ellipse_coverage(2) == pytest.approx(1 - np.exp(-2))
    # In 1-D the +-k sd interval: 68-95-99.7
    np.testing.assert_allclose(
        gh.ellipse_coverage([1, 2, 3], n_features=1), [0.6827, 0.9545, 0.9973], atol=5e-5
    )
    # Monte Carlo with a correlated 2-D Gaussian
    cov = np.array([[3.0, 1.2], [1.2, 1.0]])
    Z = np.random.default_rng(0).multivariate_normal([1.0, -1.0], cov, size=200_000)
    d = Z - [1.0, -1.0]
    maha = np.sqrt(np.einsum("ni,ij,nj->n", d, np.linalg.inv(cov), d))
    for n_std in (1, 2, 3):
        assert np.mean(maha <= n_std) == pytest.approx(gh.ellipse_coverage(n_std), abs=0.005)


def test_fit_restarts_sorted_best_first(seed_data):
    fits = gh.fit_restarts(seed_data, 3, n_init=4, rng=0, init="random", max_iter=30)
    assert len(fits) == 4
    scores = [gh.score(seed_data, f) for f in fits]
    assert scores == sorted(scores, reverse=True)
    again = gh.fit_restarts(seed_data, 3, n_init=4, rng=0, init="random", max_iter=30)
    for a, b in zip(fits, again, strict=True):
        np.testing.assert_array_equal(a.means, b.means)
    # each start is a plain fit_gmm with a generator spawned from rng
    singles = [
        gh.fit_gmm(seed_data, 3, rng=r, init="random", max_iter=30)
        for r in np.random.default_rng(0).spawn(4)
    ]
    assert gh.score(seed_data, fits[0]) == pytest.approx(
        max(gh.score(seed_data, f) for f in singles), rel=1e-12
    )
    diag = gh.fit_restarts(seed_data, 2, n_init=2, rng=1, covariance_type="diag")
    assert all(f.covariance_type == "diag" for f in diag)


def test_check_answer_verdicts(capsys):
    assert check_answer("Exercise 1", None, 1) is False
    assert "not attempted" in capsys.readouterr().out
    assert check_answer("Exercise 1", [1.0, 2.0], np.array([1, 2])) is True
    assert "correct" in capsys.readouterr().out
    assert check_answer("Exercise 1", [1.0, 2.0 + 1e-9], [1, 2]) is True
    assert check_answer("Exercise 1", [1.0, 2.1], [1, 2]) is False
    assert "not yet" in capsys.readouterr().out
    assert check_answer("Exercise 1", [1.0], [1, 2]) is False
    assert check_answer("Exercise 1", "abc", [1, 2]) is False
    assert check_answer("Exercise 1", [[1, 2], [3]], [1, 2]) is False
    assert check_answer("Exercise 1", 0.5, 0.5) is True


def test_check_answer_requires_the_expected_shape(capsys):
    """A learner's (D, D) identity for the (K, D, D) initial covariances, or one scalar for K
    equal weights, is not the answer, though numpy would broadcast it."""
    assert check_answer("Exercise", np.eye(2), np.stack([np.eye(2)] * 3)) is False
    assert check_answer("Exercise", 1 / 3, np.full(3, 1 / 3)) is False


# ---------------------------------------------------------------------------
# Plotting helpers: return the Axes, draw what they say, never plt.show
# ---------------------------------------------------------------------------


@pytest.fixture()
def no_show(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("a helper called plt.show()")

    monkeypatch.setattr(plt, "show", fail)
    yield
    plt.close("all")


def ellipses(ax):
    return [p for p in ax.patches if isinstance(p, Ellipse)]


def test_component_colors():
    for K in (1, 3, 10, 11, 25):
        colors = gp.component_colors(K)
        assert colors.shape == (K, 3)
        assert np.all((colors >= 0) & (colors <= 1))
        assert len({tuple(np.round(c, 6)) for c in colors}) == K


@pytest.mark.parametrize("n_std", [(1,), (1, 2), (1, 2, 3), 2.0])
def test_plot_ellipses_count_and_return(no_show, seed_fit, n_std):
    fig, ax = plt.subplots()
    out = gp.plot_ellipses(seed_fit.means, seed_fit.covariances, ax=ax, n_std=n_std)
    assert out is ax
    assert len(ellipses(ax)) == 3 * len(np.atleast_1d(n_std))
    assert len(ax.lines) == 3  # one cross per mean
    np.testing.assert_allclose(
        np.array([line.get_xydata()[0] for line in ax.lines]), seed_fit.means
    )


def test_plot_ellipses_lie_at_n_std_mahalanobis_distance(no_show):
    means = np.array([[1.0, -2.0], [4.0, 0.5]])
    covs = np.array([[[3.0, 1.2], [1.2, 1.0]], [[0.5, -0.3], [-0.3, 2.0]]])
    fig, ax = plt.subplots()
    gp.plot_ellipses(means, covs, ax=ax, n_std=(1, 2.5), weights=[0.3, 0.7])
    patches = ellipses(ax)
    t = np.linspace(0, 2 * np.pi, 50)
    for (k, n), patch in zip([(0, 1), (0, 2.5), (1, 1), (1, 2.5)], patches, strict=True):
        np.testing.assert_allclose(patch.get_center(), means[k])
        a = np.radians(patch.get_angle())
        rotation = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        unit = np.column_stack(
            [patch.get_width() / 2 * np.cos(t), patch.get_height() / 2 * np.sin(t)]
        )
        d = unit @ rotation.T
        maha = np.sqrt(np.einsum("ni,ij,nj->n", d, np.linalg.inv(covs[k]), d))
        np.testing.assert_allclose(maha, n, rtol=1e-6)
    assert patches[2].get_linewidth() > patches[0].get_linewidth()  # width follows pi_k


def test_plot_helpers_create_axes_when_none(no_show, seed_fit, seed_data):
    calls = [
        lambda: gp.plot_ellipses(seed_fit.means, seed_fit.covariances),
        lambda: gp.plot_responsibilities(seed_data, seed_fit.resp),
        lambda: gp.plot_fit(seed_data, seed_fit),
        lambda: gp.plot_log_likelihood(seed_fit.log_likelihoods),
        lambda: gp.plot_density_contours(seed_fit, seed_data, grid_size=40),
    ]
    for call in calls:
        before = plt.get_fignums()
        ax = call()
        assert isinstance(ax, plt.Axes)
        assert len(plt.get_fignums()) == len(before) + 1
        assert ax.figure.number not in before


def test_plot_responsibilities_colours_are_blends(no_show):
    X = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0]])
    resp = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    colors = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    fig, ax = plt.subplots()
    assert gp.plot_responsibilities(X, resp, ax=ax, colors=colors) is ax
    (points,) = [c for c in ax.collections if isinstance(c, PathCollection)]
    np.testing.assert_allclose(points.get_offsets(), X)
    np.testing.assert_allclose(points.get_facecolors()[:, :3], resp @ colors)


def test_plot_fit_draws_points_ellipses_and_title(no_show, seed_fit, seed_data):
    fig, ax = plt.subplots()
    assert gp.plot_fit(seed_data, seed_fit, ax=ax, n_std=(1, 2, 3), title="fit") is ax
    assert len(ellipses(ax)) == 3 * 3
    assert ax.get_title() == "fit"
    (points,) = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(points.get_offsets()) == len(seed_data)
    # from a parameter tuple the responsibilities come from an E-step
    fig, ax = plt.subplots()
    params = (seed_fit.weights, seed_fit.means, seed_fit.covariances)
    assert gp.plot_fit(seed_data, params, ax=ax) is ax
    assert len(ellipses(ax)) == 3 * 2


def test_plot_log_likelihood(no_show, seed_fit):
    lls = seed_fit.log_likelihoods
    fig, ax = plt.subplots()
    assert gp.plot_log_likelihood(lls, ax=ax, per_sample=2000, marker=2) is ax
    line, dot = ax.lines
    np.testing.assert_allclose(line.get_xdata(), np.arange(1, len(lls) + 1))
    np.testing.assert_allclose(line.get_ydata(), lls / 2000)
    np.testing.assert_allclose(dot.get_xydata(), [[2, lls[1] / 2000]])
    assert "per point" in ax.get_ylabel() and ax.get_xlabel() == "iteration"
    fig, ax = plt.subplots()
    gp.plot_log_likelihood(lls, ax=ax, marker=len(lls) + 5)  # out of range: no dot
    assert len(ax.lines) == 1
    np.testing.assert_allclose(ax.lines[0].get_ydata(), lls)


def test_plot_fit_marker_size(no_show, seed_fit, seed_data):
    fig, ax = plt.subplots()
    gp.plot_fit(seed_data, seed_fit, ax=ax, s=40)
    points = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(points) == 1 and np.all(points[0].get_sizes() == 40)


def test_plot_log_likelihood_ticks_are_whole_iterations(no_show):
    fig, ax = plt.subplots()
    gp.plot_log_likelihood([-3.0, -2.0, -1.9], ax=ax)
    fig.canvas.draw()
    ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    assert ticks and all(float(t).is_integer() for t in ticks)


def test_plot_responsibilities_on_axes_sharing_x_and_y(no_show, seed_data):
    fig, axes = plt.subplots(1, 2, sharex=True, sharey=True)
    resp = np.full((len(seed_data), 2), 0.5)
    for ax in axes:
        assert gp.plot_responsibilities(seed_data, resp, ax=ax) is ax
    fig.canvas.draw()  # matplotlib raises here for "datalim" on doubly shared axes
    assert axes[0].get_aspect() == 1.0


def test_plot_density_contours(no_show, seed_fit, seed_data):
    fig, ax = plt.subplots()
    assert gp.plot_density_contours(seed_fit, seed_data, ax=ax, levels=5, grid_size=50) is ax
    contours = [c for c in ax.collections if isinstance(c, ContourSet)]
    assert len(contours) == 1
    assert sum(isinstance(c, PathCollection) for c in ax.collections) == 1  # the data
    fig, ax = plt.subplots()
    params = (seed_fit.weights, seed_fit.means, seed_fit.covariances)
    assert gp.plot_density_contours(params, ax=ax, grid_size=30) is ax
    assert any(isinstance(c, ContourSet) for c in ax.collections)


def test_check_answer_looks_up_the_exercise(monkeypatch, capsys):
    """Without ``expected`` the value comes from exercises.py, by the exercise's name."""
    from gmm import exercises

    monkeypatch.setitem(exercises._EXERCISES, "99.1", (lambda: np.array([1.0, 2.0]), 1e-6, 0.0))
    assert check_answer("99.1", [1.0, 2.0]) is True
    assert "Exercise 99.1: correct!" in capsys.readouterr().out
    assert check_answer("99.1", [1.0, 2.1]) is False
    assert "2.0" not in capsys.readouterr().out  # the verdict never shows the answer
    with pytest.raises(ValueError, match="expected an exercise name"):
        check_answer("99.9", 1.0)


def test_aligned_colors_follow_the_reference(no_show):
    """Permuting the fitted components permutes their colours with them."""
    ref = np.array([[0.0, 0.0], [5.0, 5.0], [0.0, 5.0]])
    perm = np.array([2, 0, 1])
    colors = gp.aligned_colors(ref, ref[perm] + 0.1)
    np.testing.assert_array_equal(colors[np.argsort(perm)], gp.component_colors(3))
    ax = gp.plot_responsibilities(ref, np.eye(3))
    assert ax.get_xlabel() == "$x_1$" and ax.get_ylabel() == "$x_2$"


# ---------------------------------------------------------------------------
# Validation once: the public functions check, the private ones compute
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda X, p: gh.e_step(X, *p),
        lambda X, p: gh.log_gaussian_density(X, p[1], p[2]),
        lambda X, p: gh.score_samples(X, p),
        lambda X, p: gh.sample_gmm(*p, 10, rng=0),
    ],
    ids=["e_step", "log_gaussian_density", "score_samples", "sample_gmm"],
)
def test_each_covariance_is_factorised_once_per_call(monkeypatch, seed_data, call):
    """The check's Cholesky factors are the ones the computation uses: K factorisations."""
    params = gh.seed_parameters(5.0)
    factorised = []
    cholesky = np.linalg.cholesky

    def counting(a):
        a = np.asarray(a)
        factorised.append(1 if a.ndim == 2 else a.shape[0])
        return cholesky(a)

    monkeypatch.setattr(np.linalg, "cholesky", counting)
    call(seed_data, params)
    assert sum(factorised) == len(params[0])


def test_plots_axes_is_the_one_new_axes_helper():
    fig, ax = plt.subplots()
    assert gp._axes(ax) is ax and gp._axes(ax, figsize=(2, 2)) is ax
    new = gp._axes(None, figsize=(6, 4))
    assert tuple(new.figure.get_size_inches()) == (6.0, 4.0)
    assert tuple(gp._axes(None).figure.get_size_inches()) == (5.0, 5.0)
    plt.close("all")


def test_the_shared_constants_live_in_checks():
    from gmm import checks

    assert gh.INITS is checks.INITS == ("kmeans++", "random")
    assert gh.NK_EPS == checks.NK_EPS == 10 * np.finfo(float).eps
    resp = np.zeros((5, 2))
    resp[:, 0] = 1.0  # component 1 owns no point: its N_k is NK_EPS, its mean finite
    weights, means, _ = gh.m_step(np.arange(10.0).reshape(5, 2), resp)
    assert weights[1] == checks.NK_EPS / 5 and np.isfinite(means).all()

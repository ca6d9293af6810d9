"""Tests that mirror the math of gmm_helpers, each checked against a trusted reference."""

import warnings

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp
from scipy.stats import multivariate_normal
from sklearn.mixture import GaussianMixture

import gmm_helpers as gh


def random_spd(rng, K, D):
    A = rng.standard_normal((K, D, D))
    return A @ A.transpose(0, 2, 1) + D * np.eye(D)


@pytest.fixture(scope="module")
def seed_data():
    return gh.sample_seed_data(5.0, 2000, rng=0)[0]


@pytest.mark.parametrize("D", [1, 2, 5, 50])
def test_log_density_matches_scipy(D):
    rng = np.random.default_rng(D)
    X = rng.standard_normal((100, D)) * 3
    means, covs = rng.standard_normal((3, D)), random_spd(rng, 3, D)
    ours = gh.log_gaussian_density(X, means, covs)
    ref = np.column_stack([multivariate_normal(means[k], covs[k]).logpdf(X) for k in range(3)])
    np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-8)


def test_responsibilities_sum_to_one_and_loglik_matches_scipy(seed_data):
    w, m, c = gh.seed_parameters(5.0)
    resp, ll = gh.e_step(seed_data, w, m, c)
    np.testing.assert_allclose(resp.sum(axis=1), 1.0, atol=1e-12)
    assert np.all(resp >= 0)
    dens = sum(w[k] * multivariate_normal(m[k], c[k]).pdf(seed_data) for k in range(3))
    assert ll == pytest.approx(np.log(dens).sum(), rel=1e-12)


def test_far_points_and_high_dimension_stay_finite(seed_data):
    w, m, c = gh.seed_parameters(5.0)
    far = np.vstack([seed_data, [[40.0, 40.0]], [[1e4, -1e4]]])
    # The original pdf-space formula gives 0/0 there.
    pdfs = np.column_stack([w[k] * multivariate_normal(m[k], c[k]).pdf(far) for k in range(3)])
    with np.errstate(invalid="ignore"):
        assert np.isnan(pdfs / pdfs.sum(axis=1, keepdims=True)).any()
    resp, ll = gh.e_step(far, w, m, c)
    assert np.all(np.isfinite(resp)) and np.isfinite(ll)
    X = np.random.default_rng(0).standard_normal((300, 200))
    fit = gh.fit_gmm(X, 2, rng=0, max_iter=5)
    assert np.all(np.isfinite(fit.log_likelihoods)) and np.all(np.isfinite(fit.resp))


def test_logsumexp_rows_matches_scipy():
    a = np.random.default_rng(1).standard_normal((4, 50)) * 500
    np.testing.assert_allclose(gh.logsumexp_rows(a), logsumexp(a, axis=0), rtol=1e-12)


def test_m_step_one_component_is_sample_mean_and_biased_covariance(seed_data):
    w, m, c = gh.m_step(seed_data, np.ones((len(seed_data), 1)), smoothing=0.5)
    np.testing.assert_allclose(w, [1.0])
    np.testing.assert_allclose(m[0], seed_data.mean(axis=0), atol=1e-12)
    np.testing.assert_allclose(c[0], np.cov(seed_data.T, bias=True) + 0.5 * np.eye(2), atol=1e-10)


def test_m_step_one_hot_gives_group_statistics():
    X, labels = gh.sample_seed_data(5.0, 2000, rng=3)
    w, m, c = gh.m_step(X, np.eye(3)[labels], smoothing=0.0)
    for k in range(3):
        np.testing.assert_allclose(m[k], X[labels == k].mean(axis=0), atol=1e-10)
        np.testing.assert_allclose(c[k], np.cov(X[labels == k].T, bias=True), atol=1e-10)
    np.testing.assert_allclose(w, [0.6, 0.3, 0.1])


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    N=st.integers(20, 200),
    D=st.integers(1, 3),
    K=st.integers(1, 4),
)
def test_log_likelihood_never_decreases(seed, N, D, K):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, D)) + rng.integers(0, 4, size=(N, 1)) * 3
    try:
        fit = gh.fit_gmm(X, K, init="random", smoothing=0.0, tol=0, max_iter=30, rng=seed)
    except ValueError as err:
        assert "smoothing" in str(err)
        assume(False)
    ll = fit.log_likelihoods
    assert np.all(np.diff(ll) >= -1e-9 * np.abs(ll[:-1]).max())


def sklearn_precisions(covs, covariance_type):
    prec = np.linalg.inv(covs)
    return {
        "full": prec,
        "diag": np.diagonal(prec, axis1=1, axis2=2),
        "spherical": prec[:, 0, 0],
        "tied": prec[0],
    }[covariance_type]


@pytest.mark.parametrize("covariance_type", gh.COVARIANCE_TYPES)
def test_parity_with_sklearn(seed_data, covariance_type):
    init = gh.initial_parameters(seed_data, 3, "kmeans++", 1e-2, covariance_type, rng=1)
    fit = gh.fit_gmm(seed_data, 3, init=init, covariance_type=covariance_type, tol=0, max_iter=15)
    sk = GaussianMixture(
        3,
        covariance_type=covariance_type,
        weights_init=init[0],
        means_init=init[1],
        precisions_init=sklearn_precisions(init[2], covariance_type),
        reg_covar=1e-2,
        tol=0,
        max_iter=15,
        init_params="random_from_data",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sk.fit(seed_data)
    np.testing.assert_allclose(fit.weights, sk.weights_, atol=1e-8)
    np.testing.assert_allclose(fit.means, sk.means_, atol=1e-8)
    ours_prec = sklearn_precisions(fit.covariances, covariance_type)
    np.testing.assert_allclose(ours_prec, sk.precisions_, rtol=1e-7)
    np.testing.assert_allclose(fit.log_likelihoods / len(seed_data), sk.lower_bounds_, rtol=1e-10)
    assert gh.bic(seed_data, fit) == pytest.approx(sk.bic(seed_data), rel=1e-10)
    assert gh.aic(seed_data, fit) == pytest.approx(sk.aic(seed_data), rel=1e-10)


def test_fit_iterations_history_and_determinism(seed_data):
    fit = gh.fit_gmm(seed_data, 3, tol=0, max_iter=7, rng=0, keep_history=True, init="random")
    assert fit.n_iter == 7 == len(fit.log_likelihoods) and not fit.converged
    assert len(fit.history) == 8
    w0, m0, c0 = fit.history[0]
    np.testing.assert_allclose(w0, 1 / 3)
    np.testing.assert_allclose(c0, np.stack([np.eye(2)] * 3))
    assert all((seed_data == mu).all(axis=1).any() for mu in m0)
    again = gh.fit_gmm(seed_data, 3, tol=0, max_iter=7, rng=0, init="random")
    np.testing.assert_array_equal(fit.means, again.means)
    converged = gh.fit_gmm(seed_data, 3, rng=0)
    assert converged.converged
    assert abs(np.diff(converged.log_likelihoods[-2:])[0]) / len(seed_data) < 1e-3


def test_collapse_without_smoothing_raises_clear_error():
    X = np.vstack([np.zeros((1, 2)), np.random.default_rng(0).standard_normal((50, 2)) + 10])
    init = (np.array([0.5, 0.5]), np.array([[0.0, 0.0], [10.0, 10.0]]), np.stack([np.eye(2)] * 2))
    with pytest.raises(ValueError, match="increas.*smoothing"):
        gh.fit_gmm(X, 2, init=init, smoothing=0.0, tol=0, max_iter=20)


X_OK = np.random.default_rng(0).standard_normal((20, 2))
W, M, C = np.array([0.5, 0.5]), np.zeros((2, 2)), np.stack([np.eye(2)] * 2)
BAD_CALLS = {
    "X 1-D": lambda: gh.fit_gmm(np.ones(5), 1),
    "X 3-D": lambda: gh.fit_gmm(np.ones((2, 2, 2)), 1),
    "X empty": lambda: gh.fit_gmm(np.ones((0, 2)), 1),
    "X NaN": lambda: gh.fit_gmm(np.array([[np.nan, 1.0], [0.0, 1.0]]), 1),
    "X inf": lambda: gh.fit_gmm(np.array([[np.inf, 1.0], [0.0, 1.0]]), 1),
    "X text": lambda: gh.fit_gmm([["a", "b"]], 1),
    "K zero": lambda: gh.fit_gmm(X_OK, 0),
    "K > N": lambda: gh.fit_gmm(X_OK, 21),
    "K float": lambda: gh.fit_gmm(X_OK, 2.5),
    "negative smoothing": lambda: gh.fit_gmm(X_OK, 2, smoothing=-1),
    "unknown type": lambda: gh.fit_gmm(X_OK, 2, covariance_type="banana"),
    "unknown init": lambda: gh.fit_gmm(X_OK, 2, init="kmeans"),
    "weights not positive": lambda: gh.fit_gmm(X_OK, 2, init=([1.5, -0.5], M, C)),
    "weights sum": lambda: gh.fit_gmm(X_OK, 2, init=([0.5, 0.6], M, C)),
    "means shape": lambda: gh.fit_gmm(X_OK, 2, init=(W, np.zeros((2, 3)), C)),
    "covariances shape": lambda: gh.fit_gmm(X_OK, 2, init=(W, M, np.eye(2))),
    "not symmetric": lambda: gh.fit_gmm(X_OK, 2, init=(W, M, C + [[0, 1], [0, 0]])),
    "not positive definite": lambda: gh.fit_gmm(X_OK, 2, init=(W, M, -C)),
    "rng type": lambda: gh.fit_gmm(X_OK, 2, rng="seed"),
    "max_iter": lambda: gh.fit_gmm(X_OK, 2, max_iter=0),
    "tol": lambda: gh.fit_gmm(X_OK, 2, tol=-1),
    "resp shape": lambda: gh.m_step(X_OK, np.ones((3, 2)) / 2),
    "resp rows": lambda: gh.m_step(X_OK, np.ones((20, 2))),
    "sample_gmm n": lambda: gh.sample_gmm(W, M, C, 0),
    "n_parameters": lambda: gh.n_parameters(0, 2, "full"),
}


@pytest.mark.parametrize("name", BAD_CALLS)
def test_bad_input_gets_clear_value_error(name):
    with pytest.raises(ValueError) as err:
        BAD_CALLS[name]()
    message = str(err.value)
    assert "expected" in message and "got" in message and "try" in message


def test_seed_data_and_sampling():
    X, labels = gh.sample_seed_data(5.0, 2000, rng=0)
    assert X.shape == (2000, 2) and np.bincount(labels).tolist() == [1200, 600, 200]
    np.testing.assert_array_equal(X, gh.sample_seed_data(5.0, 2000, rng=0)[0])
    w, m, c = gh.seed_parameters(5.0)
    Y, z = gh.sample_gmm(w, m, c, 100_000, rng=1)
    np.testing.assert_allclose(np.bincount(z) / len(z), w, atol=0.01)
    for k in range(3):
        np.testing.assert_allclose(Y[z == k].mean(axis=0), m[k], atol=0.05)
        np.testing.assert_allclose(np.cov(Y[z == k].T), c[k], rtol=0.05, atol=0.02)


def test_counts_criteria_alignment_and_coverage(seed_data):
    assert gh.n_parameters(3, 2, "full") == 2 + 6 + 9
    assert gh.n_parameters(3, 2, "diag") == 2 + 6 + 6
    assert gh.n_parameters(3, 2, "spherical") == 2 + 6 + 3
    assert gh.n_parameters(3, 2, "tied") == 2 + 6 + 3
    fit = gh.fit_gmm(seed_data, 3, rng=0)
    assert gh.bic(seed_data, fit) - gh.aic(seed_data, fit) == pytest.approx(17 * (np.log(2000) - 2))
    order = np.array([2, 0, 1])
    np.testing.assert_array_equal(gh.align_components(fit.means, fit.means[order]), [1, 2, 0])
    np.testing.assert_allclose(gh.ellipse_coverage([1, 2, 3]), 1 - np.exp(-np.array([1, 4, 9]) / 2))
    fits = gh.fit_restarts(seed_data, 3, n_init=3, rng=0)
    scores = [gh.score(seed_data, f) for f in fits]
    assert scores == sorted(scores, reverse=True)


def test_chunked_em_equals_fit_gmm(seed_data):
    faithful = np.loadtxt("data/faithful.csv", delimiter=",", skiprows=1)
    rng = np.random.default_rng(0)
    X20 = rng.standard_normal((600, 20)) + np.repeat(rng.standard_normal((3, 20)) * 4, 200, 0)
    for X, K in [(seed_data, 3), (faithful, 2), (X20, 3)]:
        full = gh.fit_gmm(X, K, rng=0, tol=0, max_iter=30)
        for chunk_size in (97, 1000):
            chunked = gh.fit_gmm_chunked(X, K, rng=0, tol=0, max_iter=30, chunk_size=chunk_size)
            np.testing.assert_allclose(chunked.means, full.means, atol=1e-8)
            np.testing.assert_allclose(chunked.covariances, full.covariances, atol=1e-8)
            np.testing.assert_allclose(chunked.weights, full.weights, atol=1e-8)


def test_statistics_add_up_and_match_m_step(seed_data):
    w, m, c = gh.seed_parameters(5.0)
    shift = seed_data[0]
    a = gh.sufficient_statistics(seed_data[:700], w, m, c, shift)
    b = gh.sufficient_statistics(seed_data[700:], w, m, c, shift)
    whole = gh.sufficient_statistics(seed_data, w, m, c, shift)
    np.testing.assert_allclose((a + b).syy, whole.syy, rtol=1e-12)
    resp, _ = gh.e_step(seed_data, w, m, c)
    for got, want in zip(gh.m_step_from_statistics(whole), gh.m_step(seed_data, resp), strict=True):
        np.testing.assert_allclose(got, want, atol=1e-10)


def test_check_answer_verdicts(capsys):
    assert not gh.check_answer("e", None, 1)
    assert gh.check_answer("e", [1.0, 2.0], [1, 2])
    assert not gh.check_answer("e", [1.0], [1, 2])
    assert "not attempted" in capsys.readouterr().out

"""Tests of chapter 13: EM with missing entries and partial labels (gh.fit_gmm_missing) and
gh.score_samples with NaN, against the identities of the chapter and scipy's densities."""

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

import gmm_helpers as gh


def seed_data_with_holes(fraction=0.3, n_samples=600, rng=0):
    """The seed data with ``fraction`` of its entries set to NaN (no row left empty)."""
    X, labels = gh.sample_seed_data(n_samples=n_samples, rng=rng)
    holes = np.random.default_rng(rng + 1).random(X.shape) < fraction
    holes[holes.all(axis=1), 0] = False
    return np.where(holes, np.nan, X), labels, X


def random_data_with_holes(N=300, D=4, fraction=0.3, rng=0):
    """A random 4-D three-component mixture with correlated features and holes."""
    rng = np.random.default_rng(rng)
    A = rng.standard_normal((3, D, D))
    covariances = A @ A.transpose(0, 2, 1) / D + 0.3 * np.eye(D)
    means = 3 * rng.standard_normal((3, D))
    X, _ = gh.sample_gmm(np.full(3, 1 / 3), means, covariances, N, rng=rng)
    holes = rng.random(X.shape) < fraction
    holes[holes.all(axis=1), 0] = False
    return np.where(holes, np.nan, X)


def scipy_observed_log_density(X, weights, means, covariances):
    """log sum_k pi_k N(x_o | mu_k,o, Sigma_k,oo), row by row with scipy; (N,)."""
    out = []
    for x in X:
        o = ~np.isnan(x)
        terms = [
            np.log(w) + multivariate_normal(m[o], c[np.ix_(o, o)]).logpdf(x[o])
            for w, m, c in zip(weights, means, covariances, strict=True)
        ]
        out.append(logsumexp(terms))
    return np.array(out)


@pytest.mark.parametrize("covariance_type", gh.COVARIANCE_TYPES)
def test_no_missing_entries_is_fit_gmm(covariance_type):
    X, _ = gh.sample_seed_data(n_samples=500, rng=3)
    ref = gh.fit_gmm(X, 3, covariance_type=covariance_type, rng=1, tol=1e-6)
    fit = gh.fit_gmm_missing(X, 3, covariance_type=covariance_type, rng=1, tol=1e-6)
    # labels all -1: the E-step and M-step of the missing-data EM, not fit_gmm's engine
    general = gh.fit_gmm_missing(
        X, 3, covariance_type=covariance_type, rng=1, tol=1e-6, labels=np.full(len(X), -1)
    )
    for f in (fit, general):
        assert isinstance(f, gh.GMMFit)
        assert f.n_iter == ref.n_iter and f.converged == ref.converged
        np.testing.assert_allclose(f.log_likelihoods, ref.log_likelihoods, rtol=1e-10)
        for a, b in [(f.weights, ref.weights), (f.means, ref.means), (f.resp, ref.resp)]:
            np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(f.covariances, ref.covariances, rtol=1e-8, atol=1e-10)
        np.testing.assert_array_equal(f.imputed, X)


def test_imputed_entries_are_the_conditional_means():
    X = random_data_with_holes()
    fit = gh.fit_gmm_missing(X, 3, rng=0)
    missing = np.isnan(X)
    np.testing.assert_array_equal(fit.imputed[~missing], X[~missing])
    expected_resp = np.empty((len(X), 3))
    for n, x in enumerate(X):
        o, m = ~missing[n], missing[n]
        guesses, log_w = [], []
        for w, mu, S in zip(fit.weights, fit.means, fit.covariances, strict=True):
            cond = mu[m] + S[np.ix_(m, o)] @ np.linalg.solve(S[np.ix_(o, o)], x[o] - mu[o])
            guesses.append(cond)
            log_w.append(np.log(w) + multivariate_normal(mu[o], S[np.ix_(o, o)]).logpdf(x[o]))
        resp = np.exp(np.array(log_w) - logsumexp(log_w))
        expected_resp[n] = resp
        if m.any():
            np.testing.assert_allclose(fit.imputed[n, m], resp @ np.array(guesses), rtol=1e-9)
    np.testing.assert_allclose(fit.resp, expected_resp, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("covariance_type", gh.COVARIANCE_TYPES)
def test_observed_log_likelihood_never_decreases(covariance_type):
    X = random_data_with_holes(fraction=0.4, rng=1)
    fit = gh.fit_gmm_missing(
        X, 3, covariance_type=covariance_type, smoothing=0.0, tol=0, max_iter=60, rng=2
    )
    ll = fit.log_likelihoods
    assert fit.n_iter == 60
    assert np.all(np.diff(ll) >= -1e-9 * np.abs(ll).max())
    assert ll[-1] - ll[0] > 1.0  # it climbed
    # what it records is the observed-data log-likelihood, here of the parameters of the
    # last E-step, one M-step before the returned ones: the returned ones score at least as high
    assert gh.score_samples(X, fit).sum() >= ll[-1] - 1e-9 * abs(ll[-1])


def test_first_objective_is_the_observed_log_likelihood_of_the_start():
    X = random_data_with_holes(rng=4)
    start = gh.fit_gmm_missing(X, 3, rng=0, max_iter=3)
    fit = gh.fit_gmm_missing(X, 3, init=(start.weights, start.means, start.covariances))
    ref = scipy_observed_log_density(X, start.weights, start.means, start.covariances).sum()
    np.testing.assert_allclose(fit.log_likelihoods[0], ref, rtol=1e-10)


def test_labelled_objective_never_decreases_and_is_the_formula():
    X, labels, _ = seed_data_with_holes(fraction=0.2)
    known = np.where(np.random.default_rng(5).random(len(X)) < 0.1, labels, -1)
    fit = gh.fit_gmm_missing(X, 3, labels=known, smoothing=0.0, tol=0, max_iter=30, rng=0)
    ll = fit.log_likelihoods
    assert np.all(np.diff(ll) >= -1e-9 * np.abs(ll).max())
    k = known >= 0
    np.testing.assert_array_equal(fit.resp[k], np.eye(3)[known[k]])
    # the objective of the returned parameters, Eq. (13.6), from scipy
    again = gh.fit_gmm_missing(
        X, 3, labels=known, init=(fit.weights, fit.means, fit.covariances), max_iter=1
    )
    per_row = scipy_observed_log_density(X, fit.weights, fit.means, fit.covariances)
    for n in np.flatnonzero(k):
        o, z = ~np.isnan(X[n]), known[n]
        per_row[n] = np.log(fit.weights[z]) + multivariate_normal(
            fit.means[z][o], fit.covariances[z][np.ix_(o, o)]
        ).logpdf(X[n, o])
    np.testing.assert_allclose(again.log_likelihoods[0], per_row.sum(), rtol=1e-10)


def test_labelled_rows_are_imputed_from_their_own_component():
    X, labels, _ = seed_data_with_holes(fraction=0.3)
    fit = gh.fit_gmm_missing(X, 3, labels=labels, rng=0)
    for n in np.flatnonzero(np.isnan(X).any(axis=1))[:20]:
        m, o, z = np.isnan(X[n]), ~np.isnan(X[n]), labels[n]
        S, mu = fit.covariances[z], fit.means[z]
        cond = mu[m] + S[np.ix_(m, o)] @ np.linalg.solve(S[np.ix_(o, o)], X[n, o] - mu[o])
        np.testing.assert_allclose(fit.imputed[n, m], cond, rtol=1e-10)


def test_all_labels_known_gives_the_class_wise_estimates():
    X, labels = gh.sample_seed_data(n_samples=400, rng=2)
    fit = gh.fit_gmm_missing(X, 3, labels=labels, smoothing=1e-3, rng=0)
    assert fit.converged and fit.n_iter == 2  # the second E-step finds the same objective
    for k in range(3):
        Xk = X[labels == k]
        np.testing.assert_allclose(fit.weights[k], len(Xk) / len(X), rtol=1e-12)
        np.testing.assert_allclose(fit.means[k], Xk.mean(axis=0), rtol=1e-10)
        cov = np.cov(Xk.T, bias=True) + 1e-3 * np.eye(2)
        np.testing.assert_allclose(fit.covariances[k], cov, rtol=1e-9)
    np.testing.assert_array_equal(fit.resp, np.eye(3)[labels])


def test_kmeans_start_with_missing_entries_is_the_start_on_column_mean_filled_data():
    X, _, _ = seed_data_with_holes(fraction=0.2)
    filled = np.where(np.isnan(X), np.nanmean(X, axis=0), X)
    start = gh.initial_parameters(filled, 3, "kmeans++", rng=7)
    a = gh.fit_gmm_missing(X, 3, rng=7, max_iter=5)
    b = gh.fit_gmm_missing(X, 3, init=start, max_iter=5)
    np.testing.assert_array_equal(a.means, b.means)
    np.testing.assert_array_equal(a.log_likelihoods, b.log_likelihoods)


def test_fit_with_holes_recovers_the_full_data_fit():
    X, _, X_full = seed_data_with_holes(fraction=0.1, n_samples=2000)
    start = gh.seed_parameters()
    full = gh.fit_gmm(X_full, 3, init=start)
    fit = gh.fit_gmm_missing(X, 3, init=start)
    np.testing.assert_allclose(fit.means, full.means, atol=0.15)
    np.testing.assert_allclose(fit.weights, full.weights, atol=0.02)
    np.testing.assert_allclose(fit.covariances, full.covariances, atol=0.3)


def test_score_samples_with_nan_is_the_marginal_density():
    X = random_data_with_holes(N=80, rng=6)
    fit = gh.fit_gmm_missing(X, 3, rng=0)
    np.testing.assert_allclose(
        gh.score_samples(X, fit),
        scipy_observed_log_density(X, fit.weights, fit.means, fit.covariances),
        rtol=1e-10,
    )
    # a tuple works too, and a row without NaN scores as before
    params = (fit.weights, fit.means, fit.covariances)
    full_rows = ~np.isnan(X).any(axis=1)
    np.testing.assert_allclose(
        gh.score_samples(X, params)[full_rows], gh.score_samples(X[full_rows], params), rtol=1e-12
    )
    assert np.isfinite(gh.score(X, fit))


@pytest.mark.parametrize(
    ("X", "match"),
    [
        ([[1.0, np.nan], [np.nan, np.nan], [2.0, 3.0]], r"entry missing \(the first is row 1"),
        ([[1.0, np.inf], [2.0, 3.0], [0.0, 1.0]], "got inf in 1 row"),
        ([1.0, 2.0, np.nan], "2-D"),
    ],
)
def test_bad_X(X, match):
    with pytest.raises(ValueError, match="expected.*try") as err:
        gh.fit_gmm_missing(X, 1)
    assert err.match(match)
    params = (np.ones(1), np.zeros((1, 2)), np.eye(2)[None])
    if np.ndim(X) == 2:
        with pytest.raises(ValueError, match=match):
            gh.score_samples(X, params)


@pytest.mark.parametrize(
    ("labels", "match"),
    [
        (np.zeros(5, dtype=int), r"shape \(N,\) = \(6,\).*got shape \(5,\)"),
        (np.zeros(6), "integer labels.*got dtype float64"),
        (np.array([0, 1, 2, -1, -1, 0]), "between -1 .* K - 1 = 1, got 2"),
        (np.array([0, 1, -2, -1, -1, 0]), "between -1 .* got -2"),
        (np.array([True] * 6), "integer labels.*got dtype bool"),
    ],
)
def test_bad_labels(labels, match):
    X = np.array([[0.0, 1.0], [1.0, np.nan], [2.0, 0.5], [5.0, 5.0], [np.nan, 6.0], [6.0, 4.0]])
    with pytest.raises(ValueError, match=f"expected .*{match}.*try"):
        gh.fit_gmm_missing(X, 2, labels=labels)


def test_full_data_is_still_rejected_with_nan_where_nan_means_nothing():
    with pytest.raises(ValueError, match="NaN or inf"):
        gh.fit_gmm([[1.0, np.nan], [2.0, 3.0]], 1)

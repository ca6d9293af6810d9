"""Tests for gmm.bayes (notebook 11): MAP EM and variational Bayes for Gaussian mixtures.

The variational fit is checked against scikit-learn's BayesianGaussianMixture started from
the same responsibilities, and against the exact evidence of a single Gaussian (K = 1,
where the variational posterior is exact); MAP EM against the maximisation it claims.
"""

import warnings

import numpy as np
import pytest
from scipy.special import multigammaln
from scipy.stats import multivariate_normal
from sklearn.mixture import BayesianGaussianMixture

import gmm_helpers as gh
from gmm import bayes
from gmm import plots as gp


@pytest.fixture(scope="module")
def seed_X():
    return gh.sample_seed_data(n_samples=400, rng=0)[0]


def sklearn_fit(X, resp, **kwargs):
    """scikit-learn's BayesianGaussianMixture started from the responsibilities ``resp``."""
    bgm = BayesianGaussianMixture(n_components=resp.shape[1], **kwargs)
    # scikit-learn computes its first parameters from resp (an M-step); hand it ours.
    bgm._initialize_parameters = lambda X_, random_state, xp=None: bgm._initialize(X_, resp)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning when max_iter is reached
        bgm.fit(X)
    return bgm


def assert_rel(actual, expected, rtol=1e-8):
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape
    scale = np.maximum(np.abs(expected), 1e-300)
    assert np.max(np.abs(actual - expected) / scale) < rtol


# ---------------------------------------------------------------------------
# Variational Bayes against scikit-learn
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("prior_type", bayes.PRIOR_TYPES)
@pytest.mark.parametrize(
    ("K", "n_iter", "smoothing", "seed"),
    [(10, 60, 1e-6, 0), (3, 200, 0.0, 1), (5, 40, 1e-2, 2)],
)
def test_fit_equals_sklearn(seed_X, prior_type, K, n_iter, smoothing, seed):
    # The same number of iterations (tol=0 in both): the stopping rules differ (ours per point
    # on the ELBO, scikit-learn's in total on its collapsed bound), the iterates must not.
    X = seed_X
    resp = bayes.initial_resp(X, K, rng=seed)
    priors = dict(weight_concentration_prior_type=prior_type)
    if seed == 2:  # non-default priors too
        priors.update(
            weight_concentration_prior=0.5,
            mean_precision_prior=0.3,
            mean_prior=[1.0, -1.0],
            degrees_of_freedom_prior=4.5,
            covariance_prior=[[2.0, 0.3], [0.3, 1.0]],
        )
    fit = bayes.fit_bayesian_gmm(
        X, K, init=resp, smoothing=smoothing, max_iter=n_iter, tol=0, **priors
    )
    ref = sklearn_fit(X, resp, reg_covar=smoothing, max_iter=n_iter, tol=0, **priors)
    assert fit.n_iter == ref.n_iter_ == n_iter
    assert not fit.converged and not ref.converged_
    assert_rel(fit.weights, ref.weights_)
    assert_rel(fit.means, ref.means_)
    assert_rel(fit.covariances, ref.covariances_)
    assert_rel(fit.mean_precision, ref.mean_precision_)
    assert_rel(fit.degrees_of_freedom, ref.degrees_of_freedom_)
    if prior_type == "dirichlet_process":
        for ours, theirs in zip(fit.weight_concentration, ref.weight_concentration_, strict=True):
            assert_rel(ours, theirs)
    else:
        assert_rel(fit.weight_concentration, ref.weight_concentration_)
    np.testing.assert_allclose(fit.resp, ref.predict_proba(X), rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("prior_type", bayes.PRIOR_TYPES)
def test_collapsed_bound_is_sklearns_and_the_elbo_minus_a_constant(seed_X, prior_type):
    # scikit-learn's lower_bounds_[i]: the collapsed bound of iteration i + 1's q(Z) and the
    # q(pi) q(mu, Lambda) of its M-step. Replayed with our steps (smoothing 0), it differs
    # from scikit-learn's and from the ELBO of the same pair by constants.
    X, n_iter = seed_X, 12
    resp = bayes.initial_resp(X, 6, rng=0)
    p = bayes.make_priors(X, 6, prior_type)
    ref = sklearn_fit(X, resp, weight_concentration_prior_type=prior_type, reg_covar=0.0,
                      max_iter=n_iter, tol=0)  # fmt: skip
    e_step, m_step = bayes.vb_steps(X, p, smoothing=0.0)
    params, to_sklearn, to_elbo = m_step(resp), [], []
    for _ in range(n_iter):
        resp = e_step(params)[0]
        params = m_step(resp)
        terms = bayes.elbo_terms(X, resp, params, p)
        collapsed = bayes.collapsed_bound(terms["H[q(Z)]"], params)
        to_elbo.append(sum(terms.values()) - collapsed)
        to_sklearn.append(collapsed - ref.lower_bounds_[len(to_elbo) - 1])
    scale = abs(ref.lower_bounds_[-1])
    assert np.ptp(to_sklearn) < 1e-8 * scale
    assert np.ptp(to_elbo) < 1e-8 * scale
    assert np.ptp(ref.lower_bounds_) > 1.0  # the bound moved: the constants are not trivial


def test_stopping_rule_is_the_elbo_change_per_point(seed_X):
    fit = bayes.fit_bayesian_gmm(seed_X, 5, tol=1e-4, max_iter=500, rng=0)
    per_point = np.abs(np.diff(fit.lower_bounds)) / len(seed_X)
    assert fit.converged and fit.n_iter == len(fit.lower_bounds) < 500
    assert per_point[-1] < 1e-4 <= per_point[-2]


def test_sklearn_defaults_are_ours(seed_X):
    X = seed_X
    p = bayes.make_priors(X, 4)
    assert p.weight_concentration_prior == 0.25
    assert p.mean_precision_prior == 1.0
    assert p.degrees_of_freedom_prior == 2
    np.testing.assert_allclose(p.mean_prior, X.mean(0))
    np.testing.assert_allclose(p.covariance_prior, np.cov(X.T))


def test_kmeans_and_random_inits_are_hard_assignments(seed_X):
    for init in gh.INITS:
        resp = bayes.initial_resp(seed_X, 4, init=init, rng=3)
        assert set(np.unique(resp)) == {0.0, 1.0}
        np.testing.assert_array_equal(resp.sum(1), 1.0)
        assert np.all(resp.sum(0) > 0)


# ---------------------------------------------------------------------------
# The ELBO
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("prior_type", bayes.PRIOR_TYPES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_elbo_never_decreases(seed_X, prior_type, seed):
    fit = bayes.fit_bayesian_gmm(
        seed_X,
        8,
        weight_concentration_prior_type=prior_type,
        smoothing=0.0,
        max_iter=200,
        rng=seed,
    )
    lb = fit.lower_bounds
    assert fit.n_iter > 5
    assert np.all(np.diff(lb) >= -1e-10 * np.abs(lb).max())


def test_elbo_is_the_exact_evidence_for_one_component(seed_X):
    # K = 1: q(mu, Lambda) is the exact Normal-Wishart posterior, so the bound is tight.
    X = seed_X[:50]
    N, D = X.shape
    fit = bayes.fit_bayesian_gmm(
        X, 1, weight_concentration_prior_type="dirichlet_distribution", smoothing=0.0, max_iter=3
    )
    p = fit.priors
    beta_n, nu_n = p.mean_precision_prior + N, p.degrees_of_freedom_prior + N
    xbar = X.mean(0)
    scatter = (X - xbar).T @ (X - xbar)
    d = xbar - p.mean_prior
    psi_n = p.covariance_prior + scatter + p.mean_precision_prior * N / beta_n * np.outer(d, d)
    log_evidence = (
        -N * D / 2 * np.log(np.pi)
        + multigammaln(nu_n / 2, D)
        - multigammaln(p.degrees_of_freedom_prior / 2, D)
        + p.degrees_of_freedom_prior / 2 * np.linalg.slogdet(p.covariance_prior)[1]
        - nu_n / 2 * np.linalg.slogdet(psi_n)[1]
        + D / 2 * np.log(p.mean_precision_prior / beta_n)
    )
    np.testing.assert_allclose(fit.lower_bounds, log_evidence, rtol=1e-10)


def test_kl_terms_vanish_at_the_prior_and_are_positive_elsewhere(seed_X):
    K, D = 3, 2
    for prior_type in bayes.PRIOR_TYPES:
        p = bayes.make_priors(seed_X, K, prior_type, weight_concentration_prior=0.7)
        nk0 = np.zeros(K)
        conc0 = bayes.update_weight_concentration(nk0, p)
        if prior_type == "dirichlet_process":  # q = prior: Beta(1, alpha_0) for every stick
            np.testing.assert_allclose(conc0, (np.ones(K), np.full(K, 0.7)))
        assert abs(bayes.kl_weights(conc0, p)) < 1e-12
        assert (
            bayes.kl_weights(bayes.update_weight_concentration(np.array([5.0, 1.0, 0.5]), p), p) > 0
        )
    at_prior = {
        "mean_precision": np.full(K, p.mean_precision_prior),
        "means": np.tile(p.mean_prior, (K, 1)),
        "degrees_of_freedom": np.full(K, p.degrees_of_freedom_prior),
        "covariances": np.tile(p.covariance_prior / p.degrees_of_freedom_prior, (K, 1, 1)),
    }
    assert abs(bayes.kl_gaussian_wishart(at_prior, p)) < 1e-10
    np.testing.assert_allclose(
        bayes.kl_gaussian_wishart(at_prior, p, per_component=True), 0, atol=1e-10
    )
    moved = dict(at_prior, means=at_prior["means"] + 0.5, degrees_of_freedom=np.full(K, D + 3.0))
    assert bayes.kl_gaussian_wishart(moved, p) > 0
    # one component moved: only its term is positive, and the terms add up to the total
    one = {key: value.copy() for key, value in at_prior.items()}
    one["means"][1] += 0.5
    terms = bayes.kl_gaussian_wishart(one, p, per_component=True)
    assert terms[1] > 0 and abs(terms[0]) < 1e-10 and abs(terms[2]) < 1e-10
    assert np.isclose(terms.sum(), bayes.kl_gaussian_wishart(one, p), rtol=1e-12)


def test_elbo_terms_sum_to_the_elbo(seed_X):
    X = seed_X
    p = bayes.make_priors(X, 4)
    resp = bayes.initial_resp(X, 4, rng=0)
    params = bayes.vb_m_step(X, resp, p)
    terms = bayes.elbo_terms(X, resp, params, p)
    assert len(terms) == 4
    assert np.isclose(sum(terms.values()), bayes.elbo(X, resp, params, p), rtol=1e-14)


def test_expected_log_gaussian_against_scipy(seed_X):
    # For huge beta_k and nu_k the posterior is a point mass: E[log N] -> log N.
    X = seed_X[:30]
    means = np.array([[0.0, 1.0], [2.0, -1.0]])
    covs = np.array([[[1.0, 0.3], [0.3, 2.0]], [[0.5, 0.0], [0.0, 0.2]]])
    big = np.full(2, 1e12)
    ours = bayes.expected_log_gaussian(X, means, covs, big, big)
    ref = np.column_stack(
        [multivariate_normal(m, c).logpdf(X) for m, c in zip(means, covs, strict=True)]
    )
    np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-9)


# ---------------------------------------------------------------------------
# MAP EM
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_map_log_posterior_never_decreases(seed):
    X = gh.sample_seed_data(rng=0)[0][::100]  # 20 points, K = 6: where smoothing struggles
    fit = bayes.fit_map_gmm(X, 6, init="random", rng=seed, tol=1e-10, max_iter=300)
    lp = fit.log_posteriors
    assert fit.n_iter > 5
    assert np.all(np.diff(lp) >= -1e-10 * np.abs(lp).max())
    assert np.all(np.linalg.eigvalsh(fit.covariances) > 0)


def test_map_m_step_maximises_the_expected_log_posterior(seed_X):
    X = seed_X[:60]
    p = bayes.make_priors(X, 3, "dirichlet_distribution", weight_concentration_prior=2.0)
    rng = np.random.default_rng(0)
    resp = rng.dirichlet(np.ones(3), size=len(X))

    def objective(w, m, c):  # E_q[log p(X, Z | theta)] + log p(theta)
        log_n = np.column_stack([multivariate_normal(m[k], c[k]).logpdf(X) for k in range(3)])
        return np.sum(resp * (np.log(w) + log_n)) + bayes.log_prior(w, m, c, p)

    w, m, c = bayes.map_m_step(X, resp, p)
    best = objective(w, m, c)
    for _ in range(20):
        a = rng.standard_normal((2, 2)) * 0.02
        w2 = np.abs(w + rng.standard_normal(3) * 0.01)
        w2 /= w2.sum()
        c2 = c + (a @ a.T)[None] * rng.choice([-1, 1])
        assert objective(w2, m + rng.standard_normal(m.shape) * 0.02, c2) < best


def test_map_without_prior_strength_is_maximum_likelihood(seed_X):
    # beta_0 -> 0, Psi -> 0, nu_0 = -D - 2 (formally), alpha_0 = 1: the ML M-step.
    X = seed_X
    resp = bayes.initial_resp(X, 3, rng=0)
    p = bayes.Priors("dirichlet_distribution", 1.0, 1e-300, X.mean(0), -4.0, np.zeros((2, 2)))
    w, m, c = bayes.map_m_step(X, resp, p)
    ml = gh.m_step(X, resp, smoothing=0)
    for ours, theirs in zip((w, m, c), ml, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-9)


# ---------------------------------------------------------------------------
# Bad input, imports, the widget
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"X": [[np.nan, 1.0], [0.0, 1.0]]}, "finite"),
        ({"X": [1.0, 2.0, 3.0]}, "shape"),
        ({"n_components": 0}, "n_components"),
        ({"n_components": 2.5}, "n_components"),
        ({"weight_concentration_prior_type": "dirichlet"}, "weight_concentration_prior_type"),
        ({"weight_concentration_prior": -1.0}, "weight_concentration_prior"),
        ({"mean_precision_prior": 0}, "mean_precision_prior"),
        ({"mean_prior": [0.0]}, "mean_prior"),
        ({"degrees_of_freedom_prior": 0.5}, "degrees_of_freedom_prior"),
        ({"covariance_prior": [[1.0, 2.0], [2.0, 1.0]]}, "positive definite"),
        ({"covariance_prior": np.eye(3)}, "covariance_prior"),
        ({"smoothing": -1e-3}, "smoothing"),
        ({"init": "kmeans"}, "init"),
        ({"init": np.ones((400, 3))}, "rows sum to 1"),
        ({"init": np.full((10, 3), 1 / 3)}, "shape"),
        ({"max_iter": 0}, "max_iter"),
        ({"tol": -1}, "tol"),
        ({"rng": "zero"}, "rng"),
    ],
)
def test_bad_input_is_a_clear_value_error(seed_X, kwargs, match):
    args = {"X": seed_X, "n_components": 3}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match) as err:
        bayes.fit_bayesian_gmm(args.pop("X"), args.pop("n_components"), **args)
    assert "expected" in str(err.value) and "try" in str(err.value)


def test_map_refuses_a_dirichlet_below_one(seed_X):
    with pytest.raises(ValueError, match="weight_concentration_prior .* >= 1.*boundary"):
        bayes.fit_map_gmm(seed_X, 3, weight_concentration_prior=0.5)


def test_explorer_shows_a_message_not_a_traceback(monkeypatch):
    box = bayes.concentration_explorer(n_samples=50)
    assert box.state["n_updates"] == 1
    assert "<img" in box.children[1].value

    def broken(*args, **kwargs):
        raise ValueError("expected something, got nothing; try again")

    monkeypatch.setattr(bayes, "concentration_figure", broken)
    box.controls["weight_concentration_prior"].value = 10.0
    assert box.state["n_updates"] == 2
    texts = [t.get_text() for t in box.state["figure"].texts]
    assert any("expected something" in t for t in texts)
    assert not box.children[2].outputs  # nothing escaped into the Output widget


def test_survivor_colors_follow_the_true_clusters():
    true_means = np.array([[0.0, 0.0], [5.0, 5.0], [0.0, 5.0]])
    palette = gp.component_colors(5)
    weights = np.array([0.001, 0.3, 0.001, 0.1, 0.598])
    means = np.array([[9.0, 9.0], [5.1, 4.9], [8.0, 8.0], [0.1, 5.2], [0.2, -0.1]])
    colors = bayes.survivor_colors(weights, means, true_means)
    np.testing.assert_array_equal(colors[[4, 1, 3]], palette[:3])  # matched to clusters 0, 1, 2
    assert {tuple(c) for c in colors[[0, 2]]} == {tuple(c) for c in palette[3:]}
    # fewer components than references: the heaviest take the first references' colours
    two = bayes.survivor_colors(
        np.array([0.3, 0.7]), np.array([[5.0, 5.0], [0.0, 0.0]]), true_means
    )
    np.testing.assert_array_equal(two, gp.component_colors(2)[[1, 0]])

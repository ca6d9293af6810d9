"""Unit tests for gmm.bernoulli, the mixture of multivariate Bernoullis of notebook 10.

References: scipy.stats.bernoulli for the densities, plain Python loops over n, k and d for
the E- and M-steps and the EM loop, and the EM guarantee (the log-likelihood never decreases).
"""

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
from scipy.optimize import minimize_scalar
from scipy.special import logsumexp
from scipy.stats import bernoulli

from gmm import bernoulli as bm

ROOT = Path(__file__).resolve().parent.parent


def random_binary(rng, N=60, D=9):
    return (rng.random((N, D)) < rng.uniform(0.1, 0.9, size=D)).astype(float)


def random_parameters(rng, K=3, D=9):
    weights = rng.dirichlet(np.ones(K))
    means = rng.uniform(0.02, 0.98, size=(K, D))
    return weights, means


def scipy_log_joint(X, weights, means):
    """log pi_k + sum_d log Bernoulli(x_nd | mu_kd), from scipy; (N, K)."""
    log_w = np.log(weights)
    return np.array(
        [[log_w[k] + bernoulli.logpmf(x, mu).sum() for k, mu in enumerate(means)] for x in X]
    )


def loop_em(X, weights, means, n_iter, smoothing):
    """EM written as loops over n, k and d with math from scipy, Eqs. (10.5)-(10.8)."""
    N, D = X.shape
    K = len(weights)
    log_likelihoods = []
    for _ in range(n_iter):
        log_joint = scipy_log_joint(X, weights, means)
        resp = np.empty((N, K))
        ll = 0.0
        for n in range(N):
            log_px = logsumexp(log_joint[n])
            ll += log_px
            for k in range(K):
                resp[n, k] = np.exp(log_joint[n, k] - log_px)
        log_likelihoods.append(ll)
        new_means = np.empty((K, D))
        for k in range(K):
            nk = sum(resp[n, k] for n in range(N))
            for d in range(D):
                on = sum(resp[n, k] * X[n, d] for n in range(N))
                new_means[k, d] = (on + smoothing) / (nk + 2 * smoothing)
        weights = resp.sum(axis=0) / N
        means = new_means
    return weights, means, np.array(log_likelihoods)


# ---------------------------------------------------------------------------
# Densities, E-step, M-step
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
def test_log_density_matches_scipy(seed):
    rng = np.random.default_rng(seed)
    X = random_binary(rng)
    _, means = random_parameters(rng, K=4)
    expected = scipy_log_joint(X, np.ones(4), means)
    np.testing.assert_allclose(bm.log_bernoulli_density(X, means), expected, rtol=1e-12)


def test_log_density_at_the_edges_matches_scipy():
    # mu = 0 or 1: 0 log 0 = 0 where the pixel agrees, -inf where it cannot happen
    X = np.array([[0, 1, 0], [1, 1, 0], [0, 0, 1], [0, 1, 1]], dtype=float)
    means = np.array([[0.0, 1.0, 0.5], [0.3, 1.0, 0.0], [0.2, 0.6, 0.9]])
    expected = scipy_log_joint(X, np.ones(3), means)
    got = bm.log_bernoulli_density(X, means)
    assert np.isneginf(expected).any() and np.isfinite(expected).any()
    np.testing.assert_array_equal(np.isneginf(got), np.isneginf(expected))
    finite = np.isfinite(expected)
    np.testing.assert_allclose(got[finite], expected[finite], rtol=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_e_step_matches_scipy(seed):
    rng = np.random.default_rng(seed)
    X = random_binary(rng)
    weights, means = random_parameters(rng)
    log_joint = scipy_log_joint(X, weights, means)
    resp, ll = bm.bernoulli_e_step(X, weights, means)
    np.testing.assert_allclose(resp, np.exp(log_joint - logsumexp(log_joint, axis=1)[:, None]))
    np.testing.assert_allclose(resp.sum(axis=1), 1.0)
    assert ll == pytest.approx(logsumexp(log_joint, axis=1).sum(), rel=1e-12)
    fit = (weights, means)
    np.testing.assert_allclose(bm.bernoulli_score_samples(X, fit), logsumexp(log_joint, axis=1))


def test_e_step_survives_huge_log_densities():
    # 2000 pixels: the densities underflow to 0 but the log-space E-step stays exact
    rng = np.random.default_rng(0)
    X = random_binary(rng, N=20, D=2000)
    weights, means = random_parameters(rng, K=3, D=2000)
    log_joint = scipy_log_joint(X, weights, means)
    assert np.all(np.exp(log_joint) == 0)
    resp, ll = bm.bernoulli_e_step(X, weights, means)
    assert np.all(np.isfinite(resp))
    assert ll == pytest.approx(logsumexp(log_joint, axis=1).sum(), rel=1e-12)


@pytest.mark.parametrize("smoothing", [0.0, 1e-2, 1.0])
def test_m_step_matches_loops(smoothing):
    rng = np.random.default_rng(1)
    X = random_binary(rng, N=30, D=5)
    resp = rng.dirichlet(np.ones(3), size=30)
    weights, means = bm.bernoulli_m_step(X, resp, smoothing=smoothing)
    for k in range(3):
        nk = sum(resp[n, k] for n in range(30))
        assert weights[k] == pytest.approx(nk / 30)
        for d in range(5):
            on = sum(resp[n, k] * X[n, d] for n in range(30))
            assert means[k, d] == pytest.approx((on + smoothing) / (nk + 2 * smoothing))


def test_m_step_is_the_map_estimate_under_a_beta_prior():
    # mu_kd maximises sum_n gamma_nk log Bernoulli(x_nd | mu) + log Beta(mu | 1 + s, 1 + s)
    rng = np.random.default_rng(2)
    X = random_binary(rng, N=25, D=4)
    resp = rng.dirichlet(np.ones(2), size=25)
    s = 0.7
    _, means = bm.bernoulli_m_step(X, resp, smoothing=s)
    for k, d in [(0, 0), (1, 3)]:

        def minus_log_posterior(mu, k=k, d=d):
            log_lik = resp[:, k] @ bernoulli.logpmf(X[:, d], mu)
            return -(log_lik + s * np.log(mu) + s * np.log1p(-mu))

        best = minimize_scalar(minus_log_posterior, bounds=(1e-9, 1 - 1e-9), method="bounded")
        assert means[k, d] == pytest.approx(best.x, abs=1e-5)


# ---------------------------------------------------------------------------
# The EM loop
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("smoothing", [0.0, 1e-2])
def test_fit_matches_a_brute_force_loop_from_the_same_start(smoothing):
    rng = np.random.default_rng(3)
    X = random_binary(rng, N=40, D=6)
    start = random_parameters(rng, K=3, D=6)
    fit = bm.fit_bernoulli_mixture(X, 3, init=start, tol=0, max_iter=6, smoothing=smoothing)
    weights, means, lls = loop_em(X, *start, n_iter=6, smoothing=smoothing)
    assert fit.n_iter == 6 and not fit.converged
    np.testing.assert_allclose(fit.weights, weights, rtol=1e-10)
    np.testing.assert_allclose(fit.means, means, rtol=1e-10)
    np.testing.assert_allclose(fit.log_likelihoods, lls, rtol=1e-12)
    np.testing.assert_allclose(fit.resp, bm.bernoulli_e_step(X, weights, means)[0], rtol=1e-10)


@pytest.mark.parametrize("seed", range(5))
def test_log_likelihood_never_decreases(seed):
    rng = np.random.default_rng(seed)
    X = random_binary(rng, N=200, D=16)
    fit = bm.fit_bernoulli_mixture(X, 4, smoothing=0, tol=0, max_iter=60, rng=seed)
    # rounding noise of a sum of 200 logarithms is far below 1e-9 of the total
    assert np.diff(fit.log_likelihoods).min() >= -1e-9 * abs(fit.log_likelihoods[-1])
    assert fit.log_likelihoods[-1] > fit.log_likelihoods[0]


def test_smoothed_em_never_lowers_the_log_posterior():
    rng = np.random.default_rng(4)
    X = random_binary(rng, N=150, D=12)
    s = 0.5
    fit = bm.fit_bernoulli_mixture(X, 3, smoothing=s, tol=0, max_iter=30, rng=0)
    # replay the run: log-likelihood + log Beta(1 + s, 1 + s) prior, before every M-step
    weights, means = (
        1 / 3 * np.ones(3),
        0.25 + 0.5 * X[np.random.default_rng(0).choice(150, 3, False)],
    )
    log_posteriors = []
    for _ in range(30):
        resp, ll = bm.bernoulli_e_step(X, weights, means)
        log_posteriors.append(ll + s * (np.log(means) + np.log1p(-means)).sum())
        weights, means = bm.bernoulli_m_step(X, resp, smoothing=s)
    np.testing.assert_allclose(weights, fit.weights)
    assert np.diff(log_posteriors).min() >= -1e-9 * abs(log_posteriors[-1])


def test_stopping_rule_and_random_start():
    rng = np.random.default_rng(5)
    X = random_binary(rng, N=100, D=8)
    assert bm.fit_bernoulli_mixture(X, 2, tol=0, max_iter=7, rng=0).n_iter == 7
    loose = bm.fit_bernoulli_mixture(X, 2, tol=1e9, rng=0)
    assert loose.n_iter == 2 and loose.converged
    fit = bm.fit_bernoulli_mixture(X, 2, rng=0, max_iter=200)
    assert fit.converged
    lls = fit.log_likelihoods / len(X)
    assert abs(lls[-1] - lls[-2]) < 1e-3 <= abs(lls[-2] - lls[-3])
    # the same seed, the same fit; the start is K distinct rows with 0 -> 1/4 and 1 -> 3/4
    np.testing.assert_array_equal(fit.means, bm.fit_bernoulli_mixture(X, 2, rng=0).means)
    first = bm.fit_bernoulli_mixture(X, 3, rng=1, max_iter=1, smoothing=0)
    rows = np.random.default_rng(1).choice(100, size=3, replace=False)
    start = (np.full(3, 1 / 3), 0.25 + 0.5 * X[rows])
    assert first.log_likelihoods[0] == pytest.approx(bm.bernoulli_e_step(X, *start)[1])


def test_fit_on_data_from_a_known_mixture_recovers_it():
    rng = np.random.default_rng(6)
    weights = np.array([0.3, 0.7])
    means = np.array([[0.9, 0.9, 0.1, 0.1, 0.8, 0.2], [0.1, 0.2, 0.9, 0.8, 0.2, 0.9]])
    X, _ = bm.sample_bernoulli_mixture(weights, means, 4000, rng=rng)
    fit = bm.fit_bernoulli_mixture(X, 2, rng=0, tol=1e-8, max_iter=500)
    order = np.argsort(fit.weights)
    np.testing.assert_allclose(fit.weights[order], weights, atol=0.03)
    np.testing.assert_allclose(fit.means[order], means, atol=0.05)


def test_samples_follow_the_mixture():
    weights = np.array([0.25, 0.75])
    means = np.array([[0.0, 1.0, 0.5], [1.0, 0.2, 0.5]])
    X, labels = bm.sample_bernoulli_mixture(weights, means, 20000, rng=0)
    assert set(np.unique(X)) <= {0.0, 1.0}
    assert np.mean(labels == 0) == pytest.approx(0.25, abs=0.02)
    for k in range(2):
        np.testing.assert_allclose(X[labels == k].mean(axis=0), means[k], atol=0.02)


# ---------------------------------------------------------------------------
# Bad input and wiring
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"X": np.full((5, 3), 0.5)}, "only the values 0 and 1"),
        ({"X": np.arange(6.0)}, "2-D"),
        ({"X": [[0, np.nan], [1, 0]]}, "only the values 0 and 1"),
        ({"X": [["a", "b"]]}, "0/1 values"),
        ({"n_components": 0}, "n_components"),
        ({"n_components": 50}, "n_components"),
        ({"n_components": 2.0}, "n_components"),
        ({"init": "kmeans++"}, "init"),
        ({"init": (np.ones(2) / 2,)}, "init as a tuple"),
        ({"init": (np.ones(3) / 3, np.full((3, 4), 0.5))}, "K = 2"),
        ({"init": (np.ones(2) / 2, np.full((2, 5), 0.5))}, "D = 4"),
        ({"init": (np.ones(2), np.full((2, 4), 0.5))}, "summing to 1"),
        ({"init": (np.ones(2) / 2, np.full((2, 4), 1.5))}, "between 0 and 1"),
        ({"smoothing": -1.0}, "smoothing"),
        ({"smoothing": np.inf}, "smoothing"),
        ({"tol": -1e-3}, "tol"),
        ({"max_iter": 0}, "max_iter"),
        ({"rng": "seed"}, "rng"),
    ],
)
def test_bad_input_is_a_clear_value_error(kwargs, message):
    args = {"X": (np.random.default_rng(0).random((10, 4)) < 0.5), "n_components": 2}
    args.update(kwargs)
    X, K = args.pop("X"), args.pop("n_components")
    with pytest.raises(ValueError, match=message) as info:
        bm.fit_bernoulli_mixture(X, K, **args)
    assert "expected" in str(info.value) and "try" in str(info.value)


def test_bad_input_to_the_steps():
    X = np.array([[0, 1], [1, 1], [1, 0]], dtype=float)
    with pytest.raises(ValueError, match="resp of shape"):
        bm.bernoulli_m_step(X, np.ones((2, 2)) / 2)
    with pytest.raises(ValueError, match="rows sum to 1"):
        bm.bernoulli_m_step(X, np.ones((3, 2)))
    with pytest.raises(ValueError, match="N_k = 0"):
        bm.bernoulli_m_step(X, np.array([[1.0, 0.0]] * 3), smoothing=0)
    with pytest.raises(ValueError, match="possible under some component"):
        bm.bernoulli_e_step(X, [1.0], [[0.0, 1.0]])
    with pytest.raises(ValueError, match="means of shape"):
        bm.log_bernoulli_density(X, [0.5, 0.5])
    with pytest.raises(ValueError, match="BernoulliMixtureFit"):
        bm.bernoulli_score_samples(X, "fit")
    with pytest.raises(ValueError, match="n_samples"):
        bm.sample_bernoulli_mixture([1.0], [[0.5, 0.5]], 0)


def test_an_empty_component_with_smoothing_takes_the_prior_mode():
    X = np.array([[0, 1], [1, 1], [1, 0]], dtype=float)
    weights, means = bm.bernoulli_m_step(X, np.array([[1.0, 0.0]] * 3), smoothing=0.1)
    np.testing.assert_allclose(means[1], 0.5)  # no data: the prior's mode
    assert weights[1] == 0


def test_plot_helpers_return_their_axes():
    images = np.random.default_rng(0).random((12, 64))
    ax = bm.plot_images(images, n_cols=5, titles=[str(i) for i in range(12)])
    assert ax.images[0].get_array().shape == (3 * 11 - 3, 5 * 9 - 1)
    assert len(ax.texts) == 12
    ax = bm.plot_counts(np.array([[3, 0], [1, 5]]))
    assert [t.get_text() for t in ax.texts] == ["3", "1", "5"]
    ax = bm.show_image(np.zeros((4, 5, 3)), title="t")
    assert ax.get_title() == "t" and ax.images
    plt.close("all")

"""Tests of gmm/em.py's loop and its SQUAREM acceleration (chapter 12), on the Gaussian mixture
(``gh.fit_gmm``) and on the Bernoulli mixture's public steps."""

import numpy as np
import pytest

import gmm_helpers as gh
from gmm import bernoulli as bm
from gmm.em import em


@pytest.fixture(scope="module")
def seed2():
    return gh.sample_seed_data(2.0, n_samples=1000, rng=0)[0]


def plain_loop(start, e_step, m_step, n_points, max_iter, tol):
    """The loop of ``em`` as it was before SQUAREM, written out."""
    params, objectives = start, []
    for _ in range(max_iter):
        expectations, objective = e_step(params)
        params = m_step(expectations)
        stop = bool(objectives) and abs(objective - objectives[-1]) / n_points < tol
        objectives.append(objective)
        if stop:
            break
    return params, objectives


def test_accelerate_false_is_the_plain_loop(seed2):
    start = gh.initial_parameters(seed2, 3, rng=0)
    steps = gh.sum_steps(seed2, smoothing=1e-2, covariance_type="full")
    params, objectives = plain_loop(start, *steps, len(seed2), 100, 1e-3)
    run = em(start, *steps, n_points=len(seed2), accelerate=False)
    assert run.n_iter == len(objectives)
    np.testing.assert_array_equal(run.objectives, objectives)
    for got, want in zip(run.params, params, strict=True):
        np.testing.assert_array_equal(got, want)  # bitwise
    fit = gh.fit_gmm(seed2, 3, rng=0)
    np.testing.assert_array_equal(fit.means, params[1])


@pytest.mark.parametrize("separation", [2.0, 3.0, 5.0])
def test_squarem_reaches_plain_ems_fixed_point(separation):
    X = gh.sample_seed_data(separation, n_samples=1000, rng=0)[0]
    kw = dict(smoothing=0.0, rng=0, tol=1e-10, max_iter=20_000)
    plain = gh.fit_gmm(X, 3, **kw)
    fast = gh.fit_gmm(X, 3, accelerate=True, **kw)
    assert fast.converged and plain.converged
    assert fast.n_iter < plain.n_iter
    for got, want in zip(gh.as_parameters(fast), gh.as_parameters(plain), strict=True):
        np.testing.assert_allclose(got, want, atol=1e-3)
    # and it is a fixed point of plain EM: one more plain step barely moves it
    again = gh.fit_gmm(X, 3, init=gh.as_parameters(fast), smoothing=0.0, tol=0, max_iter=1)
    np.testing.assert_allclose(again.means, fast.means, atol=1e-5)


def test_squarem_objectives_never_decrease_without_smoothing(seed2):
    fit = gh.fit_gmm(seed2, 3, smoothing=0.0, rng=1, tol=1e-9, max_iter=2000, accelerate=True)
    assert np.all(np.diff(fit.log_likelihoods) >= 0)
    assert len(fit.log_likelihoods) < fit.n_iter  # some evaluations were trials, not iterates


def test_squarem_counts_evaluations_and_max_iter_caps_them(seed2):
    start = gh.initial_parameters(seed2, 3, rng=0)
    e_step, m_step = gh.sum_steps(seed2, smoothing=0.0, covariance_type="full")
    calls = {"e": 0, "m": 0}

    def counted_e(params):
        calls["e"] += 1
        return e_step(params)

    def counted_m(sums):
        calls["m"] += 1
        return m_step(sums)

    run = em(start, counted_e, counted_m, n_points=len(seed2), tol=1e-9, max_iter=5000,
             accelerate=True, is_valid=gh.valid_gmm)  # fmt: skip
    assert run.n_iter == calls["e"] == calls["m"]
    for cap in (1, 2, 3, 7, 20):
        capped = gh.fit_gmm(seed2, 3, rng=0, smoothing=0.0, tol=0, max_iter=cap, accelerate=True)
        assert capped.n_iter == cap and not capped.converged
        assert 1 <= len(capped.log_likelihoods) <= cap


def test_squarem_history_matches_objectives(seed2):
    start = gh.initial_parameters(seed2, 3, rng=0)
    e_step, m_step = gh.sum_steps(seed2, smoothing=0.0, covariance_type="full")
    run = em(start, e_step, m_step, n_points=len(seed2), tol=1e-6, max_iter=500,
             accelerate=True, is_valid=gh.valid_gmm, keep_history=True)  # fmt: skip
    assert len(run.history) == len(run.objectives) + 1
    for params, objective in zip(run.history, run.objectives, strict=False):
        assert e_step(params)[1] == pytest.approx(objective, rel=1e-12)


def test_squarem_respects_validity(seed2):
    """An is_valid that rejects everything leaves plain EM: the same iterates, the same count."""
    start = gh.initial_parameters(seed2, 3, rng=0)
    steps = gh.sum_steps(seed2, smoothing=1e-2, covariance_type="full")
    kw = dict(n_points=len(seed2), tol=1e-6, max_iter=300)
    plain = em(start, *steps, **kw)
    never = em(start, *steps, accelerate=True, is_valid=lambda params: False, **kw)
    assert never.n_iter == plain.n_iter
    np.testing.assert_allclose(never.objectives, plain.objectives, rtol=1e-12)


@pytest.mark.parametrize("bad", ["yes", 1, None, "squarem", 2.0])
def test_bad_accelerate_is_a_clear_error(seed2, bad):
    with pytest.raises(ValueError, match="expected accelerate to be True"):
        gh.fit_gmm(seed2, 3, rng=0, accelerate=bad)


def test_bad_is_valid_is_a_clear_error(seed2):
    steps = gh.sum_steps(seed2, smoothing=1e-2, covariance_type="full")
    start = gh.initial_parameters(seed2, 3, rng=0)
    with pytest.raises(ValueError, match="expected is_valid"):
        em(start, *steps, n_points=len(seed2), accelerate=True, is_valid="weights > 0")


def test_valid_gmm():
    weights, means, covariances = gh.seed_parameters()
    assert gh.valid_gmm((weights, means, covariances))
    assert not gh.valid_gmm((np.array([1.1, 0.0, -0.1]), means, covariances))
    bent = covariances.copy()
    bent[1] = [[1.0, 2.0], [2.0, 1.0]]  # eigenvalues 3 and -1
    assert not gh.valid_gmm((weights, means, bent))


def test_squarem_on_the_bernoulli_mixture():
    rng = np.random.default_rng(0)
    means = np.array([[0.8, 0.7, 0.2, 0.1, 0.5, 0.6], [0.3, 0.2, 0.7, 0.9, 0.5, 0.4]])
    X, _ = bm.sample_bernoulli_mixture(np.array([0.5, 0.5]), means, 600, rng=rng)
    start = (np.array([0.5, 0.5]), rng.uniform(0.3, 0.7, size=(2, 6)))

    def e_step(params):
        return bm.bernoulli_e_step(X, *params)

    def m_step(resp):
        return bm.bernoulli_m_step(X, resp, smoothing=0.0)

    def valid(params):
        return bool(np.all(params[0] > 0) and np.all((params[1] > 0) & (params[1] < 1)))

    kw = dict(n_points=len(X), tol=1e-11, max_iter=20_000)
    plain = em(start, e_step, m_step, **kw)
    fast = em(start, e_step, m_step, accelerate=True, is_valid=valid, **kw)
    assert fast.n_iter < plain.n_iter
    assert np.all(np.diff(fast.objectives) >= 0)
    np.testing.assert_allclose(fast.params[1], plain.params[1], atol=1e-4)


def test_the_stopping_rule_on_a_scripted_objective():
    """em's one rule, read off a known sequence: the objective (N = 10 points) gains 40, 5, 0.625,
    0.078, ... in total, so its change per point first falls below tol = 0.01 at the fifth
    E-step; tol=0 runs max_iter; the history holds the start and every M-step's parameters."""
    values = np.cumsum(np.r_[0.0, 40.0 * 0.125 ** np.arange(19)])

    def e_step(params):
        return params, values[params]

    def m_step(i):
        return i + 1

    run = em(0, e_step, m_step, n_points=10, tol=0.01, keep_history=True)
    changes = np.diff(values) / 10  # 4, 0.5, 0.0625, 0.0078: first below 0.01 at the 4th
    assert run.n_iter == 1 + int(np.argmax(changes < 0.01)) + 1 == 5
    assert run.converged and run.params == 5 and run.history == [0, 1, 2, 3, 4, 5]
    np.testing.assert_array_equal(run.objectives, values[:5])
    full = em(0, e_step, m_step, n_points=10, tol=0, max_iter=7)
    assert full.n_iter == 7 and not full.converged and full.history == []

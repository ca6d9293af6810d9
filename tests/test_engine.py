"""gmm.engine computes what the plain functions of gmm_helpers compute: the blocked E-step
(one block, many blocks, odd block boundaries), its sums of Eq. (9.1) and the M-step from
them, the threaded chunked pass, for the four covariance types and both kernels (quadratic
features and Mahalanobis distances), to 1e-10."""

import threading

import numpy as np
import pytest
from scipy.special import logsumexp, softmax
from threadpoolctl import threadpool_info

import gmm_helpers as gh
from gmm import engine

K, D = 3, 4
TIGHT = dict(rtol=1e-10, atol=1e-12)


def blas_threads():
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


def data(N, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((K, D)) * 4 + 50  # far from the origin: the shift matters
    return centres[rng.integers(K, size=N)] + rng.standard_normal((N, D))


def parameters(covariance_type, seed=1):
    """Parameters of the given type, from one plain M-step on random responsibilities."""
    X = data(200, seed)
    resp = np.random.default_rng(seed).dirichlet(np.ones(K), size=200)
    return gh.m_step(X, resp, smoothing=0.1, covariance_type=covariance_type)


def plain_m_step_from_engine(X, params, smoothing, covariance_type, **kwargs):
    """The M-step, Eq. (9.2), from the engine's sums of Eq. (9.1) over X."""
    YT, shift = engine.shifted_transpose(X)
    nk, sy, syy, ll = engine.statistics(YT, params[0], params[1] - shift, params[2], **kwargs)
    stats = gh.SufficientStatistics(nk, sy, syy, ll, X.shape[0], shift)
    return gh.m_step_from_statistics(stats, smoothing, covariance_type), ll


@pytest.fixture(params=["features", "distances"])
def kernel(request, monkeypatch):
    """Every pass of the test runs the given kernel, whatever the automatic choice."""
    features = request.param == "features"
    monkeypatch.setattr(engine, "use_features", lambda *args: features)
    return request.param


BLOCK = engine.block_columns(K, D)
SIZES = [1, 2, BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK + 7]


@pytest.mark.parametrize("covariance_type", gh.COVARIANCE_TYPES)
@pytest.mark.parametrize("N", SIZES)
def test_engine_e_step_equals_e_step(covariance_type, N, kernel):
    X, params = data(N), parameters(covariance_type)
    YT, shift = engine.shifted_transpose(X)
    resp, ll = engine.responsibilities(YT, params[0], params[1] - shift, params[2])
    want_resp, want_ll = gh.e_step(X, *params)
    assert resp.shape == (K, N)
    np.testing.assert_allclose(resp.T, want_resp, **TIGHT)
    np.testing.assert_allclose(ll, want_ll, rtol=1e-10)


@pytest.mark.parametrize("covariance_type", gh.COVARIANCE_TYPES)
@pytest.mark.parametrize("N", SIZES)
def test_engine_sums_give_m_step(covariance_type, N, kernel):
    X, params = data(N), parameters(covariance_type)
    got, ll = plain_m_step_from_engine(X, params, 1e-2, covariance_type)
    resp, want_ll = gh.e_step(X, *params)
    want = gh.m_step(X, resp, 1e-2, covariance_type)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, **TIGHT)
    np.testing.assert_allclose(ll, want_ll, rtol=1e-10)


def test_block_size_does_not_change_the_sums(kernel):
    X, params = data(5000), parameters("full")
    default, _ = plain_m_step_from_engine(X, params, 1e-2, "full")
    small, _ = plain_m_step_from_engine(X, params, 1e-2, "full", block_bytes=1)
    assert engine.block_columns(K, D, block_bytes=1) == engine.MIN_BLOCK_COLUMNS
    for a, b in zip(small, default, strict=True):
        np.testing.assert_allclose(a, b, **TIGHT)


def test_blocks_cover_every_index_once():
    for n, size in [(1, 5), (5, 5), (6, 5), (17, 4)]:
        covered = np.concatenate([np.arange(n)[s] for s in engine.blocks(n, size)])
        np.testing.assert_array_equal(covered, np.arange(n))
        assert all(s.stop - s.start <= size for s in engine.blocks(n, size))


@pytest.mark.parametrize("covariance_type", gh.COVARIANCE_TYPES)
@pytest.mark.parametrize("n_jobs", [1, 2, 3])
@pytest.mark.parametrize("N, chunk_size", [(1, 7), (2 * BLOCK + 1, BLOCK + 1), (40_000, 9_999)])
def test_chunked_pass_equals_e_step_and_m_step(covariance_type, n_jobs, N, chunk_size, kernel):
    X, params = data(N), parameters(covariance_type)
    shift = X[:chunk_size].mean(axis=0)
    with engine.chunked_pass(X, shift, K, chunk_size, n_jobs) as statistics:
        nk, sy, syy, ll = statistics(*params)
    stats = gh.SufficientStatistics(nk, sy, syy, ll, N, shift)
    got = gh.m_step_from_statistics(stats, 1e-2, covariance_type)
    resp, want_ll = gh.e_step(X, *params)
    for a, b in zip(got, gh.m_step(X, resp, 1e-2, covariance_type), strict=True):
        np.testing.assert_allclose(a, b, **TIGHT)
    np.testing.assert_allclose(ll, want_ll, rtol=1e-10)


@pytest.mark.parametrize("covariance_type", gh.COVARIANCE_TYPES)
def test_fit_gmm_on_the_engine_follows_the_plain_em_loop(covariance_type, kernel):
    X = data(3000)
    start = gh.initial_parameters(X, K, "random", rng=0, covariance_type=covariance_type)
    params, plain_ll = start, []
    for _ in range(5):
        resp, ll = gh.e_step(X, *params)
        plain_ll.append(ll)
        params = gh.m_step(X, resp, 1e-2, covariance_type)
    for fit in (
        gh.fit_gmm(X, K, init=start, tol=0, max_iter=5, covariance_type=covariance_type),
        gh.fit_gmm_chunked(
            X,
            K,
            init=start,
            tol=0,
            max_iter=5,
            covariance_type=covariance_type,
            n_jobs=2,
            chunk_size=700,
        ),
    ):
        for a, b in zip((fit.weights, fit.means, fit.covariances), params, strict=True):
            np.testing.assert_allclose(a, b, **TIGHT)
        np.testing.assert_allclose(fit.log_likelihoods, plain_ll, rtol=1e-10)


def test_fit_gmm_resp_is_the_plain_e_step_of_the_final_parameters(kernel):
    X = data(BLOCK + 1)
    fit = gh.fit_gmm(X, K, rng=0, max_iter=4)
    np.testing.assert_allclose(
        fit.resp, gh.e_step(X, fit.weights, fit.means, fit.covariances)[0], **TIGHT
    )


def tight_far_parameters(mahalanobis):
    """Component 0 broad; 1 and 2 tight and overlapping, ``mahalanobis`` of their standard
    deviations from component 0 (the data's mean, the shift, is a third of the way): the
    features kernel cancels the most there, on the points of component 1."""
    sigma, d = 0.01, np.eye(D)[0]
    far = 60 + d * mahalanobis * sigma
    means = np.array([np.full(D, 60.0), far, far + 0.5 * sigma * d])
    spread = mahalanobis * sigma / 4
    covariances = np.array([np.eye(D) * spread**2] + 2 * [np.eye(D) * sigma**2])
    rng = np.random.default_rng(3)
    X = np.vstack(
        [
            means[0] + spread * rng.standard_normal((2000, D)),
            means[1] + sigma * rng.standard_normal((1000, D)),
        ]
    )
    return X, (np.ones(K) / K, means, covariances)


def largest_mahalanobis2(X, params):
    YT, shift = engine.shifted_transpose(X)
    chol = np.linalg.cholesky(params[2])
    offsets = np.linalg.solve(chol, (params[1] - shift)[:, :, None])[:, :, 0]
    return (offsets**2).sum(axis=1).max()


def test_features_kernel_keeps_1e_10_up_to_its_mahalanobis_limit():
    X, params = tight_far_parameters(45)
    m2 = largest_mahalanobis2(X, params)
    assert 0.5 * engine.FEATURES_MAX_MAHALANOBIS2 < m2 <= engine.FEATURES_MAX_MAHALANOBIS2
    YT, shift = engine.shifted_transpose(X)
    args = (YT, params[0], params[1] - shift, params[2])
    assert engine.factors(*args[1:]).features  # the automatic choice, at the limit
    resp, ll = engine.responsibilities(*args, features=True)
    want_resp, want_ll = gh.e_step(X, *params)
    assert 0.01 < want_resp[:, 1].max() < 0.99  # mixed responsibilities: cancellation shows
    np.testing.assert_allclose(resp.T, want_resp, **TIGHT)
    np.testing.assert_allclose(ll, want_ll, rtol=1e-10)
    got = engine.statistics(*args, features=True)
    want = engine.statistics(*args, features=False)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12 * np.abs(b).max())


def test_kernel_choice():
    X, params = tight_far_parameters(100)  # far beyond the limit: the distances kernel
    YT, shift = engine.shifted_transpose(X)
    assert not engine.factors(params[0], params[1] - shift, params[2]).features
    w, m, c = parameters("full")
    assert engine.factors(w, m - m.mean(axis=0), c).features  # K = 3, D = 4: cheaper
    one = (np.ones(1), np.zeros((1, 50)), np.eye(50)[None])
    assert not engine.factors(*one).features  # K = 1, D = 50: F = 1326 rows cost more


@pytest.mark.parametrize("spread", [1.0, 1e4])  # within exp's range of component 0, or not
def test_normalise_is_softmax_and_logsumexp(spread):
    log_dens = np.random.default_rng(4).standard_normal((K, 500)) * spread
    resp = log_dens.copy()
    ll = engine.normalise(resp)
    np.testing.assert_allclose(resp, softmax(log_dens, axis=0), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(ll, logsumexp(log_dens, axis=0).sum(), rtol=1e-12)


def test_factors_refuse_a_covariance_without_cholesky_factor():
    w, m, c = parameters("full")
    c = c.copy()
    c[1] = -c[1]
    with pytest.raises(np.linalg.LinAlgError):
        engine.factors(w, m, c)


def test_one_blas_thread_restores_the_limits_when_the_last_fit_ends():
    """Fits in several threads: the first to end must not undo the limit of the others,
    the last to end must restore the original, whatever the order."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(2, user_api="blas"):  # else, with one thread already, nothing shows
        limits_restore_in_any_order()


def limits_restore_in_any_order():
    before = blas_threads()
    assert set(before) != {1}
    first, second = engine.one_blas_thread(), engine.one_blas_thread()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert set(blas_threads()) == {1}  # the second fit still runs
    second.__exit__(None, None, None)
    assert blas_threads() == before


def test_error_in_a_thread_reaches_the_caller(monkeypatch):
    threads_before, blas_before = threading.active_count(), blas_threads()
    calls = []
    piece_statistics = engine.piece_statistics

    def failing(*args):
        calls.append(threading.current_thread())
        if len(calls) == 3:
            raise RuntimeError("piece 3 failed")
        return piece_statistics(*args)

    monkeypatch.setattr(engine, "piece_statistics", failing)
    X = gh.sample_seed_data(n_samples=40_000, rng=0)[0]
    with pytest.raises(RuntimeError, match="piece 3 failed"):
        gh.fit_gmm_chunked(X, 3, chunk_size=1000, n_jobs=2, rng=0)
    assert len(calls) <= 3 + 2  # at most n_jobs + 1 pieces were in flight
    assert threading.main_thread() not in calls  # the pieces ran on the pool's threads
    assert blas_threads() == blas_before
    assert threading.active_count() == threads_before

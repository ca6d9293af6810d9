"""Chunked EM (notebook 09) must equal fit_gmm: sufficient statistics, Eq. (9.1), add up over
chunks, the M-step from them, Eq. (9.2), equals m_step, and fit_gmm_chunked reproduces
fit_gmm while holding only one chunk's responsibilities at a time."""

import threading
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from threadpoolctl import threadpool_info

import gmm_helpers as gh

ROOT = Path(__file__).resolve().parent.parent
PROPERTY = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def assert_same_fit(chunked, full, atol=1e-8):
    np.testing.assert_allclose(chunked.weights, full.weights, rtol=0, atol=atol)
    np.testing.assert_allclose(chunked.means, full.means, rtol=0, atol=atol)
    np.testing.assert_allclose(chunked.covariances, full.covariances, rtol=0, atol=atol)
    np.testing.assert_allclose(chunked.log_likelihoods, full.log_likelihoods, rtol=1e-10)
    assert chunked.n_iter == full.n_iter == len(chunked.log_likelihoods)
    assert chunked.converged == full.converged
    assert chunked.covariance_type == full.covariance_type
    assert chunked.smoothing == full.smoothing
    assert chunked.resp is None and chunked.history == []


@pytest.fixture(scope="module")
def seed_data():
    return gh.sample_seed_data(5.0, 2000, rng=0)[0]


def faithful(standardised):
    X = np.loadtxt(ROOT / "data" / "faithful.csv", delimiter=",", skiprows=1)
    assert X.shape == (272, 2)
    return (X - X.mean(axis=0)) / X.std(axis=0) if standardised else X


def twenty_dimensions():
    rng = np.random.default_rng(20)
    centres = rng.standard_normal((3, 20)) * 3
    return rng.standard_normal((600, 20)) + np.repeat(centres, 200, axis=0)


DATASETS = {
    "seed": (lambda: gh.sample_seed_data(5.0, 2000, rng=0)[0], 3, [97, 500, 1000, 1999, 5000]),
    "faithful raw": (lambda: faithful(False), 2, [1, 10, 100, 271, 272]),
    "faithful standardised": (lambda: faithful(True), 3, [7, 64, 300]),
    "D=20": (twenty_dimensions, 3, [33, 256, 600]),
}


# ---------------------------------------------------------------------------
# Eq. (9.1): sufficient statistics
# ---------------------------------------------------------------------------


def test_statistics_are_the_weighted_sums_of_eq_9_1(seed_data):
    w, m, c = gh.seed_parameters(5.0)
    shift = np.array([1.0, -2.0])
    stats = gh.sufficient_statistics(seed_data, w, m, c, shift)
    resp, ll = gh.e_step(seed_data, w, m, c)
    Y = seed_data - shift
    np.testing.assert_allclose(stats.nk, resp.sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(stats.sy, resp.T @ Y, rtol=1e-12, atol=1e-9)
    syy = np.einsum("nk,ni,nj->kij", resp, Y, Y)
    np.testing.assert_allclose(stats.syy, syy, rtol=1e-12, atol=1e-9)
    assert stats.log_likelihood == pytest.approx(ll, rel=1e-12)
    assert stats.n == 2000
    np.testing.assert_array_equal(stats.shift, shift)
    unshifted = gh.sufficient_statistics(seed_data, w, m, c)
    np.testing.assert_array_equal(unshifted.shift, [0.0, 0.0])
    np.testing.assert_allclose(unshifted.sy, resp.T @ seed_data, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("split", [1, 700, 1000, 1999])
def test_statistics_of_two_parts_add_up_to_the_whole(seed_data, split):
    w, m, c = gh.seed_parameters(5.0)
    shift = seed_data[:split].mean(axis=0)
    a = gh.sufficient_statistics(seed_data[:split], w, m, c, shift)
    b = gh.sufficient_statistics(seed_data[split:], w, m, c, shift)
    whole = gh.sufficient_statistics(seed_data, w, m, c, shift)
    total = a + b
    assert isinstance(total, gh.SufficientStatistics)
    np.testing.assert_allclose(total.nk, whole.nk, rtol=1e-12)
    np.testing.assert_allclose(total.sy, whole.sy, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(total.syy, whole.syy, rtol=1e-12)
    assert total.log_likelihood == pytest.approx(whole.log_likelihood, rel=1e-12)
    assert total.n == whole.n == 2000
    np.testing.assert_array_equal(total.shift, shift)


@PROPERTY
@given(
    seed=st.integers(0, 2**32 - 1),
    N=st.integers(2, 300),
    D=st.integers(1, 4),
    K=st.integers(1, 4),
    n_cuts=st.integers(1, 5),
)
def test_statistics_add_up_over_any_partition(seed, N, D, K, n_cuts):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, D)) * 3
    w = rng.dirichlet(np.ones(K))
    m = rng.standard_normal((K, D)) * 3
    A = rng.standard_normal((K, D, D))
    c = A @ A.transpose(0, 2, 1) + np.eye(D)
    shift = X[0]
    cuts = np.sort(rng.choice(np.arange(1, N), size=min(n_cuts, N - 1), replace=False))
    parts = [gh.sufficient_statistics(p, w, m, c, shift) for p in np.split(X, cuts)]
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    whole = gh.sufficient_statistics(X, w, m, c, shift)
    for name in ("nk", "sy", "syy"):
        np.testing.assert_allclose(
            getattr(total, name), getattr(whole, name), rtol=1e-10, atol=1e-9
        )
    assert total.log_likelihood == pytest.approx(whole.log_likelihood, rel=1e-10, abs=1e-9)
    assert total.n == N


def test_adding_statistics_with_different_shifts_is_an_error(seed_data):
    w, m, c = gh.seed_parameters(5.0)
    a = gh.sufficient_statistics(seed_data[:10], w, m, c, shift=np.zeros(2))
    b = gh.sufficient_statistics(seed_data[10:20], w, m, c, shift=np.ones(2))
    with pytest.raises(ValueError) as err:
        a + b
    assert str(err.value) == (
        "expected statistics computed with the same shift, got different shifts; "
        "try passing one shift to every sufficient_statistics call"
    )


# ---------------------------------------------------------------------------
# Eq. (9.2): the M-step from the statistics
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("covariance_type", gh.COVARIANCE_TYPES)
@pytest.mark.parametrize("smoothing", [0.0, 1e-2])
def test_m_step_from_statistics_equals_m_step(seed_data, covariance_type, smoothing):
    rng = np.random.default_rng(1)
    w, m, c = gh.seed_parameters(5.0)
    m = m + rng.standard_normal(m.shape)
    resp, _ = gh.e_step(seed_data, w, m, c)
    want = gh.m_step(seed_data, resp, smoothing, covariance_type)
    for shift in (None, seed_data[0], seed_data.mean(axis=0), np.array([50.0, -50.0])):
        parts = [gh.sufficient_statistics(p, w, m, c, shift) for p in np.array_split(seed_data, 3)]
        stats = parts[0] + parts[1] + parts[2]
        got = gh.m_step_from_statistics(stats, smoothing, covariance_type)
        assert got[2].shape == (3, 2, 2)
        for g, e in zip(got, want, strict=True):
            np.testing.assert_allclose(g, e, rtol=0, atol=1e-10)


def test_shifting_keeps_precision_for_data_far_from_the_origin(seed_data):
    """Data around 1e6: sum gamma x x^T / N_k - m m^T cancels ~1e12 down to ~1, so without a
    shift ~4 of the 16 digits survive; with a shift near the data all of them do."""
    w, m, c = gh.seed_parameters(5.0)
    resp, _ = gh.e_step(seed_data, w, m, c)
    want_w, want_m, want_c = gh.m_step(seed_data, resp, smoothing=1e-2)
    far = seed_data + 1e6
    # m_step itself is shift-invariant (it centres the data first)
    got_w, got_m, got_c = gh.m_step(far, resp, smoothing=1e-2)
    np.testing.assert_allclose(got_m - 1e6, want_m, atol=1e-8)
    np.testing.assert_allclose(got_c, want_c, atol=1e-8)
    errors = {}
    for name, shift in [("near", far[0]), ("mean", far.mean(axis=0)), ("zero", None)]:
        stats = gh.sufficient_statistics(far, w, m + 1e6, c, shift)
        np.testing.assert_allclose(stats.nk, resp.sum(axis=0), rtol=1e-9)
        got_w, got_m, got_c = gh.m_step_from_statistics(stats, smoothing=1e-2)
        np.testing.assert_allclose(got_w, want_w, atol=1e-12)
        np.testing.assert_allclose(got_m - 1e6, want_m, atol=1e-8)
        errors[name] = np.abs(got_c - want_c).max()
    assert errors["near"] < 1e-9 and errors["mean"] < 1e-9
    assert errors["zero"] > 1e3 * max(errors["near"], errors["mean"], 1e-15)


# ---------------------------------------------------------------------------
# fit_gmm_chunked == fit_gmm
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dataset", DATASETS)
def test_fit_gmm_chunked_equals_fit_gmm(dataset):
    make, K, chunk_sizes = DATASETS[dataset]
    X = make()
    for tol in (0, 1e-3):
        full = gh.fit_gmm(X, K, rng=0, tol=tol, max_iter=25)
        if tol:
            assert full.converged  # the default tol stops early here: that path is tested
        for chunk_size in chunk_sizes:
            chunked = gh.fit_gmm_chunked(X, K, rng=0, tol=tol, max_iter=25, chunk_size=chunk_size)
            assert_same_fit(chunked, full)


@pytest.mark.parametrize("covariance_type", gh.COVARIANCE_TYPES)
@pytest.mark.parametrize("init", ["kmeans++", "random", "tuple"])
def test_fit_gmm_chunked_equals_fit_gmm_for_every_type_and_start(seed_data, covariance_type, init):
    if init == "tuple":
        init = gh.initial_parameters(seed_data, 3, "random", rng=7)
    full = gh.fit_gmm(seed_data, 3, covariance_type=covariance_type, init=init, rng=3, max_iter=40)
    chunked = gh.fit_gmm_chunked(
        seed_data, 3, covariance_type=covariance_type, init=init, rng=3, max_iter=40, chunk_size=333
    )
    assert_same_fit(chunked, full)


def test_fit_gmm_chunked_default_chunk_and_smoothing(seed_data):
    full = gh.fit_gmm(seed_data, 3, rng=np.random.default_rng(5), smoothing=1e-4)
    chunked = gh.fit_gmm_chunked(seed_data, 3, rng=np.random.default_rng(5), smoothing=1e-4)
    assert_same_fit(chunked, full)


@PROPERTY
@given(
    seed=st.integers(0, 2**32 - 1),
    N=st.integers(5, 300),
    D=st.integers(1, 4),
    K=st.integers(1, 3),
    chunk_size=st.integers(1, 320),
    covariance_type=st.sampled_from(gh.COVARIANCE_TYPES),
)
def test_fit_gmm_chunked_equals_fit_gmm_property(*, seed, N, D, K, chunk_size, covariance_type):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, D)) + rng.integers(0, 3, size=(N, 1)) * 4 + rng.uniform(-50, 50)
    K = min(K, N)
    kwargs = dict(covariance_type=covariance_type, rng=seed, tol=0, max_iter=8)
    full = gh.fit_gmm(X, K, **kwargs)
    chunked = gh.fit_gmm_chunked(X, K, chunk_size=chunk_size, **kwargs)
    assert_same_fit(chunked, full, atol=1e-7)


def test_fit_gmm_chunked_on_a_memmap(tmp_path, seed_data):
    path = tmp_path / "X.dat"
    on_disk = np.memmap(path, dtype=float, mode="w+", shape=seed_data.shape)
    on_disk[:] = seed_data
    on_disk.flush()
    del on_disk
    X = np.memmap(path, dtype=float, mode="r", shape=seed_data.shape)
    for init in ("kmeans++", "random"):
        chunked = gh.fit_gmm_chunked(X, 3, chunk_size=300, rng=0, init=init)
        assert_same_fit(chunked, gh.fit_gmm(seed_data, 3, rng=0, init=init))
    assert not X.flags.writeable  # it only read the file


def test_fit_gmm_chunked_on_a_list_of_rows(seed_data):
    """fit_gmm takes a list of rows; so does fit_gmm_chunked (it makes it an array first)."""
    rows = seed_data[:300].tolist()
    want = gh.fit_gmm(seed_data[:300], 2, rng=0)
    assert_same_fit(gh.fit_gmm_chunked(rows, 2, rng=0, chunk_size=64), want)


def blas_threads():
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


def many_pieces(seed_data, D):
    if D == 2:
        return np.vstack([seed_data] * 20)  # 40000 rows: many pieces for the threads to share
    return np.random.default_rng(0).standard_normal((9000, D))  # BLAS may thread at D = 50


@pytest.mark.parametrize("D", [2, 50])
def test_fit_gmm_chunked_threads_give_the_same_fit_bit_for_bit(seed_data, D):
    """Pieces are fixed by chunk_size and summed in order, so n_jobs >= 2 cannot change a bit;
    n_jobs = 1 (BLAS free to use threads inside a product) agrees to rounding."""
    threads_before, blas_before = threading.active_count(), blas_threads()
    X = many_pieces(seed_data, D)
    kwargs = dict(chunk_size=3000, rng=0, tol=0, max_iter=4)
    two = gh.fit_gmm_chunked(X, 5, n_jobs=2, **kwargs)
    three = gh.fit_gmm_chunked(X, 5, n_jobs=3, **kwargs)
    one = gh.fit_gmm_chunked(X, 5, n_jobs=1, **kwargs)
    for name in ("weights", "means", "covariances", "log_likelihoods"):
        np.testing.assert_array_equal(getattr(three, name), getattr(two, name))
        np.testing.assert_allclose(getattr(one, name), getattr(two, name), rtol=1e-12, atol=1e-14)
    assert_same_fit(one, gh.fit_gmm(X, 5, rng=0, tol=0, max_iter=4))
    assert blas_threads() == blas_before  # limit undone
    assert threading.active_count() == threads_before  # the pool's threads are gone


def test_fit_gmm_chunked_threaded_fits_at_the_same_time(seed_data):
    before, X = blas_threads(), many_pieces(seed_data, 2)
    fits = [None, None]

    def fit(i):
        fits[i] = gh.fit_gmm_chunked(X, 3, chunk_size=2000, n_jobs=2, rng=0, tol=0, max_iter=5)

    workers = [threading.Thread(target=fit, args=(i,)) for i in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    np.testing.assert_array_equal(fits[0].means, fits[1].means)
    assert blas_threads() == before


def test_fit_gmm_chunked_threads_on_a_memmap(tmp_path, seed_data):
    X = np.memmap(tmp_path / "X.dat", dtype=float, mode="w+", shape=seed_data.shape)
    X[:] = seed_data
    chunked = gh.fit_gmm_chunked(X, 3, chunk_size=300, n_jobs=2, rng=0)
    assert_same_fit(chunked, gh.fit_gmm(seed_data, 3, rng=0))


def test_fit_gmm_chunked_collapse_without_smoothing_raises_clear_error():
    X = np.vstack([np.zeros((1, 2)), np.random.default_rng(0).standard_normal((50, 2)) + 10])
    init = (np.array([0.5, 0.5]), np.array([[0.0, 0.0], [10.0, 10.0]]), np.stack([np.eye(2)] * 2))
    with pytest.raises(ValueError, match="increas.*smoothing"):
        gh.fit_gmm_chunked(X, 2, init=init, smoothing=0.0, tol=0, max_iter=20, chunk_size=16)
    dup = np.repeat(np.array([[0.0, 0.0], [5.0, 5.0], [0.0, 9.0]]), 10, axis=0)
    with pytest.raises(ValueError, match="increas.*smoothing"):
        gh.fit_gmm_chunked(dup, 3, smoothing=0.0, rng=0, chunk_size=7)


# ---------------------------------------------------------------------------
# Memory: bounded by the chunk, not by N
# ---------------------------------------------------------------------------

N_BIG, K_BIG, CHUNK = 200_000, 3, 10_000
RESP_BYTES = N_BIG * K_BIG * 8  # the (N, K) responsibilities fit_gmm holds


@pytest.fixture(scope="module")
def big_data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N_BIG, 2)) + rng.integers(0, 3, size=(N_BIG, 1)) * 4
    init = gh.initial_parameters(X[:2000], K_BIG, "kmeans++", rng=0)
    return X, init


def peak_bytes(run):
    """Peak of the memory allocated while run() runs (X itself was allocated before)."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_fit_gmm_memory_is_a_few_copies_of_the_data(big_data):
    """fit_gmm holds one centred copy of the data (D, N) at a time and returns the (N, K)
    responsibilities (computed as (K, N), then transposed), and nothing of size N K D: at
    K = 3, D = 2 that is 1 + 1.5 + 1.5 = 4 x X (bench/section_main.py's target: 6 x X)."""
    X, init = big_data
    peak = peak_bytes(lambda: gh.fit_gmm(X, K_BIG, init=init, max_iter=2, tol=0))
    assert peak < 4.5 * X.nbytes, f"peak {peak / X.nbytes:.2f} x X"


@pytest.mark.parametrize("init", ["tuple", "random"])
def test_fit_gmm_chunked_memory_is_bounded_by_the_chunk(big_data, init):
    X, start = big_data
    start = start if init == "tuple" else init
    peak = peak_bytes(
        lambda: gh.fit_gmm_chunked(X, K_BIG, init=start, max_iter=2, tol=0, chunk_size=CHUNK, rng=0)
    )
    assert peak < 0.5 * RESP_BYTES, f"peak {peak / 1e6:.1f} MB, (N, K) resp {RESP_BYTES / 1e6} MB"


def test_fit_gmm_chunked_kmeans_start_memory_is_bounded(big_data):
    """The default start; the docstring says the k-means++ start also runs chunk by chunk.
    k-means++ needs one distance per point, (N,) = 1/3 of the (N, K = 3) array, no more."""
    X, _ = big_data
    peak = peak_bytes(
        lambda: gh.fit_gmm_chunked(X, K_BIG, max_iter=2, tol=0, chunk_size=CHUNK, rng=0)
    )
    assert peak < 0.5 * RESP_BYTES, f"peak {peak / 1e6:.1f} MB, (N, K) resp {RESP_BYTES / 1e6} MB"


# ---------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------

X_OK = np.random.default_rng(0).standard_normal((40, 2))
W, M, C = np.array([0.5, 0.5]), np.array([[0.0, 0.0], [1.0, 1.0]]), np.stack([np.eye(2)] * 2)
STATS_OK = gh.sufficient_statistics(X_OK, W, M, C)
X_NAN_LATE = X_OK.copy()
X_NAN_LATE[35, 1] = np.nan

BAD_CALLS = {
    "chunk_size 0": lambda: gh.fit_gmm_chunked(X_OK, 2, chunk_size=0),
    "chunk_size negative": lambda: gh.fit_gmm_chunked(X_OK, 2, chunk_size=-5),
    "chunk_size float": lambda: gh.fit_gmm_chunked(X_OK, 2, chunk_size=10.0),
    "chunk_size bool": lambda: gh.fit_gmm_chunked(X_OK, 2, chunk_size=True),
    "chunk_size None": lambda: gh.fit_gmm_chunked(X_OK, 2, chunk_size=None),
    "n_jobs 0": lambda: gh.fit_gmm_chunked(X_OK, 2, n_jobs=0),
    "n_jobs float": lambda: gh.fit_gmm_chunked(X_OK, 2, n_jobs=2.0),
    "n_jobs None": lambda: gh.fit_gmm_chunked(X_OK, 2, n_jobs=None),
    "X NaN in a later chunk": lambda: gh.fit_gmm_chunked(X_NAN_LATE, 2, chunk_size=10),
    "X 1-D": lambda: gh.fit_gmm_chunked(np.ones(10), 1),
    "X 3-D": lambda: gh.fit_gmm_chunked(np.ones((4, 2, 2)), 1),
    "X empty": lambda: gh.fit_gmm_chunked(np.ones((0, 2)), 1),
    "K > N": lambda: gh.fit_gmm_chunked(X_OK, 41, chunk_size=10),
    "K 0": lambda: gh.fit_gmm_chunked(X_OK, 0),
    "smoothing negative": lambda: gh.fit_gmm_chunked(X_OK, 2, smoothing=-1),
    "covariance_type": lambda: gh.fit_gmm_chunked(X_OK, 2, covariance_type="ful"),
    "init string": lambda: gh.fit_gmm_chunked(X_OK, 2, init="k-means"),
    "init weights": lambda: gh.fit_gmm_chunked(X_OK, 2, init=([0.7, 0.7], M, C)),
    "max_iter 0": lambda: gh.fit_gmm_chunked(X_OK, 2, max_iter=0),
    "tol negative": lambda: gh.fit_gmm_chunked(X_OK, 2, tol=-1),
    "rng": lambda: gh.fit_gmm_chunked(X_OK, 2, rng="zero"),
    "statistics X_chunk wrong D": lambda: gh.sufficient_statistics(np.ones((5, 3)), W, M, C),
    "statistics X_chunk NaN": lambda: gh.sufficient_statistics(X_NAN_LATE, W, M, C),
    "statistics shift shape": lambda: gh.sufficient_statistics(X_OK, W, M, C, shift=np.zeros(3)),
    "statistics weights": lambda: gh.sufficient_statistics(X_OK, [1.0, 1.0], M, C),
    "statistics covariances": lambda: gh.sufficient_statistics(X_OK, W, M, -C),
    "m_step_from_statistics not stats": lambda: gh.m_step_from_statistics((1, 2, 3)),
    "m_step_from_statistics smoothing": lambda: gh.m_step_from_statistics(STATS_OK, -1.0),
    "m_step_from_statistics type": lambda: gh.m_step_from_statistics(STATS_OK, 0.1, "round"),
}


# What each bad call says: what was expected, what came, what to try.
MESSAGES = {
    "chunk_size 0": "expected chunk_size to be an int >= 1, got 0; try chunk_size=65536",
    "chunk_size negative": "expected chunk_size to be an int >= 1, got -5; try chunk_size=65536",
    "chunk_size float": "expected chunk_size to be an int >= 1, got 10.0; try chunk_size=65536",
    "chunk_size bool": "expected chunk_size to be an int >= 1, got True; try chunk_size=65536",
    "chunk_size None": "expected chunk_size to be an int >= 1, got None; try chunk_size=65536",
    "n_jobs 0": "expected n_jobs to be an int >= 1, got 0; try n_jobs=2",
    "n_jobs float": "expected n_jobs to be an int >= 1, got 2.0; try n_jobs=2",
    "n_jobs None": "expected n_jobs to be an int >= 1, got None; try n_jobs=2",
    "X NaN in a later chunk": (
        "expected X to hold only finite numbers, got NaN or inf in 1 row(s); try dropping "
        "them, e.g. X[np.isfinite(X).all(axis=1)]"
    ),
    "X 1-D": (
        "expected X to be 2-D with shape (N, D), got an array with shape (10,); try "
        "X.reshape(-1, 1) for a single feature or X.reshape(1, -1) for a single point"
    ),
    "X 3-D": (
        "expected X to be 2-D with shape (N, D), got an array with shape (4, 2, 2); try "
        "X.reshape(-1, 1) for a single feature or X.reshape(1, -1) for a single point"
    ),
    "X empty": (
        "expected X to hold at least one point and one feature, got shape (0, 2); try passing "
        "non-empty data"
    ),
    "K > N": (
        "expected n_components to be an int between 1 and 40, got 41; try n_components between "
        "1 and N = 40, the number of points"
    ),
    "K 0": (
        "expected n_components to be an int between 1 and 40, got 0; try n_components between "
        "1 and N = 40, the number of points"
    ),
    "smoothing negative": (
        "expected smoothing to be a finite number >= 0, got -1; try smoothing=1e-2 (the "
        "original's) or 1e-6"
    ),
    "covariance_type": (
        "expected covariance_type to be one of ('full', 'diag', 'spherical', 'tied'), got "
        "'ful'; try covariance_type='full'"
    ),
    "init string": (
        "expected init to be 'kmeans++', 'random' or a tuple (weights, means, covariances), "
        "got 'k-means'; try init='kmeans++'"
    ),
    "init weights": "expected weights that sum to 1, got a sum of 1.4; try weights / weights.sum()",
    "max_iter 0": "expected max_iter to be an int >= 1, got 0; try max_iter=100",
    "tol negative": "expected tol to be a finite number >= 0, got -1; try tol=1e-3",
    "rng": (
        "expected rng to be None, an int seed or a numpy Generator, got str; try rng=0 or "
        "rng=np.random.default_rng(0)"
    ),
    "statistics X_chunk wrong D": (
        "expected means of shape (K, D) with D = 3, got shape (2, 2); try one row per "
        "component and one column per feature"
    ),
    "statistics X_chunk NaN": (
        "expected X_chunk to hold only finite numbers, got NaN or inf in 1 row(s); try "
        "dropping them, e.g. X[np.isfinite(X).all(axis=1)]"
    ),
    "statistics shift shape": "expected shift of shape (D,) = (2,), got (3,); try X[0]",
    "statistics weights": (
        "expected weights that sum to 1, got a sum of 2; try weights / weights.sum()"
    ),
    "statistics covariances": (
        "expected symmetric positive definite covariances, got component(s) [0, 1] that are "
        "not; try adding a small multiple of the identity, e.g. C + 1e-6 * np.eye(D)"
    ),
    "m_step_from_statistics not stats": (
        "expected SufficientStatistics, got tuple; try the sum of sufficient_statistics(chunk, "
        "...) over the chunks"
    ),
    "m_step_from_statistics smoothing": (
        "expected smoothing to be a finite number >= 0, got -1.0; try smoothing=1e-2 (the "
        "original's) or 1e-6"
    ),
    "m_step_from_statistics type": (
        "expected covariance_type to be one of ('full', 'diag', 'spherical', 'tied'), got "
        "'round'; try covariance_type='full'"
    ),
}


@pytest.mark.parametrize("name", BAD_CALLS)
def test_bad_input_gets_clear_value_error(name):
    with pytest.raises(ValueError) as err:
        BAD_CALLS[name]()
    assert str(err.value) == MESSAGES[name]


def test_every_bad_call_has_its_message():
    assert MESSAGES.keys() == BAD_CALLS.keys()


class ChunkOnly:
    """Rows of X that can be read chunk_size rows at a time (or a few single rows), no more."""

    def __init__(self, X, chunk_size):
        self.X, self.chunk_size, self.reads = X, chunk_size, 0
        self.shape = X.shape

    def __getitem__(self, index):
        rows = np.arange(self.shape[0])[index]
        assert np.size(rows) <= self.chunk_size, f"read {np.size(rows)} rows at once"
        self.reads += 1
        return self.X[index]


@pytest.mark.parametrize("init", ["kmeans++", "random"])
def test_fit_gmm_chunked_reads_X_only_chunk_by_chunk(seed_data, init):
    X = ChunkOnly(seed_data, 300)
    chunked = gh.fit_gmm_chunked(X, 3, chunk_size=300, init=init, rng=0, n_jobs=2)
    assert X.reads > 0
    assert_same_fit(chunked, gh.fit_gmm(seed_data, 3, init=init, rng=0))

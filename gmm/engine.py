"""The fast E-step behind ``gmm_helpers.fit_gmm`` and ``fit_gmm_chunked``.

Nothing here is taught: chapter 9 ("How the time grows with N") describes what it does, and
tests/test_engine.py proves that it computes what ``gmm_helpers.e_step`` and ``m_step``
compute, to 1e-10. It works on the data shifted by a point near them and transposed to (D, N),
one block of columns at a time: the log-densities, the responsibilities (Eq. 3.2) and their
sums (Eq. 9.1) are all computed while the block is in the CPU cache, and the responsibilities
of all N points exist only when asked for. Where D is small, the log-densities of all K are one
matrix product with the block's quadratic features [1, y, y_i y_j], and so are the sums;
otherwise they come from the squared Mahalanobis distances to all K means at once. The
chunked pass reads rows from anything sliceable (a ``np.memmap``) and hands pieces of each
chunk to threads; numpy releases the GIL while it computes, and BLAS is limited to one thread
meanwhile so the threads do not compete for cores.

Conventions: ``YT`` (D, N) is ``(X - shift).T``; every function taking ``YT`` takes the means
relative to the same shift. A covariance without a Cholesky factor raises
``np.linalg.LinAlgError``; ``gmm_helpers`` words the error for the learner.
"""

from collections import deque
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from functools import cache
from threading import Lock

import numpy as np

# The (K D, b) work array of one block takes about this many bytes: big enough that numpy's
# per-call cost is small, small enough to stay in cache (python -m bench.block_size measures it;
# its results are in bench/results/block_size.md).
BLOCK_BYTES = 1 << 20
MIN_BLOCK_COLUMNS = 256
# Rows fit_gmm_chunked reads from X at a time, by default.
CHUNK_SIZE = 65536
# Blocks per piece of work handed to a thread: a thread's share is then far bigger than the
# cost of handing it over. Pieces never cross a chunk boundary and are summed in order, so
# every n_jobs >= 2 gives the same result.
PIECE_BLOCKS = 8
# exp() of anything below about -708 is a subnormal float, and arithmetic on subnormals is
# slow; such responsibilities are zero for every purpose here. Above +709 exp overflows.
EXP_RANGE = 700.0
# The features kernel adds terms as large as |L_k^{-1} mu_k|^2 (the squared Mahalanobis
# distance of a mean from the shift) and cancels them; below this their rounding stays far
# inside the 1e-10 the tests ask for.
FEATURES_MAX_MAHALANOBIS2 = 1e3
# A row of the features kernel's (F, b) work costs about half a row of the distances kernel's
# (K D, b) work (one matrix product per row against two, plus the elementwise passes).
FEATURES_ROWS_PER_DISTANCE_ROW = 2


def block_columns(n_components, n_features, block_bytes=BLOCK_BYTES):
    """Columns per block so that the (K D, b) work array takes about ``block_bytes``."""
    return max(MIN_BLOCK_COLUMNS, block_bytes // (8 * n_components * n_features))


def blocks(n, size):
    """The block iterator: slices of ``size`` (the last one shorter) covering range(n)."""
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def shifted_transpose(X):
    """``(YT, shift)``: the data minus their mean, as a (D, N) array, and the mean (D,).

    EM is shift-invariant, and centring keeps sum gamma y y^T - N_k m m^T from cancelling.
    A new array: X is never written to (X.T is already contiguous when D = 1).
    """
    XT = np.ascontiguousarray(X.T)  # D, N
    shift = XT.mean(axis=1)
    return XT - shift[:, None], shift


def n_quadratic_features(n_features):
    """F = (D + 1)(D + 2) / 2: the length of phi(y) = [1, y_1..y_D, y_i y_j (i <= j)]."""
    return (n_features + 1) * (n_features + 2) // 2


@cache
def upper_pairs(n_features):
    """(i, j) with i <= j, in the order of ``quadratic_features`` (np.triu_indices is slow
    enough to show in a pass over a few thousand points, so it is computed once per D)."""
    i, j = np.triu_indices(n_features)
    i.flags.writeable = j.flags.writeable = False
    return i, j


def use_features(n_components, n_features, mahalanobis2):
    """Whether the features kernel runs: where it is cheaper (its F rows against the distances
    kernel's K D) and accurate (``mahalanobis2``, the largest |L_k^{-1} mu_k|^2, is small)."""
    cheaper = n_quadratic_features(n_features) <= (
        FEATURES_ROWS_PER_DISTANCE_ROW * n_components * n_features
    )
    return cheaper and mahalanobis2 <= FEATURES_MAX_MAHALANOBIS2


class Factors:
    """What the E-step needs from the parameters, computed once per pass over the data.

    ``K``, ``D``, and ``features``: which kernel runs. The distances kernel uses ``prec``
    (K D, D), the inverse Cholesky factors L_k^{-1} stacked one under the other, ``offsets``
    (K D, 1), the stacked L_k^{-1} mu_k, and ``const`` (K, 1) =
    log pi_k - (D log(2 pi) + log |Sigma_k|) / 2. The features kernel uses ``W`` (K, F) with
    log pi_k + log N(y | mu_k, Sigma_k) = W[k] . phi(y) (``quadratic_features``).
    """

    def __init__(self, weights, means, covariances, features=None):
        K, D = self.K, self.D = means.shape
        chol = np.linalg.cholesky(covariances)
        if not np.isfinite(chol).all():
            raise np.linalg.LinAlgError("covariance without a finite Cholesky factor")
        log_det = 2.0 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
        prec_chol = np.linalg.inv(chol)
        offsets = np.einsum("kij,kj->ki", prec_chol, means)
        const = np.log(weights) - 0.5 * (D * np.log(2 * np.pi) + log_det)
        mahalanobis2 = np.einsum("kd,kd->k", offsets, offsets)
        self.features = use_features(K, D, mahalanobis2.max()) if features is None else features
        if self.features:
            # -(y - mu)^T P (y - mu) / 2 = -y^T P y / 2 + y . P mu - mu^T P mu / 2, P = L^-T L^-1
            precision = np.einsum("kji,kjl->kil", prec_chol, prec_chol)
            i, j = upper_pairs(D)
            quadratic = np.where(i == j, -0.5, -1.0) * precision[:, i, j]  # i < j: twice in y'Py
            linear = np.einsum("kji,kj->ki", prec_chol, offsets)  # P mu
            self.W = np.hstack([(const - 0.5 * mahalanobis2)[:, None], linear, quadratic])
        else:
            self.prec, self.offsets = prec_chol.reshape(K * D, D), offsets.reshape(K * D, 1)
            self.const = const[:, None]


def factors(weights, means, covariances, features=None):
    """``Factors`` of the parameters; ``features`` True or False forces a kernel."""
    return Factors(weights, means, covariances, features)


def quadratic_features(phi, n_features):
    """phi (F, b) filled in place from its rows 1..D, which hold y: [1, y, y_i y_j (i <= j)]."""
    D = n_features
    phi[0] = 1.0
    row = D + 1
    for i in range(D):  # y_i y_j for j = i..D-1: the order of upper_pairs(D)
        np.multiply(phi[1 + i : 1 + D], phi[1 + i], out=phi[row : row + D - i])
        row += D - i
    return phi


def normalise(resp):
    """Log-densities (K, b) -> responsibilities (Eq. 3.2) in place; returns the log-likelihood.

    The log-densities are taken relative to component 0's: when the block's differences are
    all within exp's range (the usual case), that saves an exp per point and the search for
    each point's largest; otherwise each point's largest is subtracted and the rest floored.
    """
    ll = resp[0].sum()
    rest = resp[1:]
    rest -= resp[0]
    resp[0] = 0.0
    if rest.size == 0 or (rest.min() >= -EXP_RANGE and rest.max() <= EXP_RANGE):
        np.exp(rest, out=rest)
        resp[0] = 1.0
    else:
        m = resp.max(axis=0)
        resp -= m
        np.maximum(resp, -EXP_RANGE, out=resp)
        np.exp(resp, out=resp)
        ll += m.sum()
    total = resp.sum(axis=0)
    resp *= 1.0 / total
    return ll + np.log(total).sum()


def distances_block(Yb, factors, resp, sums=None):
    """The E-step of one block Yb (D, b) into resp (K, b) by the squared Mahalanobis
    distances; with ``sums`` = [nk (K,), sy (K, D), syy (K, D, D)], adds the block's
    sum gamma, sum gamma y and sum gamma y y^T of Eq. (9.1) to them in place.
    Returns the block's log-likelihood."""
    f = factors
    K, b = resp.shape
    z = f.prec @ Yb  # row k D + d: (L_k^{-1} y)_d for every y in the block
    z -= f.offsets
    z *= z
    np.sum(z.reshape(K, -1, b), axis=1, out=resp)
    resp *= -0.5
    resp += f.const  # log pi_k + log N(y | mu_k, Sigma_k)
    ll = normalise(resp)
    if sums is not None:
        nk, sy, syy = sums
        D = Yb.shape[0]
        nk += resp.sum(axis=1)
        sy += np.dot(resp, Yb.T)  # np.dot, not @: it releases the GIL for these shapes
        weighted = (resp[:, None, :] * Yb).reshape(K * D, -1)  # row k D + d: gamma_nk y_nd
        syy += np.dot(weighted, Yb.T).reshape(K, D, D)  # one matrix product for all K
    return ll


def features_block(phi, factors, resp, sums=None):
    """The E-step of one block of quadratic features phi (F, b) into resp (K, b): the
    log-densities of all K are one matrix product, and with ``sums`` (K, F) so are the sums
    of Eq. (9.1): sums += resp @ phi.T (``unpack`` reads them). Returns the log-likelihood."""
    np.matmul(factors.W, phi, out=resp)
    ll = normalise(resp)
    if sums is not None:
        sums += np.dot(resp, phi.T)  # np.dot, not @: it releases the GIL for these shapes
    return ll


def unpack(S, n_features):
    """[nk (K,), sy (K, D), syy (K, D, D)] from the features kernel's sums S (K, F)."""
    D = n_features
    i, j = upper_pairs(D)
    syy = np.empty((S.shape[0], D, D))
    syy[:, i, j] = syy[:, j, i] = S[:, D + 1 :]
    return [S[:, 0].copy(), S[:, 1 : D + 1].copy(), syy]


def zero_sums(n_components, n_features):
    """[nk (K,), sy (K, D), syy (K, D, D)], all zero."""
    K, D = n_components, n_features
    return [np.zeros(K), np.zeros((K, D)), np.zeros((K, D, D))]


def e_step_pass(factors, n, size, fill, resp=None):
    """The E-step of n points, ``size`` at a time: ``fill(out, cols)`` writes the points
    ``cols`` (a slice) as y (D, b) into out, a buffer that stays in cache.

    Returns (nk, sy, syy, log_likelihood) of Eq. (9.1); or, given ``resp`` (K, n), writes the
    responsibilities into it and returns the log-likelihood only.
    """
    f = factors
    b = min(size, n)
    keep = resp is not None  # all the responsibilities, no sums
    if f.features:
        work = np.empty((n_quadratic_features(f.D), b))  # phi: F, b
        y, block = work[1 : f.D + 1], features_block
        sums = None if keep else np.zeros((f.K, work.shape[0]))
    else:
        work = y = np.empty((f.D, b))
        block = distances_block
        sums = None if keep else zero_sums(f.K, f.D)
    resp_block = None if keep else np.empty((f.K, b))
    ll = 0.0
    for cols in blocks(n, b):
        w = cols.stop - cols.start
        fill(y[:, :w], cols)
        if f.features:
            quadratic_features(work[:, :w], f.D)
        ll += block(work[:, :w], f, resp[:, cols] if keep else resp_block[:, :w], sums)
    if keep:
        return ll
    return *(unpack(sums, f.D) if f.features else sums), ll


def _columns_of(YT):
    """``fill`` for ``e_step_pass``: copies columns of YT into the kernel's buffer."""
    return lambda out, cols: np.copyto(out, YT[:, cols])


def statistics(YT, weights, means, covariances, *, block_bytes=BLOCK_BYTES, features=None):
    """The sums of Eq. (9.1) under the given parameters, one block of YT (D, N) at a time.

    Returns
    -------
    nk : (K,), sy : (K, D), syy : (K, D, D), log_likelihood : float
    """
    D, N = YT.shape
    f = factors(weights, means, covariances, features)
    size = block_columns(f.K, D, block_bytes)
    *sums, ll = e_step_pass(f, N, size, _columns_of(YT))
    return *sums, float(ll)


def responsibilities(YT, weights, means, covariances, features=None):
    """The responsibilities (K, N) and the total log-likelihood, one block of YT at a time."""
    D, N = YT.shape
    f = factors(weights, means, covariances, features)
    resp = np.empty((f.K, N))
    ll = e_step_pass(f, N, block_columns(f.K, D), _columns_of(YT), resp)
    return resp, float(ll)


# ---------------------------------------------------------------------------
# The chunked pass: X read chunk by chunk, pieces of each chunk on threads
# ---------------------------------------------------------------------------


def piece_statistics(rows, factors, shift, size):
    """nk, sy, syy and the log-likelihood of rows (n, D), shifted and transposed at most
    ``size`` rows at a time straight into the kernel's buffer."""
    n = rows.shape[0]
    n_blocks = -(-n // size)
    size = -(-n // n_blocks)  # blocks of equal size: no short block at the end of a piece

    def fill(out, cols):
        np.subtract(rows[cols].T, shift[:, None], out=out)

    return e_step_pass(factors, n, size, fill)


def _ordered_map(fn, items, pool, n_jobs):
    """fn(item) for every item, in order; on a thread pool with at most n_jobs + 1 items
    submitted and not yet returned, so memory stays bounded by n_jobs + 1 pieces."""
    if pool is None:
        yield from map(fn, items)
        return
    pending = deque()
    try:
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) > n_jobs:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:  # after an error, the pieces not started yet are not computed for nothing
        for future in pending:
            future.cancel()


@contextmanager
def chunked_pass(X, shift, n_components, chunk_size=CHUNK_SIZE, n_jobs=1):
    """A function ``statistics(weights, means, covariances)`` -> (nk, sy, syy, log_likelihood)
    of Eq. (9.1) over X (N, D), read ``chunk_size`` rows at a time and shifted by ``shift``
    block by block; the means are not shifted. Valid inside the ``with`` block.

    With ``n_jobs`` > 1 and more than one piece of data, pieces run on ``n_jobs`` threads with
    BLAS limited to one thread. The pieces are added in a fixed order, so every ``n_jobs`` >= 2
    gives the same result bit for bit; ``n_jobs=1`` agrees to rounding (its BLAS may split a
    large matrix product over threads).
    """
    N, D = X.shape
    B = block_columns(n_components, D)
    rows_per_piece = min(chunk_size, PIECE_BLOCKS * B)

    def pieces():
        for chunk in blocks(N, chunk_size):
            rows = np.asarray(X[chunk])
            for piece in blocks(rows.shape[0], rows_per_piece):
                yield rows[piece]

    with ExitStack() as stack:
        pool = None
        if n_jobs > 1 and N > rows_per_piece:  # one piece: nothing to share, no threads
            stack.enter_context(one_blas_thread())  # restored after the pool has stopped
            pool = stack.enter_context(ThreadPoolExecutor(n_jobs))

        def statistics(weights, means, covariances):
            f = factors(weights, means - shift, covariances)
            sums, ll = zero_sums(n_components, D), 0.0
            work = _ordered_map(
                lambda piece: piece_statistics(piece, f, shift, B), pieces(), pool, n_jobs
            )
            for *piece_sums, piece_ll in work:
                for total, part in zip(sums, piece_sums, strict=True):
                    total += part
                ll += piece_ll
            return *sums, float(ll)

        yield statistics


# ---------------------------------------------------------------------------
# The BLAS limiter
# ---------------------------------------------------------------------------


@cache
def _blas_controller():
    # threadpoolctl looks for the loaded BLAS libraries when created: milliseconds, so once.
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


_blas_lock = Lock()
_blas_limit = {"users": 0, "limiter": None}


@contextmanager
def one_blas_thread():
    """BLAS limited to one thread (process-wide) while any user of this is running.

    Counted, so that fits running at the same time in several threads restore the original
    limits only when the last one ends, whatever order they end in.
    """
    with _blas_lock:
        if _blas_limit["users"] == 0:
            _blas_limit["limiter"] = _blas_controller().limit(limits=1, user_api="blas")
        _blas_limit["users"] += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_limit["users"] -= 1
            if _blas_limit["users"] == 0:
                _blas_limit["limiter"].restore_original_limits()
                _blas_limit["limiter"] = None

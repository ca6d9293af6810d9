"""The fast E-step behind ``gmm_helpers.fit_gmm`` and ``fit_gmm_chunked``.

Nothing here is taught: chapter 9 ("How the time grows with N") describes what it does, and
tests/test_engine.py proves that it computes what ``gmm_helpers.e_step`` and ``m_step``
compute, to 1e-10. It works on the data shifted by a point near them and transposed to (D, N),
one block of columns at a time: the log-densities, the responsibilities (Eq. 3.2) and their
sums (Eq. 9.1) are all computed while the block is in the CPU cache, and the (N, K)
responsibilities exist only when asked for. The chunked pass reads rows from anything sliceable
(a ``np.memmap``) and hands pieces of each chunk to threads; numpy releases the GIL while it
computes, and BLAS is limited to one thread meanwhile so the threads do not compete for cores.

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
# per-call cost is small, small enough to stay in cache (bench/block_size.py measures it;
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
# slow; such responsibilities are zero for every purpose here.
LOG_RESP_FLOOR = -700.0


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


def factors(weights, means, covariances):
    """What the E-step needs from the parameters, computed once per pass over the data.

    Returns ``prec`` (K D, D), the inverse Cholesky factors L_k^{-1} stacked one under the
    other, ``offsets`` (K D, 1), the stacked L_k^{-1} mu_k, and ``const`` (K, 1) =
    log pi_k - (D log(2 pi) + log |Sigma_k|) / 2.
    """
    K, D = means.shape
    chol = np.linalg.cholesky(covariances)
    if not np.isfinite(chol).all():
        raise np.linalg.LinAlgError("covariance without a finite Cholesky factor")
    log_det = 2.0 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
    prec_chol = np.linalg.inv(chol)
    offsets = np.einsum("kij,kj->ki", prec_chol, means)
    const = np.log(weights) - 0.5 * (D * np.log(2 * np.pi) + log_det)
    return prec_chol.reshape(K * D, D), offsets.reshape(K * D, 1), const[:, None]


def e_step_block(Yb, factors, resp, sums=None):
    """The E-step of one block Yb (D, b) into resp (K, b), and its sums of Eq. (9.1).

    With ``sums`` = [nk (K,), sy (K, D), syy (K, D, D)], adds the block's sum gamma,
    sum gamma y and sum gamma y y^T to them in place. Returns the block's log-likelihood.
    """
    prec, offsets, const = factors
    K, b = resp.shape
    z = prec @ Yb  # row k D + d: (L_k^{-1} y)_d for every y in the block
    z -= offsets
    z *= z
    np.sum(z.reshape(K, -1, b), axis=1, out=resp)  # squared Mahalanobis distances
    resp *= -0.5
    resp += const  # log pi_k + log N(y | mu_k, Sigma_k)
    m = resp.max(axis=0)
    resp -= m
    np.maximum(resp, LOG_RESP_FLOOR, out=resp)
    np.exp(resp, out=resp)
    total = resp.sum(axis=0)
    resp /= total
    if sums is not None:
        nk, sy, syy = sums
        D = Yb.shape[0]
        nk += resp.sum(axis=1)
        sy += resp @ Yb.T
        weighted = (resp[:, None, :] * Yb).reshape(K * D, -1)  # row k D + d: gamma_nk y_nd
        syy += (weighted @ Yb.T).reshape(K, D, D)  # one matrix product for all K
    return m.sum() + np.log(total).sum()


def zero_sums(n_components, n_features):
    """[nk (K,), sy (K, D), syy (K, D, D)], all zero."""
    K, D = n_components, n_features
    return [np.zeros(K), np.zeros((K, D)), np.zeros((K, D, D))]


def statistics(YT, weights, means, covariances, block_bytes=BLOCK_BYTES):
    """The sums of Eq. (9.1) under the given parameters, one block of YT (D, N) at a time.

    Returns
    -------
    nk : (K,), sy : (K, D), syy : (K, D, D), log_likelihood : float
    """
    D, N = YT.shape
    K = means.shape[0]
    f = factors(weights, means, covariances)
    sums = zero_sums(K, D)
    resp_block = np.empty((K, min(block_columns(K, D, block_bytes), N)))
    log_likelihood = 0.0
    for cols in blocks(N, resp_block.shape[1]):
        resp = resp_block[:, : cols.stop - cols.start]
        log_likelihood += e_step_block(YT[:, cols], f, resp, sums)
    return *sums, float(log_likelihood)


def responsibilities(YT, weights, means, covariances):
    """The responsibilities (K, N) and the total log-likelihood, one block of YT at a time."""
    D, N = YT.shape
    K = means.shape[0]
    f = factors(weights, means, covariances)
    resp = np.empty((K, N))
    log_likelihood = 0.0
    for cols in blocks(N, block_columns(K, D)):
        log_likelihood += e_step_block(YT[:, cols], f, resp[:, cols])
    return resp, float(log_likelihood)


# ---------------------------------------------------------------------------
# The chunked pass: X read chunk by chunk, pieces of each chunk on threads
# ---------------------------------------------------------------------------


def piece_statistics(rows, factors, shift, size):
    """nk, sy, syy and the log-likelihood of rows (n, D), shifted and transposed ``size``
    rows at a time into one buffer that stays in cache while the kernel reads it."""
    D, K = shift.shape[0], factors[2].shape[0]
    b = min(size, rows.shape[0])
    buffer, resp_block = np.empty((D, b)), np.empty((K, b))
    sums, ll = zero_sums(K, D), 0.0
    for piece in blocks(rows.shape[0], size):
        Yb = buffer[:, : piece.stop - piece.start]
        np.subtract(rows[piece].T, shift[:, None], out=Yb)
        ll += e_step_block(Yb, factors, resp_block[:, : Yb.shape[1]], sums)
    return *sums, ll


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

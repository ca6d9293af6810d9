"""EM on a local Dask cluster gives the parameters of gh.fit_gmm (notebook 09).

The E-step runs as one ``gh.sufficient_statistics`` task per block of a persisted
dask array, the statistics are added on the driver, Eq. (9.1), and the M-step is
``gh.m_step_from_statistics``, Eq. (9.2): the same loop as notebook 09.
"""

import functools
import logging
import operator
import time

import numpy as np
import pytest

import gmm_helpers as gh

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
psutil = pytest.importorskip("psutil")

N_ITER = 8
SMOOTHING = 1e-2


def _worker_pids():
    """Child processes of this one, except multiprocessing's resource tracker.

    Starting worker processes with "spawn" also starts a resource tracker, which
    by design lives as long as this process; it is not a worker.
    """
    pids = set()
    for child in psutil.Process().children(recursive=True):
        try:
            if "resource_tracker" not in " ".join(child.cmdline()):
                pids.add(child.pid)
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            pass
    return pids


def _live(pids):
    """The pids in ``pids`` that still run (zombies count as gone)."""
    alive = set()
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.add(pid)
        except psutil.NoSuchProcess:
            pass
    return alive


def dask_em(client, X_da, init, n_iter, smoothing):
    """``n_iter`` EM iterations with the E-step on the cluster; returns parameters and LLs."""
    shift = X_da[0].compute()  # a reference point near the data (notebook 09)
    blocks = X_da.to_delayed().ravel()
    weights, means, covariances = init
    log_likelihoods = []
    for _ in range(n_iter):
        tasks = [
            dask.delayed(gh.sufficient_statistics)(block, weights, means, covariances, shift)
            for block in blocks
        ]
        stats = functools.reduce(operator.add, client.gather(client.compute(tasks)))
        weights, means, covariances = gh.m_step_from_statistics(stats, smoothing=smoothing)
        log_likelihoods.append(stats.log_likelihood)
    return (weights, means, covariances), np.array(log_likelihoods)


def test_dask_em_matches_fit_gmm_and_leaves_no_process():
    X, _ = gh.sample_seed_data(n_samples=6000, rng=1)
    init = gh.initial_parameters(X, 3, smoothing=SMOOTHING, rng=0)
    expected = gh.fit_gmm(X, 3, init=init, tol=0, max_iter=N_ITER, smoothing=SMOOTHING)

    before = _worker_pids()
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            # port 0: the OS picks a free HTTP port, so parallel clusters never clash
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
            silence_logs=logging.ERROR,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        client.wait_for_workers(2, timeout=30)
        started = _worker_pids() - before
        assert len(started) >= 2, "expected two worker processes to start"
        X_da = client.persist(da.from_array(X, chunks=(1500, X.shape[1])))
        (weights, means, covariances), lls = dask_em(client, X_da, init, N_ITER, SMOOTHING)

    np.testing.assert_allclose(weights, expected.weights, rtol=0, atol=1e-8)
    np.testing.assert_allclose(means, expected.means, rtol=0, atol=1e-8)
    np.testing.assert_allclose(covariances, expected.covariances, rtol=0, atol=1e-8)
    np.testing.assert_allclose(lls, expected.log_likelihoods, rtol=1e-10)

    deadline = time.monotonic() + 20
    while _live(started) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _live(started), f"worker processes left behind: {sorted(_live(started))}"

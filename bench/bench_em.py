"""Time EM per iteration: gmm_helpers against scikit-learn and the original notebook's loop.

Usage (from the repository root)::

    make bench                                      # everything, writes bench/results/
    .venv/bin/python bench/bench_em.py --quick      # small sizes, a smoke run, no files
    .venv/bin/python bench/bench_em.py --only main|chunked|explorer|scaling

Method. Every implementation starts from the same parameters (the original notebook's start:
K random data points as means, identity covariances, equal weights) and runs a fixed number of
iterations (tol=0, no early stop). The time of one iteration is

    (time of a fit with 1 + m iterations - time of a fit with 1 iteration) / m,

which cancels what a fit does once (input checks, initialisation, the final E-step).
The implementations take turns in one process (round-robin, the order rotating each round),
R rounds; the tables report the median time and the median of the per-round ratios, so a
noisy machine slows everyone down together.

fit_gmm, the chunked EM and scikit-learn run twice per round: with the default threads,
and with BLAS and OpenMP limited to one thread (threadpoolctl; the "1t" columns). On this
two-core machine two threads can hurt: numpy and scipy each bundle their own OpenBLAS, and
scipy's small triangular solves in scikit-learn's M-step wait milliseconds for numpy's
spinning threads; gmm_helpers' many block-sized matrix products at D = 50 stall whenever
another process holds a core. The targets compare each implementation at its faster
setting, round by round.

See bench/README.md for how to read the tables.
"""

import argparse
import contextlib
import datetime
import functools
import gc
import io
import math
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import scipy  # noqa: E402
import sklearn  # noqa: E402
from scipy.stats import multivariate_normal  # noqa: E402
from sklearn.mixture import GaussianMixture  # noqa: E402
from threadpoolctl import ThreadpoolController, threadpool_info  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/bench_em.py` works without PYTHONPATH too
    sys.path.insert(0, str(ROOT))

import gmm_explorer  # noqa: E402
import gmm_helpers as gh  # noqa: E402

RESULTS = ROOT / "bench" / "results"
SMOOTHING = 1e-2  # the original notebook's value; scikit-learn's reg_covar
SEED = 0

# (N, D, K, m, R): m timed iterations on top of the first, R rounds.
MAIN_SIZES = [
    (2_000, 2, 3, 20, 15),
    (100_000, 2, 3, 10, 7),
    (1_000_000, 2, 3, 3, 3),
    (100_000, 10, 10, 5, 5),
    (100_000, 50, 20, 3, 3),
]
CHUNKED_SIZES = [(1_000_000, 2, 3, 6, 11), (100_000, 50, 20, 3, 5)]
SCALING_NS = [10_000, 30_000, 100_000, 300_000, 1_000_000, 3_000_000, 10_000_000]
MEMORY_N = 1_000_000
QUICK_MAIN_SIZES = [(2_000, 2, 3, 5, 3), (20_000, 2, 3, 3, 3), (5_000, 10, 10, 3, 3)]
QUICK_CHUNKED_SIZES = [(200_000, 2, 3, 2, 2)]  # > chunk_size, so it really chunks
QUICK_SCALING_NS = [10_000, 30_000]
QUICK_MEMORY_N = 200_000

# Targets (the issues): ratios are of ms per iteration, measured side by side.
TARGET_D2 = 0.25  # fit_gmm / sklearn at D = 2, N >= 1e5
TARGET_D50 = 0.6  # fit_gmm / sklearn at (1e5, 50, 20)
TARGET_WHOLE_FIT_MS = 5.0  # a whole default fit_gmm of the original case (N = 2000)
TARGET_FIT_MEMORY = 6.0  # peak extra memory of fit_gmm at N = 1e6, in sizes of X
TARGET_CHUNKED_RATIO = 1.0  # chunked / fit_gmm
TARGET_CHUNKED_MEMORY = 1.0  # peak extra memory of chunked EM at N = 1e6, in sizes of X
TARGET_PARAMS_RTOL = 1e-8  # chunked vs fit_gmm parameters
TARGET_MEANS_RTOL = 1e-6  # fit_gmm vs sklearn final means
TARGET_EXPLORER_S = 0.2  # one update of the explorer's default case

SECTIONS = ("main", "chunked", "explorer", "scaling")
JOBS = os.cpu_count() or 1  # n_jobs of the threaded chunked EM


# ---------------------------------------------------------------------------
# Data and the shared start
# ---------------------------------------------------------------------------


def make_data(n_samples, n_features, n_components, seed=SEED):
    """The original's three clusters for D = 2, K = 3; else K well-separated Gaussian blobs."""
    if n_features == 2 and n_components == 3:
        return gh.sample_seed_data(n_samples=n_samples, rng=seed)[0]
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-10, 10, size=(n_components, n_features))
    sds = rng.uniform(0.5, 1.5, size=n_components)
    weights = rng.dirichlet(np.full(n_components, 5.0))
    labels = rng.choice(n_components, size=n_samples, p=weights)
    return centres[labels] + rng.standard_normal((n_samples, n_features)) * sds[labels, None]


def make_start(X, n_components, seed=SEED):
    """The original notebook's start: K random points, identity covariances, equal weights."""
    return gh.initial_parameters(X, n_components, "random", SMOOTHING, rng=seed)


# ---------------------------------------------------------------------------
# The implementations: each runs n_iter iterations from the given start
# ---------------------------------------------------------------------------


def original_em(X, weights, means, covariances, n_iter, smoothing=SMOOTHING):
    """The original notebook's gmm() loop, with a given start and without the early break.

    Line for line the loop of the seed notebook (shared/seed/gmm_model_original.md): densities with
    scipy's multivariate_normal.pdf (not in log space), responsibilities, then the M-step
    one component at a time. It returns (weights, means, covariances, log-likelihoods).
    """
    N, D = X.shape
    K = len(weights)
    M = np.array(means, dtype=float)
    C = np.array(covariances, dtype=float)
    pi = np.array(weights, dtype=float)
    lls = []
    weighted_pdfs = np.zeros((N, K))
    for _i in range(n_iter):
        for k in range(K):
            weighted_pdfs[:, k] = pi[k] * multivariate_normal.pdf(X, M[k], C[k])
        R = weighted_pdfs / weighted_pdfs.sum(axis=1, keepdims=True)

        for k in range(K):
            Nk = R[:, k].sum()
            pi[k] = Nk / N
            M[k] = np.dot(R[:, k], X) / Nk

            delta = X - M[k]
            Rdelta = np.expand_dims(R[:, k], -1) * delta
            C[k] = Rdelta.T.dot(delta) / Nk + np.eye(D) * smoothing

        ll = np.log(weighted_pdfs.sum(axis=1)).sum()
        lls.append(ll)
    return pi, M, C, lls


def run_fit_gmm(X, start, n_iter):
    fit = gh.fit_gmm(X, len(start[0]), init=start, max_iter=n_iter, tol=0, smoothing=SMOOTHING)
    return fit.weights, fit.means, fit.covariances


def run_chunked(X, start, n_iter, n_jobs=1):
    fit = gh.fit_gmm_chunked(
        X, len(start[0]), init=start, max_iter=n_iter, tol=0, smoothing=SMOOTHING, n_jobs=n_jobs
    )
    return fit.weights, fit.means, fit.covariances


def run_sklearn(X, start, n_iter, precisions):
    weights, means, _ = start
    gm = GaussianMixture(
        n_components=len(weights),
        covariance_type="full",
        tol=0,
        reg_covar=SMOOTHING,
        max_iter=n_iter,
        n_init=1,
        init_params="random_from_data",  # its cost cancels; the *_init below replace it
        weights_init=weights,
        means_init=means,
        precisions_init=precisions,
        random_state=SEED,
    )
    with warnings.catch_warnings():  # tol=0 never "converges": ConvergenceWarning
        warnings.simplefilter("ignore")
        gm.fit(X)
    return gm.weights_, gm.means_, gm.covariances_


def run_original(X, start, n_iter):
    with np.errstate(all="ignore"):  # 0/0 where the densities underflow: NaN, reported below
        weights, means, covariances, _ = original_em(X, *start, n_iter)
    return weights, means, covariances


def implementations(X, start, names):
    """name -> function(n_iter) returning (weights, means, covariances)."""
    precisions = np.linalg.inv(start[2])
    table = {
        "fit_gmm": lambda n: run_fit_gmm(X, start, n),
        "sklearn": lambda n: run_sklearn(X, start, n, precisions),
        "original": lambda n: run_original(X, start, n),
        "chunked": lambda n: run_chunked(X, start, n),
    }
    for name in list(table):  # name_1t: the same with BLAS and OpenMP limited to one thread
        table[name + "_1t"] = one_thread(table[name])
    # One thread per core over the chunk's pieces; it limits BLAS to one thread itself.
    table["chunked_jobs"] = lambda n: run_chunked(X, start, n, n_jobs=JOBS)
    return {name: table[name] for name in names}


@functools.cache
def thread_controller():
    """threadpoolctl's view of the loaded BLAS/OpenMP libraries, found once: a fresh
    threadpool_limits() searches them on every call, milliseconds in this process."""
    return ThreadpoolController()


def one_thread(fn):
    def run(n):
        with thread_controller().limit(limits=1):
            return fn(n)

    return run


def with_1t(*names):
    """['fit_gmm', 'fit_gmm_1t', ...]: every implementation at both thread settings."""
    return [v for name in names for v in (name, name + "_1t")]


# ---------------------------------------------------------------------------
# Timing and memory
# ---------------------------------------------------------------------------


def timed(fn, *args):
    """(seconds, result) of one call, with the garbage collector out of the way."""
    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter()
        result = fn(*args)
        return time.perf_counter() - t0, result
    finally:
        gc.enable()


def time_per_iteration(impls, m, R):
    """Round-robin timing of (fit with 1 + m iterations - fit with 1 iteration) / m.

    Returns per_iter (name -> list of seconds per iteration, one per round; an implementation
    that raised keeps the rounds it finished), results (name -> parameters after 1 + m
    iterations, or None) and errors (name -> message of the exception that stopped it).
    """
    names = list(impls)
    per_iter = {name: [] for name in names}
    results = {name: None for name in names}
    errors = {}
    for name in names:  # warm-up: first-call costs (imports, caches, BLAS threads)
        try:
            impls[name](1)
        except Exception as exc:  # noqa: BLE001 - the original may break; report it
            errors[name] = f"{type(exc).__name__}: {exc}"
    for r in range(R):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            if name in errors:
                continue
            try:
                t1, _ = timed(impls[name], 1)
                tm, results[name] = timed(impls[name], 1 + m)
            except Exception as exc:  # noqa: BLE001
                errors[name] = f"{type(exc).__name__}: {exc}"
                results[name] = None
                continue
            per_iter[name].append((tm - t1) / m)
    return per_iter, results, errors


def median_ms(per_iter, name):
    times = per_iter.get(name, [])
    return 1e3 * statistics.median(times) if times else math.nan


def median_ratio(per_iter, name, reference):
    """Median over rounds of name's time / reference's time in the same round."""
    a, b = per_iter.get(name, []), per_iter.get(reference, [])
    if not a or len(a) != len(b):
        return math.nan
    ratios = [x / y for x, y in zip(a, b, strict=True) if y > 0]  # y <= 0: a too-noisy round
    return statistics.median(ratios) if ratios else math.nan


def variants(per_iter, name):
    """The timings of name at the thread settings that were measured (name, name_1t)."""
    return [per_iter[v] for v in (name, name + "_1t") if per_iter.get(v)]


def best_ratio(per_iter, name, reference="sklearn"):
    """Median over rounds of (name's time / reference's time), each at its faster thread
    setting in that round."""
    a, b = variants(per_iter, name), variants(per_iter, reference)
    if not a or not b or len({len(t) for t in a + b}) != 1:
        return math.nan
    ratios = []
    for times in zip(*a, *b, strict=True):
        x, y = min(times[: len(a)]), min(times[len(a) :])
        if x > 0 and y > 0:  # <= 0: a too-noisy round
            ratios.append(x / y)
    return statistics.median(ratios) if ratios else math.nan


def best_ms(per_iter, name):
    """The smaller of name's medians over its thread settings (ms per iteration)."""
    values = [1e3 * statistics.median(t) for t in variants(per_iter, name)]
    return min(values) if values else math.nan


def peak_extra_bytes(fn):
    """Peak traced memory during fn() minus the traced memory before it (tracemalloc)."""
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        result = fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    del result
    return peak - before


def rel_diff(a, b):
    """max |a - b| / max |b|; NaN if either is missing or not finite."""
    if a is None or b is None:
        return math.nan
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return math.nan
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def params_rel_diff(p, q):
    """The largest rel_diff over weights, means and covariances."""
    if p is None or q is None:
        return math.nan
    return max(rel_diff(a, b) for a, b in zip(p, q, strict=True))


# ---------------------------------------------------------------------------
# Formatting
# ---------------------------------------------------------------------------


def fmt_n(n):
    for value, suffix in ((10**7, "e7"), (10**6, "e6"), (10**5, "e5"), (10**4, "e4")):
        if n >= value and n % value == 0:
            return f"{n // value}{suffix}"
    return f"{n}"


def fmt_ms(x):
    if math.isnan(x):
        return "NaN"
    return f"{x:.3f}" if x < 1 else f"{x:.2f}" if x < 100 else f"{x:.0f}"


def fmt_ratio(x):
    return "NaN" if math.isnan(x) else f"{x:.3f}" if x < 1 else f"{x:.2f}"


def fmt_rel(x):
    return "NaN" if math.isnan(x) else f"{x:.1e}"


def verdict(value, limit):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "FAIL (not measured)"
    return "PASS" if value <= limit else "FAIL"


def markdown_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


class Report:
    """Collects a section's markdown and prints it as it goes."""

    def __init__(self):
        self.lines = []
        self.targets = []  # (description, value text, verdict)

    def add(self, text=""):
        print(text, flush=True)
        self.lines.append(text)

    def target(self, description, value_text, result):
        self.targets.append((description, value_text, result))

    def add_targets(self):
        if self.targets:
            self.add()
            self.add(markdown_table(["target", "measured", "result"], self.targets))
            self.add()

    def text(self):
        return "\n".join(self.lines).strip() + "\n"


# ---------------------------------------------------------------------------
# Sections
# ---------------------------------------------------------------------------


def section_main(quick):
    rep = Report()
    rep.add("## EM per iteration: fit_gmm, scikit-learn and the original loop")
    rep.add()
    rep.add(
        "Same data, same start, `tol=0`; ms per iteration = (fit with 1 + m iterations "
        "- fit with 1) / m, median over R round-robin rounds. Each of `fit_gmm` and "
        "scikit-learn runs with the default threads and with BLAS and OpenMP limited to one "
        "thread (*1t*); the *best* ratio divides, round by round, the faster setting of one by "
        "the faster setting of the other (the targets use it), the *default* ratio compares the "
        "default settings. *rel. diff*: the largest max |difference| / max |sklearn's| over the "
        "weights, means and covariances after 1 + m iterations. The original loop is the seed "
        "notebook's (scipy densities, not in log space), default threads."
    )
    rep.add()
    rows = []
    measured = {}
    diffs = {}
    for N, D, K, m, R in QUICK_MAIN_SIZES if quick else MAIN_SIZES:
        X = make_data(N, D, K)
        start = make_start(X, K)
        names = with_1t("fit_gmm", "sklearn") + ["original"]
        per_iter, results, errors = time_per_iteration(implementations(X, start, names), m, R)
        ms = {name: median_ms(per_iter, name) for name in names}
        best = best_ratio(per_iter, "fit_gmm", "sklearn")
        default = median_ratio(per_iter, "fit_gmm", "sklearn")
        measured[(N, D, K)] = (best, default)
        d_ours = params_rel_diff(results["fit_gmm"], results["sklearn"])
        diffs[(N, D, K)] = d_ours
        orig = results["original"]
        if "original" in errors:
            orig_note = f"breaks ({errors['original'].split(':')[0]})"
        elif orig is not None and not all(np.all(np.isfinite(p)) for p in orig):
            orig_note = "breaks (NaN: densities underflow)"
        else:
            orig_note = fmt_rel(params_rel_diff(orig, results["sklearn"]))
        for name, msg in errors.items():
            if name != "original":
                rep.add(f"- error in {name} at N={N}, D={D}, K={K}: {msg}")
        rows.append(
            [
                fmt_n(N),
                D,
                K,
                m,
                R,
                *(fmt_ms(ms[name]) for name in names),
                fmt_ratio(best),
                fmt_ratio(default),
                fmt_ratio(best_ratio(per_iter, "original", "sklearn")),
                fmt_rel(d_ours) + (" ok" if d_ours <= TARGET_MEANS_RTOL else " MISMATCH"),
                orig_note,
            ]
        )
        print(f"  done N={N} D={D} K={K}: {rows[-1][5:]}", flush=True)
        del X
    rep.add(
        markdown_table(
            [
                "N",
                "D",
                "K",
                "m",
                "R",
                "fit_gmm ms/iter",
                "fit_gmm 1t",
                "sklearn ms/iter",
                "sklearn 1t",
                "original ms/iter",
                "fit_gmm / sklearn best",
                "fit_gmm / sklearn default",
                "original / best sklearn",
                "rel. diff fit_gmm vs sklearn",
                "rel. diff original vs sklearn",
            ],
            rows,
        )
    )

    # Targets on the ratios
    for (N, D, K), (ratio, default) in measured.items():
        if D == 2 and N >= 100_000:
            limit = TARGET_D2
        elif (N, D, K) == (100_000, 50, 20):
            limit = TARGET_D50
        else:
            continue
        rep.target(
            f"fit_gmm / sklearn <= {limit} at ({fmt_n(N)}, {D}, {K})",
            f"{fmt_ratio(ratio)} (default threads: {fmt_ratio(default)})",
            verdict(ratio, limit),
        )
    if quick:
        rep.target("ratio targets at N >= 1e5", "not measured (--quick)", "-")
    worst = max(diffs.values())
    rep.target(
        f"fit_gmm agrees with sklearn (params rel. diff <= {TARGET_MEANS_RTOL:g}) at every size",
        f"worst {fmt_rel(worst)}",
        verdict(worst, TARGET_MEANS_RTOL),
    )

    # A whole default fit of the original case, at both thread settings (alternating)
    X, _ = gh.sample_seed_data(n_samples=2000, rng=SEED)
    fit = gh.fit_gmm(X, 3, rng=0)
    n_runs = 20 if quick else 200
    whole = {"default": lambda: gh.fit_gmm(X, 3, rng=0)}
    whole["1t"] = one_thread(lambda _n: whole["default"]())
    for _ in range(3):  # warm-up
        whole["default"]()
        whole["1t"](None)
    times = {"default": [], "1t": []}
    # Back to back as the explorer runs them: one gc.collect() before, none between the runs
    # (a collection before every run leaves the caches cold: ~1 ms more on a 4 ms fit).
    gc.collect()
    gc.disable()
    try:
        for _ in range(n_runs):
            for name, fn in (("default", whole["default"]), ("1t", lambda: whole["1t"](None))):
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
    finally:
        gc.enable()
    whole_ms = {k: 1e3 * statistics.median(v) for k, v in times.items()}
    mins = {k: 1e3 * min(v) for k, v in times.items()}
    rep.add()
    rep.add(
        f"A whole `gh.fit_gmm(X, 3, rng=0)` of the original case (N = 2000, D = 2, K = 3, "
        f"default tol, k-means++ start, {fit.n_iter} iterations + the final responsibilities), "
        f"{n_runs} runs back to back, alternating: "
        f"default threads median {whole_ms['default']:.2f} ms "
        f"(min {mins['default']:.2f}); BLAS limited to one thread median {whole_ms['1t']:.2f} ms "
        f"(min {mins['1t']:.2f})."
    )
    rep.target(
        f"whole fit_gmm of the original case < {TARGET_WHOLE_FIT_MS:g} ms (default threads)",
        f"{whole_ms['default']:.2f} ms (min {mins['default']:.2f}; 1t {whole_ms['1t']:.2f})",
        verdict(whole_ms["default"], TARGET_WHOLE_FIT_MS - 1e-12),
    )

    # Peak memory of fit_gmm
    mem = section_memory(rep, quick, ["fit_gmm", "fit_gmm_start", "sklearn"])
    n = QUICK_MEMORY_N if quick else MEMORY_N
    rep.target(
        f"fit_gmm peak extra memory < {TARGET_FIT_MEMORY:g} x X at N = {fmt_n(n)}",
        f"{mem['fit_gmm']:.2f} x X",
        verdict(mem["fit_gmm"], TARGET_FIT_MEMORY - 1e-12),
    )
    rep.add_targets()
    return rep


MEMORY_RUNS = {
    "fit_gmm": (
        "fit_gmm, default (k-means++ start, tol 1e-3)",
        lambda X, s: gh.fit_gmm(X, 3, rng=0),
    ),
    "fit_gmm_start": (
        "fit_gmm, the shared start, 11 iterations",
        lambda X, s: run_fit_gmm(X, s, 11),
    ),
    "chunked_start": (
        "fit_gmm_chunked, the shared start, 11 iterations",
        lambda X, s: run_chunked(X, s, 11),
    ),
    "chunked": (
        "fit_gmm_chunked, default (k-means++ start, tol 1e-3)",
        lambda X, s: gh.fit_gmm_chunked(X, 3, rng=0),
    ),
    "chunked_jobs": (
        f"fit_gmm_chunked, n_jobs={JOBS}, default start",
        lambda X, s: gh.fit_gmm_chunked(X, 3, rng=0, n_jobs=JOBS),
    ),
    "sklearn": (
        "sklearn GaussianMixture, the shared start, 11 iterations",
        lambda X, s: run_sklearn(X, s, 11, np.linalg.inv(s[2])),
    ),
}


def section_memory(rep, quick, names):
    """Peak extra memory (tracemalloc) of fits at (N, 2, 3), in sizes of X; name -> ratio."""
    n = QUICK_MEMORY_N if quick else MEMORY_N
    X = make_data(n, 2, 3)
    start = make_start(X, 3)
    rows, out = [], {}
    for name in names:
        label, fn = MEMORY_RUNS[name]
        fn(X[:1000], make_start(X[:1000], 3))  # warm-up outside the trace
        extra = peak_extra_bytes(lambda fn=fn: fn(X, start))
        out[name] = extra / X.nbytes
        rows.append([label, f"{extra / 2**20:.1f}", f"{out[name]:.2f}"])
    rep.add()
    rep.add(
        f"Peak extra memory during one fit at N = {fmt_n(n)}, D = 2, K = 3 "
        f"(X is {X.nbytes / 2**20:.1f} MiB), from tracemalloc (numpy reports its arrays to it):"
    )
    rep.add()
    rep.add(markdown_table(["fit", "peak extra MiB", "x size of X"], rows))
    return out


def section_chunked(quick):
    rep = Report()
    rep.add("## Chunked EM (fit_gmm_chunked)")
    rep.add()
    rep.add(
        "Same method as above: same start (the chunked EM gets `init=(w, m, c)` too, default "
        "`chunk_size`), ms per iteration from the difference of fits with 1 + m and 1 "
        "iterations, round-robin; `fit_gmm`, scikit-learn and the one-thread chunked EM "
        "(`n_jobs=1`) at both thread settings, *best* and *default* ratios as above. "
        f"*chunked n_jobs={JOBS}*: the chunked EM with {JOBS} threads over pieces of the "
        "chunks (one per core; it limits BLAS to one thread while they run), the target's "
        "row; its ratio to `fit_gmm` takes `fit_gmm` at its faster setting in each round. "
        "*params rel. diff*: the largest max |difference| / max |fit_gmm's| over weights, "
        "means and covariances after 1 + m iterations (bit for bit the same for every "
        "`n_jobs` >= 2, to rounding for `n_jobs=1`: tests/test_chunked.py)."
    )
    rep.add()
    rows = []
    for N, D, K, m, R in QUICK_CHUNKED_SIZES if quick else CHUNKED_SIZES:
        X = make_data(N, D, K)
        start = make_start(X, K)
        names = with_1t("chunked", "fit_gmm", "sklearn") + ["chunked_jobs"]
        per_iter, results, errors = time_per_iteration(implementations(X, start, names), m, R)
        ms = {name: median_ms(per_iter, name) for name in names}
        ratio_jobs = best_ratio(per_iter, "chunked_jobs", "fit_gmm")
        ratio_one = best_ratio(per_iter, "chunked", "fit_gmm")
        diff = max(
            params_rel_diff(results[name], results["fit_gmm"])
            for name in ("chunked", "chunked_jobs")
        )
        for name, msg in errors.items():
            rep.add(f"- error in {name} at N={N}, D={D}, K={K}: {msg}")
        rows.append(
            [
                fmt_n(N),
                D,
                K,
                m,
                R,
                *(fmt_ms(ms[name]) for name in names),
                fmt_ratio(ratio_jobs),
                fmt_ratio(ratio_one),
                fmt_ratio(median_ratio(per_iter, "chunked", "fit_gmm")),
                fmt_ratio(best_ratio(per_iter, "chunked_jobs", "sklearn")),
                fmt_ratio(best_ratio(per_iter, "fit_gmm", "sklearn")),
                fmt_rel(diff),
            ]
        )
        rep.target(
            f"chunked (n_jobs={JOBS}) / fit_gmm <= {TARGET_CHUNKED_RATIO:g} "
            f"at ({fmt_n(N)}, {D}, {K})",
            f"{fmt_ratio(ratio_jobs)} (n_jobs=1: {fmt_ratio(ratio_one)})",
            verdict(ratio_jobs, TARGET_CHUNKED_RATIO),
        )
        rep.target(
            f"chunked params == fit_gmm params (rel. diff <= {TARGET_PARAMS_RTOL:g}) "
            f"at ({fmt_n(N)}, {D}, {K})",
            fmt_rel(diff),
            verdict(diff, TARGET_PARAMS_RTOL),
        )
        print(f"  done N={N} D={D} K={K}: {rows[-1][5:]}", flush=True)
        del X
    rep.add(
        markdown_table(
            [
                "N",
                "D",
                "K",
                "m",
                "R",
                "chunked ms/iter",
                "chunked 1t",
                "fit_gmm ms/iter",
                "fit_gmm 1t",
                "sklearn ms/iter",
                "sklearn 1t",
                f"chunked n_jobs={JOBS}",
                f"chunked n_jobs={JOBS} / fit_gmm best",
                "chunked n_jobs=1 / fit_gmm best",
                "chunked n_jobs=1 / fit_gmm default",
                f"chunked n_jobs={JOBS} / sklearn best",
                "fit_gmm / sklearn best",
                "params rel. diff chunked vs fit_gmm",
            ],
            rows,
        )
    )
    memory_runs = ["chunked_start", "chunked", "chunked_jobs"]
    mem = section_memory(rep, quick, memory_runs)
    n = QUICK_MEMORY_N if quick else MEMORY_N
    for name in memory_runs:
        rep.target(
            f"{MEMORY_RUNS[name][0]}: peak extra memory < {TARGET_CHUNKED_MEMORY:g} x X "
            f"at N = {fmt_n(n)}",
            f"{mem[name]:.2f} x X",
            verdict(mem[name], TARGET_CHUNKED_MEMORY - 1e-12),
        )
    rep.add_targets()
    return rep


def section_explorer(quick):
    rep = Report()
    rep.add("## Explorer responsiveness")
    rep.add()
    rep.add(f"_{file_version('gmm_explorer.py')}._")
    rep.add()

    def fresh_figure():
        """A new figure: regenerate the data, fit, build the figure, render it; the parts."""
        t0 = time.perf_counter()
        fig = gmm_explorer.fit_figure()  # default slider values
        t1 = time.perf_counter()
        gmm_explorer.png_bytes(fig)  # the PNG the widget sends to the browser
        t2 = time.perf_counter()
        return t1 - t0, t2 - t1

    def data_and_fit():
        t0 = time.perf_counter()
        gmm_explorer.fit_model()
        return time.perf_counter() - t0

    # The widget itself: moving a slider runs its callback (data, fit, drawing into the
    # previous figure, PNG, caption). Outside a kernel its output goes to stdout: discard it.
    with contextlib.redirect_stdout(io.StringIO()):
        box = gmm_explorer.fit_explorer()
    slider = box.controls["separation"]

    def widget_update(value):
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            slider.value = value
        return time.perf_counter() - t0

    for value in (4.75, 5.0):  # warm-up: font cache, first draw
        fresh_figure()
        data_and_fit()
        widget_update(value)
    n_runs = 5 if quick else 30
    figure, render, fit, widget = [], [], [], []
    for i in range(n_runs):
        gc.collect()
        a, b = fresh_figure()
        figure.append(a)
        render.append(b)
        fit.append(data_and_fit())
        widget.append(widget_update(4.75 if i % 2 == 0 else 5.0))
    assert box.state["n_updates"] == n_runs + 3, "the slider did not trigger every update"
    total = [a + b for a, b in zip(figure, render, strict=True)]
    med = statistics.median(widget)

    def row(label, times):
        return [label] + [f"{1e3 * f(times):.0f}" for f in (statistics.median, min, max)]

    rep.add(
        "One update of the fit explorer: the separation slider of `gmm_explorer.fit_explorer()` "
        "moved between 5 and 4.75 (the other sliders at their defaults: K = 3, smoothing 0.01, "
        "N = 2000, seed 0, k-means++, full), which runs the widget's callback: regenerate the "
        "data, fit, draw into the previous figure, render the PNG the browser shows, print the "
        "caption. For comparison, the parts with a new figure each time, as the static cells "
        "draw it: `gmm_explorer.fit_model()` (data + fit), `gmm_explorer.fit_figure()` (data, "
        "fit and a new figure) and `gmm_explorer.png_bytes(fig)` (render with Agg). "
        f"{n_runs} runs of each, interleaved."
    )
    rep.add()
    rep.add(
        markdown_table(
            ["part", "median ms", "min ms", "max ms"],
            [
                row("data + fit (`fit_model`)", fit),
                row("data + fit + a new figure (`fit_figure`)", figure),
                row("render to PNG (`png_bytes`)", render),
                row("new figure, rendered (the two rows above)", total),
                row("**widget update** (slider moved)", widget),
            ],
        )
    )
    rep.target(
        f"explorer widget update < {TARGET_EXPLORER_S:g} s",
        f"{med:.3f} s (min {min(widget):.3f}; a new figure each time: "
        f"{statistics.median(total):.3f} s)",
        verdict(med, TARGET_EXPLORER_S - 1e-12),
    )
    rep.add_targets()
    return rep


def scaling_plan(n, quick=False):
    """(m, R) for the scaling sweep at N = n."""
    if quick:
        return 3, 3
    if n <= 30_000:
        return 20, 7
    if n <= 100_000:
        return 10, 5
    if n <= 300_000:
        return 5, 3
    if n <= 1_000_000:
        return 3, 3
    return 2, 2


def available_bytes():
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return math.inf


def num(x):
    """A CSV number: 4 decimals, empty where not measured."""
    return "" if math.isnan(x) else f"{x:.4f}"


def section_scaling(quick):
    rep = Report()
    rep.add("## Scaling with N (D = 2, K = 3, the original's clusters)")
    rep.add()
    rep.add(
        "ms per iteration, same method (same start, round-robin, median; fewer iterations "
        "and rounds at large N). fit_gmm and scikit-learn run only where memory allows. "
        "Each implementation at both thread settings, but the chunked EM with "
        f"`n_jobs={JOBS}` (one thread per core); *best* ratios as above. Written to "
        "`bench/results/scaling.csv` for notebook 09: each of its columns is the implementation "
        "at its faster thread setting at that N (the smaller median)."
    )
    rep.add()
    rows, csv_rows = [], []
    for n in QUICK_SCALING_NS if quick else SCALING_NS:
        m, R = scaling_plan(n, quick)
        X = make_data(n, 2, 3)
        start = make_start(X, 3)
        names = with_1t("chunked") + ["chunked_jobs"]
        if 16 * X.nbytes < available_bytes():  # sklearn needs ~11 x X, fit_gmm ~5 x X
            names += with_1t("fit_gmm", "sklearn")
        per_iter, _, errors = time_per_iteration(implementations(X, start, names), m, R)
        ms = {name: median_ms(per_iter, name) for name in per_iter}
        for name, msg in errors.items():
            rep.add(f"- error in {name} at N={n}: {msg}")
        best = {
            name: best_ms(per_iter, name)
            for name in ("chunked", "sklearn", "fit_gmm", "chunked_jobs")
        }
        rows.append(
            [
                fmt_n(n),
                m,
                R,
                *(
                    fmt_ms(ms.get(name, math.nan))
                    for name in with_1t("chunked", "fit_gmm", "sklearn") + ["chunked_jobs"]
                ),
                fmt_ratio(best_ratio(per_iter, "chunked", "sklearn")),
                fmt_ratio(best_ratio(per_iter, "fit_gmm", "sklearn")),
                fmt_ratio(best_ratio(per_iter, "chunked", "fit_gmm")),
                fmt_ratio(best_ratio(per_iter, "chunked_jobs", "fit_gmm")),
            ]
        )
        csv_rows.append(
            (n, best["chunked"], best["sklearn"], best["fit_gmm"], best["chunked_jobs"])
        )
        print(f"  done N={n}: {rows[-1][3:]}", flush=True)
        del X
    rep.add(
        markdown_table(
            [
                "N",
                "m",
                "R",
                "chunked ms/iter",
                "chunked 1t",
                "fit_gmm ms/iter",
                "fit_gmm 1t",
                "sklearn ms/iter",
                "sklearn 1t",
                f"chunked n_jobs={JOBS}",
                "chunked / sklearn best",
                "fit_gmm / sklearn best",
                "chunked / fit_gmm best",
                f"chunked n_jobs={JOBS} / fit_gmm best",
            ],
            rows,
        )
    )
    header = "n_samples,chunked_ms_per_iter,sklearn_ms_per_iter,fit_gmm_ms_per_iter,"
    header += "chunked_jobs_ms_per_iter\n"
    csv = header + "".join(",".join([str(row[0]), *map(num, row[1:])]) + "\n" for row in csv_rows)
    return rep, csv


# ---------------------------------------------------------------------------
# Run information and the results file
# ---------------------------------------------------------------------------


def git(*args):
    try:
        out = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False, timeout=10
        )
        return out.stdout.strip(), out.returncode
    except (OSError, subprocess.SubprocessError):
        return "", 1


def load_average():
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "unknown"


def file_version(name):
    """'<commit> <date>' of the last commit touching the file, '+ uncommitted changes' if so."""
    commit, _ = git("log", "-1", "--format=%h %cI", "--", name)
    _, dirty = git("diff", "--quiet", "--", name)
    return f"{name} at {commit or 'unknown'}{' + uncommitted changes' if dirty else ''}"


def run_info():
    threads = ", ".join(
        f"{i['internal_api']} {i['num_threads']} ({Path(i['filepath']).parent.name})"
        for i in threadpool_info()
        if "num_threads" in i
    )
    return (
        f"{file_version('gmm_helpers.py')}; "
        f"{platform.machine()}, {os.cpu_count()} CPUs; Python {platform.python_version()}, "
        f"numpy {np.__version__}, scipy {scipy.__version__}, scikit-learn {sklearn.__version__}; "
        f"threads: {threads}"
    )


def write_section(name, text):
    """Replace section `name` of bench/results/bench.md (the others keep their last run)."""
    path = RESULTS / "bench.md"
    begin, end = f"<!-- begin {name} -->", f"<!-- end {name} -->"
    old = path.read_text() if path.exists() else ""
    blocks = {}
    for sec in SECTIONS:
        b, e = f"<!-- begin {sec} -->", f"<!-- end {sec} -->"
        if b in old and e in old:
            blocks[sec] = old[old.index(b) : old.index(e) + len(e)]
    blocks[name] = f"{begin}\n{text.strip()}\n{end}"
    header = (
        "# EM benchmark results\n\n"
        "Written by `bench/bench_em.py` (`make bench`); see `bench/README.md` for how to read "
        "them. Each section says when and on what it ran; the ratios, measured side by side in "
        "one process, are the numbers to compare (the machine is noisy).\n"
    )
    body = "\n\n".join(blocks[sec] for sec in SECTIONS if sec in blocks)
    path.write_text(header + "\n" + body + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes; writes no files")
    parser.add_argument("--only", choices=SECTIONS, help="run one section")
    args = parser.parse_args(argv)
    sections = [args.only] if args.only else list(SECTIONS)
    info = run_info()
    print(f"# EM benchmark{' (--quick)' if args.quick else ''}\n", flush=True)
    total0 = time.perf_counter()
    all_targets = []
    for name in sections:
        t0 = time.perf_counter()
        load0 = load_average()
        if name == "main":
            rep = section_main(args.quick)
        elif name == "chunked":
            rep = section_chunked(args.quick)
        elif name == "explorer":
            rep = section_explorer(args.quick)
        else:
            rep, csv = section_scaling(args.quick)
        seconds = time.perf_counter() - t0
        header = (
            f"_Ran {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC "
            f"({'--quick' if args.quick else 'full run'}), took {seconds:.0f} s; "
            f"1-minute load average {load0} at the start, {load_average()} at the end; {info}._"
        )
        rep.lines[2:2] = [header, ""]  # under the section's title
        print(header + "\n", flush=True)
        all_targets += rep.targets
        if not args.quick:
            RESULTS.mkdir(parents=True, exist_ok=True)
            write_section(name, rep.text())
            if name == "scaling":
                (RESULTS / "scaling.csv").write_text(csv)
    total = time.perf_counter() - total0
    print("## Targets\n")
    print(markdown_table(["target", "measured", "result"], all_targets) if all_targets else "none")
    print(f"\nTotal bench time: {total:.0f} s")
    if not args.quick:
        print(f"Results written to {RESULTS.relative_to(ROOT)}/")


if __name__ == "__main__":
    main()

"""What every section of the EM benchmark shares: the data and the shared start, the
implementations, the round-robin timing, the ratios, the memory probe, the tables and the
results file. The method is in bench/README.md.
"""

import functools
import gc
import math
import os
import platform
import statistics
import subprocess
import time
import tracemalloc
import warnings
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import scipy  # noqa: E402
import sklearn  # noqa: E402
from scipy.stats import multivariate_normal  # noqa: E402
from sklearn.mixture import GaussianMixture  # noqa: E402
from threadpoolctl import ThreadpoolController, threadpool_info  # noqa: E402

import gmm_helpers as gh  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

RESULTS = ROOT / "bench" / "results"
SMOOTHING = 1e-2  # the original notebook's value; scikit-learn's reg_covar
SEED = 0
JOBS = os.cpu_count() or 1  # n_jobs of the threaded chunked EM
MEMORY_N = 1_000_000
QUICK_MEMORY_N = 200_000
SECTIONS = ("main", "chunked", "explorer", "scaling")  # their order in bench/results/bench.md


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


def original_em(X, weights, means, covariances, n_iter, *, smoothing=SMOOTHING):
    """The original notebook's gmm() loop, with a given start and without the early break.

    Line for line the loop of the original notebook (chapter 0): densities with scipy's
    multivariate_normal.pdf (not in log space), responsibilities, then the M-step one
    component at a time. It returns (weights, means, covariances, log-likelihoods).
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


def ms_header(names):
    """The table's column for each timed name: 'fit_gmm ms/iter', 'fit_gmm 1t', ..."""
    labels = {"chunked_jobs": f"chunked n_jobs={JOBS}"}
    return [labels.get(n, n[:-3] + " 1t" if n.endswith("_1t") else n + " ms/iter") for n in names]


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


def median_ratio(rounds):
    """Median of x / y over the rounds (x, y); ``None`` (not measurable, printed n/a) unless
    most rounds have both times above 0. A time per iteration <= 0 means the fit with 1 + m
    iterations was not slower than the fit with 1: that round's noise exceeded the work."""
    ratios = [x / y for x, y in rounds if x > 0 and y > 0]
    if 2 * len(ratios) <= len(rounds):
        return None
    return statistics.median(ratios)


NOT_MEASURABLE_NOTE = (
    "n/a: not measurable: in most rounds one of the two fits with 1 + m iterations was not "
    "slower than the same fit with 1 (the noise of the machine exceeded the m iterations' work)."
)


@dataclass
class Timings:
    """Round-robin timings of several implementations on one data set (``measure``)."""

    per_iter: dict  # name -> seconds per iteration, one per round
    results: dict  # name -> (weights, means, covariances) after 1 + m iterations, or None
    errors: dict  # name -> message of the exception that stopped it

    def ms(self, name):
        """Median ms per iteration."""
        times = self.per_iter.get(name, [])
        return 1e3 * statistics.median(times) if times else math.nan

    def ratio(self, name, reference):
        """Median over rounds of name's time / reference's time in the same round."""
        a, b = self.per_iter.get(name, []), self.per_iter.get(reference, [])
        if not a or len(a) != len(b):
            return math.nan
        return median_ratio(list(zip(a, b, strict=True)))

    def variants(self, name):
        """The timings of name at the thread settings that were measured (name, name_1t)."""
        return [self.per_iter[v] for v in (name, name + "_1t") if self.per_iter.get(v)]

    def best_ratio(self, name, reference="sklearn"):
        """Median over rounds of (name's time / reference's time), each at its faster thread
        setting in that round."""
        a, b = self.variants(name), self.variants(reference)
        if not a or not b or len({len(t) for t in a + b}) != 1:
            return math.nan
        rounds = [
            (min(times[: len(a)]), min(times[len(a) :])) for times in zip(*a, *b, strict=True)
        ]
        return median_ratio(rounds)

    def best_ms(self, name):
        """The smaller of name's medians over its thread settings (ms per iteration)."""
        values = [1e3 * statistics.median(t) for t in self.variants(name)]
        return min(values) if values else math.nan

    def diff(self, name, reference):
        """The largest relative difference of the parameters after 1 + m iterations."""
        return params_rel_diff(self.results.get(name), self.results.get(reference))


def measure(size, m, R, names):
    """Time the named implementations (see ``implementations``) on the data of ``size``
    (N, D, K) from the shared start: m timed iterations on top of the first, R rounds."""
    N, D, K = size
    X = make_data(N, D, K)
    return Timings(*time_per_iteration(implementations(X, make_start(X, K), names), m, R))


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
    if x is None:
        return "n/a"
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
    """Collects a section's markdown and prints it as it goes; starts with the ``title`` and
    the ``intro`` paragraph, if given."""

    def __init__(self, title=None, intro=None):
        self.lines = []
        self.targets = []  # (description, value text, verdict)
        for paragraph in (title, intro):
            if paragraph is not None:
                self.add(paragraph)
                self.add()

    def add(self, text=""):
        print(text, flush=True)
        self.lines.append(text)

    def target(self, description, value_text, result):
        self.targets.append((description, value_text, result))

    def table(self, header, rows):
        self.add(markdown_table(header, rows))
        if any(cell == "n/a" for row in rows for cell in row):
            self.add()
            self.add(NOT_MEASURABLE_NOTE)

    def add_targets(self):
        if self.targets:
            self.add()
            self.add(markdown_table(["target", "measured", "result"], self.targets))
            self.add()

    def text(self):
        return "\n".join(self.lines).strip() + "\n"


# ---------------------------------------------------------------------------
# Peak memory of whole fits at (N, 2, 3)
# ---------------------------------------------------------------------------


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


def memory_table(rep, quick, names):
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
    rep.table(["fit", "peak extra MiB", "x size of X"], rows)
    return out


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
        f"{file_version('gmm_helpers.py')}, {file_version('gmm/engine.py')}; "
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
        "Written by `python -m bench.bench_em` (`make bench`); see `bench/README.md` for how to "
        "read them. Each section says when and on what it ran; the ratios, measured side by side "
        "in one process, are the numbers to compare (the machine is noisy).\n"
    )
    body = "\n\n".join(blocks[sec] for sec in SECTIONS if sec in blocks)
    path.write_text(header + "\n" + body + "\n")

"""Section `chunked`: gh.fit_gmm_chunked against fit_gmm and scikit-learn, with one thread and
with one thread per core, whether it gives fit_gmm's parameters, and its peak memory."""

from bench.common import (
    JOBS,
    MEMORY_N,
    MEMORY_RUNS,
    QUICK_MEMORY_N,
    Report,
    fmt_ms,
    fmt_n,
    fmt_ratio,
    fmt_rel,
    measure,
    memory_table,
    ms_header,
    verdict,
    with_1t,
)

# (N, D, K, m, R); the quick size is above the default chunk_size, so it really chunks.
SIZES = [(1_000_000, 2, 3, 6, 11), (100_000, 50, 20, 3, 5)]
QUICK_SIZES = [(200_000, 2, 3, 2, 2)]
TARGET_RATIO = 1.0  # chunked (n_jobs = one per core) / fit_gmm
TARGET_PARAMS_RTOL = 1e-8  # chunked vs fit_gmm parameters
TARGET_MEMORY = 1.0  # peak extra memory at N = 1e6, in sizes of X

INTRO = (
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
NAMES = with_1t("chunked", "fit_gmm", "sklearn") + ["chunked_jobs"]
HEADER = ["N", "D", "K", "m", "R", *ms_header(NAMES)] + [
    f"chunked n_jobs={JOBS} / fit_gmm best",
    "chunked n_jobs=1 / fit_gmm best",
    "chunked n_jobs=1 / fit_gmm default",
    f"chunked n_jobs={JOBS} / sklearn best",
    "fit_gmm / sklearn best",
    "params rel. diff chunked vs fit_gmm",
]


def per_iteration(rep, sizes):
    rows = []
    for N, D, K, m, R in sizes:
        t = measure((N, D, K), m, R, NAMES)
        for name, msg in t.errors.items():
            rep.add(f"- error in {name} at N={N}, D={D}, K={K}: {msg}")
        ratio_jobs = t.best_ratio("chunked_jobs", "fit_gmm")
        ratio_one = t.best_ratio("chunked", "fit_gmm")
        diff = max(t.diff(name, "fit_gmm") for name in ("chunked", "chunked_jobs"))
        rows.append(
            [fmt_n(N), D, K, m, R, *(fmt_ms(t.ms(name)) for name in NAMES)]
            + [fmt_ratio(ratio_jobs), fmt_ratio(ratio_one)]
            + [fmt_ratio(t.ratio("chunked", "fit_gmm"))]
            + [fmt_ratio(t.best_ratio("chunked_jobs")), fmt_ratio(t.best_ratio("fit_gmm"))]
            + [fmt_rel(diff)]
        )
        print(f"  done N={N} D={D} K={K}: {rows[-1][5:]}", flush=True)
        size = f"({fmt_n(N)}, {D}, {K})"
        rep.target(
            f"chunked (n_jobs={JOBS}) / fit_gmm <= {TARGET_RATIO:g} at {size}",
            f"{fmt_ratio(ratio_jobs)} (n_jobs=1: {fmt_ratio(ratio_one)})",
            verdict(ratio_jobs, TARGET_RATIO),
        )
        rep.target(
            f"chunked params == fit_gmm params (rel. diff <= {TARGET_PARAMS_RTOL:g}) at {size}",
            fmt_rel(diff),
            verdict(diff, TARGET_PARAMS_RTOL),
        )
    rep.table(HEADER, rows)


def run(quick):
    rep = Report("## Chunked EM (fit_gmm_chunked)", INTRO)
    per_iteration(rep, QUICK_SIZES if quick else SIZES)
    runs = ["chunked_start", "chunked", "chunked_jobs"]
    mem = memory_table(rep, quick, runs)
    for name in runs:
        rep.target(
            f"{MEMORY_RUNS[name][0]}: peak extra memory < {TARGET_MEMORY:g} x X "
            f"at N = {fmt_n(QUICK_MEMORY_N if quick else MEMORY_N)}",
            f"{mem[name]:.2f} x X",
            verdict(mem[name], TARGET_MEMORY - 1e-12),
        )
    rep.add_targets()
    return rep

"""Section `scaling`: ms per iteration over N = 1e4 ... 1e7 (D = 2, K = 3) for the chunked EM,
fit_gmm and scikit-learn; also bench/results/scaling.csv, which notebook 09 reads."""

import math
import os

from bench.common import JOBS, Report, fmt_ms, fmt_n, fmt_ratio, measure, ms_header, with_1t

NS = [10_000, 30_000, 100_000, 300_000, 1_000_000, 3_000_000, 10_000_000]
QUICK_NS = [10_000, 30_000]
CSV_COLUMNS = ("chunked", "sklearn", "fit_gmm", "chunked_jobs")

INTRO = (
    "ms per iteration, same method (same start, round-robin, median; fewer iterations "
    "and rounds at large N). fit_gmm and scikit-learn run only where memory allows. "
    "Each implementation at both thread settings, but the chunked EM with "
    f"`n_jobs={JOBS}` (one thread per core); *best* ratios as above. Written to "
    "`bench/results/scaling.csv` for notebook 09: each of its columns is the implementation "
    "at its faster thread setting at that N (the smaller median)."
)
TIMED = with_1t("chunked", "fit_gmm", "sklearn") + ["chunked_jobs"]
HEADER = (
    ["N", "m", "R", *ms_header(TIMED)]
    + ["chunked / sklearn best", "fit_gmm / sklearn best", "chunked / fit_gmm best"]
    + [f"chunked n_jobs={JOBS} / fit_gmm best"]
)


def plan(n, quick=False):
    """(m, R) at N = n: fewer iterations and rounds for large N."""
    if quick:
        return 3, 3
    for limit, m, R in [(30_000, 20, 7), (100_000, 10, 5), (300_000, 5, 3), (1_000_000, 3, 3)]:
        if n <= limit:
            return m, R
    return 2, 3  # a median of three rounds: two let one disturbed round decide


def available_bytes():
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return math.inf


def num(x):
    """A CSV number: 4 decimals, empty where not measured."""
    return "" if math.isnan(x) else f"{x:.4f}"


def run(quick):
    """The section's report and the text of scaling.csv."""
    rep = Report("## Scaling with N (D = 2, K = 3, the original's clusters)", INTRO)
    rows, csv = [], ["n_samples," + ",".join(f"{c}_ms_per_iter" for c in CSV_COLUMNS)]
    for n in QUICK_NS if quick else NS:
        m, R = plan(n, quick)
        names = with_1t("chunked") + ["chunked_jobs"]
        if 16 * (16 * n) < available_bytes():  # X is 16 n bytes; sklearn needs ~11 x X
            names += with_1t("fit_gmm", "sklearn")
        t = measure((n, 2, 3), m, R, names)
        for name, msg in t.errors.items():
            rep.add(f"- error in {name} at N={n}: {msg}")
        rows.append(
            [fmt_n(n), m, R, *(fmt_ms(t.ms(name)) for name in TIMED)]
            + [fmt_ratio(t.best_ratio("chunked")), fmt_ratio(t.best_ratio("fit_gmm"))]
            + [fmt_ratio(t.best_ratio(name, "fit_gmm")) for name in ("chunked", "chunked_jobs")]
        )
        csv.append(",".join([str(n), *(num(t.best_ms(c)) for c in CSV_COLUMNS)]))
        print(f"  done N={n}: {rows[-1][3:]}", flush=True)
    rep.table(HEADER, rows)
    return rep, "\n".join(csv) + "\n"

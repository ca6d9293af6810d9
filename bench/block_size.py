"""Paired A/B of the engine's block size: one pass of engine.statistics with blocks of
256 KiB against engine.BLOCK_BYTES (1 MiB), the two taking turns in one process.

    .venv/bin/python -m bench.block_size      # a few minutes; writes bench/results/block_size.md
"""

import datetime
import statistics
import time

from bench.common import RESULTS, fmt_n, load_average, make_data, make_start, markdown_table
from gmm import engine

SIZES = [(1_000_000, 2, 3, 11), (100_000, 10, 10, 11), (100_000, 50, 20, 5)]  # N, D, K, rounds
SMALL, DEFAULT = 1 << 18, engine.BLOCK_BYTES


def one_pass(YT, shift, params, block_bytes):
    weights, means, covariances = params
    t0 = time.perf_counter()
    engine.statistics(YT, weights, means - shift, covariances, block_bytes=block_bytes)
    return time.perf_counter() - t0


def main():
    load0, rows = load_average(), []
    for N, D, K, R in SIZES:
        X = make_data(N, D, K)
        params = make_start(X, K)
        YT, shift = engine.shifted_transpose(X)
        times = {SMALL: [], DEFAULT: []}
        for r in range(R):  # alternate which size goes first
            for size in (SMALL, DEFAULT) if r % 2 else (DEFAULT, SMALL):
                times[size].append(one_pass(YT, shift, params, size))
        ratios = [a / b for a, b in zip(times[DEFAULT], times[SMALL], strict=True)]
        rows.append(
            [f"({fmt_n(N)}, {D}, {K})", R]
            + [f"{1e3 * statistics.median(times[s]):.1f}" for s in (SMALL, DEFAULT)]
            + [f"{statistics.median(ratios):.2f}", f"{min(ratios):.2f}-{max(ratios):.2f}"]
        )
        print(rows[-1], flush=True)
    header = ["(N, D, K)", "rounds", "256 KiB ms", "1 MiB ms", "1 MiB / 256 KiB", "range"]
    text = (
        "# E-step block size: 1 MiB against 256 KiB\n\n"
        f"_Ran {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC by "
        f"`python -m bench.block_size`; 1-minute load average {load0} at the start, "
        f"{load_average()} at the end._\n\n"
        "One pass of `engine.statistics` (E-step and the sums of Eq. (9.1)) with the "
        "(K D, b) work array of a block at about 256 KiB and at 1 MiB "
        "(`engine.BLOCK_BYTES`), taking turns; the ratio is the median of the per-round "
        "ratios.\n\n" + markdown_table(header, rows) + "\n"
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "block_size.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()

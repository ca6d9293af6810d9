"""Paired A/B of the E-step block size: one E-step pass (gh._em_pass) with blocks of 256 KiB
against 1 MiB (gmm_helpers._BLOCK_BYTES), the two taking turns in one process.

    .venv/bin/python bench/block_size.py      # about two minutes; prints, writes nothing

The comment above _BLOCK_BYTES quotes its medians.
"""

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_em as b  # noqa: E402

gh = b.gh
SIZES = [(1_000_000, 2, 3, 11), (100_000, 10, 10, 11), (100_000, 50, 20, 5)]  # N, D, K, rounds
OLD, NEW = 1 << 18, 1 << 20


def one_pass(YT, params, block_bytes):
    gh._BLOCK_BYTES = block_bytes
    t0 = time.perf_counter()
    gh._em_pass(YT, *params, b.SMOOTHING)
    return time.perf_counter() - t0


def main():
    default = gh._BLOCK_BYTES
    try:
        for N, D, K, R in SIZES:
            X = b.make_data(N, D, K)
            params, YT = b.make_start(X, K), X.T.copy()
            times = {OLD: [], NEW: []}
            for r in range(R):  # alternate which size goes first
                for size in (OLD, NEW) if r % 2 else (NEW, OLD):
                    times[size].append(one_pass(YT, params, size))
            ratios = [new / old for new, old in zip(times[NEW], times[OLD], strict=True)]
            print(
                f"({b.fmt_n(N)}, {D}, {K}): 256 KiB {1e3 * statistics.median(times[OLD]):.1f} ms, "
                f"1 MiB {1e3 * statistics.median(times[NEW]):.1f} ms, paired ratio 1 MiB / 256 KiB "
                f"{statistics.median(ratios):.2f} (range {min(ratios):.2f}-{max(ratios):.2f})",
                flush=True,
            )
    finally:
        gh._BLOCK_BYTES = default


if __name__ == "__main__":
    main()

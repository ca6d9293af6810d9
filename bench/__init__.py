"""The course's benchmarks, run as modules from the repository root:
``python -m bench.bench_em``, ``python -m bench.block_size`` (bench/README.md)."""

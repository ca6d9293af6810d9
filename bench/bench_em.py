"""Time EM per iteration: gmm_helpers against scikit-learn and the original notebook's loop.

Usage (from the repository root)::

    make bench                                      # everything, writes bench/results/
    .venv/bin/python -m bench.bench_em --quick      # small sizes, a smoke run, no files
    .venv/bin/python -m bench.bench_em --only main|chunked|explorer|scaling|accelerated

Each section lives in its own file (bench/section_NAME.py, a ``run(quick)`` returning its
report); what they share (data, start, implementations, timing, tables, the results file) is
in bench/common.py. The method and how to read the tables: bench/README.md.
"""

import argparse
import datetime
import importlib
import time

from bench.common import (
    RESULTS,
    ROOT,
    SECTIONS,
    load_average,
    markdown_table,
    run_info,
    write_section,
)


def section(name):
    """The module of a section, bench/section_NAME.py, imported when it runs."""
    return importlib.import_module(f"bench.section_{name}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes; writes no files")
    parser.add_argument("--only", choices=[*SECTIONS, "accelerated"], help="run one section")
    args = parser.parse_args(argv)
    info = run_info()
    print(f"# EM benchmark{' (--quick)' if args.quick else ''}\n", flush=True)
    total0 = time.perf_counter()
    all_targets = []
    for name in [args.only] if args.only else [*SECTIONS, "accelerated"]:
        t0, load0 = time.perf_counter(), load_average()
        rep = section(name).run(args.quick)
        rep, csv = rep if name == "scaling" else (rep, None)
        header = (
            f"_Ran {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC "
            f"({'--quick' if args.quick else 'full run'}), took {time.perf_counter() - t0:.0f} s; "
            f"1-minute load average {load0} at the start, {load_average()} at the end; {info}._"
        )
        rep.lines[2:2] = [header, ""]  # under the section's title
        print(header + "\n", flush=True)
        all_targets += rep.targets
        if not args.quick:
            RESULTS.mkdir(parents=True, exist_ok=True)
            if name == "accelerated":
                (RESULTS / "accelerated.md").write_text(rep.text())
            else:
                write_section(name, rep.text())
            if csv is not None:
                (RESULTS / "scaling.csv").write_text(csv)
    print("## Targets\n")
    print(markdown_table(["target", "measured", "result"], all_targets) if all_targets else "none")
    print(f"\nTotal bench time: {time.perf_counter() - total0:.0f} s")
    if not args.quick:
        print(f"Results written to {RESULTS.relative_to(ROOT)}/")


if __name__ == "__main__":
    main()

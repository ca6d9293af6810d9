"""Time EM per iteration: gmm_helpers against scikit-learn and the original notebook's loop.

Usage (from the repository root)::

    make bench                                      # everything, writes bench/results/
    .venv/bin/python bench/bench_em.py --quick      # small sizes, a smoke run, no files
    .venv/bin/python bench/bench_em.py --only main|chunked|explorer|scaling|accelerated

Each section lives in its own file (bench/section_NAME.py, a ``run(quick)`` returning its
report); what they share (data, start, implementations, timing, tables, the results file) is
in bench/common.py. The method and how to read the tables: bench/README.md.
"""

import argparse
import datetime
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import section_accelerated  # noqa: E402
import section_chunked  # noqa: E402
import section_explorer  # noqa: E402
import section_main  # noqa: E402
import section_scaling  # noqa: E402
from common import (  # noqa: E402
    RESULTS,
    ROOT,
    SECTIONS,
    load_average,
    markdown_table,
    run_info,
    write_section,
)

MODULES = {
    "main": section_main,
    "chunked": section_chunked,
    "explorer": section_explorer,
    "scaling": section_scaling,
    "accelerated": section_accelerated,  # its own file, bench/results/accelerated.md
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes; writes no files")
    parser.add_argument("--only", choices=list(MODULES), help="run one section")
    args = parser.parse_args(argv)
    info = run_info()
    print(f"# EM benchmark{' (--quick)' if args.quick else ''}\n", flush=True)
    total0 = time.perf_counter()
    all_targets = []
    for name in [args.only] if args.only else [*SECTIONS, "accelerated"]:
        t0, load0 = time.perf_counter(), load_average()
        rep = MODULES[name].run(args.quick)
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

"""Name the tests a pytest run skipped, from its JUnit report (for the summary of make test).

Usage: ``.venv/bin/python -m tools.skipped_tests build/test/unit.xml``

Prints one line per reason, ``N test(s) skipped: REASON``, and nothing when no test was
skipped or the report is missing (the step failed before pytest wrote it).
"""

import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path


def skipped_reasons(report):
    """``Counter`` of skip reasons in the JUnit XML file ``report`` (empty if there is none)."""
    report = Path(report)
    if not report.is_file():
        return Counter()
    try:
        root = ET.parse(report).getroot()
    except ET.ParseError:
        return Counter()
    reasons = Counter()
    for case in root.iter("testcase"):
        for skipped in case.findall("skipped"):
            reasons[skipped.get("message") or "no reason given"] += 1
    return reasons


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    for reason, count in sorted(skipped_reasons(argv[0]).items()):
        print(f"{count} test(s) skipped: {reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

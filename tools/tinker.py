"""Run every chapter with other values of its knobs, as a learner would (issue 25).

Usage (from the repository root, with the project's virtual environment)::

    .venv/bin/python -m tools.tinker                 # every chapter, its whole grid (make tinker)
    .venv/bin/python -m tools.tinker --short         # the first entry of each grid (make test)
    .venv/bin/python -m tools.tinker notebooks/04_em_step_by_step.ipynb

A chapter's knobs live in its one code cell tagged ``parameters``. That cell's metadata holds
the grid, ``"tinker"``: a list of entries, each a dict of knob name -> value, e.g.
``[{"separation": 2.0, "K": 4}, {"separation": 8.0}, {"seed": 1}]``. The first entry is the one
``--short`` (and so ``make test``) runs: keep it quick and meaningful. Every name must be
assigned in the parameters cell (a misspelt knob would otherwise change nothing).

For each entry the chapter runs top to bottom in a fresh kernel, as ``tools/build_notebooks.py``
runs it, with one cell inserted after the parameters cell that assigns the entry's values
(papermill's "injected parameters"). The executed copy goes to ``build/tinker/``; the committed
notebooks are never written. An entry passes when no cell raises.

A combination a chapter cannot mean (K larger than the data allow, say) should stop the chapter
with a clear ``ValueError`` ("expected ..., got ..., try ..."), and the parameters cell says why.
Such an entry declares it with the key ``"tinker_expect_error"``: a piece of the message the
chapter must stop with, e.g. ``{"K": 0, "tinker_expect_error": "expected K"}``. It then passes
only if the run stops with a ValueError whose message contains that piece and both "expected"
and "try"; it fails if the chapter runs through, or stops with anything else.

Chapters without a parameters cell are skipped with a note (``--notes FILE`` also writes the
notes there, for ``make test``'s summary). Prints the time per chapter, and a note for a run
whose cells wrote to stderr (warnings: not a failure); exits 1 if any entry failed.
"""

import argparse
import ast
import copy
import sys
import time
from pathlib import Path

import nbformat
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

from tools import build_notebooks

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
SCRATCH = ROOT / "build" / "tinker"
EXPECT_ERROR = "tinker_expect_error"
INJECTED_TAG = "injected-parameters"


class GridError(ValueError):
    """A chapter's parameters cell or tinker grid is malformed."""


def chapters():
    """The chapters, notebooks/NN_*.ipynb, in order."""
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def parameters_cell(nb):
    """Index of the one code cell tagged ``parameters``, or None; GridError if several."""
    found = [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", [])
    ]
    if len(found) > 1:
        raise GridError(f"expected one cell tagged 'parameters', got {len(found)} (cells {found})")
    return found[0] if found else None


def knob_names(source):
    """The names the parameters cell assigns at top level (``a = 1``, ``a: int = 1``)."""
    names = set()
    for node in ast.parse(source).body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def grid(nb):
    """(index of the parameters cell, its entries); (None, []) without one. Checks the grid."""
    index = parameters_cell(nb)
    if index is None:
        return None, []
    cell = nb.cells[index]
    entries = cell.metadata.get("tinker")
    if not isinstance(entries, list) or not entries:
        raise GridError(
            "expected the parameters cell's metadata to hold a non-empty list 'tinker' of "
            f"entries (dicts of knob name -> value), got {entries!r}"
        )
    names = knob_names(cell.source)
    for entry in entries:
        if not isinstance(entry, dict):
            raise GridError(f"expected each tinker entry to be a dict, got {entry!r}")
        unknown = set(entry) - names - {EXPECT_ERROR}
        if unknown:
            raise GridError(
                f"tinker entry {entry} sets {sorted(unknown)}, which the parameters cell does "
                f"not assign (it assigns {sorted(names)})"
            )
        knobs = {k: v for k, v in entry.items() if k != EXPECT_ERROR}
        if not knobs:
            raise GridError(f"expected a tinker entry to set at least one knob, got {entry}")
    return index, entries


def describe(entry):
    """'separation=2.0, K=4' for an entry (without the expected error)."""
    return ", ".join(f"{k}={v!r}" for k, v in entry.items() if k != EXPECT_ERROR)


def with_values(nb, index, entry):
    """A copy of ``nb`` with a cell assigning ``entry``'s values inserted after cell ``index``."""
    nb = copy.deepcopy(nb)
    lines = [f"# tinker: injected parameters ({describe(entry)})"]
    lines += [f"{name} = {value!r}" for name, value in entry.items() if name != EXPECT_ERROR]
    cell = nbformat.v4.new_code_cell("\n".join(lines), metadata={"tags": [INJECTED_TAG]})
    cell.id = "tinker-injected"
    nb.cells.insert(index + 1, cell)
    for c in nb.cells:
        if c.cell_type == "code":
            c.outputs, c.execution_count = [], None
    return nb


def run(nb, path):
    """Execute ``nb`` as build_notebooks does (in the folder of ``path``); returns the error
    raised by the first failing cell, or None."""
    client = build_notebooks.client(nb, path)
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as error:
        return error
    return None


def verdict(entry, error):
    """(passed, message) for an entry whose run raised ``error`` (None: ran through)."""
    expected = entry.get(EXPECT_ERROR)
    if error is None:
        if expected is None:
            return True, "ran through"
        return (
            False,
            f"expected the chapter to stop with a ValueError ({expected!r}); it ran through",
        )
    ename = getattr(error, "ename", type(error).__name__)
    evalue = getattr(error, "evalue", str(error).strip().splitlines()[-1:] or [""])
    evalue = evalue if isinstance(evalue, str) else evalue[0]
    said = f"{ename}: {evalue}"
    if expected is None:
        return False, said
    clear = ename == "ValueError" and all(w in evalue for w in (expected, "expected", "try"))
    if clear:
        return True, f"stopped as declared: {said}"
    return False, f"expected a ValueError with {expected!r}, 'expected' and 'try'; got {said}"


def stderr_lines(nb):
    """The first line of every stderr output of an executed notebook (warnings)."""
    return [
        (output.get("text", "").strip().splitlines() or [""])[0][:120]
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.get("name") == "stderr"
    ]


def scratch_path(path, number):
    return SCRATCH / path.stem / f"{number:02d}.ipynb"


def tinker(path, short=False, out=print):
    """Run one chapter over its grid; returns (n_failed, note or None)."""
    nb = nbformat.read(path, as_version=4)
    try:
        index, entries = grid(nb)
    except GridError as error:
        out(f"FAILED  {path.name}: {error}")
        return 1, None
    if index is None:
        note = f"{path.name}: skipped, no cell tagged 'parameters' yet"
        out(f"  skip  {note}")
        return 0, note
    entries = entries[:1] if short else entries
    failed = 0
    tick = time.perf_counter()
    for number, entry in enumerate(entries):
        start = time.perf_counter()
        run_nb = with_values(nb, index, entry)
        error = run(run_nb, path)
        target = scratch_path(path, number)
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(run_nb, target)
        passed, message = verdict(entry, error)
        failed += not passed
        status = "ok" if passed else "FAILED"
        seconds = time.perf_counter() - start
        out(f"{seconds:6.1f} s  {status:6s}  {path.name} [{describe(entry)}]: {message}")
        if not passed:
            out(f"          executed copy: {target.relative_to(ROOT)}")
        warnings = stderr_lines(run_nb)
        if warnings:  # not a failure, but worth a look (a RuntimeWarning is often a NaN)
            out(f"          note: {len(warnings)} output(s) on stderr, the first: {warnings[0]}")
    out(f"{time.perf_counter() - tick:6.1f} s  {path.name}: {len(entries)} run(s), {failed} failed")
    return failed, None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="chapters (default: all)")
    parser.add_argument("--short", action="store_true", help="only the first entry per chapter")
    parser.add_argument("--notes", type=Path, help="also write the skip notes to this file")
    args = parser.parse_args(argv)
    paths = [p.resolve() for p in args.notebooks] or chapters()
    missing = [p for p in paths if not p.is_file()]
    if missing:
        parser.error("no such notebook: " + ", ".join(map(str, missing)))
    start = time.perf_counter()
    failed, notes = [], []
    for path in paths:
        n_failed, note = tinker(path, short=args.short, out=lambda s: print(s, flush=True))
        if n_failed:
            failed.append(path.name)
        if note:
            notes.append(note)
    if args.notes:
        args.notes.parent.mkdir(parents=True, exist_ok=True)
        args.notes.write_text("".join(n + "\n" for n in notes))
    mode = "first entry" if args.short else "whole grid"
    print(f"{time.perf_counter() - start:6.1f} s  total ({mode}, {len(paths)} chapter(s))")
    if failed:
        print("tinker failed for: " + ", ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

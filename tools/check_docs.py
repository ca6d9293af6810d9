"""Check that the committed pages match the committed notebooks (no execution).

Usage: ``.venv/bin/python -m tools.check_docs`` (``make check-docs``).

Renders every ``notebooks/*.ipynb`` and ``README.ipynb`` to markdown in a temporary folder,
exactly as ``tools/build_notebooks.py`` does, and compares with ``docs/NAME.md`` +
``docs/NAME_files/`` and ``README.md`` + ``README_files/``. Also flags a chapter page
``docs/NN_*.md`` whose notebook is gone. Exits 1 with a summary when anything differs;
the fix is to rebuild (``make``, or ``python -m tools.build_notebooks NOTEBOOK``) and commit.

The comparison is exact, byte for byte, and that holds on any machine: nothing is executed,
and a page's figures are the notebook's own PNG outputs, decoded. Figures whose pixels move
with the floats on another CPU are dealt with where they are made, by the build (it keeps the
committed image when the new one is the same picture, ``tools/pictures.py``).
"""

import difflib
import filecmp
import sys
import tempfile
from pathlib import Path

from tools.build_notebooks import DOCS, IMAGE_SUFFIXES, ROOT, default_notebooks, page_for, render
from tools.pictures import picture_difference

MAX_DIFF_LINES = 20


def _files(folder):
    if not folder.is_dir():
        return {}
    return {p.relative_to(folder).as_posix(): p for p in folder.rglob("*") if p.is_file()}


def compare(fresh_page, page):
    """Problems (one line each, plus a short diff) between a fresh render and the committed one."""
    shown = page.relative_to(ROOT).as_posix()
    problems = []
    if not page.exists():
        return [f"{shown}: missing (rebuild and commit it)"]
    fresh_text = fresh_page.read_text(encoding="utf-8").splitlines()
    text = page.read_text(encoding="utf-8").splitlines()
    if fresh_text != text:
        diff = list(
            difflib.unified_diff(
                text, fresh_text, f"{shown} (committed)", f"{shown} (fresh)", n=1, lineterm=""
            )
        )
        changed = sum(1 for line in diff[2:] if line[:1] in "+-")
        problems.append(f"{shown}: differs from its notebook ({changed} changed line(s))")
        problems.extend("    " + line for line in diff[:MAX_DIFF_LINES])
        if len(diff) > MAX_DIFF_LINES:
            problems.append(f"    ... {len(diff) - MAX_DIFF_LINES} more diff line(s)")
    files_dir = f"{page.stem}_files"
    fresh_files, files = _files(fresh_page.parent / files_dir), _files(page.parent / files_dir)
    folder = (page.parent / files_dir).relative_to(ROOT).as_posix()
    for name in sorted(fresh_files.keys() - files.keys()):
        problems.append(f"{folder}/{name}: missing")
    for name in sorted(files.keys() - fresh_files.keys()):
        problems.append(f"{folder}/{name}: stale (no output of the notebook makes it)")
    for name in sorted(fresh_files.keys() & files.keys()):
        if not filecmp.cmp(fresh_files[name], files[name], shallow=False):
            why = ""
            if fresh_files[name].suffix.lower() in IMAGE_SUFFIXES:
                why = picture_difference(files[name].read_bytes(), fresh_files[name].read_bytes())
                why = f" ({why or 'the same picture, other bytes'})"
            problems.append(f"{folder}/{name}: differs from the notebook's output{why}")
    return problems


def main():
    notebooks = default_notebooks()
    problems = []
    with tempfile.TemporaryDirectory(prefix="check_docs_") as tmp:
        for notebook in notebooks:
            page = page_for(notebook)
            fresh = render(notebook, Path(tmp) / page.relative_to(ROOT))
            problems += compare(fresh, page)
    stems = {p.stem for p in notebooks}
    for page in sorted(DOCS.glob("[0-9][0-9]_*.md")):
        if page.stem not in stems:
            problems.append(f"docs/{page.name}: no notebooks/{page.stem}.ipynb renders it")
    if problems:
        print("check-docs: the committed pages do not match the committed notebooks:")
        print("\n".join(problems))
        print("Fix: .venv/bin/python -m tools.build_notebooks [NOTEBOOK] (or make), then commit.")
        return 1
    print(f"check-docs: {len(notebooks)} notebook(s), every page matches its notebook")
    return 0


if __name__ == "__main__":
    sys.exit(main())

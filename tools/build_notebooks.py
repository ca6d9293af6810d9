"""Execute the course notebooks in place and render them to markdown, deterministically.

Usage (from the repository root, with the project's virtual environment)::

    .venv/bin/python -m tools.build_notebooks                      # every notebook, then README
    .venv/bin/python -m tools.build_notebooks notebooks/03_em_derivation.ipynb
    .venv/bin/python -m tools.build_notebooks --render-only        # re-render pages, no execution

Each notebook runs top to bottom in a fresh ``python3`` kernel whose working directory is
the notebook's folder, and is written back in place so the committed notebook carries its
outputs. ``notebooks/NAME.ipynb`` renders to ``docs/NAME.md`` with its figures in
``docs/NAME_files/``; ``README.ipynb`` renders to ``README.md`` with ``README_files/``
(what ``jupyter nbconvert --to markdown`` would write).

Building the same notebooks twice gives byte-identical notebooks, pages and PNGs:

- no per-cell timing metadata, no widget state, no random widget model ids (the widget
  mime type is dropped, its ``text/plain`` kept, and the page shows a short note instead);
- inline figures are saved without matplotlib's "Software" text (its version): the kernel
  runs with ``InlineBackend.print_figure_kwargs`` adding ``metadata={"Software": None}``
  (PNG has no other time or version text from matplotlib and Pillow);
- streams are coalesced, cells without an id get a stable one, and the JSON is written by
  ``nbformat.write``.

On another machine a figure's pixels can move with the floats (other BLAS kernels): an
antialiased edge a level lighter. So that ``make`` still leaves ``git status`` clean there,
a new image (a PNG or GIF output) that
decodes to the same picture as the one it replaces, within the tolerance of
``tools/pictures.py``, is not written: the committed bytes are kept, and the build says so.

Cell tags for the rendered page only: ``remove-cell``, ``remove-input``, ``remove-output``.
"""

import argparse
import base64
import os
import shutil
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellControlSignal, DeadKernelError
from nbconvert import MarkdownExporter
from nbconvert.preprocessors import Preprocessor
from traitlets.config import Config

from tools.pictures import same_picture

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
DOCS = ROOT / "docs"
README = ROOT / "README.ipynb"
IMAGE_SUFFIXES = {".png", ".gif"}

KERNEL = "python3"
CELL_TIMEOUT = 600  # seconds for one cell: generous, the whole course runs in about a minute
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
WIDGET_NOTE = (
    "*(Interactive widget: run the notebook in JupyterLab with `make lab`, "
    "or as an app with `make app`.)*"
)
# The kernel inherits these: fixed hash seed (set/dict-of-str order), no debugger chatter.
KERNEL_ENV = {"PYTHONHASHSEED": "0", "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
# Inline figures: IPython's default bbox_inches="tight", and no "Software" text in the PNG.
PRINT_FIGURE_KWARGS = {"bbox_inches": "tight", "metadata": {"Software": None}}
KERNEL_ARGUMENTS = [
    "--IPKernelApp.log_level=ERROR",  # quiet the kernel's own start-up log, not the outputs
    f"--InlineBackend.print_figure_kwargs={PRINT_FIGURE_KWARGS!r}",
]


# ---------------------------------------------------------------------------
# Making outputs deterministic
# ---------------------------------------------------------------------------


def normalize(nb):
    """Make an executed notebook reproducible byte for byte. Changes ``nb`` in place."""
    nb.metadata.pop("widgets", None)
    nb.nbformat, nb.nbformat_minor = 4, max(nb.get("nbformat_minor", 5), 5)
    used_ids = {cell.get("id") for cell in nb.cells}
    for index, cell in enumerate(nb.cells):
        if not cell.get("id"):
            cell_id = f"cell-{index}"
            while cell_id in used_ids:
                cell_id += "-x"
            cell["id"] = cell_id
            used_ids.add(cell_id)
        cell.metadata.pop("execution", None)
        if cell.cell_type != "code":
            continue
        for output in cell.outputs:
            data = output.get("data")
            if not data:
                continue
            if data.pop(WIDGET_MIME, None) is not None:
                output.metadata["widget"] = True
    return nb


IMAGE_MIMES = ("image/png", "image/gif")


def _png_outputs(nb):
    """{(cell id, output index, mime type): base64 image} of a notebook's PNG and GIF outputs."""
    return {
        (cell.get("id"), index, mime): output.data[mime]
        for cell in nb.cells
        if cell.cell_type == "code"
        for index, output in enumerate(cell.get("outputs", []))
        for mime in IMAGE_MIMES
        if mime in output.get("data", {})
    }


def keep_same_pictures(nb, old_pngs):
    """Put back each old PNG output whose new one is the same picture (``tools/pictures.py``).

    ``old_pngs`` is ``_png_outputs`` of the notebook before it ran. Changes ``nb`` in place;
    returns how many outputs kept their old bytes.
    """
    kept = 0
    for cell in nb.cells:
        for index, output in enumerate(cell.get("outputs", []) if cell.cell_type == "code" else []):
            for mime in IMAGE_MIMES:
                new = output.get("data", {}).get(mime)
                old = old_pngs.get((cell.get("id"), index, mime))
                if new is None or old is None or new == old:
                    continue
                if same_picture(base64.b64decode(old), base64.b64decode(new)):
                    output.data[mime] = old
                    kept += 1
    return kept


# ---------------------------------------------------------------------------
# Executing
# ---------------------------------------------------------------------------


def client(nb, path):
    """The ``NotebookClient`` that runs ``nb`` as a learner's fresh kernel would, in the folder
    of ``path`` (``make`` and ``make tinker``)."""
    os.environ.update(KERNEL_ENV)
    return NotebookClient(
        nb,
        kernel_name=KERNEL,
        timeout=CELL_TIMEOUT,
        startup_timeout=120,
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,
        # Widget state is dropped by normalize(); store_widget_state=False would be the obvious
        # setting, but nbclient 0.11 then fails on any interact()/Output widget (KeyError).
        store_widget_state=True,
        coalesce_streams=True,
        extra_arguments=KERNEL_ARGUMENTS,
    )


def execute(path):
    """Run the notebook at ``path`` in a fresh kernel and write it back in place.

    Keeps the old bytes of every image output whose new version is the same picture (module
    docstring); prints a line for each one kept.
    """
    nb = nbformat.read(path, as_version=4)
    old_pngs = _png_outputs(nb)
    client(nb, path).execute()
    normalize(nb)
    kept = keep_same_pictures(nb, old_pngs)
    if kept:
        print(f"          {_show(path)}: kept {kept} figure(s): the same picture as before")
    nbformat.write(nb, path)
    return nb


# ---------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------


class WidgetNotePreprocessor(Preprocessor):
    """On the page, replace a widget's text repr by a note on how to use it."""

    def preprocess_cell(self, cell, resources, index):
        for output in cell.get("outputs", []):
            if output.get("metadata", {}).get("widget"):
                output["data"] = {"text/markdown": WIDGET_NOTE}
        return cell, resources


class GifPreprocessor(Preprocessor):
    """On the page, an animated GIF output (chapter 5's ``gx.show_animation``) becomes a file
    beside the page, named by the output's ``filename`` metadata, and a markdown image of it
    (nbconvert's markdown template has no GIF block)."""

    def preprocess_cell(self, cell, resources, index):
        for number, output in enumerate(cell.get("outputs", [])):
            gif = output.get("data", {}).get("image/gif")
            if gif is None:
                continue
            name = output.get("metadata", {}).get("filename", f"cell{index}_{number}.gif")
            path = f"{resources['output_files_dir']}/{name}"
            resources.setdefault("outputs", {})[path] = base64.b64decode(gif)
            output["data"] = {"text/markdown": f"![animation]({path})"}
        return cell, resources


def page_for(path):
    """Where the page of a notebook goes: README.ipynb -> README.md, others -> docs/."""
    path = Path(path).resolve()
    folder = ROOT if path.parent == ROOT else DOCS
    return folder / f"{path.stem}.md"


def render(path, page=None):
    """Render the stored notebook at ``path`` to markdown (no execution).

    Writes ``page`` (default :func:`page_for`) and its figures into ``<page stem>_files/``
    beside it, replacing that folder, and returns the page's path.
    """
    path = Path(path)
    page = Path(page) if page is not None else page_for(path)
    nb = nbformat.read(path, as_version=4)
    config = Config()
    config.TagRemovePreprocessor.remove_cell_tags = {"remove-cell"}
    config.TagRemovePreprocessor.remove_input_tags = {"remove-input"}
    config.TagRemovePreprocessor.remove_all_outputs_tags = {"remove-output"}
    exporter = MarkdownExporter(config=config)
    exporter.register_preprocessor(WidgetNotePreprocessor(), enabled=True)
    exporter.register_preprocessor(GifPreprocessor(), enabled=True)
    files_dir = f"{page.stem}_files"
    resources = {
        "unique_key": page.stem,
        "output_files_dir": files_dir,
        "metadata": {"name": page.stem, "path": str(path.parent)},
    }
    body, resources = exporter.from_notebook_node(nb, resources=resources)
    page.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(page.parent / files_dir, ignore_errors=True)
    for name, content in sorted(resources.get("outputs", {}).items()):
        target = page.parent / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    page.write_text(body.rstrip("\n") + "\n", encoding="utf-8")
    return page


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def default_notebooks():
    paths = sorted(NOTEBOOKS.glob("*.ipynb"))
    if README.exists():
        paths.append(README)
    return paths


def _show(path):
    path = Path(path).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "notebooks", nargs="*", type=Path, help="notebooks to build (default: all, then README)"
    )
    parser.add_argument(
        "--render-only", action="store_true", help="render the stored notebooks, do not execute"
    )
    args = parser.parse_args(argv)
    paths = [p.resolve() for p in args.notebooks] or default_notebooks()
    missing = [p for p in paths if not p.is_file()]
    if missing:
        parser.error("no such notebook: " + ", ".join(map(str, missing)))
    if not paths:
        print("build_notebooks: no notebooks found, nothing to do")
        return 0

    failed = []
    start = time.perf_counter()
    for path in paths:
        tick = time.perf_counter()
        try:
            if not args.render_only:
                execute(path)
            page = render(path)
        except (CellControlSignal, DeadKernelError) as error:  # cell error or timeout, dead kernel
            print(f"FAILED  {_show(path)}\n{error}", file=sys.stderr)
            failed.append(path)
            continue
        seconds = time.perf_counter() - tick
        verb = "rendered" if args.render_only else "executed + rendered"
        print(f"{seconds:6.1f} s  {_show(path)} {verb} -> {_show(page)}", flush=True)
    print(f"{time.perf_counter() - start:6.1f} s  total for {len(paths)} notebook(s)")
    if failed:
        print("build failed for: " + ", ".join(_show(p) for p in failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

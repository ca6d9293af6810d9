"""Section `explorer`: one update of the fit explorer (chapter 5, and the app) when a slider
moves, in wall-clock and CPU seconds: the widget, which moves the artists of one figure, and
the same update with a new figure each time (how the explorer drew before, and how
``fit_figure`` draws), side by side."""

import contextlib
import gc
import io
import statistics
import time

from bench.common import Report, file_version, markdown_table, verdict
from gmm import explorer as gx

TARGET_S = 0.2  # one update of the explorer's default case

INTRO = (
    "One update of the fit explorer: the separation slider of `gx.fit_explorer()` "
    "moved between 5 and 4.75 (the other sliders at their defaults: K = 3, smoothing 0.01, "
    "N = 2000, seed 0, k-means++, full, tol 1e-6), which runs the widget's callback: "
    "regenerate the data, fit, move the artists of the widget's one figure "
    "(`gx.FitCanvas`), render the PNG the browser gets, set the caption. The row before "
    "it does the same update with a new figure each time (the explorer's way before it "
    "kept its figure). The parts: `gx.fit_model()` (data + fit) and `gx.png_bytes` "
    "(render with Agg). CPU seconds are the process's (`time.process_time`: every thread, "
    "BLAS threads spinning included; the app runs one BLAS thread per kernel). "
)


def _timed(call):
    t0, c0 = time.perf_counter(), time.process_time()
    call()
    return time.perf_counter() - t0, time.process_time() - c0


def new_figure_update(value):
    """The widget's update with a new figure: fit, a new FitCanvas, the PNG and caption."""
    settings = gx.FitSettings(separation=value)
    fig, caption = gx._fit_view(settings, title=False)
    gx._view_html(fig, caption)


def widget_updater():
    """(box, update): update(value) moves the separation slider (the widget's callback)."""
    with contextlib.redirect_stdout(io.StringIO()):
        box = gx.fit_explorer()
    slider = box.controls["separation"]

    def update(value):
        with contextlib.redirect_stdout(io.StringIO()):
            slider.value = value

    return box, update


def run(quick):
    rep = Report()
    rep.add("## Explorer responsiveness")
    rep.add()
    rep.add(f"_{file_version('gmm/explorer.py')}._")
    rep.add()
    box, update = widget_updater()
    fig = gx.fit_figure()
    for value in (4.75, 5.0):  # warm-up: font cache, first draw
        update(value)
        new_figure_update(value)
    n_runs = 5 if quick else 30
    names = ("fit", "render", "new", "widget")
    wall = {name: [] for name in names}
    cpu = {name: [] for name in names}
    for i in range(n_runs):
        value = 4.75 if i % 2 == 0 else 5.0
        gc.collect()
        for name, call in (
            ("fit", lambda v=value: gx.fit_model(separation=v)),
            ("render", lambda: gx.png_bytes(fig, dpi=150, fast=True)),
            ("new", lambda v=value: new_figure_update(v)),
            ("widget", lambda v=value: update(v)),
        ):
            w, c = _timed(call)
            wall[name].append(w)
            cpu[name].append(c)
    assert box.state["n_updates"] == n_runs + 3, "the slider did not trigger every update"

    def row(label, name):
        med = statistics.median
        return [
            label,
            f"{1e3 * med(wall[name]):.0f}",
            f"{1e3 * min(wall[name]):.0f}",
            f"{1e3 * med(cpu[name]):.0f}",
        ]

    rep.add(INTRO + f"{n_runs} runs of each, interleaved.")
    rep.add()
    rep.add(
        markdown_table(
            ["part", "median ms", "min ms", "median CPU ms"],
            [
                row("data + fit (`fit_model`)", "fit"),
                row("render the widget's PNG (`png_bytes`, 150 dpi)", "render"),
                row("update with a new figure each time (before)", "new"),
                row("**widget update** (slider moved; one figure, artists moved)", "widget"),
            ],
        )
    )
    med = statistics.median(wall["widget"])
    rep.target(
        f"explorer widget update < {TARGET_S:g} s",
        f"{med:.3f} s (min {min(wall['widget']):.3f}; CPU {statistics.median(cpu['widget']):.3f}"
        f" s, with a new figure each time {statistics.median(cpu['new']):.3f} s)",
        verdict(med, TARGET_S - 1e-12),
    )
    rep.add_targets()
    return rep

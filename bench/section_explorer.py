"""Section `explorer`: one update of the fit explorer (notebook 05) when a slider moves, and
its parts with a new figure each time, as the static cells draw it."""

import contextlib
import gc
import io
import statistics
import time

from common import Report, file_version, markdown_table, verdict

from gmm import explorer as gx

TARGET_S = 0.2  # one update of the explorer's default case

INTRO = (
    "One update of the fit explorer: the separation slider of `gx.fit_explorer()` "
    "moved between 5 and 4.75 (the other sliders at their defaults: K = 3, smoothing 0.01, "
    "N = 2000, seed 0, k-means++, full), which runs the widget's callback: regenerate the "
    "data, fit, draw into the previous figure, render the PNG the browser shows, print the "
    "caption. For comparison, the parts with a new figure each time, as the static cells "
    "draw it: `gx.fit_model()` (data + fit), `gx.fit_figure()` (data, "
    "fit and a new figure) and `gx.png_bytes(fig)` (render with Agg). "
)


def fresh_figure():
    """Seconds to regenerate the data, fit and build a new figure, and to render it."""
    t0 = time.perf_counter()
    fig = gx.fit_figure()  # default slider values
    t1 = time.perf_counter()
    gx.png_bytes(fig)  # as show() renders it in the static cells
    return t1 - t0, time.perf_counter() - t1


def data_and_fit():
    t0 = time.perf_counter()
    gx.fit_model()
    return time.perf_counter() - t0


def widget_updater():
    """(box, update): update(value) moves the separation slider and returns the seconds the
    widget's callback took. Outside a kernel its output goes to stdout: discarded."""
    with contextlib.redirect_stdout(io.StringIO()):
        box = gx.fit_explorer()
    slider = box.controls["separation"]

    def update(value):
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            slider.value = value
        return time.perf_counter() - t0

    return box, update


def run(quick):
    rep = Report()
    rep.add("## Explorer responsiveness")
    rep.add()
    rep.add(f"_{file_version('gmm/explorer.py')}._")
    rep.add()
    box, update = widget_updater()
    for value in (4.75, 5.0):  # warm-up: font cache, first draw
        fresh_figure()
        data_and_fit()
        update(value)
    n_runs = 5 if quick else 30
    times = {"figure": [], "render": [], "fit": [], "widget": []}
    for i in range(n_runs):
        gc.collect()
        figure, render = fresh_figure()
        times["figure"].append(figure)
        times["render"].append(render)
        times["fit"].append(data_and_fit())
        times["widget"].append(update(4.75 if i % 2 == 0 else 5.0))
    assert box.state["n_updates"] == n_runs + 3, "the slider did not trigger every update"
    total = [a + b for a, b in zip(times["figure"], times["render"], strict=True)]
    widget = times["widget"]

    def row(label, seconds):
        return [label] + [f"{1e3 * f(seconds):.0f}" for f in (statistics.median, min, max)]

    rep.add(INTRO + f"{n_runs} runs of each, interleaved.")
    rep.add()
    rep.add(
        markdown_table(
            ["part", "median ms", "min ms", "max ms"],
            [
                row("data + fit (`fit_model`)", times["fit"]),
                row("data + fit + a new figure (`fit_figure`)", times["figure"]),
                row("render to PNG (`png_bytes`)", times["render"]),
                row("new figure, rendered (the two rows above)", total),
                row("**widget update** (slider moved)", widget),
            ],
        )
    )
    med = statistics.median(widget)
    rep.target(
        f"explorer widget update < {TARGET_S:g} s",
        f"{med:.3f} s (min {min(widget):.3f}; a new figure each time: "
        f"{statistics.median(total):.3f} s)",
        verdict(med, TARGET_S - 1e-12),
    )
    rep.add_targets()
    return rep

"""Interactive explorer for Gaussian mixtures and EM (notebook 05).

Three widgets and the drawing functions behind them. Every drawing function
returns a matplotlib ``Figure`` built without pyplot (nothing to close, nothing
shown twice), and never raises on a bad slider combination: the helpers'
``ValueError`` message is drawn instead.

- ``fit_figure`` / ``fit_explorer``: regenerate the original data, refit, redraw.
- ``em_run``, ``scrubber_figure`` / ``em_scrubber``: one fit, stepped through
  half-step by half-step (E-step, M-step, E-step, ...).
- ``collapse_figure`` / ``collapse_explorer``: a component sitting on one data
  point, and how the smoothing floor stops its log-likelihood running away.
- ``save_em_animation``: the GIF of EM converging (docs/figures/em_converging.gif).
"""

import base64
import html
import io
import os
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

import gmm_helpers as gh

# The smoothing slider: log scale down to 0, with readable labels.
SMOOTHING_OPTIONS = [("0", 0.0)] + [(f"1e-{p}", 10.0**-p) for p in range(6, 0, -1)] + [("1", 1.0)]
# The collapse demo reaches further down, to show the log-likelihood keeps climbing.
COLLAPSE_SMOOTHINGS = [("0", 0.0)] + [(f"1e-{p}", 10.0**-p) for p in range(12, 0, -1)]
SAMPLE_SIZES = (5, 20, 50, 100, 200, 500, 1000, 2000, 5000)

_FIGSIZE = (10, 4.2)
_SLIDER_STYLE = {"description_width": "110px"}


# ---------------------------------------------------------------------------
# Small pieces shared by the three explorers
# ---------------------------------------------------------------------------


def _wrap(text, width=100):
    return textwrap.fill(str(text), width, break_on_hyphens=False)


def format_smoothing(smoothing):
    """'0', '1e-06', '0.01', ...: short and exact enough for a caption."""
    return "0" if smoothing == 0 else f"{smoothing:g}"


def message_figure(message, title="No picture for these settings", figsize=(10, 1.8)):
    """A figure holding only a short message (the helpers' ValueError text)."""
    fig = Figure(figsize=figsize)
    fig.text(0.02, 0.88, _wrap(title, 105), fontsize=12, weight="bold", va="top")
    fig.text(0.02, 0.55, _wrap(message, 110), fontsize=11, va="top", color="firebrick")
    return fig


def figure_messages(fig):
    """All text drawn on ``fig`` outside its axes, e.g. the message of ``message_figure``."""
    return [t.get_text() for t in fig.texts]


def png_bytes(fig, dpi=None):
    """The figure as PNG bytes (what the widgets send to the browser)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def show(fig):
    """Display a figure as a PNG image in the notebook (works without pyplot)."""
    from IPython.display import Image, display

    display(Image(data=png_bytes(fig), format="png"))


def _view_html(fig, caption=None):
    """HTML of the caption (preformatted) above the figure (an inline PNG)."""
    png = base64.b64encode(png_bytes(fig)).decode("ascii")
    text = "" if caption is None else f"<pre>{html.escape(caption)}</pre>"
    return f'{text}<img src="data:image/png;base64,{png}" alt="the figure for these settings">'


def _draw_model(ax, X, resp, weights, means, covariances, colors):
    gh.plot_responsibilities(X, resp, ax=ax, colors=colors)
    gh.plot_ellipses(means, covariances, ax=ax, n_std=(1, 2), colors=colors, weights=weights)
    ax.set_xlabel("x₁")
    ax.set_ylabel("x₂")


def _two_panels(fig, top=0.84):
    """A square-ish data panel on the left and a wider panel on the right."""
    bottom, height = 0.12, top - 0.12
    width = height * fig.get_figheight() / fig.get_figwidth() * 1.1
    left = fig.add_axes((0.06, bottom, width, height))
    right_start = 0.06 + width + 0.09
    return left, fig.add_axes((right_start, bottom, 0.98 - right_start, height))


def _empty_panels(fig):
    """Remove what was drawn on the figure's axes but keep the axes themselves."""
    for ax in fig.axes:
        for artist in [*ax.collections, *ax.patches, *ax.lines, *ax.texts]:
            artist.remove()
        ax.relim()
        ax.set_prop_cycle(None)  # the next line gets the first colour again
    return fig.axes


def _data_limits(ax, X, pad=0.08):
    ax.set_aspect("equal", adjustable="box", anchor="W")
    lo, hi = X.min(axis=0), X.max(axis=0)
    span = np.maximum(hi - lo, 1.0)
    ax.set_xlim(lo[0] - pad * span[0], hi[0] + pad * span[0])
    ax.set_ylim(lo[1] - pad * span[1], hi[1] + pad * span[1])


# ---------------------------------------------------------------------------
# 1. Fit explorer
# ---------------------------------------------------------------------------


def fit_model(
    separation=5.0,
    n_components=3,
    smoothing=1e-2,
    n_samples=2000,
    seed=0,
    init="kmeans++",
    covariance_type="full",
):
    """Regenerate the original data and fit it; returns (X, fit, None) or (X, None, message)."""
    X = None
    try:
        X, _ = gh.sample_seed_data(separation, n_samples, rng=seed)
        fit = gh.fit_gmm(
            X,
            n_components,
            covariance_type=covariance_type,
            init=init,
            smoothing=smoothing,
            rng=seed,
        )
    except ValueError as err:
        return X, None, str(err)
    return X, fit, None


def fit_summary(X, fit):
    """The one-line verdict: final log-likelihood, iterations, BIC, converged."""
    return (
        f"final log-likelihood {fit.log_likelihood / len(X):.3f} per point "
        f"({fit.log_likelihood:.1f} in total), {fit.n_iter} iterations, "
        f"BIC {gh.bic(X, fit):.1f}, " + ("converged" if fit.converged else "NOT converged")
    )


def fit_view(
    separation=5.0,
    n_components=3,
    smoothing=1e-2,
    n_samples=2000,
    seed=0,
    init="kmeans++",
    covariance_type="full",
    title=True,
    fig=None,
):
    """Fit the original data with these settings; returns (figure, caption).

    The caption is two lines: the settings, then the verdict of ``fit_summary``
    (or why there is no fit). ``title=False`` leaves it off the figure, for the
    widget, which prints it above the picture as text. ``fig``: an earlier
    untitled figure of ``fit_view`` to draw into again (the widget does this:
    new axes and their ticks are about a third of the time of a redraw).
    """
    settings = (
        f"s = {separation:g}, K = {n_components}, smoothing = {format_smoothing(smoothing)}, "
        f"N = {n_samples}, seed = {seed}, init = {init}, covariance = {covariance_type}"
    )
    X, fit, message = fit_model(
        separation, n_components, smoothing, n_samples, seed, init, covariance_type
    )
    if message is not None:
        heading = f"Cannot fit with {settings}" if title else "No fit for these settings"
        return message_figure(message, title=heading), f"{settings}\nno fit: {message}"
    caption = settings + "\n" + fit_summary(X, fit)
    if fig is not None and not title and len(fig.axes) == 2 and not fig.texts:
        ax_data, ax_ll = _empty_panels(fig)
    else:
        fig = Figure(figsize=_FIGSIZE if title else (_FIGSIZE[0], _FIGSIZE[1] - 0.5))
        ax_data, ax_ll = _two_panels(fig, top=0.84 if title else 0.91)
    colors = gh.component_colors(fit.n_components)
    _draw_model(ax_data, X, fit.resp, fit.weights, fit.means, fit.covariances, colors)
    _data_limits(ax_data, X)
    ax_data.set_title("points coloured by responsibilities", fontsize=10, y=1.01)
    gh.plot_log_likelihood(fit.log_likelihoods, ax=ax_ll, per_sample=len(X))
    ax_ll.set_title("log-likelihood during EM", fontsize=10, y=1.01)
    if title:
        fig.suptitle(caption, fontsize=10.5)
    return fig, caption


def fit_figure(
    separation=5.0,
    n_components=3,
    smoothing=1e-2,
    n_samples=2000,
    seed=0,
    init="kmeans++",
    covariance_type="full",
):
    """Fit the original data with these settings and draw the result (notebook 05).

    Left: the points coloured by their responsibilities, the 1 and 2 sigma
    ellipses and the means. Right: the mean log-likelihood per point at each
    iteration. The title says the settings and the outcome (final log-likelihood,
    iterations, BIC, converged). On a combination the helpers reject (K > N, a
    collapse at smoothing 0, ...) the figure holds their message instead.

    Returns
    -------
    matplotlib.figure.Figure
    """
    return fit_view(separation, n_components, smoothing, n_samples, seed, init, covariance_type)[0]


def _slider_kwargs(description):
    return {
        "description": description,
        "continuous_update": False,
        "style": _SLIDER_STYLE,
    }


def fit_explorer():
    """Sliders and dropdowns for ``fit_figure``; returns the widget (a VBox).

    The box carries ``.controls`` (name -> widget), ``.output`` (the Output
    widget) and ``.state`` (``n_updates`` and the last ``figure``), which the
    tests use.
    """
    import ipywidgets as w

    controls = {
        "separation": w.FloatSlider(
            value=5.0, min=0.0, max=8.0, step=0.25, **_slider_kwargs("separation s")
        ),
        "n_components": w.IntSlider(value=3, min=1, max=8, **_slider_kwargs("components K")),
        "smoothing": w.SelectionSlider(
            options=SMOOTHING_OPTIONS, value=1e-2, **_slider_kwargs("smoothing")
        ),
        "n_samples": w.SelectionSlider(
            options=SAMPLE_SIZES, value=2000, **_slider_kwargs("points N")
        ),
        "seed": w.IntSlider(value=0, min=0, max=20, **_slider_kwargs("seed")),
        "init": w.Dropdown(
            options=gh.INITS, value="kmeans++", description="init", style=_SLIDER_STYLE
        ),
        "covariance_type": w.Dropdown(
            options=gh.COVARIANCE_TYPES,
            value="full",
            description="covariance",
            style=_SLIDER_STYLE,
        ),
    }
    drawn = {"figure": None}  # the last picture with axes, to draw the next one into

    def view(**values):
        fig, caption = fit_view(**values, title=False, fig=drawn["figure"])
        if fig.axes:
            drawn["figure"] = fig
        return fig, caption

    return _explorer(
        view,
        controls,
        columns=(4, 3),
        css_class="gmm-fit-explorer",
    )


def _explorer(view, controls, columns, css_class):
    """Wire ``view(**values)`` to the controls with interactive_output; lay them out.

    ``view`` returns a figure, or (figure, caption): the caption is shown above it.
    """
    import ipywidgets as w

    state = {"n_updates": 0, "figure": None, "caption": None}
    # Caption and picture are one widget value, replaced whole on each update. Printed into
    # the Output widget instead, quick slider moves in Voila now and then left two captions
    # and no picture (clear_output(wait=True) racing the next update's messages).
    shown = w.HTML()

    def update(**values):
        try:
            result = view(**values)
        except Exception as err:  # noqa: BLE001 - a widget shows a message, never a traceback
            result = message_figure(f"{type(err).__name__}: {err}", title="Something went wrong")
        fig, caption = result if isinstance(result, tuple) else (result, None)
        state["n_updates"] += 1
        state["figure"], state["caption"] = fig, caption
        shown.value = _view_html(fig, caption)

    output = w.interactive_output(update, controls)  # stays empty unless something escapes
    widgets = list(controls.values())
    split = np.cumsum((0,) + tuple(columns))
    box = w.VBox(
        [
            w.HBox([w.VBox(widgets[a:b]) for a, b in zip(split[:-1], split[1:], strict=True)]),
            shown,
            output,
        ]
    )
    box.add_class(css_class)
    box.controls, box.output, box.state = controls, output, state
    return box


# ---------------------------------------------------------------------------
# 2. EM scrubber: one fit, half-step by half-step
# ---------------------------------------------------------------------------


@dataclass
class EMRun:
    """One fit with its full history, ready to be stepped through.

    ``resps[i]`` are the responsibilities under ``fit.history[i]``, i.e. what
    the E-step of iteration i + 1 computes; there are 2 * n_iter half-steps.
    """

    X: np.ndarray
    fit: gh.GMMFit
    resps: list

    @property
    def n_half_steps(self):
        return 2 * self.fit.n_iter


def em_run(separation=5.0, n_samples=2000, seed=0, n_components=3, init="random", rng=0):
    """Fit the original data keeping the history (``keep_history=True``).

    The defaults start from three random data points (the original notebook's
    start), two of them in the same cluster and none in the small one, so EM
    has to move a component across the picture: 22 iterations.
    """
    X, _ = gh.sample_seed_data(separation, n_samples, rng=seed)
    fit = gh.fit_gmm(X, n_components, init=init, rng=rng, keep_history=True)
    resps = [gh.e_step(X, *params)[0] for params in fit.history[:-1]]
    return EMRun(X, fit, resps)


def half_step(step):
    """(iteration, 'E' or 'M') of half-step ``step`` (0-based): 0 -> (1, 'E'), 1 -> (1, 'M')."""
    return step // 2 + 1, "EM"[step % 2]


def half_step_caption(run, step):
    """The caption naming half-step ``step`` of ``run``."""
    if not 0 <= step < run.n_half_steps:
        return f"no half-step {step}: this fit has half-steps 0 to {run.n_half_steps - 1}"
    iteration, kind = half_step(step)
    ll = run.fit.log_likelihoods[iteration - 1] / len(run.X)
    if kind == "E":
        return (
            f"iteration {iteration}, E-step: recolour the points by the responsibilities of "
            f"the current parameters (log-likelihood {ll:.3f} per point)"
        )
    return (
        f"iteration {iteration}, M-step: move each ellipse to the weighted mean and "
        "covariance of the points it is responsible for"
    )


def scrubber_figure(run=None, step=0, title=True):
    """Draw half-step ``step`` of an ``EMRun`` (default: ``em_run()``).

    E-step: the points take the colours of the current parameters' responsibilities.
    M-step: the same colours, the ellipses move from where they were (dashed) to
    the new parameters (solid). Right: the log-likelihood with a marker at the
    current iteration. The title is ``half_step_caption`` (``title=False``: none).
    """
    run = em_run() if run is None else run
    if not 0 <= step < run.n_half_steps:
        return message_figure(half_step_caption(run, step))
    iteration, kind = half_step(step)
    before = run.fit.history[iteration - 1]
    after = run.fit.history[iteration]
    colors = gh.component_colors(run.fit.n_components)
    fig = Figure(figsize=_FIGSIZE if title else (_FIGSIZE[0], _FIGSIZE[1] - 0.5))
    ax_data, ax_ll = _two_panels(fig, top=0.84 if title else 0.91)
    resp = run.resps[iteration - 1]
    if kind == "E":
        _draw_model(ax_data, run.X, resp, *before, colors)
    else:
        gh.plot_ellipses(before[1], before[2], ax=ax_data, n_std=(1, 2), colors=colors, ls="--")
        _draw_model(ax_data, run.X, resp, *after, colors)
        for old, new in zip(before[1], after[1], strict=True):
            ax_data.annotate(
                "", xy=new, xytext=old, arrowprops={"arrowstyle": "->", "lw": 1.5, "color": "k"}
            )
    _data_limits(ax_data, run.X)
    ax_data.set_title(
        f"half-step {step} (of 0-{run.n_half_steps - 1}): {kind}-step", fontsize=10, y=1.01
    )
    gh.plot_log_likelihood(
        run.fit.log_likelihoods, ax=ax_ll, per_sample=len(run.X), marker=iteration
    )
    ax_ll.set_title("log-likelihood, computed in each E-step", fontsize=10, y=1.01)
    if title:
        fig.suptitle(_wrap(half_step_caption(run, step), 100), fontsize=10.5)
    return fig


def em_scrubber(run=None):
    """A slider (with a play button) over the half-steps of ``run``; returns a VBox."""
    import ipywidgets as w

    run = em_run() if run is None else run
    slider = w.IntSlider(value=0, min=0, max=run.n_half_steps - 1, **_slider_kwargs("half-step"))
    play = w.Play(value=0, min=0, max=run.n_half_steps - 1, interval=900, description="play")
    w.jslink((play, "value"), (slider, "value"))
    box = _explorer(
        lambda step: (scrubber_figure(run, step, title=False), half_step_caption(run, step)),
        {"step": slider},
        columns=(1,),
        css_class="gmm-em-scrubber",
    )
    box.children = (w.HBox([play, slider]), box.children[1])
    box.run = run
    return box


# ---------------------------------------------------------------------------
# 3. Collapse: a component on a single point
# ---------------------------------------------------------------------------


def collapse_start(X, point=0, spike_variance=1e-12, separation=5.0):
    """The true three components plus a fourth sitting on ``X[point]`` with a tiny covariance."""
    N = len(X)
    weights, means, covariances = gh.seed_parameters(separation)
    return (
        np.append(weights * (1 - 1 / N), 1 / N),
        np.vstack([means, X[point]]),
        np.concatenate([covariances, [spike_variance * np.eye(2)]]),
    )


def collapse_fit(smoothing, n_steps=5, separation=5.0, n_samples=2000, seed=0, point=0):
    """``n_steps`` EM steps from ``collapse_start``.

    Returns (fit, None), or (None, message) with the helpers' ValueError message.
    """
    X, _ = gh.sample_seed_data(separation, n_samples, rng=seed)
    try:
        fit = gh.fit_gmm(
            X,
            4,
            init=collapse_start(X, point, separation=separation),
            smoothing=smoothing,
            max_iter=n_steps,
            tol=0,
        )
    except ValueError as err:
        return None, str(err)
    return fit, None


def collapse_gain(smoothing, n_steps=5, point=0):
    """The log-likelihood of ``collapse_fit`` minus that of an honest three-component fit.

    The honest fit is EM from the true parameters with the same smoothing; raises the
    helpers' ValueError at smoothing 0.
    """
    fit, message = collapse_fit(smoothing, n_steps, point=point)
    if message is not None:
        raise ValueError(message)
    X, _ = gh.sample_seed_data()
    honest = gh.fit_gmm(X, 3, init=gh.seed_parameters(), smoothing=smoothing)
    return fit.log_likelihood - honest.log_likelihood


_COLLAPSE_CACHE = {}


def collapse_curves(n_steps=5, separation=5.0, n_samples=2000, seed=0, point=0):
    """For every smoothing > 0 of ``COLLAPSE_SMOOTHINGS``: the log-likelihood after
    ``n_steps`` EM steps from ``collapse_start``, the variance of the component on
    the point, and the log-likelihood of an honest three-component fit (EM from
    the true parameters) with the same smoothing. Where the helpers stop EM with a
    ValueError (a collapse), ``collapsed`` is True and the other entries are NaN.

    Returns
    -------
    dict of arrays: smoothing, log_likelihood, spike_variance, honest, gain, collapsed
    """
    key = (n_steps, separation, n_samples, seed, point)
    if key not in _COLLAPSE_CACHE:
        X, _ = gh.sample_seed_data(separation, n_samples, rng=seed)
        truth = gh.seed_parameters(separation)
        rows = []
        for _, s in COLLAPSE_SMOOTHINGS[1:]:
            fit, _ = collapse_fit(s, n_steps, separation, n_samples, seed, point)
            try:
                honest = gh.fit_gmm(X, 3, init=truth, smoothing=s).log_likelihood
            except ValueError:
                honest = np.nan
            if fit is None:
                rows.append((s, np.nan, np.nan, honest))
            else:
                rows.append((s, fit.log_likelihood, fit.covariances[3, 0, 0], honest))
        curves = dict(
            zip(
                ("smoothing", "log_likelihood", "spike_variance", "honest"),
                np.array(rows).T,
                strict=True,
            )
        )
        curves["gain"] = curves["log_likelihood"] - curves["honest"]
        curves["collapsed"] = np.isnan(curves["log_likelihood"])
        _COLLAPSE_CACHE[key] = curves
    return _COLLAPSE_CACHE[key]


def _nearest_row(curves, smoothing):
    """The row of ``collapse_curves`` whose smoothing is nearest on a log scale."""
    return int(np.argmin(np.abs(np.log(curves["smoothing"]) - np.log(smoothing))))


def collapse_caption(smoothing, n_steps=5, point=0):
    """What the collapse demo shows at this smoothing (the helpers' message on a collapse)."""
    fit, message = collapse_fit(smoothing, n_steps, point=point)
    if message is not None:
        return f"smoothing = {format_smoothing(smoothing)}: EM stops with the message: {message}"
    curves = collapse_curves(n_steps, point=point)
    i = _nearest_row(curves, smoothing)
    return (
        f"smoothing = {format_smoothing(smoothing)}: after {n_steps} EM steps the component on "
        f"point {point} has variance {fit.covariances[3, 0, 0]:.3g}, and the log-likelihood "
        f"is {fit.log_likelihood - curves['honest'][i]:+.1f} above the honest fit's"
    )


def collapse_figure(smoothing=1e-6, n_steps=5, point=0):
    """The collapse demo at one smoothing value (notebook 05).

    Start from the true three components plus a fourth on data point ``point``
    with a tiny covariance, and run ``n_steps`` EM steps. Left: how much higher
    the log-likelihood is than an honest three-component fit's, against
    smoothing on a log axis: it grows without bound as smoothing goes to 0.
    Right: the variance of the fourth component, which sits on the floor
    ``smoothing``. Crosses mark the smoothings at which the helpers stop EM with
    a ValueError (a collapse). The current value is marked; on a collapse the
    title holds the helpers' message.
    """
    curves = collapse_curves(n_steps, point=point)
    fig = Figure(figsize=_FIGSIZE)
    top = 0.8
    ax_ll = fig.add_axes((0.07, 0.12, 0.41, top - 0.12))
    ax_var = fig.add_axes((0.57, 0.12, 0.41, top - 0.12))
    s, ok = curves["smoothing"], ~curves["collapsed"]
    ax_ll.semilogx(s[ok], curves["gain"][ok], "-o", ms=4, label="with a component on one point")
    ax_ll.axhline(0, ls="--", color="gray", label="honest 3-component fit")
    ax_var.loglog(s[ok], curves["spike_variance"][ok], "-o", ms=4, label="its variance")
    ax_var.loglog(s, s, ":", color="k", label="the floor: variance = smoothing")
    for ax, y in ((ax_ll, 0.94), (ax_var, 0.06)):
        if not ok.all():  # at the axis edge: there is no value to plot
            ax.plot(
                s[~ok],
                np.full((~ok).sum(), y),
                "x",
                ms=8,
                mew=2,
                color="firebrick",
                transform=ax.get_xaxis_transform(),
                label="EM stops: collapse",
            )
    ax_ll.set_xlabel("smoothing")
    ax_ll.set_ylabel("log-likelihood gain")
    ax_ll.set_title(
        f"log-likelihood after {n_steps} EM steps, minus the honest fit's", fontsize=10, y=1.01
    )
    ax_var.set_xlabel("smoothing")
    ax_var.set_ylabel("variance")
    ax_var.set_title("the component shrinks onto its point", fontsize=10, y=1.01)
    fit, message = collapse_fit(smoothing, n_steps, point=point)
    if message is None:
        i = _nearest_row(curves, smoothing)
        ax_ll.plot(s[i], curves["gain"][i], "o", ms=11, color="crimson", label="current")
        ax_var.plot(s[i], curves["spike_variance"][i], "o", ms=11, color="crimson")
    elif smoothing > 0:
        ax_ll.plot(
            smoothing,
            0.94,
            "o",
            ms=13,
            mfc="none",
            mew=2,
            color="crimson",
            transform=ax_ll.get_xaxis_transform(),
            label="current",
        )
    else:
        ax_ll.text(
            0.35,
            0.8,
            "smoothing = 0 lies off this log axis:\n"
            "no floor at all, and EM stops\n(the message is above)",
            transform=ax_ll.transAxes,
            color="firebrick",
            va="top",
        )
    ax_ll.legend(fontsize=8, loc="lower left")
    ax_var.legend(fontsize=8, loc="upper left")
    fig.suptitle(
        _wrap(collapse_caption(smoothing, n_steps, point), 110),
        fontsize=10.5,
        color="firebrick" if message else "k",
    )
    return fig


def collapse_explorer(smoothing=1e-6):
    """A smoothing slider (0 and 1e-12 ... 0.1) for ``collapse_figure``; returns a VBox."""
    import ipywidgets as w

    slider = w.SelectionSlider(
        options=COLLAPSE_SMOOTHINGS, value=smoothing, **_slider_kwargs("smoothing")
    )
    return _explorer(
        lambda smoothing: collapse_figure(smoothing),
        {"smoothing": slider},
        columns=(1,),
        css_class="gmm-collapse-explorer",
    )


# ---------------------------------------------------------------------------
# 4. The animation
# ---------------------------------------------------------------------------


class _AnimationFrames:
    """Draws the frames of ``save_em_animation`` on one figure, changing only what moves.

    Frame i (0 = start) shows the parameters after iteration i, the points coloured by
    their responsibilities, and the log-likelihood curve up to i. The axes, the points
    and the labels are built once; each frame recolours the points, redraws the
    ellipses and extends the curve, which is what makes the GIF cheap to write.
    """

    def __init__(self, run, fig):
        self.run, self.fig = run, fig
        n_iter, N = run.fit.n_iter, len(run.X)
        self.colors = gh.component_colors(run.fit.n_components)
        self.resps = list(run.resps) + [run.fit.resp]
        final = gh.score(run.X, run.fit)
        self.per_point = np.append(run.fit.log_likelihoods / N, final)
        self.ax_data, self.ax_ll = _two_panels(fig, top=0.86)
        gh.plot_responsibilities(run.X, self.resps[0], ax=self.ax_data, colors=self.colors)
        self.points = self.ax_data.collections[0]
        self.ax_data.set_xlabel("x\u2081")
        self.ax_data.set_ylabel("x\u2082")
        _data_limits(self.ax_data, run.X)
        (self.curve,) = self.ax_ll.plot([], [], "-o", ms=3)
        (self.marker,) = self.ax_ll.plot([], [], "o", ms=10, color="crimson")
        low, high = self.per_point.min(), self.per_point.max()
        margin = 0.05 * (high - low)
        self.ax_ll.set_xlim(-0.5, n_iter + 0.5)
        self.ax_ll.set_ylim(low - margin, high + margin)
        self.ax_ll.set_xlabel("iteration")
        self.ax_ll.set_ylabel("mean log-likelihood per point")
        self.title = fig.suptitle("", fontsize=11)
        self.moving = []

    def __call__(self, iteration):
        for artist in self.moving:
            artist.remove()
        ax = self.ax_data
        before = len(ax.patches), len(ax.lines)
        self.points.set_facecolors(np.clip(self.resps[iteration] @ self.colors, 0, 1))
        weights, means, covariances = self.run.fit.history[iteration]
        gh.plot_ellipses(
            means, covariances, ax=ax, n_std=(1, 2), colors=self.colors, weights=weights
        )
        self.moving = ax.patches[before[0] :] + ax.lines[before[1] :]
        steps = np.arange(iteration + 1)
        self.curve.set_data(steps, self.per_point[: iteration + 1])
        self.marker.set_data([iteration], [self.per_point[iteration]])
        what = "start (random data points)" if iteration == 0 else f"after EM iteration {iteration}"
        self.title.set_text(f"{what}: log-likelihood {self.per_point[iteration]:.3f} per point")
        return []


def save_em_animation(path, run=None, fps=3, hold=4, dpi=80):
    """Write a GIF of EM converging on the original data (``em_run()`` by default).

    One frame per iteration, from the random start to convergence, then the last
    frame ``hold`` more times so the loop pauses on the answer. Uses
    ``FuncAnimation`` with ``PillowWriter``; the file is byte-identical from run to
    run, and replaced atomically (a reader never sees half a file).

    Returns
    -------
    n_frames : int
    """
    from matplotlib.animation import FuncAnimation, PillowWriter

    run = em_run() if run is None else run
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n_iter = run.fit.n_iter
    frames = list(range(n_iter + 1)) + [n_iter] * hold
    fig = Figure(figsize=(8, 3.6), dpi=dpi)
    draw = _AnimationFrames(run, fig)
    anim = FuncAnimation(fig, draw, frames=frames, init_func=lambda: [], blit=False, repeat=False)
    partial = path.with_name(f".{path.stem}-{os.getpid()}{path.suffix}")
    try:
        anim.save(partial, writer=PillowWriter(fps=fps), dpi=dpi)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return len(frames)


def in_voila():
    """True in a kernel started by Voila (``make app``), which sets ``VOILA_*`` variables."""
    return "VOILA_BASE_URL" in os.environ or "VOILA_KERNEL_ID" in os.environ


def show_animation(path, alt="EM converging on the original data"):
    """Show the GIF at ``path`` (relative to the notebook) in the notebook's output.

    In Jupyter, and on the rendered page, as a markdown image that links to the
    file. Under Voila as the image data itself: Voila serves the notebook alone,
    so a relative link to a file outside the notebook's folder cannot load there.
    """
    from IPython.display import Image, Markdown, display

    if in_voila():
        display(Image(filename=str(path)))
    else:
        display(Markdown(f"![{alt}]({Path(path).as_posix()})"))


# ---------------------------------------------------------------------------
# Exercise helper
# ---------------------------------------------------------------------------


def worst_mean_error(separation, n_init=10, n_samples=2000, seed=0):
    """Largest distance between a true centre and its fitted mean (K = 3, best of ``n_init``)."""
    X, _ = gh.sample_seed_data(separation, n_samples, rng=seed)
    fit = gh.fit_restarts(X, 3, n_init=n_init, rng=seed)[0]
    true_means = gh.seed_parameters(separation)[1]
    order = gh.align_components(true_means, fit.means)
    return float(np.linalg.norm(fit.means[order] - true_means, axis=1).max())


def smallest_recovering_separation(tol=0.5, step=0.25, max_separation=8.0, **kwargs):
    """The smallest separation on the slider's grid where ``worst_mean_error`` < ``tol``."""
    for separation in np.arange(0.0, max_separation + step / 2, step):
        if worst_mean_error(separation, **kwargs) < tol:
            return float(separation)
    return None

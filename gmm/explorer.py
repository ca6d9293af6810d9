"""Interactive explorer for Gaussian mixtures and EM (notebook 05).

Three widgets and the drawing functions behind them. Every drawing function
returns a matplotlib ``Figure`` built without pyplot (nothing to close, nothing
shown twice), and never raises on a bad slider combination: the helpers'
``ValueError`` message is drawn instead.

- ``FitSettings``, ``fit_figure`` / ``fit_explorer``: regenerate the original
  data, refit, redraw.
- ``em_run``, ``scrubber_figure`` / ``em_scrubber``: one fit, stepped through
  half-step by half-step (E-step, M-step, E-step, ...).
- ``collapse_figure`` / ``collapse_explorer``: a component sitting on one data
  point, and how the smoothing floor stops its log-likelihood running away.
- ``animation_gif`` / ``show_animation``: the GIF of EM converging, embedded in the output.

Iterations are numbered as in ``gp.plot_log_likelihood``: iteration t's E-step
computes the log-likelihood of the parameters iteration t starts with, so the
starting parameters' log-likelihood is that of iteration 1.
"""

import base64
import dataclasses
import functools
import html
import io
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

import gmm_helpers as gh
from gmm import plots as gp

# The smoothing slider: log scale down to 0, with readable labels.
SMOOTHING_OPTIONS = [("0", 0.0)] + [(f"1e-{p}", 10.0**-p) for p in range(6, 0, -1)] + [("1", 1.0)]
# The collapse demo reaches further down, to show the log-likelihood keeps climbing.
COLLAPSE_SMOOTHINGS = [("0", 0.0)] + [(f"1e-{p}", 10.0**-p) for p in range(12, 0, -1)]
SAMPLE_SIZES = (5, 20, 50, 100, 200, 500, 1000, 2000, 5000)
# The explorer's stopping rule (per point, as gh.fit_gmm's tol): the helpers' default 1e-3
# stops some starts on a plateau (chapter 5); at 1e-6 the pictures show maxima.
TOL_OPTIONS = [(f"1e-{p}", 10.0**-p) for p in (2, 3, 4, 6, 8)]
FIT_MAX_ITER = 1000

_FIGSIZE = (10, 4.2)
_WIDGET_DPI = 150  # the widgets' PNGs: 1.5 screen pixels per CSS pixel at full width
_SLIDER_STYLE = {"description_width": "110px"}


# ---------------------------------------------------------------------------
# Small pieces shared by the three explorers
# ---------------------------------------------------------------------------


def _wrap(text, width=100):
    return textwrap.fill(str(text), width, break_on_hyphens=False)


def _format_smoothing(smoothing):
    """'0', '1e-06', '0.01', ...: short and exact enough for a caption."""
    return "0" if smoothing == 0 else f"{smoothing:g}"


def _message_figure(message, title="No picture for these settings", figsize=(10, 1.8)):
    """A figure holding only a short message (the helpers' ValueError text)."""
    fig = Figure(figsize=figsize)
    fig.text(0.02, 0.88, _wrap(title, 105), fontsize=12, weight="bold", va="top")
    fig.text(0.02, 0.55, _wrap(message, 110), fontsize=11, va="top", color="firebrick")
    return fig


def png_bytes(fig, dpi=None, fast=False):
    """The figure as PNG bytes: what ``show`` displays, and with ``fast`` (larger, quicker to
    encode) what the widgets send to the browser on every slider move."""
    buf = io.BytesIO()
    kwargs = {"pil_kwargs": {"compress_level": 1}} if fast else {}
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None}, **kwargs)  # byte-stable
    return buf.getvalue()


def show(fig):
    """Display a figure as a PNG image in the notebook (works without pyplot)."""
    from IPython.display import Image, display

    display(Image(data=png_bytes(fig), format="png"))


def _view_html(fig, caption=None):
    """HTML of the caption above the figure (``fig=None``: the caption alone), both as wide
    as the page allows.

    The PNG has more pixels than its full CSS width (sharp on high-density
    screens) and shrinks with the page (no horizontal scrolling in a narrow
    window); the caption wraps.
    """
    wrap = "white-space: pre-wrap; word-break: normal; overflow-wrap: break-word"
    text = (
        ""
        if caption is None
        else f'<pre style="{wrap}; margin: 0 0 4px 0">{html.escape(caption)}</pre>'
    )
    if fig is None:  # no picture (no fit): the caption says why, once
        return text
    png = base64.b64encode(png_bytes(fig, dpi=_WIDGET_DPI, fast=True)).decode("ascii")
    css_width = round(fig.get_figwidth() * 100)
    return (
        f'{text}<img src="data:image/png;base64,{png}" alt="the figure for these settings" '
        f'style="display: block; width: 100%; max-width: {css_width}px; height: auto">'
    )


def _draw_means(ax, means, colors, size=13):
    """Each mean as a large cross in its component's colour, outlined so it shows on the points."""
    for mean, color in zip(means, colors, strict=True):
        ax.plot(*mean[:2], marker="X", ms=size, mfc=color[:3], mec="k", mew=1.5, zorder=5)


def _draw_model(ax, X, resp, params, colors):
    weights, means, covariances = params
    gp.plot_responsibilities(X, resp, ax=ax, colors=colors)
    gp.plot_ellipses(means, covariances, ax=ax, n_std=(1, 2), colors=colors, weights=weights)
    _draw_means(ax, means, colors)
    ax.set_xlabel("x₁")
    ax.set_ylabel("x₂")


def _component_colors(means, separation):
    """The true clusters' colours for a three-component fit of the seed data, else tab10."""
    if len(means) == 3:
        return gp.aligned_colors(gh.seed_parameters(separation)[1], means)
    return gp.component_colors(len(means))


def _two_panels(fig, top=0.84):
    """A square-ish data panel on the left and a wider panel on the right."""
    bottom, height = 0.12, top - 0.12
    width = height * fig.get_figheight() / fig.get_figwidth() * 1.1
    left = fig.add_axes((0.06, bottom, width, height))
    right_start = 0.06 + width + 0.09
    return left, fig.add_axes((right_start, bottom, 0.98 - right_start, height))


def _data_limits(ax, X, pad=0.08):
    ax.set_aspect("equal", adjustable="box", anchor="W")
    lo, hi = X.min(axis=0), X.max(axis=0)
    span = np.maximum(hi - lo, 1.0)
    ax.set_xlim(lo[0] - pad * span[0], hi[0] + pad * span[0])
    ax.set_ylim(lo[1] - pad * span[1], hi[1] + pad * span[1])


def _slider_kwargs(description):
    return {"description": description, "continuous_update": False, "style": _SLIDER_STYLE}


def _explorer(view, controls, *, columns, css_class, unrun_text, rows=None):
    """Wire ``view(**values)`` to the controls with interactive_output; lay them out.

    ``view`` returns a figure, or (figure, caption): the caption is shown above it (a figure
    of None: the caption alone).
    ``rows``: the widgets above the picture (default: ``controls`` in ``columns``).
    ``unrun_text``: what a notebook that was saved but not run shows instead of the widget.
    The box carries ``.controls`` (name -> widget), ``.output`` (the Output widget, empty
    unless something escapes) and ``.state`` (``n_updates``, the last ``figure`` and
    ``caption``).
    """
    import ipywidgets as w

    class Explorer(w.VBox):
        def _repr_mimebundle_(self, **kwargs):
            return {**super()._repr_mimebundle_(**kwargs), "text/plain": unrun_text}

    state = {"n_updates": 0, "figure": None, "caption": None}
    # One widget value for caption and picture, replaced whole on each update: an Output
    # widget cleared and refilled can show two captions and no picture when quick slider
    # moves race (clear_output(wait=True) against the next update's messages).
    shown = w.HTML()

    def update(**values):
        try:
            result = view(**values)
        except Exception as err:  # noqa: BLE001 - a widget shows a message, never a traceback
            result = _message_figure(f"{type(err).__name__}: {err}", title="Something went wrong")
        fig, caption = result if isinstance(result, tuple) else (result, None)
        state["n_updates"] += 1
        state["figure"], state["caption"] = fig, caption
        shown.value = _view_html(fig, caption)

    output = w.interactive_output(update, controls)
    if rows is None:
        widgets = list(controls.values())
        split = np.cumsum((0,) + tuple(columns))
        rows = w.HBox(
            [w.VBox(widgets[a:b]) for a, b in zip(split[:-1], split[1:], strict=True)],
            layout=w.Layout(flex_flow="row wrap"),
        )
    box = Explorer([rows, shown, output])
    box.add_class(css_class)
    box.controls, box.output, box.state = controls, output, state
    return box


# ---------------------------------------------------------------------------
# 1. Fit explorer
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FitSettings:
    """The fit explorer's slider values, with the original notebook's as defaults.

    ``fit_model``, ``fit_figure`` take one of these, or its fields as keywords:
    ``fit_figure(separation=3.0)`` is ``fit_figure(FitSettings(separation=3.0))``.
    ``tol`` is ``gh.fit_gmm``'s stopping rule per point; the explorer's default, 1e-6, is
    tighter than the helpers' 1e-3, which can stop on a plateau (chapter 5).
    """

    separation: float = 5.0
    n_components: int = 3
    smoothing: float = 1e-2
    n_samples: int = 2000
    seed: int = 0
    init: str = "kmeans++"
    covariance_type: str = "full"
    tol: float = 1e-6

    def __str__(self):
        return (
            f"s = {self.separation:g}, K = {self.n_components}, "
            f"smoothing = {_format_smoothing(self.smoothing)}, N = {self.n_samples}, "
            f"seed = {self.seed}, init = {self.init}, covariance = {self.covariance_type}, "
            f"tol = {self.tol:g}"
        )


def _settings(settings, changes):
    if settings is not None and not isinstance(settings, FitSettings):
        raise ValueError(
            f"expected a FitSettings, got {settings!r}; try FitSettings(separation=3.0) or "
            "keywords such as separation=3.0"
        )
    unknown = set(changes) - {f.name for f in dataclasses.fields(FitSettings)}
    if unknown:
        raise ValueError(
            f"expected settings among {[f.name for f in dataclasses.fields(FitSettings)]}, "
            f"got {sorted(unknown)}; try fit_figure(separation=3.0, n_components=4)"
        )
    return dataclasses.replace(settings or FitSettings(), **changes)


def fit_model(settings=None, /, **changes):
    """Regenerate the original data and fit it; returns (X, fit, None) or (X, None, message).

    ``settings``: a ``FitSettings`` (default: the defaults), updated by ``changes``. EM runs
    until the log-likelihood per point changes by less than ``settings.tol``, for at most
    ``FIT_MAX_ITER`` iterations.
    """
    s = _settings(settings, changes)
    X = None
    try:
        X, _ = gh.sample_seed_data(s.separation, s.n_samples, rng=s.seed)
        fit = gh.fit_gmm(
            X,
            s.n_components,
            covariance_type=s.covariance_type,
            init=s.init,
            smoothing=s.smoothing,
            rng=s.seed,
            tol=s.tol,
            max_iter=FIT_MAX_ITER,
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


class FitCanvas:
    """The fit explorer's figure, built once; ``draw`` moves its artists to each new fit.

    A slider move changes the data of the artists (the points' positions and colours, each
    component's ellipses and mean, the log-likelihood curve, the axis limits) instead of
    building a new figure. Components beyond the current K stay, hidden, for a later larger
    K. ``title``: the settings and the verdict above the panels (``fit_figure``); without it
    the figure is shorter (the widget prints the caption above the picture).
    """

    N_STD = (1, 2)

    def __init__(self, title=True):
        self.title = title
        height = _FIGSIZE[1] if title else _FIGSIZE[1] - 0.5
        self.fig = Figure(figsize=(_FIGSIZE[0], height))
        self.ax_data, self.ax_ll = _two_panels(self.fig, top=0.84 if title else 0.91)
        self.points = self.ax_data.scatter(np.zeros(0), np.zeros(0), s=6, alpha=0.6, lw=0)
        self.components = []  # per component: (ellipses, mean marker)
        self.ax_data.set_xlabel("x₁")
        self.ax_data.set_ylabel("x₂")
        self.ax_data.set_title("points coloured by responsibilities", fontsize=10, y=1.01)
        (self.curve,) = self.ax_ll.plot([], [], "-o", ms=3)
        self.ax_ll.xaxis.set_major_locator(MaxNLocator(integer=True))  # as gp.plot_log_likelihood
        self.ax_ll.set_xlabel("iteration")
        self.ax_ll.set_ylabel("mean log-likelihood per point")
        self.ax_ll.set_title("log-likelihood during EM", fontsize=10, y=1.01)
        self.suptitle = self.fig.suptitle("", fontsize=10.5) if title else None

    def _add_component(self):
        from matplotlib.patches import Ellipse

        ellipses = [self.ax_data.add_patch(Ellipse((0, 0), 1, 1, fill=False)) for _ in self.N_STD]
        (mean,) = self.ax_data.plot([], [], marker="X", ms=13, mec="k", mew=1.5, zorder=5)
        self.components.append((ellipses, mean))

    def draw(self, X, fit, colors, caption=None):
        """Show ``fit`` of ``X``, component k in ``colors[k]``; returns the figure."""
        K = len(fit.weights)
        self.points.set_offsets(X[:, :2])
        self.points.set_facecolors(np.clip(fit.resp @ colors[:, :3], 0, 1))
        while len(self.components) < K:
            self._add_component()
        widths = 0.8 + 3 * fit.weights / fit.weights.max()  # as gp.plot_ellipses
        for k, (ellipses, mean) in enumerate(self.components):
            for artist in (*ellipses, mean):
                artist.set_visible(k < K)
            if k >= K:
                continue
            vals, vecs = np.linalg.eigh(fit.covariances[k, :2, :2])
            angle = np.degrees(np.arctan2(vecs[1, 1], vecs[0, 1]))
            for n, ellipse in zip(self.N_STD, ellipses, strict=True):
                ellipse.set_center(fit.means[k, :2])
                ellipse.width, ellipse.height = 2 * n * np.sqrt(np.maximum(vals[::-1], 0))
                ellipse.set_angle(angle)
                ellipse.set_edgecolor(colors[k][:3])
                ellipse.set_linewidth(widths[k])
            mean.set_data([fit.means[k, 0]], [fit.means[k, 1]])
            mean.set_markerfacecolor(colors[k][:3])
        _data_limits(self.ax_data, X)
        per_point = fit.log_likelihoods / len(X)
        self.curve.set_data(np.arange(1, len(per_point) + 1), per_point)
        self.ax_ll.relim()
        self.ax_ll.autoscale_view()
        if self.suptitle is not None:
            self.suptitle.set_text(caption or "")
        return self.fig


def _fit_view(settings, title=True, canvas=None):
    """Fit the original data with these settings; returns (figure, caption).

    The caption is two lines: the settings, then the verdict of ``fit_summary``
    (or why there is no fit). ``title=True``: a new figure with the caption as its
    title, or a figure holding only the message where there is no fit. ``title=False``
    (the widget, which prints the caption above the picture): the figure of
    ``canvas`` (a ``FitCanvas(title=False)``) redrawn, or None where there is no fit,
    so the message is shown once, in the caption.
    """
    X, fit, message = fit_model(settings)
    if message is not None:
        if title:
            return _message_figure(message, title=f"Cannot fit with {settings}"), message
        return None, f"{settings}\nno fit: {message}"
    caption = f"{settings}\n{fit_summary(X, fit)}"
    canvas = canvas if canvas is not None else FitCanvas(title=title)
    colors = _component_colors(fit.means, settings.separation)
    return canvas.draw(X, fit, colors, caption), caption


def fit_figure(settings=None, /, **changes):
    """Fit the original data with these settings and draw the result (notebook 05).

    Left: the points coloured by their responsibilities, the 1 and 2 sigma
    ellipses and the means; with K = 3 each component has the colour of the
    true cluster it matches. Right: the mean log-likelihood per point at each
    iteration. The title says the settings and the outcome (final log-likelihood,
    iterations, BIC, converged). On a combination the helpers reject (K > N, a
    collapse at smoothing 0, ...) the figure holds their message instead.

    Parameters
    ----------
    settings : FitSettings, optional
    **changes
        Fields of ``FitSettings`` to change, e.g. ``separation=3.0``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    return _fit_view(_settings(settings, changes))[0]


def fit_explorer(settings=None):
    """Sliders and dropdowns for ``fit_figure``, starting at ``settings`` (default: the
    defaults of ``FitSettings``); returns the widget (a VBox). Each move redraws one
    ``FitCanvas``."""
    import ipywidgets as w

    d = _settings(settings, {})
    controls = {
        "separation": w.FloatSlider(
            value=d.separation, min=0.0, max=8.0, step=0.25, **_slider_kwargs("separation s")
        ),
        "n_components": w.IntSlider(
            value=d.n_components, min=1, max=8, **_slider_kwargs("components K")
        ),
        "smoothing": w.SelectionSlider(
            options=SMOOTHING_OPTIONS, value=d.smoothing, **_slider_kwargs("smoothing")
        ),
        "n_samples": w.SelectionSlider(
            options=SAMPLE_SIZES, value=d.n_samples, **_slider_kwargs("points N")
        ),
        "seed": w.IntSlider(value=d.seed, min=0, max=20, **_slider_kwargs("seed")),
        "tol": w.SelectionSlider(options=TOL_OPTIONS, value=d.tol, **_slider_kwargs("tol")),
        "init": w.Dropdown(options=gh.INITS, value=d.init, description="init", style=_SLIDER_STYLE),
        "covariance_type": w.Dropdown(
            options=gh.COVARIANCE_TYPES,
            value=d.covariance_type,
            description="covariance",
            style=_SLIDER_STYLE,
        ),
    }
    canvas = FitCanvas(title=False)

    def view(**values):
        return _fit_view(FitSettings(**values), title=False, canvas=canvas)

    return _explorer(
        view,
        controls,
        columns=(4, 4),
        css_class="gmm-fit-explorer",
        unrun_text="[Fit explorer: its sliders need a running kernel. Run this notebook "
        "(make lab) or the app (make app); the figure for the default settings is above.]",
    )


# ---------------------------------------------------------------------------
# 2. EM scrubber: one fit, half-step by half-step
# ---------------------------------------------------------------------------


@dataclass
class EMRun:
    """One fit with its full history, ready to be stepped through.

    ``resps[t - 1]`` are the responsibilities under ``fit.history[t - 1]``, i.e. what
    the E-step of iteration t computes; there are 2 * n_iter half-steps. ``colors``:
    one RGB colour per component, (K, 3).
    """

    X: np.ndarray
    fit: gh.GMMFit
    resps: list
    colors: np.ndarray

    @property
    def n_half_steps(self):
        return 2 * self.fit.n_iter


def em_run(separation=5.0, n_samples=2000, seed=0, n_components=3, *, init="random", rng=0):
    """Fit the original data keeping the history (``keep_history=True``).

    The defaults start from three random data points (the original notebook's
    start), two of them in the same cluster and none in the small one, so EM
    has to move a component across the picture: 22 iterations. Each component
    keeps one colour throughout: that of the true cluster its final mean matches.
    """
    X, _ = gh.sample_seed_data(separation, n_samples, rng=seed)
    fit = gh.fit_gmm(X, n_components, init=init, rng=rng, keep_history=True)
    resps = [gh.e_step(X, *params)[0] for params in fit.history[:-1]]
    return EMRun(X, fit, resps, _component_colors(fit.means, separation))


def _half_step(step):
    """(iteration, 'E' or 'M') of half-step ``step`` (0-based): 0 -> (1, 'E'), 1 -> (1, 'M')."""
    return step // 2 + 1, "EM"[step % 2]


def _half_step_caption(run, step):
    if not 0 <= step < run.n_half_steps:
        return f"no half-step {step}: this fit has half-steps 0 to {run.n_half_steps - 1}"
    iteration, kind = _half_step(step)
    ll = run.fit.log_likelihoods[iteration - 1] / len(run.X)
    if kind == "E":
        return (
            f"iteration {iteration}, E-step: recolour the points by the responsibilities of "
            f"the parameters iteration {iteration} starts with (their log-likelihood: "
            f"{ll:.3f} per point)"
        )
    return (
        f"iteration {iteration}, M-step: move each ellipse to the weighted mean and "
        "covariance of the points it is responsible for"
    )


def scrubber_figure(run=None, step=0, title=True):
    """Draw half-step ``step`` of an ``EMRun`` (default: ``em_run()``).

    E-step: the points take the colours of the current parameters' responsibilities.
    M-step: the same colours, the ellipses move from where they were (dashed, the
    old mean a ring) to the new parameters (solid, the new mean a cross), an arrow
    from each old mean to its new one. Right: the log-likelihood with a marker at the
    current iteration. The title names the half-step (``title=False``: none).
    """
    run = em_run() if run is None else run
    if not 0 <= step < run.n_half_steps:
        return _message_figure(_half_step_caption(run, step))
    iteration, kind = _half_step(step)
    before = run.fit.history[iteration - 1]
    after = run.fit.history[iteration]
    colors = run.colors
    fig = Figure(figsize=_FIGSIZE if title else (_FIGSIZE[0], _FIGSIZE[1] - 0.5))
    ax_data, ax_ll = _two_panels(fig, top=0.84 if title else 0.91)
    resp = run.resps[iteration - 1]
    if kind == "E":
        _draw_model(ax_data, run.X, resp, before, colors)
    else:
        gp.plot_ellipses(before[1], before[2], ax=ax_data, n_std=(1, 2), colors=colors, ls="--")
        _draw_model(ax_data, run.X, resp, after, colors)
        for old, new, color in zip(before[1], after[1], colors, strict=True):
            ax_data.plot(*old, "o", ms=10, mfc="white", mec=color, mew=2.5, zorder=4)
            ax_data.annotate(
                "",
                xy=new,
                xytext=old,
                arrowprops={"arrowstyle": "-|>", "lw": 2, "color": "k", "shrinkA": 5},
                zorder=4,
            )
    _data_limits(ax_data, run.X)
    ax_data.set_title(
        f"half-step {step} (of 0-{run.n_half_steps - 1}): {kind}-step", fontsize=10, y=1.01
    )
    gp.plot_log_likelihood(
        run.fit.log_likelihoods, ax=ax_ll, per_sample=len(run.X), marker=iteration
    )
    ax_ll.set_title("log-likelihood, computed in each E-step", fontsize=10, y=1.01)
    if title:
        fig.suptitle(_wrap(_half_step_caption(run, step), 100), fontsize=10.5)
    return fig


def em_scrubber(run=None):
    """A slider (with a play button) over the half-steps of ``run``; returns a VBox."""
    import ipywidgets as w

    run = em_run() if run is None else run
    slider = w.IntSlider(value=0, min=0, max=run.n_half_steps - 1, **_slider_kwargs("half-step"))
    play = w.Play(value=0, min=0, max=run.n_half_steps - 1, interval=900, description="play")
    w.jslink((play, "value"), (slider, "value"))
    box = _explorer(
        lambda step: (scrubber_figure(run, step, title=False), _half_step_caption(run, step)),
        {"step": slider},
        columns=(1,),
        css_class="gmm-em-scrubber",
        unrun_text="[EM scrubber: its slider needs a running kernel. Run this notebook "
        "(make lab) or the app (make app); half-steps 0, 4 and 5 are drawn above.]",
        rows=w.HBox([play, slider], layout=w.Layout(flex_flow="row wrap")),
    )
    box.run = run
    return box


# ---------------------------------------------------------------------------
# 3. Collapse: a component on a single point
# ---------------------------------------------------------------------------


def _collapse_start(X, point=0, spike_variance=1e-12, separation=5.0):
    """The true three components plus a fourth sitting on ``X[point]`` with a tiny covariance."""
    N = len(X)
    weights, means, covariances = gh.seed_parameters(separation)
    return (
        np.append(weights * (1 - 1 / N), 1 / N),
        np.vstack([means, X[point]]),
        np.concatenate([covariances, [spike_variance * np.eye(2)]]),
    )


def collapse_fit(smoothing, n_steps=5, *, separation=5.0, n_samples=2000, seed=0, point=0):
    """``n_steps`` EM steps from the true three components plus a fourth on ``X[point]``.

    The fourth has weight 1 / N and covariance 1e-12 I. Returns (fit, None), or
    (None, message) with the helpers' ValueError message.
    """
    X, _ = gh.sample_seed_data(separation, n_samples, rng=seed)
    try:
        fit = gh.fit_gmm(
            X,
            4,
            init=_collapse_start(X, point, separation=separation),
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


@functools.cache
def collapse_curves(n_steps=5, separation=5.0, n_samples=2000, seed=0, point=0):
    """For every smoothing > 0 of ``COLLAPSE_SMOOTHINGS``: the log-likelihood after
    ``n_steps`` EM steps of ``collapse_fit``, the variance of the component on
    the point, and the log-likelihood of an honest three-component fit (EM from
    the true parameters) with the same smoothing. Where the helpers stop EM with a
    ValueError (a collapse), ``collapsed`` is True and the other entries are NaN.
    Computed once per argument list; the arrays are read-only.

    Returns
    -------
    dict of arrays: smoothing, log_likelihood, spike_variance, honest, gain, collapsed
    """
    X, _ = gh.sample_seed_data(separation, n_samples, rng=seed)
    truth = gh.seed_parameters(separation)
    rows = []
    for _, s in COLLAPSE_SMOOTHINGS[1:]:
        fit, _ = collapse_fit(
            s, n_steps, separation=separation, n_samples=n_samples, seed=seed, point=point
        )
        try:
            honest = gh.fit_gmm(X, 3, init=truth, smoothing=s).log_likelihood
        except ValueError:
            honest = np.nan
        if fit is None:
            rows.append((s, np.nan, np.nan, honest))
        else:
            rows.append((s, fit.log_likelihood, fit.covariances[3, 0, 0], honest))
    names = ("smoothing", "log_likelihood", "spike_variance", "honest")
    curves = dict(zip(names, np.array(rows).T, strict=True))
    curves["gain"] = curves["log_likelihood"] - curves["honest"]
    curves["collapsed"] = np.isnan(curves["log_likelihood"])
    for values in curves.values():
        values.setflags(write=False)
    return curves


def _nearest_row(curves, smoothing):
    """The row of ``collapse_curves`` whose smoothing is nearest on a log scale."""
    return int(np.argmin(np.abs(np.log(curves["smoothing"]) - np.log(smoothing))))


def _collapse_caption(smoothing, fit, message, curves, *, n_steps, point):
    """What the collapse demo shows for ``collapse_fit``'s (fit, message) at this smoothing."""
    if message is not None:
        return f"smoothing = {_format_smoothing(smoothing)}: EM stops with the message: {message}"
    i = _nearest_row(curves, smoothing)
    return (
        f"smoothing = {_format_smoothing(smoothing)}: after {n_steps} EM steps the component on "
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
    fit, message = collapse_fit(smoothing, n_steps, point=point)
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
    caption = _collapse_caption(smoothing, fit, message, curves, n_steps=n_steps, point=point)
    fig.suptitle(_wrap(caption, 110), fontsize=10.5, color="firebrick" if message else "k")
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
        unrun_text="[Collapse demo: its slider needs a running kernel. Run this notebook "
        "(make lab) or the app (make app); the figure for smoothing 1e-6 is above.]",
    )


# ---------------------------------------------------------------------------
# 4. The animation
# ---------------------------------------------------------------------------


class _AnimationFrames:
    """Draws the frames of ``animation_gif`` on one figure, changing only what moves.

    Frame t = 1 ... n_iter is iteration t's E-step: the parameters iteration t starts
    with, the points coloured by their responsibilities, and the log-likelihood curve
    up to iteration t (as the scrubber draws it). Frame n_iter + 1 is the fitted mixture.
    The axes, the points and the labels are built once; each frame recolours the
    points, redraws the ellipses and extends the curve, which keeps the GIF cheap.
    """

    def __init__(self, run, fig):
        self.run, self.fig = run, fig
        n_iter, N = run.fit.n_iter, len(run.X)
        self.colors = run.colors
        self.resps = list(run.resps) + [run.fit.resp]
        self.per_point = run.fit.log_likelihoods / N
        self.ax_data, self.ax_ll = _two_panels(fig, top=0.86)
        gp.plot_responsibilities(run.X, self.resps[0], ax=self.ax_data, colors=self.colors)
        self.points = self.ax_data.collections[0]
        self.ax_data.set_xlabel("x\u2081")
        self.ax_data.set_ylabel("x\u2082")
        _data_limits(self.ax_data, run.X)
        (self.curve,) = self.ax_ll.plot([], [], "-o", ms=3)
        (self.marker,) = self.ax_ll.plot([], [], "o", ms=10, color="crimson")
        low, high = self.per_point.min(), self.per_point.max()
        margin = 0.05 * (high - low)
        self.ax_ll.set_xlim(0.5, n_iter + 0.5)
        self.ax_ll.set_ylim(low - margin, high + margin)
        self.ax_ll.set_xlabel("iteration")
        self.ax_ll.set_ylabel("mean log-likelihood per point")
        self.ax_ll.set_title("log-likelihood, computed in each E-step", fontsize=10)
        self.title = fig.suptitle("", fontsize=11)
        self.moving = []

    def __call__(self, frame):
        for artist in self.moving:
            artist.remove()
        ax, n_iter = self.ax_data, self.run.fit.n_iter
        before = len(ax.patches), len(ax.lines)
        self.points.set_facecolors(np.clip(self.resps[frame - 1] @ self.colors, 0, 1))
        weights, means, covariances = self.run.fit.history[frame - 1]
        gp.plot_ellipses(
            means, covariances, ax=ax, n_std=(1, 2), colors=self.colors, weights=weights
        )
        _draw_means(ax, means, self.colors, size=11)
        self.moving = ax.patches[before[0] :] + ax.lines[before[1] :]
        shown = min(frame, n_iter)
        self.curve.set_data(np.arange(1, shown + 1), self.per_point[:shown])
        if frame <= n_iter:
            self.marker.set_data([frame], [self.per_point[frame - 1]])
            start = " (the start: random data points)" if frame == 1 else ""
            self.title.set_text(
                f"iteration {frame}{start}: log-likelihood {self.per_point[frame - 1]:.3f} "
                "per point"
            )
        else:
            self.marker.set_data([], [])
            converged = "converged" if self.run.fit.converged else "not converged"
            self.title.set_text(f"the fit after {n_iter} iterations ({converged})")
        return []


def animation_gif(run=None, fps=3, hold=4, dpi=80):
    """The GIF of EM converging on the original data (``em_run()`` by default), as bytes.

    One frame per iteration (its E-step, from the random start on), then the
    fitted mixture, shown ``hold`` more times so the loop pauses on the answer.
    Uses ``FuncAnimation`` with ``PillowWriter``; the bytes are the same from run to run.
    """
    import tempfile

    from matplotlib.animation import FuncAnimation, PillowWriter

    run = em_run() if run is None else run
    n_iter = run.fit.n_iter
    frames = list(range(1, n_iter + 2)) + [n_iter + 1] * hold
    fig = Figure(figsize=(8, 3.6), dpi=dpi)
    draw = _AnimationFrames(run, fig)
    anim = FuncAnimation(fig, draw, frames=frames, init_func=lambda: [], blit=False, repeat=False)
    with tempfile.TemporaryDirectory() as folder:  # PillowWriter writes to a file
        path = Path(folder) / "em.gif"
        anim.save(path, writer=PillowWriter(fps=fps), dpi=dpi)
        return path.read_bytes()


def show_animation(run=None, **kwargs):
    """Show ``animation_gif(run)`` in the cell's output, the image data itself: it shows
    wherever Jupyter was started, under Voila, and on the rendered page (the build writes
    the output to the page's folder as ``em_converging.gif``)."""
    from IPython.display import Image, display

    display(Image(data=animation_gif(run, **kwargs), format="gif"), metadata=GIF_METADATA)


GIF_METADATA = {"filename": "em_converging.gif"}


# ---------------------------------------------------------------------------
# Exercise helper
# ---------------------------------------------------------------------------


def _worst_mean_error(separation, n_init=10, n_samples=2000, seed=0):
    """Largest distance between a true centre and its fitted mean (K = 3, best of ``n_init``)."""
    X, _ = gh.sample_seed_data(separation, n_samples, rng=seed)
    fit = gh.fit_restarts(X, 3, n_init=n_init, rng=seed)[0]
    true_means = gh.seed_parameters(separation)[1]
    order = gh.align_components(true_means, fit.means)
    return float(np.linalg.norm(fit.means[order] - true_means, axis=1).max())


def smallest_recovering_separation(tol=0.5, step=0.25, max_separation=8.0, **kwargs):
    """The smallest separation on the slider's grid where K = 3 recovers the clusters.

    Recovery: the best of ``n_init`` restarts puts every fitted mean within ``tol`` of
    its true centre. ``kwargs``: ``n_init``, ``n_samples``, ``seed``.
    """
    for separation in np.arange(0.0, max_separation + step / 2, step):
        if _worst_mean_error(separation, **kwargs) < tol:
            return float(separation)
    return None

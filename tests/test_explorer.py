"""The interactive explorer (gmm.explorer, notebook 05): every slider combination gives a
picture or a short message, never an exception, and the widgets redraw when a value changes."""

import base64
import io
import itertools
import re
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import gmm_helpers as gh  # noqa: E402
from gmm import explorer as gx  # noqa: E402
from gmm import plots as gp  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def render(fig):
    """Draw the figure for real (errors can hide until draw time); its pixels, (H, W, 4)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    assert isinstance(fig, Figure)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig.savefig(io.BytesIO(), format="png", dpi=40)
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
    return np.asarray(canvas.buffer_rgba())


def n_colours(pixels):
    return len(np.unique(pixels.reshape(-1, 4), axis=0))


def shown_means(ax):
    """The means the fit explorer shows: its visible large crosses, (K, 2)."""
    return np.array(
        [
            line.get_xydata()[0]
            for line in ax.lines
            if line.get_visible() and line.get_marker() == "X"
        ]
    )


def is_message(fig):
    return len(fig.axes) == 0


def messages(fig):
    """All text drawn on ``fig`` outside its axes (the message of a message figure)."""
    return [t.get_text() for t in fig.texts]


# ---------------------------------------------------------------------------
# Fit explorer
# ---------------------------------------------------------------------------


def test_fit_model_never_raises_on_the_slider_grid():
    """The whole cross product of slider values (without drawing): a fit or a message."""
    grid = itertools.product(
        [0.0, 5.0], range(1, 9), [0.0, 1e-6, 1e-2, 1.0], [5, 200], gh.INITS, gh.COVARIANCE_TYPES
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for separation, K, smoothing, N, init, cov in grid:
            settings = gx.FitSettings(separation, K, smoothing, N, 0, init, cov)
            X, fit, message = gx.fit_model(settings)
            assert (fit is None) != (message is None)
            if fit is not None:
                assert np.isfinite(fit.log_likelihood)
                assert fit.means.shape == (K, 2)
            else:
                assert message.startswith("expected")


CASES = [
    # (separation, K, smoothing, N): K = 1, K > N, collapse-prone, tiny and large N, s = 0
    (5.0, 1, 1e-2, 2000),
    (5.0, 8, 0.0, 5),
    (0.0, 8, 0.0, 200),
    (2.5, 3, 1e-6, 20),
    (8.0, 5, 1.0, 5000),
]


@pytest.mark.parametrize("init", gh.INITS)
@pytest.mark.parametrize("covariance_type", gh.COVARIANCE_TYPES)
@pytest.mark.parametrize("case", CASES, ids=[f"s{c[0]}-K{c[1]}-sm{c[2]}-N{c[3]}" for c in CASES])
def test_fit_figure_draws_for_every_init_and_covariance_type(case, init, covariance_type):
    separation, K, smoothing, N = case
    settings = gx.FitSettings(separation, K, smoothing, N, 0, init, covariance_type)
    fig = gx.fit_figure(settings)
    pixels = render(fig)
    X, fit, message = gx.fit_model(settings)
    if fit is None:  # K > N, or a collapse: the helpers' message, once, and nothing else
        assert K > N or smoothing == 0
        shown = [" ".join(text.split()) for text in messages(fig)]  # unwrapped
        assert is_message(fig) and sum(" ".join(message.split()) in t for t in shown) == 1
    else:
        assert not is_message(fig)
        assert np.allclose(shown_means(fig.axes[0]), fit.means[:, :2])
        visible = [p for p in fig.axes[0].patches if p.get_visible()]
        assert len(visible) == 2 * K  # 1 and 2 sigma
        assert n_colours(pixels) > 20  # drawn: points, ellipses, curve, not a blank canvas


@pytest.mark.parametrize("K", range(1, 9))
def test_fit_figure_every_k_with_few_points(K):
    fig = gx.fit_figure(n_components=K, n_samples=5)
    render(fig)
    assert is_message(fig) == (K > 5)
    if K <= 5:
        assert len(shown_means(fig.axes[0])) == K


def test_default_fit_figure_has_data_curve_and_summary():
    fig = gx.fit_figure()
    ax_data, ax_ll = fig.axes
    assert len(ax_data.collections) == 1  # the scatter of points
    assert len(ax_data.patches) == 3 * 2  # 1 and 2 sigma ellipses of 3 components
    assert ax_ll.get_xlabel() == "iteration"
    title = fig.texts[0].get_text()
    for word in ("final log-likelihood", "iterations", "BIC", "converged"):
        assert word in title
    render(fig)


def test_fit_view_caption_has_settings_and_verdict():
    settings = gx.FitSettings(separation=4.0, n_components=4)
    fig, caption = gx._fit_view(settings, title=False)
    line, verdict = caption.split("\n")
    assert line == str(settings)
    assert line.startswith("s = 4, K = 4, smoothing = 0.01, N = 2000")
    for word in ("final log-likelihood", "iterations", "BIC", "converged"):
        assert word in verdict
    assert not fig.texts and len(fig.axes) == 2
    render(fig)
    titled = gx.fit_figure(separation=4.0, n_components=4)
    assert titled.texts[0].get_text() == caption


def test_settings_object_and_keywords_are_the_same_call():
    settings = gx.FitSettings(separation=3.0, n_components=2, seed=4)
    by_object, by_keywords = (
        gx.fit_model(settings),
        gx.fit_model(separation=3.0, n_components=2, seed=4),
    )
    assert np.array_equal(by_object[0], by_keywords[0])
    assert np.array_equal(by_object[1].means, by_keywords[1].means)
    changed = gx.fit_model(settings, n_components=5)[1]  # keywords change the object's values
    assert changed.means.shape == (5, 2)
    assert gx.fit_model()[1].means.shape == (3, 2)  # the defaults: the original notebook's


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: gx.fit_figure(separaton=3.0), "expected settings among"),
        (lambda: gx.fit_model({"separation": 3.0}), "expected a FitSettings"),
    ],
)
def test_bad_settings_are_a_clear_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_three_fitted_components_take_their_true_clusters_colours():
    """Default fit: each ellipse has the colour of the true cluster its mean is nearest to."""
    fig = gx.fit_figure()
    X, fit, _ = gx.fit_model()
    true_means = gh.seed_parameters(5.0)[1]
    ax_data = fig.axes[0]
    base = gp.component_colors(3)
    for ellipse in ax_data.patches:
        k = np.argmin(np.linalg.norm(fit.means - ellipse.center, axis=1))
        cluster = np.argmin(np.linalg.norm(true_means - fit.means[k], axis=1))
        if np.linalg.norm(true_means[cluster] - fit.means[k]) < 1:  # a clear match
            assert np.allclose(ellipse.get_edgecolor()[:3], base[cluster])
    colours = {tuple(np.round(e.get_edgecolor()[:3], 6)) for e in ax_data.patches}
    assert colours == {tuple(np.round(c, 6)) for c in base}


def test_message_path_for_k_larger_than_n():
    fig = gx.fit_figure(n_components=8, n_samples=5)
    assert is_message(fig)
    text = " ".join(messages(fig))
    assert "n_components" in text and "Cannot fit" in text
    assert "Traceback" not in text


def test_message_path_for_collapse_at_smoothing_zero():
    X, fit, message = gx.fit_model(n_components=3, n_samples=5, smoothing=0.0)
    assert fit is None and "collapsed" in message
    fig = gx.fit_figure(n_components=3, n_samples=5, smoothing=0.0)
    assert is_message(fig)
    assert any("collapsed" in t for t in messages(fig))


def test_smoothing_options_are_a_log_scale_down_to_zero():
    labels, values = zip(*gx.SMOOTHING_OPTIONS, strict=True)
    assert values[0] == 0 and values[-1] == 1
    assert np.allclose(np.diff(np.log10(values[1:])), 1)
    assert labels[:3] == ("0", "1e-6", "1e-5")


# ---------------------------------------------------------------------------
# Widgets: changing a value re-runs the callback
# ---------------------------------------------------------------------------


def test_fit_explorer_redraws_when_a_slider_moves():
    box = gx.fit_explorer()
    controls = box.controls
    for control in controls.values():
        if hasattr(control, "continuous_update"):  # the sliders, not the dropdowns
            assert control.continuous_update is False
    assert box.state["n_updates"] == 1  # interactive_output draws once at creation
    first = gx.png_bytes(box.state["figure"])
    controls["separation"].value = 3.0
    assert box.state["n_updates"] == 2
    assert gx.png_bytes(box.state["figure"]) != first
    assert box.state["caption"].startswith("s = 3, K = 3,")
    assert not box.state["figure"].texts  # the caption is printed above it, not repeated
    controls["init"].value = "random"
    controls["covariance_type"].value = "diag"
    controls["smoothing"].value = 0.0
    assert box.state["n_updates"] == 5
    controls["n_samples"].value = 5
    controls["n_components"].value = 8
    assert box.state["n_updates"] == 7
    assert box.state["figure"] is None  # no picture: the message is shown once, as text
    assert "no fit: expected" in box.state["caption"]
    shown = box.children[1].value
    assert shown.count("expected") == 1 and "<img" not in shown
    controls["n_samples"].value = 2000  # back to a picture after a message
    assert len(box.state["figure"].axes) == 2 and box.state["caption"].startswith("s = 3, K = 8,")
    assert len(shown_means(box.state["figure"].axes[0])) == 8


@pytest.mark.parametrize(
    "before, after",
    [
        ({}, {"separation": 2.0, "n_components": 5}),
        ({"n_components": 8, "covariance_type": "tied"}, {"n_components": 1}),
        ({"separation": 0.0}, {"separation": 8.0, "n_samples": 50}),
    ],
)
def test_redrawing_into_the_last_figure_gives_the_fresh_picture(before, after):
    """The widget moves the artists of one figure; the picture must be that of a new one."""
    before, after = gx.FitSettings(**before), gx.FitSettings(**after)
    canvas = gx.FitCanvas(title=False)
    first, _ = gx._fit_view(before, title=False, canvas=canvas)
    points = canvas.points
    reused, caption = gx._fit_view(after, title=False, canvas=canvas)
    assert reused is first is canvas.fig and canvas.points is points  # updated, not rebuilt
    fresh, same = gx._fit_view(after, title=False)
    assert fresh is not reused and caption == same
    assert gx.png_bytes(reused) == gx.png_bytes(fresh)


def test_the_explorer_fits_to_maxima_where_the_helpers_default_stops_on_a_plateau():
    """Chapter 5: at tol = 1e-3 start 0 stops after about 10 iterations on a plateau; at the
    explorer's tol the same start climbs on to the best fit of the starts."""
    X, loose, _ = gx.fit_model(tol=1e-3)
    X, tight, _ = gx.fit_model()
    assert gx.FitSettings().tol <= 1e-6 and tight.converged
    assert tight.n_iter > 3 * loose.n_iter
    assert (tight.log_likelihood - loose.log_likelihood) / len(X) > 0.1
    best = max(gh.fit_gmm(X, 3, rng=r, tol=1e-8, max_iter=1000).log_likelihood for r in range(4))
    assert np.isclose(tight.log_likelihood, best, rtol=1e-5)


def test_scrubber_widget_redraws_and_captions_alternate():
    run = gx.em_run()
    box = gx.em_scrubber(run)
    assert box.state["n_updates"] == 1
    box.controls["step"].value = 5
    assert box.state["n_updates"] == 2
    assert box.state["caption"].startswith("iteration 3, M-step")
    assert n_colours(render(box.state["figure"])) > 20
    assert box.controls["step"].max == run.n_half_steps - 1


def test_collapse_explorer_redraws_and_shows_the_message_at_zero():
    box = gx.collapse_explorer()
    assert box.state["n_updates"] == 1
    box.controls["smoothing"].value = 0.0
    assert box.state["n_updates"] == 2
    assert any("collapsed" in t for t in messages(box.state["figure"]))
    assert n_colours(render(box.state["figure"])) > 2


# ---------------------------------------------------------------------------
# EM scrubber
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def run():
    return gx.em_run()


def test_em_run_keeps_the_history(run):
    assert len(run.fit.history) == run.fit.n_iter + 1
    assert len(run.resps) == run.fit.n_iter
    assert run.n_half_steps == 2 * run.fit.n_iter
    # resps[i] are the E-step of iteration i + 1: their log-likelihood is the recorded one
    for i in (0, run.fit.n_iter - 1):
        _, ll = gh.e_step(run.X, *run.fit.history[i])
        assert np.isclose(ll, run.fit.log_likelihoods[i])


def test_half_step_captions_alternate_e_and_m(run):
    captions = [gx._half_step_caption(run, step) for step in range(run.n_half_steps)]
    for step, caption in enumerate(captions):
        iteration = step // 2 + 1
        kind = "E-step" if step % 2 == 0 else "M-step"
        assert caption.startswith(f"iteration {iteration}, {kind}: ")
    assert "no half-step" in gx._half_step_caption(run, run.n_half_steps)


@pytest.mark.parametrize("step", [0, 1, 4, 5, -1])
def test_scrubber_figure_draws(run, step):
    step = run.n_half_steps - 1 if step == -1 else step
    fig = gx.scrubber_figure(run, step)
    assert n_colours(render(fig)) > 20
    kind = "E" if step % 2 == 0 else "M"
    assert f"{kind}-step" in fig.texts[0].get_text()
    ax_ll = fig.axes[1]
    marker = ax_ll.lines[-1]  # plot_log_likelihood's marker at the current iteration
    assert marker.get_xdata()[0] == step // 2 + 1


def mean_markers(ax):
    """The large filled crosses that mark the means, as (x, y, face colour)."""
    return [
        (*line.get_xydata()[0], tuple(line.get_markerfacecolor()[:3]))
        for line in ax.lines
        if line.get_marker() == "X"
    ]


def test_scrubber_means_are_large_crosses_in_their_components_colours(run):
    for step in (0, 5):
        ax_data = gx.scrubber_figure(run, step).axes[0]
        iteration = step // 2 + 1
        means = run.fit.history[iteration if step % 2 else iteration - 1][1]
        marks = mean_markers(ax_data)
        assert len(marks) == 3
        for (x, y, face), mean, color in zip(marks, means, run.colors, strict=True):
            assert np.allclose((x, y), mean) and np.allclose(face, color)
        big = [line for line in ax_data.lines if line.get_marker() == "X"]
        assert all(line.get_markersize() >= 12 and line.get_zorder() > 2 for line in big)
    old_means = [line for line in ax_data.lines if line.get_marker() == "o"]  # the M-step
    assert np.allclose([line.get_xydata()[0] for line in old_means], run.fit.history[2][1])


def test_scrubber_colours_follow_the_true_clusters(run):
    """The component that ends on a true cluster has that cluster's colour throughout."""
    assert np.allclose(run.colors, gp.aligned_colors(gh.seed_parameters(5.0)[1], run.fit.means))


def test_scrubber_figure_out_of_range_is_a_message(run):
    assert is_message(gx.scrubber_figure(run, run.n_half_steps + 3))


# ---------------------------------------------------------------------------
# Collapse demo
# ---------------------------------------------------------------------------


def test_collapse_variance_sits_on_the_floor_and_the_gain_grows():
    curves = gx.collapse_curves()
    small = (curves["smoothing"] <= 1e-4) & ~curves["collapsed"]
    assert small.sum() >= 4
    assert np.allclose(curves["spike_variance"][small], curves["smoothing"][small], rtol=0.05)
    gain = curves["gain"][small]
    assert np.all(np.diff(gain) < 0)  # smoothing increases along the array
    assert np.allclose(-np.diff(gain), np.log(10), atol=0.05)


def test_collapse_at_zero_gives_the_helpers_message():
    fit, message = gx.collapse_fit(0.0)
    assert fit is None
    assert "collapsed" in message and "smoothing" in message
    with pytest.raises(ValueError, match="collapsed"):
        gx.collapse_gain(0.0)


@pytest.fixture
def fresh_collapse_curves():
    """collapse_curves computed anew in the test, and again after it (no stale cache)."""
    gx.collapse_curves.cache_clear()
    yield
    gx.collapse_curves.cache_clear()


def test_collapse_curves_are_computed_once_and_read_only():
    curves = gx.collapse_curves()
    assert gx.collapse_curves() is curves
    with pytest.raises(ValueError, match="read-only"):
        curves["gain"][0] = 0.0


def test_a_collapse_figure_runs_collapse_fit_once(monkeypatch):
    gx.collapse_curves()  # the curves are cached: a draw needs only the current smoothing's fit
    calls = []
    real = gx.collapse_fit

    def counted(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(gx, "collapse_fit", counted)
    for smoothing in (1e-6, 0.0):
        render(gx.collapse_figure(smoothing))
    assert [args[0] for args in calls] == [1e-6, 0.0]


def test_collapse_demo_survives_the_helpers_stopping_early(monkeypatch, fresh_collapse_curves):
    """If the helpers declare a collapse already at small smoothings > 0, the demo still draws."""
    real = gx.collapse_fit
    message = "expected every covariance to stay positive definite, got a collapse"

    def stops_early(smoothing, *args, **kwargs):
        return (None, message) if smoothing < 1e-9 else real(smoothing, *args, **kwargs)

    monkeypatch.setattr(gx, "collapse_fit", stops_early)
    curves = gx.collapse_curves()
    assert curves["collapsed"].sum() == 3 and np.isnan(curves["gain"][:3]).all()
    for smoothing in (1e-11, 1e-6, 0.0):
        fig = gx.collapse_figure(smoothing)
        render(fig)
        assert ("EM stops" in fig.texts[0].get_text()) == (smoothing < 1e-9)


@pytest.mark.parametrize("smoothing", [value for _, value in gx.COLLAPSE_SMOOTHINGS[::3]])
def test_collapse_figure_draws(smoothing):
    fig = gx.collapse_figure(smoothing)
    assert n_colours(render(fig)) > 5
    caption = fig.texts[0].get_text()
    assert ("EM stops" in caption) == (gx.collapse_fit(smoothing)[1] is not None)
    if smoothing == 0:
        assert "collapsed" in caption


# ---------------------------------------------------------------------------
# Animation and exercise helper
# ---------------------------------------------------------------------------


def test_em_animation_is_small_and_reproducible(tmp_path, run):
    from PIL import Image

    data = gx.animation_gif(run)
    assert len(data) < 1.5e6
    with Image.open(io.BytesIO(data)) as gif:
        assert gif.format == "GIF" and 20 <= gif.n_frames <= 30
        assert gif.info["duration"] == 330  # 3 frames per second, in GIF's centiseconds
    assert gx.animation_gif(run) == data


def test_animation_numbers_iterations_as_the_scrubber_does(run):
    """Frame t is iteration t: the parameters it starts with and the log-likelihood its
    E-step computes, plotted at t as gp.plot_log_likelihood and the scrubber plot it."""
    fig = Figure(figsize=(8, 3.6), dpi=40)
    frames = gx._AnimationFrames(run, fig)
    N, n_iter = len(run.X), run.fit.n_iter
    reference = gp.plot_log_likelihood(
        run.fit.log_likelihoods, ax=Figure().add_subplot(), per_sample=N
    ).lines[0]
    for t in (1, 2, n_iter):
        frames(t)
        assert fig.texts[0].get_text().startswith(f"iteration {t}")
        assert np.array_equal(frames.curve.get_xdata(), np.arange(1, t + 1))
        assert np.allclose(frames.curve.get_ydata(), reference.get_ydata()[:t])
        assert list(frames.marker.get_xdata()) == [t]
        assert np.allclose([m[:2] for m in mean_markers(frames.ax_data)], run.fit.history[t - 1][1])
    assert "start" in (frames(1), fig.texts[0].get_text())[1]
    frames(n_iter + 1)  # the fitted mixture: the full curve, no iteration marked
    assert np.allclose([m[:2] for m in mean_markers(frames.ax_data)], run.fit.means)
    assert len(frames.curve.get_xdata()) == n_iter and len(frames.marker.get_xdata()) == 0
    assert f"after {n_iter} iterations" in fig.texts[0].get_text()


def test_smallest_recovering_separation():
    s = gx.smallest_recovering_separation()
    assert s is not None and 0 < s < 5
    assert gx._worst_mean_error(s) < 0.5 <= gx._worst_mean_error(s - 0.25)


def test_show_animation_embeds_the_gif_in_the_output(monkeypatch, run):
    """The GIF is the output itself (no link to a file: it shows wherever Jupyter started),
    named for the page's folder; nothing is written."""
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, **kw: shown.append((obj, kw)))
    gx.show_animation(run)
    ((image, kwargs),) = shown
    assert isinstance(image, IPython.display.Image) and image.format == "gif"
    assert image.data[:6] == b"GIF89a" and image.data == gx.animation_gif(run)
    assert kwargs["metadata"] == {"filename": "em_converging.gif"}


@pytest.mark.parametrize("make", [gx.fit_explorer, gx.collapse_explorer, gx.em_scrubber])
def test_an_unrun_notebook_shows_a_line_on_running_the_cell(make):
    """The widget's text/plain, which a saved notebook shows before its kernel runs."""
    bundle = make()._repr_mimebundle_()
    text = bundle["text/plain"]
    assert "running kernel" in text and "make lab" in text and "above" in text
    assert "VBox" not in text and len(text) < 200
    assert "application/vnd.jupyter.widget-view+json" in bundle  # a live front end still draws


def test_the_widget_picture_fits_the_page_and_stays_sharp():
    from PIL import Image

    box = gx.fit_explorer()
    html = box.children[1].value
    assert 'style="white-space: pre-wrap' in html  # the caption wraps
    match = re.search(r'src="data:image/png;base64,([^"]+)".*max-width: (\d+)px', html)
    with Image.open(io.BytesIO(base64.b64decode(match.group(1)))) as png:
        assert png.width >= 1.4 * int(match.group(2))  # more pixels than CSS pixels
    assert "width: 100%" in html


def test_an_unexpected_error_in_a_view_becomes_a_message(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(gx, "_fit_view", broken)
    box = gx.fit_explorer()
    assert box.state["n_updates"] == 1
    assert is_message(box.state["figure"])
    assert "RuntimeError: boom" in " ".join(messages(box.state["figure"]))
    assert "<img" in box.children[1].value

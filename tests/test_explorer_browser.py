"""The explorer app in a real browser: Voila serves app/explorer.ipynb as `make app` does
(preheated kernels, a small pool), headless Chromium gets a page from the pool, moves the
separation and K sliders, and the figure the widget shows must change, with no error; at
1280x800 and at 800x600 the fit explorer's first slider is on the first screen, the three
widgets come in order with no notebook-only text, and nothing on the page overflows
horizontally; the kernels of closed pages are culled by the server, those of open pages and
of the pool kept. And the short form of `make load-test`: a few simulated users on the same
server each see only their own figures.

Starts its own Voila on 127.0.0.1 (a free port, bench/load_test.py's server) and its own
Chromium; both are stopped in fixture finalizers, so no process outlives the test. The browser
tests skip only when Debian's chromium or chromedriver is missing. Saves screenshots to
build/explorer*.png.
"""

import asyncio
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from bench import load_test  # the app's options, its server, its users

ROOT = Path(__file__).resolve().parent.parent

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
BUILD = ROOT / "build"

PAGE_TIMEOUT = 120  # a page without a preheated kernel waits for Voila to run the app
UPDATE_TIMEOUT = 60  # one slider move: kernel refit + redraw + browser update

# `make app`'s options (load_test.APP_OPTIONS), with short culling intervals: a kernel without a
# page (no websocket) that has been idle CULL_IDLE_TIMEOUT seconds is shut down.
CULL_INTERVAL = 1  # seconds between the server's checks
CULL_IDLE_TIMEOUT = 20  # seconds: a page in a browser on a busy machine may take 10 s to connect
POOL = 2  # preheated kernels (the Makefile's APP_POOL is sized for a class)
VOILA_OPTIONS = (
    # The pool refills 1 s after a page takes a kernel: the tests open pages one after another.
    *(
        option
        for option in load_test.with_fill_delay(load_test.APP_OPTIONS, 1)
        if "cull_" not in option
    ),
    f"--MappingKernelManager.cull_interval={CULL_INTERVAL}",
    f"--MappingKernelManager.cull_idle_timeout={CULL_IDLE_TIMEOUT}",
    "--MappingKernelManager.cull_connected=False",
)
WINDOW_SIZES = [(1280, 800), (800, 600)]

EXPLORER = ".gmm-fit-explorer"
ALL_EXPLORERS = (EXPLORER, ".gmm-em-scrubber", ".gmm-collapse-explorer")
SHOWN = f"{EXPLORER} .widget-html"  # the caption and the picture
FIGURE = f"{SHOWN} img"
# An exception shown anywhere: a traceback, "SomeError: ...", or Voila's own error note. (The
# prose may name `ValueError`; a raised one always comes with its colon.)
ERROR_PATTERN = re.compile(r"Traceback|\b\w*(Error|Exception): |There was an error")
STDERR = '[data-mime-type="application/vnd.jupyter.stderr"]'

needs_chromium = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
    reason=f"needs Debian's chromium ({CHROMIUM}) and chromedriver ({CHROMEDRIVER}); to enable: "
    "apt-get install chromium chromium-driver (as root; .ci/run does this), then make browser",
)


@pytest.fixture(scope="module")
def voila():
    """The Voila server: ``.url``, ``.process`` (its kernels are its child processes), ``.log``."""
    log_path = BUILD / "voila.log"  # kept for diagnosis after a failure
    try:
        with load_test.voila_server(log_path, VOILA_OPTIONS, pool=POOL) as (url, process):
            asyncio.run(load_test.wait_for_quiet_kernels(process, POOL))
            yield SimpleNamespace(url=url, process=process, log=log_path)
    except RuntimeError as err:  # did not start
        pytest.fail(str(err))


@pytest.fixture(scope="module")
def voila_url(voila):
    return voila.url


@pytest.fixture(scope="module")
def driver():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
        # No network here: Voila's page links a CSS file on a CDN, and a request that
        # hangs blocks the page. Resolve every host but the local one to "not found".
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        "--disable-dev-shm-usage",
        "--window-size={},{}".format(*WINDOW_SIZES[0]),
        f"--user-data-dir={profile}",
    ):
        options.add_argument(arg)
    # Do not wait for any load event: Voila streams the page while it runs the notebook, and
    # the test polls for what it needs instead (a blocked page load cannot time out the test).
    options.page_load_strategy = "none"
    service = Service(executable_path=str(CHROMEDRIVER))
    browser = webdriver.Chrome(service=service, options=options)
    try:
        yield browser
    finally:
        browser.quit()
        shutil.rmtree(profile, ignore_errors=True)


def figure_src(browser):
    """The data URL of the fit explorer's picture, or None (read in one step: no stale nodes)."""
    return browser.execute_script(
        "const img = document.querySelector(arguments[0]); return img ? img.src : null;", FIGURE
    )


def output_text(browser):
    """The text the fit explorer prints above its picture: the settings and the verdict."""
    return browser.execute_script(
        "const out = document.querySelector(arguments[0]); return out ? out.innerText : '';",
        SHOWN,
    )


def wait_for(browser, condition, timeout, what):
    """Poll ``condition(browser)`` until it returns something truthy; fail after ``timeout`` s.

    Exceptions from the condition (a node replaced while it was read, a page still loading)
    count as "not yet"; the last one is reported if time runs out.
    """
    deadline = time.monotonic() + timeout
    last_error = None
    while True:
        try:
            value = condition(browser)
            if value:
                return value
        except Exception as err:  # noqa: BLE001 - any driver error just means "not yet"
            last_error = err
        if time.monotonic() > deadline:
            BUILD.mkdir(exist_ok=True)
            try:
                browser.save_screenshot(str(BUILD / "explorer_failure.png"))
            except Exception:  # noqa: BLE001 - the screenshot is only a diagnosis aid
                pass
            detail = f" (last error: {last_error!r})" if last_error else ""
            raise AssertionError(f"timed out after {timeout} s waiting for {what}{detail}")
        time.sleep(0.25)


def slider(browser, description):
    """The noUiSlider handle and the readout of the explorer's slider labelled ``description``."""
    for box in browser.find_elements("css selector", f"{EXPLORER} .widget-slider"):
        label = box.find_element("css selector", ".widget-label").text
        if label.strip() == description:
            handle = box.find_element("css selector", ".noUi-handle")
            readout = box.find_element("css selector", ".widget-readout")
            return handle, readout
    raise AssertionError(f"no slider labelled {description!r}")


def press(browser, description, key, times):
    """Focus a slider's handle and press an arrow key: what a keyboard user does."""
    from selenium.webdriver.common.action_chains import ActionChains

    handle, readout = slider(browser, description)
    before = readout.text
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", handle)
    handle.click()
    actions = ActionChains(browser)
    for _ in range(times):
        actions.send_keys(key)
    actions.perform()
    wait_for(browser, lambda b: readout.text != before, 10, f"the {description} readout to move")
    return before, readout.text


def assert_no_error(browser):
    text = browser.find_element("css selector", "body").text
    match = ERROR_PATTERN.search(text)
    assert match is None, f"{match.group()!r} on the page:\n{text[-2000:]}"
    explorer = browser.find_element("css selector", EXPLORER).text
    assert "Traceback" not in explorer and "Error" not in explorer, explorer
    stderr = [e.text for e in browser.find_elements("css selector", STDERR)]
    assert not stderr, f"output on stderr: {stderr}"


@needs_chromium
def test_fit_explorer_in_the_browser(voila, driver):
    from selenium.webdriver.common.keys import Keys

    voila_url = voila.url
    started = time.monotonic()
    driver.get(voila_url)
    first = wait_for(driver, figure_src, PAGE_TIMEOUT, "the fit explorer's first figure")
    assert first.startswith("data:image/png;base64,")
    assert "s = 5, K = 3," in output_text(driver)
    first_render = time.monotonic() - started
    assert_no_error(driver)
    assert "Using pre-heated kernel" in voila.log.read_text()  # the page came from the pool

    # Arrow keys on a slider's handle: each press is one change (continuous_update=False
    # only holds back dragging), so wait for the last one's caption, not just any new picture.
    assert press(driver, "separation s", Keys.ARROW_LEFT, 4) == ("5.00", "4.00")
    wait_for(
        driver,
        lambda b: "s = 4, K = 3," in output_text(b) and figure_src(b) not in (None, first),
        UPDATE_TIMEOUT,
        "the figure for s = 4",
    )
    second = figure_src(driver)

    assert press(driver, "components K", Keys.ARROW_RIGHT, 1) == ("3", "4")
    wait_for(
        driver,
        lambda b: "s = 4, K = 4," in output_text(b) and figure_src(b) not in (None, first, second),
        UPDATE_TIMEOUT,
        "the figure for s = 4, K = 4",
    )
    text = output_text(driver)
    for word in ("final log-likelihood", "iterations", "BIC", "converged"):
        assert word in text, text
    assert_no_error(driver)

    # Typing a value into a slider's readout: the keyboard way that works in Notebook 7 too,
    # whose command mode takes the arrow keys from a focused slider (chapter 5 says so).
    from selenium.webdriver.common.action_chains import ActionChains

    _, readout = slider(driver, "separation s")
    readout.click()
    ActionChains(driver).key_down(Keys.CONTROL).send_keys("a").key_up(Keys.CONTROL).send_keys(
        "3", Keys.ENTER
    ).perform()
    wait_for(driver, lambda b: "s = 3, K = 4," in output_text(b), UPDATE_TIMEOUT, "s = 3 typed")

    BUILD.mkdir(exist_ok=True)
    explorer = driver.find_element("css selector", EXPLORER)
    driver.execute_script("arguments[0].scrollIntoView({block: 'start'});", explorer)
    time.sleep(0.5)  # let the new image paint before the screenshot
    driver.save_screenshot(str(BUILD / "explorer.png"))
    print(
        f"first figure after {first_render:.1f} s (preheated), whole test "
        f"{time.monotonic() - started:.1f} s"
    )


# Where the app's parts are on a freshly loaded page: the top and bottom of the fit explorer's
# first slider (in the window, not scrolled), the tops of the three widgets, and the page text.
LAYOUT_SCRIPT = """
const handle = document.querySelector(arguments[0] + ' .widget-slider .noUi-handle');
const slider = handle.closest('.widget-slider').getBoundingClientRect();
const tops = arguments[1].map(s => document.querySelector(s).getBoundingClientRect().top);
return [slider.top, slider.bottom, window.innerHeight, tops, document.body.innerText];
"""
NOTEBOOK_ONLY = ("make lab", "make app", "replace None", "Notebook 7", "Exercise")


@needs_chromium
@pytest.mark.parametrize("size", WINDOW_SIZES, ids=[f"{w}x{h}" for w, h in WINDOW_SIZES])
def test_the_app_opens_on_the_fit_explorer(voila_url, driver, size):
    """The fit explorer's first slider on the first screen, then the scrubber, then the
    collapse demo, and no text that only makes sense in the notebook."""
    driver.set_window_size(*size)
    driver.get("about:blank")
    open_app(driver, voila_url)
    driver.execute_script("window.scrollTo(0, 0);")
    time.sleep(0.5)  # the layout settles after the last picture
    top, bottom, height, tops, text = driver.execute_script(LAYOUT_SCRIPT, EXPLORER, ALL_EXPLORERS)
    BUILD.mkdir(exist_ok=True)
    driver.save_screenshot(str(BUILD / f"app_{size[0]}x{size[1]}.png"))
    print(f"{size[0]}x{size[1]}: the first slider at {top:.0f}-{bottom:.0f} px of {height} px")
    assert 0 <= top and bottom <= height, f"the first slider at {top}-{bottom} px, window {height}"
    assert tops == sorted(tops), f"the widgets are not in order: {tops}"
    for phrase in NOTEBOOK_ONLY:
        assert phrase not in text, f"{phrase!r} on the app's page"


# Every visible element of the page: does it end right of the window, or hide part of its
# content behind a scrollbar or a clip? (A figure or caption too wide for its column does one.)
OVERFLOW_SCRIPT = """
const width = document.documentElement.clientWidth;
const name = (el) => el.tagName.toLowerCase() + (typeof el.className === 'string' && el.className
    ? '.' + el.className.trim().split(/\\s+/).slice(0, 3).join('.') : '');
const problems = [];
const page = document.documentElement.scrollWidth;
if (page > width + 1) problems.push(`the page is ${page} px wide in a ${width} px window`);
for (const el of document.body.querySelectorAll('*')) {
    const style = getComputedStyle(el);
    if (style.display === 'none' || style.visibility === 'hidden') continue;
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    if (box.right > width + 1) problems.push(`${name(el)} ends at ${Math.round(box.right)} px`);
    if (['auto', 'scroll', 'hidden', 'clip'].includes(style.overflowX)
            && el.scrollWidth > el.clientWidth + 1) {
        problems.push(`${name(el)} hides ${el.scrollWidth - el.clientWidth} px of its content`);
    }
}
return [width, problems.slice(0, 15)];
"""


def every_explorer_drawn(browser):
    return browser.execute_script(
        "return arguments[0].every(s => document.querySelector(s + ' .widget-html img'));",
        list(ALL_EXPLORERS),
    )


def open_app(browser, url):
    """Load the app and wait for a picture in each of the three explorers; the seconds taken."""
    started = time.monotonic()
    browser.get(url)
    wait_for(browser, every_explorer_drawn, PAGE_TIMEOUT, "a picture in every explorer")
    return time.monotonic() - started


def screenshot(browser, selector, name):
    element = browser.find_element("css selector", selector)
    browser.execute_script("arguments[0].scrollIntoView({block: 'start'});", element)
    time.sleep(0.5)  # let the layout settle before the screenshot
    browser.save_screenshot(str(BUILD / name))


@needs_chromium
@pytest.mark.parametrize("size", WINDOW_SIZES, ids=[f"{w}x{h}" for w, h in WINDOW_SIZES])
def test_nothing_overflows_horizontally(voila_url, driver, size):
    if not every_explorer_drawn(driver):
        open_app(driver, voila_url)
    driver.set_window_size(*size)
    wait_for(
        driver,
        lambda b: b.execute_script("return window.innerWidth") == size[0],
        10,
        f"a window {size[0]} px wide",
    )
    time.sleep(0.5)  # the widgets' layout follows the resize
    width, problems = driver.execute_script(OVERFLOW_SCRIPT)
    BUILD.mkdir(exist_ok=True)
    for selector in (EXPLORER, ".gmm-em-scrubber"):
        screenshot(driver, selector, f"explorer_{size[0]}x{size[1]}{selector.split('-')[1]}.png")
    assert width == size[0]
    assert not problems, f"at {size[0]}x{size[1]}:\n" + "\n".join(problems)
    # The picture follows the width it is given, and has at least as many pixels.
    shown, natural = driver.execute_script(
        "const img = document.querySelector(arguments[0]);"
        "return [img.getBoundingClientRect().width, img.naturalWidth];",
        FIGURE,
    )
    assert shown <= width and natural >= shown


def test_make_app_runs_voila_with_the_tested_options():
    """`make app` and these tests (and bench/load_test.py) start Voila the same way: the same
    app, options, environment and (in the Makefile and the load test) pool size."""
    dry_run = subprocess.run(
        ["make", "--no-print-directory", "-n", "app"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    dry_run = dry_run.replace("\\\n", " ")  # the recipe's continued lines as one
    command = next(line for line in dry_run.splitlines() if "bin/voila " in line)
    words = command.split()
    for option in load_test.APP_OPTIONS:
        assert option in words, f"{option} missing from `make app`: {command}"
    for name, value in load_test.APP_ENV.items():
        assert f"{name}={value}" in words, f"{name}={value} missing from `make app`: {command}"
    assert load_test.NOTEBOOK in words and f"--pool_size={load_test.POOL}" in words
    assert load_test.CULL_IDLE_TIMEOUT >= 60  # a page that reconnects within a minute keeps it
    assert "--preheat_kernel=True" in load_test.APP_OPTIONS
    load = subprocess.run(
        ["make", "--no-print-directory", "-n", "load-test", "USERS=7"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"--users 7 --pool {load_test.POOL}" in load


def test_a_few_users_each_see_only_their_own_figures(voila):
    """The short form of `make load-test`: 2 users, each moving a slider every 2 s for 10 s."""
    results = asyncio.run(
        load_test.simulate(voila.url, voila.process, users=2, duration=10, interval=2, pool=POOL)
    )
    print(load_test.report({**results, "load_before": os.getloadavg()}))
    assert len(results["ready_together"]) == len(results["ready_pairs"]) == 2
    assert results["lost"] == 0, "a move got no picture"
    assert not results["foreign"], results["foreign"]
    assert results["moves"] >= 2 * 4 and len(results["latencies"]) == results["moves"]
    assert all(n >= 5 for n in results["figures_per_user"])  # seed, moves: each its picture
    assert results["peak_kernels"] >= 2 + POOL


@needs_chromium
def test_closed_pages_free_their_kernels_and_open_ones_keep_theirs(voila, driver):
    from selenium.webdriver.common.keys import Keys

    driver.set_window_size(*WINDOW_SIZES[0])
    for _ in range(3):  # a load, two reloads: each page load takes a kernel from the pool
        open_app(driver, voila.url)
    assert len(load_test.kernel_processes(voila.process)) > POOL, "no kernel for the open page"

    # An open page keeps its kernel however long it sits idle: its slider still works. The
    # kernels of the pages before it go; the pool's stay (refilled).
    time.sleep(CULL_IDLE_TIMEOUT + 3 * CULL_INTERVAL)
    wait_for(
        driver,
        lambda b: len(load_test.kernel_processes(voila.process)) == 1 + POOL,
        60,
        "the open page's kernel and the pool's, no more",
    )
    press(driver, "components K", Keys.ARROW_RIGHT, 1)
    wait_for(driver, lambda b: ", K = 4," in output_text(b), UPDATE_TIMEOUT, "the K = 4 figure")

    driver.get("about:blank")  # close the page
    closed = time.monotonic()
    wait_for(
        driver,
        lambda b: len(load_test.kernel_processes(voila.process)) == POOL,
        CULL_IDLE_TIMEOUT + 2 * CULL_INTERVAL + 10,
        "the closed page's kernel to be culled (the pool's stay)",
    )
    print(f"last kernel gone {time.monotonic() - closed:.1f} s after its page closed")
    assert "Culling 'idle' kernel" in voila.log.read_text()  # culled, not crashed

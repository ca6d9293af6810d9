"""The fit explorer in a real browser: Voila serves notebook 05, headless Chromium moves the
separation and K sliders, and the figure the widget shows must change, with no error.

Starts its own Voila on 127.0.0.1 (a free port) and its own Chromium; both are stopped in
fixture finalizers, so no process outlives the test. Skips only when Debian's chromium or
chromedriver is missing. Saves a screenshot to build/explorer.png.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = "notebooks/05_interactive_explorer.ipynb"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
BUILD = ROOT / "build"

VOILA_START_TIMEOUT = 60  # seconds until the server answers at all
PAGE_TIMEOUT = 120  # Voila runs the whole notebook before the widgets appear
UPDATE_TIMEOUT = 60  # one slider move: kernel refit + redraw + browser update

# Voila's default AsyncMappingKernelManager (here with ipykernel 7.4, jupyter_server 2.21) now
# and then never sees a widget cell's execute_reply: the kernel is idle and the page stays at
# "Executing n of 40" for good (6 of 24 page loads here, at whichever widget cell; never without
# the widget cells). With the synchronous MappingKernelManager, 0 of 26 loads hung. `make app`
# needs the same option. (The suggestion comes from voila-dashboards/voila#1428.)
VOILA_WORKAROUND = (
    "--VoilaConfiguration.multi_kernel_manager_class="
    "jupyter_server.services.kernels.kernelmanager.MappingKernelManager",
)

EXPLORER = ".gmm-fit-explorer"
SHOWN = f"{EXPLORER} .widget-html"  # the caption and the picture
FIGURE = f"{SHOWN} img"
# An exception shown anywhere: a traceback, "SomeError: ...", or Voila's own error note. (The
# prose may name `ValueError`; a raised one always comes with its colon.)
ERROR_PATTERN = re.compile(r"Traceback|\b\w*(Error|Exception): |There was an error")
STDERR = '[data-mime-type="application/vnd.jupyter.stderr"]'

pytestmark = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
    reason=f"needs Debian's chromium ({CHROMIUM}) and chromedriver ({CHROMEDRIVER})",
)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop(process, timeout=15):
    """Stop a process group we started: SIGTERM, then SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=timeout)
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture(scope="module")
def voila_url():
    port = free_port()
    BUILD.mkdir(exist_ok=True)
    log_path = BUILD / "voila.log"  # kept for diagnosis after a failure
    env = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg")
    voila = ROOT / ".venv" / "bin" / "voila"
    voila = str(voila) if voila.exists() else str(Path(sys.executable).with_name("voila"))
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [
                voila,
                NOTEBOOK,
                "--no-browser",
                f"--port={port}",
                "--Voila.ip=127.0.0.1",
                "--Voila.port_retries=0",
                *VOILA_WORKAROUND,
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the kernel goes down with it
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + VOILA_START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"voila exited with {process.returncode}:\n{log_path.read_text()}")
            try:
                # A missing static file: any HTTP answer means the server is up, and unlike
                # the page itself it does not start a kernel.
                urllib.request.urlopen(url + "voila/static/ready-check", timeout=5).close()
                break
            except urllib.error.HTTPError:
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    pytest.fail(f"voila did not answer in time:\n{log_path.read_text()}")
                time.sleep(0.5)
        yield url
    finally:
        stop(process)


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
        "--window-size=1280,1000",
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


def test_fit_explorer_in_the_browser(voila_url, driver):
    from selenium.webdriver.common.keys import Keys

    started = time.monotonic()
    driver.get(voila_url)
    first = wait_for(driver, figure_src, PAGE_TIMEOUT, "the fit explorer's first figure")
    assert first.startswith("data:image/png;base64,")
    assert "s = 5, K = 3," in output_text(driver)
    first_render = time.monotonic() - started
    assert_no_error(driver)

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

    BUILD.mkdir(exist_ok=True)
    explorer = driver.find_element("css selector", EXPLORER)
    driver.execute_script("arguments[0].scrollIntoView({block: 'start'});", explorer)
    time.sleep(0.5)  # let the new image paint before the screenshot
    driver.save_screenshot(str(BUILD / "explorer.png"))
    print(f"first figure after {first_render:.1f} s, whole test {time.monotonic() - started:.1f} s")

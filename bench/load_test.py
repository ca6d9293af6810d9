"""A class on the explorer app: simulated users open it and move the fit explorer's sliders.

Starts Voila on the app (app/explorer.ipynb) as ``make app`` does (``APP_OPTIONS``,
``APP_ENV``, a pool of ``--pool`` preheated kernels, on 127.0.0.1 and a free port) and waits
until the pool is full. Then, as a class does, all ``--users`` open the page in the same
second; each talks to their own kernel the way the page does, over the kernel's websocket
with the widget messages of ipywidgets 8, and every ``--interval`` seconds moves the
separation or the K slider and waits for the picture to come back. Their kernels are shut
down (as a closed page does), the pool refills, and the same number of users open the page
two at a time. Reports:

- page open (p50, p95, max): from the request to a usable slider (the page received, its
  kernel's websocket open, the fit explorer's widgets found), all at once and two at a time;
- the time from a move to the new picture (p50, p95, max): the kernel's refit and redraw,
  plus the queueing when several kernels want the same cores; lost moves (no picture in
  ``FIGURE_TIMEOUT`` s);
- peak memory of the server and its kernels, the pool included (RSS, summed), and per kernel;
- CPU seconds of the kernels and of the server, and kernel CPU per move;
- that every user saw only their own figures: each user sets its own seed, and every
  picture a user receives must carry that seed and the last values that user set.

Usage (from the repository root)::

    make load-test USERS=20                         # 20 users: bench/results/load_test.md
    .venv/bin/python -m bench.load_test --users 3 --pool 3 --duration 20 --no-write

The short form runs in ``make test`` (tests/test_explorer_browser.py). The machine's other
load counts: the report states the load average before the run.
"""

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import psutil
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.websocket import websocket_connect

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = "app/explorer.ipynb"
RESULTS = ROOT / "bench" / "results" / "load_test.md"

# The options and environment of `make app` (Makefile, APP_OPTIONS, APP_ENV; the pool size is
# APP_POOL there, ``pool`` here); tests check the two agree.
KERNEL_MANAGER = "gmm.app_kernels.AppKernelManager"
CULL_IDLE_TIMEOUT = 120  # seconds: a kernel without a page idle this long is shut down
CULL_INTERVAL = 30  # seconds between the server's checks
FILL_DELAY = 15  # seconds from a page taking a pool kernel to the start of its replacement
APP_OPTIONS = (
    f"--VoilaConfiguration.multi_kernel_manager_class={KERNEL_MANAGER}",
    f"--MappingKernelManager.cull_idle_timeout={CULL_IDLE_TIMEOUT}",
    f"--MappingKernelManager.cull_interval={CULL_INTERVAL}",
    "--MappingKernelManager.cull_connected=False",
    "--preheat_kernel=True",
    f"--VoilaKernelManager.fill_delay={FILL_DELAY}",
    "--VoilaExecutor.iopub_timeout=60",
)
APP_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
POOL = 20  # the Makefile's APP_POOL
POOL_FILLED = re.compile(r"Kernel pool of \S+ is filled with (\d+) kernel")

PAGE_TIMEOUT = 300  # seconds for Voila to run the notebook for one page
FIGURE_TIMEOUT = 60  # seconds from a move to its picture before it counts as lost
SEPARATIONS = [1.0 + 0.25 * i for i in range(25)]  # 1 ... 7 on the slider's grid
CAPTION = re.compile(r"<pre[^>]*>s = ([0-9.]+), K = (\d+), .*?seed = (\d+),")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def with_fill_delay(options, seconds):
    """``options`` with Voila's pool refill delay set to ``seconds``."""
    kept = [option for option in options if "fill_delay=" not in option]
    return (*kept, f"--VoilaKernelManager.fill_delay={seconds:g}")


def voila_command(port, options=APP_OPTIONS, pool=POOL):
    voila = ROOT / ".venv" / "bin" / "voila"
    voila = str(voila) if voila.exists() else str(Path(sys.executable).with_name("voila"))
    return [
        voila,
        NOTEBOOK,
        "--no-browser",
        f"--port={port}",
        "--Voila.ip=127.0.0.1",
        "--Voila.port_retries=0",
        *options,
        f"--pool_size={pool}",
    ]


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


@contextlib.contextmanager
def voila_server(log_path, options=APP_OPTIONS, pool=POOL, start_timeout=60):
    """Voila on a free port of 127.0.0.1 in its own process group, with ``pool`` preheated
    kernels; yields (url, process) once it answers and its pool is full."""
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg", **APP_ENV)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            voila_command(port, options, pool),
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the kernels go down with it
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"voila exited with {process.returncode}:\n{log_path.read_text()}"
                )
            try:
                # A missing static file: any HTTP answer means the server is up, and unlike
                # the page itself it does not start a kernel.
                urllib.request.urlopen(url + "voila/static/ready-check", timeout=5).close()
                break
            except urllib.error.HTTPError:
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"voila did not answer in time:\n{log_path.read_text()}"
                    ) from None
                time.sleep(0.5)
        wait_for_pool(log_path, process, pool, timeout=start_timeout + 15 * pool)
        yield url, process
    finally:
        stop(process)


def pool_fills(log_path):
    """How many times the server's log says a pool is full."""
    return len(POOL_FILLED.findall(log_path.read_text(errors="replace")))


def wait_for_pool(log_path, process, pool, timeout, fills=1):
    """Wait until the log has said ``fills`` times that the pool is full (pool > 0)."""
    deadline = time.monotonic() + timeout
    while pool > 0 and pool_fills(log_path) < fills:
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the pool of {pool} kernels did not fill:\n{log_path.read_text()}")
        time.sleep(0.5)


def kernel_processes(process):
    """The server's kernels: its child processes running ipykernel."""
    kernels = []
    try:
        children = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return kernels
    for child in children:
        try:
            if any("ipykernel" in part for part in child.cmdline()):
                kernels.append(child)
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    return kernels


class Meter:
    """Samples the RSS of the server and its kernels every ``period`` seconds."""

    def __init__(self, process, period=0.5):
        self.server = psutil.Process(process.pid)
        self.period = period
        self.peak_total = self.peak_kernel = self.peak_server = 0
        self.peak_kernels = 0

    def sample(self):
        kernels = kernel_processes(self.server)
        rss = []
        for proc in kernels:
            with contextlib.suppress(psutil.NoSuchProcess):
                rss.append(proc.memory_info().rss)
        server = self.server.memory_info().rss
        self.peak_server = max(self.peak_server, server)
        self.peak_kernel = max([self.peak_kernel, *rss])
        self.peak_total = max(self.peak_total, server + sum(rss))
        self.peak_kernels = max(self.peak_kernels, len(rss))

    async def run(self, stop_event):
        while not stop_event.is_set():
            self.sample()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop_event.wait(), self.period)


def cpu_seconds(process):
    """CPU seconds so far of the server and of its kernels, as (server, kernels)."""
    server = psutil.Process(process.pid).cpu_times()
    kernels = 0.0
    for proc in kernel_processes(process):
        with contextlib.suppress(psutil.NoSuchProcess):
            times = proc.cpu_times()
            kernels += times.user + times.system
    return server.user + server.system, kernels


class User:
    """One simulated user: their page, their kernel's websocket, their slider moves."""

    def __init__(self, index, url):
        self.index, self.url = index, url
        # Every user's own data: the seed (the slider's 1-20) shows in each caption, and with
        # more than 20 users the separation and K this user set tell them apart.
        self.seed = index % 20 + 1
        self.sent = {(5.0, 3, 0)}  # every (separation, K, seed) this user asked for
        self.session = uuid.uuid4().hex
        self.models = {}  # model id -> state
        self.pending = {}  # msg_id of a request_state -> future
        self.html_id = None
        self.sliders = {}  # description -> model id
        self.values = {"separation": 5.0, "n_components": 3, "seed": 0}
        self.figures = []  # (time, caption values) of every picture received
        self.foreign = []  # pictures that were not this user's
        self.latencies = []
        self.lost = 0
        self.page_seconds = None  # request to the whole page received
        self.ready_seconds = None  # request to a usable slider
        self.kernel_id = None
        self.failed = None  # why the page did not become usable
        self._figure = None  # (expected values, future) while a move waits for its picture

    async def open(self):
        started = time.monotonic()
        response = await AsyncHTTPClient().fetch(
            HTTPRequest(self.url, request_timeout=PAGE_TIMEOUT, connect_timeout=30)
        )
        page = response.body.decode()
        self.page_seconds = time.monotonic() - started
        found = re.search(r'"kernelId": "([0-9a-f-]+)"', page)
        if found is None:  # kept for diagnosis
            saved = ROOT / "build" / f"load_test_page_{self.index}.html"
            saved.write_text(page)
            raise RuntimeError(f"user {self.index}: a page without a kernel, saved to {saved}")
        self.kernel_id = found.group(1)
        top_models = re.findall(r'"model_id": "([0-9a-f]+)"', page)
        ws_url = self.url.replace("http://", "ws://") + (
            f"api/kernels/{self.kernel_id}/channels?session_id={self.session}"
        )
        self.ws = await websocket_connect(ws_url, max_message_size=64 * 2**20)
        self.reader = asyncio.ensure_future(self._read())
        await self._find_widgets(top_models)
        self.ready_seconds = time.monotonic() - started

    async def shut_down(self):
        """What a closed page does: ask the server to shut its kernel down."""
        xsrf = uuid.uuid4().hex  # the same token as cookie and header passes the XSRF check
        with contextlib.suppress(Exception):
            await AsyncHTTPClient().fetch(
                HTTPRequest(
                    f"{self.url}voila/api/shutdown/{self.kernel_id}",
                    method="POST",
                    body=b"",
                    headers={"Cookie": f"_xsrf={xsrf}", "X-XSRFToken": xsrf},
                    request_timeout=60,
                )
            )

    def _message(self, msg_type, content, channel="shell"):
        msg_id = uuid.uuid4().hex
        header = {
            "msg_id": msg_id,
            "msg_type": msg_type,
            "username": f"user{self.index}",
            "session": self.session,
            "date": datetime.now(UTC).isoformat(),
            "version": "5.3",
        }
        message = {
            "header": header,
            "parent_header": {},
            "metadata": {},
            "content": content,
            "channel": channel,
            "buffers": [],
        }
        self.ws.write_message(json.dumps(message))
        return msg_id

    async def _request_state(self, model_id):
        msg_id = self._message(
            "comm_msg", {"comm_id": model_id, "data": {"method": "request_state"}}
        )
        future = asyncio.get_running_loop().create_future()
        self.pending[model_id] = future
        await asyncio.wait_for(future, FIGURE_TIMEOUT)
        return msg_id

    async def _find_widgets(self, top_models):
        """Walk the fit explorer's widget tree from the page's first widget to its controls."""
        todo = [top_models[0]]  # the fit explorer is the page's first widget
        while todo:
            model_id = todo.pop()
            await self._request_state(model_id)
            state = self.models[model_id]
            for child in state.get("children", []):
                todo.append(child.removeprefix("IPY_MODEL_"))
            if state.get("_model_name") == "HTMLModel":
                self.html_id = model_id
            description = state.get("description")
            if description in ("separation s", "components K", "seed"):
                self.sliders[description] = model_id
        if self.html_id is None or len(self.sliders) != 3:
            raise RuntimeError(f"user {self.index}: the fit explorer's widgets were not found")

    async def _read(self):
        while True:
            raw = await self.ws.read_message()
            if raw is None:
                return
            if isinstance(raw, bytes):
                continue  # messages with binary buffers: none of the explorer's
            msg = json.loads(raw)
            if msg["header"]["msg_type"] != "comm_msg":
                continue
            content = msg["content"]
            model_id, data = content["comm_id"], content["data"]
            state = data.get("state", {})
            if data.get("method") == "update":
                self.models.setdefault(model_id, {}).update(state)
                future = self.pending.pop(model_id, None)
                if future is not None and not future.done():
                    future.set_result(None)
            if model_id == self.html_id and "value" in state:
                self._picture(state["value"])

    def _picture(self, value):
        match = CAPTION.search(value)
        if match is None:
            self.foreign.append(value[:200])
            return
        seen = {
            "separation": float(match.group(1)),
            "n_components": int(match.group(2)),
            "seed": int(match.group(3)),
        }
        self.figures.append((time.monotonic(), seen))
        if (seen["separation"], seen["n_components"], seen["seed"]) not in self.sent:
            self.foreign.append(value[: value.find("</pre>")])
        if self._figure is not None and seen == self._figure[0] and not self._figure[1].done():
            self._figure[1].set_result(time.monotonic())

    async def move(self, description, value):
        """Set a slider as the page does and wait for the picture; the seconds it took."""
        name = {"separation s": "separation", "components K": "n_components"}.get(
            description, description
        )
        self.values[name] = value
        self.sent.add((self.values["separation"], self.values["n_components"], self.values["seed"]))
        future = asyncio.get_running_loop().create_future()
        self._figure = (dict(self.values), future)
        sent = time.monotonic()
        self._message(
            "comm_msg",
            {
                "comm_id": self.sliders[description],
                "data": {"method": "update", "state": {"value": value}, "buffer_paths": []},
            },
        )
        try:
            arrived = await asyncio.wait_for(future, FIGURE_TIMEOUT)
        except TimeoutError:
            self.lost += 1
            return None
        return arrived - sent

    async def play(self, duration, interval, start_delay, measure):
        """Move a slider every ``interval`` s for ``duration`` s (after ``start_delay``)."""
        rng = random.Random(self.index)
        await asyncio.sleep(start_delay)
        end = time.monotonic() + duration
        next_move = time.monotonic()
        while time.monotonic() < end:
            if rng.random() < 0.75:
                choices = [s for s in SEPARATIONS if s != self.values["separation"]]
                description, value = "separation s", rng.choice(choices)
            else:
                choices = [k for k in range(2, 7) if k != self.values["n_components"]]
                description, value = "components K", rng.choice(choices)
            seconds = await self.move(description, value)
            if measure and seconds is not None:
                self.latencies.append(seconds)
            next_move += interval
            await asyncio.sleep(max(0.0, next_move - time.monotonic()))

    async def close(self):
        self.ws.close()
        self.reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.reader


def percentiles(values):
    """(p50, p95, max) of ``values``, or Nones."""
    if not values:
        return None, None, None
    return float(np.percentile(values, 50)), float(np.percentile(values, 95)), max(values)


async def open_pages(url, users, first_index=0, concurrency=None):
    """Open ``users`` pages, at most ``concurrency`` at a time (None: all in the same instant);
    each user then shows their own data set (their seed). Returns the users."""
    # Tornado's client queues requests beyond 10 at a time: a class opens all pages at once.
    AsyncHTTPClient.configure(None, max_clients=max(10, users))
    crowd = [User(first_index + i, url) for i in range(users)]
    gate = asyncio.Semaphore(concurrency or users)

    async def open_one(user):
        try:
            async with gate:
                await user.open()
            if await user.move("seed", user.seed) is None:
                raise RuntimeError(f"user {user.index}: no picture for its seed")
        except Exception as err:  # noqa: BLE001 - a page that fails is counted, not fatal
            user.failed = f"{type(err).__name__}: {err}"
            user.ready_seconds = None

    await asyncio.gather(*(open_one(user) for user in crowd))
    return crowd


async def wait_for_quiet_kernels(process, count, timeout=900, quiet=3.0):
    """Wait until the server has at least ``count`` kernels and they have used under 0.05 CPU
    seconds per second for ``quiet`` s: every one has run the app (the pool is full)."""
    deadline = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        kernels = len(kernel_processes(process))
        cpu = cpu_seconds(process)[1]
        if kernels < count or last is None or cpu - last > 0.05 * 0.5:
            since = time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
        last = cpu
    raise RuntimeError(f"the server did not settle at {count}+ idle kernels in {timeout} s")


async def simulate(url, process, users, *, duration, interval, pool=0, pairs=True):
    """A class arriving at once (``users`` pages in the same instant); once the pool has
    refilled, a minute of moves; the pages closed; then the same number of pages two at a
    time (from a full pool again)."""
    stop_event = asyncio.Event()
    meter = Meter(process)
    metering = asyncio.ensure_future(meter.run(stop_event))
    crowd = []
    try:
        await wait_for_quiet_kernels(process, pool)
        opened = time.monotonic()
        crowd = await open_pages(url, users)
        open_seconds = time.monotonic() - opened
        await wait_for_quiet_kernels(process, users + pool)
        refill_seconds = time.monotonic() - opened
        cpu_before = cpu_seconds(process)
        started = time.monotonic()
        # Users start spread over one interval, as people do, not all in the same instant.
        await asyncio.gather(
            *(
                user.play(duration, interval, start_delay=interval * i / users, measure=True)
                for i, user in enumerate(crowd)
                if user.failed is None
            )
        )
        elapsed = time.monotonic() - started
        cpu_after = cpu_seconds(process)
        pairs_ready = []
        if pairs:
            for user in crowd:
                if hasattr(user, "ws"):
                    await user.close()
                await user.shut_down()
            await wait_for_quiet_kernels(process, pool)
            late = await open_pages(url, users, first_index=users, concurrency=2)
            pairs_ready = [user.ready_seconds for user in late if user.failed is None]
            crowd += late
    finally:
        stop_event.set()
        await metering
        for user in crowd:
            if hasattr(user, "ws"):
                await user.close()
    latencies = [s for user in crowd for s in user.latencies]
    together = [user.ready_seconds for user in crowd[:users] if user.failed is None]
    p50, p95, top = percentiles(latencies)
    return {
        "users": users,
        "pool": pool,
        "duration": duration,
        "interval": interval,
        "elapsed": elapsed,
        "open_seconds": open_seconds,
        "refill_seconds": refill_seconds,
        "page_seconds": [user.page_seconds for user in crowd[:users]],
        "ready_together": together,
        "ready_pairs": pairs_ready,
        "failed": [user.failed for user in crowd if user.failed],
        "moves": len(latencies) + sum(user.lost for user in crowd),
        "latencies": latencies,
        "lost": sum(user.lost for user in crowd),
        "foreign": [f for user in crowd for f in user.foreign],
        "figures_per_user": [len(user.figures) for user in crowd[:users]],
        "p50": p50,
        "p95": p95,
        "max": top,
        "peak_total_mb": meter.peak_total / 2**20,
        "peak_kernel_mb": meter.peak_kernel / 2**20,
        "peak_server_mb": meter.peak_server / 2**20,
        "peak_kernels": meter.peak_kernels,
        "server_cpu": cpu_after[0] - cpu_before[0],
        "kernel_cpu": cpu_after[1] - cpu_before[1],
    }


def run(users=10, *, duration=60.0, interval=2.0, pool=POOL, fill_delay=FILL_DELAY, log_path=None):
    """Start the app, simulate the users, stop the app; the results (see ``simulate``)."""
    log_path = log_path or ROOT / "build" / "load_test_voila.log"
    load_before = os.getloadavg()
    started = time.monotonic()
    options = with_fill_delay(APP_OPTIONS, fill_delay)
    with voila_server(log_path, options, pool=pool) as (url, process):
        asyncio.run(wait_for_quiet_kernels(process, pool))
        pool_seconds = time.monotonic() - started
        results = asyncio.run(
            simulate(url, process, users, duration=duration, interval=interval, pool=pool)
        )
    results["load_before"] = load_before
    results["pool_seconds"] = pool_seconds
    results["fill_delay"] = fill_delay
    return results


def _ms(values):
    return " | ".join("n/a" if v is None else f"{1e3 * v:.0f}" for v in values)


def _s(values):
    return " | ".join("n/a" if v is None else f"{v:.1f}" for v in values)


def report(r):
    cpu = r["kernel_cpu"] + r["server_cpu"]
    moves = max(r["moves"], 1)
    together, pairs = r["ready_together"], r.get("ready_pairs", [])
    lines = [
        f"## {r['users']} users, a pool of {r['pool']} preheated kernels, refilled "
        f"{r.get('fill_delay', FILL_DELAY):g} s after a page takes one",
        "",
        f"_{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.machine()}, "
        f"{os.cpu_count()} cores; load average {r['load_before'][0]:.1f} "
        f"(1 min), {r['load_before'][1]:.1f} (5 min) at the start (other work on the "
        f"machine); the pool took {r.get('pool_seconds', float('nan')):.0f} s to fill at the "
        f"start, and {r['refill_seconds']:.0f} s to refill after the class arrived._",
        "",
        "| what | n | p50 | p95 | max |",
        "|---|---|---|---|---|",
        f"| page open, all at once (s) | {len(together)} | {_s(percentiles(together))} |",
        f"| page open, two at a time (s) | {len(pairs)} | {_s(percentiles(pairs))} |",
        f"| move to picture (ms) | {r['moves']} | {_ms((r['p50'], r['p95'], r['max']))} |",
        "",
        f"Pages that did not become usable: {len(r.get('failed', []))}"
        + (f" ({'; '.join(r['failed'][:3])})" if r.get("failed") else "")
        + ". "
        f"Within 5 s: {sum(t <= 5 for t in together)} of {r['users']} opening at once; "
        f"within 1 s: {sum(t <= 1 for t in together)}. Lost moves: {r['lost']}. "
        f"Peak memory (RSS, the pool included): {r['peak_total_mb']:.0f} MB, the server "
        f"{r['peak_server_mb']:.0f} MB and up to {r['peak_kernels']} kernels of at most "
        f"{r['peak_kernel_mb']:.0f} MB each. CPU during the {r['elapsed']:.0f} s of moves: "
        f"kernels {r['kernel_cpu']:.0f} s, server {r['server_cpu']:.0f} s "
        f"({cpu / r['elapsed']:.2f} of the {os.cpu_count()} cores), "
        f"{r['kernel_cpu'] / moves:.3f} s of kernel CPU per move. "
        "Each user saw only their own figures: "
        + (
            "yes (every picture carried settings that user had asked for)."
            if not r["foreign"]
            else f"NO, {len(r['foreign'])} foreign pictures."
        ),
    ]
    return "\n".join(lines) + "\n"


HEADER = """# The explorer app under load

`make load-test USERS=N` (`bench/load_test.py`): one `make app` server (Voila on
127.0.0.1, `APP_POOL` preheated kernels) and N simulated users, each with their own kernel
and seed. All N request the page in the same instant (a class arriving), then each moves the
separation or K slider of the fit explorer every 2 s for 60 s, waiting for the picture
before the next move; their pages close, the pool refills, and N more users open the page
two at a time. A page is open (usable) when the page has arrived, its kernel's websocket is
open and the fit explorer's widget states are in: what a browser needs before it can draw
the slider (a browser also loads Voila's scripts and draws; the browser test measures one
real page). The minute of moves starts once the pool has refilled (its refill time is
reported); a move lasts from the widget message on the websocket to the HTML widget's
update carrying the caption of the new settings.
"""


def section_key(text):
    """(users, refill delay) of a report's section, from its heading."""
    heading = text.split("\n")[0]
    delay = re.search(r"refilled ([0-9.]+) s", heading)
    return int(heading.split()[0]), float(delay.group(1)) if delay else 1.0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--pool", type=int, default=POOL, help="preheated kernels")
    parser.add_argument(
        "--fill-delay", type=float, default=FILL_DELAY, help="seconds before a pool refill"
    )
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of moves")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between moves")
    parser.add_argument(
        "--no-write", action="store_true", help=f"print only, not into {RESULTS.name}"
    )
    args = parser.parse_args(argv)
    if not (
        1 <= args.users <= 60
        and 0 <= args.pool <= 60
        and 0 < args.duration <= 300
        and args.interval >= 0.5
    ):
        parser.error("expected 1-60 users, a pool of 0-60, at most 300 s, moves every >= 0.5 s")
    results = run(
        args.users,
        duration=args.duration,
        interval=args.interval,
        pool=args.pool,
        fill_delay=args.fill_delay,
    )
    text = report(results)
    print(text)
    if not args.no_write:
        # One section per number of users and refill delay, replaced by a new run of the same.
        sections = {}
        if RESULTS.exists():
            for part in RESULTS.read_text().split("\n## ")[1:]:
                sections[section_key(part)] = "## " + part.rstrip("\n") + "\n"
        sections[section_key(text.removeprefix("## "))] = text
        RESULTS.write_text(HEADER + "".join("\n" + sections[k] for k in sorted(sections)))
        print(f"written to {RESULTS.relative_to(ROOT)}")
    return 0 if not (results["foreign"] or results["lost"] or results["failed"]) else 1


if __name__ == "__main__":
    sys.exit(main())

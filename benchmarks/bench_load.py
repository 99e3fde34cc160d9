"""A class at once: N sessions open the Playground on a cold `streamlit run`, press Start, keep
training for a minute, then close. Loopback only, bounded in time. Never a pass/fail test.

    python -m benchmarks.bench_load [--sessions 4 8 30] [--browsers 8] [--hold 60]

Up to --browsers sessions are real headless Chromium pages (one browser, a context each); the
others are light clients: a websocket that speaks Streamlit's protocol as the browser does (the
page's first run, the Start click as a widget trigger, the fragment's auto-reruns at the interval
the server asks for), so the server does everything it does for a browser, but nothing is drawn.
Thirty real pages drawing plotly twice a second would measure this 2-core machine's browser,
not the server.

Prints, for each N: the server's and its children's memory (PSS, peak while training), the
latency of /_stcore/health (polled all along), each session's refresh interval (how often the
progress line's step changed) and samples/s (read from that line), the queue (the sessions whose
first step came late, and how late: LOSSVIZ_MAX_TRAINERS runs train at once), exceptions (on
any page, and tracebacks in the server's log), and, after the sessions closed, how long until
the training process stopped training and until it exited. The machine's load average comes
with it: other work on the same cores shows there.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import sync_playwright
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.sync.client import connect

from benchmarks.bench_memory import rollup
from lossviz.i18n import text
from tests.conftest import descendants_of, generations_under
from tests.e2e.conftest import CHROMIUM, CHROMIUM_FLAGS, start_server

START_KEY = "playground:start"  # the Start button's widget key (pages/playground.py)
STEP = re.compile(r"step (\d+)")
SAMPLES = re.compile(r"([\d,]+) samples/s")
NO_SLOT = text("runs.no_slot")  # what a session waiting for a training slot shows

# Records each change of the progress line (with the wall-clock time), whether the page ever
# said it waits for a slot, and any exception element. textContent: no layout forced.
PROBE = """(noSlot) => {
  window.lossvizLoad = {seen: [], waited: false, exceptions: []};
  const probe = window.lossvizLoad;
  let last = null;
  setInterval(() => {
    const progress = document.querySelector("[data-testid='stProgress']");
    const line = progress ? progress.textContent : '';
    if (line !== last) { last = line; probe.seen.push([Date.now() / 1000, line]); }
    for (const alert of document.querySelectorAll("[data-testid='stAlert']"))
      if (alert.textContent.includes(noSlot)) probe.waited = true;
    for (const error of document.querySelectorAll("[data-testid='stException']")) {
      const shown = error.textContent.slice(0, 300);
      if (!probe.exceptions.includes(shown)) probe.exceptions.push(shown);
    }
  }, 50);
}"""


@dataclass
class Session:
    kind: str  # "chromium" or "websocket"
    clicked: float | None = None  # wall-clock time Start was pressed
    seen: list = field(default_factory=list)  # (time, progress line) at each change
    waited: bool = False  # it showed the no-slot message
    exceptions: list = field(default_factory=list)

    def steps(self, since: float, until: float) -> list[tuple[float, int, float]]:
        """(time, step, samples/s) of each new step shown between since and until."""
        found, last = [], 0
        for when, line in self.seen:
            step = STEP.search(line)
            rate = SAMPLES.search(line)
            if step and int(step.group(1)) > last:
                last = int(step.group(1))
                if since <= when <= until:
                    found.append((when, last, float(rate.group(1).replace(",", ""))
                                  if rate else 0.0))
        return found

    def first_step(self) -> float | None:
        shown = self.steps(0.0, float("inf"))
        return shown[0][0] if shown else None


# ---- light clients ------------------------------------------------------------------------------
class LightClient(threading.Thread):
    """One Streamlit session over a websocket, as a browser would hold it, drawing nothing."""

    def __init__(self, url: str, query: str, session: Session, closing: threading.Event):
        super().__init__(daemon=True)
        self.address = "ws://" + urlsplit(url).netloc + "/_stcore/stream"
        self.query, self.session, self.closing = query, session, closing
        self.page_hash, self.start_id, self.failure = "", None, None
        self.auto_reruns: dict[str, list[float]] = {}  # fragment id -> [interval, next due]

    def run(self):
        try:
            with connect(self.address, subprotocols=["streamlit"], max_size=None,
                         open_timeout=300) as socket:
                self.rerun(socket)
                while not self.closing.is_set():
                    self.send_due_reruns(socket)
                    try:
                        raw = socket.recv(timeout=0.05)
                    except TimeoutError:
                        continue
                    self.take(socket, raw)
        except Exception as error:  # reported with the results; the other sessions go on
            self.failure = repr(error)

    def rerun(self, socket, widget_id: str | None = None, fragment: str = ""):
        message = BackMsg()
        state = message.rerun_script
        state.query_string, state.page_script_hash = self.query, self.page_hash
        if widget_id:
            widget = state.widget_states.widgets.add()
            widget.id, widget.trigger_value = widget_id, True
        if fragment:
            state.fragment_id, state.is_auto_rerun = fragment, True
        socket.send(message.SerializeToString())

    def send_due_reruns(self, socket):
        """The browser's timer for each fragment with run_every."""
        now = time.monotonic()
        for fragment, due in self.auto_reruns.items():
            if now >= due[1]:
                due[1] = max(due[1] + due[0], now)
                self.rerun(socket, fragment=fragment)

    def take(self, socket, raw: bytes):
        message = ForwardMsg()
        message.ParseFromString(raw)
        match message.WhichOneof("type"):
            case "new_session":
                self.page_hash = message.new_session.page_script_hash
                if not message.metadata.run.fragment_ids:
                    self.auto_reruns.clear()  # a full run sets them anew
            case "auto_rerun":
                interval = message.auto_rerun.interval
                self.auto_reruns[message.auto_rerun.fragment_id] = [
                    interval, time.monotonic() + interval]
            case "stop_auto_rerun":
                for fragment in message.stop_auto_rerun.fragment_ids:
                    self.auto_reruns.pop(fragment, None)
            case "page_info_changed":
                self.query = message.page_info_changed.query_string
            case "delta" if message.delta.WhichOneof("type") == "new_element":
                self.take_element(message.delta.new_element)
            case "script_finished" if self.start_id and self.session.clicked is None:
                self.session.clicked = time.time()
                self.rerun(socket, self.start_id)

    def take_element(self, element):
        match element.WhichOneof("type"):
            case "progress":
                if not self.session.seen or self.session.seen[-1][1] != element.progress.text:
                    self.session.seen.append((time.time(), element.progress.text))
            case "button" if element.button.id.endswith(START_KEY):
                self.start_id = element.button.id
            case "alert" if NO_SLOT in element.alert.body:
                self.session.waited = True
            case "exception":
                self.session.exceptions.append(element.exception.message[:300])


# ---- real browsers ------------------------------------------------------------------------------
def open_browser_sessions(browser, url: str, count: int) -> list:
    """count pages, each in a context of its own (another student's browser), loading at once."""
    pages = []
    for _ in range(count):
        page = browser.new_context(viewport={"width": 1280, "height": 720}).new_page()
        page.set_default_timeout(300_000)
        page.goto(f"{url}/?dim=2", wait_until="commit")
        pages.append(page)
    return pages


def press_start(pages: list, sessions: list[Session]):
    for page, session in zip(pages, sessions):
        button = page.locator(f".st-key-{START_KEY.replace(':', '-')} button")
        button.wait_for()
        page.evaluate(PROBE, NO_SLOT)
        session.clicked = time.time()
        button.click()


def read_probes(pages: list, sessions: list[Session]):
    for page, session in zip(pages, sessions):
        probe = page.evaluate("() => window.lossvizLoad")
        session.seen = [tuple(entry) for entry in probe["seen"]]
        session.waited, session.exceptions = probe["waited"], probe["exceptions"]


# ---- the server, watched all along --------------------------------------------------------------
def training_processes(server_pid: int) -> list[int]:
    """The training processes: forks of the fork server (the server's grandchildren), or
    spawned children where the system has no fork server; neither the fork server itself nor
    multiprocessing's resource tracker is one."""
    generations = generations_under(server_pid)
    found = [pid for generation in generations[1:] for pid in generation]
    for pid in generations[0] if generations else []:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                if b"spawn_main" in cmdline.read():
                    found.append(pid)
        except FileNotFoundError:
            continue
    return found


def cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (FileNotFoundError, ProcessLookupError):
        return 0.0


class Monitor(threading.Thread):
    """Polls /_stcore/health twice a second, and every 2 s the memory (PSS) of the server and
    its children, the training processes' CPU time and the load average."""

    def __init__(self, server_pid: int, url: str):
        super().__init__(daemon=True)
        self.server_pid, self.url = server_pid, url
        self.health: list[tuple[float, float | None]] = []  # (time, seconds; None: failed)
        self.samples: list[dict] = []
        self.done = threading.Event()

    def run(self):
        next_sample = 0.0
        while not self.done.wait(0.5):
            self.health.append((time.time(), self.health_latency()))
            if time.monotonic() >= next_sample:
                next_sample = time.monotonic() + 2.0
                self.samples.append(self.sample())

    def health_latency(self) -> float | None:
        asked = time.monotonic()
        try:
            with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=10) as reply:
                reply.read()
            return time.monotonic() - asked
        except OSError:
            return None

    def sample(self) -> dict:
        pss = 0
        for pid in [self.server_pid, *descendants_of(self.server_pid)]:
            try:
                pss += rollup(pid)[1]
            except (FileNotFoundError, ProcessLookupError, KeyError):
                continue
        trainers = training_processes(self.server_pid)
        return {"time": time.time(), "pss_mb": pss / 2 ** 20, "trainers": len(trainers),
                "train_cpu": sum(cpu_seconds(pid) for pid in trainers),
                "load": os.getloadavg()[0]}

    def between(self, since: float, until: float) -> list[dict]:
        return [s for s in self.samples if since <= s["time"] <= until]


def wait_until(condition, timeout: float, every: float = 0.5) -> float | None:
    """Seconds until condition() held, or None when it did not within timeout."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if condition():
            return time.monotonic() - began
        time.sleep(every)
    return None


def training_stopped(monitor: Monitor) -> bool:
    """The training process used under 5% of a core over the last two samples."""
    last = monitor.samples[-3:]
    return len(last) == 3 and (last[-1]["train_cpu"] - last[0]["train_cpu"]) < 0.05 * (
        last[-1]["time"] - last[0]["time"])


# ---- one class ----------------------------------------------------------------------------------
def run_class(playwright, count: int, browsers: int, hold: float, exit_wait: float) -> dict:
    log = tempfile.NamedTemporaryFile("w+", prefix="lossviz-load-", suffix=".log", delete=False)
    server, url = start_server(log=log)
    monitor = Monitor(server.pid, url)
    monitor.start()
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
    closing = threading.Event()
    try:
        real = [Session("chromium") for _ in range(min(count, browsers))]
        light = [Session("websocket") for _ in range(count - len(real))]
        opened = time.time()
        clients = [LightClient(url, "dim=2", session, closing) for session in light]
        for client in clients:
            client.start()
        pages = open_browser_sessions(browser, url, len(real))
        press_start(pages, real)
        wait_until(lambda: all(s.clicked or not c.is_alive() for s, c in zip(light, clients)),
                   300)
        began = time.time()
        time.sleep(hold)  # the class trains: the measuring window itself
        ended = time.time()
        read_probes(pages, real)
        browser.close()  # every tab at once, as a class leaves
        closing.set()
        closed = time.time()
        for client in clients:
            client.join(30)
        stopped = wait_until(lambda: training_stopped(monitor), 120)
        exited = wait_until(lambda: not training_processes(server.pid), exit_wait, every=1.0)
        return summarize(count, real + light, monitor, (opened, began, ended, closed),
                         stopped, exited, Path(log.name),
                         [c.failure for c in clients if c.failure])
    finally:
        closing.set()
        browser.close()
        monitor.done.set()
        server.kill()
        server.wait(20)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def summarize(count, sessions, monitor, times, stopped, exited, log: Path, failures) -> dict:
    opened, began, ended, closed = times
    window = monitor.between(began, ended)
    trained, intervals, rates = [], [], []
    for session in sessions:
        shown = session.steps(began, ended)
        if len(shown) >= 2:
            trained.append(session)
            gaps = [b[0] - a[0] for a, b in zip(shown, shown[1:])]
            intervals.append((session.kind, statistics.median(gaps)))
            rates.append(statistics.median(rate for _, _, rate in shown))
    waits = [((s.first_step() or float("inf")) - s.clicked, s.waited)
             for s in sessions if s.clicked]
    latencies = [l for t, l in monitor.health if l is not None and opened <= t <= closed]
    log_text = log.read_text(errors="replace")
    return {
        "sessions": count,
        "chromium": sum(s.kind == "chromium" for s in sessions),
        "websocket": sum(s.kind == "websocket" for s in sessions),
        "peak_pss_mb": max((s["pss_mb"] for s in window), default=float("nan")),
        "health_p50_ms": 1000 * percentile(latencies, 0.5),
        "health_p95_ms": 1000 * percentile(latencies, 0.95),
        "health_failed": sum(l is None for t, l in monitor.health if opened <= t <= closed),
        "trained": len(trained),
        "samples_per_s": rates,
        "refresh_s": [gap for _, gap in intervals],
        "refresh_chromium_s": [gap for kind, gap in intervals if kind == "chromium"],
        "waits_s": waits,
        "page_exceptions": [e for s in sessions for e in s.exceptions],
        "log_tracebacks": log_text.count("Traceback"),
        "log": str(log),
        "client_failures": failures,
        "stopped_s": stopped,
        "exited_s": exited,
        "load": [s["load"] for s in window],
        "hold_s": ended - began,
    }


def describe(found: dict) -> str:
    def spread(values, digits=1):
        if not values:
            return "none"
        return (f"median {statistics.median(values):.{digits}f} "
                f"({min(values):.{digits}f}-{max(values):.{digits}f})")
    queued = [w for w, waited in found["waits_s"] if waited]
    queue = (f"{len(queued)} showed the waiting message; their first step after " +
             spread([w for w in queued if w != float("inf")], 0) + " s, "
             f"{queued.count(float('inf'))} not within the hold") if queued else "nobody queued"
    starts = [w for w, waited in found["waits_s"] if not waited]
    return "\n".join([
        f"N = {found['sessions']} ({found['chromium']} Chromium pages, {found['websocket']} "
        f"websocket clients), held {found['hold_s']:.0f} s",
        f"  memory (server and children, PSS, peak): {found['peak_pss_mb']:,.0f} MB",
        f"  /_stcore/health: p50 {found['health_p50_ms']:.0f} ms, p95 "
        f"{found['health_p95_ms']:.0f} ms, {found['health_failed']} failed",
        f"  training sessions: {found['trained']}; samples/s per session "
        f"{spread(found['samples_per_s'], 0)}; refresh interval s {spread(found['refresh_s'], 2)} "
        f"(Chromium pages: {spread(found['refresh_chromium_s'], 2)})",
        f"  Start to first step (s, those never queued): {spread(starts, 1)}",
        f"  queue: {queue}",
        f"  exceptions: {len(found['page_exceptions'])} on pages, {found['log_tracebacks']} "
        f"tracebacks in the server's log ({found['log']}); light clients failed: "
        f"{len(found['client_failures'])} {found['client_failures'][:2]}",
        f"  after closing: training stopped in {fmt_seconds(found['stopped_s'])}, the training "
        f"process exited in {fmt_seconds(found['exited_s'])}",
        f"  load average (1 min) during the hold: {spread(found['load'], 2)}",
    ])


def fmt_seconds(value: float | None) -> str:
    return "not within the wait" if value is None else f"{value:.0f} s"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[4, 8, 30])
    parser.add_argument("--browsers", type=int, default=8,
                        help="at most this many real Chromium pages; the rest are light clients")
    parser.add_argument("--hold", type=float, default=60.0, help="seconds the class trains")
    parser.add_argument("--json", type=Path, help="also write every result to this file")
    parser.add_argument("--host-idle", type=float, default=30.0,
                        help="LOSSVIZ_HOST_IDLE for the server: seconds the training process "
                             "stays after its last run (the app's default, 300, makes each N "
                             "wait five minutes for the exit it measures)")
    parser.add_argument("--exit-wait", type=float, default=None,
                        help="seconds to wait for the training process to exit after closing "
                             "(default: --host-idle plus 90)")
    args = parser.parse_args()
    os.environ["LOSSVIZ_HOST_IDLE"] = str(args.host_idle)  # the server inherits it
    if args.exit_wait is None:
        args.exit_wait = args.host_idle + 90
    results = []
    with sync_playwright() as playwright:
        for count in args.sessions:
            results.append(run_class(playwright, count, args.browsers, args.hold,
                                     args.exit_wait) | {"host_idle_s": args.host_idle})
            print(describe(results[-1]), flush=True)
            if args.json:
                args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

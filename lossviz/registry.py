"""The server's runs by id, the training process they share, and its training slots.

One Registry per web server (lossviz.ui holds it with st.cache_resource). A page keeps only a
run id (also in its URL, so a reload or a second browser finds the same run) and asks the
registry for the LiveRun each time. Each run also has a short watch code: whoever opens the
watch link sees the run live but cannot control it.

Runs of every session train in one process (lossviz.worker steps them in turn): a run costs a
few hundred kilobytes there, a process several hundred megabytes. The process starts ahead of
the first Start (warm()) and exits after host_idle seconds without runs. A housekeeping thread
pauses runs nobody watches, parks idle runs as bytes, starts comparison runs as slots free up,
and forgets runs nobody has looked at for keep_for seconds.
"""
from __future__ import annotations

import os
import secrets
import threading
import time
from concurrent.futures import Future
from dataclasses import replace

from lossviz import protocol as p
from lossviz.host import TRAINING_START, Host
from lossviz.live import LiveRun
from lossviz.snapshot import Snapshot, fresh_snapshot
from lossviz.train import Run, TrainConfig

_CODE_LETTERS = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read off a projector


def _operator_setting(name: str, default, kind=int, least=1):
    """A number the server's operator sets in the environment; the default when it is unset or
    not a number (a typo must not keep the app from starting)."""
    try:
        return max(least, kind(os.environ.get(name, default)))
    except ValueError:
        return default


def max_trainers(default: int = 8) -> int:
    """LOSSVIZ_MAX_TRAINERS: how many runs (playground or comparison) train at once."""
    return _operator_setting("LOSSVIZ_MAX_TRAINERS", default)


def host_idle_seconds(default: float = 300.0) -> float:
    """LOSSVIZ_HOST_IDLE: seconds the training process stays after its last run (a lecture
    with long pauses keeps it warm with a larger value; a shared server frees memory sooner
    with a smaller one)."""
    return _operator_setting("LOSSVIZ_HOST_IDLE", default, float, 1.0)


class Slots:
    """The server's training slots: a run holds one while it trains."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self._lock = threading.Lock()
        self._holders: set[int] = set()

    def take(self, holder) -> bool:
        with self._lock:
            if id(holder) in self._holders:
                return True
            if len(self._holders) >= self.capacity:
                return False
            self._holders.add(id(holder))
            return True

    def give(self, holder):
        with self._lock:
            self._holders.discard(id(holder))

    @property
    def in_use(self) -> int:
        with self._lock:
            return len(self._holders)


class FitTicket:
    """A comparison run asked of the registry: its Future (a RunResult), the epoch it has
    reached, whether it still waits for a slot, and cancel()."""

    def __init__(self, registry: "Registry", fit_id: str, label: str, config: TrainConfig,
                 dataset):
        self.id, self.label, self.config, self.dataset = fit_id, label, config, dataset
        self.future: Future = Future()
        self.epoch, self.waiting = 0, True
        self._registry = registry
        self.host: Host | None = None  # the process training it, once it has a slot
        self.request = -1

    def cancel(self):
        self._registry.cancel_fit(self)


class Registry:
    WARM_DELAY = 2.0  # seconds

    def __init__(self, slots: int | None = None, pause_after: float = 15.0,
                 park_after: float = 20.0, keep_for: float = 3600.0,
                 host_idle: float | None = None, tick_every: float = 0.25,
                 context=TRAINING_START, eval_budget: float = 0.1,
                 refresh: tuple[float, float] = (0.4, 1.0)):
        self.slots = Slots(slots or max_trainers())
        self.pause_after, self.park_after, self.keep_for = pause_after, park_after, keep_for
        self.host_idle = host_idle if host_idle is not None else host_idle_seconds()
        self._context = context
        self._eval_budget, self._refresh = eval_budget, refresh
        self._lock = threading.RLock()
        self._runs: dict[str, LiveRun] = {}
        self._codes: dict[str, str] = {}
        self._datasets: dict[str, object] = {}
        self._host: Host | None = None
        self._last_wanted = time.monotonic()
        self._warm_from: float | None = None  # when warm() wants the process started
        self._fits_waiting: list[FitTicket] = []
        self._fits: dict[str, FitTicket] = {}
        self._jobs: list = []  # comparisons, cancelled when nobody asks after them
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._housekeeping, args=(tick_every,),
                                        name="lossviz-registry", daemon=True)
        self._ticker.start()

    # ---- runs -------------------------------------------------------------------------------
    def create(self, config: TrainConfig, dataset) -> LiveRun:
        """A new run with fresh weights."""
        return self.adopt(Run(config, dataset), dataset)

    def adopt(self, run: Run, dataset, history_from: Snapshot | None = None) -> LiveRun:
        """A new run id for a run made elsewhere (a watched run's copy); history_from carries
        the curves and frames over."""
        snapshot = fresh_snapshot(run)  # outside the lock: it evaluates
        if history_from is not None:
            snapshot = replace(snapshot, history=history_from.history,
                               frames=history_from.frames)
        with self._lock:
            run_id = _unused(lambda: secrets.token_urlsafe(9), self._runs)
            code = _unused(lambda: "".join(secrets.choice(_CODE_LETTERS) for _ in range(6)),
                           self._codes)
            live = LiveRun(run_id, code, run, dataset, self._data_key(dataset), self, snapshot)
            self._runs[run_id], self._codes[code] = live, run_id
        return live

    def get(self, run_id: str) -> LiveRun | None:
        with self._lock:
            return self._runs.get(run_id)

    def by_watch_code(self, code: str) -> LiveRun | None:
        with self._lock:
            return self._runs.get(self._codes.get(code, ""))

    def warm(self):
        """Someone is on a page that may train soon: have the process ready before Start. It
        starts from the housekeeping thread WARM_DELAY seconds later, so that importing torch
        there does not compete with drawing that page for the CPU."""
        with self._lock:
            self._last_wanted = time.monotonic()
            self._warm_from = self._warm_from or self._last_wanted + self.WARM_DELAY

    def host(self) -> Host:
        """The training process, started if there is none."""
        with self._lock:
            if self._host is None or self._host.lost:
                self._host = Host(self._on_message, self._on_lost, self._context,
                                  self._eval_budget, self._refresh)
            self._last_wanted = time.monotonic()
            return self._host

    @property
    def process_ids(self) -> list[int]:
        """The training processes' ids (none while no process is up)."""
        with self._lock:
            return [self._host.pid] if self._host is not None and not self._host.lost else []

    # ---- comparison runs ----------------------------------------------------------------------
    def fit(self, label: str, config: TrainConfig, dataset) -> FitTicket:
        """Train a fresh run of config to its last epoch in the training process, as soon as
        a slot is free."""
        with self._lock:
            ticket = FitTicket(self, _unused(lambda: "fit-" + secrets.token_urlsafe(8),
                                             self._fits), label, config, dataset)
            self._fits_waiting.append(ticket)
        self._start_fits()
        return ticket

    def cancel_when_unwatched(self, job):
        """job (a Comparison: last_seen, done, cancel()) is cancelled once nobody has asked
        for its progress for pause_after seconds: its session has ended."""
        with self._lock:
            self._jobs.append(job)

    def cancel_fit(self, ticket: FitTicket):
        with self._lock:
            if ticket in self._fits_waiting:
                self._fits_waiting.remove(ticket)
            running = self._fits.pop(ticket.id, None)
        if running is not None and running.host is not None:
            running.host.send(p.Drop(ticket.id))
            running.host.forget(ticket.request)
        self.slots.give(ticket)
        ticket.future.cancel()
        self._start_fits()

    def _start_fits(self):
        while True:
            with self._lock:
                if not self._fits_waiting or not self.slots.take(self._fits_waiting[0]):
                    return
                ticket = self._fits_waiting.pop(0)
                self._fits[ticket.id] = ticket
                host = ticket.host = self.host()
            ticket.waiting = False
            host.send_data(self._data_key(ticket.dataset), ticket.dataset)
            ticket.request, inner = host.request(lambda number: p.Fit(
                ticket.id, number, ticket.label, ticket.config, self._data_key(ticket.dataset)))
            inner.add_done_callback(lambda inner, ticket=ticket: self._fit_done(ticket, inner))

    def _fit_done(self, ticket: FitTicket, inner: Future):
        with self._lock:
            self._fits.pop(ticket.id, None)
        self.slots.give(ticket)
        if not inner.cancelled() and ticket.future.set_running_or_notify_cancel():
            if inner.exception() is not None:
                ticket.future.set_exception(inner.exception())
            else:
                ticket.future.set_result(inner.result())
        self._start_fits()

    # ---- the process's side -------------------------------------------------------------------
    def _on_message(self, host: Host, message):
        if isinstance(message, p.FitEpoch):
            with self._lock:
                ticket = self._fits.get(message.run_id)
            if ticket is not None:
                ticket.epoch = message.epoch
            return
        run = self.get(message.run_id)
        if run is not None:
            run.take(message)

    def _on_lost(self, host: Host, expected: bool):
        with self._lock:
            runs = list(self._runs.values())
            if self._host is host:
                self._host = None
        for run in runs:
            run.lost(host, expected)

    # ---- housekeeping -------------------------------------------------------------------------
    def _housekeeping(self, every: float):
        while not self._stop.wait(every):
            now = time.monotonic()
            self._tend_runs(now)
            self._tend_jobs(now)
            self._start_when_warmed(now)
            self._retire_idle_host(now)
            self._start_fits()

    def _start_when_warmed(self, now: float):
        with self._lock:
            due = self._warm_from is not None and now >= self._warm_from
            if due:
                self._warm_from = None
        if due:
            self.host()

    def _tend_runs(self, now: float):
        """Pause, park or retry each run; forget those nobody has looked at for keep_for.
        (A run's lock is never taken while the registry's is held: a run asks the registry
        for its host under its own lock.)"""
        with self._lock:
            runs = list(self._runs.values())
        forgotten = [run for run in runs
                     if run.tick(now, self.pause_after, self.park_after) > self.keep_for
                     and not run.busy and not run.on_host]
        with self._lock:
            for run in forgotten:
                self._runs.pop(run.id, None)
                self._codes.pop(run.watch_code, None)

    def _tend_jobs(self, now: float):
        with self._lock:
            jobs, self._jobs = self._jobs, []
        for job in jobs:
            if not job.done and now - job.last_seen > self.pause_after:
                job.cancel()
            elif not job.done:
                self.cancel_when_unwatched(job)

    def _retire_idle_host(self, now: float):
        """The process exits after host_idle seconds with no run in it and nobody on a page
        that may train."""
        with self._lock:
            host, runs = self._host, list(self._runs.values())
        if host is None or any(run.on_host for run in runs):
            return
        with self._lock:
            if self._host is not host or self._fits or now - self._last_wanted <= self.host_idle:
                return
            self._host = None  # whoever needs a process from now on starts a new one
        host.stop()

    def stop(self, timeout: float = 10.0):
        """End the housekeeping and the training process (the server is shutting down)."""
        self._stop.set()
        self._ticker.join(timeout)
        with self._lock:
            host = self._host
        if host is not None:
            host.stop(timeout)

    def _data_key(self, dataset) -> str:
        key = f"{id(dataset)}"
        with self._lock:
            self._datasets[key] = dataset  # held, so that its id is not reused
        return key


def _unused(make, taken) -> str:
    while (candidate := make()) in taken:
        pass
    return candidate


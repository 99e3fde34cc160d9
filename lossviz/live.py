"""One live run as the web server keeps it, under an id that outlives browser sessions: what
its owner wants (start, pause, steps, settings), what its training process was told, the latest
Snapshot for every viewer, and the run itself as bytes while no process holds it.

Commands (any thread) change the wish under one lock and reconcile at once (lossviz.reconcile
turns the difference into messages). The host's reader thread delivers progress (take); the
registry's housekeeping thread calls tick() to pause a run nobody watches and park an idle one.
A generation number, bumped by every reset and restore, lets a reader drop what belongs to an
older run of the same id.
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import replace

from lossviz import protocol as p
from lossviz.checkpoint import checkpoint_bytes
from lossviz.host import Host, HostLost
from lossviz.i18n import Message
from lossviz.reconcile import Parked, Told, Wish, reconcile
from lossviz.snapshot import IDLE, PAUSED, RUNNING, WAITING, Snapshot, fresh_snapshot, with_progress
from lossviz.train import Run, TrainConfig, params_in_force

WATCHER_FRESH = 10.0  # seconds: a watcher who refreshed within them counts as watching


class LiveRun:
    def __init__(self, run_id: str, watch_code: str, run: Run, dataset, data_key: str,
                 registry, snapshot: Snapshot | None = None):
        self.id, self.watch_code, self.dataset = run_id, watch_code, dataset
        self._registry, self._data_key = registry, data_key
        self._lock = threading.RLock()  # re-entrant: a Future done already calls back at once
        self._changed = threading.Condition(self._lock)  # a new snapshot is out
        self._generation = 0
        self._wanted_running, self._steps_pending, self._steps_unsent = False, 0, 0
        self._pauses_unconfirmed = 0  # the page keeps refreshing until the last progress is in
        self._requested = run.config  # the configuration most recently asked for
        self._parked = Parked(run.config, run.state_bytes(), data_key)
        self._host: Host | None = None
        self._told: Told | None = None
        self._parking = False
        self._snapshot = snapshot or fresh_snapshot(run)
        self._last_seen = self._last_busy = time.monotonic()
        self._watchers: dict[str, float] = {}

    # ---- commands ---------------------------------------------------------------------------
    def start(self):
        with self._lock:
            self._wanted_running = True
            self._last_seen = time.monotonic()
            self._sync()

    def pause(self):
        with self._lock:
            self._wanted_running = False
            self._sync()

    def step(self, count: int = 1):
        """Single steps; pressed while training, the run pauses after them."""
        with self._lock:
            self._wanted_running = False
            self._steps_pending += count
            self._steps_unsent += count
            self._last_seen = time.monotonic()
            self._sync()

    def step_while_training(self):
        """'One step' pressed while the run trains: it pauses after one more step. Streamlit
        can deliver one press twice (a fragment's timer rerun on its way carries the button's
        trigger too); the second finds the run no longer wanting to run and does nothing,
        where step() would have taken another step."""
        with self._lock:
            if self._wanted_running:
                self.step()

    def update(self, config: TrainConfig):
        """New loss, parameters or learning rate: in force from the next step."""
        with self._lock:
            self._requested = config
            self._snapshot = replace(self._snapshot, config=config,
                                     params=params_in_force(config, self._snapshot.step))
            self._sync()

    def reset(self, config: TrainConfig):
        """A new run (new weights) with this config; older snapshots become stale."""
        self._install(Run(config, self.dataset))

    def restore(self, run: Run):
        """Continue from a run loaded from a checkpoint; older snapshots become stale."""
        self._install(run)

    def checkpoint(self, timeout: float = 30.0) -> bytes:
        """The current weights and configuration, taken between two steps."""
        taken = self._from_process(p.Save, timeout)
        return taken if taken is not None else checkpoint_bytes(self.current_run(timeout))

    def current_run(self, timeout: float = 30.0) -> Run:
        """A copy of the run as it is now (for a watcher who takes it into a playground)."""
        state = self._from_process(p.Fetch, timeout)
        if state is None:
            with self._lock:
                state = self._parked.state
        return Run.from_state_bytes(state, self.dataset)

    # ---- what pages read ----------------------------------------------------------------------
    def snapshot(self, watcher: str | None = None) -> Snapshot:
        """The latest published state; reading it also tells the run someone is watching."""
        with self._lock:
            now = time.monotonic()
            self._last_seen = now
            if watcher is not None:
                self._watchers[watcher] = now
            return self._snapshot

    def next_snapshot(self, seen: Snapshot, timeout: float,
                      watcher: str | None = None) -> Snapshot:
        """The first snapshot after seen, waiting up to timeout seconds for it (else the
        latest): a page that asks twice a second draws each new one once, as it comes."""
        with self._changed:
            self._changed.wait_for(lambda: self._snapshot is not seen, timeout)
        return self.snapshot(watcher)

    @property
    def watchers(self) -> int:
        """How many watch-link viewers refreshed in the last WATCHER_FRESH seconds."""
        with self._lock:
            now = time.monotonic()
            return sum(now - seen < WATCHER_FRESH for seen in self._watchers.values())

    @property
    def config(self) -> TrainConfig:
        """The configuration most recently asked for (it may not be in force yet)."""
        with self._lock:
            return self._requested

    def is_current(self, snapshot: Snapshot) -> bool:
        """False for a snapshot of a run that a reset has already replaced."""
        with self._lock:
            return snapshot.generation == self._generation

    @property
    def wants_to_run(self) -> bool:
        """True from the moment Start is pressed, before the process has picked it up."""
        with self._lock:
            return self._wanted_running

    @property
    def on_host(self) -> bool:
        """Whether a training process holds the run (rather than bytes here)."""
        with self._lock:
            return self._host is not None

    @property
    def busy(self) -> bool:
        """Training, single steps still to come, or a pause whose last progress is not in."""
        with self._lock:
            return self._busy

    # ---- the registry's side ------------------------------------------------------------------
    def take(self, message):
        """A message from the training process about this run (on the host's reader thread)."""
        with self._lock:
            match message:
                case p.Progress(generation=generation) if generation == self._generation:
                    self._steps_pending = max(0, self._steps_pending - message.single)
                    self._snapshot = with_progress(self._snapshot, message)
                    self._changed.notify_all()
                case p.PauseDone():
                    self._pauses_unconfirmed = max(0, self._pauses_unconfirmed - 1)
                case p.Paused(generation=generation) if generation == self._generation:
                    self._want_nothing()
                    self._sync()
                    self._set_status(PAUSED, message.message)

    def tick(self, now: float, pause_after: float, park_after: float) -> float:
        """Housekeeping: pause a run nobody has looked at for pause_after seconds (the tab is
        probably gone), park a run idle for park_after seconds, retry a run waiting for a
        slot. Returns the seconds since anyone looked at it."""
        with self._lock:
            started = self._host is not None and self._host.ready.is_set()
            if self._wanted_running and started and now - self._last_seen > pause_after:
                self._wanted_running = False
                self._sync()
                self._set_status(PAUSED, Message("runs.unwatched"))
            if self._busy:
                self._last_busy = now
            elif (self._host is not None and not self._parking
                  and now - self._last_busy > park_after):
                self._park()
            self._sync()
            return now - self._last_seen

    def lost(self, host: Host, expected: bool):
        """The host's process ended. Unless that was asked for, go back to the run as it was
        last handed over, so that snapshots, history and run agree again."""
        with self._lock:
            if self._host is not host:
                return
            self._host, self._told, self._parking = None, None, False
            self._want_nothing()
            self._pauses_unconfirmed = 0
            self._registry.slots.give(self)
            if expected:
                self._set_status(PAUSED, None)
                return
            parked = self._parked
        run = Run.from_state_bytes(parked.state, self.dataset)
        self._install(run, Message("runs.lost", {"code": host.exitcode, "step": run.step}))

    # ---- under the lock -----------------------------------------------------------------------
    @property
    def _busy(self) -> bool:
        return self._wanted_running or self._steps_pending > 0 or self._pauses_unconfirmed > 0

    def _want_nothing(self):
        """Paused, with no single steps pending: after a reset, a pause the process chose
        (NaN, finished), or a lost process."""
        self._wanted_running, self._steps_pending, self._steps_unsent = False, 0, 0

    def _install(self, run: Run, message: Message | None = None):
        fresh, state = fresh_snapshot(run), run.state_bytes()  # outside the lock: it evaluates
        with self._lock:
            self._generation += 1
            self._requested = run.config
            self._parked = Parked(run.config, state, self._data_key)
            self._want_nothing()
            self._snapshot = replace(fresh, generation=self._generation,
                                     status=PAUSED if message else IDLE, message=message)
            self._sync()

    def _sync(self):
        """Tell the process whatever it does not know yet of what the user wants."""
        if self._parking:
            return  # the run is on its way out of the process; tick() syncs once it is out
        if self._host is None:
            if not self._busy:
                self._settle_status()
                return
            self._host = self._registry.host()
        running = self._wanted_running and self._registry.slots.take(self)
        wish = Wish(self._generation, self._requested, running, self._steps_unsent)
        messages, self._told = reconcile(self.id, wish, self._told, self._parked)
        if any(isinstance(m, p.Load) for m in messages):
            self._host.send_data(self._data_key, self.dataset)
        self._host.send(*messages)
        self._pauses_unconfirmed += sum(isinstance(m, p.Pause) for m in messages)
        self._steps_unsent = 0
        if not running:
            self._registry.slots.give(self)
        self._settle_status(running)

    def _settle_status(self, running: bool = False):
        if running and not self._host.ready.is_set():
            self._set_status(WAITING, Message("runs.starting"))
        elif running:
            self._set_status(RUNNING, None)
        elif self._wanted_running:
            self._set_status(WAITING, Message("runs.no_slot"))
        elif self._snapshot.status in (RUNNING, WAITING):
            self._set_status(PAUSED, None)

    def _set_status(self, status: str, message: Message | None):
        if (self._snapshot.status, self._snapshot.message) != (status, message):
            self._snapshot = replace(self._snapshot, status=status, message=message)

    def _from_process(self, make, timeout: float):
        """A request answered by the process that holds the run; None when none does (or it
        did not answer in time, or ended first)."""
        with self._lock:
            host = self._host if self._told is not None and not self._parking else None
        if host is None:
            return None
        try:
            return host.call(lambda number: make(self.id, number), timeout)
        except (HostLost, FutureTimeout, RuntimeError):
            return None

    def _park(self):
        """Hand the run back as bytes and leave the process: a paused classroom holds no runs
        in it, and a process with no runs can exit."""
        if self._told is None:  # never loaded there
            self._host = None
            return
        host, generation, config = self._host, self._generation, self._told.config
        self._parking = True
        _, future = host.request(lambda number: p.Park(self.id, number))

        def parked(future):
            with self._lock:
                if future.exception() is not None:
                    self._parking = False  # the host is lost: lost() deals with the run
                    return
                if generation == self._generation:
                    self._parked = Parked(config, future.result(), self._data_key)
                self._host, self._told, self._parking = None, None, False
                self._sync()

        future.add_done_callback(parked)

"""Live training: a Run stepped in its own process (lossviz.worker) and watched through
immutable snapshots.

This Trainer is the page's side. Commands (start, pause, step, update, reset, restore) change
what the user wants, under one lock, and that wish is turned into messages for the process. A
supervisor thread reads the process's progress into the latest Snapshot; a sender thread writes
the messages. Neither holds the lock while it waits on the pipe, so a full pipe one way can never
block the other. A generation number, bumped on every reset, lets a reader drop what belongs to
an older run.

The process lives only while there is training to do. It hands its run back and exits after
exit_after seconds without training, or without anyone reading a snapshot (the browser tab went
away; training pauses itself after pause_after seconds of that). The next Start carries on from
the handed-back run, so a paused classroom holds no processes.
"""
from __future__ import annotations

import itertools
import multiprocessing
import os
import queue
import threading
import time
from dataclasses import dataclass, field, replace

from lossviz.checkpoint import checkpoint_bytes
from lossviz.data import Dataset
from lossviz.train import Evaluation, Run, TrainConfig, params_in_force
from lossviz.worker import Progress, serve

IDLE, RUNNING, PAUSED, WAITING = "idle", "running", "paused", "waiting"
MAX_FRAMES, FRAME_POINTS = 200, 500  # the evolution GIF: recent frames, first points of each
STARTING = "Starting the training process (a few seconds)…"
# spawn, not fork: a fork of the web server would copy its threads' locks mid-use
_PROCESSES = multiprocessing.get_context("spawn")


def training_threads() -> int | None:
    """LOSSVIZ_TRAIN_THREADS, a fixed thread count for training; None (the default) lets the
    training process choose between all cores and all but one as it goes."""
    try:
        return max(1, int(os.environ["LOSSVIZ_TRAIN_THREADS"]))
    except (KeyError, ValueError):
        return None


@dataclass(frozen=True)
class History:
    steps: tuple = ()
    epochs: tuple = ()
    train_loss: tuple = ()
    train_accuracy: tuple = ()
    test_loss: tuple = ()
    test_accuracy: tuple = ()

    def plus(self, **point) -> "History":
        return History(**{name: getattr(self, name) + (point[name],) for name in point})


@dataclass(frozen=True)
class Snapshot:
    generation: int
    status: str
    message: str | None
    step: int
    epoch: float
    config: TrainConfig
    params: dict  # loss parameters in force at this step (warm-up and lambda applied)
    learning_rate: float
    samples_per_s: float
    evaluation: Evaluation | None
    history: History = field(default_factory=History)
    frames: tuple = ()  # (epoch, features, weights) over time, for the evolution GIF
    threads: int = 0  # the training process's thread count at the last progress; 0: none yet


def fresh_snapshot(run: Run, generation: int = 0) -> Snapshot:
    return Snapshot(generation, IDLE, None, run.step, run.step / run.steps_per_epoch, run.config,
                    params_in_force(run.config, run.step), run.learning_rate(), 0.0,
                    run.evaluate())


def with_progress(snap: Snapshot, p: Progress) -> Snapshot:
    history = snap.history.plus(steps=p.step, epochs=p.epoch, train_loss=p.train_loss,
                                train_accuracy=p.train_accuracy, test_loss=p.evaluation.loss,
                                test_accuracy=p.evaluation.accuracy)
    frame = (p.epoch, p.evaluation.features[:FRAME_POINTS], p.evaluation.weights)
    return replace(snap, step=p.step, epoch=p.epoch, config=p.config, params=p.params,
                   learning_rate=p.learning_rate,
                   samples_per_s=p.samples_per_s or snap.samples_per_s, threads=p.threads,
                   evaluation=p.evaluation, history=history,
                   frames=(snap.frames + (frame,))[-MAX_FRAMES:])


class Trainer:
    def __init__(self, config: TrainConfig, dataset: Dataset, slots: threading.Semaphore | None = None,
                 eval_budget: float = 0.1, pause_after: float = 15.0, exit_after: float = 45.0):
        self.dataset, self._slots = dataset, slots
        self._eval_budget = eval_budget  # share of the time spent evaluating the test subset
        self._pause_after, self._exit_after = pause_after, exit_after
        self._lock = threading.Condition()
        self._supervisor: threading.Thread | None = None
        self._outbox: queue.Queue | None = None  # messages for the process, in order
        self._told = None  # (generation, config, running) as the process knows it; None: no process
        self._wanted = PAUSED
        self._singles, self._unsent_singles = 0, 0  # single steps asked for / not yet sent
        self._holds_slot, self._stop = False, False
        self._last_seen = self._last_busy = time.monotonic()
        self._requests, self._replies = itertools.count(), {}
        self._generation = 0
        self._requested = config  # the configuration most recently asked for
        run = Run(config, dataset)
        self._state = (config, run.state_bytes())  # the run while no process holds it
        self._snapshot = fresh_snapshot(run)

    # ---- commands (any thread) -------------------------------------------------------------
    def start(self):
        with self._lock:
            self._wanted = RUNNING
            self._reconcile()
        self._ensure_process()

    def pause(self):
        with self._lock:
            self._wanted = PAUSED
            self._reconcile()

    def step(self, count: int = 1):
        with self._lock:
            self._wanted = PAUSED
            self._singles += count
            self._unsent_singles += count
            self._reconcile()
        self._ensure_process()

    def update(self, config: TrainConfig):
        """New loss, parameters or learning rate: in force from the next step."""
        with self._lock:
            self._requested = config
            self._snapshot = replace(self._snapshot, config=config,
                                     params=params_in_force(config, self._snapshot.step))
            self._reconcile()

    def reset(self, config: TrainConfig):
        """A new run (new weights) with this config; older snapshots become stale."""
        self._install(Run(config, self.dataset))

    def restore(self, run: Run):
        """Continue from a run loaded from a checkpoint; older snapshots become stale."""
        self._install(run)

    def checkpoint(self) -> bytes:
        """The current weights and configuration, taken between two steps."""
        with self._lock:
            if self._told is not None:
                request = next(self._requests)
                self._outbox.put(("save", request))
                self._lock.wait_for(lambda: request in self._replies or self._told is None, 30)
                if request in self._replies:
                    return self._replies.pop(request)
            state = self._state[1]
        return checkpoint_bytes(Run.from_state_bytes(state, self.dataset))

    def stop(self, timeout: float = 10.0):
        with self._lock:
            self._stop = True
            self._lock.notify_all()
            supervisor = self._supervisor
        if supervisor is not None:
            supervisor.join(timeout)

    def snapshot(self) -> Snapshot:
        """The latest published state; reading it also tells the trainer someone is watching."""
        with self._lock:
            self._last_seen = time.monotonic()
            return self._snapshot

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
            return self._busy

    @property
    def alive(self) -> bool:
        """Whether a training process (or its start) is under way."""
        return self._supervisor is not None and self._supervisor.is_alive()

    # ---- turning wishes into messages (under the lock) -------------------------------------
    @property
    def _busy(self) -> bool:
        return self._wanted == RUNNING or self._singles > 0

    def _install(self, run: Run):
        fresh, state = fresh_snapshot(run), run.state_bytes()  # outside the lock: it evaluates
        with self._lock:
            self._generation += 1
            self._requested, self._state = run.config, (run.config, state)
            self._want_nothing()
            self._snapshot = replace(fresh, generation=self._generation)
            self._reconcile()

    def _want_nothing(self):
        """Paused, with no single steps pending: after a reset, a pause the process chose
        (NaN, finished), an exit or a lost process."""
        self._wanted, self._singles, self._unsent_singles = PAUSED, 0, 0

    def _reconcile(self):
        """Tell the process whatever it does not know yet of what the user wants."""
        if self._busy:
            self._last_busy = time.monotonic()
        if self._told is None:  # no process yet, or still starting: it hears all once ready
            if self._busy:
                self._set_status(WAITING, STARTING)
            elif self._snapshot.status in (RUNNING, WAITING):
                self._set_status(PAUSED, None)
            return
        generation, config, running = self._told
        if generation != self._generation:
            self._outbox.put(("restore", self._generation, self._state[1]))
            generation, config, running = self._generation, self._state[0], False
        if config != self._requested:
            self._outbox.put(("update", self._requested))
            config = self._requested
        if self._unsent_singles:
            self._outbox.put(("step", self._unsent_singles))
            self._unsent_singles = 0
        should_run = self._wanted == RUNNING and self._take_slot()
        if should_run != running:
            self._outbox.put(("run",) if should_run else ("pause",))
        if not should_run:
            self._release_slot()
        self._told = (generation, config, should_run)
        if should_run and self._snapshot.status != RUNNING:
            self._set_status(RUNNING, None)
        elif self._wanted != RUNNING and self._snapshot.status in (RUNNING, WAITING):
            self._set_status(PAUSED, None)

    def _take_slot(self) -> bool:
        if self._holds_slot or self._slots is None:
            return True
        if self._slots.acquire(blocking=False):
            self._holds_slot = True
            return True
        self._set_status(WAITING, "Other students' runs are training on this server; "
                                  "yours starts as soon as one of them pauses.")
        return False

    def _release_slot(self):
        if self._holds_slot:
            self._slots.release()
            self._holds_slot = False

    def _set_status(self, status: str, message: str | None):
        if (self._snapshot.status, self._snapshot.message) != (status, message):
            self._snapshot = replace(self._snapshot, status=status, message=message)

    # ---- the process and the threads that talk to it ---------------------------------------
    def _ensure_process(self):
        with self._lock:
            self._last_seen = time.monotonic()
            if self.alive or self._stop:
                return
            self._supervisor = threading.Thread(target=self._supervise, name="lossviz-trainer",
                                                daemon=True)
            self._supervisor.start()

    def _supervise(self):
        try:
            while self._one_process():
                pass  # Start was pressed again while the last process was on its way out
        except Exception as err:  # a process that cannot start: say so, keep the run
            with self._lock:
                self._want_nothing()
                self._set_status(PAUSED, f"The training process could not start: {err}")

    def _one_process(self) -> bool:
        """Start a process, relay between it and the page until it is no longer needed, and say
        whether another one is wanted right away."""
        with self._lock:
            generation, (config, state) = self._generation, self._state
        conn, child_end = _PROCESSES.Pipe()
        process = _PROCESSES.Process(
            target=serve, name="lossviz-trainer", daemon=True,
            args=(child_end, self.dataset, generation, state, training_threads(),
                  self._eval_budget))
        outbox = queue.Queue()
        sender = threading.Thread(target=_send_all, args=(conn, outbox), daemon=True)
        with self._lock:
            self._outbox = outbox
        process.start()
        child_end.close()  # so that the process's death reads as the end of the pipe
        sender.start()
        try:
            self._relay(conn, process, (generation, config, False))
        finally:
            outbox.put(None)
            sender.join()
            conn.close()
            process.join(5)
            if process.is_alive():
                process.kill()
            with self._lock:
                self._told, self._outbox = None, None
                self._release_slot()
                self._lock.notify_all()
        with self._lock:
            return not self._stop and self._busy

    def _relay(self, conn, process, told_at_ready: tuple):
        exit_sent = None  # when "exit" went out
        while True:
            try:
                message = conn.recv() if conn.poll(0.2) else None
            except (EOFError, OSError):
                self._lost(process, expected=exit_sent is not None)
                return
            with self._lock:
                if message is not None and self._take(message, told_at_ready):
                    return  # the process handed its run back
                if exit_sent is None:
                    self._pause_if_unwatched()
                if exit_sent is None and self._should_exit():
                    self._want_nothing()
                    self._outbox.put(("exit",))
                    exit_sent = time.monotonic()
                elif exit_sent is None:
                    self._reconcile()
                elif time.monotonic() - exit_sent > 30:
                    return  # it does not answer: the finally block kills it

    def _take(self, message: tuple, told_at_ready: tuple) -> bool:
        kind = message[0]
        if kind == "ready":
            self._told = told_at_ready
            self._last_seen = time.monotonic()  # the seconds spent starting were not idle
            self._reconcile()
        elif kind == "progress" and message[1].generation == self._generation:
            progress = message[1]
            self._singles = max(0, self._singles - progress.single)
            self._snapshot = with_progress(self._snapshot, progress)
        elif kind == "paused" and message[1] == self._generation:
            self._want_nothing()
            self._told = self._told[:2] + (False,)
            self._release_slot()
            self._set_status(PAUSED, message[2])
        elif kind == "saved":
            self._replies[message[1]] = message[2]
        elif kind == "state":
            if message[1] == self._generation:
                self._state = (self._told[1] if self._told else self._state[0], message[2])
            self._lock.notify_all()
            return True
        self._lock.notify_all()
        return False

    def _pause_if_unwatched(self):
        """Nobody has read a snapshot for pause_after seconds: the tab is probably gone. The
        seconds a process takes to start do not count."""
        if (self._told is not None and self._wanted == RUNNING
                and time.monotonic() - self._last_seen > self._pause_after):
            self._wanted = PAUSED
            self._reconcile()
            self._set_status(PAUSED, "Paused: nobody was watching.")

    def _should_exit(self) -> bool:
        """Stopped, or unwatched or without training for exit_after seconds (once started)."""
        if self._stop or self._told is None:
            return self._stop
        now = time.monotonic()
        return (now - self._last_seen > self._exit_after
                or (not self._busy and now - self._last_busy > self._exit_after))

    def _lost(self, process, expected: bool):
        """The pipe closed. Unless an exit was asked for, go back to the last run the process
        handed over (or was given), so that snapshots, history and run agree again."""
        process.join(1)
        with self._lock:
            self._told = None
            self._want_nothing()
            if expected or self._stop:
                return
            state = self._state[1]
        run = Run.from_state_bytes(state, self.dataset)
        self._install(run)
        with self._lock:
            self._set_status(PAUSED, f"The training process stopped unexpectedly (exit code "
                                     f"{process.exitcode}). Start carries on from step "
                                     f"{run.step}, the last state it handed back.")


def _send_all(conn, outbox: queue.Queue):
    """The sender thread: the only writer to the pipe, so messages keep their order."""
    while (message := outbox.get()) is not None:
        try:
            conn.send(message)
        except (OSError, ValueError):
            return  # the process is gone; the supervisor finds out from its end of the pipe

"""Live training: a Run stepped by a background thread that publishes immutable snapshots.

The thread is the only one that touches the Run. Everyone else sends commands (start, pause,
step, reset, new settings) and reads the latest Snapshot, both under one lock. A generation
number, bumped on every reset, lets a reader drop what belongs to an older run. The thread pauses
itself when nobody has asked for a snapshot for a while (the browser tab went away) and exits
a little later, so an abandoned session leaves nothing running.
"""
from __future__ import annotations

import math
import os
import threading
import time
from dataclasses import dataclass, field, replace

import torch

from lossviz.data import Dataset
from lossviz.train import Evaluation, Run, TrainConfig, params_in_force

IDLE, RUNNING, PAUSED, WAITING = "idle", "running", "paused", "waiting"
MAX_FRAMES, FRAME_POINTS = 200, 500  # the evolution GIF: recent frames, first points of each


def training_threads() -> int:
    """Threads for the trainer's math: all cores but one (LOSSVIZ_TRAIN_THREADS overrides).
    The spare core serves the page: when the page's Python work takes a core from a team of
    OpenMP threads, the whole team waits at every barrier and training crawls."""
    try:
        return max(1, int(os.environ["LOSSVIZ_TRAIN_THREADS"]))
    except (KeyError, ValueError):
        return max(1, (os.cpu_count() or 2) - 1)


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


class Trainer:
    def __init__(self, config: TrainConfig, dataset: Dataset, slots: threading.Semaphore | None = None,
                 eval_budget: float = 0.1, pause_after: float = 15.0, exit_after: float = 45.0):
        self.dataset, self._slots = dataset, slots
        self._eval_budget = eval_budget  # share of the time spent evaluating the test subset
        self._pause_after, self._exit_after = pause_after, exit_after
        self._lock = threading.Condition()
        self._thread: threading.Thread | None = None
        self._holds_slot = False
        self._wanted, self._single_steps, self._pending = PAUSED, 0, None
        self._stop = False
        self._finish_announced = False  # pause once when the planned epochs are done
        self._last_seen = time.monotonic()
        self._run = Run(config, dataset)
        self._run_lock = threading.Lock()  # held by the thread while it steps or evaluates
        self._requested = (0, config)  # (generation, config) most recently asked for
        self._generation = 0
        self._snapshot = self._fresh_snapshot(IDLE, None)

    # ---- commands (any thread) -------------------------------------------------------------
    def start(self):
        self._command(RUNNING)

    def pause(self):
        self._command(PAUSED)

    def step(self, count: int = 1):
        with self._lock:
            self._single_steps += count
            self._wanted = PAUSED
        self._ensure_thread()

    def update(self, config: TrainConfig):
        """New loss, parameters or learning rate: in force from the next step."""
        with self._lock:
            self._requested = (self._requested[0], config)
            self._pending = ("update", config)
            self._lock.notify_all()
        self._ensure_thread()

    def reset(self, config: TrainConfig):
        """A new run (new weights) with this config; older snapshots become stale."""
        with self._lock:
            self._requested = (self._requested[0] + 1, config)
            self._pending = ("reset", config)
            self._wanted, self._single_steps = PAUSED, 0
            self._lock.notify_all()
        self._ensure_thread()

    def restore(self, run: Run):
        """Continue from a run loaded from a checkpoint; older snapshots become stale."""
        with self._lock:
            self._requested = (self._requested[0] + 1, run.config)
            self._pending = ("restore", run)
            self._wanted, self._single_steps = PAUSED, 0
            self._lock.notify_all()
        self._ensure_thread()

    def checkpoint(self) -> bytes:
        """The current weights and configuration, taken between two steps."""
        from lossviz.checkpoint import checkpoint_bytes
        with self._run_lock:
            return checkpoint_bytes(self._run)

    def stop(self, timeout: float = 10.0):
        with self._lock:
            self._stop = True
            self._lock.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    def snapshot(self) -> Snapshot:
        """The latest published state; reading it also tells the thread someone is watching."""
        with self._lock:
            self._last_seen = time.monotonic()
            return self._snapshot

    @property
    def config(self) -> TrainConfig:
        """The configuration most recently asked for (it may not be in force yet)."""
        with self._lock:
            return self._requested[1]

    def is_current(self, snapshot: Snapshot) -> bool:
        """False for a snapshot of a run that a reset has already replaced."""
        with self._lock:
            return snapshot.generation == self._requested[0]

    @property
    def wants_to_run(self) -> bool:
        """True from the moment Start is pressed, before the thread has picked it up."""
        with self._lock:
            return self._wanted == RUNNING or self._single_steps > 0

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _command(self, wanted: str):
        with self._lock:
            self._wanted = wanted
            self._lock.notify_all()
        self._ensure_thread()

    def _ensure_thread(self):
        with self._lock:
            self._last_seen = time.monotonic()
            if self.alive or self._stop:
                return
            self._thread = threading.Thread(target=self._loop, name="lossviz-trainer", daemon=True)
            self._thread.start()

    # ---- the training thread ---------------------------------------------------------------
    def _loop(self):
        torch.set_num_threads(training_threads())
        timer = _Throughput()
        last_eval, eval_cost = 0.0, 0.0
        try:
            while True:
                action = self._next_action()
                if action == "exit":
                    return
                if action == "wait":
                    timer.reset()
                    continue
                try:
                    with self._run_lock:
                        loss, accuracy, size = self._run.train_step()
                except Exception as err:  # shown on the page; the thread stays usable
                    self._pause_with(f"Training paused: {err}")
                    continue
                if math.isnan(loss):
                    self._pause_for_nan()
                    continue
                timer.add(size, loss, accuracy)
                now = time.monotonic()
                # evaluate within the time budget, but at least every 2 s: one slow evaluation
                # (a busy machine, a first call) must not freeze the view
                interval = min(2.0, max(0.5, eval_cost / self._eval_budget))
                if action == "single" or now - last_eval >= interval:
                    started = time.monotonic()
                    self._publish(timer)
                    last_eval, eval_cost = time.monotonic(), time.monotonic() - started
        finally:
            self._release_slot()

    def _next_action(self) -> str:
        """What the thread does next: 'train', 'single', 'wait' or 'exit'. Applies pending
        resets and updates here, between steps, so a step never sees half a change."""
        with self._lock:
            if self._pending is not None:
                self._apply_pending()
            idle = time.monotonic() - self._last_seen
            if self._stop or idle > self._exit_after:
                return "exit"
            if idle > self._pause_after and self._wanted == RUNNING:
                self._wanted = PAUSED
                self._set_status(PAUSED, "Paused: nobody was watching.")
            if self._single_steps > 0:
                self._single_steps -= 1
                return "single"
            if self._wanted == RUNNING and self._run.finished and not self._finish_announced:
                self._finish_announced, self._wanted = True, PAUSED
                self._set_status(PAUSED, f"Finished {self._run.config.epochs} epochs. "
                                         "Start again to keep training at the final learning rate.")
            if self._wanted == RUNNING and self._take_slot():
                if self._snapshot.status != RUNNING:
                    self._set_status(RUNNING, None)
                return "train"
            if self._wanted != RUNNING:
                self._release_slot()
                if self._snapshot.status == RUNNING:
                    self._set_status(PAUSED, None)
            self._lock.wait(0.2)
            return "wait"

    def _apply_pending(self):
        kind, value = self._pending
        self._pending = None
        if kind in ("reset", "restore"):
            with self._run_lock:
                self._run = Run(value, self.dataset) if kind == "reset" else value
            self._generation += 1
            self._finish_announced = False
            self._snapshot = self._fresh_snapshot(IDLE, None)
        else:
            self._run.reconfigure(value)
            self._snapshot = replace(self._snapshot, config=value,
                                     params=params_in_force(value, self._run.step))

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
        self._snapshot = replace(self._snapshot, status=status, message=message)

    def _pause_for_nan(self):
        self._pause_with("The loss became NaN or infinite, so training paused and kept the "
                         "last good weights. Lower the learning rate, s or the margin, or add a "
                         "warm-up, then resume.")

    def _pause_with(self, message: str):
        with self._lock:
            self._wanted, self._single_steps = PAUSED, 0
            self._set_status(PAUSED, message)

    def _fresh_snapshot(self, status: str, message: str | None) -> Snapshot:
        run = self._run
        return Snapshot(self._generation, status, message, run.step, 0.0, run.config,
                        params_in_force(run.config, run.step), run.learning_rate(), 0.0,
                        run.evaluate())

    def _publish(self, timer: "_Throughput"):
        run = self._run
        with self._run_lock:  # not the snapshot lock: readers keep the previous snapshot
            evaluation = run.evaluate()
        epoch = run.step / run.steps_per_epoch
        loss, accuracy, speed = timer.take()
        with self._lock:
            history = self._snapshot.history.plus(
                steps=run.step, epochs=epoch, train_loss=loss, train_accuracy=accuracy,
                test_loss=evaluation.loss, test_accuracy=evaluation.accuracy)
            self._snapshot = replace(
                self._snapshot, step=run.step, epoch=epoch, config=run.config,
                params=params_in_force(run.config, run.step), learning_rate=run.learning_rate(),
                samples_per_s=speed or self._snapshot.samples_per_s, evaluation=evaluation,
                history=history, frames=(self._snapshot.frames + (
                    (epoch, evaluation.features[:FRAME_POINTS], evaluation.weights),))[-MAX_FRAMES:])


class _Throughput:
    """Samples per second and mean training loss/accuracy since the last take()."""

    def __init__(self):
        self.reset()

    def reset(self):
        self._start, self._samples, self._losses, self._accuracies = time.monotonic(), 0, [], []

    def add(self, samples: int, loss: float, accuracy: float):
        self._samples += samples
        self._losses.append(loss)
        self._accuracies.append(accuracy)

    def take(self) -> tuple[float, float, float]:
        elapsed = time.monotonic() - self._start
        loss = sum(self._losses) / max(1, len(self._losses))
        accuracy = sum(self._accuracies) / max(1, len(self._accuracies))
        speed = self._samples / elapsed if elapsed > 0 and self._samples > 1 else 0.0
        self.reset()
        return loss, accuracy, speed

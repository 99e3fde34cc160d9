"""The training process behind a live Trainer: it owns the Run, steps it as fast as the CPU
allows, and sends progress back over a pipe; it reads commands between two steps.

A process rather than a thread in the web server: a training thread shares the interpreter
lock with every page being drawn, so each figure stalls training, and this torch build runs
its math about 15% slower off the main thread. Here training has its own interpreter and runs
on its main thread.

Messages in:  ("run",) ("pause",) ("step", n) ("update", config) ("restore", generation, state)
              ("save", request) ("exit",)
Messages out: ("ready", generation) once started, ("progress", Progress),
              ("paused", generation, text) ("saved", request, bytes)
              ("state", generation, bytes), the last one in answer to "exit".
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass

import torch

from lossviz.checkpoint import checkpoint_bytes
from lossviz.train import Evaluation, Run, TrainConfig, params_in_force

NAN_MESSAGE = ("The loss became NaN, infinite or exploded, so training paused and went back to "
               "the weights before the update that broke them. Lower the learning rate, s or "
               "the margin, or add a warm-up, then resume.")


@dataclass(frozen=True)
class Progress:
    """What one evaluation tells the page: plain numbers and numpy arrays, cheap to send."""
    generation: int
    single: bool  # the answer to a "step" command
    step: int
    epoch: float
    config: TrainConfig
    params: dict
    learning_rate: float
    samples_per_s: float  # since the previous Progress; 0.0 when unknown
    threads: int  # the thread count training uses now
    train_loss: float
    train_accuracy: float
    evaluation: Evaluation


def serve(conn, dataset, generation: int, state: bytes, threads: int | None, eval_budget: float):
    """The process's main function: carry on the run saved in state until told to exit.
    threads=None lets a ThreadTuner choose as it goes."""
    tuner = ThreadTuner(os.cpu_count() or 1) if threads is None else ThreadTuner(threads, threads)
    _Worker(conn, dataset, generation, state, eval_budget, tuner).serve()


class ThreadTuner:
    """Trains with whichever thread count is fastest now: all cores, or all but one.

    Which one wins depends on who else wants the cores. On a server whose students browse from
    their own machines, all cores win (2 cores: about 4,500 against 3,200 samples/s). With the
    browser drawing on the same 2 cores, a team of 2 threads stalls at every barrier whenever
    the browser takes a core, and 1 thread wins (about 2,400 against 1,800). So each candidate
    gets a short trial, counting training time only, and the winner holds until the next round
    of trials. Each time the same count wins again the hold doubles (up to 8 times), since a
    trial of the slower count costs training time.
    Fewer threads must win by a clear margin: on a noisy machine one lucky trial would otherwise
    hold the slower count for a whole round."""

    MARGIN = 1.1
    LONGEST_HOLD = 8  # times hold_seconds

    def __init__(self, most: int, fewest: int | None = None, trial_seconds: float = 3.0,
                 hold_seconds: float = 30.0):
        fewest = max(1, most - 1) if fewest is None else fewest
        self.candidates = sorted({most, fewest}, reverse=True)
        self.trial_seconds, self.first_hold = trial_seconds, hold_seconds
        self.hold_seconds, self._last_winner = hold_seconds, None
        self.rates: dict[int, float] = {}
        self._start_trials()

    @property
    def threads(self) -> int:
        return self._current

    def add(self, samples: int, seconds: float):
        """A training step of this many samples took this long."""
        self._samples += samples
        self._seconds += seconds
        if self._seconds < (self.trial_seconds if self._trying else self.hold_seconds):
            return
        if not self._trying:
            self._start_trials()
            return
        self.rates[self._current] = self._samples / self._seconds
        self._trying.pop(0)
        if self._trying:
            self._use(self._trying[0])
            return
        winner = self._winner()
        self.hold_seconds = (min(2 * self.hold_seconds, self.LONGEST_HOLD * self.first_hold)
                             if winner == self._last_winner else self.first_hold)
        self._last_winner = winner
        self._use(winner)

    def _winner(self) -> int:
        most = self.candidates[0]
        fastest = max(self.rates, key=self.rates.get)
        return fastest if self.rates[fastest] > self.MARGIN * self.rates[most] else most

    def _start_trials(self):
        self._trying = list(self.candidates)
        self._use(self._trying[0])

    def _use(self, threads: int):
        self._current, self._samples, self._seconds = threads, 0, 0.0
        torch.set_num_threads(threads)


class _Worker:
    def __init__(self, conn, dataset, generation: int, state: bytes, eval_budget: float,
                 tuner: ThreadTuner):
        self.conn, self.dataset, self.generation, self.tuner = conn, dataset, generation, tuner
        self.run = Run.from_state_bytes(state, dataset)
        self.eval_budget = eval_budget  # share of the time spent evaluating the test subset
        self.running, self.singles, self.finish_announced = False, 0, False
        self.timer = _Throughput()
        self.last_eval, self.eval_cost = 0.0, 0.0

    def serve(self):
        self.conn.send(("ready", self.generation))
        while True:
            if not (self.running or self.singles) or self.conn.poll():
                try:
                    message = self.conn.recv()  # blocks while there is nothing to train
                except (EOFError, OSError):
                    return  # the web server is gone: nobody to train for
                if self.handle(message) == "exit":
                    return
            else:
                self.train_one()

    def handle(self, message: tuple) -> str | None:
        kind = message[0]
        if kind == "run":
            self.running = True
            self.timer.reset()
        elif kind == "pause":
            if self.running and self.timer.samples:
                self.publish(single=False)  # the page shows where training stopped
            self.running, self.singles = False, 0
        elif kind == "step":
            self.running, self.singles = False, self.singles + message[1]
            self.timer.reset()
        elif kind == "update":
            self.run.reconfigure(message[1])
        elif kind == "restore":
            self.generation, self.run = message[1], Run.from_state_bytes(message[2], self.dataset)
            self.running, self.singles, self.finish_announced = False, 0, False
        elif kind == "save":
            self.conn.send(("saved", message[1], checkpoint_bytes(self.run)))
        elif kind == "exit":
            self.conn.send(("state", self.generation, self.run.state_bytes()))
            return "exit"
        return None

    def train_one(self):
        run = self.run
        if self.running and run.finished and not self.finish_announced:
            self.finish_announced = True
            self.pause(f"Finished {run.config.epochs} epochs. Start again to keep training at "
                       "the final learning rate.")
            return
        try:
            started = time.perf_counter()
            loss, accuracy, size = run.train_step()
            self.tuner.add(size, time.perf_counter() - started)
        except Exception as err:  # shown on the page; the process stays usable
            self.pause(f"Training paused: {err}")
            return
        if math.isnan(loss):
            self.pause(NAN_MESSAGE)
            return
        self.timer.add(size, loss, accuracy)
        single = self.singles > 0
        self.singles -= single
        # evaluate within the time budget, but at least every 2 s: one slow evaluation (a busy
        # machine, a first call) must not freeze the view
        interval = min(2.0, max(0.5, self.eval_cost / self.eval_budget))
        if single or time.monotonic() - self.last_eval >= interval:
            started = time.monotonic()
            self.publish(single)
            self.last_eval, self.eval_cost = time.monotonic(), time.monotonic() - started

    def pause(self, text: str):
        self.running, self.singles = False, 0
        self.conn.send(("paused", self.generation, text))

    def publish(self, single: bool):
        run = self.run
        evaluation = run.evaluate()
        loss, accuracy, speed = self.timer.take()
        self.conn.send(("progress", Progress(
            self.generation, single, run.step, run.step / run.steps_per_epoch, run.config,
            params_in_force(run.config, run.step), run.learning_rate(), speed, self.tuner.threads,
            loss, accuracy, evaluation)))


class _Throughput:
    """Samples per second and mean training loss/accuracy since the last take()."""

    def __init__(self):
        self.reset()

    @property
    def samples(self) -> int:
        return self._samples

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

"""The training process: it holds any number of runs and steps the busy ones in turn, as fast
as the CPU allows, sending progress back over a pipe; it reads messages between two steps.

A process rather than a thread in the web server: a training thread shares the interpreter
lock with every page being drawn, so each figure stalls training, and this torch build runs
its math about 15% slower off the main thread. Here training has its own interpreter and runs
on its main thread.

One process for many runs rather than one each: a run is a few hundred kilobytes, the
imported torch several hundred megabytes, and the cores are the limit either way (8 runs in one
process train as fast, together, as 8 processes would). Runs take turns one step at a time;
each evaluates (for its page) about as often as the page can show it, less often when many
runs share the process, so evaluations stay a modest share of the time.

The messages are in lossviz.protocol.
"""
from __future__ import annotations

import math
import os
import statistics
import threading
import time
from collections import deque

import torch

from lossviz import protocol as p
from lossviz.checkpoint import checkpoint_bytes
from lossviz.i18n import Message
from lossviz.train import Run, params_in_force


def serve(conn, threads: int | None, eval_budget: float, refresh: tuple[float, float]):
    """The process's main function: serve runs until told to exit or the web server is gone.
    threads=None lets a ThreadTuner choose as it goes."""
    _exit_with_parent()
    tuner = ThreadTuner(os.cpu_count() or 1) if threads is None else ThreadTuner(threads, threads)
    _warm_up()
    _Worker(conn, tuner, eval_budget, refresh).serve()


def _warm_up():
    """One training step and one evaluation on blank digits, before saying Ready: torch's
    first calls set up its kernels and take seconds, which the first Start would otherwise
    wait for (the process starts while the student reads the page). The first optimizer
    imports torch._dynamo, about 2 s more."""
    from lossviz.model import FeatureNet, to_input
    for dim in (2, 3):
        model = FeatureNet(dim).to(memory_format=torch.channels_last)
        optimizer = torch.optim.Adam(model.parameters())
        images = to_input(torch.zeros(128, 28, 28, dtype=torch.uint8))
        model(images).sum().backward()
        optimizer.step()
        model.eval()
        with torch.no_grad():
            model(to_input(torch.zeros(250, 28, 28, dtype=torch.uint8)))


def _exit_with_parent(every: float = 0.5):
    """The web server killed outright (SIGKILL) closes our pipe, which the loop notices between
    two steps; this also catches a step that never ends. Our parent is the web server (spawn)
    or the fork server (lossviz.host.training_start), which exits as soon as the web server
    is gone. A daemon thread, so it costs nothing while training."""
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(every)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


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


class _LiveRun:
    """A playground run: trains while told to run, or for a number of single steps."""

    def __init__(self, run_id: str, generation: int, run: Run):
        self.run_id, self.generation, self.run = run_id, generation, run
        self.running, self.singles, self.finish_announced = False, 0, False
        self.timer = _Throughput()
        self.last_eval = 0.0

    @property
    def busy(self) -> bool:
        return self.running or self.singles > 0


class _FitRun:
    """A comparison run: trains to its last epoch, then answers its request."""

    def __init__(self, request: int, steps):
        self.request, self.steps = request, steps

    busy = True


class _Worker:
    MOST_EVALUATING = 0.5  # share of the time
    SLOWEST = 5.0  # seconds

    def __init__(self, conn, tuner: ThreadTuner, eval_budget: float,
                 refresh: tuple[float, float]):
        self.conn, self.tuner = conn, tuner
        self.eval_budget = eval_budget  # share of the time spent evaluating for the pages
        self.refresh = refresh  # (shortest, longest) seconds between two evaluations of a run
        self.datasets: dict[str, object] = {}
        self.runs: dict[str, _LiveRun | _FitRun] = {}
        self.eval_costs: deque = deque(maxlen=5)  # seconds, the last evaluations of any run

    # ---- the loop ---------------------------------------------------------------------------
    def serve(self):
        self.conn.send(p.Ready(os.getpid()))
        turns = iter(())
        while True:
            busy = [run_id for run_id, job in self.runs.items() if job.busy]
            try:
                # between two steps, read whatever has come; with nothing to train, wait for it
                while not busy or self.conn.poll():
                    if self.handle_safely(self.conn.recv()) == "exit":
                        return
                    busy = [run_id for run_id, job in self.runs.items() if job.busy]
            except (EOFError, OSError):
                return  # the web server is gone: nobody to train for
            run_id = next(turns, None)
            if run_id not in busy:  # a new round: every busy run takes one step in turn
                turns = iter(busy)
                run_id = next(turns)
            self.take_turn(run_id, len(busy))

    def take_turn(self, run_id: str, sharing: int):
        job = self.runs[run_id]
        if isinstance(job, _FitRun):
            self.fit_step(run_id, job)
        else:
            self.train_one(job, sharing)

    # ---- messages -----------------------------------------------------------------------------
    def handle_safely(self, message) -> str | None:
        """One run's trouble (a state that does not load, a failed update) is told to its page
        and must not end the process that trains everyone else's runs."""
        try:
            return self.handle(message)
        except Exception as err:
            error = f"{type(err).__name__}: {err}"
            if hasattr(message, "request"):
                self.conn.send(p.Failed(message.request, error))
            elif job := self.live(getattr(message, "run_id", "")):
                self.pause(job, Message("runs.error", {"error": error}))
            return None

    def handle(self, message) -> str | None:
        match message:
            case p.AddData(key, dataset):
                self.datasets[key] = dataset
            case p.Load(run_id, generation, data_key, state):
                run = Run.from_state_bytes(state, self.datasets[data_key])
                self.runs[run_id] = _LiveRun(run_id, generation, run)
            case p.Update(run_id, config):
                if job := self.live(run_id):
                    job.run.reconfigure(config)
            case p.Resume(run_id):
                if job := self.live(run_id):
                    job.running = True
                    job.timer.reset()
                    job.last_eval = 0.0  # the page sees the first step at once
            case p.Pause(run_id):
                if (job := self.live(run_id)) and job.running:
                    job.running = False
                    if job.timer.samples:
                        self.publish(job, single=False)  # the page shows where training stopped
                self.conn.send(p.PauseDone(run_id))
            case p.Step(run_id, count):
                if job := self.live(run_id):
                    job.singles += count
                    job.timer.reset()
            case p.Save(run_id, request):
                self.answer(request, lambda: checkpoint_bytes(self.live(run_id).run))
            case p.Fetch(run_id, request):
                self.answer(request, lambda: self.live(run_id).run.state_bytes())
            case p.Park(run_id, request):
                self.answer(request, lambda: self.runs.pop(run_id).run.state_bytes())
            case p.Fit(run_id, request, label, config, data_key):
                self.start_fit(run_id, request, label, config, self.datasets[data_key])
            case p.Drop(run_id):
                self.runs.pop(run_id, None)
            case p.Exit():
                return "exit"
        return None

    def live(self, run_id: str) -> _LiveRun | None:
        job = self.runs.get(run_id)
        return job if isinstance(job, _LiveRun) else None

    def answer(self, request: int, compute):
        try:
            self.conn.send(p.Reply(request, compute()))
        except Exception as err:  # an unknown run, a failed save: the page's Future says why
            self.conn.send(p.Failed(request, f"{type(err).__name__}: {err}"))

    # ---- live runs ----------------------------------------------------------------------------
    def train_one(self, job: _LiveRun, sharing: int):
        run = job.run
        if job.running and run.finished and not job.finish_announced:
            job.finish_announced = True
            self.pause(job, Message("runs.finished", {"epochs": run.config.epochs}))
            return
        try:
            started = time.perf_counter()
            loss, accuracy, size = run.train_step()
            self.tuner.add(size, time.perf_counter() - started)
        except Exception as err:  # shown on the page; the process stays usable
            self.pause(job, Message("runs.error", {"error": str(err)}))
            return
        if math.isnan(loss):
            # the run went back to its last good weights: show them, and say what happened
            self.publish(job, single=False)
            self.pause(job, run.divergence or Message("runs.nan"))
            return
        job.timer.add(size, loss, accuracy)
        single = job.singles > 0
        job.singles -= single
        if single or time.monotonic() - job.last_eval >= self.eval_interval(sharing):
            started = time.monotonic()
            self.publish(job, single)
            job.last_eval = time.monotonic()
            self.eval_costs.append(job.last_eval - started)

    def eval_interval(self, sharing: int) -> float:
        """Evaluate within the time budget (shared by every busy run), but at least every
        refresh[1] seconds, so that eight runs do not make each other's views stand still;
        unless evaluations would then take more than half of the time (a machine so busy that
        one takes a second): training must go on. Still, never a view still for longer than
        SLOWEST seconds. The cost is the median of the last evaluations of any run: they all
        evaluate the same test digits, and one slow first call must not set a run's pace."""
        shortest, longest = self.refresh
        cost = sharing * statistics.median(self.eval_costs or [0.0])
        return min(self.SLOWEST, max(shortest, min(longest, cost / self.eval_budget),
                                     cost / self.MOST_EVALUATING))

    def pause(self, job: _LiveRun, message: Message):
        job.running, job.singles = False, 0
        self.conn.send(p.Paused(job.run_id, job.generation, message))

    def publish(self, job: _LiveRun, single: bool):
        run = job.run
        evaluation = run.evaluate()
        loss, accuracy, speed = job.timer.take()
        self.conn.send(p.Progress(
            job.run_id, job.generation, single, run.step, run.step / run.steps_per_epoch,
            run.config, params_in_force(run.config, run.step), run.learning_rate(), speed,
            self.tuner.threads, loss, accuracy, evaluation, dict(run.loss_state)))

    # ---- comparison runs ----------------------------------------------------------------------
    def start_fit(self, run_id: str, request: int, label, config, dataset):
        from lossviz.compare import train_one_stepwise  # compare imports the figures' exports

        def on_epoch(epoch):
            self.conn.send(p.FitEpoch(run_id, epoch))

        self.runs[run_id] = _FitRun(request, train_one_stepwise(label, config, dataset,
                                                                on_epoch))

    def fit_step(self, run_id: str, job: _FitRun):
        try:
            next(job.steps)
        except StopIteration as done:
            del self.runs[run_id]
            self.conn.send(p.Reply(job.request, done.value))
        except Exception as err:
            del self.runs[run_id]
            self.conn.send(p.Failed(job.request, f"{type(err).__name__}: {err}"))


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

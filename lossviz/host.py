"""A host owns one training process (lossviz.worker), the two threads that talk to it, and the
Futures of the requests it has not answered yet.

The sender thread is the only writer to the pipe, so messages keep their order; the reader
thread is the only reader. Neither holds a lock while it waits on the pipe, so a full pipe one
way never blocks the other. What the reader does not answer itself (progress, pauses) goes to
on_message, on the reader thread. When the process ends, expectedly or not, every pending
Future fails with HostLost, the process is joined (never left a zombie), and on_lost hears of it.
"""
from __future__ import annotations

import itertools
import multiprocessing
import os
import queue
import sys
import threading
import types
from concurrent.futures import Future, TimeoutError as FutureTimeout

from lossviz import protocol as p
from lossviz.worker import serve


def training_start():
    """How training processes start. Never a plain fork: a fork of the web server would copy
    its threads' locks mid-use. Where the system has it, forkserver: one clean process, started
    from nothing once, imports torch and the worker (torch._dynamo too, which the first
    optimizer imports: about 2 s), and every training process is a fork of it, Ready in about
    0.2 s instead of 2 to 3 s (spawn, which imports all that again each time) and sharing those
    pages with its siblings. Elsewhere, spawn. Nothing may run torch in that server: a fork
    must not copy torch's thread pools."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["lossviz.worker", "torch._dynamo"])
    return context


TRAINING_START = training_start()


class HostLost(RuntimeError):
    """The training process ended before it answered."""


def training_threads() -> int | None:
    """LOSSVIZ_TRAIN_THREADS, a fixed thread count for training; None (the default) lets the
    training process choose between all cores and all but one as it goes."""
    try:
        return max(1, int(os.environ["LOSSVIZ_TRAIN_THREADS"]))
    except (KeyError, ValueError):
        return None


_MAIN_SWAP = threading.Lock()


def start_without_main(process):
    """Start process without the parent's __main__. Spawn and forkserver run that module again
    in the child before the target; in a Streamlit server it is the page script last run
    (Streamlit installs each script run as __main__), so the training process ran app.py and
    through it a page, bare: Streamlit, plotly and pandas imported, 2,000 modules, seconds
    before Ready. The target (lossviz.worker.serve) needs nothing from __main__; script threads
    keep their own globals, and a script run that installed itself meanwhile is left in place."""
    with _MAIN_SWAP:
        main, bare = sys.modules.get("__main__"), types.ModuleType("__main__")
        sys.modules["__main__"] = bare
        try:
            process.start()
        finally:
            if sys.modules.get("__main__") is bare and main is not None:
                sys.modules["__main__"] = main


class Host:
    def __init__(self, on_message, on_lost, context=TRAINING_START, eval_budget: float = 0.1,
                 refresh: tuple[float, float] = (0.4, 1.0)):
        self._on_message, self._on_lost = on_message, on_lost
        self._lock = threading.Lock()
        self._pending: dict[int, Future] = {}
        self._requests = itertools.count()
        self._data_sent: set[str] = set()
        self._outbox: queue.Queue = queue.Queue()
        self._stopping = False
        self.lost = False
        self.ready = threading.Event()
        self.exitcode: int | None = None
        conn, child_end = context.Pipe()
        try:
            self._process = context.Process(
                target=serve, name="lossviz-trainer", daemon=True,
                args=(child_end, training_threads(), eval_budget, refresh))
            start_without_main(self._process)
        except BaseException:
            conn.close()
            raise
        finally:
            child_end.close()  # ours: the process has its own, so its death reads as EOF here
        self._conn = conn
        self.pid = self._process.pid
        threading.Thread(target=self._send_all, name="lossviz-host-send", daemon=True).start()
        self._reader = threading.Thread(target=self._read, name="lossviz-host-read", daemon=True)
        self._reader.start()

    # ---- talking to the process ---------------------------------------------------------------
    def send(self, *messages):
        for message in messages:
            self._outbox.put(message)

    def send_data(self, key: str, dataset):
        """Hand the process a data set the first time one of its runs needs it."""
        with self._lock:
            if key in self._data_sent:
                return
            self._data_sent.add(key)
        self.send(p.AddData(key, dataset))

    def request(self, make) -> tuple[int, Future]:
        """Send make(request_number); the Future gets the process's answer, or HostLost."""
        future: Future = Future()
        with self._lock:
            if self.lost:
                future.set_exception(HostLost("the training process has ended"))
                return -1, future
            number = next(self._requests)
            self._pending[number] = future
            self._outbox.put(make(number))
        return number, future

    def call(self, make, timeout: float):
        """request() and wait for its answer. A request that times out is forgotten: a late
        answer is dropped instead of kept for ever."""
        number, future = self.request(make)
        try:
            return future.result(timeout)
        except FutureTimeout:
            self.forget(number)
            raise

    def forget(self, number: int):
        """Stop waiting for an answer (its Future is cancelled; a late answer is dropped)."""
        with self._lock:
            future = self._pending.pop(number, None)
        if future is not None:
            future.cancel()

    @property
    def pending_requests(self) -> int:
        with self._lock:
            return len(self._pending)

    @property
    def alive(self) -> bool:
        return not self.lost

    def stop(self, timeout: float = 10.0):
        """Ask the process to exit and wait for it (killed if it does not answer in time)."""
        with self._lock:
            self._stopping = True
        self.send(p.Exit())
        self._reader.join(timeout)
        if self._reader.is_alive():
            self._process.kill()  # the reader sees the pipe close and joins it
            self._reader.join(timeout)

    # ---- the threads --------------------------------------------------------------------------
    def _send_all(self):
        while (message := self._outbox.get()) is not None:
            try:
                self._conn.send(message)
            except (OSError, ValueError):
                return  # the process is gone; the reader finds out from its end of the pipe

    def _read(self):
        while True:
            try:
                message = self._conn.recv()
            except (EOFError, OSError):
                break
            match message:
                case p.Ready():
                    self.ready.set()
                case p.Reply(number, value):
                    self._resolve(number, lambda future: future.set_result(value))
                case p.Failed(number, error):
                    self._resolve(number, lambda future: future.set_exception(RuntimeError(error)))
                case _:
                    self._on_message(self, message)
        self._end()

    def _resolve(self, number: int, settle):
        with self._lock:
            future = self._pending.pop(number, None)
        if future is not None and future.set_running_or_notify_cancel():
            settle(future)

    def _end(self):
        with self._lock:
            self.lost, expected = True, self._stopping
            pending, self._pending = list(self._pending.values()), {}
        self._outbox.put(None)
        self._process.join(5)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self.exitcode = self._process.exitcode
        self._conn.close()
        for future in pending:
            if future.set_running_or_notify_cancel():
                future.set_exception(HostLost(f"the training process ended (exit code "
                                              f"{self.exitcode})"))
        self._on_lost(self, expected)

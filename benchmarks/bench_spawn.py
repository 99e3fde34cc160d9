"""The training process's start as a Streamlit server sees it, side by side in one run.

    python -m benchmarks.bench_spawn [--repeat 2]

Times Host() to Ready (torch imported, kernels warmed up) and reads the memory (PSS) then of
the training process and, for a fork, its fork server, three ways, alternating:
- now: a fork of the fork server, which imported torch, the worker and torch._dynamo once
  (lossviz.host.training_start), __main__ hidden;
- spawned: a fresh interpreter that imports them again, __main__ hidden;
- spawned with app.py: as before lossviz.host.start_without_main. In a Streamlit server
  sys.modules["__main__"] is the page script last run (app.py), which spawn runs again in the
  child before its target.
The fork server is started before the first timing, as the first training process of a server
starts it. Never a pass/fail test: it prints numbers.
"""
import argparse
import multiprocessing
import os
import statistics
import sys
import time
import types
from contextlib import contextmanager, nullcontext
from pathlib import Path
from unittest import mock

from benchmarks.bench_memory import rollup
from lossviz import host as host_module
from lossviz.host import TRAINING_START, Host
from tests.conftest import parent_of

APP = Path(__file__).resolve().parents[1] / "app.py"


@contextmanager
def page_script_as_main():
    page = types.ModuleType("__main__")
    page.__file__ = str(APP)
    saved = sys.modules["__main__"]
    sys.modules["__main__"] = page
    try:
        yield
    finally:
        sys.modules["__main__"] = saved


SPAWN = multiprocessing.get_context("spawn")
WAYS = {"now (fork of the fork server)": (TRAINING_START, True),
        "spawned": (SPAWN, True),
        "spawned with app.py": (SPAWN, False)}


def start_once(context, hide_main: bool) -> tuple[float, float]:
    """Seconds from Host() to Ready, and the PSS in MB then of the process and its fork server
    (the parent, when it is not this process)."""
    shown = mock.patch.object(host_module, "start_without_main", lambda process: process.start())
    with page_script_as_main(), (nullcontext() if hide_main else shown):
        began = time.monotonic()
        host = Host(lambda *_: None, lambda *_: None, context)
    try:
        if not host.ready.wait(600):
            raise TimeoutError("the training process was not ready within 10 minutes")
        seconds = time.monotonic() - began
        parent = parent_of(host.pid)
        pids = [host.pid] + ([parent] if parent != os.getpid() else [])
        return seconds, sum(rollup(pid)[1] for pid in pids) / 2 ** 20
    finally:
        host.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    start_once(*WAYS["now (fork of the fork server)"])  # starts the fork server
    found = {way: [] for way in WAYS}
    for _ in range(args.repeat):
        for way, (context, hide_main) in WAYS.items():
            found[way].append(start_once(context, hide_main))
    now = statistics.median(s for s, _ in found["now (fork of the fork server)"])
    for way, runs in found.items():
        seconds = [s for s, _ in runs]
        print(f"{way}: Host() to Ready {statistics.median(seconds):.2f} s "
              f"({', '.join(f'{s:.2f}' for s in seconds)}; {statistics.median(seconds) / now:.1f}x "
              f"now), PSS at Ready {statistics.median(m for _, m in runs):,.0f} MB")


if __name__ == "__main__":
    main()

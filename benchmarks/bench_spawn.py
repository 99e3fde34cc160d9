"""The training process's start as a Streamlit server sees it, side by side in one run.

    python -m benchmarks.bench_spawn [--repeat 2]

In a Streamlit server, sys.modules["__main__"] is the page script last run (app.py). Spawn runs
__main__ again in the child before its target, unless the host hides it (lossviz.host.
start_without_main). Times Host() to Ready (torch imported, kernels warmed up) and reads the
process's memory (PSS) then, with __main__ hidden (now) and shown (before), alternating.
Never a pass/fail test: it prints numbers.
"""
import argparse
import statistics
import sys
import time
import types
from contextlib import contextmanager, nullcontext
from pathlib import Path
from unittest import mock

from benchmarks.bench_memory import rollup
from lossviz import host as host_module
from lossviz.host import Host

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


def start_once(hide_main: bool) -> tuple[float, float]:
    """Seconds from Host() to Ready, and the process's PSS in MB then."""
    shown = mock.patch.object(host_module, "start_without_main", lambda process: process.start())
    with page_script_as_main(), (nullcontext() if hide_main else shown):
        began = time.monotonic()
        host = Host(lambda *_: None, lambda *_: None)
    try:
        if not host.ready.wait(600):
            raise TimeoutError("the training process was not ready within 10 minutes")
        return time.monotonic() - began, rollup(host.pid)[1] / 2 ** 20
    finally:
        host.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    found = {True: [], False: []}
    for _ in range(args.repeat):
        for hide_main in (True, False):
            found[hide_main].append(start_once(hide_main))
    for hide_main, label in ((True, "without __main__ (now)"), (False, "with app.py (before)")):
        seconds = [s for s, _ in found[hide_main]]
        memory = [m for _, m in found[hide_main]]
        print(f"{label}: Host() to Ready {statistics.median(seconds):.1f} s "
              f"({', '.join(f'{s:.1f}' for s in seconds)}), PSS at Ready "
              f"{statistics.median(memory):,.0f} MB")
    ratio = (statistics.median(s for s, _ in found[False])
             / statistics.median(s for s, _ in found[True]))
    print(f"ratio before/now: {ratio:.1f}x")


if __name__ == "__main__":
    main()

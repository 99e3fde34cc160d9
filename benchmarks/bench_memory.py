"""Memory of a class: N sessions, T of them training, the runs held by a Registry in this
process (standing in for the web server) and trained in its training process(es).

    python -m benchmarks.bench_memory [--sessions 30] [--training 8]

Side by side: (a) one training process steps every run in turn (how lossviz works now), and
(b) one training process per training session (the shape before: each process imports torch
afresh). RSS counts shared pages once per process; PSS splits them between the processes that
share them, so the PSS sum is what the machine really spends. Read from /proc/PID/smaps_rollup.
Never a pass/fail test: it prints numbers.
"""
import argparse
import os
import time

from lossviz.data import load_bundled
from lossviz.registry import Registry
from lossviz.train import preset_config


def rollup(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of a process, in bytes."""
    values = {}
    with open(f"/proc/{pid}/smaps_rollup") as lines:
        for line in lines:
            name, _, rest = line.partition(":")
            if name in ("Rss", "Pss"):
                values[name] = int(rest.split()[0]) * 1024
    return values["Rss"], values["Pss"]


def start_class(registries, dataset, sessions: int, training: int):
    """sessions runs spread over the registries, the first `training` of them training."""
    runs = []
    for index in range(sessions):
        registry = registries[index % len(registries)] if index < training else registries[0]
        runs.append(registry.create(preset_config("arcface", 2, epochs=1000), dataset))
    for run in runs[:training]:
        run.start()
    deadline = time.monotonic() + 600  # a busy machine: every run has trained and evaluated
    # every training run's snapshot read each time: a run nobody looks at pauses itself
    while not all([run.snapshot().step > 1 for run in runs[:training]]):
        assert time.monotonic() < deadline, "the runs did not all train within 10 minutes"
        time.sleep(0.2)
    return runs


def measure(processes_per_run: bool, dataset, sessions: int, training: int) -> dict:
    count = training if processes_per_run else 1
    registries = [Registry(slots=training) for _ in range(count)]
    try:
        runs = start_class(registries, dataset, sessions, training)
        pids = [pid for registry in registries for pid in registry.process_ids]
        server, children = rollup(os.getpid()), [rollup(pid) for pid in pids]
        for run in runs[:training]:
            run.pause()
        return {"server": server, "children": children}
    finally:
        for registry in registries:
            registry.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=30)
    parser.add_argument("--training", type=int, default=8)
    args = parser.parse_args()
    dataset = load_bundled()
    mb = 2 ** 20
    for label, per_run in (("one process for every run", False),
                           ("one process per training session (before)", True)):
        found = measure(per_run, dataset, args.sessions, args.training)
        rss = found["server"][0] + sum(r for r, _ in found["children"])
        pss = found["server"][1] + sum(p for _, p in found["children"])
        child_pss = [p / mb for _, p in found["children"]]
        print(f"{label}: {args.sessions} sessions, {args.training} training, "
              f"{len(found['children'])} training process(es)")
        print(f"  server (this process): RSS {found['server'][0] / mb:,.0f} MB, "
              f"PSS {found['server'][1] / mb:,.0f} MB")
        print(f"  training processes: PSS {', '.join(f'{p:,.0f}' for p in child_pss)} MB")
        print(f"  total: RSS {rss / mb:,.0f} MB, PSS {pss / mb:,.0f} MB")


if __name__ == "__main__":
    main()

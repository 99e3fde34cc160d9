"""Live training against a bare loop, and the cost of one page refresh, side by side.

    python -m benchmarks.bench_training [--seconds 5] [--rounds 3]

1. Throughput: the same model and data trained (a) by a bare loop of Run.train_step in this
   process, with all its threads, and (b) by a live run (in the training process) while a thread
   here plays the page twice a second: it takes a snapshot, builds the playground's figures when
   the snapshot is new (as the page does) and turns them into JSON (as Streamlit does to send
   them). The live run also trains with nobody drawing, which separates what its own evaluations
   cost from what the page costs. This machine's speed drifts by 10% and more within a minute,
   so the three phases alternate for several rounds (the trainer paused during the bare loop)
   and the ratios are of medians.
2. Figures: building the playground's figures from a snapshot of 2,000 points, 2D and 3D.
Never a pass/fail test: it prints numbers.
"""
import argparse
import statistics
import threading
import time

import numpy as np
import plotly.io
import torch

from lossviz.data import load_bundled
from lossviz.figures.training import every_figure, playground_figures
from lossviz.train import Run, preset_config
from lossviz.host import training_threads
from lossviz.registry import Registry
from lossviz.snapshot import History, Snapshot


def bare_rate(config, dataset, seconds):
    run = Run(config, dataset)
    for _ in range(3):
        run.train_step()
    samples, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        samples += run.train_step()[2]
    return samples / (time.perf_counter() - start)


def page_figures(snap, class_names):
    figures, _ = playground_figures(snap, class_names)
    return [plotly.io.to_json(f) for f in every_figure(figures)]


def play_page(trainer, class_names, done: threading.Event):
    """Like the playground: figures built once per snapshot, sent on every refresh."""
    drawn, figures = None, []
    while not done.is_set():
        snap = trainer.snapshot()
        if snap is not drawn:
            drawn, figures = snap, every_figure(playground_figures(snap, class_names)[0])
        [plotly.io.to_json(f) for f in figures]
        time.sleep(0.5)


def live_window(trainer, config, class_names, seconds, with_page: bool):
    """Resume the trainer for one window: samples/s between the first and the last snapshot
    seen in it, each timed when it arrived (a light poller watches for them), and the times
    between snapshots."""
    done, seen = threading.Event(), []
    trainer.start()
    first = trainer.snapshot().step
    while trainer.snapshot().step == first:  # the first progress after resuming
        time.sleep(0.02)
    page = threading.Thread(target=play_page, args=(trainer, class_names, done))
    if with_page:
        page.start()
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        snap = trainer.snapshot()
        if not seen or snap.step != seen[-1][1]:
            seen.append((time.perf_counter(), snap.step))
        time.sleep(0.02)
    done.set()
    if with_page:
        page.join()
    trainer.pause()
    if len(seen) < 3:
        raise RuntimeError(f"only {len(seen)} snapshots in {seconds} s: use a longer --seconds")
    (t0, step0), (t1, step1) = seen[1], seen[-1]  # seen[0] may be older than the window
    return (step1 - step0) * config.batch_size / (t1 - t0), [
        b[0] - a[0] for a, b in zip(seen[1:], seen[2:])]


def throughput(config, dataset, seconds, rounds):
    registry = Registry()
    trainer = registry.create(config, dataset)
    bare, alone, with_page, intervals = [], [], [], []
    try:
        for _ in range(rounds):
            bare.append(bare_rate(config, dataset, seconds))
            alone.append(live_window(trainer, config, dataset.class_names, seconds, False)[0])
            rate, gaps = live_window(trainer, config, dataset.class_names, seconds, True)
            with_page.append(rate)
            intervals += gaps
        threads = trainer.snapshot().threads
    finally:
        registry.stop()
    return bare, alone, with_page, statistics.median(intervals), threads


def figure_times(dataset, repeats=20):
    rng = np.random.default_rng(0)
    times = {}
    for dim in (2, 3):
        config = preset_config("arcface", dim)
        run = Run(config, dataset)
        images = np.concatenate([dataset.test_images, dataset.train_images])[:2000]
        labels = np.concatenate([dataset.test_labels, dataset.train_labels])[:2000]
        ev = run.evaluate(torch.from_numpy(images.copy()), torch.from_numpy(labels.copy()))
        history = History()
        for i in range(200):  # a long run's worth of curve points
            history = history.plus(steps=i, epochs=i / 30, train_loss=rng.random(),
                                   train_accuracy=rng.random(), test_loss=rng.random(),
                                   test_accuracy=rng.random())
        snap = Snapshot(0, "running", None, 0, 0.0, config, dict(config.params), 0.001, 0.0, ev,
                        history)
        page_figures(snap, dataset.class_names)
        durations = []
        for _ in range(repeats):
            start = time.perf_counter()
            page_figures(snap, dataset.class_names)
            durations.append(time.perf_counter() - start)
        times[dim] = (statistics.median(durations), len(ev.labels))
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per phase and round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    dataset = load_bundled()
    config = preset_config("arcface", 2, epochs=1000)  # never finishes (and pauses) mid-window
    bare, alone, with_page, interval, threads = throughput(config, dataset, args.seconds,
                                                           args.rounds)

    def listed(rates):
        return ", ".join(f"{r:,.0f}" for r in rates)

    base = statistics.median(bare)
    print(f"bare loop, {torch.get_num_threads()} threads: {listed(bare)} samples/s")
    print(f"live trainer, nobody drawing: {listed(alone)} samples/s; "
          f"ratio of medians {statistics.median(alone) / base:.2f}")
    print(f"live trainer, page refreshing twice a second: {listed(with_page)} samples/s; "
          f"ratio of medians live/bare = {statistics.median(with_page) / base:.2f}")
    chosen = "fixed" if training_threads() else "chosen by the trainer"
    print(f"the trainer used {threads} threads at the end ({chosen}); new data every "
          f"{interval:.2f} s (median)")
    for dim, (seconds, points) in figure_times(dataset).items():
        print(f"{dim}D: building the playground figures from {points} points: "
              f"{seconds * 1e3:.1f} ms per refresh (median)")


if __name__ == "__main__":
    main()

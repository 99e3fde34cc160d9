"""Live training against a bare loop, and the cost of one page refresh, side by side.

    python -m benchmarks.bench_training [--seconds 10]

1. Throughput: the same model and data trained (a) by a bare loop of Run.train_step and (b) by
   the live Trainer thread while a second thread plays the page twice a second: it takes a
   snapshot, builds the playground's figures when the snapshot is new (as the page does) and
   turns them into JSON (as Streamlit does to send them). Bare, live, bare
   again; the ratio is live over the mean of the two bare phases.
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
from lossviz.figures.training import playground_figures
from lossviz.train import Run, preset_config
from lossviz.trainer import History, Snapshot, Trainer, training_threads


def bare_rate(config, dataset, seconds, threads=None):
    if threads is not None:
        torch.set_num_threads(threads)
    run = Run(config, dataset)
    for _ in range(3):
        run.train_step()
    samples, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        samples += run.train_step()[2]
    return samples / (time.perf_counter() - start)


def bare_rate_in_thread(config, dataset, seconds, threads):
    """The bare loop again, but on a worker thread with the trainer's thread count: what the
    trainer could reach if the page cost nothing."""
    result = []
    worker = threading.Thread(
        target=lambda: result.append(bare_rate(config, dataset, seconds, threads)))
    worker.start()
    worker.join()
    return result[0]


def page_figures(snap, class_names):
    figures, _ = playground_figures(snap, class_names)
    return [plotly.io.to_json(f) for f in figures.values()]


def live_rate(config, dataset, seconds):
    trainer = Trainer(config, dataset)
    done = threading.Event()

    def page():  # like the playground: figures built once per snapshot, sent on every refresh
        drawn, figures = None, []
        while not done.is_set():
            snap = trainer.snapshot()
            if snap is not drawn:
                drawn, figures = snap, playground_figures(snap, dataset.class_names)[0].values()
            [plotly.io.to_json(f) for f in figures]
            time.sleep(0.5)

    trainer.start()
    while trainer.snapshot().step < 3:
        time.sleep(0.01)
    viewer = threading.Thread(target=page)
    viewer.start()
    step0, start = trainer.snapshot().step, time.perf_counter()
    time.sleep(seconds)
    steps = trainer.snapshot().step - step0
    elapsed = time.perf_counter() - start
    done.set()
    viewer.join()
    trainer.stop()
    return steps * config.batch_size / elapsed


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
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    dataset = load_bundled()
    config = preset_config("arcface", 2)
    threads = torch.get_num_threads()
    bare_1 = bare_rate(config, dataset, args.seconds)
    live = live_rate(config, dataset, args.seconds)
    bare_2 = bare_rate(config, dataset, args.seconds, threads)
    quiet = bare_rate_in_thread(config, dataset, args.seconds, training_threads())
    torch.set_num_threads(threads)
    bare = (bare_1 + bare_2) / 2
    print(f"bare loop, {threads} threads: {bare_1:,.0f} and {bare_2:,.0f} samples/s")
    print(f"live trainer ({training_threads()} thread(s)) with the page refreshing twice a "
          f"second: {live:,.0f} samples/s; ratio live/bare = {live / bare:.2f}")
    print(f"bare loop on a worker thread with {training_threads()} thread(s), no page: "
          f"{quiet:,.0f} samples/s; ratio live/that = {live / quiet:.2f}")
    for dim, (seconds, points) in figure_times(dataset).items():
        print(f"{dim}D: building the playground figures from {points} points: "
              f"{seconds * 1e3:.1f} ms per refresh (median)")


if __name__ == "__main__":
    main()

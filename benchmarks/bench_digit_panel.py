"""What the playground's digit panel costs: per refresh, and in training speed while it is open.

    python -m benchmarks.bench_digit_panel [--seconds 8] [--rounds 3]

1. From a snapshot of 2,000 points: per new snapshot, reading the weights from checkpoint bytes
   and adding "your digit" to the feature figure; per refresh, taking one digit apart (its
   feature, the anatomy under the run's loss and under all seven) and building the panel's
   three figures as JSON (what Streamlit sends).
2. Training speed of a live run while a thread here plays the page twice a second, with
   and without the panel open (a drawn digit on screen: its point on the chart and the panel
   refreshed with every new snapshot). The two alternate for several rounds (this machine
   drifts); the ratio is of medians.
Never a pass/fail test: it prints numbers.
"""
import argparse
import statistics
import threading
import time
from dataclasses import replace

import plotly.io

from benchmarks.bench_training import page_figures
from lossviz.anatomy import model_from_checkpoint, take_apart_with, under_every_loss
from lossviz.checkpoint import checkpoint_bytes
from lossviz.data import load_bundled
from lossviz.figures.digit import family_figure, probability_figure, push_figure, with_your_digit
from lossviz.figures.training import every_figure, playground_figures
from lossviz.registry import Registry
from lossviz.snapshot import fresh_snapshot
from lossviz.train import Run, preset_config


def panel_json(model, digit, class_names) -> list[str]:
    """What the panel adds to every refresh, as the JSON the browser receives."""
    feature = model.features_of(digit[None])[0]
    anatomy = take_apart_with(model, feature, 7)
    figures = [push_figure(anatomy, model.weights, class_names),
               probability_figure(anatomy, class_names),
               family_figure(under_every_loss(model, feature, 7), model.loss)]
    return [plotly.io.to_json(f) for f in figures]


def new_snapshot(trainer_or_run, dataset, snap, features_figure, digit):
    """What the panel adds once per new snapshot: the weights read, "your digit" on the chart."""
    data = (checkpoint_bytes(trainer_or_run) if isinstance(trainer_or_run, Run)
            else trainer_or_run.checkpoint())
    model = replace(model_from_checkpoint(data, dataset), loss=snap.config.loss,
                    params=snap.params)
    with_your_digit(features_figure, model.features_of(digit[None])[0])
    return model


def median_ms(work, repeats=15) -> float:
    work()
    durations = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        durations.append(time.perf_counter() - start)
    return statistics.median(durations) * 1e3


def refresh_costs(dataset):
    digit = dataset.test_images[0]
    for dim in (2, 3):
        run = Run(preset_config("cosface", dim), dataset)
        snap = fresh_snapshot(run)
        figure = playground_figures(snap, dataset.class_names)[0]["features"]
        model = new_snapshot(run, dataset, snap, figure, digit)
        once = median_ms(lambda: new_snapshot(run, dataset, snap, figure, digit))
        panel = median_ms(lambda: panel_json(model, digit, dataset.class_names))
        page = median_ms(lambda: page_figures(snap, dataset.class_names))
        print(f"{dim}D: the panel costs {once:.1f} ms per new snapshot (weights read, your "
              f"digit on the chart) and {panel:.1f} ms per refresh; the playground's own "
              f"figures cost {page:.1f} ms per new snapshot")


def play_page(trainer, dataset, done: threading.Event, with_panel: bool):
    """The playground's refresh twice a second; with the panel, what DigitPanel adds: the
    weights read once per new snapshot (from the running process), a digit taken apart."""
    drawn, figures, model, digit = None, {}, None, dataset.test_images[0]
    while not done.is_set():
        snap = trainer.snapshot()
        if snap is not drawn:
            drawn, figures = snap, playground_figures(snap, dataset.class_names)[0]
            if with_panel:
                model = new_snapshot(trainer, dataset, snap, figures["features"], digit)
        [plotly.io.to_json(f) for f in every_figure(figures)]
        if with_panel:
            panel_json(model, digit, dataset.class_names)
        time.sleep(0.5)


def samples_per_s(trainer, dataset, seconds, with_panel: bool) -> float:
    done = threading.Event()
    trainer.start()
    first = trainer.snapshot().step
    while trainer.snapshot().step == first:  # training has resumed
        time.sleep(0.02)
    page = threading.Thread(target=play_page, args=(trainer, dataset, done, with_panel))
    page.start()
    start, step0 = time.perf_counter(), trainer.snapshot().step
    time.sleep(seconds)
    step1, elapsed = trainer.snapshot().step, time.perf_counter() - start
    done.set()
    page.join()
    trainer.pause()
    return (step1 - step0) * trainer.config.batch_size / elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="per phase and round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    dataset = load_bundled()
    refresh_costs(dataset)
    registry = Registry()
    trainer = registry.create(preset_config("cosface", 3, epochs=1000), dataset)
    closed, opened = [], []
    try:
        for _ in range(args.rounds):
            closed.append(samples_per_s(trainer, dataset, args.seconds, False))
            opened.append(samples_per_s(trainer, dataset, args.seconds, True))
    finally:
        registry.stop()
    print("live trainer, page refreshing, panel closed: "
          + ", ".join(f"{r:,.0f}" for r in closed) + " samples/s")
    print("live trainer, page refreshing, panel open:   "
          + ", ".join(f"{r:,.0f}" for r in opened) + " samples/s")
    if statistics.median(closed) == 0:
        print("no training seen in the closed phases: give it more --seconds")
        return
    ratio = statistics.median(opened) / statistics.median(closed)
    print(f"ratio of medians open/closed = {ratio:.2f}")


if __name__ == "__main__":
    main()

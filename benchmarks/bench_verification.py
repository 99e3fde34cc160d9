"""What open-set verification adds to an evaluation, side by side: Run.evaluate() of a
closed-set run against the same run in open set (digits 8 and 9 held out), interleaved, and the
verification alone (pairs sampled once and cached; scores, ROC, TAR, EER, histograms).

    python -m benchmarks.bench_verification [--repeats 20]

Prints medians and ratios; never a pass/fail test. The worker evaluates a live run about every
0.4 s (lossviz.worker): if the ratio is small, every evaluation can carry verification.
"""
import argparse
import statistics
import time

import torch

from lossviz.data import load_bundled
from lossviz.model import to_input
from lossviz.train import Run, preset_config
from lossviz.verification import open_set_verification


def _timed(call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def main(repeats: int) -> None:
    dataset = load_bundled()
    closed = Run(preset_config("arcface", 3), dataset)
    opened = Run(preset_config("arcface", 3, held_out_classes=2), dataset)
    closed.evaluate(), opened.evaluate()  # first calls set up kernels and the pair sample
    features = opened.evaluate()
    times = {"closed": [], "open": []}
    for _ in range(repeats):
        times["closed"].append(_timed(closed.evaluate))
        times["open"].append(_timed(opened.evaluate))
    images, labels = opened.eval_images, opened.eval_labels
    with torch.no_grad():
        raw = opened.model.eval()(to_input(images)).numpy()
    alone = [_timed(lambda: open_set_verification(raw, labels.numpy(), 8))
             for _ in range(repeats)]
    closed_s, open_s = statistics.median(times["closed"]), statistics.median(times["open"])
    print(f"evaluate(), {len(labels)} test digits: closed set {closed_s * 1e3:.1f} ms, "
          f"open set {open_s * 1e3:.1f} ms, ratio {open_s / closed_s:.2f}")
    print(f"verification alone: {statistics.median(alone) * 1e3:.1f} ms "
          f"({statistics.median(alone) / closed_s:.2f} of a closed-set evaluation); "
          f"pairs {features.verification.unseen.pairs} + {features.verification.seen.pairs} "
          "of each kind")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    main(parser.parse_args().repeats)

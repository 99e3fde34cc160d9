"""What one frame of a replay costs the server, against the player's pace (FRAME_SECONDS).

    python -m benchmarks.bench_replay [--frames 30]

Per frame: the figure from the recorded numbers (lossviz.figures.replay, the playground's own
builders) and its JSON (what st.plotly_chart sends), for a 2D and a 3D ready run, and the
size of that JSON. Never a pass/fail test: it prints numbers and the ratio to FRAME_SECONDS.
"""
import argparse
import statistics
import time

import plotly.io

from lossviz.figures.replay import replay_figure
from lossviz.ready import load_ready_run
from lossviz.replay import replay_of_ready
from lossviz.ui.replay import FRAME_SECONDS


def frame_costs(replay, count: int) -> tuple[list[float], int]:
    costs, size = [], 0
    for frame in range(min(count, replay.frame_count)):
        started = time.perf_counter()
        size = len(plotly.io.to_json(replay_figure(replay, frame), validate=False))
        costs.append(time.perf_counter() - started)
    return costs, size


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--loss", default="softmax")
    args = parser.parse_args()
    for dim in (2, 3):
        replay = replay_of_ready(load_ready_run(args.loss, dim))
        costs, size = frame_costs(replay, args.frames)
        median = statistics.median(costs)
        print(f"{args.loss} {dim}D: median {median * 1e3:.0f} ms a frame "
              f"(min {min(costs) * 1e3:.0f}, max {max(costs) * 1e3:.0f}), {size / 1e3:.0f} kB "
              f"of JSON; {median / FRAME_SECONDS:.2f} of the {FRAME_SECONDS} s between frames")


if __name__ == "__main__":
    main()

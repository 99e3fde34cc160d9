"""margin_loss forward+backward against plain F.cross_entropy(a @ b.T), side by side.

    python -m benchmarks.bench_losses [--repeats 30]

The plain baseline multiplies leaf tensors chosen so that its logits have the same values as
the margin loss's non-target logits (s * x/||x|| against W/||W|| for the normalized losses):
with s = 64 many exp() results are denormal floats, which are slow on x86, and a baseline on
smaller logits would charge that to the margin. Prints, for each loss and size, the median
time of both and their ratio, measured interleaved in one run. Never a pass/fail test.
"""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from lossviz.losses import LOSSES, margin_loss

SIZES = [(256, 10, 3), (512, 10000, 128)]  # (batch, classes, feature dim)


def _timed(step) -> float:
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def plain_operands(name, x, w):
    """Leaves whose product equals the margin loss's logits outside the target column."""
    spec = LOSSES[name]
    rows = x if spec.keeps_feature_norm else spec.defaults().get("s", 1.0) * F.normalize(x, dim=1)
    cols = w if spec.keeps_weight_norm else F.normalize(w, dim=1)
    return rows.detach().requires_grad_(True), cols.detach().requires_grad_(True)


def plain_step(a, b, y):
    F.cross_entropy(a @ b.T, y).backward()


def bench(name, batch, classes, dim, repeats):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch, dim, generator=gen, requires_grad=True)
    w = torch.randn(classes, dim, generator=gen, requires_grad=True)
    y = torch.randint(0, classes, (batch,), generator=gen)
    ours = lambda: margin_loss(name, x, w, y).backward()  # noqa: E731
    a, b = plain_operands(name, x, w)
    plain = lambda: plain_step(a, b, y)  # noqa: E731
    for step in (ours, plain):  # warm-up
        step()
    times_ours, times_plain = [], []
    for i in range(repeats):  # alternate who goes first, so drift hits both alike
        pair = (_timed(ours), _timed(plain)) if i % 2 else tuple(reversed((_timed(plain), _timed(ours))))
        times_ours.append(pair[0])
        times_plain.append(pair[1])
    return times_ours, times_plain


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print("median and fastest of each, in ms; ratios of medians and of the fastest runs")
    print(f"{'loss':<11} {'B,C,D':>15} {'ours':>8} {'plain':>8} {'ratio':>6} "
          f"{'ours min':>9} {'plain min':>9} {'ratio':>6}")
    for batch, classes, dim in SIZES:
        for name in LOSSES:
            ours, plain = bench(name, batch, classes, dim, args.repeats)
            med_o, med_p = statistics.median(ours) * 1e3, statistics.median(plain) * 1e3
            min_o, min_p = min(ours) * 1e3, min(plain) * 1e3
            print(f"{name:<11} {f'{batch},{classes},{dim}':>15} {med_o:8.3f} {med_p:8.3f} "
                  f"{med_o / med_p:6.2f} {min_o:9.3f} {min_p:9.3f} {min_o / min_p:6.2f}")


if __name__ == "__main__":
    main()

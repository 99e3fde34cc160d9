"""Do the presets keep their class weights apart? Every loss's preset trained for its full epochs,
at the class weights' learning-rate scales given, with the closest pair of class weights tracked
after every step.

    python -m benchmarks.bench_presets --dim 2 --seeds 0,1,2 \
        --settings lr=0.003,weight_lr_scale=1 preset [--workers 2]
    python -m benchmarks.bench_presets --dim 2 --losses arcface --raise-m 0.15,0.2 --at-epoch 5

Each --settings entry is a set of TrainConfig fields laid over every preset ("preset": none;
the first example compares the settings before and after weight_lr_scale). Prints one line per
run (JSON) as runs finish, then a table: per loss and settings, the lowest closest-pair angle
during training and the final test accuracy (1,000 bundled test digits), each seed's and the
worst. --raise-m reconfigures each run mid-way to a larger margin m, as a student moving the
slider would. A measurement, never a pass/fail test.
"""
import argparse
import dataclasses
import json
import multiprocessing
from collections import defaultdict

import numpy as np
import torch

from lossviz.data import load_bundled
from lossviz.losses import LOSSES
from lossviz.metrics import weight_angles
from lossviz.train import Run, TrainConfig, preset_config


def closest_pair(run: Run) -> float:
    return float(np.nanmin(weight_angles(run.model.weight.detach().cpu().numpy())))


def one_run(job: dict) -> dict:
    """Train one preset; job: loss, dim, seed, settings, and optionally raise_m and at_epoch."""
    dataset = load_bundled()
    config = preset_config(job["loss"], job["dim"], seed=job["seed"],
                           **parse_settings(job["settings"]))
    run = Run(config, dataset)
    total = config.epochs * run.steps_per_epoch
    lowest, lowest_step, nan_steps = closest_pair(run), 0, 0
    while run.step < total and nan_steps <= 10:
        if job.get("raise_m") and run.step == job["at_epoch"] * run.steps_per_epoch:
            run.reconfigure(dataclasses.replace(
                config, params={**config.params, "m": job["raise_m"]}))
        if np.isnan(run.train_step()[0]):
            nan_steps += 1
            continue
        angle = closest_pair(run)
        if angle < lowest:
            lowest, lowest_step = angle, run.step
    return {**job, "lowest_angle": round(lowest, 1),
            "lowest_at_epoch": round(lowest_step / run.steps_per_epoch, 1),
            "final_angle": round(closest_pair(run), 1),
            "test_accuracy": round(run.evaluate_full_test(dataset).accuracy, 4),
            "nan_steps": nan_steps}


def parse_settings(text: str) -> dict:
    """'lr=0.003,weight_lr_scale=1' -> {'lr': 0.003, 'weight_lr_scale': 1.0}; 'preset' -> {}."""
    if text == "preset":
        return {}
    fields = {f.name: f.type for f in dataclasses.fields(TrainConfig)}
    pairs = [item.split("=", 1) for item in text.split(",")]
    casts = {"int": int, "float": float}
    return {name: casts.get(fields[name], str)(value) for name, value in pairs}


def _one_thread():
    # several single-threaded runs side by side use shared cores better than one run on all
    torch.set_num_threads(1)


def table(results: list[dict]) -> str:
    groups = defaultdict(list)
    for r in results:
        groups[(r["loss"], r["settings"], r.get("raise_m"))].append(r)
    lines = [f"{'loss':<11}{'settings':<28}{'raise m':>8}  {'lowest angle (deg) per seed':<30}"
             f"{'worst':>6}  {'test accuracy per seed':<26}{'worst':>7}"]
    for (loss, settings, raise_m), rows in sorted(groups.items(), key=lambda g: (
            list(LOSSES).index(g[0][0]), g[0][1], g[0][2] or 0)):
        rows.sort(key=lambda r: r["seed"])
        angles = " ".join(f"{r['lowest_angle']:5.1f}" for r in rows)
        accuracies = " ".join(f"{r['test_accuracy']:.3f}" for r in rows)
        lines.append(f"{loss:<11}{settings:<28}{raise_m or '-':>8}  {angles:<30}"
                     f"{min(r['lowest_angle'] for r in rows):6.1f}  {accuracies:<26}"
                     f"{min(r['test_accuracy'] for r in rows):7.3f}")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dim", type=int, choices=(2, 3), default=2)
    parser.add_argument("--losses", default=",".join(LOSSES))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--settings", nargs="+", default=["preset"],
                        help="TrainConfig fields over the presets, e.g. lr=0.003,weight_lr_scale=1")
    parser.add_argument("--raise-m", default="", help="margins m to switch to mid-run")
    parser.add_argument("--at-epoch", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    raises = [float(m) for m in args.raise_m.split(",") if m] or [None]
    jobs = [{"loss": loss, "dim": args.dim, "seed": int(seed), "settings": settings,
             "raise_m": raise_m, "at_epoch": args.at_epoch}
            for loss in args.losses.split(",") for settings in args.settings
            for raise_m in raises for seed in args.seeds.split(",")]
    results = []
    with multiprocessing.get_context("fork").Pool(args.workers, initializer=_one_thread) as pool:
        for result in pool.imap_unordered(one_run, jobs):
            print(json.dumps(result), flush=True)
            results.append(result)
    print(table(results))


if __name__ == "__main__":
    main()

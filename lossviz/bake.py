"""Baking ready runs (lossviz.ready): train a preset as the playground does, one Run.train_step
at a time, and record the evolution at frame_steps. python -m lossviz bake calls bake_all."""
from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

import lossviz
from lossviz.data import Dataset, write_atomically
from lossviz.i18n import LossvizError
from lossviz.losses import LOSSES
from lossviz.metrics import run_summary
from lossviz.ready import FORMAT, file_name, settings_hash
from lossviz.train import Run, TrainConfig, final_metrics, params_in_force, preset_config

FRAMES = 90  # enough for a smooth replay; a 3D run is then about 0.15 MB
PER_CLASS = 30  # test digits per class whose features are kept: 300 points read well on a circle
MAX_NAN_STEPS = 10  # as train_epochs: a run whose loss stays non-finite is stopped


def frame_steps(total: int, count: int = FRAMES) -> list[int]:
    """Steps at which to take a frame, 0 and total included, spaced quadratically: training
    moves fastest at the start (in 2D the classes part in the first epoch or two)."""
    ticks = np.round(total * np.linspace(0.0, 1.0, count) ** 2).astype(int)
    return sorted(set(ticks.tolist()))


def class_balanced_subset(labels: np.ndarray, per_class: int = PER_CLASS) -> np.ndarray:
    """The first per_class digits of each class, in test-split order (a fixed choice: every
    run shows the same digits)."""
    chosen = [np.flatnonzero(labels == cls)[:per_class] for cls in np.unique(labels)]
    return np.sort(np.concatenate(chosen))


class _Recorder:
    """The frames of one run, as lists until they become arrays."""

    def __init__(self, run: Run, subset: np.ndarray):
        self.run, self.subset = run, torch.from_numpy(subset)
        self.features, self.weights, self.predictions, self.metrics, self.params = \
            [], [], [], [], []

    def take(self, train_loss: float, train_accuracy: float):
        run = self.run
        # the subset alone (a third of the test split's cost): its loss, accuracy and angles
        evaluation = run.evaluate(run.eval_images[self.subset], run.eval_labels[self.subset])
        self.features.append(evaluation.features)
        self.weights.append(evaluation.weights)
        self.predictions.append(evaluation.predictions)
        self.metrics.append([run.step, run.step / run.steps_per_epoch, train_loss,
                             train_accuracy, evaluation.loss, evaluation.accuracy,
                             evaluation.mean_own_angle, evaluation.min_weight_angle])
        self.params.append(list(params_in_force(run.config, run.step).values()))

    def arrays(self, labels: np.ndarray) -> dict:
        return {"features": np.asarray(self.features, np.float16),
                "weights": np.asarray(self.weights, np.float16),
                "predictions": np.asarray(self.predictions, np.uint8),
                "labels": labels[self.subset.numpy()].astype(np.uint8),
                "test_index": self.subset.numpy().astype(np.int16),
                "metrics": np.asarray(self.metrics, np.float32),
                "params": np.asarray(self.params, np.float32)}


def bake_run(config: TrainConfig, dataset: Dataset, frames: int = FRAMES,
             per_class: int = PER_CLASS, progress=None) -> dict:
    """Train config.epochs epochs and return the ready run's arrays, meta (JSON text) included.
    progress(epoch, epochs, loss of the last step) after each epoch."""
    run = Run(config, dataset)
    total = config.epochs * run.steps_per_epoch
    schedule = frame_steps(total, frames)
    recorder = _Recorder(run, class_balanced_subset(run.eval_labels.numpy(), per_class))
    recorder.take(math.nan, math.nan)  # step 0: before any training
    losses, accuracies, nan_steps = [], [], 0
    wanted = iter(schedule[1:])
    next_frame = next(wanted, None)
    while run.step < total:
        loss, accuracy, _ = run.train_step()
        if math.isnan(loss):  # the step was undone: the same step comes again
            nan_steps += 1
            if nan_steps > MAX_NAN_STEPS:
                raise LossvizError("ready.diverged", loss=config.loss, dim=config.dim,
                                   step=run.step)
            continue
        losses.append(loss)
        accuracies.append(accuracy)
        if run.step == next_frame:
            recorder.take(float(np.mean(losses)), float(np.mean(accuracies)))
            losses, accuracies, next_frame = [], [], next(wanted, None)
        if progress and run.step % run.steps_per_epoch == 0:
            progress(run.step // run.steps_per_epoch, config.epochs, loss)
    arrays = recorder.arrays(run.eval_labels.numpy())
    meta = _meta(run, dataset, schedule, nan_steps)
    return {**arrays, "meta": np.array(json.dumps(meta))}


def _meta(run: Run, dataset: Dataset, schedule: list[int], nan_steps: int) -> dict:
    config = run.config
    params = params_in_force(config, run.step)
    final = final_metrics(run, dataset, nan_steps > 0, 0.0)
    evaluation = run.evaluate()
    return {"format": FORMAT, "loss": config.loss, "dim": config.dim, "seed": config.seed,
            "epochs": config.epochs, "config": dataclasses.asdict(config),
            "param_names": list(params), "dataset": dataset.name,
            "class_names": list(dataset.class_names), "code_version": lossviz.__version__,
            "settings_hash": settings_hash(config, dataset.name, schedule),
            "threads": torch.get_num_threads(),
            "final": {"params": params, "nan": nan_steps > 0,
                      "train_accuracy": final["train_accuracy"],
                      "test_accuracy": final["test_accuracy"],
                      "summary": run_summary(evaluation.features, evaluation.labels,
                                             evaluation.weights, final["test_accuracy"])}}


def write_ready_run(folder: Path, arrays: dict) -> Path:
    meta = json.loads(str(arrays["meta"]))
    path = Path(folder) / file_name(meta["loss"], meta["dim"])
    write_atomically(path, lambda out: np.savez_compressed(out, **arrays))
    return path


def bake_all(folder: Path, dataset: Dataset, losses=None, dims=(2, 3), epochs: int = 30,
             seed: int = 0, frames: int = FRAMES, log=None, progress_for=None) -> list[Path]:
    """Bake each loss's preset (every loss in LOSSES when losses is None) in each dimension, on
    the CPU (reproducible with the seed at the same thread count). log(line) says what is done;
    progress_for(prefix) gives each run's per-epoch progress callback."""
    written = []
    for loss in (losses or list(LOSSES)):
        for dim in dims:
            config = preset_config(loss, dim, epochs=epochs, seed=seed, device="cpu")
            started = time.perf_counter()
            prefix = f"[{loss} {dim}D] "
            arrays = bake_run(config, dataset, frames,
                              progress=progress_for(prefix) if progress_for else None)
            path = write_ready_run(folder, arrays)
            written.append(path)
            if log:
                log(f"{prefix}{path} ({path.stat().st_size / 1e3:.0f} kB, "
                    f"{time.perf_counter() - started:.0f} s)")
    return written

"""A training run's recorded evolution, frame by frame, whatever recorded it: a ready run
(lossviz.ready) or the playground's own run (Snapshot.frames). lossviz.figures.replay draws
one frame; lossviz.ui.replay.show_replay scrubs and plays them."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from lossviz.i18n import Message
from lossviz.losses import LOSSES
from lossviz.ready import ReadyRun
from lossviz.snapshot import Snapshot
from lossviz.train import params_in_force, predict_logits


@dataclass(frozen=True, eq=False)
class Replay:
    loss: str
    dim: int
    class_names: tuple
    labels: np.ndarray  # (N,) the class of each recorded test digit
    steps: np.ndarray  # (F,)
    epochs: np.ndarray  # (F,)
    accuracy: np.ndarray  # (F,) test accuracy at each frame; nan where not recorded
    features: np.ndarray  # (F, N, D)
    weights: np.ndarray  # (F, C, D)
    predictions: np.ndarray  # (F, N)
    params: tuple  # (F,) the loss parameters in force at each frame (lambda anneals)
    title: Message  # what the screen calls it: "Ready run: ArcFace, 2D, ..."
    ready: bool  # recorded ahead of time (and labelled so), not this session's training

    @property
    def frame_count(self) -> int:
        return len(self.features)

    @property
    def raw_extent(self) -> float:
        """The largest raw feature coordinate over every frame: one axis for the whole replay,
        so that points move on a still axis."""
        finite = self.features[np.isfinite(self.features)]
        return float(np.abs(finite).max(initial=0.0))

    def at(self, frame: int) -> Message:
        """Where in training this frame is, for the line under the figure."""
        values = {"epoch": float(self.epochs[frame]), "step": int(self.steps[frame])}
        if math.isnan(self.accuracy[frame]):
            return Message("ready.replay.at_no_accuracy", values)
        return Message("ready.replay.at", {**values, "accuracy": float(self.accuracy[frame])})


def replay_of_ready(ready: ReadyRun) -> Replay:
    return Replay(ready.loss, ready.dim, tuple(ready.meta["class_names"]),
                  ready.labels.astype(np.int64), ready.metric("step").astype(np.int64),
                  ready.metric("epoch"), ready.metric("test_accuracy"),
                  ready.features.astype(np.float32), ready.weights.astype(np.float32),
                  ready.predictions.astype(np.int64),
                  tuple(ready.params_at(i) for i in range(ready.frame_count)),
                  ready.label(), ready=True)


def replay_of_snapshot(snapshot: Snapshot, class_names) -> Replay | None:
    """The playground run's frames (Snapshot.frames: epoch, features of the first test digits,
    weights), or None before it has any. A frame and its history point are recorded together
    (lossviz.snapshot.with_progress) and the frames keep only the most recent, so they pair with
    the end of the history. Frames hold no predictions: they come from the features and weights
    as at test time, without softmax's bias (small beside the logits); the loss parameters are
    the run's present ones (a margin changed mid-run shows at its present value)."""
    history = snapshot.history
    count = min(len(snapshot.frames), len(history.steps))
    if count == 0 or snapshot.evaluation is None:
        return None
    frames, config = snapshot.frames[-count:], snapshot.config
    steps = np.array(history.steps[-count:], dtype=np.int64)
    features = np.stack([frame[1] for frame in frames]).astype(np.float32)
    weights = np.stack([frame[2] for frame in frames]).astype(np.float32)
    predictions = np.stack([_predicted(config.loss, f, w)
                            for f, w in zip(features, weights, strict=True)])
    return Replay(config.loss, config.dim, tuple(class_names),
                  snapshot.evaluation.labels[:features.shape[1]].astype(np.int64), steps,
                  np.array([frame[0] for frame in frames], dtype=float),
                  np.array(history.test_accuracy[-count:], dtype=float), features, weights,
                  predictions, tuple(params_in_force(config, int(step)) for step in steps),
                  Message("ready.own_run", {"loss": LOSSES[config.loss].title,
                                            "dim": config.dim}), ready=False)


def _predicted(loss: str, features: np.ndarray, weights: np.ndarray) -> np.ndarray:
    logits = predict_logits(loss, torch.from_numpy(features), torch.from_numpy(weights))
    return logits.argmax(1).numpy()

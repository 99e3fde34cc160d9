"""What a page reads of a live run: an immutable Snapshot, replaced (never changed) each time
the training process reports, so a page can draw one without locks."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from lossviz.i18n import Message
from lossviz.protocol import Progress
from lossviz.train import Evaluation, Run, TrainConfig, params_in_force

IDLE, RUNNING, PAUSED, WAITING = "idle", "running", "paused", "waiting"
MAX_FRAMES, FRAME_POINTS = 200, 500  # the evolution GIF: recent frames, first points of each


@dataclass(frozen=True)
class History:
    steps: tuple = ()
    epochs: tuple = ()
    train_loss: tuple = ()
    train_accuracy: tuple = ()
    test_loss: tuple = ()
    test_accuracy: tuple = ()
    loss_state: tuple = ()  # a dict per point: CurricularFace's t, AdaCos's s ({} for others)

    def plus(self, **point) -> "History":
        return History(**{name: getattr(self, name) + (point[name],) for name in point})


@dataclass(frozen=True)
class Snapshot:
    generation: int
    status: str
    message: Message | None
    step: int
    epoch: float
    config: TrainConfig
    params: dict  # loss parameters in force at this step (warm-up and lambda applied)
    learning_rate: float
    samples_per_s: float
    evaluation: Evaluation | None
    history: History = field(default_factory=History)
    frames: tuple = ()  # (epoch, features, weights) over time, for the evolution GIF
    threads: int = 0  # the training process's thread count at the last progress; 0: none yet
    loss_state: dict = field(default_factory=dict)  # the loss's running values (Run.loss_state)


def fresh_snapshot(run: Run, generation: int = 0) -> Snapshot:
    return Snapshot(generation, IDLE, None, run.step, run.step / run.steps_per_epoch, run.config,
                    params_in_force(run.config, run.step), run.learning_rate(), 0.0,
                    run.evaluate(), loss_state=dict(run.loss_state))


def with_progress(snap: Snapshot, p: Progress) -> Snapshot:
    history = snap.history.plus(steps=p.step, epochs=p.epoch, train_loss=p.train_loss,
                                train_accuracy=p.train_accuracy, test_loss=p.evaluation.loss,
                                test_accuracy=p.evaluation.accuracy, loss_state=p.loss_state)
    frame = (p.epoch, p.evaluation.features[:FRAME_POINTS], p.evaluation.weights)
    return replace(snap, step=p.step, epoch=p.epoch, config=p.config, params=p.params,
                   learning_rate=p.learning_rate,
                   samples_per_s=p.samples_per_s or snap.samples_per_s, threads=p.threads,
                   evaluation=p.evaluation, history=history, loss_state=p.loss_state,
                   frames=(snap.frames + (frame,))[-MAX_FRAMES:])

"""The pure step between what the user wants of a run and what its training process was told:
the messages that bring the process up to date. No threads, no process: a table of cases tests
it (tests/unit/test_reconcile.py)."""
from __future__ import annotations

from dataclasses import dataclass

from lossviz import protocol as p
from lossviz.train import TrainConfig


@dataclass(frozen=True)
class Wish:
    """What the user wants now."""
    generation: int  # bumped by every reset or restore: a new run under the same id
    config: TrainConfig
    running: bool  # wants to train, and holds one of the server's training slots
    steps: int  # single steps asked for and not sent yet


@dataclass(frozen=True)
class Told:
    """What the process has been told (it acts on it in this order)."""
    generation: int
    config: TrainConfig
    running: bool


@dataclass(frozen=True)
class Parked:
    """The run as bytes, while no process holds it (and as it was last handed over)."""
    config: TrainConfig  # the configuration saved in state
    state: bytes
    data_key: str


def reconcile(run_id: str, wish: Wish, told: Told | None,
              parked: Parked) -> tuple[list, Told | None]:
    """The messages to send, and what the process will then have been told. told=None: the
    process does not hold the run; it is loaded only when there is something to train."""
    if told is None and not (wish.running or wish.steps):
        return [], None
    messages = []
    if told is None or told.generation != wish.generation:
        messages.append(p.Load(run_id, wish.generation, parked.data_key, parked.state))
        told = Told(wish.generation, parked.config, False)
    if told.config != wish.config:
        messages.append(p.Update(run_id, wish.config))
    if told.running and not wish.running:
        messages.append(p.Pause(run_id))  # before any step, which the pause must not swallow
    if wish.steps:
        messages.append(p.Step(run_id, wish.steps))
    if wish.running and not told.running:
        messages.append(p.Resume(run_id))
    return messages, Told(wish.generation, wish.config, wish.running)

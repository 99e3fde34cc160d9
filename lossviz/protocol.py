"""What the web server and a training process say to each other: named, frozen messages, each
about one run (by its id), sent over a multiprocessing pipe. Both sides dispatch with `match`.

A request (Save, Fetch, Park, Fit) carries a request number; the process answers it with
Reply or Failed under the same number, and the host turns that into the result of a Future.
When the process dies every pending Future fails (see lossviz.host).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from lossviz.data import Dataset
from lossviz.i18n import Message
from lossviz.train import Evaluation, TrainConfig


# ---- to the process ------------------------------------------------------------------------
@dataclass(frozen=True)
class AddData:
    """A data set that runs will name by key; sent once per process and data set."""
    key: str
    dataset: Dataset


@dataclass(frozen=True)
class Load:
    """Take on a run, paused: a new run, a reset, a restore or a parked run coming back."""
    run_id: str
    generation: int
    data_key: str
    state: bytes  # Run.state_bytes()


@dataclass(frozen=True)
class Update:
    run_id: str
    config: TrainConfig


@dataclass(frozen=True)
class Resume:
    run_id: str


@dataclass(frozen=True)
class Pause:
    run_id: str


@dataclass(frozen=True)
class Step:
    run_id: str
    count: int


@dataclass(frozen=True)
class Save:
    """Answered with the run's checkpoint bytes."""
    run_id: str
    request: int


@dataclass(frozen=True)
class Fetch:
    """Answered with the run's state bytes (Run.state_bytes); the process keeps the run."""
    run_id: str
    request: int


@dataclass(frozen=True)
class Park:
    """Answered with the run's state bytes; the process forgets the run."""
    run_id: str
    request: int


@dataclass(frozen=True)
class Fit:
    """Train a fresh run of config to its last epoch (a comparison run), between the steps of
    live runs; answered with a lossviz.compare.RunResult."""
    run_id: str
    request: int
    label: str
    config: TrainConfig
    data_key: str


@dataclass(frozen=True)
class Drop:
    """Forget a run without an answer (a cancelled fit, a run the server let go)."""
    run_id: str


@dataclass(frozen=True)
class Exit:
    pass


# ---- from the process ----------------------------------------------------------------------
@dataclass(frozen=True)
class Ready:
    pid: int


@dataclass(frozen=True)
class Progress:
    """What one evaluation tells the page: plain numbers and numpy arrays, cheap to send."""
    run_id: str
    generation: int
    single: bool  # the answer to a Step
    step: int
    epoch: float
    config: TrainConfig
    params: dict
    learning_rate: float
    samples_per_s: float  # since the previous Progress; 0.0 when unknown
    threads: int  # the thread count training uses now
    train_loss: float
    train_accuracy: float
    evaluation: Evaluation
    loss_state: dict = field(default_factory=dict)  # CurricularFace's t, AdaCos's s (Run.loss_state)


@dataclass(frozen=True)
class Paused:
    """The process paused the run by itself (finished, NaN, an error) and says why."""
    run_id: str
    generation: int
    message: Message


@dataclass(frozen=True)
class PauseDone:
    """A Pause has been carried out (after the progress that shows where it stopped)."""
    run_id: str


@dataclass(frozen=True)
class FitEpoch:
    run_id: str
    epoch: int


@dataclass(frozen=True)
class Reply:
    request: int
    value: object


@dataclass(frozen=True)
class Failed:
    request: int
    error: str

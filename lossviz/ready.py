"""Ready runs: the recorded evolution of one preset training run, shipped in assets/runs/ so
that a lecture (or a page that cannot wait 30 s for training) shows it at once.

One compressed .npz per (loss, dimension), arrays only (np.load with allow_pickle=False):
  features    (F, N, D) float16  test features of a fixed class-balanced subset, per frame
  weights     (F, C, D) float16  class weights, per frame
  predictions (F, N)    uint8    the class each subset digit is predicted as, per frame
  labels      (N,)      uint8    its true class
  test_index  (N,)      int16    its place in the data set's test split
  metrics     (F, M)    float32  METRIC_FIELDS per frame: test_* and angles on the subset,
                                 train_* the mean of the training steps since the last frame
  params      (F, P)    float32  the loss parameters in force (lambda anneals), names in meta
  meta        ()        str      JSON: FORMAT, loss, dim, seed, epochs, config, data set, ...
The frames are denser early, where training moves fast (lossviz.bake.frame_steps).
python -m lossviz bake writes them (lossviz/bake.py)."""
from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lossviz.compare import RunCache, RunResult
from lossviz.i18n import LossvizError, Message
from lossviz.losses import LOSSES
from lossviz.metrics import steps_to_accuracy
from lossviz.train import Evaluation, TrainConfig

FORMAT = "lossviz-ready/1"
READY_FOLDER = Path(__file__).resolve().parent.parent / "assets" / "runs"
METRIC_FIELDS = ("step", "epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy",
                 "mean_own_angle_deg", "min_weight_angle_deg")
ARRAY_KINDS = {"features": "f", "weights": "f", "predictions": "u", "labels": "u",
               "test_index": "i", "metrics": "f", "params": "f"}
META_FIELDS = ("format", "loss", "dim", "seed", "epochs", "config", "param_names", "dataset",
               "class_names", "code_version", "settings_hash", "threads", "final")


def file_name(loss: str, dim: int) -> str:
    return f"{loss}-{dim}d.npz"


def settings_hash(config: TrainConfig, dataset_name: str, schedule) -> str:
    """What decides a ready run's numbers besides the code: the full training configuration
    (RunCache's key: the same run however its numbers were written), the data set and the
    steps at which frames were taken. A shipped file whose hash differs from today's presets
    was baked from other settings and needs a new bake."""
    key = json.dumps([RunCache.key(config, _Named(dataset_name)), [int(s) for s in schedule],
                      FORMAT])
    return hashlib.sha256(key.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class _Named:
    name: str  # all of a Dataset that RunCache.key reads


@dataclass(frozen=True, eq=False)
class ReadyRun:
    """One ready run, checked; arrays as stored (float16 features and weights)."""
    meta: dict
    features: np.ndarray
    weights: np.ndarray
    predictions: np.ndarray
    labels: np.ndarray
    test_index: np.ndarray
    metrics: np.ndarray
    params: np.ndarray

    @property
    def loss(self) -> str:
        return self.meta["loss"]

    @property
    def dim(self) -> int:
        return self.meta["dim"]

    @property
    def config(self) -> TrainConfig:
        return TrainConfig(**self.meta["config"])

    @property
    def frame_count(self) -> int:
        return len(self.features)

    def metric(self, name: str) -> np.ndarray:
        """One of METRIC_FIELDS over the frames."""
        return self.metrics[:, METRIC_FIELDS.index(name)]

    def params_at(self, frame: int) -> dict:
        return {name: float(value) for name, value in
                zip(self.meta["param_names"], self.params[frame], strict=True)}

    def label(self) -> Message:
        """What the screen calls it: "Ready run: ArcFace, 2D, seed 0, 30 epochs"."""
        return Message("ready.label", {"loss": LOSSES[self.loss].title, "dim": self.dim,
                                       "seed": self.meta["seed"], "epochs": self.meta["epochs"]})


def _refuse(path: Path, key: str, **values):
    raise LossvizError(key, file=path.name, **values)


def _read(path: Path) -> dict:
    try:
        with np.load(path, allow_pickle=False) as stored:
            return {name: stored[name] for name in stored.files}
    except FileNotFoundError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        # not a zip, truncated, or an array that needs pickle (someone else's objects)
        _refuse(path, "ready.corrupt", reason=f"{type(err).__name__}: {err}"[:200])


def _meta(path: Path, arrays: dict) -> dict:
    stored = arrays.get("meta")
    if stored is None or stored.shape != () or stored.dtype.kind != "U":
        _refuse(path, "ready.foreign", reason="no JSON 'meta' text")
    try:
        meta = json.loads(str(stored))
    except json.JSONDecodeError as err:
        _refuse(path, "ready.foreign", reason=f"meta is not JSON ({err})")
    found = meta.get("format") if isinstance(meta, dict) else None
    if found != FORMAT:
        _refuse(path, "ready.foreign", reason=f"format {str(found)[:60]!r}, not {FORMAT!r}")
    missing = [name for name in META_FIELDS if name not in meta]
    if missing:
        _refuse(path, "ready.corrupt", reason=f"meta lacks {', '.join(missing)}")
    return meta


def _check_arrays(path: Path, arrays: dict, meta: dict) -> None:
    """Every array present, of its kind and of shapes that agree with each other."""
    for name, kind in ARRAY_KINDS.items():
        if name not in arrays or arrays[name].dtype.kind != kind:
            _refuse(path, "ready.corrupt", reason=f"array '{name}' missing or not of kind {kind}")
    features, weights = arrays["features"], arrays["weights"]
    frames, points = features.shape[:2] if features.ndim == 3 else (0, 0)
    expected = {"features": (frames, points, meta["dim"]),
                "weights": (frames, len(meta["class_names"]), meta["dim"]),
                "predictions": (frames, points), "labels": (points,), "test_index": (points,),
                "metrics": (frames, len(METRIC_FIELDS)),
                "params": (frames, len(meta["param_names"]))}
    for name, shape in expected.items():
        if arrays[name].shape != shape:
            _refuse(path, "ready.corrupt",
                    reason=f"'{name}' has shape {arrays[name].shape}, expected {shape}")
    if frames < 2 or not (np.isfinite(features).all() and np.isfinite(weights).all()):
        _refuse(path, "ready.corrupt", reason="fewer than 2 frames, or non-finite features")
    if arrays["labels"].max(initial=0) >= len(meta["class_names"]):
        _refuse(path, "ready.corrupt", reason="a label beyond the class names")


def read_ready_file(path: Path) -> ReadyRun:
    """A ready run from its file, or a LossvizError that says why not."""
    try:
        arrays = _read(path)
    except FileNotFoundError:
        raise LossvizError("ready.missing", file=str(path)) from None
    meta = _meta(path, arrays)
    _check_arrays(path, arrays, meta)
    return ReadyRun(meta, **{name: arrays[name] for name in ARRAY_KINDS})


def load_ready_run(loss: str, dim: int, folder: Path = READY_FOLDER) -> ReadyRun:
    """The ready run of this loss's preset in this dimension; a LossvizError (translated) for a
    missing, corrupt or foreign file, or one that holds another run than its name says."""
    if loss not in LOSSES or dim not in (2, 3):
        raise LossvizError("ready.unknown", loss=str(loss)[:40], dim=str(dim)[:10])
    path = Path(folder) / file_name(loss, dim)
    ready = read_ready_file(path)
    if (ready.loss, ready.dim) != (loss, dim):
        _refuse(path, "ready.foreign", reason=f"it holds {ready.loss} in {ready.dim}D")
    return ready


def available_ready_runs(folder: Path = READY_FOLDER) -> list[tuple[str, int]]:
    """(loss, dim) of every ready-run file in the folder, in LOSSES order (the files are not
    opened: load_ready_run checks one when it is asked for)."""
    return [(loss, dim) for loss in LOSSES for dim in (2, 3)
            if (Path(folder) / file_name(loss, dim)).is_file()]


# ----- Compare: the comparison of all losses, ready -----------------------------------------

def final_evaluation(ready: ReadyRun) -> Evaluation:
    """The last frame as an Evaluation of the subset (what Compare's figures draw)."""
    last = -1
    return Evaluation(float(ready.metric("test_loss")[last]),
                      float(ready.metric("test_accuracy")[last]),
                      ready.features[last].astype(np.float32), ready.labels.astype(np.int64),
                      ready.predictions[last].astype(np.int64),
                      ready.weights[last].astype(np.float32),
                      float(ready.metric("mean_own_angle_deg")[last]),
                      float(ready.metric("min_weight_angle_deg")[last]))


def ready_result(ready: ReadyRun) -> RunResult:
    """A ready run as Compare's RunResult: the same row (final accuracy and angles on the whole
    test split, as a live comparison measures them), the history at every frame (accuracy on
    the subset)."""
    history = tuple({name: float(ready.metric(name)[i]) for name in
                     ("epoch", "step", "train_loss", "train_accuracy", "test_loss",
                      "test_accuracy")} for i in range(ready.frame_count))
    steps_to_90 = steps_to_accuracy(ready.metric("step"), ready.metric("test_accuracy"), 0.9)
    final = ready.meta["final"]
    label = LOSSES[ready.loss].title
    row = {"run": label, "loss": ready.loss,
           **{f"param_{k}": v for k, v in final["params"].items()},
           **final["summary"], "steps_to_90": steps_to_90, "nan": final["nan"]}
    return RunResult(label, ready.config, history, final_evaluation(ready), row)


def ready_comparison(dim: int, folder: Path = READY_FOLDER) -> tuple[RunResult, ...]:
    """Every loss's ready run in this dimension, as Compare's results (in LOSSES order). A
    LossvizError if one is missing or unusable: the page says why and offers to train live."""
    return tuple(ready_result(load_ready_run(loss, dim, folder)) for loss in LOSSES)

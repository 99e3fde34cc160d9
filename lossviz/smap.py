"""The s-m map: how to choose two parameters of one loss. A grid of short runs (for example s
across 2..64 and m from none to past the margin's feasibility limit, 6 x 6), every run the
loss's preset with those two values, the same seed, hence the same initial weights and data
order; each cell is the run's test accuracy. In open set (MapGrid.held_out > 0) the runs train
without the last classes, as the Verification page's do, and each cell also records how well the
run verifies those unseen classes (TAR at FAR 1%, EER): the map can be coloured by either.

The runs are Compare's runs (lossviz.compare): the page trains them through the same training
slots and cache, the CLI (python -m lossviz map) in processes of its own. A ready map of each
of ArcFace and CosFace in 2D and 3D ships in assets/maps/ as a small JSON file, so the page
opens at once; so does one open-set map, ArcFace 3D (python -m lossviz map --open-set).
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np

import lossviz
from lossviz.compare import RunCache, RunResult
from lossviz.data import write_atomically
from lossviz.i18n import LossvizError, Message
from lossviz.losses import LOSSES, SCALE_PARAMS
from lossviz.margins import feasibility
from lossviz.train import TrainConfig, preset_config

# An open-set map adds "held_out" and its verification arrays ("tar", "eer"); a file without
# them is a closed-set map, so the files written before open set load as they are
FORMAT = "lossviz-map/1"
MAP_FOLDER = Path(__file__).resolve().parent.parent / "assets" / "maps"
READY_LOSSES = ("arcface", "cosface")  # the maps that ship, in 2D and 3D
SIZE = 6  # cells along each axis by default
EPOCHS = 3  # short runs: 36 of them bake in about a minute each map (see README)
CLASSES = 10  # the digits: the feasibility limit is judged for the classes a run trains on
# What a cell records: the RunResult row's column of each. Accuracy is closed-set (the classes
# trained on); tar and eer verify pairs of the held-out classes' digits, in open set only.
METRIC_COLUMNS = {"accuracy": "test_accuracy", "tar": "unseen_tar_far1", "eer": "unseen_eer"}
OPEN_SET_METRICS = ("tar", "eer")
COLOUR_METRICS = ("accuracy", "tar")  # what a map can be coloured by: higher is better for both
# A default margin range runs a quarter past the feasibility limit, so the map shows both sides
PAST_LIMIT = 1.25
# The scale's default range, spaced by factors of two: 2, 4, ..., 64 (the registry's top)
SCALE_LOW = 2.0


def map_params(loss: str) -> list[str]:
    """The parameters a map can vary: the numeric ones (not a choice of variant, not the
    annealed lambda)."""
    return [p.name for p in LOSSES[loss].params if not p.choices and p.name != "lam"]


# Losses with two parameters to lay out against each other
MAP_LOSSES = tuple(name for name in LOSSES if len(map_params(name)) >= 2)


def has_feasibility(loss: str) -> bool:
    """Whether the Decision margins page's feasibility limit means something for this loss:
    the losses that page leaves out (CurricularFace re-weights its hard negatives by a t learnt
    in training; MagFace's and AdaFace's margins depend on each feature's norm) have none."""
    return LOSSES[loss].draws_decision_margins


# The margin a map lays across where it is not the loss's first other parameter: the combined
# margin's additive angle (its m1 has no feasibility limit to draw), MagFace's largest margin
# (its first, l_a, is a bound on the feature norm)
FIRST_ACROSS = {"combined": "m2", "magface": "u_m"}


def default_axes(loss: str) -> tuple[str, str]:
    """(across, up): the scale up the side when the loss has one, its margin across."""
    names = map_params(loss)
    up = next((n for n in names if n in SCALE_PARAMS), names[0])
    return FIRST_ACROSS.get(loss, next(n for n in names if n != up)), up


def spaced(loss: str, param: str, low: float, high: float, count: int) -> tuple[float, ...]:
    """count values from low to high: by equal factors for a scale (2, 4, ..., 64), by equal
    steps otherwise; whole numbers (and each once) for an integer parameter."""
    spec = LOSSES[loss].param(param)
    if param in SCALE_PARAMS and low > 0:
        values = np.geomspace(low, high, count)
    else:
        values = np.linspace(low, high, count)
    if spec.integer:
        return tuple(dict.fromkeys(float(round(v)) for v in values))
    return tuple(float(f"{v:.4g}") for v in values)


def feasibility_limit(loss: str, param: str, dim: int, classes: int = CLASSES) -> float | None:
    """The largest value of param (the others at the preset) at which `classes` classes can all
    win with their margin in dim dimensions; None when every value in range can, or none."""
    spec = LOSSES[loss].param(param)
    start = spec.low if spec.neutral is None else spec.neutral

    def feasible(value: float) -> bool:
        return _feasible(loss, {param: value}, dim, classes)

    if not feasible(start) or feasible(spec.ui_high):
        return None
    low, high = start, spec.ui_high
    for _ in range(40):
        mid = (low + high) / 2
        low, high = (mid, high) if feasible(mid) else (low, mid)
    return low


def _feasible(loss: str, params: dict, dim: int, classes: int) -> bool:
    preset = dict(LOSSES[loss].presets.get(f"{dim}d", {}))
    return feasibility(loss, {**preset, **params}, classes, dim).feasible


def _nice_step(step: float) -> float:
    """The smallest of 1, 1.5, 2, 2.5, 3, 4, 5 times a power of ten that is not below step:
    axis values a reader can say aloud, reaching at least as far as asked."""
    power = 10 ** math.floor(math.log10(step))
    return next(k * power for k in (1, 1.5, 2, 2.5, 3, 4, 5, 10) if k * power >= step * 0.999)


def default_range(loss: str, param: str, dim: int, count: int = SIZE,
                  classes: int = CLASSES) -> tuple[float, float]:
    """Where an axis starts and ends unless the reader says otherwise: a scale from 2 to the
    registry's top; a margin from none to a quarter past the feasibility limit of the classes
    trained on (in round steps); anything else over the registry's range."""
    spec = LOSSES[loss].param(param)
    if param in SCALE_PARAMS and not spec.integer:
        return max(spec.low, SCALE_LOW), spec.ui_high
    limit = feasibility_limit(loss, param, dim, classes) if has_feasibility(loss) else None
    if limit is None:
        return spec.low, spec.ui_high
    start = spec.low if spec.neutral is None else spec.neutral
    step = _nice_step((limit - start) * PAST_LIMIT / (count - 1))
    return start, min(spec.ui_high, start + step * (count - 1))


def check_held_out(held_out: int) -> None:
    """Two classes or more must be left to train on (and to judge the feasibility limit for)."""
    if not 0 <= held_out <= CLASSES - 2:
        raise LossvizError("map.errors.held_out", held_out=held_out, most=CLASSES - 2)


@dataclass(frozen=True)
class MapGrid:
    """One map's runs: the loss's preset in dim dimensions with params[0] set to each of
    values[0] (across) and params[1] to each of values[1] (up); epochs and seed shared. With
    held_out > 0 (open set) every run trains without the last held_out classes."""
    loss: str
    dim: int
    params: tuple[str, str]
    values: tuple[tuple[float, ...], tuple[float, ...]]
    epochs: int = EPOCHS
    seed: int = 0
    held_out: int = 0

    def __post_init__(self):
        if self.loss not in MAP_LOSSES:
            raise LossvizError("map.errors.loss", loss=str(self.loss)[:40],
                               choices=", ".join(MAP_LOSSES))
        names = map_params(self.loss)
        if len(set(self.params)) != 2 or not set(self.params) <= set(names):
            raise LossvizError("map.errors.params", loss=self.loss, choices=", ".join(names))
        for name, values in zip(self.params, self.values, strict=True):
            spec = LOSSES[self.loss].param(name)
            if len(values) < 2 or not all(spec.low <= v <= spec.high for v in values):
                raise LossvizError("map.errors.values", param=name, low=f"{spec.low:g}",
                                   high=f"{spec.high:g}")
        check_held_out(self.held_out)

    @property
    def open_set(self) -> bool:
        return self.held_out > 0

    @property
    def classes(self) -> int:
        """The classes its runs train on: the ones the feasibility limit is judged for."""
        return CLASSES - self.held_out

    @property
    def metrics(self) -> tuple[str, ...]:
        """What each cell records (METRIC_COLUMNS' names)."""
        return ("accuracy", *OPEN_SET_METRICS) if self.open_set else ("accuracy",)

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns): one row per value up the side, one column per value across."""
        return len(self.values[1]), len(self.values[0])

    def cell_params(self, row: int, column: int) -> dict:
        across, up = self.params
        return {across: self.values[0][column], up: self.values[1][row]}

    def cells(self) -> list[tuple[int, int]]:
        """(row, column) in training order: the bottom row first, left to right, so a map
        being trained fills up from its smallest values."""
        rows, columns = self.shape
        return [(row, column) for row in range(rows) for column in range(columns)]

    def label(self, row: int, column: int) -> str:
        return ", ".join(f"{name}={value:g}" for name, value in
                         self.cell_params(row, column).items())

    def configs(self, device: str = "auto") -> dict[str, TrainConfig]:
        """label -> TrainConfig of every cell, in training order."""
        return {self.label(*cell): preset_config(self.loss, self.dim,
                                                 params=self.cell_params(*cell),
                                                 epochs=self.epochs, seed=self.seed,
                                                 device=device,
                                                 held_out_classes=self.held_out)
                for cell in self.cells()}

    def settings_hash(self, dataset_name: str) -> str:
        """What decides the map's numbers besides the code: every run's full configuration
        (RunCache's key) and the data set. A shipped map whose hash differs from today's was
        trained with other presets or training settings and needs a new bake."""
        dataset = SimpleNamespace(name=dataset_name)  # all of a Dataset that the key reads
        keys = [RunCache.key(config, dataset) for config in self.configs().values()]
        return hashlib.sha256(json.dumps([keys, FORMAT]).encode()).hexdigest()[:16]


def default_grid(loss: str, dim: int, params: tuple[str, str] | None = None,
                 size: int = SIZE, epochs: int = EPOCHS, seed: int = 0,
                 held_out: int = 0) -> MapGrid:
    """The map the page asks for when the reader changes nothing but the loss, dimension and
    open set."""
    if size < 2:
        raise LossvizError("map.errors.size", size=size)
    check_held_out(held_out)  # before the ranges, which are judged for the classes left
    params = params or default_axes(loss)
    values = tuple(spaced(loss, name, *default_range(loss, name, dim, size,
                                                     CLASSES - held_out), size)
                   for name in params)
    return MapGrid(loss, dim, tuple(params), values, epochs, seed, held_out)


def diverged(result: RunResult) -> bool:
    """The run stopped before its last epoch (its loss stayed non-finite) or ended without a
    finite accuracy: its cell has no number to show."""
    epochs = result.history[-1]["epoch"] if result.history else 0
    return epochs < result.config.epochs or not math.isfinite(result.row["test_accuracy"])


@dataclass(frozen=True, eq=False)
class MetricMap:
    """A map's numbers: metrics[name] (each of grid.metrics) of shape grid.shape, NaN where the
    run diverged; `trained` is False for the cells not trained yet (a map under way)."""
    grid: MapGrid
    metrics: dict[str, np.ndarray]
    trained: np.ndarray
    meta: dict = field(default_factory=dict)  # how it was made: code version, data, time

    @property
    def accuracy(self) -> np.ndarray:
        return self.metrics["accuracy"]

    @property
    def complete(self) -> bool:
        return bool(self.trained.all())

    def best_cell(self, metric: str = "accuracy") -> tuple[int, int] | None:
        """(row, column) of the run highest in metric so far; None before any finite one."""
        values = self.metrics[metric]
        finite = np.where(self.trained & np.isfinite(values), values, -np.inf)
        if not np.isfinite(finite).any():
            return None
        return tuple(int(i) for i in np.unravel_index(np.argmax(finite), finite.shape))


def map_from_results(grid: MapGrid, results, meta: dict | None = None) -> MetricMap:
    """The map of the first len(results) cells in training order (a Comparison's results,
    finished so far); the rest untrained."""
    metrics = {name: np.full(grid.shape, np.nan) for name in grid.metrics}
    trained = np.zeros(grid.shape, bool)
    for (row, column), result in zip(grid.cells(), results):
        trained[row, column] = True
        if not diverged(result):
            for name, values in metrics.items():
                values[row, column] = result.row.get(METRIC_COLUMNS[name], np.nan)
    return MetricMap(grid, metrics, trained, dict(meta or {}))


def infeasible_cells(grid: MapGrid) -> np.ndarray | None:
    """True where the grid's classes (those trained on) cannot all win with that cell's margin
    in grid.dim dimensions (lossviz.margins.feasibility); None for a loss the limit does not
    apply to."""
    if not has_feasibility(grid.loss):
        return None
    mask = np.zeros(grid.shape, bool)
    for row, column in grid.cells():
        mask[row, column] = not _feasible(grid.loss, grid.cell_params(row, column), grid.dim,
                                          grid.classes)
    return mask


# ----- Ready maps ----------------------------------------------------------------------------

def file_name(loss: str, dim: int, held_out: int = 0) -> str:
    return f"{loss}-{dim}d-openset.json" if held_out else f"{loss}-{dim}d.json"


def _cells_json(values: np.ndarray) -> list:
    return [[None if math.isnan(v) else round(float(v), 5) for v in row] for row in values]


def save_map(path: Path, amap: MetricMap, dataset_name: str) -> Path:
    """A complete map as a small JSON file: each metric an array of rows (a diverged run's
    number as null)."""
    grid = amap.grid
    record = {"format": FORMAT, "loss": grid.loss, "dim": grid.dim, "params": list(grid.params),
              "values": [list(v) for v in grid.values], "epochs": grid.epochs, "seed": grid.seed,
              "held_out": grid.held_out,
              **{name: _cells_json(values) for name, values in amap.metrics.items()},
              "dataset": dataset_name, "code_version": lossviz.__version__,
              "settings_hash": grid.settings_hash(dataset_name), **amap.meta}
    text = json.dumps(record, indent=1)
    write_atomically(Path(path), lambda out: out.write(text.encode()))
    return Path(path)


def load_map(path: Path) -> MetricMap:
    """A map from its file, or a LossvizError that says why not (missing, not JSON, another
    format, settings that make no grid, numbers of the wrong shape or outside 0..1). A file
    without "held_out" is a closed-set map (all files written before open set)."""
    path = Path(path)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LossvizError("map.ready.missing", file=str(path)) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise LossvizError("map.ready.corrupt", file=path.name,
                           reason=f"{type(err).__name__}: {err}"[:200]) from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise LossvizError("map.ready.corrupt", file=path.name, reason=f"not {FORMAT}")
    try:
        grid = MapGrid(record["loss"], int(record["dim"]), tuple(record["params"]),
                       tuple(tuple(float(v) for v in values) for values in record["values"]),
                       int(record["epochs"]), int(record["seed"]), int(record.get("held_out", 0)))
        metrics = {name: np.array([[np.nan if v is None else float(v) for v in row]
                                   for row in record[name]], dtype=float)
                   for name in grid.metrics}
    except (KeyError, TypeError, ValueError) as err:
        raise LossvizError("map.ready.corrupt", file=path.name,
                           reason=getattr(err, "message", None) or repr(err)[:200]) from None
    for name, values in metrics.items():
        finite = values[np.isfinite(values)]
        if values.shape != grid.shape or not ((finite >= 0) & (finite <= 1)).all():
            raise LossvizError("map.ready.corrupt", file=path.name,
                               reason=f"{name} of shape {values.shape}, or outside 0..1")
    meta = {k: v for k, v in record.items() if k != "format" and k not in METRIC_COLUMNS}
    return MetricMap(grid, metrics, np.ones(grid.shape, bool), meta)


def ready_map(grid: MapGrid, folder: Path = MAP_FOLDER) -> MetricMap | None:
    """The shipped map of exactly this grid, if there is one (None: train it live). A damaged
    file raises its LossvizError."""
    path = Path(folder) / file_name(grid.loss, grid.dim, grid.held_out)
    if not path.is_file():
        return None
    amap = load_map(path)
    return amap if amap.grid == grid else None


def how_made(amap: MetricMap) -> Message:
    """What the screen says of a ready map: its runs, epochs, seed, open set and the command."""
    grid = amap.grid
    rows, columns = grid.shape
    return Message("map.ready.label_open" if grid.open_set else "map.ready.label",
                   {"loss": LOSSES[grid.loss].title, "dim": grid.dim, "runs": rows * columns,
                    "epochs": grid.epochs, "seed": grid.seed,
                    "version": amap.meta.get("code_version", "?")})

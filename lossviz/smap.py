"""The s-m map: how to choose two parameters of one loss. A grid of short runs (for example s
across 2..64 and m from none to past the margin's feasibility limit, 6 x 6), every run the
loss's preset with those two values, the same seed, hence the same initial weights and data
order; each cell is the run's test accuracy.

The runs are Compare's runs (lossviz.compare): the page trains them through the same training
slots and cache, the CLI (python -m lossviz map) in processes of its own. A ready map of each
of ArcFace and CosFace in 2D and 3D ships in assets/maps/ as a small JSON file, so the page
opens at once.
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

FORMAT = "lossviz-map/1"
MAP_FOLDER = Path(__file__).resolve().parent.parent / "assets" / "maps"
READY_LOSSES = ("arcface", "cosface")  # the maps that ship, in 2D and 3D
SIZE = 6  # cells along each axis by default
EPOCHS = 3  # short runs: 36 of them bake in about a minute each map (see README)
CLASSES = 10  # the digits: the feasibility limit is judged for this many classes
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


def feasibility_limit(loss: str, param: str, dim: int) -> float | None:
    """The largest value of param (the others at the preset) at which CLASSES classes can all
    win with their margin in dim dimensions; None when every value in range can, or none."""
    spec = LOSSES[loss].param(param)
    start = spec.low if spec.neutral is None else spec.neutral

    def feasible(value: float) -> bool:
        return _feasible(loss, {param: value}, dim)

    if not feasible(start) or feasible(spec.ui_high):
        return None
    low, high = start, spec.ui_high
    for _ in range(40):
        mid = (low + high) / 2
        low, high = (mid, high) if feasible(mid) else (low, mid)
    return low


def _feasible(loss: str, params: dict, dim: int) -> bool:
    preset = dict(LOSSES[loss].presets.get(f"{dim}d", {}))
    return feasibility(loss, {**preset, **params}, CLASSES, dim).feasible


def _nice_step(step: float) -> float:
    """The smallest of 1, 1.5, 2, 2.5, 3, 4, 5 times a power of ten that is not below step:
    axis values a reader can say aloud, reaching at least as far as asked."""
    power = 10 ** math.floor(math.log10(step))
    return next(k * power for k in (1, 1.5, 2, 2.5, 3, 4, 5, 10) if k * power >= step * 0.999)


def default_range(loss: str, param: str, dim: int, count: int = SIZE) -> tuple[float, float]:
    """Where an axis starts and ends unless the reader says otherwise: a scale from 2 to the
    registry's top; a margin from none to a quarter past the feasibility limit (in round
    steps); anything else over the registry's range."""
    spec = LOSSES[loss].param(param)
    if param in SCALE_PARAMS and not spec.integer:
        return max(spec.low, SCALE_LOW), spec.ui_high
    limit = feasibility_limit(loss, param, dim) if has_feasibility(loss) else None
    if limit is None:
        return spec.low, spec.ui_high
    start = spec.low if spec.neutral is None else spec.neutral
    step = _nice_step((limit - start) * PAST_LIMIT / (count - 1))
    return start, min(spec.ui_high, start + step * (count - 1))


@dataclass(frozen=True)
class MapGrid:
    """One map's runs: the loss's preset in dim dimensions with params[0] set to each of
    values[0] (across) and params[1] to each of values[1] (up); epochs and seed shared."""
    loss: str
    dim: int
    params: tuple[str, str]
    values: tuple[tuple[float, ...], tuple[float, ...]]
    epochs: int = EPOCHS
    seed: int = 0

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
                                                 device=device)
                for cell in self.cells()}

    def settings_hash(self, dataset_name: str) -> str:
        """What decides the map's numbers besides the code: every run's full configuration
        (RunCache's key) and the data set. A shipped map whose hash differs from today's was
        trained with other presets or training settings and needs a new bake."""
        dataset = SimpleNamespace(name=dataset_name)  # all of a Dataset that the key reads
        keys = [RunCache.key(config, dataset) for config in self.configs().values()]
        return hashlib.sha256(json.dumps([keys, FORMAT]).encode()).hexdigest()[:16]


def default_grid(loss: str, dim: int, params: tuple[str, str] | None = None,
                 size: int = SIZE, epochs: int = EPOCHS, seed: int = 0) -> MapGrid:
    """The map the page asks for when the reader changes nothing but the loss and dimension."""
    if size < 2:
        raise LossvizError("map.errors.size", size=size)
    params = params or default_axes(loss)
    values = tuple(spaced(loss, name, *default_range(loss, name, dim, size), size)
                   for name in params)
    return MapGrid(loss, dim, tuple(params), values, epochs, seed)


def diverged(result: RunResult) -> bool:
    """The run stopped before its last epoch (its loss stayed non-finite) or ended without a
    finite accuracy: its cell has no accuracy to show."""
    epochs = result.history[-1]["epoch"] if result.history else 0
    return epochs < result.config.epochs or not math.isfinite(result.row["test_accuracy"])


@dataclass(frozen=True, eq=False)
class AccuracyMap:
    """A map's test accuracies, shape grid.shape: NaN where the run diverged; `trained` is
    False for the cells not trained yet (a map under way)."""
    grid: MapGrid
    accuracy: np.ndarray
    trained: np.ndarray
    meta: dict = field(default_factory=dict)  # how it was made: code version, data, time

    @property
    def complete(self) -> bool:
        return bool(self.trained.all())

    def best_cell(self) -> tuple[int, int] | None:
        """(row, column) of the most accurate run so far; None before any finite one."""
        finite = np.where(self.trained & np.isfinite(self.accuracy), self.accuracy, -np.inf)
        if not np.isfinite(finite).any():
            return None
        return tuple(int(i) for i in np.unravel_index(np.argmax(finite), finite.shape))


def map_from_results(grid: MapGrid, results, meta: dict | None = None) -> AccuracyMap:
    """The map of the first len(results) cells in training order (a Comparison's results,
    finished so far); the rest untrained."""
    accuracy = np.full(grid.shape, np.nan)
    trained = np.zeros(grid.shape, bool)
    for (row, column), result in zip(grid.cells(), results):
        trained[row, column] = True
        if not diverged(result):
            accuracy[row, column] = result.row["test_accuracy"]
    return AccuracyMap(grid, accuracy, trained, dict(meta or {}))


def infeasible_cells(grid: MapGrid) -> np.ndarray | None:
    """True where CLASSES classes cannot all win with that cell's margin in grid.dim dimensions
    (lossviz.margins.feasibility); None for a loss the limit does not apply to."""
    if not has_feasibility(grid.loss):
        return None
    mask = np.zeros(grid.shape, bool)
    for row, column in grid.cells():
        mask[row, column] = not _feasible(grid.loss, grid.cell_params(row, column), grid.dim)
    return mask


# ----- Ready maps ----------------------------------------------------------------------------

def file_name(loss: str, dim: int) -> str:
    return f"{loss}-{dim}d.json"


def save_map(path: Path, amap: AccuracyMap, dataset_name: str) -> Path:
    """A complete map as a small JSON file (a diverged run's accuracy as null)."""
    grid = amap.grid
    record = {"format": FORMAT, "loss": grid.loss, "dim": grid.dim, "params": list(grid.params),
              "values": [list(v) for v in grid.values], "epochs": grid.epochs, "seed": grid.seed,
              "accuracy": [[None if math.isnan(a) else round(float(a), 5) for a in row]
                           for row in amap.accuracy],
              "dataset": dataset_name, "code_version": lossviz.__version__,
              "settings_hash": grid.settings_hash(dataset_name), **amap.meta}
    text = json.dumps(record, indent=1)
    write_atomically(Path(path), lambda out: out.write(text.encode()))
    return Path(path)


def load_map(path: Path) -> AccuracyMap:
    """A map from its file, or a LossvizError that says why not (missing, not JSON, another
    format, settings that make no grid, accuracies of the wrong shape or outside 0..1)."""
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
                       int(record["epochs"]), int(record["seed"]))
        accuracy = np.array([[np.nan if a is None else float(a) for a in row]
                             for row in record["accuracy"]], dtype=float)
    except (KeyError, TypeError, ValueError) as err:
        raise LossvizError("map.ready.corrupt", file=path.name,
                           reason=getattr(err, "message", None) or repr(err)[:200]) from None
    finite = accuracy[np.isfinite(accuracy)]
    if accuracy.shape != grid.shape or not ((finite >= 0) & (finite <= 1)).all():
        raise LossvizError("map.ready.corrupt", file=path.name,
                           reason=f"accuracy of shape {accuracy.shape}, or outside 0..1")
    meta = {k: v for k, v in record.items() if k not in ("format", "accuracy")}
    return AccuracyMap(grid, accuracy, np.ones(grid.shape, bool), meta)


def ready_map(grid: MapGrid, folder: Path = MAP_FOLDER) -> AccuracyMap | None:
    """The shipped map of exactly this grid, if there is one (None: train it live). A damaged
    file raises its LossvizError."""
    path = Path(folder) / file_name(grid.loss, grid.dim)
    if not path.is_file():
        return None
    amap = load_map(path)
    return amap if amap.grid == grid else None


def how_made(amap: AccuracyMap) -> Message:
    """What the screen says of a ready map: its runs, epochs, seed and the command."""
    grid = amap.grid
    rows, columns = grid.shape
    return Message("map.ready.label", {"loss": LOSSES[grid.loss].title, "dim": grid.dim,
                                       "runs": rows * columns, "epochs": grid.epochs,
                                       "seed": grid.seed,
                                       "version": amap.meta.get("code_version", "?")})

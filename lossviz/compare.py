"""Several runs that differ only in their loss (or one parameter of it), trained one after
another in the background. Every run shares the seed, hence the initial weights and the data
order. A server-wide cache trains each distinct configuration once: a class of thirty opening
the same comparison starts one set of trainings, not thirty."""
from __future__ import annotations

import contextlib
import dataclasses
import json
import threading
from concurrent.futures import Future
from dataclasses import dataclass

from lossviz.data import Dataset
from lossviz.export import EpochHistory, run_table_row
from lossviz.i18n import LossvizError
from lossviz.losses import LOSSES, resolve_params
from lossviz.train import RULES, Evaluation, Run, TrainConfig, preset_config, train_epochs

# The source material's closing claim, easiest last: m*theta > cos(theta) - m > cos(theta + m).
DIFFICULTY_RANKING = ("sphereface", "cosface", "arcface")


@dataclass(frozen=True)
class RunResult:
    label: str
    config: TrainConfig
    history: tuple  # per-epoch rows: epoch, step, train/test loss and accuracy
    evaluation: Evaluation
    row: dict  # the comparison table's line

    @property
    def params(self) -> dict:
        """The loss parameters in force at the end of the run."""
        return {k.removeprefix("param_"): v for k, v in self.row.items() if k.startswith("param_")}


def train_one(label: str, config: TrainConfig, dataset: Dataset, on_epoch=None, progress=None,
              on_finish=None) -> RunResult:
    """One comparison run. on_epoch(epoch) follows it; on_finish(run, metrics, history) gets
    the trained run itself (the CLI writes its folder from it)."""
    run, history = Run(config, dataset), EpochHistory()

    def record(run_, epoch, loss, accuracy):
        history(run_, epoch, loss, accuracy)
        if on_epoch:
            on_epoch(epoch)

    metrics = train_epochs(run, dataset, progress, on_epoch=record)
    if on_finish:
        on_finish(run, metrics, history)
    evaluation = run.evaluate()
    return RunResult(label, config, tuple(history.rows), evaluation,
                     {"run": label, **run_table_row(run, metrics, history, evaluation)})


class RunCache:
    """Each distinct (configuration, data set) is trained once per server; whoever asks while
    it trains waits for the same result."""

    def __init__(self):
        self._lock = threading.Lock()
        self._futures: dict[str, Future] = {}

    @staticmethod
    def key(config: TrainConfig, dataset: Dataset) -> str:
        """The same run however its numbers were written: {"m": 3} and {"m": 3.0}, or a
        default left out and written in, give one key."""
        settings = dataclasses.asdict(config)
        settings["params"] = resolve_params(config.loss, config.params)
        for name, rule in RULES.items():
            if rule.kind is float:
                settings[name] = float(settings[name])
        return json.dumps([settings, dataset.name], sort_keys=True)

    def result(self, label, config, dataset, on_epoch=None) -> RunResult:
        key = self.key(config, dataset)
        with self._lock:
            future = self._futures.get(key)
            owner = future is None
            if owner:
                future = self._futures[key] = Future()
        if owner:
            try:
                future.set_result(train_one(label, config, dataset, on_epoch))
            except Exception as err:
                with self._lock:
                    del self._futures[key]  # a failure is not cached: the next ask retries
                future.set_exception(err)
        result = future.result()
        return dataclasses.replace(result, label=label, row={**result.row, "run": label})


@dataclass(frozen=True)
class Progress:
    results: tuple  # finished RunResults, in order
    current: str | None  # the label training now
    epoch: int  # its last finished epoch
    total: int  # how many runs
    error: str | None = None
    waiting: bool = False  # for a free training slot on the server

    @property
    def done(self) -> bool:
        return len(self.results) == self.total or self.error is not None


class Comparison:
    """Trains its runs one after another in a background thread; progress() is a snapshot."""

    def __init__(self, configs: dict[str, TrainConfig], dataset: Dataset, cache: RunCache,
                 slots: threading.Semaphore | None = None):
        self._configs, self.dataset, self._cache = configs, dataset, cache
        self._slots = slots  # shared with the playground: at most N trainings per server
        self._lock = threading.Lock()
        self._progress = Progress((), None, 0, len(configs))
        self._thread = threading.Thread(target=self._train_all, name="lossviz-compare",
                                        daemon=True)
        self._thread.start()

    def progress(self) -> Progress:
        with self._lock:
            return self._progress

    def join(self, timeout=None):
        self._thread.join(timeout)

    def _set(self, **changes):
        with self._lock:
            self._progress = dataclasses.replace(self._progress, **changes)

    def _train_all(self):
        for label, config in self._configs.items():
            self._set(current=label, epoch=0, waiting=self._slots is not None)
            try:
                with self._slots or contextlib.nullcontext():
                    self._set(waiting=False)
                    result = self._cache.result(label, config, self.dataset,
                                                on_epoch=lambda epoch: self._set(epoch=epoch))
            except Exception as err:  # shown on the page instead of dying silently
                self._set(current=None, error=f"{label}: {err}")
                return
            self._set(results=self.progress().results + (result,))
        self._set(current=None)


def losses_comparison(losses, dim: int, epochs: int, seed: int) -> dict[str, TrainConfig]:
    return {LOSSES[name].title: preset_config(name, dim, epochs=epochs, seed=seed)
            for name in losses}


def parameter_comparison(loss: str, param: str, values, dim: int, epochs: int,
                         seed: int) -> dict[str, TrainConfig]:
    return {f"{LOSSES[loss].title}, {param}={v:g}": preset_config(
        loss, dim, params={param: v}, epochs=epochs, seed=seed) for v in values}


def configs_from_spec(spec: dict, device: str = "auto") -> dict[str, TrainConfig]:
    """A small comparison spec, e.g.
    {"dim": 2, "epochs": 10, "seed": 0,
     "runs": [{"loss": "arcface", "params": {"m": 0.3}}, {"loss": "cosface", "label": "CF"}]}
    Each run is its loss's preset for dim with params overridden. A label names the run's
    folder, so it must be a plain file name, and each label must be new."""
    if not isinstance(spec, dict) or not isinstance(spec.get("runs"), list) or \
            len(spec["runs"]) < 2:
        raise LossvizError("messages.compare.spec_shape")
    shared = {"dim": spec.get("dim", 2), "epochs": spec.get("epochs", 10),
              "seed": spec.get("seed", 0)}
    configs = {}
    for index, run in enumerate(spec["runs"], start=1):
        if not isinstance(run, dict) or run.get("loss") not in LOSSES:
            raise LossvizError("messages.compare.spec_loss", index=index,
                               choices=", ".join(LOSSES))
        label = run_label(run.get("label") or f"{run['loss']}-{index}", index)
        if label in configs:
            raise LossvizError("messages.compare.label_twice", index=index, label=label)
        try:
            configs[label] = preset_config(run["loss"], shared["dim"],
                                           params=dict(run.get("params", {})),
                                           epochs=shared["epochs"], seed=shared["seed"],
                                           device=device)
        except (TypeError, ValueError) as err:
            raise LossvizError("messages.compare.spec_run", index=index, label=label,
                               reason=getattr(err, "message", str(err))) from None
    return configs


def run_label(label, index: int) -> str:
    """A run's label, which the CLI also uses as its folder's name inside --out: a plain
    name, never a path ("../x", "/etc", ".hidden")."""
    text = str(label)
    if (not text or len(text) > 100 or text.startswith(".") or
            any(c in text for c in '/\\') or not text.isprintable()):
        raise LossvizError("messages.compare.bad_label", index=index, label=repr(text)[:120])
    return text


def parse_values(text: str, loss: str, param: str) -> list[float]:
    """'1, 2, 3' -> [1.0, 2.0, 3.0], each checked against the parameter's range."""
    spec = LOSSES[loss].param(param)
    try:
        values = [float(v) for v in text.replace(";", ",").split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"{text!r}: write numbers separated by commas, like 1, 2, 3") from None
    if len(values) < 2:
        raise ValueError("give two or more values to compare")
    bad = [v for v in values if not spec.low <= v <= spec.high or (spec.integer and v != int(v))]
    if bad:
        kind = "whole numbers" if spec.integer else "numbers"
        raise ValueError(f"{param} takes {kind} in [{spec.low:g}, {spec.high:g}]; "
                         f"not {', '.join(f'{v:g}' for v in bad)}")
    return values


def difficulty_sentence(rows: list[dict]) -> str:
    """What this run says about the ranking m*theta > cos(theta) - m > cos(theta + m)."""
    steps = {row["loss"]: row["steps_to_90"] for row in rows}
    named = ", ".join(f"{LOSSES[loss].title} {steps[loss] if steps[loss] is not None else 'never'}"
                      for loss in DIFFICULTY_RANKING)
    if any(steps.get(loss) is None for loss in DIFFICULTY_RANKING):
        verdict = ("not every loss reached 90% test accuracy in this budget, so this run cannot "
                   "rank them all")
    else:
        ordered = [steps[loss] for loss in DIFFICULTY_RANKING]
        holds = ordered[0] > ordered[1] > ordered[2]
        verdict = ("this run agrees with the claim" if holds else
                   "this run does not bear the claim out strictly")
    return (f"Steps to 90% test accuracy: {named}. The claimed ranking (hardest first) is "
            f"m·θ > cos θ − m > cos(θ + m); {verdict}.")

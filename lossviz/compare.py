"""Several runs that differ only in their loss (or one parameter of it), trained one after
another in the server's training process. Every run shares the seed, hence the initial
weights and the data order. A server-wide cache trains each distinct configuration once: a
class of thirty opening the same comparison starts one set of trainings, not thirty."""
from __future__ import annotations

import dataclasses
import json
import logging
import statistics
import threading
import time
from dataclasses import dataclass

from lossviz.data import Dataset
from lossviz.evidence import spread as steps_spread
from lossviz.export import EpochHistory, run_table_row
from lossviz.host import HostLost
from lossviz.i18n import LossvizError, Message
from lossviz.losses import LOSSES, resolve_params
from lossviz.train import (RULES, Evaluation, Run, TrainConfig, finish, preset_config,
                           train_stepwise)

LOG = logging.getLogger(__name__)

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
    return finish(train_one_stepwise(label, config, dataset, on_epoch, progress, on_finish))


def train_one_stepwise(label: str, config: TrainConfig, dataset: Dataset, on_epoch=None,
                       progress=None, on_finish=None):
    """train_one as a generator that yields after every training step and returns the
    RunResult: a training process steps it between the steps of live runs."""
    run, history = Run(config, dataset), EpochHistory()

    def record(run_, epoch, loss, accuracy):
        history(run_, epoch, loss, accuracy)
        if on_epoch:
            on_epoch(epoch)

    metrics = yield from train_stepwise(run, dataset, progress, on_epoch=record)
    if on_finish:
        on_finish(run, metrics, history)
    evaluation = run.evaluate()
    return RunResult(label, config, tuple(history.rows), evaluation,
                     {"run": label, **run_table_row(run, metrics, history, evaluation)})


# Settings added after runs were cached and baked, with the value that means "as before": a
# run that leaves one at it keeps its old key, so the shipped ready runs stay current
ADDED_LATER = {"label_noise": 0.0, "degrade": 0.0}


class RunCache:
    """Each distinct (configuration, data set) is trained once per server; whoever asks while
    it trains shares that training. One that nobody waits for any more is cancelled, and a
    failed or cancelled one is not kept: the next ask trains it again."""

    def __init__(self):
        self._lock = threading.Lock()
        self._entries: dict[str, list] = {}  # key -> [ticket, how many wait for it]

    @staticmethod
    def key(config: TrainConfig, dataset: Dataset) -> str:
        """The same run however its numbers were written: {"m": 3} and {"m": 3.0}, or a
        default left out and written in, give one key."""
        settings = dataclasses.asdict(config)
        settings["params"] = resolve_params(config.loss, config.params)
        for name, rule in RULES.items():
            if rule.kind is float:
                settings[name] = float(settings[name])
        for name, default in ADDED_LATER.items():  # at its default: the key it always had
            if settings[name] == default:
                del settings[name]
        return json.dumps([settings, dataset.name], sort_keys=True)

    def ask(self, label: str, config: TrainConfig, dataset: Dataset, train):
        """The ticket (future, epoch, waiting, cancel()) of this configuration's training;
        train(label, config, dataset) starts one (lossviz.registry.Registry.fit)."""
        key = self.key(config, dataset)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or _failed(entry[0].future):
                entry = self._entries[key] = [train(label, config, dataset), 0]
            entry[1] += 1
            return entry[0]

    def release(self, ticket, config: TrainConfig, dataset: Dataset):
        """One who asked no longer waits; the last one cancels an unfinished training."""
        key = self.key(config, dataset)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] is not ticket:
                return
            entry[1] -= 1
            if entry[1] > 0 or ticket.future.done():
                return
            del self._entries[key]
        ticket.cancel()


def _failed(future) -> bool:
    return future.done() and (future.cancelled() or future.exception() is not None)


@dataclass(frozen=True)
class Progress:
    results: tuple  # finished RunResults, in order
    current: str | None  # the label training now
    epoch: int  # its last finished epoch
    total: int  # how many runs
    error: Message | None = None  # why the run after the finished ones stopped (stopped_why)
    waiting: bool = False  # for a free training slot on the server
    cancelled: bool = False

    @property
    def done(self) -> bool:
        return len(self.results) == self.total or self.error is not None or self.cancelled


class Comparison:
    """Its runs, trained one after another in the server's training process (through the
    RunCache, so identical runs train once); progress() is a snapshot. Nothing here waits:
    each finished run's Future asks for the next one."""

    def __init__(self, configs: dict[str, TrainConfig], dataset: Dataset, cache: RunCache,
                 train):
        self._items, self.dataset = list(configs.items()), dataset
        self._cache, self._train = cache, train
        self._lock = threading.Lock()
        self._results, self._error, self._cancelled = [], None, False
        self._ticket = None
        self.last_seen = time.monotonic()
        self._next()

    @property
    def configs(self) -> list[TrainConfig]:
        """Its runs' configurations, in the order they train."""
        return [config for _, config in self._items]

    def progress(self) -> Progress:
        """Where the comparison is; asking also tells it someone is still watching."""
        self.last_seen = time.monotonic()
        return self._progress()

    @property
    def done(self) -> bool:
        return self._progress().done

    def _progress(self) -> Progress:
        with self._lock:
            ticket = self._ticket
            current = self._items[len(self._results)][0] if ticket is not None else None
            return Progress(tuple(self._results), current, ticket.epoch if ticket else 0,
                            len(self._items), self._error, bool(ticket and ticket.waiting),
                            self._cancelled)

    def cancel(self):
        with self._lock:
            if self._ticket is None:
                return
            ticket, self._ticket, self._cancelled = self._ticket, None, True
            config = self._items[len(self._results)][1]
        self._cache.release(ticket, config, self.dataset)

    def _next(self):
        with self._lock:
            if self._cancelled or self._error or len(self._results) == len(self._items):
                self._ticket = None
                return
            label, config = self._items[len(self._results)]
            ticket = self._ticket = self._cache.ask(label, config, self.dataset, self._train)
        ticket.future.add_done_callback(lambda future: self._finished(ticket, label, future))

    def _finished(self, ticket, label: str, future):
        with self._lock:
            if ticket is not self._ticket:
                return  # cancelled meanwhile
            if future.cancelled() or future.exception() is not None:
                self._error = stopped_why(label, future)
                self._ticket = None
                return
            result = future.result()
            self._results.append(dataclasses.replace(result, label=label,
                                                     row={**result.row, "run": label}))
        self._next()


def stopped_why(label: str, future) -> Message:
    """Why a run's training ended without a result, in words for the reader; what the
    exception says in English goes to the server's log."""
    if future.cancelled():
        return Message("notices.stopped.cancelled")
    error = future.exception()
    LOG.warning("comparison run %s stopped: %s", label, error)
    if isinstance(error, LossvizError):
        return error.message
    return Message("notices.stopped.process_lost" if isinstance(error, HostLost)
                   else "notices.stopped.error")


def losses_comparison(losses, dim: int, epochs: int, seed: int) -> dict[str, TrainConfig]:
    return {LOSSES[name].title: preset_config(name, dim, epochs=epochs, seed=seed)
            for name in losses}


def parameter_comparison(loss: str, param: str, values, dim: int, epochs: int,
                         seed: int) -> dict[str, TrainConfig]:
    return {f"{LOSSES[loss].title}, {param}={v:g}": preset_config(
        loss, dim, params={param: v}, epochs=epochs, seed=seed) for v in values}


def over_seed_rounds(configs: dict[str, TrainConfig], seeds: int) -> dict[str, TrainConfig]:
    """Each run once per seed (its own, then the next ones), one whole round of the runs per
    seed: the first round is the comparison itself and shows as soon as it is done; the
    others add the spread."""
    return {label if n == 0 else f"{label} · seed {config.seed + n}":
            dataclasses.replace(config, seed=config.seed + n)
            for n in range(seeds) for label, config in configs.items()}


def _seedless(config: TrainConfig) -> str:
    return json.dumps(dataclasses.asdict(dataclasses.replace(config, seed=0)), sort_keys=True,
                      default=str)


def seed_groups(items) -> list[list]:
    """Runs (RunResults or TrainConfigs) that differ only in their seed, together, each group
    where its first run came."""
    groups: dict[str, list] = {}
    for item in items:
        groups.setdefault(_seedless(getattr(item, "config", item)), []).append(item)
    return list(groups.values())


def group_of(config: TrainConfig, groups: list[list[TrainConfig]]) -> int:
    """Which of seed_groups(configs) the config belongs to."""
    key = _seedless(config)
    return next(i for i, group in enumerate(groups) if _seedless(group[0]) == key)


def spread(values) -> dict:
    """Mean, sample standard deviation (0 for one value), min and max."""
    values = [float(v) for v in values]
    return {"mean": statistics.fmean(values),
            "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "min": min(values), "max": max(values), "n": len(values)}


GROUP_COLUMNS = ("test_accuracy", "mean_own_angle_deg", "min_weight_angle_deg",
                 "angular_margin_deg")


def group_summary(group: list[RunResult]) -> dict:
    """The table's numbers of runs that differ only in their seed: each one's spread, and
    the steps to 90% as steps_spread gives them (a seed that never got there counts)."""
    return {**{column: spread(r.row[column] for r in group) for column in GROUP_COLUMNS},
            "steps_to_90": steps_spread([r.row["steps_to_90"] for r in group])}


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


def confounds(configs: dict[str, TrainConfig]) -> Message | None:
    """What else the runs differ in, beside the one thing a comparison varies (the loss, each
    at its preset; or one parameter of one loss); None when that is all."""
    runs = list(configs.values())
    if len({config.loss for config in runs}) > 1:
        moved = [f"{label}: {name}={value:g}" for label, config in configs.items()
                 for name, value in config.params.items()
                 if LOSSES[config.loss].presets.get(f"{config.dim}d", {}).get(name) != value]
        return Message("messages.compare.confounded_losses", {"what": ", ".join(moved)}) \
            if moved else None
    names = dict.fromkeys(name for config in runs for name in config.params)
    varying = [name for name in names if len({config.params.get(name) for config in runs}) > 1]
    return Message("messages.compare.confounded_params", {"what": ", ".join(varying)}) \
        if len(varying) > 1 else None


def run_label(label, index: int) -> str:
    """A run's label, which the CLI also uses as its folder's name inside --out: a plain
    name, never a path ("../x", "/etc", ".hidden")."""
    text = str(label)
    if (not text or len(text) > 100 or text.startswith(".") or
            any(c in text for c in '/\\') or not text.isprintable()):
        raise LossvizError("messages.compare.bad_label", index=index, label=repr(text)[:120])
    return text


def parse_values(text: str, loss: str, param: str) -> list[float]:
    """'1, 2, 3' -> [1.0, 2.0, 3.0], each checked against the parameter's range; bad input
    raises a LossvizError that says what to write instead."""
    spec = LOSSES[loss].param(param)
    try:
        values = [float(v) for v in text.replace(";", ",").split(",") if v.strip()]
    except ValueError:
        raise LossvizError("compare.values.not_numbers", text=repr(text)) from None
    if len(values) < 2:
        raise LossvizError("compare.values.too_few")
    bad = [v for v in values if not spec.low <= v <= spec.high or (spec.integer and v != int(v))]
    if bad:
        raise LossvizError("compare.values.outside_whole" if spec.integer else
                           "compare.values.outside", param=param, low=f"{spec.low:g}",
                           high=f"{spec.high:g}", bad=", ".join(f"{v:g}" for v in bad))
    return values


def difficulty_sentence(rows: list[dict]) -> Message:
    """What this run says about the ranking m*theta > cos(theta) - m > cos(theta + m)."""
    steps = {row["loss"]: row["steps_to_90"] for row in rows}
    named = [Message("compare.difficulty.steps", {"loss": LOSSES[loss].title, "steps": steps[loss]})
             if steps.get(loss) is not None else
             Message("compare.difficulty.never", {"loss": LOSSES[loss].title})
             for loss in DIFFICULTY_RANKING]
    if any(steps.get(loss) is None for loss in DIFFICULTY_RANKING):
        verdict = "compare.difficulty.unranked"
    else:
        ordered = [steps[loss] for loss in DIFFICULTY_RANKING]
        holds = ordered[0] > ordered[1] > ordered[2]
        verdict = "compare.difficulty.agrees" if holds else "compare.difficulty.disagrees"
    hardest, middle, easiest = named  # DIFFICULTY_RANKING's three, hardest first
    return Message("compare.difficulty.sentence", {"hardest": hardest, "middle": middle,
                                                   "easiest": easiest,
                                                   "verdict": Message(verdict)})

"""A run's configuration as the playground's sidebar edits it. The sidebar shows some of a
TrainConfig's fields (and the loss's parameters) within its ranges; a run may hold more (a CLI
checkpoint: batch size 256, lr_floor, lambda schedule) or values beyond those ranges. So the
sidebar's values are edits, not the configuration: what changed between two reruns is applied
on top of the run's own config, and the rest of the run stays exactly as it was saved.

Settings are named as TrainConfig fields; loss parameters as "params.<name>"."""
from __future__ import annotations

from dataclasses import replace

from lossviz.train import TrainConfig

PARAMS = "params."
_MISSING = object()


def settings_of(config: TrainConfig, fields: tuple[str, ...]) -> dict:
    """The named fields of config, and its loss parameters, as the sidebar names them."""
    values = {name: getattr(config, name) for name in fields}
    values.update({PARAMS + name: value for name, value in config.params.items()})
    return values


def edited(config: TrainConfig, before: dict, now: dict) -> TrainConfig:
    """config with what changed from before to now applied. A new loss takes the parameters
    shown for it; the same loss keeps the parameters the sidebar does not show."""
    changed = {k: v for k, v in now.items() if before.get(k, _MISSING) != v}
    if not changed:
        return config
    fields = {k: v for k, v in changed.items() if not k.startswith(PARAMS)}
    shown = {k.removeprefix(PARAMS): v for k, v in now.items() if k.startswith(PARAMS)}
    edits = {k.removeprefix(PARAMS): v for k, v in changed.items() if k.startswith(PARAMS)}
    if fields.get("loss", config.loss) != config.loss:
        params = shown
    else:
        params = {**config.params, **edits}
    return replace(config, **fields, params=params)


def within(values: dict, ranges: dict) -> tuple[dict, dict]:
    """values clamped to ranges ({name: (low, high)}), and what had to change: {name: (value,
    shown instead)}."""
    shown, clamped = dict(values), {}
    for name, value in values.items():
        low, high = ranges.get(name, (None, None))
        if low is None or isinstance(value, (str, bool)):
            continue
        bounded = type(value)(min(max(value, low), high))
        if bounded != value:
            shown[name], clamped[name] = bounded, (value, bounded)
    return shown, clamped

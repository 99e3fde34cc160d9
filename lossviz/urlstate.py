"""A page's settings as one declarative table, read from and written to the URL query string,
so a copied link reproduces the view. Reading never raises: a bad value is clamped or dropped,
and a Message saying so (in no language yet) is returned for the page to show."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Mapping

from lossviz.i18n import Message
from lossviz.losses import LOSSES

_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}
_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")  # a run id or a watch code: letters, digits, - and _


@dataclass(frozen=True)
class Field:
    name: str  # the query-string key
    default: Any
    kind: str = "float"  # float | int | bool | choice | multi | id
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()


def loss_param_fields(losses=None, preset: str | None = None) -> list[Field]:
    """One field per loss parameter, named '<loss>.<param>' (e.g. arcface.m), defaulting to
    the loss's preset of that name where it has one."""
    fields = []
    for name in losses or LOSSES:
        defaults = LOSSES[name].presets.get(preset, {}) if preset else {}
        for p in LOSSES[name].params:
            kind = "int" if p.integer else "float"
            default = defaults.get(p.name, p.default)
            fields.append(Field(f"{name}.{p.name}", default, kind, p.low, p.ui_high))
    return fields


def _clamped(field: Field, value: float, text: str, warnings: list) -> float:
    bounded = min(max(value, field.low), field.high)
    if bounded != value:
        warnings.append(Message("app.link.outside", dict(
            name=field.name, text=text, low=f"{field.low:g}", high=f"{field.high:g}",
            used=f"{bounded:g}")))
    return bounded


def _parse_number(field: Field, text: str, warnings: list):
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        warnings.append(Message("app.link.not_a_number", dict(name=field.name, text=text)))
        return None
    if field.kind == "int" and value != int(value):
        warnings.append(Message("app.link.not_whole", dict(name=field.name, text=text,
                                                           used=round(value))))
        value = round(value)
    value = _clamped(field, value, text, warnings)
    return int(value) if field.kind == "int" else value


def _parse_one(field: Field, text: str, warnings: list):
    if field.kind in ("float", "int"):
        return _parse_number(field, text, warnings)
    if field.kind == "bool":
        if text.lower() in _TRUE | _FALSE:
            return text.lower() in _TRUE
        warnings.append(Message("app.link.not_on_off", dict(name=field.name, text=text)))
        return None
    if field.kind == "id":
        if _ID.fullmatch(text):
            return text
        warnings.append(Message("runs.link.bad_id", dict(name=field.name, text=text[:40])))
        return None
    if field.kind == "choice":
        if text in field.choices:
            return text
        warnings.append(Message("app.link.not_a_choice", dict(
            name=field.name, text=text, choices=", ".join(field.choices))))
        return None
    items = [item for item in text.split(",") if item]
    unknown = [item for item in items if item not in field.choices]
    if unknown:
        warnings.append(Message("app.link.unknown_items", dict(name=field.name,
                                                               items=", ".join(unknown))))
    return list(dict.fromkeys(item for item in items if item in field.choices))


def parse_query(query: Mapping[str, str], fields: list[Field]) -> tuple[dict, list[Message]]:
    """The values that the query sets (only those), and warnings for what was off."""
    by_name = {f.name: f for f in fields}
    values, warnings = {}, []
    for key, text in query.items():
        field = by_name.get(key)
        if field is None:
            warnings.append(Message("app.link.unknown_setting", dict(name=key)))
            continue
        value = _parse_one(field, str(text), warnings)
        if value is not None:
            values[key] = value
    return values, warnings


def _format(value) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, list):
        return ",".join(value)
    if isinstance(value, float):
        return format(value, ".6g")
    return str(value)


def to_query(values: Mapping[str, Any], fields: list[Field]) -> dict[str, str]:
    """The query string for values, leaving out what equals its default to keep links short."""
    return {f.name: _format(values[f.name]) for f in fields
            if f.name in values and values[f.name] != f.default}


def loss_link(loss: str, params: dict, loss_field: str) -> dict[str, str]:
    """Query string that opens a page on one loss with these parameters."""
    query = {loss_field: loss}
    query.update({f"{loss}.{name}": _format(float(v)) for name, v in params.items()})
    return query

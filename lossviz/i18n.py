"""Every visible text in English and Chinese, kept in tables under assets/i18n/ rather than in
code, and checked when they load: a missing translation or a placeholder that one language
lacks fails at start-up, not as a blank or a KeyError on a student's screen.

A table is a JSON file whose leaves are {"en": ..., "zh": ...}. text("app.nav.compare", "zh")
reads the leaf nav.compare of app.json. Placeholders use str.format: "{step}", "{acc:.1%}".

The library never knows who reads it: what it wants to say is a Message (a key and values), and
the page renders it in the reader's language. LossvizError carries a Message for bad input.
"""
from __future__ import annotations

import json
import string
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

TEXTS = Path(__file__).resolve().parent.parent / "assets" / "i18n"
LANGUAGES = {"en": "English", "zh": "中文"}
DEFAULT_LANGUAGE = "en"


def _placeholders(template: str) -> set[str]:
    return {name.split(".")[0].split("[")[0]
            for _, name, _, _ in string.Formatter().parse(template) if name}


def _is_leaf(node) -> bool:
    return isinstance(node, dict) and bool(set(node) & set(LANGUAGES))


def _check_leaf(node: dict, where: str):
    missing = [lang for lang in LANGUAGES if not isinstance(node.get(lang), str) or not node[lang]]
    if missing:
        raise ValueError(f"{where}: missing {', '.join(missing)} text")
    names = {lang: _placeholders(node[lang]) for lang in LANGUAGES}
    if len({frozenset(found) for found in names.values()}) > 1:
        raise ValueError(f"{where}: placeholders differ between languages: {names}")


def _check_translated(node, where: str):
    """Every leaf has every language, with the same placeholders."""
    if _is_leaf(node):
        _check_leaf(node, where)
    elif isinstance(node, dict):
        for name, child in node.items():
            _check_translated(child, f"{where}.{name}")
    elif isinstance(node, list):
        for i, child in enumerate(node):
            _check_translated(child, f"{where}[{i}]")


@lru_cache(maxsize=None)
def load_texts(name: str) -> dict:
    """One table (assets/i18n/<name>.json) as it is written, checked."""
    table = json.loads((TEXTS / f"{name}.json").read_text(encoding="utf-8"))
    _check_translated(table, name)
    return table


def _flatten(node, prefix: str, into: dict):
    if _is_leaf(node):
        into[prefix] = node
    elif isinstance(node, dict):
        for name, child in node.items():
            _flatten(child, f"{prefix}.{name}", into)


@lru_cache(maxsize=None)
def catalog() -> dict[str, dict[str, str]]:
    """Every leaf of every table by its dotted key ("<file>.<key>.<key>")."""
    flat: dict[str, dict[str, str]] = {}
    for path in sorted(TEXTS.glob("*.json")):
        _flatten(load_texts(path.stem), path.stem, flat)
    return flat


def text(key: str, lang: str = DEFAULT_LANGUAGE, **values) -> str:
    """The text under key in lang (English for an unknown language), values filled in; a
    Message among the values is rendered in the same language."""
    try:
        entry = catalog()[key]
    except KeyError:
        raise KeyError(f"no text {key!r} in {TEXTS}") from None
    template = entry.get(lang, entry[DEFAULT_LANGUAGE])
    if not values:
        return template
    rendered = {name: value.render(lang) if isinstance(value, Message) else value
                for name, value in values.items()}
    return template.format(**rendered)


@dataclass(frozen=True)
class Message:
    """Something the library wants to say, in no language yet: a text key and its values."""
    key: str
    values: dict[str, Any] = field(default_factory=dict)

    def render(self, lang: str = DEFAULT_LANGUAGE) -> str:
        return text(self.key, lang, **self.values)

    def __str__(self) -> str:
        return self.render()


class LossvizError(ValueError):
    """Bad input, explained: str() is English (logs, the CLI), .message renders in any language."""

    def __init__(self, key: str, **values):
        self.message = Message(key, values)
        super().__init__(self.message.render())

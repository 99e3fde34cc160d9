"""Texts shown in several languages, kept in one table under assets/ rather than in code."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

ASSETS = Path(__file__).resolve().parent.parent / "assets"
LANGUAGES = {"en": "English", "zh": "中文"}


def _check_translated(node, where: str):
    """Every text is a {language: string} table with all languages: a missing translation
    fails at load time, not as a blank on screen."""
    if isinstance(node, dict) and set(node) & set(LANGUAGES):
        missing = [lang for lang in LANGUAGES if not node.get(lang)]
        if missing:
            raise ValueError(f"{where}: missing {', '.join(missing)} text")
    elif isinstance(node, dict):
        for name, child in node.items():
            _check_translated(child, f"{where}.{name}")
    elif isinstance(node, list):
        for i, child in enumerate(node):
            _check_translated(child, f"{where}[{i}]")


@lru_cache(maxsize=None)
def load_texts(name: str) -> dict:
    table = json.loads((ASSETS / f"{name}.json").read_text(encoding="utf-8"))
    _check_translated(table, name)
    return table

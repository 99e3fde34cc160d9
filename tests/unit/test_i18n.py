import json
import re
from pathlib import Path

import pytest

from lossviz import i18n
from lossviz.i18n import LossvizError, Message, catalog, text

ROOT = Path(__file__).resolve().parents[2]
# t("x.y"), text("x.y", ...), Message("x.y", ...), LossvizError("x.y", ...) and its kinds
# (DataError, CheckpointError): literal text keys
KEY_USE = re.compile(r"""\b(?:t|text|Message|LossvizError|DataError|CheckpointError)\(\s*"""
                     r"""["']([a-z0-9_]+(?:\.[a-z0-9_]+)+)["']""")


def test_text_fills_values_and_renders_messages_in_the_same_language():
    assert text("app.nav.playground", "zh") == "训练场"
    inner = Message("app.link.unknown_setting", {"name": "zoom"})
    assert text("app.link.warning", "zh", message=inner) == "链接参数：未知参数 'zoom' 已忽略。"
    assert str(inner) == "Unknown setting 'zoom' ignored."
    assert text("app.nav.playground", "fr") == "Playground"  # unknown language: English


def test_an_unknown_key_names_itself():
    with pytest.raises(KeyError, match="app.nav.nowhere"):
        text("app.nav.nowhere")


def test_lossviz_error_is_english_and_keeps_its_message():
    err = LossvizError("app.link.unknown_setting", name="zoom")
    assert isinstance(err, ValueError) and str(err) == "Unknown setting 'zoom' ignored."
    assert err.message.render("zh") == "未知参数 'zoom' 已忽略。"


@pytest.mark.parametrize("table, problem", [
    ({"a": {"en": "x"}}, "missing zh"),
    ({"a": {"en": "x", "zh": ""}}, "missing zh"),
    ({"a": {"b": [{"en": "{n} steps", "zh": "步"}]}}, "placeholders differ"),
])
def test_a_table_with_a_gap_fails_when_it_loads(tmp_path, monkeypatch, table, problem):
    (tmp_path / "broken.json").write_text(json.dumps(table), encoding="utf-8")
    monkeypatch.setattr(i18n, "TEXTS", tmp_path)
    i18n.load_texts.cache_clear()
    try:
        with pytest.raises(ValueError, match=problem):
            i18n.load_texts("broken")
    finally:
        i18n.load_texts.cache_clear()


def test_every_key_the_code_uses_exists():
    known = catalog()
    sources = [*ROOT.glob("*.py"), *ROOT.glob("pages/*.py"), *ROOT.glob("lossviz/**/*.py")]
    used = {key for path in sources for key in KEY_USE.findall(path.read_text(encoding="utf-8"))}
    assert used, "the pattern found no text keys at all"
    assert sorted(used - set(known)) == []

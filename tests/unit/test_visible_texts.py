"""No words written straight into the code of what a reader sees: every text a page or a
Streamlit helper shows comes from the translation tables (assets/i18n), so a Chinese reader
never meets an English spinner, alert or help text. AppTest sees most texts (the Chinese
checker in tests/app); this catches the ones it cannot, such as a spinner that shows only
while a cache fills, or an error that appears only when a run fails."""
import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Streamlit calls whose first argument is shown to the reader (not page_link: a path)
SHOWN = {"title", "header", "subheader", "caption", "markdown", "write", "text", "button",
         "toggle", "checkbox", "radio", "selectbox", "slider", "text_input", "number_input",
         "metric", "expander", "tabs", "spinner", "toast", "error", "warning", "info", "success",
         "download_button", "file_uploader", "progress", "status", "popover",
         "segmented_control", "pills", "multiselect", "select_slider", "text_area"}
# keyword arguments shown to the reader (show_spinner: a cache's loading text)
SHOWN_KEYWORDS = {"label", "help", "placeholder", "caption", "text", "show_spinner"}
WORD = re.compile(r"[A-Za-z]{3,}")


def literal_words(node) -> list[str]:
    """Words written into the code in a string or an f-string's fixed parts."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return WORD.findall(node.value)
    if isinstance(node, ast.JoinedStr):
        return [w for part in node.values for w in literal_words(part)]
    return []


def written_in(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        shown = [node.args[0]] if node.func.attr in SHOWN and node.args else []
        shown += [k.value for k in node.keywords if k.arg in SHOWN_KEYWORDS]
        found += [f"{path.name}:{node.lineno} {node.func.attr}: {' '.join(words)}"
                  for words in map(literal_words, shown) if words]
    return found


def test_pages_and_ui_helpers_write_no_visible_words_of_their_own():
    sources = [ROOT / "app.py", *ROOT.glob("pages/*.py"), *ROOT.glob("lossviz/ui/*.py")]
    assert len(sources) > 5
    assert [line for path in sources for line in written_in(path)] == []


def test_the_check_catches_a_spinner_an_alert_and_a_help_text(tmp_path):
    page = tmp_path / "page.py"
    page.write_text('import streamlit as st\n'
                    '@st.cache_resource(show_spinner="Loading digits…")\n'
                    'def f(): pass\n'
                    'st.error(f"A run failed: {e}")\n'
                    'st.slider(ui.t("x"), help="Drag me")\n'
                    'st.markdown(f"**{ui.t(\'x\')}**")\n', encoding="utf-8")
    assert [line.split(" ", 1)[1] for line in written_in(page)] == [
        "cache_resource: Loading digits", "error: run failed", "slider: Drag"]

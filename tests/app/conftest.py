import base64
import re
import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.fixture
def open_page():
    """Run app.py (the real router) on one page, with an optional query string."""
    def _open(page: str, query: dict | None = None) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=60)
        at.switch_page(f"pages/{page}.py")
        at.query_params.update(query or {})
        return at.run()
    return _open


def figures(at: AppTest) -> list[dict]:
    """The plotly figures on screen, as the JSON the browser receives."""
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def trace(figure: dict, name: str) -> dict:
    return next(t for t in figure["data"] if t.get("name") == name)


def array(values) -> np.ndarray:
    """Plotly sends numpy data as typed arrays ({dtype, bdata}); plain lists stay lists."""
    if isinstance(values, dict) and "bdata" in values:
        flat = np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"])
        return flat.reshape(values["shape"]) if "shape" in values else flat
    return np.asarray(values)


@pytest.fixture(autouse=True)
def fresh_registry():
    """Each test gets the server's registry afresh; afterwards its training process must be
    gone (ended and reaped)."""
    from lossviz.ui.runs import registry
    from tests.conftest import process_gone, wait_for
    registry.clear()
    yield
    pids = registry().process_ids
    registry().stop()
    registry.clear()
    wait_for(lambda: all(process_gone(pid) for pid in pids), 20, "training process gone")


# What a Chinese page may show in Latin letters: loss names, formula words, units and file
# formats, the venues and first authors of cited papers, and the language switch itself. Paper
# titles are kept as published, inside Chinese title marks 《…》, and are not checked.
ALLOWED_LATIN = {
    # verification rates, written as abbreviations in Chinese papers too
    "roc", "tar", "far", "eer",
    "softmax", "sphereface", "normface", "cosface", "arcface", "elasticface", "curricularface",
    "adacos", "logit", "logits",
    "sub", "center", "eccv",  # Sub-center ArcFace, as its paper names it, and its venue
    "magface", "adaface", "meng", "kim",
    "cos", "sin", "log", "exp", "max", "min", "png", "svg", "icml", "cvpr", "acm",
    "liu", "wang", "deng", "boutros", "cvprw", "huang", "zhang", "matplotlib", "lossviz",
    "english", "language",
    # AdaCos's B_avg and θ_med, as its paper names them
    "avg", "med",
    # optimizers, devices and data sets by their names, a distribution, and file formats
    "adam", "sgd", "cpu", "gpu", "cuda", "mps", "mnist", "fashion", "debian", "idx", "csv",
    "gif", "jpeg",
}
_MATH = re.compile(r"`[^`]*`|\$[^$]*\$|%\{[^}]*\}|<[^>]*>|《[^》]*》")
_WORD = re.compile(r"[A-Za-z]{3,}")


def _plotly_texts(figure: dict) -> list[str]:
    """Titles, axis titles, legend names, colour bar titles, annotations and hover texts of a
    Plotly figure."""
    layout, found = figure.get("layout", {}), []

    def title_of(node):
        title = (node or {}).get("title")
        return title.get("text") if isinstance(title, dict) else title

    found.append(title_of(layout))
    found += [title_of(axis) for name, axis in layout.items() if name.startswith(("xaxis", "yaxis"))]
    found += [note.get("text") for note in layout.get("annotations", [])]
    found += [shape.get("label", {}).get("text") for shape in layout.get("shapes", [])]
    for trace in figure.get("data", []):
        found += [trace.get("name"), trace.get("hovertemplate"), title_of(trace.get("colorbar"))]
        text = trace.get("text")
        found += text if isinstance(text, list) else [text]
    return [t for t in found if isinstance(t, str)]


def _element_texts(node) -> list[str]:
    """Every string a reader can see on one element or block of an AppTest tree."""
    proto = getattr(node, "proto", None)
    if getattr(node, "type", None) == "latex" or proto is None:
        return []  # typeset formulas
    if getattr(node, "type", None) == "plotly_chart":
        return _plotly_texts(json.loads(proto.spec))
    if hasattr(proto, "WhichOneof") and proto.DESCRIPTOR.name == "Block":
        kind = proto.WhichOneof("type")
        return [proto.expandable.label] if kind == "expandable" else []
    found = []
    for field, value in proto.ListFields():
        if field.name in ("label", "help", "body", "placeholder", "caption"):
            found.append(value)
        elif field.name in ("options", "display_values") and field.type == field.TYPE_STRING:
            found += list(value)
        elif field.name == "columns" and isinstance(value, str):  # a table's column headers
            found += [text for column in json.loads(value).values()
                      for text in (column.get("label"), column.get("help"))]
    return [t for t in found if isinstance(t, str)]


def visible_texts(at: AppTest) -> list[str]:
    """The texts on screen: titles, markdown, captions, alerts, metric labels, widget labels,
    help texts, options and buttons, page links, expanders, and the Plotly figures' titles,
    axis titles, legend names, annotations and hover texts."""
    texts, stack = [], [at.main, at.sidebar]
    while stack:
        node = stack.pop()
        texts += _element_texts(node)
        stack += list(getattr(node, "children", {}).values())
    return texts


def english_words(at: AppTest) -> list[tuple[str, str]]:
    """(word, the text it is in) for each English-looking word on a page meant to be Chinese:
    three or more Latin letters, outside formulas ($...$), Plotly placeholders, markup and
    quoted paper titles, that is not in ALLOWED_LATIN."""
    found = []
    for text in visible_texts(at):
        for word in _WORD.findall(_MATH.sub(" ", text)):
            if word.lower() not in ALLOWED_LATIN:
                found.append((word, text))
    return found

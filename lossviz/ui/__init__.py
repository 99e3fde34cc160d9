"""The only streamlit-aware helpers: widget keys, URL binding and widgets shared by pages."""
from __future__ import annotations

import copy
import math
from pathlib import Path

import streamlit as st

from lossviz.figures.style import View
from lossviz.i18n import DEFAULT_LANGUAGE, LANGUAGES, Message, text
from lossviz.losses import LOSSES, Param
from lossviz.urlstate import Field, parse_query, to_query

# Settings every page shares, kept under their own names (not per page) so that they survive a
# move between pages, and written into every page's URL so that a shared link carries them.
SHARED_FIELDS = [Field("lang", DEFAULT_LANGUAGE, "choice", choices=tuple(LANGUAGES)),
                 Field("present", False, "bool")]
_SHARED_NAMES = {f.name for f in SHARED_FIELDS}
_LAST_QUERY, _SHARED_WARNINGS = "_url", "_shared_link_warnings"


def require_router() -> None:
    """Run first on every page (open_page does). Streamlit treats a folder named pages/ beside
    app.py as a legacy multipage app until st.navigation has run once in the server process, so
    a shared deep link opened first would run the page bare, without app.py's router, title and
    layout. Switch the process over to the router and rerun, which runs app.py for this URL."""
    from streamlit.runtime.pages_manager import PagesManager  # internal: no public switch
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def language() -> str:
    """The reader's language, chosen once for every page."""
    return st.session_state.get("lang", DEFAULT_LANGUAGE)


def t(key: str, **values) -> str:
    """The text under key (see lossviz.i18n) in the reader's language."""
    return text(key, language(), **values)


def view():
    """What figure builders need to know about the reader (language, presentation mode)."""
    return View(language(), bool(st.session_state.get("present", False)))


def say(message: Message | str) -> str:
    """A library Message in the reader's language (plain strings pass through)."""
    return message.render(language()) if isinstance(message, Message) else message


def _query() -> dict:
    return {name: st.query_params[name] for name in st.query_params}


def bind_shared_settings() -> None:
    """The router calls this before it builds the navigation (whose titles are in the reader's
    language) and before the shared widgets exist: a URL this app did not write last (a shared
    link, the browser's back button) sets the language and presentation mode."""
    for field in SHARED_FIELDS:
        st.session_state.setdefault(field.name, field.default)
    query = _query()
    if query == st.session_state.get(_LAST_QUERY):
        return
    values, warnings = parse_query({k: v for k, v in query.items() if k in _SHARED_NAMES},
                                   SHARED_FIELDS)
    st.session_state.update(values)
    st.session_state[_SHARED_WARNINGS] = warnings


def shared_controls() -> None:
    """The language switch (and the presentation switch) in the sidebar, on every page."""
    with st.sidebar:
        st.radio(t("app.language"), list(LANGUAGES), format_func=LANGUAGES.get, key="lang",
                 horizontal=True)


def open_page(page: str, fields: list[Field], title: str | None = None,
              intro: str | None = None) -> None:
    """What every page does first, in this order: take over from Streamlit's legacy page
    runner, show its title and introduction, then read its settings from the URL (so a
    warning about a bad link appears under the title)."""
    require_router()
    if title:
        st.title(title)
    if intro:
        st.write(intro)
    for warning in st.session_state.pop(_SHARED_WARNINGS, []):
        show_link_warning(warning)
    bind_url(page, fields)


def show_link_warning(warning: Message):
    st.warning(t("app.link.warning", message=warning), icon="⚠️")


def key(page: str, name: str) -> str:
    """Session-state key of a page's setting; also the widget key AppTest addresses."""
    return f"{page}:{name}"


def bind_url(page: str, fields: list[Field]) -> None:
    """Call before the page's widgets. Seeds each setting with its default and, when the URL
    differs from what this page last wrote (a shared link, a link from another page), with the
    URL's values. Bad values are clamped or dropped with a visible warning."""
    for field in fields:
        st.session_state.setdefault(key(page, field.name), copy.copy(field.default))
    query = _query()
    if query == st.session_state.get(key(page, _LAST_QUERY)):
        return
    values, warnings = parse_query({k: v for k, v in query.items() if k not in _SHARED_NAMES},
                                   fields)
    for name, value in values.items():
        st.session_state[key(page, name)] = value
    for warning in warnings:
        show_link_warning(warning)


def write_url(page: str, fields: list[Field]) -> None:
    """Call after the widgets: the URL now reproduces what is on screen."""
    values = {f.name: st.session_state[key(page, f.name)] for f in fields}
    shared = {f.name: st.session_state.get(f.name, f.default) for f in SHARED_FIELDS}
    query = to_query(values, fields) | to_query(shared, SHARED_FIELDS)
    st.session_state[key(page, _LAST_QUERY)] = st.session_state[_LAST_QUERY] = query
    st.query_params.from_dict(query)


def value(page: str, name: str):
    return st.session_state[key(page, name)]


def _param_label(p: Param) -> str:
    return f"{p.label} (rad)" if p.unit == "rad" else p.label


def param_slider(page: str, loss: str, p: Param):
    """A slider for one loss parameter; angular margins also show their value in degrees."""
    widget_key = key(page, f"{loss}.{p.name}")
    number_format = "%d" if p.integer else ("%.2f" if p.step < 0.1 else "%.1f")
    current = st.slider(_param_label(p), p.low, p.ui_high, step=p.step, key=widget_key,
                        help=p.help, format=number_format)
    if p.unit == "rad":
        st.caption(f"{p.name} = {current:.2f} rad = {math.degrees(current):.1f}°")
    return current


def loss_params(page: str, loss: str) -> dict:
    """Sliders for every parameter of a loss; returns their values by parameter name."""
    return {p.name: param_slider(page, loss, p) for p in LOSSES[loss].params}


def loss_title(name: str) -> str:
    return LOSSES[name].title


@st.cache_resource(show_spinner="Loading digits…")
def shared_dataset(source: str, folder: str | None):
    """One read-only copy per server, shared by every browser session."""
    from lossviz.data import load_source
    return load_source(source, Path(folder) if folder else None)


@st.cache_resource
def run_cache():
    """Comparison runs, each distinct configuration trained once per server."""
    from lossviz.compare import RunCache
    return RunCache()


def image_downloads(label: str, make_image, file_stem: str, key_prefix: str):
    """PNG and SVG download buttons side by side; make_image(fmt) runs only on a click."""
    with st.container(horizontal=True, vertical_alignment="center"):
        st.caption(f"Download {label.lower()}:", width="content")
        for fmt, mime in (("png", "image/png"), ("svg", "image/svg+xml")):
            st.download_button(fmt.upper(), data=lambda fmt=fmt: make_image(fmt),
                               file_name=f"{file_stem}.{fmt}", mime=mime,
                               key=f"{key_prefix}-{fmt}", icon=":material/download:",
                               help=f"{label} as {fmt.upper()}, drawn by matplotlib")

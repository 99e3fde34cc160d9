"""The only streamlit-aware helpers: widget keys, URL binding and widgets shared by pages.

Presentation mode (?present=1, the sidebar switch) in one page's terms:
    ui.open_page(PAGE, FIELDS, title, intro)   # in presentation mode: a Leave button, no intro
    with ui.controls():                         # the few controls this view needs: the sidebar
        loss = st.selectbox(...)                # normally, a row above the figure when presenting
    with st.sidebar:                            # everything else: hidden while presenting, but
        st.slider(...)                          # still drawn, so its value survives
    st.plotly_chart(figure(..., view=ui.view()), **ui.chart_options())
Figure builders size their text, lines and markers from ui.view() (lossviz.figures.style.View).
"""
from __future__ import annotations

import copy
import math
from pathlib import Path

# Imported once, here, before any session builds a figure (app.py imports lossviz.ui first):
# plotly looks pandas and PIL.Image up in sys.modules without waiting for an import under way,
# and Streamlit imports pandas lazily in whichever script thread needs it first, so the first
# sessions of a class got "partially initialized module 'pandas'" from plotly (bench_load).
import pandas  # noqa: F401
import PIL.Image  # noqa: F401
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
# The URLs this session wrote last, not only the very last: a rerun can start before the
# browser has applied the URL the previous rerun wrote (quick slider presses on a busy server),
# and its stale query string is then ours, not a shared link to read settings from.
_RECENT_WRITES = 8


def _written_here(query: dict, state_key: str) -> bool:
    return query in st.session_state.get(state_key, [])


def _remember_written(query: dict, state_key: str) -> None:
    recent = [q for q in st.session_state.get(state_key, []) if q != query]
    st.session_state[state_key] = (recent + [query])[-_RECENT_WRITES:]


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
    if _written_here(query, _LAST_QUERY):
        return
    values, warnings = parse_query({k: v for k, v in query.items() if k in _SHARED_NAMES},
                                   SHARED_FIELDS)
    st.session_state.update(values)
    st.session_state[_SHARED_WARNINGS] = warnings


def presenting() -> bool:
    """Whether the page is shown in presentation mode (for a projector)."""
    return bool(st.session_state.get("present", False))


# On every page: captions dark enough to read (Streamlit's grey is 3.7:1 on white; this is 8:1),
# and display formulas that shrink on a phone instead of running off the screen.
_COMMON_CSS = """
[data-testid="stCaptionContainer"], [data-testid="stCaptionContainer"] * { color: #4d4d4d !important; }
@media (max-width: 640px) { .katex-display { font-size: 0.78em; overflow-x: auto; } }
"""
# At a desk: less empty space above the title, so more of the first figure is above the fold.
_DESK_CSS = """
[data-testid="stMainBlockContainer"] { padding-top: 3rem; }
"""
# While presenting: no sidebar (nor its button) and no header bar, little space above the page,
# larger text. Widgets in the hidden sidebar are still drawn, so their values are kept.
_PRESENTATION_CSS = """
section[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"],
[data-testid="stExpandSidebarButton"], header[data-testid="stHeader"] { display: none; }
[data-testid="stMainBlockContainer"] { padding-top: 1.2rem; padding-bottom: 1rem;
  max-width: 100%; }
html { font-size: 19px; }
h1 { font-size: 1.7rem !important; padding: 0 !important; }
"""


def shared_controls() -> None:
    """The language and presentation switches in the sidebar, on every page; while presenting,
    the styles that hide the sidebar and enlarge the text."""
    with st.sidebar:
        st.radio(t("app.language"), list(LANGUAGES), format_func=LANGUAGES.get, key="lang",
                 horizontal=True)
        st.toggle(t("ui.present.toggle"), key="present", help=t("ui.present.help"))
    st.html(f"<style>{_COMMON_CSS}{_uploader_css()}"
            f"{_PRESENTATION_CSS if presenting() else _DESK_CSS}</style>")


def _uploader_css() -> str:
    """Streamlit writes its file uploader's button and limits in English whatever the page's
    language: the button's word comes from our tables, and the limits line goes (each
    uploader's label names its formats, and a file too big gets our own message)."""
    word = t("ui.upload_button").replace('"', "")
    return f"""
[data-testid="stFileUploaderDropzoneInstructions"] {{ display: none; }}
[data-testid="stFileUploaderDropzone"] button [data-testid="stMarkdownContainer"] p {{
  display: none; }}
[data-testid="stFileUploaderDropzone"] button [data-testid="stMarkdownContainer"]::after {{
  content: "{word}"; }}
"""


def _leave_presentation():
    st.session_state["present"] = False


def controls():
    """Where a page puts the few controls its view needs: the sidebar normally; while
    presenting (sidebar hidden), a row above the figure. Use as `with ui.controls(): ...`."""
    if not presenting():
        return st.sidebar
    return st.container(horizontal=True, vertical_alignment="bottom", gap="medium",
                        key="present-controls")


def stage(figure_share: float = 3.0):
    """(figure area, control area) for a page whose essential controls are too many for one
    row: normally the main area and the sidebar; while presenting, a wide column for the
    figure and a narrow one beside it for the controls (a projector is wider than tall)."""
    if not presenting():
        return st.container(), st.sidebar
    figure_area, control_area = st.columns([figure_share, 1], gap="medium")
    return figure_area, control_area.container(key="present-controls")


def chart_options() -> dict:
    """st.plotly_chart arguments every page shares: no Plotly logo, fewer toolbar buttons (on a
    narrow screen the toolbar otherwise covers the title)."""
    return dict(config={"displaylogo": False,
                        "modeBarButtonsToRemove": ["lasso2d", "select2d", "autoScale2d"]})


def open_page(page: str, fields: list[Field], title: str | None = None,
              intro: str | None = None) -> None:
    """What every page does first, in this order: take over from Streamlit's legacy page
    runner, show its title and introduction, then read its settings from the URL (so a
    warning about a bad link appears under the title)."""
    require_router()
    if title and presenting():
        with st.container(horizontal=True, vertical_alignment="center"):
            st.title(title, width="stretch")
            st.button(t("ui.present.leave"), on_click=_leave_presentation, key="present-leave",
                      icon=":material/close_fullscreen:", width="content")
    elif title:
        st.title(title)
    if intro and not presenting():  # the figure first: the teacher says what the intro says
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
    if _written_here(query, key(page, _LAST_QUERY)):
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
    _remember_written(query, key(page, _LAST_QUERY))
    _remember_written(query, _LAST_QUERY)
    st.query_params.from_dict(query)


def value(page: str, name: str):
    return st.session_state[key(page, name)]


def param_label(loss: str, p: Param) -> str:
    """A loss parameter's name in the reader's language (assets/i18n/losses.json), with its
    unit when it is an angle in radians."""
    label = t(f"losses.{loss}.params.{p.name}.label")
    return t("ui.param.radians", label=label) if p.unit == "rad" else label


def param_choice(page: str, loss: str, p: Param, named: bool = False) -> int:
    """A variant of a loss's formula, picked by name; its value is the variant's index."""
    label = param_label(loss, p)
    if named:
        label = f"{loss_title(loss)}: {label}"
    return st.selectbox(label, range(len(p.choices)), key=key(page, f"{loss}.{p.name}"),
                        help=t(f"losses.{loss}.params.{p.name}.help"),
                        format_func=formatter(
                            lambda i: f"losses.{loss}.params.{p.name}.choices.{p.choices[i]}"))


def param_slider(page: str, loss: str, p: Param, named: bool = False):
    """A slider for one loss parameter (its label starts with the loss's name when named);
    angular margins also show their value in degrees. A choice of variant gets a select box."""
    if p.choices:
        return param_choice(page, loss, p, named)
    widget_key = key(page, f"{loss}.{p.name}")
    number_format = "%d" if p.integer else ("%.2f" if p.step < 0.1 else "%.1f")
    label = param_label(loss, p)
    if named:  # side by side, without an expander to say whose: "ArcFace: m (rad)"
        label = f"{loss_title(loss)}: " + (t("ui.param.radians", label=p.name)
                                           if p.unit == "rad" else p.name)
    current = st.slider(label, p.low, p.ui_high, step=p.step, key=widget_key,
                        help=t(f"losses.{loss}.params.{p.name}.help"), format=number_format)
    if p.unit == "rad" and not named:
        st.caption(t("ui.param.in_degrees", name=p.name, value=current,
                     degrees=math.degrees(current)))
    return current


def loss_params(page: str, loss: str, skip: tuple[str, ...] = (), named: bool = False) -> dict:
    """Sliders for the parameters of a loss (those named in skip left out; labels starting
    with the loss's name when named); returns their values by parameter name."""
    return {p.name: param_slider(page, loss, p, named) for p in LOSSES[loss].params
            if p.name not in skip}


def formula(latex: str) -> None:
    """A display formula whose parts (split at its top-level \\qquad) sit side by side and
    wrap onto lines of their own where the screen is too narrow: on a phone one long line
    was cut off at the right edge and had to be scrolled sideways."""
    parts = [part.strip() for part in latex.split(r"\qquad")]
    if len(parts) == 1:
        st.latex(latex)
        return
    with st.container(horizontal=True, gap="medium", horizontal_alignment="center"):
        for part in parts:
            st.latex(part, width="content")


def loss_title(name: str) -> str:
    """A loss's name in the reader's language."""
    return t(f"losses.{name}.title")


def formatter(key_of):
    """A format_func that shows each option as the text under key_of(option), bound to the
    reader's language now: AppTest calls a widget's format_func after the script run, when the
    session's language is out of reach, and would otherwise format in English."""
    lang = language()
    return lambda option: text(key_of(option), lang)


def loss_titles():
    """A format_func for a choice of losses: their names in the reader's language."""
    return formatter(lambda name: f"losses.{name}.title")


def loss_short(name: str) -> str:
    """A loss's short name, for labels written on a figure (CosFace, not CosFace (AM-Softmax))."""
    return t(f"losses.{name}.short")


def loss_paper(name: str) -> str:
    """The paper a loss comes from: titles and authors as published, the rest translated."""
    return t(f"losses.{name}.paper")


def shared_dataset(source: str, folder: str | None):
    """The data set a visitor chose, one read-only copy per server shared by every browser
    session, or the bundled digits with Messages saying why. Only folders the operator
    allows are opened (lossviz.data.visitor_folder)."""
    from lossviz.data import DataError, fell_back, visitor_folder
    # the spinner in the reader's language (a cache's own show_spinner text is fixed when the
    # module loads); st.spinner shows nothing when the data is cached and comes back at once
    with st.spinner(t("notices.loading_digits")):
        bundled, note = _bundled_digits()
        notes = [note] if note else []
        if source == "bundled":
            return bundled, notes
        try:
            return _idx_dataset(source, visitor_folder(folder)), []
        except DataError as err:
            return bundled, [fell_back(err), *notes]


@st.cache_resource(show_spinner=False)
def _bundled_digits():
    from lossviz.data import load_bundled_noted
    return load_bundled_noted()


# Bounded: each allowed folder a visitor names is a data set in memory. A DataError raised
# here is not cached, so files added to a folder later are found at the next try.
@st.cache_resource(show_spinner=False, max_entries=8)
def _idx_dataset(source: str, folder: Path | None):
    from lossviz.data import load_chosen
    return load_chosen(source, folder)


@st.cache_resource
def run_cache():
    """Comparison runs, each distinct configuration trained once per server."""
    from lossviz.compare import RunCache
    return RunCache()


def image_downloads(label: str, make_image, file_stem: str, key_prefix: str):
    """PNG and SVG download buttons side by side; make_image(fmt) runs only on a click."""
    with st.container(horizontal=True, vertical_alignment="center"):
        st.caption(t("ui.download.caption", label=label), width="content")
        for fmt, mime in (("png", "image/png"), ("svg", "image/svg+xml")):
            st.download_button(fmt.upper(), data=lambda fmt=fmt: make_image(fmt),
                               file_name=f"{file_stem}.{fmt}", mime=mime,
                               key=f"{key_prefix}-{fmt}", icon=":material/download:",
                               help=t("ui.download.help", label=label, fmt=fmt.upper()))

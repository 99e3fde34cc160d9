"""Live runs as pages hold them: the server's registry, and the run id a session works on.

A session keeps only the run id (in session state and in the URL as ?run=, so a reload or a
closed and reopened tab finds the same run); the registry keeps the run itself for as long as
someone looks at it, and keep_for seconds (an hour) after the last look, until the server
restarts. A watch link (?watch=CODE) shows someone else's run, read-only.
"""
from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from urllib.parse import urlsplit

import streamlit as st

from lossviz.compare import Comparison
from lossviz.figures.style import View
from lossviz.figures.training import playground_figures
from lossviz.i18n import Message
from lossviz.live import LiveRun
from lossviz.registry import Registry
from lossviz.snapshot import Snapshot
from lossviz.ui import key, run_cache


# A page showing a live run asks for news twice a second, and each time waits (up to
# NEWS_WAIT seconds) for the next snapshot: it then draws each snapshot once, as it comes,
# rather than at a fixed phase that sees some twice and skips others (the training process
# publishes about every 0.4 s, see lossviz.worker). The wait also bounds how long a click
# waits for the refresh in progress to end.
REFRESH_SECONDS, NEWS_WAIT = 0.5, 0.45
_FIGURES_KEPT = 32


@st.cache_resource
def registry() -> Registry:
    """One per server: every session's runs, the training process and its slots."""
    return Registry()


def viewer_id() -> str:
    """This browser session, as a run's watcher list knows it."""
    return st.session_state.setdefault("_viewer", secrets.token_hex(8))


def own_run(run_key: str, dataset, new_config) -> tuple[LiveRun, bool, Message | None]:
    """The run this session works on: the one under run_key (set from ?run= or kept from the
    last rerun), else a new one with new_config(). Returns it, whether it was just attached
    (its settings are not on the sidebar yet), and a note for the page when the id asked for
    is not (or no longer) on this server, or the data set changed."""
    runs = registry()
    runs.warm()  # the training process starts while the student reads the page
    wanted = st.session_state.get(run_key) or ""
    attached = st.session_state.get(f"{run_key}-attached")
    run, note = (runs.get(wanted) if wanted else None), None
    if wanted and run is None:
        note = Message("runs.unknown_run", {"run": wanted, "hours": runs.keep_for / 3600})
    elif run is not None and run.dataset is not dataset:
        run = None  # another data set needs another model
    if run is None:
        run = runs.create(new_config(), dataset)
    st.session_state[run_key] = st.session_state[f"{run_key}-attached"] = run.id
    return run, run.id != attached, note


def copy_into_own(run_key: str, watched: LiveRun) -> LiveRun:
    """A new run of this session's own, from the watched run as it is now (weights, optimizer,
    data order, curves so far)."""
    copy = registry().adopt(watched.current_run(), watched.dataset,
                            history_from=watched.snapshot())
    st.session_state[run_key] = copy.id
    return copy


def watch_link(code: str, lang: str) -> str:
    """The address that shows this run to others: this page, ?watch=CODE (and the language)."""
    base = st.context.url or ""
    if urlsplit(base).path in ("", "/"):
        base = base.rstrip("/") + "/"
    return f"{base}?watch={code}" + (f"&lang={lang}" if lang != "en" else "")



@st.cache_resource
def _figure_cache() -> tuple[threading.Lock, OrderedDict]:
    return threading.Lock(), OrderedDict()


def shared_figures(snap, class_names, previous_limit: float | None,
                   view: View = View()) -> tuple[dict, float | None]:
    """playground_figures(), built once per snapshot and view (language, presentation) for
    every session that shows it (the owner, a class of watchers, the owner's next refreshes).
    Snapshots are immutable, so the figures never go stale; the last few are kept."""
    lock, entries = _figure_cache()
    key = (id(snap), previous_limit, tuple(class_names), view)
    with lock:
        hit = entries.get(key)
        if hit is not None and hit[0] is snap:
            entries.move_to_end(key)
            return hit[1], hit[2]
    figures, limit = playground_figures(snap, class_names, previous_limit, view)
    with lock:
        entries[key] = (snap, figures, limit)  # the snapshot is held: its id is not reused
        while len(entries) > _FIGURES_KEPT:
            entries.popitem(last=False)
    return figures, limit


def news(run: LiveRun, watcher: str | None) -> Snapshot:
    """The next snapshot this session has not drawn yet (waiting NEWS_WAIT seconds at most)."""
    drawn_key = f"_drawn-{run.id}"
    drawn = st.session_state.get(drawn_key)
    snap = run.next_snapshot(drawn, NEWS_WAIT, watcher) if drawn is not None else \
        run.snapshot(watcher)
    st.session_state[drawn_key] = snap
    return snap


def start_comparison(page: str, configs: dict, dataset):
    """Train configs (label -> TrainConfig) one after another in the server's training process,
    through the cache that trains each distinct run once; one job per page and session (a new
    one cancels the last). The page polls session_state["<page>:polling"]."""
    cancel_comparison(page)
    runs = registry()
    job = Comparison(configs, dataset, run_cache(), runs.fit)
    runs.cancel_when_unwatched(job)
    st.session_state[key(page, "job")] = job
    st.session_state[key(page, "polling")] = True


def cancel_comparison(page: str):
    """Cancel this page's job, if it has one (its finished runs are kept)."""
    job = st.session_state.get(key(page, "job"))
    if job is not None:
        job.cancel()

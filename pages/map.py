"""Choosing s and m: a grid of short runs over two parameters of one loss, coloured by test
accuracy (or, in open set, by the unseen classes' TAR at FAR 1%), with the margin's feasibility
limit drawn on it."""
import streamlit as st

from lossviz import ui
from lossviz.figures.smap import map_figure, metric_text
from lossviz.i18n import LossvizError, Message
from lossviz.losses import LOSSES
from lossviz.smap import (CLASSES, COLOUR_METRICS, EPOCHS, MAP_LOSSES, SIZE, MapGrid,
                          default_axes, default_range, has_feasibility, how_made,
                          infeasible_cells, map_from_results, map_params, ready_map, spaced)
from lossviz.train import OPEN_SET_HELD_OUT
from lossviz.ui import runs as live_runs
from lossviz.urlstate import Field

PAGE = "map"
AXES = ("across", "up")
PARAM_NAMES = tuple(dict.fromkeys(name for loss in MAP_LOSSES for name in map_params(loss)))
WIDEST = max(p.ui_high for loss in MAP_LOSSES for p in LOSSES[loss].params)
FIELDS = [
    Field("loss", "arcface", "choice", choices=MAP_LOSSES),
    Field("dim", 2, "int", 2, 3),
    Field("open_set", False, "bool"),
    # open set only (a closed-set map has accuracy alone); there, what the reader turned it on
    # for, unless they choose accuracy
    Field("colour", "tar", "choice", choices=COLOUR_METRICS),
    Field("across", "m", "choice", choices=PARAM_NAMES),
    Field("up", "s", "choice", choices=PARAM_NAMES),
    # an axis's range; None: the default range of this loss, parameter and dimension
    *[Field(f"{axis}_{end}", None, "float", 0.0, WIDEST) for axis in AXES
      for end in ("from", "to")],
    Field("size", SIZE, "int", 2, 8),
    Field("epochs", EPOCHS, "int", 1, 30),
    Field("seed", 0, "int", 0, 1_000_000),
]


def reset_ranges():
    """Another loss, dimension, parameter or size: each axis back to its default range."""
    for axis in AXES:
        for end in ("from", "to"):
            st.session_state[ui.key(PAGE, f"{axis}_{end}")] = None


def keep_range(axis: str):
    """The range slider moved: what it says is the axis's range (and goes into the URL)."""
    low, high = st.session_state[ui.key(PAGE, f"{axis}_range")]
    st.session_state[ui.key(PAGE, f"{axis}_from")] = low
    st.session_state[ui.key(PAGE, f"{axis}_to")] = high


def chosen_axes(loss: str) -> tuple[str, str]:
    """The two parameters, each one of this loss's and not the same twice."""
    names, (across, up) = map_params(loss), default_axes(loss)
    if ui.value(PAGE, "across") not in names:
        st.session_state[ui.key(PAGE, "across")] = across
    if ui.value(PAGE, "up") not in names or ui.value(PAGE, "up") == ui.value(PAGE, "across"):
        st.session_state[ui.key(PAGE, "up")] = next(n for n in (up, *names)
                                                    if n != ui.value(PAGE, "across"))
    format_name = ui.formatter(lambda name: f"losses.{loss}.params.{name}.label")
    chosen = [st.selectbox(ui.t(f"map.controls.{axis}"), names, key=ui.key(PAGE, axis),
                           format_func=format_name, on_change=axis_chosen, args=(axis, names))
              for axis in AXES]
    return chosen[0], chosen[1]


def axis_chosen(axis: str, names: list[str]):
    """The reader's latest choice stays: the other axis moves off it if they were the same."""
    other = AXES[1 - AXES.index(axis)]
    if ui.value(PAGE, other) == ui.value(PAGE, axis):
        st.session_state[ui.key(PAGE, other)] = next(n for n in names
                                                     if n != ui.value(PAGE, axis))
    reset_ranges()


def axis_bounds(axis: str, loss: str, param: str, dim: int, size: int,
                classes: int) -> tuple[float, float]:
    """The axis's range as set (None: the default), kept inside the parameter's range; a
    value from a link outside it is clamped with the usual warning."""
    spec = LOSSES[loss].param(param)
    low, high = (ui.value(PAGE, f"{axis}_{end}") for end in ("from", "to"))
    default = default_range(loss, param, dim, size, classes)
    wanted = (default[0] if low is None else low, default[1] if high is None else high)
    number = int if spec.integer else float  # the slider's type: its bounds' and values' own
    bounded = tuple(sorted(number(min(max(v, spec.low), spec.ui_high)) for v in wanted))
    if bounded[0] == bounded[1]:
        bounded = tuple(number(v) for v in default)  # one value is no axis
    for end, asked, used in zip(("from", "to"), wanted, bounded, strict=True):
        if asked != used:  # only a link can ask for it: the slider stays inside
            ui.show_link_warning(Message("app.link.outside", dict(
                name=f"{axis}_{end}", text=f"{asked:g}", low=f"{spec.low:g}",
                high=f"{spec.ui_high:g}", used=f"{used:g}")))
    st.session_state[ui.key(PAGE, f"{axis}_range")] = bounded
    keep_range(axis)
    return bounded


def axis_values(axis: str, loss: str, param: str, size: int) -> tuple[float, ...]:
    """A range slider over the parameter's registry range; the values spaced along it."""
    spec = LOSSES[loss].param(param)
    number = int if spec.integer else float
    low, high = st.slider(ui.t("map.controls.range", param=ui.param_label(loss, spec)),
                          number(spec.low), number(spec.ui_high), step=number(spec.step),
                          key=ui.key(PAGE, f"{axis}_range"), on_change=keep_range, args=(axis,))
    values = spaced(loss, param, low, high, size)
    st.caption(ui.t("map.controls.values", values=", ".join(f"{v:g}" for v in values)))
    return values


def chosen_grid(controls, notes) -> tuple[MapGrid, str]:
    """The map the controls describe and the metric to colour it by; a link's values that were
    clamped are said in notes."""
    with controls:  # presenting: these in a row above the map, the rest hidden
        loss = st.selectbox(ui.t("map.controls.loss"), list(MAP_LOSSES),
                            key=ui.key(PAGE, "loss"), format_func=ui.loss_titles(),
                            on_change=reset_ranges)
        dim = st.radio(ui.t("compare.controls.dim"), (2, 3), key=ui.key(PAGE, "dim"),
                       horizontal=True, format_func=lambda d: f"{d}D", on_change=reset_ranges)
    with st.sidebar:  # presenting: kept, hidden; the row has room for what colours the map only
        # the margin axis's default range follows the classes trained on: reset it too
        held_out = OPEN_SET_HELD_OUT if st.toggle(
            ui.t("map.controls.open_set"), key=ui.key(PAGE, "open_set"),
            help=ui.t("map.controls.open_set_help"), on_change=reset_ranges) else 0
    with controls:
        metric = colour_metric(held_out > 0)
    with st.sidebar:
        params = chosen_axes(loss)
        size = st.slider(ui.t("map.controls.size"), 2, 8, key=ui.key(PAGE, "size"),
                         on_change=reset_ranges)
        with notes:
            for axis, param in zip(AXES, params, strict=True):
                axis_bounds(axis, loss, param, dim, size, CLASSES - held_out)
        values = tuple(axis_values(axis, loss, param, size)
                       for axis, param in zip(AXES, params, strict=True))
        epochs = st.number_input(ui.t("compare.controls.epochs"), 1, 30,
                                 key=ui.key(PAGE, "epochs"))
        seed = st.number_input(ui.t("compare.controls.seed"), 0, 1_000_000,
                               key=ui.key(PAGE, "seed"))
    return MapGrid(loss, dim, params, values, epochs, seed, held_out), metric


def colour_metric(open_set: bool) -> str:
    """What colours the map: test accuracy, or in open set the reader's choice of it and the
    unseen classes' TAR (a closed-set map has nothing else to offer: no control)."""
    if not open_set:
        return "accuracy"
    return st.radio(ui.t("map.controls.colour"), COLOUR_METRICS, key=ui.key(PAGE, "colour"),
                    horizontal=True,
                    format_func=lambda metric: ui.t(f"{metric_text(metric, True)}.choice"))


def train_map(grid: MapGrid, dataset):
    """Train the map's runs through the server's training slots and Compare's run cache."""
    st.session_state[ui.key(PAGE, "grid")] = grid
    live_runs.start_comparison(PAGE, grid.configs(), dataset)


def train_or_cancel(job, grid: MapGrid, dataset):
    if job is not None and not job.done:
        st.button(ui.t("map.controls.cancel"), icon=":material/stop:", width="content",
                  on_click=live_runs.cancel_comparison, args=(PAGE,), key=ui.key(PAGE, "cancel"))
    else:
        rows, columns = grid.shape
        st.button(ui.t("map.controls.train", runs=rows * columns), type="primary",
                  icon=":material/play_arrow:", on_click=train_map, args=(grid, dataset),
                  key=ui.key(PAGE, "train"), width="content")


def draw_map(amap, metric: str):
    grid = amap.grid
    st.plotly_chart(map_figure(amap, infeasible_cells(grid), metric, ui.view()),
                    key=ui.key(PAGE, "figure"), **ui.chart_options())
    if not ui.presenting():
        st.caption(ui.t("map.reading", metric=ui.t(f"{metric_text(metric, grid.open_set)}.name"),
                        epochs=grid.epochs, classes=grid.classes, dim=grid.dim))
        if not has_feasibility(grid.loss):
            st.caption(ui.t("map.no_limit", loss=ui.loss_title(grid.loss)))
        if grid.open_set:  # what the TAR means, and why 2D has little to show
            st.caption(ui.t("map.tar_meaning"))
            st.caption(ui.t("verification.ui.dim_note"))


def live_view(job, grid: MapGrid, metric: str):
    polling = st.session_state.get(ui.key(PAGE, "polling"), False)

    @st.fragment(run_every=1.0 if polling else None)
    def refresh():
        progress = job.progress()
        text = ui.t("compare.progress.done", finished=len(progress.results),
                    total=progress.total)
        if progress.waiting:
            text += ui.t("compare.progress.waiting")
        elif progress.current:
            text += ui.t("compare.progress.training", name=progress.current,
                         epoch=progress.epoch, epochs=grid.epochs)
        st.progress(len(progress.results) / progress.total, text=text)
        if progress.cancelled:
            st.info(ui.t("map.cancelled"))
        elif progress.error:
            stopped = grid.label(*grid.cells()[len(progress.results)])
            st.error(ui.t("notices.compare_failed", run=stopped, reason=progress.error,
                          button=ui.t("map.controls.train", runs=progress.total)))
        draw_map(map_from_results(grid, progress.results), metric)
        if progress.done and polling:
            st.session_state[ui.key(PAGE, "polling")] = False
            st.rerun()  # one full rerun: the page stops polling and shows Train again

    refresh()


def ready_or_none(grid: MapGrid):
    """The shipped map of these settings and what to say of it (made ahead of time, and how),
    or no map and what to press instead; a damaged file is said as a warning."""
    try:
        amap = ready_map(grid)
    except LossvizError as err:
        st.warning(ui.say(err.message), icon="⚠️")
        amap = None
    if amap is None:
        rows, columns = grid.shape
        return None, ui.t("map.none", runs=rows * columns, epochs=grid.epochs)
    return amap, f"{ui.say(how_made(amap))} {ui.t('map.ready.help')}"


def map_page():
    ui.open_page(PAGE, FIELDS, ui.t("map.title"), ui.t("map.intro"))
    notes, controls = st.container(), ui.controls()
    grid, metric = chosen_grid(controls, notes)
    dataset, _ = ui.shared_dataset("bundled", None)
    job = st.session_state.get(ui.key(PAGE, "job"))
    live = job is not None and st.session_state.get(ui.key(PAGE, "grid")) == grid
    amap, note = (None, None) if live else ready_or_none(grid)
    if ui.presenting():  # the button in the row of controls, one line of words: the map first
        with controls:
            train_or_cancel(job, grid, dataset)
        if note:
            st.caption(note)
    else:
        with st.container(horizontal=True, vertical_alignment="center"):
            if note:
                st.info(note, icon=":material/history:" if amap else ":material/grid_on:",
                        width="stretch")
            train_or_cancel(job, grid, dataset)
    if live:
        live_view(job, grid, metric)
    elif amap is not None:
        draw_map(amap, metric)
    ui.write_url(PAGE, FIELDS)


map_page()

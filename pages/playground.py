"""Playground: a tiny network learns digits live while its features gather on the circle or sphere."""
import math
import os

import numpy as np
import streamlit as st

from lossviz import ui
from lossviz.data import DATA_ENV, FOLDERS_ENV, SOURCES
from lossviz.checkpoint import MAX_BYTES, CheckpointError, load_checkpoint
from lossviz.degrade import as_evaluated
from lossviz.export import (history_csv, snapshot_angles_image, snapshot_curves_image,
                            snapshot_features_image, snapshot_gif)
from lossviz.figures.training import picked_test_index
from lossviz.i18n import Message
from lossviz.live import LiveRun
from lossviz.losses import LOSSES
from lossviz.margins import feasibility
from lossviz.replay import replay_of_snapshot
from lossviz.settings import PARAMS, edited, settings_of, within
from lossviz.snapshot import PAUSED, WAITING
from lossviz.train import (DEVICES, OPTIMIZERS, RULES, TrainConfig, needs_reset,
                           resolve_device, settled_params, subcenter_note, trained_classes)
from lossviz.ui import runs as live_runs
from lossviz.ui.digit_panel import DigitPanel
from lossviz.ui.replay import show_ready_replay, show_replay
from lossviz.ui.running_value import show_running_value
from lossviz.urlstate import Field, loss_param_fields

PAGE = "playground"
FIELDS = [
    Field("loss", "arcface", "choice", choices=tuple(LOSSES)),
    Field("dim", 2, "int", 2, 3),
    Field("lr", 0.003, "float", 0.0001, 1.0),
    Field("optimizer", "adam", "choice", choices=OPTIMIZERS),
    Field("seed", 0, "int", 0, 2**32 - 1),
    Field("warmup", 0, "int", 0, 100_000),
    Field("epochs", 30, "int", 1, 1000),
    Field("lambda_min", 5.0, "float", 0.0, 1000.0),
    Field("lambda_base", 1000.0, "float", 0.0, 1000.0),
    Field("device", "auto", "choice", choices=DEVICES),
    Field("data", "bundled", "choice", choices=SOURCES),
    Field("label_noise", 0.0, "float", *RULES["label_noise"].bounds),
    Field("degrade", 0.0, "float", *RULES["degrade"].bounds),
    Field("held_out", 0, "int", *RULES["held_out_classes"].bounds),
    *loss_param_fields(preset="2d"),
    Field("run", "", "id"),  # this session's run in the server's registry
    Field("watch", "", "id"),  # someone else's run, watched read-only
]
RANGES = {f.name: (f.low, f.high) for f in FIELDS}
# widget -> TrainConfig field: read to edit the run's config, written back when a run attaches
CONFIG_WIDGETS = {"loss": "loss", "dim": "dim", "lr": "lr", "optimizer": "optimizer",
                  "seed": "seed", "warmup": "warmup_steps", "epochs": "epochs",
                  "lambda_min": "lambda_min", "lambda_base": "lambda_base", "device": "device",
                  "label_noise": "label_noise", "degrade": "degrade",
                  "held_out": "held_out_classes"}


def load_preset(loss: str, dim: int):
    for name, value in LOSSES[loss].presets.get(f"{dim}d", {}).items():
        st.session_state[ui.key(PAGE, f"{loss}.{name}")] = value


def data_controls():
    with st.sidebar.expander(ui.t("messages.data.box.title"), expanded=False):
        source = st.selectbox(ui.t("messages.data.box.source"), SOURCES, key=ui.key(PAGE, "data"),
                              format_func=ui.formatter(lambda name: f"messages.data.box.{name}"))
        folder = st.text_input(ui.t("messages.data.box.folder"),
                               value=os.environ.get(DATA_ENV, ""), key=ui.key(PAGE, "folder"),
                               disabled=source == "bundled",
                               help=ui.t("messages.data.box.folder_help", data=DATA_ENV,
                                         more=FOLDERS_ENV))
    dataset, warnings = ui.shared_dataset(source, folder)
    for warning in warnings:
        st.warning(ui.say(warning), icon="⚠️")
    return dataset


def loss_controls() -> str:
    """The loss and its margins: what a class needs to see changed (in presentation mode,
    beside the figure)."""
    loss = st.selectbox(ui.t("playground.controls.loss"), list(LOSSES), key=ui.key(PAGE, "loss"),
                        format_func=ui.loss_titles())
    for p in LOSSES[loss].params:
        if p.name != "lam":
            ui.param_slider(PAGE, loss, p)
    if "lam" in {p.name for p in LOSSES[loss].params}:
        number_setting(ui.t("playground.controls.lambda_min"), "lambda_min", step=1.0)
        number_setting(ui.t("variants.lambda_start"), "lambda_base", step=1.0,
                       help=ui.t("variants.lambda_start_help"))
    return loss


def number_setting(label: str, name: str, **options):
    """A number input whose range is its Field's: each setting's range is defined once."""
    low, high = RANGES[name]
    return st.number_input(label, low, high, key=ui.key(PAGE, name), **options)


def config_controls(loss: str):
    """Everything else: in the sidebar (hidden, but still drawn, while presenting)."""
    with st.sidebar:
        dim = st.radio(ui.t("playground.controls.dim"), (2, 3), key=ui.key(PAGE, "dim"),
                       horizontal=True, format_func=lambda d: f"{d}D")
        st.button(ui.t("playground.controls.preset"), on_click=load_preset, args=(loss, dim),
                  key=ui.key(PAGE, "preset"))
        st.slider(ui.t("subcenter.noise.label"), *RANGES["label_noise"], step=0.05,
                  key=ui.key(PAGE, "label_noise"), help=ui.t("subcenter.noise.help"))
        st.slider(ui.t("quality.degrade.label"), *RANGES["degrade"], step=0.05,
                  key=ui.key(PAGE, "degrade"), help=ui.t("quality.degrade.help"))
        number_setting(ui.t("playground.open_set.label"), "held_out",
                       help=ui.t("playground.open_set.help"))
        with st.expander(ui.t("playground.controls.training"), expanded=False):
            number_setting(ui.t("playground.controls.lr"), "lr", step=0.0005, format="%.4f")
            st.selectbox(ui.t("playground.controls.optimizer"), OPTIMIZERS,
                         key=ui.key(PAGE, "optimizer"),
                         format_func=ui.formatter(lambda name: f"playground.controls.{name}"))
            number_setting(ui.t("playground.controls.epochs"), "epochs")
            number_setting(ui.t("playground.controls.warmup"), "warmup", step=50)
            number_setting(ui.t("playground.controls.seed"), "seed")
            st.selectbox(ui.t("playground.controls.device"), DEVICES, key=ui.key(PAGE, "device"),
                         format_func=ui.formatter(
                             lambda name: f"playground.controls.devices.{name}"))


def usable_device() -> str:
    """The chosen device, or the CPU where this machine does not have it (see device_note)."""
    try:
        resolve_device(ui.value(PAGE, "device"))
        return ui.value(PAGE, "device")
    except ValueError:
        return "cpu"


def device_note():
    device = ui.value(PAGE, "device")
    if usable_device() != device:
        st.sidebar.error(ui.t("playground.controls.no_device", device=device))


def sidebar_settings() -> dict:
    """What the sidebar shows, named as TrainConfig fields ("params.m" for a parameter)."""
    values = {field: ui.value(PAGE, widget) for widget, field in CONFIG_WIDGETS.items()}
    values["device"] = usable_device()
    loss = values["loss"]
    values.update({PARAMS + p.name: ui.value(PAGE, f"{loss}.{p.name}")
                   for p in LOSSES[loss].params if p.name != "lam"})
    return values


def show_settings(config: TrainConfig):
    """Set the sidebar to a run's settings (a run attached, a checkpoint loaded), so that the
    next rerun edits that run rather than replacing it. What the sidebar cannot show within
    its ranges stays in the run as it is, and the page says so."""
    widgets = {field: widget for widget, field in CONFIG_WIDGETS.items()}
    values = settings_of(config, tuple(widgets))
    names = {name: widgets.get(name) or f"{config.loss}.{name.removeprefix(PARAMS)}"
             for name in values}
    shown, clamped = within(values, {name: RANGES.get(names[name], (None, None))
                                     for name in values})
    for name, value in shown.items():
        st.session_state[ui.key(PAGE, names[name])] = value
    st.session_state[ui.key(PAGE, "shown")] = sidebar_settings()
    st.session_state[ui.key(PAGE, "unshown")] = clamped


def unshown_note():
    clamped = st.session_state.get(ui.key(PAGE, "unshown"))
    if clamped:
        st.sidebar.info(ui.t("runs.unshown", settings=", ".join(
            f"{name.removeprefix(PARAMS)} = {value:g}" for name, (value, _) in clamped.items())))


def session_run(dataset) -> LiveRun:
    """This session's run: the one in the URL or kept from the last rerun, else a new one."""
    run, attached, note = live_runs.own_run(ui.key(PAGE, "run"), dataset,
                                            lambda: edited(TrainConfig(), {}, sidebar_settings()))
    if note is not None:
        st.warning(ui.say(note), icon="⚠️")
    if attached:
        show_settings(run.config)
    return run


def apply_sidebar(run: LiveRun) -> TrainConfig:
    """The sidebar edits the run's own config (what it changed since the last rerun); a change
    the model cannot take (dimension, seed, device) starts a new run."""
    now = sidebar_settings()
    before = st.session_state.get(ui.key(PAGE, "shown"), now)
    config = edited(run.config, before, now)
    st.session_state[ui.key(PAGE, "shown")] = now
    unshown = st.session_state.get(ui.key(PAGE, "unshown")) or {}
    st.session_state[ui.key(PAGE, "unshown")] = {  # a setting moved is the sidebar's again
        name: value for name, value in unshown.items() if before.get(name) == now.get(name)}
    if needs_reset(run.config, config):
        run.reset(config)
    elif run.config != config:
        run.update(config)
    return config


def feasibility_note(config: TrainConfig, dataset):
    classes = trained_classes(config, dataset)
    result = feasibility(config.loss, settled_params(config), classes, config.dim)
    if not result.feasible:
        st.warning(ui.t("playground.feasibility.impossible", classes=classes, dim=config.dim),
                   icon="⚠️")
    elif result.tight:
        st.warning(ui.t("playground.feasibility.tight", dim=config.dim,
                        halfwidth=math.degrees(result.halfwidth)), icon="⚠️")


def start_pause(run: LiveRun, where=st):
    if run.wants_to_run:
        where.button(ui.t("playground.controls.pause"), icon=":material/pause:",
                     on_click=run.pause, key=ui.key(PAGE, "pause"), width="stretch")
    else:
        where.button(ui.t("playground.controls.start"), icon=":material/play_arrow:",
                     on_click=run.start, key=ui.key(PAGE, "start"), type="primary",
                     width="stretch")


def control_buttons(run: LiveRun):
    start, step, reset = st.columns(3)
    start_pause(run, start)
    step.button(ui.t("playground.controls.step"), icon=":material/skip_next:",
                on_click=run.step_while_training if run.wants_to_run else run.step,
                key=ui.key(PAGE, "step"), width="stretch")
    reset.button(ui.t("playground.controls.reset"), icon=":material/restart_alt:",
                 on_click=lambda: run.reset(run.config), key=ui.key(PAGE, "reset"),
                 width="stretch")


def share_link(run: LiveRun):
    """The watch link for a class: it shows this run live, read-only."""
    with st.expander(ui.t("runs.share.title", watchers=run.watchers), icon=":material/groups:"):
        st.caption(ui.t("runs.share.help"))
        st.code(live_runs.watch_link(run.watch_code, ui.language()), language=None)


def progress_line(snap):
    planned = snap.config.epochs
    lam = snap.params.get("lam")
    text = ui.t("playground.progress.line", epoch=snap.epoch, planned=planned, step=snap.step,
                speed=snap.samples_per_s, lr=snap.learning_rate) + (
        ui.t("playground.progress.lambda", lam=lam) if lam is not None else "")
    st.progress(min(1.0, snap.epoch / planned), text=text)
    # one slot whether or not there is a message: an element that comes and goes above the
    # canvas would shift its place in the page, and Streamlit would remount it mid-stroke
    with st.container():
        if snap.message:
            (st.info if snap.status in (PAUSED, WAITING) else st.warning)(ui.say(snap.message))


def evaluation_metrics(snap, class_names):
    """How well the run does now, and, in 2D, why a normalized loss ends below Softmax."""
    ev = snap.evaluation
    columns = st.columns(4)
    columns[0].metric(ui.t("playground.metrics.accuracy"), f"{ev.accuracy:.1%}")
    columns[1].metric(ui.t("playground.metrics.loss"), f"{ev.loss:.3f}")
    columns[2].metric(ui.t("playground.metrics.own_angle"), f"{ev.mean_own_angle:.1f}°")
    columns[3].metric(ui.t("playground.metrics.closest"), f"{ev.min_weight_angle:.1f}°")
    note = LOSSES[snap.config.loss].note_2d
    # its numbers are from runs on all 10 classes: they say nothing of an open set
    if snap.config.dim == 2 and note is not None and not snap.config.held_out_classes:
        st.caption(ui.say(note))
    if ev.off_dominant is not None:
        st.caption(ui.say(subcenter_note(ev.off_dominant, snap.config.label_noise)))
    if LOSSES[snap.config.loss].norm_margin:
        quality_note(snap.config.loss, ev.quality_norms)
    if snap.config.held_out_classes:
        open_set_note(snap, class_names)


def open_set_note(snap, class_names):
    """In an open set: how well pairs of the never-seen classes' digits are told apart by the
    cosine of their features, beside the same for the trained classes' test digits."""
    unseen = ", ".join(class_names[-snap.config.held_out_classes:])
    found = snap.evaluation.verification
    if found is None:  # none of the evaluated digits is of a held-out class
        st.caption(ui.t("playground.open_set.no_pairs", unseen=unseen))
        return
    st.caption(ui.t("playground.open_set.numbers", unseen=unseen, pairs=found.unseen.pairs,
                    tar=found.unseen.tar[0.01], eer=found.unseen.eer,
                    seen_tar=found.seen.tar[0.01], seen_eer=found.seen.eer))
    if snap.config.dim == 2:
        st.caption(ui.t("verification.ui.dim_note"))


def quality_note(loss: str, norms):
    """What else MagFace or AdaFace changes, and the norms of clean and degraded test digits
    (what both read as image quality), or where to degrade some."""
    st.caption(ui.t(f"quality.explain.{loss}"))
    if norms is None:
        st.caption(ui.t("quality.norms.hint"))
        return
    clean, degraded = norms
    st.caption(ui.t("quality.norms.caption", clean=clean, degraded=degraded,
                    ratio=degraded / clean if clean > 0 else float("nan")))


def snapshot_figures(snap, class_names) -> dict:
    """The page refreshes more often than the run publishes: build figures once per snapshot
    (and once per server for everyone watching the same run), so the CPU goes to training."""
    limit_key = ui.key(PAGE, f"limit-{snap.generation}")
    figures, st.session_state[limit_key] = live_runs.shared_figures(
        snap, class_names, st.session_state.get(limit_key), ui.view())
    return figures


def feature_view(figures: tuple, snap, run: LiveRun) -> DigitPanel:
    """The features (a click picks a digit) and the picked digit beside them; returns the
    panel that takes the picked or drawn digit apart. In 2D the raw features and the circle
    are two charts in two columns: a phone stacks them, each as wide as the screen."""
    dataset = as_evaluated(run.dataset, snap.config.degrade, snap.config.seed)
    digits = DigitPanel(PAGE, (snap.generation, snap.step), run.checkpoint, dataset,
                        snap.config.loss, snap.params)
    charts = digits.on_charts(figures)
    *chart_columns, digit = st.columns([4 / len(charts)] * len(charts) + [1])
    events = [column.plotly_chart(chart, key=ui.key(PAGE, name), on_select="rerun",
                                  selection_mode="points", **ui.chart_options())
              for column, chart, name in zip(chart_columns, charts, ("features", "circle"))]
    with digit:
        show_selected_digit(events, snap.evaluation, dataset)
    return digits


def show_selected_digit(events, ev, dataset):
    points = [point for event in events for point in (event or {}).get("selection", {}).get(
        "points", [])]
    for point in points:
        if (index := picked_test_index(point)) is not None:
            st.session_state[ui.key(PAGE, "picked")] = index
            break
    picked = st.session_state.get(ui.key(PAGE, "picked"))
    if picked is None or not 0 <= picked < len(ev.labels):
        # plotly sends no selection from a 3D chart: there a click cannot pick a digit
        st.caption(ui.t("messages.pick.hint_3d" if ev.features.shape[1] == 3 else
                        "messages.pick.hint"))
        return
    names = dataset.class_names
    st.image(np.kron(dataset.test_images[picked], np.ones((6, 6), dtype=np.uint8)),
             caption=ui.t("messages.pick.caption", index=picked, label=names[ev.labels[picked]],
                          predicted=names[ev.predictions[picked]]))


def live_view(run: LiveRun, watcher: str | None = None):
    """The run's progress and figures, refreshed while it trains (always for a watcher: the
    owner may press Start at any time)."""
    polling = watcher is not None or run.busy

    @st.fragment(run_every=live_runs.REFRESH_SECONDS if polling else None)
    def refresh():
        snap = live_runs.news(run, watcher) if polling else run.snapshot(watcher)
        if watcher is None and polling and not run.busy:
            st.rerun()  # it paused itself (finished, NaN, nobody watching): redraw the buttons
        if not run.is_current(snap):
            st.info(ui.t("runs.new_run"))
            return
        progress_line(snap)
        figures = snapshot_figures(snap, run.dataset.class_names)
        digits = feature_view(figures["features"], snap, run)
        evaluation_metrics(snap, run.dataset.class_names)
        digits.show(st.session_state.get(ui.key(PAGE, "picked")))
        curves, angles = st.columns(2)
        curves.plotly_chart(figures["curves"], key=ui.key(PAGE, "curves"), **ui.chart_options())
        angles.plotly_chart(figures["angles"], key=ui.key(PAGE, "angles"), **ui.chart_options())
        show_running_value(snap, PAGE)

    refresh()


def import_checkpoint(trainer: LiveRun):
    upload = st.session_state.get(ui.key(PAGE, "upload"))
    if upload is None:
        return
    try:
        run = load_checkpoint(upload.getvalue(), trainer.dataset, device=trainer.config.device)
    except CheckpointError as err:
        st.session_state[ui.key(PAGE, "import")] = ("error", Message(
            "messages.checkpoint.refused", {"name": upload.name, "reason": err.message}))
        return
    show_settings(run.config)
    trainer.restore(run)
    st.session_state[ui.key(PAGE, "import")] = ("success", Message(
        "playground.export.loaded", {"name": upload.name, "loss": LOSSES[run.config.loss].title,
                                     "dim": run.config.dim, "step": run.step}))


def export_controls(run: LiveRun):
    # the view now, in the script thread: the files are drawn later, when a button is pressed
    names, view = run.dataset.class_names, ui.view()
    with st.expander(ui.t("playground.export.title"), icon=":material/download:"):
        ui.image_downloads(ui.t("playground.export.features"), lambda fmt: snapshot_features_image(
            run.snapshot(), names, fmt, view), "features", ui.key(PAGE, "features"))
        ui.image_downloads(ui.t("playground.export.curves"),
                           lambda fmt: snapshot_curves_image(run.snapshot(), fmt, view),
                           "curves", ui.key(PAGE, "curves-image"))
        ui.image_downloads(ui.t("playground.export.angles"),
                           lambda fmt: snapshot_angles_image(run.snapshot(), fmt, view),
                           "angles", ui.key(PAGE, "angles-image"))
        row = st.columns(3)
        row[0].download_button(ui.t("playground.export.history"), key=ui.key(PAGE, "history"),
                               data=lambda: history_csv(run.snapshot().history),
                               file_name="history.csv", mime="text/csv")
        row[1].download_button(ui.t("playground.export.checkpoint"),
                               key=ui.key(PAGE, "checkpoint"), data=run.checkpoint,
                               file_name="lossviz-run.pt", mime="application/octet-stream")
        row[2].download_button(ui.t("playground.export.gif"), key=ui.key(PAGE, "gif"),
                               data=lambda: snapshot_gif(run.snapshot(), names, view),
                               file_name="features.gif", mime="image/gif",
                               disabled=not run.snapshot().frames)
        st.file_uploader(ui.t("playground.export.upload"), type=["pt"],
                         max_upload_size=MAX_BYTES // 2**20, key=ui.key(PAGE, "upload"),
                         on_change=import_checkpoint, args=(run,))
        outcome = st.session_state.get(ui.key(PAGE, "import"))
        if outcome:
            (st.error if outcome[0] == "error" else st.success)(ui.say(outcome[1]))


def replays(run: LiveRun, config: TrainConfig):
    """A ready run of this loss and dimension, shown at once (no training), and this run's own
    recorded frames once it is paused: both in the same player, collapsed below the live view."""
    with st.expander(ui.t("ready.actions.load"), icon=":material/history:"):
        show_ready_replay(config.loss, config.dim, key=ui.key(PAGE, "ready"))
    snap = run.snapshot()
    if not run.busy and snap.frames:
        with st.expander(ui.t("ready.actions.replay_own"), icon=":material/replay:"):
            show_replay(replay_of_snapshot(snap, run.dataset.class_names),
                        key=ui.key(PAGE, "replay"))


def take_copy(watched: LiveRun):
    live_runs.copy_into_own(ui.key(PAGE, "run"), watched)
    st.session_state[ui.key(PAGE, "watch")] = ""


def watch_view(code: str):
    """Someone else's run, live and read-only; a copy of it can become this session's own."""
    watched = live_runs.registry().by_watch_code(code)
    if watched is None:
        st.warning(ui.t("runs.watch.unknown", code=code), icon="⚠️")
        st.button(ui.t("runs.watch.own"), on_click=st.session_state.update,
                  args=({ui.key(PAGE, "watch"): ""},), key=ui.key(PAGE, "own"))
        return
    st.info(ui.t("runs.watch.banner"), icon=":material/visibility:")
    st.button(ui.t("runs.watch.copy"), icon=":material/content_copy:", on_click=take_copy,
              args=(watched,), key=ui.key(PAGE, "copy"))
    live_view(watched, watcher=live_runs.viewer_id())


def own_view():
    """At a desk: every control in the sidebar, the buttons above the figures. Presenting: the
    loss, its margins and Start/Pause beside the figures, the rest hidden."""
    dataset = data_controls()
    run = session_run(dataset)
    figure_area, control_area = ui.stage()
    with control_area:
        loss = loss_controls()
    config_controls(loss)
    device_note()
    config = apply_sidebar(run)
    unshown_note()
    with control_area:
        if ui.presenting():
            start_pause(run)
        feasibility_note(config, run.dataset)
    with figure_area:
        if not ui.presenting():
            control_buttons(run)
        live_view(run)
        replays(run, config)
    if not ui.presenting():
        share_link(run)
        export_controls(run)


def playground_page():
    ui.open_page(PAGE, FIELDS, ui.t("playground.title"), ui.t("playground.intro"))
    code = ui.value(PAGE, "watch")
    if code:
        watch_view(code)
    else:
        own_view()
    ui.write_url(PAGE, FIELDS)


playground_page()

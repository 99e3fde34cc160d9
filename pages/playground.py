"""Playground: a tiny network learns digits live while its features gather on the circle or sphere."""
import math
import os

import numpy as np
import streamlit as st

from lossviz import ui
from lossviz.data import DATA_ENV, FOLDERS_ENV, SOURCES
from lossviz.checkpoint import MAX_BYTES, CheckpointError, load_checkpoint
from lossviz.export import (history_csv, snapshot_angles_image, snapshot_curves_image,
                            snapshot_features_image, snapshot_gif)
from lossviz.figures.training import picked_test_index, playground_figures
from lossviz.losses import LOSSES
from lossviz.margins import feasibility
from lossviz.train import (DEVICES, OPTIMIZERS, TrainConfig, needs_reset, resolve_device,
                           settled_params)
from lossviz.trainer import PAUSED, WAITING, Trainer
from lossviz.ui.digit_panel import DigitPanel
from lossviz.urlstate import Field, loss_param_fields

PAGE = "playground"
FIELDS = [
    Field("loss", "arcface", "choice", choices=tuple(LOSSES)),
    Field("dim", 2, "int", 2, 3),
    Field("lr", 0.003, "float", 0.0001, 0.1),
    Field("optimizer", "adam", "choice", choices=OPTIMIZERS),
    Field("seed", 0, "int", 0, 1_000_000),
    Field("warmup", 0, "int", 0, 5000),
    Field("epochs", 30, "int", 1, 300),
    Field("lambda_min", 5.0, "float", 0.0, 1000.0),
    Field("device", "auto", "choice", choices=DEVICES),
    Field("data", "bundled", "choice", choices=SOURCES),
    *loss_param_fields(preset="2d"),
]
# widget -> TrainConfig field: read to build the config, written back when a checkpoint loads
CONFIG_WIDGETS = {"loss": "loss", "dim": "dim", "lr": "lr", "optimizer": "optimizer",
                  "seed": "seed", "warmup": "warmup_steps", "epochs": "epochs",
                  "lambda_min": "lambda_min"}


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


def margin_controls(loss: str) -> dict:
    params = {p.name: ui.param_slider(PAGE, loss, p) for p in LOSSES[loss].params if p.name != "lam"}
    if "lam" in {p.name for p in LOSSES[loss].params}:
        st.number_input("λ floor (annealed from 1000)", 0.0, 1000.0, step=1.0,
                        key=ui.key(PAGE, "lambda_min"))
    return params


def config_controls() -> TrainConfig:
    with st.sidebar:
        loss = st.selectbox("Loss", list(LOSSES), key=ui.key(PAGE, "loss"), format_func=ui.loss_titles())
        dim = st.radio("Feature dimension", (2, 3), key=ui.key(PAGE, "dim"), horizontal=True,
                       format_func=lambda d: f"{d}D")
        st.button("Load the preset for this loss and dimension", on_click=load_preset,
                  args=(loss, dim), key=ui.key(PAGE, "preset"))
        params = margin_controls(loss)
        with st.expander("Training", expanded=False):
            st.number_input("learning rate", 0.0001, 0.1, step=0.0005, format="%.4f",
                            key=ui.key(PAGE, "lr"))
            st.selectbox("optimizer", OPTIMIZERS, key=ui.key(PAGE, "optimizer"),
                         format_func={"adam": "Adam", "sgd": "SGD with momentum"}.get)
            st.number_input("epochs", 1, 300, key=ui.key(PAGE, "epochs"))
            st.number_input("margin warm-up steps", 0, 5000, step=50, key=ui.key(PAGE, "warmup"))
            st.number_input("seed", 0, 1_000_000, key=ui.key(PAGE, "seed"))
            st.selectbox("device", DEVICES, key=ui.key(PAGE, "device"))
    settings = {field: ui.value(PAGE, widget) for widget, field in CONFIG_WIDGETS.items()}
    return TrainConfig(params=params, device=usable_device(), **settings)


def usable_device() -> str:
    device = ui.value(PAGE, "device")
    try:
        resolve_device(device)
        return device
    except ValueError as err:
        st.sidebar.error(f"{err}; training on the CPU instead.")
        return "cpu"


def session_trainer(config: TrainConfig, dataset) -> Trainer:
    """This browser session's trainer: created once, updated in place when it can be, and
    reset when the model itself must change (dimension, seed, device, data)."""
    trainer = st.session_state.get(ui.key(PAGE, "trainer"))
    if trainer is None or trainer.dataset is not dataset:
        if trainer is not None:
            trainer.stop(timeout=0)
        trainer = Trainer(config, dataset, slots=ui.trainer_slots())
        st.session_state[ui.key(PAGE, "trainer")] = trainer
    elif needs_reset(trainer.config, config):
        trainer.reset(config)
    elif trainer.config != config:
        trainer.update(config)
    return trainer


def feasibility_note(config: TrainConfig):
    result = feasibility(config.loss, settled_params(config), 10, config.dim)
    if not result.feasible:
        st.warning(f"This margin cannot be met by 10 classes with {config.dim}D features: the "
                   "network will train, but no class can win with its full margin. See "
                   "Decision margins, or load the preset.", icon="⚠️")
    elif result.tight:
        st.warning(f"A tight margin for {config.dim}D: each class can only win within "
                   f"{math.degrees(result.halfwidth):.1f}° of its weight.", icon="⚠️")


def control_buttons(trainer: Trainer):
    start, step, reset = st.columns(3)
    if trainer.wants_to_run:
        start.button("Pause", icon=":material/pause:", on_click=trainer.pause,
                     key=ui.key(PAGE, "pause"), width="stretch")
    else:
        start.button("Start", icon=":material/play_arrow:", on_click=trainer.start,
                     key=ui.key(PAGE, "start"), type="primary", width="stretch")
    step.button("One step", icon=":material/skip_next:", on_click=trainer.step,
                key=ui.key(PAGE, "step"), width="stretch")
    reset.button("Reset", icon=":material/restart_alt:", on_click=lambda: trainer.reset(trainer.config),
                 key=ui.key(PAGE, "reset"), width="stretch")


def progress_line(snap):
    planned = snap.config.epochs
    lam = snap.params.get("lam")
    text = (f"epoch {snap.epoch:.2f} / {planned} · step {snap.step} · "
            f"{snap.samples_per_s:,.0f} samples/s · lr {snap.learning_rate:.4g}"
            + (f" · λ {lam:.3g}" if lam is not None else ""))
    st.progress(min(1.0, snap.epoch / planned), text=text)
    if snap.message:
        (st.info if snap.status in (PAUSED, WAITING) else st.warning)(snap.message)
    if snap.evaluation is not None:
        ev = snap.evaluation
        columns = st.columns(4)
        columns[0].metric("test accuracy", f"{ev.accuracy:.1%}")
        columns[1].metric("test loss", f"{ev.loss:.3f}")
        columns[2].metric("mean angle to own weight", f"{ev.mean_own_angle:.1f}°")
        columns[3].metric("closest class weights", f"{ev.min_weight_angle:.1f}°")


def snapshot_figures(snap, class_names) -> dict:
    """The page refreshes more often than the trainer publishes: build figures once per
    snapshot, so the CPU goes to training rather than to drawing the same picture again."""
    cached = st.session_state.get(ui.key(PAGE, "figures"))
    if cached is None or cached[0] is not snap:
        limit_key = ui.key(PAGE, f"limit-{snap.generation}")
        figures, st.session_state[limit_key] = playground_figures(
            snap, class_names, st.session_state.get(limit_key))
        cached = (snap, figures)
        st.session_state[ui.key(PAGE, "figures")] = cached
    return cached[1]


def feature_view(figure, snap, trainer: Trainer):
    dataset = trainer.dataset
    digits = DigitPanel(PAGE, (snap.generation, snap.step), trainer.checkpoint, dataset,
                        snap.config.loss, snap.params)
    chart, digit = st.columns([4, 1])
    with chart:
        event = st.plotly_chart(digits.on_chart(figure), key=ui.key(PAGE, "features"),
                                on_select="rerun", selection_mode="points")
    with digit:
        show_selected_digit(event, snap.evaluation, dataset)
    digits.show(st.session_state.get(ui.key(PAGE, "picked")))


def show_selected_digit(event, ev, dataset):
    for point in (event or {}).get("selection", {}).get("points", []):
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


def live_view(trainer: Trainer):
    polling = trainer.wants_to_run

    @st.fragment(run_every=0.5 if polling else None)
    def refresh():
        snap = trainer.snapshot()
        if polling and not trainer.wants_to_run:
            st.rerun()  # it paused itself (finished, NaN, nobody watching): redraw the buttons
        if not trainer.is_current(snap):
            st.info("Starting the new run…")
            return
        progress_line(snap)
        figures = snapshot_figures(snap, trainer.dataset.class_names)
        feature_view(figures["features"], snap, trainer)
        curves, angles = st.columns(2)
        curves.plotly_chart(figures["curves"], key=ui.key(PAGE, "curves"))
        angles.plotly_chart(figures["angles"], key=ui.key(PAGE, "angles"))

    refresh()


def show_config(config: TrainConfig):
    """Set the sidebar to a loaded run's settings, so the next rerun keeps that run."""
    for widget, field in CONFIG_WIDGETS.items():
        st.session_state[ui.key(PAGE, widget)] = getattr(config, field)
    for name, value in config.params.items():
        st.session_state[ui.key(PAGE, f"{config.loss}.{name}")] = value


def import_checkpoint(trainer: Trainer):
    upload = st.session_state.get(ui.key(PAGE, "upload"))
    if upload is None:
        return
    try:
        run = load_checkpoint(upload.getvalue(), trainer.dataset, device=trainer.config.device)
    except CheckpointError as err:
        st.session_state[ui.key(PAGE, "import")] = (
            "error", ui.t("messages.checkpoint.refused", name=upload.name, reason=err.message))
        return
    show_config(run.config)
    trainer.restore(run)
    st.session_state[ui.key(PAGE, "import")] = (
        "success", f"Loaded {upload.name}: {run.config.loss}, {run.config.dim}D, step {run.step}.")


def export_controls(trainer: Trainer):
    names = trainer.dataset.class_names
    with st.expander("Export and import", icon=":material/download:"):
        ui.image_downloads("Features", lambda fmt: snapshot_features_image(
            trainer.snapshot(), names, fmt), "features", ui.key(PAGE, "features"))
        ui.image_downloads("Curves", lambda fmt: snapshot_curves_image(trainer.snapshot(), fmt),
                           "curves", ui.key(PAGE, "curves-image"))
        ui.image_downloads("Angles", lambda fmt: snapshot_angles_image(trainer.snapshot(), fmt),
                           "angles", ui.key(PAGE, "angles-image"))
        row = st.columns(4)
        row[0].download_button("History (CSV)", key=ui.key(PAGE, "history"),
                               data=lambda: history_csv(trainer.snapshot().history),
                               file_name="history.csv", mime="text/csv")
        row[1].download_button("Checkpoint", key=ui.key(PAGE, "checkpoint"),
                               data=trainer.checkpoint, file_name="lossviz-run.pt",
                               mime="application/octet-stream")
        row[2].download_button("Feature evolution (GIF)", key=ui.key(PAGE, "gif"),
                               data=lambda: snapshot_gif(trainer.snapshot(), names),
                               file_name="features.gif", mime="image/gif",
                               disabled=not trainer.snapshot().frames)
        st.file_uploader("Load a checkpoint", type=["pt"], max_upload_size=MAX_BYTES // 2**20,
                         key=ui.key(PAGE, "upload"), on_change=import_checkpoint, args=(trainer,))
        outcome = st.session_state.get(ui.key(PAGE, "import"))
        if outcome:
            (st.error if outcome[0] == "error" else st.success)(outcome[1])


def playground_page():
    ui.open_page(PAGE, FIELDS, "Playground",
                 "Pick a loss, press Start, and watch a tiny network's features gather on the "
                 "circle (2D) or the sphere (3D). Settings take effect at the next step.")
    dataset = data_controls()
    config = config_controls()
    trainer = session_trainer(config, dataset)
    feasibility_note(config)
    control_buttons(trainer)
    live_view(trainer)
    export_controls(trainer)
    ui.write_url(PAGE, FIELDS)


playground_page()

"""Compare: several losses, or one loss at several values, trained on the same footing."""
import streamlit as st

from lossviz import ui
from lossviz.compare import (DIFFICULTY_RANKING, difficulty_sentence,
                             losses_comparison, parameter_comparison, parse_values)
from lossviz.export import comparison_images
from lossviz.figures.compare import accuracy_overlay_figure, small_multiples_figure
from lossviz.losses import LOSSES
from lossviz.ui import runs as live_runs
from lossviz.urlstate import Field

PAGE = "compare"
MODES = {"losses": "Several losses", "values": "One loss, several values",
         "difficulty": "Which loss is hardest to train?"}
FIELDS = [
    Field("mode", "losses", "choice", choices=tuple(MODES)),
    Field("losses", ["normface", "cosface", "arcface"], "multi", choices=tuple(LOSSES)),
    Field("loss", "lsoftmax", "choice", choices=tuple(LOSSES)),
    Field("param", "m", "choice", choices=("s", "m", "m1", "m2", "m3")),
    Field("dim", 2, "int", 2, 3),
    Field("epochs", 10, "int", 1, 100),
    Field("seed", 0, "int", 0, 1_000_000),
]


def chosen_runs():
    """The runs the sidebar describes, or None with the reason shown."""
    with st.sidebar:
        mode = st.radio("Compare", list(MODES), key=ui.key(PAGE, "mode"), format_func=MODES.get)
        dim = st.radio("Feature dimension", (2, 3), key=ui.key(PAGE, "dim"), horizontal=True,
                       format_func=lambda d: f"{d}D")
        epochs = st.number_input("epochs per run (same budget for all)", 1, 100,
                                 key=ui.key(PAGE, "epochs"))
        seed = st.number_input("seed (shared: same initial weights and data order)", 0,
                               1_000_000, key=ui.key(PAGE, "seed"))
        if mode == "losses":
            losses = st.multiselect("Losses", list(LOSSES), key=ui.key(PAGE, "losses"),
                                    format_func=ui.loss_titles())
            if len(losses) < 2:
                st.info("Pick two or more losses.")
                return None
            return losses_comparison(losses, dim, epochs, seed)
        if mode == "difficulty":
            st.caption("SphereFace, CosFace and ArcFace with their presets, same data, same "
                       "budget: how many steps until 90% test accuracy?")
            return losses_comparison(DIFFICULTY_RANKING, dim, epochs, seed)
        return parameter_runs(dim, epochs, seed)


def parameter_runs(dim, epochs, seed):
    loss = st.selectbox("Loss", [n for n in LOSSES if LOSSES[n].params],
                        key=ui.key(PAGE, "loss"), format_func=ui.loss_titles())
    names = [p.name for p in LOSSES[loss].params if p.name != "lam"]
    if st.session_state.get(ui.key(PAGE, "param")) not in names:
        st.session_state[ui.key(PAGE, "param")] = names[-1]
    param = st.selectbox("Parameter", names, key=ui.key(PAGE, "param"))
    st.session_state.setdefault(ui.key(PAGE, "values"), "1, 2, 3, 4")
    text = st.text_input("Values, separated by commas", key=ui.key(PAGE, "values"))
    try:
        values = parse_values(text, loss, param)
    except ValueError as err:
        st.error(str(err))
        return None
    return parameter_comparison(loss, param, values, dim, epochs, seed)


def results_view(job):
    polling = st.session_state.get(ui.key(PAGE, "polling"), False)

    @st.fragment(run_every=1.0 if polling else None)
    def refresh():
        progress = job.progress()
        finished = len(progress.results)
        doing = ("waiting for a free training slot on this server" if progress.waiting
                 else f"training {progress.current}, epoch {progress.epoch}")
        text = f"{finished} of {progress.total} runs done" + (
            f" · {doing}" if progress.current else "")
        st.progress(finished / progress.total, text=text)
        if progress.cancelled:
            st.info(ui.t("runs.compare.cancelled"))
        elif progress.error:
            st.error(f"A run failed: {progress.error}")
        if progress.results:
            draw_results(progress, job.dataset.class_names)
        if progress.done and polling:
            st.session_state[ui.key(PAGE, "polling")] = False
            st.rerun()  # one full rerun, so the page stops polling

    refresh()


def draw_results(progress, class_names):
    results = list(progress.results)
    st.plotly_chart(small_multiples_figure(results, class_names), key=ui.key(PAGE, "multiples"))
    st.plotly_chart(accuracy_overlay_figure(results), key=ui.key(PAGE, "accuracy"))
    table = [{k: (round(v, 2) if isinstance(v, float) else v) for k, v in r.row.items()}
             for r in results]
    st.dataframe(table, key=ui.key(PAGE, "table"), hide_index=True)
    if progress.done and {r.config.loss for r in results} >= set(DIFFICULTY_RANKING):
        st.info(difficulty_sentence([r.row for r in results]))
    if progress.done:
        for name, label in (("features", "Features"), ("accuracy", "Accuracy curves")):
            ui.image_downloads(label, lambda fmt, name=name: comparison_images(
                results, class_names, fmt)[name], f"comparison-{name}", ui.key(PAGE, name))


def compare_page():
    ui.open_page(PAGE, FIELDS, "Compare",
                 "Runs that differ only in the loss: same seed, same initial weights, same data "
                 "order, same feature dimension, same number of epochs. Identical runs are "
                 "trained once per server and shared.")
    configs = chosen_runs()
    dataset, _ = ui.shared_dataset("bundled", None)
    job = st.session_state.get(ui.key(PAGE, "job"))
    if job is not None and not job.done:
        st.button(ui.t("runs.compare.cancel"), icon=":material/stop:",
                  on_click=live_runs.cancel_comparison, args=(PAGE,), key=ui.key(PAGE, "cancel"))
    else:
        st.button("Run the comparison", icon=":material/play_arrow:", type="primary",
                  disabled=configs is None, on_click=live_runs.start_comparison,
                  args=(PAGE, configs, dataset), key=ui.key(PAGE, "run"))
    if job is not None:
        results_view(job)
    ui.write_url(PAGE, FIELDS)


compare_page()

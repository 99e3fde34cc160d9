"""Compare: several losses, or one loss at several values, trained on the same footing."""
import streamlit as st

from lossviz import ui
from lossviz.compare import (DIFFICULTY_RANKING, Progress, difficulty_sentence,
                             losses_comparison, parameter_comparison, parse_values)
from lossviz.export import comparison_images
from lossviz.figures.compare import (COLUMNS, accuracy_overlay_figure, params_text,
                                     run_cards_html, run_names, run_panel_figure)
from lossviz.i18n import LossvizError
from lossviz.losses import LOSSES
from lossviz.ui import runs as live_runs
from lossviz.ui.replay import ready_comparison_of
from lossviz.urlstate import Field

PAGE = "compare"
MODES = ("losses", "values", "difficulty")
# The table's numbers, written the same way by the grid and by the phone's cards (printf).
FORMATS = {"accuracy": "%.1f%%", "own_angle": "%.1f°", "closest": "%.1f°", "margin": "%.1f°"}
# Seven columns scroll sideways on a phone: below 640 px (where Streamlit stacks columns too)
# the grid gives way to one card per run. Both are drawn; the browser shows the one that fits.
TABLE_CSS = """<style>
.st-key-compare-table-cards { display: none; }
@media (max-width: 640px) {
  .st-key-compare-table-grid { display: none; }
  .st-key-compare-table-cards { display: block; }
}
.run-cards section { border: 1px solid #d9d9d9; border-radius: 0.5rem; padding: 0.5rem 0.75rem;
  margin-bottom: 0.5rem; }
.run-cards dl { display: grid; grid-template-columns: auto 1fr; gap: 0.1rem 1rem; }
.run-cards strong { display: block; margin-bottom: 0.3rem; }
.run-cards dl, .run-cards dt, .run-cards dd { margin: 0; padding: 0; }
.run-cards dt { color: #4d4d4d; font-weight: normal; }
.run-cards dd { text-align: right; font-variant-numeric: tabular-nums; }
</style>"""
FIELDS = [
    Field("mode", "losses", "choice", choices=MODES),
    # the whole family, as the ready comparison shows it when the page opens
    Field("losses", list(LOSSES), "multi", choices=tuple(LOSSES)),
    Field("loss", "lsoftmax", "choice", choices=tuple(LOSSES)),
    Field("param", "m", "choice", choices=("s", "m", "m1", "m2", "m3")),
    Field("dim", 2, "int", 2, 3),
    Field("epochs", 10, "int", 1, 100),
    Field("seed", 0, "int", 0, 1_000_000),
]


def shared_settings():
    """What every run shares: in the sidebar (hidden while presenting)."""
    with st.sidebar:
        mode = st.radio(ui.t("compare.modes.label"), MODES, key=ui.key(PAGE, "mode"),
                        format_func=ui.formatter(lambda name: f"compare.modes.{name}"))
        dim = st.radio(ui.t("compare.controls.dim"), (2, 3), key=ui.key(PAGE, "dim"),
                       horizontal=True, format_func=lambda d: f"{d}D")
        epochs = st.number_input(ui.t("compare.controls.epochs"), 1, 100,
                                 key=ui.key(PAGE, "epochs"))
        seed = st.number_input(ui.t("compare.controls.seed"), 0, 1_000_000,
                               key=ui.key(PAGE, "seed"))
    return mode, dim, epochs, seed


def chosen_runs(mode, dim, epochs, seed):
    """The runs the controls describe, or None with the reason shown."""
    if mode == "losses":
        losses = st.multiselect(ui.t("compare.controls.losses"), list(LOSSES),
                                key=ui.key(PAGE, "losses"), format_func=ui.loss_titles())
        if len(losses) < 2:
            st.info(ui.t("compare.controls.pick_two"))
            return None
        return losses_comparison(losses, dim, epochs, seed)
    if mode == "difficulty":
        st.caption(ui.t("compare.controls.difficulty"))
        return losses_comparison(DIFFICULTY_RANKING, dim, epochs, seed)
    return parameter_runs(dim, epochs, seed)


def parameter_runs(dim, epochs, seed):
    loss = st.selectbox(ui.t("compare.controls.loss"), [n for n in LOSSES if LOSSES[n].params],
                        key=ui.key(PAGE, "loss"), format_func=ui.loss_titles())
    names = [p.name for p in LOSSES[loss].params if p.name != "lam"]
    if st.session_state.get(ui.key(PAGE, "param")) not in names:
        st.session_state[ui.key(PAGE, "param")] = names[-1]
    param = st.selectbox(ui.t("compare.controls.param"), names, key=ui.key(PAGE, "param"))
    st.session_state.setdefault(ui.key(PAGE, "values"), "1, 2, 3, 4")
    text = st.text_input(ui.t("compare.controls.values"), key=ui.key(PAGE, "values"))
    try:
        values = parse_values(text, loss, param)
    except LossvizError as err:
        st.error(ui.say(err.message))
        return None
    return parameter_comparison(loss, param, values, dim, epochs, seed)


def run_or_cancel(job, configs, dataset):
    if job is not None and not job.done:
        st.button(ui.t("runs.compare.cancel"), icon=":material/stop:",
                  on_click=live_runs.cancel_comparison, args=(PAGE,), key=ui.key(PAGE, "cancel"))
    else:
        st.button(ui.t("compare.controls.run"), icon=":material/play_arrow:", type="primary",
                  disabled=configs is None, on_click=live_runs.start_comparison,
                  args=(PAGE, configs, dataset), key=ui.key(PAGE, "run"))


def progress_text(progress, names, configs) -> str:
    """'1 of 3 runs done · training ArcFace, epoch 3 of 10', in the reader's language."""
    text = ui.t("compare.progress.done", finished=len(progress.results), total=progress.total)
    if progress.waiting:
        return text + ui.t("compare.progress.waiting")
    if progress.current:
        index = len(progress.results)
        return text + ui.t("compare.progress.training", name=names[index], epoch=progress.epoch,
                           epochs=configs[index].epochs)
    return text


def results_view(job):
    polling = st.session_state.get(ui.key(PAGE, "polling"), False)

    @st.fragment(run_every=1.0 if polling else None)
    def refresh():
        progress = job.progress()
        names = run_names(job.configs, ui.view())
        st.progress(len(progress.results) / progress.total,
                    text=progress_text(progress, names, job.configs))
        if progress.cancelled:
            st.info(ui.t("runs.compare.cancelled"))
        elif progress.error:  # the run after the finished ones stopped: say what to do
            st.error(ui.t("notices.compare_failed", run=names[len(progress.results)],
                          reason=progress.error, button=ui.t("compare.controls.run")))
        if progress.results:
            draw_results(progress, names[:len(progress.results)], job.dataset.class_names)
        if progress.done and polling:
            st.session_state[ui.key(PAGE, "polling")] = False
            st.rerun()  # one full rerun, so the page stops polling

    refresh()


def table_columns() -> dict:
    """The table's column names, formats and explanations in the reader's language."""
    column = st.column_config
    degrees = {name: column.NumberColumn(ui.t(f"compare.table.{name}"), format=FORMATS[name],
                                         help=ui.t(f"compare.table.help.{name}"))
               for name in ("own_angle", "closest", "margin")}
    return {"run": column.TextColumn(ui.t("compare.table.run")),
            # wide enough for the combined margin's four numbers (the grid sizes a column to
            # its header); the seven columns then fit 1280 px beside the sidebar
            "params": column.TextColumn(ui.t("compare.table.params"), width=205),
            "accuracy": column.NumberColumn(ui.t("compare.table.accuracy"),
                                            format=FORMATS["accuracy"],
                                            help=ui.t("compare.table.help.accuracy")),
            "steps": column.TextColumn(ui.t("compare.table.steps"), width=94), **degrees}


def table_rows(results, names, view) -> list[dict]:
    """One line per run: what fits a 1280 px wide screen (the widest class, and the CLI's
    other columns, are in its comparison.csv; the angular margin says what the spread costs)."""
    return [{"run": name,
             "params": params_text(result.config.loss, result.params, view),
             "accuracy": 100 * result.row["test_accuracy"],
             "steps": (f"{result.row['steps_to_90']:,}" if result.row["steps_to_90"] is not None
                       else ui.t("compare.table.never")),
             "own_angle": result.row["mean_own_angle_deg"],
             "closest": result.row["min_weight_angle_deg"],
             "margin": result.row["angular_margin_deg"]}
            for result, name in zip(results, names, strict=True)]


def results_table(rows: list[dict]):
    """The grid at a desk, one card per run on a phone (TABLE_CSS picks)."""
    st.html(TABLE_CSS)
    with st.container(key="compare-table-grid"):
        st.dataframe(rows, column_config=table_columns(), key=ui.key(PAGE, "table"),
                     hide_index=True)
    with st.container(key="compare-table-cards"):
        st.html(run_cards_html(rows, {name: ui.t(f"compare.table.{name}") for name in rows[0]},
                               FORMATS))


def draw_results(progress, names, class_names):
    results, view = list(progress.results), ui.view()
    feature_panels(results, names, class_names, view)
    st.plotly_chart(accuracy_overlay_figure(results, names, view), key=ui.key(PAGE, "accuracy"),
                    **ui.chart_options())
    results_table(table_rows(results, names, view))
    if progress.done and {r.config.loss for r in results} >= set(DIFFICULTY_RANKING):
        st.info(ui.say(difficulty_sentence([r.row for r in results])))
    if progress.done:
        for name in ("features", "accuracy"):
            ui.image_downloads(ui.t(f"compare.downloads.{name}"),
                               lambda fmt, name=name: comparison_images(
                                   results, class_names, fmt, names, view)[name],
                               f"comparison-{name}", ui.key(PAGE, name))


def feature_panels(results, names, class_names, view):
    """One figure per run, COLUMNS to a row at a desk; a phone stacks the columns, so each run
    is drawn at the phone's full width."""
    for start in range(0, len(results), COLUMNS):
        for column, index in zip(st.columns(COLUMNS), range(start, len(results))):
            column.plotly_chart(run_panel_figure(results[index], class_names, names[index], view),
                                key=ui.key(PAGE, f"multiples:{index}"), **ui.chart_options())


def ready_view(dim, dataset, losses):
    """Before the first live comparison: the chosen losses' ready runs in this dimension (the
    box and the figures say the same), shown at once and labelled as recorded, with a button
    that trains the same comparison live."""
    try:
        results = [r for r in ready_comparison_of(dim) if r.config.loss in losses]
    except LossvizError as err:
        st.warning(ui.say(err.message), icon="⚠️")
        return
    if len(results) < 2:
        return  # the controls already say to pick two
    recorded = results[0].config
    with st.container(horizontal=True, vertical_alignment="center"):
        st.info(ui.t("ready.comparison_label", dim=dim, seed=recorded.seed,
                     epochs=recorded.epochs), icon=":material/history:", width="stretch")
        st.button(ui.t("ready.actions.retrain"), icon=":material/play_arrow:",
                  on_click=retrain_live,
                  args=([r.config.loss for r in results], dim, recorded.epochs, recorded.seed,
                        dataset),
                  key=ui.key(PAGE, "retrain"), width="content")
    names = run_names([result.config for result in results], ui.view())
    draw_results(Progress(results, None, 0, len(results)), names, dataset.class_names)


def retrain_live(losses, dim, epochs, seed, dataset):
    """Train the ready comparison live: the controls show what trains (its losses, the
    recorded epochs and seed), so the URL and the table say the same."""
    for name, value in (("losses", losses), ("epochs", epochs), ("seed", seed)):
        st.session_state[ui.key(PAGE, name)] = value
    live_runs.start_comparison(PAGE, losses_comparison(losses, dim, epochs, seed), dataset)


def compare_page():
    ui.open_page(PAGE, FIELDS, ui.t("compare.title"), ui.t("compare.intro"))
    mode, dim, epochs, seed = shared_settings()
    dataset, _ = ui.shared_dataset("bundled", None)
    job = st.session_state.get(ui.key(PAGE, "job"))
    with ui.controls():  # the sidebar; presenting, a row above the figures
        configs = chosen_runs(mode, dim, epochs, seed)
        if ui.presenting():
            run_or_cancel(job, configs, dataset)
    if not ui.presenting():
        run_or_cancel(job, configs, dataset)
    if job is not None:
        results_view(job)
    elif mode == "losses":
        ready_view(dim, dataset, st.session_state[ui.key(PAGE, "losses")])
    ui.write_url(PAGE, FIELDS)


compare_page()

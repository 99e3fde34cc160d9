"""Compare: several losses, or one loss at several values, trained on the same footing."""
import streamlit as st

from lossviz import ui
from lossviz.compare import (DIFFICULTY_RANKING, Progress, difficulty_sentence, group_of,
                             group_summary, losses_comparison, over_seed_rounds,
                             parameter_comparison, parse_values, seed_groups)
from lossviz.export import comparison_images
from lossviz.figures.compare import (COLUMNS, accuracy_overlay_figure, accuracy_spread_figure,
                                     params_text, run_cards_html, run_names, run_panel_figure)
from lossviz.i18n import LossvizError
from lossviz.losses import LOSSES
from lossviz.ui import runs as live_runs
from lossviz.ui.replay import ready_comparison_of
from lossviz.urlstate import Field

PAGE = "compare"
MODES = ("losses", "values", "difficulty")
MAX_SEEDS = 5  # each seed is one more round of every run: five rounds of the family take long
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
    Field("seeds", 1, "int", 1, MAX_SEEDS),
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
        st.number_input(ui.t("compare.controls.seeds"), 1, MAX_SEEDS, key=ui.key(PAGE, "seeds"),
                        help=ui.t("compare.controls.seeds_help"))
    return mode, dim, epochs, seed


def repeated(configs):
    """The runs the controls describe, each once per seed the controls ask for."""
    if configs is None:
        return None
    return over_seed_rounds(configs, st.session_state[ui.key(PAGE, "seeds")])


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


def group_names(configs) -> tuple[list[list], list[str]]:
    """The runs grouped by what they compare (seed_groups), and a name per group."""
    groups = seed_groups(configs)
    return groups, run_names([group[0] for group in groups], ui.view())


def run_name(config, groups, names) -> str:
    """One run's name: its group's, and its seed when the comparison repeats over seeds."""
    name = names[group_of(config, groups)]
    if all(len(group) == 1 for group in groups):
        return name
    return ui.t("compare.progress.seed", name=name, seed=config.seed)


def progress_text(progress, configs, groups, names) -> str:
    """'1 of 3 runs done · training ArcFace, epoch 3 of 10', in the reader's language;
    groups, names: group_names(configs)."""
    text = ui.t("compare.progress.done", finished=len(progress.results), total=progress.total)
    if progress.waiting:
        return text + ui.t("compare.progress.waiting")
    if progress.current:
        config = configs[len(progress.results)]
        return text + ui.t("compare.progress.training", name=run_name(config, groups, names),
                           epoch=progress.epoch, epochs=config.epochs)
    return text


def results_view(job):
    polling = st.session_state.get(ui.key(PAGE, "polling"), False)

    @st.fragment(run_every=1.0 if polling else None)
    def refresh():
        progress = job.progress()
        groups, names = group_names(job.configs)
        st.progress(len(progress.results) / progress.total,
                    text=progress_text(progress, job.configs, groups, names))
        if progress.cancelled:
            st.info(ui.t("runs.compare.cancelled"))
        elif progress.error:  # the run after the finished ones stopped: say what to do
            stopped = run_name(job.configs[len(progress.results)], groups, names)
            st.error(ui.t("notices.compare_failed", run=stopped, reason=progress.error,
                          button=ui.t("compare.controls.run")))
        if progress.results:
            draw_results(progress, names, job.dataset.class_names)
        if progress.done and polling:
            st.session_state[ui.key(PAGE, "polling")] = False
            st.rerun()  # one full rerun, so the page stops polling

    refresh()


def table_columns(repeats: bool) -> dict:
    """The table's column names, formats and explanations in the reader's language; over
    several seeds each cell is "mean ± standard deviation", written as text."""
    column = st.column_config

    def numbers(name: str):
        if repeats:  # "-75.2±22.7°": sized so that the seven columns still fit 1280 px
            return column.TextColumn(ui.t(f"compare.table.{name}"), width=86,
                                     help=ui.t(f"compare.table.help.{name}"))
        return column.NumberColumn(ui.t(f"compare.table.{name}"), format=FORMATS[name],
                                   help=ui.t(f"compare.table.help.{name}"))
    return {"run": column.TextColumn(ui.t("compare.table.run")),
            # wide enough for the combined margin's four numbers (the grid sizes a column to
            # its header); the seven columns then fit 1280 px beside the sidebar
            "params": column.TextColumn(ui.t("compare.table.params"), width=205),
            "accuracy": numbers("accuracy"),
            "steps": column.TextColumn(ui.t("compare.table.steps"), width=94,
                                       help=ui.t("compare.table.help.steps_median")
                                       if repeats else None),
            **{name: numbers(name) for name in ("own_angle", "closest", "margin")}}


# table column -> the run's number it shows, and how much to scale it by
TABLE_NUMBERS = {"accuracy": ("test_accuracy", 100), "own_angle": ("mean_own_angle_deg", 1),
                 "closest": ("min_weight_angle_deg", 1), "margin": ("angular_margin_deg", 1)}


def table_cell(column: str, spread: dict):
    """A number as the grid formats it, or over several seeds "96.5±0.4%" (no spaces: seven
    such columns fit 1280 px beside the sidebar)."""
    scale = TABLE_NUMBERS[column][1]
    if spread["n"] == 1:
        return scale * spread["mean"]
    unit = FORMATS[column].removeprefix("%.1f").replace("%%", "%")
    return f"{scale * spread['mean']:.1f}±{scale * spread['std']:.1f}{unit}"


def steps_cell(steps: dict) -> str:
    """Steps to 90%: the median over seeds, and how many seeds got there when not all."""
    if steps["median"] is None:
        text = ui.t("compare.table.never")
    else:
        text = f"{steps['median']:,.0f}"
    if 0 < steps["reached"] < steps["of"]:
        text += ui.t("compare.table.reached_of", reached=steps["reached"], of=steps["of"])
    return text


def table_rows(groups, summaries, names, view) -> list[dict]:
    """One line per compared run (over its seeds; summaries: group_summary of each): what fits
    a 1280 px wide screen (the widest class, and the CLI's other columns, are in its
    comparison.csv; the angular margin says what the spread costs)."""
    rows = []
    for group, summary, name in zip(groups, summaries, names, strict=True):
        cells = {column: table_cell(column, summary[number])
                 for column, (number, _) in TABLE_NUMBERS.items()}
        first = group[0]
        rows.append({"run": name, "params": params_text(first.config.loss, first.params, view),
                     "accuracy": cells.pop("accuracy"),
                     "steps": steps_cell(summary["steps_to_90"]), **cells})
    return rows


def results_table(rows: list[dict], seeds: int):
    """The grid at a desk, one card per run on a phone (TABLE_CSS picks)."""
    st.html(TABLE_CSS)
    if seeds > 1:
        st.caption(ui.t("compare.table.over_seeds", seeds=seeds))
    with st.container(key="compare-table-grid"):
        st.dataframe(rows, column_config=table_columns(seeds > 1), key=ui.key(PAGE, "table"),
                     hide_index=True)
    with st.container(key="compare-table-cards"):
        st.html(run_cards_html(rows, {name: ui.t(f"compare.table.{name}") for name in rows[0]},
                               FORMATS if seeds == 1 else {}))


def draw_results(progress, names, class_names):
    """The finished runs: one panel per compared run (its first seed), the accuracy curves
    (mean and range over seeds), the spread of the final accuracy when there are several
    seeds, and the table."""
    groups, view = seed_groups(progress.results), ui.view()
    names, firsts = names[:len(groups)], [group[0] for group in groups]
    seeds = max(len(group) for group in groups)
    feature_panels(firsts, names, class_names, view)
    st.plotly_chart(accuracy_overlay_figure(groups, names, view), key=ui.key(PAGE, "accuracy"),
                    **ui.chart_options())
    if seeds > 1:
        st.plotly_chart(accuracy_spread_figure(groups, names, view), key=ui.key(PAGE, "spread"),
                        **ui.chart_options())
    summaries = [group_summary(group) for group in groups]
    results_table(table_rows(groups, summaries, names, view), seeds)
    if progress.done and {r.config.loss for r in firsts} >= set(DIFFICULTY_RANKING):
        medians = [{"loss": first.config.loss, "steps_to_90": summary["steps_to_90"]["median"]}
                   for first, summary in zip(firsts, summaries, strict=True)]
        st.info(ui.say(difficulty_sentence(medians)))
    if progress.done:
        for name in ("features", "accuracy"):
            ui.image_downloads(ui.t(f"compare.downloads.{name}"),
                               lambda fmt, name=name: comparison_images(
                                   firsts, class_names, fmt, names, view)[name],
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
    _, names = group_names([result.config for result in results])
    draw_results(Progress(results, None, 0, len(results)), names, dataset.class_names)


def retrain_live(losses, dim, epochs, seed, dataset):
    """Train the ready comparison live: the controls show what trains (its losses, the
    recorded epochs and seed), so the URL and the table say the same."""
    for name, value in (("losses", losses), ("epochs", epochs), ("seed", seed)):
        st.session_state[ui.key(PAGE, name)] = value
    live_runs.start_comparison(PAGE, repeated(losses_comparison(losses, dim, epochs, seed)),
                               dataset)


def compare_page():
    ui.open_page(PAGE, FIELDS, ui.t("compare.title"), ui.t("compare.intro"))
    mode, dim, epochs, seed = shared_settings()
    dataset, _ = ui.shared_dataset("bundled", None)
    job = st.session_state.get(ui.key(PAGE, "job"))
    with ui.controls():  # the sidebar; presenting, a row above the figures
        configs = repeated(chosen_runs(mode, dim, epochs, seed))
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

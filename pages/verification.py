"""Unseen classes: train on digits 0-7, verify pairs of digits on 8 and 9 (never seen), and
compare the family over seeds, next to closed-set accuracy."""
import streamlit as st

from lossviz import ui
from lossviz.losses import LOSSES
from lossviz.openset import family_configs, read_record, results_by_seed, summarize
from lossviz.ui import runs as live_runs
from lossviz.ui.verification import show_verification
from lossviz.urlstate import Field

PAGE = "verification"
FIELDS = [
    Field("losses", list(LOSSES), "multi", choices=tuple(LOSSES)),
    Field("dim", 3, "int", 2, 3),
    Field("epochs", 5, "int", 1, 100),
    Field("seeds", 3, "int", 1, 5),
    Field("shown", "arcface", "choice", choices=tuple(LOSSES)),
]


def settings():
    """The runs the controls describe ((label, seed) -> config), or None with the reason. At a
    desk every control is in the sidebar; presenting, only the losses and the button stand in
    a row above the figures, the rest stay in the hidden sidebar (their values kept)."""
    row = ui.controls()
    with row:
        losses = loss_choice()
    with st.sidebar:
        dim = st.radio(ui.t("verification.ui.dim"), (3, 2), key=ui.key(PAGE, "dim"),
                       horizontal=True, format_func=lambda d: f"{d}D",
                       help=ui.t("verification.ui.dim_note"))
        epochs = st.number_input(ui.t("verification.ui.epochs"), 1, 100,
                                 key=ui.key(PAGE, "epochs"))
        seeds = st.number_input(ui.t("verification.ui.seeds"), 1, 5, key=ui.key(PAGE, "seeds"))
        st.selectbox(ui.t("verification.ui.shown"), list(LOSSES), key=ui.key(PAGE, "shown"),
                     format_func=ui.loss_titles())
    runs = family_configs(losses, dim, epochs, range(seeds)) if losses else None
    with row:
        buttons(runs)
    if dim == 2:
        st.warning(ui.t("verification.ui.dim_2d"))
    if not losses:
        st.info(ui.t("verification.ui.pick_losses"))


def loss_choice() -> list[str]:
    """Short names (the long ones, "CosFace (AM-Softmax)", were cut mid-chip); presenting,
    pills that wrap onto a second line instead of a box that cuts the last losses off."""
    name = ui.key(PAGE, "losses")
    # the value set anew, not left to the widget: Streamlit forgets a widget's value when the
    # widget under that key changes kind, as on entering or leaving presentation mode
    st.session_state[name] = list(st.session_state[name])
    widget = st.pills if ui.presenting() else st.multiselect
    extra = dict(selection_mode="multi") if ui.presenting() else {}
    return widget(ui.t("verification.ui.losses"), list(LOSSES), key=name,
                  format_func=ui.formatter(lambda loss: f"losses.{loss}.short"), **extra)


def buttons(runs):
    job = st.session_state.get(ui.key(PAGE, "job"))
    if job is not None and not job.done:
        st.button(ui.t("verification.ui.cancel"), icon=":material/stop:",
                  on_click=live_runs.cancel_comparison, args=(PAGE,), key=ui.key(PAGE, "cancel"))
    else:
        st.button(ui.t("verification.ui.run"), icon=":material/play_arrow:", type="primary",
                  disabled=runs is None, on_click=start, args=(runs,), key=ui.key(PAGE, "run"))


def start(runs):
    """Train the runs through the server's training process and its cache, as Compare does."""
    dataset, _ = ui.shared_dataset("bundled", None)
    live_runs.start_comparison(PAGE, {f"{label} · {seed}": config
                                      for (label, seed), config in runs.items()}, dataset)


def job_view(job):
    polling = st.session_state.get(ui.key(PAGE, "polling"), False)

    @st.fragment(run_every=1.0 if polling else None)
    def refresh():
        progress = job.progress()
        done, total = len(progress.results), progress.total
        if progress.waiting:
            line = ui.t("verification.ui.waiting", done=done, total=total)
        elif progress.current:
            line = ui.t("verification.ui.training", done=done, total=total,
                        run=progress.current, epoch=progress.epoch)
        else:
            line = ui.t("verification.ui.progress", done=done, total=total)
        st.progress(done / total, text=line)
        if progress.cancelled:
            st.info(ui.t("verification.ui.cancelled"))
        elif progress.error:
            st.error(ui.t("verification.ui.failed", error=progress.error))
        if progress.results:
            first = progress.results[0].config
            seeds = sorted({r.config.seed for r in progress.results})
            show_verification(summarize(results_by_seed(progress.results)),
                              ui.value(PAGE, "shown"), ui.key(PAGE, "live"),
                              ui.t("verification.ui.live", dim=first.dim, epochs=first.epochs,
                                   seeds=", ".join(map(str, seeds))))
        if progress.done and polling:
            st.session_state[ui.key(PAGE, "polling")] = False
            st.rerun()

    refresh()


def evidence_view():
    record = read_record()
    if record is None:
        return
    s = record["settings"]
    show_verification(record["losses"], ui.value(PAGE, "shown"), ui.key(PAGE, "evidence"),
                      ui.t("verification.ui.evidence", dim=s["dim"], epochs=s["epochs"],
                           seeds=", ".join(map(str, s["seeds"])), pairs=s["pairs_per_kind"]))


def verification_page():
    ui.open_page(PAGE, FIELDS, ui.t("verification.ui.title"), ui.t("verification.ui.intro"))
    settings()
    job = st.session_state.get(ui.key(PAGE, "job"))
    if job is not None:
        job_view(job)
    else:
        evidence_view()
    ui.write_url(PAGE, FIELDS)


verification_page()

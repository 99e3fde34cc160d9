"""Lecture: the family in ten steps, one per screen, each with its figure, a control or two and
a link that opens the step on its own page."""
import math
from dataclasses import dataclass

import numpy as np
import streamlit as st
from streamlit_shortcuts import add_shortcuts

from lossviz import ui
from lossviz.curves import Curve, theta_grid
from lossviz.figures.curves import target_logit_figure
from lossviz.figures.lecture import (difficulty_figure, probabilities_figure, pull_figure,
                                     scale_figure, variant_style)
from lossviz.figures.margins import feature_plane_figure
from lossviz.i18n import load_texts
from lossviz.lecture import (STEPS, EvidenceMissing, cross_entropy, difficulty_series,
                             difficulty_statement, difficulty_window, kl_divergence, load_record,
                             max_target_probability, one_hot, pull_series, pull_statement,
                             scale_for, softmax)
from lossviz.losses import LOSSES
from lossviz.urlstate import Field, loss_link

PAGE = "lecture"
FIELDS = [Field("step", 1, "int", 1, len(STEPS))]
LOGITS = (2.0, 1.0, 0.5, -0.5, -1.5)  # step 1's starting logits: class 1 leads, not by much
PHI = math.radians(90.0)  # two weights a right angle apart: the decision-margin page's default
# The keys a clicker sends (Page Up / Down) and the arrows; names are streamlit-shortcuts'.
KEYS = {"lecture-back": ["arrowleft", "pageup"], "lecture-next": ["arrowright", "pagedown"]}


def state(name: str, default):
    """Session key of one step control, seeded with its starting value."""
    widget_key = ui.key(PAGE, name)
    st.session_state.setdefault(widget_key, default)
    return widget_key


def move(by: int):
    step = ui.key(PAGE, "step")
    st.session_state[step] = min(max(st.session_state[step] + by, 1), len(STEPS))


# On a phone the three do not fit one row, and wrapped they put Back, the title and Next on
# three lines: there the title goes above, Back and Next share the row under it.
NAV_CSS = """<style>
@media (max-width: 640px) {
  .st-key-lecture-nav > .stElementContainer:not(.st-key-lecture-back):not(.st-key-lecture-next)
    { order: -1; flex: 1 0 100%; }
  .st-key-lecture-nav > .st-key-lecture-back, .st-key-lecture-nav > .st-key-lecture-next
    { width: auto; }
  .st-key-lecture-nav > .st-key-lecture-next { margin-left: auto; }
}
</style>"""

# The family's rows at half their usual padding: with the lecture's header and the family's
# formula above them, seven (or six) rows fit a 1280x720 projector only so.
FAMILY_CSS = """<style>
.st-key-lecture-family td, .st-key-lecture-family th { padding-top: .3rem; padding-bottom: .3rem; }
</style>"""


def navigation(step: int):
    """Back, where we are, Next; the arrow keys and a clicker's Page Up / Down press them."""
    st.html(NAV_CSS)
    with st.container(horizontal=True, vertical_alignment="center", key="lecture-nav"):
        st.button(ui.t("lecture.ui.back"), key="lecture-back", on_click=move, args=(-1,),
                  disabled=step == 1, icon=":material/arrow_back:")
        st.markdown(f"**{ui.t('lecture.ui.indicator', step=step, total=len(STEPS), title=step_title(step))}**",
                    width="stretch")
        st.button(ui.t("lecture.ui.next"), key="lecture-next", on_click=move, args=(1,),
                  disabled=step == len(STEPS), icon=":material/arrow_forward:", type="primary")
    add_shortcuts(**KEYS)


def step_title(step: int) -> str:
    return ui.t(f"lecture.steps.{STEPS[step - 1]}.title")


@dataclass(frozen=True)
class Areas:
    formula: object  # across the page: a formula is wide
    figure: object
    words: object  # beside the figure (under it on a phone): text, controls, the link


def areas() -> Areas:
    """The formula across the page, then the figure and the words side by side, the figure
    first. While presenting, the words column holds the controls (ui.stage)."""
    formula = st.container()
    figure, beside = ui.stage(1.7) if ui.presenting() else st.columns([3, 2], gap="medium")
    return Areas(formula, figure, beside)


def words(text: str | None, formula: str, at: Areas):
    """A step's formula across the page and its few sentences beside the figure (the teacher
    says them while presenting)."""
    with at.formula:
        ui.formula(formula)
    if text and not ui.presenting():
        st.markdown(text)


def theory(loss: str) -> dict:
    """The Theory page's section on a loss: its formula and text, reused here."""
    return next(s for s in load_texts("theory")["sections"] if s["loss"] == loss)


def loss_words(loss: str, at: Areas):
    section = theory(loss)
    words(section["text"][ui.language()], section["formula"], at)


def try_it(page: str, query: dict):
    st.page_link(f"pages/{page}.py", icon=":material/open_in_new:", query_params=query,
                 label=ui.t("lecture.ui.try", page=ui.t(f"lecture.pages.{page}")))


def chart(figure):
    st.plotly_chart(figure, key=ui.key(PAGE, "chart"), **ui.chart_options())


def paper_sliders(loss: str, names: tuple[str, ...]) -> dict:
    """Sliders for some of a loss's parameters, starting at its paper's values."""
    paper = LOSSES[loss].presets["paper"]
    for name in names:
        state(f"{loss}.{name}", paper[name])
    return {p.name: ui.param_slider(PAGE, loss, p) for p in LOSSES[loss].params
            if p.name in names}


def curve_step(loss: str, names: tuple[str, ...], fixed: dict, at: Areas):
    """A loss's text, sliders and its target-logit curve against Softmax's cos θ."""
    with at.words:
        loss_words(loss, at)
        params = paper_sliders(loss, names) | fixed
        margins = {k: v for k, v in params.items() if k != "s"}
        try_it("curves", loss_link(loss, margins, "losses"))
    with at.figure:
        chart(target_logit_figure([Curve(ui.loss_short(loss), loss, params)], [], theta_grid(),
                                  view=ui.view()))


def margin_step(loss: str, names: tuple[str, ...], at: Areas):
    """A loss's text, sliders and the decision regions of two classes 90° apart."""
    with at.words:
        loss_words(loss, at)
        params = paper_sliders(loss, names)
        try_it("margins", loss_link(loss, params, "loss"))
    with at.figure:
        chart(feature_plane_figure(loss, params, PHI, ui.view()))


def softmax_step(at: Areas):
    texts = load_texts("lecture")["steps"]
    with at.words:
        words(ui.t("lecture.steps.softmax.text"), texts["softmax"]["formula"], at)
        # two to a row (a horizontal container wraps them): stacked, the five ran below the
        # fold of a 1280x720 projector
        with st.container(horizontal=True, gap="small", key="lecture-logits"):
            logits = np.array([st.slider(ui.t("lecture.steps.softmax.logit", index=i + 1),
                                         -5.0, 5.0, step=0.1, key=state(f"logit{i}", v))
                               for i, v in enumerate(LOGITS)])
        target = st.radio(ui.t("lecture.steps.softmax.target"), range(len(LOGITS)),
                          key=state("target", 0), horizontal=True, format_func=lambda i: str(i + 1))
        try_it("playground", {"loss": "softmax"})
    q, p = softmax(logits), one_hot(target, len(LOGITS))
    with at.figure:
        chart(probabilities_figure(q, p, kl_divergence(p, q), cross_entropy(p, q), ui.view()))


def scale_step(at: Areas, classes: int = 10):
    with at.words:
        loss_words("normface", at)
        s = st.slider(ui.t("lecture.steps.normface.s"), 1.0, 64.0, step=0.5,
                      key=state("normface.s", 1.0))
        best = float(max_target_probability([s], classes)[0])
        st.markdown(ui.t("lecture.steps.normface.reading", s=s, others=classes - 1, p=best,
                         loss=-math.log(best), needed=scale_for(0.99, classes)))
        other = math.degrees(math.acos(-1 / (classes - 1)))
        try_it("curves", {"losses": "normface", "s": f"{s:g}", "classes": str(classes),
                          "other": f"{other:.1f}"})
    scales = np.geomspace(1.0, 64.0, 120)
    with at.figure:
        chart(scale_figure(scales, max_target_probability(scales, classes), s, best, classes,
                           ui.view()))


def evidence(name: str, command: str):
    """A record from assets/evidence, or None with a message saying how to make it."""
    try:
        return load_record(name)
    except EvidenceMissing as missing:
        st.info(ui.t("lecture.missing", reason=str(missing), command=command))
        return None


def pull_step(at: Areas):
    texts = load_texts("lecture")["steps"]["pull"]
    with at.words:
        words(ui.t("lecture.steps.pull.text"), texts["formula"], at)
        record = evidence("pull", "python -m lossviz pull --out assets/evidence/pull.json")
        if record:
            for message in pull_statement(record):
                st.markdown(ui.say(message))
            settings = record["settings"]
            st.caption(ui.t("lecture.steps.pull.caveat", scale=settings["weight_lr_scale"],
                            epochs=settings["epochs"]))
            losses = [v["loss"] for v in record["study"]["variants"]]
            try_it("compare", {"mode": "losses", "losses": ",".join(losses),
                               "dim": str(settings["dim"]), "epochs": str(settings["epochs"])})
    if record:
        series = [{**run, "name": ui.loss_short(run["loss"])} for run in pull_series(record)]
        with at.figure:
            chart(pull_figure(series, ui.view()))


def difficulty_step(at: Areas):
    texts = load_texts("lecture")["steps"]["difficulty"]
    with at.words:
        words(ui.t("lecture.steps.difficulty.text"), texts["formula"], at)
        record = evidence("difficulty", "python -m lossviz difficulty --out "
                                        "assets/evidence/difficulty.json")
        if not record:
            return
        studies = {study["dim"]: study for study in record["studies"]}
        dim = st.radio(ui.t("lecture.steps.difficulty.dim"), list(studies), horizontal=True,
                       key=state("difficulty.dim", next(iter(studies))),
                       format_func=lambda d: f"{d}D")
        study = studies[dim]
        for message in difficulty_statement(record, study):
            st.markdown(ui.say(message))
        st.caption(ui.t("lecture.steps.difficulty.caveat"))
        try_it("compare", {"mode": "difficulty", "dim": str(dim)})
    with at.figure:
        series = [{**run, "name": ui.say(run["name"]),
                   "style": variant_style(run["variant"], run["loss"])}
                  for run in difficulty_series(study)]
        thresholds = record["settings"]["thresholds"]
        chart(difficulty_figure(series, thresholds, difficulty_window(study, max(thresholds)),
                                ui.view()))
    if ui.language() == "en":  # the record's finding and caveat are written in English only
        with at.words.expander(ui.t("lecture.steps.difficulty.record")):
            st.write(study["finding"])
            st.caption(record.get("caveat", ""))


def summary_table(losses, targets: dict, columns) -> str:
    header = " | ".join(ui.t(f"lecture.steps.summary.columns.{c}") for c in columns)
    rows = [f"| {ui.loss_short(loss)} | ${targets[loss]}$ | "
            + " | ".join(ui.t(f"lecture.steps.summary.rows.{loss}.{c}") for c in columns[2:])
            + " |" for loss in losses]
    return "\n".join([f"| {header} |", "|" + " --- |" * len(columns), *rows])


def summary_step(at: Areas):
    """The family's table across the page, its words under it: in the figure's column the
    table ran under the words beside it (and squeezed Chinese to a character a line). The
    lecture's seven and the later members sit in two tabs: all thirteen rows at once ran far
    below a projector's screen."""
    texts = load_texts("lecture")["steps"]["summary"]
    taught = [step for step in STEPS if step in LOSSES]
    later = [loss for loss in LOSSES if loss not in taught]
    with at.formula:
        words(None, texts["formula"], at)
        st.html(FAMILY_CSS)
        # all six later ones normalize features and weights: that column gives its room to
        # their formulas
        columns = ["loss", "target", "normalized", "margin", "typical"]
        with st.container(key="lecture-family"):
            seven, rest = st.tabs([ui.t("lecture.steps.summary.tabs.taught", count=len(taught)),
                                   ui.t("lecture.steps.summary.tabs.later", count=len(later))])
            seven.markdown(summary_table(taught, texts["targets"], columns))
            rest.markdown(summary_table(later, texts["targets"],
                                        [c for c in columns if c != "normalized"]))
            rest.caption(ui.t("lecture.steps.summary.later_normalized"))
        if not ui.presenting():
            st.markdown(ui.t("lecture.steps.summary.text"))
        try_it("theory", {})


STEP_VIEWS = {
    "softmax": softmax_step,
    "lsoftmax": lambda at: curve_step("lsoftmax", ("m",), {"lam": 0.0}, at),
    "sphereface": lambda at: margin_step("sphereface", ("m", "lam"), at),
    "normface": scale_step,
    "cosface": lambda at: curve_step("cosface", ("m",), {"s": 64.0}, at),
    "arcface": lambda at: margin_step("arcface", ("m",), at),
    "combined": lambda at: curve_step("combined", ("m1", "m2", "m3"), {"s": 64.0}, at),
    "pull": pull_step,
    "difficulty": difficulty_step,
    "summary": summary_step,
}


def lecture_page():
    ui.open_page(PAGE, FIELDS, ui.t("lecture.nav"))
    step = ui.value(PAGE, "step")
    navigation(step)
    if step == 1 and not ui.presenting():
        st.caption(ui.t("lecture.ui.intro"))
    STEP_VIEWS[STEPS[step - 1]](areas())
    ui.write_url(PAGE, FIELDS)


lecture_page()

"""Decision margins: where each class wins with its margin, for two classes and for C."""
import math

import streamlit as st

from lossviz import ui
from lossviz.export import margins_image
from lossviz.figures.margins import angle_plane_figure, feature_plane_figure
from lossviz.losses import LOSSES, SCALE_PARAMS
from lossviz.margins import MAX_CLASSES, binary_margin, feasibility
from lossviz.urlstate import Field, loss_param_fields

PAGE = "margins"
# CurricularFace re-weights the hard negatives by a t learnt in training: who wins depends on
# t as well as on the curves, so the picture of f(theta_1) against cos(theta_2) would mislead
DRAWN = tuple(name for name, spec in LOSSES.items() if spec.draws_decision_margins)
FIELDS = [
    Field("loss", "arcface", "choice", choices=DRAWN),
    Field("phi", 90.0, "float", 5.0, 180.0),
    Field("classes", 10, "int", 2, MAX_CLASSES),
    # no s: with equal weight norms it scales both sides of the comparison and changes nothing
    *[f for f in loss_param_fields() if f.name.split(".")[1] not in SCALE_PARAMS],
]


def chosen_loss() -> tuple[str, dict]:
    """The loss, its margins and the angle between the weights: what this view needs."""
    with ui.controls():
        loss = st.selectbox(ui.t("margins.loss"), list(DRAWN), key=ui.key(PAGE, "loss"),
                            format_func=ui.loss_titles())
        params = ui.loss_params(PAGE, loss, skip=SCALE_PARAMS)
        st.slider(ui.t("margins.phi"), 5.0, 180.0, step=1.0, key=ui.key(PAGE, "phi"))
    with st.sidebar:
        if any(p.name in SCALE_PARAMS for p in LOSSES[loss].params):
            st.caption(ui.t("margins.no_scale"))
        st.slider(ui.t("margins.classes"), 2, MAX_CLASSES, key=ui.key(PAGE, "classes"))
    return loss, params


def binary_case(loss: str, params: dict):
    phi, view = math.radians(ui.value(PAGE, "phi")), ui.view()
    margin = binary_margin(loss, params, phi)
    plane, angles = st.columns(2)
    plane.plotly_chart(feature_plane_figure(loss, params, phi, view), key=ui.key(PAGE, "plane"),
                       **ui.chart_options())
    angles.plotly_chart(angle_plane_figure(loss, params, phi, view=view),
                        key=ui.key(PAGE, "angles"), **ui.chart_options())
    st.metric(ui.t("margins.gap"), f"{math.degrees(margin):.2f}°", help=ui.t("margins.gap_help"))
    ui.image_downloads(ui.t("margins.download"),
                       lambda fmt: margins_image(loss, params, phi, fmt, view, ui.loss_title(loss)),
                       "decision-margins", ui.key(PAGE, "download"))


def feasibility_report(loss: str, params: dict):
    classes = ui.value(PAGE, "classes")
    st.subheader(ui.t("margins.feasible.heading", classes=classes))
    for column, dim in zip(st.columns(2), (2, 3), strict=True):
        result = feasibility(loss, params, classes, dim)
        with column:
            st.markdown(ui.t("margins.feasible.dim", dim=dim,
                             angle=math.degrees(result.neighbour_angle)))
            if not result.feasible:
                st.error(ui.t("margins.feasible.impossible", dim=dim))
                continue
            text = ui.t("margins.feasible.room", room=math.degrees(result.halfwidth),
                        gap=math.degrees(result.margin))
            if result.tight:
                st.warning(f"{text} {ui.t('margins.feasible.tight')}")
            else:
                st.success(text)


def decision_margins_page():
    ui.open_page(PAGE, FIELDS, ui.t("margins.title"), ui.t("margins.intro"))
    loss, params = chosen_loss()
    binary_case(loss, params)
    feasibility_report(loss, params)
    ui.write_url(PAGE, FIELDS)


decision_margins_page()

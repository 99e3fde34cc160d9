"""Decision margins: where each class wins with its margin, for two classes and for C."""
import math

import streamlit as st

from lossviz import ui
from lossviz.export import margins_image
from lossviz.figures.margins import angle_plane_figure, feature_plane_figure
from lossviz.losses import LOSSES
from lossviz.margins import MAX_CLASSES, binary_margin, feasibility
from lossviz.urlstate import Field, loss_param_fields

PAGE = "margins"
FIELDS = [
    Field("loss", "arcface", "choice", choices=tuple(LOSSES)),
    Field("phi", 90.0, "float", 5.0, 180.0),
    Field("classes", 10, "int", 2, MAX_CLASSES),
    *loss_param_fields(),
]


def sidebar_controls() -> tuple[str, dict]:
    with st.sidebar:
        loss = st.selectbox("Loss", list(LOSSES), key=ui.key(PAGE, "loss"),
                            format_func=ui.loss_title)
        params = ui.loss_params(PAGE, loss)
        st.slider("angle between W₁ and W₂ (degrees)", 5.0, 180.0, step=1.0,
                  key=ui.key(PAGE, "phi"))
        st.slider("classes C (for feasibility)", 2, MAX_CLASSES, key=ui.key(PAGE, "classes"))
    return loss, params


def binary_case(loss: str, params: dict):
    phi = math.radians(ui.value(PAGE, "phi"))
    margin = binary_margin(loss, params, phi)
    st.metric("Gap between the two classes along the arc", f"{math.degrees(margin):.2f}°",
              help="Part of the arc from W₁ to W₂ where neither class wins with its margin.")
    plane, angles = st.columns(2)
    plane.plotly_chart(feature_plane_figure(loss, params, phi), key=ui.key(PAGE, "plane"))
    angles.plotly_chart(angle_plane_figure(loss, params, phi), key=ui.key(PAGE, "angles"))
    ui.image_downloads("Decision margins", lambda fmt: margins_image(loss, params, phi, fmt),
                       "decision-margins", ui.key(PAGE, "download"))
    st.caption("Weights of equal norm: s and the norms scale both sides of the comparison "
               "f(θ₁) > cos θ₂ alike, so the regions depend on the margin only.")


def feasibility_report(loss: str, params: dict):
    classes = ui.value(PAGE, "classes")
    st.subheader(f"Can {classes} classes all keep this margin?")
    for column, dim in zip(st.columns(2), (2, 3), strict=True):
        result = feasibility(loss, params, classes, dim)
        with column:
            st.markdown(f"**{dim}D features** — closest class weights at best "
                        f"{math.degrees(result.neighbour_angle):.1f}° apart")
            if not result.feasible:
                st.error(f"Cannot be met in {dim}D: even a feature lying on its own weight "
                         "loses to the neighbouring class. Lower the margin or add a dimension.")
            else:
                room = math.degrees(result.halfwidth)
                text = (f"Each class wins within {room:.1f}° of its weight; "
                        f"the gap between neighbours is {math.degrees(result.margin):.1f}°.")
                (st.warning if result.tight else st.success)(
                    text + (" Very tight: training will struggle." if result.tight else ""))


def decision_margins_page():
    ui.open_page(PAGE, FIELDS, "Decision margins",
                 "Two class weights W₁ and W₂: where does each class win *with its margin*, "
                 "and how wide is the no-man's land between them?")
    loss, params = sidebar_controls()
    binary_case(loss, params)
    feasibility_report(loss, params)
    ui.write_url(PAGE, FIELDS)


decision_margins_page()

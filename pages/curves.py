"""Target logit: how each loss reshapes the target-class logit as the angle grows."""
import math

import streamlit as st

from lossviz import ui
from lossviz.curves import ARCFACE_PAPER_CURVES, Curve, theta_grid
from lossviz.export import setting_image, target_logit_image
from lossviz.figures.curves import (gradient_figure, non_monotonic_stretches, probability_figure,
                                    target_logit_figure)
from lossviz.losses import LOSSES
from lossviz.urlstate import Field, loss_param_fields

PAGE = "curves"
FIELDS = [
    Field("losses", ["softmax", "cosface", "arcface", "combined"], "multi", choices=tuple(LOSSES)),
    Field("paper", False, "bool"),
    Field("raw", True, "bool"),
    Field("classes", 10, "int", 2, 100_000),
    Field("other", 90.0, "float", 0.0, 180.0),
    Field("norm", 8.0, "float", 1.0, 64.0),
    *loss_param_fields(),
]


def sidebar_controls() -> list[Curve]:
    with st.sidebar:
        chosen = st.multiselect("Losses", list(LOSSES), key=ui.key(PAGE, "losses"),
                                format_func=ui.loss_title)
        st.toggle("Overlay the ArcFace paper's comparison", key=ui.key(PAGE, "paper"))
        st.toggle("Show raw curves (no monotonic fix)", key=ui.key(PAGE, "raw"))
        curves = []
        for name in chosen:
            if LOSSES[name].params:
                with st.expander(ui.loss_title(name), expanded=len(chosen) <= 2):
                    params = ui.loss_params(PAGE, name)
            else:
                params = {}
            curves.append(Curve(ui.loss_title(name), name, params))
    return curves


def setting_controls():
    st.markdown("**Where the other classes sit**")
    st.number_input("number of classes C", 2, 100_000, step=1, key=ui.key(PAGE, "classes"))
    st.slider("angle of the C-1 other classes (degrees)", 0.0, 180.0, step=1.0,
              key=ui.key(PAGE, "other"))
    st.slider("feature norm ||x|| for losses without s", 1.0, 64.0, step=0.5,
              key=ui.key(PAGE, "norm"))


def explain_non_monotonic(curves, theta):
    for curve, start, end in non_monotonic_stretches(curves, theta):
        st.caption(f"Shaded {math.degrees(start):.0f}°–{math.degrees(end):.0f}°: the raw "
                   f"{curve.label} curve rises there, so a feature moving away from its class "
                   "would earn a larger logit; the solid line is the monotonic fix used in training.")


def probability_and_gradient(curves, theta):
    controls, left, right = st.columns([1, 2, 2])
    with controls:
        setting_controls()
    other = math.radians(ui.value(PAGE, "other"))
    setting = (theta, other, ui.value(PAGE, "classes"), ui.value(PAGE, "norm"))
    with left:
        st.plotly_chart(probability_figure(curves, *setting), key=ui.key(PAGE, "probability"))
    with right:
        st.plotly_chart(gradient_figure(curves, *setting), key=ui.key(PAGE, "gradient"))
    ui.image_downloads("Probability and gradient",
                       lambda fmt: setting_image(curves, *setting, fmt),
                       "probability-gradient", ui.key(PAGE, "download-setting"))
    st.caption("With normalized features the logits live in [-s, s], so p(target) can never "
               "exceed e^s / (e^s + (C-1) e^{s cos θ_other}): a small s caps it below 1.")


def target_logit_page():
    ui.open_page(PAGE, FIELDS, "Target logit",
                 "Every loss in the family changes only the target-class logit. "
                 "Drag the margins and watch the curve drop below cos θ.")
    curves = sidebar_controls()
    reference = list(ARCFACE_PAPER_CURVES) if ui.value(PAGE, "paper") else []
    theta, show_raw = theta_grid(), ui.value(PAGE, "raw")
    if curves or reference:
        st.plotly_chart(target_logit_figure(curves, reference, theta, show_raw),
                        key=ui.key(PAGE, "chart"))
        ui.image_downloads("Target logit",
                           lambda fmt: target_logit_image(curves, reference, theta, fmt),
                           "target-logit", ui.key(PAGE, "download"))
    if show_raw:
        explain_non_monotonic(curves, theta)
    if curves:
        probability_and_gradient(curves, theta)
    else:
        st.info("Choose at least one loss in the sidebar to see its probability and gradient.")
    ui.write_url(PAGE, FIELDS)


target_logit_page()

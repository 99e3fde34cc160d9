"""Target logit: how each loss reshapes the target-class logit as the angle grows."""
import math

import streamlit as st

from lossviz import ui
from lossviz.curves import ARCFACE_PAPER_CURVES, Curve, theta_grid
from lossviz.export import setting_image, target_logit_image
from lossviz.figures.curves import (gradient_figure, non_monotonic_stretches, probability_figure,
                                    target_logit_figure)
from lossviz.losses import LOSSES, SCALE_PARAMS
from lossviz.urlstate import Field, loss_param_fields

PAGE = "curves"
FIELDS = [
    Field("losses", ["softmax", "cosface", "arcface", "combined"], "multi", choices=tuple(LOSSES)),
    Field("paper", False, "bool"),
    Field("raw", False, "bool"),
    Field("classes", 10, "int", 2, 100_000),
    Field("other", 90.0, "float", 0.0, 180.0),
    # s changes no target curve, only the probability and gradient: one s for every normalized
    # loss, set beside those two charts, where its effect shows.
    Field("s", 30.0, "float", 1.0, 64.0),
    Field("norm", 8.0, "float", 1.0, 64.0),
    *[f for f in loss_param_fields() if f.name.split(".")[1] not in SCALE_PARAMS],
]


def margin_sliders(name: str, expanded: bool) -> dict:
    """A loss's margin parameters (its s is set beside the probability chart): in an expander
    named after the loss, or side by side, each named, when presenting."""
    if all(p.name in SCALE_PARAMS for p in LOSSES[name].params):
        return {}
    if ui.presenting():
        return ui.loss_params(PAGE, name, skip=SCALE_PARAMS, named=True)
    with st.expander(ui.loss_title(name), expanded=expanded):
        return ui.loss_params(PAGE, name, skip=SCALE_PARAMS)


def with_scale(name: str, margins: dict) -> dict:
    has_scale = any(p.name == "s" for p in LOSSES[name].params)
    return margins | ({"s": ui.value(PAGE, "s")} if has_scale else {})


def chosen_curves() -> list[Curve]:
    """The losses and their margins: the controls this view needs."""
    chosen = st.multiselect(ui.t("curves.losses"), list(LOSSES), key=ui.key(PAGE, "losses"),
                            format_func=ui.loss_titles())
    margins = {name: margin_sliders(name, len(chosen) <= 2) for name in chosen}
    return [Curve(ui.loss_short(name), name, with_scale(name, m)) for name, m in margins.items()]


def overlay_controls():
    with st.sidebar:
        st.toggle(ui.t("curves.paper"), key=ui.key(PAGE, "paper"), help=ui.t("curves.paper_help"))
        st.toggle(ui.t("variants.toggle"), key=ui.key(PAGE, "raw"),
                  help=ui.t("variants.toggle_help"))


def setting_controls(curves: list[Curve]):
    """Where the other classes sit, and the scale: only what changes the two charts beside."""
    st.markdown(f"**{ui.t('curves.setting.heading')}**")
    st.number_input(ui.t("curves.setting.classes"), 2, 100_000, step=1,
                    key=ui.key(PAGE, "classes"))
    st.slider(ui.t("curves.setting.other"), 0.0, 180.0, step=1.0, key=ui.key(PAGE, "other"))
    if any("s" in LOSSES[c.loss].defaults() for c in curves):  # AdaCos's own is sqrt(2) ln(C-1)
        st.slider(ui.t("curves.setting.scale"), 1.0, 64.0, step=0.5, key=ui.key(PAGE, "s"),
                  help=ui.t("curves.setting.scale_help"))
    if any(LOSSES[c.loss].keeps_feature_norm for c in curves):
        st.slider(ui.t("curves.setting.norm"), 1.0, 64.0, step=0.5, key=ui.key(PAGE, "norm"),
                  help=ui.t("curves.setting.norm_help"))


def explain_non_monotonic(curves, theta):
    """Where each drawn curve or variant rises, in words: a jump (under a degree) or a stretch."""
    st.caption(ui.t("variants.explain.in_use"))
    for name, _, start, end in non_monotonic_stretches(curves, theta, view=ui.view()):
        kind = "jumps" if end - start < math.radians(1) else "rises"
        st.caption(ui.t(f"variants.explain.{kind}", start=math.degrees(start),
                        end=math.degrees(end), name=name))


def probability_and_gradient(curves, theta):
    view = ui.view()
    controls, left, right = st.columns([1, 2, 2])
    with controls:
        setting_controls(curves)
    other = math.radians(ui.value(PAGE, "other"))
    setting = (theta, other, ui.value(PAGE, "classes"), ui.value(PAGE, "norm"))
    with left:
        st.plotly_chart(probability_figure(curves, *setting, view=view),
                        key=ui.key(PAGE, "probability"), **ui.chart_options())
    with right:
        st.plotly_chart(gradient_figure(curves, *setting, view=view),
                        key=ui.key(PAGE, "gradient"), **ui.chart_options())
    ui.image_downloads(ui.t("curves.download_setting"),
                       lambda fmt: setting_image(curves, *setting, fmt, view=view),
                       "probability-gradient", ui.key(PAGE, "download-setting"))
    st.caption(ui.t("curves.cap"))


def target_logit_page():
    ui.open_page(PAGE, FIELDS, ui.t("curves.title"), ui.t("curves.intro"))
    figure_area, control_area = ui.stage()
    with control_area:
        curves = chosen_curves()
    overlay_controls()
    reference = list(ARCFACE_PAPER_CURVES) if ui.value(PAGE, "paper") else []
    theta, show_raw, view = theta_grid(), ui.value(PAGE, "raw"), ui.view()
    with figure_area:
        st.plotly_chart(target_logit_figure(curves, reference, theta, show_raw, view),
                        key=ui.key(PAGE, "chart"), **ui.chart_options())
        ui.image_downloads(ui.t("curves.download_main"),
                           lambda fmt: target_logit_image(curves, reference, theta, fmt, view),
                           "target-logit", ui.key(PAGE, "download"))
    if show_raw:
        explain_non_monotonic(curves, theta)
    if any(c.loss == "elasticface" for c in curves):
        st.caption(ui.t("variants.explain.band"))
    for name in ("curricularface", "adacos"):  # what else they change, beyond this curve
        if any(c.loss == name for c in curves):
            st.caption(ui.t(f"state.curves.{name}"))
    for name in ("magface", "adaface"):  # one curve per norm: the band and what it spans
        if any(c.loss == name for c in curves):
            st.caption(ui.t(f"quality.curves.{name}"))
    if any(c.loss == "subcenter" for c in curves):  # the theta its curve is drawn over
        st.caption(ui.t("subcenter.curves"))
    if curves:
        probability_and_gradient(curves, theta)
    else:
        st.info(ui.t("curves.no_loss"))
    ui.write_url(PAGE, FIELDS)


target_logit_page()

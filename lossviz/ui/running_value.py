"""The running value of a loss that carries one (CurricularFace's t, AdaCos's s, AdaFace's norm
statistics): a small line under the playground's curves, and a sentence on what it does now."""
from __future__ import annotations

import streamlit as st

from lossviz import ui
from lossviz.figures.training import running_value_figure
from lossviz.losses import ADACOS_S_RANGE, LOSSES, adacos_fixed_scale, resolve_params


def show_running_value(snap, page: str) -> None:
    """Nothing for a loss without one, or before the run has reported its value."""
    names = LOSSES[snap.config.loss].state
    if not names or names[0] not in snap.loss_state:
        return
    if snap.loss_state.get("norm_std") == 0:  # AdaFace before its first batch: nothing yet
        return
    name, classes = names[0], snap.evaluation.weights.shape[0]
    st.plotly_chart(running_value_figure(snap.history, snap.config.loss, classes, ui.view()),
                    key=ui.key(page, "running-value"), **ui.chart_options())
    value = snap.loss_state[name]
    st.caption(ui.t(f"state.caption.{name}", value=value, fixed=adacos_fixed_scale(classes),
                    classes=classes, **adaface_caption_values(snap)))
    if name == "s" and value >= ADACOS_S_RANGE[1]:  # why it climbed there, on this data
        st.caption(ui.t("state.caption.s_capped", cap=ADACOS_S_RANGE[1]))


def adaface_caption_values(snap) -> dict:
    """AdaFace's std, and std / h, the norm difference from the mean that makes n = +-1."""
    if snap.config.loss != "adaface":
        return {}
    std = snap.loss_state["norm_std"]
    return {"std": std, "width": std / resolve_params("adaface", snap.params)["h"]}

"""The playground's "one digit, taken apart" panel, and the student's own digit (drawn on a
canvas or uploaded) as a new point on the feature figure.

What the playground hands over is a DigitPanel: the page's name, a key that changes whenever
the weights do (a snapshot's generation and step), a way to get the current weights as
checkpoint bytes, the data set, and the loss and parameters the page shows now (a snapshot's:
they may be newer than the weights' own, since a live run takes them on at its next step).
The weights are read from the bytes at most once per key, and only when a digit is actually
taken apart or drawn.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
import streamlit as st
from streamlit_drawable_canvas import st_canvas

from lossviz import ui
from lossviz.anatomy import (Anatomy, DigitModel, model_from_checkpoint, predicted_class,
                             take_apart_with, under_every_loss)
from lossviz.data import Dataset
from lossviz.digits import MAX_BYTES, digit_from_bytes
from lossviz.figures.digit import family_figure, probability_figure, push_figure, with_your_digit
from lossviz.i18n import LossvizError, Message

CANVAS_SIZE = 224  # 8 screen pixels per MNIST pixel: fits a phone's width, and a finger
STROKE = 20  # about 2 MNIST pixels once the drawing is scaled to 20x20, like a pen stroke
PICKED, DRAWN = "picked", "drawn"


@dataclass(frozen=True)
class DigitPanel:
    page: str
    model_key: tuple  # changes whenever the weights do: (generation, step) of a snapshot
    checkpoint: Callable[[], bytes]  # the current weights, as lossviz.checkpoint writes them
    dataset: Dataset
    loss: str  # the loss and parameters in force now (a snapshot's config.loss and params)
    params: dict

    def _key(self, name: str) -> str:
        return ui.key(self.page, f"digit-{name}")

    def model(self) -> DigitModel:
        """The current network, read from checkpoint bytes at most once per model_key, under
        the page's loss and parameters."""
        cached = st.session_state.get(self._key("model"))
        if cached is None or cached[0] != self.model_key:
            cached = (self.model_key, model_from_checkpoint(self.checkpoint(), self.dataset))
            st.session_state[self._key("model")] = cached
        return replace(cached[1], loss=self.loss, params=self.params)

    def drawn(self) -> np.ndarray | None:
        """The student's digit, (28, 28) uint8 as MNIST has them, or None."""
        return st.session_state.get(self._key("drawn"))

    def on_charts(self, figures: tuple) -> tuple:
        """The feature figures (raw and circle in 2D, the sphere in 3D), with the student's
        digit as a new point when there is one. Made once per figures, model and drawing:
        copying a figure of 2,000 points costs 30-40 ms, and the page refreshes twice a second
        while training."""
        drawn = self.drawn()
        if drawn is None:
            return figures
        made_for = (self.model_key, drawn.tobytes(), ui.language())
        cached = st.session_state.get(self._key("chart"))
        if cached is None or cached[0] is not figures or cached[1] != made_for:
            feature = self.model().features_of(drawn[None])[0]
            cached = (figures, made_for, with_your_digit(figures, feature, ui.view()))
            st.session_state[self._key("chart")] = cached
        return cached[2]

    def show(self, picked: int | None):
        """The panel: the drawing inputs, and the picked point or the drawn digit taken apart.
        picked: index into the data set's test digits (the point clicked on the chart)."""
        st.subheader(ui.t("digit.panel.title"))
        inputs, result = st.columns([1, 2], gap="medium")
        with inputs:
            self._inputs()
        with result:
            focus = self._focus(picked)
            if focus is None:
                st.info(ui.t("digit.panel.empty"))
                return
            anatomy, model = self._take_apart(focus, picked)
            self._summary(anatomy, model)
        self._family(anatomy, model)

    # ---- inputs ------------------------------------------------------------------------------
    def _inputs(self):
        st.space("medium")  # the canvas's toolbar floats above it, over whatever is there
        st_canvas(stroke_width=STROKE, stroke_color="#ffffff", background_color="#000000",
                  width=CANVAS_SIZE, height=CANVAS_SIZE, drawing_mode="freedraw",
                  return_image_data=True, key=self._key("canvas"), on_change=self._take_drawing)
        st.caption(ui.t("digit.input.draw"))
        st.pills(ui.t("digit.input.meant"), range(len(self.dataset.class_names)),
                 format_func=lambda c: self.dataset.class_names[c], key=self._key("meant"),
                 wrap=True)  # in a column it would scroll sideways and hide the last digits
        # Streamlit's own limit sits above ours, so that a file somewhat too big gets our
        # message (in the reader's language) instead of the uploader's
        st.file_uploader(ui.t("digit.input.upload"), type=["png", "jpg", "jpeg"],
                         max_upload_size=2 * MAX_BYTES // 2**20, key=self._key("upload"),
                         on_change=self._take_upload)
        message = st.session_state.get(self._key("message"))
        if message is not None:
            st.warning(ui.say(message), icon="⚠️")
        drawn = self.drawn()
        if drawn is not None:
            st.image(np.kron(drawn, np.ones((4, 4), dtype=np.uint8)),
                     caption=ui.t("digit.input.seen"))

    def _take_drawing(self):
        # streamlit-drawable-canvas 0.13 keeps the drawing as a PNG data URL under
        # drawing.data; the browser suite draws on the real canvas and reads it back
        state = st.session_state.get(self._key("canvas")) or {}
        url = (state.get("drawing") or {}).get("data")
        if not url:
            return
        try:
            digit = digit_from_bytes(base64.b64decode(url.split(",", 1)[1]))
        except LossvizError:  # an empty canvas: the student wiped it to start again
            st.session_state[self._key("drawn")] = None
            st.session_state[self._key("message")] = Message("digit.input.empty_canvas")
            return
        self._keep(digit)

    def _take_upload(self):
        upload = st.session_state.get(self._key("upload"))
        if upload is None:
            return
        try:
            digit = digit_from_bytes(upload.getvalue())
        except LossvizError as err:
            st.session_state[self._key("message")] = Message(
                "digit.input.unchanged", {"name": upload.name, "message": err.message})
            return
        self._keep(digit)

    def _keep(self, digit: np.ndarray):
        st.session_state[self._key("drawn")] = digit
        st.session_state[self._key("message")] = None
        st.session_state[self._key("focus")] = DRAWN

    # ---- which digit, taken apart ------------------------------------------------------------
    def _focus(self, picked: int | None) -> str | None:
        """The digit the student touched last: a newly clicked point, or a new drawing. When
        there are both, a switch lets them go back and forth."""
        if picked is not None and picked >= len(self.dataset.test_labels):
            picked = None
        if picked is not None and picked != st.session_state.get(self._key("seen")):
            st.session_state[self._key("seen")] = picked
            st.session_state[self._key("focus")] = PICKED
        has = {PICKED: picked is not None, DRAWN: self.drawn() is not None}
        choices = [name for name, present in has.items() if present]
        if not choices:
            return None
        if st.session_state.get(self._key("focus")) not in choices:
            st.session_state[self._key("focus")] = choices[0]
        if len(choices) > 1:
            names = {PICKED: ui.t("digit.panel.show_picked", index=picked),
                     DRAWN: ui.t("digit.panel.show_drawn")}
            st.segmented_control(ui.t("digit.panel.show"), choices, format_func=names.get,
                                 key=self._key("focus"), required=True)
        return st.session_state[self._key("focus")]

    def _take_apart(self, focus: str, picked: int | None) -> tuple[Anatomy, DigitModel]:
        model = self.model()
        names = self.dataset.class_names
        if focus == PICKED:
            image, label = self.dataset.test_images[picked], int(self.dataset.test_labels[picked])
            feature = model.features_of(image[None])[0]
            anatomy = take_apart_with(model, feature, label)
            st.write(ui.t("digit.panel.picked", index=picked, label=names[label],
                          predicted=names[anatomy.prediction], step=model.step))
            return anatomy, model
        feature = model.features_of(self.drawn()[None])[0]
        meant = st.session_state.get(self._key("meant"))
        label = predicted_class(model, feature) if meant is None else int(meant)
        anatomy = take_apart_with(model, feature, label)
        if meant is None:
            st.write(ui.t("digit.panel.drawn_guess", label=names[label], step=model.step))
        else:
            st.write(ui.t("digit.panel.drawn", label=names[label],
                          predicted=names[anatomy.prediction], step=model.step))
        return anatomy, model

    def _summary(self, a: Anatomy, model: DigitModel):
        names = self.dataset.class_names
        before, after = a.plain_logits[a.label], a.logits[a.label]
        metrics = st.columns(4)
        metrics[0].metric(ui.t("digit.panel.norm"), f"{a.norm:.3g}")
        metrics[1].metric(ui.t("digit.panel.own_angle"), f"{a.angles[a.label]:.1f}°")
        metrics[2].metric(ui.t("digit.panel.target_logit"), f"{after:.2f}",
                          delta=ui.t("digit.panel.margin_change", change=after - before),
                          delta_color="off")
        metrics[3].metric(ui.t("digit.panel.loss"), f"{a.loss_value:.4f}")
        st.caption(ui.t("digit.panel.target_steps", label=names[a.label], cos=a.cos[a.label],
                        angle=a.angles[a.label], term=a.target_term, before=before,
                        after=after))
        view = ui.view()
        st.plotly_chart(push_figure(a, model.weights, names, view), key=self._key("push-chart"))
        size = float(np.linalg.norm(a.tangent_push))
        st.caption(ui.t("digit.panel.push", size=size, own=names[a.label],
                        other=names[a.closest_other]) if size > 1e-9
                   else ui.t("digit.panel.no_push"))
        st.plotly_chart(probability_figure(a, names, view), key=self._key("probabilities"))
        with st.expander(ui.t("digit.panel.numbers")):
            st.dataframe(self._number_table(a), hide_index=True)

    def _number_table(self, a: Anatomy) -> dict:
        roles = {(True, False): ui.t("digit.table.target"),
                 (False, True): ui.t("digit.table.predicted"),
                 (True, True): ui.t("digit.table.both"), (False, False): ""}
        classes = range(len(a.cos))
        return {ui.t("digit.table.class"): list(self.dataset.class_names),
                ui.t("digit.table.role"): [roles[c == a.label, c == a.prediction] for c in classes],
                ui.t("digit.table.cos"): np.round(a.cos, 4),
                ui.t("digit.table.angle"): np.round(a.angles, 2),
                ui.t("digit.table.plain"): np.round(a.plain_logits, 3),
                ui.t("digit.table.logit"): np.round(a.logits, 3),
                ui.t("digit.table.probability"): np.round(a.probabilities, 4)}

    def _family(self, a: Anatomy, model: DigitModel):
        st.markdown(f"**{ui.t('digit.panel.family_title')}**")
        st.caption(ui.t("digit.panel.family_fixed"))
        rows = under_every_loss(model, a.feature, a.label)
        st.plotly_chart(family_figure(rows, model.loss, ui.view()), key=self._key("family"))
        if a.prediction == a.label:
            st.caption(ui.t("digit.panel.correct_pays"))

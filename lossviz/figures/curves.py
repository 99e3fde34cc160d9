"""Figures of the target-logit page."""
from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from lossviz.curves import (Curve, has_raw_variant, loss_gradient, rising_intervals,
                            target_curve, target_probability)
from lossviz.figures.style import (LOSS_COLORS, REFERENCE_COLORS, WARN_FILL, base_layout,
                                   degree_axis)


def curve_styles(user: list[Curve], reference: list[Curve]):
    """(curve, color, dash): the user's curves solid in their loss color, references dotted."""
    mine = [(c, LOSS_COLORS[c.loss], "solid") for c in user]
    ref = [(c, REFERENCE_COLORS[i % len(REFERENCE_COLORS)], "dot") for i, c in enumerate(reference)]
    return mine + ref


def _line(theta, values, name, color, dash, width=3):
    return go.Scatter(x=np.degrees(theta), y=values, name=name, mode="lines",
                      line=dict(color=color, dash=dash, width=width))


def non_monotonic_stretches(curves: list[Curve], theta: np.ndarray) -> list[tuple]:
    """(curve, start, end) for each stretch where a raw curve rises with the angle."""
    found = []
    for curve in curves:
        if has_raw_variant(curve.loss):
            raw = target_curve(curve, theta, raw=True)
            found += [(curve, a, b) for a, b in rising_intervals(theta, raw)]
    return found


def target_logit_figure(user: list[Curve], reference: list[Curve], theta: np.ndarray,
                        show_raw: bool = True) -> go.Figure:
    """The user's curves (with their raw variants and rising stretches shaded when show_raw)
    and reference curves, dotted, as training uses them."""
    fig = go.Figure()
    for curve, color, dash in curve_styles(user, reference):
        fig.add_trace(_line(theta, target_curve(curve, theta), curve.label, color, dash))
    if show_raw:
        _add_raw_variants(fig, user, theta)
    fig.update_yaxes(title="target logit f(θ) (before scaling)")
    return degree_axis(base_layout(fig, "Target logit against the angle to the own-class weight",
                                   height=520))


def _add_raw_variants(fig: go.Figure, curves: list[Curve], theta: np.ndarray):
    for curve in curves:
        if has_raw_variant(curve.loss):
            raw = target_curve(curve, theta, raw=True)
            if not np.allclose(raw, target_curve(curve, theta)):
                fig.add_trace(_line(theta, raw, f"{curve.label} (raw)", LOSS_COLORS[curve.loss],
                                    "dash", width=2))
    for _, start, end in non_monotonic_stretches(curves, theta):
        fig.add_vrect(x0=math.degrees(start), x1=math.degrees(end), fillcolor=WARN_FILL,
                      line_width=0, layer="below")


def _setting_figure(user: list[Curve], theta: np.ndarray, values, title: str,
                    y_axis: dict) -> go.Figure:
    """One line per curve of values(curve) against theta_y; the legend is the main figure's."""
    fig = go.Figure([_line(theta, values(curve), curve.label, color, dash)
                     for curve, color, dash in curve_styles(user, [])])
    fig.update_yaxes(**y_axis)
    fig.update_layout(showlegend=False)
    return degree_axis(base_layout(fig, title, height=380), "θ_y (degrees)")


def probability_figure(user: list[Curve], theta: np.ndarray, other_angle: float,
                       num_classes: int, feature_norm: float) -> go.Figure:
    return _setting_figure(
        user, theta,
        lambda c: target_probability(c, theta, other_angle, num_classes, feature_norm),
        "Target probability", dict(title="p(target)", range=[0, 1.02]))


def gradient_figure(user: list[Curve], theta: np.ndarray, other_angle: float,
                    num_classes: int, feature_norm: float) -> go.Figure:
    return _setting_figure(
        user, theta, lambda c: loss_gradient(c, theta, other_angle, num_classes, feature_norm),
        "Gradient magnitude", dict(title="|dL/dθ_y|", rangemode="tozero"))

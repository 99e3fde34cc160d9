"""Figures of the target-logit page. Every line carries its name at its right end (no legend
below the fold) and its loss's own color and dash (style.LOSS_STYLES)."""
from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from lossviz.curves import (NORM_BAND_EDGES, Curve, Variant, loss_gradient, margin_band,
                            rising_intervals, target_curve, target_probability, variants)
from lossviz.losses import resolve_params
from lossviz.figures.style import (CLASS_SYMBOLS, LOSS_STYLES, WARN_FILL, LineStyle, View,
                                   degree_axis, end_labels, layout, translucent)

def curve_styles(user: list[Curve], reference: list[Curve]):
    """(curve, style, marker): the user's curves in their loss's style; reference curves (the
    paper's) dotted, each with its own marker shape, since several share a loss."""
    mine = [(c, LOSS_STYLES[c.loss], None) for c in user]
    ref = [(c, LineStyle(LOSS_STYLES[c.loss].color, "dot"), CLASS_SYMBOLS[i % len(CLASS_SYMBOLS)])
           for i, c in enumerate(reference)]
    return mine + ref


def with_baseline(user: list[Curve], view: View) -> list[Curve]:
    """The curves with Softmax's cos θ first, unless Softmax is among them already: every
    margin is read as how far a curve drops below it."""
    if any(c.loss == "softmax" for c in user):
        return user
    return [Curve(view.t("figures.curves.baseline"), "softmax", {}), *user]


def _line(theta, values, name, style: LineStyle, view: View, marker=None, width=None):
    sizes = view.sizes
    trace = go.Scatter(x=np.degrees(theta), y=values, name=name, mode="lines",
                       line=dict(color=style.color, dash=style.dash, width=width or sizes.line))
    if marker:  # a few markers along the line: maxdisplayed thins them out
        trace.update(mode="lines+markers", marker=dict(symbol=marker, size=sizes.marker,
                                                       maxdisplayed=10, color=style.color))
    return trace


def _labelled(traces: list[go.Scatter], title: str, y_axis: dict, height: int,
              view: View) -> dict:
    """A layout whose y range holds every line and whose right margin holds their names."""
    values = np.concatenate([np.asarray(t.y, dtype=float) for t in traces])
    low, high = float(np.nanmin(values)), float(np.nanmax(values))
    pad = 0.06 * (high - low or 1.0)
    y_range = (low - pad, high + pad)
    ends = [(t.name, float(t.y[-1]), t.line.color) for t in traces]
    plot_height = view.height(height) - 4 * view.sizes.title
    notes, margin = end_labels(ends, y_range, plot_height, view)
    return layout(title, height, view, showlegend=False, annotations=notes,
                  margin=dict(r=margin), yaxis=dict(range=list(y_range), **y_axis))


def non_monotonic_stretches(curves: list[Curve], theta: np.ndarray,
                            view: View = View()) -> list[tuple]:
    """(label, loss, start, end) for each stretch where a curve, or one of its variants, rises
    with the angle (a jump up counts: the easy margin's at 90 degrees)."""
    found = []
    for curve in curves:
        drawn = [(curve.label, target_curve(curve, theta))]
        drawn += [(_variant_name(curve, v, view), target_curve(v.curve, theta, v.raw))
                  for v in variants(curve)]
        found += [(label, curve.loss, a, b) for label, values in drawn
                  for a, b in rising_intervals(theta, values)]
    return found


def _variant_name(curve: Curve, variant: Variant, view: View) -> str:
    return view.t("variants.figure.name", name=curve.label,
                  variant=view.t(f"variants.short.{variant.name}"))


# each variant drawn thinner than the curve in use, in its loss's colour, told apart by its
# dash and its markers (never by colour alone)
_VARIANT_LOOKS = {"raw": ("dot", "x"), "easy": ("dashdot", "triangle-up"),
                  "threshold": ("dash", "square"), "cos": ("dot", "x"), "psi": ("dash", "square")}


def _variant_traces(curves: list[Curve], theta: np.ndarray, view: View) -> list[go.Scatter]:
    traces = []
    for curve in curves:
        for variant in variants(curve):
            values = target_curve(variant.curve, theta, variant.raw)
            if np.allclose(values, target_curve(curve, theta)):
                continue
            dash, marker = _VARIANT_LOOKS[variant.name]
            style = LineStyle(LOSS_STYLES[curve.loss].color, dash)
            traces.append(_line(theta, values, _variant_name(curve, variant, view), style, view,
                                marker=marker, width=view.sizes.line * 0.6))
    return traces


def _band(start: float, end: float) -> tuple[float, float]:
    """A stretch in degrees, widened to 2 degrees around its middle so that a jump shows too."""
    low, high = math.degrees(start), math.degrees(end)
    if high - low >= 2.0:
        return low, high
    middle = (low + high) / 2
    return middle - 1.0, middle + 1.0


def _rising_bands(curves: list[Curve], theta: np.ndarray, view: View) -> list[dict]:
    """A faint band where a curve or a variant rises, named in words (the band's tint alone is
    too faint to carry meaning on a projector)."""
    bands = []
    for _, loss, start, end in non_monotonic_stretches(curves, theta, view):
        x0, x1 = _band(start, end)
        bands.append(dict(type="rect", xref="x", yref="paper", x0=x0, x1=x1, y0=0, y1=1,
                          fillcolor=WARN_FILL, line_width=0, layer="below",
                          label=dict(text=view.t("variants.figure.rises"), textangle=-90,
                                     textposition="middle center",
                                     font=dict(size=view.sizes.text,
                                               color=LOSS_STYLES[loss].color))))
    return bands


def _turn_marks(curves: list[Curve], view: View) -> list[dict]:
    """A vertical line at theta = pi - m for each ArcFace curve: where its variants part."""
    marks = []
    for curve in curves:
        if curve.loss == "arcface":
            turn = math.degrees(math.pi - resolve_params("arcface", curve.params)["m"])
            marks.append(dict(type="line", xref="x", yref="paper", x0=turn, x1=turn, y0=0,
                              y1=1, line=dict(color=LOSS_STYLES["arcface"].color, width=1.5,
                                              dash="dot"),
                              # level text, inside the plot, left of the line: along the
                              # line it ran out of the top of a phone-sized figure
                              label=dict(text=view.t("variants.figure.turn", degrees=turn),
                                         textposition="end", textangle=0, xanchor="right",
                                         yanchor="top",
                                         font=dict(size=view.sizes.text,
                                                   color=LOSS_STYLES["arcface"].color))))
    return marks


def _band_traces(curves: list[Curve], theta: np.ndarray, view: View) -> list[go.Scatter]:
    """For a random margin, the band its curves fall in (95%), for a norm-dependent one the
    band of its curves over every norm, in the loss's hue, behind the line of the mean margin
    (middle norm); named, so that it is not told by its tint alone."""
    traces = []
    for curve in curves:
        band = margin_band(curve, theta)
        if band is None:
            continue
        upper, lower = band
        hue = LOSS_STYLES[curve.loss].color
        fill = translucent(hue, 0.18)
        name = view.t("quality.band" if curve.loss in NORM_BAND_EDGES else
                      "variants.figure.band", name=curve.label)
        edge = dict(mode="lines", line=dict(width=0), showlegend=False, hoverinfo="skip")
        traces += [go.Scatter(x=np.degrees(theta), y=upper, name=name, **edge),
                   go.Scatter(x=np.degrees(theta), y=lower, name=name, fill="tonexty",
                              fillcolor=fill, **edge)]
    return traces


def target_logit_figure(user: list[Curve], reference: list[Curve], theta: np.ndarray,
                        show_raw: bool = False, view: View = View()) -> go.Figure:
    """Softmax's cos θ, the user's curves as training uses them, reference curves (dotted,
    with markers) and, when show_raw, the raw ArcFace/combined curves with the stretches where
    they rise."""
    traces = [_line(theta, target_curve(curve, theta), curve.label, style, view, marker)
              for curve, style, marker in curve_styles(with_baseline(user, view), reference)]
    if show_raw:
        traces += _variant_traces(user, theta, view)
    fig_layout = _labelled(traces, view.t("figures.curves.title"),
                           dict(title=dict(text=view.t("figures.curves.y_axis"))), 520, view)
    bands = _band_traces(user, theta, view)
    if bands:  # behind the lines, unlabelled at their end (the page names them), within range
        low, high = fig_layout["yaxis"]["range"]
        edges = np.concatenate([np.asarray(t.y, dtype=float) for t in bands])
        fig_layout["yaxis"]["range"] = [min(low, float(edges.min())), max(high, float(edges.max()))]
        traces = bands + traces
    if show_raw:
        fig_layout["shapes"] = _rising_bands(user, theta, view) + _turn_marks(user, view)
    fig = go.Figure(traces, fig_layout)
    return degree_axis(fig, view.t("figures.curves.x_axis"))


def _setting_figure(user: list[Curve], theta: np.ndarray, values, title: str, y_axis: dict,
                    view: View) -> go.Figure:
    """One line per curve of values(curve) against theta_y, each named at its end."""
    traces = [_line(theta, values(curve), curve.label, style, view)
              for curve, style, _ in curve_styles(user, [])]
    fig = go.Figure(traces, _labelled(traces, title, y_axis, 400, view))
    return degree_axis(fig, view.t("figures.curves.setting_x_axis"))


def probability_figure(user: list[Curve], theta: np.ndarray, other_angle: float,
                       num_classes: int, feature_norm: float, view: View = View()) -> go.Figure:
    return _setting_figure(
        user, theta,
        lambda c: target_probability(c, theta, other_angle, num_classes, feature_norm),
        view.t("figures.curves.probability"),
        dict(title=dict(text=view.t("figures.curves.probability_axis"))), view)


def gradient_figure(user: list[Curve], theta: np.ndarray, other_angle: float,
                    num_classes: int, feature_norm: float, view: View = View()) -> go.Figure:
    return _setting_figure(
        user, theta, lambda c: loss_gradient(c, theta, other_angle, num_classes, feature_norm),
        view.t("figures.curves.gradient"),
        dict(title=dict(text=view.t("figures.curves.gradient_axis")), rangemode="tozero"), view)

"""Figures of one digit taken apart (lossviz.anatomy): its probabilities, the push of the loss's
gradient on the circle or sphere, the same digit under every loss, and the student's own digit
as a new point on the playground's feature figure. Pure: numbers in, go.Figure out."""
from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from lossviz.anatomy import Anatomy
from lossviz.figures.style import CLASS_COLORS, LOSS_STYLES, View, layout, on_right, two_panels
from lossviz.figures.training import weight_traces
from lossviz.metrics import unit_rows

YOUR_DIGIT = "your-digit"  # the trace's meta: tests and the browser find the point by it
ARROW_LENGTH = 0.55  # on the unit circle/sphere: long enough to read from the back row
INK = "#111111"
BAR_GREY = "#8c8c8c"  # the other classes' bars: the target's colour and hatching stand out


def probability_figure(anatomy: Anatomy, class_names, view: View = View()) -> go.Figure:
    """Softmax probabilities with the margin (what the loss pays for) as bars, the target's
    hatched and in its class colour, its name marked under the axis; without the margin (what
    predicts) as markers."""
    classes = list(class_names)
    target = anatomy.label
    is_target = [c == target for c in range(len(classes))]
    bars = go.Bar(
        x=classes, y=anatomy.probabilities, name=view.t("digit.figures.with_margin"),
        marker=dict(color=[CLASS_COLORS[c % 10] if hit else BAR_GREY
                           for c, hit in enumerate(is_target)],
                    line=dict(color=INK, width=[3 if hit else 0 for hit in is_target]),
                    pattern=dict(shape=["/" if hit else "" for hit in is_target], fgcolor=INK)),
        text=[f"{p:.0%}" if p >= 0.01 else "" for p in anatomy.probabilities],
        textposition="outside", cliponaxis=False,
        hovertemplate="%{x}: %{y:.4f}<extra></extra>")
    plain = np.exp(anatomy.plain_logits - anatomy.plain_logits.max())
    markers = go.Scatter(
        x=classes, y=plain / plain.sum(), mode="markers", name=view.t("digit.figures.no_margin"),
        marker=dict(symbol="diamond", size=11, color="white", line=dict(color=INK, width=2)),
        hovertemplate="%{x}: %{y:.4f}<extra></extra>")
    ticks = [f"<b>{name}</b><br>{view.t('digit.figures.target')}" if hit else name
             for name, hit in zip(classes, is_target, strict=True)]
    spec = layout(view.t("digit.figures.probabilities", loss=anatomy.loss_value), height=380,
                  bargap=0.25, xaxis=dict(type="category", tickvals=classes, ticktext=ticks),
                  yaxis=dict(title=view.t("digit.figures.probability"), range=[0, 1.12],
                             tickformat=".0%"))
    spec["legend"]["y"] = -0.25  # below the target's two-line tick label
    return go.Figure([bars, markers], spec)


def _push_tip(anatomy: Anatomy) -> np.ndarray | None:
    """Where the arrow ends: ARROW_LENGTH along the push, from the feature's point on the
    unit circle/sphere. None when the loss no longer moves the feature sideways."""
    push = anatomy.tangent_push
    length = float(np.linalg.norm(push))
    if length < 1e-9:
        return None
    return anatomy.feature / anatomy.norm + ARROW_LENGTH * push / length


def _arrow_2d(start, tip) -> dict:
    return dict(x=tip[0], y=tip[1], ax=start[0], ay=start[1], xref="x", yref="y", axref="x",
                ayref="y", showarrow=True, arrowhead=2, arrowsize=1.3, arrowwidth=4,
                arrowcolor=INK, text="")


def _arrow_3d(start, tip, view: View) -> list:
    direction = tip - start
    return [go.Scatter3d(x=[start[0], tip[0]], y=[start[1], tip[1]], z=[start[2], tip[2]],
                         mode="lines", line=dict(color=INK, width=8), hoverinfo="skip",
                         name=view.t("digit.figures.push"), showlegend=True),
            go.Cone(x=[tip[0]], y=[tip[1]], z=[tip[2]], u=[direction[0]], v=[direction[1]],
                    w=[direction[2]], sizemode="absolute", sizeref=0.18, anchor="tip",
                    showscale=False, colorscale=[[0, INK], [1, INK]], hoverinfo="skip")]


def _digit_point(point, view: View, three_d: bool, text_key: str = "digit.figures.this_digit",
                 fill: str = INK):
    coords = dict(x=[point[0]], y=[point[1]])
    if three_d:
        coords["z"] = [point[2]]
    outline = "white" if fill == INK else INK
    marker = dict(symbol="diamond" if three_d else "star", size=11 if three_d else 22,
                  color=fill, line=dict(color=outline, width=3 if three_d else 2))
    trace_type = go.Scatter3d if three_d else go.Scatter
    return trace_type(**coords, mode="markers+text", text=[view.t(text_key)],
                      textposition="top center", textfont=dict(size=15, color=INK),
                      marker=marker, name=view.t(text_key), showlegend=False,
                      hoverinfo="skip")


def _sphere_mesh(resolution: int = 24) -> go.Surface:
    polar = np.linspace(0, math.pi, resolution)
    azimuth = np.linspace(0, 2 * math.pi, 2 * resolution)
    p, a = np.meshgrid(polar, azimuth, indexing="ij")
    return go.Surface(x=np.sin(p) * np.cos(a), y=np.sin(p) * np.sin(a), z=np.cos(p),
                      opacity=0.15, showscale=False, colorscale=[[0, "#999999"], [1, "#999999"]],
                      hoverinfo="skip")


def _camera_eye(point: np.ndarray, tip: np.ndarray | None) -> np.ndarray:
    """Where the 3D camera stands: in front of the feature, tilted off it sideways to the arrow.
    The arrow (tangent to the sphere) then lies flat in the screen instead of pointing at the
    viewer, and the weights' spokes, which all start at the centre, do not hide the feature."""
    if tip is None:
        return 1.5 * point
    aside = np.cross(point, tip - point)
    direction = point + 0.6 * aside / max(float(np.linalg.norm(aside)), 1e-12)
    return 1.5 * direction / np.linalg.norm(direction)


def push_figure(anatomy: Anatomy, weights, class_names, view: View = View()) -> go.Figure:
    """The feature's direction on the unit circle (2D) or sphere (3D) among the class weights,
    and an arrow where the loss's gradient pushes it: toward its own weight, away from the
    closest other one."""
    three_d = anatomy.feature.shape[0] == 3
    point = anatomy.feature / max(anatomy.norm, 1e-12)
    tip = _push_tip(anatomy)
    spec = layout(view.t("digit.figures.push_title"), height=420, showlegend=False)
    spec["margin"] = dict(l=10, r=10, t=50, b=10)  # no axes, no legend: all room to the picture
    if three_d:
        axis = dict(range=[-1.45, 1.45], visible=False)
        spec.update(uirevision="digit-push", scene=dict(
            xaxis=axis, yaxis=axis, zaxis=axis, aspectmode="cube",
            camera=dict(eye=dict(zip("xyz", _camera_eye(point, tip))))))
        return go.Figure(
            [_sphere_mesh(), *weight_traces(weights, 1.3, class_names, three_d=True),
             _digit_point(point * 1.02, view, three_d=True),
             *([] if tip is None else _arrow_3d(point, tip, view))], spec)
    angles = np.linspace(0, 2 * math.pi, 241)
    circle = go.Scatter(x=np.cos(angles), y=np.sin(angles), mode="lines", hoverinfo="skip",
                        line=dict(color="#999999", width=1.5), showlegend=False)
    axis = dict(range=[-1.6, 1.6], visible=False)
    spec.update(annotations=[] if tip is None else [_arrow_2d(point, tip)], xaxis=axis,
                yaxis=dict(axis, scaleanchor="x"))
    return go.Figure(
        [circle, *weight_traces(weights, 1.2, class_names), _digit_point(point, view, False)],
        spec)


def family_figure(rows: tuple[Anatomy, ...], current: str, view: View = View()) -> go.Figure:
    """The same digit under every loss: its loss (left) and its target probability (right),
    one bar per loss in that loss's colour; the playground's loss is marked."""
    names = [view.t(f"losses.{a.loss}.title") + (" ◀" if a.loss == current else "") for a in rows]
    colors = [LOSS_STYLES[a.loss].color for a in rows]
    loss = go.Bar(y=names, x=[a.loss_value for a in rows], orientation="h", marker_color=colors,
                  text=[f"{a.loss_value:.3g}" for a in rows], textposition="outside",
                  cliponaxis=False, showlegend=False, hovertemplate="%{y}: %{x:.4f}<extra></extra>")
    probability = go.Bar(y=names, x=[a.target_probability for a in rows], orientation="h",
                         marker_color=colors, showlegend=False, cliponaxis=False,
                         text=[f"{a.target_probability:.1%}" for a in rows],
                         textposition="outside", hovertemplate="%{y}: %{x:.4f}<extra></extra>")
    panels = two_panels((view.t("digit.figures.family_loss"),
                         view.t("digit.figures.family_probability")), gap=0.12)
    longest = max(a.loss_value for a in rows)
    panels["xaxis"].update(range=[0, 1.25 * max(longest, 1e-3)])
    panels["yaxis"].update(autorange="reversed", automargin=True, tickfont=dict(size=14))
    panels["xaxis2"].update(range=[0, 1.3], tickformat=".0%")
    panels["yaxis2"].update(autorange="reversed", showticklabels=False)
    spec = layout("", height=380, **panels)
    spec["margin"] = dict(l=20, r=20, t=50, b=40)  # the loss names are the left margin
    return go.Figure([loss, *on_right([probability])], spec)


def with_your_digit(figures: tuple, feature, view: View = View()) -> tuple:
    """The playground's feature figures (playground_figures' "features": the raw features and
    the unit circle in 2D, the sphere in 3D) with the student's digit added to each as a new,
    labelled point. Copies: the figures may be cached."""
    feature = np.asarray(feature, dtype=float)
    unit = unit_rows(feature[None])[0]
    # white inside a dark outline: nothing else on that figure looks like it (the classes are
    # coloured, the misclassified digits black crosses)
    if feature.shape[0] == 3:
        points = [_digit_point(unit * 1.04, view, True, "digit.figures.your_digit", "white")]
    else:
        points = [_digit_point(at, view, False, "digit.figures.your_digit", "white")
                  for at in (feature, unit)]
    marked = tuple(go.Figure(figure) for figure in figures)
    for figure, point in zip(marked, points, strict=True):
        figure.add_trace(point.update(meta=YOUR_DIGIT))
    return marked

"""Figures of the playground: features, weights and regions in 2D or on the sphere, training
curves and angle histograms. Every builder takes a snapshot's numbers and returns a figure."""
from __future__ import annotations

import math

import numpy as np
import torch
import plotly.graph_objects as go

from lossviz.figures.style import (CLASS_COLORS, GAP_COLOR, LOSS_STYLES, MARKER_OUTLINE,
                                   TEXT_COLOR, View, band_trace, class_symbols, layout, on_right,
                                   readable_on, steady_margins, two_panels)
from lossviz.losses import LOSSES, adacos_fixed_scale, class_cosines, target_from_cos
from lossviz.metrics import own_and_nearest_other, unit_rows


def stable_limit(previous: float | None, data_max: float) -> float:
    """An axis limit that grows in steps and shrinks only when the data has shrunk a lot,
    so points move on a still axis instead of the axis jumping every refresh."""
    if not math.isfinite(data_max):  # a diverged run: nothing to measure, keep the axis
        if previous is not None:
            return previous
        data_max = 0.0
    wanted = 1.15 * max(data_max, 1e-6)
    if previous is not None and 0.4 * previous <= wanted <= previous:
        return previous
    return 10 ** (math.ceil(math.log10(wanted) * 4) / 4)


def region_codes(loss: str, params: dict, directions: np.ndarray, weights: np.ndarray):
    """Per unit direction: the predicted class, and whether it wins with its margin. weights:
    (C, D), or (C, K, D) sub-centres (a class's cosine is then the largest of its K)."""
    cos = class_cosines(torch.from_numpy(directions), torch.from_numpy(weights).double())
    cos = np.clip(cos.numpy(), -1, 1)
    predicted = cos.argmax(axis=1)
    rows = np.arange(len(directions))
    target = target_from_cos(loss, torch.from_numpy(cos[rows, predicted]), params).numpy()
    others = cos.copy()
    others[rows, predicted] = -np.inf
    return predicted, target > others.max(axis=1)


def _discrete_scale(colors: list[str]) -> list:
    """A colorscale on which integer i (0 <= i < len(colors)) takes colors[i]."""
    n = len(colors)
    scale = []
    for i, color in enumerate(colors):
        scale += [[i / n, color], [(i + 1) / n, color]]
    return scale


RING_COLORS = CLASS_COLORS + [GAP_COLOR]  # index 10: the margin gap


def _coords(points, three_d):
    coords = dict(x=points[:, 0], y=points[:, 1])
    if three_d:
        coords["z"] = points[:, 2]
    return coords


def feature_trace(points, labels, predictions, class_names, three_d=False, view: View = View()):
    """Every feature in one trace, colored by its class and shaped by it too (no class told by
    color alone); customdata holds its index in the test subset (a click turns it into its
    digit), its class and the predicted class."""
    trace_type = go.Scatter3d if three_d else go.Scatter
    size = (5 if view.present else 4) if three_d else (10 if view.present else 8)
    return trace_type(
        **_coords(points, three_d), mode="markers", showlegend=False,
        customdata=np.stack([np.arange(len(labels)), labels, predictions], axis=1),
        hovertemplate=view.t("playground.figures.point_hover"),
        marker=dict(color=labels % 10, colorscale=_discrete_scale(CLASS_COLORS), cmin=0,
                    cmax=10, size=size, opacity=0.9,
                    symbol=class_symbols(labels, three_d),
                    line=dict(color=MARKER_OUTLINE, width=0.5)))


def picked_test_index(point: dict) -> int | None:
    """The test index of a point the reader clicked on a feature_trace, or None for any other
    point (a weight tip, the ring). The browser sends customdata as a list, or, when plotly
    holds it as a typed array, as a dict {"0": index, "1": class, "2": predicted}; anything
    else falls back to point_index, which on a feature trace is the same index."""
    data = point.get("customdata")
    if data is None:
        return None
    first = data.get("0") if isinstance(data, dict) else data[0] if isinstance(data, list) else data
    for candidate in (first, point.get("point_index")):
        try:
            return int(candidate)
        except (TypeError, ValueError):
            continue
    return None


def _misclassified_trace(points, labels, predictions, three_d=False, legend=True,
                         view: View = View()):
    wrong = np.flatnonzero(labels != predictions)
    trace_type = go.Scatter3d if three_d else go.Scatter
    return trace_type(**_coords(points[wrong], three_d), mode="markers",
                      name=view.t("playground.figures.misclassified"),
                      legendgroup="misclassified", showlegend=legend, hoverinfo="skip",
                      marker=dict(symbol="x" if three_d else "x-thin", size=3 if three_d else 6,
                                  color="black", opacity=0.6, line=dict(width=1, color="black")))


def weight_traces(weights, length, class_names, three_d=False, view: View = View()):
    """Class weights as spokes from the origin (one trace), each tip a diamond in its class
    color labelled with the class name (another): the labels double as the legend."""
    tips = unit_rows(weights) * length
    spokes = np.zeros((3 * len(tips), tips.shape[1]))
    spokes[1::3] = tips
    spokes[2::3] = np.nan  # breaks the line between spokes
    trace_type = go.Scatter3d if three_d else go.Scatter
    classes = np.arange(len(tips))
    # projected: labels readable from the back of a hall, on tips big enough to hold them
    text_size = (14 if view.present else 11) if three_d else (16 if view.present else 12)
    tip_size = (14 if view.present else 11) if three_d else (26 if view.present else 20)
    return [trace_type(**_coords(spokes, three_d), mode="lines", showlegend=False,
                       hoverinfo="skip", line=dict(color="#333333", width=4 if three_d else 2)),
            trace_type(**_coords(tips * 1.08, three_d), mode="markers+text", showlegend=False,
                       text=list(class_names), textposition="middle center",
                       textfont=dict(size=text_size,
                                     color=[readable_on(CLASS_COLORS[c % 10]) for c in classes]),
                       hovertemplate=view.t("playground.figures.weight_hover"),
                       marker=dict(color=classes % 10, colorscale=_discrete_scale(CLASS_COLORS),
                                   cmin=0, cmax=10, size=tip_size, symbol="circle",
                                   line=dict(color="black", width=1)))]


def subcenter_trace(subcenters, length, class_names, three_d=False, view: View = View()):
    """Sub-center ArcFace's sub-centres (C, K, D) as small markers in their class's colour and
    shape, at the radius of the class weights' tips (those show each class's dominant one)."""
    classes, k = subcenters.shape[:2]
    tips = unit_rows(subcenters.reshape(classes * k, -1)) * length
    owner = np.repeat(np.arange(classes), k)
    trace_type = go.Scatter3d if three_d else go.Scatter
    return trace_type(**_coords(tips, three_d), mode="markers", showlegend=False,
                      text=[class_names[c] for c in owner], customdata=np.tile(np.arange(k), classes),
                      hovertemplate=view.t("subcenter.hover"),
                      marker=dict(color=owner % 10, colorscale=_discrete_scale(CLASS_COLORS),
                                  cmin=0, cmax=10, size=6 if three_d else 11,
                                  symbol=class_symbols(owner, three_d),
                                  line=dict(color="black", width=1)))


def _subcenter_traces(subcenters, length, class_names, three_d, view) -> list:
    if subcenters is None:
        return []
    return [subcenter_trace(subcenters, length, class_names, three_d, view)]


def ring_trace(codes, wins, directions, radius):
    """The circle drawn as dots colored by the class predicted there where it wins with its
    margin, grey where it does not (the margin gap)."""
    color_index = np.where(wins, codes % 10, 10)
    points = directions * radius
    return go.Scatter(x=points[:, 0], y=points[:, 1], mode="markers", showlegend=False,
                      hoverinfo="skip", marker=dict(size=7, symbol="square", color=color_index,
                                                    colorscale=_discrete_scale(RING_COLORS),
                                                    cmin=0, cmax=11))


def _wrong_traces(points, labels, predictions, three_d, mark_wrong, view, legend=True):
    """The misclassified crosses, once training has begun: an untrained network gets almost
    every digit wrong, and crosses over all of them would hide the class colors."""
    if not mark_wrong:
        return []
    return [_misclassified_trace(points, labels, predictions, three_d, legend, view)]


def features_2d_figure(features, labels, predictions, weights, class_names, loss, params,
                       raw_limit: float, view: View = View(), mark_wrong: bool = True,
                       apart: bool = False, subcenters=None):
    """Left: raw features and class weights. Right: the same features on the unit circle,
    ringed by the predicted class where it wins with its margin and grey in the margin gap.
    mark_wrong: cross out the misclassified points (not before training has begun).
    apart: the two panels as two figures (raw, circle), for two page columns that a phone
    stacks: side by side in one figure, each panel is a third of a phone's width.
    subcenters: Sub-center ArcFace's (C, K, D) sub-centres, drawn small on the circle; the
    regions follow them, and `weights` are then each class's dominant one."""
    unit = unit_rows(features)
    angles = np.linspace(-math.pi, math.pi, 360, endpoint=False)
    directions = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    raw = [feature_trace(features, labels, predictions, class_names, view=view),
           *_wrong_traces(features, labels, predictions, False, mark_wrong, view),
           *weight_traces(weights, raw_limit * 0.85, class_names, view=view)]
    regions = weights if subcenters is None else subcenters
    circle = [ring_trace(*region_codes(loss, params, directions, regions), directions, 1.15),
              feature_trace(unit, labels, predictions, class_names, view=view),
              *_wrong_traces(unit, labels, predictions, False, mark_wrong, view, legend=apart),
              *weight_traces(weights, 1.25, class_names, view=view),
              *_subcenter_traces(subcenters, 1.0, class_names, False, view)]
    titles = (view.t("playground.figures.raw"), view.t("playground.figures.circle"))
    ranges = ([-raw_limit, raw_limit], [-1.5, 1.5])
    if apart:
        return tuple(go.Figure(traces, _panel_layout(title, limits, name, view, mark_wrong))
                     for traces, title, limits, name in zip(
                         (raw, circle), titles, ranges, ("features-raw", "features-circle"),
                         strict=True))
    panels = two_panels(titles, view=view)
    panels["xaxis"].update(range=ranges[0])
    panels["yaxis"].update(range=ranges[0], scaleanchor="x")
    panels["xaxis2"].update(range=ranges[1])
    panels["yaxis2"].update(range=ranges[1], scaleanchor="x2")
    return go.Figure([*raw, *on_right(circle)],
                     layout("", height=540, view=view, uirevision="features-2d", **panels))


def _panel_layout(title: str, limits: list, name: str, view: View, legend: bool) -> dict:
    """One square panel of the 2D features; uirevision keeps zoom and legend choices across
    refreshes. legend: the misclassified crosses' legend gets its own line under the title."""
    spec = layout(title, height=440, view=view, uirevision=name, xaxis=dict(range=limits),
                  yaxis=dict(range=limits, scaleanchor="x"))
    # Plotly's toolbar stands upright at the chart's right edge: with the usual narrow margin
    # it lay over the raw panel's rightmost points, which then could not be hovered or clicked
    spec["margin"]["r"] = 40
    spec = steady_margins(spec, view)
    return _legend_line(spec, view) if legend else spec


def _legend_line(spec: dict, view: View) -> dict:
    """The misclassified crosses' legend on a line of its own under the title: layout() puts
    it just above the plot, which starts right under the title's margin (a 3D scene fills the
    whole plot), so the legend sat on the title."""
    spec["margin"]["t"] += view.sizes.legend + 14
    return spec


def _sphere_surface(loss, params, weights, view: View = View(), resolution=36):
    polar = np.linspace(0, math.pi, resolution)
    azimuth = np.linspace(0, 2 * math.pi, 2 * resolution)
    p, a = np.meshgrid(polar, azimuth, indexing="ij")
    xyz = np.stack([np.sin(p) * np.cos(a), np.sin(p) * np.sin(a), np.cos(p)], axis=-1)
    codes, wins = region_codes(loss, params, xyz.reshape(-1, 3), weights)
    color = np.where(wins, codes % 10, 10).reshape(p.shape)
    return go.Surface(x=xyz[..., 0], y=xyz[..., 1], z=xyz[..., 2], surfacecolor=color,
                      cmin=0, cmax=11, colorscale=_discrete_scale(RING_COLORS), showscale=False,
                      opacity=0.35, hoverinfo="skip",
                      name=view.t("playground.figures.predicted"))


def features_3d_figure(features, labels, predictions, weights, class_names, loss, params,
                       view: View = View(), mark_wrong: bool = True, subcenters=None):
    """Normalized features on a translucent sphere colored by the class that wins there with
    its margin (grey: the gap), and the class weight directions. mark_wrong, subcenters: as
    in 2D."""
    unit = unit_rows(features) * 1.01
    axis = dict(range=[-1.4, 1.4], visible=False)
    # The camera stands far enough back that the whole sphere, weight tips included, fits a
    # phone's narrow, tall chart (at 390 px wide it was cut at both sides); projected, the
    # chart is wider than tall and the camera can come closer.
    distance = 1.0 if view.present else 1.35
    scene = dict(xaxis=axis, yaxis=axis, zaxis=axis, aspectmode="cube",
                 camera=dict(eye=dict(x=distance, y=distance, z=0.7 * distance)))
    # uirevision: keep the user's rotation across refreshes
    spec = layout(view.t("playground.figures.sphere"), height=560, view=view, scene=scene,
                  uirevision="features-3d")
    return go.Figure(
        [_sphere_surface(loss, params, weights if subcenters is None else subcenters, view),
         feature_trace(unit, labels, predictions, class_names, three_d=True, view=view),
         *_wrong_traces(unit, labels, predictions, True, mark_wrong, view),
         *weight_traces(weights, 1.3, class_names, three_d=True, view=view),
         *_subcenter_traces(subcenters, 1.15, class_names, True, view)],
        _legend_line(spec, view) if mark_wrong else spec)


def curves_figure(history, loss: str = "softmax", view: View = View()) -> go.Figure:
    """Loss and accuracy per epoch, in the loss's own color (the one it has on every page):
    test solid, train dotted."""
    x = np.asarray(history.epochs)
    color, width = LOSS_STYLES[loss].color, view.sizes.line * 0.8
    series = [(view.t("playground.figures.train"), history.train_loss, history.train_accuracy,
               "dot"),
              (view.t("playground.figures.test"), history.test_loss, history.test_accuracy,
               "solid")]
    traces = []
    for name, loss_values, accuracy, dash in series:
        line = dict(color=color, width=width, dash=dash)
        traces.append(go.Scatter(x=x, y=loss_values, name=name, legendgroup=name, line=line))
        traces += on_right([go.Scatter(x=x, y=accuracy, name=name, legendgroup=name,
                                       showlegend=False, line=line)])
    panels = two_panels((view.t("playground.figures.loss"), view.t("playground.figures.accuracy")),
                        gap=0.16, view=view)  # room for the accuracy's "100%" between panels
    panels["xaxis"].update(title=view.t("playground.figures.epoch"))
    panels["xaxis2"].update(title=view.t("playground.figures.epoch"))
    panels["yaxis2"].update(range=[0, 1.01], tickformat=".0%")
    spec = steady_margins(layout("", height=360, view=view, **panels), view)
    # the legend on the top line and the panel titles under it: both just above the plot,
    # "train" sat on "Loss"
    spec["legend"].update(yref="container", y=1.0, yanchor="top")
    spec["margin"]["t"] = view.sizes.legend + view.sizes.axis_title + 28
    return go.Figure(traces, spec)


def running_value_figure(history, loss: str, classes: int, view: View = View()) -> go.Figure:
    """A loss's running value over training (CurricularFace's t, AdaCos's s, AdaFace's mean
    feature norm with its std as a band) in the loss's colour; for AdaCos, dotted beside it
    and named on the line, the s its fixed form keeps:
    sqrt(2) ln(C - 1). No legend: the y axis names the one line (a legend would sit on the
    title of so short a figure)."""
    name = LOSSES[loss].state[0]
    points = [(epoch, values[name]) for epoch, values in zip(history.epochs, history.loss_state)
              if name in values]  # after a live switch of loss, the earlier loss's points
    style = LOSS_STYLES[loss]
    # AdaFace's line is a feature norm: named as one, not by its state's name
    shown = view.t("state.figure.norm_mean.axis") if loss == "adaface" else name
    traces = [go.Scatter(x=[e for e, _ in points], y=[v for _, v in points], mode="lines",
                         name=shown, showlegend=False,
                         line=dict(color=style.color, width=view.sizes.line * 0.8))]
    notes = []
    if loss == "adaface":  # the running std as a band around the running mean
        spread = [(epoch, values["norm_mean"], values["norm_std"])
                  for epoch, values in zip(history.epochs, history.loss_state) if name in values]
        epochs, means, stds = np.array(spread, dtype=float).reshape(-1, 3).T
        traces.insert(0, band_trace(epochs, means - stds, means + stds, style.color, 0.2,
                                    name=view.t("state.figure.norm_mean.band")))
    if loss == "adacos":
        fixed = adacos_fixed_scale(classes)
        label = view.t("state.figure.s.fixed", value=fixed)
        traces.append(go.Scatter(x=[points[0][0], points[-1][0]] if points else [0, 1],
                                 y=[fixed, fixed], mode="lines", name=label, showlegend=False,
                                 line=dict(color=TEXT_COLOR, width=view.sizes.line * 0.5,
                                           dash="dot")))
        notes.append(dict(text=label, x=0, xref="paper", xanchor="left", y=fixed,
                          yanchor="bottom", showarrow=False,
                          font=dict(size=view.sizes.label, color=TEXT_COLOR)))
    return go.Figure(traces, steady_margins(layout(
        view.t(f"state.figure.{name}.title"), height=300, view=view, annotations=notes,
        xaxis=dict(title=view.t("playground.figures.epoch")),
        yaxis=dict(title=shown, rangemode="tozero")), view))


# Blue and vermilion from Petroff's palette (style.CLASS_COLORS): told apart with every common
# colour-vision deficiency, and where the two histograms overlap the mix is a third shade.
OWN_COLOR, OTHER_COLOR = CLASS_COLORS[0], CLASS_COLORS[6]


def angle_histogram_figure(features, labels, weights, view: View = View()) -> go.Figure:
    own, nearest_other = own_and_nearest_other(features, labels, weights)
    bins = dict(start=0, end=180, size=3)
    fig = go.Figure(
        [go.Histogram(x=own, name=view.t("playground.figures.own"), xbins=bins,
                      marker_color=OWN_COLOR, opacity=0.7),
         go.Histogram(x=nearest_other, name=view.t("playground.figures.other"), xbins=bins,
                      marker_color=OTHER_COLOR, opacity=0.7)],
        steady_margins(layout(
            view.t("playground.figures.angles"), height=360, view=view, barmode="overlay",
            xaxis=dict(title=view.t("playground.figures.angle_axis"), range=[0, 180], dtick=30),
            yaxis=dict(title=view.t("playground.figures.count_axis"))), view))
    # room under the title for the legend, which takes two lines in a narrow column (it ran
    # over the title)
    return fig.update_layout(margin_t=fig.layout.margin.t + 2 * (view.sizes.legend + 8) + 6)


def playground_figures(snapshot, class_names, previous_limit: float | None = None,
                       view: View = View()):
    """Every figure the playground shows for one trainer snapshot, and the raw-feature axis
    limit used (pass it back next time so the 2D axis stays still). "features" is a tuple:
    in 2D the raw features and the unit circle, in 3D the sphere. Before the first step the
    points keep their class colors (see _wrong_traces)."""
    ev = snapshot.evaluation
    args = (ev.features, ev.labels, ev.predictions, ev.weights, class_names,
            snapshot.config.loss, snapshot.params)
    options = dict(view=view, mark_wrong=snapshot.step > 0, subcenters=ev.subcenters)
    limit = previous_limit
    if snapshot.config.dim == 2:
        finite = ev.features[np.isfinite(ev.features)]  # a diverging run has NaN features
        limit = stable_limit(previous_limit, float(np.abs(finite).max(initial=0.0)))
        features = features_2d_figure(*args, raw_limit=limit, apart=True, **options)
    else:
        features = (features_3d_figure(*args, **options),)
    return {"features": features,
            "curves": curves_figure(snapshot.history, snapshot.config.loss, view),
            "angles": angle_histogram_figure(ev.features, ev.labels, ev.weights, view)}, limit


def every_figure(figures: dict) -> list[go.Figure]:
    """playground_figures' figures in one list (its "features" are a tuple of figures)."""
    return [*figures["features"], figures["curves"], figures["angles"]]

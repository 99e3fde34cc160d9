"""Figures of the playground: features, weights and regions in 2D or on the sphere, training
curves and angle histograms. Every builder takes a snapshot's numbers and returns a figure."""
from __future__ import annotations

import math

import numpy as np
import torch
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from lossviz.figures.style import CLASS_COLORS, GAP_COLOR, base_layout
from lossviz.losses import target_from_cos
from lossviz.metrics import own_and_nearest_other


def stable_limit(previous: float | None, data_max: float) -> float:
    """An axis limit that grows in steps and shrinks only when the data has shrunk a lot,
    so points move on a still axis instead of the axis jumping every refresh."""
    wanted = 1.15 * max(data_max, 1e-6)
    if previous is not None and 0.4 * previous <= wanted <= previous:
        return previous
    return 10 ** (math.ceil(math.log10(wanted) * 4) / 4)


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)


def region_codes(loss: str, params: dict, directions: np.ndarray, weights: np.ndarray):
    """Per unit direction: the predicted class, and whether it wins with its margin."""
    cos = np.clip(directions @ _unit(weights).T, -1, 1)
    predicted = cos.argmax(axis=1)
    rows = np.arange(len(directions))
    target = target_from_cos(loss, torch.from_numpy(cos[rows, predicted]), params).numpy()
    others = cos.copy()
    others[rows, predicted] = -np.inf
    return predicted, target > others.max(axis=1)


def _class_scatter(points, labels, predictions, class_names, row_col=None, three_d=False):
    traces = []
    for cls, name in enumerate(class_names):
        members = np.flatnonzero(labels == cls)
        wrong = predictions[members] != cls
        marker = dict(color=CLASS_COLORS[cls % 10], size=4 if three_d else 6,
                      symbol=np.where(wrong, "x", "circle").tolist() if not three_d else None,
                      line=dict(width=0))
        coords = dict(x=points[members, 0], y=points[members, 1])
        if three_d:
            coords["z"] = points[members, 2]
        trace_type = go.Scatter3d if three_d else go.Scattergl
        traces.append(trace_type(
            **coords, mode="markers", name=name, legendgroup=name, marker=marker,
            showlegend=row_col in (None, (1, 1)), customdata=members,
            hovertemplate=f"class {name}<br>#%{{customdata}}<extra></extra>"))
    return traces


def _weight_lines(weights, length, three_d=False):
    traces = []
    for cls, w in enumerate(_unit(weights) * length):
        coords = dict(x=[0, w[0]], y=[0, w[1]])
        if three_d:
            coords["z"] = [0, w[2]]
        trace_type = go.Scatter3d if three_d else go.Scatter
        traces.append(trace_type(**coords, mode="lines", showlegend=False, hoverinfo="skip",
                                 line=dict(color=CLASS_COLORS[cls % 10], width=6 if three_d else 4)))
    return traces


def _ring(codes, wins, directions, radius, width):
    """The circle drawn as colored arcs: predicted class where it wins with its margin, grey
    where it does not (the margin band)."""
    color_index = np.where(wins, codes, -1)
    edges = np.flatnonzero(np.diff(color_index)) + 1
    traces = []
    for start, end in zip(np.r_[0, edges], np.r_[edges, len(color_index)]):
        arc = directions[start:min(end + 1, len(directions))] * radius
        cls = color_index[start]
        traces.append(go.Scatter(x=arc[:, 0], y=arc[:, 1], mode="lines", hoverinfo="skip",
                                 showlegend=False, line=dict(
                                     width=width, color=GAP_COLOR if cls < 0 else CLASS_COLORS[cls % 10])))
    return traces


def features_2d_figure(features, labels, predictions, weights, class_names, loss, params,
                       raw_limit: float) -> go.Figure:
    """Left: raw features and class weights. Right: the same features on the unit circle,
    ringed by the predicted class where it wins with its margin and grey in the margin gap."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Raw features", "On the unit circle"),
                        horizontal_spacing=0.06)
    for trace in _class_scatter(features, labels, predictions, class_names, (1, 1)):
        fig.add_trace(trace, row=1, col=1)
    for trace in _weight_lines(weights, raw_limit * 0.9):
        fig.add_trace(trace, row=1, col=1)
    angles = np.linspace(-math.pi, math.pi, 721)
    directions = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    codes, wins = region_codes(loss, params, directions, weights)
    for trace in _ring(codes, wins, directions, 1.12, 10):
        fig.add_trace(trace, row=1, col=2)
    for trace in _class_scatter(_unit(features), labels, predictions, class_names, (1, 2)):
        fig.add_trace(trace, row=1, col=2)
    for trace in _weight_lines(weights, 1.3):
        fig.add_trace(trace, row=1, col=2)
    fig.update_xaxes(range=[-raw_limit, raw_limit], row=1, col=1)
    fig.update_yaxes(range=[-raw_limit, raw_limit], scaleanchor="x", row=1, col=1)
    fig.update_xaxes(range=[-1.4, 1.4], row=1, col=2)
    fig.update_yaxes(range=[-1.4, 1.4], scaleanchor="x2", row=1, col=2)
    fig.update_layout(uirevision="features-2d")  # keep zoom and selection across refreshes
    return base_layout(fig, "", height=520)


def _sphere_surface(loss, params, weights, resolution=40):
    polar = np.linspace(0, math.pi, resolution)
    azimuth = np.linspace(0, 2 * math.pi, 2 * resolution)
    p, a = np.meshgrid(polar, azimuth, indexing="ij")
    xyz = np.stack([np.sin(p) * np.cos(a), np.sin(p) * np.sin(a), np.cos(p)], axis=-1)
    codes, wins = region_codes(loss, params, xyz.reshape(-1, 3), weights)
    color = np.where(wins, codes, 10).reshape(p.shape)  # 10 = the margin gap, grey
    n = 11
    scale = []
    for i, c in enumerate(CLASS_COLORS + [GAP_COLOR]):
        scale += [[i / n, c], [(i + 1) / n, c]]
    return go.Surface(x=xyz[..., 0], y=xyz[..., 1], z=xyz[..., 2], surfacecolor=color,
                      cmin=0, cmax=n, colorscale=scale, showscale=False, opacity=0.35,
                      hoverinfo="skip", name="predicted class")


def features_3d_figure(features, labels, predictions, weights, class_names, loss, params):
    """Normalized features on a translucent sphere colored by the class that wins there with
    its margin (grey: the gap), and the class weight directions."""
    fig = go.Figure([_sphere_surface(loss, params, weights)])
    fig.add_traces(_class_scatter(_unit(features) * 1.01, labels, predictions, class_names,
                                  three_d=True))
    fig.add_traces(_weight_lines(weights, 1.35, three_d=True))
    axis = dict(range=[-1.4, 1.4], showticklabels=False, title="")
    fig.update_layout(scene=dict(xaxis=axis, yaxis=axis, zaxis=axis, aspectmode="cube"),
                      uirevision="features-3d")  # keep the user's rotation across refreshes
    return base_layout(fig, "Features on the unit sphere", height=600)


def curves_figure(history) -> go.Figure:
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Loss", "Accuracy"))
    x = np.asarray(history.epochs)
    series = [("train", history.train_loss, history.train_accuracy, "#4c4c4c"),
              ("test", history.test_loss, history.test_accuracy, "#d62728")]
    for name, loss, accuracy, color in series:
        fig.add_trace(go.Scatter(x=x, y=loss, name=f"{name}", legendgroup=name,
                                 line=dict(color=color, width=2.5)), row=1, col=1)
        fig.add_trace(go.Scatter(x=x, y=accuracy, name=f"{name}", legendgroup=name,
                                 showlegend=False, line=dict(color=color, width=2.5)), row=1, col=2)
    fig.update_xaxes(title="epoch")
    fig.update_yaxes(range=[0, 1.01], row=1, col=2)
    return base_layout(fig, "", height=340)


def angle_histogram_figure(features, labels, weights) -> go.Figure:
    own, nearest_other = own_and_nearest_other(features, labels, weights)
    fig = go.Figure([
        go.Histogram(x=own, name="to own class weight", xbins=dict(start=0, end=180, size=3),
                     marker_color="#1f77b4", opacity=0.7),
        go.Histogram(x=nearest_other, name="to nearest other weight",
                     xbins=dict(start=0, end=180, size=3), marker_color="#ff7f0e", opacity=0.7)])
    fig.update_layout(barmode="overlay")
    fig.update_xaxes(title="angle (degrees)", range=[0, 180], dtick=30)
    fig.update_yaxes(title="features")
    return base_layout(fig, "Angles of test features", height=340)

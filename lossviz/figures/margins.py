"""Figures of the decision-margin page: the binary case in the feature plane and in the
(theta_1, theta_2) angle plane."""
from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from lossviz.figures.style import CLASS_COLORS, GAP_COLOR, base_layout
from lossviz.margins import CLASS_1, CLASS_2, GAP, angle_to, region_map

REGION_COLORS = {CLASS_1: CLASS_COLORS[0], CLASS_2: CLASS_COLORS[1], GAP: GAP_COLOR}
REGION_NAMES = {CLASS_1: "class 1 wins with margin", CLASS_2: "class 2 wins with margin",
                GAP: "gap: neither wins with margin"}


def _runs(codes: np.ndarray):
    """(start, end, code) for each run of equal consecutive codes."""
    edges = np.flatnonzero(np.diff(codes)) + 1
    starts, ends = np.r_[0, edges], np.r_[edges, len(codes)]
    return [(s, e, codes[s]) for s, e in zip(starts, ends, strict=True)]


def _wedge(directions: np.ndarray, radius: float):
    xs = np.r_[0, radius * np.cos(directions), 0]
    ys = np.r_[0, radius * np.sin(directions), 0]
    return xs, ys


def _weight_arrow(fig, angle: float, label: str, color: str):
    x, y = math.cos(angle), math.sin(angle)
    fig.add_annotation(x=x, y=y, ax=0, ay=0, xref="x", yref="y", axref="x", ayref="y",
                       showarrow=True, arrowhead=2, arrowwidth=3, arrowcolor=color)
    fig.add_annotation(x=1.18 * x, y=1.18 * y, text=label, showarrow=False,
                       font=dict(size=18, color=color))


def feature_plane_figure(loss: str, params: dict, phi: float) -> go.Figure:
    """Directions in the plane colored by which class wins with its margin; W1, W2 at -/+phi/2."""
    directions = np.linspace(-math.pi, math.pi, 3601)
    w1, w2 = -phi / 2, phi / 2
    codes = region_map(loss, params, angle_to(directions, w1), angle_to(directions, w2))
    fig, shown = go.Figure(), set()
    for start, end, code in _runs(codes):
        xs, ys = _wedge(directions[start:min(end + 1, len(directions))], 1.35)
        fig.add_trace(go.Scatter(x=xs, y=ys, fill="toself", mode="lines", line_width=0,
                                 fillcolor=REGION_COLORS[code], opacity=0.55, hoverinfo="skip",
                                 name=REGION_NAMES[code], legendgroup=str(code),
                                 showlegend=code not in shown))
        shown.add(code)
    circle = np.linspace(0, 2 * math.pi, 361)
    fig.add_trace(go.Scatter(x=np.cos(circle), y=np.sin(circle), mode="lines", hoverinfo="skip",
                             line=dict(color="black", width=1.5), showlegend=False))
    _weight_arrow(fig, w1, "W₁", "#1d3557")
    _weight_arrow(fig, w2, "W₂", "#7f3b08")
    fig.update_xaxes(range=[-1.45, 1.45], visible=False)
    fig.update_yaxes(range=[-1.45, 1.45], visible=False, scaleanchor="x")
    return base_layout(fig, "Feature plane: who wins, by direction", height=520)


def angle_plane_figure(loss: str, params: dict, phi: float, points: int = 361) -> go.Figure:
    """Regions over all (theta_1, theta_2); the line theta_1 + theta_2 = phi is the arc between
    the two weights, where features in their plane live."""
    grid = np.linspace(0, math.pi, points)
    t1, t2 = np.meshgrid(grid, grid)
    codes = region_map(loss, params, t1, t2)
    scale = [[0.0, REGION_COLORS[GAP]], [0.33, REGION_COLORS[GAP]],
             [0.34, REGION_COLORS[CLASS_1]], [0.66, REGION_COLORS[CLASS_1]],
             [0.67, REGION_COLORS[CLASS_2]], [1.0, REGION_COLORS[CLASS_2]]]
    fig = go.Figure(go.Heatmap(x=np.degrees(grid), y=np.degrees(grid), z=codes, zmin=0, zmax=2,
                               colorscale=scale, showscale=False, opacity=0.75,
                               hovertemplate="θ₁=%{x:.1f}°, θ₂=%{y:.1f}°<extra></extra>"))
    arc = np.linspace(0, phi, 50)
    fig.add_trace(go.Scatter(x=np.degrees(arc), y=np.degrees(phi - arc), mode="lines",
                             name="arc between W₁ and W₂", line=dict(color="black", width=3)))
    fig.update_xaxes(title="θ₁ to W₁ (degrees)", range=[0, 180], dtick=30)
    fig.update_yaxes(title="θ₂ to W₂ (degrees)", range=[0, 180], dtick=30, scaleanchor="x")
    return base_layout(fig, "Angle plane (θ₁, θ₂)", height=520)

"""Figures of the decision-margin page: the binary case in the feature plane and in the
(theta_1, theta_2) angle plane. The gap (where neither class wins with its margin) is the point
of the page: it is hatched in near-black, so it shows on a washed-out projector and without
color, and the two classes are solid fills >= 4.5:1 against white."""
from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from lossviz.figures.style import GAP_COLOR, TEXT_COLOR, View, layout
from lossviz.margins import CLASS_1, CLASS_2, GAP, angle_to, region_map

# Petroff's blue and orange (the first two class colors) darkened to 4.7:1 on white.
REGION_COLORS = {CLASS_1: "#1d77c0", CLASS_2: "#aa6200", GAP: GAP_COLOR}
REGION_KEYS = {CLASS_1: "figures.margins.class_1", CLASS_2: "figures.margins.class_2",
               GAP: "figures.margins.gap"}
# Regions are named where they are (no legend: it would collide with the title on a narrow
# screen, and sit below the fold on a projector).
SHORT_KEYS = {CLASS_1: "figures.margins.class_1_short", CLASS_2: "figures.margins.class_2_short",
              GAP: "figures.margins.gap_short"}
WEIGHT_COLORS = ("#0b3b66", "#5c3500")  # W1, W2: darker than their regions


def _region_style(code: int, view: View) -> dict:
    """A filled region: solid for a class, hatched for the gap; named for the legend."""
    style = dict(name=view.t(REGION_KEYS[code]), fill="toself", showlegend=False,
                 mode="lines", line=dict(width=0), hoveron="fills", hoverinfo="name")
    if code == GAP:
        return style | dict(fillcolor="white", fillpattern=dict(
            shape="/", fgcolor=GAP_COLOR, bgcolor="white", size=9, solidity=0.35))
    return style | dict(fillcolor=REGION_COLORS[code])


def region_runs(codes: np.ndarray):
    """(start, end, code) for each run of equal consecutive codes."""
    edges = np.flatnonzero(np.diff(codes)) + 1
    starts, ends = np.r_[0, edges], np.r_[edges, len(codes)]
    return [(s, e, codes[s]) for s, e in zip(starts, ends, strict=True)]


def ring_piece(directions: np.ndarray, inner: float, outer: float):
    """A piece of the annulus between two radii, over a stretch of directions."""
    xs = np.r_[outer * np.cos(directions), inner * np.cos(directions[::-1])]
    ys = np.r_[outer * np.sin(directions), inner * np.sin(directions[::-1])]
    return np.r_[xs, xs[0]], np.r_[ys, ys[0]]


def _region_label(x: float, y: float, code: int, view: View, **more) -> dict:
    """A region's name written on it, on a white ground (it may sit on the hatching)."""
    return dict(x=x, y=y, xref="x", yref="y", text=view.t(SHORT_KEYS[code]), showarrow=False,
                bgcolor="rgba(255,255,255,0.9)", borderpad=2,
                font=dict(size=view.sizes.text, color=TEXT_COLOR), **more)


def _pieces_around(runs, directions: np.ndarray) -> list[tuple[float, float, int]]:
    """(first, last direction, code) of each region around the circle: a region that the
    seam at +-pi cuts in two is one piece."""
    pieces = [(directions[start], directions[min(end, len(directions) - 1)], code)
              for start, end, code in runs]
    if len(pieces) > 1 and pieces[0][2] == pieces[-1][2]:
        pieces = [(pieces[-1][0], pieces[0][1] + 2 * math.pi, pieces[0][2]), *pieces[1:-1]]
    return pieces


def _weight_arrow(angle: float, label: str, color: str, size: int) -> list[dict]:
    x, y = math.cos(angle), math.sin(angle)
    # The label stands beside the arrow, on the side away from the other weight (the normal
    # that turns away from the x-axis): above or below the shaft it sat on the arrowhead
    side = 1 if y >= 0 else -1
    return [dict(x=0.98 * x, y=0.98 * y, ax=0, ay=0, xref="x", yref="y", axref="x", ayref="y",
                 showarrow=True, arrowhead=2, arrowwidth=3, arrowcolor=color, text=""),
            dict(x=0.7 * x - 0.17 * side * y, y=0.7 * y + 0.17 * side * x, text=label,
                 showarrow=False, font=dict(size=size + 4, color=color))]


def feature_plane_figure(loss: str, params: dict, phi: float, view: View = View()) -> go.Figure:
    """A ring around the unit circle, by direction: which class wins there with its margin.
    W1 and W2 sit at -phi/2 and +phi/2."""
    directions = np.linspace(-math.pi, math.pi, 3601)
    w1, w2 = -phi / 2, phi / 2
    codes = region_map(loss, params, angle_to(directions, w1), angle_to(directions, w2))
    runs = region_runs(codes)
    traces, labels = [], []
    for start, end, code in runs:
        stretch = directions[start:min(end + 1, len(directions))]
        xs, ys = ring_piece(stretch, 1.05, 1.4)
        traces.append(go.Scatter(x=xs, y=ys, **_region_style(code, view)))
    for first, last, code in _pieces_around(runs, directions):
        if last - first > math.radians(6):  # too short a piece to carry a name
            middle = (first + last) / 2
            labels.append(_region_label(1.6 * math.cos(middle), 1.6 * math.sin(middle), code,
                                        view))
    circle = np.linspace(0, 2 * math.pi, 361)
    traces.append(go.Scatter(x=np.cos(circle), y=np.sin(circle), mode="lines", hoverinfo="skip",
                             line=dict(color=TEXT_COLOR, width=1.5), showlegend=False))
    arrows = [*_weight_arrow(w1, "W₁", WEIGHT_COLORS[0], view.sizes.text),
              *_weight_arrow(w2, "W₂", WEIGHT_COLORS[1], view.sizes.text)]
    hidden = dict(range=[-1.85, 1.85], visible=False, constrain="domain")
    return go.Figure(traces, layout(view.t("figures.margins.plane_title"), 470, view,
                                    annotations=arrows + labels, xaxis=hidden,
                                    yaxis=dict(hidden, scaleanchor="x")))


def column_regions(codes: np.ndarray, x: np.ndarray) -> dict[int, list[tuple]]:
    """Rectangles (x0, x1, y0, y1) in degrees covering each region of the angle plane: per
    theta_1 column (codes' columns; rows: theta_2 from 0 up), one for each run of a code. A
    column need not be ordered class 2, gap, class 1: where the target curve rises or jumps
    (ArcFace's raw tail or easy margin) a class wins in two stretches of one column."""
    half, top = (x[1] - x[0]) / 2, x[-1]
    regions = {CLASS_1: [], CLASS_2: [], GAP: []}
    for column, centre in enumerate(x):
        x0, x1 = max(centre - half, 0.0), min(centre + half, top)
        for start, end, code in region_runs(codes[:, column]):
            y0, y1 = max(x[start] - half, 0.0), min(x[end - 1] + half, top)
            regions[int(code)].append((x0, x1, y0, y1))
    return regions


def _outline(rectangles: list[tuple]) -> dict:
    """One trace's (x, y) for many rectangles: each closed, separated by a gap (None), which
    fill="toself" fills one by one."""
    xs, ys = [], []
    for x0, x1, y0, y1 in rectangles:
        xs += [x0, x1, x1, x0, x0, None]
        ys += [y0, y0, y1, y1, y0, None]
    return dict(x=xs, y=ys)


def _centroid(rectangles: list[tuple]):
    """The centre of mass of the rectangles, or None when they cover nothing."""
    areas = np.array([(x1 - x0) * (y1 - y0) for x0, x1, y0, y1 in rectangles])
    if len(areas) == 0 or areas.sum() <= 1e-9:
        return None
    centres = np.array([((x0 + x1) / 2, (y0 + y1) / 2) for x0, x1, y0, y1 in rectangles])
    return tuple(float(v) for v in (centres * areas[:, None]).sum(axis=0) / areas.sum())


def angle_plane_figure(loss: str, params: dict, phi: float, points: int = 361,
                       view: View = View()) -> go.Figure:
    """Regions over all (theta_1, theta_2) in degrees; the line theta_1 + theta_2 = phi is the
    arc between the two weights, where features in their plane live."""
    grid = np.linspace(0, math.pi, points)
    t1, t2 = np.meshgrid(grid, grid)
    x = np.degrees(grid)
    regions = column_regions(region_map(loss, params, t1, t2), x)
    order = (CLASS_2, GAP, CLASS_1)
    traces = [go.Scatter(**_outline(regions[code]), **_region_style(code, view)) for code in order]
    labels = [_region_label(*centre, code, view) for code in order
              if (centre := _centroid(regions[code])) is not None]
    arc = np.linspace(0, math.degrees(phi), 50)
    traces.append(go.Scatter(x=arc, y=arc[::-1], mode="lines", name=view.t("figures.margins.arc"),
                             line=dict(color=TEXT_COLOR, width=view.sizes.line), showlegend=False,
                             hovertemplate=view.t("figures.margins.hover") + "<extra></extra>"))
    labels.append(dict(x=0, y=arc[-1], xref="x", yref="y", text=view.t("figures.margins.arc"),
                       showarrow=False, xanchor="left", yanchor="bottom", xshift=4, yshift=2,
                       bgcolor="rgba(255,255,255,0.9)",
                       font=dict(size=view.sizes.text, color=TEXT_COLOR)))
    # constrain="domain": keep 0-180 on both axes and shrink the square to fit, instead of
    # stretching one axis past 180 to keep the aspect ratio.
    axis = dict(range=[0, 180], dtick=30, constrain="domain")
    fig = go.Figure(traces, layout(
        view.t("figures.margins.angle_title"), 470, view, annotations=labels,
        xaxis=dict(axis, title=dict(text=view.t("figures.margins.theta_1"))),
        yaxis=dict(axis, title=dict(text=view.t("figures.margins.theta_2")), scaleanchor="x")))
    # room at the right for the last tick's "180", which plotly drops rather than cut
    return fig.update_layout(margin_r=3 * view.sizes.tick)

"""Figures of the compare page: small multiples of the features on identical axes, and the
runs' test accuracy overlaid."""
from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from lossviz.figures.style import base_layout, run_styles
from lossviz.figures.training import feature_trace, region_codes, ring_trace, weight_traces
from lossviz.metrics import unit_rows

COLUMNS = 4


def small_multiples_figure(results, class_names) -> go.Figure:
    """One unit circle (2D) or sphere (3D) per run, same axes everywhere."""
    three_d = results[0].evaluation.features.shape[1] == 3
    rows = math.ceil(len(results) / COLUMNS)
    cols = min(COLUMNS, len(results))
    kind = "scene" if three_d else "xy"
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[r.label for r in results],
                        specs=[[{"type": kind}] * cols for _ in range(rows)],
                        horizontal_spacing=0.03, vertical_spacing=0.08)
    angles = np.linspace(-math.pi, math.pi, 360, endpoint=False)
    directions = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    for index, result in enumerate(results):
        row, col = index // COLUMNS + 1, index % COLUMNS + 1
        ev = result.evaluation
        unit = unit_rows(ev.features)
        traces = [feature_trace(unit, ev.labels, ev.predictions, class_names, three_d),
                  *weight_traces(ev.weights, 1.3, class_names, three_d)]
        if not three_d:
            traces.insert(0, ring_trace(*region_codes(result.config.loss, result.params,
                                                      directions, ev.weights), directions, 1.15))
        fig.add_traces(traces, rows=row, cols=col)
    fig.update_traces(marker_size=13, textfont_size=9, selector=dict(mode="markers+text"))
    if three_d:
        axis = dict(range=[-1.4, 1.4], visible=False)
        fig.update_scenes(xaxis=axis, yaxis=axis, zaxis=axis, aspectmode="cube")
    else:
        fig.update_xaxes(range=[-1.55, 1.55], visible=False)
        fig.update_yaxes(range=[-1.55, 1.55], visible=False)
        for index in range(len(results)):
            suffix = "" if index == 0 else str(index + 1)
            fig.update_layout({f"yaxis{suffix}": dict(scaleanchor=f"x{suffix}")})
    return base_layout(fig, "", height=330 * rows)


def accuracy_overlay_figure(results) -> go.Figure:
    fig = go.Figure()
    styles = run_styles([result.config.loss for result in results])
    for result, style in zip(results, styles, strict=True):
        fig.add_trace(go.Scatter(
            x=[r["epoch"] for r in result.history], y=[r["test_accuracy"] for r in result.history],
            name=result.label, mode="lines+markers",
            line=dict(width=2.5, color=style.color, dash=style.dash)))
    fig.update_xaxes(title="epoch")
    fig.update_yaxes(title="test accuracy", range=[0, 1.01])
    return base_layout(fig, "Test accuracy", height=380)


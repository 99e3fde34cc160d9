"""The s-m map as a heatmap: one cell per run, coloured by one of its metrics (test accuracy,
or in open set the unseen classes' TAR at FAR 1%) on viridis (a sequential scale, readable
without colour and by the colour-blind, and apart from the class palette), that number written
in the cell, the cells where the margin cannot be met hatched, the best cell by it framed.
Cells sit at whole numbers (0, 1, ...) on both axes, the values they stand for written as the
ticks, so a cell's outline is +-0.5 around it."""
from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from lossviz.figures.style import GAP_COLOR, TEXT_COLOR, View, layout
from lossviz.losses import LOSSES
from lossviz.smap import MapGrid, MetricMap

COLORSCALE = "Viridis"
DIVERGED_FILL = "#ffffff"  # no colour from the scale: a blank cell with a dash, named in the legend
DIVERGED_MARK = "—"
BEST_COLOR = "#e8175d"  # the frame of the best cell: apart from every viridis colour, 4.5:1 on white
# sparse and thin: the accuracy written in a hatched cell stays readable
HATCH = dict(shape="/", fgcolor=GAP_COLOR, bgcolor="rgba(0,0,0,0)", size=16, solidity=0.12)


def axis_title(loss: str, param: str, view: View) -> str:
    label = view.t(f"losses.{loss}.params.{param}.label")
    return view.t("ui.param.radians", label=label) if LOSSES[loss].param(param).unit == "rad" \
        else label


def cell_outline(row: int, column: int) -> tuple[list, list]:
    """The closed outline of one cell, as x and y lists."""
    x0, x1, y0, y1 = column - 0.5, column + 0.5, row - 0.5, row + 0.5
    return [x0, x1, x1, x0, x0], [y0, y0, y1, y1, y0]


def _cells(mask: np.ndarray) -> list[tuple[int, int]]:
    """(row, column) of each True cell."""
    return [(int(row), int(column)) for row, column in np.argwhere(mask)]


def _outlines(cells) -> tuple[list, list]:
    """Several cells' outlines in one trace, apart (None between them)."""
    xs, ys = [], []
    for row, column in cells:
        x, y = cell_outline(row, column)
        xs += x + [None]
        ys += y + [None]
    return xs, ys


def limit_edges(infeasible: np.ndarray) -> tuple[list, list]:
    """The line between feasible and infeasible cells: each edge shared by one of each."""
    xs, ys = [], []
    rows, columns = infeasible.shape
    for row in range(rows):
        for column in range(columns):
            if column + 1 < columns and infeasible[row, column] != infeasible[row, column + 1]:
                xs += [column + 0.5, column + 0.5, None]
                ys += [row - 0.5, row + 0.5, None]
            if row + 1 < rows and infeasible[row, column] != infeasible[row + 1, column]:
                xs += [column - 0.5, column + 0.5, None]
                ys += [row + 0.5, row + 0.5, None]
    return xs, ys


def metric_text(metric: str, open_set: bool) -> str:
    """The translation entry that names metric on a map (its .name, .choice and .colorbar):
    accuracy in open set is of the trained classes only, and says so."""
    return f"map.metrics.{metric}_open" if metric == "accuracy" and open_set \
        else f"map.metrics.{metric}"


def _cell_text(amap: MetricMap, metric: str) -> tuple[list, list]:
    """What each cell says, and in which colour (white on viridis' dark half, dark on its
    light half): the metric in whole percents, a dash where the run diverged, or nothing
    while it waits to be trained."""
    values = amap.metrics[metric]
    low, high = _color_range(amap, metric)
    texts, colors = [], []
    for value, trained in zip(values.ravel(), amap.trained.ravel(), strict=True):
        if not trained:
            texts.append("")
            colors.append(TEXT_COLOR)
        elif math.isnan(value):
            texts.append(DIVERGED_MARK)
            colors.append(TEXT_COLOR)
        else:
            texts.append(f"{100 * value:.0f}")  # whole percents fit a phone's cells
            share = (value - low) / (high - low) if high > low else 1.0
            colors.append("#ffffff" if share < 0.55 else TEXT_COLOR)
    return texts, colors


def _color_range(amap: MetricMap, metric: str) -> tuple[float, float]:
    values = amap.metrics[metric]
    finite = values[amap.trained & np.isfinite(values)]
    return (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)


def _heatmap(amap: MetricMap, metric: str, view: View) -> go.Heatmap:
    grid, (low, high) = amap.grid, _color_range(amap, metric)
    hover = [[_hover(amap, row, column, view) for column in range(grid.shape[1])]
             for row in range(grid.shape[0])]
    z = np.where(amap.trained, amap.metrics[metric] * 100, np.nan)
    colorbar = dict(title=dict(text=view.t(f"{metric_text(metric, grid.open_set)}.colorbar",
                                           epochs=grid.epochs), side="right"),
                    thickness=12, ticksuffix="%", outlinewidth=0,
                    tickfont=dict(size=view.sizes.tick))
    return go.Heatmap(z=z, zmin=100 * low, zmax=100 * high, colorscale=COLORSCALE, text=hover,
                      hovertemplate="%{text}<extra></extra>", xgap=2, ygap=2, showscale=True,
                      colorbar=colorbar)


def _hover(amap: MetricMap, row: int, column: int, view: View) -> str:
    """A cell's every number, whichever colours the map: accuracy, and in open set TAR, EER."""
    cell = amap.grid.label(row, column)
    if not amap.trained[row, column]:
        return view.t("map.figure.hover", cell=cell, accuracy=view.t("map.figure.waiting"))
    if math.isnan(amap.accuracy[row, column]):  # diverged: no number at all
        return view.t("map.figure.hover", cell=cell, accuracy=view.t("map.figure.diverged"))
    numbers = {name: f"{values[row, column]:.1%}" for name, values in amap.metrics.items()}
    return view.t("map.figure.hover_open" if amap.grid.open_set else "map.figure.hover",
                  cell=cell, **numbers)


def _diverged_cells(amap: MetricMap, metric: str) -> list[tuple[int, int]]:
    return _cells(amap.trained & np.isnan(amap.metrics[metric]))


def map_figure(amap: MetricMap, infeasible: np.ndarray | None, metric: str = "accuracy",
               view: View = View()) -> go.Figure:
    """The map coloured by metric (one of amap.grid.metrics); infeasible
    (lossviz.smap.infeasible_cells) hatches the cells past the feasibility limit, None draws no
    limit (a loss it does not apply to)."""
    grid = amap.grid
    rows, columns = grid.shape
    traces = [_heatmap(amap, metric, view)]
    diverged = _diverged_cells(amap, metric)
    if diverged:
        xs, ys = _outlines(diverged)
        traces.append(go.Scatter(x=xs, y=ys, fill="toself", fillcolor=DIVERGED_FILL, mode="lines",
                                 line=dict(color=GAP_COLOR, width=1), hoverinfo="skip",
                                 name=view.t("map.figure.diverged")))
    if infeasible is not None and infeasible.any():
        traces += _limit_traces(infeasible, grid, view)
    texts, colors = _cell_text(amap, metric)
    traces.append(go.Scatter(
        x=[c for _ in range(rows) for c in range(columns)],
        y=[r for r in range(rows) for _ in range(columns)], mode="text", text=texts,
        textfont=dict(size=view.sizes.text, color=colors), hoverinfo="skip", showlegend=False))
    best = amap.best_cell(metric)
    if best is not None:
        xs, ys = cell_outline(*best)
        traces.append(go.Scatter(x=xs, y=ys, mode="lines", line=dict(color=BEST_COLOR, width=5),
                                 hoverinfo="skip", name=view.t(
                                     "map.figure.best", cell=grid.label(*best),
                                     value=f"{amap.metrics[metric][best]:.1%}")))
    axes = {name: dict(title=dict(text=axis_title(grid.loss, param, view)),
                       tickmode="array", tickvals=list(range(len(values))),
                       ticktext=[f"{v:g}" for v in values], range=[-0.5, len(values) - 0.5],
                       showgrid=False, zeroline=False, fixedrange=True)
            for name, param, values in zip(("xaxis", "yaxis"), grid.params, grid.values,
                                           strict=True)}
    title = view.t("map.figure.title", loss=view.t(f"losses.{grid.loss}.short"), dim=grid.dim,
                   metric=view.t(f"{metric_text(metric, grid.open_set)}.name"))
    # room above the plot for the title and two rows of legend (a phone wraps it)
    top = view.sizes.title + 30 + 2 * (view.sizes.legend + 10)
    return go.Figure(traces, layout(title, 600, view, **axes, showlegend=True,
                                    margin=dict(t=top)))


def _limit_traces(infeasible: np.ndarray, grid: MapGrid, view: View) -> list[go.Scatter]:
    """The hatched cells past the limit (for the classes trained on), and the limit itself as
    a line, one legend entry."""
    name = view.t("map.figure.infeasible", classes=grid.classes, dim=grid.dim)
    xs, ys = _outlines(_cells(infeasible))
    hatched = go.Scatter(x=xs, y=ys, fill="toself", fillcolor="rgba(0,0,0,0)", fillpattern=HATCH,
                         mode="lines", line=dict(width=0), hoverinfo="skip", name=name,
                         legendgroup="limit")
    ex, ey = limit_edges(infeasible)
    line = go.Scatter(x=ex, y=ey, mode="lines", line=dict(color=GAP_COLOR, width=4, dash="dash"),
                      hoverinfo="skip", showlegend=False, legendgroup="limit", name=name)
    return [hatched, line]


"""Figures of the compare page: small multiples of the features on identical axes, and the
runs' test accuracy overlaid. Runs are named by run_names(): in the reader's language, from
their configurations, so a language switch renames a finished comparison too."""
from __future__ import annotations

import math
from html import escape

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from lossviz.figures.style import View, base_layout, run_styles
from lossviz.figures.training import feature_trace, region_codes, ring_trace, weight_traces
from lossviz.losses import LOSSES, resolve_params
from lossviz.metrics import unit_rows

COLUMNS = 4


# how a parameter is written where the reader sees it (the code's names are not words to them)
_SYMBOLS = {"lam": "λ", "sigma": "σ"}


def params_text(loss: str, params: dict, view: View = View()) -> str:
    """A run's parameters for a table cell: numbers by their symbol (s=16, m=0.1, λ=5), a
    variant of the formula only when it is not the usual one, by its name in the reader's
    language; "—" when there is nothing to say."""
    parts = []
    for p in LOSSES[loss].params:
        if p.name not in params:
            continue
        value = params[p.name]
        if not p.choices:
            parts.append(f"{_SYMBOLS.get(p.name, p.name)}={value:g}")
        elif int(value) != p.default:
            parts.append(view.t(f"losses.{loss}.params.{p.name}.choices.{p.choices[int(value)]}"))
    return ", ".join(parts) or "—"


def run_names(configs, view: View = View()) -> list[str]:
    """A name per run (TrainConfig), short enough for a table column and a panel title: its
    loss's short name, and when some runs share a loss, the parameters that differ between
    the runs (ArcFace, m=0.3)."""
    losses = [config.loss for config in configs]
    if len(set(losses)) == len(losses):
        return [view.t(f"losses.{loss}.short") for loss in losses]
    params = [resolve_params(config.loss, config.params) for config in configs]
    varying = [name for name in dict.fromkeys(n for p in params for n in p)
               if len({p.get(name) for p in params}) > 1]
    return [", ".join([view.t(f"losses.{config.loss}.short"),
                       *(f"{name}={p[name]:g}" for name in varying if name in p)])
            for config, p in zip(configs, params, strict=True)]


def whole_epochs(last: float) -> dict:
    """x-axis ticks at whole epochs only (no 1.5), about ten at most."""
    step = next(s for s in (1, 2, 5, 10, 20, 50, 100, 200) if last / s <= 10)
    return dict(tick0=0, dtick=step, tickformat="d")


def small_multiples_figure(results, class_names, names=None, view: View = View()) -> go.Figure:
    """One unit circle (2D) or sphere (3D) per run, same axes everywhere."""
    names = names or [r.label for r in results]
    three_d = results[0].evaluation.features.shape[1] == 3
    rows = math.ceil(len(results) / COLUMNS)
    cols = min(COLUMNS, len(results))
    kind = "scene" if three_d else "xy"
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=names,
                        specs=[[{"type": kind}] * cols for _ in range(rows)],
                        horizontal_spacing=0.03, vertical_spacing=0.08)
    angles = np.linspace(-math.pi, math.pi, 360, endpoint=False)
    directions = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    for index, result in enumerate(results):
        row, col = index // COLUMNS + 1, index % COLUMNS + 1
        ev = result.evaluation
        unit = unit_rows(ev.features)
        traces = [feature_trace(unit, ev.labels, ev.predictions, class_names, three_d, view),
                  *weight_traces(ev.weights, 1.3, class_names, three_d, view)]
        if not three_d:
            traces.insert(0, ring_trace(*region_codes(result.config.loss, result.params,
                                                      directions, ev.weights), directions, 1.15))
        fig.add_traces(traces, rows=row, cols=col)
    fig.update_traces(marker_size=13, textfont_size=9, selector=dict(mode="markers+text"))
    fig.update_annotations(font_size=view.sizes.axis_title)  # the runs' names
    if three_d:
        axis = dict(range=[-1.4, 1.4], visible=False)
        fig.update_scenes(xaxis=axis, yaxis=axis, zaxis=axis, aspectmode="cube")
    else:
        fig.update_xaxes(range=[-1.55, 1.55], visible=False)
        fig.update_yaxes(range=[-1.55, 1.55], visible=False)
        for index in range(len(results)):
            suffix = "" if index == 0 else str(index + 1)
            fig.update_layout({f"yaxis{suffix}": dict(scaleanchor=f"x{suffix}")})
    return base_layout(fig, "", height=(300 if view.present else 330) * rows, view=view)


def accuracy_overlay_figure(results, names=None, view: View = View()) -> go.Figure:
    """Test accuracy per epoch, one line per run in its loss's color and dash."""
    names = names or [r.label for r in results]
    fig = go.Figure()
    styles = run_styles([result.config.loss for result in results])
    for result, name, style in zip(results, names, styles, strict=True):
        fig.add_trace(go.Scatter(
            x=[r["epoch"] for r in result.history], y=[r["test_accuracy"] for r in result.history],
            name=name, mode="lines+markers",
            line=dict(width=view.sizes.line, color=style.color, dash=style.dash)))
    last = max((r["epoch"] for result in results for r in result.history), default=1)
    fig.update_xaxes(title=view.t("compare.figures.epoch"), **whole_epochs(last))
    fig.update_yaxes(title=view.t("compare.figures.accuracy_axis"), range=[0, 1.01],
                     tickformat=".0%")
    base_layout(fig, view.t("compare.figures.accuracy_title"), height=380, view=view)
    sizes = view.sizes  # the legend gets a line of its own under the title, not beside it
    return fig.update_layout(margin_t=sizes.title + sizes.legend + 40)


def run_cards_html(rows: list[dict], labels: dict[str, str], formats: dict[str, str]) -> str:
    """A table's rows as one card per run, for a screen too narrow for its columns (a phone):
    the first column names the card, every other value sits under its column's name. labels:
    column -> its name in the reader's language; formats: column -> printf format, as the
    grid's own column formats write the numbers."""
    first, *rest = labels
    cards = []
    for row in rows:
        values = "".join(f"<dt>{escape(labels[c])}</dt>"
                         f"<dd>{escape(formats[c] % row[c] if c in formats else str(row[c]))}</dd>"
                         for c in rest)
        cards.append(f'<section><strong>{escape(str(row[first]))}</strong><dl>{values}</dl>'
                     '</section>')
    return f'<div class="run-cards">{"".join(cards)}</div>'

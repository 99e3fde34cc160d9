"""Figures of the compare page: small multiples of the features on identical axes, and the
runs' test accuracy overlaid. Runs are named by run_names(): in the reader's language, from
their configurations, so a language switch renames a finished comparison too."""
from __future__ import annotations

import math
from html import escape

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from lossviz.compare import spread
from lossviz.figures.style import View, band_trace, base_layout, run_styles
from lossviz.figures.training import feature_trace, region_codes, ring_trace, weight_traces
from lossviz.losses import LOSSES, resolve_params
from lossviz.metrics import unit_rows

COLUMNS = 4


# how a parameter is written where the reader sees it (the code's names are not words to them)
_SYMBOLS = {"lam": "λ", "sigma": "σ", "lambda_g": "λ_g"}


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
            # three digits: L-Softmax's annealed λ ends at 8.60585, which only cut the cell
            parts.append(f"{_SYMBOLS.get(p.name, p.name)}={value:.3g}")
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
    """One unit circle (2D) or sphere (3D) per run, same axes everywhere, in one figure (the
    exported image; the page lays out run_panel_figure()s instead)."""
    names = names or [r.label for r in results]
    three_d = _three_d(results[0])
    rows = math.ceil(len(results) / COLUMNS)
    cols = min(COLUMNS, len(results))
    kind = "scene" if three_d else "xy"
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=names,
                        specs=[[{"type": kind}] * cols for _ in range(rows)],
                        horizontal_spacing=0.03, vertical_spacing=0.08)
    for index, result in enumerate(results):
        fig.add_traces(_panel_traces(result, class_names, three_d, view),
                       rows=index // COLUMNS + 1, cols=index % COLUMNS + 1)
    fig.update_annotations(font_size=view.sizes.axis_title)  # the runs' names
    _same_unit_axes(fig, three_d, len(results))
    return base_layout(fig, "", height=PANEL_HEIGHT[view.present] * rows, view=view)


def run_panel_figure(result, class_names, name: str, view: View = View()) -> go.Figure:
    """One run's features on the unit circle or sphere, on the axes every run's panel shares:
    the page sets these side by side in columns, which a phone stacks at its full width (a
    four-column figure left each circle about 85 px wide there)."""
    three_d = _three_d(result)
    fig = go.Figure(_panel_traces(result, class_names, three_d, view))
    _same_unit_axes(fig, three_d, 1)
    fig = base_layout(fig, panel_title(name), height=PANEL_HEIGHT[view.present], view=view)
    # a panel's name in the size of a legend, on up to two lines: four panels to a row are
    # about 115 px wide on a tablet beside the sidebar, too narrow for "Sub-center ArcFace"
    # on one line or "CurricularFace" in a title's size
    size = view.sizes.legend
    fig.update_layout(title_font_size=size, margin=dict(l=4, r=4, t=2 * (size + 6) + 14))
    return fig


def panel_title(name: str, width: int = 12) -> str:
    """A run's name broken at its spaces into lines of about width characters (Plotly does
    not wrap titles): 'Sub-center ArcFace' -> 'Sub-center<br>ArcFace'."""
    lines: list[str] = []
    for word in name.split(" "):
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return "<br>".join(lines)


# One panel's height, at a desk and on a projector (presentation mode)
PANEL_HEIGHT = {False: 280, True: 300}


# where a 2D panel's ring asks which class wins: every degree around the circle
_RING_ANGLES = np.linspace(-math.pi, math.pi, 360, endpoint=False)
RING_DIRECTIONS = np.stack([np.cos(_RING_ANGLES), np.sin(_RING_ANGLES)], axis=1)


def _three_d(result) -> bool:
    return result.evaluation.features.shape[1] == 3


def _panel_traces(result, class_names, three_d: bool, view: View) -> list:
    """A run's features on the unit circle or sphere, its class weights, and in 2D the ring of
    the regions each class wins."""
    ev = result.evaluation
    traces = [feature_trace(unit_rows(ev.features), ev.labels, ev.predictions, class_names,
                            three_d, view),
              *weight_traces(ev.weights, 1.3, class_names, three_d, view)]
    if not three_d:
        traces.insert(0, ring_trace(*region_codes(result.config.loss, result.params,
                                                  RING_DIRECTIONS, ev.weights),
                                    RING_DIRECTIONS, 1.15))
    for trace in traces:
        if trace.mode == "markers+text":  # the class weights' labelled markers, small
            trace.update(marker_size=13, textfont_size=9)
    return traces


def _same_unit_axes(fig: go.Figure, three_d: bool, panels: int) -> None:
    """The same square axes around the unit circle or sphere in every panel, hidden."""
    if three_d:
        axis = dict(range=[-1.4, 1.4], visible=False)
        # where the playground's sphere has its camera: the weight tips stay inside a panel
        # narrower than tall (four to a row at a desk), closer than plotly's default
        fig.update_scenes(xaxis=axis, yaxis=axis, zaxis=axis, aspectmode="cube",
                          camera=dict(eye=dict(x=1.35, y=1.35, z=0.95)))
        return
    fig.update_xaxes(range=[-1.55, 1.55], visible=False)
    fig.update_yaxes(range=[-1.55, 1.55], visible=False)
    for index in range(panels):
        suffix = "" if index == 0 else str(index + 1)
        fig.update_layout({f"yaxis{suffix}": dict(scaleanchor=f"x{suffix}")})


def accuracy_overlay_figure(groups, names=None, view: View = View()) -> go.Figure:
    """Test accuracy per epoch, one line per compared run in its loss's colour and dash.
    groups: the runs of each (seed_groups); over several seeds the line is their mean and a
    band in the same colour spans their lowest to highest."""
    names = names or [group[0].label for group in groups]
    fig = go.Figure()
    styles = run_styles([group[0].config.loss for group in groups])
    for group, name, style in zip(groups, names, styles, strict=True):
        epochs, accuracies = _accuracy_table(group)
        if len(group) > 1:
            fig.add_trace(band_trace(epochs, accuracies.min(axis=0), accuracies.max(axis=0),
                                     style.color, 0.18, legendgroup=name))
        fig.add_trace(go.Scatter(
            x=epochs, y=accuracies.mean(axis=0), name=name, mode="lines+markers",
            legendgroup=name, line=dict(width=view.sizes.line, color=style.color,
                                        dash=style.dash)))
    last = max((r["epoch"] for group in groups for result in group for r in result.history),
               default=1)
    fig.update_xaxes(title=view.t("compare.figures.epoch"), **whole_epochs(last))
    fig.update_yaxes(title=view.t("compare.figures.accuracy_axis"), range=[0, 1.01],
                     tickformat=".0%")
    return _legend_below(fig, len(groups), view.t("compare.figures.accuracy_title"), 330, view)


def _accuracy_table(group) -> tuple[list, np.ndarray]:
    """The epochs every run of the group reached, and (runs, epochs) test accuracies."""
    length = min(len(result.history) for result in group)
    epochs = [row["epoch"] for row in group[0].history[:length]]
    return epochs, np.array([[row["test_accuracy"] for row in result.history[:length]]
                             for result in group])


def _legend_below(fig: go.Figure, entries: int, title: str, plot_height: int,
                  view: View) -> go.Figure:
    """The legend under the plot, two names to a line at any width: the whole family's names
    took several lines, which ran over the title when they stood under it, so the figure keeps
    a known height for them at the bottom."""
    legend_height = math.ceil(entries / 2) * (view.sizes.legend + 10)
    base_layout(fig, title, height=plot_height + legend_height, view=view)
    return fig.update_layout(
        legend=dict(yref="container", y=0, yanchor="bottom", entrywidthmode="fraction",
                    entrywidth=0.5),
        margin_b=legend_height + 2 * view.sizes.axis_title + 20)


def accuracy_spread_figure(groups, names=None, view: View = View()) -> go.Figure:
    """Each compared run's final test accuracy: one open dot per seed, and their mean with an
    error bar of one standard deviation, in the run's colour; the runs side by side."""
    names = names or [group[0].label for group in groups]
    fig = go.Figure()
    styles = run_styles([group[0].config.loss for group in groups])
    for group, name, style in zip(groups, names, styles, strict=True):
        finals = [result.row["test_accuracy"] for result in group]
        summary = spread(finals)
        fig.add_trace(go.Scatter(x=[name] * len(finals), y=finals, mode="markers",
                                 showlegend=False, marker=dict(symbol="circle-open", size=9,
                                                               color=style.color),
                                 hovertemplate="%{y:.1%}<extra>" + escape(name) + "</extra>"))
        fig.add_trace(go.Scatter(
            x=[name], y=[summary["mean"]], mode="markers", name=name, showlegend=False,
            marker=dict(symbol="diamond", size=13, color=style.color),
            error_y=dict(type="data", array=[summary["std"]], color=style.color,
                         thickness=view.sizes.line, width=10)))
    seeds = max(len(group) for group in groups)
    fig.update_yaxes(title=view.t("compare.figures.final_accuracy_axis"), tickformat=".1%")
    fig.update_xaxes(tickangle=-45 if len(groups) > 4 else 0)
    return base_layout(fig, view.t("compare.figures.spread_title", seeds=seeds),
                       height=view.height(380), view=view)


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

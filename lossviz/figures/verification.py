"""Figures of open-set verification: ROC curves (TAR against FAR, FAR on a log axis where the
reported rates 1% and 0.1% sit), the cosine scores of same-class and different-class pairs, and
the family's numbers over seeds with error bars. Pure: numbers in, go.Figure out."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from lossviz.figures.style import (AXIS_COLOR, CLASS_COLORS, LOSS_STYLES, MARKER_OUTLINE,
                                   TEXT_COLOR, View, layout)
from lossviz.verification import REPORTED_FARS, ROC_GRID, SCORE_BINS

# Same-class pairs solid blue, different-class pairs orange and hatched: told apart without
# colour too (the first two of the class palette)
SAME_COLOR, DIFFERENT_COLOR = CLASS_COLORS[0], CLASS_COLORS[1]
# the family figure's panels: (column of the summary, text key, as a percentage)
FAMILY_PANELS = (("test_accuracy", "verification.figures.closed_accuracy"),
                 ("unseen_tar_far1", "verification.figures.unseen_tar"),
                 ("unseen_eer", "verification.figures.unseen_eer"))
FAR_TICKS = (0.001, 0.01, 0.1, 1)


def legend_above(fig_layout: dict, entries: int, columns: int, view: View) -> dict:
    """The legend in `columns` equal columns between the title and the plot, the top margin
    and the height grown by its rows: left to Plotly, its rows ran over the title. The
    columns keep the number of rows the same at any width (on a phone, the projector)."""
    sizes = view.sizes
    rows = -(-entries // columns)
    legend_height = rows * round(sizes.legend * 1.5)
    fig_layout["legend"].update(entrywidth=1 / columns, entrywidthmode="fraction", y=1.0,
                                yanchor="bottom")
    fig_layout["margin"]["t"] = round(sizes.title * 1.3) + 16 + legend_height
    fig_layout["height"] = view.height(fig_layout["height"] + legend_height)
    return fig_layout


def roc_figure(lines, view: View = View()) -> go.Figure:
    """lines: (name, loss, tar at ROC_GRID, dash or None for the loss's own). FAR 0 has no
    place on a log axis: the curve starts at the grid's first positive rate."""
    far = ROC_GRID[1:]
    traces = [go.Scatter(x=far, y=np.asarray(tar)[1:], name=name, mode="lines",
                         line=dict(color=LOSS_STYLES[loss].color, width=view.sizes.line,
                                   dash=dash or LOSS_STYLES[loss].dash),
                         hovertemplate="FAR %{x:.2%}<br>TAR %{y:.1%}<extra>%{fullData.name}"
                                       "</extra>")
              for name, loss, tar, dash in lines]
    traces.append(go.Scatter(x=far, y=far, mode="lines", name=view.t(
        "verification.figures.chance"), line=dict(color=AXIS_COLOR, width=1.5, dash="dot"),
        hoverinfo="skip"))
    fig_layout = layout(
        view.t("verification.figures.roc_title"), 300, view,
        # one tick per decade: every 1-2-5 step ran together on a half-width chart
        xaxis=dict(type="log", title=dict(text=view.t("verification.figures.far_axis")),
                   tickvals=FAR_TICKS, ticktext=[f"{rate:.1%}".replace(".0%", "%")
                                                 for rate in FAR_TICKS], range=[-3.05, 0.02]),
        yaxis=dict(title=dict(text=view.t("verification.figures.tar_axis")), tickformat=".0%",
                   range=[0, 1.02]))
    fig_layout["margin"]["r"] = 2 * view.sizes.tick  # room for the last tick, 100%, at the edge
    fig = go.Figure(traces, legend_above(fig_layout, len(traces), 2, view))
    for rate in REPORTED_FARS:  # where the reported numbers are read
        fig.add_vline(x=rate, line=dict(color=AXIS_COLOR, width=1.5, dash="dash"))
    return fig


def score_histogram_figure(same_counts, different_counts, loss_name: str,
                           view: View = View()) -> go.Figure:
    """How the cosine scores of same-class and different-class pairs fall: the less they
    overlap, the fewer errors any threshold makes. Shares of each kind, not counts."""
    centres = (SCORE_BINS[:-1] + SCORE_BINS[1:]) / 2
    width = SCORE_BINS[1] - SCORE_BINS[0]

    def bars(counts, key, color, pattern):
        counts = np.asarray(counts, float)
        return go.Bar(x=centres, y=counts / max(counts.sum(), 1), width=width,
                      name=view.t(key), opacity=0.75,
                      marker=dict(color=color, line=dict(color=MARKER_OUTLINE, width=1),
                                  pattern=dict(shape=pattern, fgcolor=MARKER_OUTLINE)))
    fig_layout = layout(view.t("verification.figures.scores_title", loss=loss_name), 300, view,
                        barmode="overlay",
                        xaxis=dict(title=dict(text=view.t("verification.figures.score_axis")),
                                   range=[-1, 1]),
                        yaxis=dict(title=dict(text=view.t("verification.figures.share_axis")),
                                   tickformat=".0%"))
    return go.Figure(
        [bars(same_counts, "verification.figures.same_pairs", SAME_COLOR, ""),
         bars(different_counts, "verification.figures.different_pairs", DIFFERENT_COLOR, "/")],
        legend_above(fig_layout, 2, 1, view))


def family_figure(summary: list[dict], names: dict, view: View = View()) -> go.Figure:
    """Per loss, mean over seeds with error bars of one standard deviation (and each seed's
    spread as min-max in the hover): closed-set accuracy, TAR at FAR 1% and EER on the held-out
    classes, one panel each, stacked so a phone can read them. names: loss -> its title."""
    panels = [(column, key) for column, key in FAMILY_PANELS
              if all(column in entry for entry in summary)]
    count = len(panels)
    gap, first_top = 0.12, 0.93  # room above each panel for its name, and under the title
    height = (first_top - gap * (count - 1)) / count
    axes, traces = {}, []
    for index, (column, key) in enumerate(panels):
        suffix = "" if index == 0 else str(index + 1)
        top = first_top - index * (height + gap)
        # the losses are named once, under the last panel (names under each collide with
        # the next panel's title at a projector's height)
        axes[f"xaxis{suffix}"] = dict(anchor=f"y{suffix}", showticklabels=index == count - 1,
                                      matches="x" if index else None)
        axes[f"yaxis{suffix}"] = dict(domain=[max(0.0, top - height), top], anchor=f"x{suffix}",
                                      tickformat=".0%")
        axes.setdefault("annotations", []).append(dict(
            text=view.t(key), x=0, y=top, xref="paper", yref="paper", showarrow=False,
            xanchor="left", yanchor="bottom", font=dict(size=view.sizes.axis_title,
                                                        color=TEXT_COLOR)))
        traces += [go.Scatter(
            x=[names[entry["loss"]]], y=[entry[column]["mean"]],
            error_y=dict(type="data", array=[entry[column]["std"]], thickness=2.5, width=8,
                         color=LOSS_STYLES[entry["loss"]].color),
            mode="markers", marker=dict(size=view.sizes.marker + 6, symbol="diamond",
                                        color=LOSS_STYLES[entry["loss"]].color,
                                        line=dict(color=MARKER_OUTLINE, width=1)),
            name=names[entry["loss"]], showlegend=False, xaxis=f"x{suffix}", yaxis=f"y{suffix}",
            customdata=[[entry[column]["min"], entry[column]["max"], entry[column]["n"]]],
            hovertemplate=f"%{{x}}: %{{y:.1%}} ± %{{error_y.array:.1%}}<br>"
                          f"min %{{customdata[0]:.1%}}, max %{{customdata[1]:.1%}} "
                          f"(n=%{{customdata[2]}})<extra>{view.t(key)}</extra>")
            for entry in summary]
    more = {**axes}
    annotations = more.pop("annotations", [])
    return go.Figure(traces, layout(view.t("verification.figures.family_title"),
                                    170 * count + 90, view, annotations=annotations, **more))

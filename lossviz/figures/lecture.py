"""Figures that only the lecture draws: step 1's probabilities, step 4's best target
probability against s, and the evidence of steps 8 and 9 (median over seeds, the seeds' spread
as a band). Steps 2-7 reuse the target-logit and decision-margin figures."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from lossviz.figures.style import (CLASS_COLORS, GAP_COLOR, LOSS_STYLES, TEXT_COLOR, LineStyle,
                                   View, band_trace, layout, on_right, two_panels)


def probabilities_figure(probabilities: np.ndarray, target: np.ndarray, kl: float, ce: float,
                         view: View = View()) -> go.Figure:
    """Softmax's output q beside the one-hot label p, class by class; the title carries the
    two numbers that are always equal, KL(p || q) and the cross-entropy."""
    classes = [view.t("lecture.fig.class", index=i + 1) for i in range(len(probabilities))]
    output = go.Bar(x=classes, y=probabilities, name=view.t("lecture.fig.q"),
                    marker=dict(color=CLASS_COLORS[0], line=dict(color=TEXT_COLOR, width=1)),
                    text=[f"{q:.2f}" for q in probabilities], textposition="outside",
                    textfont=dict(size=view.sizes.text, color=TEXT_COLOR), cliponaxis=False)
    label = go.Bar(x=classes, y=target, name=view.t("lecture.fig.p"),
                   marker=dict(color="white", line=dict(color=GAP_COLOR, width=2),
                               pattern=dict(shape="/", fgcolor=GAP_COLOR, solidity=0.35)))
    title = view.t("lecture.fig.kl_title", kl=kl, ce=ce)
    # The legend stands inside the plot, in a band above 1 that no bar reaches: under the
    # title it took two lines on a phone and ran over the title, whose numbers are the point
    fig_layout = layout(title, 400, view, barmode="group", bargap=0.25,
                        yaxis=dict(range=[0, 1.5], tickvals=np.linspace(0, 1, 6),
                                   title=dict(text=view.t("lecture.fig.probability"))))
    fig_layout["legend"].update(orientation="v", x=1.0, xanchor="right", y=1.0,
                                yanchor="top", bgcolor="rgba(255,255,255,0.85)")
    return go.Figure([output, label], fig_layout)


def scale_figure(scales: np.ndarray, best: np.ndarray, chosen: float, chosen_best: float,
                 classes: int, view: View = View()) -> go.Figure:
    """The largest target probability C classes allow at each s, and where the chosen s sits."""
    style = LOSS_STYLES["normface"]
    curve = go.Scatter(x=scales, y=best, mode="lines", name=view.t("lecture.fig.best"),
                       line=dict(color=style.color, dash=style.dash, width=view.sizes.line))
    here = go.Scatter(x=[chosen], y=[chosen_best], mode="markers+text",
                      name=view.t("lecture.fig.chosen"),
                      text=[view.t("lecture.fig.chosen_label", s=chosen, p=chosen_best)],
                      textposition="bottom right", textfont=dict(size=view.sizes.text,
                                                                 color=TEXT_COLOR),
                      marker=dict(size=view.sizes.marker * 1.6, color=style.color,
                                  symbol="diamond", line=dict(color=TEXT_COLOR, width=2)))
    floor = dict(type="line", xref="paper", x0=0, x1=1, y0=1 / classes, y1=1 / classes,
                 line=dict(color=GAP_COLOR, dash="dot", width=2),
                 label=dict(text=view.t("lecture.fig.chance", classes=classes),
                            textposition="end", yanchor="bottom",
                            font=dict(size=view.sizes.text, color=TEXT_COLOR)))
    return go.Figure([curve, here], layout(
        view.t("lecture.fig.scale_title", classes=classes), 400, view, showlegend=False,
        shapes=[floor],
        xaxis=dict(type="log", title=dict(text=view.t("lecture.fig.scale_axis"))),
        yaxis=dict(range=[0, 1.05], tickformat=".0%",
                   title=dict(text=view.t("lecture.fig.best_axis")))))


def _median_line(x, y, style: LineStyle, name: str, view: View, legend: bool) -> go.Scatter:
    return go.Scatter(x=x, y=y, mode="lines", name=name, showlegend=legend, legendgroup=name,
                      line=dict(color=style.color, dash=style.dash, width=view.sizes.line))


def pull_figure(series: list[dict], view: View = View()) -> go.Figure:
    """Two panels over training, one line per loss (median over seeds, band: the seeds'
    spread): the mean angle of features to their own class weight, and the smallest angle
    between two class weights. series: {name, loss, epochs, own: band, between: band}."""
    traces = []
    for index, run in enumerate(series):
        style = LOSS_STYLES[run["loss"]]
        for panel, band in enumerate((run["own"], run["between"])):
            lines = [band_trace(run["epochs"], band["min"], band["max"], style.color,
                                name=run["name"]),
                     _median_line(run["epochs"], band["median"], style, run["name"], view,
                                  legend=panel == 0)]
            traces += on_right(lines) if panel else lines
    titles = (view.t("lecture.fig.own_panel"), view.t("lecture.fig.between_panel"))
    epoch = dict(title=dict(text=view.t("lecture.fig.epoch")))
    degrees = dict(title=dict(text=view.t("lecture.fig.degrees")))
    panels = two_panels(titles, gap=0.1, view=view)
    panels.update(xaxis=dict(panels["xaxis"], **epoch), xaxis2=dict(panels["xaxis2"], **epoch),
                  yaxis=dict(panels["yaxis"], **degrees))
    # At least 10 degrees tall: weights that moved by a tenth of a degree must look still,
    # not fill the panel.
    between = np.concatenate([np.r_[run["between"]["min"], run["between"]["max"]]
                              for run in series])
    middle = (between.min() + between.max()) / 2
    half = max(5.0, (between.max() - between.min()) / 2 + 1.0)
    panels["yaxis2"] = dict(panels["yaxis2"], range=[middle - half, middle + half])
    fig_layout = layout(view.t("lecture.fig.pull_title"), 430, view, **panels)
    # under the plot and its axis titles: the panels have titles of their own above
    fig_layout["legend"].update(y=-0.32, yanchor="top")
    fig_layout["margin"]["b"] = 3 * view.sizes.legend
    # the panels' titles take two lines: on one they ran into each other on a tablet
    fig_layout["margin"]["t"] += 2 * (view.sizes.axis_title + 4) + 8
    return go.Figure(traces, fig_layout)


def variant_style(name: str, loss: str) -> LineStyle:
    """A difficulty variant's line: its loss's own; SphereFace annealed dashed beside SphereFace
    fixed; the references without a margin dotted."""
    color = LOSS_STYLES[loss].color
    if name.endswith("-reference"):
        return LineStyle(color, "dot")
    if name == "sphereface-annealed":
        return LineStyle(color, "dash")
    return LOSS_STYLES[loss]


def difficulty_figure(series: list[dict], thresholds: list[float], last_step: float,
                      view: View = View()) -> go.Figure:
    """Test accuracy against training steps up to last_step, one line per variant (median over
    seeds, band: the seeds' spread), with the accuracies the study times drawn across. series:
    {name, style, steps, accuracy: band}."""
    traces = []
    for run in series:
        steps, band = np.asarray(run["steps"]), run["accuracy"]
        traces += [band_trace(steps, band["min"], band["max"], run["style"].color,
                              name=run["name"]),
                   _median_line(steps, band["median"], run["style"], run["name"], view, True)]
    lines = [dict(type="line", xref="paper", x0=0, x1=1, y0=level, y1=level,
                  line=dict(color=GAP_COLOR, dash="dot", width=1.5),
                  # at the left, where training has not reached them yet (at the right end
                  # the labels sat on the curves), the highest above its line, others below
                  label=dict(text=f"{level:.0%}", textposition="start",
                             yanchor="bottom" if level == max(thresholds) else "top",
                             font=dict(size=view.sizes.text, color=TEXT_COLOR)))
             for level in thresholds]
    fig_layout = layout(
        view.t("lecture.fig.difficulty_title"), 430, view, shapes=lines,
        xaxis=dict(title=dict(text=view.t("lecture.fig.steps")), range=[0, last_step]),
        yaxis=dict(range=[0, 1.02], tickformat=".0%",
                   title=dict(text=view.t("lecture.fig.accuracy"))))
    # the names are long: a legend under the plot, not labels at the lines' ends
    fig_layout["legend"].update(y=-0.32, yanchor="top")
    fig_layout["margin"]["b"] = 3 * view.sizes.legend
    return go.Figure(traces, fig_layout)

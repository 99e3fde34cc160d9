"""Colors and layout shared by every figure, chosen to stay readable on a lecture projector."""
from __future__ import annotations

from dataclasses import dataclass

import plotly.graph_objects as go

from lossviz.i18n import DEFAULT_LANGUAGE, text


@dataclass(frozen=True)
class View:
    """Who looks at a figure: the reader's language (every title, axis label and legend entry
    comes from the translation tables), and whether it is projected in front of a class."""
    lang: str = DEFAULT_LANGUAGE
    present: bool = False

    def t(self, key: str, **values) -> str:
        return text(key, self.lang, **values)


# One color per loss, the same on every page (and in exported figures).
LOSS_COLORS = {
    "softmax": "#4c4c4c", "lsoftmax": "#8c564b", "sphereface": "#9467bd", "normface": "#17becf",
    "cosface": "#2ca02c", "arcface": "#d62728", "combined": "#1f77b4",
}
# A second palette for reference curves drawn beside the user's own.
REFERENCE_COLORS = ["#7f7f7f", "#c5b0d5", "#e377c2", "#ff9896", "#98df8a", "#aec7e8", "#ffbb78"]
# Ten classes (MNIST digits), colorblind-aware Tableau 10.
CLASS_COLORS = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"]
GAP_COLOR = "#d9d9d9"
WARN_FILL = "rgba(214, 39, 40, 0.12)"


def layout(title: str, height: int = 460, **more) -> dict:
    """The layout every figure shares, with `more` on top. A figure built in one
    go.Figure(data, layout) call is validated once, not once per update_layout: the
    playground builds three figures for every snapshot."""
    return dict(
        title=dict(text=title, x=0.0, xanchor="left"),
        height=height, font=dict(size=15),  # no template: st.plotly_chart applies the app's theme
        margin=dict(l=60, r=20, t=60, b=55),
        legend=dict(orientation="h", yanchor="top", y=-0.18, x=0.0), **more)


def base_layout(fig: go.Figure, title: str, height: int = 460) -> go.Figure:
    fig.update_layout(layout(title, height))
    return fig


def degree_axis(fig: go.Figure, title: str = "θ (degrees)", axis: str = "xaxis") -> go.Figure:
    fig.update_layout({axis: dict(title=title, range=[0, 180], dtick=30)})
    return fig


def two_panels(titles: tuple[str, str], gap: float = 0.06) -> dict:
    """Layout entries for a left (x, y) and a right (x2, y2) panel. Same result as
    make_subplots(1, 2), at a fraction of its cost: the playground builds two per snapshot."""
    half = (1 - gap) / 2
    return dict(
        xaxis=dict(domain=[0, half]), yaxis=dict(anchor="x"),
        xaxis2=dict(domain=[1 - half, 1]), yaxis2=dict(anchor="x2"),
        annotations=[dict(text=title, x=x, y=1.0, xref="paper", yref="paper", showarrow=False,
                          xanchor="center", yanchor="bottom", font=dict(size=16))
                     for title, x in zip(titles, (half / 2, 1 - half / 2), strict=True)])


def on_right(traces):
    """Move traces to the right panel of two_panels()."""
    for trace in traces:
        trace.update(xaxis="x2", yaxis="y2")
    return traces

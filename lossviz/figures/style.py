"""Colors, shapes, sizes and layout shared by every figure (Plotly on the pages, matplotlib in
exports), designed for a lecture hall first: a washed-out projector read from 15 m, colour-blind
viewers (so nothing is said by colour alone), and readers of Chinese.

What a figure builder uses:
- View: the reader's language and whether the figure is projected (presentation mode);
  view.t(key) for every title, axis label and legend name, view.sizes for every size.
- layout(title, height, view=..., **more): the layout every Plotly figure starts from;
  steady_margins(spec, view) for a figure redrawn while a run trains (fixed margins).
- LOSS_STYLES[loss]: the one color and dash of each loss, on every page and in every export.
- CLASS_COLORS / CLASS_SYMBOLS / MPL_CLASS_MARKERS: one color and one marker per class.
- end_labels(...): names written at the right end of lines instead of a legend below the fold.
- contrast_ratio(a, b): the WCAG ratio the colors here are chosen to keep (>= 4.5:1 on white).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from lossviz.i18n import DEFAULT_LANGUAGE, text

BACKGROUND = "#ffffff"
TEXT_COLOR = "#1a1a1a"  # 17:1 on white
AXIS_COLOR = "#333333"  # ticks and axis titles, 12.6:1 (Streamlit's theme default #808495: 3.7:1)
GRID_COLOR = "#d9d9d9"  # grid lines only: they carry no information of their own


@dataclass(frozen=True)
class Sizes:
    """Pixel sizes of one figure's text, lines and markers."""
    text: int  # anything not named below (hover labels, annotations)
    tick: int
    axis_title: int
    title: int
    legend: int
    label: int  # names written at line ends
    line: float  # width of a curve
    marker: float  # a scatter point


# At a desk (laptop, phone) and projected (1280x720 from the back of a hall). Before this table
# ticks and legends were about 13 px and axis titles 15 px.
DESK = Sizes(text=16, tick=16, axis_title=18, title=20, legend=16, label=16, line=3.0, marker=8)
PROJECTOR = Sizes(text=20, tick=20, axis_title=23, title=25, legend=20, label=20, line=4.5,
                  marker=12)


@dataclass(frozen=True)
class View:
    """Who looks at a figure: the reader's language (every title, axis label and legend entry
    comes from the translation tables), and whether it is projected in front of a class."""
    lang: str = DEFAULT_LANGUAGE
    present: bool = False

    def t(self, key: str, **values) -> str:
        return text(key, self.lang, **values)

    @property
    def sizes(self) -> Sizes:
        return PROJECTOR if self.present else DESK

    def height(self, desk: int) -> int:
        """A figure's height: as designed at a desk; projected, no taller than what fits under
        a title and a row of controls at 1280x720, so the figure is seen whole."""
        return min(desk, PROJECTED_HEIGHT) if self.present else desk


PROJECTED_HEIGHT = 460


@dataclass(frozen=True)
class LineStyle:
    color: str
    dash: str  # Plotly's name; mpl_dash() gives matplotlib's


# One color and one dash per loss, the same on every page and in every export. Colors: the
# Petroff (2021) colour-blind-safe hues darkened to >= 4.5:1 on white (they also color the
# labels at line ends); dashes: distinct, so that the lines part without color too.
# Smallest CAM02-UCS distance between two losses: 21.0 normal, 8.4 deuteranopia,
# 15.2 protanopia, 6.8 tritanopia (scripts/palette_report.py).
LOSS_STYLES = {
    "softmax": LineStyle("#333333", "dot"),
    "lsoftmax": LineStyle("#81753f", "dashdot"),
    "sphereface": LineStyle("#832db6", "longdashdot"),
    "normface": LineStyle("#00797a", "longdash"),
    "cosface": LineStyle("#1d77c0", "dash"),
    "arcface": LineStyle("#bd1f01", "solid"),
    "combined": LineStyle("#b3206f", "8px,3px,2px,3px,2px,3px"),
    # Petroff's brown darkened to 6.1:1; its band of margins is drawn in the same hue
    "elasticface": LineStyle("#8a5545", "12px,4px"),
    # Outside Petroff's ten (all in use): the grid colours >= 4.6:1 farthest from the others,
    # at least 10.7 apart from every loss in each view of scripts/palette_report.py
    "curricularface": LineStyle("#881177", "16px,4px,4px,4px"),
    "adacos": LineStyle("#335555", "4px,2px"),
    # ArcFace's red darkened (its family), 16.6 apart from every other loss in each view
    "subcenter": LineStyle("#660000", "10px,2px,2px,2px"),
    # The grid colours >= 4.6:1 farthest from the other losses in every view
    # (scripts/palette_report.py): no view's closest pair of losses gets closer with them.
    # Not #0000xx: Streamlit's Plotly theme takes those for its own colours (#000033 drew red)
    "magface": LineStyle("#110044", "2px,2px,8px,2px"),
    "adaface": LineStyle("#7711ff", "14px,3px,3px,3px,3px,3px"),
}
_MPL_DASHES = {"solid": "-", "dot": (0, (1, 1.5)), "dash": "--", "longdash": (0, (8, 3)),
               "dashdot": "-.", "longdashdot": (0, (10, 3, 2, 3))}


def mpl_dash(dash: str):
    """matplotlib's linestyle for a Plotly dash ("8px,3px,..." becomes an on/off sequence)."""
    if dash in _MPL_DASHES:
        return _MPL_DASHES[dash]
    return (0, tuple(float(part.removesuffix("px")) / 1.5 for part in dash.split(",")))


# Ten classes: Petroff's 10-colour sequence (M. A. Petroff, "Accessible Color Sequences for Data
# Visualization", 2021; matplotlib's "petroff10" style), chosen for colour-vision deficiency:
# smallest CAM02-UCS distance between two classes 18.7 normal, 14.9 deuteranopia, 14.5
# protanopia (the Tableau 10 it replaces: 19.3, 0.8 and 1.4). Each class also has its own
# marker, so no class is told from another by color alone; markers get a dark outline because
# several of these fills are light (2:1 on white).
CLASS_COLORS = ["#3f90da", "#ffa90e", "#bd1f01", "#94a4a2", "#832db6", "#a96b59", "#e76300",
                "#b9ac70", "#717581", "#92dadd"]
CLASS_SYMBOLS = ["circle", "square", "diamond", "triangle-up", "triangle-down", "cross", "x",
                 "star", "pentagon", "hexagram"]
MPL_CLASS_MARKERS = ["o", "s", "D", "^", "v", "P", "X", "*", "p", "h"]
MARKER_OUTLINE = "#262626"
# Where no class wins with its margin: near-black, 15:1 on white and far from every class color
# (the light grey #d9d9d9 it replaces was 1.4:1, invisible on a projector).
GAP_COLOR = "#262626"
WARN_FILL = "rgba(189, 31, 1, 0.10)"  # a faint band behind a rising raw curve; a label says why


def translucent(color: str, alpha: float) -> str:
    """'#rrggbb' as an rgba() colour of the given opacity."""
    red, green, blue = (int(color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red}, {green}, {blue}, {alpha})"


def band_trace(x, low, high, color: str, alpha: float = 0.15, **more) -> go.Scatter:
    """A faint band from low to high in a line's colour (out along high, back along low),
    for a spread over seeds: the line drawn over it carries the legend."""
    x = np.asarray(x)
    return go.Scatter(x=np.r_[x, x[::-1]], y=np.r_[np.asarray(high), np.asarray(low)[::-1]],
                      fill="toself", mode="lines", fillcolor=translucent(color, alpha),
                      line=dict(width=0), hoverinfo="skip", showlegend=False, **more)


def contrast_ratio(first: str, second: str = BACKGROUND) -> float:
    """WCAG 2 contrast ratio between two '#rrggbb' colors (1 to 21)."""
    def luminance(color: str) -> float:
        channels = [int(color[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        r, g, b = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * r + 0.7152 * g + 0.0722 * b
    light, dark = sorted((luminance(first), luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def _axis(sizes: Sizes) -> dict:
    return dict(tickfont=dict(size=sizes.tick, color=AXIS_COLOR), color=AXIS_COLOR,
                title=dict(font=dict(size=sizes.axis_title, color=AXIS_COLOR)),
                gridcolor=GRID_COLOR, zerolinecolor=GRID_COLOR, automargin=True)


def _merge(base: dict, extra: dict) -> dict:
    """base with extra on top, nested dicts merged (a string title becomes its text)."""
    merged = dict(base)
    for name, value in extra.items():
        if name == "title" and isinstance(value, str):
            value = dict(text=value)
        if isinstance(value, dict) and isinstance(merged.get(name), dict):
            value = _merge(merged[name], value)
        merged[name] = value
    return merged


def layout(title: str, height: int = 460, view: View = View(), **more) -> dict:
    """The layout every figure shares, with `more` on top (axes in `more` keep the shared tick
    and title style). A figure built in one go.Figure(data, layout) call is validated once, not
    once per update_layout: the playground builds three figures for every snapshot.

    Titles sit alone on the top line, left; a legend goes just under them, above the plot, so
    it neither hides below the fold nor collides with the x-axis title; Plotly's toolbar stands
    upright at the right edge instead of lying over the title on a narrow screen."""
    sizes, height = view.sizes, view.height(height)
    base = dict(
        # no template: st.plotly_chart applies the app's theme; colors here override its greys
        title=dict(text=title, x=0.0, xanchor="left", xref="container", y=1.0, yanchor="top",
                   yref="container", pad=dict(t=10, l=8), font=dict(size=sizes.title,
                                                                  color=TEXT_COLOR)),
        height=height, font=dict(size=sizes.text, color=TEXT_COLOR),
        margin=dict(l=10, r=10, t=sizes.title + 26 if title else 24, b=10),
        legend=dict(orientation="h", yanchor="bottom", y=1.01, x=0.0, xanchor="left",
                    font=dict(size=sizes.legend, color=TEXT_COLOR), bgcolor="rgba(0,0,0,0)"),
        modebar=dict(orientation="v"),
        xaxis=_axis(sizes), yaxis=_axis(sizes))
    axes = {name: _merge(_axis(sizes), value) for name, value in more.items()
            if name.startswith(("xaxis", "yaxis")) and isinstance(value, dict)}
    return _merge(base, {**more, **axes})


def steady_margins(spec: dict, view: View = View(), widest_tick: str = "−0000") -> dict:
    """spec (a layout() dict) with Plotly's automargin off and margins that fit tick labels as
    wide as widest_tick and the axis titles. For the figures redrawn while a run trains:
    automargin measures every label after each draw and draws the figure again when a width
    changed (a count going from 99 to 100), a quarter of the browser's main thread in a
    profile of a training 2D run."""
    sizes = view.sizes
    axes = {name: axis for name, axis in spec.items() if name.startswith(("xaxis", "yaxis"))}
    for axis in axes.values():
        axis["automargin"] = False

    def room_for_title(names) -> int:
        titled = any((axes[name].get("title") or {}).get("text") for name in names)
        return sizes.axis_title + 8 if titled else 0

    x_names = [name for name in axes if name.startswith("xaxis")]
    spec["margin"]["l"] = max(spec["margin"]["l"], label_width(widest_tick, sizes.tick) + 10
                              + room_for_title(["yaxis"] if "yaxis" in axes else []))
    spec["margin"]["b"] = max(spec["margin"]["b"], round(1.4 * sizes.tick) + 12
                              + room_for_title(x_names))
    return spec


def base_layout(fig: go.Figure, title: str, height: int = 460, view: View = View()) -> go.Figure:
    fig.update_layout(layout(title, height, view))
    return fig


def degree_axis(fig: go.Figure, title: str = "θ (degrees)", axis: str = "xaxis") -> go.Figure:
    fig.update_layout({axis: dict(title=dict(text=title), range=[0, 180], dtick=30)})
    return fig


def two_panels(titles: tuple[str, str], gap: float = 0.06, view: View = View()) -> dict:
    """Layout entries for a left (x, y) and a right (x2, y2) panel. Same result as
    make_subplots(1, 2), at a fraction of its cost: the playground builds two per snapshot."""
    half = (1 - gap) / 2
    return dict(
        xaxis=dict(domain=[0, half]), yaxis=dict(anchor="x"),
        xaxis2=dict(domain=[1 - half, 1]), yaxis2=dict(anchor="x2"),
        annotations=[dict(text=title, x=x, y=1.0, xref="paper", yref="paper", showarrow=False,
                          xanchor="center", yanchor="bottom",
                          font=dict(size=view.sizes.axis_title, color=TEXT_COLOR))
                     for title, x in zip(titles, (half / 2, 1 - half / 2), strict=True)])


def on_right(traces):
    """Move traces to the right panel of two_panels()."""
    for trace in traces:
        trace.update(xaxis="x2", yaxis="y2")
    return traces


def label_width(label: str, size: int) -> int:
    """Rough pixel width of a label: Chinese characters are about twice as wide as Latin."""
    return round(sum(1.05 * size if ord(ch) > 0x2E80 else 0.58 * size for ch in label))


def _spread(wanted: list[float], gap: float, low: float, high: float) -> list[float]:
    """Positions as close as possible to the sorted `wanted`, at least `gap` apart, within
    [low, high] when they fit (pushed up from the bottom, then down from the top)."""
    placed = []
    for y in wanted:
        placed.append(max(y, placed[-1] + gap) if placed else max(y, low))
    for i in range(len(placed) - 1, -1, -1):
        ceiling = high if i == len(placed) - 1 else placed[i + 1] - gap
        placed[i] = min(placed[i], ceiling)
    return placed


def end_labels(ends: list[tuple[str, float, str]], y_range: tuple[float, float],
               plot_height: float, view: View, xref: str = "x", yref: str = "y",
               x: float = 180.0) -> tuple[list[dict], int]:
    """Names written just right of where lines end, in the lines' colors, instead of a legend
    that would sit below the fold. ends: (name, y at the end, color). Labels are nudged apart
    vertically so that none overlaps another. Returns the annotations and the right margin in
    pixels they need."""
    size = view.sizes.label
    low, high = y_range
    gap = (high - low) * size * 1.25 / max(plot_height, 1)
    order = sorted(range(len(ends)), key=lambda i: ends[i][1])
    placed = _spread([ends[i][1] for i in order], gap, low, high)
    notes = [dict(x=x, y=y, xref=xref, yref=yref, text=ends[i][0], showarrow=False,
                  xanchor="left", yanchor="middle", xshift=6,
                  font=dict(size=size, color=ends[i][2]))
             for i, y in zip(order, placed, strict=True)]
    width = max((label_width(name, size) for name, _, _ in ends), default=0)
    return notes, width + 18


# Runs that are not told apart by their loss (one loss at several values of a parameter): the
# loss colors in turn, each with its own dash.
_SEQUENCE = [LOSS_STYLES[name] for name in ("cosface", "arcface", "combined", "normface",
                                            "sphereface", "lsoftmax", "softmax")]


def run_styles(losses: list[str]) -> list[LineStyle]:
    """A line style per run: its loss's own when every run has a different loss (so ArcFace is
    the same red on every page), otherwise one from a fixed sequence."""
    if len(set(losses)) == len(losses):
        return [LOSS_STYLES[loss] for loss in losses]
    return [_SEQUENCE[i % len(_SEQUENCE)] for i in range(len(losses))]


def readable_on(fill: str) -> str:
    """Black or white, whichever reads better on a fill (a class color behind a digit)."""
    return max(("#000000", "#ffffff"), key=lambda ink: contrast_ratio(ink, fill))


# Plotly's 3D scatter knows only eight marker shapes: the two classes past them get outlined
# versions of the first two (their labelled weight tips name them too).
CLASS_SYMBOLS_3D = ["circle", "square", "diamond", "cross", "x", "circle-open", "square-open",
                    "diamond-open", "circle-open", "square-open"]


def class_symbols(labels, three_d: bool = False) -> list[str]:
    """The marker shape of each point's class."""
    shapes = CLASS_SYMBOLS_3D if three_d else CLASS_SYMBOLS
    return [shapes[int(label) % 10] for label in labels]

"""Publication-quality static figures with matplotlib, in the app's colors, line styles and
class markers (lossviz.figures.style): what the CLI writes and what a teacher puts on slides
(PNG and SVG). Chinese labels use the CJK subset the app serves (static/fonts), so an export
made on a machine without CJK fonts shows Chinese rather than empty boxes."""
from __future__ import annotations

import io
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib import font_manager, ticker  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402

from lossviz.figures.margins import (REGION_COLORS, REGION_KEYS, WEIGHT_COLORS,  # noqa: E402
                                     column_regions, region_runs, ring_piece)
from lossviz.figures.style import (CLASS_COLORS, GAP_COLOR, LOSS_STYLES,  # noqa: E402
                                   MARKER_OUTLINE, MPL_CLASS_MARKERS, TEXT_COLOR, View,
                                   mpl_dash, readable_on)
from lossviz.figures.training import OTHER_COLOR, OWN_COLOR, region_codes  # noqa: E402
from lossviz.i18n import LossvizError  # noqa: E402
from lossviz.margins import CLASS_1, CLASS_2, GAP  # noqa: E402
from lossviz.metrics import unit_rows  # noqa: E402

CJK_FONT = Path(__file__).resolve().parents[2] / "static" / "fonts" / "lossviz-cjk-sc.otf"
font_manager.fontManager.addfont(str(CJK_FONT))
# DejaVu Sans for Latin, Greek and maths symbols; matplotlib falls back glyph by glyph to the
# next family, here the CJK subset, for the characters DejaVu lacks.
plt.rcParams.update({
    "font.family": ["DejaVu Sans", font_manager.FontProperties(fname=CJK_FONT).get_name()],
    "font.size": 12, "text.color": TEXT_COLOR, "axes.labelcolor": TEXT_COLOR,
    "xtick.color": TEXT_COLOR, "ytick.color": TEXT_COLOR, "svg.fonttype": "path"})


def _class_scatter(ax, points, labels, size, alpha=0.8):
    """Features colored and shaped by class (no class told by color alone)."""
    labels = np.asarray(labels)
    for cls in np.unique(labels % 10):
        mine = labels % 10 == cls
        ax.scatter(*points[mine].T, c=CLASS_COLORS[cls], marker=MPL_CLASS_MARKERS[cls], s=size,
                   alpha=alpha, linewidths=0.3, edgecolors=MARKER_OUTLINE)


def _circle_panel(ax, features, labels, weights, class_names, loss, params):
    angles = np.linspace(-math.pi, math.pi, 720, endpoint=False)
    directions = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    codes, wins = region_codes(loss, params, directions, weights)
    ring = [CLASS_COLORS[c % 10] if w else GAP_COLOR for c, w in zip(codes, wins, strict=True)]
    ax.scatter(*(directions * 1.15).T, c=ring, s=14, marker="s", linewidths=0)
    _class_scatter(ax, unit_rows(features), labels, size=10, alpha=0.7)
    for cls, tip in enumerate(unit_rows(weights) * 1.3):
        ax.plot([0, tip[0]], [0, tip[1]], color="#333333", linewidth=1)
        ax.text(*(tip * 1.1), class_names[cls], ha="center", va="center", fontsize=8,
                color=readable_on(CLASS_COLORS[cls % 10]),
                bbox=dict(boxstyle="circle,pad=0.25", facecolor=CLASS_COLORS[cls % 10],
                          edgecolor=MARKER_OUTLINE, linewidth=0.5))
    ax.set(xlim=(-1.55, 1.55), ylim=(-1.55, 1.55), aspect="equal", xticks=[], yticks=[])


def _sphere_panel(ax, features, labels, weights):
    _class_scatter(ax, unit_rows(features), labels, size=6)
    for cls, tip in enumerate(unit_rows(weights) * 1.3):
        ax.plot(*zip([0, 0, 0], tip, strict=True), color=CLASS_COLORS[cls % 10], linewidth=2)
    ax.set(xlim=(-1.3, 1.3), ylim=(-1.3, 1.3), zlim=(-1.3, 1.3), xticks=[], yticks=[],
           zticks=[], box_aspect=(1, 1, 1))


def features_figure(features, labels, weights, class_names, loss, params, title=""):
    """2D: the unit circle with its margin ring. 3D: the features on the sphere."""
    return small_multiples_figure([(title, features, labels, weights, loss, params)], class_names)


def small_multiples_figure(panels, class_names, columns: int = 4):
    """One circle or sphere per (title, features, labels, weights, loss, params), same axes."""
    three_d = panels[0][1].shape[1] == 3
    cols = min(columns, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig = plt.figure(figsize=(4 * cols, 4 * rows))
    for index, (title, features, labels, weights, loss, params) in enumerate(panels):
        ax = fig.add_subplot(rows, cols, index + 1, projection="3d" if three_d else None)
        if three_d:
            _sphere_panel(ax, features, labels, weights)
        else:
            _circle_panel(ax, features, labels, weights, class_names, loss, params)
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def accuracy_figure(series, view: View = View()):
    """Test accuracy per epoch, one line per (label, rows, LineStyle): each loss in its own
    color and dash, as on the pages."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for label, rows, style in series:
        ax.plot([r["epoch"] for r in rows], [r["test_accuracy"] for r in rows], marker="o",
                label=label, color=style.color, linestyle=mpl_dash(style.dash))
    ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))  # whole epochs
    ax.set(xlabel=view.t("compare.figures.epoch"), ylabel=view.t("compare.figures.accuracy_axis"),
           ylim=(0, 1.01))
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig


def _lines_panel(ax, x_degrees, series, x_label: str, y_label: str, title: str = ""):
    for label, values, style in series:
        ax.plot(x_degrees, values, color=style.color, linestyle=mpl_dash(style.dash), label=label,
                linewidth=2)
    ax.set(xlabel=x_label, ylabel=y_label, xlim=(0, 180), xticks=range(0, 181, 30))
    ax.set_title(title, loc="left")
    ax.legend(frameon=False, fontsize=10, loc="upper left", bbox_to_anchor=(1.01, 1.0))


def lines_figure(x_degrees, series, x_label: str, y_label: str, title: str = ""):
    """Curves against an angle in degrees: one line per (label, values, LineStyle), the legend
    to the right of the plot."""
    fig, ax = plt.subplots(figsize=(8, 4.2))
    _lines_panel(ax, x_degrees, series, x_label, y_label, title)
    fig.tight_layout()
    return fig


def two_panel_lines(x_degrees, left, right, x_label: str, labels: tuple[str, str],
                    titles: tuple[str, str]):
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4))
    _lines_panel(a, x_degrees, left, x_label, labels[0], titles[0])
    _lines_panel(b, x_degrees, right, x_label, labels[1], titles[1])
    a.get_legend().remove()  # one legend for both: they share their lines
    fig.tight_layout()
    return fig


def curves_figure(rows: list[dict], title="", loss: str = "softmax", view: View = View()):
    """Loss and accuracy per epoch as on the playground: in the loss's own color, test solid,
    train dotted; labels in the reader's language."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3))
    epochs = [r["epoch"] for r in rows]
    for split, dash in (("train", "dot"), ("test", "solid")):
        style = dict(color=LOSS_STYLES[loss].color, linestyle=mpl_dash(dash),
                     label=view.t(f"playground.figures.{split}"))
        left.plot(epochs, [r[f"{split}_loss"] for r in rows], **style)
        right.plot(epochs, [r[f"{split}_accuracy"] for r in rows], **style)
    epoch = view.t("playground.figures.epoch")
    left.set(xlabel=epoch, ylabel=view.t("playground.figures.loss"), title=title)
    right.set(xlabel=epoch, ylabel=view.t("playground.figures.accuracy"), ylim=(0, 1.01))
    right.legend(frameon=False)
    fig.tight_layout()
    return fig


def save_figure(fig, folder: Path, name: str) -> list[Path]:
    """PNG (200 dpi) and SVG side by side; the figure is closed afterwards."""
    paths = [Path(folder) / f"{name}.{ext}" for ext in ("png", "svg")]
    for path in paths:
        fig.savefig(path, dpi=200 if path.suffix == ".png" else None)
    plt.close(fig)
    return paths


def figure_bytes(fig, fmt: str) -> bytes:
    """The figure as PNG or SVG bytes, for a download button; the figure is closed."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, dpi=200 if fmt == "png" else None)
    plt.close(fig)
    return buffer.getvalue()


def evolution_gif(frames, labels, class_names, loss, params, max_frames: int = 60,
                  view: View = View()) -> bytes:
    """An animated GIF of the features over training: frames are (epoch, features, weights);
    each frame titled with the loss's name and the epoch in the reader's language."""
    from PIL import Image
    chosen = [frames[i] for i in np.linspace(0, len(frames) - 1, min(max_frames, len(frames)),
                                             dtype=int)] if frames else []
    images = []
    for epoch, features, weights in chosen:
        fig = features_figure(features, labels[:len(features)], weights, class_names, loss,
                              params, view.t("exports.frame_title",
                                             loss=view.t(f"losses.{loss}.short"), epoch=epoch))
        fig.set_dpi(80)
        fig.canvas.draw()
        images.append(Image.fromarray(np.asarray(fig.canvas.buffer_rgba())).convert("P"))
        plt.close(fig)
    if not images:
        raise LossvizError("exports.no_frames")
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], duration=150,
                   loop=0)
    return buffer.getvalue()


def _region_patch(code: int) -> dict:
    """Solid class fills; the gap hatched in near-black (seen without color, and projected)."""
    if code == GAP:
        return dict(facecolor="white", edgecolor=GAP_COLOR, hatch="//", linewidth=0)
    return dict(facecolor=REGION_COLORS[code], edgecolor="none")


def margins_figure(loss: str, params: dict, phi: float, view: View = View(), title: str = ""):
    """The decision-margin page on paper: the ring of directions in the plane and the
    (theta1, theta2) plane, by who wins with the margin (hatched: the gap)."""
    from lossviz.margins import angle_to, region_map
    fig, (plane, angles) = plt.subplots(1, 2, figsize=(11, 5))
    directions = np.linspace(-math.pi, math.pi, 1441)
    codes = region_map(loss, params, angle_to(directions, -phi / 2), angle_to(directions, phi / 2))
    for start, end, code in region_runs(codes):
        plane.fill(*ring_piece(directions[start:min(end + 1, len(directions))], 1.05, 1.4),
                   **_region_patch(code))
    plane.add_patch(plt.Circle((0, 0), 1.0, fill=False, color=TEXT_COLOR, linewidth=1))
    for angle, name, color in ((-phi / 2, "W₁", WEIGHT_COLORS[0]), (phi / 2, "W₂", WEIGHT_COLORS[1])):
        plane.annotate("", xy=(math.cos(angle), math.sin(angle)), xytext=(0, 0),
                       arrowprops=dict(arrowstyle="->", linewidth=2, color=color))
        plane.text(0.75 * math.cos(angle), 0.75 * math.sin(angle) + 0.12 * np.sign(angle or 1),
                   name, ha="center", color=color, fontsize=14)
    plane.set(xlim=(-1.5, 1.5), ylim=(-1.5, 1.5), aspect="equal", xticks=[], yticks=[])
    plane.set_title(view.t("figures.margins.export_plane", loss=title or loss), loc="left")
    x = np.linspace(0, 180, 361)
    t1, t2 = np.meshgrid(np.radians(x), np.radians(x))
    regions = column_regions(region_map(loss, params, t1, t2), x)
    for code in (CLASS_2, GAP, CLASS_1):
        boxes = [[(x0, y0), (x1, y0), (x1, y1), (x0, y1)] for x0, x1, y0, y1 in regions[code]]
        angles.add_collection(PolyCollection(boxes, label=view.t(REGION_KEYS[code]),
                                             **_region_patch(code)))
    angles.plot([0, math.degrees(phi)], [math.degrees(phi), 0], color=TEXT_COLOR, linewidth=2,
                label=view.t("figures.margins.arc"))
    angles.set(xlabel=view.t("figures.margins.theta_1"), ylabel=view.t("figures.margins.theta_2"),
               xlim=(0, 180), ylim=(0, 180), aspect="equal", xticks=range(0, 181, 30),
               yticks=range(0, 181, 30))
    angles.set_title(view.t("figures.margins.angle_title"), loc="left")
    angles.legend(frameon=False, fontsize=10, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.tight_layout()
    return fig


def angle_histogram_figure(own, nearest_other, view: View = View()):
    """Angles of test features to their own weight and to the nearest other weight, in the
    playground's colors and the reader's language."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    bins = np.arange(0, 183, 3)
    ax.hist(own, bins=bins, alpha=0.7, color=OWN_COLOR, label=view.t("playground.figures.own"))
    ax.hist(nearest_other, bins=bins, alpha=0.7, color=OTHER_COLOR,
            label=view.t("playground.figures.other"))
    ax.set(xlabel=view.t("playground.figures.angle_axis"),
           ylabel=view.t("playground.figures.count_axis"), title=view.t("playground.figures.angles"),
           xlim=(0, 180), xticks=range(0, 181, 30))
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig

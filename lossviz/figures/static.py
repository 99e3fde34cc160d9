"""Publication-quality static figures with matplotlib, in the app's colors: what the CLI writes
and what a teacher puts on slides (PNG and SVG)."""
from __future__ import annotations

import io
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from lossviz.figures.style import CLASS_COLORS, GAP_COLOR  # noqa: E402
from lossviz.figures.training import region_codes  # noqa: E402
from lossviz.metrics import unit_rows  # noqa: E402


def _circle_panel(ax, features, labels, weights, class_names, loss, params):
    angles = np.linspace(-math.pi, math.pi, 720, endpoint=False)
    directions = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    codes, wins = region_codes(loss, params, directions, weights)
    ring = [CLASS_COLORS[c % 10] if w else GAP_COLOR for c, w in zip(codes, wins, strict=True)]
    ax.scatter(*(directions * 1.15).T, c=ring, s=14, marker="s", linewidths=0)
    unit = unit_rows(features)
    ax.scatter(*unit.T, c=[CLASS_COLORS[c % 10] for c in labels], s=6, alpha=0.7, linewidths=0)
    for cls, tip in enumerate(unit_rows(weights) * 1.3):
        ax.plot([0, tip[0]], [0, tip[1]], color="#333333", linewidth=1)
        ax.text(*(tip * 1.1), class_names[cls], ha="center", va="center", fontsize=8,
                color=CLASS_COLORS[cls % 10], fontweight="bold")
    ax.set(xlim=(-1.55, 1.55), ylim=(-1.55, 1.55), aspect="equal", xticks=[], yticks=[])


def _sphere_panel(ax, features, labels, weights):
    unit = unit_rows(features)
    ax.scatter(*unit.T, c=[CLASS_COLORS[c % 10] for c in labels], s=4, alpha=0.8)
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


def accuracy_figure(series):
    """Test accuracy per epoch, one line per (label, rows)."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for label, rows in series:
        ax.plot([r["epoch"] for r in rows], [r["test_accuracy"] for r in rows], marker="o",
                label=label)
    ax.set(xlabel="epoch", ylabel="test accuracy", ylim=(0, 1.01))
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig


def _lines_panel(ax, x_degrees, series, y_label):
    for label, values, color, dashed in series:
        ax.plot(x_degrees, values, color=color, linestyle="--" if dashed else "-", label=label)
    ax.set(xlabel="θ (degrees)", ylabel=y_label, xlim=(0, 180), xticks=range(0, 181, 30))
    ax.legend(frameon=False, fontsize=8, ncol=2)


def lines_figure(x_degrees, series, y_label: str):
    """Curves against an angle in degrees: one line per (label, values, color, dashed)."""
    fig, ax = plt.subplots(figsize=(7, 4))
    _lines_panel(ax, x_degrees, series, y_label)
    fig.tight_layout()
    return fig


def two_panel_lines(x_degrees, left, left_label: str, right, right_label: str):
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8))
    _lines_panel(a, x_degrees, left, left_label)
    _lines_panel(b, x_degrees, right, right_label)
    fig.tight_layout()
    return fig


def curves_figure(rows: list[dict], title=""):
    """Loss and accuracy per epoch, train and test."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3))
    epochs = [r["epoch"] for r in rows]
    for split, color in (("train", "#4c4c4c"), ("test", "#d62728")):
        left.plot(epochs, [r[f"{split}_loss"] for r in rows], color=color, label=split)
        right.plot(epochs, [r[f"{split}_accuracy"] for r in rows], color=color, label=split)
    left.set(xlabel="epoch", ylabel="loss", title=title)
    right.set(xlabel="epoch", ylabel="accuracy", ylim=(0, 1.01))
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


def evolution_gif(frames, labels, class_names, loss, params, max_frames: int = 60) -> bytes:
    """An animated GIF of the features over training: frames are (epoch, features, weights)."""
    from PIL import Image
    chosen = [frames[i] for i in np.linspace(0, len(frames) - 1, min(max_frames, len(frames)),
                                             dtype=int)] if frames else []
    images = []
    for epoch, features, weights in chosen:
        fig = features_figure(features, labels[:len(features)], weights, class_names, loss,
                              params, f"{loss}, epoch {epoch:.1f}")
        fig.set_dpi(80)
        fig.canvas.draw()
        images.append(Image.fromarray(np.asarray(fig.canvas.buffer_rgba())).convert("P"))
        plt.close(fig)
    if not images:
        raise ValueError("no frames yet: train for a moment first")
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], duration=150,
                   loop=0)
    return buffer.getvalue()


def margins_figure(loss: str, params: dict, phi: float):
    """The decision-margin page on paper: directions in the plane and the (theta1, theta2)
    plane, colored by who wins with the margin (grey: the gap)."""
    from matplotlib.colors import ListedColormap

    from lossviz.margins import angle_to, region_map
    colors = ListedColormap([GAP_COLOR, CLASS_COLORS[0], CLASS_COLORS[1]])
    fig, (plane, angles) = plt.subplots(1, 2, figsize=(9, 4.2))
    directions = np.linspace(-math.pi, math.pi, 720)
    codes = region_map(loss, params, angle_to(directions, -phi / 2), angle_to(directions, phi / 2))
    plane.scatter(np.cos(directions), np.sin(directions), c=codes, cmap=colors, vmin=0, vmax=2,
                  s=30, marker="s", linewidths=0)
    for angle, name in ((-phi / 2, "W1"), (phi / 2, "W2")):
        plane.annotate("", xy=(math.cos(angle), math.sin(angle)), xytext=(0, 0),
                       arrowprops=dict(arrowstyle="->", linewidth=2))
        plane.text(1.2 * math.cos(angle), 1.2 * math.sin(angle), name, ha="center")
    plane.set(xlim=(-1.4, 1.4), ylim=(-1.4, 1.4), aspect="equal", xticks=[], yticks=[],
              title=f"{loss}: feature plane")
    grid = np.linspace(0, math.pi, 361)
    t1, t2 = np.meshgrid(grid, grid)
    angles.imshow(region_map(loss, params, t1, t2), origin="lower", extent=(0, 180, 0, 180),
                  cmap=colors, vmin=0, vmax=2)
    angles.plot([0, math.degrees(phi)], [math.degrees(phi), 0], color="black", linewidth=2)
    angles.set(xlabel="θ1 (degrees)", ylabel="θ2 (degrees)", title="angle plane")
    fig.tight_layout()
    return fig


def angle_histogram_figure(own, nearest_other):
    """Angles of test features to their own weight and to the nearest other weight."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    bins = np.arange(0, 183, 3)
    ax.hist(own, bins=bins, alpha=0.7, color="#1f77b4", label="to own class weight")
    ax.hist(nearest_other, bins=bins, alpha=0.7, color="#ff7f0e", label="to nearest other weight")
    ax.set(xlabel="angle (degrees)", ylabel="features", xlim=(0, 180), xticks=range(0, 181, 30))
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig

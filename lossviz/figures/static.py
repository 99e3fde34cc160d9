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


def features_figure(features, labels, weights, class_names, loss, params, title=""):
    """2D: the unit circle with its margin ring. 3D: the features on the sphere."""
    if features.shape[1] == 2:
        fig, ax = plt.subplots(figsize=(4, 4))
        _circle_panel(ax, features, labels, weights, class_names, loss, params)
    else:
        fig = plt.figure(figsize=(4, 4))
        ax = fig.add_subplot(projection="3d")
        unit = unit_rows(features)
        ax.scatter(*unit.T, c=[CLASS_COLORS[c % 10] for c in labels], s=4, alpha=0.8)
        for cls, tip in enumerate(unit_rows(weights) * 1.3):
            ax.plot(*zip([0, 0, 0], tip, strict=True), color=CLASS_COLORS[cls % 10], linewidth=2)
        ax.set(xlim=(-1.3, 1.3), ylim=(-1.3, 1.3), zlim=(-1.3, 1.3), xticks=[], yticks=[],
               zticks=[], box_aspect=(1, 1, 1))
    ax.set_title(title, fontsize=10)
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

"""Prints how far apart the app's colors stay for colour-blind viewers and on a washed-out
projector, and their contrast on white; with PNG paths, also writes deuteranopia and
protanopia simulations of those screenshots beside them (NAME.deuteranomaly.png, ...).

    .venv/bin/python -m scripts.palette_report [artifacts/screenshots/*.png]

Distances are Euclidean in CAM02-UCS (about 1 is a just-noticeable difference); deficiencies
are simulated at full severity (Machado et al. 2009, through colorspacious). "washed out" mixes
every color 40% with white, as a projector in a lit room does.
"""
import itertools
import sys

import numpy as np
from colorspacious import cspace_convert
from PIL import Image

from lossviz.figures.margins import REGION_COLORS
from lossviz.figures.style import (AXIS_COLOR, CLASS_COLORS, GAP_COLOR, LOSS_STYLES,
                                   contrast_ratio)

BEFORE = {  # the palettes this project used until the lecture-hall review
    "classes": ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
                "#ff9da7", "#9c755f", "#bab0ac"],
    "losses": ["#4c4c4c", "#8c564b", "#9467bd", "#17becf", "#2ca02c", "#d62728", "#1f77b4"],
}
AFTER = {"classes": CLASS_COLORS, "losses": [s.color for s in LOSS_STYLES.values()]}
VIEWS = ("normal", "deuteranomaly", "protanomaly", "tritanomaly", "washed out")


def to_rgb(colors) -> np.ndarray:
    return np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] for c in colors]) / 255


def seen(rgb: np.ndarray, view: str) -> np.ndarray:
    if view == "normal":
        return rgb
    if view == "washed out":
        return 0.6 * rgb + 0.4
    space = {"name": "sRGB1+CVD", "cvd_type": view, "severity": 100}
    return np.clip(cspace_convert(rgb, space, "sRGB1"), 0, 1)


def closest_pair(colors, view):
    ucs = cspace_convert(seen(to_rgb(colors), view), "sRGB1", "CAM02-UCS")
    return min((float(np.linalg.norm(ucs[i] - ucs[j])), colors[i], colors[j])
               for i, j in itertools.combinations(range(len(colors)), 2))


def simulate(path: str):
    image = np.asarray(Image.open(path).convert("RGB")) / 255
    for view in ("deuteranomaly", "protanomaly"):
        out = path.removesuffix(".png") + f".{view}.png"
        Image.fromarray((seen(image.reshape(-1, 3), view).reshape(image.shape) * 255)
                        .astype(np.uint8)).save(out)
        print("wrote", out)


def main(paths):
    print("smallest CAM02-UCS distance between two colors (closest pair)")
    for group in ("classes", "losses"):
        for when, palette in (("before", BEFORE[group]), ("after", AFTER[group])):
            cells = [f"{v}: {closest_pair(palette, v)[0]:.1f}" for v in VIEWS]
            print(f"  {group:8} {when:6} " + " | ".join(cells))
    print("contrast on white (WCAG, >= 4.5 wanted)")
    for name, color in [("ticks", AXIS_COLOR), ("gap", GAP_COLOR), ("gap before", "#d9d9d9"),
                        ("tick grey before", "#808495"),
                        *((f"region {k}", c) for k, c in REGION_COLORS.items()),
                        *((f"loss {k}", s.color) for k, s in LOSS_STYLES.items())]:
        print(f"  {name:18} {color}  {contrast_ratio(color):.1f}:1")
    for path in paths:
        simulate(path)


if __name__ == "__main__":
    main(sys.argv[1:])

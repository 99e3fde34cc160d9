"""Exports read back: each file is decoded and compared with the run it was made from."""
import csv
import io
import math
import re
import warnings
import xml.etree.ElementTree as ET

import numpy as np
from PIL import Image

from lossviz.checkpoint import load_checkpoint
from lossviz.export import (history_csv, snapshot_angles_image, snapshot_curves_image,
                            snapshot_features_image, snapshot_gif)
from lossviz.figures.margins import REGION_COLORS
from lossviz.figures.style import CLASS_COLORS, GAP_COLOR, View
from lossviz.figures.training import OTHER_COLOR, OWN_COLOR, region_codes
from lossviz.train import TrainConfig
from tests.conftest import wait_for

SVG = "{http://www.w3.org/2000/svg}"


def rgb(hex_color: str) -> tuple:
    return tuple(int(hex_color[i:i + 2], 16) for i in (1, 3, 5))


def png_colors(data: bytes, size: tuple) -> set:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG" and image.size == size
    return set(map(tuple, np.asarray(image.convert("RGB")).reshape(-1, 3).astype(int).tolist()))


def svg_markers(data: bytes) -> list[list[tuple]]:
    """Each scatter (PathCollection) of an SVG: its markers' (x, y, fill colour), in order."""
    root = ET.fromstring(data)
    def fill(use):  # None when the colour is set once for the whole scatter
        found = re.search(r"fill: (#[0-9a-f]{6})", use.get("style") or "")
        return found and found.group(1)
    return [[(float(use.get("x")), float(use.get("y")), fill(use))
             for use in group.iter(f"{SVG}use")]
            for group in root.iter(f"{SVG}g") if group.get("id", "").startswith("PathCollection")]


def svg_lines(data: bytes) -> list[str]:
    """The path of every plotted line of an SVG (not the legend's samples, not the ticks)."""
    root = ET.fromstring(data)
    legend = {group.get("id") for box in root.iter(f"{SVG}g")
              if box.get("id", "").startswith("legend") for group in box.iter(f"{SVG}g")}
    return [path.get("d") for group in root.iter(f"{SVG}g")
            if group.get("id", "").startswith("line2d") and group.get("id") not in legend
            for path in group.findall(f"{SVG}path")]


def test_exports_of_a_live_run(make_registry, small_set):
    run = make_registry().create(TrainConfig(loss="cosface", params={"s": 16.0, "m": 0.1},
                                             dim=2, batch_size=64), small_set)
    run.step(3)
    wait_for(lambda: len(run.snapshot().frames) == 3)
    snap, names = run.snapshot(), small_set.class_names
    ev = snap.evaluation

    # features: the unit circle ringed by the class that wins there with its margin (grey:
    # the gap), then one marker per digit in its class's colour
    angles = np.linspace(-math.pi, math.pi, 720, endpoint=False)
    codes, wins = region_codes("cosface", snap.params,
                               np.stack([np.cos(angles), np.sin(angles)], axis=1), ev.weights)
    ring = [CLASS_COLORS[c % 10] if won else GAP_COLOR for c, won in zip(codes, wins,
                                                                           strict=True)]
    drawn_ring, *by_class = svg_markers(snapshot_features_image(snap, names, "svg"))
    assert [fill for _, _, fill in drawn_ring] == ring
    # one scatter per class (each its own marker shape), in class order
    classes = np.unique(ev.labels % 10)
    assert len(by_class) == len(classes)
    for cls, drawn in zip(classes, by_class, strict=True):
        assert len(drawn) == np.count_nonzero(ev.labels % 10 == cls)
        assert {fill for _, _, fill in drawn} == {CLASS_COLORS[cls]}
    # the PNG (200 dpi; SVG units are points, 72 per inch) shows the same ring: each
    # square's centre has its colour, or that of one of the next few drawn over it, but
    # where a weight's spoke crosses the ring (ten thin lines: a few squares each)
    image = Image.open(io.BytesIO(snapshot_features_image(snap, names, "png")))
    pixels = np.asarray(image.convert("RGB")).astype(int)
    assert image.size == (800, 800)
    seen = [tuple(pixels[round(y * 200 / 72), round(x * 200 / 72)]) for x, y, _ in drawn_ring]
    wrong = [i for i, color in enumerate(seen)
             if color not in {rgb(ring[(i + k) % 720]) for k in range(6)}]
    assert len(wrong) < 0.05 * len(ring)

    # curves: one point per history row on each of its four lines
    assert [d.count("L") + 1 for d in svg_lines(snapshot_curves_image(snap, "svg"))] == \
        [len(snap.history.steps)] * 4  # train and test, loss and accuracy

    # angles: both histograms' bars, drawn at alpha 0.7 over white
    def bar(hex_color):
        return tuple(round(0.7 * c + 0.3 * 255) for c in rgb(hex_color))
    colors = png_colors(snapshot_angles_image(snap, "png"), (1200, 700))
    assert all(any(max(abs(a - b) for a, b in zip(bar(h), c, strict=True)) <= 1
                   for c in colors) for h in (OWN_COLOR, OTHER_COLOR))

    # the GIF: one frame per epoch the run kept, each the size of a small figure
    gif = Image.open(io.BytesIO(snapshot_gif(snap, names)))
    assert gif.format == "GIF" and gif.n_frames == len(snap.frames) == 3
    assert gif.size == (320, 320)

    # the history: every number as the snapshot holds it
    table = list(csv.DictReader(io.StringIO(history_csv(snap.history))))
    assert [int(r["step"]) for r in table] == list(snap.history.steps)
    for column in ("epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy"):
        assert [float(r[column]) for r in table] == list(getattr(
            snap.history, "epochs" if column == "epoch" else column))

    # the checkpoint: the same settings, step and features as the run on screen
    restored = load_checkpoint(run.checkpoint(), small_set, device=snap.config.device)
    assert restored.config == snap.config and restored.step == snap.step == 3
    np.testing.assert_allclose(restored.evaluate().features, ev.features, atol=1e-5)


def test_page_figures_as_files():
    from lossviz.curves import ARCFACE_PAPER_CURVES, Curve, theta_grid
    from lossviz.export import margins_image, setting_image, target_logit_image
    image = target_logit_image([Curve("ArcFace", "arcface", {"m": 0.5})],
                               list(ARCFACE_PAPER_CURVES), theta_grid(), "svg")
    assert b"<!-- ArcFace -->" in image and ET.fromstring(image).tag == f"{SVG}svg"
    # the margin figure: class 1, class 2 and the gap each colour part of the plane
    colors = png_colors(margins_image("cosface", {"m": 0.2}, math.radians(90), "png"),
                        (2200, 1000))
    assert {rgb(color) for color in REGION_COLORS.values()} <= colors
    assert png_colors(setting_image([Curve("N", "normface", {"s": 4.0})], theta_grid(), 1.0, 10,
                                    8.0, "png"), (2400, 800))


def svg_texts(data: bytes) -> list[str]:
    """The texts of a matplotlib SVG: drawn as paths, each announced by a comment."""
    return re.findall(r"<!-- (.*?) -->", data.decode())


def test_exports_speak_the_readers_language(make_registry, small_set):
    run = make_registry().create(TrainConfig(loss="combined", dim=2, batch_size=64), small_set)
    run.step(2)
    wait_for(lambda: len(run.snapshot().frames) == 2)
    snap, names = run.snapshot(), small_set.class_names
    zh = View("zh")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        features = svg_texts(snapshot_features_image(snap, names, "svg", zh))
        curves = svg_texts(snapshot_curves_image(snap, "svg", zh))
        angles = svg_texts(snapshot_angles_image(snap, "svg", zh))
        snapshot_curves_image(snap, "png", zh)  # the PNG is drawn with the same fonts
        gif = snapshot_gif(snap, names, zh)
    # every Chinese character found a glyph (the served CJK subset): no empty boxes
    assert not [w for w in seen if "missing from font" in str(w.message)]
    assert f"组合间隔，2D，第 {snap.epoch:.1f} 轮" in features
    assert {"轮数", "损失", "准确率", "训练集", "测试集", "组合间隔"} <= set(curves)
    assert {"到本类权重", "到最近的其他类权重", "夹角（度）", "特征个数", "测试特征的夹角"} <= set(angles)
    english = re.compile(r"[A-Za-z]{3,}")
    assert [t for t in features + curves + angles if english.search(t)] == []
    assert Image.open(io.BytesIO(gif)).n_frames == 2
    # at a desk in English, as before
    assert {"epoch", "Loss", "Accuracy", "train", "test"} <= set(
        svg_texts(snapshot_curves_image(snap, "svg")))

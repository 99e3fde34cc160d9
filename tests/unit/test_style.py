import itertools

import matplotlib.style
import numpy as np
import pytest
from colorspacious import cspace_convert

from lossviz.figures.margins import REGION_COLORS, WEIGHT_COLORS
from lossviz.figures.style import (AXIS_COLOR, CLASS_COLORS, CLASS_SYMBOLS, GAP_COLOR,
                                   LOSS_STYLES, MPL_CLASS_MARKERS, TEXT_COLOR, View,
                                   contrast_ratio, end_labels, layout, mpl_dash, run_styles)
from lossviz.i18n import catalog
from lossviz.losses import LOSSES


def smallest_distance(colors, deficiency=None) -> float:
    """Smallest CAM02-UCS distance between two colors, as seen with a full deficiency."""
    rgb = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] for c in colors]) / 255
    if deficiency:
        rgb = np.clip(cspace_convert(rgb, {"name": "sRGB1+CVD", "cvd_type": deficiency,
                                           "severity": 100}, "sRGB1"), 0, 1)
    ucs = cspace_convert(rgb, "sRGB1", "CAM02-UCS")
    return min(np.linalg.norm(a - b) for a, b in itertools.combinations(ucs, 2))


def test_contrast_ratio_matches_wcag():
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21)
    assert contrast_ratio("#808495") == pytest.approx(3.7, abs=0.05)  # Streamlit's tick grey


def test_text_lines_and_meaningful_fills_stand_out_on_white():
    colors = [TEXT_COLOR, AXIS_COLOR, GAP_COLOR, *REGION_COLORS.values(), *WEIGHT_COLORS,
              *(style.color for style in LOSS_STYLES.values())]
    assert min(contrast_ratio(c) for c in colors) >= 4.5


def test_each_loss_has_its_own_color_and_dash():
    assert set(LOSS_STYLES) == set(LOSSES)
    styles = list(LOSS_STYLES.values())
    assert len({s.color for s in styles}) == len({s.dash for s in styles}) == len(styles)
    assert smallest_distance([s.color for s in styles], "deuteranomaly") > 6
    assert all(mpl_dash(s.dash) for s in styles)


def test_runs_of_different_losses_keep_their_loss_colors():
    assert run_styles(["arcface", "cosface"]) == [LOSS_STYLES["arcface"], LOSS_STYLES["cosface"]]
    sweep = run_styles(["arcface"] * 3)
    assert len({(s.color, s.dash) for s in sweep}) == 3


def test_classes_are_told_apart_without_full_color_vision():
    cycle = matplotlib.style.library["petroff10"]["axes.prop_cycle"].by_key()["color"]
    assert CLASS_COLORS == cycle  # the published palette, not a copy that drifted
    assert len(set(CLASS_SYMBOLS)) == len(set(MPL_CLASS_MARKERS)) == 10
    for deficiency in ("deuteranomaly", "protanomaly"):
        assert smallest_distance(CLASS_COLORS, deficiency) > 14
    assert smallest_distance([*CLASS_COLORS, GAP_COLOR], "deuteranomaly") > 14


def test_layout_keeps_the_shared_axis_style_under_a_figures_own_axes():
    desk = layout("t", 400, View(), xaxis=dict(range=[0, 1], title="θ"))
    assert desk["xaxis"]["range"] == [0, 1] and desk["xaxis"]["title"]["text"] == "θ"
    assert desk["xaxis"]["tickfont"] == {"size": 16, "color": AXIS_COLOR}
    projected = layout("t", 700, View(present=True))
    assert projected["xaxis"]["tickfont"]["size"] > 16 and projected["height"] < 700
    assert projected["font"]["size"] > desk["font"]["size"]


def test_end_labels_never_overlap():
    ends = [("a", -1.0, "#000000"), ("b", -1.01, "#000000"), ("c", -0.99, "#000000"),
            ("d", 0.5, "#000000")]
    notes, margin = end_labels(ends, (-1.2, 1.2), 400, View())
    ys = sorted(note["y"] for note in notes)
    gap = 2.4 * 16 * 1.25 / 400
    assert all(b - a >= gap - 1e-9 for a, b in zip(ys, ys[1:]))
    assert all(-1.2 <= y <= 1.2 for y in ys) and notes[-1]["y"] == pytest.approx(0.5)
    assert margin > 16


def test_every_loss_and_parameter_is_named_in_both_languages():
    texts = catalog()
    for name, spec in LOSSES.items():
        for field in ("title", "short", "paper"):
            assert f"losses.{name}.{field}" in texts
        for p in spec.params:
            assert {f"losses.{name}.params.{p.name}.label",
                    f"losses.{name}.params.{p.name}.help"} <= set(texts)

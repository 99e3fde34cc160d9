import math

import numpy as np
import pytest

from tests.app.conftest import array, figures, trace


def value_at(figure, name, degrees):
    t = trace(figure, name)
    return float(np.interp(degrees, array(t["x"]), array(t["y"])))


def test_arcface_curve_follows_its_margin_slider(open_page):
    at = open_page("curves")
    at.slider(key="curves:arcface.m").set_value(0.3).run()
    assert not at.exception
    curve = figures(at)[0]
    assert value_at(curve, "ArcFace", 60) == pytest.approx(math.cos(math.radians(60) + 0.3), abs=1e-6)
    assert at.query_params["arcface.m"] == "0.3"  # the link now reproduces the view


def test_paper_overlay_adds_the_seven_reference_curves(open_page):
    at = open_page("curves", {"paper": "1", "losses": "cosface"})
    names = [t["name"] for t in figures(at)[0]["data"]]
    assert "CM2 (0.9, 0.4, 0.15)" in names and "SphereFace (m=4, λ=5)" in names
    assert len(names) == 1 + 7
    assert not at.exception


def test_probability_is_capped_by_a_small_scale(open_page):
    at = open_page("curves", {"losses": "normface", "normface.s": "2", "other": "90"})
    probability = figures(at)[1]
    top = array(trace(probability, "NormFace")["y"]).max()
    assert top == pytest.approx(math.exp(2) / (math.exp(2) + 9), rel=1e-6)


def test_raw_stretch_is_shaded_and_explained(open_page):
    at = open_page("curves", {"losses": "arcface", "arcface.m": "0.5"})
    shapes = figures(at)[0]["layout"]["shapes"]
    assert len(shapes) == 1 and shapes[0]["x0"] == pytest.approx(180 - math.degrees(0.5), abs=0.5)
    assert any("rises there" in c.value for c in at.caption)


def test_bad_link_values_warn_and_never_crash(open_page):
    at = open_page("curves", {"arcface.m": "9", "losses": "arcface,bogus", "classes": "x",
                              "zoom": "2"})
    assert not at.exception
    warnings = " ".join(w.value for w in at.warning)
    assert "outside" in warnings and "bogus" in warnings and "zoom" in warnings
    assert at.slider(key="curves:arcface.m").value == 1.5


def test_no_loss_selected_shows_a_hint(open_page):
    at = open_page("curves")
    at.multiselect(key="curves:losses").set_value([]).run()
    assert not at.exception
    assert figures(at) == []
    assert "Choose at least one loss" in at.info[0].value

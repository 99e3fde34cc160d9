import math

import pytest

from lossviz.i18n import text
from tests.app.conftest import english_words, figures


def test_arcface_gap_equals_its_margin(open_page):
    at = open_page("margins", {"loss": "arcface", "arcface.m": "0.4"})
    assert not at.exception
    assert at.metric[0].value == f"{math.degrees(0.4):.2f}°"
    plane, angles = figures(at)
    names = {t["name"] for t in plane["data"] if "name" in t}
    assert names == {text("figures.margins.class_1"), text("figures.margins.class_2"),
                     text("figures.margins.gap")}
    gap = next(t for t in angles["data"] if t["name"] == text("figures.margins.gap"))
    assert gap["fillpattern"]["shape"] == "/"  # hatched: seen without color, and projected


def test_angle_plane_shows_0_to_180_and_names_its_line(open_page):
    angles = figures(open_page("margins"))[1]
    for axis in ("xaxis", "yaxis"):
        assert angles["layout"][axis]["range"] == [0, 180]
        assert angles["layout"][axis]["constrain"] == "domain"  # no stretching past 180
    labels = [note["text"] for note in angles["layout"]["annotations"]]
    assert text("figures.margins.arc") in labels and text("figures.margins.gap_short") in labels


def test_no_scale_slider_since_it_changes_nothing(open_page):
    at = open_page("margins", {"loss": "cosface"})
    assert [s.key for s in at.slider if s.key.endswith(".s")] == []
    assert text("margins.no_scale") in [c.value for c in at.caption]


def test_cosface_margin_too_large_for_2d_is_flagged(open_page):
    at = open_page("margins", {"loss": "cosface", "cosface.m": "0.25", "classes": "10"})
    assert any("Cannot be met in 2D" in e.value for e in at.error)
    assert at.success  # the sphere still has room for it


def test_changing_the_loss_redraws(open_page):
    at = open_page("margins")
    at.selectbox(key="margins:loss").set_value("softmax").run()
    assert at.metric[0].value == "0.00°"
    at.slider(key="margins:phi").set_value(60.0).run()
    assert at.query_params == {"loss": "softmax", "phi": "60"}


@pytest.mark.parametrize("query,warning,widget,used", [
    ({"loss": "nope"}, "loss='nope' is not one of", "loss", "arcface"),
    ({"phi": "-5"}, "phi=-5 is outside [5, 180]; using 5.", "phi", 5.0),
    ({"classes": "1e9"}, "classes=1e9 is outside [2, 12]; using 12.", "classes", 12),
])
def test_bad_link_values_warn(open_page, query, warning, widget, used):
    at = open_page("margins", query)
    assert not at.exception
    link_warnings = [w.value for w in at.warning if w.value.startswith("Link setting:")]
    assert len(link_warnings) == 1 and warning in link_warnings[0]
    assert at.session_state[f"margins:{widget}"] == used


@pytest.mark.parametrize("query", [{"lang": "zh"}, {"lang": "zh", "present": "1"},
                                   {"lang": "zh", "loss": "cosface", "cosface.m": "0.25"}])
def test_chinese_page_has_no_english(open_page, query):
    at = open_page("margins", query)
    assert not at.exception
    assert english_words(at) == []


def test_arcface_tail_changes_the_angle_plane_not_the_arc(open_page):
    at = open_page("margins", {"loss": "arcface", "arcface.m": "0.5"})
    threshold_gap = at.metric[0].value
    threshold_angles = figures(at)[1]
    at.selectbox(key="margins:arcface.tail").select(1).run()  # easy margin
    assert not at.exception and at.query_params["arcface.tail"] == "1"
    assert at.metric[0].value == threshold_gap  # along the arc, below 90 degrees: the same
    easy_angles = figures(at)[1]
    name = text("figures.margins.class_2")
    before, after = (next(t for t in fig["data"] if t["name"] == name)
                     for fig in (threshold_angles, easy_angles))
    assert len(after["x"]) > len(before["x"])  # class 2 wins in two stretches of some columns


def test_curricularface_is_not_offered_and_adacos_has_no_gap(open_page):
    """CurricularFace's winner depends on its t as well as on the curves: no honest picture."""
    at = open_page("margins", {"loss": "curricularface"})
    assert not at.exception
    options = at.selectbox(key="margins:loss").options
    assert "ArcFace" in options and "CurricularFace" not in options
    assert at.warning  # the link's loss is refused, and said so
    at = open_page("margins", {"loss": "adacos"})
    assert not at.exception and at.metric[0].value == "0.00°"
    assert "margins:adacos.mode" not in [w.key for w in at.selectbox]
    assert text("margins.no_scale") in [c.value for c in at.caption]

import math

import pytest

from tests.app.conftest import figures


def test_arcface_gap_equals_its_margin(open_page):
    at = open_page("margins", {"loss": "arcface", "arcface.m": "0.4"})
    assert not at.exception
    assert at.metric[0].value == f"{math.degrees(0.4):.2f}°"
    plane, angles = figures(at)
    assert {t["name"] for t in plane["data"] if t.get("showlegend") is not False} >= {
        "class 1 wins with margin", "class 2 wins with margin", "gap: neither wins with margin"}
    assert angles["data"][0]["type"] == "heatmap"


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

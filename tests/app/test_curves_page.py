import math

import numpy as np
import pytest

from lossviz.i18n import text
from tests.app.conftest import array, english_words, figures, trace


def value_at(figure, name, degrees):
    t = trace(figure, name)
    return float(np.interp(degrees, array(t["x"]), array(t["y"])))


def end_labels(figure) -> list[str]:
    return [note["text"] for note in figure["layout"]["annotations"]]


def test_arcface_curve_follows_its_margin_slider(open_page):
    at = open_page("curves")
    at.slider(key="curves:arcface.m").set_value(0.3).run()
    assert not at.exception
    curve = figures(at)[0]
    assert value_at(curve, "ArcFace", 60) == pytest.approx(math.cos(math.radians(60) + 0.3), abs=1e-6)
    assert at.query_params["arcface.m"] == "0.3"  # the link now reproduces the view


def test_first_view_is_clean_and_labelled_at_line_ends(open_page):
    at = open_page("curves")
    chart = figures(at)[0]
    names = [t["name"] for t in chart["data"]]
    assert names == ["Softmax", "CosFace", "ArcFace", "Combined"]  # no raw curves, no paper
    assert "shapes" not in chart["layout"] or not chart["layout"]["shapes"]
    assert chart["layout"]["showlegend"] is False and sorted(end_labels(chart)) == sorted(names)


def test_a_single_loss_is_drawn_against_the_softmax_baseline(open_page):
    at = open_page("curves", {"losses": "arcface", "arcface.m": "0.5"})  # a Theory link
    chart = figures(at)[0]
    assert [t["name"] for t in chart["data"]] == ["Softmax: cos θ", "ArcFace"]
    assert value_at(chart, "Softmax: cos θ", 60) == pytest.approx(0.5, abs=1e-6)


def test_paper_overlay_adds_the_seven_reference_curves(open_page):
    at = open_page("curves", {"paper": "1", "losses": "cosface"})
    names = [t["name"] for t in figures(at)[0]["data"]]
    assert "CM2 (0.9, 0.4, 0.15)" in names and "SphereFace (m=4, λ=5)" in names
    assert len(names) == 1 + 1 + 7  # the baseline, CosFace, the paper's seven
    assert not at.exception


def test_scale_sits_beside_the_probability_it_caps(open_page):
    at = open_page("curves", {"losses": "normface", "s": "2", "other": "90"})
    probability = figures(at)[1]
    top = array(trace(probability, "NormFace")["y"]).max()
    assert top == pytest.approx(math.exp(2) / (math.exp(2) + 9), rel=1e-6)
    at.slider(key="curves:s").set_value(8.0).run()
    assert array(trace(figures(at)[1], "NormFace")["y"]).max() == pytest.approx(
        math.exp(8) / (math.exp(8) + 9), rel=1e-6)


def test_arcface_variants_are_drawn_shaded_and_explained(open_page):
    at = open_page("curves", {"losses": "arcface", "arcface.m": "0.5", "raw": "1"})
    chart = figures(at)[0]
    turn = 180 - math.degrees(0.5)
    assert value_at(chart, "ArcFace, raw", 170) == pytest.approx(
        math.cos(math.radians(170) + 0.5), abs=1e-3)
    assert value_at(chart, "ArcFace, easy margin", 100) == pytest.approx(
        math.cos(math.radians(100)), abs=1e-3)
    assert value_at(chart, "ArcFace", 170) == pytest.approx(  # the threshold fallback, in use
        math.cos(math.radians(170)) - 0.5 * math.sin(0.5), abs=1e-3)
    bands = [s for s in chart["layout"]["shapes"] if s["type"] == "rect"]
    starts = sorted(s["x0"] for s in bands)
    assert starts[0] == pytest.approx(89, abs=0.5)  # the easy margin's jump, widened to 2 degrees
    assert starts[1] == pytest.approx(turn, abs=0.5)  # where the raw curve turns back up
    line, = [s for s in chart["layout"]["shapes"] if s["type"] == "line"]
    assert line["x0"] == pytest.approx(turn) and line["label"]["text"] == "π − m = 151°"
    captions = " ".join(c.value for c in at.caption)
    assert "ArcFace, raw rises there" in captions and "ArcFace, easy margin jumps up" in captions


def test_the_chosen_arcface_tail_is_the_curve_in_use(open_page):
    at = open_page("curves", {"losses": "arcface", "arcface.m": "0.5", "raw": "1"})
    at.selectbox(key="curves:arcface.tail").select(1).run()  # easy margin
    assert not at.exception
    chart = figures(at)[0]
    assert value_at(chart, "ArcFace", 100) == pytest.approx(math.cos(math.radians(100)), abs=1e-3)
    assert {t["name"] for t in chart["data"]} >= {"ArcFace, threshold", "ArcFace, raw"}
    assert at.query_params["arcface.tail"] == "1"


def test_sphereface_without_psi_rises_past_pi_over_m(open_page):
    at = open_page("curves", {"losses": "sphereface", "sphereface.m": "4",
                              "sphereface.lam": "0", "raw": "1"})
    chart = figures(at)[0]
    assert value_at(chart, "SphereFace, cos(mθ)", 60) == pytest.approx(
        math.cos(math.radians(240)), abs=1e-3)
    assert value_at(chart, "SphereFace", 60) == pytest.approx(-math.cos(math.radians(240)) - 2,
                                                              abs=1e-3)
    captions = " ".join(c.value for c in at.caption)
    assert "Shaded 45°–90°: SphereFace, cos(mθ) rises there" in captions


def test_bad_link_values_warn_and_never_crash(open_page):
    at = open_page("curves", {"arcface.m": "9", "losses": "arcface,bogus", "classes": "x",
                              "zoom": "2"})
    assert not at.exception
    warnings = " ".join(w.value for w in at.warning)
    assert "outside" in warnings and "bogus" in warnings and "zoom" in warnings
    assert at.slider(key="curves:arcface.m").value == 1.5


def test_no_loss_selected_keeps_the_baseline_and_shows_a_hint(open_page):
    at = open_page("curves")
    at.multiselect(key="curves:losses").set_value([]).run()
    assert not at.exception
    assert [t["name"] for t in figures(at)[0]["data"]] == ["Softmax: cos θ"]
    assert at.info[0].value == text("curves.no_loss")


@pytest.mark.parametrize("query", [{"lang": "zh"},
                                   {"lang": "zh", "present": "1", "paper": "1", "raw": "1"},
                                   {"lang": "zh", "losses": "arcface,sphereface,elasticface",
                                    "raw": "1"}])
def test_chinese_page_has_no_english(open_page, query):
    at = open_page("curves", query)
    assert not at.exception
    assert english_words(at) == []
    assert figures(at)[0]["layout"]["title"]["text"] == "目标 logit f(θ)"


def test_presentation_mode_enlarges_the_figure_text(open_page):
    desk = figures(open_page("curves"))[0]["layout"]
    projected = figures(open_page("curves", {"present": "1"}))[0]["layout"]
    assert projected["xaxis"]["tickfont"]["size"] > desk["xaxis"]["tickfont"]["size"] >= 16
    assert projected["annotations"][0]["font"]["size"] > desk["annotations"][0]["font"]["size"]


def test_elasticface_band_holds_95_percent_of_its_margins(open_page):
    at = open_page("curves", {"losses": "elasticface", "elasticface.m": "0.4",
                              "elasticface.sigma": "0.1"})
    assert not at.exception
    chart = figures(at)[0]
    upper, lower = [t for t in chart["data"] if t["name"].endswith("95% of the drawn margins")]
    at_60 = [float(np.interp(60, array(t["x"]), array(t["y"]))) for t in (upper, lower)]
    assert at_60 == pytest.approx([math.cos(math.radians(60) + 0.4 - 1.96 * 0.1),
                                   math.cos(math.radians(60) + 0.4 + 1.96 * 0.1)], abs=1e-3)
    assert lower["fill"] == "tonexty"
    assert value_at(chart, "ElasticFace", 60) == pytest.approx(math.cos(math.radians(60) + 0.4),
                                                               abs=1e-3)
    assert text("variants.explain.band") in [c.value for c in at.caption]


def test_the_later_members_say_what_else_they_change_and_adacos_uses_its_own_scale(open_page):
    at = open_page("curves", {"losses": "curricularface,adacos", "curricularface.m": "0.4",
                              "classes": "10", "s": "64"})
    assert not at.exception
    chart = figures(at)[0]
    assert value_at(chart, "CurricularFace", 60) == pytest.approx(
        math.cos(math.radians(60) + 0.4), abs=1e-3)
    assert value_at(chart, "AdaCos", 60) == pytest.approx(0.5, abs=1e-3)
    captions = [c.value for c in at.caption]
    assert text("state.curves.curricularface") in captions
    assert text("state.curves.adacos") in captions
    # AdaCos's mode changes no curve here: no control for it
    assert "curves:adacos.mode" not in [w.key for w in at.selectbox]
    # its probability uses sqrt(2) ln(C - 1), not the s slider: with the others at 90 degrees,
    # p(theta = 0) = e^s / (e^s + (C - 1))
    probability = figures(at)[1]
    scale = math.sqrt(2) * math.log(9)
    assert value_at(probability, "AdaCos", 0) == pytest.approx(
        math.exp(scale) / (math.exp(scale) + 9), abs=1e-3)


def test_chinese_page_with_the_later_members_has_no_english(open_page):
    at = open_page("curves", {"lang": "zh", "losses": "curricularface,adacos"})
    assert not at.exception and english_words(at) == []


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_sub_center_arcface_draws_arcfaces_curve_without_a_k_slider(open_page, lang):
    at = open_page("curves", {"losses": "subcenter", "subcenter.m": "0.4", "lang": lang})
    assert not at.exception
    assert lang == "en" or english_words(at) == []
    chart = figures(at)[0]
    name = "Sub-center ArcFace"
    assert value_at(chart, name, 60) == pytest.approx(math.cos(math.radians(60) + 0.4), abs=1e-3)
    assert text("subcenter.curves", lang) in [c.value for c in at.caption]
    assert not any(key.startswith("curves:subcenter.k") for key in
                   [w.key for w in at.slider] + [w.key for w in at.selectbox])

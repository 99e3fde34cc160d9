"""The Playground, the target-logit page and the theory page with MagFace and AdaFace, in
Chinese: what else each loss changes, the norms of clean and degraded digits, AdaFace's
running norm statistics, and the band of target curves over the norms."""
import pytest

from lossviz.i18n import text
from tests.app.conftest import array, english_words, figures
from tests.app.test_playground_page import one_step, page_run


@pytest.mark.parametrize("loss", ["magface", "adaface"])
def test_the_playground_says_what_else_the_loss_changes_and_compares_the_norms(open_page, loss):
    at = open_page("playground", {"loss": loss, "lang": "zh"})
    assert not at.exception and english_words(at) == []
    captions = [c.value for c in at.caption]
    assert text(f"quality.explain.{loss}", "zh") in captions
    assert text("quality.norms.hint", "zh") in captions  # nothing degraded yet
    at.slider(key="playground:degrade").set_value(0.3).run()
    assert not at.exception
    snap = page_run(at).snapshot()
    assert snap.generation == 1 and snap.config.degrade == 0.3  # a new run
    at = one_step(at)
    assert not at.exception and english_words(at) == []
    clean, degraded = page_run(at).snapshot().evaluation.quality_norms
    assert text("quality.norms.caption", "zh", clean=clean, degraded=degraded,
                ratio=degraded / clean) in [c.value for c in at.caption]


def test_adafaces_norm_statistics_are_drawn_with_their_spread(open_page):
    at = open_page("playground", {"loss": "adaface", "lang": "zh"})
    at = one_step(at)
    assert not at.exception and english_words(at) == []
    state = page_run(at).snapshot().loss_state
    chart = next(f for f in figures(at)
                 if f["layout"]["title"]["text"] == text("state.figure.norm_mean.title", "zh"))
    band, line = chart["data"][:2]
    assert array(line["y"]).tolist() == [state["norm_mean"]]
    assert array(band["y"]).tolist() == pytest.approx(
        [state["norm_mean"] + state["norm_std"], state["norm_mean"] - state["norm_std"]])


@pytest.mark.parametrize("loss", ["magface", "adaface"])
def test_the_target_page_draws_the_band_over_the_norms(open_page, loss):
    at = open_page("curves", {"losses": loss, "lang": "zh"})
    assert not at.exception and english_words(at) == []
    names = [t.get("name") for t in figures(at)[0]["data"]]
    assert text("quality.band", "zh", name=text(f"losses.{loss}.title", "zh")) in names
    assert text(f"quality.curves.{loss}", "zh") in [c.value for c in at.caption]


def test_the_theory_page_says_why_the_decision_margins_leave_them_out(open_page):
    at = open_page("theory", {"lang": "zh"})
    assert not at.exception and english_words(at) == []
    assert [c.value for c in at.caption].count(text("quality.no_margins", "zh")) == 2

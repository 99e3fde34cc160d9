"""The lecture: every step in both languages, ?step=N opens step N, a bad step is clamped with
a warning, and what steps 1, 4, 8 and 9 show comes from the numbers."""
import math
from urllib.parse import parse_qs

import pytest

from lossviz.i18n import text
from lossviz.lecture import STEPS, difficulty_statement, load_record, pull_statement
from tests.app.conftest import array, english_words, figures


def indicator(at) -> str:
    return at.markdown[0].value


@pytest.mark.parametrize("step", range(1, len(STEPS) + 1))
def test_step_n_opens_step_n_in_english_and_chinese(open_page, step):
    at = open_page("lecture", {"step": str(step)})
    assert not at.exception
    title = text(f"lecture.steps.{STEPS[step - 1]}.title")
    assert indicator(at) == f"**Step {step} of {len(STEPS)}: {title}**"
    assert at.query_params.get("step", "1") == str(step)
    assert len(at.get("page_link")) == 1  # try it yourself
    zh = open_page("lecture", {"step": str(step), "lang": "zh"})
    assert not zh.exception
    assert f"第 {step} 步" in indicator(zh)
    assert english_words(zh) == []


@pytest.mark.parametrize("query, shown, warning", [
    ({"step": "14"}, 10, "step=14 is outside [1, 10]; using 10."),
    ({"step": "0"}, 1, "step=0 is outside [1, 10]; using 1."),
    ({"step": "two"}, 1, "step='two' is not a number; it was ignored."),
    ({"step": "2.5"}, 2, "step=2.5 must be a whole number; using 2."),
])
def test_a_bad_step_in_the_link_is_clamped_with_a_warning(open_page, query, shown, warning):
    at = open_page("lecture", query)
    assert not at.exception
    assert f"Step {shown} of" in indicator(at)
    assert any(warning in w.value for w in at.warning)


def test_next_and_back_move_one_step_and_the_url_follows(open_page):
    at = open_page("lecture")
    assert at.button(key="lecture-back").disabled
    at.button(key="lecture-next").click().run()
    assert "Step 2 of" in indicator(at) and at.query_params["step"] == "2"
    at.button(key="lecture-next").click().run()
    at.button(key="lecture-back").click().run()
    assert "Step 2 of" in indicator(at) and at.query_params["step"] == "2"
    last = open_page("lecture", {"step": "10"})
    assert last.button(key="lecture-next").disabled


def test_step_1_keeps_kl_equal_to_the_cross_entropy_as_the_logits_move(open_page):
    at = open_page("lecture")
    (figure,) = figures(at)
    q = array([t for t in figure["data"] if t["name"] == text("lecture.fig.q")][0]["y"])
    assert q.sum() == pytest.approx(1.0)
    at.slider(key="lecture:logit0").set_value(-3.0).run()
    at.radio(key="lecture:target").set_value(4).run()
    (figure,) = figures(at)
    q = array([t for t in figure["data"] if t["name"] == text("lecture.fig.q")][0]["y"])
    p = array([t for t in figure["data"] if t["name"] == text("lecture.fig.p")][0]["y"])
    assert list(p) == [0, 0, 0, 0, 1]
    loss = -math.log(q[4])
    assert figure["layout"]["title"]["text"] == text("lecture.fig.kl_title", kl=loss, ce=loss)


def test_step_4_marks_the_chosen_scale_on_the_bound(open_page):
    at = open_page("lecture", {"step": "4"})
    at.slider(key="lecture:normface.s").set_value(3.0).run()
    (figure,) = figures(at)
    chosen = [t for t in figure["data"] if t["name"] == text("lecture.fig.chosen")][0]
    bound = math.exp(3) / (math.exp(3) + 9 * math.exp(-3 / 9))
    assert array(chosen["x"])[0] == 3.0 and array(chosen["y"])[0] == pytest.approx(bound)
    assert f"{bound:.2%}" in " ".join(m.value for m in at.markdown)
    link = parse_qs(at.get("page_link")[0].proto.query_string)
    assert link == {"losses": ["normface"], "s": ["3"], "classes": ["10"], "other": ["96.4"]}


def test_steps_open_their_own_page_with_their_settings(open_page):
    at = open_page("lecture", {"step": "6"})
    at.slider(key="lecture:arcface.m").set_value(0.3).run()
    assert parse_qs(at.get("page_link")[0].proto.query_string) == {
        "loss": ["arcface"], "arcface.m": ["0.3"]}
    assert at.get("page_link")[0].proto.page.endswith("margins")


def test_step_9_states_what_the_recorded_study_shows(open_page):
    record = load_record("difficulty")
    for lang in ("en", "zh"):
        at = open_page("lecture", {"step": "9", "lang": lang})
        assert not at.exception
        shown = " ".join(m.value for m in at.markdown)
        for study in record["studies"][:1]:
            for message in difficulty_statement(record, study):
                assert message.render(lang) in shown
        (figure,) = figures(at)
        names = [t["name"] for t in figure["data"] if t.get("showlegend") is not False]
        assert len(names) == len(record["studies"][0]["variants"])


def test_step_8_states_what_the_recorded_pull_study_shows(open_page):
    record = load_record("pull")
    at = open_page("lecture", {"step": "8", "lang": "zh"})
    shown = " ".join(m.value for m in at.markdown)
    for message in pull_statement(record):
        assert message.render("zh") in shown
    (figure,) = figures(at)
    assert {t["name"] for t in figure["data"] if t.get("showlegend") is not False} == {
        text(f"losses.{v['loss']}.short", "zh") for v in record["study"]["variants"]}

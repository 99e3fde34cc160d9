"""The lecture: every step in both languages, ?step=N opens step N, a bad step is clamped with
a warning, and what steps 1, 4, 8 and 9 show comes from the numbers."""
from urllib.parse import parse_qs

import pytest

from lossviz.i18n import text
from lossviz.lecture import STEPS
from tests.app.conftest import english_words, figures


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

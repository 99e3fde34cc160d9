"""The lecture in a real browser at projector size: walked from the first step to the last with
the Next button (in both languages) and with the arrow key (and back with Page Up, what a
clicker sends), every step's formulas typeset, a screenshot of each step, and how long each
step's figure took to appear after the click or key press (printed, never asserted: timings go
in reports, not pass/fail)."""
import time

import pytest
from playwright.sync_api import expect

from lossviz.i18n import text
from lossviz.lecture import STEPS
from tests.e2e.conftest import (assert_no_exception, current_url, formulas_typeset, open_app,
                                open_tab, wait_idle)

# what each step's figure is on the page: a Plotly chart, or step 10's summary table
FIGURE = {step: "table" if name == "summary" else ".js-plotly-plot"
          for step, name in enumerate(STEPS, start=1)}


def open_lecture(tabs, app_url, lang="en"):
    tab = open_tab(tabs, 1280, 720)
    open_app(tab, app_url, f"lecture?lang={lang}")
    return tab


def indicator(step: int, lang="en") -> str:
    return text("lecture.ui.indicator", lang, step=step, total=len(STEPS),
                title=text(f"lecture.steps.{STEPS[step - 1]}.title", lang))


def shown(tab, step: int, lang="en") -> float:
    """Wait until step's indicator and figure are on screen and the run has finished; the
    seconds that took."""
    start = time.perf_counter()
    tab.get_by_text(indicator(step, lang), exact=True).wait_for()
    wait_idle(tab)  # the run that drew this step is over: no earlier step's chart is left
    tab.locator(f"[data-testid='stMain'] {FIGURE[step]}").first.wait_for()
    return time.perf_counter() - start


def walk(tab, advance, tmp_path, label: str, lang="en") -> dict:
    """From step 1 to the last, advance() once per step, checking that each step's formulas
    typeset (every step has some); each step's figure time."""
    times = {1: shown(tab, 1, lang)}
    formulas_typeset(tab)
    tab.screenshot(path=str(tmp_path / f"{label}-step-1.png"))
    for step in range(2, len(STEPS) + 1):
        advance()
        times[step] = shown(tab, step, lang)
        assert f"step={step}" in current_url(tab)
        assert_no_exception(tab)
        formulas_typeset(tab)
        tab.screenshot(path=str(tmp_path / f"{label}-step-{step}.png"))
    slowest = max(times, key=times.get)
    print(f"\n{label}: figure after the click, seconds per step: "
          + ", ".join(f"{s}: {t:.2f}" for s, t in times.items())
          + f"; slowest step {slowest} ({times[slowest]:.2f} s)")
    return times


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_next_button_walks_the_lecture(tabs, app_url, tmp_path, lang):
    tab = open_lecture(tabs, app_url, lang)
    next_button = tab.get_by_role("button", name=text("lecture.ui.next", lang))
    try:
        walk(tab, next_button.click, tmp_path, "next", lang)
        assert next_button.is_disabled()
        assert len(list(tmp_path.glob("next-step-*.png"))) == len(STEPS)
    finally:
        tab.close()


@pytest.mark.parametrize("forward, back", [("ArrowRight", "ArrowLeft"),
                                           ("PageDown", "PageUp")])
def test_the_keys_walk_the_lecture_and_back(tabs, app_url, tmp_path, forward, back):
    tab = open_lecture(tabs, app_url)
    try:
        # a real key press on the page, as a keyboard or a presentation clicker sends it
        walk(tab, lambda: tab.keyboard.press(forward), tmp_path, forward)
        tab.keyboard.press(back)
        shown(tab, len(STEPS) - 1)
        assert f"step={len(STEPS) - 1}" in current_url(tab)
    finally:
        tab.close()


def test_an_arrow_key_on_a_slider_moves_the_slider_not_the_lecture(tabs, app_url):
    tab = open_lecture(tabs, app_url)
    try:
        shown(tab, 1)
        thumb = tab.locator("[data-testid='stMain'] [data-testid='stSlider']").first \
            .get_by_role("slider")
        before = thumb.get_attribute("aria-valuetext")
        thumb.focus()
        thumb.press("ArrowRight")  # a student nudging step 1's first logit
        expect(thumb).not_to_have_attribute("aria-valuetext", before)
        wait_idle(tab)
        expect(tab.get_by_text(indicator(1), exact=True)).to_be_visible()
        assert "step=2" not in current_url(tab)
        tab.locator("[data-testid='stMain'] h1").first.click()  # the focus off the slider
        tab.keyboard.press("ArrowRight")  # now the arrow is the lecture's again
        shown(tab, 2)
    finally:
        tab.close()


def test_the_family_table_fits_a_projector_and_its_later_members_are_one_click_away(tabs,
                                                                                    app_url):
    tab = open_lecture(tabs, app_url)
    try:
        tab.goto(f"{app_url}/lecture?step={len(STEPS)}&present=1")
        shown(tab, len(STEPS))
        last_taught = tab.get_by_role("cell", name=text("losses.combined.short"), exact=True)
        expect(last_taught).to_be_in_viewport(ratio=1)  # all seven rows on the screen
        later = tab.get_by_role("cell", name=text("losses.adaface.short"), exact=True)
        expect(later).to_be_hidden()
        tab.get_by_role("tab", name=text("lecture.steps.summary.tabs.later", count=6)).click()
        expect(later).to_be_in_viewport(ratio=1)
        assert_no_exception(tab)
    finally:
        tab.close()

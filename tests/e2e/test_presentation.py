"""The lecture-hall look in a real browser: presentation mode switched on and off with real
clicks, the pages at projector, tablet and phone sizes, Chinese drawn in the served font."""
import pytest
from playwright.sync_api import expect

from lossviz.i18n import text
from tests.e2e.conftest import (KATEX_ERRORS, assert_no_exception, comparison_settled,
                                open_app, open_tab, screenshot, wait_idle)

SIZES = {"projector": (1280, 720), "tablet": (1024, 768), "phone": (390, 844)}
# what each page shows once drawn; the playground is the app's default page, at its root
PAGES = {"curves": ".js-plotly-plot", "margins": ".js-plotly-plot", "theory": ".katex",
         "playground": ".js-plotly-plot", "compare": ".st-key-compare-run"}
URLS = {"playground": ""}

BOXES = """() => [...document.querySelectorAll('.js-plotly-plot')].map(plot => {
  const box = plot.getBoundingClientRect();
  const title = plot.querySelector('.gtitle');
  const t = title ? title.getBoundingClientRect() : null;
  return {top: box.top, bottom: box.bottom, left: box.left, right: box.right,
          title: t && {left: t.left, right: t.right, top: t.top, bottom: t.bottom}};
})"""
CJK_LOADED = """() => document.fonts.ready.then(() =>
  [...document.fonts].some(f => f.family.includes('lossviz-cjk') && f.status === 'loaded'))"""


def open_at(tabs, app_url, size, path):
    tab = open_tab(tabs, *SIZES[size])
    page, _, query = path.partition("?")
    open_app(tab, app_url, URLS.get(page, page) + (f"?{query}" if query else ""))
    tab.wait_for_selector(PAGES[page])
    return tab


def sidebar(tab):
    return tab.locator("[data-testid='stSidebar']")


def first_chart_bottom(tab) -> float:
    return tab.evaluate(BOXES)[0]["bottom"]


def test_presentation_mode_is_switched_on_and_off_with_real_clicks(tabs, app_url):
    tab = open_at(tabs, app_url, "projector", "margins")
    try:
        assert sidebar(tab).is_visible()
        tab.get_by_text(text("ui.present.toggle"), exact=True).click()
        tab.wait_for_url("**present=1**")
        sidebar(tab).wait_for(state="hidden")
        controls = tab.locator("[data-testid='stMain'] .st-key-present-controls")
        # retried: the URL is written before the run that draws the controls has ended
        expect(controls.get_by_role("combobox", name="Loss")).to_be_visible()
        expect(controls.locator("[data-testid='stSlider']")).to_have_count(2)  # m, the angle
        wait_idle(tab)
        assert first_chart_bottom(tab) <= 720  # the main figure above the fold
        screenshot(tab, "margins-presenting-1280x720")
        tab.get_by_role("button", name=text("ui.present.leave")).click()
        sidebar(tab).wait_for(state="visible")
        expect(sidebar(tab).get_by_role("combobox", name="Loss")).to_be_visible()
        tab.wait_for_url(lambda url: "present" not in url)
        expect(controls).to_have_count(0)
        assert_no_exception(tab)
    finally:
        tab.close()


def test_a_shared_presentation_link_opens_presenting(tabs, app_url):
    tab = open_at(tabs, app_url, "projector", "curves?present=1&lang=zh")
    try:
        assert not sidebar(tab).is_visible()
        assert tab.get_by_role("button", name=text("ui.present.leave", "zh")).is_visible()
        assert first_chart_bottom(tab) <= 720
        assert tab.evaluate(CJK_LOADED)
        screenshot(tab, "curves-presenting-zh-1280x720")
    finally:
        tab.close()


# The brief's two screens in CI; the tablet between them in the slow group (-m slow): CI's
# time was at our 20-minute limit, and a page that fits 390 and 1280 px rarely breaks at 1024
@pytest.mark.parametrize("size", [pytest.param(size, marks=pytest.mark.slow)
                                  if size == "tablet" else size for size in SIZES])
@pytest.mark.parametrize("path", list(PAGES))
def test_pages_fit_every_screen(tabs, app_url, path, size):
    tab = open_at(tabs, app_url, size, f"{path}?lang=zh" if size == "phone" else path)
    try:
        width = SIZES[size][0]
        assert tab.evaluate("() => document.documentElement.scrollWidth") <= width  # no sideways scroll
        for box in tab.evaluate(BOXES):
            assert box["right"] <= width
            if box["title"]:  # not clipped on a phone
                assert box["left"] <= box["title"]["left"] and box["title"]["right"] <= box["right"]
        if size == "phone":
            assert tab.evaluate(CJK_LOADED)
        assert tab.evaluate(KATEX_ERRORS) == []  # the inline maths of each page's texts
        assert_no_exception(tab)
        screenshot(tab, f"{path}-{size}")
    finally:
        tab.close()


def test_toolbar_does_not_cover_a_chart_title(tabs, app_url):
    tab = open_at(tabs, app_url, "tablet", "margins")
    try:
        plot = tab.locator(".js-plotly-plot").first
        plot.hover()
        bar = plot.locator(".modebar").bounding_box()
        title = plot.locator(".gtitle").bounding_box()
        assert bar and title
        overlap_x = bar["x"] < title["x"] + title["width"] and title["x"] < bar["x"] + bar["width"]
        overlap_y = bar["y"] < title["y"] + title["height"] and title["y"] < bar["y"] + bar["height"]
        assert not (overlap_x and overlap_y)
    finally:
        tab.close()


def present_controls(tab):
    return tab.locator("[data-testid='stMain'] .st-key-present-controls")


def no_sideways_scroll(tab, width):
    assert tab.evaluate("() => document.documentElement.scrollWidth") <= width


@pytest.mark.parametrize("dim", [2, 3])
def test_the_playground_presents_its_features_above_the_fold(tabs, app_url, dim):
    tab = open_at(tabs, app_url, "projector", f"playground?present=1&dim={dim}")
    try:
        assert not sidebar(tab).is_visible()
        controls = present_controls(tab)
        assert controls.get_by_role("combobox", name="Loss").is_visible()
        assert controls.locator("[data-testid='stSlider']").count() == 2  # ArcFace's s and m
        assert controls.get_by_role("button", name="Start").is_visible()
        assert tab.get_by_role("button", name="One step").count() == 0
        assert first_chart_bottom(tab) <= 720  # the features (the sphere too) above the fold
        no_sideways_scroll(tab, 1280)
        assert_no_exception(tab)
        screenshot(tab, f"playground-present-{dim}d-1280x720")
    finally:
        tab.close()


def test_compare_runs_from_the_presentation_row_and_shows_its_runs_above_the_fold(
        tabs, app_url):
    tab = open_at(tabs, app_url, "projector",
                           "compare?present=1&epochs=1&losses=softmax,arcface")
    try:
        controls = present_controls(tab)
        expect(controls.get_by_role("combobox")).to_have_count(1)  # the losses, nothing else
        controls.get_by_role("button", name="Run the comparison").click()  # a real click
        expect(tab.locator("[data-testid='stProgress']")).to_contain_text(
            "2 of 2 runs done", timeout=600_000)
        comparison_settled(tab)
        expect(tab.locator(".js-plotly-plot")).to_have_count(3)  # drawn, then measured
        assert first_chart_bottom(tab) <= 720
        no_sideways_scroll(tab, 1280)
        assert_no_exception(tab)
        screenshot(tab, "compare-present-1280x720")
    finally:
        tab.close()


def test_compare_table_shows_every_column_at_1280(tabs, app_url):
    tab = open_at(tabs, app_url, "projector",
                           "compare?epochs=1&losses=softmax,arcface&lang=zh")
    try:
        tab.locator(".st-key-compare-run button").click()
        expect(tab.locator("[data-testid='stProgress']")).to_contain_text(
            "已完成 2 / 2 次训练", timeout=600_000)
        comparison_settled(tab)
        # the ready comparison's table goes when the finished run's is drawn: one table
        grid = tab.locator("[data-testid='stDataFrame'] .dvn-scroller")
        expect(grid).to_have_count(1)
        assert grid.evaluate("g => g.scrollWidth <= g.clientWidth")  # nothing cut off
        screenshot(tab, "compare-zh-1280x720")
    finally:
        tab.close()

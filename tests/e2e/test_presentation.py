"""The lecture-hall look in a real browser: presentation mode switched on and off with real
clicks, the pages at projector, tablet and phone sizes, Chinese drawn in the served font."""
import pytest

from lossviz.i18n import text
from tests.e2e.conftest import assert_no_exception, screenshot, wait_idle

SIZES = {"projector": (1280, 720), "tablet": (1024, 768), "phone": (390, 844)}
PAGES = {"curves": ".js-plotly-plot", "margins": ".js-plotly-plot", "theory": ".katex"}

BOXES = """() => [...document.querySelectorAll('.js-plotly-plot')].map(plot => {
  const box = plot.getBoundingClientRect();
  const title = plot.querySelector('.gtitle');
  const t = title ? title.getBoundingClientRect() : null;
  return {top: box.top, bottom: box.bottom, left: box.left, right: box.right,
          title: t && {left: t.left, right: t.right, top: t.top, bottom: t.bottom}};
})"""
CJK_LOADED = """() => document.fonts.ready.then(() =>
  [...document.fonts].some(f => f.family.includes('lossviz-cjk') && f.status === 'loaded'))"""


def open_at(browser, app_url, size, path):
    context = browser.new_context(viewport=dict(zip(("width", "height"), SIZES[size])))
    tab = context.new_page()
    tab.set_default_timeout(60_000)
    tab.goto(f"{app_url}/{path}")
    wait_idle(tab)
    tab.wait_for_selector(PAGES[path.split("?")[0]])
    return context, tab


def sidebar(tab):
    return tab.locator("[data-testid='stSidebar']")


def first_chart_bottom(tab) -> float:
    return tab.evaluate(BOXES)[0]["bottom"]


def test_presentation_mode_is_switched_on_and_off_with_real_clicks(browser, app_url):
    context, tab = open_at(browser, app_url, "projector", "margins")
    try:
        assert sidebar(tab).is_visible()
        tab.get_by_text(text("ui.present.toggle"), exact=True).click()
        tab.wait_for_url("**present=1**")
        sidebar(tab).wait_for(state="hidden")
        controls = tab.locator("[data-testid='stMain'] .st-key-present-controls")
        assert controls.get_by_role("combobox", name="Loss").is_visible()
        assert controls.locator("[data-testid='stSlider']").count() == 2  # m and the angle
        wait_idle(tab)
        assert first_chart_bottom(tab) <= 720  # the main figure above the fold
        screenshot(tab, "margins-presenting-1280x720")
        tab.get_by_role("button", name=text("ui.present.leave")).click()
        sidebar(tab).wait_for(state="visible")
        assert sidebar(tab).get_by_role("combobox", name="Loss").is_visible()
        tab.wait_for_url(lambda url: "present" not in url)
        assert controls.count() == 0
        assert_no_exception(tab)
    finally:
        context.close()


def test_a_shared_presentation_link_opens_presenting(browser, app_url):
    context, tab = open_at(browser, app_url, "projector", "curves?present=1&lang=zh")
    try:
        assert not sidebar(tab).is_visible()
        assert tab.get_by_role("button", name=text("ui.present.leave", "zh")).is_visible()
        assert first_chart_bottom(tab) <= 720
        assert tab.evaluate(CJK_LOADED)
        screenshot(tab, "curves-presenting-zh-1280x720")
    finally:
        context.close()


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("path", list(PAGES))
def test_pages_fit_every_screen(browser, app_url, path, size):
    context, tab = open_at(browser, app_url, size, f"{path}?lang=zh" if size == "phone" else path)
    try:
        width = SIZES[size][0]
        assert tab.evaluate("() => document.documentElement.scrollWidth") <= width  # no sideways scroll
        for box in tab.evaluate(BOXES):
            assert box["right"] <= width
            if box["title"]:  # not clipped on a phone
                assert box["left"] <= box["title"]["left"] and box["title"]["right"] <= box["right"]
        if size == "phone":
            assert tab.evaluate(CJK_LOADED)
        assert_no_exception(tab)
        screenshot(tab, f"{path}-{size}")
    finally:
        context.close()


def test_toolbar_does_not_cover_a_chart_title(browser, app_url):
    context, tab = open_at(browser, app_url, "tablet", "margins")
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
        context.close()

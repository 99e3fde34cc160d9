"""The Verification page in a real browser: reached from the navigation with a real click, the
ready evidence drawn at 1280x720 and 390x844, and the histogram's loss chosen with real clicks."""

from lossviz.i18n import text
from tests.e2e.conftest import assert_no_exception, open_app, open_tab, screenshot, wait_idle

CHART_TITLES = ("() => [...document.querySelectorAll('.js-plotly-plot .gtitle')]"
                ".map(t => t.textContent)")
WIDEST = ("() => Math.max(...[...document.querySelectorAll('.js-plotly-plot')]"
          ".map(p => p.getBoundingClientRect().right))")


def open_sized(tabs, app_url, path, width, height):
    tab = open_tab(tabs, width, height, timeout=90_000)
    open_app(tab, app_url, path)
    return tab


def charts_drawn(tab, count=3):
    tab.wait_for_function(f"document.querySelectorAll('.js-plotly-plot .gtitle').length >= {count}")


def test_reached_from_the_navigation_and_the_histogram_follows_the_chosen_loss(tabs, app_url):
    tab = open_sized(tabs, app_url, "", 1280, 720)
    try:
        tab.get_by_role("link", name=text("verification.nav")).click()
        tab.wait_for_url("**/verification**")
        charts_drawn(tab)
        assert_no_exception(tab)
        scores_title = text("verification.figures.scores_title", loss="ArcFace")
        assert scores_title in tab.evaluate(CHART_TITLES)
        shown = tab.locator("[data-testid='stSidebar']").get_by_role(
            "combobox", name=text("verification.ui.shown"))
        # Scrolled to first, as a reader does. The box sits below the sidebar's fold; a click
        # that had to scroll it into view itself only focused it, its list never opened (in
        # every probe here, and in a full browser run), while a click after the scroll opens it.
        shown.scroll_into_view_if_needed()
        shown.click()
        tab.get_by_role("option", name=text("losses.cosface.title")).click()
        tab.wait_for_url("**shown=cosface**")
        tab.wait_for_function(
            "t => [...document.querySelectorAll('.js-plotly-plot .gtitle')]"
            ".some(e => e.textContent === t)",
            arg=text("verification.figures.scores_title", loss="CosFace"))
        wait_idle(tab)
        tab.evaluate("window.scrollTo(0, 0)")
        screenshot(tab, "verification-1280x720")
    finally:
        tab.close()


def test_a_phone_sees_every_chart_within_its_width(tabs, app_url):
    tab = open_sized(tabs, app_url, "verification?lang=zh", 390, 844)
    try:
        charts_drawn(tab)
        assert_no_exception(tab)
        assert tab.evaluate(WIDEST) <= 390
        assert text("verification.ui.title", "zh") in tab.locator("h1").first.inner_text()
    finally:
        tab.close()


def inside(inner, outer):
    return (inner["x"] >= outer["x"] - 1 and inner["y"] >= outer["y"] - 1
            and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + 1
            and inner["y"] + inner["height"] <= outer["y"] + outer["height"] + 1)


def test_the_roc_and_histogram_keep_titles_legends_and_axis_titles_apart(tabs, app_url):
    """A review found, on a phone and on the projector, both legends over their chart titles,
    the FAR axis title cut ('(log sc…') and the TAR axis title running into it."""
    for query, size in (("lang=zh", (390, 844)), ("present=1", (1280, 720)),
                        ("lang=zh&present=1", (1280, 720))):
        tab = open_sized(tabs, app_url, f"verification?{query}", *size)
        try:
            charts_drawn(tab)
            for chart in tab.locator(".js-plotly-plot").all()[1:]:  # the ROC, the histogram
                chart.locator(".legend").wait_for()
                outer = chart.bounding_box()
                title, legend = (chart.locator(part).bounding_box()
                                 for part in (".gtitle", ".legend"))
                x_title, y_title = (chart.locator(part).first.bounding_box()
                                    for part in (".xtitle", ".ytitle"))
                assert legend["y"] >= title["y"] + title["height"], query
                for part in (title, legend, x_title, y_title):
                    assert inside(part, outer), query
                assert y_title["y"] + y_title["height"] <= x_title["y"], query
            assert_no_exception(tab)
        finally:
            tab.close()

"""A student's phone (390x844) and the projector (1280x720): what a review found cramped,
scrolling sideways, wrapping or below the fold, measured in the real browser."""
from contextlib import contextmanager

from playwright.sync_api import expect

from lossviz.losses import LOSSES

from tests.e2e.conftest import (assert_no_exception, assert_playground_labels_apart,
                                comparison_settled, open_app, open_tab, screenshot,
                                wait_idle)

PHONE, PROJECTOR = (390, 844), (1280, 720)


@contextmanager
def opened_at(tabs, app_url, size, path):
    """A tab at that screen size, on that page; closed after."""
    tab = open_tab(tabs, *size)
    try:
        open_app(tab, app_url, path)
        yield tab
    finally:
        tab.close()


def no_sideways_scroll(tab, width):
    assert tab.evaluate("() => document.documentElement.scrollWidth") <= width


def test_compare_results_fit_a_phone_without_scrolling_sideways(tabs, app_url):
    with opened_at(tabs, app_url, PHONE,
                   "compare?lang=zh&epochs=1&losses=softmax,combined") as tab:
        tab.locator(".st-key-compare-run button").click()
        expect(tab.locator("[data-testid='stProgress']")).to_contain_text(
            "已完成 2 / 2 次训练", timeout=600_000)
        comparison_settled(tab)
        cards = tab.locator(".run-cards section")
        expect(cards).to_have_count(2)  # one card per run instead of the seven-column grid
        expect(tab.locator("[data-testid='stDataFrame']")).to_be_hidden()
        cards.last.scroll_into_view_if_needed()
        for card in cards.all():
            box = card.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE[0]
            assert card.evaluate("c => c.scrollWidth <= c.clientWidth")  # nothing cut off
        expect(cards.last).to_contain_text("组合间隔")
        expect(cards.last).to_contain_text("测试准确率")
        no_sideways_scroll(tab, PHONE[0])
        assert_no_exception(tab)
        screenshot(tab, "compare-table-phone-zh")


def box(tab, selector):
    return tab.locator(selector).first.bounding_box()


def test_the_lectures_back_and_next_share_a_row_on_a_phone(tabs, app_url):
    with opened_at(tabs, app_url, PHONE, "lecture?step=2&lang=zh") as tab:
        tab.locator(".st-key-lecture-nav [data-testid='stMarkdown']").wait_for()
        back, next_ = box(tab, ".st-key-lecture-back button"), box(tab, ".st-key-lecture-next button")
        assert abs(back["y"] - next_["y"]) < 2  # one row, where a thumb finds both
        assert next_["x"] > back["x"] + back["width"] and next_["x"] + next_["width"] <= PHONE[0]
        title = tab.locator(".st-key-lecture-nav [data-testid='stMarkdown']").bounding_box()
        assert title["y"] + title["height"] <= back["y"]  # the step's title above them
        no_sideways_scroll(tab, PHONE[0])
        assert_no_exception(tab)
        screenshot(tab, "lecture-phone-zh")


def test_the_lectures_first_step_shows_every_control_on_a_projector(tabs, app_url):
    with opened_at(tabs, app_url, PROJECTOR, "lecture?present=1&step=1") as tab:
        tab.locator(".js-plotly-plot").first.wait_for()
        controls = tab.locator("[data-testid='stMain'] .st-key-present-controls")
        expect(controls.locator("[data-testid='stSlider']")).to_have_count(5)
        for control in [*controls.locator("[data-testid='stSlider']").all(),
                        controls.locator("[data-testid='stRadio']")]:
            found = control.bounding_box()
            assert found["y"] + found["height"] <= PROJECTOR[1]  # above the fold
        no_sideways_scroll(tab, PROJECTOR[0])
        assert_no_exception(tab)
        screenshot(tab, "lecture-present-1280x720")


def test_the_playgrounds_2d_panels_each_take_a_phones_width(tabs, app_url):
    with opened_at(tabs, app_url, PHONE, "?dim=2&lang=zh") as tab:
        tab.locator(".st-key-playground-step button").click()  # for the curves and crosses
        expect(tab.locator("[data-testid='stProgress']")).to_contain_text("第 1 步")
        wait_idle(tab)
        assert_playground_labels_apart(tab)
        for key in ("features", "circle"):  # the raw features, then the unit circle
            chart = tab.locator(f".st-key-playground-{key} .js-plotly-plot")
            chart.wait_for()
            found = chart.bounding_box()
            # one panel to the screen's width (side by side, each was about 160 px)
            assert found["width"] >= 0.85 * PHONE[0] and found["x"] + found["width"] <= PHONE[0]
        no_sideways_scroll(tab, PHONE[0])
        assert_no_exception(tab)
        tab.locator(".st-key-playground-circle").scroll_into_view_if_needed()
        screenshot(tab, "playground-phone-zh")


def test_compares_ready_panels_each_take_a_phones_width(tabs, app_url):
    with opened_at(tabs, app_url, PHONE, "compare?dim=2") as tab:
        charts = tab.locator("[data-testid='stMain'] .js-plotly-plot")
        # a figure per run (it was one figure of four to a row: each circle about 85 px wide),
        # and the accuracy
        expect(charts).to_have_count(len(LOSSES) + 1)
        for chart in charts.all():
            found = chart.bounding_box()
            assert found["width"] >= 0.85 * PHONE[0] and found["x"] + found["width"] <= PHONE[0]
        no_sideways_scroll(tab, PHONE[0])
        assert_no_exception(tab)
        screenshot(tab, "compare-panels-phone")


def test_the_lectures_probability_legend_leaves_its_title_readable_on_a_phone(tabs, app_url):
    with opened_at(tabs, app_url, PHONE, "lecture?step=1") as tab:
        chart = tab.locator(".js-plotly-plot").first
        chart.locator(".legend").wait_for()
        title, legend = chart.locator(".gtitle").bounding_box(), chart.locator(
            ".legend").bounding_box()
        # the title's numbers (KL = cross-entropy) are the point; the legend once ran over them
        assert legend["y"] >= title["y"] + title["height"]
        assert legend["x"] + legend["width"] <= PHONE[0]
        assert_no_exception(tab)
        screenshot(tab, "lecture-step1-phone")


def test_the_file_uploader_speaks_chinese(tabs, app_url):
    with opened_at(tabs, app_url, PHONE, "?lang=zh") as tab:
        zone = tab.locator("[data-testid='stFileUploaderDropzone']").first
        zone.scroll_into_view_if_needed()
        # Streamlit's own words: the button's comes from our tables, the English limits line goes
        button = zone.locator("button")
        word = button.locator("[data-testid='stMarkdownContainer']").evaluate(
            "b => getComputedStyle(b, '::after').content")
        assert word == '"上传"'
        expect(button).to_have_accessible_name("上传")  # Streamlit's own "Upload" is hidden
        expect(zone.locator("[data-testid='stFileUploaderDropzoneInstructions']")).to_be_hidden()
        assert_no_exception(tab)
        screenshot(tab, "uploader-phone-zh")


def test_the_lectures_long_formulas_wrap_within_a_phones_width(tabs, app_url):
    for step in (1, 2):
        with opened_at(tabs, app_url, PHONE, f"lecture?step={step}") as tab:
            formulas = tab.locator("[data-testid='stMain'] .katex-display")
            expect(formulas).to_have_count(2)  # the two parts of the formula, one per line
            for formula in formulas.all():
                box = formula.bounding_box()
                assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE[0]
                # nothing cut off: KaTeX lets a subscript overhang its box by a pixel or two
                assert formula.evaluate("f => f.scrollWidth <= f.clientWidth + 4")
            no_sideways_scroll(tab, PHONE[0])
            screenshot(tab, f"lecture-{step}-formula-phone")


"""The s-m map in a real browser: a setting with no ready map trains through the server's
training slots, with progress, and fills the map."""
import re

from playwright.sync_api import expect

from tests.e2e.conftest import assert_no_exception, open_app, screenshot, wait_idle


def test_a_map_without_a_ready_one_trains_with_progress_then_shows(page, app_url):
    open_app(page, app_url, "map?size=2&epochs=1")
    page.get_by_text("No ready map for these settings").wait_for()
    expect(page.locator(".js-plotly-plot")).to_have_count(0)
    page.get_by_role("button", name="Train the map (4 runs)").click()
    page.get_by_role("button", name="Cancel the map").wait_for()
    page.get_by_text(re.compile(r"[0-3] of 4 runs done")).wait_for()  # progress while it trains
    page.get_by_text("4 of 4 runs done").wait_for(timeout=240_000)
    wait_idle(page)
    page.get_by_role("button", name="Train the map (4 runs)").wait_for()
    cells = page.locator(".js-plotly-plot .textpoint text")
    expect(cells).to_have_count(4)
    assert all(re.fullmatch(r"\d+|—", text) for text in cells.all_text_contents())
    assert_no_exception(page)
    screenshot(page, "map-trained")

"""The s-m map in a real browser: a setting with no ready map trains through the server's
training slots, with progress; its cells fill in as runs finish, and Cancel stops the rest."""
import re

from playwright.sync_api import expect

from tests.e2e.conftest import assert_no_exception, open_app, screenshot


def test_a_map_without_a_ready_one_fills_in_as_it_trains_and_can_be_cancelled(page, app_url):
    open_app(page, app_url, "map?size=2&epochs=1")
    page.get_by_text("No ready map for these settings").wait_for()
    expect(page.locator(".js-plotly-plot")).to_have_count(0)
    page.get_by_role("button", name="Train the map (4 runs)").click()
    page.get_by_text("0 of 4 runs done · training m=0, s=2").wait_for()
    page.get_by_text("1 of 4 runs done").wait_for(timeout=240_000)
    cells = page.locator(".js-plotly-plot .textpoint text")
    expect(cells.filter(has_text=re.compile(r"^\d+$"))).to_have_count(1)  # the first run's cell
    page.get_by_role("button", name="Cancel the map").click()
    page.get_by_text("Training the map was cancelled").wait_for()
    page.get_by_role("button", name="Train the map (4 runs)").wait_for()
    expect(cells.filter(has_text=re.compile(r"^\d+$"))).to_have_count(1)  # kept
    assert_no_exception(page)
    screenshot(page, "map-cancelled")

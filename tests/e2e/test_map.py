"""The s-m map in a real browser: a setting with no ready map trains through the server's
training slots, with progress; its cells fill in as runs finish, and Cancel stops the rest."""
import re

from playwright.sync_api import expect

from tests.e2e.conftest import assert_no_exception, open_app, screenshot, wait_idle


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
    # drawn by the last poll and again by the full rerun after it: wait for one
    expect(page.get_by_text("Training the map was cancelled")).to_have_count(1)
    page.get_by_role("button", name="Train the map (4 runs)").wait_for()
    expect(cells.filter(has_text=re.compile(r"^\d+$"))).to_have_count(1)  # kept
    assert_no_exception(page)
    screenshot(page, "map-cancelled")


def test_an_open_set_map_trains_live_and_is_coloured_by_unseen_tar(page, app_url):
    open_app(page, app_url, "map?size=2&epochs=1&dim=3&open_set=1")
    page.get_by_text("No ready map for these settings").wait_for()
    page.get_by_role("button", name="Train the map (4 runs)").click()
    page.get_by_text("4 of 4 runs done").wait_for(timeout=300_000)
    chart = page.locator(".js-plotly-plot")
    # the last run done, the page reruns once to stop polling: until that run is over the
    # live view's old chart can stand beside the new one (CI saw both)
    page.get_by_role("button", name="Train the map (4 runs)").wait_for()
    wait_idle(page)
    expect(chart).to_have_count(1)
    expect(chart.locator(".gtitle")).to_have_text("ArcFace, 3D: unseen TAR at FAR 1%")
    cells = chart.locator(".textpoint text")
    expect(cells.filter(has_text=re.compile(r"^\d+$"))).to_have_count(4)
    expect(chart.locator(".legendtext").filter(has_text="best:")).to_have_count(1)
    page.get_by_text("test accuracy (0-7)").click()  # the other colour, from the same runs
    # while the page reruns, the old chart may still stand beside the new one: wait for one
    expect(chart.locator(".gtitle").filter(has_text="accuracy on digits 0-7")).to_have_count(1)
    expect(chart).to_have_count(1)
    expect(page.get_by_role("button", name="Train the map (4 runs)")).to_be_visible()
    assert_no_exception(page)
    screenshot(page, "map-open-set-live")

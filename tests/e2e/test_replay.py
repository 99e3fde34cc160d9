"""The replay player in Chromium (tests/replay_demo.py): Play moves the features frame by frame
and stops with Pause; the slider's thumb, moved with the arrow key, shows the next frame."""
import re
import time

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import assert_no_exception, open_app, screenshot, start_server, wait_idle
from tests.e2e.test_browser import first_trace_x

FRAME = re.compile(r"frame (\d+) of (\d+)")


@pytest.fixture(scope="module")
def demo_url():
    server, url = start_server("tests/replay_demo.py")
    try:
        yield url
    finally:
        server.terminate()
        server.wait(timeout=20)


def shown_frame(page) -> int:
    """The frame the caption shows. While a rerun redraws it, the old caption can stand beside
    the new one for a moment (a strict read would raise): the later frame is the one shown."""
    return max(int(FRAME.search(caption).group(1))
               for caption in page.get_by_text(FRAME).all_inner_texts())


def settled_frame(page) -> int:
    """The frame shown once two reads, each after the page went idle, agree."""
    last = None
    for _ in range(20):
        wait_idle(page)
        now = shown_frame(page)
        if now == last:
            return now
        last = now
        page.wait_for_timeout(300)
    raise AssertionError(f"the replay kept moving after Pause (frame {last})")


def test_play_pause_and_the_slider_move_the_replay(new_page, demo_url):
    page = new_page()
    page.set_viewport_size({"width": 1280, "height": 720})
    open_app(page, demo_url, "?loss=softmax&dim=2")
    expect(page.get_by_text(FRAME)).to_contain_text("frame 1 of")
    page.wait_for_function("document.querySelector('.js-plotly-plot')?.data")  # drawn
    first = first_trace_x(page)
    started = time.monotonic()
    page.get_by_role("button", name="Play").click()
    expect(page.get_by_role("button", name="Pause")).to_be_visible()
    expect(page.get_by_text(FRAME)).to_contain_text(re.compile(r"frame (1\d|[2-9]\d) of"),
                                                    timeout=60_000)
    # how fast frames came here (printed, never asserted: the machine is shared)
    print(f"replay: {shown_frame(page) - 1} frames in {time.monotonic() - started:.1f} s")
    assert first_trace_x(page) != first
    page.get_by_role("button", name="Pause").click()
    expect(page.get_by_role("button", name="Play")).to_be_visible()
    paused = settled_frame(page)  # a frame already on its way when Pause was pressed lands
    thumb = page.get_by_role("slider")
    expect(thumb).to_be_enabled()
    # the thumb sits on the frame shown, counted as the caption counts (a timer run cut short
    # by Pause once left it one ahead)
    expect(thumb).to_have_attribute("aria-valuetext", str(paused))
    thumb.focus()
    thumb.press("ArrowRight")
    expect(page.get_by_text(FRAME)).to_contain_text(f"frame {paused + 1} of")
    screenshot(page, "replay-1280x720")
    assert_no_exception(page)


@pytest.mark.slow  # the same player as the 2D replay, whose real clicks and slider run in CI
def test_a_3d_replay_on_a_phone(new_page, demo_url):
    page = new_page()
    page.set_viewport_size({"width": 390, "height": 844})
    # English: this demo page, outside the app, does not serve the app's Chinese font
    open_app(page, demo_url, "?loss=softmax&dim=3")
    expect(page.get_by_role("button", name="Play")).to_be_visible()
    thumb = page.get_by_role("slider")
    thumb.focus()
    for _ in range(12):  # each press redraws the 3D figure; sixty took half a minute of CI
        thumb.press("ArrowRight")
    wait_idle(page)
    expect(page.get_by_text(FRAME)).to_contain_text("frame 13 of", timeout=30_000)
    screenshot(page, "replay-3d-390x844")
    assert_no_exception(page)

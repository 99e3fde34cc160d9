"""Drawing a digit on the playground's real canvas, with real mouse events: the digit appears as
a new point on the feature figure and the panel takes it apart."""
import math

import pytest

from tests.e2e.conftest import SHOTS, assert_no_exception, open_app, open_tab, wait_idle

YOUR_DIGIT_ON = """() => {
  for (const plot of document.querySelectorAll('.js-plotly-plot')) {
    const trace = (plot.data || []).find(t => t.meta === 'your-digit');
    if (trace) return [trace.x[0], trace.y[0], trace.z ? trace.z[0] : null];
  }
  return null;
}"""
SEVEN = [(60, 50), (170, 50), (95, 215)]  # on the 224-pixel canvas: a bar, then a long diagonal


def draw(page, strokes=SEVEN, steps=12):
    """Press, drag through the points, release: what a student's mouse or finger does."""
    canvas = page.locator("canvas.upper-canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    scale = box["width"] / 224

    def at(point):
        return box["x"] + point[0] * scale, box["y"] + point[1] * scale

    page.mouse.move(*at(strokes[0]))
    page.mouse.down()
    for start, end in zip(strokes, strokes[1:]):
        for i in range(1, steps + 1):
            page.mouse.move(*at([a + (b - a) * i / steps for a, b in zip(start, end)]))
    page.mouse.up()


def your_digit(page):
    return page.evaluate(YOUR_DIGIT_ON)


# the projector's run is slow: the phone's narrow, stacked layout is the one more likely to break
@pytest.fixture(params=[pytest.param((1280, 720), marks=pytest.mark.slow), (390, 844)],
                ids=["projector", "phone"])
def sized_page(request, tabs, app_url):
    width, height = request.param
    tab = open_tab(tabs, width, height)
    yield tab, f"{width}x{height}"
    tab.close()


def shoot(page, locator, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    locator.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def test_a_drawn_digit_lands_on_the_sphere_and_is_taken_apart(sized_page, app_url):
    page, size = sized_page
    open_app(page, app_url, "?dim=3&loss=cosface")
    page.wait_for_selector(".js-plotly-plot")
    assert your_digit(page) is None
    draw(page)
    wait_idle(page)
    x, y, z = page.wait_for_function(YOUR_DIGIT_ON).json_value()
    assert math.isclose(math.hypot(x, y, z), 1.04, rel_tol=1e-3)  # on the sphere, just outside
    page.get_by_text("Your digit, taken as the predicted class").wait_for()
    page.get_by_text("What the network sees (28×28)").wait_for()
    probabilities = page.locator(".js-plotly-plot").filter(has_text="Softmax probabilities")
    probabilities.wait_for()
    shoot(page, page.locator(".js-plotly-plot").first, f"digit-on-sphere-{size}")
    shoot(page, page.get_by_text("Where the loss pushes the feature"), f"digit-panel-{size}")
    # saying which digit it was meant to be takes it apart for that class
    meant = page.get_by_role("radiogroup", name="I meant to draw")
    meant.get_by_role("radio", name="7", exact=True).click()
    page.get_by_text("Your digit, taken as a 7").wait_for()
    wait_idle(page)
    # the same point: only the target class changed (read when drawn: a rerun redraws it)
    assert page.wait_for_function(YOUR_DIGIT_ON).json_value() == [x, y, z]
    # wiping the canvas takes the point away and says why the panel is empty
    page.get_by_role("button", name="Reset canvas & history").click()
    page.get_by_text("The canvas is empty: draw a digit on it.").wait_for()
    page.wait_for_function(f"() => ({YOUR_DIGIT_ON})() === null")
    assert_no_exception(page)


def test_drawing_while_training_keeps_the_point_on_the_moving_chart(page, app_url):
    # 30 epochs end in about a minute here: 1,000 keep the run training until Pause
    open_app(page, app_url, "?dim=2&loss=normface&epochs=1000")
    page.wait_for_selector(".js-plotly-plot")
    page.get_by_role("button", name="Start", exact=True).click()
    page.get_by_role("button", name="Pause", exact=True).wait_for()
    wait_idle(page)  # the Start click's run redraws the canvas: draw after it
    draw(page, steps=4)  # each move waits on a page busy redrawing: fewer, longer strokes
    first = page.wait_for_function(YOUR_DIGIT_ON).json_value()
    # the network learns, so the same drawing moves: the point follows the live model
    moved = f"(first) => {{ const now = ({YOUR_DIGIT_ON})(); " \
            "return now !== null && JSON.stringify(now) !== JSON.stringify(first); }"
    page.wait_for_function(moved, arg=first, timeout=90_000)
    page.get_by_text("Your digit, taken as the predicted class").wait_for()
    page.get_by_role("button", name="Pause", exact=True).click()
    page.get_by_role("button", name="Start", exact=True).wait_for()
    wait_idle(page)
    page.wait_for_function(YOUR_DIGIT_ON)  # still there after the pause
    assert_no_exception(page)

"""Every page in headless Chromium: it renders, a slider redraws its chart, nothing raises."""
import re
import signal
import time
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from lossviz.i18n import text
from lossviz.losses import LOSSES
from tests.conftest import generations_under, process_dead, wait_for
from tests.e2e.conftest import (assert_no_exception, assert_playground_labels_apart,
                                comparison_settled, current_url, open_app, screenshot,
                                start_server, wait_idle)

# Both give null while a rerun has the chart without its data: the readers below wait it out
TRACE_Y = """([index, name]) => {
  const plot = document.querySelectorAll('.js-plotly-plot')[index];
  const trace = plot && plot.data && plot.data.find(t => t.name === name);
  return trace ? JSON.stringify(trace.y) : null;  // a plain array, or {dtype, bdata}
}"""


FIRST_TRACE_X = """(index) => {
  const plot = document.querySelectorAll('.js-plotly-plot')[index];
  return plot && plot.data && plot.data.length ? JSON.stringify(plot.data[0].x) : null;
}"""


def chart_values(page, index, name):
    return page.wait_for_function(TRACE_Y, arg=[index, name]).json_value()


def first_trace_x(page, index=0):
    return page.wait_for_function(FIRST_TRACE_X, arg=index).json_value()


def url_value(page, name):
    """One setting's value in the page's URL, exactly (not a prefix of a longer one); None
    while the URL does not carry it."""
    url = current_url(page)
    values = parse_qs(urlparse(url).query).get(name, [])
    assert len(values) <= 1, f"{name} appears {len(values)} times in {url}"
    return values[0] if values else None


def checkpoint_uploader(page):
    """The checkpoint's uploader, not the digit panel's picture uploader."""
    return page.get_by_role("region", name="Load a checkpoint").get_by_test_id(
        "stFileUploaderDropzoneInput")


def wait_for_change(read, old, timeout=30.0):
    deadline = time.monotonic() + timeout
    while read() == old:
        assert time.monotonic() < deadline, "the chart did not change"
        time.sleep(0.2)


def nudge_slider(page, label, presses=3):
    thumb = page.locator("[data-testid='stSlider']").filter(has_text=label).get_by_role("slider")
    thumb.focus()
    for _ in range(presses):
        thumb.press("ArrowRight")
        wait_idle(page)


def test_target_logit_page_redraws_on_slider(page, app_url):
    open_app(page, app_url, "curves?losses=arcface,cosface")
    page.wait_for_selector(".js-plotly-plot")
    before = chart_values(page, 0, "ArcFace")
    nudge_slider(page, "margin m (rad)")
    wait_for_change(lambda: chart_values(page, 0, "ArcFace"), before)
    wait_for(lambda: url_value(page, "arcface.m") == "0.53", 30,  # 0.50 and three steps of 0.01
             "the URL written at the end of the rerun")
    assert_no_exception(page)
    screenshot(page, "curves")


def test_decision_margins_page_redraws_on_slider(page, app_url):
    open_app(page, app_url, "margins?loss=cosface")  # its gap depends on the weights' angle
    page.wait_for_selector(".js-plotly-plot")
    # every metric's value in one read (a strict read raises if a rerun shows an old one too)
    metrics = page.locator("[data-testid='stMetricValue']").all_inner_texts
    class_1 = text("figures.margins.class_1")
    before, wedges = metrics(), chart_values(page, 0, class_1)
    assert before  # the gap is shown
    nudge_slider(page, "angle between W", presses=3)
    wait_for_change(lambda: metrics() or before, before)  # none drawn for a moment: unchanged
    wait_for_change(lambda: chart_values(page, 0, class_1), wedges)
    expect(page.locator(".js-plotly-plot")).to_have_count(2)
    wait_for(lambda: url_value(page, "phi") == "93", 30,  # 90 degrees and three steps of 1
             "the URL written at the end of the rerun")
    assert_no_exception(page)
    screenshot(page, "margins")


def test_theory_link_opens_margins_with_the_loss_set(page, app_url):
    open_app(page, app_url, "theory")
    page.locator(".katex").nth(6).wait_for()  # KaTeX draws after the script run: at least 7
    screenshot(page, "theory")
    page.get_by_role("link", name="Open its decision margins").nth(4).click()  # CosFace
    page.wait_for_url("**/margins?**")
    wait_idle(page)
    assert "loss=cosface" in current_url(page)
    expect(page.get_by_role("combobox", name="Loss")).to_have_value("CosFace (AM-Softmax)")
    assert_no_exception(page)


def test_chinese_theory_page(page, app_url):
    open_app(page, app_url, "theory?lang=zh")
    assert page.locator("h1").first.inner_text().startswith("理论")
    assert_no_exception(page)
    screenshot(page, "theory-zh")


def test_malformed_link_warns_without_crashing(page, app_url):
    open_app(page, app_url, "margins?loss=bogus&phi=abc&arcface.m=99")
    alerts = page.locator("[data-testid='stAlert']").all_inner_texts()
    assert any("bogus" in a for a in alerts) and any("outside" in a for a in alerts)
    expect(page.locator(".js-plotly-plot")).to_have_count(2)
    assert_no_exception(page)


SURFACE_SHOWN = """() => {
  const plot = document.querySelector('.js-plotly-plot');
  return plot && plot.data && plot.data[0].type === 'surface';
}"""


TITLE_AND_LEGEND_OF_THE_SPHERE = """() => {
  const plot = document.querySelector('.js-plotly-plot');
  const title = plot && plot.querySelector('.gtitle'), legend = plot && plot.querySelector('.legend');
  if (!title || !legend) return null;  // the misclassified crosses' legend not drawn yet
  const t = title.getBoundingClientRect(), l = legend.getBoundingClientRect();
  return t.height && l.height ? [t.bottom, l.top] : null;
}"""


# The progress line of the page as drawn now: during a rerun Streamlit can keep the old bar
# (its container marked stale) beside the new one, and a strict locator would raise there
PROGRESS_TEXT = """() => {
  const bars = [...document.querySelectorAll("[data-testid='stProgress']")];
  const fresh = bars.filter(bar => !bar.closest("[data-stale='true']"));
  const bar = (fresh.length ? fresh : bars).at(-1);
  return bar ? bar.innerText : '';
}"""


def progress_text(page):
    return page.evaluate(PROGRESS_TEXT)


def shown_step(page) -> int:
    match = re.search(r"step (\d+)", progress_text(page))
    return int(match.group(1)) if match else -1


def wait_for_step(page, above: int, timeout=90.0):
    deadline = time.monotonic() + timeout
    while shown_step(page) <= above:
        assert time.monotonic() < deadline, f"the page never showed a step above {above}"
        time.sleep(0.2)


def train_for_a_moment(page, steps: int):
    page.get_by_role("button", name="Start", exact=True).click()
    wait_for_step(page, steps)


def one_step(page, to: int, what: str):
    """Press One step and wait until the page shows step `to` (a count known in advance,
    unlike a pause's)."""
    page.get_by_role("button", name="One step", exact=True).click()
    wait_for(lambda: shown_step(page) == to, 60, what)


def test_playground_trains_pauses_and_resets_in_2d(page, app_url):
    open_app(page, app_url, "?dim=2")
    page.wait_for_selector(".js-plotly-plot")
    before = first_trace_x(page)
    train_for_a_moment(page, steps=5)
    assert "step 0 " not in progress_text(page)
    wait_for_change(lambda: first_trace_x(page), before)  # the digits' features moved
    pause(page)
    wait_idle(page)
    # after the pause: while the run trains, a screenshot waits seconds for the busy page
    screenshot(page, "playground-2d")
    assert_playground_labels_apart(page)
    page.get_by_role("button", name="Reset", exact=True).click()
    wait_for_change(lambda: "step 0 " in progress_text(page), False)
    assert_no_exception(page)


def test_playground_shows_the_sphere_in_3d(page, app_url):
    open_app(page, app_url, "?dim=3&loss=cosface")
    # One step: the crosses' legend, the box checked below, comes with the first step. Start
    # and Pause are the 2D test's buttons; here, with the sphere redrawn in software at every
    # update, Pause waited 8-10 s for the busy page in CI.
    one_step(page, 1, "the first step")
    wait_idle(page)
    page.wait_for_function(SURFACE_SHOWN)
    screenshot(page, "playground-3d")
    # Read both boxes in one go from the page: a rerun can replace the chart between two
    # separate reads (CI saw a box of None).
    title_bottom, legend_top = page.wait_for_function(TITLE_AND_LEGEND_OF_THE_SPHERE).json_value()
    assert legend_top >= title_bottom  # it once sat on the title
    assert_no_exception(page)


def test_checkpoint_import_good_and_bad(page, app_url, tmp_path):
    from lossviz.checkpoint import checkpoint_bytes
    from lossviz.data import load_bundled
    from lossviz.train import Run, TrainConfig

    good = tmp_path / "run.pt"
    good.write_bytes(checkpoint_bytes(Run(TrainConfig(loss="cosface", params={"s": 20.0, "m": 0.15},
                                                      dim=3), load_bundled())))
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"this is not a checkpoint")
    open_app(page, app_url, "?dim=2")
    page.get_by_text("Export and import").click()
    upload = checkpoint_uploader(page)
    upload.set_input_files(str(bad))
    page.get_by_text("Your current run is unchanged").wait_for()
    upload.set_input_files(str(good))
    page.get_by_text(f"Loaded run.pt: {LOSSES['cosface'].title}, 3D").wait_for()
    wait_idle(page)
    expect(page.get_by_role("combobox", name="Loss")).to_have_value("CosFace (AM-Softmax)")
    page.wait_for_function(SURFACE_SHOWN)
    assert_no_exception(page)
    screenshot(page, "playground-import")


# slow: the presentation suite runs the same comparison with a real click and checks the same
# table and charts (test_compare_runs_from_the_presentation_row_and_shows_its_runs_above_the_fold)
@pytest.mark.slow
def test_compare_two_short_runs(page, app_url):
    open_app(page, app_url, "compare?losses=softmax,arcface&epochs=1")
    page.get_by_role("button", name="Run the comparison").click()
    page.get_by_text("2 of 2 runs done").wait_for(timeout=240_000)
    comparison_settled(page)
    expect(page.locator("[data-testid='stDataFrame']")).to_have_count(1)
    expect(page.locator(".js-plotly-plot")).to_have_count(3)  # a panel per run, the accuracy
    assert_no_exception(page)
    screenshot(page, "compare")


# The pixel position of the raw-feature point (trace 0 of the first chart) that lies farthest
# from every other point the reader could hover (features and weight tips), so that a click
# there can only pick that one point.
LONELY_POINT = """() => {
  const plot = document.querySelectorAll('.js-plotly-plot')[0];
  const xa = plot._fullLayout.xaxis, ya = plot._fullLayout.yaxis;
  const box = plot.getBoundingClientRect();
  const pixels = (trace) => Array.from(trace.x, (x, i) =>
      [box.left + xa._offset + xa.l2p(x), box.top + ya._offset + ya.l2p(trace.y[i])]);
  const points = pixels(plot._fullData[0]);
  const others = plot._fullData.filter(t => t.xaxis === 'x' && t.mode === 'markers+text')
      .flatMap(pixels).concat(points);
  let best = null;
  points.forEach(([x, y], i) => {
    if (x < box.left + xa._offset + 5 || x > box.left + xa._offset + xa._length - 5) return;
    if (y < box.top + ya._offset + 5 || y > box.top + ya._offset + ya._length - 5) return;
    const gap = Math.min(...others.filter(([u, v]) => u !== x || v !== y)
        .map(([u, v]) => Math.hypot(u - x, v - y)));
    if (!best || gap > best.gap) best = {index: i, x, y, gap};
  });
  return best;
}"""


HOVERED = """(index) => (document.querySelectorAll('.js-plotly-plot')[0]._hoverdata || [])
  .some(p => p.curveNumber === 0 && p.pointNumber === index)"""


def hover_a_lonely_point(page, timeout: float = 60.0) -> dict:
    """Move the mouse onto a point that stands apart and wait until plotly hovers it: a click
    selects what plotly hovers, computed a frame after the move. Aimed again while it does not
    (the charts beside it can still shift the layout as they draw)."""
    deadline = time.monotonic() + timeout
    while True:
        # in view again at each aim: a late-drawn chart can scroll the page (CI once aimed at
        # y = -646, above the window)
        page.locator(".js-plotly-plot").first.scroll_into_view_if_needed()
        point = page.evaluate(LONELY_POINT)
        assert point["gap"] > 6, "no point stands apart enough to click it alone"
        page.mouse.move(point["x"], point["y"])
        try:
            page.wait_for_function(HOVERED, arg=point["index"], timeout=5_000)
            return point
        except PlaywrightTimeout:
            assert time.monotonic() < deadline, f"plotly never hovered point {point}"


def test_clicking_a_feature_point_shows_its_digit(page, app_url):
    open_app(page, app_url, "?dim=2")
    chart = page.locator(".js-plotly-plot").first
    chart.scroll_into_view_if_needed()
    point = hover_a_lonely_point(page)
    page.mouse.click(point["x"], point["y"])
    image = page.locator("[data-testid='stImage']")
    expect(image).to_contain_text(f"test #{point['index']}: ", timeout=30_000)
    expect(image.locator("img")).to_have_js_property("naturalWidth", 168)  # 28 px, 6x
    for chart in ("curves", "angles"):  # the curves and histogram stay
        expect(page.locator(f".st-key-playground-{chart} .js-plotly-plot")).to_have_count(1)
    assert_no_exception(page)
    screenshot(page, "playground-picked-digit")


def pause(page):
    page.get_by_role("button", name="Pause", exact=True).click()
    page.get_by_role("button", name="Start", exact=True).wait_for()


def reload_page(page):
    page.reload()  # F5: a new browser session, the same URL
    wait_idle(page)
    page.wait_for_selector(".js-plotly-plot")


def test_a_reload_keeps_the_run(page, app_url):
    open_app(page, app_url, "?dim=2")
    page.wait_for_selector(".js-plotly-plot")
    untrained = first_trace_x(page)
    settled = 1
    one_step(page, settled, "the first step")
    wait_for(lambda: "run=" in current_url(page))
    reload_page(page)
    wait_for(lambda: shown_step(page) == settled, 30, "the run's step after the reload")
    wait_for(lambda: first_trace_x(page) != untrained, 30, "the trained features")
    trained = first_trace_x(page)
    reload_page(page)  # the features drawn from the run the server kept, not from the tab
    wait_for(lambda: shown_step(page) == settled and first_trace_x(page) == trained, 30,
             "the same features after another reload")
    one_step(page, settled + 1, "the next step")  # and it carries on from there
    assert_no_exception(page)


def test_a_class_watches_the_teachers_run(page, new_page, app_url):
    open_app(page, app_url, "?dim=2")
    page.get_by_text("Watch link for your class").click()
    link = page.locator("[data-testid='stCode']").inner_text().strip()
    assert "watch=" in link and "run=" not in link
    student = new_page()
    open_app(student, app_url, link[link.index("?"):])  # the link's query, on this server
    student.wait_for_selector(".js-plotly-plot")
    assert student.get_by_role("button", name="Start", exact=True).count() == 0
    assert student.get_by_role("button", name="One step", exact=True).count() == 0
    before = shown_step(student)
    train_for_a_moment(page, steps=5)
    wait_for_step(student, max(before, 5))  # it moves for the watcher, without a click there
    pause(page)
    screenshot(student, "playground-watch")
    page.get_by_text("1 watching").wait_for()
    student.get_by_role("button", name="Take a copy into my playground").click()
    student.get_by_role("button", name="Start", exact=True).wait_for()
    wait_for(lambda: "run=" in current_url(student) and "watch=" not in current_url(student),
             30, "the copy's own link")
    assert_no_exception(student)
    assert_no_exception(page)


def test_compare_can_be_cancelled(page, app_url):
    open_app(page, app_url, "compare?losses=softmax,normface&epochs=50")
    page.get_by_role("button", name="Run the comparison").click()
    page.get_by_text("training Softmax, epoch").wait_for()
    page.get_by_role("button", name="Cancel the comparison").click()
    # drawn by the last poll and again by the full rerun after it: wait for one
    expect(page.get_by_text("The comparison was cancelled")).to_have_count(1)
    page.get_by_role("button", name="Run the comparison").wait_for()
    assert_no_exception(page)


def test_a_cli_checkpoint_with_unshown_settings_carries_on_as_saved(page, app_url, tmp_path):
    from lossviz.checkpoint import checkpoint_bytes
    from lossviz.data import load_bundled
    from lossviz.train import Run, TrainConfig

    run = Run(TrainConfig(loss="sphereface", params={"m": 4}, dim=2, batch_size=256, lr=0.5,
                          lr_floor=0.1, seed=5_000_000, lambda_min=2.0, lambda_gamma=0.3),
              load_bundled())
    run.step = 37
    saved = tmp_path / "cli.pt"
    saved.write_bytes(checkpoint_bytes(run))
    open_app(page, app_url, "?dim=2")
    page.get_by_text("Export and import").click()
    checkpoint_uploader(page).set_input_files(str(saved))
    page.get_by_text(f"Loaded cli.pt: {LOSSES['sphereface'].title}, 2D, step 37").wait_for()
    wait_for(lambda: shown_step(page) == 37, 30, "the loaded run's step")
    one_step(page, 38, "one step on from the loaded run")
    lr = float(re.search(r"lr ([0-9.]+)", progress_text(page)).group(1))
    assert lr > 0.4  # the run's own 0.5 (cosine decay), not the old widget's top of 0.1
    assert_no_exception(page)


# slow: a server of its own costs a cold start; tests/unit/test_live.py kills a server that
# holds the same registry and fork server (test_training_processes_end_when_the_server_is_killed)
@pytest.mark.slow
def test_training_ends_when_the_web_server_is_killed(new_page):
    server, url = start_server()
    try:
        page = new_page()
        open_app(page, url, "?dim=2")
        train_for_a_moment(page, steps=3)
        under = generations_under(server.pid)
        assert len(under) >= 2, "no training process under the fork server"
        trainers = [found for generation in under for found in generation]
        server.send_signal(signal.SIGKILL)
        server.wait(10)
        wait_for(lambda: all(process_dead(pid) for pid in trainers), 10,
                 "every training process gone")
    finally:
        server.kill()
        server.wait(10)


"""The playground as a student sees it, in headless Chromium against a cold `streamlit run`.

    python -m benchmarks.bench_live [--seconds 10] [--sessions 1 8]

Prints: the first page after a cold server start (from launching streamlit, and from the
server answering /_stcore/health, until the features figure is drawn); Start to the first
step shown; and, with N sessions training at once, per session: how often the features figure
really changed on screen, how long each fragment rerun kept the app "running" (server side, as
the browser sees it), how busy the browser's main thread was (long tasks), and the memory of
the server with its training processes (PSS, /proc/PID/smaps_rollup). Browser and
server share this machine's cores, as in the brief's measurements. Never a pass/fail test.
"""
import argparse
import statistics
import time

from playwright.sync_api import sync_playwright

from tests.e2e.conftest import CHROMIUM, CHROMIUM_FLAGS, start_server

# Counts the features figure's changes on screen (the points' coordinates) and the time
# each script or fragment run keeps the app "running"; sums the main thread's long tasks.
PROBE = """() => {
  window.lossvizProbe = {redraws: [], runs: [], longtasks: 0};
  const probe = window.lossvizProbe;
  let last = null, runStart = null;
  const watch = () => {
    const plot = document.querySelector('.js-plotly-plot');
    const x = plot && plot.data && plot.data[0].x;
    // Streamlit sends the points as a typed array, {dtype, bdata: base64}: compare the ends of
    // that text (a plain array's x[0] of such an object is undefined: it never changed)
    const seen = !x ? null : x.bdata ? x.bdata.slice(0, 64) + x.bdata.slice(-64)
                                     : `${x[0]},${x[1]},${x[x.length - 1]}`;
    if (seen !== last) { last = seen; probe.redraws.push(performance.now()); }
    requestAnimationFrame(watch);
  };
  requestAnimationFrame(watch);
  const app = document.querySelector("[data-testid='stApp']");
  new MutationObserver(() => {
    const state = app.getAttribute('data-test-script-state');
    if (state === 'running') runStart = performance.now();
    else if (runStart !== null) { probe.runs.push(performance.now() - runStart); runStart = null; }
  }).observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
  new PerformanceObserver(list => {
    for (const task of list.getEntries()) probe.longtasks += task.duration;
  }).observe({entryTypes: ['longtask']});
}"""
STEP_SHOWN = """() => /step [1-9]/.test(
  document.querySelector("[data-testid='stProgress']")?.innerText || '')"""


def open_playground(browser, url):
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.set_default_timeout(120_000)
    page.goto(f"{url}/?dim=2")
    page.wait_for_selector(".js-plotly-plot")
    return page


def first_page(browser) -> tuple:
    launched = time.monotonic()
    server, url = start_server()
    healthy = time.monotonic()
    page = open_playground(browser, url)
    drawn = time.monotonic()
    page.close()
    return server, url, drawn - launched, drawn - healthy


def start_latency(browser, url) -> float:
    page = open_playground(browser, url)
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']")
    clicked = time.monotonic()
    page.get_by_role("button", name="Start", exact=True).click()
    page.wait_for_function(STEP_SHOWN, polling="raf")
    latency = time.monotonic() - clicked
    page.get_by_role("button", name="Pause", exact=True).click()
    page.close()
    return latency


def server_memory(server) -> float:
    """PSS of the streamlit server and its children (the training process), in MB."""
    from benchmarks.bench_memory import rollup
    from tests.conftest import descendants_of
    return sum(rollup(pid)[1] for pid in [server.pid, *descendants_of(server.pid)]) / 2 ** 20


def live_rates(browser, server, url, sessions: int, seconds: float) -> tuple[list[dict], float]:
    pages = [open_playground(browser, url) for _ in range(sessions)]
    for page in pages:
        page.get_by_role("button", name="Start", exact=True).click()
    for page in pages:
        page.wait_for_function(STEP_SHOWN)
    for page in pages:
        page.evaluate(PROBE)
    time.sleep(seconds)  # the measuring window itself
    memory, found = server_memory(server), []
    for page in pages:
        probe = page.evaluate("() => window.lossvizProbe")
        found.append({"updates_per_s": len(probe["redraws"]) / seconds,
                      "run_ms": statistics.median(probe["runs"]) if probe["runs"] else 0.0,
                      "browser_busy": probe["longtasks"] / (1000 * seconds)})
    for page in pages:
        pause = page.get_by_role("button", name="Pause", exact=True)
        if pause.count():  # a run may have paused itself: unwatched for 15 s on a busy machine
            pause.click()
        page.close()
    return found, memory


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 8])
    args = parser.parse_args()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        server, url, from_launch, from_healthy = first_page(browser)
        try:
            print(f"first page after a cold start: {from_launch:.1f} s from launching the "
                  f"server, {from_healthy:.1f} s from its first healthy answer")
            print(f"Start to the first step shown: {start_latency(browser, url):.2f} s")
            for sessions in args.sessions:
                rates, memory = live_rates(browser, server, url, sessions, args.seconds)
                updates = ", ".join(f"{r['updates_per_s']:.1f}" for r in rates)
                run_ms = statistics.median(r["run_ms"] for r in rates)
                busy = statistics.median(r["browser_busy"] for r in rates)
                print(f"{sessions} session(s) training: figure updates per second {updates}; "
                      f"median fragment run {run_ms:.0f} ms; browser main thread busy {busy:.0%}; "
                      f"server and training processes: PSS {memory:,.0f} MB")
        finally:
            server.kill()
            server.wait(20)
            browser.close()


if __name__ == "__main__":
    main()

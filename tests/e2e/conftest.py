"""Real-browser fixtures: `streamlit run app.py` on a free port, driven by Debian's chromium."""
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = os.environ.get("LOSSVIZ_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, server: subprocess.Popen, timeout: float = 90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"streamlit exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} not healthy after {timeout}s")


def start_server(script: str = "app.py", log=None) -> tuple[subprocess.Popen, str]:
    """`streamlit run app.py` (or another script of the repository) on a free port, healthy;
    its output goes to log (an open file) when given (benchmarks read the server's tracebacks
    there), else nowhere."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", script, "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1"],
        cwd=ROOT, stdout=log or subprocess.DEVNULL, stderr=subprocess.STDOUT if log else
        subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, server)
    except BaseException:
        server.kill()
        server.wait(timeout=20)
        raise
    return server, url


@pytest.fixture(scope="session")
def app_url():
    server, url = start_server()
    try:
        yield url
    finally:
        server.terminate()
        server.wait(timeout=20)


@pytest.fixture(scope="session")
def playwright():
    """The suite's one Playwright: a second sync_playwright() in the same process raises
    ("Sync API inside the asyncio loop"), so a test that drives browsers itself takes this."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (see README)")
    with sync_playwright() as started:
        yield started


@pytest.fixture(scope="session")
def browser(playwright):
    launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
    yield launched
    launched.close()


@pytest.fixture(scope="session")
def tabs(browser):
    """One browser context for the suite's tabs. Each tab is a Streamlit session of its own;
    sharing the context keeps Chromium's cache of the app's compiled JavaScript (plotly.js is
    4.7 MB), which took about 0.9 s off every page load here. A test that needs another
    student's browser takes new_page()."""
    context = browser.new_context()
    yield context
    context.close()


def open_tab(tabs, width=1500, height=1100, timeout=60_000):
    """A new tab of the shared context at that screen size; the caller closes it."""
    tab = tabs.new_page()
    tab.set_viewport_size({"width": width, "height": height})
    tab.set_default_timeout(timeout)
    return tab


@pytest.fixture
def new_page(browser):
    """Pages in browser contexts of their own (a second student's browser), closed after."""
    contexts = []

    def make():
        contexts.append(browser.new_context(viewport={"width": 1500, "height": 1100}))
        tab = contexts[-1].new_page()
        tab.set_default_timeout(60_000)
        return tab

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(tabs, app_url):
    tab = open_tab(tabs)
    yield tab
    tab.close()


def wait_idle(page):
    """Streamlit marks the app notRunning once a script run has finished and rendered.
    Assertions after it retry until their deadline (expect, wait_for_*), as Streamlit's own
    e2e suite does, rather than sleeping for a rerun to begin."""
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']")


def comparison_settled(tab):
    """After a comparison's last run the page reruns once in full to stop polling, and until
    that run is over the old table or chart can stand beside the new one: the Run button
    comes back only in that run."""
    tab.locator(".st-key-compare-run button").wait_for()
    wait_idle(tab)


def open_app(page, app_url, path=""):
    page.goto(f"{app_url}/{path}")
    wait_idle(page)
    page.wait_for_selector("[data-testid='stMain']")


def current_url(page) -> str:
    """The address bar now. Streamlit writes query parameters with history.replaceState, and
    Playwright's page.url follows such same-document changes only when their event reaches it
    (seen seconds late): it can show the URL before the last rerun's while the page has moved on."""
    return page.evaluate("location.href")


def screenshot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def assert_no_exception(page):
    assert page.locator("[data-testid='stException']").count() == 0


# KaTeX draws a formula it cannot parse as red source text (class katex-error), and an unknown
# command in one that parses as its name in red (in the MathML: mstyle mathcolor="#cc0000");
# it raises for neither. No formula of the app sets a colour of its own.
KATEX_ERRORS = """() => [...document.querySelectorAll(
    '.katex-error, .katex mstyle[mathcolor="#cc0000"]')]
  .map(e => e.getAttribute('title') || e.textContent)"""


def formulas_typeset(tab) -> int:
    """Wait until the page's formulas are drawn; how many there are. Fails, quoting KaTeX's
    own message or the unknown command, on any that KaTeX could not typeset (only a browser
    runs KaTeX)."""
    formulas = tab.locator("[data-testid='stMain'] .katex")
    formulas.first.wait_for()
    assert tab.evaluate(KATEX_ERRORS) == [], current_url(tab)
    return formulas.count()


# Every box in one read from the page: a rerun can replace a chart between two reads
PLAYGROUND_LABEL_BOXES = """() => {
  const box = e => { const r = e.getBoundingClientRect();
                     return {x: r.x, y: r.y, width: r.width, height: r.height}; };
  const curves = document.querySelector('.st-key-playground-curves .js-plotly-plot');
  const legend = curves && curves.querySelector('.legend');
  const titles = curves ? [...curves.querySelectorAll('.annotation')] : [];
  if (!legend || titles.length !== 2) return null;  // not drawn yet
  const charts = [...document.querySelectorAll("[data-testid='stMain'] .js-plotly-plot")];
  return {legend: box(legend), titles: titles.map(box), charts: charts.map(chart => ({
    outer: box(chart),
    labels: [...chart.querySelectorAll(".ytick text, .xtick text, text[class$='title']")]
      .map(text => ({...box(text), text: text.textContent}))}))};
}"""


def assert_playground_labels_apart(tab):
    """The playground's curves keep their legend above both panel titles ("train" once sat on
    "Loss"), and every chart's tick labels and axis titles lie inside it: the live charts'
    margins are fixed, not measured by Plotly (lossviz.figures.style.steady_margins)."""
    found = tab.wait_for_function(PLAYGROUND_LABEL_BOXES).json_value()
    legend = found["legend"]
    for title in found["titles"]:  # "Loss" and "Accuracy" over their panels
        assert legend["y"] + legend["height"] <= title["y"]
    for chart in found["charts"]:
        outer = chart["outer"]
        for label in chart["labels"]:
            if label["width"] and label["height"]:  # not an empty or hidden one
                assert label["x"] >= outer["x"] and (label["y"] + label["height"]
                                                     <= outer["y"] + outer["height"]), label

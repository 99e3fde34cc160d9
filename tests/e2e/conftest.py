"""Real-browser fixtures: `streamlit run app.py` on a free port, driven by Debian's chromium."""
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

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
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (see README)")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


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
def page(new_page, app_url):
    return new_page()


def wait_idle(page):
    """Streamlit marks the app notRunning once a script run has finished and rendered.
    Assertions after it retry until their deadline (expect, wait_for_*), as Streamlit's own
    e2e suite does, rather than sleeping for a rerun to begin."""
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']")


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


def assert_playground_labels_apart(tab):
    """The playground's curves keep their legend above both panel titles ("train" once sat on
    "Loss"), and every chart's tick labels and axis titles lie inside it: the live charts'
    margins are fixed, not measured by Plotly (lossviz.figures.style.steady_margins)."""
    curves = tab.locator(".st-key-playground-curves .js-plotly-plot")
    curves.locator(".legend").wait_for()
    legend = curves.locator(".legend").bounding_box()
    titles = curves.locator(".annotation")  # "Loss" and "Accuracy" over their panels
    expect(titles).to_have_count(2)
    for title in titles.all():
        assert legend["y"] + legend["height"] <= title.bounding_box()["y"]
    for chart in tab.locator("[data-testid='stMain'] .js-plotly-plot").all():
        outer = chart.bounding_box()
        for label in chart.locator(".ytick text, .xtick text, text[class$='title']").all():
            box = label.bounding_box()
            assert box is None or (box["x"] >= outer["x"] and box["y"] + box["height"]
                                   <= outer["y"] + outer["height"]), label.text_content()

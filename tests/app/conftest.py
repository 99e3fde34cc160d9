import base64
import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.fixture
def open_page():
    """Run app.py (the real router) on one page, with an optional query string."""
    def _open(page: str, query: dict | None = None) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=60)
        at.switch_page(f"pages/{page}.py")
        at.query_params.update(query or {})
        return at.run()
    return _open


def figures(at: AppTest) -> list[dict]:
    """The plotly figures on screen, as the JSON the browser receives."""
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def trace(figure: dict, name: str) -> dict:
    return next(t for t in figure["data"] if t.get("name") == name)


def array(values) -> np.ndarray:
    """Plotly sends numpy data as typed arrays ({dtype, bdata}); plain lists stay lists."""
    if isinstance(values, dict) and "bdata" in values:
        flat = np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"])
        return flat.reshape(values["shape"]) if "shape" in values else flat
    return np.asarray(values)


@pytest.fixture(autouse=True)
def fresh_registry():
    """Each test gets the server's registry afresh; afterwards its training process must be
    gone (ended and reaped)."""
    from lossviz.ui.runs import registry
    from tests.conftest import process_gone, wait_for
    registry.clear()
    yield
    pids = registry().process_ids
    registry().stop()
    registry.clear()
    wait_for(lambda: all(process_gone(pid) for pid in pids), 20, "training process gone")

"""benchmarks/bench_load end to end, small: a real Chromium page and a light websocket client
open the Playground, press Start and hold a few seconds (slow group: not in CI)."""
import pytest

from benchmarks.bench_load import run_class


@pytest.mark.slow
def test_bench_load_holds_two_sessions(playwright):
    found = run_class(playwright, 2, browsers=1, hold=5.0, exit_wait=1.0)
    assert (found["chromium"], found["websocket"]) == (1, 1)
    assert len(found["waits_s"]) == 2  # both pressed Start
    assert not found["page_exceptions"] and not found["client_failures"]
    assert found["log_tracebacks"] == 0, found["log"]
    assert found["health_failed"] == 0 and found["health_p95_ms"] > 0
    assert found["peak_pss_mb"] > 100  # the server with torch's training process beside it

"""The training process starts from lossviz.worker alone, whatever __main__ the server has."""
import sys
import types

from lossviz.train import TrainConfig
from tests.conftest import wait_for


def test_the_training_process_does_not_run_the_page_script(make_registry, small_set, tmp_path,
                                                          monkeypatch):
    # In a Streamlit server, __main__ is the page script last run: spawn would run it again in
    # the training process. This one leaves a mark if it runs there.
    marker = tmp_path / "ran"
    script = tmp_path / "page_script.py"
    script.write_text(f"open({str(marker)!r}, 'w').close()\n")
    page = types.ModuleType("__main__")
    page.__file__ = str(script)
    monkeypatch.setitem(sys.modules, "__main__", page)
    registry = make_registry()
    run = registry.create(TrainConfig(loss="softmax", dim=2, epochs=1), small_set)
    run.start()
    # step > 0 whatever the status: one epoch of the small set can end (paused, finished)
    # before a poll sees it running, now that the process is warm before the first Start
    wait_for(lambda: run.snapshot().step > 0, 120, "the run trained")
    run.pause()
    assert not marker.exists()
    assert sys.modules["__main__"] is page  # put back after the start

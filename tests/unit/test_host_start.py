"""The training process starts from lossviz.worker alone, whatever __main__ the server has, and
without importing torch again."""
import os
import sys
import types

from lossviz.train import TrainConfig
from tests.conftest import parent_of, wait_for


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


def test_training_processes_are_forks_of_a_server_that_imported_torch_once(make_registry,
                                                                           small_set):
    # Spawn imported torch and torch._dynamo again for every training process (2.4 s to
    # Ready here); a fork of the fork server has them already (0.2 s).
    first, second = make_registry(), make_registry()
    for registry in (first, second):
        registry.create(TrainConfig(loss="softmax", dim=2, epochs=1), small_set).step()
    wait_for(lambda: first.process_ids and second.process_ids, 60, "two training processes")
    parents = {parent_of(pid) for pid in first.process_ids + second.process_ids}
    (server,) = parents  # one server forked both, and it is not this process
    assert server != os.getpid() and parent_of(server) == os.getpid()

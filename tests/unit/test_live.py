"""Live runs through the registry, with a real training process."""
import io
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from lossviz import protocol as p
from lossviz.host import HostLost
from lossviz.registry import host_idle_seconds
from lossviz.snapshot import PAUSED, RUNNING, WAITING
from lossviz.train import Run, TrainConfig
from lossviz.worker import ThreadTuner
from tests.conftest import process_dead, process_gone, wait_for

SOFTMAX = TrainConfig(loss="softmax", dim=2, batch_size=64)


def checkpoint_step(data: bytes) -> int:
    return torch.load(io.BytesIO(data), weights_only=True)["step"]


def settled(run) -> int:
    """The run's step once the process has handled everything sent before: a checkpoint goes
    through the process in order, and its answer arrives after any progress sent before it."""
    run.checkpoint()
    return run.snapshot().step


def same_weights(a: Run, b: Run) -> bool:
    return all(torch.allclose(x, y, rtol=1e-4, atol=1e-5) for x, y in
               zip(a.model.state_dict().values(), b.model.state_dict().values(), strict=True))


@pytest.fixture
def registry(make_registry):
    return make_registry()


@pytest.fixture
def run(registry, small_set):
    return registry.create(SOFTMAX, small_set)


def test_step_pause_resume(run):
    run.step(3)
    wait_for(lambda: run.snapshot().step == 3)
    run.start()
    wait_for(lambda: run.snapshot().step > 6 and run.snapshot().status == RUNNING)
    run.pause()
    wait_for(lambda: run.snapshot().status == PAUSED and not run.busy)
    paused_at = settled(run)
    assert settled(run) == paused_at and checkpoint_step(run.checkpoint()) == paused_at
    snap = run.snapshot()
    assert snap.evaluation.features.shape == (200, 2)
    assert len(snap.history.steps) >= 1 and snap.samples_per_s > 0


@pytest.fixture
def one_thread(monkeypatch):
    """Training here and in the process on one thread each: the same sums in the same order.
    (Adam's first steps move each weight by about lr times the sign of its gradient, so the
    last bit of a near-zero gradient shows.)"""
    monkeypatch.setenv("LOSSVIZ_TRAIN_THREADS", "1")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_the_process_trains_with_the_updated_loss_and_the_reset_weights(one_thread,
                                                                         make_registry,
                                                                         small_set):
    run = make_registry().create(SOFTMAX, small_set)
    run.step(2)
    wait_for(lambda: run.snapshot().step == 2)
    cosface = TrainConfig(loss="cosface", params={"s": 10.0, "m": 0.2}, dim=2, batch_size=64)
    run.update(cosface)
    expected = run.current_run()  # the process's own run, taken between two steps
    assert expected.config == cosface and expected.step == 2
    expected.train_step()
    run.step()
    wait_for(lambda: run.snapshot().step == 3 and not run.busy)
    assert same_weights(run.current_run(), expected)  # it stepped with CosFace, s=10, m=0.2
    assert run.snapshot().params["m"] == 0.2 and run.snapshot().config.loss == "cosface"

    arcface3d = TrainConfig(loss="arcface", dim=3, batch_size=64)
    run.reset(arcface3d)
    snap = run.snapshot()
    assert snap.generation == 1 and snap.step == 0 and snap.history.steps == ()
    run.step()
    wait_for(lambda: run.snapshot().step == 1 and not run.busy)
    fresh = Run(arcface3d, small_set)
    fresh.train_step()
    assert same_weights(run.current_run(), fresh)  # fresh 3D weights, one step on

    restored = Run(SOFTMAX, small_set)
    for _ in range(4):
        restored.train_step()
    run.restore(restored)
    run.step()
    wait_for(lambda: run.snapshot().step == 5 and not run.busy)
    restored.train_step()
    assert same_weights(run.current_run(), restored)


def test_one_step_while_training_then_pause_settles_paused(run):
    run.start()
    wait_for(lambda: run.snapshot().status == RUNNING and run.snapshot().step > 2)
    run.step()
    run.pause()
    wait_for(lambda: not run.busy and not run.wants_to_run, 30, "the run to settle")
    assert run.snapshot().status == PAUSED
    stepped_to = settled(run)
    run.start()  # and Start works again
    wait_for(lambda: run.snapshot().step > stepped_to)


def test_one_step_pressed_while_training_pauses_once_and_a_repeat_of_it_takes_no_step(run):
    run.start()
    wait_for(lambda: run.snapshot().status == RUNNING and run.snapshot().step > 2)
    run.step_while_training()
    wait_for(lambda: not run.busy and not run.wants_to_run, 30, "the run to pause")
    paused_at = settled(run)
    run.step_while_training()  # the same press delivered again, after the run paused
    assert settled(run) == paused_at and not run.busy and run.snapshot().status == PAUSED


def test_switching_optimizer_while_training(run):
    run.start()
    wait_for(lambda: run.snapshot().step > 2)
    sgd = TrainConfig(loss="softmax", dim=2, batch_size=64, optimizer="sgd")
    run.update(sgd)
    switched_at = settled(run)
    wait_for(lambda: run.snapshot().step > switched_at + 3)
    inside = run.current_run()
    assert inside.config.optimizer == "sgd"
    assert isinstance(inside.optimizer, torch.optim.SGD)
    run.pause()


def test_progress_of_an_older_generation_is_dropped_after_a_reset(run):
    run.start()
    wait_for(lambda: run.snapshot().step > 5)
    run.reset(SOFTMAX)
    settled(run)  # every progress the old run sent has arrived by now
    snap = run.snapshot()
    assert snap.generation == 1 and snap.step == 0 and snap.history.steps == ()


def test_a_checkpoint_comes_from_the_live_process(run):
    run.start()
    wait_for(lambda: run.snapshot().step > 5)
    seen = run.snapshot().step
    assert checkpoint_step(run.checkpoint()) >= seen  # the parked state is still at step 0
    run.pause()


def test_a_request_that_times_out_is_forgotten(registry, run):
    run.step()
    wait_for(lambda: run.snapshot().step == 1 and not run.busy)
    host = registry.host()
    os.kill(host.pid, signal.SIGSTOP)
    try:
        data = run.checkpoint(timeout=0.5)  # no answer in time: the run as last handed over
        assert checkpoint_step(data) == 0 and host.pending_requests == 0
    finally:
        os.kill(host.pid, signal.SIGCONT)
    assert checkpoint_step(run.checkpoint()) == 1 and host.pending_requests == 0


def test_nan_pauses_with_a_message_and_stops_stepping(run):
    run.step(2)
    wait_for(lambda: run.snapshot().step == 2)
    # Adam moves every weight by about lr: at 1e30 the next forward pass overflows
    run.update(TrainConfig(loss="softmax", dim=2, batch_size=64, lr=1e30))
    run.start()
    wait_for(lambda: run.snapshot().status == PAUSED and run.snapshot().message)
    # the step that overflowed was rolled back: the run says why and keeps the last good weights
    assert run.snapshot().message.key == "messages.train.diverged" and not run.wants_to_run
    assert np.isfinite(run.snapshot().evaluation.features).all()
    stopped_at = settled(run)
    assert settled(run) == stopped_at


def test_a_killed_process_is_reported_reaped_and_start_carries_on(registry, run):
    run.step(2)
    wait_for(lambda: run.snapshot().step == 2 and not run.busy)
    pid = registry.process_ids[0]
    os.kill(pid, signal.SIGSTOP)  # so that a request is still pending when it dies
    _, pending = registry.host().request(lambda number: p.Save(run.id, number))
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: (run.snapshot().message or "") != "" and
             run.snapshot().message.key == "runs.lost")
    wait_for(lambda: process_gone(pid), 10, "the killed process reaped")
    with pytest.raises(HostLost):
        pending.result(10)
    run.start()
    wait_for(lambda: run.snapshot().status == RUNNING and run.snapshot().step > 0)
    assert registry.process_ids and registry.process_ids[0] != pid


def test_a_process_that_cannot_start_leaves_no_pipe_open(make_registry, small_set):
    import multiprocessing
    context = multiprocessing.get_context("spawn")
    before = len(os.listdir("/proc/self/fd"))
    context.set_executable("/nonexistent/python")  # the start itself fails for real
    try:
        registry = make_registry(context=context)
        run = registry.create(SOFTMAX, small_set)
        run.step()
        wait_for(lambda: run.snapshot().message is not None)
        assert run.snapshot().message.key == "runs.lost" and not run.busy
        registry.stop()
    finally:
        context.set_executable(sys.executable)
    wait_for(lambda: len(os.listdir("/proc/self/fd")) <= before, 10, "pipes closed")


def test_an_abandoned_run_pauses_parks_and_the_process_exits(make_registry, small_set,
                                                             monkeypatch):
    monkeypatch.setenv("LOSSVIZ_HOST_IDLE", "1")  # the operator's setting, not the default 300 s
    registry = make_registry(pause_after=0.5, park_after=0.5)
    run = registry.create(SOFTMAX, small_set)
    run.start()
    wait_for(lambda: run.snapshot().status == RUNNING)
    pid = registry.process_ids[0]
    # nobody reads a snapshot from here on: reading one counts as a look
    wait_for(lambda: not run.on_host, 30, "the run parked")
    wait_for(lambda: process_gone(pid), 30, "the idle process gone")
    snap = run.snapshot()
    assert snap.status == PAUSED and snap.message.key == "runs.unwatched"
    run.step()  # a new process takes the run on where it was
    wait_for(lambda: run.snapshot().step == snap.step + 1)


@pytest.mark.parametrize("value,idle", [("45", 45.0), ("0", 1.0), ("soon", 300.0), (None, 300.0)])
def test_the_operator_sets_how_long_an_idle_training_process_stays(monkeypatch, value, idle):
    if value is None:
        monkeypatch.delenv("LOSSVIZ_HOST_IDLE", raising=False)
    else:
        monkeypatch.setenv("LOSSVIZ_HOST_IDLE", value)
    assert host_idle_seconds() == idle  # a typo or zero never stops the app or the process


def test_the_server_wide_limit_makes_the_next_run_wait(make_registry, small_set):
    registry = make_registry(slots=1)
    first, second = registry.create(SOFTMAX, small_set), registry.create(SOFTMAX, small_set)
    first.start()
    wait_for(lambda: first.snapshot().status == RUNNING)
    second.start()
    wait_for(lambda: second.snapshot().status == WAITING
             and second.snapshot().message.key == "runs.no_slot")
    first.pause()
    wait_for(lambda: second.snapshot().status == RUNNING and second.snapshot().step > 0)
    second.pause()


def test_two_runs_share_one_process(registry, small_set):
    runs = [registry.create(SOFTMAX, small_set) for _ in range(3)]
    for run in runs:
        run.start()
    wait_for(lambda: all(run.snapshot().step > 3 for run in runs))
    assert len(registry.process_ids) == 1
    for run in runs:
        run.pause()


def test_watch_codes_and_ids_find_the_run_and_a_copy_carries_on(registry, small_set, run):
    assert registry.get(run.id) is run and registry.by_watch_code(run.watch_code) is run
    assert run.watch_code != run.id and registry.get("nonexistent1") is None
    run.step(3)
    wait_for(lambda: run.snapshot().step == 3 and not run.busy)
    copy = registry.adopt(run.current_run(), small_set, history_from=run.snapshot())
    assert copy.id != run.id and copy.snapshot().step == 3
    assert copy.snapshot().history == run.snapshot().history
    copy.step()
    wait_for(lambda: copy.snapshot().step == 4)
    assert run.snapshot().step == 3


def test_training_processes_end_when_the_server_is_killed(tmp_path):
    """The web server killed with SIGKILL: its training process exits within seconds."""
    script = tmp_path / "server.py"
    script.write_text(textwrap.dedent("""
        import sys, time
        from lossviz.data import load_bundled
        from lossviz.registry import Registry
        from lossviz.train import TrainConfig
        if __name__ == "__main__":
            registry = Registry()
            run = registry.create(TrainConfig(dim=2), load_bundled())
            run.start()
            while run.snapshot().step == 0:
                time.sleep(0.05)
            print(registry.process_ids[0], flush=True)
            time.sleep(600)
    """))
    server = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                              cwd=os.getcwd(), env={**os.environ, "PYTHONPATH": os.getcwd()})
    try:
        child = int(server.stdout.readline())
        assert not process_gone(child)
        server.kill()
        server.wait(10)
        wait_for(lambda: process_dead(child), 10, "the training process gone")
    finally:
        server.kill()


def test_thread_tuner_tries_both_counts_keeps_the_faster_and_tries_again_later():
    before = torch.get_num_threads()
    try:
        tuner = ThreadTuner(2, trial_seconds=1.0, hold_seconds=5.0)
        assert tuner.threads == 2 and torch.get_num_threads() == 2
        tuner.add(1000, 1.0)  # 2 threads: 1,000 samples/s
        assert tuner.threads == 1 and torch.get_num_threads() == 1
        tuner.add(1500, 1.0)  # 1 thread: 1,500 samples/s wins
        assert tuner.threads == 1 and tuner.rates == {2: 1000.0, 1: 1500.0}
        for _ in range(4):
            tuner.add(1500, 1.0)
        assert tuner.threads == 1  # held
        tuner.add(1500, 1.0)
        assert tuner.threads == 2  # the hold is over: a new round of trials
        tuner.add(1000, 1.0)
        tuner.add(1050, 1.0)  # 1 thread only 5% faster: not worth leaving a core unused
        assert tuner.threads == 2 and torch.get_num_threads() == 2
        assert tuner.hold_seconds == 5.0  # a new winner: the first hold again
        for _ in range(5):
            tuner.add(1000, 1.0)
        tuner.add(1000, 1.0)
        tuner.add(1000, 1.0)  # 2 threads win again: the hold doubles
        assert tuner.threads == 2 and tuner.hold_seconds == 10.0
        assert ThreadTuner(1).candidates == [1]
    finally:
        torch.set_num_threads(before)

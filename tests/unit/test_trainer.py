import multiprocessing
import threading
import time

import pytest
import torch

from lossviz.trainer import PAUSED, RUNNING, WAITING, Trainer
from lossviz.worker import ThreadTuner
from lossviz.train import TrainConfig


def wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


@pytest.fixture
def trainer(small_set):
    made = Trainer(TrainConfig(loss="softmax", dim=2, batch_size=64), small_set)
    yield made
    made.stop()


def test_step_pause_resume(trainer):
    trainer.step(3)
    wait_for(lambda: trainer.snapshot().step == 3)
    trainer.start()
    wait_for(lambda: trainer.snapshot().step > 6 and trainer.snapshot().status == RUNNING)
    trainer.pause()
    wait_for(lambda: trainer.snapshot().status == PAUSED)
    time.sleep(0.3)
    paused_at = trainer.snapshot().step
    time.sleep(0.5)
    assert trainer.snapshot().step == paused_at
    snap = trainer.snapshot()
    assert snap.evaluation.features.shape == (200, 2)
    assert len(snap.history.steps) >= 1 and snap.samples_per_s > 0


def test_update_takes_effect_and_reset_bumps_generation(trainer):
    trainer.update(TrainConfig(loss="cosface", params={"s": 10.0, "m": 0.2}, dim=2))
    trainer.step()
    wait_for(lambda: trainer.snapshot().params.get("m") == 0.2)
    assert trainer.snapshot().config.loss == "cosface"
    trainer.reset(TrainConfig(loss="arcface", dim=3))
    wait_for(lambda: trainer.snapshot().generation == 1)
    snap = trainer.snapshot()
    assert snap.step == 0 and snap.evaluation.features.shape[1] == 3 and snap.history.steps == ()


def test_nan_pauses_with_a_message_and_stops_stepping(trainer):
    trainer.step(2)
    wait_for(lambda: trainer.snapshot().step == 2)
    # Adam moves every weight by about lr: at 1e30 the next forward pass overflows
    trainer.update(TrainConfig(loss="softmax", dim=2, batch_size=64, lr=1e30))
    trainer.start()
    wait_for(lambda: trainer.snapshot().status == PAUSED and trainer.snapshot().message)
    assert "NaN" in trainer.snapshot().message
    stopped_at = trainer.snapshot().step
    time.sleep(0.5)
    assert trainer.snapshot().step == stopped_at and not trainer.wants_to_run


def training_processes():
    return [p for p in multiprocessing.active_children() if p.name == "lossviz-trainer"]


def test_process_is_gone_after_stop(trainer):
    trainer.start()
    wait_for(lambda: trainer.snapshot().status == RUNNING)
    assert len(training_processes()) == 1
    trainer.stop()
    assert not trainer.alive and training_processes() == []


def test_a_killed_process_is_reported_and_start_carries_on(trainer):
    trainer.step(2)
    wait_for(lambda: trainer.snapshot().step == 2)
    training_processes()[0].kill()
    wait_for(lambda: "stopped unexpectedly" in (trainer.snapshot().message or ""))
    trainer.start()
    wait_for(lambda: trainer.snapshot().status == RUNNING and trainer.snapshot().step > 2)


def test_abandoned_trainer_pauses_then_exits(small_set):
    trainer = Trainer(TrainConfig(dim=2, batch_size=64), small_set, pause_after=0.5, exit_after=1.5)
    trainer.start()
    wait_for(lambda: trainer._snapshot.status == RUNNING)  # read without a heartbeat
    wait_for(lambda: not trainer.alive, timeout=20)
    assert trainer._snapshot.status == PAUSED and "nobody" in trainer._snapshot.message
    assert training_processes() == []


def test_server_wide_limit_makes_the_next_run_wait(small_set):
    slots = threading.BoundedSemaphore(1)
    first = Trainer(TrainConfig(dim=2, batch_size=64), small_set, slots=slots)
    second = Trainer(TrainConfig(dim=2, batch_size=64), small_set, slots=slots)
    try:
        first.start()
        wait_for(lambda: first.snapshot().status == RUNNING)
        second.start()
        wait_for(lambda: second.snapshot().status == WAITING
                 and "starts as soon as" in second.snapshot().message)
        first.pause()
        wait_for(lambda: second.snapshot().status == RUNNING)
    finally:
        first.stop()
        second.stop()


def test_a_paused_run_leaves_its_process_and_carries_on_where_it_was(small_set):
    trainer = Trainer(TrainConfig(dim=2, batch_size=64), small_set, exit_after=1.0)
    try:
        trainer.step(2)
        wait_for(lambda: trainer.snapshot().step == 2)
        wait_for(lambda: not trainer.alive and trainer.snapshot() is not None, timeout=20)
        assert training_processes() == []
        before = trainer.snapshot().evaluation.features
        trainer.step()
        wait_for(lambda: trainer.snapshot().step == 3)
        assert not (trainer.snapshot().evaluation.features == before).all()
    finally:
        trainer.stop()


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

"""The pure step from a wish to messages: a table, no threads, no process."""
import pytest

from lossviz import protocol as p
from lossviz.reconcile import Parked, Told, Wish, reconcile
from lossviz.train import TrainConfig

SOFTMAX, COSFACE = TrainConfig(), TrainConfig(loss="cosface")
PARKED = Parked(SOFTMAX, b"state", "data")


def wish(generation=0, config=SOFTMAX, running=False, steps=0):
    return Wish(generation, config, running, steps)


@pytest.mark.parametrize("name, wanted, told, sent, now_told", [
    ("idle and parked: nothing to send", wish(), None, [], None),
    ("a config change while parked waits for the load", wish(config=COSFACE), None, [], None),
    ("start a parked run", wish(running=True), None,
     [p.Load, p.Resume], Told(0, SOFTMAX, True)),
    ("start a parked run whose config changed", wish(config=COSFACE, running=True), None,
     [p.Load, p.Update, p.Resume], Told(0, COSFACE, True)),
    ("single steps of a parked run", wish(steps=2), None,
     [p.Load, p.Step], Told(0, SOFTMAX, False)),
    ("in sync: nothing", wish(running=True), Told(0, SOFTMAX, True), [], Told(0, SOFTMAX, True)),
    ("pause", wish(), Told(0, SOFTMAX, True), [p.Pause], Told(0, SOFTMAX, False)),
    ("a step while training pauses first, so the pause cannot swallow the step",
     wish(steps=1), Told(0, SOFTMAX, True), [p.Pause, p.Step], Told(0, SOFTMAX, False)),
    ("update while training", wish(config=COSFACE, running=True), Told(0, SOFTMAX, True),
     [p.Update], Told(0, COSFACE, True)),
    ("a reset reloads the run, paused", wish(generation=1), Told(0, SOFTMAX, True),
     [p.Load], Told(1, SOFTMAX, False)),
    ("a reset to another config, then start", wish(generation=1, config=COSFACE, running=True),
     Told(0, SOFTMAX, False), [p.Load, p.Update, p.Resume], Told(1, COSFACE, True)),
])
def test_reconcile(name, wanted, told, sent, now_told):
    messages, after = reconcile("run", wanted, told, PARKED)
    assert [type(m) for m in messages] == sent, name
    assert after == now_told, name
    assert all(m.run_id == "run" for m in messages)
    for message in messages:
        match message:
            case p.Load(generation=generation, state=state):
                assert generation == wanted.generation and state == b"state"
            case p.Step(count=count):
                assert count == wanted.steps
            case p.Update(config=config):
                assert config == wanted.config

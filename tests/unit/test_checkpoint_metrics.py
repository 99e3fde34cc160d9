import io
import math
import pickle

import numpy as np
import pytest
import torch

from lossviz.checkpoint import (MAX_BYTES, CheckpointError, checkpoint_bytes, load_checkpoint)
from lossviz.metrics import (angle_metrics, intra_class_spread, run_summary, steps_to_accuracy,
                             weight_angles)
from lossviz.train import Run, TrainConfig


def unit(degrees):
    radians = np.radians(degrees)
    return np.stack([np.cos(radians), np.sin(radians)], axis=1)


def test_metrics_on_constructed_features():
    weights = unit([0, 90, 180])
    features = unit([10, -5, 80, 95, 170, 200]) * np.array([[1], [2], [1], [3], [1], [1]])
    labels = np.array([0, 0, 1, 1, 2, 2])
    own, closest = angle_metrics(features, labels, weights)
    assert own == pytest.approx(np.mean([10, 5, 10, 5, 10, 20]))
    assert closest == pytest.approx(90)
    assert intra_class_spread(features, labels, weights, percentile=100) == pytest.approx(20)
    summary = run_summary(features, labels, weights, accuracy=1.0)
    assert summary["max_spread_deg"] == pytest.approx(19.5)  # 95th percentile of 10 and 20
    assert summary["angular_margin_deg"] == pytest.approx(90 - 19.5)
    assert summary["mean_weight_angle_deg"] == pytest.approx((90 + 90 + 180) / 3)
    assert np.isnan(weight_angles(weights)).sum() == 3


def test_steps_to_accuracy():
    assert steps_to_accuracy([10, 20, 30], [0.5, 0.91, 0.95]) == 20
    assert steps_to_accuracy([10, 20], [0.5, 0.6]) is None


def test_checkpoint_round_trip(small_set):
    run = Run(TrainConfig(loss="arcface", params={"s": 16.0, "m": 0.2}, dim=3), small_set)
    for _ in range(3):
        run.train_step()
    restored = load_checkpoint(checkpoint_bytes(run), small_set, device="cpu")
    assert restored.step == 3 and restored.config.params == {"s": 16.0, "m": 0.2}
    for name, value in run.model.state_dict().items():
        assert torch.equal(value, restored.model.state_dict()[name])
    np.testing.assert_allclose(restored.evaluate().features, run.evaluate().features, atol=1e-6)


@pytest.mark.parametrize("loss,name", [("curricularface", "t"), ("adacos", "s")])
def test_a_loss_running_value_survives_save_and_load(small_set, loss, name):
    run = Run(TrainConfig(loss=loss, dim=3, batch_size=64), small_set)
    start = run.loss_state[name]
    for _ in range(4):
        run.train_step()
    assert run.loss_state[name] != start  # it moved, so a load that dropped it would show
    restored = load_checkpoint(checkpoint_bytes(run), small_set, device="cpu")
    assert restored.loss_state == run.loss_state
    # the evaluation's loss uses the running value: the same weights give the same loss
    assert restored.evaluate().loss == pytest.approx(run.evaluate().loss, rel=1e-5)


@pytest.mark.parametrize("value", [{"t": math.nan}, {"t": 2.0}, {"s": 0.5}, {}, [0.1],
                                   {"t": "0.5"}, {"t": True}])
def test_a_checkpoint_with_bad_running_values_is_refused(small_set, value):
    run = Run(TrainConfig(loss="curricularface", dim=2), small_set)
    with pytest.raises(CheckpointError, match="running values for curricularface"):
        load_checkpoint(tampered(run, lambda p: p.update(loss_state=value)), small_set)


def test_a_run_switched_from_softmax_saves_what_its_loss_uses(small_set):
    run = Run(TrainConfig(loss="softmax", dim=2), small_set)
    run.reconfigure(TrainConfig(loss="cosface", dim=2))
    assert load_checkpoint(checkpoint_bytes(run), small_set).config.loss == "cosface"


def tampered(run, change):
    payload = torch.load(io.BytesIO(checkpoint_bytes(run)), weights_only=True)
    change(payload)
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getvalue()


class Hostile:
    def __reduce__(self):
        return (print, ("this must never run",))


@pytest.mark.parametrize("make,message", [
    (lambda run: b"not a checkpoint at all", "not a readable checkpoint"),
    (lambda run: b"\0" * (MAX_BYTES + 1), "MB"),
    (lambda run: pickle.dumps(Hostile()), "not a readable checkpoint"),
    (lambda run: _saved({"weights": torch.zeros(3)}), "no lossviz format marker"),
    (lambda run: tampered(run, lambda p: p["config"].update(dim=7)), "dim=7 is outside"),
    (lambda run: tampered(run, lambda p: p["config"].update(evil=1)), "unknown settings"),
    (lambda run: tampered(run, lambda p: p["state_dict"].update(weight=torch.zeros(4, 2))),
     "weight has shape"),
    (lambda run: tampered(run, lambda p: p["state_dict"]["weight"].fill_(math.nan)), "NaN"),
    (lambda run: tampered(run, lambda p: p["state_dict"].pop("weight")), "different network"),
    (lambda run: tampered(run, lambda p: p.update(step=-1)), "step count"),
    (lambda run: tampered(run, lambda p: p.update(step=True)), "step count"),
    (lambda run: tampered(run, lambda p: p.update(step=10**400)), "step count"),
    # each of these was accepted, or raised something other than a CheckpointError, and then
    # failed inside the page (ZeroDivisionError, OverflowError, TypeError, MemoryError...)
    *[(lambda run, change=change: tampered(run, lambda p: p["config"].update(change)), named)
      for change, named in (
        ({"lambda_gamma": -0.5}, "lambda_gamma"), ({"lambda_power": -1e6}, "lambda_power"),
        ({"lambda_min": -1.0}, "lambda_min"), ({"lambda_base": 5000.0}, "lambda_base"),
        ({"lr_floor": -1.0}, "lr_floor"), ({"shift": 10**6}, "shift"),
        ({"batch_size": "64"}, "batch_size"), ({"batch_size": 64.5}, "batch_size"),
        ({"batch_size": True}, "batch_size"), ({"epochs": "3"}, "epochs"),
        ({"warmup_steps": -5}, "warmup_steps"), ({"seed": -1}, "seed"), ({"seed": 1.5}, "seed"),
        ({"optimizer": ["adam"]}, "optimizer"), ({"loss": ["x"]}, "loss"),
        ({"params": [1]}, "params"), ({"params": {"m": "2"}}, "params"),
        ({"params": {"m": 2, "lam": 5.0}}, "lam cannot be set"))],
    (lambda run: tampered(run, lambda p: p["state_dict"].update(
        weight=p["state_dict"]["weight"].to_sparse())), "cannot be loaded"),
])
def test_bad_checkpoints_are_refused_with_a_reason(small_set, make, message, capsys):
    run = Run(TrainConfig(loss="sphereface", dim=2), small_set)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(make(run), small_set)
    assert "must never run" not in capsys.readouterr().out


def _saved(payload):
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getvalue()

import dataclasses
import math

import numpy as np
import pytest
import torch

from lossviz.losses import LOSSES
from lossviz.train import (Run, TrainConfig, params_in_force, preset_config, settled_params,
                           train_epochs)


def test_loss_decreases_within_a_few_dozen_steps(small_set):
    run = Run(TrainConfig(loss="softmax", dim=2, batch_size=64), small_set)
    losses = [run.train_step()[0] for _ in range(40)]
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:5])


def test_a_parameter_change_takes_effect_at_the_next_step(small_set):
    config = TrainConfig(loss="cosface", params={"s": 16.0, "m": 0.0}, dim=2)
    same, changed = Run(config, small_set), Run(config, small_set)
    for _ in range(3):
        assert same.train_step()[0] == changed.train_step()[0]
    changed.reconfigure(TrainConfig(loss="cosface", params={"s": 16.0, "m": 0.5}, dim=2))
    assert changed.train_step()[0] > same.train_step()[0] + 1.0


def weights(run) -> dict:
    return {name: value.clone() for name, value in run.model.state_dict().items()}


def assert_same_weights(run, saved):
    for name, value in run.model.state_dict().items():
        assert torch.equal(value, saved[name]), name


def test_a_nan_step_takes_back_the_update_that_led_to_it(small_set):
    run = Run(TrainConfig(loss="arcface", dim=2), small_set)
    run.train_step()
    after_one = weights(run)
    run.train_step()
    hook = run.model.register_forward_hook(lambda module, args, out: out * float("nan"))
    loss, _, _ = run.train_step()
    hook.remove()
    # the forward pass cannot tell whether the weights or this batch broke it: the last
    # update is undone either way, so the weights kept are ones a finite loss has seen
    assert math.isnan(loss) and run.step == 1
    assert_same_weights(run, after_one)
    assert "NaN" in str(run.divergence) and "weights of step 1" in str(run.divergence)
    hook = run.model.register_forward_hook(lambda module, args, out: out * float("nan"))
    run.train_step()
    hook.remove()
    assert run.step == 1  # a second failure in a row goes back no further
    assert_same_weights(run, after_one)
    assert math.isfinite(run.train_step()[0]) and run.divergence is None


def test_a_destructive_learning_rate_keeps_the_weights_before_it(small_set):
    config = TrainConfig(loss="arcface", params={"s": 16.0, "m": 0.1}, dim=2, batch_size=64)
    run = Run(config, small_set)
    for _ in range(3):
        run.train_step()
    before = weights(run)
    adam_state = [value.clone() for state in run.optimizer.state.values()
                  for value in state.values()]
    run.reconfigure(dataclasses.replace(config, lr=1e30))
    loss, _, _ = run.train_step()
    assert math.isnan(loss) and run.step == 3
    assert "weights" in str(run.divergence)
    assert_same_weights(run, before)
    assert all(torch.equal(a, b) for a, b in zip(
        adam_state, [v for state in run.optimizer.state.values() for v in state.values()],
        strict=True))
    run.reconfigure(dataclasses.replace(config, lr=1e-3))
    losses = [run.train_step()[0] for _ in range(10)]
    assert all(math.isfinite(value) for value in losses) and run.step == 13


def test_sgd_at_a_high_rate_goes_back_to_the_last_weights_a_sane_loss_saw(small_set):
    config = TrainConfig(loss="softmax", dim=2, batch_size=64, optimizer="sgd", lr=10.0)
    run = Run(config, small_set)
    history = [weights(run)]  # history[k]: the weights after k updates
    while math.isfinite(run.train_step()[0]):
        history.append(weights(run))
        assert run.step < 50, "lr 10 should diverge within a few steps"
    # the loss at the latest weights exploded (or went NaN): the update that made them is undone
    assert run.step == len(history) - 2
    assert_same_weights(run, history[run.step])
    run.reconfigure(dataclasses.replace(config, lr=1e-3))
    losses = [run.train_step()[0] for _ in range(10)]
    assert all(math.isfinite(value) for value in losses)


def test_warmup_and_lambda_annealing():
    config = TrainConfig(loss="arcface", params={"m": 0.4}, warmup_steps=100)
    assert params_in_force(config, 0)["m"] == 0.0
    assert params_in_force(config, 50)["m"] == pytest.approx(0.2)
    assert params_in_force(config, 500)["m"] == pytest.approx(0.4)
    sphere = TrainConfig(loss="sphereface", params={"m": 4}, lambda_min=5.0)
    assert params_in_force(sphere, 0)["lam"] == 1000.0
    assert params_in_force(sphere, 10**6)["lam"] == 5.0
    assert settled_params(sphere)["lam"] == 5.0 and settled_params(config)["m"] == 0.4


def test_every_loss_has_2d_and_3d_presets_that_its_margin_allows():
    from lossviz.margins import feasibility
    for name, spec in LOSSES.items():
        for dim in (2, 3):
            config = preset_config(name, dim)
            assert config.params == spec.presets[f"{dim}d"]
            assert feasibility(name, settled_params(config), 10, dim).feasible


def test_bad_config_is_refused():
    with pytest.raises(ValueError, match="dim must be 2 or 3"):
        TrainConfig(dim=4)
    with pytest.raises(ValueError, match="outside"):
        TrainConfig(loss="cosface", params={"m": 3.0})
    with pytest.raises(ValueError, match="lr must be positive"):
        TrainConfig(lr=float("nan"))


def test_short_training_reports_metrics(small_set):
    metrics = train_epochs(Run(preset_config("cosface", 3, epochs=1), small_set), small_set)
    assert metrics["steps"] == 4 and not metrics["nan"]
    assert 0.0 <= metrics["test_accuracy"] <= 1.0 and metrics["samples_per_s"] > 0
    assert 0.0 < metrics["min_weight_angle_deg"] <= 180.0


def test_a_run_carried_over_as_bytes_continues_exactly_as_the_original(small_set):
    original = Run(TrainConfig(loss="arcface", params={"s": 16.0, "m": 0.2}, dim=2,
                               batch_size=64), small_set)
    for _ in range(5):
        original.train_step()
    copy = Run.from_state_bytes(original.state_bytes(), small_set)
    for _ in range(10):  # crosses an epoch boundary: 512 digits are 8 batches
        assert copy.train_step() == original.train_step()
    assert copy.step == original.step == 15
    assert np.array_equal(copy.evaluate().features, original.evaluate().features)

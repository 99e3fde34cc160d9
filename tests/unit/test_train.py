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


def test_nan_step_changes_nothing(small_set):
    run = Run(TrainConfig(loss="arcface", dim=2), small_set)
    run.train_step()
    before = {k: v.clone() for k, v in run.model.state_dict().items()}
    hook = run.model.register_forward_hook(lambda module, args, out: out * float("nan"))
    loss, _, _ = run.train_step()
    hook.remove()
    assert math.isnan(loss) and run.step == 1
    for name, value in run.model.state_dict().items():
        if value.is_floating_point():
            assert torch.equal(value, before[name]), name


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


def test_state_bytes_of_a_run_switched_to_or_from_softmax_load(small_set):
    from lossviz.train import Run, TrainConfig
    for first, then in (("softmax", "cosface"), ("cosface", "softmax")):
        run = Run(TrainConfig(loss=first, dim=2, batch_size=64), small_set)
        run.train_step()
        run.reconfigure(TrainConfig(loss=then, dim=2, batch_size=64))
        run.train_step()
        again = Run.from_state_bytes(run.state_bytes(), small_set)
        assert again.config.loss == then and again.step == 2
        assert all((a == b).all() for a, b in zip(run.model.state_dict().values(),
                                                  again.model.state_dict().values()))
        again.train_step()

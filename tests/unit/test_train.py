import io
import math

import numpy as np
import pytest
import torch

from lossviz.checkpoint import checkpoint_bytes, load_checkpoint
from lossviz.losses import LOSSES
from lossviz.metrics import weight_angles
from lossviz.model import spread_directions
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
    with pytest.raises(ValueError, match=r"weight_lr_scale must be in \[0, 1\]"):
        TrainConfig(weight_lr_scale=float("nan"))


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


def _closest_weights_over(run, steps):
    lowest = float(np.nanmin(weight_angles(run.model.weight.detach().numpy())))
    for _ in range(steps):
        run.train_step()
        lowest = min(lowest, float(np.nanmin(weight_angles(run.model.weight.detach().numpy()))))
    return lowest


def test_2d_class_weights_keep_apart_while_the_body_learns(small_set):
    # s=32 makes two ArcFace weights close in fast: with the weights learning at the body's
    # rate (the settings before weight_lr_scale) the closest pair falls from 36 to 18 degrees
    # in these 60 steps
    def run(**overrides):
        return Run(preset_config("arcface", 2, params={"s": 32.0}, batch_size=64, **overrides),
                   small_set)
    assert _closest_weights_over(run(), 60) > 30
    assert _closest_weights_over(run(lr=3e-3, weight_lr_scale=1.0), 60) < 25


def test_weights_at_scale_zero_stay_evenly_spread_while_the_body_learns(small_set):
    run = Run(preset_config("cosface", 2, batch_size=64, weight_lr_scale=0.0), small_set)
    body_before = run.model.body[-1].weight.detach().clone()
    assert _closest_weights_over(run, 10) == pytest.approx(36.0, abs=1e-3)
    assert torch.equal(run.model.weight.detach(), spread_directions(10, 2))
    assert not torch.equal(run.model.body[-1].weight.detach(), body_before)


def test_a_checkpoint_from_before_weight_lr_scale_loads_with_its_default(small_set):
    payload = torch.load(io.BytesIO(checkpoint_bytes(Run(TrainConfig(), small_set))),
                         weights_only=True)
    del payload["config"]["weight_lr_scale"]
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    restored = load_checkpoint(buffer.getvalue(), small_set)
    assert restored.config.weight_lr_scale == TrainConfig().weight_lr_scale

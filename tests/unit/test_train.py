import dataclasses
import io
import math

import numpy as np
import pytest
import torch

from lossviz.checkpoint import checkpoint_bytes, load_checkpoint
from lossviz.i18n import LossvizError
from lossviz.losses import LOSSES
from lossviz.metrics import weight_angles
from lossviz.model import spread_directions
from lossviz.train import (Run, TrainConfig, needs_reset, params_in_force, predict_logits,
                           preset_config, random_shift, settled_params, train_epochs)


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


# Every TrainConfig field with values it must refuse: a wrong type (a bool is not a whole
# number here), each end of its range, NaN. A field added without a line here fails below.
BAD_VALUES = {
    "loss": ["arc", ["arcface"], None],
    "params": [[1], {"m": "0.3"}, {"m": True}, {"m": 3.0}, {"q": 1}, {"lam": 5.0}],
    "dim": [1, 4, True, 2.0, "2"],
    "epochs": [-1, 10_001, 2.5, "3", True],
    "batch_size": [0, 65_537, 64.0, "64", True],
    "lr": [0, -1e-3, math.nan, math.inf, "0.1", True],
    "lr_floor": [-0.1, 1.5, math.nan, "0", True],
    "weight_lr_scale": [-0.1, 1.5, math.nan, "0.03", True],
    "optimizer": ["rmsprop", ["adam"], 0],
    "seed": [-1, 2**63, 1.5, True],
    "shift": [-1, 9, 10**6, 2.0],
    "warmup_steps": [-5, 10**8, 1.5, False],
    "lambda_base": [-1.0, 1000.5, math.nan, True],
    "lambda_gamma": [-0.5, 101.0, math.inf],
    "lambda_power": [-1.0, -1e6, 101.0],
    "lambda_min": [-1.0, 1001.0, math.nan],
    "device": ["tpu", None, 0],
    "held_out_classes": [-1, 9, 2.0, True, "2"],
    "label_noise": [-0.1, 0.51, math.nan, "0.1", True],
    "degrade": [-0.1, 0.51, math.nan, "0.1", True],
}


def test_every_setting_has_its_type_and_range_checked():
    assert set(BAD_VALUES) == {f.name for f in dataclasses.fields(TrainConfig)}
    for name, values in BAD_VALUES.items():
        for value in values:
            loss = {"loss": "cosface"} if name == "params" else {}
            with pytest.raises(LossvizError) as info:
                TrainConfig(**loss, **{name: value})
            named = "lam" if name == "params" and "lam" in value else name
            assert named in str(info.value), (name, value)
    assert "超出范围" in LossvizError("messages.config.outside", name="dim", value=4,
                                      range="[2, 3]").message.render("zh")


def test_the_ends_of_each_range_are_accepted():
    TrainConfig(epochs=0, batch_size=1, lr=1e30, lr_floor=0.0, seed=2**63 - 1, shift=0,
                warmup_steps=0, lambda_base=0.0, lambda_gamma=0.0, lambda_power=0.0,
                lambda_min=1000.0)
    TrainConfig(lr=1, lr_floor=1, shift=8, epochs=10_000, batch_size=65_536,
                params={}, loss="cosface", dim=3, label_noise=0.5)
    assert TrainConfig(loss="sphereface", params={"m": 4}).params == {"m": 4}


def test_short_training_reports_metrics(small_set):
    metrics = train_epochs(Run(preset_config("cosface", 3, epochs=1), small_set), small_set)
    assert metrics["steps"] == 4 and not metrics["nan"]
    assert 0.0 <= metrics["test_accuracy"] <= 1.0 and metrics["samples_per_s"] > 0
    assert 0.0 < metrics["min_weight_angle_deg"] <= 180.0


@pytest.mark.parametrize("loss,params", [("arcface", {"s": 16.0, "m": 0.2}),
                                         # its random margins are drawn again, the same
                                         ("elasticface", {"s": 16.0, "m": 0.2, "sigma": 0.1}),
                                         # their running t and s travel with the bytes
                                         ("curricularface", {"s": 16.0, "m": 0.2}),
                                         ("adacos", {}),
                                         # its sub-centres and flipped labels come back alike
                                         ("subcenter", {"s": 16.0, "m": 0.2, "k": 3})])
def test_a_run_carried_over_as_bytes_continues_exactly_as_the_original(small_set, loss, params):
    original = Run(TrainConfig(loss=loss, params=params, dim=2, batch_size=64), small_set)
    for _ in range(5):
        original.train_step()
    copy = Run.from_state_bytes(original.state_bytes(), small_set)
    for _ in range(10):  # crosses an epoch boundary: 512 digits are 8 batches
        assert copy.train_step() == original.train_step()
    assert copy.step == original.step == 15
    assert copy.loss_state == original.loss_state
    assert np.array_equal(copy.evaluate().features, original.evaluate().features)


@pytest.mark.parametrize("loss", list(LOSSES))
def test_predict_logits_against_angles_and_norms(loss):
    # features and weights in polar form: r (cos a, sin a)
    feature_angles, feature_norms = np.radians([10.0, 100.0, 250.0]), np.array([0.5, 2.0, 7.0])
    weight_angles, weight_norms = np.radians([0.0, 90.0, 200.0]), np.array([1.0, 3.0, 0.25])
    polar = lambda r, a: np.stack([r * np.cos(a), r * np.sin(a)], axis=1)  # noqa: E731
    bias = np.array([0.5, -1.0, 2.0])
    cos = np.cos(feature_angles[:, None] - weight_angles[None, :])
    expected = {"softmax": feature_norms[:, None] * weight_norms * cos + bias,
                "lsoftmax": feature_norms[:, None] * weight_norms * cos,
                "sphereface": feature_norms[:, None] * cos}.get(loss, cos)
    got = predict_logits(loss, torch.tensor(polar(feature_norms, feature_angles)),
                         torch.tensor(polar(weight_norms, weight_angles)),
                         torch.tensor(bias) if loss == "softmax" else None)
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-12)


def test_random_shift_moves_each_digit_within_bounds_and_fills_with_zeros():
    count, shift = 400, 2
    # every pixel of every image holds its own position + 1, so a moved pixel says where from
    images = (torch.arange(28 * 28) + 1).reshape(1, 28, 28).repeat(count, 1, 1)
    moved = random_shift(images, shift, torch.Generator().manual_seed(0))
    offsets = set()
    for image in moved.numpy():
        row, col = np.argwhere(image > 0)[0]
        source_row, source_col = divmod(int(image[row, col]) - 1, 28)
        dy, dx = source_row - row, source_col - col
        assert abs(dy) <= shift and abs(dx) <= shift
        expected = np.zeros((28, 28), dtype=image.dtype)
        rows, cols = np.arange(28) + dy, np.arange(28) + dx
        inside_rows, inside_cols = (rows >= 0) & (rows < 28), (cols >= 0) & (cols < 28)
        expected[np.ix_(inside_rows, inside_cols)] = (
            images[0].numpy()[np.ix_(rows[inside_rows], cols[inside_cols])])
        np.testing.assert_array_equal(image, expected)
        offsets.add((dy, dx))
    assert len(offsets) == (2 * shift + 1) ** 2  # every offset in the square is drawn
    assert torch.equal(random_shift(images, 0, torch.Generator()), images)


def test_learning_rate_decays_by_cosine_to_its_floor_and_stays(small_set):
    run = Run(TrainConfig(lr=0.01, lr_floor=0.1, epochs=2, batch_size=128), small_set)
    assert run.steps_per_epoch == 4  # 512 digits: 8 steps planned
    expected = {0: 0.01, 2: 0.001 + 0.009 * 0.5 * (1 + math.cos(math.pi / 4)), 4: 0.0055,
                8: 0.001, 100: 0.001}
    for step, lr in expected.items():
        run.step = step
        assert run.learning_rate() == pytest.approx(lr, rel=1e-12)
    run.step = 2
    run.train_step()  # the step uses the rate of the step it starts from
    assert run.optimizer.param_groups[0]["lr"] == pytest.approx(expected[2], rel=1e-12)


RESET_FIELDS = {"dim": 3, "seed": 1, "device": "cpu", "batch_size": 64, "shift": 0,
                "held_out_classes": 2, "label_noise": 0.1, "degrade": 0.1}
LIVE_FIELDS = {"loss": "cosface", "params": {"s": 30.0}, "epochs": 5, "lr": 0.01,
               "lr_floor": 0.5, "weight_lr_scale": 0.5, "optimizer": "sgd", "warmup_steps": 100, "lambda_base": 500.0,
               "lambda_gamma": 0.5, "lambda_power": 2.0, "lambda_min": 1.0}


def test_needs_reset_only_for_what_the_model_cannot_take_on():
    # every field is decided one way or the other: a new one must be added here
    assert set(RESET_FIELDS) | set(LIVE_FIELDS) == {f.name for f in dataclasses.fields(TrainConfig)}
    old = TrainConfig()
    for name, value in RESET_FIELDS.items():
        assert needs_reset(old, dataclasses.replace(old, **{name: value})), name
    for name, value in LIVE_FIELDS.items():
        changes = {name: value, **({"loss": "cosface"} if name == "params" else {})}
        assert not needs_reset(old, dataclasses.replace(old, **changes)), name


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


def first_loss(config, dataset) -> float:
    return Run(config, dataset).train_step()[0]


def test_the_variants_reach_training(small_set):
    """Same seed, same batch, same weights: only the variant differs, and so does the loss.
    At the start about half the features lie past 90 degrees from their class weight, where
    the easy margin takes its margin away; SphereFace's cos(m theta) differs from psi past
    pi / m; a lambda held at its floor differs from one annealed from 1000."""
    arcface = [first_loss(preset_config("arcface", 3, params={"tail": tail}), small_set)
               for tail in (0, 1)]
    assert arcface[1] < arcface[0] - 0.1  # less margin, smaller loss
    no_blend = dict(lambda_base=0.0, lambda_min=0.0)
    psi_loss, cos_loss = (first_loss(preset_config("sphereface", 3, params={"form": form},
                                                   **no_blend), small_set) for form in (0, 1))
    assert cos_loss < psi_loss - 0.1  # cos(m theta) climbs back where psi keeps falling
    annealed, held = (first_loss(preset_config("sphereface", 3, lambda_base=base), small_set)
                      for base in (1000.0, 5.0))
    assert held > annealed + 0.1  # at lambda 1000 the target is nearly plain softmax


@pytest.mark.parametrize("loss", ["elasticface", "curricularface", "adacos", "subcenter"])
def test_a_later_member_learns_within_a_few_dozen_steps(small_set, loss):
    run = Run(preset_config(loss, 3, batch_size=64), small_set)
    before = run.evaluate().accuracy
    losses = [run.train_step()[0] for _ in range(40)]
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:5])
    assert run.evaluate().accuracy > before + 0.2


def test_elasticface_margins_come_from_the_seed_and_the_step(small_set):
    """Same weights, same batch: the loss differs only when the margins are drawn afresh."""
    config = preset_config("elasticface", 3, params={"sigma": 0.3}, batch_size=64)
    first, second = Run(config, small_set), Run(config, small_set)
    assert first.train_step()[0] == second.train_step()[0]  # same seed and step: same draws
    steady = Run(dataclasses.replace(config, params={**config.params, "sigma": 0.0}), small_set)
    assert steady.train_step()[0] != Run(config, small_set).train_step()[0]


def test_running_values_move_with_good_steps_and_start_afresh_for_another_loss(small_set):
    run = Run(preset_config("curricularface", 2, batch_size=64), small_set)
    ts = [run.loss_state["t"]]
    for _ in range(20):
        run.train_step()
        ts.append(run.loss_state["t"])
    assert ts[0] == 0.0 and all(b > a for a, b in zip(ts, ts[1:]))  # cosines rise as it learns
    run.reconfigure(preset_config("adacos", 2, batch_size=64))
    assert run.loss_state == {"s": pytest.approx(math.sqrt(2) * math.log(9))}
    run.reconfigure(preset_config("arcface", 2, batch_size=64))
    assert run.loss_state == {}


def test_a_failed_step_takes_back_the_running_value_too(small_set):
    run = Run(preset_config("curricularface", 3, batch_size=64), small_set)
    for _ in range(3):
        run.train_step()
    kept = dict(run.loss_state)
    run.reconfigure(dataclasses.replace(run.config, lr=1e12))  # destroys the weights at once
    loss, _, _ = run.train_step()
    assert math.isnan(loss) and run.loss_state == kept

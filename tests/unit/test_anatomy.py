"""One digit taken apart, checked against numbers written out by hand: a feature at a known angle
to known class weights, logits built with plain numpy, the loss from F.cross_entropy."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lossviz.anatomy import (DigitModel, family_params, model_from_checkpoint, predicted_class,
                             take_apart, take_apart_with, under_every_loss)
from lossviz.checkpoint import checkpoint_bytes
from lossviz.losses import LOSSES
from lossviz.train import Run, TrainConfig, params_in_force

# Four classes around the circle, the first weight twice as long; the feature 30 degrees from
# class 0 (60 from class 1), of length 3.
WEIGHTS = np.array([[2.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
ANGLES = np.array([30.0, 60.0, 150.0, 120.0])
COS = np.cos(np.radians(ANGLES))
FEATURE = 3.0 * np.array([math.cos(math.radians(30)), math.sin(math.radians(30))])


def cross_entropy(logits, label):
    return F.cross_entropy(torch.tensor(logits)[None], torch.tensor([label])).item()


def with_target(logits, label, value):
    out = np.array(logits, dtype=float)
    out[label] = value
    return out


@pytest.mark.parametrize("loss, params, plain, target", [
    ("cosface", {"s": 16.0, "m": 0.2}, 16 * COS, 16 * (COS[0] - 0.2)),
    ("arcface", {"s": 16.0, "m": 0.3}, 16 * COS, 16 * math.cos(math.radians(30) + 0.3)),
    ("normface", {"s": 10.0}, 10 * COS, 10 * COS[0]),
    # SphereFace: weights normalized, the feature keeps its length; psi(theta) = cos(2 theta)
    ("sphereface", {"m": 2, "lam": 0.0}, 3 * COS, 3 * math.cos(math.radians(60))),
    # L-Softmax keeps both lengths: ||W_0|| = 2
    ("lsoftmax", {"m": 2, "lam": 0.0}, 3 * COS * [2, 1, 1, 1], 6 * math.cos(math.radians(60))),
])
def test_a_feature_at_a_known_angle(loss, params, plain, target):
    a = take_apart(loss, params, FEATURE, WEIGHTS, label=0)
    assert a.norm == pytest.approx(3.0)
    assert a.cos == pytest.approx(COS)
    assert a.angles == pytest.approx(ANGLES)
    assert a.plain_logits == pytest.approx(plain)  # before the margin, every class
    assert a.logits == pytest.approx(with_target(plain, 0, target))  # after it
    expected_loss = cross_entropy(with_target(plain, 0, target), 0)
    assert a.loss_value == pytest.approx(expected_loss)
    assert a.probabilities[0] == pytest.approx(math.exp(-expected_loss))
    assert a.probabilities.sum() == pytest.approx(1.0)
    assert a.prediction == 0 and a.closest_other == 1


def test_softmax_uses_lengths_and_bias():
    bias = np.array([0.0, 4.0, 0.0, 0.0])  # enough for class 1 to win
    a = take_apart("softmax", {}, FEATURE, WEIGHTS, label=0, bias=bias)
    expected = WEIGHTS @ FEATURE + bias
    assert a.plain_logits == pytest.approx(expected) and a.logits == pytest.approx(expected)
    assert a.loss_value == pytest.approx(cross_entropy(expected, 0))
    assert a.prediction == 1 == predicted_class_for("softmax", {}, bias)


def predicted_class_for(loss, params, bias=None):
    model = DigitModel(loss, params, WEIGHTS, bias, 0, features_of=None)
    return predicted_class(model, FEATURE)


def test_the_target_term_is_the_margined_cosine():
    a = take_apart("arcface", {"s": 16.0, "m": 0.3}, FEATURE, WEIGHTS, label=1)
    assert a.target_term == pytest.approx(math.cos(math.radians(60) + 0.3))
    assert a.logits[1] == pytest.approx(16 * a.target_term)


def angle_between(u, v):
    return math.degrees(math.acos(np.dot(u, v) / np.linalg.norm(u) / np.linalg.norm(v)))


@pytest.mark.parametrize("loss", list(LOSSES))
@pytest.mark.parametrize("dim", [2, 3])
def test_the_push_turns_the_feature_toward_its_own_weight(loss, dim):
    weights = np.eye(dim)[[0, 1]] if dim == 2 else np.eye(3)
    weights = np.vstack([weights, -weights])
    feature = np.array([0.8, 0.6] if dim == 2 else [0.6, 0.64, 0.48]) * 2
    label, params = 0, family_params(loss, dim)
    a = take_apart(loss, params, feature, weights, label)
    other = a.closest_other
    step = feature + 1e-3 * a.tangent_push / np.linalg.norm(a.tangent_push)
    assert angle_between(step, weights[label]) < angle_between(feature, weights[label])
    assert angle_between(step, weights[other]) > angle_between(feature, weights[other])
    # and it is the loss's own gradient: a finite difference agrees
    eps = 1e-6
    for axis in range(dim):
        bump = np.eye(dim)[axis] * eps
        slope = (take_apart(loss, params, feature + bump, weights, label).loss_value
                 - take_apart(loss, params, feature - bump, weights, label).loss_value) / (2 * eps)
        assert -a.push[axis] == pytest.approx(slope, rel=1e-4, abs=1e-8)


def test_a_correct_digit_still_pays_under_a_margin():
    feature = np.array([math.cos(math.radians(10)), math.sin(math.radians(10))])
    weights = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
    normface = take_apart("normface", {"s": 16.0}, feature, weights, 0)
    cosface = take_apart("cosface", {"s": 16.0, "m": 0.35}, feature, weights, 0)
    assert normface.prediction == cosface.prediction == 0  # classified correctly
    assert cosface.loss_value > 0
    assert cosface.loss_value > 10 * normface.loss_value
    assert cosface.target_probability < normface.target_probability
    oracle = cross_entropy(16 * (weights @ feature) - [16 * 0.35, 0, 0, 0], 0)
    assert cosface.loss_value == pytest.approx(oracle)


@pytest.fixture(scope="module")
def trained_run(small_set):
    run = Run(TrainConfig(loss="cosface", params={"s": 16.0, "m": 0.2}, dim=3, epochs=1), small_set)
    for _ in range(5):
        run.train_step()
    return run


def test_a_checkpoint_serves_the_same_features_and_numbers(trained_run, small_set):
    model = model_from_checkpoint(checkpoint_bytes(trained_run), small_set)
    ev = trained_run.evaluate()
    assert model.step == 5 and model.dim == 3 and model.bias is None
    assert model.params == params_in_force(trained_run.config, 5)
    assert model.weights == pytest.approx(ev.weights)
    threads = torch.get_num_threads()
    features = model.features_of(small_set.test_images[:20])
    assert torch.get_num_threads() == threads  # one digit runs on one thread, then it is undone
    assert features == pytest.approx(ev.features[:20], abs=1e-5)
    a = take_apart_with(model, features[0], int(ev.labels[0]))
    assert a.prediction == ev.predictions[0] == predicted_class(model, features[0])


def test_every_loss_sees_the_same_feature(trained_run, small_set):
    model = model_from_checkpoint(checkpoint_bytes(trained_run), small_set)
    feature = model.features_of(small_set.test_images[:1])[0]
    rows = under_every_loss(model, feature, label=3, chosen={"arcface": {"s": 8.0, "m": 0.1}})
    assert [a.loss for a in rows] == list(LOSSES)
    by_name = {a.loss: a for a in rows}
    assert by_name["cosface"].params == model.params  # the model's own loss: its parameters
    # what the page passes, and the variant in force (the threshold tail, by default)
    assert by_name["arcface"].params == {"s": 8.0, "m": 0.1, "tail": 0}
    assert by_name["normface"].params == {"s": 16.0}  # a preset
    assert all(np.array_equal(a.feature, feature) for a in rows)
    cos = by_name["normface"].cos
    assert by_name["normface"].loss_value == pytest.approx(cross_entropy(16 * cos, 3))
    assert by_name["softmax"].loss_value == pytest.approx(
        cross_entropy(model.weights @ feature, 3), rel=1e-5)


def test_adaface_takes_a_digit_apart_with_the_runs_norm_statistics():
    """The paper's rule written out: n = clip((||x|| - mean) / std * h, -1, 1), target
    cos(theta - m n) - m n - m; not the start's n = 0 (CosFace's cos(theta) - m)."""
    s, m, h = 16.0, 0.4, 0.333
    state = {"norm_mean": 2.0, "norm_std": 1.5}  # ||FEATURE|| = 3: one std above the mean
    n = min(1.0, max(-1.0, (3.0 - 2.0) / 1.5 * h))
    theta = math.radians(30)
    a = take_apart("adaface", {"s": s, "m": m, "h": h}, FEATURE, WEIGHTS, 0, state=state)
    assert a.target_term == pytest.approx(math.cos(theta - m * n) - m * n - m)
    assert a.logits[0] == pytest.approx(s * a.target_term)
    start = take_apart("adaface", {"s": s, "m": m, "h": h}, FEATURE, WEIGHTS, 0)
    assert start.target_term == pytest.approx(math.cos(theta) - m)


@pytest.mark.parametrize("loss", ["adaface", "curricularface", "adacos"])
def test_a_checkpoints_model_carries_its_runs_running_values(small_set, loss):
    run = Run(TrainConfig(loss=loss, dim=2, batch_size=64), small_set)
    for _ in range(3):
        run.train_step()
    model = model_from_checkpoint(checkpoint_bytes(run), small_set)
    assert model.state == pytest.approx(run.loss_state)
    assert model.state != pytest.approx(Run(run.config, small_set).loss_state)  # it moved
    feature = model.features_of(small_set.test_images[:1])[0]
    label = int(small_set.test_labels[0])
    expected = take_apart(loss, model.params, feature, model.weights, label, state=run.loss_state)
    assert take_apart_with(model, feature, label).logits == pytest.approx(expected.logits)

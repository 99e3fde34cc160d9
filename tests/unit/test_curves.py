import math

import numpy as np
import pytest

from lossviz.curves import (ARCFACE_PAPER_CURVES, Curve, loss_gradient, rising_intervals,
                            target_curve, target_probability, theta_grid)


def test_paper_curves_cover_the_arcface_figure():
    assert len(ARCFACE_PAPER_CURVES) == 7
    theta = np.radians([0.0, 60.0])
    arc = next(c for c in ARCFACE_PAPER_CURVES if c.loss == "arcface")
    np.testing.assert_allclose(target_curve(arc, theta), np.cos(theta + 0.5))


def test_bad_curve_parameters_fail_at_construction():
    with pytest.raises(ValueError):
        Curve("x", "cosface", {"m": 5.0})


def test_rising_intervals_find_the_raw_arcface_turn():
    theta = theta_grid()
    arc = Curve("a", "arcface", {"m": 0.5})
    (start, end), = rising_intervals(theta, target_curve(arc, theta, raw=True))
    assert start == pytest.approx(math.pi - 0.5, abs=math.radians(0.5))
    assert end == pytest.approx(math.pi)
    assert rising_intervals(theta, target_curve(arc, theta)) == []


def test_scale_caps_what_a_normalized_loss_can_reach():
    # at theta_y = 0, with 9 others at 90 degrees: p = e^s / (e^s + 9)
    for s in (2.0, 8.0, 30.0):
        p = target_probability(Curve("n", "normface", {"s": s}), np.array([0.0]), math.pi / 2, 10)
        assert p[0] == pytest.approx(math.exp(s) / (math.exp(s) + 9))


def test_gradient_matches_finite_difference():
    curve = Curve("c", "cosface", {"s": 10.0, "m": 0.2})
    theta = np.radians(np.array([20.0, 45.0, 80.0]))
    h = 1e-6
    loss = lambda t: -np.log(target_probability(curve, t, math.radians(70), 10))
    numeric = np.abs((loss(theta + h) - loss(theta - h)) / (2 * h))
    np.testing.assert_allclose(loss_gradient(curve, theta, math.radians(70), 10), numeric, rtol=1e-5)
    assert np.isfinite(loss_gradient(curve, theta_grid(), 1.0, 10)).all()

import math

import numpy as np
import pytest

from lossviz.curves import (ARCFACE_PAPER_CURVES, Curve, loss_gradient, rising_intervals,
                            target_curve, target_probability, theta_grid)
from lossviz.losses import LOSSES


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


def closed_form(loss, p, theta):
    """f(theta) and f'(theta) from each paper's formula, away from the kinks (theta = k pi / m,
    and where ArcFace and the combined margin switch to their tails)."""
    if loss in ("normface", "cosface"):
        return np.cos(theta) - p.get("m", 0.0), -np.sin(theta)
    if loss == "arcface":
        return np.cos(theta + p["m"]), -np.sin(theta + p["m"])
    if loss == "combined":
        m1, m2, m3 = p["m1"], p["m2"], p["m3"]
        return np.cos(m1 * theta + m2) - m3, -m1 * np.sin(m1 * theta + m2)
    m, lam = p["m"], p["lam"]  # sphereface, lsoftmax: psi(theta) = (-1)^k cos(m theta) - 2k
    k = np.floor(m * theta / np.pi)
    value = (lam * np.cos(theta) + (-1) ** k * np.cos(m * theta) - 2 * k) / (1 + lam)
    slope = (-lam * np.sin(theta) - (-1) ** k * m * np.sin(m * theta)) / (1 + lam)
    return value, slope


@pytest.mark.parametrize("curve,scale,theta_degrees", [
    (Curve("n", "normface", {"s": 8.0}), 8.0, [10, 45, 90, 170]),
    (Curve("c", "cosface", {"s": 10.0, "m": 0.2}), 10.0, [20, 45, 80, 150]),
    (Curve("a", "arcface", {"s": 16.0, "m": 0.5}), 16.0, [5, 40, 100, 140]),
    (Curve("cm", "combined", {"s": 16.0, "m1": 1.35, "m2": 0.1, "m3": 0.2}), 16.0, [10, 60, 120]),
    (Curve("sf", "sphereface", {"m": 4, "lam": 5.0}), 3.0, [10, 30, 70, 100, 160]),
    (Curve("ls", "lsoftmax", {"m": 2, "lam": 0.0}), 2.0, [20, 80, 120]),
])
def test_gradient_matches_its_closed_form(curve, scale, theta_degrees):
    # L = -log p with p = e^a / (e^a + (C-1) e^b), a = scale f(theta), b = scale cos(other):
    # dL/dtheta = -(1 - p) scale f'(theta)
    theta, other, classes = np.radians(theta_degrees), math.radians(70), 10
    params = {**LOSSES[curve.loss].defaults(), **curve.params}
    value, slope = closed_form(curve.loss, params, theta)
    p = 1 / (1 + (classes - 1) * np.exp(scale * (math.cos(other) - value)))
    np.testing.assert_allclose(target_probability(curve, theta, other, classes, scale), p,
                               rtol=1e-9)
    np.testing.assert_allclose(loss_gradient(curve, theta, other, classes, scale),
                               np.abs((1 - p) * scale * slope), rtol=1e-6)


def test_gradient_is_finite_everywhere():
    for curve in ARCFACE_PAPER_CURVES:
        assert np.isfinite(loss_gradient(curve, theta_grid(), 1.0, 10)).all(), curve.label

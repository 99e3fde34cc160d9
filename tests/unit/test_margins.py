import math

import numpy as np
import pytest

from lossviz.margins import (CLASS_1, CLASS_2, GAP, angle_to, best_neighbour_angle,
                             binary_margin, class_halfwidth, feasibility, region_map)

PHI = math.radians(90)


def test_softmax_has_no_margin_and_splits_the_arc_in_half():
    assert class_halfwidth("softmax", {}, PHI) == pytest.approx(PHI / 2)
    assert binary_margin("softmax", {}, PHI) == pytest.approx(0, abs=1e-12)


@pytest.mark.parametrize("m", [0.1, 0.3, 0.5])
def test_arcface_gap_is_exactly_its_angular_margin(m):
    assert binary_margin("arcface", {"m": m}, PHI) == pytest.approx(m)


@pytest.mark.parametrize("m", [2, 3, 4])
def test_sphereface_boundary_is_m_theta1_equals_theta2(m):
    # m * theta_1 = phi - theta_1 on the arc, so each class keeps phi / (m + 1)
    assert class_halfwidth("sphereface", {"m": m}, PHI) == pytest.approx(PHI / (m + 1))


def test_cosface_boundary_matches_closed_form():
    m, phi = 0.2, math.radians(60)
    b = class_halfwidth("cosface", {"m": m}, phi)
    assert math.cos(b) - m == pytest.approx(math.cos(phi - b), abs=1e-12)


def test_region_map_classifies_known_points():
    loss, params = "cosface", {"m": 0.3}
    t1 = np.array([0.0, PHI, PHI / 2, 0.3])
    t2 = np.array([PHI, 0.0, PHI / 2, PHI - 0.3])
    assert region_map(loss, params, t1, t2).tolist() == [CLASS_1, CLASS_2, GAP, CLASS_1]


def test_angle_to_wraps_around_the_circle():
    got = angle_to(np.radians([10, 350, 180, -170]), math.radians(-10))
    np.testing.assert_allclose(np.degrees(got), [20, 0, 170, 160], atol=1e-9)


def test_cosface_feasibility_in_2d_is_m_below_one_minus_cos_2pi_over_c():
    limit = 1 - math.cos(2 * math.pi / 10)  # 0.191
    assert feasibility("cosface", {"m": limit - 0.005}, 10, 2).feasible
    assert not feasibility("cosface", {"m": limit + 0.005}, 10, 2).feasible
    assert feasibility("cosface", {"m": limit + 0.005}, 10, 3).feasible  # a sphere has room


def test_arcface_half_radian_leaves_about_four_degrees_per_class_in_2d():
    result = feasibility("arcface", {"m": 0.5}, 10, 2)
    assert math.degrees(result.halfwidth) == pytest.approx((36 - math.degrees(0.5)) / 2)
    assert 3 < math.degrees(result.halfwidth) < 4
    assert result.tight and not feasibility("arcface", {"m": 0.3}, 10, 2).tight


def test_neighbour_angles():
    assert best_neighbour_angle(10, 2) == pytest.approx(math.radians(36))
    assert best_neighbour_angle(4, 3) == pytest.approx(math.acos(-1 / 3), abs=1e-6)
    assert best_neighbour_angle(2, 2) == pytest.approx(math.pi)
    with pytest.raises(ValueError, match="between 2 and 12"):
        best_neighbour_angle(13, 3)
    with pytest.raises(ValueError, match="dim must be 2 or 3"):
        best_neighbour_angle(10, 4)


def solved_halfwidth(target, phi):
    """Where target(t) = cos(phi - t) on [0, phi], by a fine grid and bisection: the edge of
    the region where the class wins with its margin (0 when it never does)."""
    excess = lambda t: target(t) - np.cos(phi - t)  # noqa: E731
    grid = np.linspace(0, phi, 100001)
    losing = np.flatnonzero(excess(grid) <= 0)
    if len(losing) == 0 or losing[0] == 0:
        return 0.0
    low, high = grid[losing[0] - 1], grid[losing[0]]
    for _ in range(100):
        middle = (low + high) / 2
        low, high = (middle, high) if excess(middle) > 0 else (low, middle)
    return low


def psi_by_angle(t, m):
    k = np.minimum(np.floor(m * t / np.pi), m - 1)
    return (-1) ** k * np.cos(m * t) - 2 * k


@pytest.mark.parametrize("m,lam", [(2, 0.0), (3, 0.0), (2, 5.0), (4, 5.0)])
def test_lsoftmax_feasibility_in_2d(m, lam):
    phi = math.radians(36)  # ten classes around the circle
    result = feasibility("lsoftmax", {"m": m, "lam": lam}, 10, 2)
    expected = solved_halfwidth(lambda t: (lam * np.cos(t) + psi_by_angle(t, m)) / (1 + lam), phi)
    assert result.halfwidth == pytest.approx(expected, abs=1e-9)
    if lam == 0:  # m theta_1 = theta_2 = phi - theta_1 on the arc
        assert result.halfwidth == pytest.approx(phi / (m + 1))
    assert result.feasible and result.neighbour_angle == pytest.approx(phi)


@pytest.mark.parametrize("m1,m2,m3,dim,feasible", [
    (1.35, 0.0, 0.0, 2, True),  # SphereFace-like
    (1.0, 0.3, 0.2, 2, False),  # the paper's CM1: too much for ten classes on a circle
    (1.0, 0.3, 0.2, 3, True),  # ... but a sphere has room
    (1.0, 0.05, 0.03, 2, True),  # the 2D preset
    (1.0, 0.0, 1 - math.cos(math.radians(36)) + 0.005, 2, False),  # CosFace's 2D limit
])
def test_combined_margin_feasibility(m1, m2, m3, dim, feasible):
    result = feasibility("combined", {"m1": m1, "m2": m2, "m3": m3}, 10, dim)
    phi = result.neighbour_angle
    expected = solved_halfwidth(lambda t: np.cos(m1 * t + m2) - m3, phi)
    assert result.feasible == feasible
    assert result.halfwidth == pytest.approx(expected, abs=1e-9)
    if m2 == m3 == 0:
        assert result.halfwidth == pytest.approx(phi / (1 + m1))
    assert result.margin == pytest.approx(phi - 2 * expected, abs=2e-9)

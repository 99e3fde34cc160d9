"""Decision margins: where a class wins *with its margin*, for two classes and for C classes.

With equal weight norms every loss of the family compares f(theta_1) with cos(theta_2): the
scale (s, or ||x|| ||W||) multiplies both sides and cancels. Class 1 wins with its margin where
f(theta_1) > cos(theta_2); class 2 where f(theta_2) > cos(theta_1); between them is the gap.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from lossviz.losses import target_from_cos

GAP, CLASS_1, CLASS_2 = 0, 1, 2

# Largest possible smallest angle between N points on the sphere S^2 (the Tammes problem),
# in degrees; known exactly or to many digits for these N.
TAMMES_DEGREES = {2: 180.0, 3: 120.0, 4: 109.4712, 5: 90.0, 6: 90.0, 7: 77.8695,
                  8: 74.8585, 9: 70.5288, 10: 66.1468, 11: 63.4349, 12: 63.4349}
MAX_CLASSES = max(TAMMES_DEGREES)
TIGHT_DEGREES = 5.0


def _target(loss: str, params: dict, theta) -> np.ndarray:
    cos = torch.cos(torch.as_tensor(theta, dtype=torch.float64))
    return target_from_cos(loss, cos, params).numpy()


def region_map(loss: str, params: dict, theta_1: np.ndarray, theta_2: np.ndarray) -> np.ndarray:
    """CLASS_1, CLASS_2 or GAP for each pair of angles (radians) to the two class weights."""
    wins_1 = _target(loss, params, theta_1) > np.cos(theta_2)
    wins_2 = _target(loss, params, theta_2) > np.cos(theta_1)
    return np.where(wins_1, CLASS_1, np.where(wins_2, CLASS_2, GAP))


def angle_to(direction: np.ndarray, weight_angle: float) -> np.ndarray:
    """Angle in [0, pi] between plane directions (radians) and a weight at weight_angle."""
    return np.abs(np.angle(np.exp(1j * (direction - weight_angle))))


def class_halfwidth(loss: str, params: dict, phi: float) -> float:
    """On the arc between two weights phi apart, class 1 wins with its margin for
    theta_1 < halfwidth. Solved by bisection: f(t) - cos(phi - t) decreases on [0, phi]."""
    def excess(t):
        return float(_target(loss, params, t)) - math.cos(phi - t)
    if excess(0.0) <= 0:
        return 0.0  # even a feature lying on its own weight loses to the neighbour
    low, high = 0.0, phi
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if excess(mid) > 0 else (low, mid)
    return low


def binary_margin(loss: str, params: dict, phi: float) -> float:
    """Width (radians) of the gap between the two classes along the arc joining their weights."""
    return phi - 2 * class_halfwidth(loss, params, phi)


def best_neighbour_angle(num_classes: int, dim: int) -> float:
    """The largest smallest angle (radians) that num_classes weights can keep in dim dimensions."""
    if not 2 <= num_classes <= MAX_CLASSES:
        raise ValueError(f"num_classes must be between 2 and {MAX_CLASSES}, got {num_classes}")
    if dim == 2:
        return min(math.pi, 2 * math.pi / num_classes)
    if dim == 3:
        return math.radians(TAMMES_DEGREES[num_classes])
    raise ValueError(f"dim must be 2 or 3, got {dim}")


@dataclass(frozen=True)
class Feasibility:
    neighbour_angle: float  # radians: the best arrangement's closest pair of class weights
    halfwidth: float  # radians: how far a feature may stray from its weight and still win
    margin: float  # radians: the gap left between neighbouring classes

    @property
    def feasible(self) -> bool:
        return self.halfwidth > 0

    @property
    def tight(self) -> bool:
        """Met, but with under TIGHT_DEGREES of room per class: training will struggle."""
        return self.feasible and math.degrees(self.halfwidth) < TIGHT_DEGREES


def feasibility(loss: str, params: dict, num_classes: int, dim: int) -> Feasibility:
    """Can num_classes classes all win with this margin in dim dimensions? Judged on the
    closest pair of the best possible arrangement of class weights."""
    phi = best_neighbour_angle(num_classes, dim)
    halfwidth = class_halfwidth(loss, params, phi)
    return Feasibility(phi, halfwidth, phi - 2 * halfwidth)

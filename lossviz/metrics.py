"""Angles that say how well features gather around their class weights."""
from __future__ import annotations

import numpy as np


def unit_rows(rows: np.ndarray) -> np.ndarray:
    """Each row scaled to length 1 (a zero row stays zero)."""
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)


def angles_to_weights(features: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(N, C) angles in degrees between each feature and each class weight."""
    return np.degrees(np.arccos(np.clip(unit_rows(features) @ unit_rows(weights).T, -1.0, 1.0)))


def own_and_nearest_other(features, labels, weights) -> tuple[np.ndarray, np.ndarray]:
    """Per feature: angle to its own class weight, and to the nearest other class weight."""
    angles = angles_to_weights(features, weights)
    rows = np.arange(len(labels))
    own = angles[rows, labels]
    others = angles.copy()
    others[rows, labels] = np.inf
    return own, others.min(axis=1)


def weight_angles(weights: np.ndarray) -> np.ndarray:
    """(C, C) angles in degrees between class weights, the diagonal set to nan."""
    angles = angles_to_weights(weights, weights)
    np.fill_diagonal(angles, np.nan)
    return angles


def angle_metrics(features, labels, weights) -> tuple[float, float]:
    """(mean angle of features to their own weight, smallest angle between two weights)."""
    own, _ = own_and_nearest_other(features, labels, weights)
    return float(own.mean()), float(np.nanmin(weight_angles(weights)))


def intra_class_spread(features, labels, weights, percentile: float = 95.0) -> float:
    """The widest class (degrees): per class, this percentile of its features' angles to its
    own weight, then the largest over classes. At 95, a few stray digits do not decide it."""
    own, _ = own_and_nearest_other(features, labels, weights)
    per_class = [np.percentile(own[labels == cls], percentile) for cls in np.unique(labels)]
    return float(max(per_class, default=0.0))


def run_summary(features, labels, weights, accuracy: float) -> dict:
    """The comparison table's angles: how tight the classes are, how far apart their weights,
    and the angular margin achieved (closest weights minus the widest class, 95th percentile)."""
    own, _ = own_and_nearest_other(features, labels, weights)
    between = weight_angles(weights)
    spread = intra_class_spread(features, labels, weights)
    return {"test_accuracy": float(accuracy), "mean_own_angle_deg": float(own.mean()),
            "min_weight_angle_deg": float(np.nanmin(between)),
            "mean_weight_angle_deg": float(np.nanmean(between)),
            "max_spread_deg": spread,
            "angular_margin_deg": float(np.nanmin(between)) - spread}


def steps_to_accuracy(steps, accuracies, threshold: float = 0.9):
    """The first step at which accuracy reached threshold, or None if it never did."""
    for step, accuracy in zip(steps, accuracies, strict=True):
        if accuracy >= threshold:
            return int(step)
    return None

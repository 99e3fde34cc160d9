"""What the target-logit page plots: target curves, the target probability they allow, and the
gradient they give, all as functions of the angle theta_y to the own-class weight."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from lossviz.losses import (LOSSES, SCALE_PARAMS, adacos_fixed_scale, elastic_band,
                            resolve_params, target_from_cos)


@dataclass(frozen=True)
class Curve:
    label: str
    loss: str
    params: dict

    def __post_init__(self):
        resolve_params(self.loss, self.params)  # fail at construction, not at draw time


# The comparison figure of the ArcFace paper (target logit against theta, degrees).
ARCFACE_PAPER_CURVES = (
    Curve("Softmax", "softmax", {}),
    Curve("SphereFace (m=4, λ=5)", "sphereface", {"m": 4, "lam": 5.0}),
    Curve("SphereFace (1.35, 0, 0)", "combined", {"m1": 1.35, "m2": 0.0, "m3": 0.0}),
    Curve("ArcFace (1, 0.5, 0)", "arcface", {"m": 0.5}),
    Curve("CosFace (1, 0, 0.35)", "cosface", {"m": 0.35}),
    Curve("CM1 (1, 0.3, 0.2)", "combined", {"m1": 1.0, "m2": 0.3, "m3": 0.2}),
    Curve("CM2 (0.9, 0.4, 0.15)", "combined", {"m1": 0.9, "m2": 0.4, "m3": 0.15}),
)


def theta_grid(points: int = 721) -> np.ndarray:
    """Angles in radians over [0, pi], a quarter degree apart by default."""
    return np.linspace(0.0, np.pi, points)


@dataclass(frozen=True)
class Variant:
    """Another way common code writes the same loss: a curve and the name of the variant."""
    name: str  # a choice of the loss's variant parameter, or "raw" (no monotonic fix)
    curve: Curve
    raw: bool = False


def variants(curve: Curve) -> list[Variant]:
    """The other variants of a curve's loss: each other choice of its variant parameter
    (ArcFace's tail, SphereFace's form), or the raw curve of the combined margin."""
    if curve.loss == "combined":
        return [Variant("raw", curve, raw=True)]
    found = []
    for p in LOSSES[curve.loss].params:
        if p.name in SCALE_PARAMS:  # AdaCos's mode: the same target either way
            continue
        chosen = resolve_params(curve.loss, curve.params)[p.name] if p.choices else None
        found += [Variant(name, Curve(curve.label, curve.loss, {**curve.params, p.name: i}))
                  for i, name in enumerate(p.choices) if i != chosen]
    return found


def target_curve(curve: Curve, theta: np.ndarray, raw: bool = False) -> np.ndarray:
    cos = torch.cos(torch.as_tensor(theta, dtype=torch.float64))
    return target_from_cos(curve.loss, cos, curve.params, raw).numpy()


# The norms at the edges of a norm-dependent margin's band: MagFace's a at l_a and u_a (a name
# of a parameter), AdaFace's normalised n at -1 and 1; the target falls as either grows
NORM_BAND_EDGES = {"magface": ("l_a", "u_a"), "adaface": (-1.0, 1.0)}


def margin_band(curve: Curve, theta: np.ndarray):
    """(upper, lower) edges of the band where 95% of a random margin's curves fall
    (ElasticFace), or where a norm-dependent margin's curves lie over every norm (MagFace,
    AdaFace); None for a loss whose margin is fixed."""
    p = resolve_params(curve.loss, curve.params)
    cos = torch.cos(torch.as_tensor(theta, dtype=torch.float64))
    if curve.loss in NORM_BAND_EDGES:
        norms = [p[edge] if isinstance(edge, str) else edge
                 for edge in NORM_BAND_EDGES[curve.loss]]
        return tuple(target_from_cos(curve.loss, cos, curve.params, norm=norm).numpy()
                     for norm in norms)
    if curve.loss != "elasticface":
        return None
    return tuple(edge.numpy() for edge in elastic_band(cos, p["m"], p["sigma"]))


def rising_intervals(theta: np.ndarray, values: np.ndarray, tol: float = 1e-9) -> list[tuple]:
    """(start, end) stretches of theta where the curve increases: there a larger angle earns
    a larger logit, so gradient descent would push features away from their class."""
    rising = np.diff(values) > tol
    intervals, start = [], None
    for i, up in enumerate(rising):
        if up and start is None:
            start = theta[i]
        if not up and start is not None:
            intervals.append((start, theta[i]))
            start = None
    if start is not None:
        intervals.append((start, theta[-1]))
    return intervals


def logit_scale(curve: Curve, feature_norm: float, num_classes: int) -> float:
    """Normalized losses scale by s; the others by ||x|| (unit-norm weights assumed). AdaCos
    has no s to set: its fixed sqrt(2) ln(C - 1), where the adaptive one starts too."""
    if LOSSES[curve.loss].keeps_feature_norm:
        return feature_norm
    if curve.loss == "adacos":
        return adacos_fixed_scale(num_classes)
    return resolve_params(curve.loss, curve.params)["s"]


def _target_loss(curve, theta_y, other_angle, num_classes, feature_norm):
    scale = logit_scale(curve, feature_norm, num_classes)
    target = scale * target_from_cos(curve.loss, torch.cos(theta_y), curve.params)
    other = scale * np.cos(other_angle) + np.log(num_classes - 1)  # C-1 equal logits
    both = torch.stack([target, torch.full_like(target, other)], dim=-1)
    return torch.logsumexp(both, dim=-1) - target  # -log p(target)


def target_probability(curve: Curve, theta: np.ndarray, other_angle: float,
                       num_classes: int, feature_norm: float = 1.0) -> np.ndarray:
    """p(y | x) when the C-1 other classes all sit at other_angle from the feature."""
    theta_y = torch.as_tensor(theta, dtype=torch.float64)
    return torch.exp(-_target_loss(curve, theta_y, other_angle, num_classes, feature_norm)).numpy()


def loss_gradient(curve: Curve, theta: np.ndarray, other_angle: float,
                  num_classes: int, feature_norm: float = 1.0) -> np.ndarray:
    """|dL/dtheta_y| of the cross-entropy in the same setting: how hard the loss pulls."""
    theta_y = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
    loss = _target_loss(curve, theta_y, other_angle, num_classes, feature_norm)
    (grad,) = torch.autograd.grad(loss.sum(), theta_y)
    return grad.abs().numpy()

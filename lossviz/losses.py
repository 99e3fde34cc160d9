"""The softmax family of margin losses, written as one idea.

Every loss here differs from plain softmax only in the target-class logit:
the cosine between a feature and its own class weight is replaced by a
target term f(theta), the other columns keep cos(theta_j), and the result is
scaled (by s when features are normalized, by the norms when they are kept).

Two later members add one step each, named as such, and carry a running value from batch
to batch (their state, which training keeps with the run): CurricularFace re-weights the hard
negatives with its t, AdaCos takes its scale s from the batches instead of from the user.
Sub-center ArcFace adds one step before the target: each class has K weights (sub-centres,
a (C, K, D) weight) and its cosine is the largest of their K cosines (class_cosines).
MagFace and AdaFace read the feature norm ||x|| as image quality, and their margin depends on
it: the target is still one function of cos(theta), given a norm (target_from_cos's `norm`).
MagFace keeps the norm and regularises it (norm_penalty, added to the cross-entropy); AdaFace
normalises it with the running mean and spread of the batches' norms, its state.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from lossviz.i18n import Message


@dataclass(frozen=True)
class Param:
    name: str
    label: str
    default: float
    low: float
    high: float
    step: float
    unit: str = ""  # "rad" marks angular margins, shown in degrees beside the value
    integer: bool = False  # multiplicative margins need an integer for the psi construction
    help: str = ""
    neutral: float | None = None  # the value that means "no margin": margin warm-up starts here
    slider_high: float | None = None  # a narrower top for the slider than the valid range
    # A choice between variants of the formula: the value is the index of one of these names,
    # so that it travels as a number like every other parameter (URL, config, checkpoint, CLI).
    choices: tuple[str, ...] = ()

    @property
    def ui_high(self) -> float:
        return self.high if self.slider_high is None else self.slider_high


@dataclass(frozen=True)
class LossSpec:
    name: str
    title: str
    paper: str
    summary: str
    params: tuple[Param, ...]
    keeps_feature_norm: bool  # logits scale with ||x|| (no s) instead of with s
    keeps_weight_norm: bool  # logits scale with ||W_j|| too
    presets: dict[str, dict[str, float]] = field(default_factory=dict)
    # Why the 2D preset ends below Softmax's accuracy, where it does: measured ranges, in a
    # Message (the playground shows it in the reader's language)
    note_2d: Message | None = None
    # Running values carried from batch to batch (initial_state, next_state): training keeps
    # them with the run, its checkpoint and its snapshots
    state: tuple[str, ...] = ()
    # CurricularFace: the non-target logits change too, so its decision margins are not the
    # target curve's alone (the decision-margin page leaves it out)
    reweights_negatives: bool = False
    # Sub-center ArcFace: K weights per class, K its parameter "k"; the model holds them as a
    # (C, K, D) weight instead of (C, D)
    subcenters: bool = False
    # MagFace, AdaFace: the margin depends on the feature norm, so one target curve per norm
    # (the target-logit page draws a band) and no single decision-margin picture
    norm_margin: bool = False

    @property
    def draws_decision_margins(self) -> bool:
        """Whether the decision-margin page can draw it: not when the other logits change too
        (CurricularFace) or the margin depends on each feature's norm (MagFace, AdaFace)."""
        return not (self.reweights_negatives or self.norm_margin)

    def param(self, name: str) -> Param:
        return next(p for p in self.params if p.name == name)

    def defaults(self) -> dict[str, float]:
        return {p.name: p.default for p in self.params}


def _scale(default: float) -> Param:
    return Param("s", "scale s", default, 1.0, 64.0, 0.5,
                 help="Radius of the hypersphere the normalized logits live on.")


def _angular_margin(default: float, help: str) -> Param:
    return Param("m", "margin m", default, 0.0, 1.5, 0.01, unit="rad", help=help, neutral=0.0)


def _int_margin(default: int) -> Param:
    return Param("m", "margin m", default, 1, 6, 1, integer=True,
                 help="Multiplies the angle: the target uses psi(m * theta).")


# Measured with benchmarks/bench_presets.py, 2D presets, 30 epochs, seeds 0, 1, 2.
_SOFTMAX_2D = "96.3-97.0%"


def _circle_2d(own: str) -> Message:
    return Message("playground.note_2d.margin", {"own": own, "softmax": _SOFTMAX_2D,
                                                 "normface": "92.7-94.9%"})


# Past theta = pi - m, cos(theta + m) turns back up. What common code does there: the threshold
# fallback cos(theta) - m sin(m) (insightface, the paper's code), the "easy margin" (no margin
# once cos(theta) <= 0), or nothing (raw). Index 0 is what training has always used here.
ARCFACE_TAILS = ("threshold", "easy", "raw")
_TAIL = Param("tail", "past pi - m", 0, 0, len(ARCFACE_TAILS) - 1, 1, integer=True,
              choices=ARCFACE_TAILS,
              help="What the target does where cos(theta + m) turns back up.")
# The paper's psi(theta) = (-1)^k cos(m theta) - 2k, or the shortcut many repositories take:
# plain cos(m theta), which rises again past theta = pi / m.
SPHEREFACE_FORMS = ("psi", "cos")
_FORM = Param("form", "target form", 0, 0, len(SPHEREFACE_FORMS) - 1, 1, integer=True,
              choices=SPHEREFACE_FORMS,
              help="psi(m theta) as in the paper, or plain cos(m theta) without psi.")

# AdaCos's scale: adapted from every batch (the paper's dynamic AdaCos), or fixed at
# sqrt(2) ln(C - 1) (its fixed AdaCos)
ADACOS_MODES = ("adaptive", "fixed")
_MODE = Param("mode", "scale s", 0, 0, len(ADACOS_MODES) - 1, 1, integer=True,
              choices=ADACOS_MODES, help="s from each batch, or fixed at sqrt(2) ln(C - 1).")

_SUBCENTERS = Param("k", "sub-centres K", 3, 1, 5, 1, integer=True,
                    help="Weights per class; the class cosine is the largest of its K cosines.")

# MagFace's margin grows linearly from l_m to u_m as the feature norm a goes from l_a to u_a,
# and lambda_g weighs its regulariser g(a) = 1/a + a/u_a^2. The paper's faces: 10, 110, 0.45,
# 0.8, 35. The ranges of l_a and u_a do not overlap, so no choice divides by u_a - l_a = 0.
_MAGFACE = (
    Param("l_a", "lowest norm l_a", 10.0, 0.1, 10.0, 0.1,
          help="Feature norms at or below l_a get the smallest margin l_m."),
    Param("u_a", "highest norm u_a", 110.0, 11.0, 200.0, 1.0,
          help="Feature norms at or above u_a get the largest margin u_m; the regulariser "
               "is smallest there."),
    Param("l_m", "smallest margin l_m", 0.45, 0.0, 1.5, 0.01, unit="rad", neutral=0.0,
          help="The angular margin at the lowest norm, in radians."),
    Param("u_m", "largest margin u_m", 0.8, 0.0, 1.5, 0.01, unit="rad", neutral=0.0,
          help="The angular margin at the highest norm, in radians."),
    Param("lambda_g", "regulariser weight lambda_g", 35.0, 0.0, 100.0, 0.5,
          help="Weight of g(a) = 1/a + a/u_a^2, which rewards larger norms."),
)
# AdaFace: margin m, and h, how much of the normalised norms falls inside [-1, 1]
_ADAFACE = (
    Param("m", "margin m", 0.4, 0.0, 1.0, 0.01, neutral=0.0,
          help="Sets both the angular part -m n and the additive part m n + m."),
    Param("h", "concentration h", 0.333, 0.01, 1.0, 0.001,
          help="The normalised norm is (||x|| - mean) / (std / h), clipped to [-1, 1]."),
)

# The parameters that set the scale, not the target: pages that draw target curves or decision
# margins (where the scale cancels) leave them out. Sub-center ArcFace's K too: it decides which
# cosine is the class's, not what the target does with it (one sub-centre per class is drawn).
# MagFace's lambda_g weighs a term beside the cross-entropy; AdaFace's h sets how the norms of a
# batch become n, and the curves are drawn over n itself.
SCALE_PARAMS = ("s", "mode", "k", "lambda_g", "h")

_LAMBDA = Param("lam", "lambda", 0.0, 0.0, 1000.0, 0.5, slider_high=20.0,
                help="Blends in plain softmax: (lambda cos + psi) / (1 + lambda). "
                     "Training anneals it from large to small.")

LOSSES: dict[str, LossSpec] = {
    "softmax": LossSpec(
        "softmax", "Softmax", "classic multinomial logistic regression",
        "Logits W x + b: no normalization, no margin.",
        (), keeps_feature_norm=True, keeps_weight_norm=True,
        presets={"2d": {}, "3d": {}}),
    "lsoftmax": LossSpec(
        "lsoftmax", "L-Softmax",
        "Liu et al., Large-Margin Softmax Loss for Convolutional Neural Networks, ICML 2016",
        "Multiplicative angular margin psi(m theta); feature and weight norms are kept.",
        (_int_margin(2), _LAMBDA), keeps_feature_norm=True, keeps_weight_norm=True,
        presets={"paper": {"m": 4, "lam": 0.0}, "2d": {"m": 2}, "3d": {"m": 3}}),
    "sphereface": LossSpec(
        "sphereface", "A-Softmax (SphereFace)",
        "Liu et al., SphereFace: Deep Hypersphere Embedding for Face Recognition, CVPR 2017",
        "Weights normalized (||W|| = 1, b = 0), multiplicative angular margin psi(m theta).",
        (_int_margin(4), _LAMBDA, _FORM), keeps_feature_norm=True, keeps_weight_norm=False,
        presets={"paper": {"m": 4, "lam": 5.0}, "2d": {"m": 2}, "3d": {"m": 4}}),
    "normface": LossSpec(
        "normface", "NormFace",
        "Wang et al., NormFace: L2 Hypersphere Embedding for Face Verification, ACM MM 2017",
        "Features and weights normalized, logits s cos(theta): no margin, only a scale.",
        (_scale(16.0),), keeps_feature_norm=False, keeps_weight_norm=False,
        presets={"paper": {"s": 16.0}, "2d": {"s": 16.0}, "3d": {"s": 16.0}},
        note_2d=Message("playground.note_2d.normface", {"own": "92.7-94.9%",
                                                        "softmax": _SOFTMAX_2D})),
    "cosface": LossSpec(
        "cosface", "CosFace (AM-Softmax)",
        "Wang et al., CosFace: Large Margin Cosine Loss for Deep Face Recognition, CVPR 2018",
        "Additive cosine margin: s (cos(theta) - m).",
        (_scale(64.0), Param("m", "margin m", 0.35, 0.0, 1.0, 0.01,
                             help="Subtracted from the target cosine.", neutral=0.0)),
        keeps_feature_norm=False, keeps_weight_norm=False,
        presets={"paper": {"s": 64.0, "m": 0.35}, "2d": {"s": 16.0, "m": 0.1},
                 "3d": {"s": 16.0, "m": 0.25}},
        note_2d=_circle_2d("95.5-96.7%")),
    "arcface": LossSpec(
        "arcface", "ArcFace",
        "Deng et al., ArcFace: Additive Angular Margin Loss for Deep Face Recognition, CVPR 2019",
        "Additive angular margin: s cos(theta + m).",
        (_scale(64.0), _angular_margin(0.5, "Added to the target angle, in radians."), _TAIL),
        keeps_feature_norm=False, keeps_weight_norm=False,
        presets={"paper": {"s": 64.0, "m": 0.5}, "2d": {"s": 16.0, "m": 0.1},
                 "3d": {"s": 16.0, "m": 0.3}},
        note_2d=_circle_2d("94.6-95.9%")),
    "combined": LossSpec(
        "combined", "Combined margin",
        "Deng et al., ArcFace: Additive Angular Margin Loss for Deep Face Recognition, CVPR 2019",
        "All three margins at once: s (cos(m1 theta + m2) - m3).",
        (_scale(64.0),
         Param("m1", "m1 (multiplicative)", 1.0, 0.5, 4.0, 0.05, neutral=1.0),
         Param("m2", "m2 (additive angular)", 0.3, 0.0, 1.5, 0.01, unit="rad", neutral=0.0),
         Param("m3", "m3 (additive cosine)", 0.2, 0.0, 1.0, 0.01, neutral=0.0)),
        keeps_feature_norm=False, keeps_weight_norm=False,
        presets={"paper": {"s": 64.0, "m1": 1.0, "m2": 0.3, "m3": 0.2},
                 "2d": {"s": 16.0, "m1": 1.0, "m2": 0.05, "m3": 0.03},
                 "3d": {"s": 16.0, "m1": 1.0, "m2": 0.2, "m3": 0.1}},
        note_2d=_circle_2d("95.3-96.3%")),
    "elasticface": LossSpec(
        "elasticface", "ElasticFace",
        "Boutros et al., ElasticFace: Elastic Margin Loss for Deep Face Recognition, CVPRW 2022",
        "ArcFace whose margin is drawn afresh for every sample and step: s cos(theta + m_i), "
        "m_i ~ N(m, sigma).",
        (_scale(64.0), Param("m", "mean margin m", 0.5, 0.0, 1.5, 0.01, unit="rad",
                             help="The mean of the angular margins, in radians.", neutral=0.0),
         # no unit: its degrees caption would print the name "sigma"; the label says radians
         Param("sigma", "spread sigma (radians)", 0.05, 0.0, 0.5, 0.01,
               help="Standard deviation of the margins.", neutral=0.0)),
        keeps_feature_norm=False, keeps_weight_norm=False,
        presets={"paper": {"s": 64.0, "m": 0.5, "sigma": 0.05},
                 "2d": {"s": 16.0, "m": 0.1, "sigma": 0.03},
                 "3d": {"s": 16.0, "m": 0.3, "sigma": 0.05}},
        # python -m lossviz train --loss elasticface --dim 2 --seed N --json, N = 0, 1, 2
        note_2d=Message("playground.note_2d.elastic", {"own": "94.6-95.1%",
                                                       "softmax": _SOFTMAX_2D,
                                                       "arcface": "94.6-95.9%",
                                                       "normface": "92.7-94.9%"})),
    "curricularface": LossSpec(
        "curricularface", "CurricularFace",
        "Huang et al., CurricularFace: Adaptive Curriculum Learning Loss for Deep Face "
        "Recognition, CVPR 2020",
        "ArcFace's target s cos(theta + m); hard negatives (cos theta_j > cos(theta_y + m)) "
        "become cos theta_j (t + cos theta_j), t a running mean of the target cosines.",
        (_scale(64.0), _angular_margin(0.5, "Added to the target angle, in radians.")),
        keeps_feature_norm=False, keeps_weight_norm=False,
        presets={"paper": {"s": 64.0, "m": 0.5}, "2d": {"s": 16.0, "m": 0.1},
                 "3d": {"s": 16.0, "m": 0.3}},
        state=("t",), reweights_negatives=True),
    "adacos": LossSpec(
        "adacos", "AdaCos",
        "Zhang et al., AdaCos: Adaptively Scaling Cosine Logits for Effectively Learning Deep "
        "Face Representations, CVPR 2019",
        "NormFace's s cos(theta) without a margin, with s set from the batches, not by hand.",
        (_MODE,), keeps_feature_norm=False, keeps_weight_norm=False,
        presets={"paper": {"mode": 0}, "2d": {"mode": 0}, "3d": {"mode": 0}},
        state=("s",)),
    "subcenter": LossSpec(
        "subcenter", "Sub-center ArcFace",
        "Deng et al., Sub-center ArcFace: Boosting Face Recognition by Large-Scale Noisy Web "
        "Faces, ECCV 2020",
        "K weights (sub-centres) per class; the class cosine is the largest of its K cosines, "
        "then ArcFace's s cos(theta + m).",
        (_scale(64.0), _angular_margin(0.5, "Added to the target angle, in radians."),
         _SUBCENTERS),
        keeps_feature_norm=False, keeps_weight_norm=False,
        presets={"paper": {"s": 64.0, "m": 0.5, "k": 3}, "2d": {"s": 16.0, "m": 0.1, "k": 3},
                 "3d": {"s": 16.0, "m": 0.3, "k": 3}},
        # python -m lossviz train --loss subcenter --dim 2 --seed N --json, N = 0, 1, 2
        note_2d=Message("subcenter.note_2d", {"own": "94.1-94.7%", "seeds": "0-2",
                                              "softmax": _SOFTMAX_2D, "arcface": "94.6-95.9%"}),
        subcenters=True),
    "magface": LossSpec(
        "magface", "MagFace",
        "Meng et al., MagFace: A Universal Representation for Face Recognition and Quality "
        "Assessment, CVPR 2021",
        "ArcFace whose margin grows with the feature norm a: s cos(theta + m(a)), plus "
        "lambda_g g(a) that keeps the norm as a measure of quality.",
        (_scale(64.0), *_MAGFACE), keeps_feature_norm=False, keeps_weight_norm=False,
        presets={"paper": {"s": 64.0, "l_a": 10.0, "u_a": 110.0, "l_m": 0.45, "u_m": 0.8,
                           "lambda_g": 35.0},
                 "2d": {"s": 16.0, "l_a": 1.0, "u_a": 11.0, "l_m": 0.05, "u_m": 0.15,
                        "lambda_g": 3.5},
                 "3d": {"s": 16.0, "l_a": 1.0, "u_a": 11.0, "l_m": 0.2, "u_m": 0.4,
                        "lambda_g": 3.5}},
        norm_margin=True),
    "adaface": LossSpec(
        "adaface", "AdaFace",
        "Kim et al., AdaFace: Quality Adaptive Margin for Face Recognition, CVPR 2022",
        "s (cos(theta - m n) - m n - m), n the feature norm normalised by the batches' "
        "running mean and spread: ArcFace for low norms, CosFace for average ones.",
        (_scale(64.0), *_ADAFACE), keeps_feature_norm=False, keeps_weight_norm=False,
        presets={"paper": {"s": 64.0, "m": 0.4, "h": 0.333},
                 "2d": {"s": 16.0, "m": 0.1, "h": 0.333},
                 "3d": {"s": 16.0, "m": 0.25, "h": 0.333}},
        state=("norm_mean", "norm_std"), norm_margin=True),
}


def get_spec(name: str) -> LossSpec:
    try:
        return LOSSES[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; choose one of {', '.join(LOSSES)}") from None


def resolve_params(name: str, params: dict) -> dict[str, float]:
    """Defaults filled in; unknown names, non-integers where an integer is needed and
    values outside the documented range are rejected with a message that says which."""
    spec = get_spec(name)
    unknown = set(params) - {p.name for p in spec.params}
    if unknown:
        allowed = ", ".join(p.name for p in spec.params) or "none"
        raise ValueError(f"{name} has no parameter {', '.join(sorted(unknown))}; it takes: {allowed}")
    values = spec.defaults() | dict(params)
    for p in spec.params:
        v = float(values[p.name])
        if not math.isfinite(v) or not p.low <= v <= p.high:
            raise ValueError(f"{name}: {p.name}={values[p.name]} is outside [{p.low}, {p.high}]")
        if p.integer and v != int(v):
            raise ValueError(f"{name}: {p.name} must be an integer, got {values[p.name]}")
        values[p.name] = int(v) if p.integer else v
    return values


def _clamp_eps(dtype: torch.dtype) -> float:
    # acos has an infinite slope at +-1: stay a few ulps inside so the gradient stays finite.
    return 4 * torch.finfo(dtype).eps


def _chebyshev(cos: torch.Tensor, m: int) -> torch.Tensor:
    """cos(m theta) as the polynomial T_m(cos theta): exact, with a finite gradient everywhere."""
    prev, cur = torch.ones_like(cos), cos
    if m == 0:
        return prev
    for _ in range(m - 1):
        prev, cur = cur, 2 * cos * cur - prev
    return cur


def psi(cos: torch.Tensor, m: int) -> torch.Tensor:
    """(-1)^k cos(m theta) - 2k for theta in [k pi/m, (k+1) pi/m]: continuous and decreasing."""
    k = torch.zeros_like(cos)
    for j in range(1, m):  # k counts the thresholds j*pi/m that theta has passed
        k = k + (cos <= math.cos(j * math.pi / m)).to(cos.dtype)
    sign = 1 - 2 * torch.remainder(k, 2)
    return sign * _chebyshev(cos, m) - 2 * k


def _sin_from_cos(cos: torch.Tensor) -> torch.Tensor:
    return torch.sqrt((1 - cos * cos).clamp_min(_clamp_eps(cos.dtype)))


def _theta_from_cos(cos: torch.Tensor) -> torch.Tensor:
    eps = _clamp_eps(cos.dtype)
    return torch.acos(cos.clamp(-1 + eps, 1 - eps))


def _arcface(cos: torch.Tensor, m, tail: str) -> torch.Tensor:
    """cos(theta + m); m is one margin, or one per sample (ElasticFace)."""
    m = torch.as_tensor(m, dtype=cos.dtype, device=cos.device)
    shifted = cos * torch.cos(m) - _sin_from_cos(cos) * torch.sin(m)
    if tail == "raw":
        return shifted
    if tail == "easy":
        # margin only while theta < 90 degrees: the target jumps back up to cos(theta) there
        return torch.where(cos > 0, shifted, cos)
    # Past theta = pi - m, cos(theta + m) turns back up; the usual fix is a cosine margin.
    return torch.where(cos >= torch.cos(math.pi - m), shifted, cos - m * torch.sin(m))


def elastic_margins(shape, m: float, sigma: float, generator: torch.Generator | None):
    """ElasticFace's margins: one draw from N(m, sigma) per sample, or the mean m itself when
    no generator is given (the curves and decision-margin pages draw the expected picture)."""
    if generator is None or sigma == 0:
        return m
    return m + sigma * torch.randn(shape, generator=generator, dtype=torch.float64)


def elastic_band(cos: torch.Tensor, m: float, sigma: float, z: float = 1.96):
    """The targets at margins m - z sigma and m + z sigma: with z = 1.96, 95% of ElasticFace's
    drawn curves lie between (the target falls as the margin grows)."""
    return _arcface(cos, m - z * sigma, "threshold"), _arcface(cos, m + z * sigma, "threshold")


def magface_margin(norm, l_a: float, u_a: float, l_m: float, u_m: float):
    """MagFace's m(a): from l_m at a = l_a to u_m at a = u_a, linear between; the norm is
    clamped to [l_a, u_a] first, as the paper's code does."""
    a = norm if isinstance(norm, torch.Tensor) else torch.tensor(float(norm), dtype=torch.float64)
    a = a.clamp(l_a, u_a)
    return (u_m - l_m) / (u_a - l_a) * (a - l_a) + l_m


def magface_regulariser(norm: torch.Tensor, l_a: float, u_a: float) -> torch.Tensor:
    """g(a) = 1/a + a/u_a^2 on the clamped norm: smallest at a = u_a, so lambda_g g(a) pulls
    norms up while the margin, which grows with a, holds a hard sample's norm down."""
    a = norm.clamp(l_a, u_a)
    return 1 / a + a / u_a**2


def _magface(cos: torch.Tensor, norm, l_a: float, u_a: float, l_m: float, u_m: float,
             raw: bool) -> torch.Tensor:
    """ArcFace's cos(theta + m(a)), its threshold fallback as in the paper's code."""
    return _arcface(cos, magface_margin(norm, l_a, u_a, l_m, u_m), "raw" if raw else "threshold")


def adaface_quality(norm: torch.Tensor, mean: float, std: float, h: float) -> torch.Tensor:
    """AdaFace's n: the norm standardised by the running mean and std, times h (h = 0.333:
    about two thirds of the norms of a normal spread lie inside), clipped to [-1, 1]. No
    gradient flows through it. Before any batch has been seen (std 0) every sample is of
    average quality: n = 0."""
    if std <= 0:
        return torch.zeros_like(norm)
    return ((norm.detach() - mean) / std * h).clamp(-1, 1)


def _adaface(cos: torch.Tensor, quality, m: float) -> torch.Tensor:
    """cos(theta + g_angle) - g_add with g_angle = -m n and g_add = m n + m: n = -1 (low
    norm) is ArcFace's cos(theta + m), n = 0 CosFace's cos(theta) - m, n = 1 cos(theta - m)
    - 2m. The angle stays in [0, pi] as in the paper's code, so the curve never turns back."""
    n = torch.as_tensor(quality, dtype=cos.dtype, device=cos.device)
    angle = (_theta_from_cos(cos) - m * n).clamp(0, math.pi)
    return torch.cos(angle) - m * n - m


def _multiplicative(cos: torch.Tensor, m: int, lam: float, form: str) -> torch.Tensor:
    # cos(m acos(cos theta)) written as the Chebyshev polynomial: the same values, and a
    # finite gradient at cos = +-1 where acos has none
    angular = psi(cos, m) if form == "psi" else _chebyshev(cos, m)
    return (lam * cos + angular) / (1 + lam)


def _combined(cos: torch.Tensor, m1: float, m2: float, m3: float, raw: bool) -> torch.Tensor:
    theta = _theta_from_cos(cos)
    curve = torch.cos(m1 * theta + m2) - m3
    if raw:
        return curve
    # Past theta_c, where m1 theta + m2 reaches pi, continue with cos(theta) shifted to meet
    # the curve at its minimum, so the target keeps decreasing and stays continuous.
    theta_c = (math.pi - m2) / m1
    if theta_c >= math.pi:
        return curve
    tail = cos - math.cos(theta_c) - 1 - m3
    return torch.where(theta <= theta_c, curve, tail)


def target_from_cos(name: str, cos: torch.Tensor, params: dict, raw: bool = False,
                    generator: torch.Generator | None = None, norm=None) -> torch.Tensor:
    """The target-class term f(theta) from cos(theta), before any scaling. raw=True: the
    curve without any fix where it turns back up (ArcFace's raw tail, the combined margin's).
    generator: where the margins are drawn from, for a loss whose margin is random.
    norm: for a loss whose margin depends on the feature norm, MagFace's a = ||x|| or AdaFace's
    normalised n in [-1, 1]; without it, the middle: a = (l_a + u_a) / 2, n = 0."""
    p = resolve_params(name, params)
    if name == "magface":
        a = (p["l_a"] + p["u_a"]) / 2 if norm is None else norm
        return _magface(cos, a, p["l_a"], p["u_a"], p["l_m"], p["u_m"], raw)
    if name == "adaface":
        return _adaface(cos, 0.0 if norm is None else norm, p["m"])
    if name in ("softmax", "normface", "adacos"):
        return cos
    if name in ("lsoftmax", "sphereface"):
        return _multiplicative(cos, p["m"], p["lam"], SPHEREFACE_FORMS[p.get("form", 0)])
    if name == "cosface":
        return cos - p["m"]
    if name == "arcface":
        return _arcface(cos, p["m"], "raw" if raw else ARCFACE_TAILS[p["tail"]])
    if name in ("curricularface", "subcenter"):  # ArcFace's target is ArcFace's, with the threshold fix its code uses
        return _arcface(cos, p["m"], "raw" if raw else "threshold")
    if name == "elasticface":
        margins = elastic_margins(cos.shape, p["m"], p["sigma"], generator)
        return _arcface(cos, margins, "raw" if raw else "threshold")
    return _combined(cos, p["m1"], p["m2"], p["m3"], raw)


def target_logit(name: str, theta, *, raw: bool = False, **params):
    """f(theta) for theta in radians; numpy arrays and floats in, numpy/float out, tensors stay
    tensors (and keep their graph). raw=True shows ArcFace/combined without the monotonic fix."""
    if isinstance(theta, torch.Tensor):
        return target_from_cos(name, torch.cos(theta), params, raw)
    t = torch.as_tensor(np.asarray(theta, dtype=np.float64))
    out = target_from_cos(name, torch.cos(t), params, raw).numpy()
    return float(out) if out.ndim == 0 else out


# CurricularFace's t follows the batches' mean target cosine: t <- 0.99 t + 0.01 mean cos(theta_y)
CURRICULAR_MOMENTUM = 0.01
# AdaCos's s stays within the range every other loss's s may take: the paper's formula has no
# bound, and a degenerate batch (every negative far below the target) could give ln(B) <= 0
ADACOS_S_RANGE = (1.0, 64.0)
# Where each running value can be: t is a mean of cosines; a file claiming otherwise is broken
# AdaFace's running mean and std of the feature norms: AdaFace's code clips norms to [0.001, 100]
ADAFACE_MOMENTUM = 0.01
ADAFACE_NORM_RANGE = (0.001, 100.0)
STATE_RANGES = {"t": (-1.0, 1.0), "s": ADACOS_S_RANGE, "norm_mean": (0.0, 100.0),
                "norm_std": (0.0, 100.0)}


def adacos_fixed_scale(classes: int) -> float:
    """sqrt(2) ln(C - 1), the fixed AdaCos scale; for two classes ln(1) = 0 would leave no
    scale at all, so C - 1 counts as at least 2."""
    return math.sqrt(2) * math.log(max(classes - 1, 2))


def initial_state(name: str, classes: int) -> dict[str, float]:
    """A loss's running values before its first batch (empty for a loss without any)."""
    if name == "curricularface":
        return {"t": 0.0}
    if name == "adacos":
        return {"s": adacos_fixed_scale(classes)}
    if name == "adaface":  # std 0: nothing seen yet (adaface_quality, next_state)
        return {"norm_mean": 0.0, "norm_std": 0.0}
    return {}


def _cosines(features: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    return class_cosines(F.normalize(features, dim=1), weight).clamp(-1, 1)


def subcenter_cosines(x_unit: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """(B, C, K): the cosine of each unit feature to every sub-centre of a (C, K, D) weight."""
    return torch.einsum("bd,ckd->bck", x_unit, F.normalize(weight, dim=2))


def class_cosines(x_unit: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """(B, C): the cosine of each unit feature to each class. A (C, D) weight has one vector
    per class; a (C, K, D) weight has K sub-centres per class, and the class cosine is the
    largest of its K (Sub-center ArcFace's one step before the target logit)."""
    if weight.dim() == 2:
        return x_unit @ F.normalize(weight, dim=1).T
    return subcenter_cosines(x_unit, weight).amax(dim=2)


@torch.no_grad()
def dominant_subcenters(features: torch.Tensor, labels: torch.Tensor, weight: torch.Tensor):
    """(dominant (C,), picks (B,)): each feature picks the sub-centre of its (labelled) class
    it is closest to; per class, the one most of its features pick stands for the class where
    one weight per class is needed. A class without features keeps its first."""
    cos = subcenter_cosines(F.normalize(features, dim=1), weight)  # (B, C, K)
    picks = cos[torch.arange(len(labels)), labels].argmax(dim=1)
    votes = torch.zeros(weight.shape[:2], dtype=torch.long)
    votes.index_put_((labels.cpu(), picks.cpu()), torch.ones_like(picks.cpu()), accumulate=True)
    return votes.argmax(dim=1), picks


@torch.no_grad()
def next_state(name: str, state: dict, features: torch.Tensor, weight: torch.Tensor,
               labels: torch.Tensor, params: dict) -> dict[str, float]:
    """The running values after this batch, computed (as both papers do) before its logits,
    which then use them. No gradient flows through them."""
    if not LOSSES[name].state:
        return {}
    if name == "adaface":
        return adaface_norm_statistics(state, features)
    p = resolve_params(name, params)
    cos = _cosines(features.double(), weight.double())
    cos_y = cos.gather(1, labels.view(-1, 1)).squeeze(1)
    if name == "curricularface":
        t = (1 - CURRICULAR_MOMENTUM) * state["t"] + CURRICULAR_MOMENTUM * cos_y.mean().item()
        return {"t": t}
    if ADACOS_MODES[p["mode"]] == "fixed":
        return {"s": adacos_fixed_scale(weight.shape[0])}
    # AdaCos, algorithm 1: B_avg, the batch's mean over samples of sum_{j != y} e^{s cos theta_j}
    # at the previous s; theta_med, the median target angle; s = ln B_avg / cos(min(pi/4, med))
    others = torch.exp(state["s"] * cos).scatter(1, labels.view(-1, 1), 0.0)
    b_avg = others.sum(dim=1).mean()
    theta_med = torch.quantile(torch.acos(cos_y), 0.5)
    s = (torch.log(b_avg) / torch.cos(theta_med.clamp(max=math.pi / 4))).item()
    low, high = ADACOS_S_RANGE
    return {"s": min(high, max(low, s)) if math.isfinite(s) else state["s"]}


def adaface_norm_statistics(state: dict, features: torch.Tensor) -> dict[str, float]:
    """AdaFace's running mean and std of the (clipped) feature norms: mean <- 0.99 mean + 0.01
    batch mean, the same for std. The first batch sets both outright, where the paper's code
    starts from 20 and 100, numbers for its faces' norms, not for this network's."""
    norms = features.detach().double().norm(dim=1).clamp(*ADAFACE_NORM_RANGE)
    batch_mean = norms.mean().item()
    batch_std = norms.std().item() if len(norms) > 1 else 0.0
    if state["norm_std"] <= 0:
        return {"norm_mean": batch_mean, "norm_std": batch_std}
    keep = 1 - ADAFACE_MOMENTUM
    return {"norm_mean": keep * state["norm_mean"] + ADAFACE_MOMENTUM * batch_mean,
            "norm_std": keep * state["norm_std"] + ADAFACE_MOMENTUM * batch_std}


def norm_target_input(name: str, features: torch.Tensor, params: dict, state: dict):
    """What the target of a norm-dependent loss takes beside cos(theta): MagFace's feature
    norm a (with its gradient: the margin shapes the norm), AdaFace's normalised n (without),
    None for the others."""
    if name == "magface":
        return features.norm(dim=1)
    if name == "adaface":
        return adaface_quality(features.norm(dim=1), state["norm_mean"], state["norm_std"],
                               params["h"])
    return None


def norm_penalty(name: str, features: torch.Tensor, **params) -> torch.Tensor:
    """MagFace's lambda_g * mean g(a), added to the cross-entropy; 0 for every other loss."""
    if name != "magface":
        return features.new_zeros(())
    p = resolve_params(name, params)
    a = features.to(torch.promote_types(features.dtype, torch.float32)).norm(dim=1)
    return p["lambda_g"] * magface_regulariser(a, p["l_a"], p["u_a"]).mean()


def curricular_negatives(cos: torch.Tensor, target: torch.Tensor, labels: torch.Tensor,
                         t: float) -> torch.Tensor:
    """CurricularFace's one step beyond the target logit: a non-target cosine above the
    sample's target logit (a hard negative) becomes cos (t + cos). Early in training (t near
    0) that lowers the hard negatives, so easy samples lead; as t grows towards 1 it raises
    them, and the hard samples weigh more: a curriculum."""
    hard = (cos > target.unsqueeze(1)).scatter(1, labels.view(-1, 1), False)
    return torch.where(hard, cos * (t + cos), cos)


def margin_logits(name: str, features: torch.Tensor, weight: torch.Tensor, labels: torch.Tensor,
                  bias: torch.Tensor | None = None, *, generator: torch.Generator | None = None,
                  state: dict | None = None, **params) -> torch.Tensor:
    """Logits (B, C) whose mean cross-entropy is the loss; weight is (C, D) like nn.Linear, or
    (C, K, D) for Sub-center ArcFace's K sub-centres per class (a (C, D) weight is K = 1).
    generator: ElasticFace draws its margins from it (without one, each margin is the mean).
    state: the running values of CurricularFace (t) and AdaCos (s); without it, their start.

    Computed in at least float32 so s * cos up to 64 cannot overflow half precision.
    """
    spec = get_spec(name)
    p = resolve_params(name, params)
    running = state if state is not None else initial_state(name, weight.shape[0])
    s = running["s"] if "s" in spec.state else p.get("s")  # AdaCos: the batches set s
    dtype = torch.promote_types(features.dtype, torch.float32)
    x, w = features.to(dtype), weight.to(dtype)
    if name == "softmax":
        return F.linear(x, w, None if bias is None else bias.to(dtype))
    if bias is not None:
        raise ValueError(f"{name} has no bias: only softmax takes one")
    x_unit = F.normalize(x, dim=1)
    if w.dim() == 3:  # sub-centres: the class cosine first, then the family's one idea
        cos = class_cosines(x_unit, w).clamp(-1, 1)
        cos_y = cos.gather(1, labels.view(-1, 1)).squeeze(1)
        target = target_from_cos(name, cos_y, p)
        return (s * cos).scatter_add_(1, labels.view(-1, 1), (s * (target - cos_y)).view(-1, 1))
    w_y = w[labels]
    # Fold the scale into the small operands: logits = a_i b_j cos_ij with a = ||x|| or s and
    # b = ||W|| or 1, so no pass over the (B, C) matrix is spent on it.
    rows = x if spec.keeps_feature_norm else s * x_unit
    cols = w if spec.keeps_weight_norm else F.normalize(w, dim=1)
    cos_y = (x_unit * F.normalize(w_y, dim=1)).sum(dim=1).clamp(-1, 1)
    target = target_from_cos(name, cos_y, p, generator=generator,
                             norm=norm_target_input(name, x, p, running))
    if spec.reweights_negatives:
        logits = s * curricular_negatives(x_unit @ cols.T, target, labels, running["t"])
    else:
        logits = rows @ cols.T
    scale_y = x.norm(dim=1) if spec.keeps_feature_norm else s
    if spec.keeps_weight_norm:
        scale_y = scale_y * w_y.norm(dim=1)
    correction = scale_y * (target - cos_y)
    # Same as cos + onehot * (target - cos), scaled; in place on the matmul output (mm keeps
    # its inputs, not its output, for backward) and without touching the other B(C-1) entries.
    return logits.scatter_add_(1, labels.view(-1, 1), correction.view(-1, 1))


def margin_loss(name: str, features: torch.Tensor, weight: torch.Tensor, labels: torch.Tensor,
                bias: torch.Tensor | None = None, *, generator: torch.Generator | None = None,
                state: dict | None = None, **params) -> torch.Tensor:
    """The cross-entropy of margin_logits, plus MagFace's regulariser of the norms."""
    return F.cross_entropy(margin_logits(name, features, weight, labels, bias,
                                         generator=generator, state=state, **params), labels) \
        + norm_penalty(name, features, **params)


def annealed_lambda(step: int, base: float = 1000.0, gamma: float = 0.12, power: float = 1.0,
                    lambda_min: float = 5.0) -> float:
    """SphereFace's schedule: start near plain softmax, then let the margin take over."""
    return max(lambda_min, base * (1 + gamma * step) ** -power)

"""Our losses against a maintained reference implementation, pytorch-metric-learning (PML).

tests/unit/test_losses.py checks each loss against its paper's formula; here the same
features and class weights go through PML's loss and ours, and the per-sample losses, their
mean and its gradient (w.r.t. the features and the weights) must agree. All in float64, so a
disagreement is a convention, not rounding.

PML's conventions, read from pytorch_metric_learning/losses/ (2.9.0):
- W is (embedding_size, num_classes): our (C, D) weight transposed; Sub-center ArcFace's W is
  (D, C * K), class-major (column c * K + k is sub-centre k of class c: get_cosine views the
  cosines as (B, C, K)), so it is our (C, K, D) weight reshaped to (C * K, D), transposed.
- ArcFace's margin is in degrees; past theta = pi - m it takes cos(theta) - m sin(m), our
  "threshold" tail (test_pml_implements_the_variant_we_say).
- NormalizedSoftmaxLoss divides by a temperature: s = 1 / temperature.
- LargeMarginSoftmaxLoss (L-Softmax) and SphereFaceLoss take an integer m and the paper's
  psi(theta) = (-1)^k cos(m theta) - 2k, with k from the angle where ours counts thresholds of
  the cosine; both have a `scale` that multiplies every logit (1 here: ours has none). Neither
  has SphereFace's lambda, which blends in plain softmax while training anneals it: they are
  our lam = 0, the margin alone. Nor the shortcut cos(m theta) without psi (our form 1).

Where PML's gradient is infinite and ours is not: ArcFace at theta = 0 exactly (PML takes
acos of the cosine, whose slope at 1 is infinite; ours goes through sqrt(1 - cos^2) with an
eps, see losses._sin_from_cos). The sweep's nearest samples sit 0.05 degrees (1e-3 rad) from
their weight, where both are finite and agree to 1e-8; closer, both lose digits the same way,
since an angle theta is known from its rounded cosine only to about eps / theta
(test_near_zero_both_agree_as_far_as_the_cosine_tells).
"""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from pytorch_metric_learning import losses as pml
from pytorch_metric_learning.reducers import DoNothingReducer

from lossviz.losses import margin_logits, margin_loss

# PML's L-Softmax builds its binomial table with numpy on torch tensors, which numpy 2 warns
# about; nothing of ours
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array_wrap__ must accept context:DeprecationWarning")

CLASSES = 10
SUBCENTERS = 3


def unit_rows(a: np.ndarray) -> np.ndarray:
    return a / np.linalg.norm(a, axis=-1, keepdims=True)


def perpendicular(direction: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random unit vector at 90 degrees to a unit `direction` (in 2D one of the two)."""
    v = rng.normal(size=direction.shape)
    v -= (v @ direction) * direction
    return unit_rows(v)


def target_angles(m: float) -> np.ndarray:
    """The angles between a feature and its class weight: near 0, the body of the curve,
    either side of 90 degrees (the easy margin's edge), either side of pi - m (where
    cos(theta + m) turns back up and the tails part) and up to nearly pi. None closer than
    1e-3 rad to pi - m: the threshold tail jumps there, and PML tests the angle where ours
    tests the cosine, so a rounding could put a sample on either side."""
    degrees = np.radians([0.05, 0.5, 1, 5, 15, 30, 45, 60, 75, 89, 91, 105, 120, 135, 150, 165,
                          170, 175, 179, 179.9])
    around_turn = math.pi - m + np.array([-0.05, -1e-3, 1e-3, 0.05])
    return np.concatenate([degrees, around_turn])


def class_weights(dim: int, rng: np.random.Generator) -> np.ndarray:
    """(C, D): random directions with norms between 0.5 and 2 (L-Softmax keeps them)."""
    return unit_rows(rng.normal(size=(CLASSES, dim))) * rng.uniform(0.5, 2.0, (CLASSES, 1))


def features_at(anchors: np.ndarray, angles: np.ndarray, rng: np.random.Generator):
    """(B, D) features at the given angles from the given (B, D) unit anchors, norms 0.3..5
    (L-Softmax and SphereFace keep them)."""
    around = np.stack([perpendicular(a, rng) for a in anchors])
    directions = np.cos(angles)[:, None] * anchors + np.sin(angles)[:, None] * around
    return directions * rng.uniform(0.3, 5.0, (len(angles), 1))


def batch(dim: int, seed: int, m: float = 0.5):
    """Each angle of target_angles twice, with labels cycling over the classes: (x, w, y)."""
    rng = np.random.default_rng(seed)
    w = class_weights(dim, rng)
    angles = np.tile(target_angles(m), 2)
    y = np.arange(len(angles)) % CLASSES
    return features_at(unit_rows(w)[y], angles, rng), w, y


def subcenter_batch(dim: int, m: float, seed: int):
    """(x, w (C, K, D), y): each class's K sub-centres a few degrees from one direction (close
    enough that a feature can be past pi - m from all of them), the features placed from
    sub-centre i % K. The class cosine is the largest of the K, so the angle that counts is
    not always the one placed: the test measures it (class_angles)."""
    rng = np.random.default_rng(seed)
    base = unit_rows(rng.normal(size=(CLASSES, dim)))
    centres = np.stack([unit_rows(base + 0.05 * rng.normal(size=base.shape))
                        for _ in range(SUBCENTERS)], axis=1)
    w = centres * rng.uniform(0.5, 2.0, (CLASSES, SUBCENTERS, 1))
    angles = np.tile(target_angles(m), 2)
    rows = np.arange(len(angles))
    y = rows % CLASSES
    return features_at(centres[y, rows % SUBCENTERS], angles, rng), w, y


def subcenter_cosines(x: np.ndarray, w: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(B, K): the cosine of each feature to each sub-centre of its class, w (C, K, D); a
    (C, D) weight counts as one sub-centre per class."""
    centres = unit_rows(w if w.ndim == 3 else w[:, None, :])[y]
    return np.einsum("bkd,bd->bk", centres, unit_rows(x))


def class_angles(x: np.ndarray, w: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The angle to the labelled class: to its nearest sub-centre when w is (C, K, D)."""
    return np.arccos(np.clip(subcenter_cosines(x, w, y).max(axis=1), -1, 1))


def pml_weight(w: np.ndarray) -> torch.Tensor:
    """PML's W (D, C) or (D, C * K), class-major, from our (C, D) or (C, K, D)."""
    return torch.tensor(w.reshape(-1, w.shape[-1]).T.copy())


def pml_loss(name: str, params: dict, dim: int):
    """PML's counterpart of our loss `name` with our parameters, per-sample (DoNothingReducer)."""
    common = dict(num_classes=CLASSES, embedding_size=dim, reducer=DoNothingReducer())
    if name == "arcface":
        return pml.ArcFaceLoss(margin=math.degrees(params["m"]), scale=params["s"], **common)
    if name == "subcenter":
        return pml.SubCenterArcFaceLoss(margin=math.degrees(params["m"]), scale=params["s"],
                                        sub_centers=params["k"], **common)
    if name == "cosface":
        return pml.CosFaceLoss(margin=params["m"], scale=params["s"], **common)
    if name == "normface":
        return pml.NormalizedSoftmaxLoss(temperature=1 / params["s"], **common)
    if name == "lsoftmax":
        return pml.LargeMarginSoftmaxLoss(margin=params["m"], scale=1, **common)
    assert name == "sphereface"
    return pml.SphereFaceLoss(margin=params["m"], scale=1, **common)


def run_pml(name, params, x, w, y):
    """(per-sample losses, their mean's gradient w.r.t. x, w.r.t. w in our layout)."""
    loss_fn = pml_loss(name, params, x.shape[1])
    loss_fn.W.data = pml_weight(w)
    features = torch.tensor(x, requires_grad=True)
    per_sample = loss_fn(features, torch.tensor(y))["loss"]["losses"]
    per_sample.mean().backward()
    w_grad = loss_fn.W.grad.T.reshape(w.shape)
    return per_sample.detach().numpy(), features.grad.numpy(), w_grad.numpy()


def run_ours(name, params, x, w, y):
    """The same three from margin_logits -> cross-entropy, and margin_loss for the mean (with
    anything a loss adds to the cross-entropy: none of these adds anything)."""
    features = torch.tensor(x, requires_grad=True)
    weight = torch.tensor(w, requires_grad=True)
    labels = torch.tensor(y)
    logits = margin_logits(name, features.detach(), weight.detach(), labels, **params)
    per_sample = F.cross_entropy(logits, labels, reduction="none")
    mean = margin_loss(name, features, weight, labels, **params)
    mean.backward()
    assert mean.item() == pytest.approx(per_sample.mean().item(), rel=1e-12)
    return per_sample.numpy(), features.grad.numpy(), weight.grad.numpy()


def assert_agree(name, params, x, w, y):
    ours, theirs = run_ours(name, params, x, w, y), run_pml(name, params, x, w, y)
    for what, a, b in zip(("per-sample loss", "d loss / d features", "d loss / d weights"),
                          ours, theirs):
        scale = np.abs(b).max()
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10 * scale,
                                   err_msg=f"{name} {params}: {what} differs from PML")


ARCFACE = [{"s": 64.0, "m": 0.5}, {"s": 16.0, "m": 0.1}, {"s": 30.0, "m": 0.3},
           {"s": 8.0, "m": 1.2}]
COSFACE = [{"s": 64.0, "m": 0.35}, {"s": 16.0, "m": 0.1}, {"s": 30.0, "m": 0.25},
           {"s": 4.0, "m": 0.9}]
NORMFACE = [{"s": 1.0}, {"s": 16.0}, {"s": 64.0}]
# PML has no lambda (see the module's docstring): the margin alone, lam = 0, psi (form 0)
MULTIPLICATIVE = [{"m": m, "lam": 0.0} for m in range(1, 7)]
# m from 0.2: below it, no feature can be past pi - m from all three sub-centres of a class
SUBCENTER = [{"s": 64.0, "m": 0.5, "k": SUBCENTERS}, {"s": 16.0, "m": 0.3, "k": SUBCENTERS},
             {"s": 30.0, "m": 0.2, "k": SUBCENTERS}]
CASES = ([("arcface", p | {"tail": 0}) for p in ARCFACE]
         + [("cosface", p) for p in COSFACE] + [("normface", p) for p in NORMFACE]
         + [("lsoftmax", p) for p in MULTIPLICATIVE]
         + [("sphereface", p | {"form": 0}) for p in MULTIPLICATIVE])


def case_id(case):
    name, params = case
    return name + "-" + "-".join(f"{k}{v:g}" for k, v in params.items())


@pytest.mark.parametrize("dim", [2, 3])
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_loss_and_gradients_match_pml(case, dim):
    name, params = case
    x, w, y = batch(dim, seed=dim, m=params["m"] if name == "arcface" else 0.5)
    assert_agree(name, params, x, w, y)


@pytest.mark.parametrize("dim", [2, 3])
@pytest.mark.parametrize("params", SUBCENTER, ids=lambda p: f"s{p['s']:g}-m{p['m']:g}")
def test_subcenter_arcface_matches_pml(params, dim):
    x, w, y = subcenter_batch(dim, params["m"], seed=10 + dim)
    theta = class_angles(x, w, y)
    # the spread reached what it is for: near 0, past pi - m, never on the jump at pi - m,
    # and every sub-centre is the nearest of its class for some feature
    assert theta.min() < 2e-3 and (theta > math.pi - params["m"]).sum() >= 2
    assert np.abs(theta - (math.pi - params["m"])).min() > 1e-5
    assert set(subcenter_cosines(x, w, y).argmax(axis=1)) == set(range(SUBCENTERS))
    assert_agree("subcenter", params, x, w, y)


# Which variant PML implements: for each value of our setting, the angle past which it parts
# from PML (pi: never). ArcFace's raw curve agrees up to pi - m, its easy margin up to 90
# degrees; SphereFace's shortcut cos(m theta) agrees with psi up to pi / m.
VARIANTS = [("arcface", {"s": 16.0, "m": m}, "tail", {0: math.pi, 1: math.pi / 2, 2: math.pi - m})
            for m in (0.3, 0.5)] + \
           [("sphereface", {"m": m, "lam": 0.0}, "form", {0: math.pi, 1: math.pi / m})
            for m in (2, 4)]


@pytest.mark.parametrize("name,params,setting,parts_at", VARIANTS,
                         ids=[f"{v[0]}-m{v[1]['m']:g}" for v in VARIANTS])
def test_pml_implements_the_variant_we_say(name, params, setting, parts_at):
    """PML's ArcFace takes cos(theta) - m sin(m) past pi - m (our threshold tail) and its
    SphereFace the paper's psi (our form 0): each other variant agrees with it exactly up to
    where it parts from it, and nowhere after."""
    x, w, y = batch(3, seed=0, m=params["m"] if name == "arcface" else 0.5)
    theta = class_angles(x, w, y)
    pml_losses = run_pml(name, params, x, w, y)[0]
    for variant, angle in parts_at.items():
        ours = run_ours(name, params | {setting: variant}, x, w, y)[0]
        same = np.isclose(ours, pml_losses, rtol=1e-8, atol=1e-10)
        assert same[theta < angle].all(), f"{setting} {variant} differs before {angle:.3f}"
        past = theta > angle + 1e-3
        assert (variant == 0) or (past.sum() >= 4 and not same[past].any()), \
            f"{setting} {variant} is PML's past {angle:.3f}"


@pytest.mark.parametrize("name,params", [("arcface", {"s": 64.0, "m": 0.5, "tail": 0}),
                                         ("subcenter", {"s": 64.0, "m": 0.5, "k": SUBCENTERS})])
def test_near_zero_both_agree_as_far_as_the_cosine_tells(name, params):
    """Closer to theta = 0 than the sweep: 1e-4 and 1e-5 rad. An angle is known from its
    rounded cosine only to about eps / theta, eps / theta^2 of itself, in PML (acos) as in
    ours (sqrt(1 - cos^2)): the per-sample losses and each feature's gradient agree to that."""
    rng = np.random.default_rng(7)
    angles = np.repeat([1e-4, 1e-5], CLASSES)
    y = np.arange(len(angles)) % CLASSES
    if name == "subcenter":
        w = unit_rows(rng.normal(size=(CLASSES, SUBCENTERS, 3))) * 1.5
        anchors = unit_rows(w)[y, 0]
    else:
        w = class_weights(3, rng)
        anchors = unit_rows(w)[y]
    x = features_at(anchors, angles, rng)
    ours, theirs = run_ours(name, params, x, w, y), run_pml(name, params, x, w, y)
    tol = 1e-8 + 100 * np.finfo(np.float64).eps / angles**2
    np.testing.assert_array_less(np.abs(ours[0] - theirs[0]), tol * np.abs(theirs[0]) + 1e-12)
    row_error = np.abs(ours[1] - theirs[1]).max(axis=1)
    np.testing.assert_array_less(row_error, tol * np.abs(theirs[1]).max(axis=1))

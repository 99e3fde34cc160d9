"""The loss library against an oracle written separately with plain angles and numpy."""
import math

import numpy as np
import pytest
import torch

from lossviz.losses import (ADACOS_S_RANGE, LOSSES, annealed_lambda, initial_state,
                            margin_logits, margin_loss, next_state, psi, resolve_params,
                            target_from_cos, target_logit)

PARAMS = {
    "softmax": {},
    "lsoftmax": {"m": 3},
    "sphereface": {"m": 4, "lam": 2.0},
    "normface": {"s": 10.0},
    "cosface": {"s": 30.0, "m": 0.35},
    "arcface": {"s": 30.0, "m": 0.5},
    "combined": {"s": 30.0, "m1": 1.3, "m2": 0.3, "m3": 0.1},
    "elasticface": {"s": 30.0, "m": 0.5, "sigma": 0.1},  # without a generator: the mean margin
}


def end_of_descent(slope) -> float:
    """Where a curve whose derivative is slope(theta) first starts to rise on [0, pi], found
    numerically: the first point of a fine grid where the slope is positive, then bisection."""
    grid = np.linspace(0, np.pi, 20001)
    rising = np.flatnonzero(slope(grid) > 0)
    if len(rising) == 0:
        return np.pi
    low, high = grid[rising[0] - 1], grid[rising[0]]
    for _ in range(100):
        middle = (low + high) / 2
        low, high = (low, middle) if slope(middle) > 0 else (middle, high)
    return low


def oracle_target(name, theta, p):
    """The target term from its paper's formula, applied to the angle itself. ArcFace and the
    combined margin follow their curve only while it decreases (found numerically, not from
    the implementation's threshold); past that, ArcFace takes insightface's cos(theta) - m
    sin(m), and the combined margin cos(theta) shifted to meet the curve at its lowest point.
    ArcFace's other tails and SphereFace's shortcut as their repositories write them."""
    def psi_by_angle(m):
        k = np.minimum(np.floor(m * theta / np.pi), m - 1)
        return (-1) ** k * np.cos(m * theta) - 2 * k
    if name in ("softmax", "normface"):
        return np.cos(theta)
    if name in ("lsoftmax", "sphereface"):
        # form 1: the shortcut of many repositories, cos(m theta) without psi
        angular = np.cos(p["m"] * theta) if p.get("form") == 1 else psi_by_angle(p["m"])
        return (p["lam"] * np.cos(theta) + angular) / (1 + p["lam"])
    if name == "cosface":
        return np.cos(theta) - p["m"]
    if name in ("arcface", "elasticface"):
        m = p["m"]
        if p.get("tail") == 1:  # easy margin: the margin only for angles under 90 degrees
            return np.where(theta < np.pi / 2, np.cos(theta + m), np.cos(theta))
        if p.get("tail") == 2:  # raw
            return np.cos(theta + m)
        turn = end_of_descent(lambda t: -np.sin(t + m))
        return np.where(theta <= turn, np.cos(theta + m), np.cos(theta) - m * np.sin(m))
    m1, m2, m3 = p["m1"], p["m2"], p["m3"]
    curve = lambda t: np.cos(m1 * t + m2) - m3  # noqa: E731
    turn = end_of_descent(lambda t: -m1 * np.sin(m1 * t + m2))
    return np.where(theta <= turn, curve(theta), np.cos(theta) - np.cos(turn) + curve(turn))


def oracle_loss(name, x, w, y, p):
    xn, wn = np.linalg.norm(x, axis=1), np.linalg.norm(w, axis=1)
    cos = np.clip((x @ w.T) / np.outer(xn, wn), -1, 1)
    rows = np.arange(len(y))
    target_cos = oracle_target(name, np.arccos(cos[rows, y]), {**LOSSES[name].defaults(), **p})
    cos[rows, y] = target_cos
    spec = LOSSES[name]
    scale = xn[:, None] if spec.keeps_feature_norm else p.get("s", 1.0)
    logits = cos * (scale * wn[None, :] if spec.keeps_weight_norm else scale)
    top = logits.max(axis=1, keepdims=True)
    lse = top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))
    return float(np.mean(lse - logits[rows, y]))


def angle_sweep():
    """Features every 7.5 degrees (norms 0.5..3) against five 2D weights of mixed norms."""
    angles = np.radians(np.arange(0, 360, 7.5))
    norms = 0.5 + 2.5 * (np.arange(len(angles)) % 5) / 4
    x = np.stack([np.cos(angles), np.sin(angles)], 1) * norms[:, None]
    w_angles = np.radians([0, 72, 144, 216, 288])
    w = np.stack([np.cos(w_angles), np.sin(w_angles)], 1) * np.array([1, 2, 0.7, 1.5, 1.1])[:, None]
    y = np.arange(len(angles)) % 5
    return x, w, y


# The variants people copy: ArcFace's easy margin and raw tail, SphereFace without psi
VARIANTS = [("arcface", {"s": 30.0, "m": 0.5, "tail": 1}), ("arcface", {"s": 30.0, "m": 0.5, "tail": 2}),
            ("sphereface", {"m": 4, "lam": 2.0, "form": 1}), ("sphereface", {"m": 3, "lam": 0.0, "form": 1})]
CASES = [(name, params) for name, params in PARAMS.items()] + VARIANTS


@pytest.mark.parametrize("name,params", CASES)
@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-9), (torch.float32, 2e-4)])
def test_loss_matches_oracle_over_angle_sweep(name, params, dtype, tol):
    x, w, y = angle_sweep()
    got = margin_loss(name, torch.tensor(x, dtype=dtype), torch.tensor(w, dtype=dtype),
                      torch.tensor(y), **params).item()
    assert got == pytest.approx(oracle_loss(name, x, w, y, params), rel=tol, abs=tol)


def test_arcface_tails_differ_only_where_common_code_differs():
    theta = np.radians(np.arange(0.0, 180.5, 0.5))
    threshold, easy, raw = (target_logit("arcface", theta, m=0.5, tail=i) for i in range(3))
    below_90, above_90 = theta < np.pi / 2 - 1e-9, theta > np.pi / 2 + 1e-9
    past_turn = theta > np.pi - 0.5
    np.testing.assert_allclose(easy[below_90], threshold[below_90])  # the same margin up to 90
    np.testing.assert_allclose(easy[above_90], np.cos(theta[above_90]))  # then none
    np.testing.assert_allclose(raw[~past_turn], threshold[~past_turn])  # same up to pi - m
    assert np.diff(raw[past_turn]).min() > 0  # then the raw curve climbs back up
    jump = easy[above_90][0] - easy[below_90][-1]
    assert jump == pytest.approx(math.sin(0.5), abs=0.02)  # up by sin m, over 1 degree


def test_softmax_bias_is_added():
    x, w, y = angle_sweep()
    b = torch.tensor([0.5, -1.0, 0.0, 2.0, 0.3], dtype=torch.float64)
    logits = margin_logits("softmax", torch.tensor(x), torch.tensor(w), torch.tensor(y), bias=b)
    np.testing.assert_allclose(logits.numpy(), x @ w.T + b.numpy(), atol=1e-12)


def _logits(name, x, w, y, **p):
    return margin_logits(name, torch.tensor(x), torch.tensor(w), torch.tensor(y), **p).numpy()


@pytest.mark.parametrize("m", [0.1, 0.35, 0.6])
def test_combined_reduces_to_its_three_special_cases(m):
    x, w, y = angle_sweep()
    np.testing.assert_allclose(_logits("combined", x, w, y, s=20.0, m1=1, m2=0, m3=0),
                               _logits("normface", x, w, y, s=20.0), atol=1e-6)
    np.testing.assert_allclose(_logits("combined", x, w, y, s=20.0, m1=1, m2=0, m3=m),
                               _logits("cosface", x, w, y, s=20.0, m=m), atol=1e-6)
    theta = np.linspace(0, np.pi - m - 1e-9, 500)
    np.testing.assert_allclose(target_logit("combined", theta, m1=1, m2=m, m3=0),
                               target_logit("arcface", theta, m=m), atol=1e-6)


def test_multiplicative_margin_one_is_plain_softmax():
    x, w, y = angle_sweep()
    np.testing.assert_allclose(_logits("lsoftmax", x, w, y, m=1), x @ w.T, atol=1e-9)
    w_unit = w / np.linalg.norm(w, axis=1, keepdims=True)
    np.testing.assert_allclose(_logits("sphereface", x, w, y, m=1), x @ w_unit.T, atol=1e-9)


@pytest.mark.parametrize("m", range(1, 7))
def test_psi_is_continuous_and_decreasing(m):
    theta = torch.linspace(0, math.pi, 20001, dtype=torch.float64)
    values = psi(torch.cos(theta), m)
    steps = values.diff()
    assert steps.max() <= 1e-12, "psi must not increase anywhere on [0, pi]"
    assert steps.abs().max() < 1e-2, "a jump means psi is discontinuous"
    assert values[0] == pytest.approx(1.0) and values[-1] == pytest.approx(1 - 2 * m)


def test_target_values_at_known_angles():
    sixty = math.radians(60)
    assert target_logit("arcface", sixty, m=0.5) == pytest.approx(math.cos(sixty + 0.5))
    assert target_logit("cosface", sixty, m=0.35) == pytest.approx(0.5 - 0.35)
    assert target_logit("sphereface", sixty, m=4) == pytest.approx(-math.cos(4 * sixty) - 2)
    assert target_logit("combined", sixty, m1=2, m2=0.1, m3=0.2) == \
        pytest.approx(math.cos(2 * sixty + 0.1) - 0.2)


def test_arcface_fix_is_monotonic_where_raw_curve_turns_back():
    theta = np.linspace(0, np.pi, 3001)
    raw = target_logit("arcface", theta, m=0.5, raw=True)
    fixed = target_logit("arcface", theta, m=0.5)
    assert np.diff(raw).max() > 0.0  # cos(theta + m) rises again past pi - m
    assert np.diff(fixed).max() <= 1e-12
    past = theta > np.pi - 0.5
    np.testing.assert_allclose(fixed[past], np.cos(theta[past]) - 0.5 * np.sin(0.5))


@pytest.mark.parametrize("name,case", CASES)
@pytest.mark.parametrize("s", [1.0, 64.0])
def test_gradients_are_finite_at_cos_plus_and_minus_one(name, case, s):
    w = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    # each feature lies exactly on its own weight, or exactly opposite it
    x = torch.tensor([[2.0, 0.0, 0.0], [0.0, -3.0, 0.0], [0.0, 0.0, 0.5], [-1.0, 0.0, 0.0]],
                     requires_grad=True)
    y = torch.tensor([0, 1, 2, 0])
    w.requires_grad_(True)
    params = {k: v for k, v in case.items() if k != "s"}
    if "s" in LOSSES[name].defaults():
        params["s"] = s
    loss = margin_loss(name, x, w, y, **params)
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.isfinite(x.grad).all() and torch.isfinite(w.grad).all()


@pytest.mark.parametrize("name,case", CASES)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_inputs_give_float32_logits_and_finite_gradients(name, case, dtype):
    gen = torch.Generator().manual_seed(0)
    x = (torch.randn(64, 3, generator=gen) * 20).to(dtype).requires_grad_(True)
    w = torch.randn(10, 3, generator=gen).to(dtype).requires_grad_(True)
    y = torch.randint(0, 10, (64,), generator=gen)
    params = {**case, **({"s": 64.0} if "s" in case else {})}
    logits = margin_logits(name, x, w, y, **params)
    assert logits.dtype == torch.float32
    loss = torch.nn.functional.cross_entropy(logits, y)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(x.grad.float()).all()
    reference = margin_loss(name, x.detach().float(), w.detach().float(), y, **params)
    assert loss.item() == pytest.approx(reference.item(), rel=0.05)


def test_bad_parameters_say_what_is_wrong():
    with pytest.raises(ValueError, match="unknown loss 'arc'"):
        resolve_params("arc", {})
    with pytest.raises(ValueError, match="no parameter q"):
        resolve_params("cosface", {"q": 1})
    with pytest.raises(ValueError, match="must be an integer"):
        resolve_params("sphereface", {"m": 2.5})
    with pytest.raises(ValueError, match="outside"):
        resolve_params("arcface", {"s": float("nan")})
    with pytest.raises(ValueError, match="only softmax takes one"):
        margin_logits("cosface", torch.ones(1, 2), torch.ones(3, 2), torch.zeros(1, dtype=int),
                      bias=torch.zeros(3))


def test_lambda_annealing_schedule():
    assert annealed_lambda(0) == 1000.0
    assert annealed_lambda(100) == pytest.approx(1000 / 13)
    assert annealed_lambda(10**6) == 5.0
    assert annealed_lambda(10, base=100, gamma=1, power=2, lambda_min=0) == pytest.approx(100 / 121)


def test_every_loss_documents_its_parameters_and_presets():
    for spec in LOSSES.values():
        for p in spec.params:
            assert p.low <= p.default <= p.high and p.step > 0
        for preset in spec.presets.values():
            resolve_params(spec.name, preset)


def test_elasticface_draws_each_margin_from_a_normal_around_m():
    """Recover every drawn margin from the target (theta + m_i = acos f) and check their
    distribution; and the mean target against E[cos(theta + m_i)] = cos(theta + m) e^(-sigma^2/2)."""
    theta, m, sigma, n = math.radians(50), 0.4, 0.1, 40_000
    cos = torch.full((n,), math.cos(theta), dtype=torch.float64)
    generator = torch.Generator().manual_seed(0)
    target = target_from_cos("elasticface", cos, {"m": m, "sigma": sigma}, generator=generator)
    margins = np.arccos(target.numpy()) - theta
    assert margins.mean() == pytest.approx(m, abs=0.003)
    assert margins.std() == pytest.approx(sigma, rel=0.03)
    assert target.mean().item() == pytest.approx(math.cos(theta + m) * math.exp(-sigma**2 / 2),
                                                 abs=0.002)


def test_elasticface_without_spread_is_arcface_and_the_generator_decides_the_draws():
    x, w, y = angle_sweep()
    x, w, y = torch.tensor(x), torch.tensor(w), torch.tensor(y)
    arc = margin_loss("arcface", x, w, y, s=30.0, m=0.3)
    flat = margin_loss("elasticface", x, w, y, s=30.0, m=0.3, sigma=0.0,
                       generator=torch.Generator().manual_seed(1))
    assert flat.item() == pytest.approx(arc.item(), rel=1e-12)
    draws = [margin_loss("elasticface", x, w, y, s=30.0, m=0.3, sigma=0.2,
                         generator=torch.Generator().manual_seed(seed)).item()
             for seed in (1, 1, 2)]
    assert draws[0] == draws[1] != draws[2]


# ---- the two later members that carry a running value: CurricularFace's t, AdaCos's s ----------
def curricular_oracle(x, w, y, s, m, t):
    """Huang et al. 2020, eq. 6-8, sample by sample: the target logit s cos(theta_y + m); a
    negative j with cos(theta_y + m) - cos(theta_j) < 0 (hard) gives s cos(theta_j)
    (t + cos(theta_j)), any other negative s cos(theta_j). Then softmax cross-entropy."""
    total = 0.0
    for xi, yi in zip(x, y):
        cos = [float(np.dot(xi, wj) / np.linalg.norm(xi) / np.linalg.norm(wj)) for wj in w]
        target = math.cos(math.acos(cos[yi]) + m)
        logits = [s * target if j == yi else s * c * (t + c) if target - c < 0 else s * c
                  for j, c in enumerate(cos)]
        total += math.log(sum(math.exp(v) for v in logits)) - logits[yi]
    return total / len(y)


def own_angle_sweep(limit):
    """angle_sweep's features turned so that each lies within limit radians of its own weight
    (where cos(theta + m) still decreases), at 3.75-degree steps on either side."""
    x, w, y = angle_sweep()
    w_angles = np.arctan2(w[:, 1], w[:, 0])
    offsets = np.linspace(-limit, limit, len(y))
    angles = w_angles[y] + offsets
    return np.stack([np.cos(angles), np.sin(angles)], 1) * np.linalg.norm(x, axis=1)[:, None], w, y


@pytest.mark.parametrize("t", [0.0, 0.3, 0.9])
@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-9), (torch.float32, 2e-4)])
def test_curricularface_matches_its_paper(t, dtype, tol):
    x, w, y = own_angle_sweep(math.pi - 0.6)
    got = margin_loss("curricularface", torch.tensor(x, dtype=dtype), torch.tensor(w, dtype=dtype),
                      torch.tensor(y), s=30.0, m=0.5, state={"t": t}).item()
    assert got == pytest.approx(curricular_oracle(x, w, y, 30.0, 0.5, t), rel=tol, abs=tol)


def test_curricularface_changes_only_the_hard_negatives():
    x, w, y = (torch.tensor(a) for a in own_angle_sweep(math.pi - 0.6))
    arc = margin_logits("arcface", x, w, y, s=30.0, m=0.5)
    for t in (0.0, 0.5):
        curricular = margin_logits("curricularface", x, w, y, s=30.0, m=0.5, state={"t": t})
        changed = ~torch.isclose(curricular, arc, rtol=0, atol=1e-12)
        target = arc.gather(1, y.view(-1, 1))
        hard = (arc > target).scatter(1, y.view(-1, 1), False)
        assert changed.any() and torch.equal(changed, hard & (arc / 30.0 * (t + arc / 30.0) != arc / 30.0))


def test_curricularface_t_is_a_running_mean_of_the_target_cosines_from_zero():
    gen = torch.Generator().manual_seed(0)
    x, w = (torch.randn(n, 3, generator=gen, dtype=torch.float64) for n in (33, 10))
    y = torch.randint(0, 10, (33,), generator=gen)
    xs, ws = x.numpy(), w.numpy()
    cos_y = np.array([np.dot(a, ws[b]) / np.linalg.norm(a) / np.linalg.norm(ws[b])
                      for a, b in zip(xs, y.numpy())])
    state = initial_state("curricularface", 10)
    assert state == {"t": 0.0}
    for expected_t in (0.01 * cos_y.mean(), 0.99 * 0.01 * cos_y.mean() + 0.01 * cos_y.mean()):
        state = next_state("curricularface", state, x, w, y, {})
        assert state["t"] == pytest.approx(expected_t, rel=1e-12)


def adacos_oracle_scale(x, w, y, s_old):
    """Zhang et al. 2019, algorithm 1, written out: B_avg = (1/N) sum_i sum_{k != y_i}
    e^(s_old cos theta_ik); theta_med the median of the target angles;
    s = log(B_avg) / cos(min(pi/4, theta_med))."""
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    wn = w / np.linalg.norm(w, axis=1, keepdims=True)
    cos = xn @ wn.T
    b_avg = np.mean([sum(math.exp(s_old * cos[i, k]) for k in range(len(w)) if k != y[i])
                     for i in range(len(y))])
    theta_med = np.median(np.arccos(cos[np.arange(len(y)), y]))
    return math.log(b_avg) / math.cos(min(math.pi / 4, theta_med))


@pytest.mark.parametrize("spread", [0.3, 3.0])  # features near their weights, and random
def test_adacos_scale_follows_its_algorithm_and_logits_are_normface_at_that_scale(spread):
    gen = torch.Generator().manual_seed(1)
    w = torch.randn(10, 3, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 10, (64,), generator=gen)  # even: the median is the mean of two
    x = w[y] + spread * torch.randn(64, 3, generator=gen, dtype=torch.float64)
    state = initial_state("adacos", 10)
    assert state["s"] == pytest.approx(math.sqrt(2) * math.log(9))
    for _ in range(3):
        expected = adacos_oracle_scale(x.numpy(), w.numpy(), y.numpy(), state["s"])
        state = next_state("adacos", state, x, w, y, {})
        assert state["s"] == pytest.approx(expected, rel=1e-9)
    loss = margin_loss("adacos", x, w, y, state=state).item()
    assert loss == pytest.approx(oracle_loss("normface", x.numpy(), w.numpy(), y.numpy(),
                                             {"s": state["s"]}), rel=1e-9)
    fixed = next_state("adacos", state, x, w, y, {"mode": 1})
    assert fixed["s"] == pytest.approx(math.sqrt(2) * math.log(9))


@pytest.mark.parametrize("name,state", [("curricularface", {"t": -1.0}),
                                        ("curricularface", {"t": 1.0}),
                                        ("adacos", {"s": 1.0}), ("adacos", {"s": 64.0})])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float16])
def test_later_members_have_finite_gradients_at_the_ends_of_their_state(name, state, dtype):
    """Features exactly on and opposite their weights (cos = +-1), at the extremes of t and s,
    in full and half precision."""
    w = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], dtype=dtype,
                     requires_grad=True)
    x = torch.tensor([[2.0, 0.0, 0.0], [0.0, -3.0, 0.0], [0.0, 0.0, 0.5], [-1.0, 0.0, 0.0]],
                     dtype=dtype, requires_grad=True)
    y = torch.tensor([0, 1, 2, 0])
    params = {"s": 64.0, "m": 0.5} if name == "curricularface" else {}
    logits = margin_logits(name, x, w, y, state=state, **params)
    assert logits.dtype == torch.promote_types(dtype, torch.float32)
    loss = torch.nn.functional.cross_entropy(logits, y)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(x.grad.float()).all()
    assert torch.isfinite(w.grad.float()).all()
    after = next_state(name, state, x, w, y, params)
    assert all(math.isfinite(v) for v in after.values())


def test_adacos_scale_stays_within_the_range_of_every_other_s():
    """One sample whose negatives all point away: B_avg < 1 and the formula's s would be
    negative; a near-saturated batch the other way."""
    w = torch.tensor([[1.0, 0.0], [-1.0, 0.0]], dtype=torch.float64)
    x, y = torch.tensor([[1.0, 0.0]], dtype=torch.float64), torch.tensor([0])
    assert next_state("adacos", {"s": 5.0}, x, w, y, {})["s"] == ADACOS_S_RANGE[0]
    x_far = torch.tensor([[-1.0, 0.01]], dtype=torch.float64)
    assert next_state("adacos", {"s": 64.0}, x_far, w, y, {})["s"] == ADACOS_S_RANGE[1]

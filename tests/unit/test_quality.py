"""MagFace and AdaFace, the losses that read the feature norm as image quality, and the degraded
digits that give the norm something to read. Formulas are written from the papers, sample by
sample in plain Python, sharing no code with losses.py."""
import io
import math

import numpy as np
import pytest
import torch

from lossviz.checkpoint import CheckpointError, checkpoint_bytes, load_checkpoint
from lossviz.curves import Curve, margin_band, theta_grid
from lossviz.degrade import CLEAN, KINDS, degrade_digits
from lossviz.i18n import LossvizError
from lossviz.losses import margin_logits, margin_loss, next_state, target_from_cos, target_logit
from lossviz.train import Run, TrainConfig, preset_config

MAG = {"s": 16.0, "l_a": 1.0, "u_a": 11.0, "l_m": 0.2, "u_m": 0.6, "lambda_g": 3.5}
ADA = {"s": 16.0, "m": 0.4, "h": 0.333}


def cross_entropy(logits, y):
    top = max(logits)
    return -(logits[y] - top - math.log(sum(math.exp(v - top) for v in logits)))


def unit_cosines(x, weight):
    x_norm = math.sqrt(sum(v * v for v in x))
    return [sum(a * b for a, b in zip(x, w)) / (x_norm * math.sqrt(sum(v * v for v in w)))
            for w in weight], x_norm


def magface_paper_loss(features, weight, labels, s, l_a, u_a, l_m, u_m, lambda_g):
    """Meng et al. 2021, eq. 3-5: L_i = -log softmax of s cos(theta_y + m(a_i)) among s cos
    theta_j, plus lambda_g g(a_i); m(a) = (u_m - l_m)/(u_a - l_a) (a - l_a) + l_m and g(a) =
    1/a + a/u_a^2, with a within [l_a, u_a]."""
    total = 0.0
    for x, y in zip(features.tolist(), labels.tolist()):
        cos, a = unit_cosines(x, weight.tolist())
        a = min(max(a, l_a), u_a)
        margin = (u_m - l_m) / (u_a - l_a) * (a - l_a) + l_m
        logits = [s * c for c in cos]
        logits[y] = s * math.cos(math.acos(cos[y]) + margin)
        total += cross_entropy(logits, y) + lambda_g * (1 / a + a / u_a**2)
    return total / len(labels)


def adaface_paper_logits(features, weight, labels, s, m, h, mean, std):
    """Kim et al. 2022, eq. 11-12: n = clip((||z|| - mu) / (sigma / h), -1, 1); the target
    logit s (cos(theta_y + g_angle) - g_add), g_angle = -m n, g_add = m n + m. With each row,
    whether theta_y + g_angle stays within [0, pi], where the paper's code does not clamp it."""
    rows, inside = [], []
    for x, y in zip(features.tolist(), labels.tolist()):
        cos, norm = unit_cosines(x, weight.tolist())
        n = min(1.0, max(-1.0, (norm - mean) / (std / h)))
        logits = [s * c for c in cos]
        angle = math.acos(cos[y]) - m * n
        logits[y] = s * (math.cos(angle) - (m * n + m))
        rows.append(logits)
        inside.append(0 <= angle <= math.pi)
    return rows, inside


def random_case(seed, count=64, dim=3, scale=3.0):
    generator = torch.Generator().manual_seed(seed)
    features = scale * torch.randn(count, dim, generator=generator, dtype=torch.float64)
    weight = torch.randn(10, dim, generator=generator, dtype=torch.float64)
    labels = torch.randint(0, 10, (count,), generator=generator)
    return features, weight, labels


def test_magface_is_the_papers_loss_with_its_regulariser():
    features, weight, labels = random_case(0, scale=4.0)
    features[:4] *= 0.05  # norms below l_a and above u_a (clamped), most in between
    features[4:8] *= 5.0
    norms = features.norm(dim=1)
    assert (norms < MAG["l_a"]).sum() >= 4 and (norms > MAG["u_a"]).sum() >= 4
    unit = torch.nn.functional.normalize
    cos_y = (unit(features, dim=1) * unit(weight[labels], dim=1)).sum(dim=1)
    keep = torch.acos(cos_y) + MAG["u_m"] < math.pi - 1e-3  # before the threshold fix
    features, labels = features[keep], labels[keep]
    assert len(labels) > 50
    loss = margin_loss("magface", features, weight, labels, **MAG)
    assert loss.item() == pytest.approx(magface_paper_loss(features, weight, labels, **MAG),
                                        rel=1e-9)


def test_magfaces_margin_runs_from_l_m_to_u_m_with_the_norm():
    theta = 1.0
    w = torch.tensor([[1.0, 0.0], [0.0, -1.0]], dtype=torch.float64)
    for a, margin in [(0.2, 0.2), (1.0, 0.2), (6.0, 0.4), (11.0, 0.6), (50.0, 0.6)]:
        x = torch.tensor([[a * math.cos(theta), a * math.sin(theta)]], dtype=torch.float64)
        logits = margin_logits("magface", x, w, torch.tensor([0]), **MAG)
        assert logits[0, 0].item() == pytest.approx(16.0 * math.cos(theta + margin),
                                                    rel=1e-12), a


def test_magfaces_regulariser_pulls_norms_up_to_u_a_and_no_further():
    weight = torch.eye(3, dtype=torch.float64)
    labels = torch.tensor([0])
    slopes = []
    for a in (2.0, 5.0, 10.9, 11.5):
        x = torch.tensor([[a, 0.0, 0.0]], dtype=torch.float64, requires_grad=True)
        params = dict(MAG, l_m=0.0, u_m=0.0)  # no margin: only g(a) sees the norm
        loss = margin_loss("magface", x, weight, labels, **params)
        (grad,) = torch.autograd.grad(loss, x)
        slopes.append(grad[0, 0].item())
    # dL/da = lambda_g (-1/a^2 + 1/u_a^2): negative below u_a (descent lengthens), 0 beyond
    for a, slope in zip((2.0, 5.0, 10.9), slopes):
        assert slope == pytest.approx(3.5 * (-1 / a**2 + 1 / 11.0**2), rel=1e-9)
    assert slopes[-1] == 0.0


def test_adaface_is_the_papers_target_given_the_running_statistics():
    features, weight, labels = random_case(1)
    state = {"norm_mean": 4.0, "norm_std": 2.0}
    ours = margin_logits("adaface", features, weight, labels, state=state, **ADA)
    paper, inside = adaface_paper_logits(features, weight, labels, 16.0, 0.4, 0.333, 4.0, 2.0)
    # the paper's code keeps the angle within [0, pi]: compare where it stays inside
    assert sum(inside) > 50
    np.testing.assert_allclose(ours.detach().numpy()[inside], np.array(paper)[inside],
                               rtol=1e-9, atol=1e-9)


def test_adafaces_ends_are_arcface_and_its_middle_cosface():
    theta = np.linspace(0.05, math.pi - 0.45, 50)
    cos = torch.cos(torch.as_tensor(theta))
    arc = target_from_cos("adaface", cos, ADA, norm=-1.0).numpy()
    cosface = target_from_cos("adaface", cos, ADA, norm=0.0).numpy()
    high = target_from_cos("adaface", cos, ADA, norm=1.0).numpy()
    np.testing.assert_allclose(arc, np.cos(theta + 0.4), atol=1e-12)
    np.testing.assert_allclose(cosface, np.cos(theta) - 0.4, atol=1e-12)
    inside = theta > 0.4
    np.testing.assert_allclose(high[inside], np.cos(theta[inside] - 0.4) - 0.8, atol=1e-12)


def test_adafaces_statistics_start_at_the_first_batch_then_move_by_one_hundredth():
    features, weight, labels = random_case(2)
    norms = features.norm(dim=1)
    first = next_state("adaface", {"norm_mean": 0.0, "norm_std": 0.0}, features, weight, labels,
                       ADA)
    assert first["norm_mean"] == pytest.approx(norms.mean().item(), rel=1e-12)
    assert first["norm_std"] == pytest.approx(norms.std().item(), rel=1e-12)
    second = next_state("adaface", {"norm_mean": 5.0, "norm_std": 1.0}, features, weight,
                        labels, ADA)
    assert second["norm_mean"] == pytest.approx(0.99 * 5.0 + 0.01 * norms.mean().item())
    assert second["norm_std"] == pytest.approx(0.99 * 1.0 + 0.01 * norms.std().item())


def test_no_gradient_flows_through_adafaces_quality():
    """n is a constant to the gradient: the logits' gradient along the feature is the one of
    s cos with that n fixed, so the features' norm gets none (the logits are scale-free)."""
    features, weight, labels = random_case(3)
    features.requires_grad_(True)
    state = {"norm_mean": 4.0, "norm_std": 2.0}
    loss = margin_loss("adaface", features, weight, labels, state=state, **ADA)
    (grad,) = torch.autograd.grad(loss, features)
    radial = (grad * torch.nn.functional.normalize(features, dim=1)).sum(dim=1)
    assert radial.abs().max().item() < 1e-12


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16])
@pytest.mark.parametrize("loss,params,state,norm", [
    ("magface", MAG, None, 0.5), ("magface", MAG, None, 20.0), ("magface", MAG, None, 6.0),
    ("adaface", ADA, {"norm_mean": 1.0, "norm_std": 0.5}, 0.1),
    ("adaface", ADA, {"norm_mean": 1.0, "norm_std": 0.5}, 5.0)])
def test_gradients_are_finite_at_cos_plus_and_minus_one(dtype, loss, params, state, norm):
    weight = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=dtype, requires_grad=True)
    for sign in (1.0, -1.0):
        x = torch.tensor([[sign * norm, 0.0]], dtype=dtype, requires_grad=True)
        value = margin_loss(loss, x, weight, torch.tensor([0]), state=state, **params)
        gx, gw = torch.autograd.grad(value, (x, weight))
        assert torch.isfinite(value) and torch.isfinite(gx).all() and torch.isfinite(gw).all()


@pytest.mark.parametrize("loss,params,state", [
    ("magface", MAG, None), ("adaface", ADA, {"norm_mean": 3.0, "norm_std": 1.5})])
def test_half_precision_gives_the_same_loss(loss, params, state):
    features, weight, labels = random_case(4)
    full = margin_loss(loss, features.float(), weight.float(), labels, state=state, **params)
    half = margin_loss(loss, features.half(), weight.half(), labels, state=state, **params)
    assert torch.isfinite(half) and half.item() == pytest.approx(full.item(), rel=2e-2)


@pytest.mark.parametrize("loss", ["magface", "adaface"])
def test_a_short_training_improves(small_set, loss):
    run = Run(preset_config(loss, 2, batch_size=64), small_set)
    before = run.evaluate()
    losses = [run.train_step()[0] for _ in range(40)]
    after = run.evaluate()
    assert all(math.isfinite(v) for v in losses)
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5])
    assert after.accuracy > before.accuracy + 0.2
    if loss == "adaface":
        assert run.loss_state["norm_std"] > 0


def test_training_with_magfaces_regulariser_lengthens_the_features(small_set):
    """With norms inside [l_a, u_a] from the start, lambda_g g(a) pulls them up: after a few
    steps they are longer than in the same run without it."""
    def median_norm(lambda_g):
        params = dict(MAG, l_a=0.1, lambda_g=lambda_g)
        run = Run(preset_config("magface", 2, batch_size=64, params=params), small_set)
        for _ in range(8):
            run.train_step()
        return float(np.median(np.linalg.norm(run.evaluate().features, axis=1)))
    assert median_norm(20.0) > 1.5 * median_norm(0.0)


def test_the_target_page_band_spans_the_norms():
    theta = theta_grid(181)
    curve = Curve("MagFace", "magface", MAG)
    upper, lower = margin_band(curve, theta)
    np.testing.assert_allclose(upper, target_logit("magface", theta, **dict(MAG, u_m=0.2)))
    np.testing.assert_allclose(lower, target_logit("magface", theta, **dict(MAG, l_m=0.6)))
    upper, lower = margin_band(Curve("AdaFace", "adaface", ADA), theta)
    assert (upper >= lower - 1e-12).all() and upper[0] == pytest.approx(math.cos(0.4))


# ---- degraded digits ------------------------------------------------------------------------

def test_degrade_changes_the_stated_share_in_equal_kinds_from_the_seed(bundled):
    images = torch.from_numpy(bundled.train_images[:600].copy())
    out, kinds = degrade_digits(images, 0.3, seed=7)
    changed = (out != images).flatten(1).any(dim=1)
    assert int((kinds != CLEAN).sum()) == 180
    # no other digit changed; a chosen one did (an erased square could, rarely, miss the ink)
    assert not changed[kinds == CLEAN].any() and changed[kinds != CLEAN].float().mean() > 0.95
    assert [int((kinds == k).sum()) for k in range(len(KINDS))] == [60, 60, 60]
    again, same_kinds = degrade_digits(images, 0.3, seed=7)
    assert torch.equal(again, out) and torch.equal(same_kinds, kinds)
    other, other_kinds = degrade_digits(images, 0.3, seed=8)
    assert not torch.equal(other_kinds, kinds)
    untouched, none = degrade_digits(images, 0.0, seed=7)
    assert torch.equal(untouched, images) and (none == CLEAN).all()


def test_each_kind_does_what_it_says(bundled):
    images = torch.from_numpy(bundled.train_images[:300].copy())
    out, kinds = degrade_digits(images, 1.0, seed=0)
    before, after = images.float(), out.float()
    blur, noise, occluded = (kinds == 0), (kinds == 1), (kinds == 2)
    # blur spreads the ink (more lit pixels, a lower peak); noise lights the background;
    # occlusion only removes ink
    assert ((after[blur] > 0).sum((1, 2)) > (before[blur] > 0).sum((1, 2))).all()
    assert (after[noise][before[noise] == 0] > 0).float().mean() > 0.3
    assert (after[occluded] <= before[occluded]).all()
    assert (after[occluded].sum((1, 2)) < before[occluded].sum((1, 2))).float().mean() > 0.9


def test_a_run_degrades_training_and_test_digits_and_measures_their_norms(small_set):
    with pytest.raises(LossvizError):
        TrainConfig(degrade=0.6)
    run = Run(preset_config("magface", 2, degrade=0.5), small_set)
    assert int((run.train_kinds != CLEAN).sum()) == 256
    assert int((run.test_kinds != CLEAN).sum()) == 100
    clean = Run(preset_config("magface", 2), small_set)
    assert not torch.equal(run.train_images, clean.train_images)
    ev = run.evaluate()
    norms = np.linalg.norm(ev.features, axis=1)
    degraded = run.test_kinds[:len(norms)].numpy() != CLEAN
    assert ev.quality_norms == pytest.approx((norms[~degraded].mean(), norms[degraded].mean()),
                                             rel=1e-6)
    assert clean.evaluate().quality_norms is None


def test_checkpoints_keep_degrade_and_adafaces_statistics_and_old_files_load(small_set):
    run = Run(preset_config("adaface", 2, degrade=0.2, batch_size=64), small_set)
    for _ in range(3):
        run.train_step()
    back = load_checkpoint(checkpoint_bytes(run), small_set, device="cpu")
    assert back.config.degrade == 0.2 and back.loss_state == run.loss_state
    assert torch.equal(back.test_images, run.test_images)
    payload = torch.load(io.BytesIO(checkpoint_bytes(run)), weights_only=True)
    del payload["config"]["degrade"]  # a file from before degraded digits
    old = io.BytesIO()
    torch.save(payload, old)
    assert load_checkpoint(old.getvalue(), small_set, device="cpu").config.degrade == 0.0
    for broken in ({"config": {**payload["config"], "degrade": 0.9}},
                   {"loss_state": {"norm_mean": float("nan"), "norm_std": 1.0}},
                   {"loss_state": {"norm_mean": -1.0, "norm_std": 1.0}}):  # a norm is >= 0
        bad = io.BytesIO()
        torch.save({**payload, **broken}, bad)
        with pytest.raises(CheckpointError):
            load_checkpoint(bad.getvalue(), small_set, device="cpu")

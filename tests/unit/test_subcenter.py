"""Sub-center ArcFace: the loss against the paper, its sub-centres in the model, figures and
checkpoints, and the label noise that shows what they are for."""
import dataclasses
import io
import math

import numpy as np
import pytest
import torch

from lossviz.checkpoint import CheckpointError, checkpoint_bytes, load_checkpoint
from lossviz.figures.training import features_2d_figure, features_3d_figure
from lossviz.i18n import LossvizError
from lossviz.losses import dominant_subcenters, margin_logits, margin_loss
from lossviz.train import Run, TrainConfig, flip_labels, predict_logits, preset_config


def paper_loss(features, weight, labels, s, m):
    """Deng et al. 2020, eq. 1-2, one sample at a time: each class's cosine is the largest of
    its K sub-centres' (normalized vectors), the target angle gets the margin m, and the loss is
    the cross-entropy of the scaled logits. Plain Python floats, no code shared with losses.py."""
    total = 0.0
    for x, y in zip(features.tolist(), labels.tolist()):
        x_norm = math.sqrt(sum(v * v for v in x))
        class_cos = []
        for centres in weight.tolist():
            best = -1.0
            for w in centres:
                w_norm = math.sqrt(sum(v * v for v in w))
                best = max(best, sum(a * b for a, b in zip(x, w)) / (x_norm * w_norm))
            class_cos.append(best)
        logits = [s * c for c in class_cos]
        logits[y] = s * math.cos(math.acos(class_cos[y]) + m)
        top = max(logits)
        total += -(logits[y] - top - math.log(sum(math.exp(v - top) for v in logits)))
    return total / len(labels)


def test_the_loss_is_the_papers_max_over_sub_centres_then_arcface():
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(64, 3, generator=generator, dtype=torch.float64)
    weight = torch.randn(10, 3, 3, generator=generator, dtype=torch.float64)
    labels = torch.randint(0, 10, (64,), generator=generator)
    m = 0.3
    # the threshold fix past pi - m is not in the paper's formula: keep the samples before it
    unit = torch.nn.functional.normalize
    cos_y = (unit(weight, dim=2)[labels] @ unit(features, dim=1)[:, :, None]).amax(dim=(1, 2))
    keep = cos_y > math.cos(math.pi - m) + 1e-3
    features, labels = features[keep], labels[keep]
    assert len(labels) > 50
    loss = margin_loss("subcenter", features, weight, labels, s=16.0, m=m, k=3)
    assert loss.item() == pytest.approx(paper_loss(features, weight, labels, 16.0, m), rel=1e-9)


def test_one_sub_centre_is_arcface():
    generator = torch.Generator().manual_seed(1)
    features = torch.randn(32, 2, generator=generator)
    weight = torch.randn(10, 2, generator=generator)
    labels = torch.randint(0, 10, (32,), generator=generator)
    one = margin_logits("subcenter", features, weight[:, None, :], labels, s=16.0, m=0.2, k=1)
    arcface = margin_logits("arcface", features, weight, labels, s=16.0, m=0.2)
    torch.testing.assert_close(one, arcface)


def test_only_the_closest_sub_centre_of_the_class_counts():
    """A sub-centre far from the feature changes nothing; moving the closest one does."""
    feature, labels = torch.tensor([[1.0, 0.0]]), torch.tensor([0])
    weight = torch.tensor([[[1.0, 0.2], [-1.0, 0.0]], [[0.0, 1.0], [0.0, -1.0]]])
    base = margin_logits("subcenter", feature, weight, labels, s=10.0, m=0.1, k=2)
    far_moved = weight.clone()
    far_moved[0, 1] = torch.tensor([-1.0, 0.5])
    torch.testing.assert_close(
        margin_logits("subcenter", feature, far_moved, labels, s=10.0, m=0.1, k=2), base)
    near_moved = weight.clone()
    near_moved[0, 0] = torch.tensor([1.0, 0.0])
    assert margin_logits("subcenter", feature, near_moved, labels, s=10.0, m=0.1,
                         k=2)[0, 0] > base[0, 0]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16])
def test_gradients_are_finite_on_a_sub_centre_and_opposite_it(dtype):
    """cos = +1 and -1 exactly, at the largest scale and margin."""
    weight = torch.tensor([[[1.0, 0.0], [0.0, 1.0]], [[-1.0, 0.0], [0.0, -1.0]]], dtype=dtype,
                          requires_grad=True)
    features = torch.tensor([[3.0, 0.0], [-2.0, 0.0], [0.0, 5.0]], dtype=dtype, requires_grad=True)
    labels = torch.tensor([0, 0, 1])
    loss = margin_loss("subcenter", features, weight, labels, s=64.0, m=1.5, k=2)
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.isfinite(features.grad).all() and torch.isfinite(weight.grad).all()


def test_half_precision_gives_the_float32_logits():
    generator = torch.Generator().manual_seed(2)
    features = torch.randn(16, 3, generator=generator)
    weight = torch.randn(10, 3, 3, generator=generator)
    labels = torch.randint(0, 10, (16,), generator=generator)
    full = margin_logits("subcenter", features, weight, labels, s=64.0, m=0.5, k=3)
    half = margin_logits("subcenter", features.half(), weight.half(), labels, s=64.0, m=0.5, k=3)
    assert half.dtype == torch.float32 and torch.isfinite(half).all()
    torch.testing.assert_close(half, full, atol=0.1, rtol=0.01)


def test_prediction_takes_each_class_at_its_closest_sub_centre():
    weight = torch.tensor([[[1.0, 0.0], [0.0, 1.0]], [[-1.0, 0.0], [0.6, 0.8]]])
    features = torch.tensor([[0.0, 2.0], [0.5, 0.8], [-1.0, 0.1]])
    logits = predict_logits("subcenter", features, weight)
    assert logits.shape == (3, 2)
    assert logits.argmax(1).tolist() == [0, 1, 1]


def test_the_dominant_sub_centre_is_the_one_most_of_a_class_picks():
    weight = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]],
                           [[0.0, -1.0], [1.0, 1.0], [-1.0, -1.0]]])
    features = torch.tensor([[0.1, 1.0], [0.0, 2.0], [1.0, 0.0],  # class 0: two pick k = 1
                             [-1.0, -1.2], [-2.0, -1.9], [1.0, 1.1]])  # class 1: two pick k = 2
    labels = torch.tensor([0, 0, 0, 1, 1, 1])
    dominant, picks = dominant_subcenters(features, labels, weight)
    assert dominant.tolist() == [1, 2] and picks.tolist() == [1, 1, 0, 2, 2, 1]


def test_label_noise_flips_the_stated_share_to_other_classes_from_the_seed():
    labels = torch.arange(1000) % 10
    noisy, flipped = flip_labels(labels, 0.2, 10, seed=3)
    assert int(flipped.sum()) == 200
    assert torch.equal(noisy != labels, flipped)  # a flipped label never lands on its own class
    again, _ = flip_labels(labels, 0.2, 10, seed=3)
    other, _ = flip_labels(labels, 0.2, 10, seed=4)
    assert torch.equal(noisy, again) and not torch.equal(noisy, other)
    assert torch.equal(flip_labels(labels, 0.0, 10, seed=3)[0], labels)
    assert set(noisy[flipped].tolist()) == set(range(10))  # any other class, at random


def test_a_run_trains_on_the_noisy_labels_and_tests_on_the_true_ones(small_set):
    run = Run(preset_config("subcenter", 2, label_noise=0.25), small_set)
    true = small_set.tensors["train_labels"]
    assert int((run.train_labels != true).sum()) == 128  # a quarter of 512
    assert torch.equal(run.eval_labels, small_set.tensors["test_labels"][:len(run.eval_labels)])
    with pytest.raises(LossvizError, match="label_noise"):
        TrainConfig(label_noise=0.6)


def test_a_short_training_improves(small_set):
    run = Run(preset_config("subcenter", 2, batch_size=64), small_set)
    before = run.evaluate()
    losses = [run.train_step()[0] for _ in range(40)]
    after = run.evaluate()
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:5])
    assert after.accuracy > before.accuracy + 0.2
    assert after.subcenters.shape == (10, 3, 2) and after.weights.shape == (10, 2)


def test_the_evaluation_names_each_class_by_a_sub_centre_of_its_own(small_set):
    run = Run(preset_config("subcenter", 3, label_noise=0.3), small_set)
    for _ in range(10):
        run.train_step()
    ev = run.evaluate()
    # the vote, counted here in numpy: each training digit (as labelled) picks the closest
    # sub-centre of its labelled class; each class's most picked one stands for it
    features, labels = run.training_features().numpy(), run.train_labels[:Run.VOTERS].numpy()
    units = ev.subcenters / np.linalg.norm(ev.subcenters, axis=2, keepdims=True)
    picks = np.einsum("nkd,nd->nk", units[labels], features).argmax(axis=1)
    votes = np.zeros((10, 3), int)
    np.add.at(votes, (labels, picks), 1)
    for cls, weight in enumerate(ev.weights):
        np.testing.assert_array_equal(weight, ev.subcenters[cls, votes[cls].argmax()])
    elsewhere = picks != votes.argmax(axis=1)[labels]
    flipped = run.flipped[:Run.VOTERS].numpy()
    assert ev.off_dominant == pytest.approx((elsewhere[~flipped].mean(), elsewhere[flipped].mean()))


def test_checkpoints_keep_sub_centres_and_label_noise(small_set):
    run = Run(preset_config("subcenter", 3, label_noise=0.1, params={"k": 4}), small_set)
    for _ in range(3):
        run.train_step()
    restored = load_checkpoint(checkpoint_bytes(run), small_set, device="cpu")
    assert restored.config == dataclasses.replace(run.config, device="cpu")
    assert restored.model.weight.shape == (10, 4, 3)
    assert torch.equal(restored.model.weight, run.model.weight)
    assert torch.equal(restored.train_labels, run.train_labels)


def tampered(run: Run, change) -> bytes:
    payload = torch.load(io.BytesIO(checkpoint_bytes(run)), weights_only=True)
    change(payload)
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getvalue()


def test_a_checkpoint_from_before_label_noise_loads_without_noise(small_set):
    run = Run(preset_config("arcface", 2), small_set)
    old = tampered(run, lambda payload: payload["config"].pop("label_noise"))
    assert load_checkpoint(old, small_set).config.label_noise == 0.0


@pytest.mark.parametrize("value", [0.8, -0.1, "0.1", True, math.nan])
def test_a_checkpoint_with_bad_label_noise_is_refused(small_set, value):
    run = Run(preset_config("subcenter", 2), small_set)
    with pytest.raises(CheckpointError, match="label_noise"):
        load_checkpoint(tampered(run, lambda p: p["config"].update(label_noise=value)), small_set)


def test_a_checkpoint_whose_weights_have_another_k_is_refused(small_set):
    run = Run(preset_config("subcenter", 2), small_set)  # K = 3
    wrong_shape = r"weight has shape \(10, 3, 2\), expected \(10, 2, 2\)"
    with pytest.raises(CheckpointError, match=wrong_shape):
        load_checkpoint(tampered(run, lambda p: p["config"]["params"].update(k=2)), small_set)


def test_the_feature_figures_draw_every_sub_centre_and_regions_from_them():
    rng = np.random.default_rng(0)
    features, labels = rng.normal(size=(50, 2)), rng.integers(0, 10, 50)
    subcenters = rng.normal(size=(10, 3, 2))
    weights = subcenters[:, 0]
    args = (features, labels, labels, weights, [str(c) for c in range(10)], "subcenter",
            {"s": 16.0, "m": 0.1, "k": 3})
    raw, circle = features_2d_figure(*args, raw_limit=3.0, apart=True, subcenters=subcenters)
    drawn = [trace for trace in circle.data if trace.mode == "markers" and len(trace.x) == 30]
    assert len(drawn) == 1 and list(drawn[0].text[:3]) == ["0", "0", "0"]
    plain_ring = features_2d_figure(*args, raw_limit=3.0, apart=True)[1].data[0].marker.color
    assert not np.array_equal(circle.data[0].marker.color, plain_ring)  # the regions follow
    sphere = features_3d_figure(rng.normal(size=(50, 3)), labels, labels,
                                rng.normal(size=(10, 3)), args[4], "subcenter", args[6],
                                subcenters=rng.normal(size=(10, 3, 3)))
    assert [trace.mode for trace in sphere.data if getattr(trace, "mode", None) == "markers"
            and len(trace.x) == 30] == ["markers"]

"""Verification metrics on constructed cases whose answers are known, and against scikit-learn
(installed with mlxtend) as an independent ROC."""
import numpy as np
import pytest
from sklearn.metrics import roc_curve as sklearn_roc

from lossviz.verification import (PAIRS_PER_KIND, ROC_GRID, Verification, equal_error_rate,
                                  open_set_verification, roc_curve, sample_pairs, tar_at_far,
                                  verify)


def test_perfectly_separable_scores_have_no_error():
    result = Verification.from_scores(np.array([0.9, 0.8, 0.7]), np.array([0.1, 0.0, -0.5]))
    assert result.eer == 0.0
    assert result.tar == {0.01: 1.0, 0.001: 1.0}
    assert result.roc_tar.min() == 1.0  # every point of the grid, FAR 0 included


def test_identical_distributions_have_an_equal_error_rate_of_one_half():
    scores = np.random.default_rng(3).normal(size=400)
    assert Verification.from_scores(scores, scores.copy()).eer == pytest.approx(0.5)
    # all scores tied: the curve is the diagonal's two ends
    assert Verification.from_scores(np.zeros(5), np.zeros(7)).eer == pytest.approx(0.5)


def test_a_small_case_worked_by_hand():
    """same 0.9 0.8 0.4, different 0.7 0.3 0.2 0.1. Thresholds 0.9, 0.8, 0.7, 0.4 give
    (FAR, TAR) = (0, 1/3), (0, 2/3), (1/4, 2/3), (1/4, 1). FAR - FRR goes from -1/12 at 0.7
    to +1/4 at 0.4: a quarter of the way, FRR = 1/3 - 1/4 * 1/3 = 1/4 = FAR."""
    same, different = np.array([0.9, 0.8, 0.4]), np.array([0.7, 0.3, 0.2, 0.1])
    far, tar = roc_curve(same, different)
    np.testing.assert_allclose(far, [0, 0, 0, 1 / 4, 1 / 4, 1 / 2, 3 / 4, 1])
    np.testing.assert_allclose(tar, [0, 1 / 3, 2 / 3, 2 / 3, 1, 1, 1, 1])
    assert equal_error_rate(far, tar) == pytest.approx(0.25)
    assert tar_at_far(far, tar, 0.01) == pytest.approx(2 / 3)  # no threshold between
    assert tar_at_far(far, tar, 0.3) == pytest.approx(1.0)


def test_the_roc_matches_scikit_learn():
    rng = np.random.default_rng(7)
    same, different = rng.normal(1.0, 1.0, 300).round(1), rng.normal(0.0, 1.0, 500).round(1)
    far, tar = roc_curve(same, different)
    scores = np.concatenate([same, different])
    truth = np.r_[np.ones(len(same)), np.zeros(len(different))]
    sk_far, sk_tar, _ = sklearn_roc(truth, scores, drop_intermediate=False)
    np.testing.assert_allclose(far, sk_far)
    np.testing.assert_allclose(tar, sk_tar)


def test_tar_at_far_never_exceeds_the_asked_rate():
    rng = np.random.default_rng(1)
    far, tar = roc_curve(rng.normal(2, 1, 1000), rng.normal(0, 1, 1000))
    for wanted in ROC_GRID:
        index = np.flatnonzero(tar == tar_at_far(far, tar, wanted))
        assert far[index].min() <= wanted


def test_pairs_are_balanced_fixed_and_of_the_right_kind():
    labels = np.repeat(np.arange(4), 60)
    first, second, same = sample_pairs(labels)
    assert same.sum() == (~same).sum() == min(PAIRS_PER_KIND, 4 * 60 * 59 // 2)
    np.testing.assert_array_equal(labels[first] == labels[second], same)
    assert (first < second).all()
    again = sample_pairs(labels.copy())
    for a, b in zip((first, second, same), again):
        np.testing.assert_array_equal(a, b)


def test_features_on_class_directions_verify_perfectly_and_random_ones_do_not():
    labels = np.repeat(np.arange(10), 30)
    rng = np.random.default_rng(0)
    directions = rng.normal(size=(10, 3))
    clustered = directions[labels] + 0.01 * rng.normal(size=(len(labels), 3))
    assert verify(clustered, labels).eer == 0.0
    noise = verify(rng.normal(size=(len(labels), 3)), labels)
    assert 0.4 < noise.eer < 0.6


def test_open_set_splits_seen_from_unseen_classes():
    """Known classes 0-7 on tight clusters; 8 and 9 drawn at random: only unseen fails."""
    labels = np.repeat(np.arange(10), 30)
    rng = np.random.default_rng(2)
    features = rng.normal(size=(8, 3))[labels % 8]
    unseen = labels >= 8
    features[unseen] = rng.normal(size=(unseen.sum(), 3))
    result = open_set_verification(features, labels, known_classes=8)
    assert result.seen.eer == 0.0
    assert result.unseen.eer > 0.3
    row = result.row()
    assert row["seen_eer"] == 0.0 and row["unseen_tar_far1"] < 0.5
    assert set(row) == {"unseen_tar_far1", "unseen_tar_far0.1", "unseen_eer",
                        "seen_tar_far1", "seen_tar_far0.1", "seen_eer"}

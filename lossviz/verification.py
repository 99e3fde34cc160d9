"""Open-set verification, as face recognition is judged: two digits, is it the same class? The
answer is the cosine of their features against a threshold, so no class weight is involved and
classes never seen in training can be judged too.

Pairs are a fixed, seeded, balanced sample (as many same-class pairs as different-class ones),
so that every run, loss and seed is scored on the very same pairs. A pair is accepted when its
score >= the threshold. From the scores:
- the ROC curve: true-accept rate (same-class pairs accepted) against false-accept rate
  (different-class pairs accepted), one point per distinct score;
- TAR at FAR = f: the best true-accept rate among thresholds whose false-accept rate is at most
  f (no interpolation: a threshold that really exists);
- EER, where the false-accept rate equals the false-reject rate (1 - TAR): linear interpolation
  between the two consecutive ROC points where FAR - FRR changes sign.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from lossviz.metrics import unit_rows

REPORTED_FARS = (0.01, 0.001)  # the false-accept rates a report gives the TAR at
PAIRS_PER_KIND = 5000  # same-class pairs, and as many different-class ones
PAIR_SEED = 0  # one sample of pairs for every run: losses and seeds meet the same pairs
# the ROC kept for figures and averages: TAR on a fixed grid of FAR, log-spaced (FAR 0.1% is
# 5 different-class pairs of 5,000, the resolution ends there)
ROC_GRID = np.concatenate([[0.0], np.logspace(-3, 0, 31)])
SCORE_BINS = np.linspace(-1.0, 1.0, 41)  # the score histogram's edges: cosines, 0.05 wide


def roc_curve(same: np.ndarray, different: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(far, tar) at every distinct threshold, from accept-nothing (0, 0) to accept-all (1, 1)."""
    scores = np.concatenate([same, different])
    is_same = np.concatenate([np.ones(len(same), bool), np.zeros(len(different), bool)])
    order = np.argsort(-scores, kind="stable")
    scores, is_same = scores[order], is_same[order]
    accepted_same, accepted_different = np.cumsum(is_same), np.cumsum(~is_same)
    # a threshold accepts every pair scoring at least it: keep the last of each run of ties
    last_of_ties = np.r_[scores[1:] != scores[:-1], True]
    tar = np.r_[0, accepted_same[last_of_ties]] / max(len(same), 1)
    far = np.r_[0, accepted_different[last_of_ties]] / max(len(different), 1)
    return far, tar


def tar_at_far(far: np.ndarray, tar: np.ndarray, wanted_far) -> np.ndarray:
    """The best TAR of a threshold whose FAR is at most wanted_far (each of an array)."""
    # far and tar only grow along the curve: the last point with far <= wanted is the best
    return tar[np.searchsorted(far, wanted_far, side="right") - 1]


def equal_error_rate(far: np.ndarray, tar: np.ndarray) -> float:
    """Where FAR = FRR, linearly interpolated between the two ROC points around it."""
    gap = far - (1.0 - tar)  # -1 at accept-nothing, +1 at accept-all, never decreasing
    after = int(np.argmax(gap >= 0))
    if gap[after] == 0:
        return float(far[after])
    before = after - 1
    share = -gap[before] / (gap[after] - gap[before])
    return float(far[before] + share * (far[after] - far[before]))


@dataclass(frozen=True)
class Verification:
    """One set of pairs, scored: small enough to travel with every live evaluation."""
    pairs: int  # same-class pairs (as many different-class ones)
    eer: float
    tar: dict  # FAR -> TAR, at REPORTED_FARS
    roc_tar: np.ndarray  # TAR at ROC_GRID
    same_counts: np.ndarray  # histograms of the scores over SCORE_BINS
    different_counts: np.ndarray

    @classmethod
    def from_scores(cls, same: np.ndarray, different: np.ndarray) -> "Verification":
        far, tar = roc_curve(same, different)
        return cls(len(same), equal_error_rate(far, tar),
                   {f: float(tar_at_far(far, tar, f)) for f in REPORTED_FARS},
                   tar_at_far(far, tar, ROC_GRID),
                   np.histogram(same, SCORE_BINS)[0], np.histogram(different, SCORE_BINS)[0])

    def row(self, prefix: str) -> dict:
        """Plain numbers for tables and JSON: <prefix>_eer, <prefix>_tar_far1, _far0.1."""
        return {f"{prefix}_tar_far{far * 100:g}": value for far, value in self.tar.items()} | \
            {f"{prefix}_eer": self.eer}


@dataclass(frozen=True)
class OpenSetVerification:
    """Verification on the classes the model never saw, and on the test digits of those it
    trained on (the easier, closed-set case)."""
    unseen: Verification
    seen: Verification

    def row(self) -> dict:
        return self.unseen.row("unseen") | self.seen.row("seen")


@lru_cache(maxsize=8)
def _pairs_cached(label_bytes: bytes, per_kind: int, seed: int):
    labels = np.frombuffer(label_bytes, dtype=np.int64)
    first, second = np.triu_indices(len(labels), k=1)
    same = labels[first] == labels[second]
    rng = np.random.default_rng(seed)
    count = min(per_kind, int(same.sum()), int((~same).sum()))
    chosen = np.concatenate([rng.choice(np.flatnonzero(same), count, replace=False),
                             rng.choice(np.flatnonzero(~same), count, replace=False)])
    return first[chosen], second[chosen], same[chosen]


def sample_pairs(labels: np.ndarray, per_kind: int = PAIRS_PER_KIND, seed: int = PAIR_SEED):
    """(first, second, same): index pairs into labels, balanced, the same for the same labels."""
    return _pairs_cached(np.ascontiguousarray(labels, dtype=np.int64).tobytes(), per_kind, seed)


def verify(features: np.ndarray, labels: np.ndarray) -> Verification:
    """Score the sampled pairs of these features by their cosine."""
    first, second, same = sample_pairs(labels)
    units = unit_rows(features)
    scores = np.einsum("ij,ij->i", units[first], units[second])
    return Verification.from_scores(scores[same], scores[~same])


def open_set_verification(features: np.ndarray, labels: np.ndarray,
                          known_classes: int) -> OpenSetVerification:
    """Classes below known_classes were trained on; the rest were held out."""
    unseen = labels >= known_classes
    return OpenSetVerification(verify(features[unseen], labels[unseen]),
                               verify(features[~unseen], labels[~unseen]))

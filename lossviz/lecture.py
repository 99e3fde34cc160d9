"""The lecture's path through the family, as data: the ten steps in the order the losses were
invented, the numbers step 1 and step 4 show, and the records that steps 8 and 9 read. Pure:
the page (pages/lecture.py) draws, this module computes."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from lossviz.curves import Curve, target_probability
from lossviz.evidence import (POINT_FIELDS, PUSH_TOLERANCE_DEG, REFERENCES, annealing_shortfall,
                              band_over_seeds, order_verdicts, pull_verdict)
from lossviz.i18n import DEFAULT_LANGUAGE, Message, text

# One id per step; its texts are lecture.steps.<id> (assets/i18n/lecture.json).
STEPS = ("softmax", "lsoftmax", "sphereface", "normface", "cosface", "arcface", "combined",
         "pull", "difficulty", "summary")
EVIDENCE = Path(__file__).resolve().parent.parent / "assets" / "evidence"
# The difficulty study's variants that the tables name (lecture.variants.<name>)
KNOWN_VARIANTS = ("sphereface-fixed", "sphereface-annealed", "cosface", "arcface", *REFERENCES)


# ----- step 1: softmax, and cross-entropy as a KL divergence --------------------------------

def softmax(logits) -> np.ndarray:
    shifted = np.asarray(logits, dtype=float) - np.max(logits)  # no overflow for large logits
    weights = np.exp(shifted)
    return weights / weights.sum()


def kl_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """KL(p || q) = sum p log(p / q), where a class with p = 0 adds nothing (0 log 0 = 0)."""
    present = p > 0
    return float(np.sum(p[present] * (np.log(p[present]) - np.log(q[present]))))


def cross_entropy(p: np.ndarray, q: np.ndarray) -> float:
    """-sum p log q: for a one-hot p it is -log q_y, the loss every step of the lecture keeps."""
    present = p > 0
    return float(-np.sum(p[present] * np.log(q[present])))


def one_hot(target: int, classes: int) -> np.ndarray:
    p = np.zeros(classes)
    p[target] = 1.0
    return p


# ----- step 4: why NormFace needs a scale s -------------------------------------------------

def best_other_angle(classes: int) -> float:
    """The angle (radians) from a feature lying on its own weight to every other weight when
    the C weights are as far apart as they can be (a regular simplex): cos = -1 / (C - 1)."""
    return math.acos(-1.0 / (classes - 1))


def max_target_probability(scales, classes: int) -> np.ndarray:
    """For each s, the largest target probability that normalized features and weights allow
    with C classes: the feature on its own weight, every other weight as far away as possible
    (NormFace's bound, e^s / (e^s + (C - 1) e^(-s / (C - 1))))."""
    other = best_other_angle(classes)
    return np.array([float(target_probability(Curve("", "normface", {"s": float(s)}),
                                              np.zeros(1), other, classes)[0])
                     for s in np.asarray(scales, dtype=float)])


def scale_for(probability: float, classes: int) -> float:
    """The smallest s whose best case reaches this target probability (the bound solved for s)."""
    # p = 1 / (1 + (C - 1) exp(-s C / (C - 1)))  =>  s = (C - 1) / C * log((C - 1) p / (1 - p))
    return (classes - 1) / classes * math.log((classes - 1) * probability / (1 - probability))


# ----- steps 8 and 9: the recorded evidence -------------------------------------------------

class EvidenceMissing(Exception):
    """The record is not in assets/evidence (not yet computed): the page says how to make it."""


def load_record(name: str, folder: Path = EVIDENCE) -> dict:
    """assets/evidence/<name>.json as written by `python -m lossviz <name>`; a missing or
    unreadable file raises EvidenceMissing with what is wrong."""
    path = folder / f"{name}.json"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EvidenceMissing(f"{path.name} not found") from None
    except (OSError, ValueError) as err:
        raise EvidenceMissing(f"{path.name}: {err}") from None
    if not isinstance(record, dict) or record.get("point_fields") != list(POINT_FIELDS):
        raise EvidenceMissing(f"{path.name}: not a record of this version")
    return record


# ----- what steps 8 and 9 say, in no language yet (the page renders the Messages) ----------

class LossNames(Message):
    """A list of losses by their short names, written in the reader's language."""

    def __init__(self, losses):
        super().__init__("lecture.steps.pull.none", {"losses": tuple(losses)})

    def render(self, lang: str = DEFAULT_LANGUAGE) -> str:
        names = [text(f"losses.{loss}.short", lang) for loss in self.values["losses"]]
        return ", ".join(names) if names else text(self.key, lang)


class Joined(Message):
    """Several Messages as one list ("ArcFace 20.1°, CosFace 19.5°")."""

    def __init__(self, parts):
        super().__init__("lecture.steps.pull.none", {"parts": tuple(parts)})

    def render(self, lang: str = DEFAULT_LANGUAGE) -> str:
        return ", ".join(part.render(lang) for part in self.values["parts"]) or \
            text(self.key, lang)


def _named(loss: str, template: str, value: float) -> Message:
    # rounded as shown, plus 0.0: a change of -0.04° reads +0.0°, not -0.0°
    return Message(template, {"name": LossNames([loss]), "value": round(value, 1) + 0.0})


def pull_statement(record: dict) -> list[Message]:
    """Step 8's reading of the pull record, sentence by sentence (lossviz.evidence.pull_verdict
    decides; the same verdict as the record's English finding)."""
    study = record["study"]
    verdict = pull_verdict(study)
    ends = Joined(_named(loss, "lecture.fig.named_degrees", angle)
                  for loss, angle in verdict["margin_own_end"].items())
    opened = Joined(_named(loss, "lecture.fig.named_change", change)
                    for loss, change in verdict["margin_opened"].items())
    said = [Message("lecture.steps.pull.own_numbers", dict(
        dim=study["dim"], epochs=study["epochs"], seeds=study["seeds"],
        start=verdict["own_start"], softmax=verdict["softmax_own_end"], ends=ends))]
    for group, key in (("closer_every_seed", "own_every"), ("closer_medians", "own_medians"),
                       ("not_closer", "own_not")):
        if verdict[group]:
            said.append(Message(f"lecture.steps.pull.{key}", {"names": LossNames(verdict[group])}))
    said.append(Message("lecture.steps.pull.between_numbers", dict(
        start=verdict["between_start"], softmax=round(verdict["softmax_opened"], 1) + 0.0,
        opened=opened)))
    if verdict["pushed_apart"]:
        said.append(Message("lecture.steps.pull.pushed", dict(
            tolerance=PUSH_TOLERANCE_DEG, names=LossNames(verdict["pushed_apart"]))))
    else:
        said.append(Message("lecture.steps.pull.no_push", dict(tolerance=PUSH_TOLERANCE_DEG)))
    return said


def variant_name(variant: dict) -> Message | str:
    """A difficulty variant's name in the reader's language; a variant this version does not
    know keeps the record's English label."""
    if variant["name"] not in KNOWN_VARIANTS:
        return variant["label"]
    params = variant["params"]
    return Message(f"lecture.variants.{variant['name']}",
                   {"m": params.get("m", 1), "lam": variant.get("lambda_min", 0.0)})


def difficulty_statement(record: dict, study: dict) -> list[Message]:
    """Step 9's reading of one dimension's study: the medians, whether the claimed order holds
    (lossviz.evidence.order_verdicts, as in the record's English finding), annealing's
    shortfall, the final accuracies."""
    threshold = max(record["settings"]["thresholds"])
    key = f"steps_to_{round(threshold * 100)}"
    variants = study["variants"]

    def median_steps(variant):
        median = variant["summary"][key]["median"]
        return Message("lecture.steps.difficulty.never") if median is None else f"{median:g}"

    medians = Joined(Message("lecture.fig.named_value", {"name": variant_name(v),
                                                          "value": median_steps(v)})
                     for v in variants)
    said = [Message("lecture.steps.difficulty.medians", dict(
        dim=study["dim"], gap=study["margin_deg"], threshold=threshold,
        seeds=variants[0]["summary"][key]["of"], medians=medians))]
    for sphere, verdict in order_verdicts(study, threshold).items():
        said.append(Message(f"lecture.steps.difficulty.verdict.{sphere}.{verdict}"))
    annealed = next(v for v in variants if v["name"] == "sphereface-annealed")
    short = annealing_shortfall(annealed)
    if short is not None:
        said.append(Message("lecture.steps.difficulty.shortfall", dict(
            lam=short[0], reached=short[1], gap=annealed["margin_deg"])))
    accuracy = Joined(Message("lecture.fig.named_value", {
        "name": variant_name(v), "value": f"{v['summary']['final_accuracy']['median']:.1%}"})
        for v in variants)
    said.append(Message("lecture.steps.difficulty.accuracy", {"accuracy": accuracy}))
    return said


def pull_series(record: dict) -> list[dict]:
    """Step 8's lines: per loss, the epochs of the traced steps and the two angles' bands."""
    return [{"loss": v["loss"], "epochs": band_over_seeds(v["runs"], "epoch")["median"],
             "own": v["own"], "between": v["between"]} for v in record["study"]["variants"]]


def difficulty_series(study: dict) -> list[dict]:
    """Step 9's lines: per variant, its name (a Message), and its test accuracy over the
    traced steps (median and spread over seeds)."""
    series = []
    for variant in study["variants"]:
        band = band_over_seeds(variant["runs"], "test_accuracy")
        series.append({"variant": variant["name"], "loss": variant["loss"],
                       "name": variant_name(variant), "steps": band["steps"], "accuracy": band})
    return series


def difficulty_window(study: dict, threshold: float) -> int:
    """How many steps step 9's figure shows: twice the slowest median that reached the
    threshold (the runs go on for hundreds of steps after that), at most the whole run."""
    key = f"steps_to_{round(threshold * 100)}"
    last = max(run["points"][-1][0] for v in study["variants"] for run in v["runs"])
    reached = [v["summary"][key]["median"] for v in study["variants"]
               if v["summary"][key]["median"] is not None]
    return min(last, 2 * max(reached)) if reached else last

"""The lecture's numbers: step 1's KL divergence and cross-entropy, step 4's bound, and how
steps 8 and 9 word the recorded evidence in both languages."""
import json
import math

import numpy as np
import pytest

from lossviz.evidence import PUSH_TOLERANCE_DEG, pull_finding, pull_verdict, spread
from lossviz.lecture import (EvidenceMissing, cross_entropy, difficulty_statement,
                             difficulty_window, kl_divergence, load_record,
                             max_target_probability, one_hot, pull_statement, scale_for, softmax)


def test_kl_from_a_one_hot_label_is_the_cross_entropy_minus_log_q_y():
    q = softmax([2.0, 1.0, 0.5, -0.5, -1.5])
    assert q.sum() == pytest.approx(1.0)
    for target in range(5):
        p = one_hot(target, 5)
        assert kl_divergence(p, q) == pytest.approx(-math.log(q[target]))
        assert cross_entropy(p, q) == pytest.approx(-math.log(q[target]))


def test_kl_and_cross_entropy_differ_by_the_entropy_of_a_soft_label():
    p, q = np.array([0.5, 0.5, 0.0]), softmax([0.0, 0.0, 0.0])
    assert kl_divergence(p, q) == pytest.approx(math.log(3) - math.log(2))
    assert cross_entropy(p, q) == pytest.approx(math.log(3))


def test_softmax_of_huge_logits_does_not_overflow():
    assert softmax([1000.0, 0.0]) == pytest.approx([1.0, 0.0])


@pytest.mark.parametrize("classes", [2, 10, 100])
def test_the_largest_target_probability_is_normfaces_bound(classes):
    scales = np.array([1.0, 4.0, 16.0])
    expected = [math.exp(s) / (math.exp(s) + (classes - 1) * math.exp(-s / (classes - 1)))
                for s in scales]
    assert max_target_probability(scales, classes) == pytest.approx(expected, rel=1e-9)
    assert max_target_probability([scale_for(0.99, classes)], classes)[0] == pytest.approx(0.99)


def test_without_a_scale_ten_classes_stay_far_from_certain():
    assert max_target_probability([1.0], 10)[0] == pytest.approx(0.2524, abs=1e-3)


def _variant(loss, own_start, own_ends, between_start, between_ends):
    runs = [{"points": [[0, 0.0, 0.1, own_start, between_start],
                        [64, 2.0, 0.9, end, between_end]]}
            for end, between_end in zip(own_ends, between_ends, strict=True)]
    opened = [b - between_start for b in between_ends]
    return {"loss": loss, "runs": runs, "summary": {
        "own_start": spread([own_start] * 3), "own_end": spread(own_ends),
        "between_start": spread([between_start] * 3), "between_end": spread(between_ends),
        "opened": spread(opened)}}


def _pull_study(arcface_own, cosface_own, cosface_between=(58.5, 58.6, 58.7)):
    return {"dim": 3, "epochs": 2, "seeds": 3, "variants": [
        _variant("softmax", 90.0, [20.0, 21.0, 22.0], 58.5, [58.5, 58.6, 58.4]),
        _variant("arcface", 90.0, arcface_own, 58.5, [58.6, 58.5, 58.5]),
        _variant("cosface", 90.0, cosface_own, 58.5, list(cosface_between))]}


def test_the_pull_verdict_says_which_losses_pull_closer_and_whether_any_pushed():
    verdict = pull_verdict(_pull_study([15.0, 16.0, 17.0], [19.0, 20.5, 23.0]))
    assert verdict["closer_every_seed"] == ["arcface"]
    assert verdict["closer_medians"] == ["cosface"]
    assert verdict["not_closer"] == [] and verdict["pushed_apart"] == []
    pushed = pull_verdict(_pull_study([25.0, 26.0, 27.0], [15.0, 16.0, 17.0],
                                      cosface_between=(61.0, 62.0, 63.0)))
    assert pushed["not_closer"] == ["arcface"] and pushed["pushed_apart"] == ["cosface"]
    assert pushed["margin_opened"]["cosface"] == pytest.approx(3.5)
    assert 3.5 > PUSH_TOLERANCE_DEG


def test_the_pull_statement_reads_the_same_in_both_languages():
    study = _pull_study([25.0, 26.0, 27.0], [15.0, 16.0, 17.0], cosface_between=(61, 62, 63))
    english = " ".join(m.render("en") for m in pull_statement({"study": study}))
    chinese = " ".join(m.render("zh") for m in pull_statement({"study": study}))
    assert "from 90.0° to 21.0° with Softmax" in english
    assert "ArcFace 26.0°, CosFace 16.0°" in english and "ArcFace 26.0°, CosFace 16.0°" in chinese
    assert "for every seed: CosFace" in english and "Not closer than Softmax: ArcFace" in english
    assert "+3.5°" in english and "+3.5°" in chinese and "推开" in chinese
    finding = pull_finding(study)
    assert "not closer: ArcFace" in finding
    assert "CosFace (AM-Softmax) opened it by more than 1°" in finding


def _difficulty_record():
    def variant(name, loss, steps, params, lam=None, gap_at_end=17.2):
        runs = [{"margin_deg_at_end": gap_at_end, "params_at_end": {"lam": 8.6},
                 "points": [[0, 0, 0.1, 90, 58], [s, 1, 0.9, 30, 58], [960, 30, 0.98, 20, 58]]}
                for s in steps]
        return {"name": name, "loss": loss, "label": name, "params": params,
                "lambda_min": lam, "margin_deg": 17.2, "runs": runs,
                "summary": {"steps_to_90": spread(steps),
                            "final_accuracy": spread([0.95, 0.96, 0.97])}}
    study = {"dim": 3, "margin_deg": 17.2, "variants": [
        variant("sphereface-fixed", "sphereface", [500, 520, 540], {"m": 2}, 0.55),
        variant("sphereface-annealed", "sphereface", [100, 110, 120], {"m": 2}, 0.55, 4.2),
        variant("cosface", "cosface", [300, 310, 320], {"s": 16, "m": 0.1631}),
        variant("arcface", "arcface", [200, 210, 220], {"s": 16, "m": 0.3})]}
    return {"settings": {"thresholds": [0.8, 0.9]}, "studies": [study]}, study


def test_the_difficulty_statement_words_the_verdicts_of_the_finding():
    record, study = _difficulty_record()
    english = [m.render("en") for m in difficulty_statement(record, study)]
    chinese = [m.render("zh") for m in difficulty_statement(record, study)]
    assert "SphereFace m=2, λ=0.55 fixed 520, SphereFace m=2, λ annealed to 0.55 110, " \
           "CosFace m=0.163 310, ArcFace m=0.3 210" in english[0]
    assert english[1].endswith("holds for every seed.")  # fixed: 520 > 310 > 210, no overlap
    assert "does not hold" in english[2]  # annealed: 110 < 310
    assert "λ was still 8.6" in english[3] and "4.2°, not 17.2°" in english[3]
    assert "96.0%" in english[4]
    assert "每个种子都成立" in chinese[1] and "不成立" in chinese[2] and "96.0%" in chinese[4]


def test_step_9_shows_twice_the_slowest_median_at_most_the_whole_run():
    _, study = _difficulty_record()
    assert difficulty_window(study, 0.9) == 960  # 2 x 520 is past the last step
    study["variants"][0]["summary"]["steps_to_90"] = spread([200, 210, None])
    assert difficulty_window(study, 0.9) == 620  # 2 x CosFace's 310


def test_a_missing_or_corrupt_record_is_explained(tmp_path):
    with pytest.raises(EvidenceMissing, match="pull.json not found"):
        load_record("pull", tmp_path)
    (tmp_path / "pull.json").write_text("{not json")
    with pytest.raises(EvidenceMissing, match="pull.json"):
        load_record("pull", tmp_path)
    (tmp_path / "pull.json").write_text(json.dumps({"point_fields": ["step"]}))
    with pytest.raises(EvidenceMissing, match="not a record of this version"):
        load_record("pull", tmp_path)


def test_the_shipped_pull_record_says_what_its_numbers_say():
    record = load_record("pull")
    assert record["finding"] == pull_finding(record["study"])
    assert [v["loss"] for v in record["study"]["variants"]][0] == "softmax"
    assert record["settings"]["seeds"] == [0, 1, 2] and record["settings"]["dim"] == 3

"""The takeaway-2 evidence: margins of matched size, steps to a test accuracy, the finding, and
the difficulty subcommand end to end at a tiny size."""
import json
import math

import pytest

from lossviz.evidence import (POINT_FIELDS, REFERENCES, dim_finding, matched_variants,
                              pull_finding, spread, steps_to, trace_run)
from lossviz.margins import feasibility
from lossviz.train import params_in_force, preset_config, settled_params
from tests.cli_run import run_cli


@pytest.mark.parametrize("dim", [2, 3])
def test_every_variant_leaves_the_gap_that_arcface_leaves(dim):
    variants = matched_variants(dim, 10)
    gaps = {name: math.degrees(feasibility(c.loss, settled_params(c), 10, dim).margin)
            for name, c in variants.items()}
    assert gaps["arcface"] == pytest.approx(math.degrees(preset_config("arcface", dim)
                                                         .params["m"]), abs=0.01)
    for name, gap in gaps.items():
        expected = 0.0 if name in REFERENCES else gaps["arcface"]
        assert gap == pytest.approx(expected, abs=0.01), name
    fixed, annealed = variants["sphereface-fixed"], variants["sphereface-annealed"]
    assert params_in_force(fixed, 0)["lam"] == params_in_force(fixed, 10**6)["lam"] > 0
    assert params_in_force(annealed, 0)["lam"] == 1000.0
    assert settled_params(annealed)["lam"] == settled_params(fixed)["lam"]


def test_steps_to_is_the_first_traced_step_at_or_above_the_threshold():
    points = [[0, 0, 0.1, 80, 36], [8, 0.25, 0.79, 50, 35], [16, 0.5, 0.8, 40, 34],
              [24, 0.75, 0.7, 40, 34], [32, 1.0, 0.95, 30, 33]]
    assert steps_to(points, 0.8) == 16
    assert steps_to(points, 0.9) == 32
    assert steps_to(points, 0.96) is None


def test_spread_counts_a_seed_that_never_got_there_as_infinitely_many_steps():
    assert spread([100, None, 300]) == {"median": 300, "min": 100, "max": None, "reached": 2,
                                        "of": 3}
    assert spread([None, None, 300])["median"] is None
    assert spread([120, 80, 100]) == {"median": 100, "min": 80, "max": 120, "reached": 3, "of": 3}


def _study(sphere_fixed, sphere_annealed, cosface, arcface, annealed_gap=17.2):
    def variant(name, label, steps, gap_at_end=17.2):
        runs = [{"margin_deg_at_end": gap_at_end, "params_at_end": {"lam": 8.6}}] * 3
        return {"name": name, "label": label, "margin_deg": 17.2, "runs": runs,
                "summary": {"steps_to_90": spread(steps), "final_accuracy": spread([0.9] * 3)}}
    return {"dim": 3, "margin_deg": 17.2, "variants": [
        variant("sphereface-fixed", "SF fixed", sphere_fixed),
        variant("sphereface-annealed", "SF annealed", sphere_annealed, annealed_gap),
        variant("cosface", "CF", cosface), variant("arcface", "AF", arcface),
        variant("normface-reference", "NF", [50, 60, 70], 0.0)]}


def test_the_finding_says_what_the_numbers_show():
    finding = dim_finding(_study([500, 520, 540], [100, 110, 120], [300, 310, 320],
                                 [200, 210, 220]), 0.9)
    assert "SF fixed 520, SF annealed 110, CF 310, AF 210, NF 60" in finding
    assert "with λ fixed it holds for every seed" in finding
    assert "with λ annealed it does not hold" in finding
    assert "λ was still" not in finding  # annealing reached the matched gap
    overlapping = dim_finding(_study([300, 520, 540], [None, None, 1], [250, 310, 320],
                                     [200, 210, 220], annealed_gap=4.2), 0.9)
    assert "λ was still 8.6 after the last step: a gap of 4.2°, not 17.2°" in overlapping
    assert "with λ fixed it holds for the medians, within the seed spread" in overlapping
    assert "SF annealed never" in overlapping and "with λ annealed it holds for every" not in \
        overlapping


def test_a_trace_starts_at_step_zero_and_ends_at_the_last_step(small_set):
    config = preset_config("arcface", 2, epochs=1, batch_size=64)  # 512 digits: 8 steps
    trace = trace_run(config, small_set, eval_every=3, eval_points=100)
    assert [p[0] for p in trace["points"]] == [0, 3, 6, 8]
    assert all(len(p) == len(POINT_FIELDS) for p in trace["points"])
    assert trace["points"][-1][1] == 1.0 and 0 <= trace["final_accuracy"] <= 1


def test_difficulty_subcommand_writes_a_record_whose_numbers_agree(tmp_path):
    out = tmp_path / "evidence" / "difficulty.json"
    result = run_cli("difficulty", "--out", str(out), "--seeds", "0", "--dims", "3",
                     "--epochs", "1", "--eval-every", "8", "--eval-points", "200",
                     "--thresholds", "0.3,0.99")
    assert result.returncode == 0, result.stderr
    record = json.loads(out.read_text())
    assert record["point_fields"] == list(POINT_FIELDS) and record["settings"]["seeds"] == [0]
    (study,) = record["studies"]
    assert [v["name"] for v in study["variants"]] == ["sphereface-fixed", "sphereface-annealed",
                                                      "cosface", "arcface", *REFERENCES]
    reached = []
    for variant in study["variants"]:
        (run,) = variant["runs"]
        steps = [p[0] for p in run["points"]]
        assert steps == [0, 8, 16, 24, 32]  # 4,000 digits in batches of 128: 32 steps
        first = next((p[0] for p in run["points"] if p[2] >= 0.3), None)
        assert run["steps_to_30"] == first and run["steps_to_99"] is None
        assert variant["summary"]["steps_to_30"]["median"] == first
        assert variant["summary"]["final_accuracy"]["median"] == run["final_accuracy"]
        expected_gap = 0.0 if variant["name"] in REFERENCES else study["margin_deg"]
        assert variant["margin_deg"] == pytest.approx(expected_gap, abs=0.01)
        reached.append(first)
        assert variant["label"] in record["finding"]
    assert any(step is not None and step > 0 for step in reached)
    assert record["finding"] == result.stdout.strip()
    assert all(v["runs"][0]["final_accuracy"] > 0.3 for v in study["variants"])  # it learned


def test_pull_subcommand_writes_a_record_whose_numbers_agree(tmp_path):
    out = tmp_path / "pull.json"
    result = run_cli("pull", "--out", str(out), "--seeds", "0", "--epochs", "1",
                     "--losses", "softmax,arcface", "--eval-every", "8", "--eval-points", "200")
    assert result.returncode == 0, result.stderr
    record = json.loads(out.read_text())
    assert record["point_fields"] == list(POINT_FIELDS) and record["settings"]["seeds"] == [0]
    softmax, arcface = record["study"]["variants"]
    assert (softmax["loss"], arcface["loss"]) == ("softmax", "arcface")
    for variant in (softmax, arcface):
        assert variant["own"]["steps"] == [0, 8, 16, 24, 32]
        starts = [run["points"][0][3] for run in variant["runs"]]
        ends = [run["points"][-1][3] for run in variant["runs"]]
        assert variant["summary"]["own_start"]["median"] == starts[0]
        assert variant["own"]["median"][-1] == pytest.approx(ends[0], abs=0.01)
        assert max(ends) < min(starts)  # training pulled the features toward their weights
    # the same initial weights for both losses: the closest pair starts at the same angle
    assert softmax["summary"]["between_start"] == arcface["summary"]["between_start"]
    assert record["finding"] == result.stdout.strip() == pull_finding(record["study"])


def test_pull_subcommand_refuses_a_study_without_softmax_first(tmp_path):
    result = run_cli("pull", "--out", str(tmp_path / "p.json"), "--losses", "arcface,softmax")
    assert result.returncode == 2 and "softmax first" in result.stderr
    assert not (tmp_path / "p.json").exists()

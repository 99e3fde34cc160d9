"""python -m lossviz end to end, on short runs of the bundled digits."""
import csv
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lossviz.checkpoint import load_checkpoint
from lossviz.cli import main as cli_main
from lossviz.data import load_bundled
from tests.cli_run import run_cli

ROOT = Path(__file__).resolve().parents[2]


def lossviz(*args, check=True):
    result = run_cli(*args)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_train_prints_only_json_and_writes_its_folder(tmp_path):
    # the real command line, in a process of its own: the other tests call it in-process
    result = subprocess.run([sys.executable, "-m", "lossviz", "train", "--loss", "arcface",
                             "--dim", "2", "--epochs", "1", "--s", "10", "--json",
                             "--out", str(tmp_path / "run")], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)  # stdout is the JSON object and nothing else
    assert metrics["params"]["s"] == 10.0 and not metrics["nan"]
    assert "epoch 1/1" in result.stderr
    files = {p.name for p in (tmp_path / "run").iterdir()}
    assert {"checkpoint.pt", "metrics.json", "history.csv", "features.png", "features.svg",
            "curves.png", "curves.svg"} <= files
    rows = list(csv.DictReader(open(tmp_path / "run" / "history.csv")))
    assert [r["epoch"] for r in rows] == ["1"]


def test_same_seed_same_metrics():
    first = json.loads(lossviz("train", "--loss", "cosface", "--epochs", "1", "--json").stdout)
    second = json.loads(lossviz("train", "--loss", "cosface", "--epochs", "1", "--json").stdout)
    for key in ("test_accuracy", "test_loss", "train_loss", "mean_own_angle_deg"):
        assert first[key] == second[key]


def test_compare_writes_a_table_of_runs(tmp_path):
    result = lossviz("compare", "--loss", "lsoftmax", "--vary", "m=1,2", "--epochs", "1",
                     "--out", str(tmp_path))
    rows = json.loads(result.stdout)
    assert [r["run"] for r in rows] == ["lsoftmax-m=1", "lsoftmax-m=2"]
    assert (tmp_path / "comparison.csv").exists() and (tmp_path / "lsoftmax-m=2" / "features.svg").exists()
    assert all("angular_margin_deg" in r and "steps_to_90" in r for r in rows)
    for name in ("comparison.png", "comparison.svg", "accuracy.png", "accuracy.svg"):
        assert (tmp_path / name).stat().st_size > 1000


def test_compare_from_a_spec_file_and_a_gif(tmp_path):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"dim": 3, "epochs": 1, "runs": [
        {"loss": "arcface", "params": {"m": 0.4}, "label": "arc"}, {"loss": "normface"}]}))
    result = lossviz("compare", "--spec", str(spec), "--out", str(tmp_path / "c"))
    rows = json.loads(result.stdout)
    assert [r["run"] for r in rows] == ["arc", "normface-2"] and rows[0]["param_m"] == 0.4
    # ArcFace's m moved off its 3D preset (0.3) while the loss changes too: said, and trained
    assert "differ in their loss and also in parameters" in result.stderr
    assert "arc: m=0.4" in result.stderr
    lossviz("train", "--epochs", "2", "--out", str(tmp_path / "g"), "--gif")
    assert (tmp_path / "g" / "features.gif").read_bytes().startswith(b"GIF89a")


@pytest.mark.parametrize("args,message", [
    (["train", "--loss", "nope"], "invalid choice"),
    (["train", "--loss", "softmax", "--m", "0.3"], "--m does not apply to softmax"),
    (["train", "--loss", "cosface", "--m", "7"], "outside"),
    (["compare", "--losses", "arcface,bogus", "--out", "x"], "unknown: bogus"),
    (["compare", "--vary", "m=1,2", "--out", "x"], "--vary needs --loss"),
    (["train", "--gif"], "--gif needs --out"),
    # training anneals lambda at every step: fixed values of lam would give identical runs
    (["compare", "--loss", "sphereface", "--vary", "lam=0,5", "--out", "x"], "lam cannot be set"),
    (["compare", "--loss", "lsoftmax", "--vary", "m=1,2,1.0", "--out", "x"],
     "more than one run would be lsoftmax-m=1"),
    (["compare", "--losses", "arcface,cosface,arcface", "--out", "x"],
     "more than one run would be arcface"),
    # the studies read --losses the way compare does: the same messages for the same mistakes
    (["openset", "--losses", "arcface,bogus", "--out", "x.json"], "unknown: bogus"),
    (["pull", "--losses", "softmax,softmax", "--out", "x.json"], "more than one run would be"),
    (["bake", "--losses", ",", "--out", "x"], "--losses needs one or more"),
])
def test_bad_flags_give_one_line_and_exit_2(args, message):
    result = lossviz(*args, check=False)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_help_documents_every_flag():
    text = lossviz("train", "--help").stdout
    for flag in ("--loss", "--dim", "--epochs", "--seed", "--s", "--m", "--m1", "--m2", "--m3",
                 "--lr", "--batch-size", "--optimizer", "--warmup-steps", "--device", "--data",
                 "--data-dir", "--json", "--out", "--gif", "--tail", "--form", "--lambda-start"):
        # the flag itself, not a longer one that starts with it ("--s" in "--seed")
        assert re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", text), flag


@pytest.mark.parametrize("label", ["../escaped", "/tmp/elsewhere", ".hidden", "a/b", "tab\there"])
def test_a_spec_label_cannot_lead_outside_the_output_folder(tmp_path, label, capsys):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"epochs": 1, "runs": [{"loss": "cosface", "label": label},
                                                      {"loss": "normface"}]}))
    out = tmp_path / "out" / "inner"
    assert cli_main(["compare", "--spec", str(spec), "--out", str(out)]) == 2
    assert "plain name" in capsys.readouterr().err
    assert not (tmp_path / "out").exists() and not (tmp_path / "escaped").exists()


def test_batch_size_optimizer_and_warmup_reach_the_run(tmp_path):
    def train(folder, *flags):
        result = lossviz("train", "--loss", "cosface", "--epochs", "1", "--json",
                         "--out", str(tmp_path / folder), *flags)
        return json.loads(result.stdout), load_checkpoint(
            (tmp_path / folder / "checkpoint.pt").read_bytes(), load_bundled()).config

    metrics, config = train("sgd", "--batch-size", "500", "--optimizer", "sgd",
                            "--warmup-steps", "1000")
    assert (config.batch_size, config.optimizer, config.warmup_steps) == (500, "sgd", 1000)
    assert metrics["steps"] == 8  # 4,000 digits in batches of 500
    assert metrics["params"]["m"] == pytest.approx(0.1 * 8 / 1000)  # 8 steps into the ramp
    adam, adam_config = train("adam", "--batch-size", "500")
    assert adam_config.optimizer == "adam" and adam_config.warmup_steps == 0
    assert adam["params"]["m"] == 0.1 and adam["test_loss"] != metrics["test_loss"]


def test_the_variants_reach_the_run(tmp_path):
    def config_of(folder, *flags):
        lossviz("train", "--epochs", "1", "--batch-size", "1000", "--json",
                "--out", str(tmp_path / folder), *flags)
        return load_checkpoint((tmp_path / folder / "checkpoint.pt").read_bytes(),
                               load_bundled()).config

    assert config_of("easy", "--loss", "arcface", "--tail", "1").params["tail"] == 1
    shortcut = config_of("cos", "--loss", "sphereface", "--form", "1", "--lambda-start", "5")
    assert shortcut.params["form"] == 1 and shortcut.lambda_base == 5.0
    assert "0 = threshold, 1 = easy, 2 = raw" in lossviz("train", "--help").stdout


def test_sub_center_arcface_trains_from_the_command_line_on_noisy_labels(tmp_path):
    out = tmp_path / "subcenter"
    metrics = json.loads(lossviz("train", "--loss", "subcenter", "--k", "2", "--label-noise",
                                 "0.2", "--epochs", "1", "--batch-size", "1000", "--json",
                                 "--out", str(out)).stdout)
    assert metrics["params"]["k"] == 2 and metrics["label_noise"] == 0.2
    assert 0 <= metrics["off_dominant_true"] <= 1 and 0 <= metrics["off_dominant_flipped"] <= 1
    run = load_checkpoint((out / "checkpoint.pt").read_bytes(), load_bundled())
    assert run.config.label_noise == 0.2 and run.model.weight.shape == (10, 2, 2)
    refused = lossviz("train", "--loss", "subcenter", "--label-noise", "0.7", check=False)
    assert refused.returncode != 0 and "label_noise" in refused.stderr


def test_the_later_members_train_from_the_command_line_and_report_their_running_value(tmp_path):
    fixed = json.loads(lossviz("train", "--loss", "adacos", "--mode", "1", "--epochs", "1",
                               "--batch-size", "1000", "--json").stdout)
    assert fixed["params"] == {"mode": 1}
    assert fixed["loss_state"]["s"] == pytest.approx(math.sqrt(2) * math.log(9))
    lossviz("train", "--loss", "curricularface", "--epochs", "1", "--batch-size", "1000",
            "--json", "--out", str(tmp_path / "curricular"))
    metrics = json.loads((tmp_path / "curricular" / "metrics.json").read_text())
    run = load_checkpoint((tmp_path / "curricular" / "checkpoint.pt").read_bytes(),
                          load_bundled())
    assert 0 < metrics["loss_state"]["t"] == run.loss_state["t"]  # the checkpoint keeps t


def test_magface_trains_on_degraded_digits_from_the_command_line_and_compares_norms(tmp_path):
    out = tmp_path / "magface"
    metrics = json.loads(lossviz("train", "--loss", "magface", "--u_a", "20", "--degrade", "0.3",
                                 "--epochs", "1", "--batch-size", "1000", "--json",
                                 "--out", str(out)).stdout)
    assert metrics["params"]["u_a"] == 20 and metrics["degrade"] == 0.3
    assert metrics["norm_clean"] > 0 and metrics["norm_degraded"] > 0
    run = load_checkpoint((out / "checkpoint.pt").read_bytes(), load_bundled())
    assert run.config.degrade == 0.3
    refused = lossviz("train", "--loss", "adaface", "--degrade", "0.7", check=False)
    assert refused.returncode != 0 and "degrade" in refused.stderr

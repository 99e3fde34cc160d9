"""Open-set training: the held-out classes never reach training, the model has that many fewer
class weights, and every evaluation carries verification on the held-out digits."""
import json

import numpy as np
import pytest

from lossviz.cli import main as cli_main
from lossviz.compare import train_one
from lossviz.i18n import LossvizError
from lossviz.openset import family_configs, record, spread, summarize
from lossviz.train import OPEN_SET_HELD_OUT, Run, TrainConfig, preset_config, train_epochs


@pytest.mark.parametrize("value", [-1, 9, 2.5, True, "2", None])
def test_held_out_classes_is_checked_like_every_field(value):
    with pytest.raises(LossvizError) as info:
        TrainConfig(held_out_classes=value)
    assert "held_out_classes" in str(info.value)


def test_the_model_and_the_training_digits_follow_the_known_classes(small_set):
    run = Run(preset_config("arcface", 3, held_out_classes=OPEN_SET_HELD_OUT), small_set)
    assert run.model.weight.shape == (8, 3)
    assert set(run.train_labels.tolist()) == set(range(8))
    assert len(run.train_labels) == int((small_set.train_labels < 8).sum())


def test_a_short_open_set_training_reports_verification(small_set):
    config = preset_config("cosface", 3, epochs=2, held_out_classes=OPEN_SET_HELD_OUT)
    run = Run(config, small_set)
    before = run.evaluate().verification
    metrics = train_epochs(run, small_set)
    evaluation = run.evaluate()
    assert set(evaluation.labels.tolist()) <= set(range(8))  # closed-set numbers: known only
    assert evaluation.verification.unseen.pairs > 0 and evaluation.verification.seen.pairs > 0
    for name in ("unseen_tar_far1", "unseen_tar_far0.1", "unseen_eer", "seen_eer"):
        assert 0.0 <= metrics[name] <= 1.0, name
    assert metrics["held_out_classes"] == 2
    # training on digits 0-7 separates their pairs better than the untrained network did
    assert evaluation.verification.seen.eer < before.seen.eer


def test_a_closed_set_run_has_no_verification(small_set):
    run = Run(preset_config("cosface", 3, epochs=1), small_set)
    assert run.evaluate().verification is None
    assert "unseen_eer" not in train_epochs(run, small_set)


def test_a_run_carried_as_bytes_keeps_its_held_out_classes(small_set):
    run = Run(preset_config("normface", 3, held_out_classes=3), small_set)
    again = Run.from_state_bytes(run.state_bytes(), small_set)
    assert again.model.weight.shape == (7, 3) and again.config.held_out_classes == 3


def test_a_seed_summary_gives_mean_and_spread(small_set):
    runs = family_configs(["softmax", "arcface"], 3, 1, [0, 1])
    assert {(label, seed) for label, seed in runs} == {
        (label, seed) for label in ("Softmax", "ArcFace") for seed in (0, 1)}
    results = {key: train_one(key[0], config, small_set) for key, config in runs.items()}
    summary = summarize(results)
    assert [entry["label"] for entry in summary] == ["Softmax", "ArcFace"]
    for entry in summary:
        values = [results[entry["label"], seed].row["unseen_eer"] for seed in (0, 1)]
        assert entry["unseen_eer"]["mean"] == pytest.approx(np.mean(values))
        assert entry["unseen_eer"]["std"] == pytest.approx(np.std(values, ddof=1))
        assert len(entry["unseen_roc_tar"]) == len(record(summary, {})["roc_far"])
    assert spread([0.5])["std"] == 0.0


def test_cli_train_open_set_prints_the_verification_numbers(capsys):
    assert cli_main(["train", "--loss", "arcface", "--dim", "3", "--epochs", "1", "--open-set",
                     "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["held_out_classes"] == 2
    assert {"test_accuracy", "unseen_tar_far1", "unseen_tar_far0.1", "unseen_eer"} <= set(metrics)


def test_cli_held_out_without_open_set_is_refused(capsys):
    assert cli_main(["train", "--epochs", "0", "--held-out", "3"]) == 2
    assert "--held-out needs --open-set" in capsys.readouterr().err


def test_cli_compare_over_seeds_writes_a_summary(tmp_path, capsys):
    assert cli_main(["compare", "--losses", "softmax,normface", "--dim", "3", "--epochs", "1",
                     "--seeds", "0,1", "--open-set", "--out", str(tmp_path)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert [entry["label"] for entry in summary] == ["softmax", "normface"]
    assert summary[0]["unseen_eer"]["n"] == 2
    assert (tmp_path / "normface" / "seed-1" / "metrics.json").exists()
    written = json.loads((tmp_path / "summary.json").read_text())
    assert written["settings"]["seeds"] == [0, 1] and written["losses"] == summary


def test_the_cli_line_says_n_a_only_where_a_number_is_missing():
    from lossviz.openset import summary_line
    numbers = {"test_accuracy": spread([0.95, 0.97]), "unseen_tar_far1": spread([0.1, 0.3]),
               "unseen_eer": spread([0.2, 0.2]), "seen_tar_far1": spread([0.9]),
               "seen_eer": spread([0.05])}
    line = summary_line({"label": "ArcFace", "seeds": [0, 1], **numbers})
    assert line.startswith("ArcFace: closed-set accuracy 96.0 ± 1.4%, unseen classes "
                           "TAR@FAR=1% 20.0 ± 14.1%, TAR@FAR=0.1% n/a, EER 20.0 ± 0.0%")
    assert "n/a%" not in line
    closed = summary_line({"label": "ArcFace", "seeds": [0], "test_accuracy": spread([0.9])})
    assert closed == "ArcFace: closed-set accuracy 90.0 ± 0.0% (1 seeds)"

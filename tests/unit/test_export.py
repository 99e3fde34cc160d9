from lossviz.export import (history_csv, snapshot_angles_image, snapshot_curves_image,
                            snapshot_features_image, snapshot_gif)
from lossviz.train import TrainConfig
from tests.conftest import wait_for


def test_exports_of_a_live_run(make_registry, small_set):
    run = make_registry().create(TrainConfig(loss="cosface", params={"s": 16.0, "m": 0.1},
                                             dim=2, batch_size=64), small_set)
    run.step(3)
    wait_for(lambda: len(run.snapshot().frames) == 3)
    snap, names = run.snapshot(), small_set.class_names
    assert snapshot_features_image(snap, names, "png").startswith(b"\x89PNG")
    assert b"<svg" in snapshot_features_image(snap, names, "svg")[:500]
    assert b"<svg" in snapshot_curves_image(snap, "svg")[:500]
    assert snapshot_angles_image(snap, "png").startswith(b"\x89PNG")
    gif = snapshot_gif(snap, names)
    assert gif.startswith(b"GIF89a") and gif.count(b"\x21\xf9") >= 3  # one block per frame
    lines = history_csv(snap.history).strip().splitlines()
    assert lines[0] == "epoch,step,train_loss,train_accuracy,test_loss,test_accuracy"
    assert len(lines) == 1 + len(snap.history.steps)
    assert run.checkpoint()[:2] == b"PK"  # torch's zip container


def test_page_figures_as_files():
    import math

    from lossviz.curves import ARCFACE_PAPER_CURVES, Curve, theta_grid
    from lossviz.export import margins_image, target_logit_image
    image = target_logit_image([Curve("ArcFace", "arcface", {"m": 0.5})],
                               list(ARCFACE_PAPER_CURVES), theta_grid(), "svg")
    assert b"<svg" in image[:500] and b"ArcFace" in image
    assert margins_image("cosface", {"m": 0.2}, math.radians(90), "png").startswith(b"\x89PNG")
    from lossviz.export import setting_image
    assert setting_image([Curve("N", "normface", {"s": 4.0})], theta_grid(), 1.0, 10, 8.0,
                         "png").startswith(b"\x89PNG")

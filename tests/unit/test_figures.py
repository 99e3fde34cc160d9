import math

import numpy as np
import pytest

from lossviz.figures.training import (angle_histogram_figure, every_figure, features_2d_figure,
                                      features_3d_figure, picked_test_index, playground_figures,
                                      region_codes, stable_limit)

NAMES = tuple(str(d) for d in range(10))


def test_stable_limit_grows_in_steps_and_keeps_still():
    first = stable_limit(None, 2.0)
    assert first >= 2.3
    assert stable_limit(first, 2.1) == first  # small moves keep the axis
    assert stable_limit(first, 50.0) > 50.0  # growth is followed
    assert stable_limit(first, 0.1) < first  # a big shrink is followed too


def test_region_codes_mark_the_margin_gap():
    weights = np.array([[1.0, 0.0], [0.0, 1.0]])
    angles = np.radians([0.0, 45.0, 44.0, 90.0])
    directions = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    predicted, wins = region_codes("arcface", {"s": 16.0, "m": 0.3}, directions, weights)
    assert predicted.tolist()[0] == 0 and predicted.tolist()[3] == 1
    # with m = 0.3 rad (17.2 degrees) on a 90 degree arc, 44 and 45 degrees are in the gap
    assert wins.tolist() == [True, False, False, True]
    _, softmax_wins = region_codes("softmax", {}, directions[[0, 2]], weights)
    assert softmax_wins.all()


def test_feature_figures_draw_every_point_and_label_every_weight():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 300)
    predictions = np.where(np.arange(300) % 7 == 0, (labels + 1) % 10, labels)
    for dim, build in ((2, features_2d_figure), (3, features_3d_figure)):
        features = rng.normal(size=(300, dim))
        weights = rng.normal(size=(10, dim))
        args = (features, labels, predictions, weights, NAMES, "cosface", {"s": 16.0, "m": 0.1})
        fig = build(*args, raw_limit=3.0) if dim == 2 else build(*args)
        points = next(t for t in fig.data if getattr(t, "customdata", None) is not None
                      and len(t.customdata) == 300)
        assert len(points.x) == 300
        wrong = next(t for t in fig.data if t.name == "misclassified")
        assert len(wrong.x) == int((labels != predictions).sum())
        tips = [t for t in fig.data if getattr(t, "mode", None) == "markers+text"]
        assert list(tips[0].text) == list(NAMES)


def test_angle_histogram_uses_degrees():
    features = np.array([[1.0, 0.0], [0.0, 1.0]])
    weights = np.array([[1.0, 0.0], [0.0, 1.0]])
    fig = angle_histogram_figure(features, np.array([0, 0]), weights)
    own = fig.data[0].x
    np.testing.assert_allclose(own, [0.0, 90.0], atol=1e-6)
    assert math.isclose(fig.data[1].x[1], 0.0, abs_tol=1e-6)


def test_a_clicked_point_gives_its_test_index_in_every_shape_a_browser_sends():
    assert picked_test_index({"customdata": [7, 3, 5], "point_index": 7}) == 7
    # a typed array serialized by the browser's JSON.stringify
    assert picked_test_index({"customdata": {"0": 12, "1": 3, "2": 3}, "point_index": 12}) == 12
    assert picked_test_index({"customdata": 4.0}) == 4
    assert picked_test_index({"customdata": {"weird": 1}, "point_index": 9}) == 9
    # a weight tip or the ring carries no customdata: not a digit
    assert picked_test_index({"point_index": 3, "text": "3"}) is None


def nan_snapshot(small_set, dim):
    """A run whose weights went NaN, as the playground would receive it."""
    import torch

    from lossviz.train import Run, TrainConfig
    from lossviz.snapshot import fresh_snapshot
    run = Run(TrainConfig(loss="arcface", params={"s": 16.0, "m": 0.1}, dim=dim), small_set)
    with torch.no_grad():
        for parameter in run.model.parameters():
            parameter.fill_(float("nan"))
    return fresh_snapshot(run)


@pytest.mark.parametrize("dim", [2, 3])
def test_playground_figures_of_nan_features_draw_without_raising(small_set, dim):
    snap = nan_snapshot(small_set, dim)
    assert np.isnan(snap.evaluation.features).all()
    figures, limit = playground_figures(snap, small_set.class_names)
    assert set(figures) == {"features", "curves", "angles"}
    assert limit is None or math.isfinite(limit)


def test_the_finite_points_of_a_partly_broken_snapshot_set_the_axis(small_set):
    import dataclasses
    snap = nan_snapshot(small_set, 2)
    features = np.tile([[3.0, -4.0]], (len(snap.evaluation.labels), 1))
    features[:5] = [np.nan, np.inf]
    weights = np.tile([[1.0, 0.0]], (10, 1))
    snap = dataclasses.replace(snap, evaluation=dataclasses.replace(
        snap.evaluation, features=features, weights=weights))
    figures, limit = playground_figures(snap, small_set.class_names)
    assert limit == stable_limit(None, 4.0)  # the finite points alone
    for figure in every_figure(figures):
        figure.to_json()  # what the page sends to the browser


def test_stable_limit_ignores_what_is_not_finite():
    assert stable_limit(None, float("nan")) == stable_limit(None, 0.0)
    assert stable_limit(2.0, float("inf")) == 2.0


def _covered(rectangles, x, y) -> bool:
    return any(x0 <= x <= x1 and y0 <= y <= y1 for x0, x1, y0, y1 in rectangles)


@pytest.mark.parametrize("tail", [0, 1, 2])
def test_angle_plane_regions_cover_the_plane_as_the_region_map_says(tail):
    from lossviz.figures.margins import column_regions
    from lossviz.margins import CLASS_1, CLASS_2, GAP, region_map
    params = {"m": 0.5, "tail": tail}
    x = np.linspace(0, 180, 91)
    t1, t2 = np.meshgrid(np.radians(x), np.radians(x))
    regions = column_regions(region_map("arcface", params, t1, t2), x)
    area = sum((x1 - x0) * (y1 - y0) for rects in regions.values() for x0, x1, y0, y1 in rects)
    assert area == pytest.approx(180 * 180)  # no overlap, no hole
    # points well inside a cell, checked against the region map itself
    for a, b in [(20, 150), (150, 20), (120, 125), (170, 100), (100, 170), (130, 95)]:
        code = int(region_map("arcface", params, np.radians(a), np.radians(b)))
        others = {CLASS_1, CLASS_2, GAP} - {code}
        assert _covered(regions[code], a + 0.3, b + 0.3)
        assert not any(_covered(regions[o], a + 0.3, b + 0.3) for o in others)


def test_easy_margin_gives_class_2_two_stretches_in_one_column():
    from lossviz.figures.margins import column_regions
    from lossviz.margins import CLASS_2, region_map
    x = np.linspace(0, 180, 181)
    t1, t2 = np.meshgrid(np.radians(x), np.radians(x))
    regions = column_regions(region_map("arcface", {"m": 0.5, "tail": 1}, t1, t2), x)
    column = [r for r in regions[CLASS_2] if r[0] <= 110 <= r[1]]
    # theta_1 = 110: class 2 wins while theta_2 + m < 110 (its margin holds below 90), and
    # again from 90 to 110, where the easy margin has dropped its margin
    assert len(column) == 2
    (_, _, low_0, high_0), (_, _, low_1, high_1) = sorted(column, key=lambda r: r[2])
    assert low_0 == 0 and high_0 == pytest.approx(110 - math.degrees(0.5), abs=1)
    assert low_1 == pytest.approx(90, abs=1) and high_1 == pytest.approx(110, abs=1)


def test_running_value_figure_draws_the_loss_value_and_adacos_fixed_scale():
    from lossviz.figures.style import View
    from lossviz.figures.training import running_value_figure
    from lossviz.snapshot import History
    history = History(epochs=(0.5, 1.0, 1.5), loss_state=({}, {"s": 5.0}, {"s": 7.5}))
    figure = running_value_figure(history, "adacos", 8)  # the first point: another loss's
    line, fixed = figure.data
    assert list(line.x) == [1.0, 1.5] and list(line.y) == [5.0, 7.5]
    assert list(fixed.y) == [pytest.approx(math.sqrt(2) * math.log(7))] * 2
    assert figure.layout.annotations[0].text == "fixed √2 ln(C − 1) = 2.75"
    curricular = running_value_figure(History(epochs=(1.0,), loss_state=({"t": 0.2},)),
                                      "curricularface", 10, View(lang="zh"))
    assert len(curricular.data) == 1 and curricular.layout.title.text == "CurricularFace 的 t 随训练的变化"


def test_adafaces_running_norm_is_a_line_in_a_band_one_std_either_side():
    from lossviz.figures.style import LOSS_STYLES, translucent
    from lossviz.figures.training import running_value_figure
    from lossviz.snapshot import History
    history = History(epochs=(0.5, 1.0, 1.5), loss_state=(
        {}, {"norm_mean": 10.0, "norm_std": 2.0}, {"norm_mean": 12.0, "norm_std": 1.0}))
    band, line = running_value_figure(history, "adaface", 10).data
    assert list(line.x) == [1.0, 1.5] and list(line.y) == [10.0, 12.0]
    assert list(band.x) == [1.0, 1.5, 1.5, 1.0] and list(band.y) == [12.0, 13.0, 11.0, 8.0]
    assert band.fill == "toself" and band.fillcolor == translucent(LOSS_STYLES["adaface"].color, 0.2)


@pytest.mark.parametrize("loss", ["arcface", "adacos"])
def test_the_live_figures_leave_plotly_no_margin_to_measure(small_set, loss):
    """The playground redraws these twice a second: with automargin Plotly measures every label
    and may draw a figure twice per update (a quarter of the browser's time in a profile)."""
    from lossviz.figures.training import running_value_figure
    from lossviz.snapshot import fresh_snapshot
    from lossviz.train import Run, TrainConfig
    run = Run(TrainConfig(loss=loss, dim=2), small_set)
    run.train_step()
    snap = fresh_snapshot(run)
    figures, _ = playground_figures(snap, small_set.class_names)
    live = [*every_figure(figures),
            running_value_figure(snap.history, loss, 10) if loss == "adacos" else None]
    for figure in filter(None, live):
        axes = [name for name in figure.layout.to_plotly_json() if name[1:5] == "axis"]
        assert axes and all(figure.layout[name].automargin is False for name in axes), axes
        assert figure.layout.margin.l >= 40 and figure.layout.margin.b >= 30

import dataclasses
import json
import math

import numpy as np
import pytest

import lossviz
from lossviz.compare import train_one
from lossviz.figures.smap import map_figure
from lossviz.figures.style import View
from lossviz.i18n import LossvizError
from lossviz.losses import LOSSES
from lossviz.margins import feasibility
from lossviz.smap import (MAP_FOLDER, MAP_LOSSES, READY_LOSSES, MapGrid, MetricMap,
                          default_axes, default_grid, feasibility_limit, file_name,
                          infeasible_cells, load_map, map_from_results, map_params, ready_map,
                          save_map)


@pytest.fixture(scope="module")
def two_by_two(small_set):
    """A real 2 x 2 map of ArcFace in 2D: one epoch of 512 digits per run."""
    grid = MapGrid("arcface", 2, ("m", "s"), ((0.1, 0.9), (8.0, 16.0)), epochs=1, seed=0)
    results = [train_one(label, config, small_set) for label, config in grid.configs().items()]
    return grid, results


def test_a_two_by_two_map_end_to_end(two_by_two, tmp_path):
    grid, results = two_by_two
    amap = map_from_results(grid, results, meta={"seconds": 1.5})
    assert amap.accuracy.shape == (2, 2) and amap.complete
    assert ((amap.accuracy >= 0) & (amap.accuracy <= 1)).all()
    by_label = {result.label: result.row["test_accuracy"] for result in results}
    for row, column in grid.cells():  # each run in its own cell: m across, s up
        params = {"m": grid.values[0][column], "s": grid.values[1][row]}
        assert amap.accuracy[row, column] == by_label[f"m={params['m']:g}, s={params['s']:g}"]
        assert resolved(results, grid.label(row, column)) == params
    loaded = load_map(save_map(tmp_path / "map.json", amap, "small"))
    assert loaded.grid == grid
    np.testing.assert_allclose(loaded.accuracy, amap.accuracy, atol=1e-5)
    assert loaded.meta["code_version"] == lossviz.__version__
    assert loaded.meta["dataset"] == "small" and loaded.meta["seconds"] == 1.5
    assert loaded.meta["settings_hash"] == grid.settings_hash("small")
    assert ready_map(grid, tmp_path) is None  # the file's name is not arcface-2d.json
    (tmp_path / "map.json").rename(tmp_path / file_name("arcface", 2))
    assert ready_map(grid, tmp_path).grid == grid
    assert ready_map(dataclasses.replace(grid, seed=1), tmp_path) is None


def resolved(results, label) -> dict:
    result = next(r for r in results if r.label == label)
    return {name: result.config.params[name] for name in ("m", "s")}


@pytest.fixture(scope="module")
def open_two_by_two(small_set):
    """The same 2 x 2 map in open set: each run trains on digits 0-7 only, then verifies pairs
    of the test 8s and 9s."""
    grid = MapGrid("arcface", 3, ("m", "s"), ((0.1, 0.5), (8.0, 32.0)), epochs=1, seed=0,
                   held_out=2)
    results = [train_one(label, config, small_set) for label, config in grid.configs().items()]
    return grid, results


def test_an_open_set_map_records_each_runs_own_verification(open_two_by_two, tmp_path):
    grid, results = open_two_by_two
    assert all(r.config.held_out_classes == 2 for r in results)
    amap = map_from_results(grid, results)
    assert set(amap.metrics) == {"accuracy", "tar", "eer"} and amap.complete
    for (row, column), result in zip(grid.cells(), results, strict=True):
        assert result.label == grid.label(row, column)
        unseen = result.evaluation.verification.unseen
        assert amap.metrics["tar"][row, column] == unseen.tar[0.01]
        assert amap.metrics["eer"][row, column] == unseen.eer
        assert amap.accuracy[row, column] == result.evaluation.accuracy  # digits 0-7 only
    assert len(set(amap.metrics["tar"].ravel())) > 1  # the cells differ: not one number copied
    path = save_map(tmp_path / file_name("arcface", 3, 2), amap, "small")
    assert path.name == "arcface-3d-openset.json"
    loaded = ready_map(grid, tmp_path)
    assert loaded.grid == grid and loaded.grid.held_out == 2
    for name in ("accuracy", "tar", "eer"):
        np.testing.assert_allclose(loaded.metrics[name], amap.metrics[name], atol=1e-5)
    assert ready_map(dataclasses.replace(grid, held_out=0), tmp_path) is None  # closed: another
    assert grid.settings_hash("small") != dataclasses.replace(grid, held_out=0).settings_hash(
        "small")


def test_an_open_set_map_coloured_by_tar_frames_the_best_tar(open_two_by_two):
    grid, results = open_two_by_two
    amap = map_from_results(grid, results)
    tar = amap.metrics["tar"]
    figure = map_figure(amap, infeasible_cells(grid), "tar")
    np.testing.assert_allclose(figure.data[0].z, tar * 100)
    assert figure.layout.title.text == "ArcFace, 3D: unseen TAR at FAR 1%"
    assert figure.data[0].colorbar.title.text == "% TAR (epochs: 1)"
    texts = next(t for t in figure.data if t.type == "scatter" and t.mode == "text").text
    assert list(texts) == [f"{100 * v:.0f}" for v in tar.ravel()]
    best = np.unravel_index(np.argmax(tar), tar.shape)
    # the most accurate run made the least TAR: the frame follows the colour, not accuracy
    flipped = MetricMap(grid, {**amap.metrics, "accuracy": 1 - tar}, amap.trained)
    for framed in (figure, map_figure(flipped, None, "tar")):
        frame = next(t for t in framed.data if (t.name or "").startswith("best:"))
        assert cells_inside(frame) == {tuple(int(i) for i in best)}
        assert f"({tar[best]:.1%})" in frame.name
    hover = figure.data[0].text[0][0]
    assert f"unseen TAR at FAR 1% {tar[0, 0]:.1%}" in hover
    assert f"EER {amap.metrics['eer'][0, 0]:.1%}" in hover
    by_accuracy = map_figure(amap, None, "accuracy")
    assert by_accuracy.layout.title.text == "ArcFace, 3D: accuracy on digits 0-7"


def test_an_open_set_map_judges_the_margin_for_the_eight_classes_it_trains():
    closed, open_ = default_grid("cosface", 2), default_grid("cosface", 2, held_out=2)
    assert feasibility_limit("cosface", "m", 2, 8) > feasibility_limit("cosface", "m", 2)
    assert open_.values[0][-1] > closed.values[0][-1]  # past the wider limit too
    assert infeasible_cells(open_)[:, -1].all() and not infeasible_cells(open_)[:, 0].any()
    same = dataclasses.replace(closed, held_out=2)  # the closed map's margins, 8 classes
    assert infeasible_cells(same).sum() < infeasible_cells(closed).sum()
    figure = map_figure(map_from_results(open_, []), infeasible_cells(open_))
    assert "margin not feasible for 8 classes in 2D" in [t.name for t in figure.data]


def test_a_map_under_way_has_its_first_cells_and_a_diverged_run_is_nan(two_by_two):
    grid, results = two_by_two
    stopped = dataclasses.replace(results[1], history=results[1].history[:0])  # no epoch ended
    amap = map_from_results(grid, [results[0], stopped])
    assert amap.trained.tolist() == [[True, True], [False, False]]
    assert math.isnan(amap.accuracy[0, 1]) and math.isfinite(amap.accuracy[0, 0])
    assert amap.best_cell() == (0, 0)
    figure = map_figure(amap, None)
    texts = next(t for t in figure.data if t.type == "scatter" and t.mode == "text").text
    assert list(texts) == [f"{100 * amap.accuracy[0, 0]:.0f}", "—", "", ""]  # not 0
    blank = next(t for t in figure.data if t.name == "— diverged (no accuracy)")
    assert cells_inside(blank) == {(0, 1)}


READY_MAPS = [(loss, dim, 0) for loss in READY_LOSSES for dim in (2, 3)] + [("arcface", 3, 2)]


@pytest.mark.parametrize("loss, dim, held_out", READY_MAPS)
def test_a_shipped_map_is_the_one_the_page_asks_for(loss, dim, held_out, bundled):
    amap = load_map(MAP_FOLDER / file_name(loss, dim, held_out))
    grid = default_grid(loss, dim, held_out=held_out)
    assert set(amap.metrics) == set(grid.metrics)
    assert amap.grid == grid and amap.complete
    assert amap.meta["settings_hash"] == grid.settings_hash(bundled.name)  # today's presets
    assert amap.meta["dataset"] == bundled.name
    assert ready_map(grid) is not None
    assert np.nanmax(amap.accuracy) > 0.6  # the best setting learned (chance: 0.1) in 3 epochs


@pytest.mark.parametrize("loss", READY_LOSSES)
@pytest.mark.parametrize("dim", (2, 3))
def test_the_default_margin_axis_crosses_the_feasibility_limit(loss, dim):
    grid = default_grid(loss, dim)
    assert grid.params == ("m", "s") and grid.shape == (6, 6)
    assert grid.values[1] == (2.0, 4.0, 8.0, 16.0, 32.0, 64.0)
    infeasible = infeasible_cells(grid)
    assert infeasible[:, 0].sum() == 0 and infeasible[:, -1].all()  # no margin / past the limit


def test_damaged_map_files_are_refused_with_why(tmp_path):
    path = tmp_path / "arcface-2d.json"
    path.write_text("{not json")
    with pytest.raises(LossvizError, match="damaged"):
        load_map(path)
    grid = MapGrid("cosface", 3, ("m", "s"), ((0.0, 0.5), (4.0, 8.0)), epochs=1)
    record = {"format": "lossviz-map/1", "loss": "cosface", "dim": 3, "params": ["m", "s"],
              "values": [list(v) for v in grid.values], "epochs": 1, "seed": 0,
              "accuracy": [[0.5, 0.6], [0.7, 1.4]]}
    path.write_text(json.dumps(record))
    with pytest.raises(LossvizError, match="outside 0..1"):
        load_map(path)
    path.write_text(json.dumps({**record, "accuracy": [[0.5, 0.6]]}))
    with pytest.raises(LossvizError, match="shape"):
        load_map(path)
    path.write_text(json.dumps({**record, "params": ["m", "m"]}))
    with pytest.raises(LossvizError, match="two different parameters"):
        load_map(path)
    path.write_text(json.dumps({**record, "accuracy": [[0.5, 0.6], [0.7, 0.8]], "held_out": 2,
                                "tar": [[0.5, 0.6], [0.7, 0.8]]}))
    with pytest.raises(LossvizError, match=r"KeyError\('eer'\)"):  # open set: each metric there
        load_map(path)
    with pytest.raises(LossvizError, match="No ready map"):
        load_map(tmp_path / "absent.json")


# ----- the figure ---------------------------------------------------------------------------

def cells_inside(trace) -> set[tuple[int, int]]:
    """(row, column) of each closed outline in a trace (outlines apart by None)."""
    xs, ys, found = list(trace.x) + [None], list(trace.y) + [None], set()
    start = 0
    for i, x in enumerate(xs):
        if x is None:
            if i > start:
                found.add((round(np.mean(ys[start:i - 1])), round(np.mean(xs[start:i - 1]))))
            start = i + 1
    return found


@pytest.mark.parametrize("loss, dim", [("cosface", 2), ("arcface", 3)])
def test_the_hatched_cells_are_where_the_margin_cannot_be_met(loss, dim):
    amap = load_map(MAP_FOLDER / file_name(loss, dim))
    grid = amap.grid
    figure = map_figure(amap, infeasible_cells(grid))
    name = f"margin not feasible for 10 classes in {dim}D"
    hatched = next(t for t in figure.data if t.name == name and t.fillpattern.shape == "/")
    preset = LOSSES[loss].presets[f"{dim}d"]
    expected = {(row, column) for row, column in grid.cells()
                if not feasibility(loss, {**preset, **grid.cell_params(row, column)}, 10,
                                   dim).feasible}
    assert expected and cells_inside(hatched) == expected
    assert len(expected) < rows_times_columns(grid)  # some feasible cells stay clear
    limit = next(t for t in figure.data if t.name == name and t.mode == "lines"
                 and t.line.dash == "dash")
    assert limit.x  # the line between the two sides is drawn


def rows_times_columns(grid) -> int:
    return grid.shape[0] * grid.shape[1]


def test_the_best_cell_is_framed_and_named():
    amap = load_map(MAP_FOLDER / file_name("arcface", 2))
    best = np.unravel_index(np.nanargmax(amap.accuracy), amap.accuracy.shape)
    figure = map_figure(amap, None, view=View("zh"))
    frame = next(t for t in figure.data if (t.name or "").startswith("最好"))
    assert cells_inside(frame) == {tuple(int(i) for i in best)}
    assert f"{amap.accuracy[best]:.1%}" in frame.name
    assert figure.layout.xaxis.ticktext == tuple(f"{v:g}" for v in amap.grid.values[0])
    assert figure.layout.xaxis.title.text == "间隔 m（弧度）"
    assert figure.data[0].colorscale[0][1] == "#440154"  # viridis: dark purple at the bottom


@pytest.mark.parametrize("args, message", [
    (["--across", "m"], "--across and --up go together"),
    (["--across", "m", "--up", "m"], "varies two different parameters of s, m"),
    (["--size", "1"], "2 or more values per parameter, not 1"),
    (["--held-out", "3"], "--held-out needs --open-set"),
    (["--open-set", "--held-out", "9"], "holds out 0 to 8 classes, not 9"),
])
def test_the_map_command_refuses_a_grid_it_cannot_make_in_one_line(args, message, tmp_path,
                                                                   capsys):
    from lossviz.cli import main
    out = tmp_path / "map.json"
    assert main(["map", "--loss", "cosface", "--out", str(out), *args]) == 2
    error = capsys.readouterr().err
    assert message in error and len(error.strip().splitlines()) == 1
    assert not out.exists()


def test_the_default_axes_are_a_margin_against_the_scale():
    assert default_axes("arcface") == ("m", "s")
    assert default_axes("combined") == ("m2", "s")  # m1 has no feasibility limit to draw
    assert default_axes("magface") == ("u_m", "s")  # not l_a, a bound on the feature norm
    for loss in MAP_LOSSES:
        across, up = default_axes(loss)
        assert across != up and {across, up} <= set(map_params(loss))

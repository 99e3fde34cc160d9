import numpy as np
import pytest

from lossviz.compare import (Comparison, RunCache, configs_from_spec, confounds,
                             difficulty_sentence, losses_comparison, over_seed_rounds,
                             parameter_comparison, parse_values, seed_groups)
from lossviz.figures.compare import (accuracy_overlay_figure, run_panel_figure,
                                     small_multiples_figure)
from lossviz.metrics import unit_rows
from tests.conftest import wait_for


def test_identical_runs_are_trained_once_in_the_training_process(make_registry, small_set):
    registry, asked = make_registry(), []

    def train(label, config, dataset):
        asked.append(label)
        return registry.fit(label, config, dataset)

    cache = RunCache()
    configs = losses_comparison(["softmax", "cosface"], dim=2, epochs=1, seed=0)
    first = Comparison(configs, small_set, cache, train)
    second = Comparison(configs, small_set, cache, train)  # another student, same comparison
    wait_for(lambda: first.done and second.done, 240)
    assert asked == list(configs) and registry.process_ids  # trained there, once each
    assert [r.row["test_accuracy"] for r in first.progress().results] == \
        [r.row["test_accuracy"] for r in second.progress().results]
    results = second.progress().results
    assert [r.label for r in results] == list(configs) and second.progress().error is None
    assert all(len(r.history) == 1 and r.row["nan"] is False for r in results)
    panels = small_multiples_figure(list(results), small_set.class_names)
    assert [a.text for a in panels.layout.annotations] == list(configs)  # a title per run
    points = [t for t in panels.data if t.customdata is not None]
    assert [t.xaxis for t in points] == ["x", "x2"]  # each run on its own axes
    for trace, result in zip(points, results, strict=True):
        np.testing.assert_allclose(trace.y, unit_rows(result.evaluation.features)[:, 1])
    for result, name in zip(results, configs, strict=True):  # the page's one panel per run
        panel = run_panel_figure(result, small_set.class_names, name)
        assert panel.layout.title.text.replace("<br>", " ") == name
        (point,) = [t for t in panel.data if t.customdata is not None]
        np.testing.assert_allclose(point.y, unit_rows(result.evaluation.features)[:, 1])
        assert panel.layout.xaxis.range == panels.layout.xaxis.range  # the same axes
    overlay = accuracy_overlay_figure([[r] for r in results])  # one seed: no band
    assert [t.name for t in overlay.data] == list(configs)
    for trace, result in zip(overlay.data, results, strict=True):
        assert list(trace.y) == [row["test_accuracy"] for row in result.history]


def test_cancel_stops_a_training_nobody_else_waits_for(make_registry, small_set):
    registry = make_registry()
    cache = RunCache()
    configs = losses_comparison(["softmax", "cosface"], dim=2, epochs=50, seed=0)
    mine = Comparison(configs, small_set, cache, registry.fit)
    theirs = Comparison(configs, small_set, cache, registry.fit)
    wait_for(lambda: mine.progress().epoch >= 1)
    mine.cancel()
    assert mine.progress().cancelled and mine.done
    first = cache.ask("again", configs["Softmax"], small_set, registry.fit)
    assert not first.future.cancelled()  # the other student still waits for it
    theirs.cancel()
    cache.release(first, configs["Softmax"], small_set)
    wait_for(lambda: first.future.cancelled() and registry.slots.in_use == 0, 30)


def test_an_unwatched_comparison_is_cancelled(make_registry, small_set):
    registry = make_registry(pause_after=0.5)
    job = Comparison(losses_comparison(["softmax", "normface"], 2, 50, 0), small_set, RunCache(),
                     registry.fit)
    registry.cancel_when_unwatched(job)
    wait_for(lambda: job.done, 30)  # nobody asks for its progress: its session has ended
    assert job.progress().cancelled and registry.slots.in_use == 0


def test_runs_share_initial_weights_and_data_order(small_set):
    from lossviz.train import Run
    configs = parameter_comparison("arcface", "m", [0.1, 0.3], dim=2, epochs=1, seed=5)
    first, second = (Run(c, small_set) for c in configs.values())
    assert all((a == b).all() for a, b in zip(first.model.parameters(), second.model.parameters(), strict=True))
    assert (first._order == second._order).all()


def test_parse_values():
    assert parse_values("1, 2;3", "lsoftmax", "m") == [1.0, 2.0, 3.0]
    with pytest.raises(ValueError, match="whole numbers"):
        parse_values("1, 2.5", "lsoftmax", "m")
    with pytest.raises(ValueError, match="two or more"):
        parse_values("0.3", "arcface", "m")
    with pytest.raises(ValueError, match="separated by commas"):
        parse_values("a, b", "arcface", "m")
    with pytest.raises(ValueError, match=r"\[0, 1.5\]"):
        parse_values("0.1, 9", "arcface", "m")


def test_difficulty_sentence_says_what_the_run_shows():
    rows = [{"loss": "sphereface", "steps_to_90": 300}, {"loss": "cosface", "steps_to_90": 200},
            {"loss": "arcface", "steps_to_90": 100}]
    assert "agrees with the claim" in str(difficulty_sentence(rows))
    rows[2]["steps_to_90"] = 250
    assert "does not bear the claim out" in str(difficulty_sentence(rows))
    rows[0]["steps_to_90"] = None
    assert "cannot rank them all" in str(difficulty_sentence(rows))


def test_a_comparison_waits_for_a_free_slot(make_registry, small_set):
    from lossviz.train import TrainConfig
    registry = make_registry(slots=1)
    student = registry.create(TrainConfig(dim=2, batch_size=64), small_set)
    student.start()  # someone else is training
    wait_for(lambda: student.snapshot().step > 0)
    job = Comparison(losses_comparison(["softmax", "normface"], 2, 1, 0), small_set, RunCache(),
                     registry.fit)
    assert job.progress().waiting and job.progress().results == ()
    student.pause()
    wait_for(lambda: job.done, 240)
    assert len(job.progress().results) == 2 and job.progress().error is None


def test_a_configuration_is_keyed_by_its_values_not_their_spelling(small_set):
    from lossviz.train import TrainConfig
    key = RunCache.key
    assert key(TrainConfig(loss="lsoftmax", params={"m": 3}), small_set) == \
        key(TrainConfig(loss="lsoftmax", params={"m": 3.0}), small_set)
    assert key(TrainConfig(loss="cosface"), small_set) == \
        key(TrainConfig(loss="cosface", params={"s": 64.0, "m": 0.35}), small_set)
    assert key(TrainConfig(lr=1), small_set) == key(TrainConfig(lr=1.0), small_set)
    assert key(TrainConfig(loss="lsoftmax", params={"m": 3}), small_set) != \
        key(TrainConfig(loss="lsoftmax", params={"m": 2}), small_set)


def recording(registry, asked):
    """registry.fit, noting the label of every run it is really asked to train."""
    def train(label, config, dataset):
        asked.append(label)
        return registry.fit(label, config, dataset)
    return train


def test_the_same_run_written_two_ways_is_trained_once(make_registry, small_set):
    from lossviz.train import TrainConfig
    asked, cache = [], RunCache()
    train = recording(make_registry(), asked)
    first = cache.ask("int", TrainConfig(loss="lsoftmax", params={"m": 3}, epochs=1), small_set,
                      train)
    second = cache.ask("float", TrainConfig(loss="lsoftmax", params={"m": 3.0}, epochs=1),
                       small_set, train)
    assert asked == ["int"] and second is first
    assert first.future.result(240).row["nan"] is False


def test_a_failed_run_is_not_kept_and_the_next_ask_trains_again(make_registry, small_set):
    from lossviz.data import Dataset
    from lossviz.train import TrainConfig
    # labels 0..9 for a network with two classes: training fails inside torch
    broken = Dataset("broken", ("a", "b"), small_set.train_images, small_set.train_labels,
                     small_set.test_images, small_set.test_labels)
    asked, cache, config = [], RunCache(), TrainConfig(epochs=1)
    train = recording(make_registry(), asked)
    for attempt in ("first", "second"):
        with pytest.raises(Exception):
            cache.ask(attempt, config, broken, train).future.result(120)
    assert asked == ["first", "second"]  # the failure was not served from the cache
    good = cache.ask("good", config, small_set, train)
    assert good.future.result(240).row["nan"] is False


def test_exported_accuracy_curves_keep_each_loss_color_and_whole_epochs():
    from matplotlib.colors import to_hex

    from lossviz.figures.static import accuracy_figure
    from lossviz.figures.style import LOSS_STYLES, run_styles
    rows = [{"epoch": e, "test_accuracy": 0.2 * e} for e in (1, 2, 3)]
    losses = ["arcface", "cosface"]
    fig = accuracy_figure([(name, rows, style) for name, style in
                           zip(losses, run_styles(losses), strict=True)])
    axes = fig.axes[0]
    assert [to_hex(line.get_color()) for line in axes.lines] == \
        [LOSS_STYLES[loss].color for loss in losses]
    assert all(tick == int(tick) for tick in axes.get_xticks())


def test_the_epoch_axis_ticks_whole_epochs_only():
    from lossviz.figures.compare import whole_epochs
    assert whole_epochs(3) == dict(tick0=0, dtick=1, tickformat="d")
    assert whole_epochs(30)["dtick"] == 5 and whole_epochs(100)["dtick"] == 10


def test_runs_are_named_in_the_readers_language_by_what_tells_them_apart():
    from lossviz.figures.compare import run_names
    from lossviz.figures.style import View
    losses = losses_comparison(["softmax", "combined"], dim=2, epochs=1, seed=0)
    assert run_names(list(losses.values()), View("zh")) == ["Softmax", "组合间隔"]
    values = parameter_comparison("arcface", "m", [0.1, 0.3], dim=2, epochs=1, seed=0)
    assert run_names(list(values.values())) == ["ArcFace, m=0.1", "ArcFace, m=0.3"]


@pytest.mark.parametrize("runs, warning", [
    ([{"loss": "softmax"}, {"loss": "cosface"}], None),  # each loss at its preset: fair
    ([{"loss": "arcface", "params": {"m": 0.2}}, {"loss": "arcface", "params": {"m": 0.3}}],
     None),  # one parameter of one loss
    ([{"loss": "arcface", "params": {"m": 0.3}}, {"loss": "cosface"}], "arcface-1: m=0.3"),
    ([{"loss": "arcface", "params": {"s": 30, "m": 0.2}},
      {"loss": "arcface", "params": {"m": 0.3}}], "(s, m)"),
])
def test_a_comparison_says_when_its_runs_differ_in_more_than_one_thing(runs, warning):
    found = confounds(configs_from_spec({"runs": runs}))
    if warning is None:
        assert found is None
    else:
        assert warning in found.render("en") and "警告" in found.render("zh")


def test_a_runs_parameters_are_written_for_the_reader_not_in_code_names():
    from lossviz.figures.compare import params_text
    from lossviz.figures.style import View
    assert params_text("sphereface", {"m": 2, "lam": 5.0, "form": 0}) == "m=2, λ=5"
    assert params_text("adacos", {"mode": 0}) == "—"  # the usual variant goes without saying
    easy = params_text("arcface", {"s": 16, "m": 0.1, "tail": 1}, View("zh"))
    assert easy.startswith("s=16, m=0.1, ") and "tail" not in easy and "easy" not in easy


def test_a_panel_title_breaks_at_spaces_into_short_lines():
    from lossviz.figures.compare import panel_title
    assert panel_title("Sub-center ArcFace") == "Sub-center<br>ArcFace"
    assert panel_title("ArcFace, m=0.1") == "ArcFace,<br>m=0.1"
    assert panel_title("CurricularFace") == "CurricularFace"  # one word stays whole
    assert panel_title("组合间隔") == "组合间隔"


def test_seed_rounds_repeat_every_run_and_group_back_by_what_they_compare():
    configs = parameter_comparison("arcface", "m", [0.1, 0.3], dim=2, epochs=1, seed=7)
    rounds = over_seed_rounds(configs, 3)
    assert [(c.params["m"], c.seed) for c in rounds.values()] == [
        (0.1, 7), (0.3, 7), (0.1, 8), (0.3, 8), (0.1, 9), (0.3, 9)]
    assert list(rounds)[:2] == list(configs)  # the first round is the comparison itself
    groups = seed_groups(rounds.values())
    assert [[c.seed for c in group] for group in groups] == [[7, 8, 9], [7, 8, 9]]
    assert [group[0].params["m"] for group in groups] == [0.1, 0.3]
    assert over_seed_rounds(configs, 1) == configs

import numpy as np
import pytest

from lossviz import compare
from lossviz.compare import (Comparison, RunCache, difficulty_sentence, losses_comparison,
                             parameter_comparison, parse_values)
from lossviz.figures.compare import accuracy_overlay_figure, small_multiples_figure
from lossviz.metrics import unit_rows


@pytest.fixture
def trainings(monkeypatch) -> list:
    """The label of every run RunCache really trains, in order (the training is real)."""
    labels = []
    real = compare.train_one
    monkeypatch.setattr(compare, "train_one",
                        lambda *args, **kw: labels.append(args[0]) or real(*args, **kw))
    return labels


def test_identical_runs_are_trained_once(small_set, trainings):
    cache = RunCache()
    configs = losses_comparison(["softmax", "cosface"], dim=2, epochs=1, seed=0)
    first = Comparison(configs, small_set, cache)
    first.join(120)
    second = Comparison(configs, small_set, cache)  # another student, same comparison
    second.join(120)
    assert len(trainings) == 2
    assert [r.row["test_accuracy"] for r in first.progress().results] == \
        [r.row["test_accuracy"] for r in second.progress().results]
    results = second.progress().results
    assert second.progress().done and [r.label for r in results] == list(configs)
    assert all(len(r.history) == 1 and r.row["nan"] is False for r in results)
    panels = small_multiples_figure(list(results), small_set.class_names)
    assert [a.text for a in panels.layout.annotations] == list(configs)  # a title per run
    points = [t for t in panels.data if t.customdata is not None]
    assert [t.xaxis for t in points] == ["x", "x2"]  # each run on its own axes
    for trace, result in zip(points, results, strict=True):
        np.testing.assert_allclose(trace.y, unit_rows(result.evaluation.features)[:, 1])
    overlay = accuracy_overlay_figure(list(results))
    assert [t.name for t in overlay.data] == list(configs)
    for trace, result in zip(overlay.data, results, strict=True):
        assert list(trace.y) == [row["test_accuracy"] for row in result.history]


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
    assert "agrees with the claim" in difficulty_sentence(rows)
    rows[2]["steps_to_90"] = 250
    assert "does not bear the claim out" in difficulty_sentence(rows)
    rows[0]["steps_to_90"] = None
    assert "cannot rank them all" in difficulty_sentence(rows)


def test_a_comparison_waits_for_a_free_slot(small_set):
    import threading
    import time
    slots = threading.BoundedSemaphore(1)
    slots.acquire()  # someone else is training
    job = Comparison(losses_comparison(["softmax", "normface"], 2, 1, 0), small_set, RunCache(),
                     slots)
    time.sleep(0.5)
    assert job.progress().waiting and job.progress().results == ()
    slots.release()
    job.join(120)
    assert job.progress().done and len(job.progress().results) == 2


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


def test_the_same_run_written_two_ways_is_trained_once(small_set, trainings):
    from lossviz.train import TrainConfig
    cache = RunCache()
    first = cache.result("int", TrainConfig(loss="lsoftmax", params={"m": 3}, epochs=1),
                         small_set)
    second = cache.result("float", TrainConfig(loss="lsoftmax", params={"m": 3.0}, epochs=1),
                          small_set)
    assert trainings == ["int"] and second.row["test_accuracy"] == first.row["test_accuracy"]


def test_a_failed_run_is_not_kept_and_the_next_ask_trains_again(small_set, trainings):
    from lossviz.data import Dataset
    from lossviz.train import TrainConfig
    # labels 0..9 for a network with two classes: training fails inside torch
    broken = Dataset("broken", ("a", "b"), small_set.train_images, small_set.train_labels,
                     small_set.test_images, small_set.test_labels)
    cache, config = RunCache(), TrainConfig(epochs=1)
    for attempt in ("first", "second"):
        with pytest.raises((IndexError, RuntimeError)):
            cache.result(attempt, config, broken)
    assert trainings == ["first", "second"]  # the failure was not served from the cache
    assert cache.result("good", config, small_set).row["nan"] is False

import pytest

from lossviz.compare import (Comparison, RunCache, difficulty_sentence, losses_comparison,
                             parameter_comparison, parse_values)
from lossviz.figures.compare import accuracy_overlay_figure, small_multiples_figure
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
    small_multiples_figure(list(results), small_set.class_names)
    assert len(accuracy_overlay_figure(list(results)).data) == 2


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
    assert "agrees with the claim" in difficulty_sentence(rows)
    rows[2]["steps_to_90"] = 250
    assert "does not bear the claim out" in difficulty_sentence(rows)
    rows[0]["steps_to_90"] = None
    assert "cannot rank them all" in difficulty_sentence(rows)


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

import pytest

from lossviz import compare
from lossviz.compare import (Comparison, RunCache, difficulty_sentence, losses_comparison,
                             parameter_comparison, parse_values)
from lossviz.figures.compare import accuracy_overlay_figure, small_multiples_figure


def test_identical_runs_are_trained_once(small_set, monkeypatch):
    calls = []
    real = compare.train_one
    monkeypatch.setattr(compare, "train_one",
                        lambda *args, **kw: calls.append(args[0]) or real(*args, **kw))
    cache = RunCache()
    configs = losses_comparison(["softmax", "cosface"], dim=2, epochs=1, seed=0)
    first = Comparison(configs, small_set, cache)
    first.join(120)
    second = Comparison(configs, small_set, cache)  # another student, same comparison
    second.join(120)
    assert len(calls) == 2
    assert [r.row["test_accuracy"] for r in first.progress().results] == \
        [r.row["test_accuracy"] for r in second.progress().results]
    results = second.progress().results
    assert second.progress().done and [r.label for r in results] == list(configs)
    assert all(len(r.history) == 1 and r.row["nan"] is False for r in results)
    small_multiples_figure(list(results), small_set.class_names)
    assert len(accuracy_overlay_figure(list(results)).data) == 2


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

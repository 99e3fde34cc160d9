import numpy as np
import pytest

from lossviz.i18n import text
from lossviz.losses import LOSSES
from tests.app.conftest import array, english_words, figures
from tests.conftest import wait_for

COLUMNS = ["run", "params", "accuracy", "steps", "own_angle", "closest", "margin"]


def finished(at):
    """Run the comparison the page shows and wait for it to end (a rerun after)."""
    at.button(key="compare:run").click().run()
    job = at.session_state["compare:job"]
    wait_for(lambda: job.progress().done, 300)
    return at.run()


def progress_text(at) -> str:
    return at.get("progress")[0].proto.text


def test_two_short_runs_fill_a_readable_table(open_page):
    at = open_page("compare", {"losses": "softmax,cosface", "epochs": "1"})
    assert not at.exception
    at.button(key="compare:run").click().run()
    assert at.button(key="compare:cancel")  # while it trains
    job = at.session_state["compare:job"]
    # while a run trains, the text counts its epochs with the total
    wait_for(lambda: "training Softmax, epoch 0 of 1" in progress_text(at.run()), 120)
    wait_for(lambda: job.progress().done, 300)
    at.run()
    assert not at.exception
    (table,) = at.dataframe
    assert list(table.value.columns) == COLUMNS
    assert list(table.value["run"]) == ["Softmax", "CosFace"]
    assert list(table.value["params"]) == ["—", "s=16, m=0.1"]  # no None, no empty cell
    assert table.value.notna().all().all()
    steps = list(table.value["steps"])
    assert all(s == "not reached" or s.replace(",", "").isdigit() for s in steps)
    accuracy = figures(at)[2]  # after one panel per run
    assert accuracy["layout"]["xaxis"]["dtick"] == 1 and accuracy["layout"]["xaxis"]["tick0"] == 0
    colors = [trace["line"]["color"] for trace in accuracy["data"]]
    assert colors == ["#333333", "#1d77c0"]  # LOSS_STYLES: Softmax and CosFace as everywhere


def test_bad_values_are_explained(open_page):
    at = open_page("compare", {"mode": "values", "loss": "lsoftmax", "param": "m"})
    at.text_input(key="compare:values").set_value("1, 2.5, x").run()
    assert "separated by commas" in at.error[0].value
    assert at.button(key="compare:run").disabled


def test_difficulty_mode_trains_sphereface_cosface_and_arcface(open_page):
    at = finished(open_page("compare", {"mode": "difficulty", "epochs": "1"}))
    assert not at.exception
    (table,) = at.dataframe
    assert list(table.value["run"]) == ["SphereFace", "CosFace", "ArcFace"]
    # what this run says about the claimed ranking, whatever it found
    assert any("The claimed ranking (hardest first)" in i.value for i in at.info)


def test_one_loss_at_several_values_names_each_run_by_its_value(open_page):
    at = open_page("compare", {"mode": "values", "loss": "arcface", "param": "m", "epochs": "1"})
    at.text_input(key="compare:values").set_value("0.1, 0.2").run()
    at = finished(at)
    (table,) = at.dataframe
    assert list(table.value["run"]) == ["ArcFace, m=0.1", "ArcFace, m=0.2"]
    assert [f["layout"]["title"]["text"] for f in figures(at)[:2]] == ["ArcFace,<br>m=0.1",
                                                                        "ArcFace,<br>m=0.2"]


def test_chinese_compare_page_has_no_english_finished_or_refused(open_page):
    at = finished(open_page("compare", {"lang": "zh", "losses": "softmax,combined",
                                        "epochs": "1"}))
    assert not at.exception
    assert english_words(at) == []
    (table,) = at.dataframe
    assert list(table.value["run"]) == ["Softmax", "组合间隔"]
    assert "已完成 2 / 2 次训练" in progress_text(at)
    at.radio(key="compare:mode").set_value("values").run()
    at.text_input(key="compare:values").set_value("1, x").run()
    assert at.error and english_words(at) == []  # the refusal, in Chinese


def test_presentation_mode_keeps_the_losses_and_run_above_the_figures(open_page):
    at = open_page("compare", {"present": "1", "losses": "softmax,arcface"})
    assert not at.exception
    assert [w.key for w in at.main.multiselect] == ["compare:losses"]
    assert at.main.button(key="compare:run")
    assert at.sidebar.radio(key="compare:mode")  # the rest stays, hidden, in the sidebar
    assert not at.main.radio


def test_the_ready_comparison_shows_at_once_and_trains_live_on_request(open_page):
    at = open_page("compare", {"dim": "3"})
    assert not at.exception and "compare:job" not in at.session_state  # nothing trains
    (table,) = at.dataframe
    assert list(table.value["run"]) == [text(f"losses.{name}.short") for name in LOSSES]
    assert table.value["accuracy"].between(90, 100).all()  # the recorded runs' own results
    assert len(figures(at)) == len(LOSSES) + 1  # one panel per loss, and the accuracy
    (label,) = [i.value for i in at.info if i.value.startswith("Ready comparison")]
    assert "3D" in label and "30 epochs" in label
    at.button(key="compare:retrain").click().run()
    job = at.session_state["compare:job"]  # the same comparison, now live
    assert [c.loss for c in job.configs] == list(LOSSES)
    assert {(c.dim, c.epochs, c.seed) for c in job.configs} == {(3, 30, 0)}
    assert at.session_state["compare:losses"] == list(LOSSES)
    at.button(key="compare:cancel").click().run()
    assert not at.exception


def test_the_ready_comparison_in_chinese(open_page):
    at = open_page("compare", {"lang": "zh"})
    assert not at.exception and at.dataframe
    assert english_words(at) == []


def test_a_run_that_stops_says_why_and_what_to_do_in_chinese(open_page):
    """The training process dies in the middle of a comparison (as when a server runs out of
    memory): the page says so in the reader's language, and how to go on, with no raw error."""
    import os
    import signal

    from lossviz.ui.runs import registry
    at = open_page("compare", {"lang": "zh", "losses": "softmax,arcface", "epochs": "3"})
    at.button(key="compare:run").click().run()
    job = at.session_state["compare:job"]
    wait_for(lambda: registry().process_ids and job.progress().current, 120, "a run training")
    os.kill(registry().process_ids[0], signal.SIGKILL)
    wait_for(lambda: job.progress().done, 60, "the comparison ended")
    at.run()
    assert not at.exception
    (error,) = at.error
    assert "Softmax 的训练已中断：训练进程已结束" in error.value
    assert "请按“开始对比”重试" in error.value
    assert english_words(at) == []
    assert not at.button(key="compare:run").disabled  # and it can be run again


def test_the_ready_comparison_shows_the_chosen_losses_only(open_page):
    at = open_page("compare", {"dim": "2", "losses": "softmax,arcface"})
    assert not at.exception
    (table,) = at.dataframe  # the box and the figures say the same
    assert list(table.value["run"]) == ["Softmax", "ArcFace"]
    assert len(figures(at)) == 3  # a panel each, and the accuracy
    at.button(key="compare:retrain").click().run()
    job = at.session_state["compare:job"]
    assert [c.loss for c in job.configs] == ["softmax", "arcface"]
    at.button(key="compare:cancel").click().run()
    assert not at.exception


def test_runs_repeated_over_seeds_give_mean_spread_and_error_bars(open_page):
    at = finished(open_page("compare", {"losses": "softmax,cosface", "epochs": "1",
                                        "seeds": "2"}))
    assert not at.exception
    job = at.session_state["compare:job"]
    # a whole round per seed: the comparison itself first, then its repeat
    assert [(c.loss, c.seed) for c in job.configs] == [("softmax", 0), ("cosface", 0),
                                                       ("softmax", 1), ("cosface", 1)]
    results = job.progress().results
    (table,) = at.dataframe
    assert list(table.value["run"]) == ["Softmax", "CosFace"]  # one line per compared run
    for line, loss in zip(table.value["accuracy"], ("softmax", "cosface"), strict=True):
        finals = [100 * r.row["test_accuracy"] for r in results if r.config.loss == loss]
        assert line == f"{np.mean(finals):.1f}±{np.std(finals, ddof=1):.1f}%"
    curves, spread = figures(at)[2:4]  # after the two panels
    bands = [t for t in curves["data"] if t.get("fill") == "toself"]
    for band, loss in zip(bands, ("softmax", "cosface"), strict=True):
        finals = [r.history[-1]["test_accuracy"] for r in results if r.config.loss == loss]
        assert array(band["y"]) == pytest.approx([max(finals), min(finals)])  # one epoch
    bars = [t for t in spread["data"] if "error_y" in t]
    assert [t["x"] for t in bars] == [["Softmax"], ["CosFace"]]
    for bar, loss in zip(bars, ("softmax", "cosface"), strict=True):
        finals = [r.row["test_accuracy"] for r in results if r.config.loss == loss]
        assert bar["y"] == pytest.approx([np.mean(finals)])
        assert bar["error_y"]["array"] == pytest.approx([np.std(finals, ddof=1)])
    at.radio(key="lang").set_value("zh").run()
    assert not at.exception and english_words(at) == []

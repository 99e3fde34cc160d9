import numpy as np
import pytest
import streamlit as st

from lossviz import ui
from lossviz.train import TrainConfig
from lossviz.ui.runs import registry
from lossviz.i18n import text
from lossviz.losses import LOSSES, initial_state
from tests.app.conftest import array, english_words, figures
from tests.conftest import wait_for
from tests.idx import write_idx_folder


def page_data():
    """The data set the page trains on (one per server, shared by every session)."""
    return ui.shared_dataset("bundled", None)[0]


def page_run(at):
    return registry().get(at.session_state["playground:run"])


def test_page_shows_an_untrained_model_and_its_figures(open_page):
    at = open_page("playground")
    assert not at.exception
    features = figures(at)[0]["data"]
    assert len(array(features[0]["x"])) == 1000  # every test digit, one trace
    tips = next(t for t in features if t.get("mode") == "markers+text")
    assert tips["text"] == [str(d) for d in range(10)]  # class weights, labelled
    assert at.button(key="playground:start")
    assert at.metric[0].label == "test accuracy"
    assert at.query_params["run"] == page_run(at).id  # the run's id is in the URL


def test_one_step_then_reset(open_page):
    at = open_page("playground", {"loss": "cosface", "cosface.m": "0.1"})
    run = page_run(at)
    untrained = run.snapshot().evaluation.features
    at.button(key="playground:step").click().run()
    wait_for(lambda: run.snapshot().step == 1 and not run.busy)
    snap = run.snapshot()
    assert snap.params["m"] == 0.1 and len(snap.history.steps) == 1
    assert not np.allclose(snap.evaluation.features, untrained)  # the process stepped it
    at.radio(key="playground:dim").set_value(3).run()  # a new dimension needs a new run
    assert not at.exception
    snap = run.snapshot()
    assert snap.generation == 1 and snap.step == 0 and snap.evaluation.features.shape[1] == 3
    at.run()
    assert figures(at)[0]["data"][0]["type"] == "surface"


def test_unmeetable_margin_is_flagged(open_page):
    at = open_page("playground", {"loss": "cosface", "cosface.m": "0.5"})
    assert any("cannot be met" in w.value for w in at.warning)


def test_bad_link_and_missing_data_folder_warn(open_page):
    at = open_page("playground", {"data": "mnist", "dim": "7", "lr": "-1", "run": "no/such"})
    warnings = " ".join(w.value for w in at.warning)
    assert "outside" in warnings and ("no data folder" in warnings or "not found" in warnings)
    assert "not a valid run id" in warnings
    assert not at.exception


def test_moving_between_pages_keeps_the_run_and_a_link_picks_another(open_page):
    at = open_page("playground")
    mine = page_run(at).id
    at.switch_page("pages/compare.py").run()
    at.switch_page("pages/playground.py").run()  # the navigation's URL carries no run id
    assert at.session_state["playground:run"] == mine and not at.exception
    other = registry().create(TrainConfig(loss="normface", params={"s": 10.0}, dim=2), page_data())
    at.query_params.clear()
    at.query_params.update({"run": other.id})  # a link to another run wins over the session's
    at.run()
    assert at.session_state["playground:run"] == other.id
    assert at.selectbox(key="playground:loss").value == "normface"  # the sidebar shows it
    assert at.query_params["run"] == other.id


def test_an_unknown_run_id_says_so_and_starts_a_fresh_run(open_page):
    at = open_page("playground", {"run": "AAAAAAAAAAAA"})
    assert any("not on this server" in w.value for w in at.warning)
    assert page_run(at).id != "AAAAAAAAAAAA" and not at.exception


def test_a_run_with_settings_the_sidebar_cannot_show_continues_as_saved(open_page):
    saved = TrainConfig(loss="cosface", params={"s": 20.0, "m": 0.2}, dim=2, batch_size=256,
                        lr=0.5, lr_floor=0.1, seed=5_000_000_000, warmup_steps=3)
    run = registry().create(saved, page_data())
    at = open_page("playground", {"run": run.id})
    assert not at.exception and run.config == saved
    assert any("5e+09" in i.value or "5000000000" in i.value for i in at.sidebar.info)
    at.button(key="playground:step").click().run()
    wait_for(lambda: run.snapshot().step == 1 and not run.busy)
    at.run()
    assert run.config == saved and run.current_run().config == saved
    at.slider(key="playground:cosface.m").set_value(0.3).run()  # an edit applies on top
    assert run.config.params["m"] == 0.3 and run.config.batch_size == 256 and run.config.lr == 0.5


def test_a_watcher_sees_the_run_without_controls_and_can_take_a_copy(open_page):
    watched = registry().create(TrainConfig(dim=2), page_data())
    watched.step(2)
    wait_for(lambda: watched.snapshot().step == 2 and not watched.busy)
    at = open_page("playground", {"watch": watched.watch_code})
    assert not at.exception and "watching" in at.info[0].value
    keys = {button.key for button in at.button}
    assert "playground:start" not in keys and "playground:step" not in keys
    assert watched.watchers == 1
    at.button(key="playground:copy").click().run()
    copy = page_run(at)
    assert copy is not watched and copy.snapshot().step == 2
    assert "playground:start" in {button.key for button in at.button}


@pytest.fixture
def fresh_caches():
    """Data sets are cached per server: start and end with none, so that what a test sets up
    (an unwritable cache folder) is what the page sees."""
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


def test_an_unwritable_cache_folder_warns_and_the_page_still_starts(open_page, tmp_path,
                                                                     monkeypatch, fresh_caches):
    (tmp_path / "a-file").write_text("not a folder")
    monkeypatch.setenv("LOSSVIZ_CACHE", str(tmp_path / "a-file"))
    at = open_page("playground")
    assert not at.exception
    assert any("kept in memory" in w.value for w in at.warning)
    assert len(array(figures(at)[0]["data"][0]["x"])) == 1000


def test_a_folder_outside_the_offered_ones_is_refused_with_one_message(open_page, tmp_path,
                                                                      monkeypatch):
    monkeypatch.setenv("LOSSVIZ_DATA", str(tmp_path / "offered"))
    at = open_page("playground", {"data": "mnist"})
    texts = []
    for path in ("/etc", "/no/such/folder", str(tmp_path)):
        at.text_input(key="playground:folder").set_value(path).run()
        texts.append(" ".join(w.value for w in at.warning))
    assert len(set(texts)) == 1 and "does not offer that folder" in texts[0]
    assert not at.exception


def test_files_added_to_a_folder_after_a_failure_are_found(open_page, tmp_path, monkeypatch):
    folder = tmp_path / "offered"
    folder.mkdir()
    monkeypatch.setenv("LOSSVIZ_DATA", str(folder))
    at = open_page("playground", {"data": "mnist"})
    assert any("not found" in w.value for w in at.warning)
    write_idx_folder(folder, n_train=64, n_test=40)
    at.run()
    assert not any("not found" in w.value for w in at.warning)
    assert len(array(figures(at)[0]["data"][0]["x"])) == 40  # the new folder's test digits


def names_of(figure) -> set:
    return {t.get("name") for t in figure["data"]}


def one_step(at):
    """One training step (what the One step button does; presenting, the page has none)."""
    run = page_run(at)
    run.step()
    wait_for(lambda: run.snapshot().step == 1 and not run.busy)
    return at.run()


def test_untrained_points_keep_their_class_colors_until_training_begins(open_page):
    at = open_page("playground")
    assert "misclassified" not in names_of(figures(at)[0])  # no crosses over every point
    points = figures(at)[0]["data"][0]
    assert len(set(array(points["marker"]["color"]).tolist())) == 10  # every class's color
    at = one_step(at)
    assert "misclassified" in names_of(figures(at)[0])


@pytest.mark.parametrize("query", [{"lang": "zh"}, {"lang": "zh", "present": "1", "dim": "3"},
                                   {"lang": "zh", "loss": "sphereface"}])
def test_chinese_playground_has_no_english_before_and_after_a_step(open_page, query):
    at = open_page("playground", query)
    assert not at.exception and english_words(at) == []
    at = one_step(at)
    assert not at.exception and english_words(at) == []
    assert "分类错误" in names_of(figures(at)[0])


def test_presentation_mode_keeps_the_loss_its_margins_and_start_beside_the_figure(open_page):
    at = open_page("playground", {"present": "1", "loss": "arcface"})
    assert not at.exception
    # the loss and its own settings: ArcFace's tail past pi - m is one of its parameters
    assert [w.key for w in at.main.selectbox] == ["playground:loss", "playground:arcface.tail"]
    # beside the ready run's player (collapsed under the figure, its own slider)
    assert {w.key for w in at.main.slider} == {"playground:arcface.s", "playground:arcface.m",
                                               "playground:ready:frame:0"}
    assert [b.key for b in at.main.button if b.key.startswith("playground:")] == \
        ["playground:ready:play", "playground:start"]
    assert at.sidebar.radio(key="playground:dim")  # still drawn (hidden): its value is kept
    desk = figures(open_page("playground"))[0]["layout"]
    projected = figures(at)[0]["layout"]
    assert projected["xaxis"]["tickfont"]["size"] > desk["xaxis"]["tickfont"]["size"]
    assert projected["height"] <= 460  # whole under the title at 1280x720


@pytest.mark.parametrize("loss", [name for name, spec in LOSSES.items() if spec.note_2d])
def test_why_a_normalized_loss_ends_below_softmax_is_said_in_2d_only(open_page, loss):
    note = LOSSES[loss].note_2d
    at = open_page("playground", {"loss": loss, "lang": "zh"})
    assert note.render("zh") in [c.value for c in at.caption]
    at = open_page("playground", {"loss": loss, "dim": "3"})
    assert note.render("en") not in [c.value for c in at.caption]
    # its numbers are for all 10 classes, not for a run with some held out
    at = open_page("playground", {"loss": loss, "held_out": "2"})
    assert note.render("en") not in [c.value for c in at.caption]


def test_softmax_has_no_note_in_2d(open_page):
    at = open_page("playground", {"loss": "softmax"})
    assert not any(text("playground.note_2d.margin", own="", softmax="", normface="")[:20]
                   in c.value for c in at.caption)


def test_a_ready_run_shows_at_once_and_a_paused_run_replays_its_own_frames(open_page):
    at = open_page("playground", {"loss": "arcface", "dim": "3"})
    labels = [e.label for e in at.expander]
    assert text("ready.actions.load") in labels and text("ready.actions.replay_own") not in labels
    assert any("Ready run: ArcFace, 3D, seed 0, 30 epochs" in i.value for i in at.info)
    run = page_run(at)
    at.button(key="playground:step").click().run()
    wait_for(lambda: run.snapshot().step == 1 and not run.busy and run.snapshot().frames)
    at.run()
    assert not at.exception
    assert text("ready.actions.replay_own") in [e.label for e in at.expander]
    # the ready run's sphere and this run's own: one feature figure each, beside the live one
    surfaces = [f for f in figures(at) if f["data"] and f["data"][0]["type"] == "surface"]
    assert len(surfaces) == 3


@pytest.mark.parametrize("loss,name", [("curricularface", "t"), ("adacos", "s")])
def test_a_loss_running_value_is_drawn_under_the_curves_once_training_reports_it(open_page,
                                                                                 loss, name):
    at = open_page("playground", {"loss": loss, "lang": "zh"})
    assert not at.exception
    at = one_step(at)
    assert not at.exception and english_words(at) == []
    snap = page_run(at).snapshot()
    chart = next(f for f in figures(at)
                 if f["layout"]["title"]["text"] == text(f"state.figure.{name}.title", "zh"))
    assert array(chart["data"][0]["y"]).tolist() == [snap.loss_state[name]]
    assert snap.loss_state[name] != initial_state(loss, 10)[name]  # the step moved it
    caption = text(f"state.caption.{name}", "zh", value=snap.loss_state[name],
                   fixed=2 ** 0.5 * np.log(9), classes=10)
    assert caption in [c.value for c in at.caption]


def sub_centre_markers(figure) -> list:
    return [t for t in figure["data"] if t.get("mode") == "markers"
            and "%{customdata}" in t.get("hovertemplate", "")]


def test_sub_centres_are_drawn_and_their_note_says_what_they_collect(open_page):
    at = open_page("playground", {"loss": "subcenter", "lang": "zh"})
    assert not at.exception and english_words(at) == []
    circle = figures(at)[1]
    drawn = sub_centre_markers(circle)
    assert len(drawn) == 1 and len(array(drawn[0]["x"])) == 30  # 10 classes, K = 3
    at = one_step(at)
    assert not at.exception and english_words(at) == []
    clean, _ = page_run(at).snapshot().evaluation.off_dominant
    assert text("subcenter.note.clean", "zh", clean=clean) in [c.value for c in at.caption]


def test_label_noise_and_k_start_a_new_run_the_others_keep_theirs(open_page):
    at = open_page("playground", {"loss": "subcenter"})
    run = page_run(at)
    at.slider(key="playground:label_noise").set_value(0.2).run()
    assert not at.exception
    snap = run.snapshot()
    assert snap.generation == 1 and snap.config.label_noise == 0.2
    at.slider(key="playground:subcenter.k").set_value(2).run()
    snap = run.snapshot()
    assert snap.generation == 2 and snap.evaluation.subcenters.shape == (10, 2, 2)
    assert snap.config.label_noise == 0.2


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_an_open_set_run_trains_without_8_and_9_and_verifies_their_pairs(open_page, lang):
    at = open_page("playground", {"held_out": "2", "dim": "3", "lang": lang})
    assert not at.exception
    at = one_step(at)
    snap = page_run(at).snapshot()
    assert snap.config.held_out_classes == 2 and snap.evaluation.weights.shape == (8, 3)
    assert set(snap.evaluation.labels.tolist()) == set(range(8))  # the figures: trained classes
    found = snap.evaluation.verification
    expected = text("playground.open_set.numbers", lang, unseen="8, 9", pairs=found.unseen.pairs,
                    tar=found.unseen.tar[0.01], eer=found.unseen.eer,
                    seen_tar=found.seen.tar[0.01], seen_eer=found.seen.eer)
    assert expected in [c.value for c in at.caption]
    if lang == "zh":
        assert english_words(at) == []


def test_a_held_out_count_out_of_range_in_the_link_warns_and_is_clamped(open_page):
    at = open_page("playground", {"held_out": "9"})
    assert any("held_out" in w.value for w in at.warning)
    assert page_run(at).config.held_out_classes == 8  # clamped to the most it can hold out


def test_the_margins_feasibility_is_judged_for_the_classes_trained_on(open_page):
    # ArcFace m = 0.5 in 2D: tight for 10 classes (36 degrees apart), roomy for 8 (45 degrees)
    tight = text("playground.feasibility.tight", dim=2, halfwidth=0.0)[:20]
    at = open_page("playground", {"loss": "arcface", "arcface.m": "0.5"})
    assert any(tight in w.value for w in at.warning)
    at = open_page("playground", {"loss": "arcface", "arcface.m": "0.5", "held_out": "2"})
    assert not any(tight in w.value for w in at.warning)


def test_an_impossible_margin_names_the_classes_trained_on(open_page):
    # ArcFace m = 0.8 in 2D cannot be met by 8 classes either; the warning said "10 classes"
    at = open_page("playground", {"loss": "arcface", "arcface.m": "0.8", "held_out": "2"})
    said = text("playground.feasibility.impossible", classes=8, dim=2)
    assert "by 8 classes" in said and said in [w.value for w in at.warning]

import time

import pytest
import streamlit as st

from tests.app.conftest import array, figures
from tests.idx import write_idx_folder


def stop_trainer(at):
    trainer = at.session_state["playground:trainer"]
    trainer.stop()
    return trainer


def test_page_shows_an_untrained_model_and_its_figures(open_page):
    at = open_page("playground")
    try:
        assert not at.exception
        features = figures(at)[0]["data"]
        assert len(array(features[0]["x"])) == 1000  # every test digit, one trace
        tips = next(t for t in features if t.get("mode") == "markers+text")
        assert tips["text"] == [str(d) for d in range(10)]  # class weights, labelled
        assert at.button(key="playground:start")
        assert at.metric[0].label == "test accuracy"
    finally:
        stop_trainer(at)


def test_one_step_then_reset(open_page):
    at = open_page("playground", {"loss": "cosface", "cosface.m": "0.1"})
    try:
        at.button(key="playground:step").click().run()
        trainer = at.session_state["playground:trainer"]
        deadline = time.monotonic() + 30
        while trainer.snapshot().step < 1:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert trainer.snapshot().params["m"] == 0.1
        at.radio(key="playground:dim").set_value(3).run()  # a new dimension needs a new run
        assert not at.exception
        deadline = time.monotonic() + 30
        while not trainer.is_current(trainer.snapshot()):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert trainer.snapshot().evaluation.features.shape[1] == 3
        at.run()
        assert figures(at)[0]["data"][0]["type"] == "surface"
    finally:
        stop_trainer(at)


def test_unmeetable_margin_is_flagged(open_page):
    at = open_page("playground", {"loss": "cosface", "cosface.m": "0.5"})
    try:
        assert any("cannot be met" in w.value for w in at.warning)
    finally:
        stop_trainer(at)


def test_bad_link_and_missing_data_folder_warn(open_page, tmp_path):
    at = open_page("playground", {"data": "mnist", "dim": "7", "lr": "-1"})
    try:
        warnings = " ".join(w.value for w in at.warning)
        assert "outside" in warnings and ("no data folder" in warnings or "not found" in warnings)
        assert not at.exception
    finally:
        stop_trainer(at)



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
    try:
        assert not at.exception
        assert any("kept in memory" in w.value for w in at.warning)
        assert len(array(figures(at)[0]["data"][0]["x"])) == 1000
    finally:
        stop_trainer(at)


def test_a_folder_outside_the_offered_ones_is_refused_with_one_message(open_page, tmp_path,
                                                                      monkeypatch):
    monkeypatch.setenv("LOSSVIZ_DATA", str(tmp_path / "offered"))
    at = open_page("playground", {"data": "mnist"})
    try:
        texts = []
        for path in ("/etc", "/no/such/folder", str(tmp_path)):
            at.text_input(key="playground:folder").set_value(path).run()
            texts.append(" ".join(w.value for w in at.warning))
        assert len(set(texts)) == 1 and "does not offer that folder" in texts[0]
        assert not at.exception
    finally:
        stop_trainer(at)


def test_files_added_to_a_folder_after_a_failure_are_found(open_page, tmp_path, monkeypatch):
    folder = tmp_path / "offered"
    folder.mkdir()
    monkeypatch.setenv("LOSSVIZ_DATA", str(folder))
    at = open_page("playground", {"data": "mnist"})
    try:
        assert any("not found" in w.value for w in at.warning)
        write_idx_folder(folder, n_train=64, n_test=40)
        at.run()
        assert not any("not found" in w.value for w in at.warning)
        assert len(array(figures(at)[0]["data"][0]["x"])) == 40  # the new folder's test digits
    finally:
        stop_trainer(at)

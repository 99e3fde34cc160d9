import time

from tests.app.conftest import array, figures


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


"""The replay player (lossviz.ui.replay) on a ready run, in tests/replay_demo.py."""
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

from lossviz.i18n import text
from lossviz.ready import load_ready_run
from tests.app.conftest import array, english_words, figures

DEMO = str(Path(__file__).resolve().parents[1] / "replay_demo.py")
RUN = {"loss": "softmax", "dim": "2"}


def _open(query: dict) -> AppTest:
    at = AppTest.from_file(DEMO, default_timeout=60)
    at.query_params.update(query)
    return at.run()


def _shown_x(at: AppTest) -> np.ndarray:
    return array(figures(at)[0]["data"][0]["x"]).astype(float)


def _markdown(at: AppTest) -> str:
    return " ".join(m.value for m in [*at.markdown, *at.info])


def test_the_slider_moves_the_frame_shown():
    ready = load_ready_run("softmax", 2)
    at = _open(RUN)
    assert not at.exception
    assert np.allclose(_shown_x(at), ready.features[0][:, 0].astype(float))
    at.slider[0].set_value(41).run()  # counted from 1, as the caption counts
    assert at.slider[0].min == 1
    assert not at.exception
    assert np.allclose(_shown_x(at), ready.features[40][:, 0].astype(float))
    epoch = ready.metric("epoch")[40]
    assert f"Epoch {epoch:.1f}" in _markdown(at) and "frame 41 of" in _markdown(at)
    assert "Ready run: Softmax, 2D, seed 0, 30 epochs" in _markdown(at)


def test_play_advances_a_frame_each_run_and_stops_at_the_end():
    at = _open(RUN)
    last = at.slider[0].max
    at.slider[0].set_value(last - 2).run()
    at.button(key="demo:play").click().run()
    assert at.session_state["demo:playing"] and at.button(key="demo:play").label == "Pause"
    assert at.slider[0].disabled
    playing_at = at.slider[0].value
    at.run()  # what the fragment's timer does: one more run of the player
    assert at.slider[0].value == min(playing_at + 1, last)
    at.run()
    assert at.slider[0].value == last and not at.session_state["demo:playing"]
    at.button(key="demo:play").click().run()  # at the end, Play starts again from the start
    assert at.session_state["demo:playing"] and at.slider[0].value <= 2  # frame 1 or 2


def test_the_player_speaks_chinese():
    at = _open({**RUN, "lang": "zh"})
    assert not at.exception
    assert text("ready.label", "zh", loss="Softmax", dim=2, seed=0, epochs=30) in _markdown(at)
    assert at.button(key="demo:play").label == "播放"
    figure_texts = {t for f in figures(at) for t in _figure_texts(f)}
    # the feature figure's own texts are the playground's (translated with it)
    assert [(w, t) for w, t in english_words(at) if t not in figure_texts] == []


def _figure_texts(figure: dict):
    from tests.app.conftest import _plotly_texts
    return _plotly_texts(figure)


def test_a_bad_link_says_why_and_shows_no_player():
    at = _open({"loss": "nope"})
    assert not at.exception
    assert "no ready run for the loss 'nope'" in at.warning[0].value
    assert not at.get("plotly_chart")

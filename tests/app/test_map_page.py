from lossviz.smap import default_grid
from tests.app.conftest import english_words, figures


def test_the_page_opens_with_the_ready_map_at_once(open_page):
    at = open_page("map")
    assert not at.exception
    assert "map:job" not in at.session_state  # nothing trains
    assert any(info.value.startswith("Ready map: ArcFace, 2D, 36 runs of 3 epochs")
               for info in at.info)
    (figure,) = figures(at)
    assert figure["layout"]["title"]["text"] == "ArcFace, 2D: test accuracy"
    grid = default_grid("arcface", 2)
    assert figure["layout"]["xaxis"]["ticktext"] == [f"{v:g}" for v in grid.values[0]]
    names = [trace.get("name") for trace in figure["data"]]
    assert "margin not feasible for 10 classes in 2D" in names
    # another setting has no ready map: the page says what to press instead of drawing one
    at.slider(key="map:size").set_value(5).run()
    assert not at.exception and figures(at) == []
    assert at.info[0].value.startswith("No ready map for these settings")
    assert at.button(key="map:train").label == "Train the map (25 runs)"
    # the same parameter on both axes: the latest choice stays, the other axis moves off it
    at.selectbox(key="map:across").set_value("s").run()
    assert (at.selectbox(key="map:across").value, at.selectbox(key="map:up").value) == ("s", "m")
    assert at.slider(key="map:across_range").value == (2.0, 64.0)  # the scale's own range


def test_malformed_link_values_are_clamped_with_a_warning(open_page):
    at = open_page("map", {"across_to": "5", "size": "x", "loss": "softmax"})
    assert not at.exception
    link_warnings = sorted(w.value for w in at.warning if w.value.startswith("Link setting:"))
    assert len(link_warnings) == 3
    assert "across_to=5 is outside [0, 1.5]; using 1.5" in link_warnings[0]
    assert "loss='softmax'" in link_warnings[1] and "size='x'" in link_warnings[2]
    assert at.slider(key="map:across_range").value == (0.0, 1.5)
    assert at.selectbox(key="map:loss").value == "arcface"


def test_the_chinese_page_has_no_english(open_page):
    at = open_page("map", {"lang": "zh", "dim": "3", "loss": "cosface"})
    assert not at.exception
    assert english_words(at) == []
    assert figures(at)  # the ready CosFace 3D map, in Chinese

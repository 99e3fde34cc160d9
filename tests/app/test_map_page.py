import numpy as np

from lossviz.smap import MAP_FOLDER, default_grid, file_name, load_map
from tests.app.conftest import english_words, figures


def cell_numbers(figure: dict) -> list[str]:
    """The numbers written in the map's cells, bottom row first."""
    return next(t for t in figure["data"] if t.get("mode") == "text")["text"]


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


def test_the_open_set_map_is_coloured_by_unseen_tar_and_says_what_it_means(open_page):
    at = open_page("map", {"dim": "3", "open_set": "1"})
    assert not at.exception
    assert "map:job" not in at.session_state  # the ready open-set map: nothing trains
    ready = load_map(MAP_FOLDER / file_name("arcface", 3, 2))
    assert any(info.value.startswith("Ready map: ArcFace, 3D, open set") for info in at.info)
    (figure,) = figures(at)
    assert figure["layout"]["title"]["text"] == \
        "ArcFace, 3D: unseen TAR at FAR 1%"
    assert cell_numbers(figure) == [f"{100 * v:.0f}" for v in ready.metrics["tar"].ravel()]
    tar = ready.metrics["tar"]
    best = np.unravel_index(np.argmax(tar), tar.shape)
    assert f"best: {default_grid('arcface', 3, held_out=2).label(*best)} ({tar[best]:.1%})" in \
        [t.get("name") for t in figure["data"]]
    assert "margin not feasible for 8 classes in 3D" in [t.get("name") for t in figure["data"]]
    captions = " ".join(caption.value for caption in at.caption)
    assert "Numbers: unseen TAR at FAR 1%, in % after 3 epochs" in captions
    assert "TAR at FAR 1%: the threshold on the cosine of two features" in captions
    assert "2D has no room for unseen classes" in captions
    at.radio(key="map:colour").set_value("accuracy").run()
    (figure,) = figures(at)
    assert figure["layout"]["title"]["text"] == \
        "ArcFace, 3D: accuracy on digits 0-7"
    assert cell_numbers(figure) == [f"{100 * v:.0f}" for v in ready.accuracy.ravel()]
    at.toggle(key="map:open_set").set_value(False).run()  # closed set: accuracy, no choice
    assert not at.exception
    (figure,) = figures(at)
    assert figure["layout"]["title"]["text"] == "ArcFace, 3D: test accuracy"
    assert "map:colour" not in [r.key for r in at.radio]  # nothing else to colour by


def test_bad_open_set_link_values_get_the_link_warning(open_page):
    at = open_page("map", {"open_set": "maybe", "colour": "purple"})
    assert not at.exception
    link_warnings = sorted(w.value for w in at.warning if w.value.startswith("Link setting:"))
    assert link_warnings == [
        "Link setting: colour='purple' is not one of accuracy, tar; it was ignored.",
        "Link setting: open_set='maybe' is not on/off; it was ignored."]
    assert at.toggle(key="map:open_set").value is False
    assert figures(at)  # the closed-set ready map, as without the link's values


def test_the_chinese_open_set_map_has_no_english(open_page):
    at = open_page("map", {"lang": "zh", "dim": "3", "open_set": "1"})
    assert not at.exception
    assert english_words(at) == []
    (figure,) = figures(at)
    title = figure["layout"]["title"]["text"]
    assert title == "ArcFace，3D：未见 TAR（FAR 1%）"

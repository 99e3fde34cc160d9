"""The playground's digit panel in AppTest: numbers on screen equal the library's, in English and
Chinese, and a bad upload says why while nothing else changes."""
import io
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from lossviz.anatomy import (model_from_checkpoint, predicted_class, take_apart_with,
                             under_every_loss)
from lossviz.digits import MAX_BYTES, digit_from_bytes
from lossviz.figures.digit import YOUR_DIGIT
from lossviz.i18n import LossvizError, text
from lossviz.ui.runs import registry
from tests.app.conftest import array, figures

UPLOAD = "playground:digit-upload"


@pytest.fixture
def playground(open_page):
    return open_page("playground", {"loss": "cosface", "dim": "3"})  # the registry fixture
    # (tests/app/conftest.py) stops the training process afterwards


def page_run(at):
    return registry().get(at.session_state["playground:run"])


def library_anatomy(at, index):
    """The same digit taken apart by the library, from the page's own run, under the loss
    and parameters of its latest snapshot."""
    trainer = page_run(at)
    snap = trainer.snapshot()
    model = replace(model_from_checkpoint(trainer.checkpoint(), trainer.dataset),
                    loss=snap.config.loss, params=snap.params)
    feature = model.features_of(trainer.dataset.test_images[index][None])[0]
    return model, take_apart_with(model, feature, int(trainer.dataset.test_labels[index]))


def metric(at, key: str, lang: str) -> str:
    label = text(key, lang)
    return next(m.value for m in at.metric if m.label == label)


def figure_with_trace(at, name):
    return next(f for f in figures(at) if any(t.get("name") == name for t in f["data"]))


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_picked_digit_is_taken_apart_with_the_librarys_numbers(playground, lang):
    at = playground
    at.radio(key="lang").set_value(lang).run()
    at.session_state["playground:picked"] = 7
    at.run()
    assert not at.exception
    assert at.subheader[0].value == text("digit.panel.title", lang)
    model, expected = library_anatomy(at, 7)
    assert metric(at, "digit.panel.loss", lang) == f"{expected.loss_value:.4f}"
    assert metric(at, "digit.panel.norm", lang) == f"{expected.norm:.3g}"
    assert metric(at, "digit.panel.own_angle", lang) == f"{expected.angles[expected.label]:.1f}°"
    bars = figure_with_trace(at, text("digit.figures.with_margin", lang))["data"][0]
    assert array(bars["y"]) == pytest.approx(expected.probabilities, abs=1e-6)
    family = next(f for f in figures(at) if f["data"][0].get("orientation") == "h")
    rows = under_every_loss(model, expected.feature, expected.label)
    assert array(family["data"][0]["x"]) == pytest.approx([a.loss_value for a in rows], rel=1e-6)
    captions = " ".join(c.value for c in at.caption)
    assert text("digit.panel.family_fixed", lang) in captions


def test_a_new_margin_is_taken_apart_at_once_while_paused(playground):
    """The weights stay (no step was taken) but the page's margin changed: the panel must not
    keep the loss of the margin it first read from the checkpoint."""
    at = playground
    at.session_state["playground:picked"] = 11
    at.run()
    before = metric(at, "digit.panel.loss", "en")
    at.slider(key="playground:cosface.m").set_value(0.4).run()
    assert not at.exception
    _, expected = library_anatomy(at, 11)
    assert expected.params["m"] == 0.4
    assert metric(at, "digit.panel.loss", "en") == f"{expected.loss_value:.4f}" != before


def png_bytes(image: np.ndarray, fmt="PNG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, fmt)
    return buffer.getvalue()


def your_digit(at):
    """The student's point on the feature figure, or None."""
    points = [t for t in figures(at)[0]["data"] if t.get("meta") == YOUR_DIGIT]
    return None if not points else [list(array(points[0][axis])) for axis in "xyz"]


def upload(at, name, data, mime="image/png"):
    at.file_uploader(key=UPLOAD).set_value((name, data, mime)).run()
    assert not at.exception


def test_an_uploaded_digit_becomes_a_point_and_is_taken_apart(playground):
    at = playground
    assert your_digit(at) is None
    digit = np.kron(255 - page_run(at).dataset.test_images[3],
                    np.ones((10, 10), dtype=np.uint8))  # big, dark on light
    data = png_bytes(digit)
    upload(at, "three.png", data)
    assert not at.warning
    trainer = page_run(at)
    model = model_from_checkpoint(trainer.checkpoint(), trainer.dataset)
    feature = model.features_of(digit_from_bytes(data)[None])[0]
    on_sphere = 1.04 * feature / np.linalg.norm(feature)
    assert np.ravel(your_digit(at)) == pytest.approx(on_sphere, abs=1e-5)
    label = predicted_class(model, feature)
    expected = text("digit.panel.drawn_guess", label=str(label), step=model.step)
    assert expected in [m.value for m in at.markdown]
    loss = take_apart_with(model, feature, label).loss_value
    assert metric(at, "digit.panel.loss", "en") == f"{loss:.4f}"


def test_the_last_digit_touched_is_taken_apart_and_a_switch_goes_back(playground):
    at = playground
    digit = np.kron(page_run(at).dataset.test_images[3],
                    np.ones((10, 10), dtype=np.uint8))
    upload(at, "three.png", png_bytes(digit))
    at.session_state["playground:picked"] = 5  # then a point is clicked
    at.run()
    assert any(m.value.startswith("Test digit #5:") for m in at.markdown)
    at.button_group(key="playground:digit-focus").set_value("drawn").run()
    assert not at.exception
    assert any(m.value.startswith("Your digit") for m in at.markdown)
    assert not any(m.value.startswith("Test digit #5:") for m in at.markdown)


@pytest.mark.parametrize("name, data, key", [
    ("notes.png", b"these are my notes, not a picture", "digit.errors.not_an_image"),
    ("huge.png", b"\x89PNG\r\n\x1a\n" + bytes(MAX_BYTES), "digit.errors.too_many_bytes"),
    ("blank.png", png_bytes(np.full((64, 64), 255, dtype=np.uint8)), "digit.errors.blank"),
    ("empty.jpg", b"", "digit.errors.empty_file"),
], ids=["not-an-image", "too-many-bytes", "blank", "empty"])
def test_a_bad_upload_says_why_and_changes_nothing_else(playground, name, data, key):
    at = playground
    digit = np.kron(page_run(at).dataset.test_images[3],
                    np.ones((10, 10), dtype=np.uint8))
    upload(at, "three.png", png_bytes(digit))
    before, charts = your_digit(at), len(figures(at))
    upload(at, name, data)
    with pytest.raises(LossvizError) as refused:
        digit_from_bytes(data)
    assert refused.value.message.key == key
    (warning,) = at.warning
    assert warning.value == text("digit.input.unchanged", name=name, message=refused.value.message)
    assert your_digit(at) == before  # the point the good picture made stays where it was
    assert len(figures(at)) == charts
    at.radio(key="lang").set_value("zh").run()
    assert at.warning[0].value == text("digit.input.unchanged", "zh", name=name,
                                       message=refused.value.message)

import io

import numpy as np
import pytest
from PIL import Image

from lossviz.digits import MAX_BYTES, MAX_PIXELS, digit_from_bytes, mnist_style, read_image
from lossviz.i18n import LossvizError


def centre_of_mass(image):
    rows, cols = np.indices(image.shape)
    weights = image.astype(float)
    return (rows * weights).sum() / weights.sum(), (cols * weights).sum() / weights.sum()


def ink_box(image, level=40):
    rows, cols = np.flatnonzero((image > level).any(1)), np.flatnonzero((image > level).any(0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def png(array, mode=None) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array, mode).save(buffer, "PNG")
    return buffer.getvalue()


def error_key(call, *args) -> str:
    with pytest.raises(LossvizError) as caught:
        call(*args)
    return caught.value.message.key


def test_an_off_centre_stroke_ends_up_centred_by_its_centre_of_mass():
    canvas = np.zeros((300, 200), dtype=np.uint8)
    canvas[10:90, 15:40] = 255  # a short bar in the top-left corner
    canvas[80:90, 15:70] = 255  # and a foot to the right: mass and box centres differ
    digit = mnist_style(canvas)
    assert digit.shape == (28, 28) and digit.dtype == np.uint8
    row, col = centre_of_mass(digit)
    assert abs(row - 14) < 0.3 and abs(col - 14) < 0.3  # where MNIST puts it
    assert digit.max() == 255


def test_a_large_drawing_is_scaled_down_to_a_20_pixel_box_keeping_its_aspect():
    canvas = np.zeros((600, 600), dtype=np.uint8)
    canvas[50:550, 200:400] = 255  # 500 tall, 200 wide: 20 x 8 once scaled
    height, width = ink_box(mnist_style(canvas))
    assert height in (20, 21) and width in (8, 9)


def test_a_small_drawing_is_scaled_up_to_the_same_box():
    canvas = np.zeros((100, 100), dtype=np.uint8)
    canvas[40:50, 45:50] = 255  # 10 x 5
    height, width = ink_box(mnist_style(canvas))
    assert height in (20, 21) and width in (10, 11)


@pytest.mark.parametrize("value", [0, 255, 128])
def test_an_empty_picture_is_refused_with_a_message(value):
    blank = np.full((224, 224), value, dtype=np.uint8)
    assert error_key(mnist_style, blank) == "digit.errors.blank"


def test_dark_ink_on_paper_is_inverted_like_light_ink_on_black():
    light = np.zeros((120, 90), dtype=np.uint8)
    light[20:100, 30:45] = 255
    light[20:35, 30:80] = 255
    on_paper = 255 - light
    assert np.abs(mnist_style(on_paper).astype(int) - mnist_style(light)).max() <= 1


def test_an_mnist_digit_comes_back_as_itself(bundled):
    """MNIST made its digits this way: one drawn big on paper (dark on light, JPEG) and
    read back lands where it started."""
    original = bundled.test_images[3]
    big = Image.fromarray(255 - original).resize((280, 280), Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    big.convert("RGB").save(buffer, "JPEG", quality=90)
    again = digit_from_bytes(buffer.getvalue())
    correlation = np.corrcoef(again.ravel().astype(float), original.ravel().astype(float))[0, 1]
    assert correlation > 0.9


def test_a_drawing_on_a_transparent_canvas_is_read_in_either_ink():
    rgba = np.zeros((100, 100, 4), dtype=np.uint8)
    rgba[20:80, 45:55] = (0, 0, 0, 255)  # black ink, the rest transparent
    dark = read_image(png(rgba))
    rgba[20:80, 45:55] = (255, 255, 255, 255)  # white ink
    light = read_image(png(rgba))
    assert np.array_equal(mnist_style(dark), mnist_style(light))
    assert ink_box(mnist_style(dark)) in [(20, 3), (20, 4), (21, 3), (21, 4)]  # 60 x 10 drawn


def test_uploads_that_are_not_pictures_of_a_digit_say_why():
    assert error_key(read_image, b"") == "digit.errors.empty_file"
    assert error_key(read_image, b"hello, not a picture") == "digit.errors.not_an_image"
    assert error_key(read_image, b"\x89PNG\r\n\x1a\n" + b"\0" * 100) == "digit.errors.not_an_image"
    gif = io.BytesIO()
    Image.new("L", (10, 10)).save(gif, "GIF")
    assert error_key(read_image, gif.getvalue()) == "digit.errors.not_an_image"
    truncated = png(np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8))
    assert error_key(read_image, truncated[:len(truncated) // 2]) == "digit.errors.not_an_image"
    assert error_key(read_image, b"\xff" * (MAX_BYTES + 1)) == "digit.errors.too_many_bytes"
    assert error_key(digit_from_bytes, png(np.zeros((50, 50), np.uint8))) == "digit.errors.blank"


def test_a_picture_with_too_many_pixels_is_refused_before_it_is_decoded():
    side = int(MAX_PIXELS ** 0.5) + 1
    huge = io.BytesIO()
    Image.new("1", (side, side)).save(huge, "PNG")  # a few kB that would decode to 25 MB
    assert len(huge.getvalue()) < MAX_BYTES
    with pytest.raises(LossvizError) as caught:
        read_image(huge.getvalue())
    assert caught.value.message.key == "digit.errors.too_many_pixels"
    assert f"{side} × {side}" in caught.value.message.render("zh")

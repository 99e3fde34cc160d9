"""A digit that a student drew or photographed, made to look like an MNIST digit, so the network
sees what it was trained on: light ink on a dark background, the ink's bounding box scaled to
fit 20x20 pixels (aspect ratio kept, anti-aliased), placed in 28x28 by its centre of mass.

Pictures come in as bytes (a canvas's PNG, an uploaded file) and are trusted for nothing: size,
pixel count and format are checked from the header before any pixel is decoded."""
from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from lossviz.i18n import LossvizError

MAX_BYTES = 10 * 2**20  # a phone photo is a few MB; a file ten times that is not a digit
MAX_PIXELS = 25_000_000  # 5,000 x 5,000; decoding more would cost the server 100 MB a picture
FORMATS = ("PNG", "JPEG")
BOX, SIZE = 20, 28  # MNIST: the digit fits 20x20, centred in 28x28
# Ink must stand out from the background by this share of full scale; below it a picture is
# blank (an empty canvas, a photo of an empty page).
MIN_CONTRAST = 0.12
# After stretching the ink to full scale, what is fainter than this is paper texture or JPEG
# noise: it would widen the bounding box and shift the centre of mass.
NOISE = 0.2


def read_image(data: bytes) -> np.ndarray:
    """A PNG or JPEG as (H, W) grayscale floats in [0, 1]. Transparent parts count as background.
    Raises LossvizError (digit.errors.*) for an empty, huge or unreadable file."""
    if not data:
        raise LossvizError("digit.errors.empty_file")
    if len(data) > MAX_BYTES:
        # rounded up: a file just over the limit must not read as "10.0 MB, up to 10 MB"
        megabytes = math.ceil(len(data) / 2**20 * 10) / 10
        raise LossvizError("digit.errors.too_many_bytes", size=megabytes, limit=MAX_BYTES / 2**20)
    try:
        image = Image.open(io.BytesIO(data))  # reads the header only
    except (UnidentifiedImageError, OSError, ValueError):
        raise LossvizError("digit.errors.not_an_image") from None
    if image.format not in FORMATS:
        raise LossvizError("digit.errors.not_an_image")
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise LossvizError("digit.errors.too_many_pixels", width=width, height=height,
                           limit=MAX_PIXELS / 1e6)
    try:
        image = ImageOps.exif_transpose(image)  # a phone photo stands the way it was taken
        return _grayscale(image)
    except (OSError, ValueError, SyntaxError):  # a truncated or corrupt body
        raise LossvizError("digit.errors.not_an_image") from None


def _grayscale(image: Image.Image) -> np.ndarray:
    gray = np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    if image.mode not in ("RGBA", "LA", "PA") and "transparency" not in image.info:
        return gray
    alpha = np.asarray(image.convert("RGBA"), dtype=np.float32)[..., 3] / 255.0
    if alpha.sum() == 0:
        return np.zeros_like(gray)
    # Lay the picture on a background that its ink stands out from: dark ink on white, light
    # ink on black (a drawing on a transparent canvas can be either).
    ink_is_light = float((gray * alpha).sum() / alpha.sum()) > 0.5
    return gray * alpha + (0.0 if ink_is_light else 1.0) * (1 - alpha)


def _as_gray(image: np.ndarray) -> np.ndarray:
    """(H, W) or (H, W, 3|4) uint8 or float in [0, 1] -> (H, W) float in [0, 1]."""
    array = np.asarray(image)
    scale = 255.0 if array.dtype == np.uint8 else 1.0
    if array.ndim == 3 and array.shape[2] in (3, 4):
        return _grayscale(Image.fromarray(np.asarray(array * (255.0 / scale), dtype=np.uint8)))
    if array.ndim != 2 or array.size == 0:
        raise LossvizError("digit.errors.not_an_image")
    return array.astype(np.float32) / scale


def ink(gray: np.ndarray) -> np.ndarray:
    """Light ink on a black background, stretched to full scale. The background is whatever
    covers the picture's border: a light border means dark ink on paper, which is inverted."""
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    background = float(np.median(border))
    if background > 0.5:
        gray, background = 1.0 - gray, 1.0 - background
    strokes = np.clip(gray - background, 0.0, None)
    contrast = float(strokes.max())
    if contrast < MIN_CONTRAST:
        raise LossvizError("digit.errors.blank")
    strokes = strokes / contrast
    strokes[strokes < NOISE] = 0.0
    return strokes


def _fit_box(strokes: np.ndarray) -> np.ndarray:
    """The ink's bounding box, scaled so its longer side is BOX pixels."""
    rows, cols = np.flatnonzero(strokes.any(axis=1)), np.flatnonzero(strokes.any(axis=0))
    crop = strokes[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    scale = BOX / max(crop.shape)
    size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
    # Lanczos on floats: anti-aliased like NIST's, without rounding each intermediate to 8 bits
    fitted = Image.fromarray(crop.astype(np.float32), mode="F").resize(
        size, Image.Resampling.LANCZOS)
    return np.clip(np.asarray(fitted), 0.0, 1.0)


def _centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    rows, cols = np.indices(image.shape)
    total = image.sum()
    return float((rows * image).sum() / total), float((cols * image).sum() / total)


def _shift(image: np.ndarray, down: float, right: float) -> np.ndarray:
    """image moved by a fraction of a pixel too (bilinear), zeros shifted in."""
    moved = Image.fromarray(image.astype(np.float32), mode="F").transform(
        image.shape[::-1], Image.Transform.AFFINE, (1, 0, -right, 0, 1, -down),
        resample=Image.Resampling.BILINEAR, fillcolor=0.0)
    return np.asarray(moved)


def mnist_style(image: np.ndarray) -> np.ndarray:
    """Any picture of one digit (array, either polarity) -> (28, 28) uint8 as MNIST has them.
    Raises LossvizError("digit.errors.blank") when there is no ink to see."""
    box = _fit_box(ink(_as_gray(image)))
    placed = np.zeros((SIZE, SIZE), dtype=np.float32)
    top, left = (SIZE - box.shape[0]) // 2, (SIZE - box.shape[1]) // 2
    placed[top:top + box.shape[0], left:left + box.shape[1]] = box
    row, col = _centre_of_mass(placed)
    centre = SIZE / 2  # where MNIST has it: mean (13.99, 14.00) over the bundled test digits
    centred = np.clip(_shift(placed, centre - row, centre - col), 0.0, None)
    return np.round(255 * centred / centred.max()).astype(np.uint8)


def digit_from_bytes(data: bytes) -> np.ndarray:
    """A PNG or JPEG of one digit -> (28, 28) uint8 as MNIST has them; LossvizError if unusable."""
    return mnist_style(read_image(data))

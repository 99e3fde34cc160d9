import math
import warnings

from fontTools.ttLib import TTFont

from lossviz.curves import Curve, theta_grid
from lossviz.export import margins_image, target_logit_image
from lossviz.figures.static import CJK_FONT
from lossviz.figures.style import View
from lossviz.i18n import TEXTS


def test_the_served_font_has_every_chinese_character_of_the_tables():
    cmap = TTFont(CJK_FONT)["cmap"].getBestCmap()
    used = {ch for path in TEXTS.glob("*.json") for ch in path.read_text(encoding="utf-8")
            if ord(ch) >= 0x3000}
    missing = sorted(ch for ch in used if ord(ch) not in cmap)
    assert missing == [], f"run scripts/make-cjk-font.py: the font lacks {''.join(missing)}"
    assert CJK_FONT.stat().st_size < 3_000_000  # a subset, not the 16 MB font


def test_chinese_exports_have_no_missing_glyphs():
    zh = View("zh")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph ... missing from font(s)"
        png = target_logit_image([Curve("组合间隔", "combined", {})], [], theta_grid(), "png", zh)
        svg = margins_image("arcface", {"m": 0.5}, math.radians(90), "svg", zh, "ArcFace")
    assert png.startswith(b"\x89PNG") and b"<svg" in svg[:500]

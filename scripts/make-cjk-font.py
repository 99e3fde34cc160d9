"""Builds static/fonts/lossviz-cjk-sc.otf: the Chinese glyphs the app needs, cut out of Noto Sans
CJK SC (SIL Open Font License 1.1, which allows bundling and subsetting; see static/fonts/OFL.txt).

Why a subset: the full font is 16 MB per weight. The 3,755 characters of GB 2312 level 1 (the
common characters, by design over 99% of modern running text) plus every character in the
translation tables make 1.8 MB, one file that both the browser (served through
[[theme.fontFaces]]) and matplotlib exports read. One weight only: browsers synthesize bold.

Run again after adding Chinese text that uses a rarer character (tests/unit/test_fonts.py says
which ones are missing):

    apt-get download fonts-noto-cjk && dpkg-deb -x fonts-noto-cjk_*.deb /tmp/noto
    .venv/bin/python scripts/make-cjk-font.py /tmp/noto/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
"""
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "static" / "fonts" / "lossviz-cjk-sc.otf"
SC_INDEX = 2  # NotoSansCJK-Regular.ttc: JP, KR, SC, TC, HK, then the Mono faces
# CJK punctuation, full-width forms, and the Latin punctuation that Chinese text uses.
EXTRA_UNICODES = "U+0020-007E,U+00B7,U+2014,U+2018-201D,U+2026,U+3000-303F,U+FF00-FFEF"


def gb2312_level_1() -> str:
    """Rows 16-55 of GB 2312: the 3,755 level-1 (most common) hanzi."""
    return "".join(bytes([row, cell]).decode("gb2312")
                   for row in range(0xB0, 0xD8) for cell in range(0xA1, 0xFF)
                   if (row, cell) < (0xD7, 0xFA))


def table_characters() -> str:
    """Every non-ASCII character of every translation table."""
    text = "".join(path.read_text(encoding="utf-8")
                   for path in sorted((ROOT / "assets" / "i18n").glob("*.json")))
    return "".join(sorted({ch for ch in text if ord(ch) > 0x7E}))


def main(source: str):
    with tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="utf-8") as chars:
        chars.write(gb2312_level_1() + table_characters())
        chars.flush()
        subprocess.run([sys.executable, "-m", "fontTools.subset", source,
                        f"--font-number={SC_INDEX}", f"--text-file={chars.name}",
                        f"--unicodes={EXTRA_UNICODES}", "--layout-features=*",
                        "--name-IDs=*", f"--output-file={OUT}"], check=True)
    print(f"{OUT.relative_to(ROOT)}: {OUT.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1
         else "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")

"""Makes the Korean font labreport ships: NanumGothic cut down to what a report prints, renamed.

    python scripts/subset_fonts.py /usr/share/fonts/truetype/nanum   # Debian's fonts-nanum

writes `labreport/report/fonts/LabreportGothic-Regular.ttf` and `-Bold.ttf` from `NanumGothic.ttf` and
`NanumGothicBold.ttf` in that folder. The result keeps Latin (with Latin-1 and Latin Extended-A),
Greek, the 2,350 Hangul syllables of KS X 1001, Hangul compatibility jamo, punctuation, arrows,
the mathematical symbols and the CJK and full-width punctuation NanumGothic has; it drops the 4,888
hanja and the 8,822 rarer syllables (a review that holds them falls back to another font).

NanumGothic, like most Korean fonts, draws the backslash (U+005C) as a won sign (₩), the
convention of Korean code pages; a report prints paths, code and reviews in which a backslash is a
backslash, and the won sign keeps its own character (U+20A9). So the subset's backslash is
NanumGothic's own slash mirrored, with the slash's width (`draw_backslash_as_backslash`):
the figures (matplotlib reads these files), the HTML's embedded font and the PDF all take it from
here, so no fallback face or per-page rule is needed.

    python scripts/subset_fonts.py --backslash-only

applies just that to the files already shipped (how they were fixed, without NanumGothic at hand).

NanumGothic is under the SIL Open Font License 1.1 with the Reserved Font Names "Nanum" and
"NanumGothic" (among others); a subset is a Modified Version under the licence, so it cannot keep
those names: the family is renamed "Labreport Gothic", the copyright notice is kept, and the
licence text ships beside the files (`labreport/report/fonts/OFL.txt`). Run it again only to change the
character set; the output is byte-for-byte the same for the same input.
"""

from __future__ import annotations

import sys
from pathlib import Path

from fontTools import subset
from fontTools.pens.reverseContourPen import ReverseContourPen
from fontTools.pens.transformPen import TransformPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTFont

FAMILY = "Labreport Gothic"
OUT = Path(__file__).resolve().parent.parent / "labreport" / "report" / "fonts"

RANGES = [
    (0x0020, 0x007E),  # Basic Latin
    (0x00A0, 0x017F),  # Latin-1 Supplement, Latin Extended-A
    (0x0300, 0x036F),  # combining diacritical marks
    (0x0370, 0x03FF),  # Greek
    (0x2000, 0x206F),  # general punctuation: dashes, quotes, ellipsis, primes
    (0x2070, 0x209F),  # superscripts and subscripts
    (0x20A0, 0x20CF),  # currency (₩, €)
    (0x2100, 0x214F),  # letterlike symbols (№, ℃, ™)
    (0x2150, 0x218F),  # number forms (½, Ⅰ)
    (0x2190, 0x21FF),  # arrows
    (0x2200, 0x22FF),  # mathematical operators (∂, ∑, ≤, ⊙)
    (0x2460, 0x24FF),  # enclosed alphanumerics (①)
    (0x2500, 0x257F),  # box drawing (Keras' model summary)
    (0x25A0, 0x27BF),  # geometric shapes, symbols, dingbats (▲, ★, ✓)
    (0x3000, 0x303F),  # CJK symbols and punctuation (「」, 〈〉)
    (0x3130, 0x318F),  # Hangul compatibility jamo (ㅋ, ㄹ)
    (0x3200, 0x33FF),  # enclosed CJK and compatibility units (㈜, ㎏)
    (0xFF01, 0xFF5E),  # full-width ASCII
]


def ks_x_1001_syllables() -> list[int]:
    """The 2,350 Hangul syllables of KS X 1001 (EUC-KR rows 0xB0–0xC8)."""
    return [ord(bytes([row, cell]).decode("euc-kr")) for row in range(0xB0, 0xC9) for cell in range(0xA1, 0xFF)]


def wanted() -> list[int]:
    codepoints = {code for low, high in RANGES for code in range(low, high + 1)}
    return sorted(codepoints | set(ks_x_1001_syllables()))


def draw_backslash_as_backslash(font: TTFont) -> None:
    """Gives U+005C the font's slash mirrored left to right (in place of the won sign it drew).

    The mirror flips each contour's direction, so the contours are reversed too, keeping TrueType's
    clockwise outer contours. The glyph keeps its name and the slash's advance width.
    """
    cmap = font.getBestCmap()
    slash, backslash = cmap[ord("/")], cmap[ord("\\")]
    glyphs = font["glyf"]
    width, _ = font["hmtx"][slash]
    pen = TTGlyphPen(glyphs)
    glyphs[slash].draw(TransformPen(ReverseContourPen(pen), (-1, 0, 0, 1, width, 0)), glyphs)
    mirrored = pen.glyph()
    mirrored.recalcBounds(glyphs)
    glyphs[backslash] = mirrored
    font["hmtx"][backslash] = (width, mirrored.xMin)


def make(source: Path, target: Path, style: str) -> None:
    options = subset.Options()
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.notdef_outline = True
    options.layout_features = ["*"]
    options.hinting = False  # screens and PDF viewers hint on their own; the instructions are half the size
    options.drop_tables += ["TSI0", "TSI1", "TSI2", "TSI3", "TSI5"]  # the hinting tool's sources
    font = TTFont(str(source), recalcTimestamp=False)
    present = set(font.getBestCmap())
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=[code for code in wanted() if code in present])
    subsetter.subset(font)
    names = font["name"]
    postscript = f"LabreportGothic-{style}"
    for record in list(names.names):  # every record that carries the reserved name, in every language
        if record.nameID in (1, 3, 4, 6, 16, 17, 7, 9, 11, 12, 13, 14):
            names.removeNames(nameID=record.nameID)
    names.setName(FAMILY, 1, 3, 1, 0x409)
    names.setName(style, 2, 3, 1, 0x409)
    names.setName(f"{FAMILY} {style};3.021;labreport", 3, 3, 1, 0x409)
    names.setName(FAMILY if style == "Regular" else f"{FAMILY} {style}", 4, 3, 1, 0x409)
    names.setName(postscript, 6, 3, 1, 0x409)
    names.setName(
        "Modified Version of NanumGothic (Copyright (c) 2010, NAVER Corporation; Reserved Font Names "
        "Nanum, NanumGothic and others): cut down to the characters a labreport report prints and renamed, "
        "as the SIL Open Font License requires.", 10, 3, 1, 0x409)
    names.setName("This Font Software is licensed under the SIL Open Font License, Version 1.1.", 13, 3, 1, 0x409)
    names.setName("https://openfontlicense.org", 14, 3, 1, 0x409)
    font["head"].fontRevision = font["head"].fontRevision  # unchanged; timestamps kept for stable bytes
    draw_backslash_as_backslash(font)
    font.save(str(target))


def main(folder: str) -> None:
    for style, name in (("Regular", "NanumGothic.ttf"), ("Bold", "NanumGothicBold.ttf")):
        source = Path(folder) / name
        target = OUT / f"LabreportGothic-{style}.ttf"
        make(source, target, style)
        print(f"{target.relative_to(OUT.parent.parent)}: {target.stat().st_size / 1024:.0f} KiB "
              f"(from {source.stat().st_size / 1024:.0f} KiB), {len(TTFont(str(target)).getBestCmap())} characters")


def fix_shipped_backslash() -> None:
    """`draw_backslash_as_backslash` on the shipped files, in place (timestamps kept)."""
    for target in sorted(OUT.glob("LabreportGothic-*.ttf")):
        font = TTFont(str(target), recalcTimestamp=False)
        draw_backslash_as_backslash(font)
        font.save(str(target))
        print(f"{target.relative_to(OUT.parent.parent)}: the backslash is a backslash")


if __name__ == "__main__":
    if sys.argv[1:] == ["--backslash-only"]:
        fix_shipped_backslash()
    else:
        main(sys.argv[1] if len(sys.argv) > 1 else "/usr/share/fonts/truetype/nanum")

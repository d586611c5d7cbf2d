"""The Korean font labreport ships: Labreport Gothic, regular and bold, found without importing matplotlib.

A subset of NanumGothic (SIL Open Font License 1.1, text in `OFL.txt` beside the files), renamed as
the licence asks of a modified font; `scripts/subset_fonts.py` makes it. It holds Latin, Greek,
punctuation, the mathematical symbols and the 2,350 common Hangul syllables of KS X 1001. The
figures, the HTML's embedded font and the PDF all use these two files; a character outside them (a
review in Japanese, an emoji) falls back to the reader's own fonts. Finding them costs no pyplot
import (the PDF and the font embedding need no plotting).
"""

from __future__ import annotations

from pathlib import Path

FAMILY = "Labreport Gothic"
FOLDER = Path(__file__).resolve().parent
FILES = {"regular": FOLDER / "LabreportGothic-Regular.ttf", "bold": FOLDER / "LabreportGothic-Bold.ttf"}
LICENSE = FOLDER / "OFL.txt"


def font_files() -> dict[str, Path]:
    """Paths of the regular and bold font files inside the package."""
    return dict(FILES)

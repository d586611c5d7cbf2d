"""The faces labreport sets its reports in, all shipped with labreport or its dependencies.

Labreport Gothic, regular and bold, is a subset of NanumGothic (SIL Open Font License 1.1, text in
`OFL.txt` beside the files), renamed as the licence asks of a modified font; `scripts/subset_fonts.py`
makes it. It holds Latin, Greek, punctuation, the mathematical symbols and the 2,350 common Hangul
syllables of KS X 1001; its backslash is NanumGothic's slash mirrored (NanumGothic draws U+005C
as a won sign, ₩). The figures, the HTML's embedded font and the PDF all use it.

The PDF takes every face from here and none from the machine (`faces`): Labreport Gothic for the
text, and matplotlib's DejaVu faces (matplotlib is a dependency and ships them in its package data)
for code, equations and the symbols the Gothic lacks (−, ✓, ✗, Arabic, combining marks). What no
face here can draw is replaced before layout by a visible stand-in (`labreport.report.pdf`), so the same
record gives the same PDF on every machine. Finding the files costs no matplotlib import.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

FAMILY = "Labreport Gothic"
FOLDER = Path(__file__).resolve().parent
FILES = {"regular": FOLDER / "LabreportGothic-Regular.ttf", "bold": FOLDER / "LabreportGothic-Bold.ttf"}
LICENSE = FOLDER / "OFL.txt"

# The PDF names matplotlib's faces under names of its own: a machine with DejaVu installed would
# otherwise lend its own copy (another version, other glyphs) to the family of the same name.
PDF_NAMES = {"DejaVu Sans": "Labreport DejaVu Sans", "DejaVu Sans Mono": "Labreport DejaVu Sans Mono",
             "DejaVu Serif": "Labreport DejaVu Serif"}
# The families of the PDF, each a stack that ends in the text faces, so that a character is drawn
# from a shipped face whenever one of them has it.
TEXT_STACK = (FAMILY, PDF_NAMES["DejaVu Sans"])
MONO_STACK = (PDF_NAMES["DejaVu Sans Mono"], *TEXT_STACK)
SERIF_STACK = (PDF_NAMES["DejaVu Serif"], *TEXT_STACK)

# matplotlib's files for each (family, weight, style).
_DEJAVU = {
    ("DejaVu Sans", "normal", "normal"): "DejaVuSans.ttf",
    ("DejaVu Sans", "bold", "normal"): "DejaVuSans-Bold.ttf",
    ("DejaVu Sans", "normal", "italic"): "DejaVuSans-Oblique.ttf",
    ("DejaVu Sans Mono", "normal", "normal"): "DejaVuSansMono.ttf",
    ("DejaVu Sans Mono", "bold", "normal"): "DejaVuSansMono-Bold.ttf",
    ("DejaVu Serif", "normal", "normal"): "DejaVuSerif.ttf",
    ("DejaVu Serif", "bold", "normal"): "DejaVuSerif-Bold.ttf",
    ("DejaVu Serif", "normal", "italic"): "DejaVuSerif-Italic.ttf",
}


def font_files() -> dict[str, Path]:
    """Paths of Labreport Gothic's regular and bold files inside the package."""
    return dict(FILES)


def _matplotlib_fonts() -> Path:
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or spec.origin is None:  # a declared dependency; only a broken install lacks it
        raise FileNotFoundError("matplotlib is not installed")
    return Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf"


def faces() -> dict[tuple[str, str, str], Path]:
    """Every face of the PDF: (family as the PDF names it, weight, style) → its file."""
    folder = _matplotlib_fonts()
    # The Gothic has no italic: its upright files stand for it, so that no machine's font
    # configuration slants a copy of its own (one adds a synthetic oblique face, another does not).
    found = {(FAMILY, weight, style): FILES["regular" if weight == "normal" else "bold"]
             for weight in ("normal", "bold") for style in ("normal", "italic")}
    found.update({(PDF_NAMES[family], weight, style): folder / name for (family, weight, style), name in _DEJAVU.items()})
    return found


@functools.lru_cache(maxsize=1)
def drawable() -> frozenset[int]:
    """The code points the text stack can draw: Labreport Gothic's and DejaVu Sans' (regular)."""
    from fontTools.ttLib import TTFont

    points: set[int] = set()
    for key in ((family, "normal", "normal") for family in TEXT_STACK):
        with TTFont(str(faces()[key]), lazy=True) as font:
            points.update(font.getBestCmap())
    return frozenset(points)

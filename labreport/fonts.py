"""Where the Korean font is: NanumGothic regular and bold, found without importing matplotlib.

The figures, the HTML's embedded font and the PDF all use these two files; finding them must not
cost a pyplot import (the PDF and the font embedding need no plotting).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import util as importlib_util
from pathlib import Path

from labreport import LabreportError


@lru_cache(maxsize=None)
def font_files() -> dict[str, Path]:
    """Paths of the NanumGothic regular and bold files shipped by koreanize-matplotlib."""
    spec = importlib_util.find_spec("koreanize_matplotlib")
    if spec is None or not spec.submodule_search_locations:
        raise LabreportError("koreanize-matplotlib is not installed; it provides the Korean font: pip install labreport again")
    folder = Path(list(spec.submodule_search_locations)[0]) / "fonts"
    return {"regular": folder / "NanumGothic.ttf", "bold": folder / "NanumGothicBold.ttf"}

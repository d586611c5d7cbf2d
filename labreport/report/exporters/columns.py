"""How wide each column of a table is set in the DOCX and the HWPX: by its content, as a browser sets a table.

Word processors read a table's column widths from the file; python-docx and python-hwpx write every
column the same width, so a column of one long English word ("bidirectional") breaks it in two while a
column of check marks stays wide and empty. `column_widths` does what a browser's automatic table
layout does (CSS 2.1, 17.5.2.2), from the text alone, since no font is measured here:

- each column is at least as wide as its longest unbreakable word (its minimum), and wants to be as
  wide as its longest line unbroken (its maximum), both with the cell's inner margins;
- when the maximums fit the text width, each column gets its maximum and the rest of the width is shared
  in proportion to them, as a browser shares it;
- when they do not, the columns are filled to one level, each between its minimum and its maximum:
  a short column (a number, a check mark) gets its whole content on one line and the long ones share
  what is left evenly (a browser shares it in proportion to what each column still wants, which
  leaves the short columns at their longest word, broken);
- when even the minimums do not fit, they are scaled down to the text width (a word breaks then:
  nothing fits it).

Text is estimated, not measured: a Hangul, CJK or other full-width character is one em wide, a capital
Latin letter `WIDE_EM`, punctuation and the thin letters `THIN_EM`, any other character `NARROW_EM` of an em
(as wide as the widest common face draws digits), and a header's bold text `BOLD_FACTOR` wider, so that a
word estimated to fit does fit. The widths always add up to the text width, so the table spans the text
as the HTML's does.
"""

from __future__ import annotations

import unicodedata

from labreport.report.exporters.blocks import Table

NARROW_EM = 0.64
"""The estimated width of a Latin letter, digit or sign, in ems: a little more than half a Hangul syllable's.
Calibri's and 함초롬바탕's are about half, but a machine without them draws DejaVu Sans (LibreOffice on
Linux), whose digits are 0.64 em; the estimate errs towards wide, so a word estimated to fit fits."""

WIDE_EM = 0.85
"""The estimated width of a capital Latin letter and of the widest small ones and signs (`WIDE_CHARACTERS`):
DejaVu Sans Bold draws "BiLSTM" 4.14 em wide (its M nearly an em); estimated at `NARROW_EM` a letter, the
header broke as "BiLST / M"."""

WIDE_CHARACTERS = frozenset("ABCDEFGHIJKLNOPQRSTUVXYZw+=&#<>~")
"""The characters estimated at `WIDE_EM`: the capitals and the small letters and signs as wide as them."""

EM_CHARACTERS = frozenset("mMW%@")
"""Latin letters and signs estimated a full em, as Hangul: DejaVu Sans draws m, W and % 0.95-0.99 em."""

THIN_EM = 0.4
"""The estimated width of the thin characters (`THIN_CHARACTERS`): DejaVu Sans draws them 0.28-0.39 em (bold
0.34-0.46), Calibri narrower; counted at `NARROW_EM`, a number like "1,354,625" or a formula like
"(n_in + 1)·n_out" was estimated a sixth wider than drawn, and took width its neighbours lacked."""

THIN_CHARACTERS = frozenset(" ,.·:;()[]'|!ijlft")
"""The characters estimated at `THIN_EM`: punctuation, the space, and the narrow small letters."""

BOLD_FACTOR = 1.15
"""How much wider a header cell's bold text is estimated than its regular weight (DejaVu Sans Bold is about an eighth wider)."""


def text_width_in_ems(text: str) -> float:
    """The estimated width of `text` on one line, in ems of its font size.

    Args:
        text: the text, without line breaks.

    Returns:
        One em for each full-width character (Hangul, CJK, full-width forms) and `EM_CHARACTERS`,
        `WIDE_EM` for a capital and the other `WIDE_CHARACTERS`, `THIN_EM` for punctuation and
        `THIN_CHARACTERS`, `NARROW_EM` for any other.
    """
    return sum(1.0 if unicodedata.east_asian_width(character) in ("W", "F") or character in EM_CHARACTERS
               else WIDE_EM if character in WIDE_CHARACTERS else THIN_EM if character in THIN_CHARACTERS
               else NARROW_EM for character in text)


def content_widths(text: str, em: float, bold: bool = False) -> tuple[float, float]:
    """The narrowest and the widest `text` is set: its longest word, and its longest line unbroken.

    Args:
        text: a cell's text.
        em: the font size, in the unit the widths are wanted in.
        bold: whether the text is set bold (a header cell's).

    Returns:
        `(minimum, maximum)`, without the cell's margins.
    """
    lines = text.split("\n")
    minimum = max((text_width_in_ems(word) for line in lines for word in line.split()), default=0.0)
    maximum = max((text_width_in_ems(line.strip()) for line in lines), default=0.0)
    scale = em * (BOLD_FACTOR if bold else 1.0)
    return minimum * scale, maximum * scale


def column_widths(table: Table, text_width: int, em: float, padding: float) -> list[int]:
    """The width of each grid column of `table`, by its content, adding up to `text_width`.

    Args:
        table: the table; a cell spanning several columns widens them evenly where its words need it.
        text_width: the width the table spans (the page's text width), in whole units (twips, HWPUNIT).
        em: the table's font size, in the same unit.
        padding: a cell's left and right inner margins together, in the same unit.

    Returns:
        One whole width per grid column, in the same unit, adding up to `text_width` exactly.
    """
    count = max((sum(max(cell.colspan, 1) for cell in row) for row in table.rows), default=0)
    if count == 0:
        return []
    minimums = [padding] * count
    maximums = [padding] * count
    spanning = []
    for row in table.rows:
        column = 0
        for cell in row:
            span = min(max(cell.colspan, 1), count - column)
            minimum, maximum = content_widths(cell.text, em, bold=cell.header)
            if span == 1:
                minimums[column] = max(minimums[column], minimum + padding)
                maximums[column] = max(maximums[column], maximum + padding)
            else:
                spanning.append((column, span, minimum + padding))
            column += span
    for column, span, minimum in spanning:
        # A spanning cell's words need only the columns it covers together; any lack is shared evenly.
        lacking = minimum - sum(minimums[column:column + span])
        for index in range(column, column + span):
            minimums[index] += max(lacking, 0.0) / span
            maximums[index] = max(maximums[index], minimums[index])
    return _whole(_shared(minimums, maximums, float(text_width)), text_width)


def _shared(minimums: list[float], maximums: list[float], width: float) -> list[float]:
    """Each column's width: its maximum where the maximums fit, the rest of `width` shared in proportion to
    them; otherwise one level that each column takes as far as its minimum and maximum allow."""
    if sum(maximums) <= width:
        return [maximum * width / sum(maximums) for maximum in maximums]
    if sum(minimums) >= width:
        return [minimum * width / sum(minimums) for minimum in minimums]
    # Not a browser's shares in proportion to each column's want (maximum less minimum): those leave
    # "✓ 일치" and "164,833" at their minimum, broken in two, beside a long formula column that wraps anyway.
    # A level fills short columns first: each column whose whole content is narrower than the level gets it
    # on one line, and the long columns share the rest evenly, none below its longest word.
    low, high = 0.0, max(maximums)
    for _ in range(60):  # the sum rises with the level; halving 60 times pins it far below a twip
        level = (low + high) / 2
        if sum(min(max(level, minimum), maximum) for minimum, maximum in zip(minimums, maximums)) < width:
            low = level
        else:
            high = level
    return [min(max(high, minimum), maximum) for minimum, maximum in zip(minimums, maximums)]


def _whole(widths: list[float], total: int) -> list[int]:
    """`widths` rounded to whole units that add up to `total`: the largest remainders are rounded up
    (ties to the leftmost column, so the same table always gets the same widths)."""
    floors = [int(width) for width in widths]
    order = sorted(range(len(widths)), key=lambda index: (floors[index] - widths[index], index))
    for index in order[:total - sum(floors)]:
        floors[index] += 1
    return floors

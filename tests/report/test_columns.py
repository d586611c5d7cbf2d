"""Column widths by content (`exporters.columns`), as the DOCX and HWPX exporters set their tables."""

from __future__ import annotations

from pathlib import Path

import pytest

from labreport.report.exporters.blocks import Table, TableCell
from labreport.report.exporters.columns import NARROW_EM, column_widths, content_widths, text_width_in_ems


def table(*rows: list[str]) -> Table:
    return Table("", [[TableCell(text) for text in row] for row in rows])


def test_a_hangul_word_is_counted_twice_as_wide_as_a_latin_word_of_as_many_letters():
    widths = column_widths(table(["가나다라마바사아자차", "abcdeghkno", "x"]), 100_000, em=100, padding=0)
    # Each column's whole content fits, so each gets its width in proportion: 10 ems, 10 Latin letters of
    # NARROW_EM, one sign.
    assert widths[0] / widths[1] == pytest.approx(1 / NARROW_EM, rel=1e-3)


@pytest.mark.parametrize("total", [9071, 42520, 1001])
def test_widths_add_up_to_the_text_width_exactly(total):
    rows = (["층", "공식", "검증"], ["bidirectional", "2 × 3·h·(d + h + 2) " * 4, "✓ 일치"])
    assert sum(column_widths(table(*rows), total, em=210, padding=216)) == total


def test_short_columns_get_their_whole_content_and_long_ones_share_the_rest():
    long_text = "a long review that wraps over many lines of the cell " * 10
    widths = column_widths(table(["리뷰", "정답", "검증"], [long_text, "긍정", "✓ 일치"]), 9071, em=210, padding=216)
    assert widths[1] >= 2 * 210 + 216  # 긍정
    assert widths[2] >= text_width_in_ems("✓ 일치") * 210 + 216 - 1  # "✓ 일치" on one line (to a twip)
    assert widths[0] == 9071 - widths[1] - widths[2]


def test_minimums_wider_than_the_text_are_scaled_down_to_it():
    words = ["supercalifragilistic" * 3] * 4
    widths = column_widths(table(words), 9071, em=210, padding=216)
    assert sum(widths) == 9071 and max(widths) - min(widths) <= 1


def test_a_cell_spanning_columns_widens_them_evenly_where_its_word_needs_it():
    word = "abcdefghijklmnopqrstuvwxyz" * 2
    spanning = Table("", [[TableCell("x"), TableCell("y"), TableCell("a long line of text " * 20)],
                          [TableCell(word, colspan=2), TableCell("z")]])
    widths = column_widths(spanning, 6000, em=100, padding=0)
    assert widths[0] + widths[1] >= text_width_in_ems(word) * 100 - 1
    assert abs(widths[0] - widths[1]) <= 1
    assert column_widths(Table("", []), 9071, em=210, padding=216) == []


def test_a_bold_header_of_capitals_is_estimated_as_wide_as_dejavu_sans_bold_draws_it():
    # DejaVu Sans Bold (LibreOffice's face where Calibri is missing) draws "BiLSTM" 4.14 em wide (its hmtx); at
    # NARROW_EM a letter the header broke as "BiLST / M".
    assert content_widths("BiLSTM", 1.0, bold=True)[0] >= 4.14
    assert content_widths("BiLSTM", 1.0, bold=True)[0] > content_widths("BiLSTM", 1.0)[0]


DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSans{}.ttf"
"""The face LibreOffice draws Latin text in where Calibri and Carlito are missing (Debian's fonts-dejavu-core)."""


@pytest.mark.skipif(not Path(DEJAVU.format("")).exists(), reason="DejaVu Sans (fonts-dejavu-core) is not installed")
def test_every_latin_word_of_the_reports_tables_is_estimated_at_least_as_wide_as_dejavu_sans_draws_it(
        checked_in_record):
    from fontTools.ttLib import TTFont

    from labreport.report.exporters import render_language
    from labreport.report.exporters.blocks import read_page

    words = set()
    for lang in ("ko", "en"):
        page = render_language(checked_in_record, lang, ("html",), None, {}).outputs["html"].data
        for block in read_page(page, lang).blocks:
            if isinstance(block, Table):
                words |= {(word, cell.header) for row in block.rows for cell in row for word in cell.text.split()
                          if word.isascii()}
    assert len(words) > 100
    faces = {}
    for bold, suffix in ((False, ""), (True, "-Bold")):
        font = TTFont(DEJAVU.format(suffix))
        advances, characters, units = font["hmtx"], font.getBestCmap(), font["head"].unitsPerEm
        faces[bold] = lambda word, advances=advances, characters=characters, units=units: sum(
            advances[characters[ord(character)]][0] for character in word) / units
    short = [(word, bold) for word, bold in words if content_widths(word, 1.0, bold)[0] < faces[bold](word)]
    assert sorted(short) == [], "\n".join(f"{word} bold={bold}" for word, bold in sorted(short))

"""Column widths by content (`exporters.columns`), as the DOCX and HWPX exporters set their tables."""

from __future__ import annotations

import pytest

from labreport.report.exporters.blocks import Table, TableCell
from labreport.report.exporters.columns import NARROW_EM, column_widths, content_widths


def table(*rows: list[str]) -> Table:
    return Table("", [[TableCell(text) for text in row] for row in rows])


def test_a_hangul_word_is_counted_twice_as_wide_as_a_latin_word_of_as_many_letters():
    widths = column_widths(table(["가나다라마바사아자차", "abcdefghij", "x"]), 100_000, em=100, padding=0)
    # Each column's whole content fits, so each gets its width in proportion: 10 ems, 10 narrow ems, 1.
    assert widths[0] / widths[1] == pytest.approx(1 / NARROW_EM, rel=1e-3)


@pytest.mark.parametrize("total", [9071, 42520, 1001])
def test_widths_add_up_to_the_text_width_exactly(total):
    rows = (["층", "공식", "검증"], ["bidirectional", "2 × 3·h·(d + h + 2) " * 4, "✓ 일치"])
    assert sum(column_widths(table(*rows), total, em=210, padding=216)) == total


def test_short_columns_get_their_whole_content_and_long_ones_share_the_rest():
    long_text = "a long review that wraps over many lines of the cell " * 10
    widths = column_widths(table(["리뷰", "정답", "검증"], [long_text, "긍정", "✓ 일치"]), 9071, em=210, padding=216)
    assert widths[1] >= 2 * 210 + 216  # 긍정
    assert widths[2] >= (2 + 2 * NARROW_EM) * 210 + 216  # "✓ 일치" on one line
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
    assert widths[0] + widths[1] >= len(word) * NARROW_EM * 100
    assert abs(widths[0] - widths[1]) <= 1
    assert column_widths(Table("", []), 9071, em=210, padding=216) == []


def test_a_bold_header_of_capitals_is_estimated_as_wide_as_dejavu_sans_bold_draws_it():
    # DejaVu Sans Bold (LibreOffice's face where Calibri is missing) draws "BiLSTM" 4.14 em wide (its hmtx); at
    # NARROW_EM a letter the header broke as "BiLST / M".
    assert content_widths("BiLSTM", 1.0, bold=True)[0] >= 4.14
    assert content_widths("BiLSTM", 1.0, bold=True)[0] > content_widths("BiLSTM", 1.0)[0]

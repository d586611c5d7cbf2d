"""The student's own sections fit the report: `##` headings are numbered subsections like the
generated 4.1, the starter's questions follow the data, and the placeholders students use most
are listed from the record's schema and resolve on a real record."""

import copy

import pytest

from labreport.core import record as record_module
from labreport.report import notes, templates

NOTES = """\
# Mine

First.

## Detail

Second.

### Smaller

Third.

## Another

Fourth.

# Conclusion

End.
"""


def test_second_level_headings_are_numbered_subsections(record):
    sections = notes.sections_from_text(NOTES, "notes.en.md", record, "en")
    assert [str(s.title) for s in sections] == ["Mine", "Conclusion"]
    assert [str(child.title) for child in sections[0].children] == ["Detail", "Another"]
    assert "<h4>Smaller</h4>" in str(sections[0].children[0].blocks[0].markup)  # a deeper heading stays a heading
    assert sections[1].children == []


def test_a_large_gap_is_not_called_too_small(record):
    # The checked-in run: BiLSTM ahead by 12 points.
    text = notes.starter(record, templates.load_catalog("ko"))
    assert "BiLSTM이 BiGRU보다 12.00%p 높았다" in text
    assert "차이가 너무 작아" not in text
    assert "McNemar 검정의 p값은 0.0001보다 작다." in text


def test_a_small_gap_asks_whether_it_is_too_small(record):
    record["models"]["gru"]["test"]["accuracy"] = record["models"]["lstm"]["test"]["accuracy"] - 0.005
    text = notes.starter(record, templates.load_catalog("ko"))
    assert "0.50%p 높았다" in text and "차이가 너무 작아 말하기 어려운가?" in text
    assert "or is the gap too small to say?" in notes.starter(record, templates.load_catalog("en"))


def test_the_common_placeholders_are_twenty_and_resolve_on_a_real_record(record):
    listed = notes.common_placeholders()
    assert len(listed) == 20 and len({placeholder for placeholder, _ in listed}) == 20
    for placeholder, kind in listed:
        filled = notes.fill_live_numbers(placeholder, record)
        assert filled and "{" not in filled and kind in ("number", "integer"), placeholder


def test_a_placeholder_the_schema_lacks_is_refused():
    schema = copy.deepcopy(record_module.schema())
    del schema["$defs"]["metrics"]["properties"]["f1"]
    with pytest.raises(ValueError, match=r"no number at `models.gru.test.f1`"):
        notes.common_placeholders(schema)
    # The models' names come from the cell registry (the schema's `$defs/cell_name`): only those resolve.
    assert notes._schema_kind(record_module.schema(), "models.gru.test.f1") == "number"
    assert notes._schema_kind(record_module.schema(), "models.mgu.test.f1") is None


def test_notes_lose_a_leading_byte_order_mark_and_keep_the_rest():
    text = "# 토의\r\n\n\tGRU\u200e가 더 빨랐다.\n"
    assert notes.decode_notes(("\ufeff" + text).encode("utf-8"), "notes.ko.md") == text

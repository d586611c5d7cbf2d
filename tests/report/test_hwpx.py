"""The HWPX exporter for real: the checked-in record rendered by `labreport render --format html,hwpx`,
validated and read back with python-hwpx, and held against the HTML page it was written from."""

from __future__ import annotations

import copy
import html as html_module
import json
import re
import subprocess
import sys
import zipfile
from io import BytesIO

import pytest
from hwpx import HwpxDocument  # a test dependency: a missing one fails, not skips
from hwpx.tools.package_validator import validate_package
from lxml import etree

from labreport.report import notes as notes_module
from labreport.report.exporters import render_language
from labreport.report.exporters.blocks import (
    Document,
    Equation,
    Figure,
    Heading,
    ListItems,
    PageBreak,
    Paragraph,
    Preformatted,
    Run,
    Table,
    TableCell,
)
from labreport.report.exporters.hwpx import write_hwpx

REVIEW = 'Loved it <script>alert("x")</script> & =HYPERLINK("http://example.invalid") \x07\x1b more'
"""A review sample as a hostile dataset could hold it: markup, a formula, control characters."""

NOTES = """# My reading

The note says <b>not bold</b> &amp; <a href="http://example.invalid">a link</a> =CMD|'/C calc'!A0 \x01 and $\\frac{a}{b}$ =SUM(A1:A9).
"""
"""The student's own section, as hostile: raw HTML, a link, a DDE formula, a control character."""

HANGUL_FACES = {"함초롬바탕", "함초롬돋움", "굴림체"}
"""The faces 한글 ships that the HWPX names in the Hangul slot."""


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, checked_in_record):
    """Both languages rendered once by the command line, HTML and HWPX, with a hostile review and note."""
    record = copy.deepcopy(checked_in_record)
    for entry in record["models"].values():
        entry["samples"][0]["text"] = REVIEW
    out = tmp_path_factory.mktemp("hwpx")
    (out / "results.json").write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    (out / "notes.en.md").write_text(NOTES, encoding="utf-8")
    (out / "notes.ko.md").write_text(NOTES.replace("My reading", "나의 고찰"), encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "labreport", "render", "--out", str(out), "--format", "html,hwpx"],
                            check=False, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return out, record


def read_back(out, lang):
    """The HWPX of `lang` as python-hwpx opens it, and its HTML page."""
    data = (out / f"report.{lang}.hwpx").read_bytes()
    return data, HwpxDocument.open(data), (out / f"report.{lang}.html").read_text(encoding="utf-8")


def page_body(html: str) -> str:
    """The page after its contents, without the figures' drawings, styles and scripts."""
    body = html[html.index("</nav>"):]
    return re.sub(r"<(svg|style|script)\b.*?</\1>", " ", body, flags=re.DOTALL)


def visible_text(html: str) -> str:
    return html_module.unescape(re.sub(r"<[^>]+>", " ", page_body(html)))


NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


def section_elements(document, name: str) -> list:
    return [element for section in document.sections for element in section.element.iter(f"{{*}}{name}")]


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_hwpx_is_valid_by_python_hwpx(rendered, lang):
    out, _ = rendered
    data, document, _ = read_back(out, lang)
    assert document.validate().issues == ()
    package = validate_package(BytesIO(data))
    assert [issue for issue in package.issues if issue.level != "warning"] == []
    assert zipfile.ZipFile(BytesIO(data)).read("mimetype") == b"application/hwp+zip"


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_every_number_the_html_shows_is_in_the_hwpx(rendered, lang):
    out, record = rendered
    _, document, html = read_back(out, lang)
    text = document.text.plain()
    shown = NUMBER.findall(visible_text(html))
    assert len(shown) > 300
    for number in set(shown):
        assert text.count(number) >= visible_text(html).count(number), number
    assert record["config_hash"] in text
    words = {"ko": "실험 목적과 프로그램 흐름", "en": "Objective and program flow"}[lang]
    assert words in text


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_headings_tables_and_figures_counted_against_the_html(rendered, lang):
    out, _ = rendered
    _, document, html = read_back(out, lang)
    body = page_body(html)
    outline = [paragraph for paragraph in document.paragraphs
               if (document.styles.get(paragraph.style_id_ref).name or "").startswith("개요 ")]
    headings = [html_module.unescape(re.sub(r"<[^>]+>", "", heading))
                for heading in re.findall(r"<h[2-6][^>]*>(.*?)</h[2-6]>", body, flags=re.DOTALL)]
    assert [paragraph.text for paragraph in outline] == [" ".join(heading.split()) for heading in headings]
    assert len(outline) > 10
    # Each heading is an outline level 한글's 개요 lists: its paragraph shape says OUTLINE.
    header = document.oxml.headers[0].element
    outline_shapes = {shape.get("id") for shape in header.iter("{*}paraPr")
                      if shape.find("{*}heading") is not None and shape.find("{*}heading").get("type") == "OUTLINE"}
    assert all(paragraph.para_pr_id_ref in outline_shapes for paragraph in outline)
    assert len(document.tables.all) == body.count("<table") > 10
    header_cells = [cell for cell in section_elements(document, "tc") if cell.get("header") == "1"]
    assert len(header_cells) >= len(re.findall(r"<th[ >]", body)) > 50
    pictures = section_elements(document, "pic")
    alt_texts = [html_module.unescape(alt) for alt in re.findall(r'class="plot"[^>]*aria-label="([^"]*)"', body)]
    assert len(pictures) == len(document.media.picture_references()) == body.count('class="plot"') == 7
    assert [picture.find("{*}shapeComment").text for picture in pictures] == alt_texts
    assert all(alt_texts)
    assert [image.format for image in document.media.images] == ["png"] * 7


def test_korean_text_is_set_in_a_hangul_face(rendered):
    out, _ = rendered
    _, document, _ = read_back(out, "ko")
    shapes = {run.char_pr_id_ref for paragraph in document.paragraphs for run in paragraph.runs
              if re.search("[가-힣]", run.text or "")}
    assert len(shapes) >= 3
    for shape in shapes:
        assert document.styles.font_face(shape, "HANGUL") in HANGUL_FACES, shape
        assert document.styles.font_face(shape, "LATIN") in HANGUL_FACES, shape
    body = [paragraph for paragraph in document.paragraphs if paragraph.style_id_ref == "0" and len(paragraph.text) > 100]
    assert body and document.styles.font_face(body[0].runs[0].char_pr_id_ref, "HANGUL") == "함초롬바탕"


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_every_face_names_malgun_gothic_as_its_substitute(rendered, lang):
    """A program without 함초롬 or 굴림체 is told to show 맑은 고딕, which every Windows has."""
    from labreport.report.exporters.hwpx import SUBSTITUTE_FONT

    out, _ = rendered
    header = etree.fromstring(zipfile.ZipFile(out / f"report.{lang}.hwpx").read("Contents/header.xml"))
    blocks = [block for block in header.iter() if etree.QName(block).localname == "fontface"]
    assert {block.get("lang") for block in blocks} >= {"HANGUL", "LATIN"}
    for block in blocks:
        faces = {font.get("face"): font for font in block if etree.QName(font).localname == "font"}
        assert set(faces) >= HANGUL_FACES, block.get("lang")
        for face in HANGUL_FACES:
            substitutes = [child for child in faces[face] if etree.QName(child).localname == "substFont"]
            assert [(child.get("face"), child.get("type")) for child in substitutes] == [(SUBSTITUTE_FONT, "TTF")], face


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_hostile_review_and_note_arrive_as_text(rendered, lang):
    out, _ = rendered
    data, document, _ = read_back(out, lang)
    text = document.text.plain()
    assert 'Loved it <script>alert("x")</script> & =HYPERLINK("http://example.invalid")  more' in text
    # The notes' Markdown reads `&amp;` as an entity, as the page shows it: "&".
    assert "<b>not bold</b> & <a href=\"http://example.invalid\">a link</a> =CMD|'/C calc'!A0" in text
    assert "$\\frac{a}{b}$ =SUM(A1:A9)" in text
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f]", text)
    archive = zipfile.ZipFile(BytesIO(data))
    for name in archive.namelist():
        if not name.endswith((".xml", ".hpf", ".rdf")):
            continue
        root = etree.fromstring(archive.read(name))
        elements = [element for element in root.iter() if isinstance(element.tag, str)]
        # No field (a hyperlink is one), no script, no link to anything outside the package.
        assert not {etree.QName(element).localname for element in elements} & {"fieldBegin", "hyperlink", "script"}, name
        links = [value for element in elements for key, value in element.attrib.items()
                 if etree.QName(key).localname in ("href", "full-path")]
        assert all(value == "" or not re.match(r"[a-z]+:|/|\.\.", value) for value in links), (name, links)
    assert sorted(name for name in archive.namelist() if name.startswith("BinData/")) == [
        f"BinData/BIN{n:04d}.png" for n in range(1, 8)]


def test_the_same_record_gives_the_same_bytes(rendered):
    """The command line's file equals one rendered again in this process: no random ids, no clock."""
    out, record = rendered
    notes = notes_module.sections_from_text(NOTES.replace("My reading", "나의 고찰"), "notes.ko.md", record, "ko")
    again = render_language(record, "ko", ("hwpx",), None, notes).outputs["hwpx"].data
    assert again == (out / "report.ko.hwpx").read_bytes()


def footer_texts(document) -> list[tuple[str, str]]:
    """Every footer (꼬리말) of every section: the pages it applies to and its text."""
    return [(footer.element.get("applyPageType", "BOTH"), footer.text) for section in document.sections
            for footer in section.properties.footers]


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_a_quick_run_says_so_on_the_cover_and_in_every_page_footer(rendered, lang):
    from labreport.report import render
    from labreport.report.templates import load_catalog

    out, record = rendered
    notice = render.run_notice(record, load_catalog(lang))
    assert notice  # the checked-in record is a quick run, on the shipped sample
    _, document, _ = read_back(out, lang)
    assert notice in [paragraph.text for paragraph in document.paragraphs[:6]]
    assert footer_texts(document) == [("BOTH", notice)]  # odd and even pages, the cover's too


def test_a_full_run_has_no_footer_and_the_notice_stays_text():
    plain = Document("en-US", "Lab", [Paragraph([Run("Lab")], "title"), PageBreak(), Paragraph([Run("Text")])])
    assert footer_texts(HwpxDocument.open(write_hwpx(plain, {}))) == []
    notice = 'Sample <b>run</b> & =HYPERLINK("x") \x07'
    data = write_hwpx(Document(plain.lang, plain.title, plain.blocks, notice), {})
    assert data == write_hwpx(Document(plain.lang, plain.title, plain.blocks, notice), {})  # the footer's ids too
    quick = HwpxDocument.open(data)
    assert quick.validate().issues == ()
    assert footer_texts(quick) == [("BOTH", 'Sample <b>run</b> & =HYPERLINK("x") ')]


def tiny_png(width=320, height=160) -> bytes:
    import struct
    import zlib
    rows = b"".join(b"\x00" + b"\x20\x40\x80" * width for _ in range(height))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def test_each_kind_of_block_is_written():
    """A hand-made document: the looks the page's blocks ask for reach the HWPX."""
    document = Document("en-US", "A <title>", [
        Paragraph([Run("A <title>")], "title"), PageBreak(),
        Heading(1, "1. First"), Heading(2, "1.1 Second"),
        Paragraph([Run("plain "), Run("bold", bold=True), Run("italic", italic=True), Run("x()", code=True),
                   Run("2", superscript=True), Run("t", subscript=True), Run("\x00\x0b")]),
        ListItems([[Run("one")], [Run("two")]], ordered=True),
        Table("Table 1. Wide", [[TableCell("head", header=True, colspan=2)], [TableCell("a"), TableCell("b")]]),
        Figure("plot", "Figure 1. A plot", "a rising line"),
        Equation("y = x", "3", note="a remark"), Preformatted("line 1\n  line 2"),
        Paragraph([Run("[1] A reference.")], "reference"),
    ])
    data = write_hwpx(document, {"plot": {"png": tiny_png()}})
    assert data == write_hwpx(document, {"plot": {"png": tiny_png()}})
    hwpx_document = HwpxDocument.open(data)
    assert hwpx_document.validate().issues == ()
    text = hwpx_document.text.plain()
    for expected in ("A <title>", "1. First", "plain bolditalicx()2t", "1. one", "2. two", "Table 1. Wide",
                     "Figure 1. A plot", "y = x    (3)  a remark", "line 1", "  line 2", "[1] A reference."):
        assert expected in text, expected
    styles = hwpx_document.styles
    runs = {run.text: run for paragraph in hwpx_document.paragraphs for run in paragraph.runs}
    assert "bold" in styles.char_property(runs["bold"].char_pr_id_ref).child_attributes
    assert "italic" in styles.char_property(runs["italic"].char_pr_id_ref).child_attributes
    assert styles.char_property(runs["2"].char_pr_id_ref).is_superscript()
    assert styles.char_property(runs["t"].char_pr_id_ref).is_subscript()
    assert styles.font_face(runs["x()"].char_pr_id_ref, "LATIN") == "굴림체"
    paragraphs = hwpx_document.paragraphs
    assert [paragraph.element.get("pageBreak") for paragraph in paragraphs[:2]] == ["0", "1"]
    [table] = hwpx_document.tables.all
    cells = section_elements(hwpx_document, "tc")
    assert [cell.find("{*}cellSpan").get("colSpan") for cell in cells if cell.get("header") == "1"] == ["2"]
    [picture] = section_elements(hwpx_document, "pic")
    assert picture.find("{*}shapeComment").text == "a rising line"
    # Placed at the size it states (none here: 96 dpi), 320 px = 84.7 mm = 24009 HWPUNIT (1/7200 inch).
    assert abs(int(picture.find("{*}sz").get("width")) - 24009) <= 20
    assert table.element.find("{*}shapeComment").text == "Table 1. Wide"
    # The outline's own numbers are off: the headings carry the report's.
    header = hwpx_document.oxml.headers[0].element
    assert all(not (head.text or "").strip() for head in header.iter("{*}paraHead"))
    assert hwpx_document.parts.metadata.title == "A <title>"


def test_missing_python_hwpx_skips_the_format_with_one_line(checked_in_record, monkeypatch):
    monkeypatch.setitem(sys.modules, "hwpx", None)  # what `import hwpx` meets where it is not installed
    result = render_language(checked_in_record, "en", ("html", "hwpx"), None, None)
    assert "hwpx" not in result.outputs and "html" in result.outputs
    assert result.skipped["hwpx"] == "HWPX needs python-hwpx: pip install 'labreport[office]' (or 'python-hwpx>=6.9')"


def cell_widths(table_element) -> list[list[tuple[int, int, str]]]:
    """Each row's cells as (columns spanned, width in HWPUNIT, text)."""
    return [[(int(cell.find("{*}cellSpan").get("colSpan")), int(cell.find("{*}cellSz").get("width")),
              "".join(text.text or "" for text in cell.iter("{*}t")))
             for cell in row.iter("{*}tc")] for row in table_element.iter("{*}tr")]


def longest_word_units(text: str) -> float:
    """The narrowest a cell's text is set at 10 pt without breaking a word, in HWPUNIT: Hangul a full em
    (1000), any other character half of one (the exporter's own estimate is wider)."""
    return max((sum(1000 if "\uac00" <= character <= "\ud7a3" else 500 for character in word)
                for word in text.split()), default=0)


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_table_columns_are_as_wide_as_their_words_and_span_the_text_width(rendered, lang):
    out, _ = rendered
    _, document, _ = read_back(out, lang)
    tables = section_elements(document, "tbl")
    assert len(tables) > 10
    for table in tables:
        width = int(table.find("{*}sz").get("width"))
        margins = table.find("{*}inMargin")
        padding = int(margins.get("left")) + int(margins.get("right"))
        assert width == 42520  # the text width (150 mm), as python-hwpx sets a new table
        for row in cell_widths(table):
            assert sum(cell_width for _, cell_width, _ in row) == width  # every row ends at the table's edge
            for span, cell_width, text in row:
                if span == 1:
                    assert cell_width >= longest_word_units(text) + padding, (lang, text, cell_width)


def test_a_wide_text_column_gets_more_than_a_check_mark_column_in_the_hwpx(rendered):
    out, _ = rendered
    _, document, _ = read_back(out, "ko")
    rows = next(rows for rows in map(cell_widths, section_elements(document, "tbl")) if rows[0][-1][2] == "검증")
    widths = {text: cell_width for _, cell_width, text in rows[0]}
    assert widths["공식"] > widths["검증"]
    assert widths["이번 실행의 값 대입"] > widths["검증"]
    assert widths["층"] >= longest_word_units("bidirectional") + 1020

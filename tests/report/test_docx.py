"""The DOCX report (`labreport.report.exporters.docx`), read back with python-docx and opened by LibreOffice."""

from __future__ import annotations

import copy
import html as html_module
import io
import re
import shutil
import subprocess
import sys
import zipfile

import pytest

from labreport.report import formats
from labreport.report import notes as notes_module
from labreport.report.exporters import render_language

docx = pytest.importorskip("docx", reason="python-docx (the office extra) is not installed")

HOSTILE = 'Loved it <script>alert("x")</script> =HYPERLINK("http://evil.invalid","x") \x01\x0b\x1f end'
NOTES = """# My reading

BiLSTM reached {{ models.lstm.test.accuracy }} on the test split.
=HYPERLINK("http://evil.invalid/notes","click") and <b>raw</b> <script>alert(2)</script>

1. first
2. second
"""
WORD = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
MATH = "{http://schemas.openxmlformats.org/officeDocument/2006/math}"
RELATIONSHIPS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


@pytest.fixture(scope="module")
def reports(checked_in_record):
    """Both languages as HTML and DOCX, rendered once for the tests that only read them: a review
    and the student's notes carry markup, control characters and formula-looking text."""
    record = copy.deepcopy(checked_in_record)
    for entry in record["models"].values():
        entry["samples"][0]["text"] = HOSTILE
    results = {}
    for lang in ("ko", "en"):
        notes = notes_module.sections_from_text(NOTES, "notes.md", record, lang)
        results[lang] = render_language(record, lang, ("html", "docx"), None, notes, ("svg",))
    return record, notes, results


def opened(data: bytes):
    return docx.Document(io.BytesIO(data))


def paragraph_text(paragraph) -> str:
    """A paragraph's text as a reader sees it, Office Math included (python-docx's `.text` leaves it out)."""
    parts = []
    for node in paragraph.iter():
        if node.tag in (f"{WORD}t", f"{MATH}t") and node.text:
            parts.append(node.text)
        elif node.tag == f"{WORD}tab":
            parts.append("\t")
        elif node.tag in (f"{WORD}br", f"{WORD}cr"):
            parts.append("\n")
    return "".join(parts)


def document_text(document) -> str:
    return "\n".join(paragraph_text(p) for p in document.element.body.iter(f"{WORD}p"))


def visible_html(page: str) -> str:
    """What the HTML page shows as text: no head, contents, figures' drawings or scripts, nor the banner
    that repeats the cover's notice for a reader scrolling the page (the DOCX has it on the cover once)."""
    body = page[page.index("<body"):]
    body = re.sub(r"<(nav|svg|script|style)\b.*?</\1>", " ", body, flags=re.DOTALL)
    body = re.sub(r'<div class="run-banner"[^>]*>.*?</div>', " ", body, flags=re.DOTALL)
    return html_module.unescape(re.sub(r"<[^>]+>", " ", body))


def package_parts(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        return {name: package.read(name) for name in package.namelist()}


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_docx_holds_every_number_the_html_shows(reports, lang):
    _, _, results = reports
    page = results[lang].outputs["html"].data
    text = document_text(opened(results[lang].outputs["docx"].data))
    shown = visible_html(page)
    numbers = NUMBER.findall(shown)
    assert len(numbers) > 300
    missing = [number for number in sorted(set(numbers)) if text.count(number) < shown.count(number)]
    assert not missing


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_headings_tables_and_figures_counted_against_the_html(reports, lang):
    _, _, results = reports
    page = results[lang].outputs["html"].data
    body = page[page.index("</nav>"):]
    document = opened(results[lang].outputs["docx"].data)
    headings = [p for p in document.paragraphs if p.style.name.startswith("Heading ")]
    assert len(headings) == len(re.findall(r"<h[2-6][ >]", body)) > 10
    assert {p.style.name for p in headings} == {"Heading 1", "Heading 2"}  # the outline Word's navigation pane shows
    assert [p.text for p in document.paragraphs if p.style.name == "Title"] == [
        html_module.unescape(re.sub(r"<[^>]+>", "", re.search(r"<h1>(.*?)</h1>", page).group(1)))]
    assert len(document.tables) == body.count("<table") > 10
    for table in document.tables:  # the header row repeats on every page the table spans
        assert table.rows[0]._tr.trPr.find(f"{WORD}tblHeader") is not None
    captions = [p.text for p in document.paragraphs if p.style.name == "Caption"]
    assert len(captions) == body.count("<figcaption>")
    assert captions[0].startswith({"ko": "표 1.", "en": "Table 1."}[lang]) or captions[0].startswith(
        {"ko": "그림 1.", "en": "Figure 1."}[lang])
    equations = list(document.element.body.iter(f"{MATH}oMath"))
    assert len(equations) == len(re.findall(r'<span class="label">', body)) == 11


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_figures_are_print_resolution_pngs_with_alt_text(reports, lang):
    _, _, results = reports
    page = results[lang].outputs["html"].data
    document = opened(results[lang].outputs["docx"].data)
    alts = [html_module.unescape(alt) for alt in re.findall(r'<div class="plot" role="img" aria-label="([^"]*)"', page)]
    shapes = document.inline_shapes
    assert len(shapes) == len(alts) == 7
    assert [shape._inline.docPr.get("descr") for shape in shapes] == alts
    for shape in shapes:
        image = document.part.related_parts[shape._inline.graphic.graphicData.pic.blipFill.blip.embed].image
        assert image.content_type == "image/png" and image.horz_dpi >= 200
        assert shape.width <= 16 * 360_000  # fits the text width (16 cm)


def test_korean_goes_through_the_east_asian_font_slot(reports):
    _, _, results = reports
    parts = package_parts(results["ko"].outputs["docx"].data)
    styles = parts["word/styles.xml"].decode("utf-8")
    defaults = re.search(r"<w:rPrDefault>.*?</w:rPrDefault>", styles).group(0)
    assert 'w:eastAsia="맑은 고딕"' in defaults and 'w:ascii="Calibri"' in defaults
    assert re.search(r'<w:lang [^>]*w:eastAsia="ko-KR"', defaults)
    assert "Theme=" not in styles and "w:cstheme" not in styles  # a theme font would win over the named ones
    document = opened(results["ko"].outputs["docx"].data)
    korean = [run for p in document.paragraphs for run in p.runs if re.search("[가-힣]", run.text)]
    assert len(korean) > 50
    for run in korean:  # no run names a font of its own: each takes its style's East Asian font
        fonts = run._r.rPr.find(f"{WORD}rFonts") if run._r.rPr is not None else None
        assert fonts is None or fonts.get(f"{WORD}eastAsia") in ("맑은 고딕", "D2Coding")
    assert document.core_properties.language == "ko-KR"
    assert opened(results["en"].outputs["docx"].data).core_properties.language == "en-US"
    code = re.search(r'<w:style [^>]*w:styleId="PreformattedText".*?</w:style>', styles, re.DOTALL).group(0)
    assert 'w:ascii="Consolas"' in code and 'w:eastAsia="D2Coding"' in code


def embedded_faces(parts: dict[str, bytes]) -> dict[str, bytes]:
    """The faces the font table embeds for 맑은 고딕, by element (`embedRegular`, `embedBold`), read back
    as ECMA-376 17.8.1 obfuscates them: the first 32 bytes XORed with the font key's bytes reversed."""
    from lxml import etree

    relationships = {relationship.get("Id"): relationship.get("Target")
                     for relationship in etree.fromstring(parts["word/_rels/fontTable.xml.rels"])}
    [entry] = [font for font in etree.fromstring(parts["word/fontTable.xml"]) if font.get(f"{WORD}name") == "맑은 고딕"]
    faces = {}
    for embed in entry:
        if embed.tag.startswith(f"{WORD}embed"):
            data = parts["word/" + relationships[embed.get(f"{{{RELATIONSHIPS}}}id")]]
            key = bytes.fromhex(embed.get(f"{WORD}fontKey").strip("{}").replace("-", ""))[::-1]
            faces[embed.tag[len(WORD):]] = bytes(byte ^ key[index % 16] for index, byte in enumerate(data[:32])) + data[32:]
    return faces


def test_the_korean_report_embeds_a_subset_of_labreport_gothic_as_the_face_of_malgun_gothic(reports):
    from fontTools.ttLib import TTFont

    _, _, results = reports
    data = results["ko"].outputs["docx"].data
    parts = package_parts(data)
    hangul = {character for character in document_text(opened(data)) if "가" <= character <= "힣"}
    faces = embedded_faces(parts)
    assert sorted(faces) == ["embedBold", "embedRegular"]
    for element, style in (("embedRegular", "Regular"), ("embedBold", "Bold")):
        font = TTFont(io.BytesIO(faces[element]))
        names = font["name"]
        assert (names.getDebugName(1), names.getDebugName(2)) == ("Labreport Gothic", style)
        # The OFL: no reserved name (Nanum, NanumGothic, …) as the subset's name, its licence carried.
        assert not any("nanum" in (names.getDebugName(name_id) or "").lower() for name_id in (1, 4, 6, 16, 17))
        assert "Open Font License" in names.getDebugName(13)
        cmap = font.getBestCmap()
        assert len(hangul) > 100 and all(ord(character) in cmap for character in hangul)
        assert len(cmap) < 1000  # the document's characters, not the Gothic's 3,400 glyphs
    assert b'Extension="odttf" ContentType="application/vnd.openxmlformats-officedocument.obfuscatedFont"' in parts[
        "[Content_Types].xml"]
    assert b"<w:embedTrueTypeFonts/><w:saveSubsetFonts/>" in parts["word/settings.xml"]
    assert not any(name.startswith("word/fonts/") for name in package_parts(results["en"].outputs["docx"].data))


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_a_hostile_review_and_note_arrive_as_text(reports, lang):
    _, _, results = reports
    data = results[lang].outputs["docx"].data
    text = document_text(opened(data))
    assert 'Loved it <script>alert("x")</script> =HYPERLINK("http://evil.invalid","x") \ufffd\ufffd\ufffd end' in text
    assert '=HYPERLINK("http://evil.invalid/notes","click") and <b>raw</b> <script>alert(2)</script>' in text
    for name, content in package_parts(data).items():
        assert "vba" not in name.lower() and not name.endswith(".bin")
        if name.endswith(".xml") or name.endswith(".rels"):
            xml = content.decode("utf-8")
            assert "TargetMode" not in xml, name  # no relationship points outside the package
            for element in ("instrText", "fldSimple", "fldChar", "<w:hyperlink", "<script"):
                assert element not in xml, (name, element)
    assert "macroEnabled" not in package_parts(data)["[Content_Types].xml"].decode("utf-8")


def footer_texts(document) -> list[str]:
    """The text of every footer of every section: the default one, the first page's and the even pages'."""
    return [footer.paragraphs[0].text if footer.paragraphs else "" for section in document.sections
            for footer in (section.footer, section.first_page_footer, section.even_page_footer)
            if not footer.is_linked_to_previous]


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_a_quick_run_says_so_on_the_cover_and_in_every_page_footer(reports, lang):
    from labreport.report import render
    from labreport.report.templates import load_catalog

    record, _, results = reports
    notice = render.run_notice(record, load_catalog(lang))
    assert notice  # the checked-in record is a quick run, on the shipped sample
    document = opened(results[lang].outputs["docx"].data)
    cover = [p.text for p in document.paragraphs[:6]]
    assert notice in cover
    sections = document.sections
    assert len(sections) == 1 and not sections[0].different_first_page_header_footer
    assert footer_texts(document) == [notice]  # the default footer, on every page (the cover's too)


def test_a_full_run_has_no_footer_and_the_notice_stays_text():
    from labreport.report.exporters import blocks
    from labreport.report.exporters.docx import write_docx

    date = __import__("datetime").datetime(2026, 1, 1)
    page = '<header class="cover"><h1>Lab</h1>{notice}</header><main><p>Text</p></main>'
    full = blocks.read_page(page.format(notice=""), "en")
    assert full.notice == "" and footer_texts(opened(write_docx(full, {}, date))) == []
    hostile = '<p class="run-notice">Sample &lt;b&gt;run&lt;/b&gt; =HYPERLINK("x")</p>'
    quick = blocks.read_page(page.format(notice=hostile), "en")
    assert quick.notice == 'Sample <b>run</b> =HYPERLINK("x")'
    assert footer_texts(opened(write_docx(quick, {}, date))) == [quick.notice]


def test_same_record_same_bytes_and_figure_files_unchanged(reports):
    record, notes, results = reports
    again = render_language(record, "en", ("docx",), None, notes_module.sections_from_text(NOTES, "n.md", record, "en"),
                            ("svg",))
    assert again.outputs["docx"].data == results["en"].outputs["docx"].data
    korean = render_language(record, "ko", ("docx",), None, notes_module.sections_from_text(NOTES, "n.md", record, "ko"),
                             ("svg",))
    assert korean.outputs["docx"].data == results["ko"].outputs["docx"].data  # its embedded faces too
    # The DOCX's PNGs are drawn for it; the files beside the report stay the ones asked for.
    assert {fmt for files in again.figures.values() for fmt in files} == {"svg"}
    with zipfile.ZipFile(io.BytesIO(again.outputs["docx"].data)) as package:
        assert {info.date_time for info in package.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_without_python_docx_the_format_is_skipped_with_what_to_install(checked_in_record, monkeypatch):
    monkeypatch.setitem(sys.modules, "docx", None)  # `import docx` now raises ImportError
    result = render_language(checked_in_record, "en", ("docx",), None, None, ("svg",))
    assert result.outputs == {}
    assert result.skipped == {"docx": "DOCX needs python-docx: pip install 'labreport[office]'"}


def test_render_format_docx_on_the_command_line(tmp_path, record_dir):
    run = subprocess.run([sys.executable, "-m", "labreport", "render", "--out", str(record_dir), "--format", "docx",
                          "--lang", "en"], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    written = sorted(path.name for path in record_dir.iterdir() if path.name.startswith("report."))
    assert written == ["report.en.docx"]
    assert opened((record_dir / "report.en.docx").read_bytes()).tables
    usage = subprocess.run([sys.executable, "-m", "labreport", "render", "--help"], capture_output=True, text=True)
    assert f"formats among {','.join(formats.FORMATS)} (html,pdf)" in " ".join(usage.stdout.split())
    assert "docx" in formats.FORMATS


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed")
def test_libreoffice_opens_the_docx_and_converts_it(reports, tmp_path):
    import pypdf

    _, _, results = reports
    source = tmp_path / "report.ko.docx"
    source.write_bytes(results["ko"].outputs["docx"].data)
    run = subprocess.run(["soffice", f"-env:UserInstallation=file://{tmp_path / 'profile'}", "--headless",
                          "--convert-to", "pdf", "--outdir", str(tmp_path), str(source)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    reader = pypdf.PdfReader(tmp_path / "report.ko.pdf")
    assert len(reader.pages) > 10
    text = " ".join(page.extract_text() for page in reader.pages)
    words = " ".join(text.split())
    assert "164,833" in words and "166,305" in words  # the parameter totals
    assert "실행 날짜" in words and "참고문헌" in words.replace(" ", "") or "참고 문헌" in words


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed")
def test_libreoffice_without_a_korean_font_draws_the_hangul_in_the_embedded_face(reports, tmp_path):
    """A machine with one Latin font and no Korean one (LibreOffice starts with no font at all only to
    say "No fonts could be found"): the Hangul is drawn in the embedded Labreport Gothic, not as boxes."""
    import os

    import pypdf

    from labreport.report.fonts import faces

    _, _, results = reports
    fonts = tmp_path / "fonts"
    fonts.mkdir()
    [latin] = [path for path in faces().values() if path.name == "DejaVuSans.ttf"]
    shutil.copyfile(latin, fonts / latin.name)
    configuration = tmp_path / "fonts.conf"
    configuration.write_text(f'<?xml version="1.0"?>\n<fontconfig><dir>{fonts}</dir>'
                             f'<cachedir>{tmp_path / "cache"}</cachedir></fontconfig>\n')
    source = tmp_path / "report.ko.docx"
    source.write_bytes(results["ko"].outputs["docx"].data)
    run = subprocess.run(["soffice", f"-env:UserInstallation=file://{tmp_path / 'profile'}", "--headless",
                          "--convert-to", "pdf", "--outdir", str(tmp_path), str(source)],
                         capture_output=True, text=True, timeout=300, env={**os.environ, "FONTCONFIG_FILE": str(configuration)})
    assert run.returncode == 0, run.stderr
    reader = pypdf.PdfReader(tmp_path / "report.ko.pdf")
    used = {str(font["/BaseFont"]).split("+")[-1] for page in reader.pages[:3]
            for font in page["/Resources"]["/Font"].values()}
    assert {"LabreportGothic-Regular", "LabreportGothic-Bold"} <= used, used
    assert "실행 날짜" in " ".join(reader.pages[0].extract_text().split())


def line_twips(text: str, points: float) -> float:
    """How wide `text` is set on one line at `points`, in twips: Hangul a full em and any other character half
    of one (about Calibri's average; the exporter's own estimate is wider)."""
    return sum(1.0 if "\uac00" <= character <= "\ud7a3" else 0.5 for character in text) * points * 20


def longest_word_twips(text: str, points: float) -> float:
    """The narrowest a cell's text is set without breaking a word, in twips."""
    return max((line_twips(word, points) for word in text.split()), default=0.0)


def grid_widths(table) -> list[int]:
    return [int(column.get(f"{WORD}w")) for column in table._tbl.tblGrid.iter(f"{WORD}gridCol")]


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_table_columns_are_as_wide_as_their_words_and_span_the_text_width(reports, lang):
    _, _, results = reports
    document = opened(results[lang].outputs["docx"].data)
    section = document.sections[0]
    text_width = round((section.page_width - section.left_margin - section.right_margin) / 635)
    points = document.styles["Normal"].font.size.pt  # the tables' text is the body's
    for table in document.tables:
        properties = table._tbl.tblPr
        # Fixed layout: LibreOffice and Word both take the widths written, rather than their own.
        assert properties.find(f"{WORD}tblLayout").get(f"{WORD}type") == "fixed"
        assert properties.find(f"{WORD}tblW").get(f"{WORD}w") == str(text_width)
        widths = grid_widths(table)
        assert sum(widths) == text_width
        for row in table._tbl.tr_lst:
            start = 0
            for cell in row.tc_lst:
                spanned = sum(widths[start:start + cell.grid_span])
                cell_width = cell.tcPr.tcW  # each cell says the width of the columns it spans
                assert (cell_width.get(f"{WORD}type"), cell_width.get(f"{WORD}w")) == ("dxa", str(spanned))
                if cell.grid_span == 1:
                    text = "\n".join(paragraph_text(paragraph) for paragraph in cell.iter(f"{WORD}p"))
                    assert spanned >= longest_word_twips(text, points) + 2 * 108, (lang, text, spanned)
                start += cell.grid_span


def test_a_wide_text_column_gets_more_than_a_check_mark_column(reports):
    _, _, results = reports
    document = opened(results["ko"].outputs["docx"].data)
    table = next(table for table in document.tables if [cell.text for cell in table.rows[0].cells][-1] == "검증")
    header = [cell.text for cell in table.rows[0].cells]
    widths = dict(zip(header, grid_widths(table)))
    assert widths["공식"] > widths["검증"]
    assert widths["이번 실행의 값 대입"] > widths["검증"]
    assert widths["층"] >= longest_word_twips("bidirectional", 10.5) + 2 * 108  # not "bidirectiona / l"
    # "✓ 일치" on one line: a short column gets its whole content before the long ones share the rest.
    assert widths["검증"] >= line_twips("✓ 일치", 10.5) + 2 * 108

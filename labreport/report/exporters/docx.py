"""The DOCX exporter: the HTML exporter's page, read as blocks (`blocks.read_page`), written as an editable Word file.

What a student opening `report.<lang>.docx` in Word or LibreOffice gets: the outline in the
navigation pane (the built-in Heading 1..3 styles), the cover, numbered captions in the Caption
style, real tables whose header rows repeat on every page, the figures as 300-dpi PNG with their
alt text, each equation as Office Math (editable) with its number, the Keras summaries in a
fixed-width font, the reference list and the student's own sections; a quick or partial run's notice
on the cover and in every page's footer.

Korean text is set through the East Asian font slot: python-docx names only the Latin fonts
(its issue #154), so the styles' `w:rFonts` and `w:lang` are written here directly, with 맑은 고딕
for Hangul and Calibri for Latin text; a machine without them substitutes its own Korean and sans
fonts (LibreOffice: Noto Sans CJK KR and Carlito, where installed). The Korean report carries
Labreport Gothic, cut down to the characters it shows, embedded as 맑은 고딕's face
(`with_embedded_korean_face`), so Hangul shows even where no Korean font is installed.

Every string is text: reviews and notes may hold markup or formula-looking text (`=HYPERLINK(…)`),
and reach the file as escaped text in `w:t`, with the characters XML cannot hold replaced. The
file has no fields, no hyperlinks, no external relationships and no macros, and the same record
gives the same bytes (fixed dates, fixed zip entry times).
"""

from __future__ import annotations

import datetime as _dt
import io
import re
import zipfile

from labreport.report.exporters import blocks as blocks_module
from labreport.report.exporters import columns as columns_module
from labreport.report.exporters.html import HtmlExporter
from labreport.report.formats import Output, Unavailable

PRINT_FIGURES = "png@300"
"""The figure files the DOCX takes: PNG at 300 dpi, print resolution (the PNGs beside the report are 160 dpi)."""

LATIN_FONT = "Calibri"
KOREAN_FONT = "맑은 고딕"
"""The fonts the styles name: Latin text in `LATIN_FONT`, Hangul in `KOREAN_FONT` (Malgun Gothic, on every
Windows since Vista)."""
CODE_FONT = "Consolas"
CODE_KOREAN_FONT = "D2Coding"
"""The fixed-width fonts of code and the Keras summaries: Latin in Consolas, Hangul in D2Coding (Naver's coding font)."""

TEXT_WIDTH_EMU = 16 * 360_000  # 16 cm; an EMU is 1/360,000 cm
"""The widest a figure is set: the text width of an A4 page with 2.5 cm margins (16 cm), in EMU."""

TABLE_CELL_PADDING_TWIPS = 2 * 108
"""A table cell's left and right inner margins together: the Table Grid style's 0.19 cm a side, in twips."""

_EMU_PER_TWIP = 635

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
"""Characters an XML 1.0 document cannot hold (python-docx raises on them) and DEL."""

_WORD = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_MATH = "http://schemas.openxmlformats.org/officeDocument/2006/math"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def plain(text: str) -> str:
    """`text` with the characters XML cannot hold replaced by U+FFFD (a box the reader sees), line ends kept."""
    return _NOT_XML.sub("\ufffd", text.replace("\r\n", "\n").replace("\r", "\n"))


class DocxExporter(HtmlExporter):
    """`report.<lang>.docx`, for a student who edits the report or a course that collects Word files."""

    figure_formats: tuple[str, ...] = (PRINT_FIGURES,)
    libraries = ("python-docx",)

    @classmethod
    def check_available(cls) -> None:
        try:
            import docx  # noqa: F401
        except ImportError as error:
            raise Unavailable("DOCX needs python-docx: pip install 'labreport[office]'") from error

    def export(self, page) -> Output:
        self.check_available()
        document = blocks_module.read_page(self.page_html(page, inline=False), page.lang)
        pictures = {name: files[PRINT_FIGURES] for name, files in page.figures.items() if PRINT_FIGURES in files}
        run_date = _dt.datetime.combine(page.date(), _dt.time(), tzinfo=_dt.timezone.utc)
        return Output(write_docx(document, pictures, run_date))


def write_docx(document: blocks_module.Document, pictures: dict[str, bytes], date: _dt.datetime) -> bytes:
    """The DOCX file of `document`.

    Args:
        document: the report's blocks (`blocks.read_page`).
        pictures: each figure's PNG by name; a figure without one is written as its caption and alt text.
        date: the file's creation and modification date (the run's, so the same record gives the same bytes).

    Returns:
        The file's bytes.
    """
    import docx
    from docx.shared import Cm

    word = docx.Document()
    section = word.sections[0]
    section.page_width, section.page_height = Cm(21), Cm(29.7)  # A4
    section.left_margin = section.right_margin = Cm(2.5)
    section.top_margin = section.bottom_margin = Cm(2.5)
    _set_fonts_and_language(word, document.lang)
    _add_styles(word)
    writer = _Writer(word, pictures)
    for block in document.blocks:
        writer.write(block)
    if document.notice:
        _set_footer(section, document.notice)
    _set_properties(word, document, date)
    buffer = io.BytesIO()
    word.save(buffer)
    return _with_fixed_zip_times(with_embedded_korean_face(buffer.getvalue()))


# Styles -------------------------------------------------------------------------------------------

def _qualified(name: str) -> str:
    prefix, _, local = name.partition(":")
    return "{%s}%s" % ({"w": _WORD, "m": _MATH}[prefix], local)


def _fonts_element(ascii_font: str, east_asian_font: str):
    from docx.oxml import OxmlElement

    fonts = OxmlElement("w:rFonts")
    for attribute, value in (("w:ascii", ascii_font), ("w:hAnsi", ascii_font), ("w:eastAsia", east_asian_font),
                             ("w:cs", ascii_font)):
        fonts.set(_qualified(attribute), value)
    return fonts


def _set_fonts_and_language(word, lang: str) -> None:
    """Names the Latin and Korean fonts and the language in the document defaults, and makes every style inherit them.

    The template's styles name theme fonts (`w:asciiTheme`, `w:eastAsiaTheme`), which win over named
    fonts; they are removed, so each style takes the defaults' fonts unless it names its own.
    """
    from docx.oxml import OxmlElement

    styles = word.styles.element
    for fonts in styles.iter(_qualified("w:rFonts")):
        for attribute in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
            fonts.attrib.pop(_qualified(attribute), None)
    defaults = styles.find(f"{_qualified('w:docDefaults')}/{_qualified('w:rPrDefault')}/{_qualified('w:rPr')}")
    old = defaults.find(_qualified("w:rFonts"))
    old.addprevious(_fonts_element(LATIN_FONT, KOREAN_FONT))
    defaults.remove(old)
    language = defaults.find(_qualified("w:lang"))
    if language is None:
        language = OxmlElement("w:lang")
        defaults.append(language)
    # Latin text is English in both reports; Hangul is Korean in both (a Korean word in the English report too).
    language.set(_qualified("w:val"), "en-US")
    language.set(_qualified("w:eastAsia"), "ko-KR")
    settings = word.settings.element
    theme_language = settings.find(_qualified("w:themeFontLang"))
    if theme_language is None:
        theme_language = OxmlElement("w:themeFontLang")
        settings.append(theme_language)
    theme_language.set(_qualified("w:val"), "en-US")
    theme_language.set(_qualified("w:eastAsia"), "ko-KR")
    # Each style that sets a font of its own (none in the template after the themes go) keeps a Korean one.
    for style in word.styles:
        element = style.element.find(_qualified("w:rPr"))
        fonts = element.find(_qualified("w:rFonts")) if element is not None else None
        if fonts is not None and not fonts.attrib:
            element.remove(fonts)


def _add_styles(word) -> None:
    """The styles the blocks need beyond the template's: fixed-width text (a paragraph and a character style)."""
    from docx.enum.style import WD_STYLE_TYPE
    from docx.shared import Pt

    for name, kind in (("Preformatted Text", WD_STYLE_TYPE.PARAGRAPH), ("Code", WD_STYLE_TYPE.CHARACTER)):
        style = word.styles.add_style(name, kind)
        style.font.size = Pt(7.5) if kind == WD_STYLE_TYPE.PARAGRAPH else None
        rpr = style.element.get_or_add_rPr()
        rpr.insert(0, _fonts_element(CODE_FONT, CODE_KOREAN_FONT))
        if kind == WD_STYLE_TYPE.PARAGRAPH:
            style.base_style = word.styles["Normal"]
            style.paragraph_format.space_after = Pt(6)
            style.paragraph_format.line_spacing = 1.0
    caption = word.styles["Caption"]
    caption.font.color.rgb = None
    word.styles["Normal"].font.size = Pt(10.5)


def _set_footer(section, notice: str) -> None:
    """Sets `notice` (a quick or partial run's) in the footer of every page, as the PDF's page footer has it:
    whoever prints one page of the file still reads that its numbers are not the lab's results."""
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt, RGBColor

    paragraph = section.footer.paragraphs[0]
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = paragraph.add_run(plain(notice))
    run.bold = True
    run.font.size = Pt(8)
    run.font.color.rgb = RGBColor(0x6B, 0x4E, 0x00)  # the PDF footer's colour


def _set_properties(word, document: blocks_module.Document, date: _dt.datetime) -> None:
    properties = word.core_properties
    properties.title = plain(document.title)
    properties.language = document.lang
    properties.author = ""
    properties.last_modified_by = ""
    properties.comments = ""
    properties.revision = 1
    properties.created = properties.modified = date.replace(tzinfo=None)
    package = word.part.package
    for key, relationship in list(package.rels.items()):
        if relationship.reltype.endswith("/thumbnail"):
            package.rels.pop(key)  # the template's picture of an empty page, not of this report


def _with_fixed_zip_times(data: bytes) -> bytes:
    """The package with every entry dated 1980-01-01 (python-docx stamps each with the time it was written)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            entry = zipfile.ZipInfo(info.filename, _ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            target.writestr(entry, source.read(info.filename))
    return buffer.getvalue()


# The embedded Korean face --------------------------------------------------------------------------

_RELATIONSHIPS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PACKAGE_RELATIONSHIPS = "http://schemas.openxmlformats.org/package/2006/relationships"
_CONTENT_TYPES = "http://schemas.openxmlformats.org/package/2006/content-types"
_OBFUSCATED_FONT = "application/vnd.openxmlformats-officedocument.obfuscatedFont"
_HANGUL = re.compile("[\u1100-\u11ff\u3130-\u318f\ua960-\ua97f\uac00-\ud7ff]")
_TEXT_PARTS = re.compile(r"word/(document|header\d*|footer\d*|footnotes|endnotes)\.xml")
# The settings that come before `w:embedTrueTypeFonts` in CT_Settings' sequence (ECMA-376 17.15.1.78).
_SETTINGS_BEFORE_EMBEDDING = ("writeProtection", "view", "zoom", "removePersonalInformation", "removeDateAndTime",
                              "doNotDisplayPageBoundaries", "displayBackgroundShape", "printPostScriptOverText",
                              "printFractionalCharacterWidth", "printFormsData")


def document_characters(parts: dict[str, bytes]) -> set[str]:
    """Every character of the text the package shows: its body's, headers' and footers' `w:t`."""
    from lxml import etree

    characters: set[str] = set()
    for name, data in parts.items():
        if _TEXT_PARTS.fullmatch(name):
            for text in etree.fromstring(data).iter(_qualified("w:t")):
                characters.update(text.text or "")
    return characters


def subset_face(path, characters: set[str]) -> bytes:
    """The TrueType face at `path` cut down to `characters`, its names (the copyright and the licence
    the OFL asks each copy to carry) kept, the same bytes for the same characters."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    options = subset.Options()
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.notdef_outline = True  # a character the subset lacks shows as a box, not as nothing
    font = TTFont(str(path), recalcTimestamp=False)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes={ord(character) for character in characters})
    subsetter.subset(font)
    buffer = io.BytesIO()
    font.save(buffer)
    return buffer.getvalue()


def font_key(face: bytes) -> str:
    """The GUID a face is obfuscated with, taken from its own bytes so that the file stays the same."""
    import hashlib
    import uuid

    return "{" + str(uuid.UUID(bytes=hashlib.sha256(face).digest()[:16])).upper() + "}"


def obfuscated(face: bytes, key: str) -> bytes:
    """The face as ECMA-376 embeds it (17.8.1): its first 32 bytes XORed with the key's 16 bytes, in
    the reverse of the order the GUID writes them."""
    key_bytes = bytes.fromhex(key.strip("{}").replace("-", ""))[::-1]
    head = bytes(byte ^ key_bytes[index % 16] for index, byte in enumerate(face[:32]))
    return head + face[32:]


def with_embedded_korean_face(data: bytes) -> bytes:
    """The package with Labreport Gothic, regular and bold, cut down to the characters it shows,
    embedded as the face of `KOREAN_FONT` (`w:embedRegular`, `w:embedBold` in the font table).

    The document still names 맑은 고딕, so Word and LibreOffice on a machine that has it (every
    Windows) show it. Where it is missing, LibreOffice loads the embedded face of the font the text
    asks for and draws the Hangul with it (checked with no Korean font installed: Hangul shows in
    Labreport Gothic, not as boxes). The face keeps its own name, Labreport Gothic: another maker's
    name inside it would misname it, and the OFL allows the subset as long as no reserved name
    (Nanum, NanumGothic, …) is taken. `w:embedTrueTypeFonts` and `w:saveSubsetFonts` ask Word to
    embed the fonts again, cut down, when the student saves. A package that shows no Hangul (the
    English report, as a rule) is returned as it is.
    """
    from lxml import etree

    from labreport.report.fonts import font_files

    source = zipfile.ZipFile(io.BytesIO(data))
    parts = {name: source.read(name) for name in source.namelist()}
    characters = document_characters(parts)
    if not any(_HANGUL.match(character) for character in characters):
        return data
    font_table = etree.fromstring(parts["word/fontTable.xml"])
    entry = next((font for font in font_table if font.get(_qualified("w:name")) == KOREAN_FONT), None)
    if entry is None:
        entry = etree.SubElement(font_table, _qualified("w:font"), {_qualified("w:name"): KOREAN_FONT})
        for tag, value in (("w:altName", "Malgun Gothic"), ("w:charset", "81"), ("w:family", "swiss"),
                           ("w:pitch", "variable")):
            etree.SubElement(entry, _qualified(tag), {_qualified("w:val"): value})
    relationships = etree.Element(f"{{{_PACKAGE_RELATIONSHIPS}}}Relationships", nsmap={None: _PACKAGE_RELATIONSHIPS})
    for number, (weight, element) in enumerate((("regular", "w:embedRegular"), ("bold", "w:embedBold")), start=1):
        face = subset_face(font_files()[weight], characters)
        key = font_key(face)
        parts[f"word/fonts/font{number}.odttf"] = obfuscated(face, key)
        etree.SubElement(relationships, f"{{{_PACKAGE_RELATIONSHIPS}}}Relationship",
                         {"Id": f"rId{number}", "Type": f"{_RELATIONSHIPS}/font", "Target": f"fonts/font{number}.odttf"})
        etree.SubElement(entry, _qualified(element), {f"{{{_RELATIONSHIPS}}}id": f"rId{number}",
                                                      _qualified("w:fontKey"): key, _qualified("w:subsetted"): "1"})
    parts["word/fontTable.xml"] = etree.tostring(font_table, xml_declaration=True, encoding="UTF-8", standalone=True)
    parts["word/_rels/fontTable.xml.rels"] = etree.tostring(relationships, xml_declaration=True, encoding="UTF-8",
                                                            standalone=True)
    content_types = etree.fromstring(parts["[Content_Types].xml"])
    content_types.insert(0, content_types.makeelement(f"{{{_CONTENT_TYPES}}}Default",
                                                      {"Extension": "odttf", "ContentType": _OBFUSCATED_FONT}))
    parts["[Content_Types].xml"] = etree.tostring(content_types, xml_declaration=True, encoding="UTF-8", standalone=True)
    settings = etree.fromstring(parts["word/settings.xml"])
    before = [index for index, child in enumerate(settings)
              if isinstance(child.tag, str) and etree.QName(child).localname in _SETTINGS_BEFORE_EMBEDDING]
    position = before[-1] + 1 if before else 0
    for offset, tag in enumerate(("w:embedTrueTypeFonts", "w:saveSubsetFonts")):
        settings.insert(position + offset, settings.makeelement(_qualified(tag), {}))
    parts["word/settings.xml"] = etree.tostring(settings, xml_declaration=True, encoding="UTF-8", standalone=True)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for name, content in parts.items():
            target.writestr(name, content)
    return buffer.getvalue()


# Blocks -------------------------------------------------------------------------------------------

class _Writer:
    """Writes blocks into a python-docx document, one after the other."""

    def __init__(self, word, pictures: dict[str, bytes]):
        self.word = word
        self.pictures = pictures

    def write(self, block) -> None:
        kind = type(block).__name__
        getattr(self, f"_{kind.lower()}")(block)

    def _runs(self, paragraph, runs) -> None:
        for run in runs:
            if not run.text:
                continue
            written = paragraph.add_run(plain(run.text), style="Code" if run.code else None)
            written.bold = run.bold or None
            written.italic = run.italic or None
            if run.superscript:
                written.font.superscript = True
            if run.subscript:
                written.font.subscript = True

    def _heading(self, block) -> None:
        self.word.add_heading(plain(block.text), level=min(max(block.level, 1), 9))

    def _paragraph(self, block) -> None:
        from docx.enum.text import WD_ALIGN_PARAGRAPH
        from docx.shared import Cm

        style = {"title": "Title", "subtitle": "Subtitle", "caption": "Caption", "note": "Intense Quote"}.get(block.role)
        paragraph = self.word.add_paragraph(style=style)
        if block.role in ("title", "subtitle", "cover"):
            paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        if block.role == "reference":
            paragraph.paragraph_format.left_indent = Cm(0.9)
            paragraph.paragraph_format.first_line_indent = Cm(-0.9)
        self._runs(paragraph, block.runs)

    def _listitems(self, block) -> None:
        style = "List Number" if block.ordered else "List Bullet"
        number = self._restarted_numbering() if block.ordered else None
        for item in block.items:
            paragraph = self.word.add_paragraph(style=style)
            if number is not None:
                paragraph._p.get_or_add_pPr().get_or_add_numPr().get_or_add_numId().val = number
                paragraph._p.get_or_add_pPr().get_or_add_numPr().get_or_add_ilvl().val = 0
            self._runs(paragraph, item)

    def _restarted_numbering(self) -> int:
        """A new numbering instance of the List Number style's list, starting at 1 (each list counts from 1)."""
        numbering = self.word.part.numbering_part.element
        style_number = self.word.styles["List Number"].element.pPr.numPr.numId.val
        abstract = next(num.abstractNumId.val for num in numbering.num_lst if num.numId == style_number)
        num = numbering.add_num(abstract)
        override = num.add_lvlOverride(ilvl=0)
        override.add_startOverride(1)
        return num.numId

    def _table(self, block) -> None:
        from docx.oxml import OxmlElement
        from docx.shared import Pt

        if block.caption:
            caption = self.word.add_paragraph(plain(block.caption), style="Caption")
            caption.paragraph_format.keep_with_next = True
            caption.paragraph_format.space_before = Pt(12)  # apart from the table or text above it
        if not block.rows:
            return
        columns = max(sum(cell.colspan for cell in row) for row in block.rows)
        table = self.word.add_table(rows=len(block.rows), cols=columns)
        table.style = self.word.styles["Table Grid"]
        heading_rows = 0
        for row in block.rows:
            if not all(cell.header for cell in row):
                break
            heading_rows += 1
        for index, (row, written) in enumerate(zip(block.rows, table.rows)):
            if index < heading_rows:
                header = OxmlElement("w:tblHeader")  # repeats on every page the table spans
                written._tr.get_or_add_trPr().append(header)
            column = 0
            for cell in row:
                target = written.cells[column]
                if cell.colspan > 1:
                    target = target.merge(written.cells[min(column + cell.colspan, columns) - 1])
                paragraph = target.paragraphs[0]
                run = paragraph.add_run(plain(cell.text))
                run.bold = cell.header or None
                column += cell.colspan
        self._set_column_widths(table, block)

    def _set_column_widths(self, table, block) -> None:
        """Each column as wide as its content asks (`columns.column_widths`), the table the text width, and
        the layout fixed, so that LibreOffice and Word both take these widths rather than sharing the
        width evenly (LibreOffice) or re-measuring (Word)."""
        from docx.shared import Twips

        section = self.word.sections[0]
        text_width = round((section.page_width - section.left_margin - section.right_margin) / _EMU_PER_TWIP)
        widths = columns_module.column_widths(block, text_width, em=self.word.styles["Normal"].font.size.twips,
                                              padding=TABLE_CELL_PADDING_TWIPS)
        table.autofit = False  # w:tblLayout w:type="fixed"
        table_width = table._tbl.tblPr.find(_qualified("w:tblW"))
        table_width.set(_qualified("w:type"), "dxa")
        table_width.set(_qualified("w:w"), str(text_width))
        for column, width in zip(table.columns, widths):
            column.width = Twips(width)  # w:gridCol
        for row in table._tbl.tr_lst:
            start = 0
            for cell in row.tc_lst:  # a merged cell is one w:tc spanning w:gridSpan columns
                cell.width = Twips(sum(widths[start:start + cell.grid_span]))  # w:tcW, type dxa
                start += cell.grid_span

    def _figure(self, block) -> None:
        from docx.enum.text import WD_ALIGN_PARAGRAPH
        from docx.shared import Emu

        picture = self.pictures.get(block.name)
        if picture is None:
            self.word.add_paragraph(plain(block.alt))
        else:
            paragraph = self.word.add_paragraph()
            paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
            paragraph.paragraph_format.keep_with_next = True
            shape = paragraph.add_run().add_picture(io.BytesIO(picture))
            if shape.width > TEXT_WIDTH_EMU:
                shape.height = Emu(int(shape.height * TEXT_WIDTH_EMU / shape.width))
                shape.width = Emu(TEXT_WIDTH_EMU)
            properties = shape._inline.docPr
            properties.set("descr", plain(block.alt))  # the alt text Word and screen readers read
            properties.set("name", f"Figure {block.name}")
        self.word.add_paragraph(plain(block.caption), style="Caption")

    def _equation(self, block) -> None:
        from docx.enum.text import WD_ALIGN_PARAGRAPH

        paragraph = self.word.add_paragraph()
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        paragraph._p.append(_office_math(block.runs or [blocks_module.Run(block.text)]))
        label = f"({block.number})" + (f" {block.note}" if block.note else "")
        paragraph.add_run("\u2003" + plain(label))

    def _preformatted(self, block) -> None:
        paragraph = self.word.add_paragraph(style="Preformatted Text")
        paragraph.add_run(plain(block.text))

    def _pagebreak(self, block) -> None:
        self.word.add_page_break()


def _office_math(runs) -> object:
    """An `m:oMath` of `runs`: italic runs as math variables, the rest upright, subscripts and superscripts as `m:sSub`/`m:sSup`.

    A subscript attaches to the word before it (the "W" of "W x" for "W_f x").
    """
    from docx.oxml import OxmlElement

    def math_run(text: str, upright: bool):
        run = OxmlElement("m:r")
        if upright:
            properties = OxmlElement("m:rPr")
            style = OxmlElement("m:sty")
            style.set(_qualified("m:val"), "p")
            properties.append(style)
            run.append(properties)
        content = OxmlElement("m:t")
        content.text = plain(text)
        if text != text.strip():
            content.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
        run.append(content)
        return run

    def wrapped(tag: str, child):
        element = OxmlElement(tag)
        element.append(child)
        return element

    math = OxmlElement("m:oMath")
    previous: tuple[str, bool] | None = None  # the text and look of the run not yet written
    for run in runs:
        if not run.text:
            continue
        if (run.subscript or run.superscript) and previous is not None:
            text, upright = previous
            found = re.search(r"[^\s()+=−⊙·,×]+$", text)
            base = found.group(0) if found else ""
            if text[:len(text) - len(base)]:
                math.append(math_run(text[:len(text) - len(base)], upright))
            script = OxmlElement("m:sSub" if run.subscript else "m:sSup")
            script.append(wrapped("m:e", math_run(base, upright)))
            script.append(wrapped("m:sub" if run.subscript else "m:sup", math_run(run.text, True)))
            math.append(script)
            previous = None
            continue
        if previous is not None:
            math.append(math_run(*previous))
        previous = (run.text, not run.italic)
    if previous is not None:
        math.append(math_run(*previous))
    return math

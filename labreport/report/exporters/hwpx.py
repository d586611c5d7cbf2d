"""The HWPX exporter: the HTML exporter's page as an OWPML document, the format 한글 opens natively.

The page is read into blocks (`labreport.report.exporters.blocks`) and written with python-hwpx
(Apache-2.0, pure Python on lxml), starting from its blank document, whose fonts are the ones 한글
ships: 함초롬바탕 for the body and 함초롬돋움 for headings, in the Hangul and Latin slots alike, each
naming 맑은 고딕 as its substitute (대체 글꼴) for a program that lacks it.
Headings are 한글's outline styles (개요 1-10), so its 개요 view and table of contents list them;
their numbers are the report's own, so the outline's automatic numbers are switched off. Figures
are PNG pictures with their alt text as the picture's description (한글's 개체 설명문), tables are
real tables with header cells, equations are text with their number. A quick or partial run's
notice is on the cover and in every page's footer (꼬리말).

Every string reaches the XML as text: lxml escapes markup, and the characters XML cannot hold
(control characters) are dropped first, so a review or a student's note that holds `<script>`,
`&`, a NUL or something that looks like a formula arrives as those characters. Nothing is a field,
a link or a macro.

The same record gives the same bytes: python-hwpx numbers paragraphs and objects at random, so
they are numbered in document order before the package is written, and the package's dates are a
fixed one (the record carries none).
"""

from __future__ import annotations

import re

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
)
from labreport.report.exporters.columns import column_widths
from labreport.report.formats import Output, Unavailable

INSTALL_HINT = "HWPX needs python-hwpx: pip install 'labreport[office]' (or 'python-hwpx>=6.9')"
"""The one line shown when the library is missing."""

BODY_FONT = "함초롬바탕"
"""The body's face, Hangul and Latin: the serif 한글 ships (and the blank document's own)."""

HEADING_FONT = "함초롬돋움"
"""The face of the title, the cover and the headings: the sans-serif 한글 ships."""

MONOSPACE_FONT = "굴림체"
"""Preformatted text and code: a fixed-width face with Hangul that Korean Windows ships."""

SUBSTITUTE_FONT = "맑은 고딕"
"""The substitute (`hh:substFont`, 대체 글꼴) each face names, for a program without 함초롬 or 굴림체:
Malgun Gothic is a base font of every Windows since Vista, Korean or not (바탕, 굴림 come only with
the Korean language), so Hangul shows in a Korean face rather than as boxes. The shipped Gothic is not
embedded: python-hwpx has no call that adds a font binary, OWPML's `isEmbedded` is spelled two ways
in Hancom's own files, and no 한글 here could show that an embedded face is used."""

TIMESTAMP = "2000-01-01T00:00:00Z"
"""The package's created and modified dates: fixed, so that the same record gives the same bytes."""

TEXT_WIDTH_MM = 150.0
"""The blank document's text width (A4, 30 mm margins): the widest a figure is placed."""

FIGURE_HEIGHT_MM = 200.0
"""The tallest a figure is placed, so that one fits on a page with its caption."""

TABLE_FONT_SIZE = 1000
"""The size of a table's text, in HWPUNIT (1/100 pt): the body's 10 pt (바탕글, the blank document's charPr 0)."""

HANCOM_COLUMN_EXTRA = 283
"""What 한글 draws a column wider than its cell margins at the least (1 mm, python-hwpx's `COLUMN_FLOOR_EXTRA`):
part of every column's minimum, so that no column is widened past the widths written and the table past the text."""

FALLBACK_DPI = 96
"""The resolution of a PNG that does not state its own (matplotlib's do, in their pHYs chunk)."""

ILLEGAL_XML_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
"""What XML 1.0 cannot hold (and DEL): dropped from every string before it reaches lxml."""

ROLE_LOOKS = {
    # role: (face, size in points, bold, alignment)
    "title": (HEADING_FONT, 20, True, "CENTER"),
    "subtitle": (HEADING_FONT, 14, False, "CENTER"),
    "cover": (HEADING_FONT, 11, False, "CENTER"),
    "footer": (BODY_FONT, 8, False, "CENTER"),
}
"""How the paragraphs of the cover and the footer look; other roles are body text."""


def clean_text(text: str) -> str:
    """`text` with the characters XML cannot hold dropped: what lxml is given (it escapes the rest)."""
    return ILLEGAL_XML_CHARACTERS.sub("", text)


class HwpxExporter:
    """`report.<lang>.hwpx`: skipped with one line when python-hwpx is not installed."""

    figure_formats: tuple[str, ...] = ("png",)
    libraries = ("python-hwpx",)
    """The distribution that writes the file: its version keys the course site's cache."""

    @classmethod
    def check_available(cls) -> None:
        """Raises `Unavailable` with `INSTALL_HINT` when python-hwpx is not installed."""
        try:
            import hwpx  # noqa: F401  (only to say in one line what is missing)
        except ImportError as error:
            raise Unavailable(INSTALL_HINT) from error

    def export(self, page) -> Output:
        self.check_available()
        from labreport.report.exporters.blocks import read_page
        from labreport.report.exporters.html import HtmlExporter
        document = read_page(HtmlExporter().page_html(page, inline=False), page.lang)
        return Output(write_hwpx(document, page.figures))


def write_hwpx(document: Document, figures: dict[str, dict[str, bytes]]) -> bytes:
    """The HWPX file of `document`.

    Args:
        document: one language's report as blocks.
        figures: the figures drawn, by name and format; each `Figure` block's PNG is taken from here.

    Returns:
        The bytes of the .hwpx package, the same for the same document and figures.
    """
    from hwpx import HwpxDocument
    hwpx_document = HwpxDocument.new()
    writer = _Writer(hwpx_document, figures)
    for block in document.blocks:
        writer.write(block)
    if document.notice:
        # A quick or partial run's notice in every page's footer, as the PDF's: a printed page says it too.
        hwpx_document.page.set_footer(text=clean_text(document.notice))
    writer.finish(document.title, document.lang)
    return hwpx_document.to_bytes()


class _Writer:
    """Appends blocks to one python-hwpx document, keeping the character shapes it made."""

    def __init__(self, hwpx_document, figures: dict[str, dict[str, bytes]]):
        self.document = hwpx_document
        self.figures = figures
        self.char_shapes: dict[tuple, str] = {}
        self.break_before_next = False
        self.first_paragraph_used = False
        self.body_shape = self.char_shape(BODY_FONT, None)

    # -- shapes -------------------------------------------------------------------------------
    def char_shape(self, face: str, size: float | None, bold: bool = False, italic: bool = False,
                   script: str | None = None) -> str:
        """The id of the character shape with these looks (made once, then reused)."""
        key = (face, size, bold, italic, script)
        if key not in self.char_shapes:
            self.char_shapes[key] = self.document.styles.ensure_run(
                font=face, size=size, bold=bold, italic=italic, script=script, base_char_pr_id="0")
        return self.char_shapes[key]

    def run_shape(self, run: Run, face: str, size: float | None, bold: bool = False) -> str:
        script = "sup" if run.superscript else "sub" if run.subscript else None
        return self.char_shape(MONOSPACE_FONT if run.code else face, size, bold or run.bold, run.italic, script)

    # -- paragraphs ---------------------------------------------------------------------------
    def paragraph(self, style: str = "바탕글"):
        """A new empty paragraph in `style`; the blank document's own empty first line is used first,
        so the file does not open on an empty line."""
        if not self.first_paragraph_used:
            self.first_paragraph_used = True
            paragraph = self.document.paragraphs[0]
            paragraph.style_id_ref = self.document.styles.resolve(style).id
            for run in paragraph.runs:
                if run.text == "" and not len(run.element.xpath("./*[not(local-name()='t')]")):
                    run.element.getparent().remove(run.element)
        else:
            paragraph = self.document.add_paragraph("", style=style, include_run=False, inherit_style=False)
        return self.started(paragraph)

    def started(self, paragraph):
        """`paragraph`, breaking the page before it when a `PageBreak` came before."""
        if self.break_before_next:
            paragraph.element.set("pageBreak", "1")
            self.break_before_next = False
        return paragraph

    def add_runs(self, paragraph, runs: list[Run], face: str = BODY_FONT, size: float | None = None,
                 bold: bool = False) -> None:
        for run in runs:
            text = clean_text(run.text)
            if text:
                paragraph.add_run(text, char_pr_id_ref=self.run_shape(run, face, size, bold))

    def align(self, paragraph, alignment: str, **spacing) -> None:
        self.document.styles.apply_paragraph_format(paragraphs=[paragraph], alignment=alignment, **spacing)

    # -- blocks -------------------------------------------------------------------------------
    def write(self, block) -> None:
        if isinstance(block, PageBreak):
            self.break_before_next = True
        elif isinstance(block, Heading):
            self.heading(block)
        elif isinstance(block, Paragraph):
            self.text_paragraph(block)
        elif isinstance(block, ListItems):
            self.list_items(block)
        elif isinstance(block, Table):
            self.table(block)
        elif isinstance(block, Figure):
            self.figure(block)
        elif isinstance(block, Equation):
            self.equation(block)
        elif isinstance(block, Preformatted):
            self.preformatted(block)
        else:
            raise TypeError(f"The HWPX writer has no rule for a block of type {type(block).__name__}.")

    def heading(self, block: Heading) -> None:
        # 한글 has ten outline levels; the report's deepest is three.
        paragraph = self.document.add_heading(clean_text(block.text), level=min(max(block.level, 1), 10))
        self.started(paragraph)

    def text_paragraph(self, block: Paragraph) -> None:
        if block.role == "caption":
            paragraph = self.paragraph("캡션")
            self.add_runs(paragraph, block.runs, size=None)
            return
        face, size, bold, alignment = ROLE_LOOKS.get(block.role, (BODY_FONT, None, False, None))
        paragraph = self.paragraph()
        self.add_runs(paragraph, block.runs, face, size, bold)
        if alignment:
            self.align(paragraph, alignment)
        elif block.role == "note":
            self.align(paragraph, "LEFT", indent_left_mm=8.0)
        elif block.role == "reference":
            # A hanging indent, as reference lists are set.
            self.align(paragraph, "LEFT", indent_left_mm=8.0, first_line_indent_mm=-8.0)

    def list_items(self, block: ListItems) -> None:
        for number, item in enumerate(block.items, start=1):
            paragraph = self.paragraph()
            marker = f"{number}. " if block.ordered else "• "
            self.add_runs(paragraph, [Run(marker), *item])
            self.align(paragraph, "LEFT", indent_left_mm=8.0, first_line_indent_mm=-5.0)

    def caption(self, text: str) -> None:
        paragraph = self.paragraph("캡션")
        self.add_runs(paragraph, [Run(text)])

    def table(self, block: Table) -> None:
        if block.caption:
            self.caption(block.caption)
        column_count = max((sum(max(cell.colspan, 1) for cell in row) for row in block.rows), default=1)
        table = self.document.add_table(max(len(block.rows), 1), max(column_count, 1))
        self.started(table.paragraph)
        bold_shape = self.char_shape(BODY_FONT, None, bold=True)
        has_header = False
        for row_index, row in enumerate(block.rows):
            column = 0
            for cell in row:
                span = min(max(cell.colspan, 1), column_count - column)
                if span > 1:
                    table.merge_cells(row_index, column, row_index, column + span - 1)
                target = table.cell(row_index, column)
                target.text = clean_text(cell.text)
                if cell.header:
                    has_header = True
                    target.element.set("header", "1")
                    for paragraph in target.paragraphs:
                        for run in paragraph.runs:
                            run.char_pr_id_ref = bold_shape
                column += span
        if has_header:
            table.element.set("repeatHeader", "1")
        self.set_column_widths(table, block)
        self.describe(table.element, block.caption)

    def set_column_widths(self, table, block: Table) -> None:
        """Each column as wide as its content asks (`columns.column_widths`) within the table's width (the
        text width python-hwpx gave it): written as each cell's `hp:cellSz` width, as OWPML keeps them."""
        size = table.element.find("{*}sz")
        margins = table.element.find("{*}inMargin")
        padding = int(margins.get("left")) + int(margins.get("right")) + HANCOM_COLUMN_EXTRA
        widths = column_widths(block, int(size.get("width")), em=TABLE_FONT_SIZE, padding=padding)
        # The widths add up to the table's width, so python-hwpx's shares of it are these widths exactly.
        table.set_column_widths(widths)

    def figure(self, block: Figure) -> None:
        image = self.figures[block.name]["png"]
        width_mm, height_mm = _placed_size_mm(image)
        picture = self.document.add_picture(image, "png", width_mm=width_mm, height_mm=height_mm, align="CENTER")
        self.started(picture.paragraph)
        self.describe(picture.element, block.alt)
        if block.caption:
            self.caption(block.caption)

    def describe(self, shape_element, text: str) -> None:
        """Set the shape's description (`hp:shapeComment`, 한글's 개체 설명문): what a screen reader reads."""
        comment = shape_element.find("{*}shapeComment")
        if comment is None:
            # Every shape object starts with sz, pos, outMargin, caption and shapeComment, in that order
            # (OWPML's AbstractShapeObjectType); a table's own elements follow.
            namespace = shape_element.tag.rpartition("}")[0] + "}"
            comment = shape_element.makeelement(namespace + "shapeComment", {})
            leading = [child for child in shape_element
                       if isinstance(child.tag, str) and child.tag.rpartition("}")[2] in ("sz", "pos", "outMargin", "caption")]
            if leading:
                leading[-1].addnext(comment)
            else:
                shape_element.insert(0, comment)
        comment.text = clean_text(text) or None

    def equation(self, block: Equation) -> None:
        paragraph = self.paragraph()
        # The equation with its italics and subscripts where the page gave them, then its number and remark.
        runs = block.runs or [Run(block.text)]
        tail = f"    ({block.number})" if block.number else ""
        if block.note:
            tail += f"  {block.note}"
        self.add_runs(paragraph, [*runs, Run(tail)])
        self.align(paragraph, "CENTER")

    def preformatted(self, block: Preformatted) -> None:
        paragraph = self.paragraph()
        # add_run writes each line break as 한글's own line break inside the paragraph.
        self.add_runs(paragraph, [Run(block.text.rstrip("\n"), code=True)], size=8)
        self.align(paragraph, "LEFT")

    # -- the package --------------------------------------------------------------------------
    def finish(self, title: str, lang: str) -> None:
        self.outline_numbers_off()
        self.number_in_document_order()
        parts = self.document.parts
        parts.clear_document_metadata(keep=(), timestamp=TIMESTAMP)
        parts.set_document_metadata(title=clean_text(title), creator="labreport")
        self.set_language(lang)
        self.name_substitute_fonts()
        # The blank document's preview shows the blank document; a neutral one is truer than that.
        parts.clear_preview()

    def set_language(self, lang: str) -> None:
        """Name the report's language ("ko", "en") in the package's metadata, where the blank document says "ko"."""
        package = self.document.package
        content = package.main_content.full_path
        root = package.get_xml(content)
        for element in root.iter("{*}language"):
            element.text = lang.split("-")[0]
        package.set_xml(content, root)

    def name_substitute_fonts(self) -> None:
        """Give every face of the header that names none a substitute, `SUBSTITUTE_FONT`, in each
        language's block. (python-hwpx's `ensure_font` names one only for a face it adds.)"""
        header = self.document.oxml.headers[0]
        for font in header.element.iter("{*}font"):
            if font.get("face") == SUBSTITUTE_FONT or any(str(child.tag).endswith("}substFont") for child in font):
                continue
            substitute = font.makeelement(font.tag.replace("}font", "}substFont"),
                                          {"face": SUBSTITUTE_FONT, "type": "TTF", "isEmbedded": "0"})
            font.insert(0, substitute)  # before `typeInfo`, as the schema orders them
        header.mark_dirty()

    def outline_numbers_off(self) -> None:
        """Empty the outline's automatic numbers ("1.", "가.") so that only the report's own show."""
        header = self.document.oxml.headers[0]
        for paragraph_head in header.element.iter("{*}paraHead"):
            paragraph_head.text = None
        header.mark_dirty()

    def number_in_document_order(self) -> None:
        """Replace python-hwpx's random paragraph and object ids by their order in the document.

        A footer is written twice with one id (in the section's properties and as a control) and
        named by its `footerApply`'s `idRef`: all three take the same new number.
        """
        number = 0
        stories: dict[str, str] = {}  # a header's or footer's id and its new one
        for section in self.document.sections:
            for element in section.element.iter():
                if not isinstance(element.tag, str):
                    continue
                name = element.tag.rsplit("}", 1)[-1]
                identifier = element.get("id")
                if name in ("header", "footer") and identifier:
                    if identifier not in stories:
                        number += 1
                        stories[identifier] = str(number)
                    element.set("id", stories[identifier])
                elif name in ("headerApply", "footerApply") and element.get("idRef") in stories:
                    element.set("idRef", stories[element.get("idRef")])
                elif name in ("p", "tbl", "pic", "equation") and identifier and identifier != "0":
                    number += 1
                    element.set("id", str(number))
                    if element.get("instid") is not None:
                        element.set("instid", str(number))
            section.mark_dirty()


def _placed_size_mm(png: bytes) -> tuple[float, float]:
    """The size a PNG figure is placed at: its size on paper at the resolution it states, narrowed to
    the text width and the page height."""
    if not png.startswith(b"\x89PNG\r\n\x1a\n") or png[12:16] != b"IHDR":
        raise ValueError("A figure for the HWPX must be a PNG image.")
    width_px = int.from_bytes(png[16:20], "big")
    height_px = int.from_bytes(png[20:24], "big")
    dpi = _png_dpi(png) or FALLBACK_DPI
    width_mm = width_px / dpi * 25.4
    height_mm = height_px / dpi * 25.4
    scale = min(1.0, TEXT_WIDTH_MM / width_mm, FIGURE_HEIGHT_MM / height_mm)
    return round(width_mm * scale, 1), round(height_mm * scale, 1)


def _png_dpi(png: bytes) -> float | None:
    """The horizontal resolution a PNG states in its pHYs chunk (pixels per metre), in dots per inch."""
    position = 8
    while position + 8 <= len(png):
        length = int.from_bytes(png[position:position + 4], "big")
        kind = png[position + 4:position + 8]
        if kind == b"pHYs" and length == 9:
            body = png[position + 8:position + 17]
            pixels_per_unit, unit = int.from_bytes(body[0:4], "big"), body[8]
            return pixels_per_unit * 0.0254 if unit == 1 and pixels_per_unit > 0 else None
        if kind in (b"IDAT", b"IEND"):
            return None  # pHYs comes before the image data
        position += 12 + length
    return None

"""HTML → PDF through WeasyPrint: the report's own HTML plus one conversion step.

The PDF is the same bytes on every machine: its faces all come with labreport or its dependencies
(`labreport.report.fonts.faces`), declared with `@font-face` and named by every rule that sets a font, and
a character that none of them can draw (an emoji, Japanese, a control character) is replaced before
layout by a visible stand-in, its code point in a box. Layout then never reaches for a font of the
machine's: a face from outside would change the PDF from machine to machine, and a character left
without a glyph makes WeasyPrint write the page's font with an encoding that pypdf and pdfminer.six
cannot read. The HTML report and the record keep the original text.

The URL fetcher serves `data:` URLs and the shipped font files only: no network, no other file.

The PDF is accessible and archival: tagged (a structure tree, the page's `lang`, its title, alt text
on figures, header cells) and PDF/A-3u, which lets it carry files: the run's record and predictions
ride along as associated files (`/AF`), so the PDF a student uploads holds the evidence of its numbers
(`labreport.site` reads them back).
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import hashlib
import html as html_module
import os
import re
import unicodedata
import warnings
from dataclasses import dataclass
from typing import Iterator, Sequence

from labreport.core import LabreportError


class PdfUnavailable(LabreportError):
    """WeasyPrint or its system libraries (Pango, HarfBuzz) cannot be loaded."""


def _weasyprint(consequence: str = " — the HTML report was written"):
    try:
        # A machine without fonts is no problem for a PDF that uses none of the machine's: the
        # warning WeasyPrint gives about it on import would only worry the student.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="No fonts configured in FontConfig")
            import weasyprint
    except Exception as error:  # OSError when Pango is missing, ImportError when the package is
        raise PdfUnavailable(
            f"no PDF: WeasyPrint cannot be loaded ({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}); "
            "install its system libraries (Debian: apt-get install libpango-1.0-0 libpangoft2-1.0-0)" + consequence
        ) from error
    return weasyprint


def check_engine() -> None:
    """Raises `PdfUnavailable` (one line, what to install) when WeasyPrint cannot be loaded; the caller says what follows."""
    _weasyprint(consequence="")


# ---------------------------------------------------------------------------------------------
# Characters no shipped face draws

_KEPT_WHITESPACE = frozenset("\n\r\t ")
_ENTITY = re.compile(r"&#(?:x([0-9a-fA-F]+)|([0-9]+));")
_TAG = re.compile(r"(<[^>]*>)")
_SKIPPED = ("style", "script", "title")  # not laid out as text
_SVG_IMAGE = re.compile(r'src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"')


def _stand_in(point: int, markup: bool) -> str:
    label = f"U+{point:04X}"
    return f'<span class="no-glyph">{label}</span>' if markup else f"[{label}]"


def drawable_text(text: str, markup: bool = True) -> str:
    """`text` (a text node, escaped) with every character the shipped faces lack made drawable.

    Invisible format characters (a zero-width joiner, a direction mark, a variation selector) are
    left out, since they draw nothing; any other character without a glyph, a control character
    among them, becomes its code point in a box (`markup`) or in brackets (SVG text).
    """
    from labreport.report.fonts import drawable

    points = drawable()
    if all(ord(ch) in points or ch in _KEPT_WHITESPACE for ch in text) and "&#" not in text:
        return text  # the common case: nothing to change
    text = _ENTITY.sub(lambda m: html_module.escape(chr(int(m[1], 16) if m[1] else int(m[2]))), text)
    out = []
    for ch in text:
        point = ord(ch)
        if point in points or ch in _KEPT_WHITESPACE:
            out.append(ch)
        elif unicodedata.category(ch) in ("Cf", "Mn") and (unicodedata.category(ch) == "Cf" or 0xFE00 <= point <= 0xFE0F
                                                          or 0xE0100 <= point <= 0xE01EF):
            continue  # a format character or a variation selector: nothing to draw
        else:
            out.append(_stand_in(point, markup))
    return "".join(out)


def _drawable_markup(page: str, markup: bool) -> str:
    """Applies `drawable_text` to every text node of an HTML or SVG document."""
    from labreport.report.fonts import PDF_NAMES

    parts = _TAG.split(page)
    skipping = None
    for i, part in enumerate(parts):
        if i % 2:  # a tag
            name = re.match(r"</?\s*([A-Za-z][\w:-]*)", part)
            tag = name[1].lower() if name else ""
            if skipping is None and tag in _SKIPPED and not part.startswith("</") and not part.endswith("/>"):
                skipping = tag
            elif skipping == tag and part.startswith("</"):
                skipping = None
            if not markup and "DejaVu" in part:  # a figure's text: matplotlib's faces as the PDF names them
                parts[i] = re.sub(r"'(DejaVu Sans(?: Mono)?|DejaVu Serif)'", lambda m: f"'{PDF_NAMES[m[1]]}'", part)
        elif skipping is None and part:
            parts[i] = drawable_text(part, markup)
    return "".join(parts)


def _drawable_figure(match: re.Match) -> str:
    svg = base64.b64decode(match[1]).decode("utf-8")
    svg = _drawable_markup(svg, markup=False)
    return 'src="data:image/svg+xml;base64,' + base64.b64encode(svg.encode("utf-8")).decode("ascii") + '"'


# A figure's wrapper carries its description (`aria-label`); the image inside it is what the PDF tags as
# the figure, so the description moves onto the image's `alt` (the label is already escaped).
_FIGURE_IMAGE = re.compile(r'(<div class="plot" role="img" aria-label="([^"]*)">\s*<img [^>]*?alt=")(")')


def with_figure_alt_text(page: str) -> str:
    """The page with each figure image's `alt` set to its figure's description, which the PDF's
    structure tree gives as the figure's alternate text."""
    return _FIGURE_IMAGE.sub(lambda match: match[1] + match[2] + match[3], page)


def drawable_page(page: str) -> str:
    """The report page with every text node, its figures' too, drawable by the shipped faces."""
    page = _SVG_IMAGE.sub(_drawable_figure, page)
    return _drawable_markup(page, markup=True)


# ---------------------------------------------------------------------------------------------
# The conversion


def _stack(families: tuple[str, ...]) -> str:
    return ", ".join(f"'{family}'" for family in families)


def font_css() -> str:
    """@font-face rules for every shipped face, and rules that let no element take another font."""
    from labreport.report.fonts import MONO_STACK, SERIF_STACK, TEXT_STACK, faces

    rules = [
        f"@font-face {{ font-family: '{family}'; font-weight: {weight}; font-style: {style}; "
        f"src: url('{path.as_uri()}'); }}"
        for (family, weight, style), path in faces().items()
    ]
    text, mono, serif = _stack(TEXT_STACK), _stack(MONO_STACK), _stack(SERIF_STACK)
    rules += [
        f"html, body, * {{ font-family: {text} !important; }}",
        f"code, pre, .mono, code *, pre *, .no-glyph {{ font-family: {mono} !important; }}",
        f".formula, .formula *, .equations p, .equations p * {{ font-family: {serif} !important; }}",
        f".equations .label {{ font-family: {text} !important; }}",
        f"@page {{ font-family: {text}; @bottom-center {{ font-family: {text}; }} }}",
    ]
    return "\n".join(rules) + "\n"


PDF_VARIANT = "pdf/a-3u"
"""WeasyPrint's PDF/A-3 with Unicode text (level U), tagged besides (`pdf_tags`). PDF/A-3 is the part of
PDF/A that takes attachments of any type; WeasyPrint writes one variant a file, and its `pdf/a-3a`
(level A, "accessible") claims more than labreport has had validated, so level U is claimed and the
tags are written all the same. The finisher adds the PDF/UA-1 identification (`PDF_UA_PART`)."""

PDF_UA_PART = 1
"""The part of ISO 14289 (PDF/UA) the PDF claims, beside PDF/A-3u. WeasyPrint's own `pdf/ua-1` variant
adds only `pdfuaid:part` to the XMP (its tags give the rest: `/MarkInfo`, `/Lang`, `DisplayDocTitle`,
the structure tree), and a file has one variant, so the finisher adds it, to a page with a title, a
language and alt text on every figure (`meets_pdf_ua_checks`). What pikepdf can check of
PDF/UA-1 is tested (tests/report/test_pdf_archival.py); no veraPDF run stands behind the claim."""

# The XMP that identifies PDF/UA-1. `pdfuaid` is younger than PDF/A-3's predefined schemas, so PDF/A
# asks for it to be declared in an extension schema (ISO 19005-3, 6.6.2.3), as iText and LibreOffice
# write it when a file is both.
_PDF_UA_XMP = (
    '<rdf:Description rdf:about="" xmlns:pdfuaid="http://www.aiim.org/pdfua/ns/id/" pdfuaid:part="{part}" />'
    '<rdf:Description rdf:about="" xmlns:pdfaExtension="http://www.aiim.org/pdfa/ns/extension/"'
    ' xmlns:pdfaSchema="http://www.aiim.org/pdfa/ns/schema#" xmlns:pdfaProperty="http://www.aiim.org/pdfa/ns/property#">'
    '<pdfaExtension:schemas><rdf:Bag><rdf:li rdf:parseType="Resource">'
    '<pdfaSchema:schema>PDF/UA identification schema</pdfaSchema:schema>'
    '<pdfaSchema:namespaceURI>http://www.aiim.org/pdfua/ns/id/</pdfaSchema:namespaceURI>'
    '<pdfaSchema:prefix>pdfuaid</pdfaSchema:prefix>'
    '<pdfaSchema:property><rdf:Seq><rdf:li rdf:parseType="Resource">'
    '<pdfaProperty:name>part</pdfaProperty:name><pdfaProperty:valueType>Integer</pdfaProperty:valueType>'
    '<pdfaProperty:category>internal</pdfaProperty:category>'
    '<pdfaProperty:description>The part of ISO 14289 the file conforms to</pdfaProperty:description>'
    '</rdf:li></rdf:Seq></pdfaSchema:property>'
    '</rdf:li></rdf:Bag></pdfaExtension:schemas></rdf:Description>'
).format(part=PDF_UA_PART).encode("utf-8")


@dataclass(frozen=True)
class EmbeddedFile:
    """A file the PDF carries: its name, bytes, MIME type and relationship to the document (PDF 2.0's
    `AFRelationship`: "Source" for what the document was made from, "Data" for the data behind it)."""

    name: str
    data: bytes
    mime_type: str
    relationship: str


def html_to_pdf(html: str, attachments: Sequence[EmbeddedFile] = ()) -> bytes:
    """Converts a self-contained report page to PDF bytes (A4, shipped fonts embedded, offline):
    tagged PDF/A-3u carrying `attachments` as associated files."""
    weasyprint = _weasyprint()
    from labreport.report.fonts import faces

    allowed = {path.as_uri() for path in faces().values()}

    class LocalOnlyFetcher(weasyprint.urls.URLFetcher):
        """Serves `data:` URLs and the shipped font files; refuses the network and every other file."""

        def fetch(self, url, headers=None):
            if url.startswith("data:") or url in allowed:
                return super().fetch(url, headers)
            raise ValueError(f"labreport fetches nothing outside the report: {url}")

    fetcher = LocalOnlyFetcher(allowed_protocols=("data", "file"))
    # @font-face rules in a stylesheet of their own load only through a shared FontConfiguration.
    font_config = weasyprint.text.fonts.FontConfiguration()
    stylesheet = weasyprint.CSS(string=font_css(), url_fetcher=fetcher, font_config=font_config)
    document = weasyprint.HTML(string=drawable_page(with_figure_alt_text(html)), url_fetcher=fetcher, base_url=None)
    with _fixed_font_timestamp():
        # The files' dates are the fixed timestamp too: WeasyPrint's default is the time of the render.
        date = datetime.datetime.fromtimestamp(int(os.environ["SOURCE_DATE_EPOCH"]), datetime.timezone.utc).replace(tzinfo=None)
        embedded = [weasyprint.Attachment(string=item.data, name=item.name, relationship=item.relationship,
                                          url_fetcher=fetcher, created=date, modified=date) for item in attachments]
        return document.write_pdf(stylesheets=[stylesheet], font_config=font_config, pdf_variant=PDF_VARIANT,
                                  pdf_tags=True, attachments=embedded, finisher=_finisher(attachments))


def _finisher(attachments: Sequence[EmbeddedFile]):
    """The WeasyPrint finisher: the attachments' types and `/AF`, the page margins' text as pagination
    artifacts, and the PDF/UA-1 identification where the page gives what it needs."""
    associate = _associated_files(attachments)

    def finish(document, pdf) -> None:
        associate(document, pdf)
        elements = _structure_elements(pdf)
        _margin_text_as_artifacts(pdf, elements)
        if meets_pdf_ua_checks(document.metadata.title, pdf.catalog.get("Lang"), elements.values()):
            _identify_pdf_ua(pdf)

    return finish


def _object(pdf, reference) -> object:
    """The pydyf object a reference (`b"12 0 R"`) names."""
    return pdf.objects[int(reference.split()[0])]


def _text(value) -> str:
    """The text of a pydyf string (`pydyf.String`), or "" for none."""
    return str(getattr(value, "string", "") or "")


def _structure_elements(pdf) -> dict[int, dict]:
    """Every structure element a path from the structure tree's root reaches, by object number."""
    root = _object(pdf, pdf.catalog["StructTreeRoot"])
    reached: dict[int, dict] = {}
    stack = [_object(pdf, reference) for reference in root["K"]]
    while stack:
        element = stack.pop()
        if element.number in reached:
            continue
        reached[element.number] = element
        for kid in element.get("K", ()):
            if isinstance(kid, bytes) and kid.endswith(b" R"):
                kid_object = _object(pdf, kid)
                if isinstance(kid_object, dict) and kid_object.get("Type") == "/StructElem":
                    stack.append(kid_object)
    return reached


def meets_pdf_ua_checks(title: str | None, lang, elements) -> bool:
    """Whether a tagged PDF has what PDF/UA-1 asks that can be checked as it is written: a title (the
    viewer shows it: `DisplayDocTitle`), a language, and alternate text on every figure. labreport's
    pages always do; a user's template that leaves an image without `alt` gets no PDF/UA claim."""
    figures = [element for element in elements if element.get("S") == "/Figure"]
    return bool((title or "").strip()) and bool(_text(lang).strip()) and all(
        _text(figure.get("Alt")).strip() for figure in figures)


def _margin_text_as_artifacts(pdf, elements: dict[int, dict]) -> None:
    """Marks the text of the page margins (the page number, the run notice) as pagination artifacts.

    WeasyPrint tags a margin box's text as real content whose structure element it leaves out of the
    tree (its tags.py: "It could be included in tree as Artifact, but that's only allowed in PDF 2.0"),
    so a reader reaches it by no path. PDF/UA-1 (7.8) asks for running headers and footers as
    pagination artifacts: each marked-content sequence whose element is not among `elements` (those
    the tree's root reaches) becomes `/Artifact <</Type /Pagination>>`, and its parent-tree entry null.
    """
    import pydyf  # WeasyPrint's PDF writer

    numbers = _object(pdf, _object(pdf, pdf.catalog["StructTreeRoot"])["ParentTree"])["Nums"]
    page_streams = {index: _object(pdf, _object(pdf, page)["Contents"]) for index, page in enumerate(pdf.page_references)}
    for key, value in zip(numbers[::2], numbers[1::2]):
        if key not in page_streams:
            continue  # an annotation's entry
        orphans: set[int] = set()
        for index, reference in enumerate(value):
            if isinstance(reference, bytes) and int(reference.split()[0]) not in elements:
                orphans.update(kid for kid in _object(pdf, reference).get("K", ()) if isinstance(kid, int))
                value[index] = b"null"
        if not orphans:
            continue
        operations = page_streams[key].stream
        for index in range(1, len(operations) - 1):
            properties = operations[index]
            if operations[index + 1] == b"BDC" and isinstance(properties, dict) and properties.get("MCID") in orphans:
                operations[index - 1] = "/Artifact"
                operations[index] = pydyf.Dictionary({"Type": "/Pagination"})


def _identify_pdf_ua(pdf) -> None:
    """Adds the PDF/UA identification (and the extension schema PDF/A asks for) to the XMP."""
    metadata = _object(pdf, pdf.catalog["Metadata"])
    packet = b"".join(metadata.stream)
    metadata.stream[:] = [packet.replace(b"</rdf:RDF>", _PDF_UA_XMP + b"</rdf:RDF>", 1)]


def _associated_files(attachments: Sequence[EmbeddedFile]):
    """A WeasyPrint finisher that gives each embedded file its own MIME type and lists it once in `/AF`.

    WeasyPrint guesses a file's type from its name through the machine's MIME database where its own
    table lacks the suffix (`.npz`), which would make the PDF differ from machine to machine; and it
    lists each file twice in the catalog's `/AF` (once from the name tree, once from the file spec).
    """
    types = {hashlib.md5(item.data, usedforsecurity=False).hexdigest(): item.mime_type for item in attachments}

    def finish(document, pdf) -> None:
        for pdf_object in pdf.objects:
            if isinstance(pdf_object, dict) and pdf_object.get("Type") == "/Filespec":
                stream = pdf.objects[int(pdf_object["EF"]["F"].split()[0])]
                mime_type = types.get(stream.extra["Params"]["CheckSum"].strip("<>"))
                if mime_type:
                    stream.extra["Subtype"] = "/" + mime_type.replace("/", "#2f")
        if "AF" in pdf.catalog:
            pdf.catalog["AF"][:] = list(dict.fromkeys(pdf.catalog["AF"]))

    return finish


FONT_TIMESTAMP = "0"
"""The `head.modified` of every font subset in the PDF (as SOURCE_DATE_EPOCH, seconds since 1970)."""


@contextlib.contextmanager
def _fixed_font_timestamp() -> Iterator[None]:
    """Where WeasyPrint subsets fonts with fontTools (no HarfBuzz-subset on the machine), each subset
    carries the time it was made, so two renders a second apart gave different PDFs. fontTools takes
    the time from SOURCE_DATE_EPOCH when it is set: a fixed one (or the user's own) makes the PDF
    depend on the record only."""
    previous = os.environ.get("SOURCE_DATE_EPOCH")
    os.environ["SOURCE_DATE_EPOCH"] = previous or FONT_TIMESTAMP
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("SOURCE_DATE_EPOCH", None)

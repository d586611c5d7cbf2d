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
tags are written all the same."""


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
                                  pdf_tags=True, attachments=embedded, finisher=_associated_files(attachments))


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

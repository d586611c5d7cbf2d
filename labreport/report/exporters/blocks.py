"""The finished page as a flat list of blocks, for the exporters that write word-processor files.

The HTML exporter's page is the report as the reader sees it: cover, numbered sections, the
student's own sections, figures with captions, tables, equations, the reference list. The DOCX
and HWPX exporters write that same content in their own markup; they read it from these blocks,
so that neither lays the report out a second time and both show what the HTML shows.

Every string here is plain text (never markup): a writer escapes it for its own format.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Run:
    """A stretch of text with one look."""

    text: str
    bold: bool = False
    italic: bool = False
    code: bool = False
    superscript: bool = False
    subscript: bool = False


@dataclass
class Heading:
    """A section heading, its number included in `text` ("4.1 Parameter counts"); level 1 is a top-level section."""

    level: int
    text: str


@dataclass
class Paragraph:
    """A paragraph of runs. `role` is "" for body text, or "title", "subtitle", "cover" (a line of the
    cover), "note" (a boxed remark), "caption", "reference" (an entry of the reference list), "footer"."""

    runs: list[Run]
    role: str = ""


@dataclass
class ListItems:
    """A bulleted (`ordered` False) or numbered list; each item is a list of runs."""

    items: list[list[Run]]
    ordered: bool = False


@dataclass(frozen=True)
class TableCell:
    text: str
    header: bool = False
    colspan: int = 1


@dataclass
class Table:
    """A table with its numbered caption ("Table 2. …"); `rows` in reading order, header rows first."""

    caption: str
    rows: list[list[TableCell]]


@dataclass
class Figure:
    """A figure: `name` is its key in the page's figures (`Page.figures[name]["png"]` holds the picture),
    `caption` its numbered caption, `alt` the text read in its place."""

    name: str
    caption: str
    alt: str


@dataclass
class Equation:
    """A displayed equation as text, and its number ("3")."""

    text: str
    number: str


@dataclass
class Preformatted:
    """Text kept as it is, in a fixed-width font (the Keras summary, code)."""

    text: str


@dataclass
class PageBreak:
    """Where the page breaks before the next block (after the cover)."""


Block = Heading | Paragraph | ListItems | Table | Figure | Equation | Preformatted | PageBreak


@dataclass
class Document:
    """One language's report: its language tag ("ko-KR", "en-US"), title and blocks in reading order."""

    lang: str
    title: str
    blocks: list[Block] = field(default_factory=list)

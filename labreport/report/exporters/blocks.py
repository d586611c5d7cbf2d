"""The finished page as a flat list of blocks, for the exporters that write word-processor files.

The HTML exporter's page is the report as the reader sees it: cover, numbered sections, the
student's own sections, figures with captions, tables, equations, the reference list. The DOCX
and HWPX exporters write that same content in their own markup; they read it from these blocks,
so that neither lays the report out a second time and both show what the HTML shows.

Every string here is plain text (never markup): a writer escapes it for its own format.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser


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
    """A displayed equation as text, and its number ("3"). `note` is the remark the page shows after the
    number ("Keras, reset_after=True"); `runs` the same text with its italics and subscripts, for a writer
    that can lay out math (empty when the equation was built from text alone)."""

    text: str
    number: str
    note: str = ""
    runs: list[Run] = field(default_factory=list)


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
    """One language's report: its language tag ("ko-KR", "en-US"), title and blocks in reading order, and
    the cover's notice of a quick or partial run ("" for a full run), which the exporters also set in
    every page's footer, as the PDF does."""

    lang: str
    title: str
    blocks: list[Block] = field(default_factory=list)
    notice: str = ""


LANGUAGE_TAGS = {"ko": "ko-KR", "en": "en-US"}
"""The language tag of each built-in catalog's language; another language keeps its own code."""


def read_page(html: str, lang: str) -> Document:
    """The blocks of a report page, as `HtmlExporter().page_html(page, inline=False)` writes it.

    What each part of the page becomes: the cover's title a "title" paragraph, its course and
    fields "cover" paragraphs (its run notice, `p.run-notice`, one too, and the document's `notice`), then a page break; the contents (`nav`) are left out (a word processor
    builds its own); `h2`..`h6` headings of levels 1..5; a figure with a picture (`div.plot`) a
    `Figure` named by its id (`fig-<name>`), its caption and its `aria-label` as alt text; a diagram
    drawn in markup (`ol.flow`) a numbered list of its steps and a "caption" paragraph; a table with
    its caption; each line of an equations box an `Equation`; `pre` kept as it is; `div.note` and
    quotes "note" paragraphs; the reference list's entries "reference" paragraphs ("[1] …", the
    numbers the citations use). Only text is kept: links become their words, styles and ids go.

    Args:
        html: the page.
        lang: the page's language ("ko", "en"): the document's tag is `LANGUAGE_TAGS`' or `lang` itself.

    Returns:
        The document, blocks in reading order.
    """
    reader = _PageReader()
    reader.feed(html)
    reader.close()
    reader.finish()
    return Document(LANGUAGE_TAGS.get(lang, lang), reader.title, reader.blocks, reader.notice)


_SPACE = re.compile(r"[ \t\r\n\f]+")
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
_SKIPPED = {"head", "script", "style", "template", "svg", "nav", "math", "noscript", "object", "iframe"}
_INLINE_LOOK = {"strong": "bold", "b": "bold", "em": "italic", "i": "italic", "var": "italic", "cite": "italic",
                "code": "code", "kbd": "code", "samp": "code", "tt": "code", "sub": "subscript", "sup": "superscript"}
_LABEL = re.compile(r"\(([^)]*)\)\s*(.*)", re.DOTALL)


def _classes(attrs: dict) -> set[str]:
    return set((attrs.get("class") or "").split())


class _PageReader(HTMLParser):
    """Walks the page once, keeping the open elements on a stack and collecting the blocks."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.blocks: list[Block] = []
        self.title = ""
        self.stack: list[tuple[str, set[str]]] = []
        self.skip_depth = 0  # > 0 inside an element whose content is not text of the report
        self.looks: list[str] = []  # the inline looks open (bold, italic, …)
        self.runs: list[Run] | None = None  # the runs of the paragraph (or heading, list item, …) being read
        self.target = ""  # what the runs become when the element closes
        self.pre: list[str] | None = None
        self.table: dict | None = None
        self.cell: dict | None = None
        self.figure: dict | None = None
        self.lists: list[ListItems] = []
        self.reference_number = 0
        self.in_cover = False
        self.cover_label = ""
        self.notice = ""

    # The element stack ------------------------------------------------------------------------
    def _inside(self, tag: str, css: str | None = None) -> bool:
        return any(t == tag and (css is None or css in c) for t, c in self.stack)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = _classes(attrs)
        if tag in _VOID:
            if tag == "br" and not self.skip_depth:
                self._text("\n", raw=True)
            return
        self.stack.append((tag, classes))
        # The banner repeats the cover's notice for a reader scrolling the HTML; the cover keeps it once.
        if self.skip_depth or tag in _SKIPPED or (tag == "div" and ("plot" in classes or "run-banner" in classes)):
            if tag == "div" and "plot" in classes and self.figure is not None:
                self.figure["alt"] = attrs.get("aria-label") or ""
                self.figure["picture"] = True
            self.skip_depth += 1
            return
        if tag == "header" and "cover" in classes:
            self.in_cover = True
        elif tag == "figure":
            self._end_paragraph()
            self.figure = {"name": (attrs.get("id") or "").removeprefix("fig-"), "caption": "", "alt": "",
                           "picture": False, "steps": [], "table": "table" in classes}
        elif tag == "ol" and "flow" in classes and self.figure is not None:
            self.figure["alt"] = attrs.get("aria-label") or ""
        elif tag == "table":
            self._end_paragraph()
            self.table = {"rows": [], "caption": self.figure["caption"] if self.figure else ""}
        elif tag == "tr" and self.table is not None:
            self.table["rows"].append([])
        elif tag in ("td", "th") and self.table is not None:
            colspan = attrs.get("colspan") or "1"
            self.cell = {"text": [], "header": tag == "th", "colspan": int(colspan) if colspan.isdigit() else 1}
        elif self.cell is not None:
            if tag in ("p", "div", "li") and self.cell["text"]:
                self.cell["text"].append("\n")
        elif tag == "pre":
            self._end_paragraph()
            self.pre = []
        elif tag in ("ul", "ol"):
            self._end_paragraph()
            if "references" in classes:
                self.reference_number = 0
            elif not (self.figure is not None and "flow" in classes) and not self.lists:
                self.lists.append(ListItems([], ordered=tag == "ol"))
            elif self.lists:
                self.lists.append(self.lists[-1])  # a nested list continues its parent's items
        elif tag == "li":
            self._end_paragraph()
            if self._inside("ol", "references"):
                self.reference_number += 1
                self._start("reference", [Run(f"[{self.reference_number}] ")])
            elif self.figure is not None and self._inside("ol", "flow"):
                self._start("step")
            else:
                self._start("item")
        elif tag == "figcaption":
            self._end_paragraph()
            self._start("figcaption")
        elif tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self._end_paragraph()
            self._start(tag)
        elif tag == "p":
            self._end_paragraph()
            if self._inside("div", "equations"):
                self._start("equation")
            elif self.in_cover and "run-notice" in classes:
                self._start("notice")
            else:
                self._start("note" if self._inside("div", "note") or self._inside("blockquote") else "")
        elif tag == "dt":
            self._start("cover-label")
        elif tag == "dd":
            self._start("cover", [Run(self.cover_label, bold=True)] if self.cover_label else None)
        elif tag == "div" and "course" in classes and self.in_cover:
            self._start("cover")
        elif tag == "span" and "label" in classes and self.target == "equation":
            self.runs.append(Run("\x00"))  # where the equation ends and its label begins
        elif tag in ("section", "main", "div", "blockquote", "body", "html", "article", "header", "footer", "dl") or tag == "hr":
            self._end_paragraph()
        if tag in _INLINE_LOOK:
            self.looks.append(_INLINE_LOOK[tag])

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag):
        if tag in _VOID:
            return
        # Close up to the matching open element (the page is well formed; a stray end tag is ignored).
        for depth in range(len(self.stack) - 1, -1, -1):
            if self.stack[depth][0] == tag:
                break
        else:
            return
        while len(self.stack) > depth:
            self._close(*self.stack.pop())

    def _close(self, tag: str, classes: set[str]) -> None:
        if self.skip_depth:
            self.skip_depth -= 1
            return
        if tag in _INLINE_LOOK and self.looks:
            self.looks.pop()
        if tag == "header" and "cover" in classes:
            self._end_paragraph()
            self.in_cover = False
            self.blocks.append(PageBreak())
        elif tag in ("td", "th") and self.cell is not None:
            text = "".join(self.cell["text"])
            text = "\n".join(line.strip() for line in text.strip().split("\n"))
            self.table["rows"][-1].append(TableCell(text, self.cell["header"], self.cell["colspan"]))
            self.cell = None
        elif tag == "table" and self.table is not None:
            rows = [row for row in self.table["rows"] if row]
            self.blocks.append(Table(self.table["caption"], rows))
            self.table = None
            if self.figure is not None:
                self.figure["table_written"] = True
        elif self.cell is not None:
            if tag in ("p", "div", "li"):
                self.cell["text"].append("\n")
        elif tag == "pre" and self.pre is not None:
            text = "".join(self.pre)
            self.blocks.append(Preformatted(text.removeprefix("\n")))
            self.pre = None
        elif tag == "figure" and self.figure is not None:
            self._end_paragraph()
            figure, self.figure = self.figure, None
            if figure["table"]:
                if not figure.get("table_written"):
                    self.blocks.append(Paragraph([Run(figure["caption"])], role="caption"))
            elif figure["picture"]:
                self.blocks.append(Figure(figure["name"], figure["caption"], figure["alt"] or figure["caption"]))
            else:
                if figure["steps"]:
                    self.blocks.append(ListItems(figure["steps"], ordered=True))
                if figure["caption"]:
                    self.blocks.append(Paragraph([Run(figure["caption"])], role="caption"))
        elif tag in ("ul", "ol"):
            if self.lists and not ("flow" in classes or "references" in classes):
                finished = self.lists.pop()
                if not self.lists and finished.items:
                    self.blocks.append(finished)
        elif tag in ("li", "p", "figcaption", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6") or (
                tag == "div" and "course" in classes) or tag in ("section", "main", "div", "blockquote", "dl"):
            self._end_paragraph()

    # Text ---------------------------------------------------------------------------------------
    def handle_data(self, data):
        if self.skip_depth:
            return
        if self.pre is not None:
            self.pre.append(data)
        elif self.cell is not None:
            self.cell["text"].append(_SPACE.sub(" ", data))
        else:
            self._text(data)

    def _text(self, data: str, raw: bool = False) -> None:
        if self.pre is not None:
            self.pre.append(data)
            return
        if self.cell is not None:
            self.cell["text"].append(data)
            return
        text = data if raw else _SPACE.sub(" ", data)
        if self.runs is None:
            if not text.strip():
                return
            self._start("")  # loose text (a tight list's item, a user template's div) is a paragraph
        looks = set(self.looks)
        run = Run(text, bold="bold" in looks, italic="italic" in looks, code="code" in looks,
                  superscript="superscript" in looks, subscript="subscript" in looks)
        previous = self.runs[-1] if self.runs else None
        if previous is not None and previous.text != "\x00" and _same_look(previous, run):
            self.runs[-1] = Run(previous.text + run.text, run.bold, run.italic, run.code, run.superscript,
                                run.subscript)
        else:
            self.runs.append(run)

    def _start(self, target: str, runs: list[Run] | None = None) -> None:
        self._end_paragraph()
        self.target = target
        self.runs = list(runs or [])

    def _end_paragraph(self) -> None:
        """Turns the runs being read into the block their element makes."""
        if self.runs is None:
            return
        runs, target = _trimmed(self.runs), self.target
        self.runs, self.target = None, ""
        text = "".join(run.text for run in runs if run.text != "\x00")
        if target == "equation":
            split = next((i for i, run in enumerate(runs) if run.text == "\x00"), len(runs))
            math, label = _trimmed(runs[:split]), "".join(run.text for run in runs[split + 1:]).strip()
            found = _LABEL.match(label)
            number, note = (found.group(1).strip(), found.group(2).strip()) if found else (label, "")
            self.blocks.append(Equation("".join(run.text for run in math), number, note, math))
            return
        if not text.strip():
            return
        if target == "figcaption" and self.figure is not None:
            self.figure["caption"] = text.strip()
            if self.table is not None:
                self.table["caption"] = text.strip()
        elif target == "step" and self.figure is not None:
            self.figure["steps"].append(_step_runs(runs))
        elif target == "item" and self.lists:
            self.lists[-1].items.append(runs)
        elif target == "h1" and self.in_cover:
            self.title = text.strip()
            self.blocks.append(Paragraph(runs, role="title"))
        elif target in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self.blocks.append(Heading(max(1, int(target[1]) - 1), text.strip()))
        elif target == "cover-label":
            self.cover_label = text.strip() + ": "
        elif target == "cover":
            self.cover_label = ""
            self.blocks.append(Paragraph(runs, role="cover"))
        elif target == "notice":
            self.notice = text.strip()
            self.blocks.append(Paragraph(runs, role="cover"))
        elif target in ("reference", "note"):
            self.blocks.append(Paragraph(runs, role=target))
        else:
            self.blocks.append(Paragraph(runs, role="cover" if self.in_cover else ""))

    def finish(self) -> None:
        while self.stack:
            self._close(*self.stack.pop())
        self._end_paragraph()


def _same_look(a: Run, b: Run) -> bool:
    return (a.bold, a.italic, a.code, a.superscript, a.subscript) == (b.bold, b.italic, b.code, b.superscript,
                                                                       b.subscript)


def _trimmed(runs: list[Run]) -> list[Run]:
    """The runs without the spaces that open and close them (HTML shows none there)."""
    runs = [run for run in runs if run.text]
    while runs and not runs[0].text.strip(" "):
        runs.pop(0)
    while runs and not runs[-1].text.strip(" "):
        runs.pop()
    if runs:
        first, last = runs[0], runs[-1]
        runs[0] = Run(first.text.lstrip(" "), first.bold, first.italic, first.code, first.superscript, first.subscript)
        last = runs[-1]
        runs[-1] = Run(last.text.rstrip(" "), last.bold, last.italic, last.code, last.superscript, last.subscript)
    return runs


def _step_runs(runs: list[Run]) -> list[Run]:
    """A diagram step: its bold title, then its detail after a dash."""
    bold = [run for run in runs if run.bold]
    rest = "".join(run.text for run in runs if not run.bold).strip()
    return bold + ([Run(" — " + rest)] if rest else [])

"""The document model: paragraphs, references, sections, figures, tables, equations and their numbering.

A document is a list of `Section`s whose blocks are paragraphs (`Para`: catalog messages with their
arguments), figures, tables, equations, preformatted text or ready markup. `Resolver` numbers every
section, figure, table and equation in reading order, fills each message from one language catalog,
and turns references (`Ref("fig", "flow")` becomes "1") and citations (`Cite("adam")` becomes "[6]")
into those numbers, so nothing like "Figure 1" is ever typed into a template or catalog. The single
report (`labreport.report.outline`) and the sweep report (`labreport.sweep.outline`) both build
documents of these parts; the templates only lay the resolved document out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from labreport.report.catalog import Catalog

# ---------------------------------------------------------------------------------------------
# Paragraph pieces


@dataclass(frozen=True)
class Ref:
    """A reference to a numbered part: kind "sec", "fig", "tab" or "eq", and the part's key."""

    kind: str
    key: str


@dataclass(frozen=True)
class Cite:
    """A citation of one or more entries of the reference list, by key."""

    keys: tuple[str, ...]

    def __init__(self, *keys: str):
        object.__setattr__(self, "keys", keys)


@dataclass
class Msg:
    """One message of a catalog and its arguments."""

    id: str
    args: dict[str, Any] = field(default_factory=dict)


def M(message_id: str, **args: Any) -> Msg:
    return Msg(message_id, args)


@dataclass(frozen=True)
class Series:
    """Items said one after another with the list separator only ("BiGRU는 0.22, BiLSTM은 0.31"):
    each item is a clause that carries its own particle, so no "and" joins the last two."""

    items: tuple[Any, ...]


@dataclass
class Para:
    """A paragraph: its sentences in order; `css` marks a boxed note."""

    msgs: list[Msg]
    css: str = ""


# ---------------------------------------------------------------------------------------------
# Tables


@dataclass
class Cell:
    content: Any
    """Text (escaped), Markup, or a Msg."""
    css: str = ""
    header: bool = False
    colspan: int = 1


@dataclass
class Table:
    key: str
    caption: Msg
    head: list[Cell]
    rows: list[tuple[str, list[Cell]]] = field(default_factory=list)
    """(row class, cells) per body row."""
    css: str = ""
    kind: str = "table"


# ---------------------------------------------------------------------------------------------
# Sections and their other blocks


@dataclass
class Figure:
    key: str
    caption: Msg
    steps: list | None = None
    """A diagram drawn by the page itself (title, detail, stage) per box, instead of a plotted figure."""
    kind: str = "figure"


@dataclass
class Equations:
    items: list[tuple[str, Markup, str]]
    """(key, math markup, side note) per equation."""
    kind: str = "equations"


@dataclass
class Pre:
    text: str
    kind: str = "pre"


@dataclass
class Html:
    """Markup made elsewhere and already safe: the student's notes, the reference list."""

    markup: Markup
    css: str = "notes"
    kind: str = "html"


@dataclass
class ReferenceList:
    """The numbered list of what the sections before it cited."""

    kind: str = "references"


@dataclass
class Section:
    key: str
    title: Msg | Markup
    blocks: list = field(default_factory=list)
    children: list["Section"] = field(default_factory=list)
    numbered: bool = True


# ---------------------------------------------------------------------------------------------
# Numbering and resolution


class Resolver:
    """Numbers the parts of a document and fills its messages from one catalog."""

    def __init__(self, sections: list[Section], catalog: Catalog, references: Any):
        self.catalog = catalog
        self.references = references
        self.numbers: dict[tuple[str, str], str] = {}
        counters = {"fig": 0, "tab": 0, "eq": 0}

        def walk(items: list[Section], prefix: str) -> None:
            n = 0
            for section in items:
                if section.numbered:
                    n += 1
                    self.numbers[("sec", section.key)] = f"{prefix}{n}"
                for block in section.blocks:
                    kind = {"figure": "fig", "table": "tab"}.get(getattr(block, "kind", ""))
                    if kind:
                        counters[kind] += 1
                        self.numbers[(kind, block.key)] = str(counters[kind])
                    elif isinstance(block, Equations):
                        for key, _math, _note in block.items:
                            counters["eq"] += 1
                            self.numbers[("eq", key)] = str(counters["eq"])
                walk(section.children, f"{self.numbers[('sec', section.key)]}." if section.numbered else prefix)

        walk(sections, "")

    def number(self, ref: Ref) -> str:
        try:
            return self.numbers[(ref.kind, ref.key)]
        except KeyError:
            raise KeyError(f"{ref.kind}:{ref.key}") from None

    def value(self, arg: Any) -> Any:
        if isinstance(arg, Ref):
            return self.number(arg)
        if isinstance(arg, Cite):
            return self.references.cite(arg.keys)
        if isinstance(arg, Msg):
            return self.say(arg)
        if isinstance(arg, Series):
            return Markup(self.catalog.raw("list.separator")).join(self.value(item) for item in arg.items)
        if isinstance(arg, (tuple, list)):
            return self.catalog.join(self.value(item) for item in arg)
        return arg

    def say(self, msg: Msg | Markup | str) -> Markup:
        if not isinstance(msg, Msg):
            return Markup.escape(msg)
        return self.catalog.say(msg.id, **{name: self.value(arg) for name, arg in msg.args.items()})

    def paragraph(self, para: Para) -> Markup:
        return Markup(" ").join(self.say(m) for m in para.msgs)

    def block(self, block: Any) -> dict:
        if isinstance(block, Para):
            return {"kind": "paragraph", "html": self.paragraph(block), "css": block.css}
        if isinstance(block, Figure):
            steps = [{"title": self.say(t), "detail": self.say(d), "stage": stage} for t, d, stage in block.steps or []]
            return {"kind": "figure", "key": block.key, "number": self.numbers[("fig", block.key)],
                    "caption": self.say(block.caption), "alt": self.say(block.caption).striptags(), "steps": steps}
        if isinstance(block, Table):
            return {"kind": "table", "key": block.key, "number": self.numbers[("tab", block.key)],
                    "caption": self.say(block.caption), "css": block.css,
                    "head": [self.cell(c) for c in block.head],
                    "rows": [{"css": css, "cells": [self.cell(c) for c in cells]} for css, cells in block.rows]}
        if isinstance(block, Equations):
            return {"kind": "equations",
                    "equations": [{"math": math, "number": self.numbers[("eq", key)], "note": note} for key, math, note in block.items]}
        if isinstance(block, Pre):
            return {"kind": "pre", "text": block.text}
        if isinstance(block, Html):
            return {"kind": "html", "html": block.markup, "css": block.css}
        if isinstance(block, ReferenceList):
            return {"kind": "html", "html": self.references.list_markup(), "css": "references"}
        raise TypeError(f"unknown block {block!r}")

    def cell(self, cell: Cell) -> dict:
        return {"html": self.say(cell.content), "css": cell.css, "header": cell.header, "colspan": cell.colspan}

    def section(self, section: Section, level: int) -> dict:
        number = self.numbers.get(("sec", section.key), "") if section.numbered else ""
        return {"id": section.key, "number": number, "level": level, "title": self.say(section.title),
                "blocks": [self.block(b) for b in section.blocks],
                "children": [self.section(child, level + 1) for child in section.children]}


def resolve(sections: list[Section], catalog: Catalog, references: Any) -> list[dict]:
    """The document as plain data for the templates: numbered, every message filled."""
    resolver = Resolver(sections, catalog, references)
    return [resolver.section(section, 2) for section in sections]

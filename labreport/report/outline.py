"""The report's outline: sections, paragraphs, tables, figures and equations, numbered here.

`outline` lays out what the report holds for a record (a section appears only when the record has
its data); `resolve` numbers every section, table, figure and equation in reading order, fills each
message from a language catalog, and turns references (`Ref`) and citations (`Cite`) into those
numbers, so nothing like "Figure 1" or "equation 5" is ever typed into a template or catalog. The
templates only lay the resolved document out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from labreport.core import cells
from labreport.report import discussion, paragraphs, tables
from labreport.report.catalog import Catalog
from labreport.report.paragraphs import Cite, M, Msg, Para, Ref


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


def _v(name: str, sub: str = "t") -> Markup:
    return Markup("<var>{}</var><sub>{}</sub>").format(name, sub)


def _eq(text: str) -> Markup:
    """Math in a compact notation: `x_t` is a variable with subscript t, written with <var>/<sub>."""
    import re

    return Markup(re.sub(r"([A-Za-zσ̃′]+)_(t−1|t|[a-z])",
                         lambda m: str(_v(m.group(1), m.group(2))), str(Markup.escape(text))))


def outline(record: dict, facts: dict, notes: list[Section] | None = None) -> list[Section]:
    """Every section of the report for `record`, in reading order; `notes` go after the discussion."""
    # One piece: the report's table of contents in reading order; it reads as the report does.
    models = list(record["models"].values())
    sections = []

    objective = Section("objective", M("section.objective"), paragraphs.objective(record), [
        *_cell_sections(),
        Section("flow", M("section.flow"), [*paragraphs.flow(record), Figure("flow", M("figure.flow"), paragraphs.flow_steps(record))]),
    ])
    sections.append(objective)

    parameters = Section("parameters", M("section.parameters"), paragraphs.params_intro())
    for entry in models:
        blocks = [tables.summary(entry), tables.derivation(entry)]
        for row in entry["params"]["layers"]:
            blocks.extend(paragraphs.layer_note(row))
        parameters.children.append(Section(f"parameters-{entry['name']}", Markup.escape(entry["display_name"]), blocks))
    sections.append(parameters)

    results = Section("results", M("section.results"))
    length = record["dataset"]["preprocessing"]["max_length"]
    results.children.append(Section("dataset", M("section.dataset"), [
        *paragraphs.dataset(record), tables.splits(record), tables.lengths(record),
        Figure("lengths", M("figure.lengths", length=length)),
    ]))
    training = Section("training", M("section.training"), paragraphs.training_intro(record, facts))
    for entry in models:
        training.blocks += [tables.history(entry), *paragraphs.training(entry, facts),
                            Figure(f"convergence_{entry['name']}", M("figure.convergence", model=entry["display_name"]))]
    training.blocks.append(Figure("comparison", M("figure.comparison")))
    results.children.append(training)
    test = Section("test", M("section.test"), [*paragraphs.test_intro(record), tables.test(record),
                                              Figure("confusion", M("figure.confusion"))])
    if facts["runs"] > 1:
        test.blocks += [*paragraphs.seeds(record, facts), tables.seeds(record, facts)]
    results.children.append(test)
    results.children.append(Section("samples", M("section.samples"), [*paragraphs.samples_intro(record), tables.samples(record)]))
    if "analysis" in record:
        failures = Section("failures", M("section.failures"), [*paragraphs.failures_intro(record), tables.length_buckets(record)])
        if record["analysis"]["disagreements"]:
            failures.blocks.append(tables.disagreements(record))
        results.children.append(failures)
    if all(entry.get("gradient_flow") for entry in models):
        results.children.append(Section("gradients", M("section.gradients"),
                                        [*paragraphs.gradients(record, facts), Figure("gradients", M("figure.gradients"))]))
    if all(entry.get("attributions") for entry in models):
        facts = {**facts, "figures": ("gradients",) if all(entry.get("gradient_flow") for entry in models) else ()}
        blocks = [*paragraphs.attributions_intro(record, facts), tables.attributions(record, "sample")]
        if any(r["kind"] == "disagreement" for r in models[0]["attributions"]["reviews"]):
            blocks.append(tables.attributions(record, "disagreement"))
        blocks += [*paragraphs.attributions_learned(record, facts), Figure("learned", M("figure.learned")),
                   *paragraphs.attributions_position(record, facts), *paragraphs.attributions_randomization(record, facts)]
        results.children.append(Section("attributions", M("section.attributions"), blocks))
    sections.append(results)

    talk = Section("discussion", M("section.discussion"))
    for i, (title, said) in enumerate(discussion.paragraphs(record, facts)):
        talk.children.append(Section(f"discussion-{i + 1}", title, said))
    sections.append(talk)
    sections.extend(notes or [])
    sections.append(Section("references", M("section.references"), [ReferenceList()], numbered=False))

    appendix = Section("appendix", M("section.appendix"), [Para([M("appendix.intro")]), tables.config(record),
                                                          tables.environment(record)], numbered=False)
    for entry in models:
        appendix.children.append(Section(f"summary-{entry['name']}", M("appendix.keras_summary", model=entry["display_name"]),
                                         [Pre(entry["summary_text"])], numbered=False))
    sections.append(appendix)
    return sections


def _cell_sections() -> list[Section]:
    """One theory section per cell of `labreport.core.cells`, in the order they were introduced; the
    last gated cell's ends with the table that sets the gated cells side by side."""
    history = cells.in_history_order()
    sections = []
    for cell in history:
        blocks = [*paragraphs.cell_text(cell)]
        if cell.equations:
            blocks.append(Equations([(e.key, _eq(e.math), e.note) for e in cell.equations]))
        blocks.extend(paragraphs.cell_equation_notes(cell))
        sections.append(Section(cell.name, M(f"section.{cell.name}"), blocks))
    gated = [section for section, cell in zip(sections, history) if cell.gated]
    if len(gated) > 1:
        gated[-1].blocks.append(tables.contrast())
    return sections


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
        if isinstance(arg, (tuple, list)):
            items = [self.value(item) for item in arg]
            if len(items) < 2:
                return Markup("").join(items)
            sep, last = self.catalog.raw("list.separator"), self.catalog.raw("list.last_separator")
            return Markup(sep).join(items[:-1]) + Markup(last) + items[-1]
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
        if isinstance(block, tables.Table):
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

    def cell(self, cell: tables.Cell) -> dict:
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

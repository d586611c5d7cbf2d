"""The report's outline: which sections, paragraphs, tables, figures and equations a record's report holds.

`outline` lays out what the report holds for a record (a section appears only when the record has
its data), in the parts of `labreport.report.document`; `resolve` (from there) numbers them and
fills their messages from a language catalog.
"""

from __future__ import annotations

from markupsafe import Markup

from labreport.core import cells
from labreport.report import discussion, paragraphs, tables
from labreport.report.document import (  # noqa: F401  (the parts an outline is made of)
    Cite, Equations, Figure, Html, M, Msg, Para, Pre, Ref, ReferenceList, Resolver, Section, resolve,
)


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

"""The report's outline: which sections, paragraphs, tables, figures and equations a record's report holds.

`outline` lays out what the report holds for a record (a section appears only when the record has
its data), in the parts of `labreport.report.document`; `resolve` (from there) numbers them and
fills their messages from a language catalog.
"""

from __future__ import annotations

from markupsafe import Markup

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


EQUATIONS = {
    "lstm": [
        ("lstm_forget", "f_t = σ(W_f x_t + U_f h_t−1 + b_f)", ""),
        ("lstm_input", "i_t = σ(W_i x_t + U_i h_t−1 + b_i)", ""),
        ("lstm_output", "o_t = σ(W_o x_t + U_o h_t−1 + b_o)", ""),
        ("lstm_candidate", "c̃_t = tanh(W_c x_t + U_c h_t−1 + b_c)", ""),
        ("lstm_cell", "c_t = f_t ⊙ c_t−1 + i_t ⊙ c̃_t", ""),
        ("lstm_hidden", "h_t = o_t ⊙ tanh(c_t)", ""),
    ],
    "gru": [
        ("gru_update_gate", "z_t = σ(W_z x_t + U_z h_t−1 + b_z)", ""),
        ("gru_reset_gate", "r_t = σ(W_r x_t + U_r h_t−1 + b_r)", ""),
        ("gru_candidate_after", "h̃_t = tanh(W_h x_t + b_h + r_t ⊙ (U_h h_t−1 + b′_h))", "Keras, reset_after=True"),
        ("gru_candidate_before", "h̃_t = tanh(W_h x_t + U_h (r_t ⊙ h_t−1) + b_h)", "reset_after=False"),
        ("gru_update", "h_t = z_t ⊙ h_t−1 + (1 − z_t) ⊙ h̃_t", ""),
    ],
}
"""The cells' equations, language-neutral; each gets its number when the document is resolved."""


def outline(record: dict, facts: dict, notes: list[Section] | None = None) -> list[Section]:
    """Every section of the report for `record`, in reading order; `notes` go after the discussion."""
    # One piece: the report's table of contents in reading order; it reads as the report does.
    models = list(record["models"].values())
    sections = []

    objective = Section("objective", M("section.objective"), paragraphs.objective(record), [
        Section("rnn", M("section.rnn"), paragraphs.rnn_problem()),
        Section("lstm", M("section.lstm"), [*paragraphs.lstm_text(), _equations("lstm")]),
        Section("gru", M("section.gru"), [*paragraphs.gru_text(), _equations("gru"), *paragraphs.gru_equation_note(),
                                          tables.contrast()]),
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


def _equations(cell: str) -> Equations:
    return Equations([(key, _eq(text), note) for key, text, note in EQUATIONS[cell]])

"""Record → page: one language's report as an HTML string.

Rendering reads only the validated record (never TensorFlow, never training), so a change of
wording or layout re-renders in seconds. Functions here return strings; the formats
(`labreport.report.exporters`) build on `render_html`, and writing is `labreport.report.writer`'s one step.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import TYPE_CHECKING

from labreport.core import LabreportError
from labreport.report import catalog as catalog_module
from labreport.report import discussion, outline
from labreport.report.embedding import figure_label, figure_markup
from labreport.report.formats import FORMATS  # noqa: F401  (read by the command line and the API)
from labreport.report.page import render_template
from labreport.report.references import References
from labreport.report.templates import REPORT_TEMPLATE, load_catalog, make_environment

if TYPE_CHECKING:
    import jinja2


def lab_title(report: dict, catalog: catalog_module.Catalog) -> str:
    """The cover's title: `[report] lab_title` for this language, else the catalog's default title."""
    title = report.get("lab_title") or ""
    if isinstance(title, dict):
        title = title.get(catalog.code, "")
    return title or catalog.text("cover.default_title")


def cover(record: dict, catalog: catalog_module.Catalog) -> dict:
    report = record["config"]["report"]
    run_date = _dt.date.fromisoformat(record["environment"]["started_at"][:10])
    fields = [(catalog.say(f"label.{key}"), report[key]) for key in ("affiliation", "student_id", "name") if report.get(key)]
    fields.append((catalog.say("label.date"), catalog.date(run_date)))
    return {"title": lab_title(report, catalog), "course": report.get("course", ""), "fields": fields}


def render_html(record: dict, lang: str, env: jinja2.Environment | None = None,
                figures: dict[str, str] | None = None, notes: list | None = None,
                user_templates: str | Path | None = None) -> str:
    """Renders the report page of one language, without fonts (see `with_embedded_font`).

    Args:
        record: a validated results record.
        lang: a language with a catalog in the template folders.
        env: the template environment (built-in templates when None).
        figures: each figure's markup by name (`figure_markup`; drawn from the record when None).
        notes: the student's sections for this language (`labreport.report.notes.sections`).
        user_templates: the `--templates` folder, searched first for the catalog.

    Returns:
        The HTML page, figures and styles inline.
    """
    catalog = load_catalog(lang, user_templates)
    env = env or make_environment(user_templates)
    if figures is None:
        from labreport.report import figures as figures_module
        figures = figure_markup(figures_module.all_figures(record, figure_label(catalog), ("svg",)), inline=True)
    facts = discussion.facts(record)
    try:
        doc = outline.resolve(outline.outline(record, facts, notes), catalog, References())
    except KeyError as error:
        raise LabreportError(f"the report refers to {error.args[0]}, which it does not contain") from None
    context = {
        "lang": lang,
        "r": record,
        "doc": doc,
        "cover": cover(record, catalog),
        "words": {key: catalog.say(f"page.{key}") for key in ("report", "contents", "figure", "table")},
        "figures": figures,
        "fonts": catalog.fonts,
    }
    return render_template(env, REPORT_TEMPLATE, context)


def check_options(languages: list[str], user_templates: str | Path | None = None) -> None:
    """Fails before any work on an unknown language, a broken catalog or a missing template folder."""
    for lang in languages:
        load_catalog(lang, user_templates)
    make_environment(user_templates)

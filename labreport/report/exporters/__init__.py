"""One module per output format, each an exporter class registered in `labreport.report.formats.EXPORTERS`.

An exporter takes a page (a `Page`: one language's record, notes, figures and template environment;
or the sweep report's page, `labreport.sweep.report.SweepPage`) and returns an `Output`
(`labreport.report.formats`); writing is `labreport.report.writer`'s job. PDF builds on HTML, as
nbconvert's `WebPDFExporter` builds on `HTMLExporter`; DOCX and HWPX read the HTML page into blocks.
What an exporter asks of a page: `lang`, `env`, `figures` (by name and format), `run_files`,
`template` (the template `finish_page` checks), `html(inline)` (the page as its template renders it)
and `date()` (the day the page's numbers were made). `render_language` runs the exporters of the
formats asked for on the report's page, `export_page` on any page.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labreport.report import formats as formats_module
from labreport.report.embedding import figure_label
from labreport.report.templates import REPORT_TEMPLATE, load_catalog, make_environment


@dataclass
class Page:
    """One language's report to export: the record, the student's notes, the figures drawn (by name
    and format), the template environment, and the run's files as written in its folder
    (`run_files`: "results.json", "predictions.npz" and each language's "notes.<lang>.md"; the PDF
    carries them, the notes of its own language only), None when there are none."""

    record: dict
    lang: str
    env: Any
    figures: dict[str, dict[str, bytes]]
    notes: list | None
    user_templates: str | Path | None
    run_files: dict[str, bytes] | None = None
    template = REPORT_TEMPLATE
    """The template the page is rendered from (not a field: every report page has it)."""

    def html(self, inline: bool) -> str:
        """The page as the template renders it, figures inline (`inline`) or as images for a converter."""
        from labreport.report.embedding import figure_markup
        from labreport.report.render import render_html

        return render_html(self.record, self.lang, self.env, figure_markup(self.figures, inline=inline), self.notes,
                           self.user_templates)

    def date(self) -> _dt.date:
        """The day the run started: the word-processor files' dates, so the same record gives the same bytes."""
        return _dt.date.fromisoformat(self.record["environment"]["started_at"][:10])


def figure_formats(formats: tuple[str, ...]) -> tuple[str, ...]:
    """The figure files the exporters of `formats` need drawn besides SVG (PNG for the word-processor files)."""
    return tuple(dict.fromkeys(fmt for name in formats if name in formats_module.FORMATS
                               for fmt in formats_module.exporter(name).figure_formats))


def export_page(page, formats: tuple[str, ...]) -> formats_module.LanguageResult:
    """Each asked-for format's output of `page`, in `FORMATS`' order, and the formats skipped with their reason."""
    result = formats_module.LanguageResult(page.lang)
    for name in formats_module.FORMATS:
        if name not in formats:
            continue
        try:
            result.outputs[name] = formats_module.exporter(name)().export(page)
        except formats_module.Unavailable as error:
            result.skipped[name] = str(error)
    return result


def render_language(record: dict, lang: str, formats: tuple[str, ...], user_templates: str | Path | None,
                    notes: list | None, figure_files: tuple[str, ...] = ("svg",),
                    run_files: dict[str, bytes] | None = None) -> formats_module.LanguageResult:
    """Everything of one language, in memory: each asked-for format's output, the figure files, the formats skipped."""
    from labreport.report import figures as figures_module
    catalog = load_catalog(lang, user_templates)
    env = make_environment(user_templates)
    # The pages take SVG; PNG is drawn only when asked for as a file or by an exporter that needs it
    # (it would cost a third of the render).
    wanted = figure_formats(formats)
    drawn = figures_module.all_figures(record, figure_label(catalog), tuple(dict.fromkeys(("svg", *figure_files, *wanted))))
    result = export_page(Page(record, lang, env, drawn, notes, user_templates, run_files), formats)
    result.figures = {name: {fmt: data for fmt, data in files.items() if fmt in figure_files} for name, files in drawn.items()}
    return result

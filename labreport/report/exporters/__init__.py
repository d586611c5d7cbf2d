"""One module per output format, each an exporter class registered in `labreport.report.formats.EXPORTERS`.

An exporter takes a `Page` (one language's record, notes, figures and template environment) and
returns an `Output` (`labreport.report.formats`); writing is `labreport.report.writer`'s job. PDF
builds on HTML, as nbconvert's `WebPDFExporter` builds on `HTMLExporter`. `render_language` runs
the exporters of the formats asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labreport.report import formats as formats_module
from labreport.report.embedding import figure_label
from labreport.report.templates import load_catalog, make_environment


@dataclass
class Page:
    """One language's report to export: the record, the student's notes, the figures drawn (by name
    and format), the template environment, and the run's files as written in its folder
    (`run_files`: "results.json", "predictions.npz"; the PDF carries them), None when there are none."""

    record: dict
    lang: str
    env: Any
    figures: dict[str, dict[str, bytes]]
    notes: list | None
    user_templates: str | Path | None
    run_files: dict[str, bytes] | None = None


def render_language(record: dict, lang: str, formats: tuple[str, ...], user_templates: str | Path | None,
                    notes: list | None, figure_files: tuple[str, ...] = ("svg",),
                    run_files: dict[str, bytes] | None = None) -> formats_module.LanguageResult:
    """Everything of one language, in memory: each asked-for format's output, the figure files, the formats skipped."""
    from labreport.report import figures as figures_module
    catalog = load_catalog(lang, user_templates)
    env = make_environment(user_templates)
    # The pages take SVG; PNG is drawn only when asked for as a file or by an exporter that needs it
    # (it would cost a third of the render).
    wanted = [fmt for name in formats if name in formats_module.FORMATS
              for fmt in formats_module.exporter(name).figure_formats]
    drawn = figures_module.all_figures(record, figure_label(catalog), tuple(dict.fromkeys(("svg", *figure_files, *wanted))))
    page = Page(record, lang, env, drawn, notes, user_templates, run_files)
    result = formats_module.LanguageResult(lang)
    for name in formats_module.FORMATS:
        if name not in formats:
            continue
        try:
            result.outputs[name] = formats_module.exporter(name)().export(page)
        except formats_module.Unavailable as error:
            result.skipped[name] = str(error)
    result.figures = {name: {fmt: data for fmt, data in files.items() if fmt in figure_files} for name, files in drawn.items()}
    return result

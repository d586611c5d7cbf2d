"""The sweep report: `OUT/sweep.<lang>.<format>` (html, pdf, docx, hwpx), `OUT/sweep.json` and `OUT/sweep.csv`, and each run's own report.

The pages are rendered as the single report is: Jinja2 with autoescape in the sandbox, the user's
`--templates` folder first (`templates/sweep.html` extends `base.html`), and each format written by
the report's exporter of that format (`labreport.report.exporters`) from the same page: the HTML
with the font embedded, a Content-Security-Policy and the figures inside; the PDF made from the
same HTML by `labreport.report.pdf`; the DOCX and HWPX read from it, with the figures as PNG. Everything is rendered in memory first; the sweep's files then replace the
previous ones together (`labreport.staging`), so a failure leaves the previous report as it was.
Each complete run gets its own report (`OUT/runs/<id>/report.<lang>.html`) when it has none newer
than its record, and the runs table links to it.
"""

from __future__ import annotations

import datetime as _dt
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labreport.core import LabreportError, staging
from labreport.report.writer import write_files
from labreport.sweep import summary as summary_module

TEMPLATE = "sweep.html"
PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_.:/]*\}")
"""A message placeholder that reached a page unfilled."""


def figure_label(catalog):
    return lambda name, **args: catalog.text(f"sweep.figure.label.{name}", **args)


@dataclass
class SweepPage:
    """One language's sweep report as the exporters take it (`labreport.report.exporters`): the
    summary, the figures drawn (by name and format), the template environment and the catalog."""

    summary: dict
    lang: str
    env: Any
    catalog: Any
    figures: dict[str, dict[str, bytes]]
    run_files = None
    """The files a PDF carries: none (the sweep's record is `sweep.json`, beside the report)."""
    template = TEMPLATE

    def html(self, inline: bool) -> str:
        """The page: HTML with its figures inline (`inline`) or as images for a converter.

        Raises:
            LabreportError: a template error, or a `{placeholder}` left in the page.
        """
        from labreport.report import embedding
        from labreport.report.page import render_template
        from labreport.sweep import outline, sentences

        summary, catalog, lang = self.summary, self.catalog, self.lang
        names = sentences.listed(catalog, [summary["display_names"][m] for m in summary["models"]])
        axes = ", ".join(a["name"] for a in summary["axes"]) or "seed"
        context = {
            "lang": lang, "r": {"labreport_version": summary["labreport_version"]},
            "doc": outline.outline(summary, catalog, lang),
            "figures": embedding.figure_markup(self.figures, inline=inline),
            "cover": {"title": catalog.say("sweep.title", models=names, axes=axes), "course": None,
                      "fields": [(catalog.say("label.date"), catalog.date(self.date())),
                                 (catalog.say("sweep.cover.data"), (summary["data"] or {}).get("location", "–"))]},
            "words": {key: catalog.say(f"page.{key}") for key in ("contents", "figure", "table")},
        }
        page = render_template(self.env, TEMPLATE, context)
        left = PLACEHOLDER.search(re.sub(r"<(style|svg|script)\b.*?</\1>", "", page, flags=re.S))
        if left:
            raise LabreportError(f"the {lang} sweep page holds an unfilled placeholder {left.group(0)}")
        return page

    def date(self) -> _dt.date:
        """The day the summary was written: the cover's date and the word-processor files'."""
        return _dt.date.fromisoformat(self.summary["written_at"][:10])


def sweep_page(summary: dict, lang: str, templates: str | None, formats: tuple[str, ...] = ("html",)) -> SweepPage:
    """The sweep page of `lang`, its figures drawn as SVG and in the files the exporters of `formats` need."""
    from labreport.report import templates as templates_module
    from labreport.report.exporters import figure_formats
    from labreport.sweep import plots

    catalog = templates_module.load_catalog(lang, templates)
    env = templates_module.make_environment(templates)
    figures = plots.all_figures(summary, figure_label(catalog), ("svg", *figure_formats(formats)))
    return SweepPage(summary, lang, env, catalog, figures)


def render_page(summary: dict, lang: str, templates: str | None, inline: bool) -> str:
    """One language's page: the finished HTML file (`inline`), or the page with its figures as images for the PDF.

    Raises:
        LabreportError: a template error, or a `{placeholder}` left in the page.
    """
    from labreport.report.exporters.html import HtmlExporter

    page = sweep_page(summary, lang, templates)
    return HtmlExporter().export(page).data if inline else page.html(inline=False)


def rendered(summary: dict, languages: tuple[str, ...], formats: tuple[str, ...], templates: str | None,
             progress) -> dict[str, bytes]:
    """Every file of the sweep report, in memory, by name: each language's page through the report's
    exporters (`labreport.report.exporters`), so the sweep report takes every format the report does."""
    from labreport.report.exporters import export_page

    files = {summary_module.SUMMARY_FILE: summary_module.summary_json(summary).encode("utf-8"),
             summary_module.CSV_FILE: summary_module.csv_bytes(summary)}
    skipped: set[str] = set()
    for lang in languages:
        # A format that cannot run here (no PDF engine) is said once and not tried again.
        wanted = tuple(name for name in formats if name not in skipped)
        result = export_page(sweep_page(summary, lang, templates, wanted), wanted)
        for name, output in result.outputs.items():
            data = output.data
            files[f"sweep.{lang}.{name}"] = data.encode("utf-8") if isinstance(data, str) else data
        for name, reason in result.skipped.items():
            skipped.add(name)
            progress(f"labreport: {reason}")
    return files


def run_reports(out: Path, outcomes, languages: tuple[str, ...], templates: str | None, progress) -> None:
    """Renders each complete run's own HTML report where it has none newer than its record.

    One language at a time in this process: the sweep's driver has Ray's threads, and a forked
    renderer would inherit them.
    """
    from labreport.report import files as report_files

    for outcome in outcomes:
        if outcome.status != "complete":
            continue
        folder = out / "runs" / outcome.spec.id
        stamp = (folder / "results.json").stat().st_mtime
        for lang in languages:
            page = folder / f"report.{lang}.html"
            if page.is_file() and not page.is_symlink() and page.stat().st_mtime >= stamp:
                continue
            try:
                report_files.render_all(folder, [lang], ("html",), templates)
            except LabreportError as error:  # the run stays; its report is missing from the links
                progress(f"sweep: no {lang} report for {outcome.spec.id}: {error}")


def write_all(out: Path, grid, outcomes, options, progress) -> list[Path]:
    """Writes the sweep report from the runs' outcomes (`OUT`'s lock held by the caller).

    Returns:
        The paths written.
    """
    languages, formats = tuple(options.languages), tuple(options.formats)
    run_reports(out, outcomes, languages, options.templates, progress)
    summary = summary_module.build(grid, outcomes, languages)
    for run in summary["runs"]:
        run["reports"] = {lang: link for lang, link in run["reports"].items() if (out / link).is_file()}
    files = rendered(summary, languages, formats, options.templates, progress)
    stage = staging.begin(out)
    write_files(stage, files)
    staging.commit(out)  # the files of languages and formats not rendered this time stay, as with `render`
    if not any(o.status == "complete" for o in outcomes):
        print("labreport: no run of the sweep is complete: the report has no numbers yet", file=sys.stderr)
    return [out / name for name in files]

"""The PDF exporter: the HTML exporter's page, figures as images, converted by WeasyPrint (`labreport.report.pdf`).

The page's run files (`Page.run_files`: the record's bytes as written in the run folder, the
predictions, and the notes of the page's own language, `notes.<lang>.md`) are embedded in the PDF as
associated files, so the PDF alone can be checked and re-rendered with the student's own sections.
"""

from __future__ import annotations

from labreport.report.exporters.html import HtmlExporter
from labreport.report.formats import Output, Unavailable

EMBEDDED = {
    "results.json": ("application/json", "Source"),
    "predictions.npz": ("application/octet-stream", "Data"),
}
"""The run files a PDF carries, by name: their MIME type and relationship to the report. The record is
the report's source; the predictions are the data its metrics are recomputed from."""

NOTES_TYPE = ("text/markdown", "Source")
"""The MIME type and relationship of the notes a PDF carries (`notes.<lang>.md` of its own language
only): the text the student's own sections were rendered from."""


class PdfExporter(HtmlExporter):
    """`report.<lang>.pdf`, the hand-in copy: skipped with one line when no PDF engine is installed."""

    libraries = ("weasyprint", "pydyf")

    @classmethod
    def check_available(cls) -> None:
        from labreport.report import pdf

        try:
            pdf.check_engine()
        except pdf.PdfUnavailable as error:
            raise Unavailable(str(error)) from error

    def export(self, page) -> Output:
        from labreport.report import pdf

        html = self.page_html(page, inline=False)
        from labreport.report.notes import NOTES_FILE

        carried = {**EMBEDDED, NOTES_FILE.format(lang=page.lang): NOTES_TYPE}
        attachments = [pdf.EmbeddedFile(name, data, *carried[name])
                       for name, data in (page.run_files or {}).items() if name in carried]
        try:
            return Output(pdf.html_to_pdf(html, attachments))
        except pdf.PdfUnavailable as error:
            raise Unavailable(str(error)) from error

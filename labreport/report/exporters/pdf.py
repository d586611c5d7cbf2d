"""The PDF exporter: the HTML exporter's page, figures as images, converted by WeasyPrint (`labreport.report.pdf`).

The page's run files (`Page.run_files`: the record's bytes as written in the run folder, the
predictions) are embedded in the PDF as associated files, so the PDF alone can be checked.
"""

from __future__ import annotations

import re

from labreport.report.exporters.html import HtmlExporter
from labreport.report.formats import Output, Unavailable

EMBEDDED = {
    "results.json": ("application/json", "Source"),
    "predictions.npz": ("application/octet-stream", "Data"),
}
"""The run files a PDF carries, by name: their MIME type and relationship to the report. The record is
the report's source; the predictions are the data its metrics are recomputed from."""

# A figure's wrapper carries its alt text (`aria-label`); the image inside it is what the PDF tags as
# the figure, so the text moves onto the image's `alt` (the wrapper's label is already escaped).
_FIGURE_IMAGE = re.compile(r'(<div class="plot" role="img" aria-label="([^"]*)">\s*<img [^>]*?alt=")(")')


def with_figure_alt_text(html: str) -> str:
    """The page with each figure image's `alt` set to its figure's description."""
    return _FIGURE_IMAGE.sub(lambda match: match[1] + match[2] + match[3], html)


class PdfExporter(HtmlExporter):
    """`report.<lang>.pdf`, the hand-in copy: skipped with one line when no PDF engine is installed."""

    def export(self, page) -> Output:
        from labreport.report import pdf

        html = with_figure_alt_text(self.page_html(page, inline=False))
        attachments = [pdf.EmbeddedFile(name, data, *EMBEDDED[name])
                       for name, data in (page.run_files or {}).items() if name in EMBEDDED]
        try:
            return Output(pdf.html_to_pdf(html, attachments))
        except pdf.PdfUnavailable as error:
            raise Unavailable(str(error)) from error

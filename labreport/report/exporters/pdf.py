"""The PDF exporter: the HTML exporter's page, figures as images, converted by WeasyPrint (`labreport.report.pdf`)."""

from __future__ import annotations

from labreport.report.exporters.html import HtmlExporter
from labreport.report.formats import Output, Unavailable


class PdfExporter(HtmlExporter):
    """`report.<lang>.pdf`, the hand-in copy: skipped with one line when no PDF engine is installed."""

    def export(self, page) -> Output:
        from labreport.report import pdf
        html = self.page_html(page, inline=False)
        try:
            return Output(pdf.html_to_pdf(html))
        except pdf.PdfUnavailable as error:
            raise Unavailable(str(error)) from error

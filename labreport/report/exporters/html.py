"""The HTML exporter: the report page with its figures, styles and font inside, and a Content-Security-Policy."""

from __future__ import annotations

from labreport.report.formats import Output
from labreport.report.page import finish_page


class HtmlExporter:
    """`report.<lang>.html` (and `sweep.<lang>.html`): one file that reads offline, figures inline."""

    figure_formats: tuple[str, ...] = ()
    """The figure files this exporter needs drawn besides SVG (which every page takes), as `figures.save` names them."""

    libraries: tuple[str, ...] = ()
    """The distributions, besides labreport, that write this format: their versions key the course site's cache."""

    @classmethod
    def check_available(cls) -> None:
        """Raises `Unavailable` (one line, what to install) when this format cannot be written here; HTML always can."""

    def page_html(self, page, inline: bool) -> str:
        """The page as the template renders it, figures inline (`inline`) or as images for a converter."""
        return page.html(inline)

    def export(self, page) -> Output:
        return Output(finish_page(page.env, self.page_html(page, inline=True), page.template))

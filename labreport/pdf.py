"""HTML → PDF through WeasyPrint: the report's own HTML plus one conversion step.

The page already carries its fonts (NanumGothic, embedded by `render`) and figures inline, so the
URL fetcher serves `data:` URLs only and refuses every other address: no network, no local files.
"""

from __future__ import annotations

from labreport import LabreportError


class PdfUnavailable(LabreportError):
    """WeasyPrint or its system libraries (Pango, HarfBuzz) cannot be loaded."""


def _weasyprint():
    try:
        import weasyprint
    except Exception as error:  # OSError when Pango is missing, ImportError when the package is
        raise PdfUnavailable(
            f"no PDF: WeasyPrint cannot be loaded ({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}); "
            "install its system libraries (Debian: apt-get install libpango-1.0-0 libpangoft2-1.0-0) — the HTML report was written"
        ) from error
    return weasyprint


def html_to_pdf(html: str) -> bytes:
    """Converts a self-contained report page to PDF bytes (A4, fonts embedded, offline)."""
    weasyprint = _weasyprint()

    class InlineOnlyFetcher(weasyprint.urls.URLFetcher):
        """Serves the page's own `data:` URLs (fonts); refuses the network and every file."""

        def fetch(self, url, headers=None):
            if url.startswith("data:"):
                return super().fetch(url, headers)
            raise ValueError(f"labreport fetches nothing outside the report: {url}")

    fetcher = InlineOnlyFetcher(allowed_protocols=("data",))
    return weasyprint.HTML(string=html, url_fetcher=fetcher, base_url=None).write_pdf()

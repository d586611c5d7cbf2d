"""HTML → PDF through WeasyPrint: the report's own HTML plus one conversion step.

The page carries its figures inline; the conversion adds one stylesheet that points the report's
font at the files labreport ships (faster for WeasyPrint than parsing the HTML's embedded copy) and
embeds the glyphs it uses; a character the font lacks falls back to the machine's own fonts. The URL fetcher serves `data:` URLs and those two font files
only: no network, no other file.
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
    from labreport.fonts import FAMILY, font_files

    fonts = {"normal": font_files()["regular"], "bold": font_files()["bold"]}
    allowed = {path.as_uri() for path in fonts.values()}

    class LocalOnlyFetcher(weasyprint.urls.URLFetcher):
        """Serves `data:` URLs and the two font files; refuses the network and every other file."""

        def fetch(self, url, headers=None):
            if url.startswith("data:") or url in allowed:
                return super().fetch(url, headers)
            raise ValueError(f"labreport fetches nothing outside the report: {url}")

    fetcher = LocalOnlyFetcher(allowed_protocols=("data", "file"))
    css = "".join(
        f"@font-face {{ font-family: '{FAMILY}'; font-weight: {weight}; src: url('{path.as_uri()}'); }}\n"
        for weight, path in fonts.items()
    )
    # @font-face rules in a stylesheet of their own load only through a shared FontConfiguration.
    font_config = weasyprint.text.fonts.FontConfiguration()
    stylesheet = weasyprint.CSS(string=css, url_fetcher=fetcher, font_config=font_config)
    document = weasyprint.HTML(string=html, url_fetcher=fetcher, base_url=None)
    return document.write_pdf(stylesheets=[stylesheet], font_config=font_config)

"""What makes a page self-contained: its font cut to the characters it uses, its figures inside it,
and a Content-Security-Policy that lets only the templates' own scripts run.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Iterable

from markupsafe import Markup

from labreport.report import catalog as catalog_module


def embedded_font_css(page: str) -> str:
    """@font-face rules that embed the report's font, cut down to the characters `page` uses (its figures' too).

    The HTML then shows Korean the same way on every device without fetching a font. The font is
    the one labreport ships (`labreport.report.fonts`), cut again with fontTools; the result is the same for
    the same page. (The PDF takes the font files directly: see `pdf.html_to_pdf`.)
    """
    import base64
    import io
    import logging

    from fontTools import subset

    logging.getLogger("fontTools").setLevel(logging.ERROR)  # it reports each table it drops

    from labreport.report.fonts import FAMILY, font_files

    # Keep the space: a font without it makes WeasyPrint write text that PDF readers cannot extract.
    text = re.sub(r"data:[^\"')\s]+", "", page)  # base64 data holds no character the page shows
    codepoints = sorted({ord(ch) for ch in set(text) if not ch.isspace()} | {ord(" "), 0xA0})
    rules = []
    for weight, path in (("normal", font_files()["regular"]), ("bold", font_files()["bold"])):
        options = subset.Options()
        options.name_IDs = ["*"]  # keep the copyright and licence records (SIL Open Font License)
        options.name_languages = ["*"]
        options.notdef_outline = True
        font = subset.load_font(str(path), options)
        font.recalcTimestamp = False  # same page, same bytes
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=codepoints)
        subsetter.subset(font)
        buffer = io.BytesIO()
        subset.save_font(font, buffer, options)
        data = base64.b64encode(buffer.getvalue()).decode("ascii")
        rules.append(
            f"@font-face {{ font-family: '{FAMILY}'; font-weight: {weight}; "
            f"src: url(data:font/ttf;base64,{data}) format('truetype'); }}"
        )
    return "<style>\n" + "\n".join(rules) + "\n</style>\n"


def figure_markup(figures: dict[str, dict[str, bytes]], inline: bool) -> dict[str, Markup]:
    """Each figure's SVG as markup for the page, by name.

    Inline (the HTML): the figure's text is set in the page's embedded font and can be searched;
    matplotlib escapes the text it writes, and each figure's element ids are its own. As an image
    (the PDF): WeasyPrint then lays out the page without styling every node of every plot, which
    costs about a second per language with inline figures.
    """
    markup = {}
    for name, files in figures.items():
        svg = files["svg"].decode("utf-8")
        if inline:
            svg = re.sub(r"<!--.*?-->", "", svg[svg.index("<svg"):], flags=re.S)
            markup[name] = Markup(re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S))
        else:
            source = "data:image/svg+xml;base64," + base64.b64encode(files["svg"]).decode("ascii")
            markup[name] = Markup('<img src="{}" alt="">').format(source)
    return markup


def figure_label(catalog: catalog_module.Catalog):
    """The words of the figures in `catalog`'s language, as `figures.Label`."""
    return lambda name, **args: catalog.text(f"figure.label.{name}", **args)


def with_embedded_font(page: str) -> str:
    """The page with its font embedded before `</head>` (see `embedded_font_css`)."""
    head_end = page.find("</head>")
    if head_end < 0:
        return page  # a user template without <head>: leave the page as written
    return page[:head_end] + embedded_font_css(page) + page[head_end:]


def content_security_policy(scripts: Iterable[str]) -> str:
    """A Content-Security-Policy under which nothing is fetched and no script runs but `scripts`.

    A page carries everything inside it (styles, the font and images as data: URLs, figures as
    inline SVG), so the policy allows inline styles, data: images and fonts, and the inline scripts
    its templates hold, by their SHA-256 hashes; any other script (one that reached the page in
    data, say), and any remote load, is blocked.
    """
    hashes = [f"'sha256-{base64.b64encode(hashlib.sha256(body.encode('utf-8')).digest()).decode('ascii')}'"
              for body in dict.fromkeys(scripts)]
    return (f"default-src 'none'; script-src {' '.join(hashes) or chr(39) + 'none' + chr(39)}; "
            "style-src 'unsafe-inline'; img-src data:; font-src data:; base-uri 'none'; form-action 'none'")


def with_content_security_policy(page: str, scripts: Iterable[str] = ()) -> str:
    """The page with `content_security_policy(scripts)` as the first element of its `<head>`."""
    head = re.search(r"<head[^>]*>", page)
    if head is None:
        return page  # a user template without <head>: leave the page as written
    meta = str(Markup('<meta http-equiv="Content-Security-Policy" content="{}">').format(content_security_policy(scripts)))
    return page[:head.end()] + "\n" + meta + page[head.end():]

"""Record → report: Jinja2 templates render `results.json` into one HTML page per language.

Rendering reads only the record (never TensorFlow, never training), so a change of wording or
layout re-renders in seconds. Functions here return strings; `render_all` is the one step that
writes files, each atomically.

Templates are looked up in order: the user's `--templates` folder first, then the built-in
`templates/`. The environment is sandboxed (templates cannot reach Python internals) and
autoescapes, because review texts are data and may hold markup.
"""

from __future__ import annotations

import datetime as _dt
import sys
from pathlib import Path
from typing import Iterable

import jinja2
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from labreport import LabreportError, discussion, fileio, record as record_module

LANGUAGES = ("ko", "en")
FORMATS = ("html", "pdf")
REPORT_TEMPLATE = "report.html"


def builtin_templates() -> Path:
    """The built-in `templates/` folder: beside the package when installed, at the repo top in a checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "templates", here.parent / "templates"):
        if (candidate / REPORT_TEMPLATE).is_file():
            return candidate
    raise LabreportError("labreport's built-in templates are missing; reinstall labreport")


# ---------------------------------------------------------------------------------------------
# Number formatting: every number on the page passes through one of these filters.


def format_number(value, decimals: int = 0) -> str:
    """Thousands separators and fixed decimals: 1354625 → "1,354,625"; (0.12345, 3) → "0.123"."""
    if value is None:
        return "–"
    return f"{value:,.{decimals}f}"


def format_percent(value, decimals: int = 2) -> str:
    """A share as a percentage: 0.86312 → "86.31%"."""
    if value is None:
        return "–"
    return f"{value * 100:.{decimals}f}%"


def format_points(value, decimals: int = 2) -> str:
    """Percentage points, already scaled: 0.51 → "0.51"."""
    return f"{value:.{decimals}f}"


def format_seconds(value, decimals: int = 1) -> str:
    return f"{value:,.{decimals}f}"


def make_environment(user_templates: str | Path | None = None) -> SandboxedEnvironment:
    """The Jinja2 environment: user folder first, then the built-in templates; autoescape on."""
    folders = []
    if user_templates is not None:
        folder = Path(user_templates)
        if not folder.is_dir():
            raise LabreportError(f"--templates folder not found: {folder}")
        folders.append(str(folder))
    folders.append(str(builtin_templates()))
    env = SandboxedEnvironment(
        loader=jinja2.FileSystemLoader(folders),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(num=format_number, pct=format_percent, pts=format_points, sec=format_seconds)
    return env


def _template_error(error: Exception) -> LabreportError:
    if isinstance(error, jinja2.TemplateSyntaxError):
        where = f"{error.filename or error.name}, line {error.lineno}"
        return LabreportError(f"template error in {where}: {error.message}")
    if isinstance(error, jinja2.TemplateNotFound):
        return LabreportError(f"template not found: {error.name}")
    # Errors raised while rendering: find the template line in the traceback Jinja rewrote.
    tb, where = error.__traceback__, ""
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith((".html", ".css")):
            where = f" in {filename}, line {tb.tb_lineno}"
        tb = tb.tb_next
    return LabreportError(f"template error{where}: {type(error).__name__}: {error}")


def embedded_font_css(page: str) -> str:
    """@font-face rules that embed NanumGothic, cut down to the characters `page` uses.

    The HTML then shows Korean the same way on every device without fetching a font, and the PDF,
    made from the same HTML, embeds the same glyphs. NanumGothic comes from koreanize-matplotlib,
    cut with fontTools (a matplotlib dependency); the result is the same for the same page.
    """
    import base64
    import io
    import logging

    from fontTools import subset

    logging.getLogger("fontTools").setLevel(logging.ERROR)  # it reports each table it drops

    from labreport.figures import font_files

    # Keep the space: a font without it makes WeasyPrint write text that PDF readers cannot extract.
    codepoints = sorted({ord(ch) for ch in page if not ch.isspace()} | {ord(" "), 0xA0})
    rules = []
    for weight, path in (("normal", font_files()["regular"]), ("bold", font_files()["bold"])):
        options = subset.Options()
        options.name_IDs = ["*"]  # keep the copyright and licence records (SIL Open Font License)
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
            f"@font-face {{ font-family: 'NanumGothic'; font-weight: {weight}; "
            f"src: url(data:font/ttf;base64,{data}) format('truetype'); }}"
        )
    return "<style>\n" + "\n".join(rules) + "\n</style>\n"


def labels_for(env: jinja2.Environment, lang: str) -> dict:
    """The short words of a language (axis labels, table headers), from `lang/<lang>.html`."""
    try:
        return dict(env.get_template(f"lang/{lang}.html").module.labels)
    except (jinja2.TemplateError, AttributeError) as error:
        raise _template_error(error) from error


def render_html(record: dict, lang: str, env: jinja2.Environment | None = None,
                figures: dict[str, str] | None = None) -> str:
    """Renders the report page of one language.

    Args:
        record: a validated results record.
        lang: "ko" or "en".
        env: the template environment (built-in templates when None).
        figures: inline SVG figures by name (drawn from the record when None).

    Returns:
        The self-contained HTML page.
    """
    if lang not in LANGUAGES:
        raise LabreportError(f"unknown language {lang!r}: choose among {', '.join(LANGUAGES)}")
    env = env or make_environment()
    labels = labels_for(env, lang)
    if figures is None:
        from labreport import figures as figures_module

        figures = figures_module.all_figures(record, labels)
    run_date = _dt.date.fromisoformat(record["environment"]["started_at"][:10])
    context = {
        "lang": lang,
        "r": record,
        "models": list(record["models"].values()),
        "facts": discussion.facts(record),
        "figures": {name: Markup(svg) for name, svg in figures.items()},
        "run_date": run_date,
    }
    try:
        page = env.get_template(REPORT_TEMPLATE).render(context)
    except jinja2.TemplateError as error:
        raise _template_error(error) from error
    except (TypeError, ValueError, KeyError, AttributeError) as error:
        raise _template_error(error) from error
    head_end = page.find("</head>")
    if head_end < 0:
        return page  # a user template without <head>: leave the page as written
    return page[:head_end] + embedded_font_css(page) + page[head_end:]


def render_all(out: str | Path, languages: Iterable[str], formats: Iterable[str],
               user_templates: str | Path | None = None) -> list[Path]:
    """Renders `OUT/results.json` into `OUT/report.<lang>.<format>` and `OUT/figures/`.

    Everything is rendered in memory first and written only when it all succeeded, so a template
    error leaves the previous report as it was. A missing PDF engine skips the PDF with one line
    on stderr and still writes the HTML.

    Returns:
        The paths written.
    """
    from labreport import figures as figures_module

    out = Path(out)
    record = record_module.load_record(out)
    env = make_environment(user_templates)
    pages: dict[str, str] = {}
    figure_files: dict[str, str] = {}
    for lang in languages:
        figures = figures_module.all_figures(record, labels_for(env, lang))
        pages[lang] = render_html(record, lang, env, figures)
        figure_files.update({f"{name}.{lang}.svg": svg for name, svg in figures.items()})

    pdfs: dict[str, bytes] = {}
    if "pdf" in formats:
        from labreport import pdf

        try:
            for lang, html in pages.items():
                pdfs[lang] = pdf.html_to_pdf(html)
        except pdf.PdfUnavailable as error:
            print(f"labreport: {error}", file=sys.stderr)
            pdfs = {}

    fileio.check_writable(out)
    written = []
    for name, svg in figure_files.items():
        fileio.write_text(out / "figures" / name, svg)
    for lang, html in pages.items():
        if "html" in formats:
            written.append(fileio.write_text(out / f"report.{lang}.html", html))
    for lang, data in pdfs.items():
        written.append(fileio.write_bytes(out / f"report.{lang}.pdf", data))
    return written

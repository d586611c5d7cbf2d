"""Record → report: Jinja2 templates render `results.json` into one HTML page per language.

Rendering reads only the record (never TensorFlow, never training), so a change of wording or
layout re-renders in seconds. Functions here return strings; `render_all` is the one step that
writes files, each atomically.

Templates are looked up in order: the user's `--templates` folder first, then the built-in
`templates/`. The environment is sandboxed (templates cannot reach Python internals) and
autoescapes, because review texts are data and may hold markup.
"""

from __future__ import annotations

import concurrent.futures
import datetime as _dt
import multiprocessing
import os
import sys
from pathlib import Path
from typing import Iterable

import jinja2
from jinja2.sandbox import SandboxedEnvironment
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


P_VALUE_FLOOR = 0.0001


def format_p_value(value, relation: bool = False) -> str:
    """A p-value with four decimals, or "< 0.0001" below that; `relation` adds "= " before a value."""
    if value < P_VALUE_FLOOR:
        return f"< {P_VALUE_FLOOR}"
    return ("= " if relation else "") + f"{value:.4f}"


# How each Latin letter and digit is read in Korean, reduced to: does the reading end in a
# consonant (받침)? L 엘, M 엠, N 엔, R 알; 0 영, 1 일, 3 삼, 6 육, 7 칠, 8 팔. All others end in a vowel.
_ENDS_IN_CONSONANT = set("LMNRlmnr013678")


def korean_particle(word: str, after_consonant: str, after_vowel: str) -> str:
    """`word` followed by the particle that fits its last sound: ("BiLSTM", "이", "가") → "BiLSTM이"."""
    text = str(word).rstrip()
    last = text[-1:] or " "
    if "가" <= last <= "힣":
        final = (ord(last) - ord("가")) % 28
        consonant = final != 0
        if after_vowel == "로" and final == 8:  # ㄹ takes 로, not 으로
            consonant = False
    else:
        consonant = last in _ENDS_IN_CONSONANT
    return text + (after_consonant if consonant else after_vowel)


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
    env.filters.update(num=format_number, pct=format_percent, pts=format_points, sec=format_seconds,
                       pval=format_p_value, josa=korean_particle)
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

    The HTML then shows Korean the same way on every device without fetching a font. NanumGothic
    comes from koreanize-matplotlib, cut with fontTools (a matplotlib dependency); the result is the
    same for the same page. (The PDF takes the font files directly: see `pdf.html_to_pdf`.)
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


def figure_sources(figures: dict[str, bytes]) -> dict[str, str]:
    """PNG bytes → `data:` URIs, so the page carries its figures inside."""
    import base64

    return {name: "data:image/png;base64," + base64.b64encode(png).decode("ascii") for name, png in figures.items()}


def render_html(record: dict, lang: str, env: jinja2.Environment | None = None,
                figures: dict[str, str] | None = None) -> str:
    """Renders the report page of one language, without fonts (see `with_embedded_font`).

    Args:
        record: a validated results record.
        lang: "ko" or "en".
        env: the template environment (built-in templates when None).
        figures: `data:` URIs of the figures by name (drawn from the record when None).

    Returns:
        The HTML page, figures and styles inline.
    """
    if lang not in LANGUAGES:
        raise LabreportError(f"unknown language {lang!r}: choose among {', '.join(LANGUAGES)}")
    env = env or make_environment()
    if figures is None:
        from labreport import figures as figures_module

        figures = figure_sources(figures_module.all_figures(record, labels_for(env, lang)))
    run_date = _dt.date.fromisoformat(record["environment"]["started_at"][:10])
    context = {
        "lang": lang,
        "r": record,
        "models": list(record["models"].values()),
        "facts": discussion.facts(record),
        "figures": figures,
        "run_date": run_date,
    }
    try:
        return env.get_template(REPORT_TEMPLATE).render(context)
    except jinja2.TemplateError as error:
        raise _template_error(error) from error
    except (TypeError, ValueError, KeyError, AttributeError) as error:
        raise _template_error(error) from error


def with_embedded_font(page: str) -> str:
    """The page with NanumGothic embedded before `</head>` (see `embedded_font_css`)."""
    head_end = page.find("</head>")
    if head_end < 0:
        return page  # a user template without <head>: leave the page as written
    return page[:head_end] + embedded_font_css(page) + page[head_end:]


def _render_language(record: dict, lang: str, formats: tuple[str, ...],
                     user_templates: str | Path | None) -> tuple[str, str | None, bytes | None, dict[str, bytes], str | None]:
    """Everything of one language, in memory: (lang, html, pdf, figures, why no PDF)."""
    from labreport import figures as figures_module

    env = make_environment(user_templates)
    figures = figures_module.all_figures(record, labels_for(env, lang))
    page = render_html(record, lang, env, figure_sources(figures))
    html = with_embedded_font(page) if "html" in formats else None
    pdf_bytes, no_pdf = None, None
    if "pdf" in formats:
        from labreport import pdf

        try:
            pdf_bytes = pdf.html_to_pdf(page)
        except pdf.PdfUnavailable as error:
            no_pdf = str(error)
    return lang, html, pdf_bytes, figures, no_pdf


def render_all(out: str | Path, languages: Iterable[str], formats: Iterable[str],
               user_templates: str | Path | None = None) -> list[Path]:
    """Renders `OUT/results.json` into `OUT/report.<lang>.<format>` and `OUT/figures/`.

    Languages render in parallel processes when there are cores for them. Everything is rendered
    in memory first and written only when it all succeeded, so a template error leaves the previous
    report as it was. A missing PDF engine skips the PDF with one line on stderr and still writes
    the HTML.

    Returns:
        The paths written.
    """
    out = Path(out)
    record = record_module.load_record(out)
    languages, formats = list(languages), tuple(formats)
    make_environment(user_templates)  # a missing --templates folder fails here, before any work
    jobs = [(record, lang, formats, user_templates) for lang in languages]
    if len(jobs) > 1 and (os.cpu_count() or 1) > 1 and "fork" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("fork")
        with concurrent.futures.ProcessPoolExecutor(max_workers=len(jobs), mp_context=context) as pool:
            results = list(pool.map(_render_language, *zip(*jobs)))
    else:
        results = [_render_language(*job) for job in jobs]

    fileio.check_writable(out)
    written = []
    no_pdf_said = False
    for lang, html, pdf_bytes, figures, no_pdf in results:
        for name, png in figures.items():
            fileio.write_bytes(out / "figures" / f"{name}.{lang}.png", png)
        if html is not None:
            written.append(fileio.write_text(out / f"report.{lang}.html", html))
        if pdf_bytes is not None:
            written.append(fileio.write_bytes(out / f"report.{lang}.pdf", pdf_bytes))
        if no_pdf and not no_pdf_said:
            print(f"labreport: {no_pdf}", file=sys.stderr)
            no_pdf_said = True
    return written

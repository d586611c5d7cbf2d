"""Record → report: Jinja2 templates render `results.json` into one HTML page per language.

Rendering reads only the record (never TensorFlow, never training), so a change of wording or
layout re-renders in seconds. Functions here return strings; `render_all` is the one step that
writes files, each atomically.

Templates are looked up in order: the user's `--templates` folder first, then the built-in
`templates/`. The environment is sandboxed (templates cannot reach Python internals) and
autoescapes, because review texts are data and may hold markup.
"""

from __future__ import annotations

import base64
import concurrent.futures
import datetime as _dt
import hashlib
import multiprocessing
import os
import re
import sys
from pathlib import Path
from typing import Iterable

import jinja2
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from labreport.core import LabreportError, fileio
from labreport.core import record as record_module
from labreport.core.settings import ReportConfig
from labreport.report import catalog as catalog_module
from labreport.report import discussion
from labreport.report import outline as document
from labreport.report.numbers import FILTERS
from labreport.report.references import References

FORMATS = ("html", "pdf")
REPORT_TEMPLATE = "report.html"


def builtin_templates() -> Path:
    """The built-in `templates/` folder: beside the package when installed, at the repo top in a checkout."""
    package = Path(__file__).resolve().parents[1]
    for candidate in (package / "templates", package.parent / "templates"):
        if (candidate / REPORT_TEMPLATE).is_file():
            return candidate
    raise LabreportError("labreport's built-in templates are missing; reinstall labreport")


def template_folders(user_templates: str | Path | None = None) -> list[Path]:
    """The folders searched for templates and catalogs, in order: the user's first, then the built-in one."""
    folders = []
    if user_templates is not None:
        folder = Path(user_templates)
        if not folder.is_dir():
            raise LabreportError(f"--templates folder not found: {folder}")
        folders.append(folder)
    folders.append(builtin_templates())
    return folders


def languages(user_templates: str | Path | None = None) -> list[str]:
    """Every language with a catalog in the template folders (built in: en, ko)."""
    return catalog_module.languages_in(template_folders(user_templates))


def load_catalog(lang: str, user_templates: str | Path | None = None) -> catalog_module.Catalog:
    return catalog_module.load_catalog(lang, template_folders(user_templates))


def make_environment(user_templates: str | Path | None = None) -> SandboxedEnvironment:
    """The Jinja2 environment: user folder first, then the built-in templates; autoescape on."""
    env = SandboxedEnvironment(
        loader=jinja2.FileSystemLoader([str(folder) for folder in template_folders(user_templates)]),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(FILTERS)
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
        if filename.endswith((".html", ".css")):  # a template's own line, not labreport's
            where = f" in {filename}, line {tb.tb_lineno}"
        tb = tb.tb_next
    return LabreportError(f"template error{where}: {type(error).__name__}: {error}")


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



# ---------------------------------------------------------------------------------------------
# The page


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


def lab_title(report: dict, catalog: catalog_module.Catalog) -> str:
    """The cover's title: `[report] lab_title` for this language, else the catalog's default title."""
    title = report.get("lab_title") or ""
    if isinstance(title, dict):
        title = title.get(catalog.code, "")
    return title or catalog.text("cover.default_title")


def cover(record: dict, catalog: catalog_module.Catalog) -> dict:
    report = record["config"]["report"]
    run_date = _dt.date.fromisoformat(record["environment"]["started_at"][:10])
    fields = [(catalog.say(f"label.{key}"), report[key]) for key in ("affiliation", "student_id", "name") if report.get(key)]
    fields.append((catalog.say("label.date"), catalog.date(run_date)))
    return {"title": lab_title(report, catalog), "course": report.get("course", ""), "fields": fields}


def render_html(record: dict, lang: str, env: jinja2.Environment | None = None,
                figures: dict[str, str] | None = None, notes: list | None = None,
                user_templates: str | Path | None = None) -> str:
    """Renders the report page of one language, without fonts (see `with_embedded_font`).

    Args:
        record: a validated results record.
        lang: a language with a catalog in the template folders.
        env: the template environment (built-in templates when None).
        figures: each figure's markup by name (`figure_markup`; drawn from the record when None).
        notes: the student's sections for this language (`labreport.report.notes.sections`).
        user_templates: the `--templates` folder, searched first for the catalog.

    Returns:
        The HTML page, figures and styles inline.
    """
    catalog = load_catalog(lang, user_templates)
    env = env or make_environment(user_templates)
    if figures is None:
        from labreport.report import figures as figures_module
        figures = figure_markup(figures_module.all_figures(record, figure_label(catalog), ("svg",)), inline=True)
    facts = discussion.facts(record)
    try:
        doc = document.resolve(document.outline(record, facts, notes), catalog, References())
    except KeyError as error:
        raise LabreportError(f"the report refers to {error.args[0]}, which it does not contain") from None
    context = {
        "lang": lang,
        "r": record,
        "doc": doc,
        "cover": cover(record, catalog),
        "words": {key: catalog.say(f"page.{key}") for key in ("report", "contents", "figure", "table")},
        "figures": figures,
        "fonts": catalog.fonts,
    }
    try:
        page = env.get_template(REPORT_TEMPLATE).render(context)
    except jinja2.TemplateError as error:
        raise _template_error(error) from error
    except (TypeError, ValueError, KeyError, AttributeError) as error:
        raise _template_error(error) from error
    return page


def with_embedded_font(page: str) -> str:
    """The page with its font embedded before `</head>` (see `embedded_font_css`)."""
    head_end = page.find("</head>")
    if head_end < 0:
        return page  # a user template without <head>: leave the page as written
    return page[:head_end] + embedded_font_css(page) + page[head_end:]


_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)


def template_scripts(env: jinja2.Environment, names: Iterable[str]) -> list[str]:
    """The bodies of the inline scripts written in the templates `names` themselves (not in their data)."""
    bodies = []
    for name in names:
        source = env.loader.get_source(env, name)[0]
        bodies += [body for body in _INLINE_SCRIPT.findall(source) if "{{" not in body and "{%" not in body]
    return bodies


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


def _render_language(record: dict, lang: str, formats: tuple[str, ...], user_templates: str | Path | None,
                     notes: list | None, figure_files: tuple[str, ...] = ("svg",)) -> tuple:
    """Everything of one language, in memory: (lang, html, pdf, figures, why no PDF)."""
    from labreport.report import figures as figures_module
    catalog = load_catalog(lang, user_templates)
    env = make_environment(user_templates)
    # The pages take SVG; PNG is drawn only when asked for as a file (it would cost a third of the render).
    figures = figures_module.all_figures(record, figure_label(catalog), tuple(dict.fromkeys(("svg", *figure_files))))
    html = None
    if "html" in formats:
        html = with_embedded_font(render_html(record, lang, env, figure_markup(figures, inline=True), notes, user_templates))
        html = with_content_security_policy(html, template_scripts(env, ("base.html", REPORT_TEMPLATE)))
    pdf_bytes, no_pdf = None, None
    if "pdf" in formats:
        from labreport.report import pdf
        page = render_html(record, lang, env, figure_markup(figures, inline=False), notes, user_templates)
        try:
            pdf_bytes = pdf.html_to_pdf(page)
        except pdf.PdfUnavailable as error:
            no_pdf = str(error)
    files = {name: {fmt: data for fmt, data in drawn.items() if fmt in figure_files} for name, drawn in figures.items()}
    return lang, html, pdf_bytes, files, no_pdf


INVALID_IN_FILE_NAMES = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')


def submission_name(report: dict, lang: str) -> str | None:
    """The file name a class's PDFs are handed in under, or None when the cover lacks ID or name."""
    if not (report.get("student_id") and report.get("name")):
        return None
    pattern = report.get("submission_name") or "{student_id}_{name}_{lab}"
    values = {"student_id": report["student_id"], "name": report["name"], "lab": report.get("lab") or ReportConfig.lab, "lang": lang}
    base = INVALID_IN_FILE_NAMES.sub("_", pattern.format(**values)).strip(" .")
    return base + ".pdf" if "{lang}" in pattern else f"{base}.{lang}.pdf"


def notes_files(out: Path, languages: list[str], given: dict[str, str | Path] | None,
                configured: dict[str, str] | None = None) -> dict[str, Path]:
    """Each language's notes file: `--notes`, else `[report] notes` of the config `render` reads, else
    `OUT/notes.<lang>.md` if it exists.

    The `notes` a record carries (`config.report.notes`, stored when it was trained) are never read:
    a record is data, and a path in it could name any file of whoever renders it. Only paths the
    user gives now (flag or config file) and the run's own `notes.<lang>.md` are followed.
    """
    from labreport.report import notes as notes_module
    found = {}
    for lang in languages:
        path = (given or {}).get(lang) or (configured or {}).get(lang)
        if path is None and notes_module.notes_path(out, lang).is_file():
            path = notes_module.notes_path(out, lang)
        if path is not None:
            found[lang] = Path(path)
    return found


FIGURE_FILES = ("svg", "png")


def start_method() -> str:
    """How to start the language workers: fork is fastest, but not from a process whose TensorFlow
    runtime has started its threads (`build` renders right after training), where only spawn is safe."""
    if "tensorflow" in sys.modules or "fork" not in multiprocessing.get_all_start_methods():
        return "spawn"
    return "fork"


def end_with_parent(parent: int) -> None:
    """Makes a render worker end when the process that started it does, however it ends (SIGKILL too).

    On Linux the kernel sends the worker SIGKILL when its parent dies (`prctl(PR_SET_PDEATHSIG)`);
    everywhere a daemon thread also checks once a second that the parent is still the one that
    started the worker, and exits when it is not (a parent that died before prctl took effect).
    """
    import threading
    import time

    if sys.platform.startswith("linux"):
        try:
            import ctypes
            import signal

            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)  # 1: PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(1)

    if os.getppid() != parent:
        os._exit(1)
    threading.Thread(target=watch, name="labreport-parent-watch", daemon=True).start()


def render_all(out: str | Path, languages: Iterable[str], formats: Iterable[str],
               user_templates: str | Path | None = None, notes: dict[str, str | Path] | None = None,
               report: dict | None = None, figure_files: Iterable[str] = ("svg",),
               into: Path | None = None) -> list[Path]:
    """Renders `OUT/results.json` into `OUT/report.<lang>.<format>` and `OUT/figures/`.

    Everything is rendered in memory first and written only when it all succeeded, so a template
    error leaves the previous report as it was. A missing PDF engine skips the PDF with one line on
    stderr and still writes the HTML. The cover the report was rendered with (`report` over the
    record's) is written back into the record's `config.report`, so the record always states the
    cover of its latest report (a course site renders the same cover from it).

    Args:
        notes: notes files by language, over `report`'s `notes` and `OUT/notes.<lang>.md`.
        report: `[report]` settings that replace the record's cover settings (name, title, ...).
        figure_files: formats of the figure files written to `OUT/figures/` ("svg", "png").
        into: a staging folder holding the new record, which the caller (`build`) locked `OUT` for
            and commits; None: lock `OUT` and replace the reports together (`labreport.core.staging`).

    Returns:
        The paths written.
    """
    out = Path(out)
    record = record_module.load_record(into or out)
    stored_cover = dict(record["config"].get("report", {}))
    if report:
        record["config"]["report"] = {**stored_cover, **report}
    languages, formats = list(languages), tuple(formats)
    check_options(languages, user_templates)
    from labreport.report import notes as notes_module
    own = {lang: notes_module.sections(path, record, lang)
           for lang, path in notes_files(out, languages, notes, (report or {}).get("notes")).items()}
    results = render_record(record, languages, formats, user_templates, own, tuple(figure_files))

    if into is not None:
        return [out / path.relative_to(into) for path in _write_reports(into, record, results, stored_cover)]
    from labreport.core import staging
    with staging.locked(out, "labreport render"):
        stage = staging.begin(out)
        if (out / "figures").is_dir():  # other languages' figures stay
            for kept in (out / "figures").iterdir():
                if kept.is_file() and not kept.is_symlink():
                    staging.place(kept, stage / "figures" / kept.name)
        written = _write_reports(stage, record, results, stored_cover)
        staging.commit(out)
    return [out / path.relative_to(stage) for path in written]


def _write_reports(folder: Path, record: dict, results: list, stored_cover: dict) -> list[Path]:
    written = []
    no_pdf_said = False
    for lang, html, pdf_bytes, figures, no_pdf in results:
        for name, files in figures.items():
            for fmt, data in files.items():
                fileio.write_bytes(folder / "figures" / f"{name}.{lang}.{fmt}", data)
        if html is not None:
            written.append(fileio.write_text(folder / f"report.{lang}.html", html))
        if pdf_bytes is not None:
            written.append(fileio.write_bytes(folder / f"report.{lang}.pdf", pdf_bytes))
            handed_in = submission_name(record["config"]["report"], lang)
            if handed_in:
                written.append(fileio.write_bytes(folder / handed_in, pdf_bytes))
        if no_pdf and not no_pdf_said:
            print(f"labreport: {no_pdf}", file=sys.stderr)
            no_pdf_said = True
    if record["config"].get("report", {}) != stored_cover:  # the cover this report used, for the course site
        fileio.write_json(folder / record_module.RECORD_FILE, record)
    return written


def check_options(languages: list[str], user_templates: str | Path | None = None) -> None:
    """Fails before any work on an unknown language, a broken catalog or a missing template folder."""
    for lang in languages:
        load_catalog(lang, user_templates)
    make_environment(user_templates)


def render_record(record: dict, languages: list[str], formats: tuple[str, ...], user_templates: str | Path | None,
                  notes: dict[str, list], figure_files: tuple[str, ...] = ()) -> list[tuple]:
    """Every language of a validated record, in memory: (lang, html, pdf, figure files, why no PDF) each.

    Languages render in parallel processes when there are cores for them.
    """
    jobs = [(record, lang, formats, user_templates, notes.get(lang), figure_files) for lang in languages]
    if len(jobs) <= 1 or (os.cpu_count() or 1) <= 1:
        return [_render_language(*job) for job in jobs]
    context = multiprocessing.get_context(start_method())
    pool = concurrent.futures.ProcessPoolExecutor(max_workers=len(jobs), mp_context=context,
                                                  initializer=end_with_parent, initargs=(os.getpid(),))
    try:
        results = list(pool.map(_render_language, *zip(*jobs)))
    except BaseException:  # Ctrl-C or a failed language: stop the other workers now, not after their page
        for process in list(getattr(pool, "_processes", {}).values()):
            process.kill()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return results

"""Record → page: one language's report as an HTML string.

Rendering reads only the validated record (never TensorFlow, never training), so a change of
wording or layout re-renders in seconds. Functions here return strings; the formats
(`labreport.report.exporters`) build on `render_html`, and writing is `labreport.report.writer`'s one step.
"""

from __future__ import annotations

import datetime as _dt
import functools
import itertools
from pathlib import Path
from typing import TYPE_CHECKING

from labreport.core import LabreportError
from labreport.core.settings import FULL_TEST_REVIEWS, FULL_TRAIN_REVIEWS, LAB_NUMBER
from labreport.report import catalog as catalog_module
from labreport.report import discussion, fonts, outline
from labreport.report.embedding import figure_label, figure_markup
from labreport.report.formats import FORMATS  # noqa: F401  (read by the command line and the API)
from labreport.report.numbers import format_number
from labreport.report.page import render_template
from labreport.report.references import References
from labreport.report.templates import REPORT_TEMPLATE, load_catalog, make_environment

if TYPE_CHECKING:
    import jinja2


def lab_title(report: dict, catalog: catalog_module.Catalog) -> str:
    """The cover's title: `[report] lab_title` for this language, else the catalog's default title."""
    title = report.get("lab_title") or ""
    if isinstance(title, dict):
        title = title.get(catalog.code, "")
    return title or catalog.text("cover.default_title", lab=LAB_NUMBER)


# The cover's title on the PDF's A4 page (style.css): `.cover h1` is 2rem of the print's 10pt, in
# Labreport Gothic Bold, on a line 210 mm less the page's 18 mm side margins wide.
TITLE_POINTS = 20.0
TITLE_LINE_POINTS = (210 - 2 * 18) * 72 / 25.4


@functools.lru_cache(maxsize=1)
def _title_face() -> tuple[dict[int, str], dict[str, int], int]:
    from fontTools.ttLib import TTFont

    with TTFont(str(fonts.FILES["bold"]), lazy=True) as font:
        return dict(font.getBestCmap()), {name: advance for name, (advance, _) in font["hmtx"].metrics.items()}, \
            font["head"].unitsPerEm


def _title_width(text: str) -> float:
    """The width of `text` in the cover title's face and size, in points."""
    cmap, advances, units = _title_face()
    em = max(advances.get(cmap.get(ord("가"), ""), units), 1)  # a character the face lacks: one Hangul's width
    return sum(advances.get(cmap.get(ord(character), ""), em) for character in text) * TITLE_POINTS / units


def title_lines(title: str) -> list[str]:
    """The title cut into lines of nearly equal width for the PDF's cover, whole words on each line.

    WeasyPrint has no `text-wrap: balance` (the HTML uses it), and left to itself it fills the first
    line and may leave one word ("분류") alone on the last. This keeps the fewest lines the title
    needs and, among those cuts, takes the one whose longest line is shortest.
    """
    words = title.split()
    if not words or _title_width(title) <= TITLE_LINE_POINTS:
        return [title]

    def width(first: int, last: int) -> float:
        return _title_width(" ".join(words[first:last]))

    # best[i][k]: (longest line, cuts) for words[i:] set in k lines; the fewest k that fits wins.
    count = len(words)
    for lines in range(2, count + 1):
        best: dict[tuple[int, int], tuple[float, list[int]]] = {(count, 0): (0.0, [])}
        for first in range(count - 1, -1, -1):
            for left in range(1, lines + 1):
                options = [(max(width(first, cut), best[(cut, left - 1)][0]), [cut, *best[(cut, left - 1)][1]])
                           for cut in range(first + 1, count + 1) if (cut, left - 1) in best]
                if options:
                    best[(first, left)] = min(options, key=lambda option: option[0])
        if (0, lines) in best and best[(0, lines)][0] <= TITLE_LINE_POINTS:
            cuts = [0, *best[(0, lines)][1]]
            return [" ".join(words[start:end]) for start, end in itertools.pairwise(cuts)]
    return [title]


def run_notice(record: dict, catalog: catalog_module.Catalog) -> str:
    """The line that marks a report trained on less than IMDB's full splits, or "" for a full run.

    A `--quick` run trains on the shipped sample, and a run on part of IMDB on fewer reviews than
    the lab's: either report shows what a report looks like, not the lab's results, and says so on
    its cover and in every page's footer.
    """
    dataset = record["dataset"]
    splits = dataset["splits"]
    trained = splits["train"]["total"] + splits.get("validation", {}).get("total", 0)
    if dataset["source"] == "sample":
        return catalog.text("cover.sample_run", reviews=format_number(trained))
    if trained < FULL_TRAIN_REVIEWS or splits["test"]["total"] < FULL_TEST_REVIEWS:
        return catalog.text("cover.partial_run", reviews=format_number(trained), full=format_number(FULL_TRAIN_REVIEWS))
    return ""


def cover(record: dict, catalog: catalog_module.Catalog) -> dict:
    report = record["config"]["report"]
    run_date = _dt.date.fromisoformat(record["environment"]["started_at"][:10])
    fields = [(catalog.say(f"label.{key}"), report[key]) for key in ("affiliation", "student_id", "name") if report.get(key)]
    fields.append((catalog.say("label.date"), catalog.date(run_date)))
    title = lab_title(report, catalog)
    return {"title": title, "title_lines": title_lines(title), "course": report.get("course", ""), "fields": fields,
            "notice": run_notice(record, catalog)}


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
        doc = outline.resolve(outline.outline(record, facts, notes), catalog, References())
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
    return render_template(env, REPORT_TEMPLATE, context)


def check_options(languages: list[str], user_templates: str | Path | None = None) -> None:
    """Fails before any work on an unknown language, a broken catalog or a missing template folder."""
    for lang in languages:
        load_catalog(lang, user_templates)
    make_environment(user_templates)

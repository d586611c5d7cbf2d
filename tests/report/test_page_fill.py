"""Pages end where a reader expects them to: the checked-in record's PDFs, read back with pypdf.

A page's fill is the share of the page's content area (A4 less the `@page` margins of style.css)
from its top down to the lowest line of text drawn in it. Text stands for everything drawn: every
figure ends in its caption, every table in its last row and every code block in its last line, so the
lowest text on a page is the foot of its lowest block. The footer lies below the content area and
does not count.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LANGUAGES = ("ko", "en")
MINIMUM_FILL = 0.25
MILLIMETRE = 72 / 25.4


def page_margins() -> tuple[float, float]:
    """The top and bottom margins of the report's pages in points, as style.css's `@page` sets them."""
    css = (ROOT / "templates" / "style.css").read_text(encoding="utf-8")
    page = re.search(r"@page\s*\{[^@}]*?margin:\s*([\d.]+)mm\s+[\d.]+mm\s+([\d.]+)mm", css)
    assert page, "style.css no longer sets the page's margins as `margin: TOP SIDES BOTTOM` in mm"
    return float(page[1]) * MILLIMETRE, float(page[2]) * MILLIMETRE


def _times(first: list[float], second: list[float]) -> list[float]:
    """The product of two PDF matrices [a b c d e f]."""
    a, b, c, d, e, f = first
    return [a * second[0] + b * second[2], a * second[1] + b * second[3],
            c * second[0] + d * second[2], c * second[1] + d * second[3],
            e * second[0] + f * second[2] + second[4], e * second[1] + f * second[3] + second[5]]


def fills(path: Path) -> list[float]:
    """Each page's fill: 0 for a page with no text in its content area, 1 for text down to its foot."""
    import pypdf

    top, bottom = page_margins()
    result = []
    for page in pypdf.PdfReader(path).pages:
        height = float(page.mediabox.height)
        baselines = []

        def visit(text, cm, tm, font, size, baselines=baselines):
            y = _times(tm, cm)[5]
            if text.strip() and y > bottom:
                baselines.append(y)

        page.extract_text(visitor_text=visit)
        content_top = height - top
        result.append((content_top - min(baselines)) / (content_top - bottom) if baselines else 0.0)
    return result


@pytest.fixture(scope="module")
def pdfs(checked_in_record, tmp_path_factory) -> dict[str, Path]:
    """The checked-in record's report rendered once to PDF in both languages."""
    from labreport.report import files

    out = tmp_path_factory.mktemp("page-fill")
    (out / "results.json").write_text(json.dumps(checked_in_record, ensure_ascii=False), encoding="utf-8")
    files.render_all(out, list(LANGUAGES), ["pdf"])
    return {lang: out / f"report.{lang}.pdf" for lang in LANGUAGES}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_page_but_the_last_is_less_than_a_quarter_full(pdfs, lang):
    measured = fills(pdfs[lang])
    assert len(measured) > 5, measured
    thin = {number: round(fill, 2) for number, fill in enumerate(measured[:-1], start=1) if fill < MINIMUM_FILL}
    assert not thin, f"report.{lang}.pdf: pages under a quarter full (page: fill): {thin}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_keras_summary_lies_on_one_page(pdfs, lang):
    import pypdf

    texts = [page.extract_text() for page in pypdf.PdfReader(pdfs[lang]).pages]
    starts = [number for number, text in enumerate(texts, start=1) for _ in range(text.count('Model: "'))]
    ends = [number for number, text in enumerate(texts, start=1) for _ in range(text.count("Non-trainable params"))]
    assert len(starts) == 2 and starts == ends, f"report.{lang}.pdf: summaries begin on pages {starts}, end on {ends}"


@pytest.mark.parametrize(("lang", "notice"), [("ko", "표본 2,000개로 학습한 예시 보고서"),
                                              ("en", "Example report trained on a 2,000-review sample")])
def test_a_sample_runs_notice_is_in_every_pages_footer(pdfs, lang, notice):
    import pypdf

    _, bottom = page_margins()
    for number, page in enumerate(pypdf.PdfReader(pdfs[lang]).pages, start=1):
        footer = []
        page.extract_text(visitor_text=lambda text, cm, tm, font, size, footer=footer: footer.append(text)
                          if _times(tm, cm)[5] < bottom else None)
        assert notice in "".join(footer).replace("\n", " "), f"report.{lang}.pdf page {number}: footer {footer}"

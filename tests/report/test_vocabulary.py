"""One vocabulary per language: each catalog declares its terms, and no message or page uses a variant.

A report that says 층 in the body and 레이어 in the appendix, or 몫 where the table says 기여도, reads
as if two people wrote it. The body names the data, not the tool that wrote the report: the
appendix (and the cover's footer) may name labreport, the body may not.
"""

import re

import pytest

from labreport.report import render, templates

LANGUAGES = ("ko", "en")


def figure_placeholders(record):
    names = ["lengths", "comparison", "confusion", "gradients", "learned"] + [f"convergence_{n}" for n in record["models"]]
    return {name: f"<svg>{name}</svg>" for name in names}


def page_text(html: str) -> str:
    """The words a reader sees: no style, script or drawing, tags removed."""
    html = re.sub(r"<(style|svg|script|head)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


@pytest.fixture(scope="module")
def pages(checked_in_record):
    return {lang: render.render_html(checked_in_record, lang, figures=figure_placeholders(checked_in_record))
            for lang in LANGUAGES}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_each_catalog_declares_its_vocabulary(lang):
    glossary = templates.load_catalog(lang).glossary
    assert len(glossary) >= 5
    assert all(variants for variants in glossary.values())


def test_the_korean_vocabulary_is_the_one_the_issue_names():
    glossary = templates.load_catalog("ko").glossary
    assert "레이어" in glossary["층"] and "몫" in glossary["기여도"]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_message_uses_a_forbidden_variant(lang):
    catalog = templates.load_catalog(lang)
    found = [(message_id, variant) for message_id, message in catalog.messages.items()
             for variants in catalog.glossary.values() for variant in variants if variant.lower() in message.lower()]
    assert found == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_page_uses_a_forbidden_variant(pages, lang):
    # The reviews are data, not the report's words: their cells and shaded words are left out.
    html = re.sub(r'<td class="review">.*?</td>|<span class="w"[^>]*>.*?</span>', " ", pages[lang], flags=re.S)
    text = page_text(html).lower()
    glossary = templates.load_catalog(lang).glossary
    assert [variant for variants in glossary.values() for variant in variants if variant.lower() in text] == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_body_names_the_data_not_the_tool(pages, lang):
    html = pages[lang]
    body = html[html.index("<body"):html.index('<section id="appendix"')]
    assert "labreport" not in page_text(body).lower()
    assert "labreport" in page_text(html[html.index('<section id="appendix"'):]).lower()  # the appendix names it

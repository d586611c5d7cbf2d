"""The HTML exporter's page read back as blocks (`blocks.read_page`), the content the DOCX and HWPX exporters write."""

from __future__ import annotations

import re

import pytest

from labreport.report import notes as notes_module
from labreport.report.exporters import Page
from labreport.report.exporters.blocks import (
    Equation,
    Figure,
    Heading,
    ListItems,
    PageBreak,
    Paragraph,
    Preformatted,
    Table,
    read_page,
)
from labreport.report.exporters.html import HtmlExporter
from labreport.report.templates import make_environment

NOTES = """# My reading

The BiLSTM scored {{ models.lstm.test.accuracy }} on the test split.

- first point with **bold**
- second point

## A sub-heading

| a | b |
|---|---|
| 1 | 2 |

# Conclusion

<script>alert(1)</script> =HYPERLINK("http://example.invalid")
"""


def page_html(record, lang, notes_text=NOTES):
    """The page as the PDF exporter hands it on (figures as images), the figures stand-in SVGs."""
    names = ["lengths", "comparison", "confusion", "gradients", "learned"] + [f"convergence_{n}" for n in record["models"]]
    figures = {name: {"svg": f'<svg xmlns="http://www.w3.org/2000/svg"><text>{name}</text></svg>'.encode()} for name in names}
    notes = notes_module.sections_from_text(notes_text, "notes.md", record, lang) if notes_text else None
    return HtmlExporter().page_html(Page(record, lang, make_environment(None), figures, notes, None), inline=False)


def visible_text(html: str) -> str:
    """The page's words as a reader sees them: no head, contents, tags or entities."""
    import html as html_module
    body = html[html.index("<body"):]
    body = re.sub(r"<nav\b.*?</nav>", " ", body, flags=re.DOTALL)
    # The banner repeats the cover's notice for the scrolling reader; the document keeps the cover's.
    body = re.sub(r'<div class="run-banner".*?</div>', " ", body, flags=re.DOTALL)
    return html_module.unescape(re.sub(r"<[^>]+>", " ", body))


def block_text(document) -> str:
    parts = []
    for block in document.blocks:
        if isinstance(block, Paragraph):
            parts.append("".join(run.text for run in block.runs))
        elif isinstance(block, (Heading, Preformatted)):
            parts.append(block.text)
        elif isinstance(block, ListItems):
            parts.extend("".join(run.text for run in item) for item in block.items)
        elif isinstance(block, Table):
            parts.append(block.caption)
            parts.extend(cell.text for row in block.rows for cell in row)
        elif isinstance(block, Figure):
            parts.extend([block.caption, block.alt])
        elif isinstance(block, Equation):
            parts.append(f"{block.text} ({block.number}) {block.note}")
    return "\n".join(parts)


NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_blocks_hold_what_the_page_shows(checked_in_record, lang):
    html = page_html(checked_in_record, lang)
    document = read_page(html, lang)

    def kinds(kind):
        return [block for block in document.blocks if isinstance(block, kind)]

    body = html[html.index("</nav>"):]
    assert len(kinds(Heading)) == len(re.findall(r"<h[2-6][ >]", body)) > 10
    assert len(kinds(Table)) == body.count("<table") > 10
    assert [figure.name for figure in kinds(Figure)] == re.findall(r'<figure id="fig-(\w+)"(?! class="diagram")', body)
    assert len(kinds(Figure)) == body.count('class="plot"') == 7
    assert all(figure.alt and figure.caption for figure in kinds(Figure))
    assert [eq.number for eq in kinds(Equation)] == [str(n) for n in range(1, len(kinds(Equation)) + 1)]
    assert document.lang == {"ko": "ko-KR", "en": "en-US"}[lang]
    assert document.title and isinstance(document.blocks[0], Paragraph) and document.blocks[0].role == "title"
    assert any(isinstance(block, PageBreak) for block in document.blocks[:6])
    references = [block for block in kinds(Paragraph) if block.role == "reference"]
    assert len(references) == body.count('<li id="ref-') > 5
    assert "".join(run.text for run in references[0].runs).startswith("[1] ")
    # Every number the page shows is in the blocks, as often as the page shows it.
    text = block_text(document)
    shown = NUMBER.findall(visible_text(html))
    assert len(shown) > 300
    for number in set(shown):
        assert text.count(number) >= visible_text(html).count(number), number


def test_student_notes_arrive_as_text(checked_in_record):
    document = read_page(page_html(checked_in_record, "en"), "en")
    headings = [block.text for block in document.blocks if isinstance(block, Heading)]
    assert any(text.endswith("My reading") for text in headings) and any(text.endswith("A sub-heading") for text in headings)
    text = block_text(document)
    assert '<script>alert(1)</script> =HYPERLINK("http://example.invalid")' in text
    items = [block for block in document.blocks if isinstance(block, ListItems) and not block.ordered]
    assert [["".join(run.text for run in item) for item in block.items] for block in items] == [
        ["first point with bold", "second point"]]
    assert any(run.bold and run.text == "bold" for run in items[0].items[0])


def test_equation_keeps_its_note_and_subscripts(checked_in_record):
    equations = [block for block in read_page(page_html(checked_in_record, "en", ""), "en").blocks
                 if isinstance(block, Equation)]
    noted = [eq for eq in equations if eq.note]
    assert noted and noted[0].note == "Keras, reset_after=True"
    assert any(run.subscript and run.text == "t" for run in equations[0].runs)
    assert equations[0].text.startswith("ft = σ(")


def test_whitespace_and_markup_of_a_fragment():
    document = read_page('<body><p>  a\n  <b>b</b>&amp;<code>&lt;c&gt;</code>  </p><pre>\n x\n  y</pre>'
                         '<table><tr><th colspan="2">h</th></tr><tr><td>1<br>2</td><td> 3 </td></tr></table></body>', "fr")
    paragraph, pre, table = document.blocks
    assert [(run.text, run.bold, run.code) for run in paragraph.runs] == [("a ", False, False), ("b", True, False),
                                                                         ("&", False, False), ("<c>", False, True)]
    assert pre.text == " x\n  y"
    assert [[(cell.text, cell.header, cell.colspan) for cell in row] for row in table.rows] == [
        [("h", True, 2)], [("1\n2", False, 1), ("3", False, 1)]]
    assert document.lang == "fr"

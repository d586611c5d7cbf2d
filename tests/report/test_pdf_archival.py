"""The PDF is accessible and archival: tagged, in the page's language, titled, its figures described,
its tables with header cells, identified as PDF/A-3, and carrying the run's record and predictions
byte for byte as associated files (read here with pikepdf, as a checker would).

veraPDF, the reference PDF/A and PDF/UA validator, is a Java program and no Python dependency; these
tests check what pikepdf can see of the same requirements.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pytest

pikepdf = pytest.importorskip("pikepdf")

DATA = Path(__file__).resolve().parents[1] / "data"


NOTES = {"ko": "# 토의\n\nGRU가 더 빨랐다.\n".encode("utf-8"), "en": b"# Discussion\n\nThe GRU was faster.\n"}
"""The student's own notes of each language, carried by that language's PDF as notes.<lang>.md."""


def predictions_bytes() -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, labels=np.array([0, 1, 1], dtype=np.int8), bigru=np.array([0.1, 0.9, 0.7], dtype=np.float32))
    return buffer.getvalue()


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    """A run folder (the checked-in record as its own bytes, a predictions file, the Korean notes) rendered
    to PDF in both languages, the English notes given from a file elsewhere."""
    from labreport.report import files as report_files

    out = tmp_path_factory.mktemp("archival")
    shutil.copyfile(DATA / "results.json", out / "results.json")
    (out / "predictions.npz").write_bytes(predictions_bytes())
    (out / "notes.ko.md").write_bytes(NOTES["ko"])
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "my-discussion.md"
    elsewhere.write_bytes(NOTES["en"])
    report_files.render_all(out, ["ko", "en"], ["pdf"], notes={"en": elsewhere})
    return out


def structure_elements(pdf) -> list:
    """Every structure element under the structure tree root, depth first."""
    found, stack, seen = [], [pdf.Root.StructTreeRoot.K], set()
    while stack:
        item = stack.pop()
        if isinstance(item, pikepdf.Array):
            stack.extend(reversed(list(item)))
        elif isinstance(item, pikepdf.Dictionary) and "/S" in item:
            if item.objgen != (0, 0) and item.objgen in seen:
                continue
            seen.add(item.objgen)
            found.append(item)
            if "/K" in item:
                stack.append(item.K)
    return found


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_the_pdf_is_tagged_in_its_language_with_a_title(rendered, lang):
    with pikepdf.open(rendered / f"report.{lang}.pdf") as pdf:
        assert "/StructTreeRoot" in pdf.Root
        assert str(pdf.Root.Lang) == lang
        assert bool(pdf.Root.MarkInfo.Marked) is True
        assert bool(pdf.Root.ViewerPreferences.DisplayDocTitle) is True
        title = str(pdf.docinfo["/Title"])
        assert ("실습 5" if lang == "ko" else "Lab 5") in title
        with pdf.open_metadata(set_pikepdf_as_editor=False) as xmp:
            assert xmp.get("dc:title") == title


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_every_figure_has_alt_text_and_the_tables_header_cells(rendered, lang):
    with pikepdf.open(rendered / f"report.{lang}.pdf") as pdf:
        elements = structure_elements(pdf)
        kinds = [str(element.S) for element in elements]
        figures = [element for element in elements if str(element.S) == "/Figure"]
        assert len(figures) >= 5, kinds.count("/Figure")
        for figure in figures:
            assert "/Alt" in figure and len(str(figure.Alt)) > 10, figure.get("/Alt")
        assert kinds.count("/Table") >= 5 and kinds.count("/TH") >= kinds.count("/Table")
        assert {"/H1", "/H2", "/P", "/Caption"} <= set(kinds)


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_the_pdf_says_it_is_pdf_a_3(rendered, lang):
    with pikepdf.open(rendered / f"report.{lang}.pdf") as pdf:
        with pdf.open_metadata(set_pikepdf_as_editor=False) as xmp:
            assert xmp.get("pdfaid:part") == "3"
            assert xmp.get("pdfaid:conformance") == "U"
        assert str(pdf.Root.OutputIntents[0].S) == "/GTS_PDFA1"  # the sRGB profile PDF/A asks for
        assert pdf.pdf_version == "1.7"


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_the_pdf_says_it_is_pdf_ua_1_and_declares_the_schema_pdf_a_asks_for(rendered, lang):
    with pikepdf.open(rendered / f"report.{lang}.pdf") as pdf:
        with pdf.open_metadata(set_pikepdf_as_editor=False) as xmp:
            assert xmp.get("pdfuaid:part") == "1"
            assert xmp.get("pdfaid:part") == "3"  # still PDF/A-3 besides
        packet = pdf.Root.Metadata.read_bytes().decode("utf-8")
    # PDF/A-3 takes a property outside its predefined schemas only with an extension schema naming it.
    schema = packet[packet.index("<pdfaExtension:schemas>"):packet.index("</pdfaExtension:schemas>")]
    assert "<pdfaSchema:namespaceURI>http://www.aiim.org/pdfua/ns/id/</pdfaSchema:namespaceURI>" in schema
    assert "<pdfaSchema:prefix>pdfuaid</pdfaSchema:prefix>" in schema and "<pdfaProperty:name>part</pdfaProperty:name>" in schema


PIXEL = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
TITLE = "<title>A page</title>"


@pytest.mark.parametrize("lang, title, alt, claimed", [
    (' lang="en"', TITLE, ' alt="A dot"', True),
    (' lang="en"', TITLE, "", False),  # a figure without alternate text
    ("", TITLE, ' alt="A dot"', False),  # no language
    (' lang="en"', "", ' alt="A dot"', False),  # no title
])
def test_pdf_ua_is_claimed_only_for_a_page_with_a_title_a_language_and_alt_text(lang, title, alt, claimed):
    """A user's template can leave out what labreport's pages always have: its PDF is then PDF/A-3u only."""
    from labreport.report.pdf import html_to_pdf

    page = f'<html{lang}><head>{title}</head><body><p>Text</p><img src="{PIXEL}"{alt}></body></html>'
    with pikepdf.open(io.BytesIO(html_to_pdf(page))) as pdf, pdf.open_metadata(set_pikepdf_as_editor=False) as xmp:
        assert (xmp.get("pdfuaid:part") == "1") is claimed
        assert xmp.get("pdfaid:part") == "3"


def marked_content(page) -> list[tuple[str, int | None, bool]]:
    """Each text-showing or painting operator of a page's content: the innermost marked-content tag
    around it, the MCID in force (if any), and whether an artifact encloses it."""
    painting = {"Tj", "TJ", "'", '"', "Do", "f", "F", "f*", "B", "B*", "b", "b*", "S", "s", "sh", "BI"}
    found, stack = [], []
    for operands, operator in pikepdf.parse_content_stream(page):
        operator = str(operator)
        if operator in ("BDC", "BMC"):
            properties = operands[1] if operator == "BDC" else None
            mcid = int(properties.MCID) if isinstance(properties, pikepdf.Dictionary) and "/MCID" in properties else None
            stack.append((str(operands[0]), mcid))
        elif operator == "EMC":
            stack.pop()
        elif operator in painting:
            mcids = [mcid for _, mcid in stack if mcid is not None]
            found.append((stack[-1][0] if stack else "", mcids[-1] if mcids else None,
                          any(tag == "/Artifact" for tag, _ in stack)))
    return found


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_all_content_is_in_the_structure_tree_or_an_artifact_and_the_page_numbers_are_artifacts(rendered, lang):
    """PDF/UA-1 7.1 and 7.8: real content reachable from the structure tree's root, running footers
    (the page number, the run notice in the margin) pagination artifacts."""
    with pikepdf.open(rendered / f"report.{lang}.pdf") as pdf:
        in_tree = set()
        for element in structure_elements(pdf):
            kids = element.K if isinstance(element.get("/K"), pikepdf.Array) else [element.get("/K")]
            in_tree.update((element.Pg.objgen, int(kid)) for kid in kids if isinstance(kid, int))
        pagination = 0
        for page in pdf.pages:
            for tag, mcid, artifact in marked_content(page):
                assert artifact or (mcid is not None and (page.obj.objgen, mcid) in in_tree), (tag, mcid)
            pagination += sum(1 for operands, operator in pikepdf.parse_content_stream(page)
                              if str(operator) == "BDC" and str(operands[0]) == "/Artifact"
                              and isinstance(operands[1], pikepdf.Dictionary) and operands[1].get("/Type") == "/Pagination")
            assert "/Tabs" not in page.obj or str(page.obj.Tabs) == "/S"  # the tab order follows the structure
        assert pagination >= 2 * len(pdf.pages) - 1  # the page number on every page but the cover, the notice on all
        for annotation in (annotation for page in pdf.pages for annotation in page.obj.get("/Annots", [])):
            assert "/StructParent" in annotation and "/Contents" in annotation  # links are tagged and described


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_the_run_files_are_embedded_byte_for_byte_as_associated_files(rendered, lang):
    with pikepdf.open(rendered / f"report.{lang}.pdf") as pdf:
        notes = f"notes.{lang}.md"  # its own language's notes only, under that name wherever the file was
        attached = {name: spec.get_file().read_bytes() for name, spec in pdf.attachments.items()}
        assert attached == {"results.json": (rendered / "results.json").read_bytes(),
                            "predictions.npz": (rendered / "predictions.npz").read_bytes(), notes: NOTES[lang]}
        associated = {str(spec.UF): str(spec.AFRelationship) for spec in pdf.Root.AF}
        assert associated == {"results.json": "/Source", "predictions.npz": "/Data", notes: "/Source"}
        assert len(pdf.Root.AF) == 3  # each once
        subtypes = {name: str(spec.get_file().obj.Subtype) for name, spec in pdf.attachments.items()}
        assert subtypes == {"results.json": "/application/json", "predictions.npz": "/application/octet-stream",
                            notes: "/text/markdown"}


def test_a_cover_given_at_render_is_in_the_embedded_record_as_written_back(tmp_path):
    """`render` writes the cover it used back into results.json: the PDF carries that record, not the old one."""
    from labreport.report import files as report_files

    shutil.copyfile(DATA / "results.json", tmp_path / "results.json")
    report_files.render_all(tmp_path, ["en"], ["pdf"], report={"name": "Kim Minji", "student_id": "2024001"})
    written = (tmp_path / "results.json").read_bytes()
    assert written != (DATA / "results.json").read_bytes() and b"Kim Minji" in written
    with pikepdf.open(tmp_path / "report.en.pdf") as pdf:
        attached = {name: spec.get_file().read_bytes() for name, spec in pdf.attachments.items()}
    assert attached == {"results.json": written}  # no predictions in this run: none carried

"""The same record gives the same PDF on every machine, and every tool reads its text.

A hostile review (emoji, Japanese, Arabic, combining marks, a zero-width joiner, U+FFFD, a control
character) is rendered under two font configurations, one with no fonts at all and the machine's
own, each in a process of its own (fontconfig reads its configuration once per process).
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REVIEW = ("この映画は最高でした 🎬👍 정말 재미있다 — great film مرحبا بالعالم "
          "cafe\u0301 👨\u200d👩\u200d👧 \ufffd bell\u0007 end")
NOTES = "# 토의\n\nGRU가 더 빨랐다 🎬.\n"
RENDER = "import sys; from labreport.report import files; files.render_all(sys.argv[1], ['ko', 'en'], ['pdf'])"


def hostile(record: dict) -> dict:
    record = copy.deepcopy(record)
    for entry in record["models"].values():
        entry["samples"][0]["text"] = REVIEW
        attribution = entry["attributions"]["reviews"][0]
        attribution["tokens"] = [["この映画は", 0.2], ["🎬", 0.1], ["مرحبا", 0.05], ["\u0007x", 0.01]] + attribution["tokens"][4:]
        entry["attributions"]["learned"]["positive"][0]["word"] = "最高👍"
    return record


def render_in_process(out: Path, record: dict, fontconfig: Path | None) -> dict[str, bytes]:
    out.mkdir()
    (out / "results.json").write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    (out / "predictions.npz").write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip: carried, never read
    (out / "notes.ko.md").write_text(NOTES, encoding="utf-8")  # the Korean PDF carries it; the English has none
    env = dict(os.environ)
    if fontconfig is not None:
        env["FONTCONFIG_FILE"] = str(fontconfig)
    result = subprocess.run([sys.executable, "-c", RENDER, str(out)], env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "FontConfig" not in result.stderr, result.stderr
    return {lang: (out / f"report.{lang}.pdf").read_bytes() for lang in ("ko", "en")}


@pytest.fixture(scope="module")
def two_machines(checked_in_record, tmp_path_factory) -> tuple[dict, dict, Path]:
    """The hostile record's PDFs under an empty font configuration and under the machine's."""
    folder = tmp_path_factory.mktemp("same-pdf")
    empty = folder / "fonts.conf"
    empty.write_text(f'<?xml version="1.0"?>\n<fontconfig><cachedir>{folder / "cache"}</cachedir></fontconfig>\n')
    record = hostile(checked_in_record)
    bare = render_in_process(folder / "bare", record, empty)
    machine = render_in_process(folder / "machine", record, None)
    return bare, machine, folder


def test_no_fonts_and_the_machines_fonts_give_the_same_pdf_bytes(two_machines):
    bare, machine, _ = two_machines
    for lang in ("ko", "en"):
        assert bare[lang] == machine[lang], f"report.{lang}.pdf depends on the machine's fonts"


def test_both_carry_the_run_files(two_machines):
    """The bytes compared above include the embedded record, predictions and notes (their dates are fixed too)."""
    import pypdf

    _, _, folder = two_machines
    for where in ("bare", "machine"):
        attachments = pypdf.PdfReader(folder / where / "report.ko.pdf").attachments
        assert sorted(attachments) == ["notes.ko.md", "predictions.npz", "results.json"]
        assert attachments["results.json"] == [(folder / where / "results.json").read_bytes()]
        assert attachments["notes.ko.md"] == [NOTES.encode("utf-8")]
        assert sorted(pypdf.PdfReader(folder / where / "report.en.pdf").attachments) == ["predictions.npz", "results.json"]


def fonts_of(path: Path) -> set[tuple[str, str]]:
    import pypdf

    found = set()
    for page in pypdf.PdfReader(path).pages:
        resources = page.get("/Resources") or {}
        for font in (resources.get("/Font") or {}).values():
            font = font.get_object()
            found.add((str(font["/BaseFont"]).split("+", 1)[-1], str(font.get("/Encoding"))))
    return found


def test_every_font_is_shipped_and_identity_encoded(two_machines):
    from labreport.report.fonts import faces

    shipped = {family.replace(" ", "-") for family, _, _ in faces()}
    _, _, folder = two_machines
    for where in ("bare", "machine"):
        for lang in ("ko", "en"):
            fonts = fonts_of(folder / where / f"report.{lang}.pdf")
            assert fonts, "the PDF embeds no font"
            for name, encoding in fonts:
                assert any(name == family or name.startswith(family + "-") for family in shipped), name
                assert encoding == "/Identity-H", (name, encoding)


def test_pypdf_pdfminer_and_pdftotext_read_the_korean_body_and_the_review(two_machines):
    import pypdf
    from pdfminer.high_level import extract_text

    _, _, folder = two_machines
    path = folder / "machine" / "report.ko.pdf"
    texts = {
        "pypdf": "".join(page.extract_text() for page in pypdf.PdfReader(path).pages),
        "pdfminer.six": extract_text(str(path)),
    }
    try:
        texts["pdftotext"] = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    except FileNotFoundError:
        pass  # poppler-utils is not a dependency; the two Python readers are what course systems use
    for tool, text in texts.items():
        for words in ("실습 5", "정말 재미있다", "great film", "U+1F3AC"):
            assert words in text, f"{tool} does not find {words!r}"
        assert "\x07" not in text, f"{tool} finds the control character on the page"


def test_the_html_keeps_the_review_as_written(checked_in_record, tmp_path):
    from labreport.report import files as report_files
    (tmp_path / "results.json").write_text(json.dumps(hostile(checked_in_record), ensure_ascii=False), encoding="utf-8")
    report_files.render_all(tmp_path, ["ko"], ["html"])
    page = (tmp_path / "report.ko.html").read_text(encoding="utf-8")
    assert "この映画は最高でした 🎬👍" in page and "no-glyph\">" not in page


def test_what_no_shipped_face_draws_becomes_its_code_point():
    from labreport.report.pdf import drawable_page, drawable_text

    assert drawable_text("정말 good − ✓") == "정말 good − ✓"  # the Gothic and DejaVu Sans draw these
    assert drawable_text("a🎬b") == 'a<span class="no-glyph">U+1F3AC</span>b'
    assert drawable_text("x\u200dy\ufe0f") == "x\u200dy\ufe0f"  # DejaVu Sans has a joiner and a selector
    assert drawable_text("x\u2066y\U000E0001") == "xy"  # format characters no face has draw nothing
    assert drawable_text("&#127916;", markup=False) == "[U+1F3AC]"
    assert drawable_text("bell\u0007") == 'bell<span class="no-glyph">U+0007</span>'
    page = "<html><head><title>🎬</title><style>p::after { content: '🎬' }</style></head><body><p title=\"🎬\">🎬</p></body></html>"
    assert drawable_page(page) == page.replace("<p title=\"🎬\">🎬", '<p title="🎬"><span class="no-glyph">U+1F3AC</span>')

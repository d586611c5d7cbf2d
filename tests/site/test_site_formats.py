"""`labreport site --format`: each run's reports in the word-processor formats too, linked from the index
by language (Korean first) and format, kept in the site's cache; a missing library stops the site in one line."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import docx  # a test dependency (the office extra): a missing one fails, not skips
import pytest
from hwpx import HwpxDocument

from labreport.core import LabreportError
from labreport.site import publish

NOTES = {"ko": "# 토의\n\nGRU가 더 빨랐다고 적는다.\n", "en": "# Discussion\n\nThe GRU was faster, in my words.\n"}
OFFICE = ("docx", "hwpx")


def run_cli(*args, env_setup: str = "pass"):
    """`labreport ARGS` in a process of its own; `env_setup` is Python run first (to take a library away)."""
    code = f"import sys; {env_setup}; from labreport.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def office_site(tmp_path_factory) -> tuple[Path, Path]:
    """A one-run class (the checked-in record, the student's notes in both languages) published as
    HTML, DOCX and HWPX in Korean and English."""
    root = tmp_path_factory.mktemp("office-site")
    run = root / "class" / "alice"
    run.mkdir(parents=True)
    (run / "results.json").write_bytes((Path(__file__).resolve().parents[1] / "data" / "results.json").read_bytes())
    for lang, text in NOTES.items():
        (run / f"notes.{lang}.md").write_text(text, encoding="utf-8")
    result = run_cli("site", str(root / "class"), "--out", str(root / "site"), "--lang", "ko,en", "--format", "html,docx,hwpx")
    assert result.returncode == 0, result.stderr[-3000:]
    return root / "class", root / "site"


def the_run(site: Path) -> dict:
    [row] = json.loads((site / "summary.json").read_text(encoding="utf-8"))["runs"]
    return row


def test_the_index_links_every_format_korean_first(office_site):
    _, site = office_site
    row = the_run(site)
    links = re.findall(r'<a href="runs/([^"]+)" aria-label="([^"]+)"', (site / "index.html").read_text(encoding="utf-8"))
    assert [text for _, text in links] == ["한국어 HTML", "한국어 DOCX", "한국어 HWPX", "English HTML", "English DOCX", "English HWPX"]
    assert [href for href, _ in links] == [f"{row['id']}/report.{lang}.{fmt}" for lang in ("ko", "en")
                                           for fmt in ("html", "docx", "hwpx")]
    assert json.loads((site / "summary.json").read_text(encoding="utf-8"))["formats"] == ["html", "docx", "hwpx"]


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_the_published_docx_and_hwpx_hold_the_record_and_the_students_words(office_site, lang):
    _, site = office_site
    folder = site / "runs" / the_run(site)["id"]
    words = NOTES[lang].split("\n\n")[1].strip()
    document = docx.Document(io.BytesIO((folder / f"report.{lang}.docx").read_bytes()))
    text = "\n".join(paragraph.text for paragraph in document.paragraphs)
    assert words in text
    assert any("78.6" in cell.text for table in document.tables for row in table.rows for cell in row.cells)
    hwpx_data = (folder / f"report.{lang}.hwpx").read_bytes()
    assert HwpxDocument.open(hwpx_data).validate().issues == ()
    with zipfile.ZipFile(io.BytesIO(hwpx_data)) as package:
        sections = "".join(package.read(name).decode("utf-8") for name in package.namelist()
                           if name.startswith("Contents/section"))
    assert words in sections and "78.6" in sections


def test_an_unchanged_run_is_taken_from_the_cache_in_every_format(office_site, tmp_path):
    submissions, site = office_site
    folder = site / "runs" / the_run(site)["id"]
    before = {path.name: (path.read_bytes(), path.stat().st_mtime_ns) for path in folder.iterdir()}
    lines: list[str] = []
    publish.build([submissions], site, languages=["ko", "en"], formats=("html", "docx", "hwpx"), progress=lines.append)
    assert "site: 1 runs unchanged, 0 to render" in lines
    after = {path.name: (path.read_bytes(), path.stat().st_mtime_ns) for path in folder.iterdir()}
    assert after == before and len(after) == 6  # the same bytes, and the time they were rendered


def test_a_missing_office_library_stops_the_site_in_one_line_and_keeps_the_old_one(office_site, tmp_path):
    submissions, site = office_site
    index = (site / "index.html").read_bytes()
    for fmt, library, hint in (("docx", "docx", "DOCX needs python-docx: pip install 'labreport[office]'"),
                               ("hwpx", "hwpx", "HWPX needs python-hwpx: pip install 'labreport[office]'")):
        result = run_cli("site", str(submissions), "--out", str(site), "--format", f"html,{fmt}",
                         env_setup=f"sys.modules[{library!r}] = None")  # as on a machine without the office extra
        assert result.returncode != 0
        assert result.stderr.startswith(f"labreport: error: {hint}") and "(the site was not built; the previous one is kept)" in result.stderr
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert (site / "index.html").read_bytes() == index
    assert sorted(path.name for path in site.parent.iterdir()) == ["class", "site"]  # no half-built site beside it


def test_the_format_list_is_checked_and_pdf_adds_the_pdf(office_site, tmp_path, monkeypatch):
    submissions, _ = office_site
    result = run_cli("site", str(submissions), "--out", str(tmp_path / "site"), "--format", "html,odt")
    assert result.returncode != 0 and "unknown format 'odt': choose among html, pdf, docx, hwpx" in result.stderr
    # --pdf asks for the PDF beside --format's: without a PDF engine, that is the one line before any work.
    result = run_cli("site", str(submissions), "--out", str(tmp_path / "site"), "--format", "hwpx", "--pdf",
                     env_setup="sys.modules['weasyprint'] = None")
    assert result.returncode != 0 and result.stderr.startswith("labreport: error: no PDF: WeasyPrint cannot be loaded")
    assert "the HTML report was written" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    monkeypatch.setitem(sys.modules, "docx", None)  # the API stops the same way
    with pytest.raises(LabreportError, match=r"^DOCX needs python-docx: pip install 'labreport\[office\]' \(the site was not"):
        publish.build([submissions], tmp_path / "site", languages=["en"], formats=("html", "docx"))
    assert not (tmp_path / "site").exists()


def test_a_pages_cache_key_names_the_version_of_the_library_that_writes_it():
    """An upgraded python-docx, python-hwpx or WeasyPrint renders its format again instead of serving the old page."""
    from importlib import metadata

    from labreport.site import cache

    for fmt, library in (("docx", "python-docx"), ("hwpx", "python-hwpx"), ("pdf", "weasyprint")):
        assert f"{library} {metadata.version(library)}" in json.loads(cache.key("r", "n", "t", "ko", fmt))[-1]
    assert cache.key("r", "n", "t", "ko", "docx") != cache.key("r", "n", "t", "ko", "hwpx")

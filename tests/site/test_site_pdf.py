"""`labreport site` on report PDFs handed in alone: the record and predictions they carry are checked
like a run folder's; a PDF without a record is listed; a PDF that breaks a bound is refused in one line."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import pytest

from labreport.core import LabreportError
from labreport.site import submissions
from tests.conftest import make_archive

pypdf = pytest.importorskip("pypdf")

TINY = ["--epochs", "1", "--max-length", "40", "--vocab-size", "60", "--embedding-dim", "4", "--hidden-units", "4"]


def handmade_pdf(objects: list[bytes]) -> bytes:
    """A PDF of the given objects (numbered from 1, the first the catalog), with its cross-reference table."""
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def pdf_embedding(files: dict[str, bytes], raw_streams: dict[str, bytes] | None = None, params: bytes = b"") -> bytes:
    """A one-catalog PDF embedding `files` (stored as they are) and `raw_streams` (already deflated)."""
    objects = [b"", b"<< /Type /Pages /Kids [] /Count 0 >>"]
    names = []
    entries = [(name, data, b"") for name, data in files.items()]
    entries += [(name, data, b" /Filter /FlateDecode") for name, data in (raw_streams or {}).items()]
    for name, data, filters in entries:
        objects.append(b"<< /Type /EmbeddedFile /Length %d%s%s >>\nstream\n" % (len(data), filters, params) + data + b"\nendstream")
        stream = len(objects)
        literal = name.encode("utf-8").replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
        objects.append(b"<< /Type /Filespec /F (%s) /UF (%s) /EF << /F %d 0 R >> >>" % (literal, literal, stream))
        names.append(b"(%s) %d 0 R" % (literal, len(objects)))
    objects[0] = b"<< /Type /Catalog /Pages 2 0 R /Names << /EmbeddedFiles << /Names [" + b" ".join(names) + b"] >> >> >>"
    return handmade_pdf(objects)


def deflated_zeros(size: int) -> bytes:
    """`size` zero bytes deflated (600 MB become about 600 KB)."""
    compressor, chunk, parts = zlib.compressobj(9), bytes(1 << 24), []
    for _ in range(size // len(chunk)):
        parts.append(compressor.compress(chunk))
    parts.append(compressor.flush())
    return b"".join(parts)


# --- the bounds, on crafted PDFs (no training) -------------------------------------------------------------

def test_the_run_files_a_pdf_carries_are_read(tmp_path):
    path = tmp_path / "a.pdf"
    path.write_bytes(pdf_embedding({"results.json": b'{"x": 1}', "predictions.npz": b"PK", "notes.txt": b"kept out"}))
    assert submissions.embedded_run_files(path) == {"results.json": b'{"x": 1}', "predictions.npz": b"PK"}


@pytest.mark.parametrize("name", ["../results.json", "/etc/results.json", "runs\\results.json", "..", "a/b"])
def test_an_attachment_named_like_a_path_is_refused(tmp_path, name):
    path = tmp_path / "a.pdf"
    path.write_bytes(pdf_embedding({name: b"{}"}))
    with pytest.raises(LabreportError, match="like a path"):
        submissions.embedded_run_files(path)


def test_more_than_a_few_attachments_are_refused(tmp_path):
    path = tmp_path / "a.pdf"
    path.write_bytes(pdf_embedding({f"f{index}.txt": b"x" for index in range(submissions.MAX_PDF_ATTACHMENTS + 1)}))
    with pytest.raises(LabreportError, match=f"more than {submissions.MAX_PDF_ATTACHMENTS} files"):
        submissions.embedded_run_files(path)


def test_an_attachment_inflating_to_600_mb_is_refused_without_inflating_it_all(tmp_path):
    path = tmp_path / "bomb.pdf"
    path.write_bytes(pdf_embedding({}, {"predictions.npz": deflated_zeros(600 * 1024 * 1024)}))
    assert path.stat().st_size < 2 * 1024 * 1024
    with pytest.raises(LabreportError, match="predictions.npz decodes to more than the 67,108,864 bytes"):
        submissions.embedded_run_files(path)


def test_a_declared_size_over_the_limit_is_refused_before_decoding(tmp_path):
    path = tmp_path / "a.pdf"
    path.write_bytes(pdf_embedding({"results.json": b"{}"}, params=b" /Params << /Size 629145600 >>"))
    with pytest.raises(LabreportError, match="says it is 629,145,600 bytes"):
        submissions.embedded_run_files(path)


def test_a_record_over_its_limit_is_refused(tmp_path):
    path = tmp_path / "a.pdf"
    path.write_bytes(pdf_embedding({}, {"results.json": deflated_zeros(1 << 25)}))  # 32 MiB > 16 MiB
    with pytest.raises(LabreportError, match="results.json is 33,554,432 bytes, more than the 16,777,216"):
        submissions.embedded_run_files(path)


def test_a_600_mb_pdf_is_refused_unread(tmp_path):
    path = tmp_path / "huge.pdf"
    with open(path, "wb") as handle:  # sparse: costs no disk
        handle.write(b"%PDF-1.7\n")
        handle.truncate(600 * 1024 * 1024)
    with pytest.raises(LabreportError, match="629,145,600 bytes, more than"):
        submissions.embedded_run_files(path)


def test_a_damaged_pdf_is_one_line(tmp_path):
    path = tmp_path / "a.pdf"
    path.write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog /Names 1 0 R >> endobj trailer << /Root 1 0 R >>\n%%EOF")
    run = submissions.read_pdf(path, tmp_path / "scratch", "a.pdf")
    assert run.problem in ("pdf", "pdf_no_record") and "\n" not in run.detail


def test_a_pdf_without_a_record_is_listed(tmp_path):
    writer = pypdf.PdfWriter()
    writer.add_blank_page(200, 200)
    writer.write(tmp_path / "plain.pdf")
    runs = submissions.find([tmp_path], tmp_path / "scratch-area")
    assert [(run.source.rsplit("/", 1)[-1], run.problem) for run in runs] == [("plain.pdf", "pdf_no_record")]


def test_the_reports_of_one_run_in_one_folder_are_one_run(tmp_path):
    record = (Path(__file__).resolve().parents[1] / "data" / "results.json").read_bytes()
    (tmp_path / "class" / "alice").mkdir(parents=True)
    for lang in ("ko", "en"):
        (tmp_path / "class" / "alice" / f"report.{lang}.pdf").write_bytes(pdf_embedding({"results.json": record}))
    (tmp_path / "class" / "bob.pdf").write_bytes(pdf_embedding({"results.json": record}))  # another folder: its own run
    (tmp_path / "class" / "eve.pdf").write_bytes(pdf_embedding({"results.json": record}))  # a copy under another name
    runs = submissions.find([tmp_path / "class"], tmp_path / "scratch-area")
    assert [(run.source.split("class/")[-1], run.problem) for run in runs] == [
        ("alice/report.en.pdf", ""), ("bob.pdf", ""), ("eve.pdf", "")]


# --- a class of PDFs, for real --------------------------------------------------------------------------

def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "labreport", *args], capture_output=True, text=True, timeout=900)


@pytest.mark.training
def test_a_site_from_pdf_only_submissions(tmp_path):
    data = make_archive(tmp_path / "aclImdb_tiny.tar.gz")
    alice = tmp_path / "work" / "alice"
    result = run_cli("train", "--out", str(alice), "--data", str(data), "--seed", "1", "--batch-size", "2", *TINY)
    assert result.returncode == 0, result.stderr[-3000:]
    result = run_cli("render", "--out", str(alice), "--format", "pdf", "--lang", "en")
    assert result.returncode == 0, result.stderr[-3000:]
    # Mallory hands in Alice's run with a better accuracy typed into the record, rendered to PDF, zipped.
    mallory = tmp_path / "work" / "mallory"
    shutil.copytree(alice, mallory)
    record = json.loads((mallory / "results.json").read_text(encoding="utf-8"))
    record["models"]["gru"]["test"]["accuracy"] = 0.99
    record["config"]["report"].update(student_id="2024002", name="Mallory")
    (mallory / "results.json").write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    result = run_cli("render", "--out", str(mallory), "--format", "pdf", "--lang", "en")
    assert result.returncode == 0, result.stderr[-3000:]

    subs = tmp_path / "submissions"
    subs.mkdir()
    shutil.copyfile(alice / "report.en.pdf", subs / "alice.pdf")  # the PDF alone: no run folder in the class
    with zipfile.ZipFile(subs / "mallory.zip", "w") as zipped:
        zipped.write(mallory / "report.en.pdf", "mallory/report.en.pdf")
    writer = pypdf.PdfWriter()
    writer.add_blank_page(200, 200)
    writer.write(subs / "plain.pdf")
    (subs / "bomb.pdf").write_bytes(pdf_embedding({}, {"predictions.npz": deflated_zeros(600 * 1024 * 1024)}))

    out = tmp_path / "site"
    result = run_cli("site", str(subs), "--out", str(out), "--lang", "en")
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    listed = [(r["source"], r["problem"], r["flags"]) for r in summary["runs"]]
    rows = {name: next((r for r in summary["runs"] if r["source"].endswith(name)), None)
            for name in ("alice.pdf", "mallory/report.en.pdf", "plain.pdf", "bomb.pdf")}
    assert None not in rows.values(), listed
    assert rows["alice.pdf"]["problem"] == "" and rows["mallory/report.en.pdf"]["problem"] == "", listed
    alice_flags = {flag["check"]: flag for flag in rows["alice.pdf"]["flags"]}
    mallory_flags = {flag["check"]: flag for flag in rows["mallory/report.en.pdf"]["flags"]}
    assert "edited" not in alice_flags and "no_predictions" not in alice_flags  # the predictions came with the PDF
    assert mallory_flags["edited"]["fields"] == ["models.gru.test.accuracy"], listed
    assert set(mallory_flags["identical"]["with"]) == {rows["alice.pdf"]["id"]}  # the same predictions
    assert rows["plain.pdf"]["problem"] == "pdf_no_record"
    assert rows["bomb.pdf"]["problem"] == "pdf"
    for row in (rows["alice.pdf"], rows["mallory/report.en.pdf"]):  # published: the site's pages are HTML unless --pdf
        assert (out / "runs" / row["id"] / "report.en.html").stat().st_size > 0
    page = (out / "index.html").read_text(encoding="utf-8")  # the site's one language
    assert "a PDF without an embedded results.json" in page
    assert "predictions.npz decodes to more than the 67,108,864 bytes allowed" in page  # the bomb's one line
    assert not any(subs.rglob("results.json"))  # nothing unpacked beside the submissions


# --- the student's own notes, carried by the PDF -----------------------------------------------------------

RECORD = (Path(__file__).resolve().parents[1] / "data" / "results.json").read_bytes()


def test_the_notes_a_pdf_carries_are_read_within_a_notes_files_limit(tmp_path):
    from labreport.report.notes import MAX_NOTES_BYTES

    path = tmp_path / "a.pdf"
    path.write_bytes(pdf_embedding({"results.json": b"{}", "notes.ko.md": "# 토의".encode(), "notes.md": b"kept out"}))
    assert submissions.embedded_run_files(path) == {"results.json": b"{}", "notes.ko.md": "# 토의".encode()}
    path.write_bytes(pdf_embedding({"results.json": b"{}", "notes.en.md": b"x" * (MAX_NOTES_BYTES + 1)}))
    with pytest.raises(LabreportError, match="notes.en.md is 262,145 bytes, more than the 262,144 allowed"):
        submissions.embedded_run_files(path)


def row_text(index_html: str, run_id: str) -> str:
    """The index's row of the run `run_id` (the one linking to its reports), as text."""
    import re

    for body in re.findall(r"<tbody[^>]*>(.*?)</tbody>", index_html, re.S):
        if f"runs/{run_id}/" in body:
            return " ".join(re.sub(r"<[^>]+>", " ", body).split())
    raise AssertionError(f"no row for {run_id}")


def test_a_class_of_pdfs_keeps_each_students_own_sections_and_lists_bad_notes(tmp_path):
    """Bad notes in a PDF are treated as a run folder's: the run is listed with one line, not published."""
    from labreport.site import publish

    subs = tmp_path / "class"
    (subs / "alice").mkdir(parents=True)
    for lang, notes in (("ko", "# 토의\n\n<!-- 질문 -->\nGRU가 더 빨랐다.\n"), ("en", "# Discussion\n\nThe GRU was faster.\n")):
        (subs / "alice" / f"report.{lang}.pdf").write_bytes(
            pdf_embedding({"results.json": RECORD, f"notes.{lang}.md": notes.encode("utf-8")}))
    (subs / "big.pdf").write_bytes(pdf_embedding({"results.json": RECORD, "notes.en.md": b"words " * 50_000}))
    (subs / "path.pdf").write_bytes(pdf_embedding({"results.json": RECORD, "../notes.en.md": b"# Discussion\n"}))
    (subs / "latin.pdf").write_bytes(pdf_embedding({"results.json": RECORD, "notes.en.md": "# Caf\xe9\n".encode("latin-1")}))
    out = tmp_path / "site"
    summary = publish.build([subs], out, languages=["en", "ko"], formats=("html",))
    rows = {r["source"].split("class/")[-1]: r for r in summary["runs"]}
    assert sorted(rows) == ["alice/report.en.pdf", "big.pdf", "latin.pdf", "path.pdf"]  # Alice's two PDFs: one run
    alice = rows["alice/report.en.pdf"]
    assert alice["problem"] == "" and alice["own_sections"] == {"en": {"sections": 1, "characters": 16},
                                                                "ko": {"sections": 1, "characters": 9}}
    assert "The GRU was faster." in (out / "runs" / alice["id"] / "report.en.html").read_text(encoding="utf-8")
    assert "GRU가 더 빨랐다." in (out / "runs" / alice["id"] / "report.ko.html").read_text(encoding="utf-8")
    assert "en: yes, 16 characters in 1 section" in row_text((out / "index.html").read_text(encoding="utf-8"), alice["id"])
    assert (rows["big.pdf"]["problem"], rows["big.pdf"]["detail"]) == (
        "pdf", "its embedded notes.en.md is 300,000 bytes, more than the 262,144 allowed")
    assert (rows["path.pdf"]["problem"], rows["path.pdf"]["detail"]) == (
        "pdf", "an embedded file is named '../notes.en.md', like a path: only plain file names are read")
    assert (rows["latin.pdf"]["problem"], rows["latin.pdf"]["detail"]) == (
        "render", "notes file notes.en.md is not UTF-8 text (byte 5); save it as UTF-8")
    for name in ("big.pdf", "path.pdf", "latin.pdf"):
        assert not (out / "runs" / rows[name].get("id", name)).exists()


def test_a_pdf_rendered_with_notes_gives_the_site_the_students_section(record_dir, tmp_path):
    """For real: `render` embeds the notes; the site, given the PDF alone, publishes the student's section."""
    (record_dir / "notes.en.md").write_text("# Discussion\n\nMy own words on the gates.\n", encoding="utf-8")
    result = run_cli("render", "--out", str(record_dir), "--format", "pdf", "--lang", "en")
    assert result.returncode == 0, result.stderr[-3000:]
    subs = tmp_path / "class"
    subs.mkdir()
    shutil.copyfile(record_dir / "report.en.pdf", subs / "alice.pdf")
    out = tmp_path / "site"
    result = run_cli("site", str(subs), "--out", str(out), "--lang", "en")
    assert result.returncode == 0, result.stderr[-3000:]
    [row] = json.loads((out / "summary.json").read_text(encoding="utf-8"))["runs"]
    assert row["own_sections"] == {"en": {"sections": 1, "characters": 21}}
    assert "My own words on the gates." in (out / "runs" / row["id"] / "report.en.html").read_text(encoding="utf-8")
    assert "en: yes, 21 characters in 1 section" in row_text((out / "index.html").read_text(encoding="utf-8"), row["id"])

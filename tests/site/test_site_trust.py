"""`labreport site` on hostile submissions, built from copies of the checked-in record (no training).

Each hostile run is either published from what the site rendered itself, or listed with one exact
reason; the rest of the class is published, and nothing from outside the runs reaches the site.
"""

import copy
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from labreport.core import LabreportError
from labreport.report import embedding
from labreport.report import files as report_files
from labreport.site import publish as site
from labreport.site import submissions as runs
from tests.conftest import tar_with_a_huge_header

CANARY = "CANARY-outside-the-runs-7f3a"


def save(folder, record):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    return folder


def covered(record, student_id, name="Student"):
    record = copy.deepcopy(record)
    record["config"]["report"].update(student_id=student_id, name=name)
    return record


def tar_bytes(members):
    """A .tar.gz in memory: members are (name, bytes) or (name, TarInfo-type, link target)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for member in members:
            info = tarfile.TarInfo(member[0])
            if len(member) == 3:
                info.type, info.linkname = member[1], member[2]
                archive.addfile(info)
            else:
                info.size = len(member[1])
                archive.addfile(info, io.BytesIO(member[1]))
    return buffer.getvalue()


def zip_bytes(members):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


def reason_of(summary, source_end):
    """(problem, detail) of the one run whose source ends with `source_end`; a published run has no detail."""
    [found] = [r for r in summary["runs"] if r["source"].endswith(source_end)]
    return found["problem"], found.get("detail")


@pytest.fixture(scope="module")
def hostile_class(tmp_path_factory, checked_in_record):
    """A class of one honest run and every kind of hostile one, with a canary planted outside the runs."""
    root = tmp_path_factory.mktemp("hostile")
    canary = root / "instructor-secret.txt"
    canary.write_text(f"{CANARY}\n# heading {CANARY}\n", encoding="utf-8")
    subs = root / "submissions"
    record = json.dumps(checked_in_record).encode()
    save(subs / "honest", covered(checked_in_record, "2024001", "Honest"))
    # Notes named by the record: the instructor's own files.
    passwd = covered(checked_in_record, "2024002")
    passwd["config"]["report"]["notes"] = {"ko": "/etc/passwd", "en": str(canary)}
    save(subs / "passwd", passwd)
    # A student's own report with a script, and notes that name a file that does not exist.
    scripted = covered(checked_in_record, "2024003")
    scripted["config"]["report"]["notes"] = {"en": str(root / "missing" / "notes.en.md")}
    save(subs / "scripted", scripted)
    (subs / "scripted" / "report.en.html").write_text(f"<html><script>alert('{CANARY}')</script></html>")
    (subs / "scripted" / "report.en.pdf").write_bytes(b"%PDF-1.4 " + CANARY.encode())
    # Links out of the run: the notes in a folder, and in a tar.
    save(subs / "linked", covered(checked_in_record, "2024004"))
    os.symlink(canary, subs / "linked" / "notes.en.md")
    (subs / "linked.tar.gz").write_bytes(tar_bytes([("run/results.json", record),
                                                    ("run/notes.en.md", tarfile.SYMTYPE, str(canary))]))
    # NaN in a record.
    nan = json.dumps(covered(checked_in_record, "2024005")).replace('"accuracy": 0.', '"accuracy": NaN, "x": 0.', 1)
    (subs / "nan").mkdir()
    (subs / "nan" / "results.json").write_text(nan, encoding="utf-8")
    # Live numbers that would build huge text.
    save(subs / "huge-filter", covered(checked_in_record, "2024006"))
    (subs / "huge-filter" / "notes.en.md").write_text("# Discussion\n\n{{ models.gru.test.accuracy | num(100000000) }}\n")
    long_string = covered(checked_in_record, "2024007")
    long_string["environment"]["command"] = "x" * 200_000
    save(subs / "huge-notes", long_string)
    (subs / "huge-notes" / "notes.en.md").write_text("# Discussion\n\n" + "{{ environment.command }} " * 10)
    save(subs / "big-notes", covered(checked_in_record, "2024008"))
    (subs / "big-notes" / "notes.en.md").write_text("# Discussion\n\n" + "words " * 50_000)
    # Archives: nested ones whose total passes the (lowered) budget, too many members, too deep.
    # Each inner archive unpacks to 0.7 MB, under the budget alone; the two together pass it.
    first = zip_bytes([("zeros.bin", b"\0" * 700_000)])
    second = zip_bytes([("zeros.bin", b"\0" * 700_000), ("run/results.json", record)])
    (subs / "bomb.zip").write_bytes(zip_bytes([("a.zip", first), ("b.zip", second)]))
    (subs / "many.tar.gz").write_bytes(tar_bytes([("run/results.json", record)] + [(f"run/{i}.txt", b"") for i in range(60)]))
    deep = zip_bytes([("run/results.json", record)])
    for level in range(4):
        deep = zip_bytes([(f"level{level}.zip", deep)])
    (subs / "deep.zip").write_bytes(deep)
    # Notes whose structure, not their bytes, would cost the PDF minutes.
    save(subs / "many-headings", covered(checked_in_record, "2024010"))
    (subs / "many-headings" / "notes.en.md").write_text("\n".join(f"# h{i}" for i in range(8000)))
    # Tar headers whose long name or PAX record claims a terabyte, or 300 MB: refused before they are read.
    tar_with_a_huge_header(subs / "huge-name.tar", tarfile.GNUTYPE_LONGNAME, 1 << 40)
    tar_with_a_huge_header(subs / "huge-pax.tar.gz", tarfile.XHDTYPE, 300 << 20)
    # A model name matplotlib would read as markup.
    markup = covered(checked_in_record, "2024009")
    markup["models"]["gru"]["display_name"] = r"$\frac{}{}$"
    save(subs / "mathtext", markup)
    return root


@pytest.fixture(scope="module")
def hostile_site(hostile_class):
    patch = pytest.MonkeyPatch()
    patch.setattr(runs, "MAX_ARCHIVE_BYTES", 1024 * 1024)  # 1 MiB, so the test's own archives stay small
    patch.setattr(runs, "MAX_ARCHIVE_MEMBERS", 50)
    try:
        out = hostile_class / "site"
        summary = site.build([hostile_class / "submissions"], out, languages=["en"])
    finally:
        patch.undo()
    return out, summary


HOSTILE_REASONS = [
    ("/linked", "render", "notes.en.md is a link: a run's files are read from the run itself only"),
    ("/linked.tar.gz", "archive", "member 'run/notes.en.md' is a link or a device, not a file"),
    ("/nan", "record", "models.gru.test.accuracy is NaN"),
    ("/huge-filter", "render",
     "notes.en.md, line 3: the filter `num` takes a number of decimals from 0 to 10, not '100000000'"),
    ("/huge-notes", "render",
     "notes.en.md, line 3: with its live numbers filled in, the notes grow past 1,048,576 characters"),
    ("/big-notes", "render", "notes.en.md is 300,014 bytes, more than the 262,144 allowed"),
    ("/bomb.zip:b.zip", "archive", "it unpacks to more than 1 MiB"),
    ("/many.tar.gz", "archive", "it holds more than 50 members"),
    ("/deep.zip:level3.zip:level2.zip:level1.zip", "archive", "archives are nested more than 3 deep"),
    ("/many-headings", "render",
     "notes.en.md, line 51: more than 50 sections (top-level headings); notes hold at most that many"),
    ("/huge-name.tar", "archive", "a tar header (GNU long name) claims 1,099,511,627,776 bytes, more than the limit "
                                  "of 65,536"),
    ("/huge-pax.tar.gz", "archive", "a tar header (PAX record) claims 314,572,800 bytes, more than the limit of 65,536"),
]


@pytest.mark.parametrize("source_end, problem, detail", HOSTILE_REASONS, ids=[case[0] for case in HOSTILE_REASONS])
def test_a_hostile_run_is_listed_with_its_reason(hostile_site, source_end, problem, detail):
    _, summary = hostile_site
    assert reason_of(summary, source_end) == (problem, detail)


def test_notes_a_record_names_are_not_read_and_do_not_stop_the_run(hostile_site):
    _, summary = hostile_site
    assert reason_of(summary, "/passwd") == ("", None)
    assert reason_of(summary, "/scripted") == ("", None)  # its record names notes that do not exist


def test_the_rest_of_the_class_is_published(hostile_site):
    out, summary = hostile_site
    published = {r["id"] for r in summary["runs"] if not r["problem"]}
    assert {"2024001", "2024002", "2024003"} <= published
    for run_id in ("2024001", "2024002", "2024003"):
        assert (out / "runs" / run_id / "report.en.html").stat().st_size > 0
        assert (out / "runs" / run_id / "report.en.pdf").stat().st_size > 0
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "models.gru.test.accuracy is NaN" in index and "it unpacks to more than 1 MiB" in index
    grades = (out / "grades.csv").read_text(encoding="utf-8-sig")
    assert "notes.en.md is a link" in grades and "archives are nested more than 3 deep" in grades


def test_a_model_name_with_markup_is_drawn_as_written(hostile_site):
    out, summary = hostile_site
    assert not reason_of(summary, "/mathtext")[0]  # published: figures draw it as text, not as mathtext
    page = (out / "runs" / "2024009" / "report.en.html").read_text(encoding="utf-8")
    assert page.count(r"$\frac{}{}$") >= 2  # in the tables and as text in the figures


def test_nothing_from_outside_the_runs_reaches_the_site(hostile_site):
    out, _ = hostile_site
    for path in out.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert CANARY.encode() not in data, path
            assert b"root:x:0:0" not in data, path
            assert b"alert(" not in data, path
    assert not any(p.is_symlink() for p in out.rglob("*"))


def test_every_page_carries_a_policy_that_allows_only_its_own_script(hostile_site):
    out, _ = hostile_site
    for path in [out / "index.html", out / "runs" / "2024003" / "report.en.html"]:
        page = path.read_text(encoding="utf-8")
        policy = re.search(r'<head>\s*<meta http-equiv="Content-Security-Policy" content="([^"]*)">', page).group(1)
        policy = policy.replace("&#39;", "'")
        scripts = re.findall(r"<script>(.*?)</script>", page, re.S)
        assert policy == embedding.content_security_policy(scripts)
        assert policy.startswith("default-src 'none'; script-src ") and "http" not in policy
        assert ("'sha256-" in policy) == bool(scripts)
    assert re.findall(r"<script>", (out / "index.html").read_text(encoding="utf-8")) == ["<script>"]


def test_a_corrected_cover_reaches_the_site(tmp_path, checked_in_record):
    run = save(tmp_path / "subs" / "kim", covered(checked_in_record, "2024010", "Old Name"))
    out = tmp_path / "site"
    site.build([tmp_path / "subs"], out, languages=["en"])
    assert "Old Name" in (out / "runs" / "2024010" / "report.en.html").read_text(encoding="utf-8")
    report_files.render_all(run, ["en"], ["html"], report={"name": "New Name"})  # the student's `labreport render`
    assert "New Name" in (run / "report.en.html").read_text(encoding="utf-8")
    beside = tmp_path / ".site.old" / "grades-2023.csv"  # someone's folder beside the site, named as a backup
    beside.parent.mkdir()
    beside.write_text("last year", encoding="utf-8")
    summary = site.build([tmp_path / "subs"], out, languages=["en"])
    assert beside.read_text(encoding="utf-8") == "last year"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".site.old", "site", "subs"]  # no old site left beside
    assert [r["name"] for r in summary["runs"]] == ["New Name"]
    report = (out / "runs" / "2024010" / "report.en.html").read_text(encoding="utf-8")
    assert "New Name" in report and "Old Name" not in report
    assert "New Name" in (out / "index.html").read_text(encoding="utf-8")


def test_render_never_reads_notes_a_record_names(record_dir, tmp_path):
    secret = tmp_path / "secret.md"
    secret.write_text(f"# Secret\n\n{CANARY}\n")
    record = json.loads((record_dir / "results.json").read_text(encoding="utf-8"))
    record["config"]["report"]["notes"] = {"en": str(secret)}
    (record_dir / "results.json").write_text(json.dumps(record), encoding="utf-8")
    (record_dir / "notes.en.md").write_text("# Mine\n\nMy own words.\n")
    report_files.render_all(record_dir, ["en"], ["html"])
    page = (record_dir / "report.en.html").read_text(encoding="utf-8")
    assert CANARY not in page and "My own words." in page
    report_files.render_all(record_dir, ["en"], ["html"], notes={"en": secret})  # the user's own --notes is followed
    assert CANARY in (record_dir / "report.en.html").read_text(encoding="utf-8")


def test_a_site_with_nothing_to_publish_keeps_the_previous_one(hostile_class, tmp_path):
    out = tmp_path / "site"
    out.mkdir()
    (out / "index.html").write_text("the previous site")
    result = subprocess.run([sys.executable, "-m", "labreport", "site", str(hostile_class / "submissions" / "nan"),
                             "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"labreport: error: no run can be published: {hostile_class / 'submissions' / 'nan'}: 기록을 쓸 수 "
        "없다: models.gru.test.accuracy is NaN; the previous site is kept"]
    assert (out / "index.html").read_text() == "the previous site"
    assert [p.name for p in tmp_path.iterdir()] == ["site"]


def test_render_follows_no_link_in_the_output_folder(record_dir, tmp_path):
    """A run folder's own notes and figures are its own files: a link in their place (a sweep's run
    folder, a folder someone else can write) is not read through."""
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "notes.md").write_text(f"# Secret\n\n{CANARY}\n")
    (secret / "private.txt").write_text(CANARY)
    (record_dir / "notes.en.md").symlink_to(secret / "notes.md")
    with pytest.raises(LabreportError, match=r"notes\.en\.md is a link: .* --notes en=FILE"):
        report_files.render_all(record_dir, ["en"], ["html"])
    (record_dir / "notes.en.md").unlink()
    shutil.rmtree(record_dir / "figures", ignore_errors=True)
    (record_dir / "figures").symlink_to(secret)
    report_files.render_all(record_dir, ["en"], ["html"])
    assert CANARY not in (record_dir / "report.en.html").read_text(encoding="utf-8")
    assert not (record_dir / "figures").is_symlink() and not (record_dir / "figures" / "private.txt").exists()
    assert (secret / "private.txt").read_text() == CANARY


def test_a_copy_is_flagged_even_when_the_original_cannot_be_rendered(tmp_path, checked_in_record):
    """A run whose reports cannot be rendered (notes that are not UTF-8, which its student controls)
    is still compared with the class: a copy of its record handed in by another student is flagged
    identical and as sharing its ID, not published clean."""
    original = save(tmp_path / "subs" / "kim", covered(checked_in_record, "2024010"))
    (original / "notes.en.md").write_bytes(b"# Discussion\n\n\xff\xfe")
    shutil.copytree(original, tmp_path / "subs" / "lee")
    (tmp_path / "subs" / "lee" / "notes.en.md").write_text("# Discussion\n\nMy own words.\n", encoding="utf-8")
    summary = site.build([tmp_path / "subs"], tmp_path / "site", languages=["en"], formats=("html",))
    rows = {Path(row["source"]).name: row for row in summary["runs"]}
    assert rows["kim"]["problem"] == "render" and "not UTF-8" in rows["kim"]["detail"]
    assert {"identical", "same_id"} <= {flag["check"] for flag in rows["lee"]["flags"]}

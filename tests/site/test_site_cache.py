"""The site renders only what is new: its cache of pages, read as untrusted input.

Renders are counted from the progress lines the site prints per run rendered (what a TA sees),
and checked on the pages themselves; nothing is mocked.
"""

import copy
import hashlib
import json
import os
import re

import pytest

from labreport.site import cache as site_cache
from labreport.site import publish as site


def save(folder, record, student_id):
    record = copy.deepcopy(record)
    record["config"]["report"].update(student_id=student_id, name=f"Student {student_id}")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    return folder


def build(paths, out):
    """Builds an English HTML site; returns the ids of the runs it rendered (from its progress lines)."""
    lines = []
    site.build(paths, out, languages=["en"], formats=("html",), progress=lines.append)
    return sorted(re.search(r"\((.+)\), about \d+ s left", line).group(1) for line in lines if "rendered" in line)


@pytest.fixture
def two_runs(tmp_path, checked_in_record):
    subs = tmp_path / "subs"
    for student_id in ("2024001", "2024002"):
        save(subs / student_id, checked_in_record, student_id)
    out = tmp_path / "site"
    assert build([subs], out) == ["2024001", "2024002"]
    return subs, out


def test_an_unchanged_class_renders_nothing_and_a_changed_note_renders_its_run_only(two_runs):
    subs, out = two_runs
    kept = out / "runs" / "2024001" / "report.en.html"
    rendered_at = kept.stat().st_mtime_ns
    assert build([subs], out) == []
    assert kept.stat().st_mtime_ns == rendered_at  # a reused page keeps the time it was rendered
    assert "Student 2024001" in kept.read_text(encoding="utf-8")
    (subs / "2024002" / "notes.en.md").write_text("# Discussion\n\nMy own words on the gates.\n", encoding="utf-8")
    assert build([subs], out) == ["2024002"]
    assert "My own words on the gates." in (out / "runs" / "2024002" / "report.en.html").read_text(encoding="utf-8")
    assert "My own words" not in kept.read_text(encoding="utf-8")


def test_a_late_submission_renders_its_run_only(two_runs, tmp_path, checked_in_record):
    subs, out = two_runs
    late = save(tmp_path / "late" / "2024003", checked_in_record, "2024003")
    assert build([subs, late.parent], out) == ["2024003"]
    assert sorted(p.name for p in (out / "runs").iterdir()) == ["2024001", "2024002", "2024003"]


def test_a_tampered_or_foreign_cache_entry_is_rendered_again(two_runs):
    subs, out = two_runs
    entries = sorted((out / site_cache.FOLDER).iterdir())
    assert len(entries) == 2 and all(re.fullmatch(r"[0-9a-f]{64}", p.name) for p in entries)
    by_run = {}
    for entry in entries:
        header = json.loads(entry.read_bytes().split(b"\n", 1)[0])
        by_run["2024001" if "Student 2024001" in entry.read_text(encoding="utf-8") else "2024002"] = (entry, header)
    # One entry's page changed, its header kept: the bytes no longer match what it states.
    entry, _ = by_run["2024001"]
    entry.write_bytes(entry.read_bytes().replace(b"Student 2024001", b"<script>alert(1)</script>"))
    # The other replaced by a well-formed entry of another key (a foreign page under its name).
    entry, header = by_run["2024002"]
    plant(entry, json.dumps(json.loads(header["key"])[:-2] + ["ko", "html"]), b"<p>forged</p>", rendered_ns=0)
    assert build([subs], out) == ["2024001", "2024002"]
    for run_id in ("2024001", "2024002"):
        page = (out / "runs" / run_id / "report.en.html").read_text(encoding="utf-8")
        assert f"Student {run_id}" in page and "alert(1)" not in page and "forged" not in page


def plant(entry, key: str, body: bytes, rendered_ns: int) -> None:
    """Writes over `entry` a well-formed entry without a MAC: `key`'s header, right size and SHA-256, `body`."""
    forged = {"key": key, "sha256": hashlib.sha256(body).hexdigest(), "size": len(body), "rendered_ns": rendered_ns}
    entry.write_bytes(json.dumps(forged).encode() + b"\n" + body)


def test_a_cache_entry_that_is_a_link_is_not_followed(two_runs, tmp_path):
    subs, out = two_runs
    outside = tmp_path / "outside.html"
    entry = sorted((out / site_cache.FOLDER).iterdir())[0]
    outside.write_bytes(entry.read_bytes())
    entry.unlink()
    os.symlink(outside, entry)
    assert len(build([subs], out)) == 1
    assert not any(p.is_symlink() for p in out.rglob("*"))


def test_a_well_formed_entry_planted_under_its_own_key_is_not_served(two_runs):
    """Whoever can write to the site's folder can read an entry's header (its key names everything a
    page depends on) and plant a page of their own under that very key, with the right size and
    SHA-256: the site must render the run again, not publish the planted page."""
    subs, out = two_runs
    for entry in sorted((out / site_cache.FOLDER).iterdir()):
        header = json.loads(entry.read_bytes().split(b"\n", 1)[0])
        plant(entry, header["key"], b"<html><body><p>forged</p><script>alert(1)</script></body></html>",
              rendered_ns=header["rendered_ns"])
    assert build([subs], out) == ["2024001", "2024002"]
    for run_id in ("2024001", "2024002"):
        page = (out / "runs" / run_id / "report.en.html").read_text(encoding="utf-8")
        assert f"Student {run_id}" in page and "forged" not in page and "alert(1)" not in page


def test_a_cache_folder_that_is_a_link_is_not_followed(two_runs, tmp_path):
    """A `.cache` replaced by a link to a folder outside the site (here holding the site's own,
    authentic entries) is not read: every page is rendered again."""
    subs, out = two_runs
    outside = tmp_path / "elsewhere"
    (out / site_cache.FOLDER).rename(outside)
    os.symlink(outside, out / site_cache.FOLDER)
    assert build([subs], out) == ["2024001", "2024002"]
    assert not (out / site_cache.FOLDER).is_symlink() and len(list(outside.iterdir())) == 2


def test_without_a_private_key_no_page_is_reused(two_runs, tmp_path, monkeypatch):
    """The pages are authenticated with the user's own key: one that others can read authenticates
    nothing, so every build renders every page (and keeps none)."""
    subs, out = two_runs
    cache = tmp_path / "readable-cache"
    (cache / "site").mkdir(parents=True)
    (cache / "site" / "check-key").write_bytes(bytes(32))
    (cache / "site" / "check-key").chmod(0o644)
    monkeypatch.setenv("LABREPORT_CACHE_DIR", str(cache))
    assert build([subs], out) == ["2024001", "2024002"]
    assert build([subs], out) == ["2024001", "2024002"]
    assert not (out / site_cache.FOLDER).exists()


@pytest.mark.parametrize("mac", ["é" * 64, "0" * 64, 7])
def test_a_planted_header_never_stops_the_run(two_runs, mac):
    """A planted entry with any `mac` (even text that HMAC comparison refuses to compare) before a page
    near the largest size is turned down: the run is rendered again, not listed as failed."""
    subs, out = two_runs
    for entry in sorted((out / site_cache.FOLDER).iterdir()):
        header = json.loads(entry.read_bytes().split(b"\n", 1)[0])
        body = b"<p>forged</p>" + b" " * (site_cache.MAX_ENTRY_BYTES - 20)
        forged = {**header, "sha256": hashlib.sha256(body).hexdigest(), "size": len(body), "mac": mac}
        entry.write_bytes(json.dumps(forged).encode() + b"\n" + body)
    assert build([subs], out) == ["2024001", "2024002"]
    for run_id in ("2024001", "2024002"):
        assert f"Student {run_id}" in (out / "runs" / run_id / "report.en.html").read_text(encoding="utf-8")

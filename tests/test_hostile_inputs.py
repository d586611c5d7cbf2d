"""Hostile inputs found by attacking labreport as a student or a submission system might: each is one
line, costs its own run only, and destroys nothing. Built from the checked-in record; nothing trains."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from labreport import LabreportError
from labreport.core.config import config_from_dict
from labreport.core.record import parse_record
from labreport.site import checks
from labreport.site import submissions as runs

RECORD = (Path(__file__).parent / "data" / "results.json").read_bytes()


def test_a_site_folder_that_holds_the_submissions_is_refused_and_they_stay(tmp_path):
    student = tmp_path / "class" / "submissions" / "alice"
    student.mkdir(parents=True)
    (student / "results.json").write_bytes(RECORD)
    (tmp_path / "class" / "important.txt").write_text("keep")
    for out in (tmp_path / "class", tmp_path / "class" / "submissions", student / "site"):
        result = subprocess.run([sys.executable, "-m", "labreport", "site", str(tmp_path / "class" / "submissions"),
                                 "--out", str(out)], capture_output=True, text=True, timeout=300)
        assert result.returncode != 0 and "Traceback" not in result.stderr
        assert result.stderr.strip().splitlines()[-1].startswith(f"labreport: error: site folder {out} overlaps the submissions")
        assert (student / "results.json").read_bytes() == RECORD
        assert (tmp_path / "class" / "important.txt").read_text() == "keep"


def zip_with(record: bytes, patch) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("run/results.json", record)
    data = bytearray(buffer.getvalue())
    patch(data)
    return bytes(data)


def encrypted(data: bytearray) -> None:
    data[6] |= 1
    data[data.find(b"PK\x01\x02") + 8] |= 1


def unknown_method(data: bytearray) -> None:
    data[8] = 99
    data[data.find(b"PK\x01\x02") + 10] = 99


@pytest.mark.parametrize("patch, why", [(encrypted, "RuntimeError"), (unknown_method, "NotImplementedError")])
def test_an_archive_the_zip_library_cannot_open_is_listed_as_damaged(tmp_path, patch, why):
    (tmp_path / "bad.zip").write_bytes(zip_with(RECORD, patch))
    good = tmp_path / "good"
    good.mkdir()
    (good / "results.json").write_bytes(RECORD)
    found = {Path(run.source).name: run for run in runs.find([tmp_path / "bad.zip", good], tmp_path / "scratch")}
    assert found["bad.zip"].problem == "archive" and found["bad.zip"].detail.startswith(f"damaged archive ({why}")
    assert not found["good"].problem


def test_folders_nested_deeper_than_python_recurses_are_one_reason(tmp_path):
    with tarfile.open(tmp_path / "deep.tar.gz", "w:gz") as archive:
        info = tarfile.TarInfo("a/" * 700 + "results.json")
        info.size = len(RECORD)
        archive.addfile(info, io.BytesIO(RECORD))
    [run] = runs.find([tmp_path / "deep.tar.gz"], tmp_path / "scratch")
    assert (run.problem, run.detail) == ("archive", f"folders are nested more than {runs.MAX_FOLDER_DEPTH} deep")
    assert len(run.source) <= runs.MAX_DETAIL_CHARACTERS


def test_a_member_name_of_megabytes_is_cut_in_the_reason(tmp_path):
    with tarfile.open(tmp_path / "long.tar", "w", format=tarfile.GNU_FORMAT) as archive:
        info = tarfile.TarInfo("x" * 300_000)
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        archive.addfile(info)
    [run] = runs.find([tmp_path / "long.tar"], tmp_path / "scratch")
    assert run.problem == "archive" and len(run.detail) <= runs.MAX_DETAIL_CHARACTERS


def test_an_integer_python_will_not_read_is_one_line():
    record = json.loads(RECORD)
    raw = json.dumps(record).encode()[:-1] + b', "zz": ' + b"9" * 5000 + b"}"
    with pytest.raises(LabreportError, match=r"^r\.json holds a number labreport cannot read"):
        parse_record(raw, "r.json")


def test_a_display_name_is_text_on_the_page(tmp_path):
    from labreport.report import files as report_files
    record = json.loads(RECORD)
    record["models"]["gru"]["display_name"] = "<meta http-equiv=refresh"
    (tmp_path / "results.json").write_text(json.dumps(record), encoding="utf-8")
    report_files.render_all(tmp_path, ["en"], ["html"])
    page = (tmp_path / "report.en.html").read_text(encoding="utf-8")
    assert "<meta http-equiv=refresh" not in page and "&lt;meta http-equiv=refresh" in page


@pytest.mark.parametrize("pattern", ["{name:>3000000000}{lab}", "{name!r}", "{student_id:{name}}"])
def test_a_submission_name_with_a_format_spec_is_refused(checked_in_record, pattern):
    config = json.loads(json.dumps(checked_in_record["config"]))
    config["report"]["submission_name"] = pattern
    with pytest.raises(LabreportError, match="report.submission_name"):
        config_from_dict(config)


@pytest.mark.parametrize("claimed, why", [
    ((500_000_000,), "predictions.npz: 'gru.npy' has shape (500000000,), not ({n:,},): one value per test review"),
    ((5, 5), "predictions.npz: 'gru.npy' has shape (5, 5), not ({n:,},): one value per test review"),
])
def test_a_predictions_npz_that_claims_gigabytes_is_refused_from_its_header(tmp_path, claimed, why):
    """The header says 4 GB (or another shape); the data is 64 bytes: refused before any array is read."""
    header = np.lib.format.header_data_from_array_1_0(np.zeros(1))
    header["shape"] = claimed
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, header)
    with zipfile.ZipFile(tmp_path / "predictions.npz", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("gru.npy", buffer.getvalue() + b"\0" * 64)
    record = json.loads(RECORD)
    run = runs.Run(source=str(tmp_path), folder=tmp_path, record=record)
    assert checks.load_predictions(run) is None
    n = record["dataset"]["splits"]["test"]["total"]
    assert run.flags == [checks.Flag("predictions_unreadable", {"why": why.format(n=n)})]


def test_a_predictions_npz_of_other_things_than_numbers_is_refused(tmp_path):
    record = json.loads(RECORD)
    n = record["dataset"]["splits"]["test"]["total"]
    np.savez(tmp_path / "predictions.npz", labels=np.array(["x"] * n))
    run = runs.Run(source=str(tmp_path), folder=tmp_path, record=record)
    assert checks.load_predictions(run) is None
    assert run.flags == [checks.Flag("predictions_unreadable", {"why": "predictions.npz: 'labels.npy' holds <U1, not numbers (booleans, integers or floats)"})]
    np.savez(tmp_path / "predictions.npz", labels=np.zeros(n, dtype=np.int64), gru=np.full(n, 0.5, dtype=np.float32))
    run.flags = []
    assert set(checks.load_predictions(run)) == {"labels", "gru"} and run.flags == []


NINES = "9" * 5000


def test_an_integer_of_5000_digits_in_a_config_file_is_one_line(tmp_path):
    from labreport.core.config import load_config
    (tmp_path / "huge.toml").write_text(f"[train]\nepochs = {NINES}\n")
    with pytest.raises(LabreportError, match=r"^config file .*huge\.toml holds a number labreport cannot read "
                                             r"\(an integer of thousands of digits\)$"):
        load_config(tmp_path / "huge.toml")


def test_an_integer_of_5000_digits_in_vary_is_one_line():
    from labreport.sweep import grid
    with pytest.raises(LabreportError) as caught:
        grid.parse_vary(f"max_length={NINES}")
    assert str(caught.value) == "--vary max_length: 99999999999999999999… has 5,000 digits, more than labreport reads"


@pytest.mark.parametrize("port", ["0", "65536", "99999"])
def test_an_address_with_a_port_out_of_range_is_refused(port):
    from labreport.sweep import engine
    with pytest.raises(LabreportError) as caught:
        engine.checked_address(f"127.0.0.1:{port}")
    assert str(caught.value) == (f"Received an invalid value for `--address`: the port must be from 1 to 65535, "
                                 f"received: {int(port)} (in '127.0.0.1:{port}')")
    assert engine.checked_address("127.0.0.1:65535") == "127.0.0.1:65535"


def test_a_notes_file_hard_linked_to_a_file_elsewhere_is_refused(tmp_path):
    from labreport.report import files
    outside, out = tmp_path / "secret.txt", tmp_path / "out"
    outside.write_text("private")
    out.mkdir()
    (out / "notes.ko.md").hardlink_to(outside)
    with pytest.raises(LabreportError) as caught:
        files.notes_files(out, ["ko"], None)
    assert str(caught.value) == (f"{out / 'notes.ko.md'} has other names (hard links): the notes are read from the "
                                 "output folder itself; give the file with --notes ko=FILE")

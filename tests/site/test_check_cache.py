"""A late build reuses each unchanged run's checks, and never trusts the site's folder to say so.

What was reused is counted from the progress line the site prints (what a TA sees) and checked on
the site's summary; the entries planted here are what someone who can write to the site's folder,
but cannot read the user's own cache, could plant. Nothing is mocked.
"""

import copy
import hashlib
import hmac
import json
import os
import re
import secrets

import numpy as np
import pytest

from labreport.core.stats import metrics
from labreport.site import check_cache
from labreport.site import publish as site


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    """Each test's HMAC key in a cache folder of its own."""
    monkeypatch.setenv("LABREPORT_CACHE_DIR", str(tmp_path / "user-cache"))


def write_run(folder, record, student_id, seed, edited=False):
    """The checked-in record under its own cover with predictions that reproduce its metrics; `edited`
    then raises one accuracy by hand (the `edited` flag)."""
    record = copy.deepcopy(record)
    record["config"]["report"].update(student_id=student_id, name=f"Student {student_id}")
    reviews = record["dataset"]["splits"]["test"]["total"]
    rng = np.random.default_rng(seed)
    labels = np.repeat([0, 1], reviews // 2).astype(np.int64)
    arrays = {"labels": labels}
    for model, entry in record["models"].items():
        for key, suffix in (("test", ""), ("test_last_epoch", "_last")):
            arrays[model + suffix] = rng.uniform(0, 1, reviews).astype(np.float32)
            entry[key].update(metrics(labels, arrays[model + suffix]))
    if edited:
        record["models"]["gru"]["test"]["accuracy"] = 0.99
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / "predictions.npz", **arrays)
    (folder / "results.json").write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    return folder


def build(paths, out, assignment=None):
    """Builds an English HTML site; returns (runs whose checks were reused, runs checked, flags by run id)."""
    lines = []
    summary = site.build(paths, out, assignment=assignment, languages=["en"], formats=("html",), progress=lines.append)
    reused, checked = map(int, re.search(r"checks of (\d+) unchanged runs reused, (\d+) runs checked",
                                         next(line for line in lines if "checks of" in line)).groups())
    return reused, checked, {row["id"]: sorted(flag["check"] for flag in row["flags"]) for row in summary["runs"]}


@pytest.fixture
def class_site(tmp_path, checked_in_record):
    """A built site of two runs: 2024001 edited by hand (flagged), 2024002 clean."""
    subs = tmp_path / "subs"
    write_run(subs / "2024001", checked_in_record, "2024001", seed=1, edited=True)
    write_run(subs / "2024002", checked_in_record, "2024002", seed=2)
    out = tmp_path / "site"
    assert build([subs], out) == (0, 2, {"2024001": ["edited", "quick"], "2024002": ["quick"]})
    return subs, out


def entry_path(out, run_folder):
    """Where the site keeps the check entry of the run in `run_folder` as it is now."""
    cache = check_cache.CheckCache(out, check_cache.secret_key())
    key = cache.key(hashlib.sha256((run_folder / "results.json").read_bytes()).hexdigest(),
                    (run_folder / "predictions.npz").read_bytes())
    return out / check_cache.FOLDER / check_cache.entry_name(key), key


def test_a_late_build_reuses_the_checks_of_every_unchanged_run(class_site, tmp_path, checked_in_record):
    subs, out = class_site
    late = write_run(tmp_path / "late" / "2024003", checked_in_record, "2024003", seed=3)
    reused, checked, flags = build([subs, late.parent], out)
    assert (reused, checked) == (2, 1)
    assert flags == {"2024001": ["edited", "quick"], "2024002": ["quick"], "2024003": ["quick"]}
    assert entry_path(out, late)[0].is_file()
    assert len(list((out / check_cache.FOLDER).iterdir())) == 3


def test_a_run_handed_in_again_is_still_identical_to_the_one_reused(class_site, tmp_path):
    """The checks across runs compare every run every build, reused or not."""
    subs, out = class_site
    copy_of = tmp_path / "late" / "copy"
    copy_of.mkdir(parents=True)
    for name in ("results.json", "predictions.npz"):
        (copy_of / name).write_bytes((subs / "2024002" / name).read_bytes())
    reused, checked, flags = build([subs, copy_of.parent], out)
    assert reused == 3 and checked == 0  # the copy's bytes are 2024002's: its entry serves both
    assert flags["2024001"] == ["edited", "quick"]
    assert [flags[run] for run in flags if run != "2024001"] == [["identical", "quick", "same_id"]] * 2


def test_an_edited_record_is_checked_again(class_site):
    subs, out = class_site
    record = json.loads((subs / "2024002" / "results.json").read_text(encoding="utf-8"))
    record["models"]["lstm"]["test"]["f1"] = 0.5
    (subs / "2024002" / "results.json").write_text(json.dumps(record), encoding="utf-8")
    assert build([subs], out) == (1, 1, {"2024001": ["edited", "quick"], "2024002": ["edited", "quick"]})


def test_edited_predictions_are_checked_again(class_site):
    subs, out = class_site
    arrays = dict(np.load(subs / "2024002" / "predictions.npz"))
    arrays["gru"] = 1 - arrays["gru"]
    np.savez(subs / "2024002" / "predictions.npz", **arrays)
    assert build([subs], out) == (1, 1, {"2024001": ["edited", "quick"], "2024002": ["edited", "quick"]})


def test_predictions_taken_away_are_checked_again(class_site):
    subs, out = class_site
    (subs / "2024002" / "predictions.npz").unlink()
    assert build([subs], out) == (1, 1, {"2024001": ["edited", "quick"], "2024002": ["no_predictions", "quick"]})


def test_edited_notes_and_assignment_show_on_a_build_that_reuses_the_checks(class_site, tmp_path):
    """What a student wrote and the settings against the assignment are computed every build."""
    subs, out = class_site
    (subs / "2024002" / "notes.en.md").write_text("# Discussion\n\nMy own words.\n", encoding="utf-8")
    assignment = tmp_path / "assignment.toml"
    assignment.write_text("[model]\nhidden_units = 99\n", encoding="utf-8")
    reused, checked, flags = build([subs], out, assignment=assignment)
    assert (reused, checked) == (2, 0)
    assert flags == {"2024001": ["edited", "quick", "settings"], "2024002": ["quick", "settings"]}
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    own = {row["id"]: row["own_sections"]["en"] for row in summary["runs"]}
    assert own == {"2024001": {"sections": 0, "characters": 0}, "2024002": {"sections": 1, "characters": 11}}


def clean_results_for(out, subs):
    """An entry's payload saying the flagged run 2024001 is clean (2024002's results)."""
    path, _ = entry_path(out, subs / "2024002")
    return json.loads(path.read_bytes().partition(b"\n")[2])["results"]


def plant(path, key, results, secret, padding=0):
    payload = json.dumps({"key": key, "results": results}).encode() + b" " * padding
    path.write_bytes(hmac.new(secret, payload, hashlib.sha256).hexdigest().encode() + b"\n" + payload)


def test_a_forged_entry_does_not_make_a_flagged_run_look_clean(class_site):
    subs, out = class_site
    path, key = entry_path(out, subs / "2024001")
    plant(path, key, clean_results_for(out, subs), secrets.token_bytes(check_cache.KEY_BYTES))
    assert build([subs], out) == (1, 1, {"2024001": ["edited", "quick"], "2024002": ["quick"]})


def test_another_runs_entry_renamed_is_not_reused(class_site):
    subs, out = class_site
    path, _ = entry_path(out, subs / "2024001")
    path.write_bytes(entry_path(out, subs / "2024002")[0].read_bytes())
    assert build([subs], out) == (1, 1, {"2024001": ["edited", "quick"], "2024002": ["quick"]})


def test_a_huge_entry_is_not_read(class_site):
    """Authentic but over the bound: refused for its size alone, before it is read."""
    subs, out = class_site
    path, key = entry_path(out, subs / "2024001")
    plant(path, key, clean_results_for(out, subs), check_cache.secret_key(), padding=check_cache.MAX_ENTRY_BYTES)
    assert build([subs], out) == (1, 1, {"2024001": ["edited", "quick"], "2024002": ["quick"]})


@pytest.mark.parametrize("damage", ["cut", "empty", "not json", "a folder"])
def test_a_corrupt_entry_is_checked_afresh(class_site, damage):
    subs, out = class_site
    path, _ = entry_path(out, subs / "2024001")
    data = path.read_bytes()
    path.unlink()
    if damage == "a folder":
        path.mkdir()
    else:
        path.write_bytes({"cut": data[:-20], "empty": b"", "not json": b"\x00" * 64 + b"\n{"}[damage])
    assert build([subs], out) == (1, 1, {"2024001": ["edited", "quick"], "2024002": ["quick"]})


def test_an_entry_that_is_a_link_is_not_followed(class_site, tmp_path):
    """The run's own authentic entry, moved out and linked back: reused only if the link were followed."""
    subs, out = class_site
    path, _ = entry_path(out, subs / "2024002")
    outside = tmp_path / "outside-entry"
    outside.write_bytes(path.read_bytes())
    path.unlink()
    os.symlink(outside, path)
    assert build([subs], out) == (1, 1, {"2024001": ["edited", "quick"], "2024002": ["quick"]})


def test_an_entries_folder_that_is_a_link_is_not_followed(class_site, tmp_path):
    subs, out = class_site
    folder = out / check_cache.FOLDER
    folder.rename(tmp_path / "outside-entries")
    os.symlink(tmp_path / "outside-entries", folder)
    assert build([subs], out) == (0, 2, {"2024001": ["edited", "quick"], "2024002": ["quick"]})


def test_a_key_others_can_read_authenticates_nothing(class_site):
    subs, out = class_site
    key_file = check_cache.fileio.user_cache_folder() / check_cache.KEY_FILE
    key_file.chmod(0o644)
    assert check_cache.secret_key() is None
    assert build([subs], out) == (0, 2, {"2024001": ["edited", "quick"], "2024002": ["quick"]})


def test_the_key_is_made_private_in_the_users_cache(tmp_path):
    key_file = check_cache.fileio.user_cache_folder() / check_cache.KEY_FILE
    assert not key_file.exists()
    secret = check_cache.secret_key()
    assert len(secret) == check_cache.KEY_BYTES and check_cache.secret_key() == secret
    assert key_file.stat().st_mode & 0o777 == 0o600 and key_file.parent.stat().st_mode & 0o777 == 0o700

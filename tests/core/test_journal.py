"""The swap's journal is labreport's, not the folder's (labreport.core.staging).

A corpus of folders as a hostile archive or a copy leaves them: each case asserts the exact line
and the sha256 of every file inside OUT and in a victim folder planted next to it, before and after.
Faults are real: links, FIFOs, a genuine kill mid-swap, a rename that fails (injected into
`os.rename`, as a read-only subfolder or a file open in a viewer on Windows makes it fail).
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from labreport.core import LabreportError, staging
from tests.core.test_replace import KILLER, NEW, OLD, RUN_ENTRIES, THEIRS, expected, hashes, write_tree


def everything(root: Path) -> dict:
    """Every file and link under `root` (OUT and the victim beside it), with its content's or target's hash."""
    found = {}
    for path in sorted(root.rglob("*")):
        name = path.relative_to(root).as_posix()
        if path.name == staging.LOCK:
            continue
        if path.is_symlink():
            found[name] = "link to " + os.readlink(path)
        elif path.is_file():
            found[name] = hashlib.sha256(path.read_bytes()).hexdigest()
        elif path.is_dir():
            found[name] = "folder"
        else:
            found[name] = "other"
    return found


def refused(out: Path) -> str:
    with pytest.raises(LabreportError) as caught:
        with staging.locked(out, "labreport render"):
            pytest.fail("the command ran on a folder it should have refused")
    return str(caught.value)


REFUSAL = ("{out} holds a .labreport-next or .labreport-previous that this labreport did not leave here "
           "(a link, a copy, or files from elsewhere); nothing was changed: if it is not yours, remove both "
           "and try again")


@pytest.fixture
def planted(tmp_path):
    """OUT with an old run and the student's files, and a victim folder next to it."""
    out, victim = tmp_path / "out", tmp_path / "victim"
    write_tree(out, {**OLD, **THEIRS})
    write_tree(victim, {"results.json": b"victim record", "thesis.tex": b"two years of work", "sub/data.csv": b"1,2"})
    return out, victim


def manifest(new=("results.json",), removed=()):
    return json.dumps({"new": list(new), "removed": list(removed)}).encode()


CASES = {
    # The attack: a planted manifest, and the folder for old entries a link to a folder outside OUT.
    "planted manifest, previous links out": lambda out, victim: (
        write_tree(out / staging.NEXT, {"results.json": b"evil", staging.MANIFEST: manifest(removed=["history"])}),
        (out / staging.PREVIOUS).symlink_to(victim)),
    "previous links out, no staging folder": lambda out, victim: (out / staging.PREVIOUS).symlink_to(victim),
    "staging folder links out": lambda out, victim: (out / staging.NEXT).symlink_to(victim),
    "staging folder links out, manifest there": lambda out, victim: (
        write_tree(victim, {staging.MANIFEST: manifest()}), (out / staging.NEXT).symlink_to(victim)),
    "manifest names a path outside": lambda out, victim: write_tree(
        out / staging.NEXT, {staging.MANIFEST: json.dumps({"new": ["../victim"], "removed": []}).encode()}),
    "manifest is a link": lambda out, victim: (
        write_tree(victim, {"m.json": manifest()}), (out / staging.NEXT).mkdir(),
        (out / staging.NEXT / staging.MANIFEST).symlink_to(victim / "m.json")),
    "staging folder of someone else's files": lambda out, victim: write_tree(out / staging.NEXT, {"results.json": b"x"}),
    "previous is a file": lambda out, victim: (out / staging.PREVIOUS).write_bytes(b"mine"),
    "planted manifest with a guessed journal": lambda out, victim: (
        write_tree(out / staging.NEXT, {"results.json": b"evil"}), (out / staging.PREVIOUS).mkdir(),
        (out / staging.LOCK).write_text("pid 1, x\njournal 00"),
        (out / staging.NEXT / staging.MANIFEST).write_text(json.dumps(
            {"out": [1, 2], "staging": [3, 4], "previous": [5, 6], "token": "00", "new": ["results.json"], "removed": []}))),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_staging_state_labreport_did_not_write_is_refused_untouched(planted, case):
    out, victim = planted
    CASES[case](out, victim)
    before = everything(out.parent)
    assert refused(out) == REFUSAL.format(out=out)
    assert everything(out.parent) == before


def test_a_planted_journal_stops_render_with_one_line_and_nothing_moves(record_dir):
    """The attack of issue 32 end to end: `labreport render` on an unpacked folder whose journal
    points outside it deleted the victim folder and moved results.json out of OUT."""
    victim = record_dir.parent / "victim"
    write_tree(victim, {"results.json": b"victim record", "thesis.tex": b"two years of work"})
    write_tree(record_dir / staging.NEXT, {staging.MANIFEST: json.dumps({"new": [], "removed": ["results.json", "thesis.tex"]}).encode()})
    (record_dir / staging.PREVIOUS).symlink_to(victim)
    before = everything(record_dir.parent)
    result = subprocess.run([sys.executable, "-m", "labreport", "render", "--out", str(record_dir), "--lang", "en",
                             "--format", "html"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert result.stderr.strip() == "labreport: error: " + REFUSAL.format(out=record_dir)
    assert everything(record_dir.parent) == before


def test_a_genuine_journal_copied_to_another_folder_is_not_finished_there(tmp_path):
    """A swap killed mid-way in A is finished in A; a copy of A (another inode, and no lock token
    of its own) is not a journal of the copy's, so the copy is refused as it is."""
    first = tmp_path / "first"
    write_tree(first, {**OLD, **THEIRS})
    result = subprocess.run([sys.executable, "-c", KILLER.format(entries=RUN_ENTRIES, new=NEW), str(first), "3"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode < 0 and (first / staging.NEXT / staging.MANIFEST).is_file()
    copy = tmp_path / "copy"
    shutil.copytree(first, copy, symlinks=True)
    before = everything(copy)
    assert refused(copy) == REFUSAL.format(out=copy)
    assert everything(copy) == before
    lock = (first / staging.LOCK).read_bytes()
    (first / staging.LOCK).write_text("pid 1, labreport train")  # the journal's token is the lock holder's: gone, not proven
    before = everything(first)
    assert refused(first) == REFUSAL.format(out=first)
    assert everything(first) == before
    (first / staging.LOCK).write_bytes(lock)
    with staging.locked(first):  # the folder the journal was written in finishes its swap
        pass
    assert hashes(first) == expected(NEW)


def test_a_kill_before_the_manifest_is_cleared_at_the_next_start(tmp_path):
    out = tmp_path / "out"
    write_tree(out, {**OLD, **THEIRS})
    result = subprocess.run([sys.executable, "-c", KILLER.format(entries=RUN_ENTRIES, new=NEW), str(out), "0"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode < 0 and (out / staging.NEXT / staging.STARTED).is_file()
    with staging.locked(out):
        pass
    assert hashes(out) == expected(OLD)
    assert not os.path.lexists(out / staging.NEXT) and not os.path.lexists(out / staging.PREVIOUS)


def swap(out: Path, files: dict, replaces=RUN_ENTRIES) -> None:
    with staging.locked(out, "labreport train"):
        stage = staging.begin(out)
        write_tree(stage, files)
        staging.commit(out, replaces)


@pytest.mark.parametrize("failing", ["history", "models", "predictions.npz", "results.json"])
def test_a_rename_that_fails_midway_is_undone_and_named(planted, monkeypatch, failing):
    """The swap moves entries in name order; a rename of `failing` that fails (EACCES, as a
    read-only subfolder or a report open on Windows makes it) puts back every entry already swapped."""
    out, victim = planted
    before = everything(out.parent)
    real = os.rename

    def rename(source, target):
        if Path(source).name == failing:
            raise PermissionError(13, "Permission denied")
        return real(source, target)

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(LabreportError) as caught:
        swap(out, NEW)
    assert str(caught.value) == f"cannot replace {failing} in {out}: Permission denied; the previous run was kept as it was"
    assert everything(out.parent) == before
    monkeypatch.setattr(os, "rename", real)
    swap(out, NEW)  # nothing is left behind that stops the next command
    assert hashes(out) == expected(NEW)


def test_a_lock_file_that_is_a_fifo_is_one_line(planted):
    out, victim = planted
    os.mkfifo(out / staging.LOCK)
    before = everything(out.parent)
    with pytest.raises(LabreportError) as caught:
        swap(out, NEW)
    assert str(caught.value) == (f"{out / staging.LOCK} is not a plain file: the lock file is labreport's own; "
                                 "remove it and try again")
    assert everything(out.parent) == before and not (out / staging.LOCK).is_file()


def test_a_lock_file_with_another_name_is_not_truncated(planted):
    """A hard link to a file elsewhere (e.g. made by another account) would be truncated and written as the lock."""
    out, victim = planted
    os.link(victim / "thesis.tex", out / staging.LOCK)
    with pytest.raises(LabreportError) as caught:
        swap(out, NEW)
    assert str(caught.value) == (f"{out / staging.LOCK} is a file with other names (hard links) too: the lock file "
                                 "is labreport's own; remove it and try again")
    assert (victim / "thesis.tex").read_bytes() == b"two years of work"
    assert hashes(out) == expected(OLD)

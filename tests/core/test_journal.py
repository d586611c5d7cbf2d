"""The swap's journal is labreport's, not the folder's (labreport.core.staging).

A corpus of folders as a hostile archive or a copy leaves them: each case asserts the exact line
and the sha256 of every file inside OUT and in a victim folder planted next to it, before and after.
Faults are real: links, FIFOs, a genuine kill mid-swap, a rename that fails (injected into
`os.rename`, as a read-only subfolder or a file open in a viewer on Windows makes it fail).
"""

import hashlib
import itertools
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


class Killed(BaseException):
    """A kill: nothing after it runs, no `except OSError` catches it, and the lock goes with the process's descriptor."""


def killed_after(monkeypatch, function: str, name: str) -> None:
    """`os.<function>` does its work, then the process is "killed" when the folder made or the target is `name`."""
    real = getattr(os, function)

    def call(*args, **kwargs):
        result = real(*args, **kwargs)
        if Path(args[0] if function == "mkdir" else args[1]).name == name:
            monkeypatch.setattr(os, function, real)
            raise Killed(function)
        return result

    monkeypatch.setattr(os, function, call)
    if function == "mkdir":
        # Python 3.10's Path.mkdir calls the os.mkdir that pathlib took at import (its accessor), which the
        # patch above does not reach; routed through os, the kill lands on every Python.
        real_path_mkdir = Path.mkdir

        def path_mkdir(self, mode=0o777, parents=False, exist_ok=False):
            if parents or exist_ok:
                return real_path_mkdir(self, mode, parents, exist_ok)
            return os.mkdir(self, mode)

        monkeypatch.setattr(Path, "mkdir", path_mkdir)


@pytest.mark.parametrize("step", ["mkdir", "replace", "rename"])
def test_a_recovery_killed_after_it_remakes_the_folder_for_old_entries_is_recovered_too(planted, monkeypatch, step):
    """A swap killed after it deleted `.labreport-previous`, before its manifest went; the next
    command's recovery makes that folder again and is killed at `step` (made, named in the
    manifest, moved into place): the command after it finishes the swap, where it refused with
    one line when the folder was made in place before the manifest knew it."""
    out, victim = planted
    real_unlink = os.unlink

    def unlink(path, *args, **kwargs):
        if Path(path).name == staging.MANIFEST:
            raise Killed("unlink")
        return real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "unlink", unlink)
    with pytest.raises(Killed):
        swap(out, NEW)
    monkeypatch.setattr(os, "unlink", real_unlink)
    assert (out / staging.NEXT / staging.MANIFEST).is_file() and not os.path.lexists(out / staging.PREVIOUS)
    killed_after(monkeypatch, step, {"mkdir": staging.PREVIOUS, "replace": staging.MANIFEST, "rename": staging.PREVIOUS}[step])
    with pytest.raises(Killed):
        with staging.locked(out, "labreport render"):
            pytest.fail("the recovery should have been killed")
    with staging.locked(out, "labreport render"):
        pass
    assert hashes(out) == expected(NEW)
    assert not os.path.lexists(out / staging.NEXT) and not os.path.lexists(out / staging.PREVIOUS)
    assert (victim / "thesis.tex").read_bytes() == b"two years of work"


@pytest.mark.parametrize("undone", [False, True])
def test_a_kill_while_an_unfinished_staging_folder_is_deleted_is_cleared_at_the_next_start(planted, monkeypatch, undone):
    """A staging folder without a manifest (a failed build, or a swap undone after a rename failed)
    is deleted file by file; a kill after each deletion in turn leaves a folder the next start still
    proves (its `.started` goes last) and clears, where a folder whose `.started` had gone first was
    refused with one line."""
    out, victim = planted
    real_rename = os.rename

    def rename(source, target):
        if Path(source).name == "results.json":  # the last entry of the swap: the others were swapped
            raise PermissionError(13, "Permission denied")
        return real_rename(source, target)

    files = {**NEW, "b.txt": b"b", "c.txt": b"c", "z.txt": b"z"}
    real_unlink = os.unlink
    for kill_at in itertools.count():  # until the deletion runs to its end unkilled
        calls = [0]

        # Bound as defaults: each pass's deletion counts its own calls against its own kill point.
        def unlink(path, *args, calls=calls, kill_at=kill_at, **kwargs):
            real_unlink(path, *args, **kwargs)
            calls[0] += 1
            if calls[0] > kill_at:
                raise Killed("unlink")

        with pytest.raises((Killed, LabreportError)) as caught:
            with staging.locked(out, "labreport build"):
                write_tree(staging.begin(out), files)
                monkeypatch.setattr(os, "unlink", unlink)
                if undone:
                    monkeypatch.setattr(os, "rename", rename)
                    staging.commit(out, RUN_ENTRIES)
                raise LabreportError("the render failed")  # the staging folder is cleared: killed midway
        monkeypatch.setattr(os, "unlink", real_unlink)
        monkeypatch.setattr(os, "rename", real_rename)
        with staging.locked(out, "labreport build"):
            pass
        assert hashes(out) == expected(OLD)
        assert not os.path.lexists(out / staging.NEXT) and not os.path.lexists(out / staging.PREVIOUS)
        if caught.type is LabreportError:
            break
    assert kill_at >= len(files) + 1  # every file and the journal was a kill point
    assert (victim / "thesis.tex").read_bytes() == b"two years of work"

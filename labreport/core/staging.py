"""A run in `OUT` is replaced whole or not at all, and one command at a time writes it.

`train`, `build` and `render` write every new file into `OUT/.labreport-next/` first (inside `OUT`,
so on the same file system and without needing to write `OUT`'s parent). When every file is there,
a manifest (`.labreport-next/.complete`, written atomically) lists the names the new run replaces,
and the swap starts: each old entry is renamed into `OUT/.labreport-previous/`, then each new one
from the staging folder into `OUT`, then both hidden folders are removed.

Why not rename one folder over another: a directory cannot be renamed over a non-empty one on
Linux or macOS, and Windows refuses to replace any; a pointer to a run subfolder would change where
every reader (predict, the course site, scripts) finds `results.json`. Rename-aside-then-in works
on all three, keeps the layout, and never leaves `OUT` without a way back: before the manifest
exists nothing in `OUT` has moved (a kill leaves the old run and a staging folder, deleted at the
next start); once it exists the swap is rolled forward, by the next command that takes the lock if
this one was killed (and by the one after, if the recovery is killed too: each of its steps leaves
a journal that proves what is on disk, and `.started` is deleted last). A rename that fails
midway (a read-only subfolder; on Windows a file open in a viewer) is undone: the entries already
swapped go back, and the one line names the entry that could not be replaced. Everything in `OUT`
that is not the run's (the student's `notes.<lang>.md`, their own files, the `.partial/` folder of
an interrupted run) is never moved.

The journal is labreport's, not the folder's. A folder can arrive holding anything, e.g. unpacked
from a student's archive with its links: a `.labreport-next/` with a manifest, a
`.labreport-previous` that is a link. So the two hidden folders are made fresh with `mkdir` (never
reused) under the lock, and their first file (`.started`), like the manifest, names their identity
(device and inode of `OUT`, of the staging folder and of the folder for the old entries) and a
random token that is also written into the lock file while the lock is held. Recovery acts only on
a journal whose identity and token match what is on disk now, checked without following a link,
and moves only the plain names the manifest lists; anything else stops the command with one line
and is left as it is.

One command at a time: `OUT/.labreport.lock` is locked with `fcntl.flock` (`msvcrt.locking` on
Windows) and holds the holder's pid and command (and the journal's token). The system drops the
lock when the process dies, so a killed command never blocks the next one. A second command stops
with one line naming the holder. Readers (`predict`) take the lock shared (`reading`): they wait for
no one but stop with one line while a writer holds it.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import shutil
import stat
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Literal, overload

from labreport.core import LabreportError, fileio

NEXT = ".labreport-next"
PREVIOUS = ".labreport-previous"
MANIFEST = ".complete"
STARTED = ".started"
LOCK = ".labreport.lock"
MAX_MANIFEST_BYTES = 1 << 20
JOURNAL_LINE = "journal "
"""The lock file's second line, `journal <token>`: the token of the swap its holder staged."""


@dataclass
class _Held:
    """A lock this process holds: its descriptor, the first line it wrote, and the journal it began."""
    fd: int
    holder: str
    begun: dict | None = None


# Keyed by OUT's (device, inode); None where OUT vanished under the lock, which `_held` then never finds.
_HELD: dict[tuple[int, int] | None, _Held] = {}


def _identity(path: Path, follow: bool = False) -> tuple[int, int] | None:
    """(device, inode) of a folder, or None when `path` is absent, a link or not a folder."""
    try:
        info = os.stat(path) if follow else os.lstat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISDIR(info.st_mode):
        return None
    return info.st_dev, info.st_ino


def _present_identity(path: Path, follow: bool = False) -> tuple[int, int]:
    """(device, inode) of a folder this command holds or has just made, which another process may still remove."""
    identity = _identity(path, follow)
    if identity is None:
        raise LabreportError(f"{path} vanished while labreport was writing it; run the command again")
    return identity


@contextmanager
def locked(out: str | os.PathLike, command: str = "labreport") -> Iterator[Path]:
    """Holds `OUT`'s lock for the block, after finishing or clearing any swap a killed command left.

    Raises:
        LabreportError: another labreport command holds the lock, the lock file is not labreport's
            (a FIFO, a folder, a file with other names), or `OUT` holds staging state labreport
            cannot prove it wrote.
    """
    out = fileio.check_writable(out)
    fd = _open_lock(out, write=True)
    try:
        if not _try_lock(fd, shared=False):
            raise LabreportError(f"{out} is being written by another labreport ({_holder(fd)}); "
                                 "wait for it to finish, or use another --out")
        previous = os.pread(fd, 4096, 0).decode("utf-8", "replace").splitlines()
        token = next((line[len(JOURNAL_LINE):].strip() for line in previous if line.startswith(JOURNAL_LINE)), None)
        holder = f"pid {os.getpid()}, {command[:200]}"
        # The pending journal's token stays until a swap is staged anew, so a command that stops
        # at recovery does not orphan a journal the next one could still finish.
        _write_lock(fd, holder, token)
        key = _identity(out, follow=True)
        held = _HELD[key] = _Held(fd, holder)
        try:
            recover(out, token)
            yield out
        except BaseException:
            if held.begun is not None:  # a half-built staging folder is of no use
                try:
                    _clear_begun(out, held.begun)
                except (OSError, LabreportError):
                    pass  # the next start clears it
            raise
        finally:
            _HELD.pop(key, None)
    finally:
        os.close(fd)  # closing the descriptor releases the lock


@contextmanager
def reading(out: str | os.PathLike) -> Iterator[Path]:
    """Holds `OUT`'s lock shared for the block, for a command that only reads the run (`predict`).

    Readers never wait: while a writer holds the lock, or a swap is unfinished, the reader stops
    with one line, so it never sees half of one run and half of another. A folder without a lock
    file that cannot take one (read-only) has no writer either, and is read as it is.

    Raises:
        LabreportError: a writer holds the lock, or a swap in `OUT` is unfinished.
    """
    out = Path(out)
    fd = _open_lock(out, write=False)
    try:
        if fd is not None and not _try_lock(fd, shared=True):
            raise LabreportError(f"{out} is being written by another labreport ({_holder(fd)}); "
                                 "wait for it to finish")
        if os.path.lexists(out / NEXT) or os.path.lexists(out / PREVIOUS):
            raise LabreportError(f"{out} holds {NEXT} (a write not finished): predict reads only a whole run; "
                                 "the next train, build or render in this folder finishes it")
        yield out
    finally:
        if fd is not None:
            os.close(fd)


@overload
def _open_lock(out: Path, write: Literal[True]) -> int: ...


@overload
def _open_lock(out: Path, write: Literal[False]) -> int | None: ...


def _open_lock(out: Path, write: bool) -> int | None:
    """The lock file's descriptor: a plain file of `OUT` with one name, opened without following a link.

    None only for a reader (`write=False`), where no writer ever locked `OUT`.
    """
    path = out / LOCK
    flags = (os.O_RDWR | os.O_CREAT if write else os.O_RDONLY) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        if write and path.is_symlink():  # planted: the lock is labreport's own file, and a link's target is not
            path.unlink()
        if not write and (path.is_symlink() or not path.exists()):
            return None  # no writer ever locked it here; a link is not followed
        fd = os.open(path, flags, 0o666)
    except OSError as error:
        if not write and error.errno in (errno.EACCES, errno.EROFS, errno.EPERM):  # EACCES, EROFS: a folder nobody can write has no writer
            return None
        raise LabreportError(f"cannot lock {path}: {error.strerror or error}") from error
    info = os.fstat(fd)
    problem = ("not a plain file" if not stat.S_ISREG(info.st_mode)
               else "a file with other names (hard links) too" if info.st_nlink > 1 else None)
    if problem:
        os.close(fd)
        raise LabreportError(f"{path} is {problem}: the lock file is labreport's own; remove it and try again")
    return fd


def _holder(fd: int) -> str:
    try:
        return os.pread(fd, 500, 0).decode("utf-8", "replace").strip().splitlines()[0] or "another process"
    except (OSError, IndexError):
        return "another process"


def _write_lock(fd: int, holder: str, token: str | None) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, (holder + (f"\n{JOURNAL_LINE}{token}" if token else "")).encode("utf-8", "replace"), 0)


def _try_lock(fd: int, shared: bool) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows: msvcrt has no shared lock, so a reader does not lock there
        import msvcrt

        if shared:
            return True
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]  # Windows only; mypy checks as Linux
            return True
        except OSError:
            return False
    try:
        fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _held(out: Path) -> _Held:
    held = _HELD.get(_identity(out, follow=True))
    if held is None:
        raise RuntimeError(f"{out} is not locked by this process")  # a caller's mistake, not the user's
    return held


def begin(out: Path) -> Path:
    """A fresh, empty staging folder `OUT/.labreport-next/` (call with the lock held)."""
    held = _held(out)
    if held.begun is not None:  # a second staging in one lock (the first was not committed)
        _clear_begun(out, held.begun)
    token = secrets.token_hex(16)
    staging, previous = out / NEXT, out / PREVIOUS
    _write_lock(held.fd, held.holder, token)
    try:
        staging.mkdir()  # never reused: a folder that exists is not labreport's to fill
        previous.mkdir()
    except OSError as error:
        if _identity(staging) is not None and not os.listdir(staging):
            os.rmdir(staging)
        raise LabreportError(f"cannot write to {out}: {error.strerror or error}") from error
    journal = {"out": list(_present_identity(out, follow=True)), "staging": list(_present_identity(staging)),
               "previous": list(_present_identity(previous)), "token": token}
    held.begun = journal
    fileio.write_json(staging / STARTED, journal)
    return staging


def commit(out: Path, replaces: Iterable[str] = ()) -> None:
    """Swaps the staging folder's entries into `OUT`; `replaces` names old entries the run obsoletes
    even where the new run has none (they are removed).

    Raises:
        LabreportError: an entry could not be replaced; the previous run was put back (the line
            names the entry).
    """
    held = _held(out)
    journal = held.begun
    if journal is None or not _matches(out, journal):
        raise LabreportError(f"{out / NEXT} was changed while labreport wrote it; nothing was replaced")
    staging = out / NEXT
    new = sorted(name for name in os.listdir(staging) if name not in (MANIFEST, STARTED))
    manifest = {**journal, "new": new, "removed": sorted(set(replaces) - set(new))}
    if not all(_plain(name) for name in manifest["new"] + manifest["removed"]):
        raise LabreportError(f"cannot replace the run in {out}: an entry has a name labreport does not write")
    fileio.write_json(staging / MANIFEST, manifest)
    held.begun = None  # from here the swap is finished, or undone, never cleared
    _roll_forward(out, manifest)


def _plain(name: object) -> bool:
    return (isinstance(name, str) and name not in ("", ".", "..") and "/" not in name and "\\" not in name
            and name not in (NEXT, PREVIOUS, LOCK, MANIFEST, STARTED) and "\0" not in name)


def _matches(out: Path, journal: dict) -> bool:
    """Whether `journal` names this `OUT` and the staging folders on disk now (links not followed;
    the folder for the old entries may be gone, once a swap has finished with it)."""
    checks = [("out", _identity(out, follow=True)), ("staging", _identity(out / NEXT))]
    if os.path.lexists(out / PREVIOUS):
        checks.append(("previous", _identity(out / PREVIOUS)))
    return all(found is not None and isinstance(journal.get(key), list) and tuple(journal[key]) == found
               for key, found in checks)


def _read_journal(path: Path) -> dict | None:
    """A journal file (`.started`, `.complete`) of the staging folder: a plain small JSON object, else None."""
    try:
        info = os.lstat(path)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_MANIFEST_BYTES:
            return None
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as handle:
            loaded = json.loads(handle.read(MAX_MANIFEST_BYTES + 1).decode("utf-8"))
    except (OSError, ValueError):
        return None
    return loaded if isinstance(loaded, dict) else None


def recover(out: Path, token: str | None = None) -> None:
    """Finishes a swap a killed command began, or deletes what it staged, when the journal proves
    both are labreport's: the identity of `OUT` and of its staging folders, and `token` (the lock
    file's journal token). Anything else in their place stops the command, untouched.

    Raises:
        LabreportError: `OUT` holds a `.labreport-next` or `.labreport-previous` labreport cannot
            prove it made (a link, a file, a planted manifest, a copy from elsewhere).
    """
    staging, previous = out / NEXT, out / PREVIOUS
    if not os.path.lexists(staging) and not os.path.lexists(previous):
        return
    refusal = LabreportError(
        f"{out} holds a {NEXT} or {PREVIOUS} that this labreport did not leave here (a link, a copy, or files "
        "from elsewhere); nothing was changed: if it is not yours, remove both and try again")
    if _identity(staging) is None:
        if os.path.lexists(staging) or _identity(previous) is None or os.listdir(previous):
            raise refusal
        os.rmdir(previous)  # an empty folder a swap had finished with
        return
    manifest = _read_journal(staging / MANIFEST)
    if manifest is not None:
        names = manifest.get("new"), manifest.get("removed")
        if not (token and manifest.get("token") == token and _matches(out, manifest)
                and all(isinstance(n, list) and all(_plain(name) for name in n) for n in names)):
            raise refusal
        _roll_forward(out, manifest)
        return
    if os.path.lexists(staging / MANIFEST):
        raise refusal
    started = _read_journal(staging / STARTED)
    if started is not None and token and started.get("token") == token and _matches(out, started):
        _clear_begun(out, started)
    elif not os.listdir(staging) and (_identity(previous) is not None and not os.listdir(previous)
                                      or not os.path.lexists(previous)):
        os.rmdir(staging)  # killed between the two mkdirs and the first file: empty, so nothing to lose
        if os.path.lexists(previous):
            os.rmdir(previous)
    else:
        raise refusal


def _clear_begun(out: Path, journal: dict) -> None:
    """Deletes a staging folder that never got its manifest, after checking it is the journal's."""
    if not _matches(out, journal) or os.path.lexists(out / NEXT / MANIFEST):
        raise LabreportError(f"{out / NEXT} is not the staging folder labreport made; it was left as it is")
    if _identity(out / PREVIOUS) is not None:
        os.rmdir(out / PREVIOUS)  # nothing was moved aside before the manifest: empty
    _remove_staging(out)  # a real folder of OUT (checked above)


def _remove_staging(out: Path) -> None:
    """Deletes the staging folder (its manifest gone), its journal `.started` last, so that a kill
    midway leaves a folder the next start can still prove and clear; rmtree follows no link inside it."""
    with os.scandir(out / NEXT) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            elif entry.name != STARTED:
                os.unlink(entry.path)
    if os.path.lexists(out / NEXT / STARTED):
        os.unlink(out / NEXT / STARTED)
    os.rmdir(out / NEXT)


def _roll_forward(out: Path, manifest: dict) -> None:
    """Each step can be repeated after a kill: an entry of the new run still in the staging folder
    means the entry of that name in `OUT` is the old one; a removed name in `OUT` is always old.
    A step that fails undoes the steps before it."""
    staging, previous = out / NEXT, out / PREVIOUS
    if not os.path.lexists(previous):  # a kill after the old entries were deleted, before the manifest was
        manifest = _remake_previous(out, manifest)
    name = None
    try:
        for name in manifest["new"] + manifest["removed"]:
            new, current, aside = staging / name, out / name, previous / name
            if name in manifest["removed"] or os.path.lexists(new):
                if os.path.lexists(current):
                    if os.path.lexists(aside):
                        raise LabreportError(f"{aside} is in the way; nothing more was moved")
                    os.rename(current, aside)
            if os.path.lexists(new):
                os.rename(new, current)
    except OSError as error:
        reason = error.strerror or str(error)
        try:
            _roll_back(out, manifest)
        except OSError as second:
            raise LabreportError(f"cannot replace {name} in {out}: {reason}; nor put the previous run back "
                                 f"({second.strerror or second}): the next labreport command in this folder "
                                 "finishes the swap") from error
        raise LabreportError(f"cannot replace {name} in {out}: {reason}; the previous run was kept as it was") from error
    _finish(out)


def _remake_previous(out: Path, manifest: dict) -> dict:
    """Makes the folder for the old entries again, so that a kill during this recovery is recoverable too.

    The folder is made inside the staging folder (a name no entry of a run has), its identity written
    into the manifest (atomically), and only then renamed into place (a rename keeps the identity): a
    kill at any step leaves a journal that matches what is on disk, where a folder made in place and
    killed before the manifest knew it would be refused as not labreport's.

    Returns:
        The manifest, naming the new folder.
    """
    made = out / NEXT / PREVIOUS
    try:
        if not os.path.lexists(made):
            made.mkdir()
        identity = _identity(made)
        if identity is None:  # only labreport writes inside its proven staging folder
            raise LabreportError(f"{made} is not a folder labreport made; nothing more was moved")
        if manifest.get("previous") != list(identity):
            manifest = {**manifest, "previous": list(identity)}
            fileio.write_json(out / NEXT / MANIFEST, manifest)
        os.rename(made, out / PREVIOUS)
    except OSError as error:
        raise LabreportError(f"cannot finish the swap in {out}: {error.strerror or error}") from error
    return manifest


def _roll_back(out: Path, manifest: dict) -> None:
    """Puts the previous run back: each new entry already in `OUT` returns to the staging folder,
    each old one from the folder beside it; then the journal goes, so no one finishes this swap."""
    staging, previous = out / NEXT, out / PREVIOUS
    for name in reversed(manifest["new"] + manifest["removed"]):
        new, current, aside = staging / name, out / name, previous / name
        if name in manifest["new"] and not os.path.lexists(new) and os.path.lexists(current):
            os.rename(current, new)
        if os.path.lexists(aside) and not os.path.lexists(current):
            os.rename(aside, current)
    os.unlink(staging / MANIFEST)
    _finish(out)


def _finish(out: Path) -> None:
    """Deletes the journal's folders: the old entries first, the manifest before the rest of the
    staging folder, so a kill in between leaves a folder the next start clears."""
    staging, previous = out / NEXT, out / PREVIOUS
    try:
        shutil.rmtree(previous)
        if os.path.lexists(staging / MANIFEST):
            os.unlink(staging / MANIFEST)
        _remove_staging(out)
    except OSError:
        pass  # the run is whole; what is left is cleared by the next start


def place(source: Path, target: Path) -> None:
    """Puts a finished file into the staging folder without moving it out of `source`'s folder: a
    hard link (instant, same file system), else a copy."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)

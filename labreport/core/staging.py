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
this one was killed. Everything in `OUT` that is not the run's (the student's `notes.<lang>.md`,
their own files, the `.partial/` folder of an interrupted run) is never moved.

One command at a time: `OUT/.labreport.lock` is locked with `fcntl.flock` (`msvcrt.locking` on
Windows) and holds the holder's pid and command. The system drops the lock when the process dies,
so a killed command never blocks the next one. A second command stops with one line naming the
holder.
"""

from __future__ import annotations

import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

from labreport.core import LabreportError, fileio

NEXT = ".labreport-next"
PREVIOUS = ".labreport-previous"
MANIFEST = ".complete"
LOCK = ".labreport.lock"
MAX_MANIFEST_BYTES = 1 << 20


@contextmanager
def locked(out: str | os.PathLike, command: str = "labreport") -> Iterator[Path]:
    """Holds `OUT`'s lock for the block, after finishing or clearing any swap a killed command left.

    Raises:
        LabreportError: another labreport command holds the lock.
    """
    out = fileio.check_writable(out)
    path = out / LOCK
    try:
        if path.is_symlink():  # planted: the lock is labreport's own file, and a link's target is not
            path.unlink()
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o666)
    except OSError as error:
        raise LabreportError(f"cannot lock {path}: {error.strerror or error}") from error
    try:
        if not _try_lock(fd):
            try:
                holder = os.pread(fd, 500, 0).decode("utf-8", "replace").strip() or "another process"
            except OSError:
                holder = "another process"
            raise LabreportError(f"{out} is being written by another labreport ({holder}); "
                                 "wait for it to finish, or use another --out")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}, {command[:200]}".encode("utf-8", "replace"), 0)
        recover(out)
        try:
            yield out
        except BaseException:
            if not (out / NEXT / MANIFEST).exists():  # a half-built staging folder is of no use
                try:
                    _remove(out / NEXT)
                except OSError:
                    pass  # the next start clears it
            raise
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _try_lock(fd: int) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def begin(out: Path) -> Path:
    """A fresh, empty staging folder `OUT/.labreport-next/` (call with the lock held)."""
    staging = out / NEXT
    _remove(staging)
    try:
        staging.mkdir()
    except OSError as error:
        raise LabreportError(f"cannot write to {out}: {error.strerror or error}") from error
    return staging


def commit(out: Path, replaces: Iterable[str] = ()) -> None:
    """Swaps the staging folder's entries into `OUT`; `replaces` names old entries the run obsoletes
    even where the new run has none (they are removed)."""
    staging = out / NEXT
    new = sorted(p.name for p in staging.iterdir() if p.name != MANIFEST)
    manifest = {"new": new, "removed": sorted(set(replaces) - set(new))}
    fileio.write_json(staging / MANIFEST, manifest)
    _roll_forward(out, manifest)


def _plain(name: object) -> bool:
    return (isinstance(name, str) and name not in ("", ".", "..") and "/" not in name and "\\" not in name
            and name not in (NEXT, PREVIOUS, LOCK) and "\0" not in name)


def recover(out: Path) -> None:
    """Finishes a swap a killed command began (the manifest is there), or deletes its staging folder."""
    staging, manifest = out / NEXT, out / NEXT / MANIFEST
    names = None
    try:
        if manifest.is_file() and not manifest.is_symlink() and manifest.stat().st_size <= MAX_MANIFEST_BYTES:
            loaded = json.loads(manifest.read_text(encoding="utf-8"))
            if (isinstance(loaded, dict) and all(isinstance(loaded.get(k), list) for k in ("new", "removed"))
                    and all(_plain(n) for n in loaded["new"] + loaded["removed"])):
                names = loaded
    except (OSError, ValueError):
        names = None
    if names is None:
        _remove(staging)
        _remove(out / PREVIOUS)
        return
    _roll_forward(out, names)


def _roll_forward(out: Path, manifest: dict) -> None:
    """Each step can be repeated after a kill: an entry of the new run still in the staging folder
    means the entry of that name in `OUT` is the old one; a removed name in `OUT` is always old."""
    staging, previous = out / NEXT, out / PREVIOUS
    try:
        previous.mkdir(exist_ok=True)
        for name in manifest["new"] + manifest["removed"]:
            new, current, aside = staging / name, out / name, previous / name
            if name in manifest["removed"] or _lexists(new):
                if _lexists(current):
                    _remove(aside)
                    os.rename(current, aside)
            if _lexists(new):
                os.rename(new, current)
        _remove(previous)
        _remove(staging)
    except OSError as error:
        raise LabreportError(f"cannot replace the run in {out}: {error.strerror or error}; the next labreport "
                             "command in this folder finishes the swap") from error


def _lexists(path: Path) -> bool:
    return os.path.lexists(path)


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def place(source: Path, target: Path) -> None:
    """Puts a finished file into the staging folder without moving it out of `source`'s folder: a
    hard link (instant, same file system), else a copy."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)

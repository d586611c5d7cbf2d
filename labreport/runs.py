"""A class's submissions: finding every run in folders and archives, and reading each without trusting it.

A run is a folder holding `results.json` (with `predictions.npz` and reports beside it). `find`
accepts a run's folder, a folder holding runs at any depth, or a `.zip`/`.tar.gz` of either (what a
course's submission system hands out). Archives are unpacked into a temporary folder, member by
member: a member whose path escapes the archive's folder (`../`, an absolute path) or a link is
refused, and the archive is reported unreadable with the reason. Nothing in a run is modified.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from labreport import LabreportError
from labreport import record as record_module

ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar")
MAX_ARCHIVE_BYTES = 512 * 1024 * 1024
"""An archive that unpacks to more than this is refused (a course's run is a few megabytes)."""


@dataclass
class Run:
    """One submission as found: where it came from, and its record and predictions when readable."""

    source: str
    """Where the run was found, as the instructor gave it (folder, or archive plus member folder)."""
    folder: Path | None = None
    record: dict | None = None
    problem: str = ""
    """Why the run cannot be read, as a message id of the catalogs' `[site.problem]`; empty when it can."""
    detail: str = ""
    """The reader's own words about the problem (a file name, a field), shown after the message."""
    digest: str = ""
    """A hash of the record's bytes: an unchanged run is not rendered again."""
    flags: list = field(default_factory=list)
    """(check, details) for every check the run fails (see `labreport.checks`)."""
    id: str = ""
    """The run's folder name on the site: the student ID when it is unique, else from its source."""
    predictions_digest: str = ""
    uncovered_digest: str = ""


def _is_archive(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith(ARCHIVE_SUFFIXES)


def _safe_member(name: str) -> PurePosixPath:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts:
        raise LabreportError(f"member {name!r} would be written outside the archive's folder")
    return path


def unpack(archive: Path, into: Path) -> Path:
    """Unpacks `archive` into the folder `into`, refusing paths that escape it and links.

    Raises:
        LabreportError: a damaged archive, an escaping member or a link, or too many bytes.
    """
    total = 0
    try:
        if archive.name.lower().endswith(".zip"):
            with zipfile.ZipFile(archive) as zipped:
                for info in zipped.infolist():
                    target = into / _safe_member(info.filename)
                    if info.is_dir():
                        target.mkdir(parents=True, exist_ok=True)
                        continue
                    if (info.external_attr >> 16) & 0o170000 == 0o120000:
                        raise LabreportError(f"member {info.filename!r} is a link")
                    total += info.file_size
                    if total > MAX_ARCHIVE_BYTES:
                        raise LabreportError("it unpacks to more than 512 MiB")
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(zipped.read(info))
        else:
            with tarfile.open(archive) as tarred:
                for member in tarred:
                    target = into / _safe_member(member.name)
                    if member.isdir():
                        target.mkdir(parents=True, exist_ok=True)
                        continue
                    if not member.isfile():
                        raise LabreportError(f"member {member.name!r} is a link or a device, not a file")
                    total += member.size
                    if total > MAX_ARCHIVE_BYTES:
                        raise LabreportError("it unpacks to more than 512 MiB")
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(tarred.extractfile(member).read())
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, zlib_error()) as error:
        raise LabreportError(f"damaged archive ({type(error).__name__}: {error})") from None
    return into


def zlib_error():
    import zlib

    return zlib.error


def read(folder: Path, source: str) -> Run:
    """A run from its folder: the validated record and the prediction arrays, or the reason it cannot be read."""
    run = Run(source=source, folder=folder)
    path = folder / record_module.RECORD_FILE
    if path.is_symlink():
        run.problem = "link"
        return run
    try:
        raw = path.read_bytes()
        run.digest = hashlib.sha256(raw).hexdigest()[:16]
        run.record = record_module.validate_record(json.loads(raw.decode("utf-8")), source)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        run.problem, run.detail = "json", str(error)
        return run
    except LabreportError as error:
        run.problem, run.detail = "record", str(error).replace(f"{source}: ", "").replace(f"{source} ", "")
        run.record = None
        return run
    return run


def load_predictions(run: Run) -> dict[str, np.ndarray] | None:
    """The run's prediction arrays, read only when checked (a class's arrays never sit in memory together)."""
    path = run.folder / record_module.PREDICTIONS_FILE
    if not path.is_file() or path.is_symlink():
        return None
    try:
        with np.load(io.BytesIO(path.read_bytes()), allow_pickle=False) as arrays:
            return {key: arrays[key] for key in arrays.files}
    except (ValueError, OSError, zipfile.BadZipFile) as error:
        run.flags.append(("predictions_unreadable", {"why": f"{type(error).__name__}: {error}"}))
        return None


def find(paths: list[str | Path], scratch: Path) -> list[Run]:
    """Every run under `paths`, readable or not, in a stable order; archives are unpacked under `scratch`.

    A folder with a record is a run; any other folder is searched; a folder or archive with no
    record anywhere inside is listed as unreadable, once, at its highest level.

    Raises:
        LabreportError: a path that does not exist (one line, before any work).
    """
    for path in map(Path, paths):
        if not path.exists() and not path.is_symlink():
            raise LabreportError(f"run not found: {path}")
    counter = iter(range(1 << 30))

    def collect(path: Path, source: str) -> list[Run]:
        """The runs under `path`, readable or not; [] when there is no record anywhere inside."""
        if path.is_symlink():
            return [Run(source=source, problem="link")]
        if _is_archive(path):
            into = scratch / f"archive-{next(counter)}"
            into.mkdir(parents=True)
            try:
                unpack(path, into)
            except LabreportError as error:
                return [Run(source=source, problem="archive", detail=str(error))]
            return collect_folder(into, source + ":") or [Run(source=source, problem="archive_empty")]
        return collect_folder(path, source) if path.is_dir() else []

    def collect_folder(folder: Path, source: str) -> list[Run]:
        if (folder / record_module.RECORD_FILE).exists():
            return [read(folder, source.rstrip(":") or str(folder))]
        found: list[Run] = []
        empty: list[Run] = []
        for child in sorted(folder.iterdir()):
            child_source = f"{source}{child.name}" if source.endswith(":") else f"{source}/{child.name}"
            inside = collect(child, child_source)
            found += inside
            if not inside and child.is_dir() and not child.name.startswith("."):
                empty.append(Run(source=child_source, problem="no_record"))
        # Record-less folders are listed only beside runs; a folder with no run at all is one entry, higher up.
        return found + empty if found else []

    runs: list[Run] = []
    for path in map(Path, paths):
        runs += collect(path, str(path)) or [Run(source=str(path), problem="no_record")]
    return runs

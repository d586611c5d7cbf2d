"""A class's submissions: finding every run in folders and archives, and reading each without trusting it.

A run is a folder holding `results.json` (with `predictions.npz` and reports beside it). `find`
accepts a run's folder, a folder holding runs at any depth, or a `.zip`/`.tar.gz` of either (what a
course's submission system hands out). Archives are unpacked into a temporary folder, member by
member: a member whose path escapes the archive's folder (`../`, an absolute path) or a link is
refused, and the archive is reported unreadable with the reason. What one submission unpacks to is
bounded in total (bytes and members, archives inside archives included, counted as they are
written rather than as their headers claim) and archives nest at most `MAX_ARCHIVE_DEPTH` deep.
A run's files are read only from the run folder itself (`labreport.core.fileio.read_run_file`): never through a link,
never a path the record names. Nothing in a run is modified.
"""

from __future__ import annotations

import hashlib
import lzma
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from labreport.core import LabreportError, fileio
from labreport.core import record as record_module

MAX_FOLDER_DEPTH = 64
MAX_DETAIL_CHARACTERS = 300
ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar")
MAX_ARCHIVE_BYTES = 512 * 1024 * 1024
"""What one submission may unpack to in total, archives inside it included (a course's run is a few megabytes)."""
MAX_ARCHIVE_MEMBERS = 10_000
"""How many members one submission's archives may hold together."""
MAX_ARCHIVE_DEPTH = 3
"""How deep archives may sit inside archives (a submission system's zip of a student's tar.gz is depth 2)."""
MAX_RECORD_BYTES = record_module.MAX_RECORD_BYTES
"""A `results.json` larger than this is not read (a real record is well under a megabyte)."""


@dataclass
class Budget:
    """What one submission may still unpack: bytes and members, shared by every archive inside it."""

    bytes_left: int = field(default_factory=lambda: MAX_ARCHIVE_BYTES)
    members_left: int = field(default_factory=lambda: MAX_ARCHIVE_MEMBERS)

    def member(self) -> None:
        self.members_left -= 1
        if self.members_left < 0:
            raise LabreportError(f"it holds more than {MAX_ARCHIVE_MEMBERS:,} members")

    def spend(self, size: int) -> None:
        self.bytes_left -= max(size, 0)
        if self.bytes_left < 0:
            raise LabreportError(f"it unpacks to more than {MAX_ARCHIVE_BYTES / (1024 * 1024):g} MiB")


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
    """A `labreport.site.checks.Flag` for every check the run fails."""
    id: str = ""
    """The run's folder name on the site: the student ID when it is unique, else from its source."""
    predictions_digest: str = ""
    uncovered_digest: str = ""
    own_sections: dict = field(default_factory=dict)
    """What the student wrote per language (`labreport.site.publish.own_sections`), read with the notes."""


def _is_archive(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith(ARCHIVE_SUFFIXES)


def _safe_member(name: str) -> PurePosixPath:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts:
        raise LabreportError(f"member {name!r} would be written outside the archive's folder")
    return path


def _copy_limited(source, target: Path, budget: Budget) -> None:
    """Copies a member's stream to `target` in chunks, charging each chunk before it is written
    (what is really unpacked counts, not what the member's header claims)."""
    with open(target, "wb") as handle:
        while chunk := source.read(1 << 20):
            budget.spend(len(chunk))
            handle.write(chunk)


def unpack(archive: Path, into: Path, budget: Budget | None = None) -> Path:
    """Unpacks `archive` into the folder `into`, refusing paths that escape it and links.

    Args:
        budget: what the whole submission may still unpack (bytes, members); archives inside it share it.

    Raises:
        LabreportError: a damaged archive, an escaping member or a link, or a spent budget.
    """
    budget = budget if budget is not None else Budget()
    try:
        if archive.name.lower().endswith(".zip"):
            with zipfile.ZipFile(archive) as zipped:
                for info in zipped.infolist():
                    budget.member()
                    target = into / _safe_member(info.filename)
                    if info.is_dir():
                        target.mkdir(parents=True, exist_ok=True)
                        continue
                    if (info.external_attr >> 16) & 0o170000 == 0o120000:
                        raise LabreportError(f"member {info.filename!r} is a link")
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with zipped.open(info) as member:
                        _copy_limited(member, target, budget)
        else:
            with fileio.open_tar(archive) as tarred:
                for member in tarred:
                    budget.member()
                    target = into / _safe_member(member.name)
                    if member.isdir():
                        target.mkdir(parents=True, exist_ok=True)
                        continue
                    if not member.isfile():
                        raise LabreportError(f"member {member.name!r} is a link or a device, not a file")
                    target.parent.mkdir(parents=True, exist_ok=True)
                    _copy_limited(tarred.extractfile(member), target, budget)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, zlib_error(), lzma.LZMAError,
            RuntimeError, NotImplementedError, ValueError) as error:  # encrypted, unknown method, corrupt stream
        raise LabreportError(f"damaged archive ({type(error).__name__}: {str(error)[:200]})") from None
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
        raw = fileio.read_run_file(folder, record_module.RECORD_FILE, MAX_RECORD_BYTES)
        run.digest = hashlib.sha256(raw).hexdigest()[:16]
        # The record's own reading: its size, JSON, NaN and Infinity named by their path, the schema.
        run.record = record_module.parse_record(raw, source)
    except (UnicodeDecodeError, RecursionError) as error:
        run.problem, run.detail = "json", str(error)[:MAX_DETAIL_CHARACTERS] or type(error).__name__
        return run
    except LabreportError as error:
        run.problem, run.detail = "record", str(error).replace(f"{source}: ", "").replace(f"{source} ", "")
        run.record = None
        return run
    return run


def full_record(run: Run) -> dict:
    """The run's whole validated record, read again (the site keeps only a slim copy of each in memory).

    Raises:
        LabreportError: the record no longer reads, or is not the one checked (it changed meanwhile).
    """
    again = read(run.folder, run.source)
    if again.record is None:
        raise LabreportError(f"{record_module.RECORD_FILE} no longer reads: {again.detail or again.problem}")
    if again.digest != run.digest:
        raise LabreportError(f"{record_module.RECORD_FILE} changed while the site was being built")
    return again.record


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

    def collect(path: Path, source: str, budget: Budget | None = None, depth: int = 0) -> list[Run]:
        """The runs under `path`, readable or not; [] when there is no record anywhere inside.

        `budget` is the submission's (the outermost archive's), shared by every archive inside it.
        """
        if path.is_symlink():
            return [Run(source=source, problem="link")]
        if _is_archive(path):
            if depth >= MAX_ARCHIVE_DEPTH:
                return [Run(source=source, problem="archive",
                            detail=f"archives are nested more than {MAX_ARCHIVE_DEPTH} deep")]
            budget = budget if budget is not None else Budget()
            into = scratch / f"archive-{next(counter)}"
            into.mkdir(parents=True)
            try:
                unpack(path, into, budget)
            except LabreportError as error:  # cut: a member's name can be megabytes long
                return [Run(source=source, problem="archive", detail=str(error)[:MAX_DETAIL_CHARACTERS])]
            return collect_folder(into, source + ":", budget, depth + 1) or [Run(source=source, problem="archive_empty")]
        return collect_folder(path, source, budget, depth) if path.is_dir() else []

    def collect_folder(folder: Path, source: str, budget: Budget | None, depth: int) -> list[Run]:
        if source.count("/") > MAX_FOLDER_DEPTH:  # each level is one call: bound them before Python's stack does
            return [Run(source=source[:MAX_DETAIL_CHARACTERS], problem="archive",
                        detail=f"folders are nested more than {MAX_FOLDER_DEPTH} deep")]
        if (folder / record_module.RECORD_FILE).exists() or (folder / record_module.RECORD_FILE).is_symlink():
            return [read(folder, source.rstrip(":") or str(folder))]
        found: list[Run] = []
        empty: list[Run] = []
        for child in sorted(folder.iterdir()):
            child_source = f"{source}{child.name}" if source.endswith(":") else f"{source}/{child.name}"
            inside = collect(child, child_source, budget, depth)
            found += inside
            if not inside and child.is_dir() and not child.is_symlink() and not child.name.startswith("."):
                empty.append(Run(source=child_source, problem="no_record"))
        # Record-less folders are listed only beside runs; a folder with no run at all is one entry, higher up.
        return found + empty if found else []

    runs: list[Run] = []
    for path in map(Path, paths):
        runs += collect(path, str(path)) or [Run(source=str(path), problem="no_record")]
    return runs

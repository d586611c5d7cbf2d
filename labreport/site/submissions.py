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

A report PDF alone is a run too: labreport's PDFs carry the run's `results.json` and
`predictions.npz`, and the student's notes of the PDF's language (`notes.<lang>.md`), as embedded
files (`labreport.report.pdf`), which `embedded_run_files` reads, bounded (the PDF's size, how many
files, each file's size, names that are plain names), into a scratch folder that is then read like
any run's (the notes too: `labreport.site.publish` reads them as it reads a run folder's). A PDF
without an embedded record is listed; PDFs of one folder that carry the same record under names that
differ only in the language (a run's Korean and English reports) are one run, with the notes of both.
"""

from __future__ import annotations

import hashlib
import io
import lzma
import re
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable

from labreport.core import LabreportError, fileio
from labreport.core import record as record_module
from labreport.report.notes import MAX_NOTES_BYTES

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
PDF_SUFFIX = ".pdf"
MAX_PDF_BYTES = 128 * 1024 * 1024
"""A submitted PDF larger than this is not opened: a report is about a megabyte, and what it may carry
(the record and predictions limits, 80 MiB together) fits well inside."""
MAX_PDF_ATTACHMENTS = 8
"""How many embedded files a submitted PDF may hold (labreport's carry two or three)."""
MAX_PDF_NAME_TREE_NODES = 64
"""How many nodes of the PDF's embedded-files name tree are visited (labreport's has one)."""
EMBEDDED_LIMITS = {
    record_module.RECORD_FILE: MAX_RECORD_BYTES,
    record_module.PREDICTIONS_FILE: record_module.MAX_PREDICTIONS_BYTES,
}
"""The run files read from a PDF, and the most bytes each may decode to (a run folder's own limits)."""
EMBEDDED_NOTES = re.compile(r"notes\.[A-Za-z0-9_-]{1,16}\.md")
"""The notes files read from a PDF (`notes.<lang>.md`), each at most `MAX_NOTES_BYTES` as a run folder's."""


def _embedded_limit(name: str) -> int | None:
    """The most bytes the embedded file `name` may decode to, or None for a file that is not read."""
    if EMBEDDED_NOTES.fullmatch(name):
        return MAX_NOTES_BYTES
    return EMBEDDED_LIMITS.get(name)


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
    """The SHA-256 of the record's bytes, whole: it pairs a run's PDFs in two languages and tells an
    unchanged record (a shortened one could be matched on purpose)."""
    flags: list = field(default_factory=list)
    """A `labreport.site.checks.Flag` for every check the run fails."""
    id: str = ""
    """The run's folder name on the site: the student ID when it is unique, else from its source."""
    predictions_digest: str = ""
    uncovered_digest: str = ""
    own_sections: dict = field(default_factory=dict)
    """What the student wrote per language (`labreport.site.publish.own_sections`), read with the notes."""
    record_sha256: str = ""
    """The SHA-256 of the record's bytes, in full (`labreport.site.check_cache` keys by it)."""
    checked: bool = False
    """Whether the run's own checks are done (`labreport.site.checks.check_run`, or reused from the cache)."""


_LANGUAGE_SUFFIX = re.compile(r"\.[a-z]{2}(?:-[a-z]{2})?\.pdf$")
"""The language part of a report PDF's name (`report.ko.pdf`, `2024001_Kim_05.en.pdf`)."""


def _is_pdf(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith(PDF_SUFFIX)


def _embedded_file_specs(root) -> list:
    """The file specifications of the PDF's embedded-files name tree, visited within bounds."""
    names = root.get("/Names")
    tree = names.get_object().get("/EmbeddedFiles") if names is not None else None
    if tree is None:
        return []
    specs, stack, visited = [], [(tree, 0)], 0
    while stack:
        node, depth = stack.pop()
        node = node.get_object()
        visited += 1
        if visited > MAX_PDF_NAME_TREE_NODES or depth > 8:
            raise LabreportError(f"its embedded-files tree has more than {MAX_PDF_NAME_TREE_NODES} nodes or 8 levels")
        pairs = node.get("/Names")
        if pairs is not None:
            pairs = pairs.get_object()
            specs += [pairs[index].get_object() for index in range(1, len(pairs), 2)]
        if len(specs) > MAX_PDF_ATTACHMENTS:
            raise LabreportError(f"it embeds more than {MAX_PDF_ATTACHMENTS} files")
        kids = node.get("/Kids")
        if kids is not None:
            stack += [(kid, depth + 1) for kid in kids.get_object()]
    return specs


def embedded_run_files(path: Path) -> dict[str, bytes]:
    """The run files (`EMBEDDED_LIMITS`, `EMBEDDED_NOTES`) a submitted PDF carries, read without trusting it.

    The PDF is read whole into memory only when under `MAX_PDF_BYTES`; it may embed at most
    `MAX_PDF_ATTACHMENTS` files, each named by a plain file name (no folder, no `..`) and each run
    file within its limit as decoded (counted, not as declared; a declared size over it is refused
    before decoding). Files of other names are left unread. No path the PDF names is followed.

    Raises:
        LabreportError: one line, for any PDF that breaks a bound or cannot be parsed.
    """
    data = fileio.read_at_most(path, MAX_PDF_BYTES, "the PDF", allowed="a report may be")
    try:
        import pypdf
    except ImportError:
        raise LabreportError("reading a PDF submission needs pypdf: pip install 'pypdf>=7.0'") from None
    files: dict[str, bytes] = {}
    try:
        reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
        for spec in _embedded_file_specs(reader.trailer["/Root"].get_object()):
            name = spec.get("/UF", spec.get("/F"))
            name = str(name.get_object()) if name is not None else ""
            if not name or "/" in name or "\\" in name or ".." in name or any(ord(ch) < 32 for ch in name):
                raise LabreportError(f"an embedded file is named {name[:60]!r}, like a path: only plain file names are read")
            limit = _embedded_limit(name)
            if limit is None:
                continue
            if name in files:
                raise LabreportError(f"it embeds {name} twice")
            stream = spec["/EF"]["/F"].get_object()
            declared = (stream.get("/Params") or {}).get("/Size")
            if isinstance(declared, int) and declared > limit:
                raise LabreportError(f"its embedded {name} says it is {int(declared):,} bytes, more than the {limit:,} allowed")
            try:
                payload = stream.get_data()  # pypdf stops inflating at its own bound (75 MB), then this one is checked
            except pypdf.errors.LimitReachedError:
                raise LabreportError(f"its embedded {name} decodes to more than the {limit:,} bytes allowed") from None
            if len(payload) > limit:
                raise LabreportError(f"its embedded {name} is {len(payload):,} bytes, more than the {limit:,} allowed")
            files[name] = payload
    except LabreportError:
        raise
    except Exception as error:  # pypdf's errors, and what a damaged object throws (KeyError, TypeError, RecursionError)
        raise LabreportError(f"unreadable PDF ({type(error).__name__}: {str(error)[:200]})") from None
    return files


def read_pdf(path: Path, into: Path, source: str, reuse: Reuse | None = None) -> Run:
    """A run from a submitted report PDF: its embedded files written into the empty scratch folder
    `into` and read like a run folder's (`read`), or the reason it cannot be."""
    try:
        files = embedded_run_files(path)
    except LabreportError as error:
        return Run(source=source, problem="pdf", detail=str(error)[:MAX_DETAIL_CHARACTERS])
    if record_module.RECORD_FILE not in files:
        return Run(source=source, problem="pdf_no_record")
    for name, data in files.items():
        (into / name).write_bytes(data)
    return read(into, source, reuse)


def _add_notes(kept: Run, other: Run) -> None:
    """Gives the run `kept` the notes the other language's PDF of the same run carries (each PDF
    carries its own language's); notes of a language it already has stay its own."""
    for path in sorted(other.folder.iterdir()):
        if EMBEDDED_NOTES.fullmatch(path.name) and not (kept.folder / path.name).exists():
            (kept.folder / path.name).write_bytes(path.read_bytes())


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


Reuse = Callable[[Run], bool]
"""Fills a run whose record's bytes are read and hashed (not yet parsed) from what an earlier build
found, or says it cannot (`labreport.site.check_cache.CheckCache.reuse`)."""


def read(folder: Path, source: str, reuse: Reuse | None = None) -> Run:
    """A run from its folder: the validated record and the prediction arrays, or the reason it cannot be read.

    Args:
        reuse: when it fills the run from an earlier build's checks, the record is not parsed again.
    """
    run = Run(source=source, folder=folder)
    path = folder / record_module.RECORD_FILE
    if path.is_symlink():
        run.problem = "link"
        return run
    try:
        raw = fileio.read_run_file(folder, record_module.RECORD_FILE, MAX_RECORD_BYTES)
        run.record_sha256 = hashlib.sha256(raw).hexdigest()
        run.digest = run.record_sha256
        if reuse is not None and reuse(run):
            return run
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


def find(paths: list[str | Path], scratch: Path, reuse: Reuse | None = None) -> list[Run]:
    """Every run under `paths`, readable or not, in a stable order; archives are unpacked under `scratch`.
    `reuse` is handed to `read` for each run.

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
        if _is_pdf(path):  # a report PDF handed in alone: the run it carries
            into = scratch / f"pdf-{next(counter)}"
            into.mkdir(parents=True)
            return [read_pdf(path, into, source, reuse)]
        return collect_folder(path, source, budget, depth) if path.is_dir() else []

    def collect_folder(folder: Path, source: str, budget: Budget | None, depth: int) -> list[Run]:
        if source.count("/") > MAX_FOLDER_DEPTH:  # each level is one call: bound them before Python's stack does
            return [Run(source=source[:MAX_DETAIL_CHARACTERS], problem="archive",
                        detail=f"folders are nested more than {MAX_FOLDER_DEPTH} deep")]
        if (folder / record_module.RECORD_FILE).exists() or (folder / record_module.RECORD_FILE).is_symlink():
            return [read(folder, source.rstrip(":") or str(folder), reuse)]
        found: list[Run] = []
        empty: list[Run] = []
        carried: dict[tuple[str, str], Run] = {}  # (name but language, record) of this folder's PDFs: the run kept
        for child in sorted(folder.iterdir()):
            child_source = f"{source}{child.name}" if source.endswith(":") else f"{source}/{child.name}"
            inside = collect(child, child_source, budget, depth)
            if _is_pdf(child) and not child.is_symlink() and inside and inside[0].digest:
                # A run's reports in two languages (report.ko.pdf, report.en.pdf) are one run; the same
                # PDF under another name (a copy handed in twice) stays two, and is flagged identical.
                key = (_LANGUAGE_SUFFIX.sub("", child.name.lower()), inside[0].digest)
                if key in carried:
                    _add_notes(carried[key], inside[0])
                    continue
                carried[key] = inside[0]
            found += inside
            if not inside and child.is_dir() and not child.is_symlink() and not child.name.startswith("."):
                empty.append(Run(source=child_source, problem="no_record"))
        # Record-less folders are listed only beside runs; a folder with no run at all is one entry, higher up.
        return found + empty if found else []

    runs: list[Run] = []
    for path in map(Path, paths):
        runs += collect(path, str(path)) or [Run(source=str(path), problem="no_record")]
    return runs

"""Files in and out: atomic writes, a run's own files read without trust, CSV cells kept as text.

A written file is either the old one or the new one, never half of one. Every output of labreport goes through these functions. Each writes to a temporary file in the
destination folder (same file system, so the rename is atomic), flushes it to disk, and renames it
into place. An interruption or a full disk leaves the previous file untouched.
"""

from __future__ import annotations

import json
import os
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from labreport.core import LabreportError


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Writes `data` to `path` atomically and returns the path."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as error:
        raise LabreportError(f"cannot write to {path.parent}: {error.strerror or error}") from error
    try:
        os.chmod(tmp_name, 0o666 & ~current_umask())  # mkstemp makes 0600; give the file normal permissions
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException as error:
        try:
            os.unlink(tmp_name)
        except OSError:
            pass
        if isinstance(error, OSError):
            raise LabreportError(f"cannot write {path}: {error.strerror or error}") from error
        raise
    return path


def current_umask() -> int:
    """The process umask (reading it means setting it, so it is set straight back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Writes UTF-8 `text` to `path` atomically."""
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, data: Any) -> Path:
    """Writes `data` as indented UTF-8 JSON atomically, keys in insertion order (stable bytes for equal data)."""
    return write_text(path, json_text(data))


def json_text(data: Any) -> str:
    """`data` as `write_json` writes it: indented JSON, keys in insertion order, a final newline."""
    return json.dumps(data, ensure_ascii=False, indent=2, allow_nan=False) + "\n"


def check_writable(folder: str | os.PathLike) -> Path:
    """Fails early, before any long work, when `folder` cannot be created or written."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".labreport-probe-"):
            pass
    except OSError as error:
        raise LabreportError(
            f"output folder {folder} is not writable: {error.strerror or error}; "
            "choose another with --out"
        ) from error
    return folder


def read_run_file(folder: Path, name: str, limit: int) -> bytes | None:
    """The bytes of the run's own file `folder/name`, or None when it is absent.

    Only a plain file inside the run folder is read: a link (wherever it points) is refused, and so
    is a file larger than `limit` bytes, before it is read.

    Raises:
        LabreportError: the file is a link, not a plain file, or too large (the message names it).
    """
    path = folder / name
    if path.is_symlink():
        raise LabreportError(f"{name} is a link: a run's files are read from the run itself only")
    if not path.exists():
        return None
    return read_at_most(path, limit, name)


class NotPlainFile(OSError):
    """What `open_plain` raises for a path that opened as something other than a plain file."""


def open_plain(path: Path):
    """The plain file at `path`, open for reading in binary, with its `os.stat_result`.

    The file is opened without following a link (where the system can say so) and without waiting on
    a pipe, and the kind is taken from the descriptor opened, so a file swapped for a link or a pipe
    after a check is refused rather than read.

    Raises:
        NotPlainFile: it opened as a folder, a pipe, a device.
        OSError: it is a link, or cannot be opened.
    """
    import stat

    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    handle = os.fdopen(descriptor, "rb")
    status = os.fstat(descriptor)
    if not stat.S_ISREG(status.st_mode):
        handle.close()
        raise NotPlainFile(f"{path} is not a plain file")
    return handle, status


def is_real_folder(path: Path) -> bool:
    """Whether `path` is a folder and not a link to one (a planted link would send reads elsewhere)."""
    import stat

    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def read_at_most(path: Path, limit: int, name: str, allowed: str = "allowed") -> bytes:
    """The bytes of the plain file at `path` (`open_plain`), refused unread when over `limit` bytes;
    at most `limit + 1` bytes are ever read, however the size was reported.

    Raises:
        LabreportError: "<name> is N bytes, more than the LIMIT <allowed>", or the file is a link or
            not a plain file.
    """
    try:
        handle, status = open_plain(path)
    except NotPlainFile:
        raise LabreportError(f"{name} is not a plain file") from None
    except OSError as error:
        if path.is_symlink():
            raise LabreportError(f"{name} is a link: a run's files are read from the run itself only") from None
        raise LabreportError(f"{name} cannot be read ({error.strerror})") from None
    with handle:
        if status.st_size > limit:
            raise LabreportError(f"{name} is {status.st_size:,} bytes, more than the {limit:,} {allowed}")
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise LabreportError(f"{name} is more than the {limit:,} bytes {allowed}")
    return data


def user_cache_folder() -> Path:
    """labreport's folder in the user's cache: `LABREPORT_CACHE_DIR`, else `$XDG_CACHE_HOME/labreport`,
    else `~/.cache/labreport` (not created here). What is kept there is this user's own, outside any
    folder a course hands in or a site publishes."""
    if os.environ.get("LABREPORT_CACHE_DIR"):
        return Path(os.environ["LABREPORT_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "labreport"


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""A spreadsheet runs a cell that starts with one of these as a formula."""


def safe_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as text: text starting with =, +, -, @ gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


MAX_TAR_HEADER_BYTES = 64 * 1024
"""The largest GNU long name or PAX record read from a tar archive (a path is at most 4,096 bytes)."""
MAX_TAR_HEADERS_IN_A_ROW = 16
"""Long-name and PAX headers before one member: each is processed inside the previous one's call."""
_EXTENDED_HEADERS = {tarfile.GNUTYPE_LONGNAME: "GNU long name", tarfile.GNUTYPE_LONGLINK: "GNU long link name",
                     tarfile.XHDTYPE: "PAX record", tarfile.XGLTYPE: "PAX global record",
                     tarfile.SOLARIS_XHDTYPE: "PAX record"}


class BoundedTarInfo(tarfile.TarInfo):
    """A tar header whose long-name and PAX payloads are bounded before they are read.

    `tarfile` reads such a payload into memory whole, at the size its header claims: a 2 KB archive
    claiming a terabyte ended in MemoryError, one claiming 300 MB cost 1.3 GB. `_proc_member` is
    the hook `tarfile` documents for subclasses.
    """

    def _proc_member(self, tar):
        kind = _EXTENDED_HEADERS.get(self.type)
        if kind is None:
            tar.labreport_headers_in_a_row = 0
            return super()._proc_member(tar)
        if self.size > MAX_TAR_HEADER_BYTES:
            raise LabreportError(f"a tar header ({kind}) claims {self.size:,} bytes, more than the limit of "
                                 f"{MAX_TAR_HEADER_BYTES:,}")
        tar.labreport_headers_in_a_row = getattr(tar, "labreport_headers_in_a_row", 0) + 1
        if tar.labreport_headers_in_a_row > MAX_TAR_HEADERS_IN_A_ROW:
            raise LabreportError(f"more than {MAX_TAR_HEADERS_IN_A_ROW} long-name or PAX headers in a row "
                                 "in a tar archive")
        return super()._proc_member(tar)


def open_tar(path: str | os.PathLike) -> tarfile.TarFile:
    """Opens a tar archive (any compression) for reading, its headers bounded (`BoundedTarInfo`).

    Raises:
        LabreportError: a header's payload claims more than `MAX_TAR_HEADER_BYTES`.
        tarfile.TarError: not a tar archive, or a damaged one.
    """
    return tarfile.open(path, mode="r:*", tarinfo=BoundedTarInfo)

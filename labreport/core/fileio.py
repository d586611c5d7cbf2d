"""Files in and out: atomic writes, a run's own files read without trust, CSV cells kept as text.

A written file is either the old one or the new one, never half of one. Every output of labreport goes through these functions. Each writes to a temporary file in the
destination folder (same file system, so the rename is atomic), flushes it to disk, and renames it
into place. An interruption or a full disk leaves the previous file untouched.
"""

from __future__ import annotations

import json
import os
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
    text = json.dumps(data, ensure_ascii=False, indent=2, allow_nan=False)
    return write_text(path, text + "\n")


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
    if not path.is_file():
        raise LabreportError(f"{name} is not a plain file")
    size = path.stat().st_size
    if size > limit:
        raise LabreportError(f"{name} is {size:,} bytes, more than the {limit:,} allowed")
    with open(path, "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise LabreportError(f"{name} is more than the {limit:,} bytes allowed")
    return data


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""A spreadsheet runs a cell that starts with one of these as a formula."""


def safe_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as text: text starting with =, +, -, @ gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value

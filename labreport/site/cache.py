"""The course site's render cache: each run's rendered pages, kept in the site's own folder, reused
while their inputs are unchanged.

An entry is one report file (one run, one language, one format) in `SITE/.cache/`, named by the
SHA-256 of its key: the record's digest, the notes' digest, the renderer's digest (templates,
catalogs and the report's code, the user's folder included), labreport's version, the language, the
format and the versions of the libraries that write it (WeasyPrint, python-docx, python-hwpx), so an
upgraded library renders its format again. The file starts with one JSON line, `{"key": ..., "sha256": ..., "size": ...,
"rendered_ns": ...}`, then the page's bytes.

The cache is read as untrusted input: only a plain file (never a link) whose name is the expected
one, no larger than `MAX_ENTRY_BYTES`, whose header names exactly the key asked for, whose bytes
have the size and SHA-256 it states, and whose header carries the right HMAC-SHA256 (`"mac"`) is
reused; anything else (corrupt, cut short, another key's entry renamed, a link or a `.cache` that is one, a page planted
under its right key) is rendered again. The HMAC is needed because the key is no secret: it is
written in every entry's header, in a folder others may write to (a shared course folder, a
synced drive), so anyone there could plant a page of their own, with its right size and SHA-256,
under the very key of a run's page, and the site would publish it as that run's report. The HMAC's
key is the user's own, outside the site (`labreport.site.check_cache.secret_key`, the check
cache's, with the input told apart by a prefix); without one nothing is reused or kept. No path is
ever taken from an entry. The next site's cache holds only the entries its own runs use, so it
never grows beyond the site itself.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
from dataclasses import dataclass
from pathlib import Path

from labreport.core import __version__, fileio

FOLDER = ".cache"
"""The cache's folder inside the site's folder."""
MAX_ENTRY_BYTES = 64 * 1024 * 1024
"""The largest page the cache keeps (a full report's HTML or PDF is about 1 MiB)."""
MAX_HEADER_BYTES = 4096
CACHE_FORMAT = 1
"""Raised when the entry layout changes: every older entry then misses."""


def renderer_digest(folders: list[Path]) -> str:
    """A digest of everything a page is rendered with besides the record and notes: the template
    folders (the user's first) and the report's own code (which a development checkout changes
    without a new version)."""
    from labreport import report

    digest = hashlib.sha256()
    for folder in [*folders, Path(report.__file__).parent]:
        update_with_tree(digest, folder)
    return digest.hexdigest()


def update_with_tree(digest, folder: Path, suffixes: tuple[str, ...] | None = None) -> None:
    """Feeds `digest` every plain file under `folder` (those ending in `suffixes`, when given): its
    path in the folder and its bytes' SHA-256, in a fixed order; links and `__pycache__` left out."""
    for path in sorted(folder.rglob("*")):
        if (path.is_file() and not path.is_symlink() and "__pycache__" not in path.parts
                and (suffixes is None or path.suffix in suffixes)):
            digest.update(str(path.relative_to(folder)).encode("utf-8", "surrogateescape") + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())


def text_digest(text: str | None) -> str:
    """The digest of a run's notes in one language ("-" when it has none)."""
    return "-" if text is None else hashlib.sha256(text.encode("utf-8")).hexdigest()


@functools.lru_cache(maxsize=None)  # looked up once a format, not once a page
def library_versions(fmt: str) -> tuple[str, ...]:
    """The installed versions of the libraries that write format `fmt` ("-" for one not installed)."""
    from importlib import metadata

    from labreport.report import formats

    versions = []
    for name in formats.exporter(fmt).libraries:
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name} -")
    return tuple(versions)


def key(record_digest: str, notes_digest: str, renderer: str, lang: str, fmt: str) -> str:
    """What one cached page depends on, as one string."""
    return json.dumps([CACHE_FORMAT, record_digest, notes_digest, renderer, __version__, lang, fmt, list(library_versions(fmt))])


def entry_name(entry_key: str) -> str:
    return hashlib.sha256(entry_key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Entry:
    """A cached page: its bytes and when it was rendered (the published file keeps that time, so a
    web server's Last-Modified and a TA's file listing say when the page really changed)."""

    data: bytes
    rendered_ns: int


def _mac(secret: bytes, entry_key: str, sha256: str, size: int, rendered_ns: int) -> str:
    """The HMAC of an entry's header (its SHA-256 binds the page's bytes); the prefix keeps it apart
    from the check cache's HMACs under the same key."""
    message = b"labreport page cache\0" + json.dumps([entry_key, sha256, size, rendered_ns]).encode("utf-8")
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def read(cache: Path, entry_key: str, secret: bytes | None) -> Entry | None:
    """The page cached under `entry_key` in the folder `cache`, or None when there is no authentic one
    (always None without a `secret`: `labreport.site.check_cache.secret_key()`)."""
    if secret is None:
        return None
    name = entry_name(entry_key)
    path = cache / name
    if not fileio.is_real_folder(cache):  # a `.cache` planted as a link would send reads outside the site
        return None
    try:
        handle, info = fileio.open_plain(path)
        with handle:
            if info.st_size > MAX_ENTRY_BYTES + MAX_HEADER_BYTES:
                return None
            # The header's HMAC first: a planted entry costs one short line, not a page's read and hash.
            stated = _authentic_header(handle.readline(MAX_HEADER_BYTES + 1), entry_key, secret)
            if stated is None:
                return None
            body = handle.read(stated["size"] + 1)
    except OSError:
        return None
    if len(body) != stated["size"] or not hmac.compare_digest(hashlib.sha256(body).hexdigest(), stated["sha256"]):
        return None
    return Entry(body, stated["rendered_ns"])


def _authentic_header(line: bytes, entry_key: str, secret: bytes) -> dict | None:
    """An entry's header line as written by `write` for `entry_key` under `secret`, or None."""
    if not line.endswith(b"\n") or len(line) > MAX_HEADER_BYTES:
        return None
    try:
        stated = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if (not isinstance(stated, dict) or set(stated) != {"key", "sha256", "size", "rendered_ns", "mac"}
            or stated["key"] != entry_key or not isinstance(stated["sha256"], str) or not isinstance(stated["mac"], str)
            or not stated["mac"].isascii()  # compare_digest raises on other text
            or not isinstance(stated["size"], int) or not 0 <= stated["size"] <= MAX_ENTRY_BYTES
            or not isinstance(stated["rendered_ns"], int) or stated["rendered_ns"] < 0):
        return None
    expected = _mac(secret, entry_key, stated["sha256"], stated["size"], stated["rendered_ns"])
    return stated if hmac.compare_digest(stated["mac"], expected) else None


def write(cache: Path, entry_key: str, data: str | bytes, rendered_ns: int, secret: bytes | None) -> None:
    """Keeps `data` (a page rendered at `rendered_ns`) in the folder `cache` under `entry_key`; a page
    too large, or any page without a `secret` to authenticate it, is not kept."""
    body = data.encode("utf-8") if isinstance(data, str) else data
    if secret is None or len(body) > MAX_ENTRY_BYTES:
        return
    sha256 = hashlib.sha256(body).hexdigest()
    header = json.dumps({"key": entry_key, "sha256": sha256, "size": len(body), "rendered_ns": rendered_ns,
                         "mac": _mac(secret, entry_key, sha256, len(body), rendered_ns)})
    cache.mkdir(parents=True, exist_ok=True)
    # Into the next site's private staging folder, unflushed: an entry a crash cuts short fails its
    # SHA-256 and is rendered again, and flushing each page twice was most of a reused run's cost.
    (cache / entry_name(entry_key)).write_bytes(header.encode("utf-8") + b"\n" + body)

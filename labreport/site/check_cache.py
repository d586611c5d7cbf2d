"""The course site's check cache: each run's check results, reused while the run's files are unchanged.

Reading and checking a full run costs about a fifth of a second, almost all of it the record's
schema validation (`labreport.core.record.parse_record`), so a late build of a class of 200 re-checked
every unchanged run for most of a minute. Hashing a run's files costs about a millisecond, so a late
build now hashes each run and reuses what the previous build found:

- an entry holds what `labreport.site.checks.check_run` leaves on a run: its own flags (quick,
  partial, edited, no_predictions, predictions_unreadable, params), the fingerprints the checks
  across runs compare (`predictions_digest`, `uncovered_digest`) and the slim record the table shows;
- its key is the SHA-256 of the record's bytes, of the predictions' bytes (or that there are none),
  labreport's version, NumPy's version and a digest of the code that reads and checks a run (every
  file of `labreport/core` and `labreport/site`), so an edited file or a new labreport misses;
- what depends on more than one run or on more than the record and predictions is computed afresh
  every build from the entries: the settings against the assignment or the class, identical runs,
  shared IDs (`checks.check_class`), and what a student wrote (the notes are read every build, and
  their pages are keyed by their digest in `labreport.site.cache`). An edited assignment or notes
  file therefore changes the site without touching an entry.

Threat model. Everything in the site's folder may have been planted or edited by someone who can
write there but cannot read the user's own files: a student with write access to a shared course
folder, an archive unpacked over it. So each entry is authenticated with an HMAC-SHA256 whose
32-byte key lives outside the site, in the user's cache (`labreport.core.fileio.user_cache_folder()`,
`site/check-key`, created 0600 in a 0700 folder, and used only while it is a plain file of this user
that no one else can read). An entry is `<hex HMAC>\\n<JSON payload>` in `SITE/.checks/`, named
by the SHA-256 of its key; it is reused only when it is a plain file (never a link, in a `.checks`
that is not a link), at most `MAX_ENTRY_BYTES` long, whose HMAC over the payload is right (checked
before the payload is parsed) and whose payload names exactly the key asked for. A forged, edited,
corrupt, oversized or renamed entry (another run's, authentic but for other inputs) therefore
misses, and the run is read and checked afresh; the worst a planted file can do is cost one bounded
read, and deleting entries costs only time. No path is ever taken from an entry. Without a usable
key (no writable cache folder; a key file that is a link, another user's or readable by others)
nothing is reused and every run is checked, as before.
An authentic entry copied from another of the user's sites is a correct result for its inputs, so
it may be reused. Out of scope: whoever can read the user's own cache folder (the user, root).
The next site's entries are only those of its own runs.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path
from typing import Any

from labreport.core import LabreportError, __version__, fileio
from labreport.core import record as record_module
from labreport.site import cache as site_cache
from labreport.site import checks
from labreport.site.submissions import Run

FOLDER = ".checks"
"""The entries' folder inside the site's folder (beside the pages' `labreport.site.cache.FOLDER`)."""
KEY_FILE = Path("site") / "check-key"
"""The HMAC key's file inside the user's cache folder."""
KEY_BYTES = 32
MAX_ENTRY_BYTES = 1024 * 1024
"""The largest entry kept or read (a full run's is about 3 KB: its slim record and flags)."""
CACHE_FORMAT = 1
"""Raised when the entry layout changes: every older entry then misses."""
NO_FILE = "-"


def code_digest() -> str:
    """A digest of the code that reads and checks a run (`labreport/core`, `labreport/site`), which a
    development checkout changes without a new version."""
    import numpy

    digest = hashlib.sha256(f"{__version__}\0{numpy.__version__}\0".encode())
    for folder in (Path(fileio.__file__).parent, Path(__file__).parent):
        site_cache.update_with_tree(digest, folder, (".py", ".json"))
    return digest.hexdigest()


def secret_key() -> bytes | None:
    """This user's HMAC key (made on first use), or None when there is no private one to use."""
    path = fileio.user_cache_folder() / KEY_FILE
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(secrets.token_bytes(KEY_BYTES))
        handle, info = fileio.open_plain(path)
        with handle:
            if info.st_mode & 0o077 or (hasattr(os, "getuid") and info.st_uid != os.getuid()):
                return None  # a key others can read or write authenticates nothing
            key = handle.read(KEY_BYTES + 1)
    except OSError:
        return None
    return key if len(key) == KEY_BYTES else None


class CheckCache:
    """The previous site's entries (read) and the next site's (kept until the site is written).

    Args:
        old: the previous site's folder (`SITE`), read as untrusted.
        secret: the HMAC key (`secret_key()`); None turns the cache off.
    """

    def __init__(self, old: Path, secret: bytes | None) -> None:
        self.secret = secret
        self.code = code_digest() if secret is not None else ""
        self.folder = old / FOLDER if secret is not None and fileio.is_real_folder(old / FOLDER) else None
        self.new: dict[str, bytes] = {}
        """Entries of this build's runs by file name, written into the next site by `write`."""
        self.reused = 0

    def key(self, record_sha256: str, predictions: bytes | None) -> str:
        """What a run's check results depend on, as one string."""
        predictions_sha256 = NO_FILE if predictions is None else hashlib.sha256(predictions).hexdigest()
        return json.dumps([CACHE_FORMAT, self.code, record_sha256, predictions_sha256])

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self.secret, payload, hashlib.sha256).hexdigest().encode("ascii")

    def read(self, entry_key: str) -> dict[str, Any] | None:
        """The results cached under `entry_key`, or None when there is no authentic one."""
        if self.folder is None:
            return None
        path = self.folder / entry_name(entry_key)
        try:
            handle, info = fileio.open_plain(path)
            with handle:
                if info.st_size > MAX_ENTRY_BYTES:
                    return None
                data = handle.read(MAX_ENTRY_BYTES + 1)
        except OSError:
            return None
        mac, newline, payload = data.partition(b"\n")
        if len(data) > MAX_ENTRY_BYTES or not newline or not hmac.compare_digest(mac, self._mac(payload)):
            return None
        try:
            stated = json.loads(payload)
        except (ValueError, RecursionError):
            return None
        if not isinstance(stated, dict) or stated.get("key") != entry_key or not isinstance(stated.get("results"), dict):
            return None
        return stated["results"]

    def reuse(self, run: Run) -> bool:
        """Fills `run` (read, its record not yet parsed) from its authentic entry; False when there is none."""
        if self.folder is None:
            return False
        try:
            predictions = read_predictions(run.folder)
        except (LabreportError, OSError):  # checked afresh, which flags it
            return False
        entry_key = self.key(run.record_sha256, predictions)
        results = self.read(entry_key)
        if results is None:
            return False
        try:
            checks.restore(run, results)
        except (KeyError, TypeError, ValueError):  # authentic but not this code's layout: check afresh
            run.record, run.flags, run.checked = None, [], False
            return False
        self.keep(entry_key, results)
        self.reused += 1
        return True

    def check(self, run: Run) -> None:
        """Checks `run` (`checks.check_run`) on the very predictions' bytes its entry is keyed by, and keeps the results."""
        try:
            predictions = read_predictions(run.folder)
        except LabreportError:
            checks.check_run(run)  # flags the unreadable predictions; nothing to key an entry by
            return
        checks.check_run(run, predictions)
        self.keep(self.key(run.record_sha256, predictions), checks.results(run))

    def keep(self, entry_key: str, results: dict[str, Any]) -> None:
        """Keeps `results` for the next site under `entry_key` (not when larger than an entry may be)."""
        if self.secret is None:
            return
        payload = json.dumps({"key": entry_key, "results": results}, ensure_ascii=False).encode("utf-8")
        data = self._mac(payload) + b"\n" + payload
        if len(data) <= MAX_ENTRY_BYTES:
            self.new[entry_name(entry_key)] = data

    def write(self, site: Path) -> None:
        """Writes this build's entries into the next site's folder `site` (the new site's private
        staging folder: nothing else writes there, and an entry cut short by a crash fails its HMAC,
        so no flush to disk is waited for; that wait was most of an entry's cost)."""
        if not self.new:
            return
        (site / FOLDER).mkdir(parents=True, exist_ok=True)
        for name, data in self.new.items():
            (site / FOLDER / name).write_bytes(data)


def entry_name(entry_key: str) -> str:
    return hashlib.sha256(entry_key.encode("utf-8")).hexdigest()


def read_predictions(folder: Path) -> bytes | None:
    """The run's `predictions.npz` bytes, None when absent (`fileio.read_run_file`'s rules and errors)."""
    return fileio.read_run_file(folder, record_module.PREDICTIONS_FILE, record_module.MAX_PREDICTIONS_BYTES)

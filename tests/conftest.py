"""Shared fixtures: a tiny IMDB-shaped archive built on the fly, and the checked-in record."""

from __future__ import annotations

import atexit
import copy
import io
import json
import os
import shutil
import tarfile
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# labreport's compiled loops are built once per test session (about half a minute), into a folder
# of its own rather than the user's cache; the CLI tests' subprocesses inherit it, and so do
# pytest-xdist's workers (this runs first in the controller, which removes the folder at its end;
# the build's lock lets one worker build while the other waits). A developer may point
# LABREPORT_CACHE_DIR at a lasting folder to skip the build on later runs.
if "LABREPORT_CACHE_DIR" not in os.environ:
    os.environ["LABREPORT_CACHE_DIR"] = tempfile.mkdtemp(prefix="labreport-test-cache-")
    atexit.register(shutil.rmtree, os.environ["LABREPORT_CACHE_DIR"], ignore_errors=True)

DATA = Path(__file__).parent / "data"

POSITIVE = [
    "A wonderful film.<br /><br />The acting was superb and the story moved me.",
    "Great fun, I loved every minute of it.",
    "Brilliant direction and a touching score.",
]
NEGATIVE = [
    "Dull and far too long.<br />I nearly fell asleep.",
    "The worst script I have seen this year.",
    "Boring characters, terrible ending.",
]


def add_file(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


def make_archive(path: Path, splits=("train", "test"), extra: bool = True, bad_utf8: bool = False) -> Path:
    """Writes an archive laid out like aclImdb_v1.tar.gz, with noise the reader must skip."""
    with tarfile.open(path, "w:gz") as archive:
        for split in splits:
            for polarity, texts in (("pos", POSITIVE), ("neg", NEGATIVE)):
                for i, text in enumerate(texts):
                    add_file(archive, f"aclImdb/{split}/{polarity}/{i}_{8 if polarity == 'pos' else 2}.txt",
                             text.encode("utf-8"))
        if extra:
            add_file(archive, "aclImdb/README", b"readme")
            add_file(archive, "aclImdb/train/unsup/0_0.txt", b"unlabeled review, must be ignored")
            add_file(archive, "aclImdb/train/labeledBow.feat", b"0 0:1")
            add_file(archive, "aclImdb/train/urls_pos.txt", b"http://example.invalid")
        if bad_utf8:
            add_file(archive, "aclImdb/train/pos/99_9.txt", b"caf\xe9 au lait, \xff great")
    return path


@pytest.fixture
def tiny_archive(tmp_path: Path) -> Path:
    return make_archive(tmp_path / "aclImdb_v1.tar.gz")


@pytest.fixture(scope="session")
def checked_in_record() -> dict:
    """A real record from `labreport train --quick --epochs 4`, checked in under tests/data."""
    return json.loads((DATA / "results.json").read_text(encoding="utf-8"))


@pytest.fixture
def record(checked_in_record) -> dict:
    return copy.deepcopy(checked_in_record)


@pytest.fixture
def record_dir(tmp_path: Path, record: dict) -> Path:
    """An output folder holding a copy of the checked-in record, one sample carrying markup."""
    for entry in record["models"].values():
        entry["samples"][0]["text"] = 'Loved it <script>alert("x")</script> & more'
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.json").write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    return out


def tar_with_a_huge_header(path: Path, header_type: bytes, claimed: int) -> Path:
    """A 2 KB tar (gzip when `path` ends in .gz) whose first header, a GNU long name (`tarfile.GNUTYPE_LONGNAME`)
    or a PAX record (`tarfile.XHDTYPE`), claims `claimed` bytes of payload; only 1 KB follows."""
    import gzip

    header = tarfile.TarInfo("././@LongLink")
    header.type, header.size = header_type, claimed
    raw = header.tobuf(format=tarfile.GNU_FORMAT) + b"aclImdb/train/pos/0_8.txt".ljust(1024, b"\0")
    path.write_bytes(gzip.compress(raw) if path.name.endswith(".gz") else raw)
    return path


UNBUILDABLE = ("no_compiler", "no_source", "build_failed", "build_stopped")
"""Why the compiled loops may be missing without a fault in them: this machine cannot build them (no
compiler, or every target of the ladder refused or stopped). A library that builds but does not load
or lacks its ops is a fault of the loops, and fails."""


def compiled_loops_unbuildable() -> str | None:
    """Why no build of labreport's compiled loops is possible on this machine, or None where one loaded
    or where its absence is a fault (the tests that use it then fail on it)."""
    from labreport.experiment import kernels

    loaded = kernels.default()
    if loaded.library is None and loaded.reason in UNBUILDABLE:
        return f"no build of labreport's compiled loops is possible here: {loaded.note}"
    return None


@pytest.fixture
def compiled_loops():
    """The loaded compiled loops (`labreport.experiment.kernels.Kernels`), built once per session. A
    test that needs them is skipped, with the reason in the summary, where this machine cannot build
    them for any target; it fails where they built but do not load, or are wrong."""
    from labreport.experiment import kernels

    if (reason := compiled_loops_unbuildable()) is not None:
        pytest.skip(reason)
    loaded = kernels.default()
    assert loaded.library is not None, loaded.note
    return loaded

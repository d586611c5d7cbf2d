"""Costs bounded before work (issue 32): a hostile archive, data folder, notes or record is one line,
at once, and nothing inside or outside the output folder changes. Each case runs the command a user
runs and hashes every file under its folder (OUT, a planted victim beside it, the input) before and after."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.conftest import add_file, make_archive, tar_with_a_huge_header


def tree(root: Path) -> dict:
    """Every file and link under `root` with its sha256 (a link: where it points), except OUT's lock
    file: a command takes the lock before it reads the folder, so the lock file (labreport's own,
    holding the holder's pid) may be new after a refused command; nothing else may be."""
    found = {}
    for path in sorted(root.rglob("*")):
        name = path.relative_to(root).as_posix()
        if path.name == ".labreport.lock":
            continue
        if path.is_symlink():
            found[name] = "-> " + str(path.readlink())
        elif path.is_file():
            found[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def planted(tmp_path: Path) -> Path:
    """An output folder with a previous run's file, and a victim folder beside it; returns OUT."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.json").write_text('{"previous": "run"}', encoding="utf-8")
    (tmp_path / "victim").mkdir()
    (tmp_path / "victim" / "keep.txt").write_text("the instructor's own file", encoding="utf-8")
    return out


def labreport(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "labreport", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def one_line(result: subprocess.CompletedProcess, expected: str) -> None:
    assert result.returncode == 2, result.stderr[-3000:]
    assert result.stderr == f"labreport: error: {expected}\n", result.stderr[-3000:]


def data_with_a_huge_header(tmp_path: Path) -> tuple[Path, str]:
    archive = tar_with_a_huge_header(tmp_path / "aclImdb_v1.tar.gz", tarfile.GNUTYPE_LONGNAME, 1 << 40)
    return archive, f"{archive}: a tar header (GNU long name) claims 1,099,511,627,776 bytes, more than the limit of 65,536"


def data_with_a_long_number(tmp_path: Path) -> tuple[Path, str]:
    archive = tmp_path / "a.tar"
    name = "aclImdb/train/pos/" + "7" * 5000 + "_8.txt"
    with tarfile.open(make_archive(tmp_path / "a.tar.gz")) as honest, tarfile.open(archive, "w") as tarred:
        for member in honest:
            tarred.addfile(member, honest.extractfile(member))
        add_file(tarred, name, b"a review")
    return archive, f"{archive}: {name[:200]}: a review file's number has at most 9 digits, this one has 5,000"


def data_with_a_linked_split(tmp_path: Path) -> tuple[Path, str]:
    data = tmp_path / "data"
    with tarfile.open(make_archive(tmp_path / "a.tar.gz")) as archive:
        archive.extractall(data, filter="data")
    (data / "aclImdb" / "train").rename(tmp_path / "victim-train")
    (data / "aclImdb" / "train").symlink_to(tmp_path / "victim-train")
    return data, f"{data / 'aclImdb' / 'train'} is a link: labreport follows no links inside --data"


@pytest.mark.parametrize("make", [data_with_a_huge_header, data_with_a_long_number, data_with_a_linked_split])
def test_hostile_data_is_one_line_and_changes_nothing(tmp_path, make):
    out = planted(tmp_path)
    data, expected = make(tmp_path)
    before = tree(tmp_path)
    one_line(labreport("train", "--data", str(data), "--out", str(out), "--epochs", "1", cwd=tmp_path), expected)
    assert tree(tmp_path) == before


RECORD = Path(__file__).parent / "data" / "results.json"


@pytest.mark.parametrize("notes, expected", [
    ("\n".join(f"# h{i}" for i in range(8000)),
     "line 51: more than 50 sections (top-level headings); notes hold at most that many"),
    ("# A\n\n{{ 1" + "9" * 5000 + " }}\n", "line 3: a number in a placeholder has more than 4,300 digits"),
    ("# A\n{{ models" + "[0]" * 3000 + " }}\n",
     "line 2: a placeholder is nested too deeply to read (brackets, indices or filters)"),
])
def test_hostile_notes_are_one_line_and_change_nothing(tmp_path, notes, expected):
    """8,000 one-line headings (within 256 KiB) took 391 s and 4.25 GB to render."""
    out = planted(tmp_path)
    (out / "results.json").write_bytes(RECORD.read_bytes())
    (out / "notes.en.md").write_text(notes, encoding="utf-8")
    (out / "report.en.html").write_text("the previous report", encoding="utf-8")
    before = tree(tmp_path)
    one_line(labreport("render", "--out", str(out), "--lang", "en", cwd=tmp_path), f"{out / 'notes.en.md'}, {expected}")
    assert tree(tmp_path) == before


def test_a_record_over_16_mib_is_one_line_and_changes_nothing(tmp_path):
    """A legal 59 MB record took a minute to load; the largest a run writes is 8.3 MB."""
    out = planted(tmp_path)
    raw = RECORD.read_bytes()
    padded = raw[:-2] + b" " * (16 * 1024 * 1024 - len(raw) + 1) + raw[-2:]
    (out / "results.json").write_bytes(padded)
    before = tree(tmp_path)
    one_line(labreport("render", "--out", str(out), "--lang", "en", "--format", "html", cwd=tmp_path),
             f"{out / 'results.json'} is {len(padded):,} bytes (a results record is at most 16,777,216)")
    assert tree(tmp_path) == before

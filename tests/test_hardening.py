"""Bad input and broken environments: one clear line, a non-zero status, and nothing destroyed."""

import json
import os
import subprocess
import sys
import tempfile
import textwrap

import pytest

from labreport import LabreportError
from labreport.core import fileio


def test_atomic_write_keeps_the_old_file_when_the_disk_is_full(tmp_path, monkeypatch):
    target = tmp_path / "report.en.html"
    target.write_text("the report I already had")
    real_mkstemp = tempfile.mkstemp

    def mkstemp_on_a_full_disk(*args, **kwargs):
        fd, name = real_mkstemp(*args, **kwargs)
        os.close(fd)
        return os.open("/dev/full", os.O_WRONLY), name  # every write fails with ENOSPC

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp_on_a_full_disk)
    with pytest.raises(LabreportError, match="No space left on device"):
        fileio.write_text(target, "a new report that does not fit")
    assert target.read_text() == "the report I already had"
    assert [p.name for p in tmp_path.iterdir()] == ["report.en.html"]  # no temporary file left


def test_atomic_write_replaces_whole_files(tmp_path):
    target = tmp_path / "results.json"
    target.write_text('{"old": true, "padding": "' + "x" * 10_000 + '"}')
    inode = target.stat().st_ino
    fileio.write_json(target, {"b": 1, "a": [1, 2]})
    assert json.loads(target.read_text()) == {"b": 1, "a": [1, 2]}  # the whole new file, nothing of the old
    assert target.stat().st_ino != inode  # a new file renamed into place, not the old one rewritten
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]  # no temporary file left behind
    assert oct(target.stat().st_mode & 0o777) != oct(0o600)


def test_fewer_reviews_than_one_batch(tmp_path):
    from tests.conftest import make_archive

    archive = make_archive(tmp_path / "tiny.tar.gz")
    result = subprocess.run([sys.executable, "-m", "labreport", "train", "--data", str(archive),
                             "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=300)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "fewer than one batch" in result.stderr


def test_missing_weasyprint_still_writes_the_html(tmp_path, record_dir):
    script = textwrap.dedent(f"""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "weasyprint":
                    raise OSError("cannot load library 'libpango-1.0-0'")
        sys.meta_path.insert(0, Block())
        from labreport.cli import main
        sys.exit(main(["render", "--out", {str(record_dir)!r}, "--lang", "en"]))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert (record_dir / "report.en.html").exists() and not (record_dir / "report.en.pdf").exists()
    lines = [line for line in result.stderr.splitlines() if "no PDF" in line]
    assert len(lines) == 1 and "libpango" in lines[0] and "Traceback" not in result.stderr


def test_hand_edited_record_names_the_field(tmp_path, record):
    record["models"]["lstm"]["test"]["accuracy"] = "high"
    (tmp_path / "results.json").write_text(json.dumps(record))
    result = subprocess.run([sys.executable, "-m", "labreport", "render", "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "models.lstm.test.accuracy" in result.stderr


def test_record_that_is_not_json(tmp_path):
    (tmp_path / "results.json").write_text("{ not json")
    result = subprocess.run([sys.executable, "-m", "labreport", "render", "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode != 0 and "not valid JSON" in result.stderr and "Traceback" not in result.stderr


def test_oserror_messages_are_readable(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(LabreportError, match="not writable"):
        fileio.check_writable(blocker / "sub")

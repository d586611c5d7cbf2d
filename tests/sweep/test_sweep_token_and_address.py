"""The sweep's Ray token is this user's alone, and an address that does not answer is one line at once.

The token file is a key to run code as this user in the sweep's instance; Ray itself writes it with
the umask (0644 in a 0755 home). A closed or silent port kept Ray's client retrying for 14 minutes.
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from labreport import LabreportError
from labreport.sweep import engine


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("RAY_AUTH_TOKEN", raising=False)
    monkeypatch.delenv("RAY_AUTH_TOKEN_PATH", raising=False)
    return home


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_the_token_a_local_instance_needs_is_written_private(home):
    notes = []
    path = engine.private_token(True, notes.append)
    assert path == home / ".ray" / "auth_token"
    assert mode(path) == 0o600 and mode(path.parent) == 0o700
    assert len(path.read_text(encoding="ascii")) == 64 and notes == []
    assert engine.private_token(True, notes.append) == path and notes == []  # kept as it is the next time


def test_a_token_readable_by_others_is_replaced_for_a_local_instance_and_made_private_for_a_cluster(home):
    folder = home / ".ray"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)
    path = folder / "auth_token"
    path.write_text("a" * 64, encoding="ascii")
    os.chmod(path, 0o644)
    notes = []
    engine.private_token(False, notes.append)
    assert notes == [f"note: the Ray token folder {folder} was open to other users (mode 755); labreport made it 0700",
                     f"note: the Ray token file {path} was readable by other users (mode 644); labreport made it 0600 "
                     "(anyone who read it can still reach the cluster until its token changes)"]
    assert mode(path) == 0o600 and mode(folder) == 0o700 and path.read_text(encoding="ascii") == "a" * 64
    os.chmod(path, 0o640)
    notes.clear()
    engine.private_token(True, notes.append)
    assert notes == [f"note: the Ray token file {path} was readable by other users (mode 640); labreport replaced it "
                     "with a new token only this user can read (0600)"]
    assert mode(path) == 0o600 and path.read_text(encoding="ascii") != "a" * 64


@pytest.mark.parametrize("linked", ["file", "folder"])
def test_a_linked_token_is_refused_and_what_it_points_to_is_untouched(home, tmp_path, linked):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "auth_token").write_text("victim", encoding="ascii")
    os.chmod(victim / "auth_token", 0o644)
    if linked == "folder":
        (home / ".ray").symlink_to(victim)
        expected = f"the Ray token folder {home / '.ray'} is a link: labreport keeps its Ray token only in a folder of this user's own"
    else:
        (home / ".ray").mkdir(mode=0o700)
        (home / ".ray" / "auth_token").symlink_to(victim / "auth_token")
        expected = (f"the Ray token file {home / '.ray' / 'auth_token'} is a link: labreport uses only a token file of "
                    "this user's own (remove it, and a local sweep writes a new one)")
    with pytest.raises(LabreportError) as raised:
        engine.private_token(True, print)
    assert str(raised.value) == expected
    assert (victim / "auth_token").read_text(encoding="ascii") == "victim" and mode(victim / "auth_token") == 0o644
    assert sorted(p.name for p in victim.iterdir()) == ["auth_token"]


def sweep(tmp_path: Path, address: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "labreport", "sweep", "--quick", "--vary", "max_length=16",
                           "--address", address, "--out", str(tmp_path / "out")], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, env={**os.environ, "HOME": str(tmp_path)})


def test_a_closed_port_is_one_line(tmp_path):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound, never listening: connecting is refused
        result = sweep(tmp_path, f"127.0.0.1:{port}")
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1] == (
        f"labreport: error: cannot connect to the Ray cluster at 127.0.0.1:{port}: Connection refused")
    assert "Traceback" not in result.stderr and not (tmp_path / "out" / "runs").exists()


def test_a_silent_port_is_one_line(tmp_path):
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)  # the kernel accepts the connection; nothing ever answers
        port = silent.getsockname()[1]
        result = sweep(tmp_path, f"127.0.0.1:{port}")
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1] == (
        f"labreport: error: cannot connect to the Ray cluster at 127.0.0.1:{port}: it did not answer within 5 seconds")
    assert "Traceback" not in result.stderr and not (tmp_path / "out" / "runs").exists()

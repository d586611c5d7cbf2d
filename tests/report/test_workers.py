"""Render workers end with the command that started them, however it ends."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not Path("/proc").is_dir() or (os.cpu_count() or 1) < 2,
                                reason="needs /proc and two cores (one worker per language)")


def children(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_killing_render_leaves_no_worker_behind(record_dir, signum):
    render = subprocess.Popen([sys.executable, "-m", "labreport", "render", "--out", str(record_dir),
                               "--lang", "ko,en", "--format", "html,pdf"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    workers: set[int] = set()
    while len(workers) < 2 and time.monotonic() < deadline and render.poll() is None:
        workers = children(render.pid)
        time.sleep(0.05)
    assert len(workers) >= 2, "the render finished before its workers could be seen"
    time.sleep(0.5)  # the workers are rendering
    os.kill(render.pid, signum)
    render.wait(timeout=60)
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in workers if alive(pid)]

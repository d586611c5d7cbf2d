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


def two_workers_of(command: subprocess.Popen, find) -> set[int]:
    """The worker processes `find(pid)` sees under the running `command`, once there are two (or it ended)."""
    deadline = time.monotonic() + 120
    workers: set[int] = set()
    while len(workers) < 2 and time.monotonic() < deadline and command.poll() is None:
        workers = find(command.pid)
        time.sleep(0.05)
    return workers


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_killing_render_leaves_no_worker_behind(record_dir, signum):
    render = subprocess.Popen([sys.executable, "-m", "labreport", "render", "--out", str(record_dir),
                               "--lang", "ko,en", "--format", "html,pdf"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    workers = two_workers_of(render, children)
    assert len(workers) >= 2, "the render finished before its workers could be seen"
    time.sleep(0.5)  # the workers are rendering
    os.kill(render.pid, signum)
    render.wait(timeout=60)
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in workers if alive(pid)]


def spawned_workers(pid: int) -> set[int]:
    """The pool's worker processes among `pid`'s children (not multiprocessing's resource tracker)."""
    found = set()
    for child in children(pid):
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"resource_tracker" not in command:
            found.add(child)
    return found


def test_a_class_renders_on_every_core_and_a_dead_worker_costs_no_page(checked_in_record):
    """`render_records`, as the course site calls it: a record that cannot be rendered fails alone,
    and a worker killed mid-page takes no page with it (its pages are rendered again)."""
    import copy
    import threading

    from labreport.report import workers

    broken = copy.deepcopy(checked_in_record)
    del broken["models"]  # no page can be made of it
    jobs = [(copy.deepcopy(checked_in_record), ["en"], ("html",), None, {}, (), None) for _ in range(4)]
    jobs.insert(1, (broken, ["en"], ("html",), None, {}, (), None))
    before, killed = children(os.getpid()), []

    def kill_a_worker() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            rendering = spawned_workers(os.getpid()) - before
            if len(rendering) >= 2:
                time.sleep(0.5)  # past its start, into a page
                victim = min(rendering)
                os.kill(victim, signal.SIGKILL)
                killed.append(victim)
                return
            time.sleep(0.02)

    killer = threading.Thread(target=kill_a_worker)
    killer.start()
    done: list[int] = []
    results = workers.render_records(jobs, done=done.append)
    killer.join()
    assert killed, "no worker was seen rendering"
    assert isinstance(results[1], KeyError)
    for job in (0, 2, 3, 4):
        [result] = results[job]
        assert result.lang == "en" and result.outputs["html"].data.startswith("<!DOCTYPE html>") and "pdf" not in result.outputs
    assert sorted(done) == [0, 1, 2, 3, 4]


def test_a_site_stopped_by_sigterm_leaves_the_previous_site_and_nothing_beside_it(tmp_path, checked_in_record):
    """`kill` (a batch system's time limit, systemd) stops `labreport site` as Ctrl-C does: the
    workers end, the half-built site beside SITE and the scratch folder are removed, SITE stays."""
    import json

    for n in range(4):
        run = tmp_path / "class" / f"student{n}"
        run.mkdir(parents=True)
        (run / "results.json").write_text(json.dumps(checked_in_record), encoding="utf-8")
    site = tmp_path / "web" / "site"
    site.mkdir(parents=True)
    (site / "index.html").write_text("last week's site", encoding="utf-8")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    command = subprocess.Popen([sys.executable, "-m", "labreport", "site", str(tmp_path / "class"), "--out", str(site),
                                "--lang", "en"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "TMPDIR": str(scratch)})
    workers = two_workers_of(command, spawned_workers)
    assert len(workers) >= 2, "the site finished before its workers could be seen"
    time.sleep(0.5)
    command.send_signal(signal.SIGTERM)
    _, stderr = command.communicate(timeout=60)
    assert command.returncode == 130 and "interrupted" in stderr and "Traceback" not in stderr, stderr
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in workers if alive(pid)]
    assert sorted(p.name for p in site.parent.iterdir()) == ["site"]
    assert (site / "index.html").read_text(encoding="utf-8") == "last week's site"
    assert list(scratch.iterdir()) == []

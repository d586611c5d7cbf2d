"""A run in OUT is replaced whole or not at all, and one command at a time writes it (labreport.core.staging).

Faults are real: a process killed with SIGKILL at a chosen step of the swap, a file-size limit
(RLIMIT_FSIZE, which holds for root too) for a full disk, two real processes on one folder.
"""

import hashlib
import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from labreport.core import LabreportError, staging

OLD = {"results.json": b'{"old": true}', "predictions.npz": b"old predictions", "models/gru.keras": b"old gru",
       "models/rnn.keras": b"old rnn", "history/gru.csv": b"old history"}
NEW = {"results.json": b'{"new": true}', "predictions.npz": b"new predictions", "models/gru.keras": b"new gru",
       "models/vocabulary.json": b"{}", "history/gru.csv": b"new history", "history/lstm.csv": b"new lstm"}
THEIRS = {"notes.ko.md": b"# my own words", "my-plot.png": b"png", ".partial/abc/gru.json": b"{}"}
RUN_ENTRIES = ("results.json", "predictions.npz", "models", "history")


def write_tree(root: Path, files: dict) -> None:
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)


def hashes(root: Path) -> dict:
    """Every file under `root` (the lock file and hidden staging folders aside) and its sha256."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != staging.LOCK}


def expected(files: dict) -> dict:
    return {name: hashlib.sha256(data).hexdigest() for name, data in sorted({**files, **THEIRS}.items())}


KILLER = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from labreport.core import staging
    out, kill_at = Path(sys.argv[1]), int(sys.argv[2])
    calls = [0]
    def dying(real):
        def call(*args, **kwargs):
            if calls[0] == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            calls[0] += 1
            return real(*args, **kwargs)
        return call
    with staging.locked(out):
        stage = staging.begin(out)
        for name, data in {new!r}.items():
            (stage / name).parent.mkdir(parents=True, exist_ok=True)
            (stage / name).write_bytes(data)
        os.rename, os.replace = dying(os.rename), dying(os.replace)
        staging.commit(out, {entries!r})
    print("finished")
""")


def test_a_kill_at_any_step_of_the_swap_leaves_one_whole_run(tmp_path):
    """Kill the swap before each rename in turn: after the next command's start, OUT holds the
    old run or the new one, whole, and the student's own files untouched."""
    seen = set()
    for kill_at in range(40):
        out = tmp_path / f"out{kill_at}"
        write_tree(out, {**OLD, **THEIRS})
        result = subprocess.run([sys.executable, "-c", KILLER.format(entries=RUN_ENTRIES, new=NEW), str(out), str(kill_at)],
                                capture_output=True, text=True, timeout=60)
        with staging.locked(out):  # the next command finishes or clears what the killed one left
            pass
        state = hashes(out)
        assert state in (expected(OLD), expected(NEW)), (kill_at, state)
        assert not (out / staging.NEXT).exists() and not (out / staging.PREVIOUS).exists()
        seen.add("old" if state == expected(OLD) else "new")
        if result.returncode == 0:
            assert "finished" in result.stdout and state == expected(NEW)
            break
        assert result.returncode == -signal.SIGKILL, result.stderr
    else:
        pytest.fail("the swap never finished")
    assert seen == {"old", "new"}  # a kill before the manifest keeps the old run; after it the new one wins


def test_a_full_disk_while_rendering_leaves_the_previous_report(record_dir):
    """`render` under a 64 KB file-size limit (a full disk): one line, the previous report byte for byte."""
    write_tree(record_dir, {"report.en.html": b"old report", "figures/accuracy.en.svg": b"old figure",
                            "notes.en.md": b"# mine"})
    before = hashes(record_dir)
    limit = "import resource, signal, sys, runpy; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); " \
            "resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536)); sys.argv = ['labreport'] + sys.argv[1:]; " \
            "runpy.run_module('labreport', run_name='__main__')"
    result = subprocess.run([sys.executable, "-c", limit, "render", "--out", str(record_dir), "--lang", "en",
                             "--format", "html"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr[-2000:]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("labreport: error: cannot write ") and "File too large" in lines[0]
    assert hashes(record_dir) == before
    with staging.locked(record_dir):
        pass
    assert not (record_dir / staging.NEXT).exists()


def test_a_second_command_on_the_same_out_stops_with_one_line_and_a_dead_holder_blocks_nothing(record_dir):
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom labreport.core import staging\n"
                               "with staging.locked(sys.argv[1], 'labreport train --quick'):\n"
                               "    print('held', flush=True); time.sleep(120)\n", str(record_dir)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        before = hashes(record_dir)
        result = subprocess.run([sys.executable, "-m", "labreport", "render", "--out", str(record_dir), "--lang", "en",
                                 "--format", "html"], capture_output=True, text=True, timeout=300)
        assert result.returncode == 2
        assert result.stderr.strip() == (f"labreport: error: {record_dir} is being written by another labreport "
                                         f"(pid {holder.pid}, labreport train --quick); wait for it to finish, "
                                         "or use another --out")
        assert hashes(record_dir) == before
    finally:
        holder.kill()
        holder.wait()
    with staging.locked(record_dir):  # the killed holder's lock went with it
        pass


def test_a_damaged_staging_folder_is_refused_not_followed(tmp_path):
    """A manifest that names paths outside OUT is not a swap to finish: one line, OUT and the staging folder as they were."""
    out = tmp_path / "out"
    write_tree(out, {**OLD, **THEIRS})
    outside = tmp_path / "outside.txt"
    outside.write_text("keep")
    stage = out / staging.NEXT
    write_tree(stage, {"results.json": b"x", staging.MANIFEST: json.dumps({"new": ["../outside.txt"], "removed": []}).encode()})
    before = hashes(out)
    with pytest.raises(LabreportError, match="did not leave here"):
        with staging.locked(out):
            pass
    assert hashes(out) == before and outside.read_text() == "keep"


def test_two_builds_into_the_same_out_the_second_stops_with_one_line(tmp_path):
    out = tmp_path / "out"
    first = subprocess.Popen([sys.executable, "-m", "labreport", "build", "--quick", "--out", str(out)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not ((out / staging.LOCK).is_file() and (out / staging.LOCK).read_text()):
            time.sleep(0.1)
        second = subprocess.run([sys.executable, "-m", "labreport", "build", "--quick", "--out", str(out)],
                                capture_output=True, text=True, timeout=300)
        assert second.returncode == 2
        assert second.stderr.strip() == (f"labreport: error: {out} is being written by another labreport "
                                         f"(pid {first.pid}, labreport build --quick --out {out}); "
                                         "wait for it to finish, or use another --out")
    finally:
        first.kill()
        first.wait()
    assert not (out / "results.json").exists()


def test_a_planted_lock_link_is_not_followed(tmp_path):
    """`OUT/.labreport.lock` is labreport's own file: a link put there (to a file the user can write)
    is replaced, and what it pointed to stays as it was."""
    victim = tmp_path / "bashrc"
    victim.write_text("important\n", encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    (out / staging.LOCK).symlink_to(victim)
    with staging.locked(out, "labreport train"):
        assert not (out / staging.LOCK).is_symlink()
    assert victim.read_text(encoding="utf-8") == "important\n"
    (out / staging.LOCK).unlink()
    (out / staging.LOCK).symlink_to(tmp_path / "made-through-the-link")  # a dangling link would make its target
    with staging.locked(out, "labreport train"):
        pass
    assert not (tmp_path / "made-through-the-link").exists()

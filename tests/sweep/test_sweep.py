"""`labreport sweep` for real: a local Ray instance training the issue's grid on the shipped sample.

One sweep (two lengths × two seeds, a BiGRU and a BiLSTM in each run) is trained once for the
module and read by the tests below; the failing run and the killed worker have small sweeps of
their own. Every sweep runs in a process of its own, as a user runs it.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("ray", reason="the sweep runs on Ray: pip install 'labreport[sweep]'")

from labreport.sweep import summary as summary_module  # noqa: E402

# The grid of the issue, at the smallest size that still trains: the shipped sample, one epoch,
# no attributions. Four runs (two lengths × two seeds), each training a BiGRU and a BiLSTM.
QUICK_GRID = ["--quick", "--vary", "max_length=16,32", "--seeds", "2", "--models", "gru,lstm",
              "--epochs", "1", "--no-attributions"]
RUN_IDS = ["max_length-16_seed-42", "max_length-16_seed-43", "max_length-32_seed-42", "max_length-32_seed-43"]


def sweep_cli(args: list[str], cwd: Path, env: dict | None = None, timeout: float = 900) -> subprocess.CompletedProcess:
    """`labreport sweep ARGS` in its own process (Ray's driver and its environment stay out of pytest's)."""
    return subprocess.run([sys.executable, "-m", "labreport", "sweep", *args], cwd=cwd, capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=timeout)


def pdf_text(path: Path) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(str(path)).pages)


def record_of(out: Path, run_id: str) -> dict:
    return json.loads((out / "runs" / run_id / "results.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def trained_sweep(tmp_path_factory):
    """The issue's grid, trained once, its report in every format: (OUT, the finished command)."""
    folder = tmp_path_factory.mktemp("sweep")
    result = sweep_cli([*QUICK_GRID, "--format", "html,pdf,docx,hwpx", "--out", str(folder / "out")], cwd=folder)
    assert result.returncode == 0, result.stderr[-4000:]
    return folder / "out", result


@pytest.mark.training
def test_the_grid_writes_four_runs_and_both_reports(trained_sweep):
    out, result = trained_sweep
    assert sorted(p.name for p in (out / "runs").iterdir()) == RUN_IDS
    for run_id in RUN_IDS:
        for name in ("results.json", "predictions.npz", "history/gru.csv", "history/lstm.csv", "report.ko.html",
                     "report.en.html"):
            assert (out / "runs" / run_id / name).is_file(), (run_id, name)
        assert not (out / "runs" / run_id / "models").exists()  # models only with --keep-models
    for name in ("sweep.json", "sweep.csv", "sweep.ko.html", "sweep.en.html", "sweep.ko.pdf", "sweep.en.pdf",
                 "sweep.ko.docx", "sweep.en.docx", "sweep.ko.hwpx", "sweep.en.hwpx"):
        assert (out / name).stat().st_size > 0, name
    import docx
    from hwpx import HwpxDocument

    assert len(docx.Document(str(out / "sweep.en.docx")).inline_shapes) == 4  # the sweep's figures, as PNG
    assert HwpxDocument.open((out / "sweep.ko.hwpx").read_bytes()).validate().issues == ()
    assert "4 runs, 0 complete already, 4 to train" in result.stderr
    assert "token authentication on" in result.stderr
    assert result.stderr.count(" done in ") == 4


@pytest.mark.training
def test_each_run_is_what_train_writes_with_its_settings(trained_sweep):
    out, _ = trained_sweep
    for run_id in RUN_IDS:
        record = record_of(out, run_id)
        length, seed = int(run_id.split("_")[1].split("-")[1]), int(run_id.rsplit("-", 1)[1])
        assert record["config"]["data"]["max_length"] == length
        assert (record["config"]["train"]["seed"], record["config"]["train"]["seeds"]) == (seed, 1)
        assert list(record["models"]) == ["gru", "lstm"]
        # Each run used one TensorFlow thread, as its task held one Ray CPU.
        assert record["environment"]["threads"] == {"intra_op": 1, "inter_op": 1}
        assert record["environment"]["command"].startswith(f"labreport train --out {out / 'runs' / run_id} --quick")
    # The compiled loops are built once per machine, under a lock: never by two workers at once.
    logs = [(out / "runs" / run_id / "train.log").read_text(encoding="utf-8") for run_id in RUN_IDS]
    assert sum("compiling labreport's GRU and LSTM loops" in log for log in logs) <= 1
    loops = {entry["recurrent_loop"] for run_id in RUN_IDS for entry in record_of(out, run_id)["models"].values()}
    assert len(loops) == 1, loops  # every run used the same loop: none fell back while another built


@pytest.mark.training
def test_the_report_numbers_are_the_records_numbers(trained_sweep):
    out, _ = trained_sweep
    summary = summary_module.load_summary(out)
    records = {run_id: record_of(out, run_id) for run_id in RUN_IDS}
    for run in summary["runs"]:
        for name, numbers in run["models"].items():
            entry = records[run["id"]]["models"][name]
            assert numbers["accuracy"] == entry["test"]["accuracy"]
            assert numbers["loss"] == entry["test"]["loss"]
            assert numbers["params"] == entry["total_params"]
    html, pdf = (out / "sweep.en.html").read_text(encoding="utf-8"), pdf_text(out / "sweep.en.pdf")
    for point in summary["points"]:
        for name in ("gru", "lstm"):
            values = [records[run_id]["models"][name]["test"]["accuracy"] for run_id in point["runs"]]
            spread = point["models"][name]["accuracy"]
            assert spread["mean"] == statistics.fmean(values) and spread["sd"] == statistics.stdev(values)
            shown = f"{spread['mean'] * 100:.2f}% ± {spread['sd'] * 100:.2f}% (n=2)"
            assert shown in html.replace("\xa0", " ") and shown in pdf.replace("\xa0", " ")  # ± joined to its number
        pair = point["pairs"][0]
        differences = [records[r]["models"]["gru"]["test"]["accuracy"] - records[r]["models"]["lstm"]["test"]["accuracy"]
                       for r in point["runs"]]
        assert pair["difference"]["values"] == differences
    rows = list(csv.DictReader(io.StringIO((out / "sweep.csv").read_text(encoding="utf-8"))))
    assert len(rows) == 8
    for row in rows:
        assert float(row["accuracy"]) == round(records[row["run"]]["models"][row["model"]]["test"]["accuracy"], 6)


@pytest.mark.training
def test_no_placeholder_reaches_a_page(trained_sweep):
    out, _ = trained_sweep
    for lang in ("ko", "en"):
        page = (out / f"sweep.{lang}.html").read_text(encoding="utf-8")
        text = re.sub(r"<(style|svg|script)\b.*?</\1>", "", page, flags=re.S)
        assert not re.search(r"\{[A-Za-z_][\w.:/]*\}", text), lang
        pdf = pdf_text(out / f"sweep.{lang}.pdf")
        assert not re.search(r"\{[A-Za-z_][\w.:/]*\}", pdf), lang
        assert 'href="runs/max_length-16_seed-42/report.' in page  # links to each run's own report
    assert "스윕 보고서" in pdf_text(out / "sweep.ko.pdf")


@pytest.mark.training
def test_a_second_call_trains_nothing(trained_sweep):
    out, _ = trained_sweep
    before = {p: p.stat().st_mtime_ns for p in (out / "runs").glob("*/results.json")}
    started = time.monotonic()
    result = sweep_cli([*QUICK_GRID, "--out", str(out)], cwd=out.parent)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "4 runs, 4 complete already, 0 to train" in result.stderr
    assert "sweep: on " not in result.stderr  # Ray is not even started
    assert {p: p.stat().st_mtime_ns for p in (out / "runs").glob("*/results.json")} == before
    assert time.monotonic() - started < 60


@pytest.mark.training
def test_a_run_that_raises_is_recorded_failed_and_the_other_completes(tmp_path):
    """`LABREPORT_SWEEP_FAIL` makes a run raise on its worker; it is tried twice, then recorded failed."""
    failing = "max_length-16_seed-42"
    args = ["--quick", "--vary", "max_length=16,24", "--models", "gru", "--epochs", "1", "--no-attributions",
            "--out", str(tmp_path / "out")]
    result = sweep_cli(args, cwd=tmp_path, env={"LABREPORT_SWEEP_FAIL": failing})
    assert result.returncode == 1, result.stderr[-3000:]
    assert f"sweep: {failing} failed (LABREPORT_SWEEP_FAIL names this run" in result.stderr
    assert "trying it once more" in result.stderr
    assert "labreport: 1 of 2 runs failed" in result.stderr
    summary = summary_module.load_summary(tmp_path / "out")
    runs = {run["id"]: run for run in summary["runs"]}
    assert (runs[failing]["status"], runs[failing]["attempts"]) == ("failed", 2)
    assert "LABREPORT_SWEEP_FAIL names this run" in runs[failing]["reason"]
    assert runs["max_length-24_seed-42"]["status"] == "complete"
    assert not (tmp_path / "out" / "runs" / failing).exists()
    assert (tmp_path / "out" / "runs" / "max_length-24_seed-42" / "results.json").is_file()
    page = (tmp_path / "out" / "sweep.en.html").read_text(encoding="utf-8")
    assert "One of 2 runs failed" in page and "LABREPORT_SWEEP_FAIL names this run" in page


# The processes and sockets of one sweep, read from /proc (Linux), so that only its own are touched.


def _descendants(pid: int) -> list[int]:
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    found, frontier = [], [pid]
    while frontier:
        frontier = [child for child, parent in parents.items() if parent in frontier]
        found += frontier
    return found


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode("utf-8", "replace").split("\0")
    except OSError:
        return [""]


def _ip(hexadecimal: str) -> str:
    """An address as /proc/net/tcp* writes it (32-bit words in the machine's order, little-endian here)."""
    packed = b"".join(bytes.fromhex(hexadecimal[i:i + 8])[::-1] for i in range(0, len(hexadecimal), 8))
    if len(packed) == 16 and packed[:12] == b"\0" * 10 + b"\xff\xff":
        packed = packed[12:]  # IPv4 mapped into IPv6
    if len(packed) == 4:
        return ".".join(map(str, packed))
    return ":".join(packed[i:i + 2].hex() for i in range(0, 16, 2))


def _listening(pids: list[int]) -> dict[int, list[tuple[str, int]]]:
    """{pid: [(address, port)]}: the TCP sockets each process listens on (state 0A in /proc/net/tcp*)."""
    sockets = {}
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":
                address, port = fields[1].split(":")
                sockets[fields[9]] = (_ip(address), int(port, 16))
    result = {}
    for pid in pids:
        try:
            links = [os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()]
        except OSError:
            continue
        result[pid] = [sockets[link[8:-1]] for link in links if link.startswith("socket:[") and link[8:-1] in sockets]
    return result


def _training_worker(pid: int, seconds: float) -> int | None:
    """This sweep's worker process that has been running a run for `seconds`, or None."""
    ticks, uptime = os.sysconf("SC_CLK_TCK"), float(Path("/proc/uptime").read_text().split()[0])
    for child in _descendants(pid):
        if _cmdline(child)[:1] == ["ray::train_run"]:
            try:
                started = int(Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[19]) / ticks
            except (OSError, IndexError, ValueError):
                continue
            if uptime - started > seconds:
                return child
    return None


def _gcs_address(pid: int) -> str:
    """The address the GCS of the sweep's local instance listens on."""
    for child, sockets in _listening(_descendants(pid)).items():
        if Path(_cmdline(child)[0]).name == "gcs_server" and sockets:
            return f"127.0.0.1:{sockets[0][1]}"
    raise AssertionError("the sweep's local instance has no GCS")


def _connect_without_token(address: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """A Ray client on this machine that has only some other token tries to run a task on `address`."""
    wrong = tmp_path / "other_token"
    wrong.write_text("0" * 64, encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if not key.startswith("RAY_")}
    env.update(RAY_AUTH_TOKEN_PATH=str(wrong), RAY_NUM_REDIS_GET_RETRIES="2", RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0")
    code = ("import ray; ray.init(address=%r, log_to_driver=False); "
            "print('RAN', ray.get(ray.remote(lambda: 1).remote(), timeout=30))" % address)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.training
def test_a_killed_worker_is_retried_and_the_instance_wants_its_token_on_loopback_only(tmp_path):
    """RAY_AUTH_MODE=disabled in the user's environment: the instance labreport starts still wants its token."""
    if not Path("/proc/net/tcp").is_file():
        pytest.skip("reads the sweep's processes and sockets from /proc (Linux)")
    # Enough epochs that the run is still training when the test finds its worker: with the compiled
    # loops a quick epoch at this length takes well under a second.
    args = ["--quick", "--vary", "max_length=16", "--models", "gru", "--epochs", "12", "--patience", "12",
            "--no-attributions", "--out", str(tmp_path / "out")]
    process = subprocess.Popen([sys.executable, "-m", "labreport", "sweep", *args], cwd=tmp_path,
                               stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "RAY_AUTH_MODE": "disabled"})
    try:
        deadline, worker = time.monotonic() + 180, None
        while worker is None and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.5)
            worker = _training_worker(process.pid, seconds=3)
        assert worker is not None, "no worker ran the run"
        sockets = [address for found in _listening(_descendants(process.pid)).values() for address, _ in found]
        assert len(sockets) >= 4 and set(sockets) == {"127.0.0.1"}, sockets  # GCS, raylet, driver, worker, ...
        os.kill(worker, signal.SIGKILL)
        refused = _connect_without_token(_gcs_address(process.pid), tmp_path)
        _, stderr = process.communicate(timeout=600)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr[-3000:]
    assert refused.returncode != 0 and "RAN" not in refused.stdout
    assert "Authentication token is missing or incorrect" in refused.stderr, refused.stderr[-2000:]
    assert "max_length-16_seed-42 failed (its worker died" in stderr and "trying it once more" in stderr
    run = summary_module.load_summary(tmp_path / "out")["runs"][0]
    assert (run["status"], run["attempts"]) == ("complete", 2)
    assert record_of(tmp_path / "out", run["id"])["models"]["gru"]["epochs_run"] >= 1


@pytest.mark.training
def test_the_notebook_function_is_the_same_sweep(trained_sweep, tmp_path, monkeypatch):
    import labreport

    out, _ = trained_sweep
    monkeypatch.chdir(tmp_path)
    assert callable(labreport.sweep) and labreport.sweep.__name__ == "labreport.sweep"
    result = labreport.sweep({"max_length": [16, 32]}, out=out, quick=True, seeds=2, models=["gru", "lstm"], epochs=1,
                             attributions=False, formats=["html"], progress=False)
    assert all(outcome.reused for outcome in result.outcomes) and len(result.outcomes) == 4
    assert result.failed == [] and result.html("en").is_file()
    assert "<th>BiGRU</th><th>BiLSTM</th>" in result._repr_html_()


@pytest.mark.training
def test_ctrl_c_cancels_what_is_outstanding_and_keeps_what_is_complete(tmp_path):
    args = ["--quick", "--vary", "max_length=16,24,32", "--models", "gru", "--epochs", "2", "--no-attributions",
            "--out", str(tmp_path / "out")]
    process = subprocess.Popen([sys.executable, "-m", "labreport", "sweep", *args], cwd=tmp_path,
                               stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    seen, done = [], None
    for line in process.stderr:
        seen.append(line)
        if " done in " in line:
            done = line.split()[1]
            descendants = _descendants(process.pid)
            process.send_signal(signal.SIGINT)
            break
    rest = process.communicate(timeout=120)[1]
    assert done is not None, "".join(seen)
    assert process.returncode == 130, "".join(seen) + rest
    assert "labreport: interrupted; files already written are complete and were kept" in rest
    assert (tmp_path / "out" / "runs" / done / "results.json").is_file()
    kept = len(list((tmp_path / "out" / "runs").glob("*/results.json")))  # a run may have ended meanwhile
    deadline = time.monotonic() + 30
    while any(Path(f"/proc/{pid}").exists() and _cmdline(pid) != [""] for pid in descendants) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not [pid for pid in descendants if Path(f"/proc/{pid}").exists() and _cmdline(pid) != [""]]
    again = sweep_cli(args, cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"3 runs, {kept} complete already, {3 - kept} to train" in again.stderr

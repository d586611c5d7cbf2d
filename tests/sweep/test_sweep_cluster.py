"""The issue's sweep on a running Ray cluster: `ray start --head` on 127.0.0.1 with token authentication,
reached with `--address`. The cluster is started and stopped here (by its own process, never
`ray stop`, which would end every Ray instance of the machine)."""

from __future__ import annotations

import importlib.util
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.sweep.test_sweep import QUICK_GRID, RUN_IDS, record_of, sweep_cli

pytestmark = pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                                reason="ray is not installed: pip install 'labreport[sweep]'")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A two-CPU Ray head on 127.0.0.1 that wants a token: (address, token)."""
    folder = tmp_path_factory.mktemp("cluster")
    port, token = free_port(), secrets.token_hex(32)
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    ray = Path(sys.executable).with_name("ray")
    head = subprocess.Popen(
        [str(ray), "start", "--head", "--block", "--node-ip-address", "127.0.0.1", "--port", str(port),
         "--num-cpus", "2", "--num-gpus", "0", "--include-dashboard", "false", "--disable-usage-stats",
         "--object-store-memory", str(100 * 2**20), "--ray-client-server-port", str(free_port())],
        env=env, stdout=open(folder / "head.log", "w"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert head.poll() is None, (folder / "head.log").read_text()[-2000:]
            time.sleep(0.5)
        time.sleep(3)  # the raylet registers after the GCS listens
        yield f"127.0.0.1:{port}", token
    finally:
        head.send_signal(signal.SIGTERM)  # `ray start --block` stops the processes it started
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait()


@pytest.mark.training
def test_the_same_sweep_runs_on_a_cluster_reached_with_address(cluster, tmp_path):
    address, token = cluster
    out = tmp_path / "out"
    # A home of its own: the only token is the one in RAY_AUTH_TOKEN (not ~/.ray/auth_token of a local instance).
    result = sweep_cli([*QUICK_GRID, "--address", address, "--out", str(out)], cwd=tmp_path,
                       env={"RAY_AUTH_TOKEN": token, "HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr[-4000:]
    assert f"sweep: on the Ray cluster at {address} (1 node): 2 CPUs, 2 runs at a time" in result.stderr
    assert sorted(p.name for p in (out / "runs").iterdir()) == RUN_IDS
    for run_id in RUN_IDS:
        assert list(record_of(out, run_id)["models"]) == ["gru", "lstm"]
    for name in ("sweep.json", "sweep.ko.pdf", "sweep.en.pdf"):
        assert (out / name).is_file()


def test_a_client_without_the_clusters_token_is_refused_in_one_line(cluster, tmp_path):
    address, _ = cluster
    wrong = tmp_path / "wrong_token"
    wrong.write_text(secrets.token_hex(32), encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if not key.startswith("RAY_AUTH")}
    env.update(RAY_AUTH_TOKEN_PATH=str(wrong), RAY_NUM_REDIS_GET_RETRIES="3", HOME=str(tmp_path))  # refused in seconds
    result = subprocess.run([sys.executable, "-m", "labreport", "sweep", "--quick", "--vary", "max_length=16",
                             "--address", address, "--out", str(tmp_path / "out")], cwd=tmp_path,
                            capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last == (f"labreport: error: the Ray cluster at {address} refused labreport's connection: it was given the "
                    f"token from {wrong}, and the cluster wants its own token"), result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out" / "runs").exists()

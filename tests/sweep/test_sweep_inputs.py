"""What a sweep reads is untrusted: `--vary`, the `[sweep]` table, its own run folders, a worker's files.

Bad input stops the command before any work with one line (`labreport: error: ...`); a run folder
that is not exactly what the sweep wrote is trained again, never trusted.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import labreport
from labreport import LabreportError
from labreport.core.config import config_from_dict, load_config
from labreport.sweep import driver
from labreport.sweep import grid as grid_module
from labreport.sweep.grid import RunSpec


def sweep_cli(args: list[str], cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    import os

    return subprocess.run([sys.executable, "-m", "labreport", "sweep", *args], cwd=cwd, capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=300)


@pytest.mark.parametrize("vary, message", [
    ("max_length=0,100", "--vary max_length=0: Received an invalid value for `data.max_length`: expected a whole number "
                         "from 1 to 10,000, received: max_length=0"),
    ("max_lenght=100", "--vary max_lenght=100: unknown setting `max_lenght` (did you mean `max_length`?)"),
    ("max_length=1.5", "--vary max_length=1.5: `data.max_length` must be a whole number, received: '1.5'"),
    ("dropout=nan", "--vary dropout=nan: Received an invalid value for `model.dropout`"),
    ("models=gru", "a sweep does not vary `models`"),
    ("seed=1,2", "a sweep does not vary `seed`"),
    ("max_length=100,100", "a value is given twice"),
    ("max_length", "write KEY=V1,V2,..."),
    ("padding=pre,middle", "--vary padding=middle: Received an invalid value for `data.padding`"),
])
def test_a_bad_vary_stops_before_any_work_with_one_line(tmp_path, vary, message):
    result = sweep_cli(["--quick", "--vary", vary, "--out", str(tmp_path / "out")], cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("labreport: error: ") and message in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_bad_sweep_option_stops_with_one_line(tmp_path):
    result = sweep_cli(["--quick", "--cpus-per-run", "0", "--out", str(tmp_path / "out")], cwd=tmp_path)
    assert result.returncode == 2 and "`--cpus-per-run`" in result.stderr and result.stderr.count("\n") == 1
    result = sweep_cli(["--quick", "--vary", "max_length=1,2", "--vary", "max_length=3", "--out", str(tmp_path / "o")],
                       cwd=tmp_path)
    assert result.returncode == 2 and "is varied twice" in result.stderr


def test_the_grid_holds_every_point_times_every_seed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    grid = grid_module.build_grid({"max_length": [100, 300], "hidden_units": [32, 64]}, {"train": {"seeds": 3}})
    assert len(grid.runs) == 12 and grid.seeds == (42, 43, 44)
    run = next(r for r in grid.runs if r.id == "max_length-300_hidden_units-64_seed-43")
    assert (run.config.data.max_length, run.config.model.hidden_units) == (300, 64)
    assert (run.config.train.seed, run.config.train.seeds) == (43, 1)
    assert "data.max_length" not in grid_module.fixed_settings(grid)
    assert grid_module.fixed_settings(grid)["model.embedding_dim"] == 128  # the lab's default
    with pytest.raises(LabreportError, match="more than 1,000"):
        grid_module.build_grid({"max_length": list(range(1, 101)), "hidden_units": list(range(1, 12))})


def test_the_sweep_table_of_labreport_toml(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "labreport.toml").write_text(textwrap.dedent("""
        [model]
        hidden_units = 32

        [sweep]
        vary = {max_length = [50, 100]}
        cpus_per_run = 1
    """), encoding="utf-8")
    table = grid_module.sweep_table(None)
    assert table == {"vary": {"max_length": [50, 100]}, "cpus_per_run": 1}
    assert load_config().model.hidden_units == 32  # `labreport train` reads the same file, [sweep] and all
    grid = grid_module.build_grid(table["vary"], origin="[sweep] vary")
    assert [r.config.data.max_length for r in grid.runs] == [50, 100]
    (tmp_path / "labreport.toml").write_text("[sweep]\nvary = {max_length = [0]}\n", encoding="utf-8")
    with pytest.raises(LabreportError, match="max_length=0: Received an invalid value"):
        grid_module.build_grid(grid_module.sweep_table(None)["vary"])
    (tmp_path / "labreport.toml").write_text("[sweep]\nvarry = {}\n", encoding="utf-8")
    with pytest.raises(LabreportError, match="unknown field `varry` .did you mean `vary`"):
        grid_module.sweep_table(None)


def test_without_ray_the_sweep_says_how_to_install_it(tmp_path):
    """Ray made unimportable in the command's process (a `sitecustomize` that hides it)."""
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text("import sys\nsys.modules['ray'] = None\n", encoding="utf-8")
    # The hiding folder goes first, and the labreport under test stays importable (it need not be installed).
    path = [str(hide), str(Path(labreport.__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")]
    result = sweep_cli(["--quick", "--vary", "max_length=16", "--out", str(tmp_path / "out")], cwd=tmp_path,
                       env={"PYTHONPATH": os.pathsep.join(filter(None, path))})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == ('labreport: error: labreport sweep runs on Ray, which is not '
                                                      'installed: pip install "labreport[sweep]"')
    assert "Traceback" not in result.stderr


def test_the_front_doors_and_the_sweeps_typed_call_import_without_ray():
    """Ray (and TensorFlow) load only when a sweep (a training) runs: `import labreport`, the API,
    the commands, the command line and the sweep's typed call (`labreport.sweep.command`) leave them out."""
    code = ("import sys, labreport, labreport.api, labreport.commands, labreport.cli, labreport.sweep.command; "
            "print(sorted(name for name in ('ray', 'tensorflow') if name in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


# ---------------------------------------------------------------------------------------------
# The sweep's own run folders and a worker's files


@pytest.fixture
def finished(record, tmp_path):
    """A run folder as the sweep writes it, from the checked-in record, and its spec and key."""
    config = config_from_dict(record["config"])
    spec = RunSpec("max_length-200_seed-42", (("max_length", 200),), 42, config)
    record["config_hash"] = config.experiment_hash()
    out = tmp_path / "out"
    key = driver.run_key(spec, "digest")
    files = {"results.json": json.dumps(record).encode(), "predictions.npz": b"npz", "history/gru.csv": b"epoch\n"}
    driver.write_run(out, spec, key, {"files": files, "log": ["line"]}, "labreport train")
    return out, spec, key, record


def test_a_run_written_by_the_sweep_is_complete(finished):
    out, spec, key, _ = finished
    assert driver.complete_record(out, spec, key)["config_hash"] == spec.config.experiment_hash()
    assert (out / "runs" / spec.id / "train.log").read_text() == "line\n"


def test_other_data_or_settings_are_not_complete(finished):
    out, spec, key, _ = finished
    assert driver.complete_record(out, spec, driver.run_key(spec, "other data")) is None
    other = RunSpec(spec.id, spec.point, spec.seed, load_config(flags={"model": {"hidden_units": 8}}, quick=True))
    assert driver.complete_record(out, other, driver.run_key(other, "digest")) is None


def test_a_linked_or_damaged_run_folder_is_not_trusted(finished, tmp_path):
    out, spec, key, _ = finished
    folder = out / "runs" / spec.id
    moved = tmp_path / "elsewhere"
    folder.rename(moved)
    folder.symlink_to(moved)
    assert driver.complete_record(out, spec, key) is None  # a link is never followed
    folder.unlink()
    moved.rename(folder)
    (folder / "results.json").write_text('{"schema_version": 7, "models": NaN}', encoding="utf-8")
    assert driver.complete_record(out, spec, key) is None
    (folder / "results.json").unlink()
    (folder / "results.json").symlink_to(moved.parent / "nowhere.json")
    assert driver.complete_record(out, spec, key) is None


@pytest.mark.parametrize("name", ["../escaped.json", "/etc/x", "runs/../../x", ".labreport.lock", "report.en.html"])
def test_a_worker_file_outside_a_run_is_refused_and_nothing_is_written(finished, name):
    out, spec, key, record = finished
    before = (out / "runs" / spec.id / "results.json").read_bytes()
    files = {"results.json": json.dumps(record).encode(), name: b"x"}
    with pytest.raises(LabreportError, match="files outside a run"):
        driver.write_run(out, spec, key, {"files": files}, "labreport train")
    assert (out / "runs" / spec.id / "results.json").read_bytes() == before


def test_an_invalid_record_from_a_worker_leaves_the_finished_run(finished):
    out, spec, key, record = finished
    before = (out / "runs" / spec.id / "results.json").read_bytes()
    bad = copy.deepcopy(record)
    bad["models"]["gru"]["test"]["accuracy"] = 2.0
    with pytest.raises(LabreportError, match="accuracy should be at most 1"):
        driver.write_run(out, spec, key, {"files": {"results.json": json.dumps(bad).encode()}}, "labreport train")
    other = copy.deepcopy(record)
    other["config_hash"] = "0" * 16
    with pytest.raises(LabreportError, match="other settings"):
        driver.write_run(out, spec, key, {"files": {"results.json": json.dumps(other).encode()}}, "labreport train")
    assert (out / "runs" / spec.id / "results.json").read_bytes() == before


def test_the_run_command_reproduces_the_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    grid = grid_module.build_grid({"max_length": [16]}, {"model": {"models": ["gru"]}, "train": {"epochs": 1}},
                                  quick=True)
    command = driver.reproducing_command(grid.runs[0], Path("OUT"), True, None, None)
    assert command == "labreport train --out OUT/runs/max_length-16_seed-42 --quick --max-length 16 --models gru --epochs 1"


@pytest.mark.parametrize("address", ["local", "auto", "10.0.0.5", "host:port", "a b:1"])
def test_an_address_that_is_not_a_cluster_stops_with_one_line(tmp_path, address):
    """Ray would read `local` as "start an instance" (without labreport's loopback and token) and
    `auto` as whatever cluster runs here: neither is a cluster the user named."""
    result = sweep_cli(["--quick", "--vary", "max_length=16", "--address", address, "--out", str(tmp_path / "out")],
                       cwd=tmp_path)
    assert result.returncode == 2 and "Received an invalid value for `--address`" in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1
    (tmp_path / "labreport.toml").write_text(f'[sweep]\naddress = "{address}"\n', encoding="utf-8")
    result = sweep_cli(["--quick", "--vary", "max_length=16", "--out", str(tmp_path / "out")], cwd=tmp_path)
    assert result.returncode == 2 and "`[sweep] address`" in result.stderr, result.stderr
    (tmp_path / "labreport.toml").unlink()
    result = sweep_cli(["--quick", "--vary", "max_length=16", "--out", str(tmp_path / "out")], cwd=tmp_path,
                       env={"RAY_ADDRESS": address})
    assert result.returncode == 2 and "`RAY_ADDRESS`" in result.stderr, result.stderr


def test_a_linked_runs_folder_is_refused_and_what_it_points_to_is_untouched(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "max_length-16_seed-42").mkdir(parents=True)
    (elsewhere / "max_length-16_seed-42" / "results.json").write_text("{}", encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    (out / "runs").symlink_to(elsewhere)
    result = sweep_cli(["--quick", "--vary", "max_length=16", "--out", str(out)], cwd=tmp_path)
    assert result.returncode == 2 and "runs is a link" in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert sorted(p.name for p in elsewhere.rglob("*")) == ["max_length-16_seed-42", "results.json"]

"""`labreport sweep` against a plain loop of `labreport train`: throughput and the overhead per run.

The same grid of quick runs (default: max_length 50, 100, 150, 200 × seeds 42, 43 = eight runs, each
a BiGRU and a BiLSTM on the shipped sample) is trained three ways, one after the other in this one
invocation, each into a fresh folder:

  (a) a plain shell-style loop: `labreport train --quick --max-length L --seed S` per run, in turn;
  (b) `labreport sweep` with one worker of one CPU (the whole local instance pinned to one core);
  (c) `labreport sweep` with two workers of one CPU each (`--cpus-per-run 1` on two cores).

Throughput is runs per minute up to the last run's end (the sweep's own report, rendered after its
runs, is timed apart). The overhead per run of (b) is what the sweep adds to its runs, run after
run: (time to the last run − Σ each run's own time, the record's `wall_seconds`) / runs; Ray's
start and each worker's TensorFlow import are in it, once per sweep and once per worker. In (a) a
run's own time includes TensorFlow's import (every run is a new process), so its overhead is only
the rest of the process's start. The compiled loops are built before any timing.
Prints the figures and the machine, and whether anything else was using the CPUs.

    python benchmarks/sweep_scaling.py [--lengths 50,100,150,200] [--seeds 2] [--workdir DIR]

Goal (issue 25): (c) ≥ 1.7 × (a)'s throughput; (b)'s overhead ≤ 3 s per run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMON = ["--quick", "--no-attributions"]
DONE = re.compile(r"^sweep: (\S+) done in ")


def machine() -> str:
    cpu = platform.processor()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions = []
    for name in ("tensorflow", "ray"):
        try:
            from importlib.metadata import version

            versions.append(f"{name} {version(name)}")
        except Exception:
            versions.append(f"{name} (not installed)")
    return f"{cpu}, {os.cpu_count()} cores; Python {platform.python_version()}, {', '.join(versions)}; {platform.platform()}"


def others_busy() -> list[str]:
    """Other labreport or Ray training processes on the machine (not ours): contention to report."""
    mine = os.getpid()
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            words = cmdline.read_bytes().decode("utf-8", "replace").split("\0")
        except OSError:
            continue
        text = " ".join(words)
        if int(cmdline.parent.name) != mine and ("ray::train_run" in text or re.search(r"labreport (train|build|sweep)", text)):
            found.append(f"{cmdline.parent.name}: {text[:100]}")
    return found


def wall_seconds(out: Path) -> list[float]:
    return [json.loads(p.read_text())["environment"]["wall_seconds"] for p in sorted(out.rglob("results.json"))]


def plain_loop(grid: list[tuple[int, int]], folder: Path) -> dict:
    started = time.perf_counter()
    for length, seed in grid:
        subprocess.run([sys.executable, "-m", "labreport", "train", *COMMON, "--max-length", str(length),
                        "--seed", str(seed), "--out", str(folder / f"L{length}_s{seed}"), "-q"], check=True)
    elapsed = time.perf_counter() - started
    return {"runs_seconds": elapsed, "report_seconds": 0.0, "train": wall_seconds(folder)}


def sweep(grid: list[tuple[int, int]], folder: Path, lengths: list[int], seeds: int, one_core: bool) -> dict:
    args = [sys.executable, "-m", "labreport", "sweep", *COMMON, "--vary", f"max_length={','.join(map(str, lengths))}",
            "--seeds", str(seeds), "--cpus-per-run", "1", "--out", str(folder)]
    pin = (lambda: os.sched_setaffinity(0, {0})) if one_core else None
    started = time.perf_counter()
    process = subprocess.Popen(args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, preexec_fn=pin)
    last_done, lines = started, []
    for line in process.stderr:
        lines.append(line)
        if DONE.match(line):
            last_done = time.perf_counter()
    process.wait()
    if process.returncode != 0:
        raise SystemExit("".join(lines[-20:]))
    finished = time.perf_counter()
    return {"runs_seconds": last_done - started, "report_seconds": finished - last_done,
            "train": wall_seconds(folder / "runs")}


def summary_line(name: str, result: dict, runs: int) -> str:
    train = sum(result["train"])
    overhead = (result["runs_seconds"] - train) / runs
    return (f"| {name} | {result['runs_seconds']:.1f} | {60 * runs / result['runs_seconds']:.2f} | {train:.1f} | "
            f"{overhead:.1f} | {result['report_seconds']:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", default="50,100,150,200")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--workdir", help="where the three variants write (default: a temporary folder)")
    args = parser.parse_args()
    lengths = [int(v) for v in args.lengths.split(",")]
    grid = [(length, 42 + k) for length in lengths for k in range(args.seeds)]
    root = Path(args.workdir or tempfile.mkdtemp(prefix="sweep-scaling-"))
    print(f"Machine: {machine()}")
    print(f"Grid: {len(grid)} quick runs (max_length {args.lengths} × {args.seeds} seeds, BiGRU and BiLSTM each, "
          f"{' '.join(COMMON)}); work in {root}")
    busy_before = others_busy()
    # The compiled loops are built once per machine (about half a minute): before any timing, not
    # inside whichever variant comes first.
    subprocess.run([sys.executable, "-c", "from labreport.experiment import kernels, runtime; runtime.start(); "
                    "print(kernels.default(print).note)"], check=True)
    results = {
        "(a) loop of labreport train": plain_loop(grid, root / "loop"),
        "(b) sweep, one worker of 1 CPU": sweep(grid, root / "sweep1", lengths, args.seeds, one_core=True),
        "(c) sweep, two workers of 1 CPU": sweep(grid, root / "sweep2", lengths, args.seeds, one_core=False),
    }
    busy = sorted(set(busy_before) | set(others_busy()))
    print("\n| variant | s to the last run | runs/min | Σ runs' own s | overhead s/run | report s |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, result in results.items():
        print(summary_line(name, result, len(grid)))
    loop, two = results["(a) loop of labreport train"], results["(c) sweep, two workers of 1 CPU"]
    one = results["(b) sweep, one worker of 1 CPU"]
    ratio = loop["runs_seconds"] / two["runs_seconds"]
    overhead = (one["runs_seconds"] - sum(one["train"])) / len(grid)
    print(f"\nthroughput (c)/(a): {ratio:.2f}× (goal ≥ 1.7×); (b)/(a): {loop['runs_seconds'] / one['runs_seconds']:.2f}×")
    print(f"overhead of the sweep per run, (b): {overhead:.1f} s (goal ≤ 3 s)")
    print("other training processes on the machine during the benchmark: " + ("; ".join(busy) if busy else "none"))


if __name__ == "__main__":
    main()

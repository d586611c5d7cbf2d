"""`labreport site` on a class of 200 runs: wall time, peak memory, and a re-run after one more arrives.

Makes N runs by copying a real record and perturbing it: each run gets its own predictions for
25,000 test reviews (seeded noise around a 87 % accurate model) and a record whose test metrics are
recomputed from them, so no run is flagged as edited; every run carries the same rendered reports.
Then it times, each in a fresh process, `labreport site` over all of them, and again after one more
run is added (only that run is new). Prints the figures and the machine.

    python benchmarks/site_scale.py --record output/results.json --reports output [--runs 200]

`--reports` is a run folder whose report.*.html/pdf every fake run gets (a quick build's output).
Target (issue: course site): 200 runs in under 30 s on a 2-core machine, memory not growing with
the number of runs beyond the table itself.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from labreport.core.stats import metrics  # noqa: E402

TEST_REVIEWS = 25_000


def make_run(folder: Path, record: dict, reports: Path, i: int) -> None:
    rng = np.random.default_rng(i)
    labels = np.repeat([0, 1], TEST_REVIEWS // 2).astype(np.int64)
    arrays = {"labels": labels, "lengths": rng.integers(10, 1000, TEST_REVIEWS).astype(np.int32)}
    run = copy.deepcopy(record)
    for name, entry in run["models"].items():
        for key, suffix in (("test", ""), ("test_last_epoch", "_last")):
            right = rng.random(TEST_REVIEWS) < 0.87 + rng.normal(0, 0.004)
            confidence = rng.uniform(0.5, 1.0, TEST_REVIEWS)
            positive = np.where(right, labels == 1, labels == 0)
            p = np.where(positive, confidence, 1 - confidence).astype(np.float32)
            arrays[name + suffix] = p
            entry[key].update(metrics(labels, p))
    run["dataset"]["splits"]["test"]["total"] = TEST_REVIEWS
    run["config"]["report"].update(student_id=f"2024{i:04d}", name=f"학생{i}")
    folder.mkdir(parents=True)
    (folder / "results.json").write_text(json.dumps(run, ensure_ascii=False), encoding="utf-8")
    np.savez_compressed(folder / "predictions.npz", **arrays)
    for report in reports.glob("report.*"):
        shutil.copyfile(report, folder / report.name)


def timed_site(paths: list[Path], out: Path) -> tuple[float, float]:
    """Wall seconds and peak resident memory (MiB) of one `labreport site` process."""
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "labreport", "site", *map(str, paths), "--out", str(out)],
                            capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(result.stderr[-2000:])
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return seconds, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", type=Path, required=True)
    parser.add_argument("--reports", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    record = json.loads(args.record.read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for i in range(args.runs):
            make_run(tmp / "class" / f"s{i:03d}", record, args.reports, i)
        small = tmp / "small"
        for i in range(20):
            shutil.copytree(tmp / "class" / f"s{i:03d}", small / f"s{i:03d}")
        first, peak_first = timed_site([small], tmp / "site-small")
        full, peak_full = timed_site([tmp / "class"], tmp / "site")
        make_run(tmp / "late" / "s999", record, args.reports, 999)
        again, _ = timed_site([tmp / "class", tmp / "late"], tmp / "site")
        summary = json.loads((tmp / "site" / "summary.json").read_text(encoding="utf-8"))
        checks = {}
        for row in summary["runs"]:
            for flag in row["flags"]:
                checks[flag["check"]] = checks.get(flag["check"], 0) + 1
        reports = sum(1 for _ in (tmp / "site" / "runs").glob("*/report.*"))
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"20 runs: {first:.1f} s, peak {peak_first:.0f} MiB")
    print(f"{args.runs} runs: {full:.1f} s, peak {peak_full:.0f} MiB (target < 30 s)")
    print(f"{args.runs} runs + 1 new: {again:.1f} s; {len(summary['runs'])} rows, {reports} report files, "
          f"flags by check: {checks}; class experiment over {summary['experiment']['runs']} runs")


if __name__ == "__main__":
    main()

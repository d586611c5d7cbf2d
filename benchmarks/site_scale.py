"""`labreport site` on a class of N full runs: from scratch, again with one late run, and peak memory,
with this checkout and with an earlier revision, side by side in one invocation.

Makes N distinct runs from one full run's record: each gets its own cover, its own predictions for
the record's test reviews (seeded noise around an 87 % accurate model, test metrics recomputed from
them, so no run is flagged as edited) and its own notes in both languages. Then, for each checkout,
each in a fresh process: `labreport site` over the class into an empty folder, and again over the
class plus one late run into the same folder (only that run is new). The earlier revision is
exported with `git archive` into a temporary folder (the repository is not touched).

    python benchmarks/site_scale.py --record /work/records/full/results.json --runs 200 --baseline HEAD~1 [--pdf]

Peak memory is the site process's own (RSS) and its largest render worker's, as `getrusage` reports them.
Issue 36's targets, on a 2-core laptop: 200 full runs from scratch in at most 10 min, one added run
in at most 15 s, memory bounded as before (it does not grow with the number of runs beyond the table).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

from labreport.core.stats import metrics  # noqa: E402

NOTES = {
    "ko": "# 토의\n\n<!-- 질문 -->\n학생 {i}의 관찰: GRU는 에포크당 {seconds}초 걸렸고, LSTM보다 {word} 수렴했다.\n\n"
          "# 다음 실험\n\n은닉 유닛을 {units}개로 바꾸어 본다.\n",
    "en": "# Discussion\n\n<!-- question -->\nStudent {i} saw the GRU take {seconds} s an epoch and converge {word} than the LSTM.\n\n"
          "# Next\n\nTry {units} hidden units.\n",
}

# Run inside the measured process: labreport's own command line, then its peak memory and its workers'.
MEASURED = """
import json, resource, runpy, sys
sys.argv = ["labreport", *sys.argv[1:]]
try:
    runpy.run_module("labreport", run_name="__main__")
except SystemExit as end:
    code = end.code or 0
else:
    code = 0
own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print("PEAK " + json.dumps({"site_mib": own / 1024, "worker_mib": workers / 1024}), file=sys.stderr)
sys.exit(code)
"""


def make_run(folder: Path, record: dict, i: int) -> None:
    """One distinct full run: its own cover, predictions (metrics recomputed from them) and notes."""
    rng = np.random.default_rng(i)
    reviews = record["dataset"]["splits"]["test"]["total"]
    labels = np.repeat([0, 1], [reviews // 2, reviews - reviews // 2]).astype(np.int64)
    arrays = {"labels": labels, "lengths": rng.integers(10, 1000, reviews).astype(np.int32)}
    run = copy.deepcopy(record)
    for name, entry in run["models"].items():
        for key, suffix in (("test", ""), ("test_last_epoch", "_last")):
            right = rng.random(reviews) < 0.87 + rng.normal(0, 0.004)
            confidence = rng.uniform(0.5, 1.0, reviews)
            positive = np.where(right, labels == 1, labels == 0)
            p = np.where(positive, confidence, 1 - confidence).astype(np.float32)
            arrays[name + suffix] = p
            entry[key].update(metrics(labels, p))
    run["config"]["report"].update(student_id=f"2024{i:04d}", name=f"학생{i}")
    folder.mkdir(parents=True)
    (folder / "results.json").write_text(json.dumps(run, ensure_ascii=False), encoding="utf-8")
    np.savez_compressed(folder / "predictions.npz", **arrays)
    for lang, text in NOTES.items():
        (folder / f"notes.{lang}.md").write_text(
            text.format(i=i, seconds=40 + i % 7, units=32 + i, word=("빨리" if lang == "ko" else "faster") if i % 2 else
                        ("느리게" if lang == "ko" else "slower")), encoding="utf-8")


def timed_site(checkout: Path, paths: list[Path], out: Path, pdf: bool) -> dict:
    """Wall seconds and peak memory (MiB) of one `labreport site` process run from `checkout`."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    command = [sys.executable, "-c", MEASURED, "site", *map(str, paths), "--out", str(out), *(["--pdf"] if pdf else [])]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=out.parent)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"site with {checkout} failed:\n{result.stderr[-2000:]}")
    peak = json.loads(result.stderr.rsplit("PEAK ", 1)[1])
    return {"seconds": seconds, **peak}


def exported(revision: str, into: Path) -> Path:
    """The repository at `revision`, exported into `into` (no worktree, nothing written to the repository)."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", revision], capture_output=True, check=True).stdout
    into.mkdir(parents=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", type=Path, required=True, help="a full run's results.json")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--baseline", metavar="REVISION", help="an earlier revision to time beside this checkout")
    parser.add_argument("--pdf", action="store_true", help="this checkout publishes PDFs too (the baseline's default)")
    args = parser.parse_args()
    record = json.loads(args.record.read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        start = time.perf_counter()
        for i in range(args.runs):
            make_run(tmp / "class" / f"s{i:04d}", record, i)
        make_run(tmp / "late" / "s9999", record, 9999)
        print(f"made {args.runs} + 1 runs in {time.perf_counter() - start:.0f} s", flush=True)
        checkouts = {"now": REPO}
        if args.baseline:
            checkouts[f"baseline {args.baseline}"] = exported(args.baseline, tmp / "baseline")
        figures = {}
        for name, checkout in checkouts.items():
            work = tmp / name.replace(" ", "-").replace("~", "-")
            work.mkdir()
            pdf = args.pdf and name == "now"
            scratch = timed_site(checkout, [tmp / "class"], work / "site", pdf)
            print(f"{name}: from scratch {scratch['seconds']:.1f} s", flush=True)
            again = timed_site(checkout, [tmp / "class", tmp / "late"], work / "site", pdf)
            summary = json.loads((work / "site" / "summary.json").read_text(encoding="utf-8"))
            files = sorted({p.name for p in (work / "site" / "runs").glob("*/report.*")})
            flags = sorted({flag["check"] for row in summary["runs"] for flag in row["flags"]})
            figures[name] = (scratch, again, len(summary["runs"]), files, flags)
            shutil.rmtree(work / "site")
    print(f"\nmachine: {platform.platform()}, {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}; record: {args.record} ({', '.join(record['models'])}, "
          f"{record['dataset']['splits']['test']['total']:,} test reviews)")
    for name, (scratch, again, rows, files, flags) in figures.items():
        print(f"{name}: {args.runs} runs from scratch {scratch['seconds']:.1f} s "
              f"(peak {scratch['site_mib']:.0f} MiB, workers {scratch['worker_mib']:.0f} MiB); "
              f"+1 late run {again['seconds']:.1f} s (peak {again['site_mib']:.0f} MiB); "
              f"{rows} rows, files per run {', '.join(files)}; flags {flags or 'none'}")


if __name__ == "__main__":
    main()

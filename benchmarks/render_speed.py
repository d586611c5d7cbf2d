"""`labreport render` now versus an earlier labreport, side by side on one machine, in one run.

Renders the same three-model record (BiRNN, BiGRU, BiLSTM) into both languages, HTML and PDF,
with this checkout and with a baseline checkout (for example the commit before a change to the
report layer), alternating which goes first, and prints the wall seconds of each run, the medians,
their ratio and the machine.

    git worktree add /tmp/labreport-base <commit>
    python benchmarks/render_speed.py --baseline /tmp/labreport-base [--record results.json] [--repeats 3]

Without `--record`, the record is the checked-in test record (tests/data/results.json) with a third
model added and every model's history stretched to nine epochs, the shape of the full-data
three-model run (the render's work depends on models, epochs and figures, not on the data's size).
A schema-3 record is written as schema 2 for the baseline, which reads only that version.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def three_model_record(epochs: int = 9) -> dict:
    record = json.loads((REPO / "tests" / "data" / "results.json").read_text(encoding="utf-8"))
    record["models"]["rnn"] = {**copy.deepcopy(record["models"]["gru"]), "name": "rnn", "display_name": "BiRNN", "cell": "SimpleRNN"}
    record["models"] = {name: record["models"][name] for name in ("rnn", "gru", "lstm")}
    record["config"]["model"]["models"] = ["rnn", "gru", "lstm"]
    for entry in record["models"].values():
        for key, values in entry["history"].items():
            entry["history"][key] = [values[i % len(values)] for i in range(epochs)]
        entry["epoch_seconds"] = [entry["epoch_seconds"][i % len(entry["epoch_seconds"])] for i in range(epochs)]
        entry["epochs_run"] = epochs
        entry["runs"][0].update(history=entry["history"], epoch_seconds=entry["epoch_seconds"], epochs_run=epochs)
    pairs = record["analysis"]["pairs"]
    record["analysis"]["pairs"] = [pairs[0], {**pairs[0], "a": "rnn", "b": "gru"}, {**pairs[0], "a": "rnn", "b": "lstm"}]
    record["analysis"]["length_buckets"]["accuracy"]["rnn"] = record["analysis"]["length_buckets"]["accuracy"]["gru"]
    for review in record["analysis"]["disagreements"]:
        review["probabilities"]["rnn"] = review["probabilities"]["gru"]
    return record


def as_schema_2(record: dict) -> dict:
    old = copy.deepcopy(record)
    old["schema_version"] = 2
    old.pop("decision_threshold", None)
    for key in ("lab", "submission_name", "notes"):
        old["config"]["report"].pop(key, None)
    old["config"]["report"]["lab_title"] = old["config"]["report"].get("lab_title") or "Lab 05"
    return old


def render_seconds(checkout: Path, out: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "labreport", "render", "--out", str(out)], env=env,
                            capture_output=True, text=True, cwd=out)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"render with {checkout} failed:\n{result.stderr[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True, help="a checkout of an earlier labreport")
    parser.add_argument("--record", type=Path, help="a results.json to render (default: a three-model record)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    record = json.loads(args.record.read_text(encoding="utf-8")) if args.record else three_model_record()
    with tempfile.TemporaryDirectory() as tmp:
        outs = {"now": Path(tmp) / "now", "baseline": Path(tmp) / "baseline"}
        for name, out in outs.items():
            out.mkdir()
            data = record if name == "now" else as_schema_2(record)
            (out / "results.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        checkouts = {"now": REPO, "baseline": args.baseline.resolve()}
        times: dict[str, list[float]] = {"now": [], "baseline": []}
        for i in range(args.repeats):
            order = ("baseline", "now") if i % 2 == 0 else ("now", "baseline")
            for name in order:
                times[name].append(render_seconds(checkouts[name], outs[name]))
            print(f"run {i + 1} ({' → '.join(order)}): baseline {times['baseline'][-1]:.1f} s, now {times['now'][-1]:.1f} s",
                  flush=True)
        sizes = {name: {f.name: f.stat().st_size for f in out.glob("report.*")} for name, out in outs.items()}
    median = {name: statistics.median(values) for name, values in times.items()}
    print(f"\nmachine: {platform.platform()}, {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}")
    print(f"models: {', '.join(record['models'])}; epochs: {[e['epochs_run'] for e in record['models'].values()]}")
    print(f"median render (ko+en, HTML+PDF): baseline {median['baseline']:.1f} s, now {median['now']:.1f} s, "
          f"now/baseline {median['now'] / median['baseline']:.2f}")
    for name in ("baseline", "now"):
        print(f"{name} files: " + ", ".join(f"{k} {v / 1024:.0f} KiB" for k, v in sorted(sizes[name].items())))


if __name__ == "__main__":
    main()

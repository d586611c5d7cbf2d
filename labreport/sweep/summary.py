"""The runs' records → the sweep's numbers: `OUT/sweep.json` (with its JSON Schema) and `OUT/sweep.csv`.

Every number of the sweep report comes from here, and every number here from a run's validated
record: test accuracy and loss of the best checkpoint, best epoch, seconds per epoch (the median
after the first epoch, `labreport.core.stats.median_epoch_seconds`), parameters (all, and the
recurrent layer's), and the gradient-flow measure. Mean and spread over seeds come from
`labreport.core.stats.spread`, as in the single report.

The gradient-flow measure is the mean gradient norm at the middle third of the positions as a
share of that at the ends (`labreport.report.discussion.gradient_reach`, inverted). A bidirectional
layer reads its output at both ends of a review, so the positions farthest from where the loss
enters are the middle ones: a gradient that vanishes with distance shows there first.

`sweep.json` is checked against `sweep.schema.json` (Draft 2020-12) when it is written and when it
is read, and refuses NaN and Infinity, as a record does.
"""

from __future__ import annotations

import csv
import datetime as _dt
import functools
import io
import json
import math
from pathlib import Path
from typing import Any

from labreport.core import LabreportError, __version__
from labreport.core.cells import with_cells
from labreport.core.stats import median_epoch_seconds, spread
from labreport.report.formats import LANGUAGES

SUMMARY_FILE = "sweep.json"
CSV_FILE = "sweep.csv"
SUMMARY_VERSION = 2
"""Version 1 is read too: it has the fields of 2 (from 2 on, the cells a summary names are the registry's,
`labreport.core.cells`, not a list in the schema file)."""
SCHEMA_FILE = Path(__file__).resolve().parent / "sweep.schema.json"
MAX_SUMMARY_BYTES = 64 * 1024 * 1024


def _spread(values: list[float]) -> dict[str, Any]:
    """`analysis.spread` with the count: {"n", "mean", "sd" (None for one value), "values"}."""
    return {"n": len(values), **spread(values)} if values else {"n": 0, "mean": None, "sd": None, "values": []}


def gradient_middle_share(entry: dict) -> float | None:
    """The gradient at the middle positions as a share of that at the ends; None without a measurement."""
    from labreport.report.discussion import gradient_reach

    reach = gradient_reach(entry)
    if reach is None or reach["ends"] <= 0:
        return None
    return reach["middle"] / reach["ends"]


def model_numbers(entry: dict) -> dict[str, Any]:
    """What the sweep keeps of one model of one run, from its record entry."""
    recurrent = sum(layer["keras"] for layer in entry["params"]["layers"] if layer["type"] == "Bidirectional")
    position = entry.get("attributions", {}).get("learned", {}).get("position", {})
    return {
        "accuracy": entry["test"]["accuracy"],
        "loss": entry["test"]["loss"],
        "best_epoch": entry["best_epoch"],
        "epochs_run": entry["epochs_run"],
        "seconds_per_epoch": median_epoch_seconds(entry["epoch_seconds"]),
        "params": entry["total_params"],
        "recurrent_params": recurrent,
        "gradient_middle_share": gradient_middle_share(entry),
        "evidence_first": position.get("first"),
    }


def run_entry(outcome, languages: tuple[str, ...]) -> dict[str, Any]:
    """One run's row: its point, seed, status, and (complete) each model's numbers and its reports."""
    spec = outcome.spec
    entry = {"id": spec.id, "point": dict(spec.point), "seed": spec.seed, "status": outcome.status,
             "reason": outcome.reason, "attempts": outcome.attempts, "reused": outcome.reused,
             "seconds": outcome.seconds, "host": outcome.host, "models": {}, "reports": {}, "threads": None}
    if outcome.record is not None:
        record = outcome.record
        entry["models"] = {name: model_numbers(model) for name, model in record["models"].items()}
        entry["reports"] = {lang: f"runs/{spec.id}/report.{lang}.html" for lang in languages}
        entry["threads"] = record["environment"].get("threads", {}).get("intra_op")
        entry["seconds"] = record["environment"].get("wall_seconds", outcome.seconds)
    return entry


def lead(differences: list[float]) -> str:
    """Who leads across seeds: "a" or "b" when every seed's difference has the same sign and the mean
    exceeds the differences' standard deviation; "unclear" otherwise; "one_seed" with a single seed."""
    if len(differences) < 2:
        return "one_seed"
    d = spread(differences)
    if all(x > 0 for x in differences) and d["mean"] > d["sd"]:
        return "a"
    if all(x < 0 for x in differences) and -d["mean"] > d["sd"]:
        return "b"
    return "unclear"


def pair_entry(a: str, b: str, runs: list[dict]) -> dict[str, Any]:
    """Model a against model b at one grid point, paired by seed (the two share the run's data and seed)."""
    both = [run for run in runs if a in run["models"] and b in run["models"]]
    differences = [run["models"][a]["accuracy"] - run["models"][b]["accuracy"] for run in both]
    return {"a": a, "b": b, "seeds": [run["seed"] for run in both], "difference": _spread(differences),
            "lead": lead(differences)}


def point_entry(point: dict, runs: list[dict], models: list[str]) -> dict[str, Any]:
    """One grid point: each model's numbers over the seeds, and every pair of models compared."""
    complete = [run for run in runs if run["status"] == "complete"]
    numbers = {}
    for name in models:
        values = [run["models"][name] for run in complete if name in run["models"]]
        gradients = [v["gradient_middle_share"] for v in values if v["gradient_middle_share"] is not None]
        numbers[name] = {
            "accuracy": _spread([v["accuracy"] for v in values]),
            "loss": _spread([v["loss"] for v in values]),
            "seconds_per_epoch": _spread([v["seconds_per_epoch"] for v in values]),
            "gradient_middle_share": _spread(gradients),
            "params": values[0]["params"] if values else None,
            "recurrent_params": values[0]["recurrent_params"] if values else None,
        }
    pairs = [pair_entry(a, b, complete) for i, a in enumerate(models) for b in models[i + 1:]]
    return {"point": point, "runs": [run["id"] for run in runs], "failed": len(runs) - len(complete),
            "models": numbers, "pairs": pairs}


def _data(outcomes) -> dict[str, Any] | None:
    record = next((o.record for o in outcomes if o.record is not None), None)
    if record is None:
        return None
    ds = record["dataset"]
    return {"source": ds["source"], "location": ds["location"],
            **{split: ds["splits"][split]["total"] for split in ("train", "validation", "test")}}


def display_names(models: list[str], outcomes) -> dict[str, str]:
    """Each model's name as its runs' records give it ("BiGRU"); without a complete run, its key."""
    names = {}
    for name in models:
        names[name] = next((o.record["models"][name]["display_name"] for o in outcomes
                            if o.record is not None and name in o.record["models"]), name)
    return names


def build(grid, outcomes, languages: tuple[str, ...] = LANGUAGES) -> dict[str, Any]:
    """The sweep's numbers from its outcomes (one per run, each complete run with its validated record)."""
    from labreport.sweep.grid import fixed_settings

    models = list(grid.base.model.models)
    runs = [run_entry(outcome, languages) for outcome in outcomes]
    points = []
    for point in grid.points():
        point = dict(point)
        points.append(point_entry(point, [run for run in runs if run["point"] == point], models))
    return {
        "sweep_version": SUMMARY_VERSION,
        "labreport_version": __version__,
        "written_at": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
        "axes": [{"key": axis.key, "name": axis.name, "values": list(axis.values)} for axis in grid.axes],
        "seeds": list(grid.seeds),
        "models": models,
        "display_names": display_names(models, outcomes),
        "fixed": fixed_settings(grid),
        "data": _data(outcomes),
        "languages": list(languages),
        "runs": runs,
        "points": points,
    }


# ---------------------------------------------------------------------------------------------
# Checking, reading, writing


@functools.lru_cache(maxsize=1)
def schema() -> dict:
    """The JSON Schema of `sweep.json`, its `$defs/cell_name` filled from the cell registry."""
    return with_cells(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))


def validate_summary(summary: Any, origin: str = SUMMARY_FILE) -> dict:
    """Checks `summary` against `sweep.schema.json` and refuses NaN and Infinity.

    Raises:
        LabreportError: one line naming `origin` and the first field that is wrong.
    """
    import jsonschema

    from labreport.core import record

    if not isinstance(summary, dict):
        raise LabreportError(f"{origin} is not a sweep summary (expected a JSON object)")
    record.check_values(summary, origin)
    errors = list(jsonschema.Draft202012Validator(schema()).iter_errors(summary))
    if errors:
        raise LabreportError(f"{origin}: {record.schema_message(max(errors, key=lambda e: len(e.absolute_path)))}")
    return summary


def load_summary(out: str | Path) -> dict:
    """Reads and checks `OUT/sweep.json`."""
    path = Path(out) / SUMMARY_FILE
    if path.is_symlink() or not path.is_file():
        raise LabreportError(f"no sweep summary at {path}: run `labreport sweep` first")
    if path.stat().st_size > MAX_SUMMARY_BYTES:
        raise LabreportError(f"{path} is larger than {MAX_SUMMARY_BYTES:,} bytes")
    try:
        summary = json.loads(path.read_bytes().decode("utf-8"))
    except (ValueError, RecursionError) as error:
        raise LabreportError(f"{path} is not valid JSON ({str(error)[:120]})") from None
    return validate_summary(summary, str(path))


def summary_json(summary: dict) -> str:
    """The summary as the text of `sweep.json`, checked first."""
    validate_summary(summary)
    return json.dumps(summary, ensure_ascii=False, indent=2, allow_nan=False) + "\n"


NUMBER_COLUMNS = ("accuracy", "loss", "best_epoch", "epochs_run", "seconds_per_epoch", "params", "recurrent_params",
                  "gradient_middle_share", "evidence_first")


def csv_bytes(summary: dict) -> bytes:
    """One row per run and model (a failed run: one row with its reason); UTF-8, spreadsheet-safe cells."""
    from labreport.core.fileio import safe_cell

    axes = [axis["name"] for axis in summary["axes"]]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["run", *axes, "seed", "status", "model", *NUMBER_COLUMNS, "reason", "report"])
    for run in summary["runs"]:
        fixed = [run["id"], *(run["point"][name] for name in axes), run["seed"], run["status"]]
        if not run["models"]:
            writer.writerow([safe_cell(c) for c in [*fixed, "", *[""] * len(NUMBER_COLUMNS), run["reason"], ""]])
        for name, numbers in run["models"].items():
            cells = [_cell(numbers[column]) for column in NUMBER_COLUMNS]
            link = next(iter(run["reports"].values()), "")
            writer.writerow([safe_cell(c) for c in [*fixed, name, *cells, run["reason"], link]])
    return buffer.getvalue().encode("utf-8")


def _cell(value: Any) -> Any:
    if isinstance(value, float):
        return "" if not math.isfinite(value) else round(value, 6)
    return "" if value is None else value

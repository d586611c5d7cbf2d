"""The checks a course needs on every submitted run, each a flag with its reason.

- `quick` / `partial`: trained on the shipped sample, or on fewer reviews than the full data set;
- `settings`: settings that differ from the assignment's (or, without one, from the class's most
  common settings);
- `edited`: a test metric in the record that the run's own `predictions.npz` does not reproduce
  (accuracy, loss, precision, recall, F1 and confusion matrix; every model, best and last weights);
  `no_predictions` when there is nothing to recompute from;
- `identical`: two runs with the same prediction arrays, or records equal but for the cover;
- `params`: a layer whose derived parameter count disagrees with Keras' in the record;
- `same_id`: two runs with one student ID (both kept).

Pure NumPy over the record and the predictions; no TensorFlow.
"""

from __future__ import annotations

import collections
import copy
import dataclasses
import hashlib
import json
from typing import Any

import numpy as np

from labreport.core import LabreportError, arrays, fileio
from labreport.core import record as record_module
from labreport.core.settings import EXPERIMENT_SECTIONS, FULL_TEST_REVIEWS, FULL_TRAIN_REVIEWS, free_settings
from labreport.core.stats import metrics
from labreport.site.submissions import Run

TOLERANCE = 1e-5
"""How far a stored metric may be from the one recomputed from the predictions (stored with six decimals)."""
METRIC_FIELDS = ("accuracy", "loss", "precision", "recall", "f1", "confusion_matrix")

CHECKS = ("quick", "partial", "settings", "edited", "no_predictions", "predictions_unreadable", "identical",
          "params", "same_id")
"""Every check a run can fail; each has its reason in the catalogs' `[site.flag]` (`settings` two:
`settings_assignment` and `settings_class`)."""


@dataclasses.dataclass(frozen=True)
class Flag:
    """One check a run fails, and the values its reason names.

    The site's table and `summary.json` show it as `{"check": check, **details}`.
    """
    check: str
    """One of `CHECKS`."""
    details: dict[str, Any] = dataclasses.field(default_factory=dict)
    """The values the catalog's reason formats, e.g. {"train": 2000, "test": 1000} for `quick`."""

    def __post_init__(self) -> None:
        if self.check not in CHECKS:  # a misspelt check would otherwise reach the page as a missing message
            raise ValueError(f"unknown site check {self.check!r}; the checks are {', '.join(CHECKS)}")


READ = object()
"""`check_run`'s default: the run's predictions are read from its folder."""


def load_predictions(run: Run, raw: bytes | None | object = READ) -> dict[str, np.ndarray] | None:
    """The run's prediction arrays, read only when checked (a class's arrays never sit in memory together).

    Args:
        raw: the bytes of the run's `predictions.npz` already read (None: it has none); by default
            they are read from the run's folder.
    """
    if raw is READ:
        try:
            raw = fileio.read_run_file(run.folder, record_module.PREDICTIONS_FILE, record_module.MAX_PREDICTIONS_BYTES)
        except LabreportError as error:
            run.flags.append(Flag("predictions_unreadable", {"why": str(error)}))
            return None
    if raw is None:
        return None
    try:
        # One value per test review, as the record says: checked from each array's header before any is loaded.
        return arrays.load_npz(raw, record_module.PREDICTIONS_FILE, run.record["dataset"]["splits"]["test"]["total"],
                               record_module.MAX_PREDICTIONS_BYTES)
    except LabreportError as error:
        run.flags.append(Flag("predictions_unreadable", {"why": str(error)}))
        return None



def settings(record: dict) -> dict[str, Any]:
    """The run's settings that change what is trained, flattened: {"model.hidden_units": 64, ...}."""
    flat = {}
    for section in EXPERIMENT_SECTIONS:
        for key, value in record["config"].get(section, {}).items():
            flat[f"{section}.{key}"] = tuple(value) if isinstance(value, list) else value
    return flat


FREE_SETTINGS = free_settings()
"""Settings each student may choose (declared `free` in `labreport.core.settings`): compared only with an
assignment that sets them."""


def most_common_settings(records: list[dict]) -> dict[str, Any]:
    """For each setting, the value most runs used (ties: the first run's); the seed is each student's own."""
    values: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for record in records:
        for key, value in settings(record).items():
            if key not in FREE_SETTINGS:
                values[key][value] += 1
    return {key: counter.most_common(1)[0][0] for key, counter in values.items()}


def shared_settings(records: list[dict]) -> dict[str, Any]:
    """The settings every run used alike (stated once at the top of the site's index), the seed aside."""
    if not records:
        return {}
    first = settings(records[0])
    shared = {key: value for key, value in first.items() if key not in FREE_SETTINGS}
    for record in records[1:]:
        ran = settings(record)
        shared = {key: value for key, value in shared.items() if key in ran and ran[key] == value}
    return shared


def differing_settings(record: dict, expected: dict[str, Any]) -> list[dict]:
    ran = settings(record)
    return [{"setting": key, "value": ran.get(key), "expected": value}
            for key, value in expected.items() if ran.get(key) != value]


def data_flags(record: dict) -> list[Flag]:
    ds = record["dataset"]
    train = ds["splits"]["train"]["total"] + ds["splits"]["validation"]["total"]
    test = ds["splits"]["test"]["total"]
    if ds["source"] == "sample":
        return [Flag("quick", {"train": train, "test": test})]
    if train < FULL_TRAIN_REVIEWS or test < FULL_TEST_REVIEWS:
        return [Flag("partial", {"train": train, "test": test})]
    return []


def edited_fields(record: dict, predictions: dict[str, np.ndarray] | None) -> list[str] | None:
    """Record fields whose metric the predictions do not reproduce; None when there are no predictions."""
    if not predictions or "labels" not in predictions:
        return None
    labels = predictions["labels"]
    wrong = []
    for name, entry in record["models"].items():
        for key, array in (("test", name), ("test_last_epoch", f"{name}_last")):
            if array not in predictions or len(predictions[array]) != len(labels):
                wrong.append(f"models.{name}.{key} (no predictions `{array}`)")
                continue
            recomputed = metrics(labels, predictions[array])
            for field in METRIC_FIELDS:
                stored = entry[key].get(field)
                if field == "confusion_matrix":
                    same = stored == recomputed[field]
                else:
                    same = isinstance(stored, (int, float)) and abs(stored - recomputed[field]) <= TOLERANCE
                if not same:
                    wrong.append(f"models.{name}.{key}.{field}")
    return wrong


def predictions_digest(predictions: dict[str, np.ndarray] | None) -> str:
    if not predictions:
        return ""
    digest = hashlib.sha256()
    for key in sorted(predictions):
        digest.update(key.encode())
        digest.update(np.ascontiguousarray(predictions[key]).tobytes())
    return digest.hexdigest()[:16]


def uncovered_digest(record: dict) -> str:
    """A hash of the record without its cover: equal for a run handed in twice under two names."""
    bare = copy.deepcopy(record)
    bare["config"].pop("report", None)
    return hashlib.sha256(json.dumps(bare, sort_keys=True).encode()).hexdigest()[:16]


def params_mismatches(record: dict) -> list[str]:
    return [f"{name}.{row['name']}" for name, entry in record["models"].items()
            for row in entry["params"]["layers"] if row.get("ok") is False]


def check_run(run: Run, predictions_file: bytes | None | object = READ) -> None:
    """The checks that need one run only; adds to `run.flags` and keeps only what the site shows.

    Args:
        predictions_file: the run's `predictions.npz` bytes when already read (`load_predictions`).
    """
    record = run.record
    predictions = load_predictions(run, predictions_file)
    run.flags += data_flags(record)
    fields = edited_fields(record, predictions)
    if fields is None:
        run.flags.append(Flag("no_predictions"))
    elif fields:
        run.flags.append(Flag("edited", {"fields": fields}))
    mismatches = params_mismatches(record)
    if mismatches:
        run.flags.append(Flag("params", {"layers": mismatches}))
    run.predictions_digest = predictions_digest(predictions)
    run.uncovered_digest = uncovered_digest(record)
    run.record = slim(record)  # memory grows with the table, not with the runs' records and arrays
    run.checked = True


def results(run: Run) -> dict[str, Any]:
    """What `check_run` left on a run, as JSON (`labreport.site.check_cache` keeps it)."""
    return {"flags": [[flag.check, flag.details] for flag in run.flags], "record": run.record,
            "predictions_digest": run.predictions_digest, "uncovered_digest": run.uncovered_digest}


def restore(run: Run, results: dict[str, Any]) -> None:
    """Puts `results` (from `results`) back on a run, as if `check_run` had checked it.

    Raises:
        KeyError, TypeError, ValueError: results of another layout (an unknown check included).
    """
    flags = [Flag(check, dict(details)) for check, details in results["flags"]]
    digests = results["predictions_digest"], results["uncovered_digest"]
    if not isinstance(results["record"], dict) or not all(isinstance(digest, str) for digest in digests):
        raise TypeError("cached check results of another layout")
    run.record, run.flags = results["record"], flags
    run.predictions_digest, run.uncovered_digest = digests
    run.checked = True


def slim(record: dict) -> dict:
    """The part of a record the site's table, class checks and experiment read; the rest is dropped."""
    keep_model = ("name", "display_name", "best_epoch", "test", "aggregate")
    return {
        "config": record["config"],
        "dataset": {"source": record["dataset"]["source"], "splits": record["dataset"]["splits"]},
        "environment": {key: record["environment"].get(key) for key in ("wall_seconds", "cpu", "gpus")},
        "models": {name: {key: entry[key] for key in keep_model if key in entry} for name, entry in record["models"].items()},
    }


def check_class(runs: list[Run], assignment: dict[str, Any] | None) -> dict[str, Any]:
    """The checks across runs: settings against the assignment or the class, identical runs, shared IDs.

    Returns:
        The settings the runs were compared with, and whether they came from an assignment.
    """
    readable = [run for run in runs if run.record is not None]
    expected = assignment if assignment is not None else most_common_settings([run.record for run in readable])
    for run in readable:
        differing = differing_settings(run.record, expected)
        if differing:
            run.flags.append(Flag("settings", {"settings": differing, "assignment": assignment is not None}))
    for key in ("predictions_digest", "uncovered_digest"):
        groups = collections.defaultdict(list)
        for run in readable:
            if getattr(run, key):
                groups[getattr(run, key)].append(run)
        for group in groups.values():
            if len(group) > 1:
                for run in group:
                    others = [other.id for other in group if other is not run]
                    if not any(flag.check == "identical" for flag in run.flags):
                        run.flags.append(Flag("identical", {"with": others}))
    ids = collections.defaultdict(list)
    for run in readable:
        student = run.record["config"].get("report", {}).get("student_id")
        if student:
            ids[student].append(run)
    for student, group in ids.items():
        if len(group) > 1:
            for run in group:
                run.flags.append(Flag("same_id", {"student_id": student, "with": [o.id for o in group if o is not run]}))
    return {"settings": expected, "from_assignment": assignment is not None}

"""The results record, `OUT/results.json`: everything a report needs, and nothing that needs TensorFlow.

`labreport train` writes it; `labreport render` and `labreport params --record` read it. The same
fields as a JSON Schema (Draft 2020-12): `labreport/record.schema.json`, printed by
`labreport schema`. Fields (schema version 7; all numbers are plain JSON numbers, fractions in
[0, 1], times in seconds):

- `schema_version` (int), `labreport_version` (str)
- `decision_threshold`: a review is called positive when a model's probability exceeds it (0.5);
  new in version 3. A version-2 record is still read, with the 0.5 every version-2 run used.
- `config`: the full configuration, section by section (see `labreport.config`)
- `config_hash`: 16 hex digits over every setting that changes the trained models
- `environment`: `python`, `tensorflow`, `keras`, `tensorflow_datasets`, `numpy`, `platform`,
  `cpu`, `cpu_count`, `gpus` (list of names), `threads` {`intra_op`, `inter_op`} (TensorFlow's
  thread pools; 0 = its default), `started_at` (UTC ISO 8601), `wall_seconds`, `command`
- `dataset`:
  - `source` ("tfds" | "archive" | "folder" | "sample"), `location`, `undecodable_reviews`
  - `splits`: `train`, `validation`, `test` → {`total`, `positive`, `negative`}
  - `preprocessing`: `max_length`, `padding`, `truncating`, `padding_reason`, `line_breaks_removed`,
    `vocabulary_from`, `validation`
  - `vocabulary`: {`size`, `distinct_words_in_training`, `coverage_train`, `coverage_test`, `oov_token`}
  - `lengths`: `train` and `test` → {`mean`, `median`, `min`, `max`, `percentiles` {"25".."99"},
    `truncated_share`, `mean_after_truncation`, `histogram` {`edges`, `counts`}}
- `models`: {name ("gru", "lstm", "rnn") → model entry}, in training order (readers restore
  `config.model.models` order should a tool re-sort the keys), each with
  - `name`, `display_name` ("BiGRU"), `cell` ("GRU"), `seed` (the seed of this, the first, run)
  - `device` (new in version 5): where it trained, "CPU" or "GPU:0 (the GPU's name)"
  - `recurrent_loop` (new in version 6): "compiled" (new in version 7: Keras' layer with
    labreport's compiled CPU loop, `labreport.kernels`), "fused" (Keras' layer with labreport's CPU
    loop written as TensorFlow ops, `labreport.fused`: the LSTM's sequence as one TensorFlow op, the
    GRU's as a hand-written loop; records written before the GRU had one say "fused" for the LSTM
    only) or "keras" (Keras' own layer; cuDNN's kernel on a GPU)
  - `summary_text` (Keras' `model.summary()`, captured before training), `summary_rows`
    [{`name`, `type`, `output_shape`, `params`}], `total_params`
  - `params`: the derivation of every layer (see `labreport.params.derive_model`)
  - `history`: {`loss`, `accuracy`, `val_loss`, `val_accuracy`}, one value per epoch run
  - `epoch_seconds`: wall seconds per epoch (training and validation)
  - `epochs_run`, `stopped_early` (bool)
  - `best_epoch` (1-based), `best_criterion` {`monitor`, `mode`, `value`}, `early_stopping`
    {`monitor`, `patience`}
  - `test`: metrics of the best checkpoint, {`weights` ("best_checkpoint"), `epoch`, `loss`,
    `accuracy`, `precision`, `recall`, `f1`, `confusion_matrix` [[TN, FP], [FN, TP]], `reviews`}
  - `test_last_epoch`: the same for the weights after the last epoch (what the lab reported)
  - `inference`: {`seconds`, `reviews_per_second`} for one pass over the test split
  - `samples`: [{`index`, `text`, `label`, `probability`, `decision`}], the same reviews for each model
  - `gradient_flow`: {`reviews`, `norms`}: mean norm of d(loss)/d(embedded input) at each of the
    max_length positions, over test reviews that fill the whole length (best checkpoint)
  - `model_file`: path of the saved best checkpoint, relative to the output folder
  - `attributions` (new in version 4; absent with `--no-attributions` and in older records): which
    words decided, by integrated gradients of the best checkpoint's probability with respect to the
    embedded input, baseline the all-padding review (see `labreport.attributions`):
    `method`, `baseline`, `output`, `completeness_limit` (0.05);
    `reviews`: [{`kind` ("sample" | "disagreement"), `index` (test split), `tokens` [[word, value]]
    (the words the model read, in order; values sum to `probability` − `baseline_probability`),
    `completeness_error` (|Σ values − (f(x) − f(baseline))| as a share of |f(x) − f(baseline)|),
    `steps`, `probability`, `baseline_probability`}];
    `learned`: {`reviews`, `steps`, `min_count`, `positive` and `negative`: [{`word`, `mean`,
    `count`}] (the largest mean attributions over a seeded sample of test reviews), `position`:
    {`reviews`, `edge_tokens` (50), `first`, `last` (shares of absolute attribution in the first
    and last 50 words read)}};
    `randomization`: {`spearman` (mean rank correlation between the trained model's attributions
    and those with the recurrent layer re-initialised), `reviews`}; `seconds`
  - `runs`: one entry per seed (`config.train.seeds` of them, seeds `seed`, `seed + 1`, ...; the
    first is the run described by the fields above), each with `seed`, `history`, `epoch_seconds`,
    `epochs_run`, `best_epoch`, `test`, `test_last_epoch`, `inference` as above. Every run uses the
    same data split and vocabulary (those of `config.train.seed`); only the first run's model is
    saved and measured for gradient flow.
  - `aggregate`: {`runs`, `seeds`, and `test_accuracy`, `test_loss`, `best_epoch`,
    `seconds_per_epoch` (each run's median after its first epoch), each {`mean`, `sd` (sample
    standard deviation, null for one run), `values` (per run)}}. With more than one run, the
    report's comparisons use these means.
- `analysis` (optional for render): paired comparisons of the best checkpoints of the first
  runs on the test split:
  - `significance_level`: the level McNemar's test is read at (0.05)
  - `pairs`: [{`a`, `b`, `mcnemar` {`a_only`, `b_only`, `method` ("exact" | "chi2_corrected"),
    `statistic`, `p_value`}, `bootstrap` {`difference` (accuracy a − b), `low`, `high`, `level`
    (the interval's coverage, 0.95), `resamples`}}]
  - `length_buckets`: {`edges` (words; last bucket open), `counts`, `accuracy` {model: [per bucket]}}
  - `disagreements`: [{`index`, `text`, `label`, `probabilities` {model: p}}]
- `predictions_file`: "predictions.npz" beside the record: `labels`, `lengths`, and for each model
  `<name>` (best checkpoint) and `<name>_last` (last epoch) positive-class probabilities, float32,
  in test-split order; further seeds add `<name>_seed<seed>` (best checkpoint).

Beside the record, `OUT/history/<name>.csv` holds each model's `history` in the column layout of
Keras' `CSVLogger` (`epoch` from 0, then the metrics in alphabetical order), for spreadsheets.
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

from labreport import LabreportError, __version__

SCHEMA_VERSION = 7
READABLE_VERSIONS = (2, 3, 4, 5, 6, 7)
"""Versions `load_record` reads: 6 differs only in never saying "compiled", 5 lacks `models.<name>.recurrent_loop`, 4 also `device`, 3 also
`attributions`, 2 also `decision_threshold`."""
SCHEMA_FILE = Path(__file__).resolve().parent / "record.schema.json"
RECORD_FILE = "results.json"
PREDICTIONS_FILE = "predictions.npz"

# Fields render depends on: dotted path → expected JSON type(s).
REQUIRED: dict[str, tuple[type, ...]] = {
    "schema_version": (int,),
    "config": (dict,),
    "config_hash": (str,),
    "environment": (dict,),
    "dataset": (dict,),
    "dataset.splits": (dict,),
    "dataset.lengths": (dict,),
    "dataset.vocabulary": (dict,),
    "models": (dict,),
}
REQUIRED_PER_MODEL: dict[str, tuple[type, ...]] = {
    "display_name": (str,),
    "summary_rows": (list,),
    "params": (dict,),
    "params.layers": (list,),
    "history": (dict,),
    "history.loss": (list,),
    "history.accuracy": (list,),
    "history.val_loss": (list,),
    "history.val_accuracy": (list,),
    "epoch_seconds": (list,),
    "best_epoch": (int,),
    "test": (dict,),
    "test.accuracy": (int, float),
    "test.loss": (int, float),
    "test.confusion_matrix": (list,),
    "test_last_epoch": (dict,),
    "samples": (list,),
    "runs": (list,),
    "aggregate": (dict,),
    "aggregate.runs": (int,),
    "aggregate.test_accuracy": (dict,),
    "aggregate.test_loss": (dict,),
    "aggregate.best_epoch": (dict,),
    "aggregate.seconds_per_epoch": (dict,),
}


def _lookup(data: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(data, dict) or part not in data:
            raise KeyError(dotted)
        data = data[part]
    return data


def validate_record(record: Any, origin: str = RECORD_FILE) -> dict:
    """Checks that `record` has the schema render needs; names the first field that is wrong."""
    if not isinstance(record, dict):
        raise LabreportError(f"{origin} is not a results record (expected a JSON object)")
    version = record.get("schema_version")
    if version not in READABLE_VERSIONS:
        raise LabreportError(
            f"{origin} has schema_version {version!r}; this labreport reads versions "
            f"{' and '.join(map(str, READABLE_VERSIONS))}: "
            "run `labreport train` again to write a current record"
        )

    def check(data: Any, fields: dict, prefix: str) -> None:
        for dotted, types in fields.items():
            try:
                value = _lookup(data, dotted)
            except KeyError:
                raise LabreportError(f"{origin} is missing the field `{prefix}{dotted}`") from None
            if isinstance(value, bool) or not isinstance(value, types):
                names = " or ".join(t.__name__ for t in types)
                raise LabreportError(
                    f"{origin}: field `{prefix}{dotted}` should be {names}, found {type(value).__name__}"
                )

    check(record, REQUIRED, "")
    if version == 2:  # every version-2 run used 0.5, before the record stated it
        record["decision_threshold"] = 0.5
    value = record.get("decision_threshold")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        raise LabreportError(f"{origin}: field `decision_threshold` should be a number in (0, 1), found {value!r}")
    if not record["models"]:
        raise LabreportError(f"{origin}: `models` is empty")
    # JSON objects have no order of their own, and a tool may re-sort the keys: use the training order.
    trained = [name for name in record["config"].get("model", {}).get("models", []) if name in record["models"]]
    order = trained + [name for name in record["models"] if name not in trained]
    record["models"] = {name: record["models"][name] for name in order}
    for name, entry in record["models"].items():
        check(entry, REQUIRED_PER_MODEL, f"models.{name}.")
        epochs = len(entry["history"]["loss"])
        for key in ("accuracy", "val_loss", "val_accuracy"):
            if len(entry["history"][key]) != epochs:
                raise LabreportError(f"{origin}: `models.{name}.history.{key}` has a different length than loss")
        if not 1 <= entry["best_epoch"] <= epochs:
            raise LabreportError(f"{origin}: `models.{name}.best_epoch` is outside the epochs run")
        if not entry["runs"] or len(entry["runs"]) != entry["aggregate"]["runs"]:
            raise LabreportError(f"{origin}: `models.{name}.runs` does not match `aggregate.runs`")
    return record


def load_record(out: str | Path) -> dict:
    """Reads and validates `OUT/results.json`."""
    path = Path(out) / RECORD_FILE
    if not path.is_file():
        raise LabreportError(
            f"no results record at {path}: run `labreport train` (or `labreport build`) first"
        )
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise LabreportError(f"{path} is not valid JSON ({error})") from error
    return validate_record(record, str(path))


def schema() -> dict:
    """The record's JSON Schema (Draft 2020-12) for the current schema version."""
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


def history_csv(history: dict[str, list[float]]) -> str:
    """One model's history in Keras' `CSVLogger` layout: `epoch` (from 0), then the sorted metric names."""
    keys = sorted(history)
    lines = [",".join(["epoch", *keys])]
    for epoch in range(len(history[keys[0]]) if keys else 0):
        lines.append(",".join([str(epoch), *(repr(float(history[key][epoch])) for key in keys)]))
    return "\n".join(lines) + "\n"


def environment(started_at: str, wall_seconds: float, command: str, threads: dict) -> dict:
    """The record's `environment`: library versions, the machine, TensorFlow's threads, the command."""
    import keras
    import numpy as np
    import tensorflow as tf

    try:
        import tensorflow_datasets as tfds

        tfds_version = tfds.__version__
    except Exception:  # tfds is optional for reading a local archive
        tfds_version = None
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "tensorflow_datasets": tfds_version,
        "numpy": np.__version__,
        "labreport": __version__,
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "gpus": [d.name for d in tf.config.list_physical_devices("GPU")],
        "threads": threads,
        "started_at": started_at,
        "wall_seconds": round(wall_seconds, 2),
        "command": command,
    }

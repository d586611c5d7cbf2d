"""The results record, `OUT/results.json`: everything a report needs, and nothing that needs TensorFlow.

`labreport train` writes it; `render`, `site`, `predict` and `labreport.load` read it. The record is
declared once, by its JSON Schema (Draft 2020-12), `labreport/core/record.schema.json` (printed by
`labreport schema`): `validate_record` checks every record read against it with jsonschema, and
train checks its own before writing. What a schema cannot say is checked here: no NaN or Infinity
anywhere, bounds on nesting, strings and lists (`MAX_*` below), and that the lengths of a model's
history, its best epoch and its runs agree. Fields the schema does not list are ignored. This
docstring describes the fields (schema version 9; all numbers are plain finite JSON numbers,
fractions in [0, 1], times in seconds):

- `schema_version` (int), `labreport_version` (str)
- `decision_threshold`: a review is called positive when a model's probability exceeds it (0.5);
  new in version 3. A version-2 record is still read, with the 0.5 every version-2 run used.
- `config`: the full configuration, section by section (see `labreport.core.config`)
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
- `models`: {name (a cell of `labreport.core.cells`: "gru", "lstm", "rnn") → model entry}, in training
  order (readers restore `config.model.models` order should a tool re-sort the keys), each with
  - `name`, `display_name` ("BiGRU"), `cell` (its Keras layer, "GRU"), `seed` (the seed of this, the first, run)
  - `device` (new in version 5): where it trained, "CPU" or "GPU:0 (the GPU's name)"
  - `recurrent_loop` (new in version 6): "compiled" (new in version 7: Keras' layer with
    labreport's compiled CPU loop, `labreport.experiment.kernels`), "fused" (Keras' layer with labreport's CPU
    loop written as TensorFlow ops, `labreport.experiment.fused`: the LSTM's sequence as one TensorFlow op, the
    GRU's as a hand-written loop; records written before the GRU had one say "fused" for the LSTM
    only) or "keras" (Keras' own layer; cuDNN's kernel on a GPU)
  - `loop_build` (new in version 8; null where `recurrent_loop` is "keras"): which build of the
    compiled loops ran, or why none did: `target` (the rung of `labreport.experiment.kernels.targets()`
    they were built for, "native" for this CPU's own; null where none ran), `flags` (its compiler
    flags), `compiler` (the compiler's file name), `reason` (null for "native"; "native_refused" where
    the compiler refused this CPU's own target and a portable one ran; else why the loop written as
    TensorFlow ops ran, one of `labreport.experiment.kernels.REASONS`)
  - `summary_text` (Keras' `model.summary()`, captured before training), `summary_rows`
    [{`name`, `type`, `output_shape`, `params`}], `total_params`
  - `params`: the derivation of every layer (see `labreport.experiment.params.derive_model`)
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
  - `model_file`: path of the saved best checkpoint, relative to the output folder; informational
    and never read (predict loads `OUT/models/<name>.keras`, `name` one of the allowed names)
  - `attributions` (new in version 4; absent with `--no-attributions` and in older records): which
    words decided, by integrated gradients of the best checkpoint's probability with respect to the
    embedded input, baseline the all-padding review (see `labreport.experiment.attributions`):
    `method`, `baseline`, `output`, `completeness_limit` (0.05);
    `reviews`: [{`kind` ("sample" | "disagreement"), `index` (test split), `tokens` [[word, value]]
    (the words the model read, in order; values sum to `probability` − `baseline_probability`),
    `completeness_error` (|Σ values − (f(x) − f(baseline))| as a share of |f(x) − f(baseline)|),
    `steps`, `probability`, `baseline_probability`}];
    `learned`: {`reviews`, `steps`, `min_count`, `positive` and `negative`: [{`word`, `mean`,
    `count`}] (the largest mean attributions over a seeded sample of test reviews), `position`:
    {`reviews`, `edge_tokens` (50), `first`, `last` (shares of absolute attribution in the first
    and last 50 words read; null when the sampled reviews carry no attribution at all)}};
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
- `predictions_file`: always "predictions.npz", beside the record: `labels`, `lengths`, and for each model
  `<name>` (best checkpoint) and `<name>_last` (last epoch) positive-class probabilities, float32,
  in test-split order; further seeds add `<name>_seed<seed>` (best checkpoint).

Beside the record, `OUT/history/<name>.csv` holds each model's `history` in the column layout of
Keras' `CSVLogger` (`epoch` from 0, then the metrics in alphabetical order), for spreadsheets.
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path
from typing import Any, cast

from labreport.core import LabreportError
from labreport.core.cells import with_cells
from labreport.core.shapes import Record

SCHEMA_VERSION = 9
READABLE_VERSIONS = (2, 3, 4, 5, 6, 7, 8, 9)
"""Versions `load_record` reads (the schema says what each lacks, in its `allOf`): 8 has the fields of 9 (from 9
on, the cells a record may name are those of `labreport.core.cells`, no longer a list in the schema file), 7 lacks
`models.<name>.loop_build`, 6 differs only in never saying "compiled", 5 lacks `models.<name>.recurrent_loop`, 4
also `device`, 3 also `attributions`, 2 also `decision_threshold`."""
SCHEMA_FILE = Path(__file__).resolve().parent / "record.schema.json"
RECORD_FILE = "results.json"
PREDICTIONS_FILE = "predictions.npz"
MAX_PREDICTIONS_BYTES = 64 * 1024 * 1024
"""A run's `predictions.npz` (the test reviews' probabilities, compressed), bounded apart from the record."""

# Bounds on every record read, known fields and unknown ones alike: a record is the output of one
# run, so each bound is far above what a run writes and only stops a record made to cost a reader.
MAX_RECORD_BYTES = 16 * 1024 * 1024
"""The file: the checked-in quick record is 0.2 MB, the lab's full run (10 epochs) well under 1 MB, and
the largest the settings allow (3 models x 20 seeds x 1,000 epochs) 8.3 MB. Reading costs JSON's
parse (0.01 s/MB) and the schema's check, about 10 microseconds per value: a legal 59 MB record
took a minute, so `MAX_VALUES` bounds the check and this bound the parse."""
MAX_VALUES = 400_000
"""Values (numbers, strings, lists, objects) in a whole record, counted before the schema checks them:
the largest record the settings allow holds 330,000 and loads in about 4 s; a lab run a few thousand."""
MAX_DEPTH = 24
"""Nesting of objects and lists: the deepest field a run writes
(`models.<name>.attributions.reviews[i].tokens[j][k]`) is 7 levels down."""
MAX_STRING = 200_000
"""Characters per string: the longest IMDB review has about 14,000, `summary_text` a few thousand."""
MAX_ITEMS = 200_000
"""Items per list or object: the longest lists are one value per token position (`max_length`,
300 in the lab) or per epoch."""


def _path(parts) -> str:
    return ".".join(str(part) for part in parts) or "(the record)"


def check_values(record: Any, origin: str) -> None:
    """Refuses NaN, Infinity, and anything beyond the bounds above, naming the field's path.

    Python's json reads NaN and Infinity literals, which JSON Schema's `number` accepts; a report
    must never print them, so they are refused here. Iterative, so no nesting exhausts the stack.
    The sweep's summary (`labreport.sweep.summary`) is held to the same bounds.
    """
    stack: list[tuple[Any, tuple[Any, ...]]] = [(record, ())]
    values = 1
    while stack:
        value, parts = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            name = "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
            raise LabreportError(f"{origin}: {_path(parts)} is {name}")
        if isinstance(value, str) and len(value) > MAX_STRING:
            raise LabreportError(f"{origin}: {_path(parts)} is {len(value):,} characters long (at most {MAX_STRING:,})")
        if isinstance(value, (dict, list)):
            if len(parts) >= MAX_DEPTH:
                raise LabreportError(f"{origin}: {_path(parts)} is nested deeper than {MAX_DEPTH} levels")
            if len(value) > MAX_ITEMS:
                raise LabreportError(f"{origin}: {_path(parts)} has {len(value):,} items (at most {MAX_ITEMS:,})")
            values += len(value)
            if values > MAX_VALUES:
                raise LabreportError(f"{origin} holds more than {MAX_VALUES:,} values (a results record holds at most "
                                     "that many; the largest run the settings allow writes 330,000)")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            stack.extend((item, (*parts, key)) for key, item in items)


@functools.lru_cache(maxsize=1)
def _validator():
    import jsonschema

    return jsonschema.Draft202012Validator(schema())


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, (dict, list)) else type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."


JSON_TYPES = {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer", float: "number", type(None): "null"}


def schema_message(error) -> str:
    """One line for a schema violation: the field's path, what it should be, what it is."""
    where = _path(error.absolute_path)
    found = error.instance
    kind = error.validator
    if kind == "required":
        missing = next((name for name in error.validator_value if name not in found), "?")
        return f"{_path([*error.absolute_path, missing])} is missing"
    if kind == "type":
        expected = error.validator_value if isinstance(error.validator_value, str) else " or ".join(error.validator_value)
        return f"{where} should be {expected}, found {JSON_TYPES.get(type(found), type(found).__name__)}"
    if kind in ("enum", "const"):
        allowed = ", ".join(json.dumps(a) for a in (error.validator_value if kind == "enum" else [error.validator_value]))
        if "propertyNames" in error.schema_path:
            return f"{where} has the key {_shown(found)}, not one of {allowed}"
        return f"{where} is {_shown(found)}, not one of {allowed}"
    numbers = {"minimum": "at least", "maximum": "at most", "exclusiveMinimum": "above", "exclusiveMaximum": "below"}
    if kind in numbers:
        return f"{where} should be {numbers[kind]} {error.validator_value}, found {_shown(found)}"
    sizes = {"maxLength": ("at most", "characters"), "minLength": ("at least", "characters"),
             "maxItems": ("at most", "items"), "minItems": ("at least", "items"),
             "maxProperties": ("at most", "entries"), "minProperties": ("at least", "entries")}
    if kind in sizes:
        bound, unit = sizes[kind]
        return f"{where} should have {bound} {error.validator_value} {unit}, found {len(found)}"
    if kind == "pattern":
        return f"{where} is {_shown(found)}, which does not match {error.validator_value}"
    return f"{where} is not valid ({kind})"


def validate_record(record: Any, origin: str = RECORD_FILE) -> Record:
    """Checks `record` against the record's schema (`record.schema.json`) and the bounds above.

    Every reader calls this (render, site, predict, `labreport.load`), and train before it writes.
    Unknown fields are ignored, never refused: later minor versions may add fields, and nothing
    reads them; they are still bounded and checked for NaN like the rest.

    Raises:
        LabreportError: one line naming `origin` and the first field that is wrong.
    """
    if not isinstance(record, dict):
        raise LabreportError(f"{origin} is not a results record (expected a JSON object)")
    version = record.get("schema_version")
    if isinstance(version, bool) or version not in READABLE_VERSIONS:
        raise LabreportError(
            f"{origin} has schema_version {_shown(version)}; this labreport reads versions "
            f"{' to '.join(map(str, (READABLE_VERSIONS[0], READABLE_VERSIONS[-1])))}: "
            "run `labreport train` again to write a current record"
        )
    check_values(record, origin)
    errors = list(_validator().iter_errors(record))
    if errors:
        # The deepest error names the field most closely (jsonschema's `best_match` prefers shallow ones).
        raise LabreportError(f"{origin}: {schema_message(max(errors, key=lambda e: len(e.absolute_path)))}")
    # The settings are checked by the configuration's own declaration (types, ranges, known keys);
    # settings a record lacks (older runs had fewer) stay absent rather than invented.
    from labreport.core.config import config_from_dict

    try:
        config_from_dict(record["config"])
    except LabreportError as error:
        raise LabreportError(f"{origin}: config: {error}") from None
    if version == 2:  # every version-2 run used 0.5, before the record stated it
        record["decision_threshold"] = 0.5
    # JSON objects have no order of their own, and a tool may re-sort the keys: use the training order.
    trained = [name for name in record["config"]["model"]["models"] if name in record["models"]]
    order = trained + [name for name in record["models"] if name not in trained]
    record["models"] = {name: record["models"][name] for name in order}
    for name, entry in record["models"].items():
        where = f"models.{name}"
        if entry["name"] != name:
            raise LabreportError(f"{origin}: {where}.name is {_shown(entry['name'])}, not {json.dumps(name)}")
        epochs = len(entry["history"]["loss"])
        for key in ("accuracy", "val_loss", "val_accuracy"):
            if len(entry["history"][key]) != epochs:
                raise LabreportError(f"{origin}: {where}.history.{key} has {len(entry['history'][key])} values, loss has {epochs}")
        if not 1 <= entry["best_epoch"] <= epochs:
            raise LabreportError(f"{origin}: {where}.best_epoch is {entry['best_epoch']}, outside the {epochs} epochs run")
        if len(entry["runs"]) != entry["aggregate"]["runs"]:
            raise LabreportError(f"{origin}: {where}.runs has {len(entry['runs'])} entries, aggregate.runs says {entry['aggregate']['runs']}")
    return cast(Record, record)  # the schema above holds the shapes `Record` names


def parse_record(raw: bytes, origin: str) -> Record:
    """A record from the bytes of a `results.json`, validated; every failure is one LabreportError line."""
    if len(raw) > MAX_RECORD_BYTES:
        raise LabreportError(f"{origin} is {len(raw):,} bytes (a results record is at most {MAX_RECORD_BYTES:,})")
    try:
        record = json.loads(raw.decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise LabreportError(f"{origin} is not valid JSON ({error})") from None
    except ValueError as error:  # an integer of more digits than Python converts
        raise LabreportError(f"{origin} holds a number labreport cannot read ({str(error)[:120]})") from None
    except RecursionError:
        raise LabreportError(f"{origin}: (the record) is nested deeper than {MAX_DEPTH} levels") from None
    return validate_record(record, origin)


def load_record(out: str | Path) -> Record:
    """Reads and validates `OUT/results.json`."""
    path = Path(out) / RECORD_FILE
    if not path.is_file():
        raise LabreportError(
            f"no results record at {path}: run `labreport train` (or `labreport build`) first"
        )
    if path.stat().st_size > MAX_RECORD_BYTES:
        raise LabreportError(f"{path} is {path.stat().st_size:,} bytes (a results record is at most {MAX_RECORD_BYTES:,})")
    return parse_record(path.read_bytes(), str(path))


def schema() -> dict:
    """The record's JSON Schema (Draft 2020-12) for the current schema version, with the cells filled in.

    The file names the recurrent cells through `$defs/cell_name` and `$defs/cell_layer` and lists none:
    their enumerations come from the cell registry (`labreport.core.cells.with_cells`), so a record naming
    a cell this labreport does not know is refused by the schema's check, and a new cell is one entry there.
    """
    return with_cells(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))


def history_csv(history: dict[str, list[float]]) -> str:
    """One model's history in Keras' `CSVLogger` layout: `epoch` (from 0), then the sorted metric names."""
    keys = sorted(history)
    lines = [",".join(["epoch", *keys])]
    for epoch in range(len(history[keys[0]]) if keys else 0):
        lines.append(",".join([str(epoch), *(repr(float(history[key][epoch])) for key in keys)]))
    return "\n".join(lines) + "\n"

"""A hostile-record corpus: every way a results.json can be wrong, each refused with one line naming the field.

Each case starts from a copy of the checked-in record (tests/data/results.json) and breaks one
thing; no training. The read paths (render, labreport.load, predict, the site's reading) all refuse.
"""

from __future__ import annotations

import copy
import io
import json
import math
import os
import sys

import pytest

import labreport
from labreport import LabreportError
from labreport.core import cells
from labreport.core import record as record_module
from labreport.experiment import predict
from labreport.site import submissions as runs
from tests.report.test_render import cli_without_tensorflow


def write(folder, record) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    # allow_nan: Python's json writes (and reads) NaN and Infinity literals, as a hostile record would hold.
    (folder / "results.json").write_text(json.dumps(record, ensure_ascii=False, allow_nan=True), encoding="utf-8")


def setter(path, value):
    def change(record):
        target = record
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return change


def remover(path):
    def change(record):
        target = record
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
    return change


def nested(depth):
    value = 0
    for _ in range(depth):
        value = [value]
    return value


HOSTILE = {
    "nan": (setter(("models", "gru", "test", "accuracy"), math.nan), "models.gru.test.accuracy is NaN"),
    "infinity": (setter(("models", "lstm", "history", "loss", 1), math.inf), "models.lstm.history.loss.1 is Infinity"),
    "minus infinity": (setter(("dataset", "lengths", "test", "mean"), -math.inf), "dataset.lengths.test.mean is -Infinity"),
    "nan in an unknown field": (setter(("extra",), {"x": math.nan}), "extra.x is NaN"),
    "wrong type": (setter(("models", "gru", "test", "accuracy"), "0.87"),
                   "models.gru.test.accuracy should be number, found string"),
    "bool for an integer": (setter(("models", "gru", "best_epoch"), True), "models.gru.best_epoch should be integer, found boolean"),
    "fraction above 1": (setter(("models", "gru", "test", "recall"), 1.5), "models.gru.test.recall should be at most 1, found 1.5"),
    "negative fraction": (setter(("dataset", "vocabulary", "coverage_test"), -0.1),
                          "dataset.vocabulary.coverage_test should be at least 0, found -0.1"),
    "threshold": (setter(("decision_threshold",), 1), "decision_threshold should be below 1, found 1"),
    "unknown enum": (setter(("models", "gru", "recurrent_loop"), "turbo"),
                     "models.gru.recurrent_loop is \"turbo\", not one of \"compiled\", \"fused\", \"keras\""),
    "unknown source": (setter(("dataset", "source"), "web"),
                       "dataset.source is \"web\", not one of \"tfds\", \"archive\", \"folder\", \"sample\""),
    "unknown model name": (lambda r: r["models"].__setitem__("../../evil", r["models"]["gru"]),
                           "models has the key \"../../evil\", not one of " + ", ".join(json.dumps(n) for n in cells.NAMES)),
    "name differs from its key": (setter(("models", "gru", "name"), "lstm"), "models.gru.name is \"lstm\", not \"gru\""),
    "long display name": (setter(("models", "gru", "display_name"), "B" * 41),
                          "models.gru.display_name should have at most 40 characters, found 41"),
    "huge string": (setter(("models", "gru", "samples", 0, "text"), "x" * 200_001),
                    "models.gru.samples.0.text is 200,001 characters long (at most 200,000)"),
    "huge list": (setter(("extra",), [0] * 200_001), "extra has 200,001 items (at most 200,000)"),
    "deep nesting": (setter(("extra",), nested(30)), "extra.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0 is nested deeper than 24 levels"),
    "missing field": (remover(("models", "lstm", "test", "loss")), "models.lstm.test.loss is missing"),
    "missing section": (remover(("dataset",)), "dataset is missing"),
    "history lengths differ": (lambda r: r["models"]["gru"]["history"]["val_loss"].pop(),
                               "models.gru.history.val_loss has 3 values, loss has 4"),
    "best epoch outside": (setter(("models", "gru", "best_epoch"), 9), "models.gru.best_epoch is 9, outside the 4 epochs run"),
    "runs disagree": (setter(("models", "gru", "aggregate", "runs"), 2), "models.gru.runs has 1 entries, aggregate.runs says 2"),
    "no models": (setter(("models",), {}), "models should have at least 1 entries, found 0"),
    "confusion matrix shape": (setter(("models", "gru", "test", "confusion_matrix"), [[1, 2, 3], [4, 5, 6]]),
                               "models.gru.test.confusion_matrix.0 should have at most 2 items, found 3"),
    "compiled in version 6": (lambda r: (r.__setitem__("schema_version", 6), setter(("models", "gru", "recurrent_loop"), "compiled")(r)),
                              "models.gru.recurrent_loop is \"compiled\", not one of \"fused\", \"keras\""),
    "device missing in version 5": (lambda r: (older(r, 5), r["models"]["lstm"].pop("device")),
                                    "models.lstm.device is missing"),
    "setting out of range": (setter(("config", "data", "max_length"), 0),
                             "config: Received an invalid value for `data.max_length`: expected a whole number from 1 to 10,000, received: max_length=0"),
    "loop build missing in version 8": (lambda r: (r.__setitem__("schema_version", 8), r["models"]["lstm"].__setitem__(
        "loop_build", None)), "models.gru.loop_build is missing"),
    "loop build reason unknown": (lambda r: (r.__setitem__("schema_version", 8), r["models"]["lstm"].__setitem__(
        "loop_build", None), r["models"]["gru"].__setitem__("loop_build", {"target": None, "reason": "mystery"})),
        "models.gru.loop_build.reason is \"mystery\", not one of null, \"native_refused\", \"disabled\", "
        "\"no_compiler\", \"no_source\", \"build_failed\", \"build_stopped\", \"cache_unwritable\", \"busy\", "
        "\"not_loadable\""),
    "version unknown": (setter(("schema_version",), 99), None),
    "predictions file elsewhere": (setter(("predictions_file",), "../other/predictions.npz"),
                                   "predictions_file is \"../other/predictions.npz\", not one of \"predictions.npz\""),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_hostile_record_is_refused_with_one_line_naming_the_field(tmp_path, record, case):
    change, expected = HOSTILE[case]
    change(record)
    write(tmp_path, record)
    with pytest.raises(LabreportError) as caught:
        record_module.load_record(tmp_path)
    message = str(caught.value)
    assert "\n" not in message
    if expected is None:
        assert message.startswith(f"{tmp_path / 'results.json'} has schema_version 99; this labreport reads versions 2 to 9")
    else:
        assert message == f"{tmp_path / 'results.json'}: {expected}"


def test_nesting_too_deep_for_python_is_one_line_too(tmp_path):
    (tmp_path / "results.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(LabreportError, match=r"results.json: \(the record\) is nested deeper than 24 levels$"):
        record_module.load_record(tmp_path)


def test_a_record_file_above_the_size_limit_is_not_read(tmp_path, monkeypatch):
    monkeypatch.setattr(record_module, "MAX_RECORD_BYTES", 1000)
    (tmp_path / "results.json").write_text(" " * 1001)
    with pytest.raises(LabreportError, match=r"results.json is 1,001 bytes \(a results record is at most 1,000\)$"):
        record_module.load_record(tmp_path)
    with pytest.raises(LabreportError, match=r"^run/results.json is 1,001 bytes \(a results record is at most 1,000\)$"):
        record_module.parse_record(b" " * 1001, "run/results.json")  # the site reads bytes from archives


def test_unknown_fields_are_ignored_and_the_checked_in_record_passes(tmp_path, record):
    record["a_later_field"] = {"anything": [1, "two"]}
    record["models"]["gru"]["another"] = "x"
    write(tmp_path, record)
    assert record_module.load_record(tmp_path)["a_later_field"] == {"anything": [1, "two"]}


def older(record, version):
    """The checked-in record as the given older version wrote it (the fields each version lacked removed)."""
    record["schema_version"] = version
    for entry in record["models"].values():
        if version >= 8:  # the checked-in record is version 7: version 8 added this
            entry["loop_build"] = None
        if version <= 6:
            entry["recurrent_loop"] = "fused"
        if version <= 5:
            del entry["recurrent_loop"]
        if version <= 4:
            del entry["device"]
        if version <= 3:
            entry.pop("attributions", None)
    if version <= 2:
        del record["decision_threshold"]
    return record


@pytest.mark.parametrize("version", [2, 3, 4, 5, 6, 7, 8])
def test_older_versions_still_load(tmp_path, record, version):
    write(tmp_path, older(record, version))
    loaded = record_module.load_record(tmp_path)
    assert loaded["schema_version"] == version and loaded["decision_threshold"] == 0.5


def test_the_schema_is_the_one_the_validator_uses_and_a_valid_draft_2020_12_schema():
    import jsonschema

    shipped = json.loads(record_module.SCHEMA_FILE.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(shipped)
    # The validator's schema is the shipped file with the cell registry's names filled in, and nothing else.
    assert record_module._validator().schema == cells.with_cells(shipped) == record_module.schema()
    assert shipped["properties"]["models"]["propertyNames"] == {"$ref": "#/$defs/cell_name"} == \
        shipped["properties"]["config"]["properties"]["model"]["properties"]["models"]["items"]


# ---------------------------------------------------------------------------------------------
# Every read path refuses


def nan_record(record):
    record["models"]["gru"]["test"]["accuracy"] = math.nan
    return record


def test_render_refuses_a_nan_record_without_tensorflow(tmp_path, record):
    write(tmp_path / "out", nan_record(record))
    result = cli_without_tensorflow("render", "--out", str(tmp_path / "out"), "--format", "html")
    assert result.returncode != 0
    assert result.stderr.strip() == f"labreport: error: {tmp_path / 'out' / 'results.json'}: models.gru.test.accuracy is NaN"
    assert not (tmp_path / "out" / "report.ko.html").exists()


def test_load_refuses_a_nan_record(tmp_path, record):
    write(tmp_path, nan_record(record))
    with pytest.raises(LabreportError, match=r"results.json: models.gru.test.accuracy is NaN$"):
        labreport.load(tmp_path)


def test_the_sites_reading_refuses_a_nan_record(tmp_path, record):
    write(tmp_path / "run", nan_record(record))
    run = runs.read(tmp_path / "run", "run")
    assert run.record is None and run.problem == "record"
    assert run.detail == "models.gru.test.accuracy is NaN"


def fake_run(folder, record):
    """A run folder whose model files exist (their content is never reached by these refusals)."""
    write(folder, record)
    (folder / "models").mkdir()
    (folder / "models" / "vocabulary.json").write_text(json.dumps({"words": ["good", "bad"]}))
    for name in record["models"]:
        (folder / "models" / f"{name}.keras").write_bytes(b"not a model")


def test_predict_refuses_a_nan_record(tmp_path, record):
    fake_run(tmp_path, nan_record(record))
    with pytest.raises(LabreportError, match=r"results.json: models.gru.test.accuracy is NaN$"):
        predict.load_run(tmp_path)


def test_predict_never_follows_model_file(tmp_path, record):
    fake_run(tmp_path / "other", copy.deepcopy(record))
    for name, entry in record["models"].items():
        entry["model_file"] = str(tmp_path / "other" / "models" / f"{name}.keras")  # another run's model
    write(tmp_path / "run", record)
    (tmp_path / "run" / "models").mkdir()
    (tmp_path / "run" / "models" / "vocabulary.json").write_text(json.dumps({"words": ["good"]}))
    with pytest.raises(LabreportError, match=r"holds no trained models \(.*run/models/gru.keras, .*run/models/lstm.keras missing\)"):
        predict.load_run(tmp_path / "run")
    _, _, _, model_files = predict.load_run(tmp_path / "other")
    assert model_files == {name: tmp_path / "other" / "models" / f"{name}.keras" for name in record["models"]}


def test_predict_refuses_a_model_linked_outside_the_run(tmp_path, record):
    fake_run(tmp_path / "run", record)
    (tmp_path / "elsewhere.keras").write_bytes(b"x")
    os.remove(tmp_path / "run" / "models" / "gru.keras")
    os.symlink(tmp_path / "elsewhere.keras", tmp_path / "run" / "models" / "gru.keras")
    with pytest.raises(LabreportError) as caught:
        predict.load_run(tmp_path / "run")
    assert str(caught.value) == (f"{tmp_path / 'run' / 'models' / 'gru.keras'} leads outside {tmp_path / 'run'} "
                                 f"(a link to {tmp_path / 'elsewhere.keras'}): predict reads only the run's own files")


def test_predict_refuses_a_damaged_vocabulary(tmp_path, record):
    fake_run(tmp_path, record)
    (tmp_path / "models" / "vocabulary.json").write_text(json.dumps({"words": [1, 2]}))
    with pytest.raises(LabreportError, match=r"vocabulary.json: words should be a list of strings$"):
        predict.load_run(tmp_path)


def test_predict_bounds_the_review_file_and_standard_input(tmp_path, monkeypatch):
    reviews = tmp_path / "reviews.txt"
    reviews.write_bytes(b"good film\n" * 100_001)  # 1,000,010 bytes
    with pytest.raises(LabreportError) as caught:
        predict.read_review_file(reviews)
    assert str(caught.value) == f"--file {reviews} holds more than 1,000,000 bytes: give at most 1 MB of reviews at a time"
    reviews.write_bytes(b"good film\n\nbad film\n")
    assert predict.read_review_file(reviews) == ["good film", "bad film"]

    class Stdin:
        buffer = io.BytesIO(b"x" * 1_000_001)

    monkeypatch.setattr(sys, "stdin", Stdin)
    with pytest.raises(LabreportError, match="^--file standard input holds more than 1,000,000 bytes"):
        predict.read_review_file("-")
    Stdin.buffer = io.BytesIO("좋은 영화\n".encode())
    assert predict.read_review_file("-") == ["좋은 영화"]


def test_predictions_without_a_known_word_say_so():
    result = {"reviews": [
        {"text": "😀😀", "known_words": 0, "predictions": {"gru": {"probability": 0.51, "decision": "positive"}}},
        {"text": "good", "known_words": 1, "predictions": {"gru": {"probability": 0.9, "decision": "positive"}}},
    ]}
    lines = predict.format_predictions(result, {"gru": "BiGRU"}).splitlines()
    assert lines[0].endswith("BiGRU 0.510 positive  (no word of the vocabulary: the probability says nothing about this review)")
    assert lines[1].endswith("BiGRU 0.900 positive")


def largest_record_the_settings_allow(record: dict) -> dict:
    """3 models x 20 seeds x 1,000 epochs (patience 1,000): every list a run writes at its longest."""
    epochs, seeds = 1000, 20
    record = copy.deepcopy(record)
    record["config"]["train"].update(epochs=epochs, patience=epochs, seeds=seeds)
    record["config"]["model"]["models"] = ["rnn", "gru", "lstm"]
    history = {key: [0.123456 + i * 1e-6 for i in range(epochs)] for key in ("loss", "accuracy", "val_loss", "val_accuracy")}
    seconds = [1.234] * epochs
    for name, cell in (("rnn", "SimpleRNN"), ("gru", "GRU"), ("lstm", "LSTM")):
        model = copy.deepcopy(record["models"]["gru"])
        model.update(name=name, cell=cell, display_name=name.upper(), history=history, epoch_seconds=seconds,
                     epochs_run=epochs, best_epoch=epochs)
        for test in ("test", "test_last_epoch"):
            model[test]["epoch"] = epochs
        run = model["runs"][0]
        run.update(history=history, epoch_seconds=seconds, epochs_run=epochs, best_epoch=epochs)
        for test in ("test", "test_last_epoch"):
            run[test]["epoch"] = epochs
        model["runs"] = [{**copy.deepcopy(run), "seed": 42 + seed} for seed in range(seeds)]
        model["aggregate"]["runs"] = seeds
        record["models"][name] = model
    return record


def test_the_largest_record_the_settings_allow_is_read(tmp_path, record):
    """8.3 MB written as train writes it, 330,000 values: inside both bounds (16 MiB, 400,000 values)."""
    from labreport.core import fileio

    fileio.write_json(tmp_path / "results.json", largest_record_the_settings_allow(record))
    assert (tmp_path / "results.json").stat().st_size < record_module.MAX_RECORD_BYTES
    assert list(record_module.load_record(tmp_path)["models"]) == ["rnn", "gru", "lstm"]


def test_a_record_of_more_values_than_a_run_writes_is_refused_before_the_schema_check(tmp_path, record):
    """A legal 59 MB record (validated at about 10 microseconds a value) took a minute to load."""
    record["models"]["gru"]["runs"] = record["models"]["gru"]["runs"] * 120
    for run in record["models"]["gru"]["runs"]:
        run["history"] = {key: [0.5] * 1000 for key in ("loss", "accuracy", "val_loss", "val_accuracy")}
    write(tmp_path, record)
    with pytest.raises(LabreportError) as raised:
        record_module.load_record(tmp_path)
    assert str(raised.value) == (f"{tmp_path / 'results.json'} holds more than 400,000 values (a results record holds "
                                 "at most that many; the largest run the settings allow writes 330,000)")

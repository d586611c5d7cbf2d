"""The record's `TypedDict`s (`labreport.core.shapes`) say what the schema says: the same required
keys, and no key the schema does not declare."""

import json
from pathlib import Path

import pytest

from labreport.core import record, shapes

SCHEMA = record.schema()
DEFS = SCHEMA["$defs"]
DATASET = SCHEMA["properties"]["dataset"]
SPLIT = DATASET["properties"]["splits"]
MODEL_PARAMS = DEFS["model"]["properties"]["params"]

CASES = {
    "Record": (shapes.Record, SCHEMA),
    "ModelEntry": (shapes.ModelEntry, DEFS["model"]),
    "Dataset": (shapes.Dataset, DATASET),
    "Splits": (shapes.Splits, SPLIT),
    "Split": (shapes.Split, SPLIT["properties"]["train"]),
    "History": (shapes.History, DEFS["history"]),
    "Params": (shapes.Params, MODEL_PARAMS),
    "ParamsTotal": (shapes.ParamsTotal, MODEL_PARAMS["properties"]["total"]),
    "Metrics": (shapes.Metrics, DEFS["metrics"]),
    "Inference": (shapes.Inference, DEFS["inference"]),
    "Run": (shapes.Run, DEFS["run"]),
    "Stat": (shapes.Stat, DEFS["stat"]),
    "Aggregate": (shapes.Aggregate, DEFS["model"]["properties"]["aggregate"]),
}


@pytest.mark.parametrize("name", CASES)
def test_each_shape_requires_what_the_schema_requires(name):
    shape, declared = CASES[name]
    assert shape.__required_keys__ == set(declared["required"])
    assert shape.__optional_keys__ <= set(declared["properties"]), "a key the schema does not declare"


def test_the_checked_in_record_has_every_required_key():
    read = record.validate_record(json.loads((Path(__file__).resolve().parents[1] / "data" / "results.json").read_text(encoding="utf-8")))
    assert shapes.Record.__required_keys__ <= set(read)
    for entry in read["models"].values():
        assert shapes.ModelEntry.__required_keys__ <= set(entry)
        assert shapes.Run.__required_keys__ <= set(entry["runs"][0])

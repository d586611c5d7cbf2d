"""The main shapes of the results record as `TypedDict`s, for the type checker and the reader.

The record is declared by its JSON Schema (`record.schema.json`, checked on every read by
`labreport.core.record.validate_record`); these types restate its main shapes so that mypy sees what
a function reads or writes, and a reader sees which keys a dict holds without opening the schema.
They add no check at run time (a `TypedDict` is a plain `dict`), and they name only the keys the
code relies on: what lies deeper (a layer's derivation, the attributions, the analysis) stays
`dict` where the schema and `labreport.core.record`'s docstring describe it.

A key the schema requires is a key of the main class; a key that older records or some runs lack
(`device`, `attributions`, ...) is a key of the `total=False` class that extends it.
"""

from __future__ import annotations

from typing import Any, TypedDict


class Split(TypedDict):
    """How many reviews one split holds, and how many of them are positive and negative."""
    total: int
    positive: int
    negative: int


class Splits(TypedDict):
    """`dataset.splits`: the three splits the run trained, validated and tested on."""
    train: Split
    validation: Split
    test: Split


class Dataset(TypedDict):
    """`dataset`: where the reviews came from and what preprocessing made of them."""
    source: str
    """"tfds", "archive", "folder" or "sample"."""
    location: str
    undecodable_reviews: int
    splits: Splits
    preprocessing: dict[str, Any]
    vocabulary: dict[str, Any]
    lengths: dict[str, Any]


class History(TypedDict):
    """A run's learning curves: one value per epoch run."""
    loss: list[float]
    accuracy: list[float]
    val_loss: list[float]
    val_accuracy: list[float]


class ParamsTotal(TypedDict):
    """The sum of a model's derived parameter counts, Keras' own count, and whether they agree."""
    derived: int
    keras: int
    ok: bool


class Params(TypedDict):
    """A model's parameter derivation (`labreport.experiment.params.derive_model`), layer by layer."""
    layers: list[dict[str, Any]]
    total: ParamsTotal


class Metrics(TypedDict):
    """A checkpoint's test metrics (`test` and `test_last_epoch`)."""
    weights: str
    epoch: int
    loss: float
    accuracy: float
    precision: float
    recall: float
    f1: float
    confusion_matrix: list[list[int]]
    """[[TN, FP], [FN, TP]]."""
    reviews: int


class Inference(TypedDict):
    """One timed pass over the test split."""
    seconds: float
    reviews_per_second: float


class Run(TypedDict):
    """One seed's run of a model (`runs`); the first is the run the model's entry describes."""
    seed: int
    history: History
    epoch_seconds: list[float]
    epochs_run: int
    best_epoch: int
    test: Metrics
    test_last_epoch: Metrics
    inference: Inference


class Stat(TypedDict):
    """A mean over seeds, its sample standard deviation (None for one run) and the values."""
    mean: float
    sd: float | None
    values: list[float]


class Aggregate(TypedDict):
    """A model's runs summarised across seeds (`labreport.core.stats.across_seeds`)."""
    runs: int
    seeds: list[int]
    test_accuracy: Stat
    test_loss: Stat
    best_epoch: Stat
    seconds_per_epoch: Stat


class ModelEntryRequired(TypedDict):
    """The keys every model entry holds (schema version 2 on)."""
    name: str
    display_name: str
    cell: str
    seed: int
    summary_text: str
    summary_rows: list[dict[str, Any]]
    total_params: int
    params: Params
    history: History
    epoch_seconds: list[float]
    epochs_run: int
    stopped_early: bool
    best_epoch: int
    best_criterion: dict[str, Any]
    test: Metrics
    test_last_epoch: Metrics
    inference: Inference
    samples: list[dict[str, Any]]
    model_file: str
    runs: list[Run]
    aggregate: Aggregate


class ModelEntry(ModelEntryRequired, total=False):
    """`models[name]`: one model's training, test and explanations; the keys below came later."""
    device: str
    recurrent_loop: str
    loop_build: dict[str, Any] | None
    early_stopping: dict[str, Any]
    gradient_flow: dict[str, Any]
    attributions: dict[str, Any]


class RecordRequired(TypedDict):
    """The keys every record holds."""
    schema_version: int
    labreport_version: str
    config: dict[str, Any]
    """The configuration, section by section (`labreport.core.config.config_to_dict`)."""
    config_hash: str
    environment: dict[str, Any]
    dataset: Dataset
    models: dict[str, ModelEntry]
    """Model name ("gru", "lstm", ...) to its entry, in training order."""
    predictions_file: str


class Record(RecordRequired, total=False):
    """`OUT/results.json` as read by `labreport.core.record.load_record` (which fills
    `decision_threshold` for a version-2 record)."""
    decision_threshold: float
    analysis: dict[str, Any]

"""Every setting of a run, declared once: section, name, type, default, range and help.

A setting is a field of one of the frozen sections below, made with `setting(...)`: its type is the
field's annotation, its default the field's default, and its range, choices and one-line help the
`Spec` it carries. The validator (`labreport.core.config.validate`), the command line's flags and
`--help`, the Python API's keyword settings and the README's table of ranges (`ranges_table`, which a
test holds the README to) all read these declarations; none of them repeats a default, a bound or a
help text, and nothing parses source code to find them.

A TOML file has one table per section with the same field names, e.g.::

    [model]
    hidden_units = 32

    [report]
    name = "홍길동"
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from labreport.core import cells

MODEL_NAMES = cells.NAMES
"""Recurrent cells labreport can train (`labreport.core.cells`); each is wrapped in a Bidirectional layer."""

LAB_NUMBER = 5
"""The lab's number in the course: every catalog's default title says it ("실습 5", "Lab 5")."""

SEED_MAX = 2**32 - 1
FULL_TRAIN_REVIEWS = 25_000
FULL_TEST_REVIEWS = 25_000
"""The IMDB data set's splits: a run (or a sweep) on fewer reviews did not do the full lab."""
"""The largest seed: `keras.utils.set_random_seed` (NumPy's and Python's generators) refuses 2**32."""

MAX_SEEDS = 20
MAX_TEXT = 500
"""The longest text a `[report]` setting may hold."""

SUBMISSION_FIELDS = ("student_id", "name", "lab", "lang")
"""The fields a submission file name pattern may use."""


@dataclass(frozen=True)
class Spec:
    """What a setting means and which values it takes.

    `low`/`high` bound a number (inclusive unless `open_low`/`open_high`); `choices` lists the values
    a text (or each item of a list) may take. `free` marks a setting each student of a class may
    choose without being flagged (`labreport.site.checks`): the seed, and the recurrent loops, which
    train the same model to within float rounding. Free settings still count in
    `Config.experiment_hash`, which names the exact weights (a resumed model must have been trained
    with the same loop), not the experiment a class is asked to run.
    """

    help: str
    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False
    choices: tuple[str, ...] | None = None
    free: bool = False

    def range_text(self, whole: bool) -> str | None:
        """The range in words ("a whole number from 2 to 1,000,000"), or None for an unbounded setting."""
        if self.low is None and self.high is None:
            return None
        if whole:
            return f"a whole number from {self.low:,} to {self.high:,}"
        left, right = "(" if self.open_low else "[", ")" if self.open_high else "]"
        return f"a finite number in {left}{self.low:g}, {self.high:g}{right}"

    def admits(self, value: float) -> bool:
        """Whether a number lies in the range (NaN never does)."""
        low_ok = self.low is None or (value > self.low if self.open_low else value >= self.low)
        high_ok = self.high is None or (value < self.high if self.open_high else value <= self.high)
        return bool(low_ok and high_ok)


def setting(default: Any, help: str, **spec: Any) -> Any:
    """A section's field: its default and its `Spec` (help, range, choices)."""
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda: type(default)(default), metadata={"spec": Spec(help, **spec)})
    return field(default=default, metadata={"spec": Spec(help, **spec)})


@dataclass(frozen=True)
class DataConfig:
    vocab_size: int = setting(10_000, "vocabulary size, padding (0) and unknown-word (1) indices included",
                              low=2, high=1_000_000)
    max_length: int = setting(300, "tokens per review after padding and truncation", low=1, high=10_000)
    padding: str = setting("pre", 'side padding and truncation apply to ("pre", the lab\'s pad_sequences default)',
                           choices=("pre", "post"))


# The upper bounds of whole numbers sit far above any lab on one machine; they keep a typo (an extra
# zero, 2**62) from reaching TensorFlow, which either fails with a traceback or tries to allocate it.
@dataclass(frozen=True)
class ModelConfig:
    models: tuple[str, ...] = setting(("gru", "lstm"), "models to train, in order, each wrapped in Bidirectional",
                                      choices=MODEL_NAMES)
    embedding_dim: int = setting(128, "width of each word vector", low=1, high=4_096)
    hidden_units: int = setting(64, "units of the recurrent layer, per direction", low=1, high=4_096)
    dropout: float = setting(0.5, "dropout rate between the recurrent layer and the output", low=0, high=1,
                             open_high=True)
    # False gives the textbook GRU, one bias vector per gate (3·h·(d+h+1) per direction).
    gru_reset_after: bool = setting(True, "Keras' default GRU (two bias vectors per gate, cuDNN-compatible)")


@dataclass(frozen=True)
class TrainConfig:
    batch_size: int = setting(64, "reviews per training step", low=1, high=65_536)
    epochs: int = setting(10, "maximum number of epochs", low=1, high=1_000)
    patience: int = setting(4, "epochs without a lower val_loss before early stopping", low=0, high=1_000)
    validation_split: float = setting(0.2, "share of the shuffled training split held out for validation",
                                      low=0, high=1, open_low=True, open_high=True)
    learning_rate: float = setting(0.001, "Adam's learning rate (Keras' default)", low=0, high=10, open_low=True)
    seed: int = setting(42, "seed for shuffling, weight initialisation, dropout and the sample reviews",
                        low=0, high=SEED_MAX, free=True)
    # The data split stays that of `seed` for every run.
    seeds: int = setting(1, "training runs per model, with seeds seed, seed+1, …", low=1, high=MAX_SEEDS)
    attributions: bool = setting(True, "explain the sample and disagreement reviews word by word "
                                       "(integrated gradients) after training")
    # False pads every batch to max_length, exactly as the lab's notebook does.
    bucketing: bool = setting(True, "batch reviews of similar length and pad each batch only to its own longest")
    # On a GPU the models always keep Keras' layers and their cuDNN kernels; the record says which
    # loop ran (`models.<name>.recurrent_loop`).
    fused: bool = setting(True, "on a CPU, train the GRU and the LSTM with labreport's fused sequence loops "
                                "(Keras' layers with the same weights and results, faster)", free=True)
    # Built once per machine with its C++ compiler (about half a minute; a training step 0.65–0.7×
    # the time). Where no compiler is found or the build fails, training says so and uses the fused
    # loops written as TensorFlow ops.
    compiled: bool = setting(True, "with fused, run those loops as labreport's compiled ops (labreport.experiment.kernels)",
                             free=True)


@dataclass(frozen=True)
class ReportConfig:
    """The cover and the hand-in; `render` reads this section again, so it can change without training."""

    name: str = setting("", "the student's name on the cover; left off when empty")
    student_id: str = setting("", "the student ID on the cover; left off when empty")
    affiliation: str = setting("", "the department or school on the cover")
    course: str = setting("", "the course on the cover")
    # Empty, or a language missing from the table, uses the language catalog's own title.
    lab_title: str | dict[str, str] = setting("", 'the cover\'s title: one text, or a table {ko = "…", en = "…"}')
    lab: str = setting(f"lab{LAB_NUMBER:02d}", "a short name of the lab, for the submission file name")
    # Without {lang}, `.<lang>` is added.
    submission_name: str = setting("{student_id}_{name}_{lab}", "file name (without .pdf) the PDFs are also "
                                   "written under when student_id and name are set")
    notes: dict[str, str] = setting({}, "the student's own sections per language, {ko = \"path.md\"}; "
                                        "default OUT/notes.<lang>.md")


@dataclass(frozen=True)
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    report: ReportConfig = field(default_factory=ReportConfig)

    def to_dict(self) -> dict[str, Any]:
        """The configuration as plain JSON-ready data, section by section."""
        data = dataclasses.asdict(self)
        data["model"]["models"] = list(self.model.models)
        return data

    def run_seeds(self) -> list[int]:
        """The seed of each training run of a model: `seed`, `seed + 1`, ... (`seeds` of them)."""
        return [self.train.seed + i for i in range(self.train.seeds)]

    def experiment_hash(self) -> str:
        """A short hash of every setting that changes the trained weights (not the cover page)."""
        data = {section: values for section, values in self.to_dict().items() if section in EXPERIMENT_SECTIONS}
        payload = json.dumps(data, sort_keys=True).encode("utf-8")
        return hashlib.sha256(payload).hexdigest()[:16]


SECTIONS: dict[str, type] = typing.get_type_hints(Config)
"""Each section's name and class, in the order of `Config`."""

EXPERIMENT_SECTIONS = ("data", "model", "train")
"""The sections that decide what is trained: the command line's, the class comparison's, the hash's."""


@dataclass(frozen=True)
class Setting:
    """One declared setting as its readers see it."""

    section: str
    name: str
    type: Any
    default: Any
    spec: Spec

    @property
    def key(self) -> str:
        return f"{self.section}.{self.name}"

    @property
    def kind(self) -> str:
        """"int", "float", "bool", "str", "list" (a tuple of texts), "table" or "text or table"."""
        if typing.get_origin(self.type) is tuple:
            return "list"
        if typing.get_origin(self.type) is dict:
            return "table"
        if typing.get_origin(self.type) in (typing.Union, types.UnionType):
            return "text or table"
        return self.type.__name__

    @property
    def help(self) -> str:
        return self.spec.help

    @property
    def flag(self) -> str:
        dashed = self.name.replace("_", "-")
        return f"--no-{dashed}" if self.kind == "bool" else f"--{dashed}"

    def range_text(self) -> str | None:
        return self.spec.range_text(self.kind == "int")


def section_settings(section: str) -> list[Setting]:
    """The settings of one section, in declaration order."""
    cls = SECTIONS[section]
    hints = typing.get_type_hints(cls)
    found = []
    for f in dataclasses.fields(cls):
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        found.append(Setting(section, f.name, hints[f.name], default, f.metadata["spec"]))
    return found


def all_settings(sections: tuple[str, ...] = tuple(SECTIONS)) -> list[Setting]:
    """Every declared setting of `sections`, section by section."""
    return [s for section in sections for s in section_settings(section)]


def cli_settings() -> list[Setting]:
    """The settings the command line (and the Python API's keywords) can set: the experiment's sections."""
    return all_settings(EXPERIMENT_SECTIONS)


def free_settings() -> tuple[str, ...]:
    """The keys ("train.seed", ...) a class's runs may differ in without a flag."""
    return tuple(s.key for s in all_settings() if s.spec.free)


def ranges_table() -> str:
    """The README's table of every bounded or restricted setting, in Markdown."""
    lines = ["| setting | default | values |", "|---|---|---|"]
    for s in cli_settings():
        values = s.range_text() or (", ".join(f"`{c}`" for c in s.spec.choices) if s.spec.choices else None)
        if values is None:
            continue
        if s.kind == "list":
            values = "one or more of " + values + ", each once"
        default = ",".join(s.default) if isinstance(s.default, tuple) else f"{s.default:,}" if s.kind == "int" else s.default
        lines.append(f"| `{s.key}` | `{default}` | {values} |")
    return "\n".join(lines)

"""The run's settings: one frozen, typed configuration, checked before any work starts.

Precedence: command-line flags override the TOML file, which overrides the defaults below. The
defaults are the lab's own settings, so a plain `labreport train` reproduces the lab.

A TOML file has one table per section (the `[data]`, `[model]`, `[train]` and `[report]` tables
below) with the same field names, e.g.::

    [model]
    hidden_units = 32

    [report]
    name = "홍길동"
    course = "AI Programming"
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import math
import os
import string
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from labreport import LabreportError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

MODEL_NAMES = ("rnn", "gru", "lstm")
"""Recurrent cells labreport can train; each is wrapped in a Bidirectional layer."""

DEFAULT_CONFIG_FILE = "labreport.toml"
MAX_SEEDS = 20
SUBMISSION_FIELDS = {"student_id", "name", "lab", "lang"}


@dataclass(frozen=True)
class DataConfig:
    vocab_size: int = 10_000
    """Vocabulary size including the padding (0) and out-of-vocabulary (1) indices."""
    max_length: int = 300
    """Tokens per review after padding and truncation."""
    padding: str = "pre"
    """Side that padding and truncation apply to: "pre" (the lab's `pad_sequences` default) or "post"."""


@dataclass(frozen=True)
class ModelConfig:
    models: tuple[str, ...] = ("gru", "lstm")
    """Which models to train, in order: any of rnn, gru, lstm, each wrapped in Bidirectional."""
    embedding_dim: int = 128
    """Width of each word vector."""
    hidden_units: int = 64
    """Units of the recurrent layer, per direction."""
    dropout: float = 0.5
    """Dropout rate between the recurrent layer and the output, in [0, 1)."""
    gru_reset_after: bool = True
    """Keras' default GRU (two bias vectors per gate, cuDNN-compatible). False gives the textbook GRU."""


@dataclass(frozen=True)
class TrainConfig:
    batch_size: int = 64
    """Reviews per training step."""
    epochs: int = 10
    """Maximum number of epochs."""
    patience: int = 4
    """Epochs without a lower val_loss before early stopping."""
    validation_split: float = 0.2
    """Share of the (shuffled) training split held out for validation, in (0, 1)."""
    learning_rate: float = 0.001
    """Adam's learning rate (Keras' default)."""
    seed: int = 42
    """Seed for shuffling, weight initialisation, dropout and the sample reviews."""
    seeds: int = 1
    """Training runs per model, with seeds seed, seed+1, ...; the data split stays that of `seed`."""
    attributions: bool = True
    """Explain the sample and disagreement reviews word by word (integrated gradients) after training."""
    bucketing: bool = True
    """Batch reviews of similar length and pad each batch only to its own longest review.

    False pads every batch to max_length, exactly as the lab's notebook does.
    """
    fused: bool = True
    """On a CPU, train the GRU and the LSTM with labreport's fused sequence loops (`labreport.fused`: Keras'
    layers with the same weights and results, faster).

    False keeps Keras' own step-by-step loops. On a GPU the models always keep Keras' layers and
    their cuDNN kernels; the record says which loop ran (`models.<name>.recurrent_loop`).
    """
    compiled: bool = True
    """With `fused`, run those loops as labreport's compiled ops (`labreport.kernels`: built once per
    machine with its C++ compiler, about half a minute; a training step 0.65–0.7× the time).

    Where no compiler is found or the build fails, training says so and uses the fused loops written
    as TensorFlow ops. False uses those without trying to build.
    """


@dataclass(frozen=True)
class ReportConfig:
    """The cover and the hand-in; `render` reads this section again, so it can change without training."""

    name: str = ""
    """The student's name on the cover; left off when empty."""
    student_id: str = ""
    """The student ID on the cover; left off when empty."""
    affiliation: str = ""
    course: str = ""
    lab_title: str | dict[str, str] = ""
    """The cover's title: one text for every language, or a table {ko = "...", en = "..."}; empty
    (or a language missing from the table) uses the language catalog's own title."""
    lab: str = "lab05"
    """A short name of the lab, for the submission file name."""
    submission_name: str = "{student_id}_{name}_{lab}"
    """File name (without `.pdf`) the PDFs are also written under when `student_id` and `name` are
    set; fields {student_id}, {name}, {lab}, {lang}. Without {lang}, `.<lang>` is added."""
    notes: dict[str, str] = field(default_factory=dict)
    """The student's own sections per language, {ko = "path.md", ...}; default OUT/notes.<lang>.md."""


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
        """A short hash of every setting that changes the trained models (not the cover page)."""
        data = self.to_dict()
        data.pop("report")
        payload = json.dumps(data, sort_keys=True).encode("utf-8")
        return hashlib.sha256(payload).hexdigest()[:16]


QUICK_OVERRIDES: dict[str, dict[str, Any]] = {
    # Small enough that `labreport build --quick` writes a whole report in about a minute on two cores.
    "data": {"vocab_size": 5_000, "max_length": 200},
    "model": {"embedding_dim": 32, "hidden_units": 16},
    "train": {"epochs": 4, "patience": 2},
}
"""Settings `--quick` applies under the user's file and flags."""

SECTIONS: dict[str, type] = {
    "data": DataConfig,
    "model": ModelConfig,
    "train": TrainConfig,
    "report": ReportConfig,
}


CLI_SECTIONS = ("data", "model", "train")
"""Sections whose settings the command line can override; `[report]` is set in the file."""


@dataclass(frozen=True)
class Setting:
    """One setting as the command line offers it: section, name, type, default and the help from its docstring."""

    section: str
    name: str
    kind: str
    default: Any
    help: str

    @property
    def flag(self) -> str:
        dashed = self.name.replace("_", "-")
        return f"--no-{dashed}" if self.kind == "bool" else f"--{dashed}"


def _docstrings(cls: type) -> dict[str, str]:
    """Each field's docstring (the string right under it), first sentence, read from the class's source."""
    import ast
    import inspect
    import textwrap

    body = ast.parse(textwrap.dedent(inspect.getsource(cls))).body[0].body
    docs = {}
    for node, following in zip(body, body[1:]):
        if isinstance(node, ast.AnnAssign) and isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant):
            text = " ".join(str(following.value.value).split())
            docs[node.target.id] = text.split(". ")[0].rstrip(".")
    return docs


def cli_settings() -> list[Setting]:
    """Every setting the command line can override, declared once: here, by the dataclasses above."""
    settings = []
    for section in CLI_SECTIONS:
        cls = SECTIONS[section]
        docs = _docstrings(cls)
        for f in dataclasses.fields(cls):
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            settings.append(Setting(section, f.name, str(f.type), default, docs.get(f.name, f.name)))
    return settings


def _closest(name: str, choices: list[str]) -> str:
    match = difflib.get_close_matches(name, choices, n=1)
    return f" (did you mean `{match[0]}`?)" if match else ""


def _check_type(section: str, name: str, value: Any, expected: Any) -> Any:
    where = f"`{section}.{name}`"
    if expected == "tuple[str, ...]":
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise LabreportError(f"{where} must be a list of model names, received: {value!r}")
        return tuple(value)
    if expected == "bool":
        if not isinstance(value, bool):
            raise LabreportError(f"{where} must be true or false, received: {value!r}")
        return value
    if expected == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise LabreportError(f"{where} must be a whole number, received: {value!r}")
        return value
    if expected == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise LabreportError(f"{where} must be a number, received: {value!r}")
        return float(value)
    if expected == "str":
        if not isinstance(value, str):
            raise LabreportError(f"{where} must be text, received: {value!r}")
        return value
    if expected in ("dict[str, str]", "str | dict[str, str]"):
        if isinstance(value, str) and expected.startswith("str"):
            return value
        if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
            kind = "text or a table of texts per language" if expected.startswith("str") else "a table of texts per language"
            raise LabreportError(f"{where} must be {kind}, e.g. {{ko = \"...\", en = \"...\"}}, received: {value!r}")
        return dict(value)
    raise AssertionError(f"unhandled type {expected}")  # pragma: no cover


def _merge(base: Config, overrides: Mapping[str, Mapping[str, Any]], origin: str) -> Config:
    """Returns `base` with `overrides` ({section: {field: value}}) applied, type-checked."""
    sections = {}
    for section, values in overrides.items():
        if section == "sweep":  # the grid of `labreport sweep`, read and checked by labreport.sweep.grid
            continue
        if section not in SECTIONS:
            raise LabreportError(
                f"unknown section [{section}] in {origin}{_closest(section, list(SECTIONS))}"
            )
        if not isinstance(values, Mapping):
            raise LabreportError(f"[{section}] in {origin} must be a table of settings")
        cls = SECTIONS[section]
        fields = {f.name: f.type for f in dataclasses.fields(cls)}
        checked = {}
        for name, value in values.items():
            if name not in fields:
                raise LabreportError(
                    f"unknown setting `{section}.{name}` in {origin}{_closest(name, list(fields))}"
                )
            checked[name] = _check_type(section, name, value, fields[name])
        sections[section] = dataclasses.replace(getattr(base, section), **checked)
    return dataclasses.replace(base, **sections)


SEED_MAX = 2**32 - 1
"""The largest seed: `keras.utils.set_random_seed` (NumPy's and Python's generators) refuses 2**32."""

BOUNDS: dict[str, tuple[float, float]] = {
    # Whole-number settings and their inclusive ranges. The upper bounds sit far above any lab on
    # one machine; they keep a typo (an extra zero, 2**62) from reaching TensorFlow, which either
    # fails with a traceback or tries to allocate it.
    "data.vocab_size": (2, 1_000_000),
    "data.max_length": (1, 10_000),
    "model.embedding_dim": (1, 4_096),
    "model.hidden_units": (1, 4_096),
    "train.batch_size": (1, 65_536),
    "train.epochs": (1, 1_000),
    "train.patience": (0, 1_000),
    "train.seed": (0, SEED_MAX),
    "train.seeds": (1, MAX_SEEDS),
}
"""The range of every whole-number setting."""

EVALUATION_BATCH = 256
"""Reviews per evaluation batch (`batches.EVALUATION_BATCH`), for the memory estimate."""


def _fail(name: str, value: Any, expected: str) -> None:
    raise LabreportError(
        f"Received an invalid value for `{name}`: expected {expected}, received: {name.split('.')[-1]}={value!r}"
    )


def training_memory_bytes(config: Config) -> int:
    """A lower estimate of the memory one model's training needs, in bytes.

    Weights, their gradients and Adam's two moments are four float32 copies of every parameter
    (the largest model: an LSTM, four gates per direction); activations are, per review and
    position, the embedding, both directions' gates and states, kept for back-propagation, for the
    larger of a training and an evaluation batch.
    """
    d, m = config.data, config.model
    units, width = m.hidden_units, m.embedding_dim
    recurrent = 2 * 4 * units * (width + units + 2)
    parameters = d.vocab_size * width + recurrent + 2 * units + 1
    per_position = width + 2 * (4 * units + 2 * units)
    batch = max(config.train.batch_size, EVALUATION_BATCH)
    return 4 * (4 * parameters + 2 * batch * d.max_length * per_position)


def physical_memory_bytes() -> int | None:
    """This machine's memory, or None where the system does not say."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def validate(config: Config) -> Config:
    """Checks every value's range; raises LabreportError naming the setting and the value."""
    fail = _fail
    d, m, t = config.data, config.model, config.train
    for name, (low, high) in BOUNDS.items():
        section, key = name.split(".")
        value = getattr(getattr(config, section), key)
        if not low <= value <= high:
            fail(name, value, f"a whole number from {low:,} to {high:,}")
    if d.padding not in ("pre", "post"):
        fail("data.padding", d.padding, '"pre" or "post"')
    if not m.models:
        fail("model.models", list(m.models), f"one or more of {', '.join(MODEL_NAMES)}")
    for name in m.models:
        if name not in MODEL_NAMES:
            fail("model.models", name, f"one of {', '.join(MODEL_NAMES)}")
    if len(set(m.models)) != len(m.models):
        fail("model.models", list(m.models), "each model at most once")
    # NaN fails every comparison, so each check is written as what must hold; inf and -inf are refused by name.
    if not (math.isfinite(m.dropout) and 0 <= m.dropout < 1):
        fail("model.dropout", m.dropout, "a finite rate in [0, 1)")
    if not (math.isfinite(t.validation_split) and 0 < t.validation_split < 1):
        fail("train.validation_split", t.validation_split, "a finite share in (0, 1)")
    if not (math.isfinite(t.learning_rate) and 0 < t.learning_rate <= 10):
        fail("train.learning_rate", t.learning_rate, "a finite number > 0 and at most 10")
    if t.seed + t.seeds - 1 > SEED_MAX:
        fail("train.seed", t.seed, f"at most {SEED_MAX - t.seeds + 1:,} with seeds={t.seeds} "
                                   f"(the last run's seed must stay within 0 to 2**32 - 1)")
    needed, available = training_memory_bytes(config), physical_memory_bytes()
    if available and needed > available:
        raise LabreportError(
            f"Received an invalid value for the model's size: training it needs at least {needed / 2**30:,.1f} GiB "
            f"(weights, gradients, Adam's moments, a batch's activations), more than this machine's "
            f"{available / 2**30:,.1f} GiB; received: vocab_size={d.vocab_size}, max_length={d.max_length}, "
            f"embedding_dim={m.embedding_dim}, hidden_units={m.hidden_units}, batch_size={t.batch_size}")
    for key in ("name", "student_id", "affiliation", "course", "lab", "submission_name"):
        value = getattr(config.report, key)
        if len(value) > 500 or any(ord(c) < 32 or 0xD800 <= ord(c) <= 0xDFFF for c in value):
            fail(f"report.{key}", value, "at most 500 characters of text without control characters")
    try:
        parts = [(name, spec, conversion) for _, name, spec, conversion in string.Formatter().parse(config.report.submission_name)
                 if name is not None]
        # A format spec or conversion ({name:>3000000000}) would let a file name cost gigabytes.
        fields = {name if not spec and not conversion else "{" for name, spec, conversion in parts}
    except ValueError:
        fields = {"{"}
    if not fields <= SUBMISSION_FIELDS:
        fail("report.submission_name", config.report.submission_name,
             "a pattern using only " + ", ".join("{%s}" % f for f in sorted(SUBMISSION_FIELDS)))
    return config


def read_toml(path: Path) -> dict[str, Any]:
    """Parses a TOML config file; syntax errors name the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as error:
        raise LabreportError(f"config file not found: {path}") from error
    except (OSError, UnicodeDecodeError) as error:
        raise LabreportError(f"cannot read config file {path}: {error}") from error
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise LabreportError(f"TOML syntax error in {path}: {error}") from error


def load_config(
    path: str | Path | None = None,
    flags: Mapping[str, Mapping[str, Any]] | None = None,
    quick: bool = False,
    cwd: Path | None = None,
) -> Config:
    """Builds the run's configuration.

    Args:
        path: a TOML file; when None, `labreport.toml` in `cwd` is read if it exists.
        flags: command-line values as {section: {field: value}}; they win over the file.
        quick: apply QUICK_OVERRIDES (the small settings for the shipped sample) under file and flags.
        cwd: the folder searched for `labreport.toml` (the current folder when None).

    Returns:
        The validated, frozen Config.
    """
    config = Config()
    if quick:
        config = _merge(config, QUICK_OVERRIDES, "--quick")
    if path is None:
        candidate = (cwd or Path.cwd()) / DEFAULT_CONFIG_FILE
        path = candidate if candidate.is_file() else None
    if path is not None:
        path = Path(path)
        config = _merge(config, read_toml(path), str(path))
    if flags:
        config = _merge(config, {s: v for s, v in flags.items() if v}, "the command line")
    return validate(config)


def report_settings(path: str | Path | None = None, cwd: Path | None = None) -> dict[str, Any]:
    """The `[report]` settings a config file gives, checked; {} when there is no file or no section.

    `render` lays these over the record's cover settings, so a student can fix a name or point to
    notes without training again.
    """
    if path is None:
        candidate = (cwd or Path.cwd()) / DEFAULT_CONFIG_FILE
        if not candidate.is_file():
            return {}
        path = candidate
    table = read_toml(Path(path)).get("report", {})
    checked = validate(_merge(Config(), {"report": table}, str(path))).report
    return {key: getattr(checked, key) for key in table}


def config_from_dict(data: Mapping[str, Any]) -> Config:
    """Rebuilds a Config from `Config.to_dict()` output (as stored in the record)."""
    return validate(_merge(Config(), data, "the record"))

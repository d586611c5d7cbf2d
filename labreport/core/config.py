"""The run's configuration: read from `labreport.toml` and flags, type-checked and range-checked.

Precedence: command-line flags override the TOML file, which overrides the defaults. The settings
themselves (types, defaults, ranges, help) are declared once in `labreport.core.settings`; the
defaults are the lab's own, so a plain `labreport train` reproduces the lab.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import string
import sys
from pathlib import Path
from typing import Any, Iterable, Mapping

from labreport.core import LabreportError, cells
from labreport.core.machine import physical_memory_bytes
from labreport.core.settings import (  # noqa: F401 - the configuration's classes, re-exported for its readers
    EXPERIMENT_SECTIONS,
    MAX_TEXT,
    MODEL_NAMES,
    SECTIONS,
    SEED_MAX,
    SUBMISSION_FIELDS,
    Config,
    DataConfig,
    ModelConfig,
    ReportConfig,
    Setting,
    TrainConfig,
    all_settings,
    cli_settings,
    section_settings,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

DEFAULT_CONFIG_FILE = "labreport.toml"
DEFAULT_OUT = "output"
"""The output folder of every command (and of the Python API) unless `--out` names another."""
SWEEP_OUT = "sweep"
"""`labreport sweep`'s folder (and `labreport.sweep`'s) unless `--out` names another."""

QUICK_OVERRIDES: dict[str, dict[str, Any]] = {
    # Small enough that `labreport build --quick` writes a whole report in about a minute on two cores.
    "data": {"vocab_size": 5_000, "max_length": 200},
    "model": {"embedding_dim": 32, "hidden_units": 16},
    "train": {"epochs": 4, "patience": 2},
}
"""Settings `--quick` applies under the user's file and flags."""


def comma_list(value: str) -> list[str]:
    """"gru, lstm," as ["gru", "lstm"]: how every list is written on the command line."""
    return [item.strip() for item in value.split(",") if item.strip()]


def checked_choices(items: Iterable[str], allowed: tuple[str, ...], what: str) -> list[str]:
    """`items` if each is one of `allowed` and there is at least one; else the error naming the choices."""
    items = list(items)
    for item in items:
        if item not in allowed:
            raise LabreportError(f"unknown {what} {item!r}: choose among {', '.join(allowed)}")
    if not items:
        raise LabreportError(f"no {what} given: choose among {', '.join(allowed)}")
    return items


def _closest(name: str, choices: list[str]) -> str:
    match = difflib.get_close_matches(name, choices, n=1)
    return f" (did you mean `{match[0]}`?)" if match else ""


def _check_type(setting: Setting, value: Any) -> Any:
    """`value` as the setting's type (a comma-separated text for a list), or the error naming both."""
    where, kind = f"`{setting.key}`", setting.kind
    if kind == "list":
        if isinstance(value, str):
            value = comma_list(value)
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise LabreportError(f"{where} must be a list of model names, received: {value!r}")
        return tuple(value)
    if kind == "bool":
        if not isinstance(value, bool):
            raise LabreportError(f"{where} must be true or false, received: {value!r}")
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise LabreportError(f"{where} must be a whole number, received: {value!r}")
        return value
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise LabreportError(f"{where} must be a number, received: {value!r}")
        return float(value)
    if kind == "str":
        if not isinstance(value, str):
            raise LabreportError(f"{where} must be text, received: {value!r}")
        return value
    if isinstance(value, str) and kind == "text or table":
        return value
    if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
        wanted = "text or a table of texts per language" if kind == "text or table" else "a table of texts per language"
        raise LabreportError(f"{where} must be {wanted}, e.g. {{ko = \"...\", en = \"...\"}}, received: {value!r}")
    return dict(value)


SWEEP_TABLE = "sweep"
"""labreport.toml's `[sweep]` table: the grid of `labreport sweep`, read and checked by `labreport.sweep.grid`,
and no setting of a run."""


def _merge(base: Config, overrides: Mapping[str, Mapping[str, Any]], origin: str) -> Config:
    """Returns `base` with `overrides` ({section: {field: value}}) applied, type-checked."""
    sections = {}
    for section, values in overrides.items():
        if section == SWEEP_TABLE:
            continue
        if section not in SECTIONS:
            raise LabreportError(
                f"unknown section [{section}] in {origin}{_closest(section, list(SECTIONS))}"
            )
        if not isinstance(values, Mapping):
            raise LabreportError(f"[{section}] in {origin} must be a table of settings")
        fields = {s.name: s for s in section_settings(section)}
        checked = {}
        for name, value in values.items():
            if name not in fields:
                raise LabreportError(
                    f"unknown setting `{section}.{name}` in {origin}{_closest(name, list(fields))}"
                )
            checked[name] = _check_type(fields[name], value)
        sections[section] = dataclasses.replace(getattr(base, section), **checked)
    return dataclasses.replace(base, **sections)


EVALUATION_BATCH = 256
"""Reviews per evaluation batch (`batches.EVALUATION_BATCH`), for the memory estimate."""


def _fail(name: str, value: Any, expected: str) -> None:
    raise LabreportError(
        f"Received an invalid value for `{name}`: expected {expected}, received: {name.split('.')[-1]}={value!r}"
    )


def training_memory_bytes(config: Config) -> int:
    """A lower estimate of the memory one model's training needs, in bytes.

    Weights, their gradients and Adam's two moments are four float32 copies of every parameter
    (the largest model: the most blocks per direction, an LSTM's four, `labreport.core.cells`); activations are, per review and
    position, the embedding, both directions' gates and states, kept for back-propagation, for the
    larger of a training and an evaluation batch.
    """
    d, m = config.data, config.model
    units, width = m.hidden_units, m.embedding_dim
    blocks = cells.most_blocks()
    recurrent = 2 * blocks * units * (width + units + cells.most_bias_vectors())
    parameters = d.vocab_size * width + recurrent + 2 * units + 1
    per_position = width + 2 * (blocks * units + 2 * units)
    batch = max(config.train.batch_size, EVALUATION_BATCH)
    return 4 * (4 * parameters + 2 * batch * d.max_length * per_position)


def _check_range(setting: Setting, value: Any) -> None:
    """A number outside its declared range, or a text (or list item) outside its choices, fails here."""
    spec = setting.spec
    if setting.kind in ("int", "float") and (spec.low is not None or spec.high is not None):
        # NaN fails every comparison, so the range is written as what must hold; inf and -inf fail by name.
        if not (math.isfinite(value) and spec.admits(value)):
            _fail(setting.key, value, setting.range_text() or "a finite number")
    elif setting.kind == "str" and spec.choices:
        if value not in spec.choices:
            _fail(setting.key, value, " or ".join(f'"{c}"' for c in spec.choices))
    elif setting.kind == "list":
        choices = spec.choices or ()
        names = ", ".join(choices)
        if not value:
            _fail(setting.key, list(value), f"one or more of {names}")
        for item in value:
            if item not in choices:
                _fail(setting.key, item, f"one of {names}")
        if len(set(value)) != len(value):
            _fail(setting.key, list(value), "each model at most once")


def _check_cover(report: ReportConfig) -> None:
    """The cover's texts are short plain text, and the submission name uses only its fields, without format specs."""
    for s in section_settings("report"):
        value = getattr(report, s.name)
        if s.kind == "str" and (len(value) > MAX_TEXT or any(ord(c) < 32 or 0xD800 <= ord(c) <= 0xDFFF for c in value)):
            _fail(s.key, value, f"at most {MAX_TEXT} characters of text without control characters")
    try:
        parts = [(name, spec, conversion) for _, name, spec, conversion in string.Formatter().parse(report.submission_name)
                 if name is not None]
        # A format spec or conversion ({name:>3000000000}) would let a file name cost gigabytes.
        fields = {name if not spec and not conversion else "{" for name, spec, conversion in parts}
    except ValueError:
        fields = {"{"}
    if not fields <= set(SUBMISSION_FIELDS):
        _fail("report.submission_name", report.submission_name,
              "a pattern using only " + ", ".join("{%s}" % f for f in sorted(SUBMISSION_FIELDS)))


def validate(config: Config) -> Config:
    """Checks every value against its declaration and the model's size against the machine's memory.

    Raises:
        LabreportError: naming the setting and the value.
    """
    for setting in all_settings():
        _check_range(setting, getattr(getattr(config, setting.section), setting.name))
    t = config.train
    if t.seed + t.seeds - 1 > SEED_MAX:
        _fail("train.seed", t.seed, f"at most {SEED_MAX - t.seeds + 1:,} with seeds={t.seeds} "
                                    f"(the last run's seed must stay within 0 to 2**32 - 1)")
    needed, available = training_memory_bytes(config), physical_memory_bytes()
    if available and needed > available:
        d, m = config.data, config.model
        raise LabreportError(
            f"Received an invalid value for the model's size: training it needs at least {needed / 2**30:,.1f} GiB "
            f"(weights, gradients, Adam's moments, a batch's activations), more than this machine's "
            f"{available / 2**30:,.1f} GiB; received: vocab_size={d.vocab_size}, max_length={d.max_length}, "
            f"embedding_dim={m.embedding_dim}, hidden_units={m.hidden_units}, batch_size={t.batch_size}")
    _check_cover(config.report)
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
    except RecursionError:
        raise LabreportError(f"config file {path} nests its values too deeply to be a configuration") from None
    except ValueError:  # an integer longer than Python converts (4,300 digits): no setting is that long
        raise LabreportError(f"config file {path} holds a number labreport cannot read (an integer of thousands of digits)") from None


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


def keyword_settings(settings: dict) -> tuple[dict[str, dict], list[str]]:
    """Settings given as Python keywords (`labreport.build(epochs=3)`), as {section: {name: value}}
    for `load_config`, and as the command-line flags the record names them by.

    Raises:
        LabreportError: a keyword that is no setting (the message names the closest one).
    """
    known = {setting.name: setting for setting in cli_settings()}
    flags: dict[str, dict] = {section: {} for section in EXPERIMENT_SECTIONS}
    command: list[str] = []
    for name, value in settings.items():
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise LabreportError(f"unknown setting {name!r}{hint}; the settings are {', '.join(sorted(known))}")
        setting = known[name]
        if setting.kind == "list" and isinstance(value, str):
            value = comma_list(value)
        flags[setting.section][name] = value
        if setting.kind == "bool":
            command += [] if value else [setting.flag]
        elif setting.kind == "list":
            command += [setting.flag, ",".join(map(str, value))]
        else:
            command += [setting.flag, str(value)]
    return flags, command

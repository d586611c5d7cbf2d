"""The sweep's grid: which settings vary, every run it implies, and each run's id and configuration.

`--vary max_length=100,300 --seeds 2` (or `vary = {max_length = [100, 300]}` under `[sweep]` in
labreport.toml) is a grid of two points; each point is trained once per seed, so four runs. A run is
exactly what `labreport train` does with that point's settings and one seed (`train.seeds = 1`), so
every model of a run shares its data split and seed: their differences pair across seeds.

Every run's configuration goes through the settings' own checks (`labreport.core.config.load_config`)
before any work starts, so a bad `--vary` value stops the command with the same one-line message a
bad flag gives, naming the `--vary` it came from.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from labreport.core import LabreportError
from labreport.core.config import (
    DEFAULT_CONFIG_FILE,
    SWEEP_TABLE,
    Config,
    Setting,
    cli_settings,
    load_config,
    read_toml,
)

MAX_RUNS = 1_000
"""Runs one sweep may hold: far above a lab's grid (3 models are one run; 5 lengths × 3 sizes × 5
seeds is 75), low enough that a typo (an extra value list) cannot queue days of training."""
MAX_VALUES = 100
"""Values one setting may take in a sweep."""
NOT_VARIED = {
    "models": "every run trains all of --models, so that they can be compared within a run",
    "seeds": "give the number of seeds per grid point with --seeds",
    "seed": "the seeds are --seed, --seed+1, ... (--seeds of them)",
}
"""Settings a sweep does not vary, and why."""
DATA_SETTINGS = ("train.seed", "train.validation_split", "data.vocab_size", "data.max_length", "data.padding")
"""The settings `labreport.experiment.prepare.prepare` reads: runs that agree on them share one prepared data set."""
SWEEP_FIELDS = {"vary": "a table of value lists, e.g. {max_length = [100, 300]}",
                "cpus_per_run": "a whole number of CPUs, e.g. 1",
                "address": "a Ray address, e.g. \"10.0.0.5:6379\"",
                "keep_models": "true or false"}
"""The fields of `[sweep]` in labreport.toml and what each takes."""


@dataclass(frozen=True)
class Axis:
    """One varied setting: its dotted key (`data.max_length`), short name and values, in the given order."""

    key: str
    name: str
    values: tuple


@dataclass(frozen=True)
class RunSpec:
    """One run of the grid: a grid point (one value per axis) and one seed."""

    id: str
    """The run's folder name under `OUT/runs/`, made from its point and seed only."""
    point: tuple[tuple[str, Any], ...]
    """(axis name, value) for every axis, in axis order."""
    seed: int
    config: Config

    @property
    def data_key(self) -> tuple:
        """The settings its prepared data depends on: equal keys, equal data."""
        return tuple(_get(self.config, key) for key in DATA_SETTINGS)


@dataclass(frozen=True)
class Grid:
    axes: tuple[Axis, ...]
    seeds: tuple[int, ...]
    base: Config
    """The settings without any axis applied (seeds as given): what every run holds fixed."""
    runs: tuple[RunSpec, ...]

    def points(self) -> list[tuple[tuple[str, Any], ...]]:
        """Every grid point, in grid order."""
        return list(dict.fromkeys(run.point for run in self.runs))


def _get(config: Config, key: str) -> Any:
    section, name = key.split(".")
    return getattr(getattr(config, section), name)


def find_setting(key: str, origin: str) -> Setting:
    """The setting `key` names (`max_length` or `data.max_length`); one line naming the closest one otherwise."""
    import difflib

    settings = {s.name: s for s in cli_settings()}
    dotted = {f"{s.section}.{s.name}": s for s in settings.values()}
    found = dotted.get(key) or settings.get(key)
    if found is None:
        close = difflib.get_close_matches(key, [*settings, *dotted], n=1)
        hint = f" (did you mean `{close[0]}`?)" if close else ""
        raise LabreportError(f"{origin}: unknown setting `{key}`{hint}")
    if found.name in NOT_VARIED:
        raise LabreportError(f"{origin}: a sweep does not vary `{found.name}`: {NOT_VARIED[found.name]}")
    return found


INTEGER = re.compile(r"[+-]?\d+")


def _typed(setting: Setting, text: str, origin: str) -> Any:
    """A value given as text on the command line, as its setting's type where it reads as one.

    Text that does not read as the type is passed on as text, so the settings' own check names it
    ("must be a whole number, received: '1.5'").
    """
    text = text.strip()
    if setting.kind == "int" and INTEGER.fullmatch(text):
        try:
            return int(text)
        except ValueError:  # longer than Python converts (4,300 digits): far outside every setting's range
            raise LabreportError(f"{origin}: {text[:20]}… has {len(text):,} digits, more than labreport reads") from None
    if setting.kind == "float":
        try:
            return float(text)
        except ValueError:
            return text
    if setting.kind == "bool" and text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text


def parse_vary(option: str) -> tuple[str, list[Any]]:
    """`KEY=V1,V2,...` → (KEY, typed values); the error names the option as given."""
    key, sep, values = option.partition("=")
    origin = f"--vary {option}"
    if not sep or not key.strip():
        raise LabreportError(f"{origin}: write KEY=V1,V2,..., e.g. --vary max_length=100,300")
    setting = find_setting(key.strip(), origin)
    items = [item for item in values.split(",") if item.strip()]
    return key.strip(), [_typed(setting, item, f"--vary {key.strip()}") for item in items]


def axes_from(vary: Mapping[str, list[Any]], origin: str) -> tuple[Axis, ...]:
    """The axes of `{key: values}`, each key a known setting given once, each value list non-empty and distinct."""
    axes, seen = [], set()
    for key, values in vary.items():
        where = f"{origin} {key}"
        setting = find_setting(key, where)
        dotted = f"{setting.section}.{setting.name}"
        if dotted in seen:
            raise LabreportError(f"{where}: `{setting.name}` is varied twice")
        seen.add(dotted)
        if not isinstance(values, (list, tuple)) or not values:
            raise LabreportError(f"{where}: give at least one value, e.g. {setting.name}=100,300")
        if len(values) > MAX_VALUES:
            raise LabreportError(f"{where}: {len(values)} values, at most {MAX_VALUES}")
        if len(set(map(repr, values))) != len(values):
            raise LabreportError(f"{where}: a value is given twice: {', '.join(map(str, values))}")
        axes.append(Axis(dotted, setting.name, tuple(values)))
    return tuple(axes)


def _value_text(value: Any) -> str:
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return re.sub(r"[^A-Za-z0-9.+-]+", "_", text)


def run_id(point: tuple[tuple[str, Any], ...], seed: int) -> str:
    """The run's folder name, from its point and seed: `max_length-300_seed-42`."""
    return "_".join([*(f"{name}-{_value_text(value)}" for name, value in point), f"seed-{seed}"])


def _run_config(config_file: str | Path | None, flags: Mapping[str, Mapping[str, Any]], quick: bool,
                axes: tuple[Axis, ...], point: tuple, seed: int) -> Config:
    """The configuration of one run: the file, the flags and the point's values, one seed; checked."""
    merged = {section: dict(values) for section, values in flags.items()}
    for axis, (_, value) in zip(axes, point):
        section, name = axis.key.split(".")
        merged.setdefault(section, {})[name] = value
    merged.setdefault("train", {}).update(seed=seed, seeds=1)
    where = ", ".join(f"{name}={value}" for name, value in point) or "the sweep"
    try:
        return load_config(config_file, merged, quick=quick)
    except LabreportError as error:
        raise LabreportError(f"--vary {where}: {error}") from None


def build_grid(vary: Mapping[str, list[Any]], flags: Mapping[str, Mapping[str, Any]] | None = None,
               config_file: str | Path | None = None, quick: bool = False, origin: str = "--vary") -> Grid:
    """Every run of the sweep, each configuration checked before any work starts.

    Args:
        vary: {setting: values}, a setting by its name or dotted key (`max_length`, `data.max_length`).
        flags: the other settings, {section: {name: value}}, as for `labreport.core.config.load_config`.
        config_file: labreport.toml (None: ./labreport.toml if present).
        quick: the `--quick` sizes under file and flags.

    Raises:
        LabreportError: one line naming the setting, the value and where it came from.
    """
    flags = flags or {}
    axes = axes_from(vary, origin)
    base = load_config(config_file, flags, quick=quick)
    seeds = tuple(base.run_seeds())
    count = len(seeds) * _product([len(axis.values) for axis in axes])
    if count > MAX_RUNS:
        raise LabreportError(f"the sweep holds {count:,} runs, more than {MAX_RUNS:,}: vary fewer settings or values")
    runs = []
    for values in itertools.product(*(axis.values for axis in axes)):
        point = tuple((axis.name, value) for axis, value in zip(axes, values))
        for seed in seeds:
            config = _run_config(config_file, flags, quick, axes, point, seed)
            runs.append(RunSpec(run_id(point, seed), point, seed, config))
    ids = [run.id for run in runs]
    if len(set(ids)) != len(ids):
        raise LabreportError("two runs of the grid would share a folder name: give values that differ in letters or digits")
    return Grid(axes, seeds, base, tuple(runs))


def _product(numbers: list[int]) -> int:
    result = 1
    for number in numbers:
        result *= number
    return result


def fixed_settings(grid: Grid) -> dict[str, Any]:
    """Every setting the runs share, {dotted key: value}: all but the axes and the seed."""
    varied = {axis.key for axis in grid.axes} | {"train.seed", "train.seeds"}
    data = grid.base.to_dict()
    return {f"{section}.{name}": value for section in ("data", "model", "train")
            for name, value in data[section].items() if f"{section}.{name}" not in varied}


def sweep_table(config_file: str | Path | None, cwd: Path | None = None) -> dict[str, Any]:
    """The `[sweep]` table of labreport.toml, each field checked; {} without a file or table."""
    if config_file is None:
        candidate = (cwd or Path.cwd()) / DEFAULT_CONFIG_FILE
        if not candidate.is_file():
            return {}
        config_file = candidate
    table = read_toml(Path(config_file)).get(SWEEP_TABLE, {})
    where = f"[{SWEEP_TABLE}] in {config_file}"
    if not isinstance(table, dict):
        raise LabreportError(f"{where} must be a table")
    for name, value in table.items():
        if name not in SWEEP_FIELDS:
            import difflib

            close = difflib.get_close_matches(name, list(SWEEP_FIELDS), n=1)
            raise LabreportError(f"{where}: unknown field `{name}`" + (f" (did you mean `{close[0]}`?)" if close else ""))
        expected = {"vary": dict, "cpus_per_run": int, "address": str, "keep_models": bool}[name]
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise LabreportError(f"{where}: `{name}` must be {SWEEP_FIELDS[name]}, received: {value!r}")
    return dict(table)

"""`labreport sweep` as one typed call, `sweep(SweepRequest(...))`: the command line's flags
(`labreport.cli`, through `labreport.commands.sweep`) and the notebook's keywords
(`labreport.sweep.api`) are each translated into a `SweepRequest`, which this module checks into the
sweep's `Grid` and `Options` and runs. Ray is imported only when the sweep starts its engine.

Every setting flag of `labreport train` applies to every run of the sweep (`--seeds N`: N runs per
grid point, seeds --seed, --seed+1, ...); `--vary KEY=V1,V2` makes KEY an axis of the grid. The
`[sweep]` table of labreport.toml gives the same: `vary = {max_length = [100, 300]}`,
`cpus_per_run`, `address`, `keep_models`; flags win over it.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from labreport.core import LabreportError
from labreport.core.config import SWEEP_OUT, checked_choices
from labreport.report.formats import DEFAULT_FORMATS, FORMATS, LANGUAGES
from labreport.sweep.driver import Outcome
from labreport.sweep.engine import checked_address
from labreport.sweep.grid import Grid
from labreport.sweep.pipeline import Options

MAX_CPUS_PER_RUN = 1_024


@dataclass(frozen=True)
class SweepRequest:
    """A sweep as asked for, before it is checked: what the flags or the keywords give, over the
    `[sweep]` table of labreport.toml. `sweep` checks it (`sweep_grid`, `sweep_options`) and runs it."""

    out: str | Path = SWEEP_OUT
    """The sweep's folder; a second sweep into it trains only the runs that are not complete."""
    vary: Mapping[str, list] | None = None
    """The grid's axes, {setting: values}; None: the `[sweep]` table's `vary`."""
    vary_origin: str = "vary"
    """How `vary` is named in its errors ("--vary" on the command line)."""
    settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Every other setting given, {section: {name: value}}, applied to every run."""
    config: str | Path | None = None
    """A labreport.toml (its settings and its `[sweep]` table); None: ./labreport.toml if present."""
    quick: bool = False
    """The IMDB sample shipped with labreport and the small `--quick` sizes."""
    data: str | Path | None = None
    """The IMDB archive or its folder; None: tensorflow-datasets."""
    data_dir: str | Path | None = None
    """Where tensorflow-datasets keeps imdb_reviews."""
    address: str | None = None
    """A running Ray cluster; None: the table's, else $RAY_ADDRESS, else a local instance."""
    cpus_per_run: int | None = None
    """Ray CPUs and TensorFlow threads of each run; None: the table's, else 1."""
    keep_models: bool = False
    """Keep each run's trained models (or the table's `keep_models`)."""
    dashboard: bool = False
    """Start Ray's dashboard on 127.0.0.1."""
    languages: Iterable[str] = LANGUAGES
    """Report languages."""
    formats: Iterable[str] = DEFAULT_FORMATS
    """Report formats."""
    templates: str | Path | None = None
    """A folder searched before the built-in templates and catalogs."""
    command: tuple[str, ...] = ("sweep",)
    """The words after `labreport` that reproduce the sweep, for its records."""


@dataclass(frozen=True)
class Swept:
    """What a sweep did: its checked options (folder, languages, formats) and each run's outcome."""

    options: Options
    outcomes: list[Outcome]

    @property
    def failed(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if outcome.status == "failed"]


def sweep(request: SweepRequest, progress: Callable[[str], None] = lambda line: None) -> Swept:
    """Checks everything the sweep needs, then trains the runs not complete on Ray and writes the
    sweep report (`labreport sweep`, `labreport.sweep(...)`).

    Args:
        request: the sweep as asked for.
        progress: called with each progress line (a run started, finished or failed).

    Raises:
        LabreportError: a setting, axis, language, format or address that does not check (one line),
            before any run starts.
    """
    from labreport.sweep import grid as grid_module
    from labreport.sweep.pipeline import run_sweep

    table = grid_module.sweep_table(request.config)
    grid = sweep_grid(dict(request.vary) if request.vary is not None else None,
                      {section: dict(values) for section, values in request.settings.items()}, request.config, table,
                      quick=request.quick, origin=request.vary_origin)
    options = sweep_options(table, request.out, quick=request.quick, data=request.data, data_dir=request.data_dir,
                            address=request.address, cpus_per_run=request.cpus_per_run,
                            keep_models=request.keep_models, dashboard=request.dashboard,
                            languages=request.languages, formats=request.formats, templates=request.templates,
                            command=request.command)
    return Swept(options, run_sweep(grid, options, progress))


def sweep_options(table: dict, out: str | Path, *, quick: bool = False, data: str | Path | None = None,
                  data_dir: str | Path | None = None, address: str | None = None, cpus_per_run: int | None = None,
                  keep_models: bool = False, dashboard: bool = False, languages: Iterable[str] = LANGUAGES,
                  formats: Iterable[str] = DEFAULT_FORMATS, templates: str | Path | None = None,
                  command: Iterable[str] = ("sweep",)) -> Options:
    """The sweep's `Options`, checked: what the command line's flags or the notebook's keywords give,
    over the `[sweep]` table of labreport.toml (`table`).

    Args:
        address, cpus_per_run: None: the table's, else a local instance and 1.
        keep_models: or the table's.
        command: the words after `labreport` that reproduce the sweep, for its records.

    Raises:
        LabreportError: a value out of range, an unknown language or format, a catalog that does not
            load, or an address that is not a cluster's (one line each).
    """
    from labreport.report import templates as templates_module

    cpus = cpus_per_run if cpus_per_run is not None else table.get("cpus_per_run", 1)
    if not 1 <= cpus <= MAX_CPUS_PER_RUN:
        raise LabreportError(f"Received an invalid value for `--cpus-per-run`: expected a whole number from 1 to "
                             f"{MAX_CPUS_PER_RUN:,}, received: cpus_per_run={cpus}")
    templates = str(templates) if templates is not None else None
    languages = checked_choices(languages, tuple(templates_module.languages(templates)), "language")
    formats = checked_choices(formats, FORMATS, "format")
    for lang in languages:
        templates_module.load_catalog(lang, templates)
    return Options(out=Path(out), quick=quick, data=str(data) if data else None,
                   data_dir=str(data_dir) if data_dir else None,
                   address=checked_address(address) if address is not None
                   else checked_address(table.get("address"), "[sweep] address"), cpus_per_run=cpus,
                   keep_models=keep_models or table.get("keep_models", False), dashboard=dashboard,
                   languages=tuple(languages), formats=tuple(formats), templates=templates,
                   command="labreport " + shlex.join(command))


def parse_vary(options: Iterable[str]) -> dict[str, list]:
    """The grid's axes from `--vary KEY=V1,V2` options, each parsed and checked, {key: values}.

    Raises:
        LabreportError: an option that does not parse, or a key varied twice.
    """
    from labreport.sweep import grid

    vary: dict = {}
    for option in options:
        key, values = grid.parse_vary(option)
        if key in vary:
            raise LabreportError(f"--vary {option}: `{key}` is varied twice")
        vary[key] = values
    return vary


def sweep_grid(vary: dict[str, list] | None, flags: dict, config: str | Path | None, table: dict, quick: bool = False,
               origin: str = "vary") -> Grid:
    """The grid: `vary` ({setting: values}, named `origin` in its errors), else the `[sweep]` table's
    `vary`; `flags` are the other settings given, {section: {name: value}}."""
    from labreport.sweep import grid

    if vary is None:
        vary, origin = table.get("vary", {}), "[sweep] vary"
    return grid.build_grid(vary, flags, config, quick=quick, origin=origin)

"""`labreport sweep`'s checked inputs: its `Options` and its `Grid`, built alike from the command
line's flags (`labreport.cli`) and the notebook's keywords (`labreport.sweep.api`).

Every setting flag of `labreport train` applies to every run of the sweep (`--seeds N`: N runs per
grid point, seeds --seed, --seed+1, ...); `--vary KEY=V1,V2` makes KEY an axis of the grid. The
`[sweep]` table of labreport.toml gives the same: `vary = {max_length = [100, 300]}`,
`cpus_per_run`, `address`, `keep_models`; flags win over it.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Iterable

from labreport.core import LabreportError
from labreport.core.config import checked_choices
from labreport.sweep.engine import checked_address
from labreport.sweep.grid import Grid
from labreport.sweep.pipeline import Options

MAX_CPUS_PER_RUN = 1_024


def sweep_options(table: dict, out: str | Path, *, quick: bool = False, data: str | Path | None = None,
                  data_dir: str | Path | None = None, address: str | None = None, cpus_per_run: int | None = None,
                  keep_models: bool = False, dashboard: bool = False, languages: Iterable[str] = ("ko", "en"),
                  formats: Iterable[str] = ("html", "pdf"), templates: str | Path | None = None,
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
    from labreport.report import render, templates as templates_module

    cpus = cpus_per_run if cpus_per_run is not None else table.get("cpus_per_run", 1)
    if not 1 <= cpus <= MAX_CPUS_PER_RUN:
        raise LabreportError(f"Received an invalid value for `--cpus-per-run`: expected a whole number from 1 to "
                             f"{MAX_CPUS_PER_RUN:,}, received: cpus_per_run={cpus}")
    templates = str(templates) if templates is not None else None
    languages = checked_choices(languages, tuple(templates_module.languages(templates)), "language")
    formats = checked_choices(formats, render.FORMATS, "format")
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

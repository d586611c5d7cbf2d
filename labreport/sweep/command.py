"""`labreport sweep`: the command behind its flags (which `labreport.cli` declares).

Every setting flag of `labreport train` applies to every run of the sweep (`--seeds N`: N runs per
grid point, seeds --seed, --seed+1, ...); `--vary KEY=V1,V2` makes KEY an axis of the grid. The
`[sweep]` table of labreport.toml gives the same: `vary = {max_length = [100, 300]}`,
`cpus_per_run`, `address`, `keep_models`; flags win over it.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from labreport.core import LabreportError
from labreport.core.config import checked_choices, comma_list
from labreport.sweep.engine import checked_address

MAX_CPUS_PER_RUN = 1_024


def options_from(args: argparse.Namespace, table: dict):
    """The sweep's `Options` from the flags over the `[sweep]` table, checked."""
    from labreport.report import render, templates
    from labreport.sweep.pipeline import Options

    cpus = args.cpus_per_run if args.cpus_per_run is not None else table.get("cpus_per_run", 1)
    if not 1 <= cpus <= MAX_CPUS_PER_RUN:
        raise LabreportError(f"Received an invalid value for `--cpus-per-run`: expected a whole number from 1 to "
                             f"{MAX_CPUS_PER_RUN:,}, received: cpus_per_run={cpus}")
    languages = checked_choices(comma_list(args.lang), tuple(templates.languages(args.templates)), "language")
    formats = checked_choices(comma_list(args.format), render.FORMATS, "format")
    for lang in languages:
        templates.load_catalog(lang, args.templates)
    return Options(out=Path(args.out), quick=args.quick, data=args.data, data_dir=args.data_dir,
                   address=checked_address(args.address) if args.address is not None
                   else checked_address(table.get("address"), "[sweep] address"), cpus_per_run=cpus,
                   keep_models=args.keep_models or table.get("keep_models", False), dashboard=args.dashboard,
                   languages=tuple(languages), formats=tuple(formats), templates=args.templates,
                   command="labreport " + shlex.join(getattr(args, "argv", ["sweep"])))


def grid_from(args: argparse.Namespace, flags: dict, table: dict):
    """The grid: `--vary` options (each parsed and checked), else the `[sweep]` table's `vary`; `flags`
    are the other settings given, {section: {name: value}}."""
    from labreport.sweep import grid

    if args.vary:
        vary: dict = {}
        for option in args.vary:
            key, values = grid.parse_vary(option)
            if key in vary:
                raise LabreportError(f"--vary {option}: `{key}` is varied twice")
            vary[key] = values
        origin = "--vary"
    else:
        vary, origin = table.get("vary", {}), "[sweep] vary"
    return grid.build_grid(vary, flags, args.config, quick=args.quick, origin=origin)


def command_sweep(args: argparse.Namespace, flags: dict) -> int:
    """Checks everything, trains what is not complete, writes the report; 1 when a run failed.

    Args:
        args: the command line's flags for `sweep`.
        flags: the settings among them, {section: {name: value}} (`labreport.cli.config_flags`).
    """
    from labreport.sweep import grid as grid_module
    from labreport.sweep.pipeline import run_sweep

    table = grid_module.sweep_table(args.config)
    grid = grid_from(args, flags, table)
    options = options_from(args, table)
    quiet = getattr(args, "quiet", False)
    outcomes = run_sweep(grid, options, (lambda line: None) if quiet else _say)
    failed = [o for o in outcomes if o.status == "failed"]
    if not quiet:
        for name in ("sweep.json", *(f"sweep.{lang}.{fmt}" for lang in options.languages for fmt in options.formats)):
            if (options.out / name).is_file():
                print(options.out / name)
    if failed:
        print(f"labreport: {len(failed)} of {len(outcomes)} runs failed; see {options.out / 'sweep.json'} "
              "(run the same command again to retry them)", file=sys.stderr)
        return 1
    return 0


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)

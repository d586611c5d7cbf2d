"""`labreport sweep`: its arguments and its command.

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

from labreport import LabreportError

DEFAULT_OUT = "sweep"


def add_parser(commands) -> argparse.ArgumentParser:
    """Adds `sweep` to the command line's subcommands."""
    from labreport import cli

    sweep = commands.add_parser(
        "sweep", help="a grid of runs (settings × seeds) on Ray, and one report that compares them",
        description="Train a grid of ordinary labreport runs as tasks on Ray (a local instance with this machine's "
                    "cores, or a cluster with --address), each in OUT/runs/<id>/, and write the sweep report "
                    "OUT/sweep.<lang>.html and .pdf, OUT/sweep.json and OUT/sweep.csv. A second call trains only "
                    "the runs that are not complete.")
    sweep.add_argument("--out", metavar="DIR", default=DEFAULT_OUT, help=f"the sweep's folder (default: {DEFAULT_OUT}/)")
    cli._add_verbosity(sweep)
    group = sweep.add_argument_group("sweep")
    group.add_argument("--vary", metavar="KEY=V1,V2", action="append", default=[],
                       help="a setting of the grid and its values, e.g. max_length=100,300,800; repeat for more settings")
    group.add_argument("--address", metavar="ADDR",
                       help="a running Ray cluster (default: $RAY_ADDRESS, else a local instance with this machine's cores)")
    group.add_argument("--cpus-per-run", metavar="N", type=int, help="Ray CPUs (and TensorFlow threads) of each run (1)")
    group.add_argument("--keep-models", action="store_true", help="also keep each run's trained models (OUT/runs/<id>/models/)")
    group.add_argument("--dashboard", action="store_true", help="start Ray's dashboard, on 127.0.0.1 (needs ray[default])")
    group.add_argument("--lang", default="ko,en", metavar="LIST", help="report languages (ko,en)")
    group.add_argument("--format", default="html,pdf", metavar="LIST", help="report formats among html,pdf (html,pdf)")
    group.add_argument("--templates", metavar="DIR", help="folder searched before the built-in templates and catalogs")
    cli._add_data_flags(sweep)
    cli._add_config_flags(sweep)
    return sweep


MAX_CPUS_PER_RUN = 1_024


def options_from(args: argparse.Namespace, table: dict):
    """The sweep's `Options` from the flags over the `[sweep]` table, checked."""
    from labreport import cli, pages
    from labreport.sweep.pipeline import Options

    cpus = args.cpus_per_run if args.cpus_per_run is not None else table.get("cpus_per_run", 1)
    if not 1 <= cpus <= MAX_CPUS_PER_RUN:
        raise LabreportError(f"Received an invalid value for `--cpus-per-run`: expected a whole number from 1 to "
                             f"{MAX_CPUS_PER_RUN:,}, received: cpus_per_run={cpus}")
    languages = cli._split_list(args.lang, tuple(pages.languages(args.templates)), "language")
    formats = cli._split_list(args.format, pages.FORMATS, "format")
    for lang in languages:
        pages.load_catalog(lang, args.templates)
    return Options(out=Path(args.out), quick=args.quick, data=args.data, data_dir=args.data_dir,
                   address=args.address or table.get("address"), cpus_per_run=cpus,
                   keep_models=args.keep_models or table.get("keep_models", False), dashboard=args.dashboard,
                   languages=tuple(languages), formats=tuple(formats), templates=args.templates,
                   command="labreport " + shlex.join(getattr(args, "argv", ["sweep"])))


def grid_from(args: argparse.Namespace, table: dict):
    """The grid: `--vary` options (each parsed and checked), else the `[sweep]` table's `vary`."""
    from labreport import cli
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
    return grid.build_grid(vary, cli.config_flags(args), args.config, quick=args.quick, origin=origin)


def command_sweep(args: argparse.Namespace) -> int:
    """Checks everything, trains what is not complete, writes the report; 1 when a run failed."""
    from labreport.sweep import grid as grid_module
    from labreport.sweep.pipeline import run_sweep

    table = grid_module.sweep_table(args.config)
    grid = grid_from(args, table)
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

"""A whole sweep: the runs still to do, trained on Ray, then the sweep report from every complete run.

`run_sweep` holds `OUT`'s lock for the whole call (one sweep at a time writes a folder), reads the
data once, skips every run already complete with the same settings and data, trains the others
(`labreport.sweep.driver`, `labreport.sweep.engine`) and writes the sweep report from the runs'
records (`labreport.sweep.report`). Each run is written as soon as it finishes, so an interrupted
sweep keeps every finished run and the next call goes on from there.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from labreport.core import LabreportError, fileio, staging
from labreport.report.formats import DEFAULT_FORMATS, LANGUAGES
from labreport.sweep import driver
from labreport.sweep.driver import Outcome
from labreport.sweep.grid import Grid, RunSpec

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Options:
    """How a sweep runs and what it writes; the settings themselves are in the `Grid`."""

    out: Path
    quick: bool = False
    data: str | None = None
    data_dir: str | None = None
    address: str | None = None
    """A running Ray cluster; None: `RAY_ADDRESS`, else a local instance with the machine's cores."""
    cpus_per_run: int = 1
    keep_models: bool = False
    dashboard: bool = False
    languages: tuple[str, ...] = LANGUAGES
    formats: tuple[str, ...] = DEFAULT_FORMATS
    templates: str | None = None
    command: str = "labreport sweep"
    environ: dict = field(default_factory=lambda: dict(os.environ))


def run_sweep(grid: Grid, options: Options, progress: Progress) -> list[Outcome]:
    """Trains every run of `grid` not yet complete in `options.out`, then writes the sweep report.

    Returns:
        One outcome per run of the grid, in grid order.

    Raises:
        LabreportError: the output folder, the data or Ray cannot be used (no run is lost then).
    """
    from labreport.experiment import corpus as corpus_module

    out = fileio.check_writable(options.out)
    with staging.locked(out, options.command):
        runs = out / driver.RUNS
        if runs.is_symlink() or (runs.exists() and not runs.is_dir()):
            raise LabreportError(f"{runs} is {'a link' if runs.is_symlink() else 'not a folder'}: a sweep keeps its "
                                 "runs in its own folder; remove it, or choose another --out")
        corpus = corpus_module.load_corpus(options.data, options.quick, options.data_dir)
        digest = driver.corpus_digest(corpus)
        outcomes: dict[str, Outcome] = {}
        pending = []
        for spec in grid.runs:
            found = driver.complete_record(out, spec, driver.run_key(spec, digest))
            if found is None:
                pending.append(spec)
            else:
                outcomes[spec.id] = Outcome(spec, "complete", reused=True, record=found)
        progress(f"sweep: {len(grid.runs)} runs, {len(outcomes)} complete already, {len(pending)} to train")
        if pending:
            _train(pending, corpus, digest, out, options, outcomes, progress)
        ordered = [outcomes[spec.id] for spec in grid.runs if spec.id in outcomes]
        from labreport.sweep import report

        report.write_all(out, grid, ordered, options, progress)
    return ordered


def _object_store_bytes(pending: list[RunSpec], corpus, options: Options) -> int:
    """What the local object store must hold: the prepared data of the runs submitted at once (one
    more than run at a time) and what they send back, with a quarter to spare."""
    from labreport.sweep.engine import usable_cpus

    slots = max(1, usable_cpus() // options.cpus_per_run)
    largest = max(driver.prepared_bytes(corpus, spec.config) for spec in pending)
    returned = max(driver.returned_bytes(spec.config, options.keep_models) for spec in pending)
    return int(1.25 * ((slots + 1) * largest + 2 * slots * returned))


def _train(pending: list[RunSpec], corpus, digest: str, out: Path, options: Options,
           outcomes: dict[str, Outcome], progress: Progress) -> None:
    from labreport.experiment import prepare
    from labreport.sweep import engine as engine_module

    engine = engine_module.start(options.address, options.cpus_per_run,
                                 _object_store_bytes(pending, corpus, options), options.dashboard, progress)
    progress(f"sweep: on {engine.describe()}")
    clock = driver.Clock(len(pending), engine.slots)

    def prepared(spec: RunSpec):
        progress(f"sweep: preparing the data for {spec.id}")
        return driver.shippable(prepare.prepare(corpus, spec.config))

    def task_args(spec: RunSpec, data_ref) -> tuple:
        command = driver.reproducing_command(spec, out, options.quick, options.data, options.data_dir)
        return (spec.config, data_ref, command, options.keep_models, options.cpus_per_run,
                driver.fail_hook(spec, options.environ))

    def done(spec: RunSpec, result, attempts: int) -> None:
        outcome = _write(spec, result, attempts, out, digest, options)
        outcomes[spec.id] = outcome
        progress(clock.line(outcome))

    try:
        driver.Runner(engine, prepared, task_args, done, progress).run(pending)
    finally:
        engine.close()


def _write(spec: RunSpec, result, attempts: int, out: Path, digest: str, options: Options) -> Outcome:
    """The run's outcome, its files written when it finished; a run that cannot be written is failed."""
    if isinstance(result, driver.Failure):
        return Outcome(spec, "failed", reason=result.reason, attempts=attempts)
    command = driver.reproducing_command(spec, out, options.quick, options.data, options.data_dir)
    try:
        checked = driver.write_run(out, spec, driver.run_key(spec, digest), result, command)
    except LabreportError as error:
        return Outcome(spec, "failed", reason=f"its files could not be written: {error}", attempts=attempts)
    return Outcome(spec, "complete", attempts=attempts, seconds=result.get("seconds"), host=result.get("host", ""),
                   record=checked)

"""The commands as library functions: `train`, `render`, `build`, `predict`, `site`.

Each takes a checked configuration (`labreport.core.config.Config`) and small frozen options, does
the work and returns what it made: none reads flags, prints or exits. The front doors only
translate into these calls: the command line (`labreport.cli`) its flags, the Python API
(`labreport.api`) its keyword arguments, as MkDocs' `build_command` parses flags and calls
`build.build(config)`.

The sweep's typed call is `labreport.sweep.command.sweep(SweepRequest(...))`, in its own wing: its
notebook function (`labreport.sweep.api`, the callable `labreport.sweep`) lives in that wing, below
this layer, and calls it, as the command line does; and nothing `labreport.api` imports may reach
Ray (import-linter's "only the sweep imports Ray"), which this module, imported by the API, would.

Each command checks the output folder once before any long work, and reads and checks the record
once: `build` renders the record `train` returns (checked as `results.json` reads it back) and
never reads the file again, and the cover a report was rendered with comes back with its files.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from labreport.core.config import Config, checked_choices
from labreport.report.formats import SITE_FORMATS

Progress = Callable[[str], None]


@dataclass(frozen=True)
class TrainOptions:
    """Where a run's reviews come from, where its files go, and what it says while it trains."""

    out: Path
    """The output folder: results.json, predictions.npz, models/, history/."""
    data: str | None = None
    """The IMDB archive aclImdb_v1.tar.gz or its aclImdb/ folder; None: tensorflow-datasets' imdb_reviews."""
    quick: bool = False
    """The IMDB sample shipped with labreport instead of `data`."""
    data_dir: str | None = None
    """Where tensorflow-datasets keeps imdb_reviews; None: $TFDS_DATA_DIR, else ~/tensorflow_datasets."""
    command: str = "labreport train"
    """The command that reproduces the run, stored in the record."""
    progress: Progress | None = None
    """Called with each progress line; None: one line on stderr (`labreport.experiment.progress.to_stderr`)."""


@dataclass(frozen=True)
class RenderOptions:
    """What a render writes: build it with `RenderOptions.checked`, which checks every choice."""

    out: Path
    """The run's folder: the record is read from it and the reports are written into it."""
    languages: tuple[str, ...]
    """Report languages, each with a catalog (built in, or lang/<code>.toml in `templates`)."""
    formats: tuple[str, ...]
    """Report formats among `labreport.report.formats.FORMATS`."""
    templates: str | None = None
    """A folder searched before the built-in templates and catalogs."""
    notes: Mapping[str, str | Path] = field(default_factory=dict)
    """Your own sections' files by language, over `[report] notes` and OUT/notes.<lang>.md."""
    report: Mapping[str, Any] = field(default_factory=dict)
    """`[report]` settings laid over the record's cover (name, student_id, title, ...)."""
    figures: tuple[str, ...] = ("svg",)
    """Formats of the figure files in OUT/figures/ among `labreport.report.files.FIGURE_FILES`."""

    @classmethod
    def checked(cls, out: str | Path, languages: Iterable[str], formats: Iterable[str],
                templates: str | Path | None = None, *, notes: Mapping[str, str | Path] | None = None,
                report: Mapping[str, Any] | None = None, figures: Iterable[str] = ("svg",)) -> RenderOptions:
        """The options, each list checked against its choices (languages, then formats, then figures).

        Raises:
            LabreportError: an unknown language, format or figure format, or an empty list (one line).
        """
        from labreport.report import files as report_files
        from labreport.report import templates as templates_module
        from labreport.report.formats import FORMATS

        return cls(out=Path(out),
                   languages=tuple(checked_choices(languages, tuple(templates_module.languages(templates)), "language")),
                   formats=tuple(checked_choices(formats, FORMATS, "format")),
                   templates=str(templates) if templates is not None else None, notes=dict(notes or {}),
                   report=dict(report or {}),
                   figures=tuple(checked_choices(figures, report_files.FIGURE_FILES, "figure format")))


@dataclass(frozen=True)
class Rendered:
    """What `render` or `build` wrote, and the record the reports were rendered from."""

    files: list[Path]
    """The paths written, as they are in OUT."""
    record: dict
    """The record, its `config.report` the cover the reports carry (as written back to OUT/results.json)."""


@dataclass(frozen=True)
class SiteOptions:
    """A course site: which runs, where it goes, its languages and title."""

    runs: tuple[str, ...]
    """Runs' output folders, folders of runs at any depth, or .zip/.tar.gz archives."""
    out: Path
    """The site's folder, replaced only when the new site is complete."""
    languages: tuple[str, ...]
    """Page languages; the first is index.html."""
    assignment: str | None = None
    """The instructor's labreport.toml, whose settings runs are compared with; None: the class's most common."""
    title: str | None = None
    """The site's title; None: the catalog's."""
    templates: str | None = None
    """A folder searched before the built-in templates and catalogs."""
    formats: tuple[str, ...] = SITE_FORMATS
    """Each run's report formats on the site, among `labreport.report.formats.FORMATS` (`--format`, `--pdf`)."""
    progress: Progress | None = None
    """Called with a line as each run is rendered, with the time left; None: silent."""


def train(config: Config, options: TrainOptions, *, into: Path | None = None) -> dict:
    """Trains every model of `config` and writes the run's files (`labreport train`).

    Args:
        config: the checked configuration.
        options: data, output folder, command and progress.
        into: a staging folder of OUT whose lock the caller (`build`) holds and which it commits;
            None: check OUT, then lock, stage and swap in the new run here.

    Returns:
        The record, as OUT/results.json reads back, checked.
    """
    from labreport.core import fileio
    from labreport.experiment import corpus as corpus_module
    from labreport.experiment import train as train_module

    if into is None:
        fileio.check_writable(options.out)  # before the reviews are read, which can take minutes
    corpus = corpus_module.load_corpus(options.data, options.quick, options.data_dir)
    return train_module.run(config, corpus, options.out, command=options.command, into=into,
                            **({"progress": options.progress} if options.progress else {}))


def render(options: RenderOptions, *, into: Path | None = None, record: dict | None = None) -> Rendered:
    """Renders the record into OUT/report.<lang>.<format> and OUT/figures/ (`labreport render`).

    Everything is rendered in memory first and written only when it all succeeded
    (`labreport.report.files`), so a failure leaves the previous report as it was.

    Args:
        options: the checked options (`RenderOptions.checked`).
        into: a staging folder of OUT whose lock the caller (`build`) holds and which it commits;
            None: lock OUT, read its record, stage the reports and swap them in here.
        record: the record to render, already read and checked (`build`'s from `train`); None:
            read OUT's (inside the lock, so a `train` swapping in a new record cannot lose it).

    Returns:
        The files written and the record they were rendered from.
    """
    from labreport.report import files as report_files

    written, rendered = report_files.render_run(options.out, options.languages, options.formats, options.templates,
                                                dict(options.notes), dict(options.report), options.figures,
                                                into=into, record=record)
    return Rendered(written, rendered)


def build(config: Config, training: TrainOptions, rendering: RenderOptions) -> Rendered:
    """Trains, then renders, in one staging swap (`labreport build`): the new record and its report
    replace the previous run together, or (on any failure) not at all.

    Args:
        config: the checked configuration.
        training: as for `train`; its `out` is the run's folder (and `rendering.out` the same).
        rendering: as for `render`.

    Returns:
        The files written and the record rendered (read once: the one `train` returns).
    """
    from labreport.core import fileio, staging
    from labreport.core import record as record_module
    from labreport.experiment import progress as progress_module
    from labreport.experiment import train as train_module
    from labreport.report import files as report_files

    # The folder and the hand-in names are checked before a long training run, not after it.
    out = fileio.check_writable(training.out)
    report_files.check_file_names(out, {**config.to_dict()["report"], **rendering.report}, rendering.languages)
    with staging.locked(out, training.command):
        stage = staging.begin(out)
        record = train(config, training, into=stage)
        rendered = render(rendering, into=stage, record=record)
        old_reports = [p.name for p in out.iterdir() if report_files.is_report_file(p.name)]
        staging.commit(out, (*train_module.RUN_ENTRIES, "figures", *old_reports))
        shutil.rmtree(out / train_module.PARTIAL, ignore_errors=True)
    # The line `train` ends with, once the swap has put the new record in place.
    (training.progress or progress_module.to_stderr)(f"wrote {out / record_module.RECORD_FILE}")
    return rendered


def predict(out: str | Path, texts: list[str]) -> dict:
    """Each trained model's probability that each of `texts` is positive (`labreport predict`).

    Returns:
        `labreport.experiment.predict.predict_texts`' answer (models, texts, probabilities).
    """
    from labreport.experiment import predict as predict_module
    from labreport.experiment import runtime

    runtime.start()
    return predict_module.predict_texts(out, texts)


def site(options: SiteOptions) -> dict:
    """Checks a class's runs and writes one course site (`labreport site`); returns its summary."""
    from labreport.site import publish

    return publish.build(list(options.runs), options.out, options.assignment, list(options.languages), options.title,
                         options.templates, progress=options.progress, formats=options.formats)


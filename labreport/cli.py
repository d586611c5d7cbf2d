"""Command line: parses arguments and hands each command to its stage.

Heavy modules (TensorFlow, matplotlib, WeasyPrint) are imported inside the command that needs them,
so `labreport --help` answers at once and `labreport render` never loads TensorFlow.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import threading
from pathlib import Path

from labreport.core import LabreportError, __version__
from labreport.core.config import DEFAULT_OUT, SWEEP_OUT, checked_choices, comma_list
from labreport.report.formats import DEFAULT_FORMATS, FORMATS, LANGUAGES, SITE_FORMATS

LANGUAGE_LIST = ",".join(LANGUAGES)
"""The default of every --lang: the built-in catalogs, "ko,en" (`labreport.report.formats`)."""
FORMAT_LIST = ",".join(DEFAULT_FORMATS)
"""The default of every --format: "html,pdf" (`labreport.report.formats`); the word-processor formats on request."""


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per setting of `config.cli_settings()`, its help and default taken from the config itself."""
    from labreport.core.config import cli_settings

    group = parser.add_argument_group("settings (override labreport.toml, which overrides the lab's defaults)")
    group.add_argument("--config", metavar="FILE", help="TOML file (default: ./labreport.toml if present)")
    for setting in cli_settings():
        if setting.kind == "bool":
            group.add_argument(setting.flag, dest=f"no_{setting.name}", action="store_true",
                               help=f"turn off — {setting.help} (default: on)")
        elif setting.kind == "list":
            group.add_argument(setting.flag, dest=setting.name, metavar="LIST",
                               help=f"{setting.help}; comma-separated, among {','.join(setting.spec.choices)} "
                                    f"({','.join(setting.default)})")
        else:
            kind = {"int": int, "float": float}.get(setting.kind, str)
            values = setting.range_text() or (" or ".join(setting.spec.choices) if setting.spec.choices else None)
            group.add_argument(setting.flag, dest=setting.name, type=kind,
                               metavar={"int": "N", "float": "X"}.get(setting.kind, "TEXT"),
                               help=f"{setting.help}" + (f"; {values}" if values else "") + f" ({setting.default})")


def _add_data_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("data")
    group.add_argument("--data", metavar="PATH",
                       help="IMDB archive aclImdb_v1.tar.gz or its aclImdb/ folder (default: tensorflow-datasets imdb_reviews)")
    group.add_argument("--quick", action="store_true",
                       help="train small models on the IMDB sample shipped with labreport (offline, about a minute)")
    group.add_argument("--data-dir", metavar="DIR",
                       help="where tensorflow-datasets keeps imdb_reviews (default: $TFDS_DATA_DIR, else ~/tensorflow_datasets)")


def _add_out(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", metavar="DIR", default=DEFAULT_OUT, help=f"output folder (default: {DEFAULT_OUT}/)")
    _add_verbosity(parser)


def _add_verbosity(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    group.add_argument("-v", "--verbose", action="store_true",
                       help="also print TensorFlow's own messages (or set LABREPORT_TF_LOGS=1)")


def _add_render_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("report")
    group.add_argument("--lang", default=LANGUAGE_LIST, metavar="LIST",
                       help=f"report languages: {', '.join(LANGUAGES)}, or any with a catalog lang/<code>.toml in "
                            f"--templates ({LANGUAGE_LIST})")
    group.add_argument("--format", default=FORMAT_LIST, metavar="LIST", help=f"formats among {','.join(FORMATS)} ({FORMAT_LIST})")
    group.add_argument("--templates", metavar="DIR", help="folder searched before the built-in templates and catalogs")
    group.add_argument("--figures", default="svg", metavar="LIST",
                       help="formats of the figure files in OUT/figures among svg,png (svg; the reports carry their figures inside)")
    group.add_argument("--notes", metavar="[LANG=]FILE", action="append", default=[],
                       help="your own sections (Markdown) for one language; default OUT/notes.<lang>.md "
                            "(see `labreport notes`); repeat for each language")


def build_parser() -> argparse.ArgumentParser:
    # One piece: the whole command line read top to bottom, one block per command, as --help prints it.
    parser = argparse.ArgumentParser(
        prog="labreport",
        description="Run the IMDB BiGRU/BiLSTM lab and write its report in Korean and English (HTML and PDF).",
        epilog="Start with `labreport build --quick` (offline, about a minute), then "
               "`labreport build --data aclImdb_v1.tar.gz` for the full lab.",
    )
    parser.add_argument("--version", action="version", version=f"labreport {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    build = commands.add_parser("build", help="train, then render the report (the whole lab in one command)",
                                description="Train every model, write OUT/results.json, then render the report.")
    _add_out(build)
    _add_data_flags(build)
    _add_config_flags(build)
    _add_render_flags(build)

    train = commands.add_parser("train", help="train the models and write OUT/results.json",
                                description="Train every model of the lab and write the results record OUT/results.json.")
    _add_out(train)
    _add_data_flags(train)
    _add_config_flags(train)

    render = commands.add_parser("render", help="turn OUT/results.json into the report (no training)",
                                 description="Render OUT/results.json into OUT/report.<lang>.html and .pdf, with your "
                                             "notes and the [report] settings of labreport.toml. Never trains.")
    _add_out(render)
    _add_render_flags(render)
    render.add_argument("--config", metavar="FILE", help="TOML file whose [report] section sets the cover and notes "
                                                         "(default: ./labreport.toml if present)")

    notes = commands.add_parser("notes", help="start your own sections: write OUT/notes.<lang>.md with guiding questions",
                                description="Write a starter notes file next to the record: headings for the sections you "
                                            "write yourself, each with questions about this run. Never replaces a file.")
    _add_out(notes)
    notes.add_argument("--lang", default=LANGUAGES[0], metavar="LANG", help=f"language of the notes ({LANGUAGES[0]})")
    notes.add_argument("--templates", metavar="DIR", help="folder searched before the built-in catalogs")

    params = commands.add_parser("params", help="derive every layer's parameter count and check it against Keras",
                                 description="Build the models (untrained), derive each layer's parameter formula, "
                                             "and compare it with Keras' count_params(). Exit status 1 on any mismatch.")
    _add_config_flags(params)
    params.add_argument("--quick", action="store_true", help="use the --quick sizes")
    params.add_argument("--json", action="store_true", help="print the derivation as JSON")
    _add_verbosity(params)

    site = commands.add_parser("site", help="a class's runs as one checked course site (for instructors)",
                               description="Gather runs (output folders, folders of them at any depth, or .zip/.tar.gz "
                                           "archives), check each, and write one site: SITE/index.html, grades.csv, "
                                           "summary.json and every run's reports. Never trains; runs are not modified.")
    site.add_argument("runs", nargs="*", metavar="RUN", help="a run's output folder, a folder of runs, or an archive")
    site.add_argument("--out", metavar="SITE", help="the site's folder (replaced only when the new site is complete)")
    site.add_argument("--assignment", metavar="FILE", help="the instructor's labreport.toml: settings runs are compared with "
                                                           "(default: the class's most common settings)")
    site.add_argument("--lang", default=LANGUAGE_LIST, metavar="LIST",
                      help=f"page languages; the first is index.html ({LANGUAGE_LIST})")
    site.add_argument("--title", metavar="TEXT", help="the site's title")
    site.add_argument("--templates", metavar="DIR", help="folder searched before the built-in templates and catalogs")
    site.add_argument("--init-assignment", metavar="FILE", help="write the lab's own settings to FILE as a starting "
                                                                "--assignment file (never overwrites), then stop")
    site.add_argument("--format", default=",".join(SITE_FORMATS), metavar="LIST",
                      help=f"each run's report formats among {','.join(FORMATS)} ({','.join(SITE_FORMATS)}; "
                           "docx,hwpx need the office extra)")
    site.add_argument("--pdf", action="store_true", help="add pdf to --format: each run's PDF beside its HTML (about 4x the "
                                                         "render time; pages already rendered are reused either way)")

    predict = commands.add_parser("predict", help="classify your own reviews with a finished run's models",
                                  description="Print each trained model's probability that each review is positive.")
    _add_out(predict)
    predict.add_argument("texts", nargs="*", metavar="TEXT", help="review texts")
    predict.add_argument("--file", metavar="FILE", help="a UTF-8 file with one review per line (- reads standard input; at most 1 MB)")
    predict.add_argument("--json", action="store_true", help="print JSON")

    commands.add_parser("schema", help="print the JSON Schema of OUT/results.json (for scripts that read records)",
                        description="Print the JSON Schema (Draft 2020-12) of the results record this labreport writes.")

    sweep = commands.add_parser(
        "sweep", help="a grid of runs (settings × seeds) on Ray, and one report that compares them",
        description="Train a grid of ordinary labreport runs as tasks on Ray (a local instance with this machine's "
                    "cores, or a cluster with --address), each in OUT/runs/<id>/, and write the sweep report "
                    "OUT/sweep.<lang>.html and .pdf, OUT/sweep.json and OUT/sweep.csv. A second call trains only "
                    "the runs that are not complete.")
    sweep.add_argument("--out", metavar="DIR", default=SWEEP_OUT, help=f"the sweep's folder (default: {SWEEP_OUT}/)")
    _add_verbosity(sweep)
    group = sweep.add_argument_group("sweep")
    group.add_argument("--vary", metavar="KEY=V1,V2", action="append", default=[],
                       help="a setting of the grid and its values, e.g. max_length=100,300,800; repeat for more settings")
    group.add_argument("--address", metavar="ADDR",
                       help="a running Ray cluster (default: $RAY_ADDRESS, else a local instance with this machine's cores)")
    group.add_argument("--cpus-per-run", metavar="N", type=int, help="Ray CPUs (and TensorFlow threads) of each run (1)")
    group.add_argument("--keep-models", action="store_true", help="also keep each run's trained models (OUT/runs/<id>/models/)")
    group.add_argument("--dashboard", action="store_true", help="start Ray's dashboard, on 127.0.0.1 (needs ray[default])")
    group.add_argument("--lang", default=LANGUAGE_LIST, metavar="LIST", help=f"report languages ({LANGUAGE_LIST})")
    group.add_argument("--format", default=FORMAT_LIST, metavar="LIST",
                       help=f"report formats among {','.join(FORMATS)} ({FORMAT_LIST})")
    group.add_argument("--templates", metavar="DIR", help="folder searched before the built-in templates and catalogs")
    _add_data_flags(sweep)
    _add_config_flags(sweep)
    return parser


def config_flags(args: argparse.Namespace) -> dict[str, dict]:
    """The settings given on the command line, as {section: {field: value}}."""
    from labreport.core.config import cli_settings
    from labreport.core.settings import EXPERIMENT_SECTIONS

    flags: dict[str, dict] = {section: {} for section in EXPERIMENT_SECTIONS}
    for setting in cli_settings():
        if setting.kind == "bool":
            if getattr(args, f"no_{setting.name}", False):
                flags[setting.section][setting.name] = False
            continue
        value = getattr(args, setting.name, None)
        if value is None:
            continue
        if setting.kind == "list":
            value = comma_list(value)
        flags[setting.section][setting.name] = value
    return flags


def _load_config(args: argparse.Namespace):
    from labreport.core.config import load_config

    return load_config(args.config, config_flags(args), quick=getattr(args, "quick", False))


def _split_list(value: str, allowed: tuple[str, ...], what: str) -> list[str]:
    return checked_choices(comma_list(value), allowed, what)


def _train_options(args: argparse.Namespace):
    from labreport.commands import TrainOptions

    return TrainOptions(out=Path(args.out), data=args.data, quick=args.quick, data_dir=args.data_dir,
                        command="labreport " + shlex.join(args.argv),
                        progress=(lambda message: None) if getattr(args, "quiet", False) else None)


def _render_options(args: argparse.Namespace, report: dict | None = None):
    """The render flags as checked options: languages, formats, figure formats, then the notes files."""
    import dataclasses

    from labreport.commands import RenderOptions
    from labreport.report import files as report_files
    options = RenderOptions.checked(args.out, comma_list(args.lang), comma_list(args.format), args.templates,
                                    figures=comma_list(args.figures), report=report)
    return dataclasses.replace(options, notes=report_files.notes_arguments(args.notes, list(options.languages)))


def command_train(args: argparse.Namespace) -> int:
    config = _load_config(args)
    from labreport import commands
    commands.train(config, _train_options(args))
    return 0


def command_render(args: argparse.Namespace) -> int:
    import dataclasses

    from labreport import commands
    from labreport.core.config import report_settings

    options = _render_options(args)
    rendered = commands.render(dataclasses.replace(options, report=report_settings(args.config)))
    _say_rendered(args, rendered)
    return 0


def _say_rendered(args: argparse.Namespace, rendered) -> None:
    """The files written, and a warning when the cover they carry has no name or student ID."""
    if args.quiet:
        return
    for path in rendered.files:
        print(path)
    cover = rendered.record["config"].get("report", {})
    if not (cover.get("name") and cover.get("student_id")):
        print("labreport: warning: the cover has no name or student ID: set name and student_id under [report] in "
              "labreport.toml and run `labreport render` again", file=sys.stderr)


def command_build(args: argparse.Namespace) -> int:
    """Trains and renders into one staging folder (`labreport.commands.build`)."""
    import dataclasses

    # The report options and the settings are checked before a long training run, not after it.
    rendering = _render_options(args)
    config = _load_config(args)
    from labreport import commands
    from labreport.core.config import report_settings
    rendered = commands.build(config, _train_options(args),
                              dataclasses.replace(rendering, report=report_settings(args.config)))
    _say_rendered(args, rendered)
    return 0


def command_notes(args: argparse.Namespace) -> int:
    from labreport.core import record
    from labreport.report import notes, templates
    catalog = templates.load_catalog(args.lang, args.templates)
    path = notes.write_starter(args.out, args.lang, record.load_record(args.out), catalog)
    print(path)
    print(f"labreport: write your sections in {path}, then run `labreport render --out {args.out}`", file=sys.stderr)
    return 0


def command_params(args: argparse.Namespace) -> int:
    config = _load_config(args)
    from labreport.experiment import runtime
    runtime.start()
    from labreport.experiment import models, params
    derivations = []
    for name in config.model.models:
        model = models.build_model(name, config, sequence_length=config.data.max_length)
        derivations.append(params.derive_model(model, name))
    if args.json:
        keys = ("name", "type", "output_shape", "formula", "formula_with_values", "derived", "keras", "ok")
        print(json.dumps({
            "models": [
                {"name": d["name"], "layers": [{k: row[k] for k in keys} for row in d["layers"]], "total": d["total"]}
                for d in derivations
            ]
        }, ensure_ascii=False, indent=2))
    else:
        print("\n\n".join(params.format_table(d) for d in derivations))
    return 0 if params.all_agree(derivations) else 1


def command_predict(args: argparse.Namespace) -> int:
    from labreport import commands
    from labreport.experiment import predict
    texts = list(args.texts) + (predict.read_review_file(args.file) if args.file else [])
    result = commands.predict(args.out, texts)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        from labreport.experiment.models import DISPLAY_NAMES

        print(predict.format_predictions(result, DISPLAY_NAMES))
    return 0


def command_site(args: argparse.Namespace) -> int:
    from labreport import commands
    if args.init_assignment:
        from labreport.site import assignment
        print(assignment.write_starter(args.init_assignment))
        return 0
    if not args.runs or not args.out:
        raise LabreportError("site needs the runs and --out SITE (or --init-assignment FILE to start an assignment file)")
    from labreport.report import templates
    languages = _split_list(args.lang, tuple(templates.languages(args.templates)), "language")
    asked = set(_split_list(args.format, FORMATS, "format")) | ({"pdf"} if args.pdf else set())
    summary = commands.site(commands.SiteOptions(
        runs=tuple(args.runs), out=Path(args.out), languages=tuple(languages), assignment=args.assignment,
        title=args.title, templates=args.templates, formats=tuple(fmt for fmt in FORMATS if fmt in asked),
        progress=(lambda line: print(f"labreport: {line}", file=sys.stderr)) if sys.stderr.isatty() else None))
    readable = sum(1 for r in summary["runs"] if not r["problem"])
    flagged = sum(1 for r in summary["runs"] if r["flags"])
    print(Path(args.out) / "index.html")
    print(f"labreport: {readable} runs on the site, {flagged} flagged, {len(summary['runs']) - readable} unreadable",
          file=sys.stderr)
    return 0


def command_schema(args: argparse.Namespace) -> int:
    from labreport.core import record
    print(json.dumps(record.schema(), ensure_ascii=False, indent=2))
    return 0


def command_sweep(args: argparse.Namespace) -> int:
    """Checks everything, trains what is not complete, writes the report; 1 when a run failed."""
    from labreport.sweep.command import SweepRequest, parse_vary, sweep

    request = SweepRequest(out=args.out, vary=parse_vary(args.vary) if args.vary else None, vary_origin="--vary",
                           settings=config_flags(args), config=args.config, quick=args.quick, data=args.data,
                           data_dir=args.data_dir, address=args.address, cpus_per_run=args.cpus_per_run,
                           keep_models=args.keep_models, dashboard=args.dashboard, languages=comma_list(args.lang),
                           formats=comma_list(args.format), templates=args.templates, command=tuple(args.argv))
    quiet = args.quiet
    swept = sweep(request, (lambda line: None) if quiet else (lambda line: print(line, file=sys.stderr, flush=True)))
    options, outcomes, failed = swept.options, swept.outcomes, swept.failed
    if not quiet:
        for name in ("sweep.json", *(f"sweep.{lang}.{fmt}" for lang in options.languages for fmt in options.formats)):
            if (options.out / name).is_file():
                print(options.out / name)
    if failed:
        print(f"labreport: {len(failed)} of {len(outcomes)} runs failed; see {options.out / 'sweep.json'} "
              "(run the same command again to retry them)", file=sys.stderr)
        return 1
    return 0


COMMANDS = {"schema": command_schema, "train": command_train, "render": command_render, "build": command_build,
            "params": command_params, "predict": command_predict, "notes": command_notes, "site": command_site,
            "sweep": command_sweep}


def main(argv: list[str] | None = None) -> int:
    if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
        return _main(argv)
    from labreport.core import interrupt

    try:
        with interrupt.signals_stop_cleanly():  # SIGTERM and SIGINT: one KeyboardInterrupt, never lost
            return _main(argv)
    except KeyboardInterrupt:  # after the command returned, before the handlers are restored
        return _interrupted()


def _interrupted() -> int:
    from labreport.core import interrupt

    interrupt.begin_stop()
    print("labreport: interrupted; files already written are complete and were kept", file=sys.stderr)
    return 130


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    # TensorFlow's start-up chatter (CUDA probing, CPU features) is noise for a report tool; -v shows it.
    from labreport.experiment import runtime
    if getattr(args, "verbose", False):
        os.environ[runtime.VERBOSE_ENV] = "1"
    runtime.quiet_environment()
    args.argv = argv  # recorded in the results record as the command that reproduces the run
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return COMMANDS[args.command](args)
    except LabreportError as error:
        print(f"labreport: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return _interrupted()
    except Exception:
        from labreport.core import interrupt

        if interrupt.stopping():  # the interrupt, turned into another error by the library it landed in
            return _interrupted()
        raise


if __name__ == "__main__":
    sys.exit(main())

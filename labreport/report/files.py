"""The report's files: `OUT/report.<lang>.<format>`, the hand-in copies, the figures, written together.

`render_all` renders every language in memory first (`labreport.report.workers`) and writes only
when all succeeded, through the staging folder (`labreport.core.staging`), so a failure leaves the
previous report as it was.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Iterable

from labreport.core import LabreportError, fileio
from labreport.core import record as record_module
from labreport.core.settings import ReportConfig
from labreport.report.formats import FORMATS, LanguageResult
from labreport.report.render import check_options
from labreport.report.workers import render_record
from labreport.report.writer import write_file

INVALID_IN_FILE_NAMES = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')


MAX_FILE_NAME_BYTES = 200
"""The longest hand-in file name, in UTF-8 bytes: common file systems take 255 bytes a name, and the
atomic writer's temporary name adds 14. A longer one (a long Korean name is 3 bytes a syllable) is cut."""


def submission_name(report: dict, lang: str) -> str | None:
    """The file name a class's PDFs are handed in under, or None when the cover lacks ID or name.

    The name is cut to `MAX_FILE_NAME_BYTES` (whole characters), so a long cover never makes a
    file name the file system refuses."""
    if not (report.get("student_id") and report.get("name")):
        return None
    pattern = report.get("submission_name") or "{student_id}_{name}_{lab}"
    values = {"student_id": report["student_id"], "name": report["name"], "lab": report.get("lab") or ReportConfig.lab, "lang": lang}
    base = INVALID_IN_FILE_NAMES.sub("_", pattern.format(**values)).strip(" .")
    suffix = ".pdf" if "{lang}" in pattern else f".{lang}.pdf"
    room = MAX_FILE_NAME_BYTES - len(suffix.encode("utf-8"))
    base = base.encode("utf-8")[:room].decode("utf-8", "ignore").strip(" .")
    return base + suffix


def check_file_names(out: str | Path, report: dict, languages: Iterable[str]) -> None:
    """Stops before any work when a hand-in file name is longer than `out`'s file system takes.

    Raises:
        LabreportError: the name (with the writer's temporary name) exceeds the folder's NAME_MAX.
    """
    try:
        name_max = os.pathconf(out, "PC_NAME_MAX") if os.path.isdir(out) else 255
    except (OSError, ValueError, AttributeError):  # Windows has no pathconf: NTFS takes 255
        name_max = 255
    for lang in languages:
        name = submission_name(report, lang)
        if name and len(name.encode("utf-8")) + 14 > name_max:
            raise LabreportError(f"the hand-in file name {name[:40]}… is {len(name.encode('utf-8')):,} bytes, more than "
                                 f"{out} takes ({name_max - 14}): shorten name or submission_name under [report]")


def notes_arguments(values: list[str], languages: list[str]) -> dict[str, str]:
    """The notes files `--notes ko=FILE` or `--notes FILE` name, by language (from a name like
    notes.ko.md, or the only language rendered).

    Raises:
        LabreportError: a file whose language cannot be told, or one not among `languages`.
    """
    given = {}
    for value in values:
        lang, sep, path = value.partition("=")
        if not sep or "/" in lang or "\\" in lang:
            path = value
            suffixes = Path(path).suffixes
            lang = suffixes[-2].lstrip(".") if len(suffixes) >= 2 and suffixes[-2].lstrip(".") in languages else ""
            if not lang and len(languages) == 1:
                lang = languages[0]
            if not lang:
                raise LabreportError(f"cannot tell the language of --notes {value}: write --notes ko={value}, "
                                     "or name the file like notes.ko.md")
        if lang not in languages:
            raise LabreportError(f"--notes {value} is for {lang!r}, which is not among the languages rendered ({', '.join(languages)})")
        given[lang] = path
    return given


def notes_files(out: Path, languages: list[str], given: dict[str, str | Path] | None,
                configured: dict[str, str] | None = None) -> dict[str, Path]:
    """Each language's notes file: `--notes`, else `[report] notes` of the config `render` reads, else
    `OUT/notes.<lang>.md` if it exists.

    The `notes` a record carries (`config.report.notes`, stored when it was trained) are never read:
    a record is data, and a path in it could name any file of whoever renders it. Only paths the
    user gives now (flag or config file) and the run's own `notes.<lang>.md` are followed.
    """
    from labreport.report import notes as notes_module
    found = {}
    for lang in languages:
        path = (given or {}).get(lang) or (configured or {}).get(lang)
        own = notes_module.notes_path(out, lang)
        if path is None and own.is_symlink():  # the folder's own file only; a file elsewhere is given by name
            raise LabreportError(f"{own} is a link: the notes are read from the output folder itself; "
                                 f"give the file with --notes {lang}=FILE")
        if path is None and own.is_file():
            if own.stat().st_nlink > 1:  # another name, maybe outside OUT: the same file as a link's target
                raise LabreportError(f"{own} has other names (hard links): the notes are read from the output folder "
                                     f"itself; give the file with --notes {lang}=FILE")
            path = own
        if path is not None:
            found[lang] = Path(path)
    return found


FIGURE_FILES = ("svg", "png")


def report_file(lang: str, fmt: str) -> str:
    """The name of a report's file in a run folder (and on the course site): `report.<lang>.<format>`."""
    return f"report.{lang}.{fmt}"


def is_report_file(name: str) -> bool:
    """Whether a file name is one `report_file` gives (any language, HTML or PDF)."""
    parts = name.split(".")
    return len(parts) == 3 and parts[0] == "report" and parts[2] in FORMATS


def render_all(out: str | Path, languages: Iterable[str], formats: Iterable[str],
               user_templates: str | Path | None = None, notes: dict[str, str | Path] | None = None,
               report: dict | None = None, figure_files: Iterable[str] = ("svg",),
               into: Path | None = None) -> list[Path]:
    """Renders `OUT/results.json` into `OUT/report.<lang>.<format>` and `OUT/figures/`; returns the
    paths written (`render_run`, which also returns the record rendered)."""
    return render_run(out, languages, formats, user_templates, notes, report, figure_files, into=into)[0]


def render_run(out: str | Path, languages: Iterable[str], formats: Iterable[str],
               user_templates: str | Path | None = None, notes: dict[str, str | Path] | None = None,
               report: dict | None = None, figure_files: Iterable[str] = ("svg",),
               into: Path | None = None, record: dict | None = None) -> tuple[list[Path], dict]:
    """Renders a run's record into `OUT/report.<lang>.<format>` and `OUT/figures/`: the one path of
    `render_all`, `labreport render` and `labreport build` (`labreport.commands`).

    Everything is rendered in memory first and written only when it all succeeded, so a template
    error leaves the previous report as it was. A missing PDF engine skips the PDF with one line on
    stderr and still writes the HTML. The cover the report was rendered with (`report` over the
    record's) is written back into the record's `config.report`, so the record always states the
    cover of its latest report (a course site renders the same cover from it).

    Args:
        notes: notes files by language, over `report`'s `notes` and `OUT/notes.<lang>.md`.
        report: `[report]` settings that replace the record's cover settings (name, title, ...).
        figure_files: formats of the figure files written to `OUT/figures/` ("svg", "png").
        into: a staging folder holding the new record, which the caller (`build`) locked `OUT` for
            and commits; None: lock `OUT` and replace the reports together (`labreport.core.staging`).
        record: the record to render, already read and checked (`build`'s, from training); None:
            read it from `into`, else from `OUT` inside the lock.

    Returns:
        The paths written (as they are in `OUT`), and the record rendered, its `config.report` the
        cover the reports carry.
    """
    out = Path(out)
    if into is not None:
        return _render_into(out, into, languages, formats, user_templates, notes, report, figure_files, record)
    if not (out / record_module.RECORD_FILE).exists():
        record_module.load_record(out)  # its one line (no record: train first), before a lock makes OUT
    from labreport.core import staging
    # The lock is taken before the record is read: a `train` that swaps in a new record while this
    # renders would otherwise lose it to the old record written back with the cover.
    with staging.locked(out, "labreport render"):
        stage = staging.begin(out)
        if (out / "figures").is_dir() and not (out / "figures").is_symlink():  # other languages' figures stay
            for kept in (out / "figures").iterdir():
                if kept.is_file() and not kept.is_symlink():
                    staging.place(kept, stage / "figures" / kept.name)
        rendered = _render_into(out, stage, languages, formats, user_templates, notes, report, figure_files, record)
        staging.commit(out)
    return rendered


def _render_into(out: Path, into: Path, languages, formats, user_templates, notes, report, figure_files,
                 record: dict | None) -> tuple[list[Path], dict]:
    """Renders `record`, else the record of `into` (a staging folder whose record is `OUT`'s, or
    `build`'s new one), into `into`; returns the paths the files will have in `OUT`, and the record."""
    if record is None:
        record = record_module.load_record(into if (into / record_module.RECORD_FILE).is_file() else out)
    written = render_record_into(out, into, record, languages, formats, user_templates, notes, report, figure_files)
    return written, record


def report_files(result: LanguageResult) -> dict[str, str | bytes]:
    """One language's report files by name (`report.<lang>.<format>`), in the order of `FORMATS`."""
    return {report_file(result.lang, fmt): output.data for fmt, output in result.outputs.items()}


def _write_reports(folder: Path, record: dict, results: list[LanguageResult], stored_cover: dict) -> list[Path]:
    written = []
    skipped_said = set()
    for result in results:
        for name, files in result.figures.items():
            for fmt, data in files.items():
                write_file(folder, f"figures/{name}.{result.lang}.{fmt}", data)
        for name, data in report_files(result).items():
            written.append(write_file(folder, name, data))
        if "pdf" in result.outputs:
            handed_in = submission_name(record["config"]["report"], result.lang)
            if handed_in:
                written.append(write_file(folder, handed_in, result.outputs["pdf"].data))
        for fmt, reason in result.skipped.items():
            if fmt not in skipped_said:
                print(f"labreport: {reason}", file=sys.stderr)
                skipped_said.add(fmt)
    if record["config"].get("report", {}) != stored_cover:  # the cover this report used, for the course site
        fileio.write_json(folder / record_module.RECORD_FILE, record)
    return written


def run_files(out: Path, into: Path, record: dict, stored_cover: dict) -> dict[str, bytes]:
    """The run's record and predictions as the run folder will hold them once this render is written,
    for the PDF to carry: the record's own bytes (or, when the cover changed, the record as
    `_write_reports` writes it back), read from the folder the record came from (`into` when it holds
    a new record, else `OUT`). A file that is absent, a link or over its limit is not carried.
    """
    source = into if (into / record_module.RECORD_FILE).is_file() else out
    files = {}
    for name, limit in ((record_module.RECORD_FILE, record_module.MAX_RECORD_BYTES),
                        (record_module.PREDICTIONS_FILE, record_module.MAX_PREDICTIONS_BYTES)):
        try:
            data = fileio.read_run_file(source, name, limit)
        except LabreportError:
            data = None
        if data is not None:
            files[name] = data
    if record["config"].get("report", {}) != stored_cover:
        files[record_module.RECORD_FILE] = fileio.json_text(record).encode("utf-8")
    return files


def render_record_into(out: Path, into: Path, record: dict, languages: Iterable[str], formats: Iterable[str],
                       user_templates: str | Path | None = None, notes: dict[str, str | Path] | None = None,
                       report: dict | None = None, figure_files: Iterable[str] = ("svg",)) -> list[Path]:
    """`render_all`'s rendering of a record the caller has already read and checked, into the staging
    folder `into` the caller locked `OUT` for and commits (`labreport.commands`, which reads the
    record once a command). `record["config"]["report"]` becomes the cover rendered (`report` over
    the stored one), as written back into `into`'s record.

    Returns:
        The paths the files will have in `OUT`.
    """
    from labreport.report import notes as notes_module
    stored_cover = dict(record["config"].get("report", {}))
    if report:
        record["config"]["report"] = {**stored_cover, **report}
    languages, formats = list(languages), tuple(formats)
    check_options(languages, user_templates)
    check_file_names(out, record["config"]["report"], languages)
    paths = notes_files(out, languages, notes, (report or {}).get("notes"))
    texts = {lang: notes_module.read_notes(path) for lang, path in paths.items()}  # read once: rendered and carried
    own = {lang: notes_module.sections_from_text(text, str(paths[lang]), record, lang) for lang, text in texts.items()}
    carried = None
    if "pdf" in formats:
        # Each language's PDF carries the notes it was rendered from, as notes.<lang>.md whatever the
        # file's own name, so a course site reading the PDF alone has the student's own sections.
        carried = {**run_files(out, into, record, stored_cover),
                   **{notes_module.NOTES_FILE.format(lang=lang): text.encode("utf-8") for lang, text in texts.items()}}
    results = render_record(record, languages, formats, user_templates, own, tuple(figure_files), carried)
    return [out / path.relative_to(into) for path in _write_reports(into, record, results, stored_cover)]

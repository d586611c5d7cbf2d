"""`labreport site`: a class's runs as one checked course site.

From the runs `labreport.site.submissions.find` gathers and `labreport.site.checks` flags, it writes:

- `SITE/index.html` (the first language; Korean by default) and `SITE/index.<lang>.html`: one
  row per run, sortable by any column without a server, the class's results as an experiment,
  and the submissions that could not be read, each with its reason;
- `SITE/runs/<id>/`: each run's reports, rendered by the site itself from the validated record and
  the run's own `notes.<lang>.md` (without TensorFlow); a student's own report files are never
  published, and no path a record names is read. A run whose record and notes are unchanged since
  the last build is copied from the previous site instead of rendered again;
- `SITE/grades.csv` (UTF-8 with BOM, cells that a spreadsheet would run as a formula neutralised)
  and `SITE/summary.json`.

Every page carries a Content-Security-Policy: nothing is fetched, no script runs but the page's own.
A run that cannot be read, checked or rendered is listed with its reason and the rest are
published; only a problem with the whole site (no run to publish, a folder that cannot be written)
stops the command, and then the previous site stays as it was. The new site is built beside `SITE`
and replaces it only when complete; nothing outside `SITE` is written, and no run is modified.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from labreport.core import LabreportError, __version__, fileio, stats
from labreport.report import files as report_files
from labreport.report.formats import DEFAULT_FORMATS, LANGUAGES, LanguageResult
from labreport.report.writer import write_file, write_files
from labreport.site import checks, submissions

DIGEST_FILE = ".labreport-digest"
MAX_REASON_CHARACTERS = 300
"""A run's reason is cut to this length on the page and in the CSV."""


def _slug(text: str) -> str:
    return re.sub(r"[^0-9A-Za-z가-힣_.-]+", "_", text).strip("._")[:60] or "run"


def assign_ids(found: list[submissions.Run]) -> None:
    """Each run's folder name on the site: its student ID when unique, else a name from its source."""
    students = [run.record["config"].get("report", {}).get("student_id", "") if run.record else "" for run in found]
    taken: set[str] = set()
    for run, student in zip(found, students):
        base = _slug(student) if student and students.count(student) == 1 else _slug(Path(run.source.replace(":", "/")).name)
        name, n = base, 2
        while name in taken:
            name, n = f"{base}-{n}", n + 1
        taken.add(name)
        run.id = name


def run_accuracy(entry: dict) -> tuple[float, float | None]:
    """Test accuracy of a model in a run (best checkpoint): the mean over seeds and their sd, or one value."""
    aggregate = entry.get("aggregate", {})
    if aggregate.get("runs", 1) > 1:
        return aggregate["test_accuracy"]["mean"], aggregate["test_accuracy"]["sd"]
    return entry["test"]["accuracy"], None


def class_experiment(found: list[submissions.Run]) -> dict[str, Any]:
    """The class's runs as one experiment: accuracy per model across runs and the paired comparison.

    Runs flagged as edited or as a copy of an earlier run are left out (a copy counts once), so each
    run is one independent measurement.
    """
    counted, seen = [], set()
    for run in found:
        if run.record is None or any(flag.check == "edited" for flag in run.flags):
            continue
        if run.predictions_digest and run.predictions_digest in seen:
            continue
        seen.add(run.predictions_digest)
        counted.append(run)
    names: list[str] = []
    for run in counted:
        names += [name for name in run.record["models"] if name not in names]
    display = {}
    accuracy: dict[str, list[float]] = {}
    for name in names:
        values = [run_accuracy(run.record["models"][name])[0] for run in counted if name in run.record["models"]]
        display[name] = next(run.record["models"][name]["display_name"] for run in counted if name in run.record["models"])
        accuracy[name] = values
    result: dict[str, Any] = {"runs": len(counted), "models": names, "display_names": display,
                              "accuracy": {n: _spread(v) for n, v in accuracy.items()}, "pair": None}
    paired = [n for n in ("gru", "lstm") if n in names] if {"gru", "lstm"} <= set(names) else names[:2]
    if len(paired) == 2:
        a, b = paired
        both = [run for run in counted if a in run.record["models"] and b in run.record["models"]]
        differences = [run_accuracy(run.record["models"][a])[0] - run_accuracy(run.record["models"][b])[0] for run in both]
        if differences:
            result["pair"] = {
                "a": a, "b": b, "runs": len(differences), "differences": differences,
                "difference": _spread(differences),
                "p_value": stats.sign_flip_test(differences),
                "level": stats.SIGNIFICANCE,
                "a_wins": sum(d > 0 for d in differences), "b_wins": sum(d < 0 for d in differences),
                "ties": sum(d == 0 for d in differences),
            }
    return result


def _spread(values: list[float]) -> dict[str, Any]:
    """`stats.spread` (mean, sample sd, values) with the count the page states."""
    return {"n": len(values), **stats.spread(values)}


# ---------------------------------------------------------------------------------------------
# Rows: what the page, the CSV and the summary show of each run


def row(run: submissions.Run, models: list[str]) -> dict[str, Any]:
    """The table's columns for one run (plain data; the page and the CSV format it)."""
    if run.record is None:
        return {"id": run.id, "source": run.source, "problem": run.problem, "detail": run.detail, "flags": []}
    record = run.record
    cover = record["config"].get("report", {})
    ds = record["dataset"]
    result = {
        "id": run.id, "source": run.source, "problem": "",
        "student_id": cover.get("student_id", ""), "name": cover.get("name", ""),
        "models": {}, "data_source": ds["source"],
        "train_reviews": ds["splits"]["train"]["total"] + ds["splits"]["validation"]["total"],
        "test_reviews": ds["splits"]["test"]["total"],
        "wall_seconds": record["environment"].get("wall_seconds"), "machine": record["environment"].get("cpu") or "",
        "gpus": record["environment"].get("gpus") or [],
        "flags": [{"check": flag.check, **flag.details} for flag in run.flags],
    }
    for name in models:
        entry = record["models"].get(name)
        if entry is not None:
            mean, sd = run_accuracy(entry)
            result["models"][name] = {"accuracy": mean, "sd": sd, "best_epoch": entry["best_epoch"],
                                      "seeds": entry.get("aggregate", {}).get("runs", 1)}
    return result


def grades_csv(rows: list[dict], models: list[str], reason, problem) -> bytes:
    """The table as CSV, UTF-8 with a byte-order mark (a Korean spreadsheet then reads the names right)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    header = ["id", "student_id", "name", "source"]
    for name in models:
        header += [f"{name}_test_accuracy", f"{name}_best_epoch"]
    header += ["data_source", "train_reviews", "test_reviews", "wall_seconds", "machine", "checks", "reasons"]
    writer.writerow(header)
    for r in rows:
        cells = [r["id"], r.get("student_id", ""), r.get("name", ""), r["source"]]
        for name in models:
            m = r.get("models", {}).get(name)
            cells += [round(m["accuracy"], 6), m["best_epoch"]] if m else ["", ""]
        if r["problem"]:
            cells += ["", "", "", "", "", "unreadable", problem(r)]
        else:
            cells += [r["data_source"], r["train_reviews"], r["test_reviews"], r["wall_seconds"], r["machine"],
                      ";".join(f["check"] for f in r["flags"]), " | ".join(reason(f) for f in r["flags"])]
        writer.writerow([fileio.safe_cell(cell) for cell in cells])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


# ---------------------------------------------------------------------------------------------
# Building


def assignment_settings(path: str | Path | None) -> dict[str, Any] | None:
    """The instructor's settings from an assignment TOML file (the same format as labreport.toml)."""
    if path is None:
        return None
    from labreport.core.config import load_config, read_toml

    config = load_config(Path(path))
    expected = checks.settings({"config": config.to_dict()})
    given = read_toml(Path(path))
    for key in checks.FREE_SETTINGS:
        section, name = key.split(".")
        if name not in given.get(section, {}):
            expected.pop(key, None)
    return expected


def _one_line(error: BaseException) -> str:
    """An error's message as one line (a run's reason on the page and in the CSV)."""
    text = str(error) if isinstance(error, LabreportError) else f"{type(error).__name__}: {error}"
    text = " ".join(text.split())
    return text[:MAX_REASON_CHARACTERS - 1] + "…" if len(text) > MAX_REASON_CHARACTERS else text


def _run_notes(run: submissions.Run, languages: list[str]) -> dict[str, str]:
    """The run's own notes text per language: `notes.<lang>.md` in the run folder, never a path the record names.

    Raises:
        LabreportError: a notes file that is a link, too large or not UTF-8 (the message names it).
    """
    from labreport.report import notes as notes_module
    texts = {}
    for lang in languages:
        name = notes_module.NOTES_FILE.format(lang=lang)
        data = fileio.read_run_file(run.folder, name, notes_module.MAX_NOTES_BYTES)
        if data is not None:
            texts[lang] = notes_module.decode_notes(data, name)
    return texts


RENDER_CHUNK = 32
"""Runs whose records are held at once while their reports render: a class of any size costs the
memory of this many records (each at most `record.MAX_RECORD_BYTES`), on every core."""


def _publish_reports(runs: list[submissions.Run], out: Path, staging: Path, languages: list[str],
                     user_templates: str | Path | None, progress) -> dict[str, list[str]]:
    """Publishes each run's reports into `staging/runs/<id>/` and returns their file names by run id.

    A student's own report files are never published: what the site serves is what it rendered,
    from the validated record and the run's own notes. A run whose record and notes are unchanged
    since the previous site is copied from there; the others are rendered on every core, a chunk
    of runs at a time. A run that cannot be published (bad notes, a record that fails to render)
    gets its problem and leaves nothing in `staging`; the others go on.
    """
    from labreport.report import workers
    reports: dict[str, list[str]] = {}
    count = {"done": 0}

    def published(_: int = 0) -> None:
        count["done"] += 1
        if progress:
            progress(f"site: {count['done']}/{len(runs)} runs")

    for start in range(0, len(runs), RENDER_CHUNK):
        jobs, waiting = [], []
        for run in runs[start:start + RENDER_CHUNK]:
            target = staging / "runs" / run.id
            try:
                texts = _run_notes(run, languages)
                stamp = _stamp(run, texts, languages)
                previous = out / "runs" / run.id
                if (previous / DIGEST_FILE).is_file() and (previous / DIGEST_FILE).read_text() == stamp:
                    shutil.copytree(previous, target, symlinks=True)
                    reports[run.id] = _report_names(target)
                    published()
                    continue
                job = _render_job(run, texts, languages, user_templates)
            except Exception as error:  # this run's notes or record: list it, publish the rest
                _set_problem(run, "render", error)
                published()
                continue
            jobs.append(job)
            waiting.append((run, target, stamp))
        for (run, target, stamp), results in zip(waiting, workers.render_records(jobs, done=published)):
            try:
                if isinstance(results, BaseException):
                    raise results
                reports[run.id] = _write_reports(target, results, stamp)
            except Exception as error:  # this run only
                _set_problem(run, "render", error)
    return reports


def _stamp(run: submissions.Run, texts: dict[str, str], languages: list[str]) -> str:
    """What decides whether the previous site's copy of a run's reports is still the same: its
    record, its notes, this labreport and the languages."""
    notes_digest = hashlib.sha256(json.dumps(texts, sort_keys=True).encode("utf-8")).hexdigest()[:16]
    return f"{run.digest} {notes_digest} {__version__} {','.join(languages)}"


def _render_job(run: submissions.Run, texts: dict[str, str], languages: list[str],
                user_templates: str | Path | None) -> tuple:
    """What rendering the run's reports takes (a job of `workers.render_records`); its full record
    is read only now, when its reports are to be rendered."""
    from labreport.report import notes as notes_module
    record = submissions.full_record(run)
    own = {lang: notes_module.sections_from_text(text, notes_module.NOTES_FILE.format(lang=lang), record, lang)
           for lang, text in texts.items()}
    return record, languages, DEFAULT_FORMATS, user_templates, own, (), None


def _write_reports(target: Path, results: list[LanguageResult], stamp: str) -> list[str]:
    """Writes one run's rendered reports into `target`; on any failure nothing is left there."""
    try:
        for result in results:
            write_files(target, report_files.report_files(result))
        fileio.write_text(target / DIGEST_FILE, stamp)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return _report_names(target)


def _report_names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if report_files.is_report_file(p.name))


def _set_problem(run: submissions.Run, problem: str, error: BaseException) -> None:
    """Marks a run that was read but cannot be checked or published; it is then listed with its reason."""
    run.problem, run.detail, run.record, run.flags = problem, _one_line(error), None, []


def build(paths: list[str | Path], out: str | Path, assignment: str | Path | None = None,
          languages: list[str] | None = None, title: str | None = None, user_templates: str | Path | None = None,
          progress=None) -> dict[str, Any]:
    """Builds the course site for the runs under `paths` into `out` and returns its summary.

    Raises:
        LabreportError: a run path that does not exist, an assignment file that is not valid, or a
        site folder that cannot be written; nothing is replaced then.
    """
    # One piece: the site's steps in order (find, check, render, write, swap) inside one scratch folder's lifetime.
    from labreport.report import templates
    from labreport.site.index_page import page

    languages = languages or list(LANGUAGES)
    out = Path(out)
    catalogs = {lang: templates.load_catalog(lang, user_templates) for lang in languages}
    expected = assignment_settings(assignment)
    if out.exists() and not out.is_dir():
        raise LabreportError(f"site folder {out} is a file: choose another with --out")
    target = out.resolve()
    for given in paths:  # the site replaces --out whole: it must neither hold nor sit inside a submission
        source = Path(given).resolve()
        if target == source or target in source.parents or source in target.parents:
            raise LabreportError(f"site folder {out} overlaps the submissions {given}: the site replaces its "
                                 "folder whole, so choose an --out outside them")
    fileio.check_writable(out.parent if out.parent != Path("") else Path("."))
    with tempfile.TemporaryDirectory(prefix="labreport-site-") as scratch:
        found = submissions.find(list(paths), Path(scratch))
        for run in found:
            if run.record is not None:
                try:
                    checks.check_run(run)
                except Exception as error:  # a record validation let through: this run only
                    _set_problem(run, "check", error)
        assign_ids(found)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.parent if str(out.parent) else "."))
        try:
            reports = _publish_reports([run for run in found if run.record is not None], out, staging, languages,
                                       user_templates, progress)
            if not any(run.record is not None for run in found):
                first = found[0]
                raise LabreportError(f"no run can be published: {first.source}: "
                                     f"{catalogs[languages[0]].text(f'site.problem.{first.problem}', detail=first.detail)}"
                                     + (f" (and {len(found) - 1} more unreadable)" if len(found) > 1 else "")
                                     + "; the previous site is kept")
            compared = checks.check_class(found, expected)
            experiment = class_experiment(found)
            models = experiment["models"]
            rows = []
            for run in found:
                r = row(run, models)
                if run.record is not None:
                    r["reports"] = reports[run.id]
                rows.append(r)
            summary = {"labreport_version": __version__, "title": title, "compared_with": compared,
                       "experiment": experiment, "runs": rows}
            for i, lang in enumerate(languages):
                name = "index.html" if i == 0 else f"index.{lang}.html"
                write_file(staging, name, page(summary, catalogs[lang], languages, user_templates))
            first = catalogs[languages[0]]
            reason = _reason(first)
            fileio.write_bytes(staging / "grades.csv", grades_csv(rows, models, reason,
                                                               lambda r: first.text(f"site.problem.{r['problem']}", detail=r["detail"])))
            fileio.write_json(staging / "summary.json", summary)
            _replace(staging, out)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return summary


def _reason(catalog):
    from labreport.site.index_page import flag_text

    return lambda flag: str(flag_text(flag, catalog).striptags())


def _replace(staging: Path, out: Path) -> None:
    """Puts the finished site in place of the previous one, which stays whole until this point."""
    staging.chmod(0o777 & ~fileio.current_umask())
    if out.exists():
        # A name of its own (a folder beside SITE called .SITE.old may be anyone's); renaming a
        # folder onto an empty one replaces it.
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        out.rename(old)
        staging.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        staging.rename(out)

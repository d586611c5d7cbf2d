"""`labreport site`: a class's runs as one checked course site.

From the runs `labreport.site.submissions.find` gathers and `labreport.site.checks` flags, it writes:

- `SITE/index.html` (the first language; Korean by default) and `SITE/index.<lang>.html`: one
  row per run, sortable by any column without a server, the class's results as an experiment,
  and the submissions that could not be read, each with its reason;
- `SITE/runs/<id>/`: each run's reports, rendered by the site itself from the validated record and
  the run's own `notes.<lang>.md` (without TensorFlow); a student's own report files are never
  published, and no path a record names is read. HTML by default (`formats.SITE_FORMATS`), and PDF, DOCX
  and HWPX where asked (a format whose library is missing stops the command before any work, in one
  line saying what to install: a site without the files asked for would look complete). A page whose inputs (record, notes, templates, labreport, language, format) are unchanged
  since the last build is taken from the site's own cache, `SITE/.cache/` (`labreport.site.cache`),
  instead of rendered again, so a late submission renders only its own run; a run whose record
  and predictions are unchanged is not read and checked again either (`SITE/.checks/`,
  authenticated with a key of the user's own: `labreport.site.check_cache`);
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
import io
import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from labreport.core import LabreportError, __version__, fileio, stats
from labreport.report import files as report_files
from labreport.report import formats as formats_module
from labreport.report.formats import DEFAULT_FORMATS, LANGUAGES
from labreport.report.writer import write_file
from labreport.site import cache as site_cache
from labreport.site import check_cache, checks, submissions

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
        "own_sections": run.own_sections,
    }
    for name in models:
        entry = record["models"].get(name)
        if entry is not None:
            mean, sd = run_accuracy(entry)
            result["models"][name] = {"accuracy": mean, "sd": sd, "best_epoch": entry["best_epoch"],
                                      "seeds": entry.get("aggregate", {}).get("runs", 1)}
    return result


def grades_csv(rows: list[dict], models: list[str], reason, problem, languages: list[str] = ()) -> bytes:
    """The table as CSV, UTF-8 with a byte-order mark (a Korean spreadsheet then reads the names right)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    header = ["id", "student_id", "name", "source"]
    for name in models:
        header += [f"{name}_test_accuracy", f"{name}_best_epoch"]
    for lang in languages:
        header += [f"own_sections_{lang}", f"own_characters_{lang}"]
    header += ["data_source", "train_reviews", "test_reviews", "wall_seconds", "machine", "checks", "reasons"]
    writer.writerow(header)
    for r in rows:
        cells = [r["id"], r.get("student_id", ""), r.get("name", ""), r["source"]]
        for name in models:
            m = r.get("models", {}).get(name)
            cells += [round(m["accuracy"], 6), m["best_epoch"]] if m else ["", ""]
        for lang in languages:
            own = r.get("own_sections", {}).get(lang)
            cells += [own["sections"], own["characters"]] if own else ["", ""]
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


def site_cover(assignment: str | Path | None) -> tuple[str, str | dict]:
    """The course and lab title the index shows: `[report] course` and `lab_title` of the assignment
    file, else of `./labreport.toml` when there is one (the TA's own), else empty."""
    from labreport.core.config import DEFAULT_CONFIG_FILE, load_config

    path = Path(assignment) if assignment is not None else Path(DEFAULT_CONFIG_FILE)
    if not path.is_file():
        return "", ""
    report = load_config(path).report
    return report.course, report.lab_title


def _one_line(error: BaseException) -> str:
    """An error's message as one line (a run's reason on the page and in the CSV)."""
    text = str(error) if isinstance(error, LabreportError) else f"{type(error).__name__}: {error}"
    text = " ".join(text.split())
    return text[:MAX_REASON_CHARACTERS - 1] + "…" if len(text) > MAX_REASON_CHARACTERS else text


NOTES_COMMENT = re.compile(r"<!--.*?-->", re.S)
NOTES_HEADING = re.compile(r"^#{1,6}\s")


def own_sections(text: str | None) -> dict[str, int]:
    """What a student wrote in one language's notes: top-level sections and the characters of prose
    (headings, the starter's guiding questions in comments and whitespace not counted), so an
    untouched starter file counts as nothing written."""
    if text is None:
        return {"sections": 0, "characters": 0}
    lines = NOTES_COMMENT.sub("", text).splitlines()
    prose = "".join(line for line in lines if not NOTES_HEADING.match(line))
    return {"sections": sum(1 for line in lines if line.startswith("# ")), "characters": len("".join(prose.split()))}


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
                     formats: tuple[str, ...], user_templates: str | Path | None, progress,
                     secret: bytes | None = None) -> dict[str, list[str]]:
    """Publishes each run's reports into `staging/runs/<id>/` and returns their file names by run id.

    A student's own report files are never published: what the site serves is what it rendered,
    from the validated record and the run's own notes. Every page whose inputs are unchanged since
    the previous site is taken from its cache (`labreport.site.cache`); only the missing pages are
    rendered, on every core, a chunk of runs at a time, each rendered run reported with the time
    left. A run that cannot be published (bad notes, a record that fails to render) gets its
    problem and leaves nothing in `staging`; the others go on. `secret` authenticates the cache's
    pages (`check_cache.secret_key()`); without it every page is rendered.
    """
    from labreport.report import templates, workers
    old_cache, new_cache = out / site_cache.FOLDER, staging / site_cache.FOLDER
    renderer = site_cache.renderer_digest(templates.template_folders(user_templates))
    plans = []
    for run in runs:
        try:
            texts = _run_notes(run, languages)
            run.own_sections = {lang: own_sections(texts.get(lang)) for lang in languages}
            keys = {(lang, fmt): site_cache.key(run.record_sha256, site_cache.text_digest(texts.get(lang)), renderer, lang, fmt)
                    for lang in languages for fmt in formats}
            missing = [page for page, key in keys.items() if site_cache.read(old_cache, key, secret) is None]
        except Exception as error:  # this run's notes: list it, publish the rest
            _set_problem(run, "render", error)
            continue
        plans.append((run, texts, keys, missing))
    reports: dict[str, list[str]] = {}
    for run, _, keys, missing in plans:
        if not missing:
            _publish_run(run, staging, keys, {}, old_cache, new_cache, reports, secret)
    to_render = [plan for plan in plans if plan[3]]
    if progress:
        progress(f"site: {len(plans) - len(to_render)} runs unchanged, {len(to_render)} to render")
    clock = {"start": time.perf_counter(), "done": 0}

    def rendered(job: int, chunk: list) -> None:
        clock["done"] += 1
        if progress:
            elapsed = time.perf_counter() - clock["start"]
            left = elapsed / clock["done"] * (len(to_render) - clock["done"])
            progress(f"site: rendered {clock['done']}/{len(to_render)} runs ({chunk[job][0].id}), about {left:.0f} s left")

    for start in range(0, len(to_render), RENDER_CHUNK):
        chunk, jobs = [], []
        for run, texts, keys, missing in to_render[start:start + RENDER_CHUNK]:
            try:
                job = _render_job(run, texts, sorted({lang for lang, _ in missing}, key=languages.index),
                                  tuple(fmt for fmt in formats if any(page[1] == fmt for page in missing)), user_templates)
            except Exception as error:  # this run's notes or record: list it, publish the rest
                _set_problem(run, "render", error)
                continue
            jobs.append(job)
            chunk.append((run, keys))
        outcome = workers.render_records(jobs, done=lambda job, chunk=chunk: rendered(job, chunk))
        for (run, keys), results in zip(chunk, outcome):
            try:
                if isinstance(results, BaseException):
                    raise results
                for result in results:  # a format its exporter could not write after all: this run, with its one line
                    for reason in result.skipped.values():
                        raise LabreportError(reason)
                fresh = {(result.lang, fmt): output.data for result in results for fmt, output in result.outputs.items()}
                _publish_run(run, staging, keys, fresh, old_cache, new_cache, reports, secret)
            except Exception as error:  # this run only
                _set_problem(run, "render", error)
    return reports


def _publish_run(run: submissions.Run, staging: Path, keys: dict, fresh: dict, old_cache: Path, new_cache: Path,
                 reports: dict[str, list[str]], secret: bytes | None) -> None:
    """Writes one run's pages into `staging/runs/<id>/` and the new cache, each page from `fresh`
    (just rendered) or else from the previous cache (validated again as it is read); on any failure
    nothing of the run is left in `staging/runs`."""
    target = staging / "runs" / run.id
    try:
        for (lang, fmt), key in keys.items():
            data = fresh.get((lang, fmt))
            if data is not None:
                path = write_file(target, report_files.report_file(lang, fmt), data)
                site_cache.write(new_cache, key, data, path.stat().st_mtime_ns, secret)
                continue
            entry = site_cache.read(old_cache, key, secret)
            if entry is None:
                raise LabreportError("its cached page changed while the site was being built")
            path = write_file(target, report_files.report_file(lang, fmt), entry.data)
            os.utime(path, ns=(entry.rendered_ns, entry.rendered_ns))  # a reused page keeps the time it was rendered
            site_cache.write(new_cache, key, entry.data, entry.rendered_ns, secret)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    reports[run.id] = _report_names(target)


def _render_job(run: submissions.Run, texts: dict[str, str], languages: list[str], formats: tuple[str, ...],
                user_templates: str | Path | None) -> tuple:
    """What rendering the run's reports takes (a job of `workers.render_records`); its full record
    is read only now, when its reports are to be rendered."""
    from labreport.report import notes as notes_module
    record = submissions.full_record(run)
    own = {lang: notes_module.sections_from_text(text, notes_module.NOTES_FILE.format(lang=lang), record, lang)
           for lang, text in texts.items() if lang in languages}
    return record, languages, formats, user_templates, own, (), None


def _report_names(folder: Path) -> list[str]:
    """The run's report files, Korean first (the languages' order), then by format."""
    from labreport.report.formats import FORMATS
    names = [p.name for p in folder.iterdir() if report_files.is_report_file(p.name)]
    order = {lang: i for i, lang in enumerate(LANGUAGES)}
    return sorted(names, key=lambda name: (order.get(name.split(".")[1], len(order)), name.split(".")[1],
                                           FORMATS.index(name.split(".")[2])))


def _set_problem(run: submissions.Run, problem: str, error: BaseException) -> None:
    """Marks a run that was read but cannot be checked or published; it is then listed with its reason."""
    run.problem, run.detail, run.record, run.flags = problem, _one_line(error), None, []


def build(paths: list[str | Path], out: str | Path, assignment: str | Path | None = None,
          languages: list[str] | None = None, title: str | None = None, user_templates: str | Path | None = None,
          progress=None, formats: tuple[str, ...] = DEFAULT_FORMATS) -> dict[str, Any]:
    """Builds the course site for the runs under `paths` into `out` and returns its summary.

    Args:
        formats: each run's report formats among `FORMATS` (`labreport site` passes `formats.SITE_FORMATS` unless asked).
        progress: called with a line per run rendered, with the time left; None: silent.

    Raises:
        LabreportError: a run path that does not exist, an assignment file that is not valid, a
        format whose library is not installed, or a site folder that cannot be written; nothing is
        replaced then.
    """
    # One piece: the site's steps in order (find, check, render, write, swap) inside one scratch folder's lifetime.
    from labreport.report import templates
    from labreport.site.index_page import page

    languages = languages or list(LANGUAGES)
    out = Path(out)
    try:  # before any work: a TA who asked for DOCX and would get a site without it learns it now
        formats_module.check_available(formats)
    except formats_module.Unavailable as error:
        raise LabreportError(f"{error} (the site was not built; the previous one is kept)") from None
    catalogs = {lang: templates.load_catalog(lang, user_templates) for lang in languages}
    expected = assignment_settings(assignment)
    course, lab_title = site_cover(assignment)
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
        secret = check_cache.secret_key()  # authenticates both caches: the site's folder may be written by others
        checked = check_cache.CheckCache(out, secret)
        found = submissions.find(list(paths), Path(scratch), reuse=checked.reuse)
        for run in found:
            if run.record is not None and not run.checked:
                try:
                    checked.check(run)
                except Exception as error:  # a record validation let through: this run only
                    _set_problem(run, "check", error)
        if progress:
            progress(f"site: checks of {checked.reused} unchanged runs reused, "
                     f"{sum(run.checked for run in found) - checked.reused} runs checked")
        assign_ids(found)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.parent if str(out.parent) else "."))
        try:
            # Across runs before rendering: a run whose pages then fail (notes its student broke on
            # purpose) still counts, so a copy of it is flagged instead of published clean.
            compared = checks.check_class(found, expected)
            reports = _publish_reports([run for run in found if run.record is not None], out, staging, languages,
                                       tuple(formats), user_templates, progress, secret)
            if not any(run.record is not None for run in found):
                first = found[0]
                raise LabreportError(f"no run can be published: {first.source}: "
                                     f"{catalogs[languages[0]].text(f'site.problem.{first.problem}', detail=first.detail)}"
                                     + (f" (and {len(found) - 1} more unreadable)" if len(found) > 1 else "")
                                     + "; the previous site is kept")
            experiment = class_experiment(found)
            models = experiment["models"]
            rows = []
            for run in found:
                r = row(run, models)
                if run.record is not None:
                    r["reports"] = reports[run.id]
                rows.append(r)
            summary = {"labreport_version": __version__, "title": title, "course": course,
                       "lab_title": lab_title, "compared_with": compared,
                       "shared_settings": checks.shared_settings([run.record for run in found if run.record is not None]),
                       "languages": languages, "formats": list(formats), "experiment": experiment, "runs": rows}
            for i, lang in enumerate(languages):
                name = "index.html" if i == 0 else f"index.{lang}.html"
                write_file(staging, name, page(summary, catalogs[lang], languages, user_templates))
            first = catalogs[languages[0]]
            reason = _reason(first)
            fileio.write_bytes(staging / "grades.csv", grades_csv(rows, models, reason,
                                                               lambda r: first.text(f"site.problem.{r['problem']}", detail=r["detail"]),
                                                               languages))
            fileio.write_json(staging / "summary.json", summary)
            checked.write(staging)
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

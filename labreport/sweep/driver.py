"""The sweep's driver: which runs are still to do, their data, their tasks, and their folders.

The driver reads the data once, prepares it once per distinct data setting (the split, vocabulary
and encoding depend on the seed, the validation share, the vocabulary size, the length and the
padding side only) and ships it to the workers through Ray's object store. Each run's files come
back from its task and are written into `OUT/runs/<id>/` whole or not at all (`labreport.staging`),
with the run's key beside them (`.sweep-key`: its settings and the data it trained on), so a later
call skips every run that is complete with the same settings and data. A run that raises, or whose
worker dies, is tried once more, then recorded as failed with its reason while the others go on.
Ctrl-C cancels the outstanding tasks; what is written is complete and stays.

For tests, `LABREPORT_SWEEP_FAIL=<run id>[,<run id>...]` makes those runs raise on their worker
instead of training (both attempts), so a failing run can be produced without a broken setting.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import shlex
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from labreport.core import LabreportError, fileio, staging
from labreport.core import record as record_module
from labreport.core.config import QUICK_OVERRIDES, cli_settings
from labreport.sweep.engine import Failure
from labreport.sweep.grid import RunSpec

RUNS = "runs"
KEY_FILE = ".sweep-key"
LOG_FILE = "train.log"
FAIL_ENV = "LABREPORT_SWEEP_FAIL"
WAIT_SECONDS = 1.0
"""How long the driver waits for a finished run before it looks again (Ctrl-C is answered in between)."""


@dataclass
class Outcome:
    """What became of one run in this call."""

    spec: RunSpec
    status: str
    """"complete" (trained now, or found complete: `reused`) or "failed"."""
    reason: str = ""
    attempts: int = 0
    seconds: float | None = None
    host: str = ""
    reused: bool = False
    record: dict | None = None


def corpus_digest(corpus) -> str:
    """A digest of every review and label, so a run trained on other data is never taken as complete."""
    digest = hashlib.sha256()
    for split in (corpus.train, corpus.test):
        digest.update(split.labels.tobytes())
        for text in split.texts:
            digest.update(text.encode("utf-8", errors="replace") + b"\0")
    return digest.hexdigest()


def run_key(spec: RunSpec, data_digest: str) -> str:
    return hashlib.sha256(f"{spec.config.experiment_hash()} {data_digest}".encode()).hexdigest()[:32]


def run_folder(out: Path, spec: RunSpec) -> Path:
    return out / RUNS / spec.id


def complete_record(out: Path, spec: RunSpec, key: str) -> dict | None:
    """The validated record of the run's folder when it is complete with `key`; None otherwise.

    Only the run's own files are read, never through a link (`labreport.fileio.read_run_file`), and
    the record through `labreport.core.record.parse_record`; a folder that fails any check is simply not
    complete, and is trained again.
    """
    from labreport.core import fileio

    folder = run_folder(out, spec)
    if folder.is_symlink() or not folder.is_dir():
        return None
    try:
        stamp = fileio.read_run_file(folder, KEY_FILE, 200)
        if stamp is None or stamp.decode("ascii", "replace").strip() != key:
            return None
        raw = fileio.read_run_file(folder, record_module.RECORD_FILE, record_module.MAX_RECORD_BYTES)
        if raw is None or fileio.read_run_file(folder, record_module.PREDICTIONS_FILE, record_module.MAX_PREDICTIONS_BYTES) is None:
            return None
        result = record_module.parse_record(raw, f"{RUNS}/{spec.id}/{record_module.RECORD_FILE}")
    except LabreportError:
        return None
    return result if result.get("config_hash") == spec.config.experiment_hash() else None


def reproducing_command(spec: RunSpec, out: Path, quick: bool, data: str | None, data_dir: str | None) -> str:
    """The `labreport train` command that trains the same run on its own."""
    words = ["labreport", "train", "--out", str(out / RUNS / spec.id)]
    words += ["--quick"] if quick else []
    words += ["--data", data] if data else []
    words += ["--data-dir", data_dir] if data_dir else []
    values = spec.config.to_dict()
    for setting in cli_settings():
        default = QUICK_OVERRIDES.get(setting.section, {}).get(setting.name, setting.default) if quick else setting.default
        value = values[setting.section][setting.name]
        if setting.kind == "list":
            value, default = ",".join(value), ",".join(default)
        if value == default:
            continue
        words += [setting.flag] if setting.kind == "bool" else [setting.flag, str(value)]
    return shlex.join(words)


def _safe_relative(name: str) -> bool:
    parts = name.split("/")
    return (parts[0] in ("results.json", "predictions.npz", "history", "models") and "\\" not in name
            and all(part not in ("", ".", "..") and not part.startswith(".") for part in parts))


def write_run(out: Path, spec: RunSpec, key: str, result: dict, command: str) -> dict:
    """Writes a finished task's files into `OUT/runs/<id>/`, replacing what was there whole or not at all.

    The record is checked first (schema, NaN, its settings' hash), so a run is written only when it is
    one `render`, `predict` and `site` can read.

    Returns:
        The run's validated record.

    Raises:
        LabreportError: the returned files are not a valid run (nothing is written then).
    """
    files = result["files"]
    origin = f"{RUNS}/{spec.id}/{record_module.RECORD_FILE}"
    if record_module.RECORD_FILE not in files or not all(_safe_relative(name) for name in files):
        raise LabreportError(f"the worker returned no results record, or files outside a run: {', '.join(sorted(files))[:200]}")
    checked = record_module.parse_record(files[record_module.RECORD_FILE], origin)
    if checked["config_hash"] != spec.config.experiment_hash():
        raise LabreportError(f"{origin} was trained with other settings than the run's")
    folder = run_folder(out, spec)
    if folder.is_symlink():
        folder.unlink()  # a link is never followed: the run's folder is made anew
    with staging.locked(folder, command):
        stage = staging.begin(folder)
        for name, data in files.items():
            fileio.write_bytes(stage / name, data)
        fileio.write_text(stage / LOG_FILE, "\n".join(result.get("log", [])) + "\n")
        fileio.write_text(stage / KEY_FILE, key + "\n")
        old_reports = [p.name for p in folder.glob("report.*")]
        staging.commit(folder, (*files_top(files), "models", "history", "figures", LOG_FILE, KEY_FILE, *old_reports))
    return checked


def files_top(files: dict[str, bytes]) -> list[str]:
    return sorted({name.split("/")[0] for name in files})


def shippable(prepared):
    """The prepared data without the training and validation texts, which training never reads."""
    return dataclasses.replace(prepared, train=dataclasses.replace(prepared.train, texts=[]),
                               validation=dataclasses.replace(prepared.validation, texts=[]))


def prepared_bytes(corpus, config) -> int:
    """An upper estimate of one prepared data set in the object store: the padded int32 splits, the
    lengths and labels, the test texts and the vocabulary."""
    reviews = len(corpus.train) + len(corpus.test)
    texts = sum(len(text.encode("utf-8", "replace")) for text in corpus.test.texts)
    return reviews * (4 * config.data.max_length + 16) + texts + 64 * config.data.vocab_size + (1 << 20)


def returned_bytes(config, keep_models: bool) -> int:
    """An upper estimate of what one run sends back: predictions, record, history (and models)."""
    from labreport.core.config import training_memory_bytes

    models = len(config.model.models)
    weights = training_memory_bytes(config) // 4 if keep_models else 0
    return (8 << 20) + models * weights


class Runner:
    """Runs the pending runs on an engine; `on_done(spec, result or Failure, attempts)` is called once per run."""

    def __init__(self, engine, prepare: Callable[[RunSpec], Any], task_args: Callable[[RunSpec], tuple],
                 on_done: Callable, progress: Callable[[str], None]):
        self.engine, self.prepare, self.task_args, self.on_done, self.say = engine, prepare, task_args, on_done, progress
        self.data: dict[tuple, Any] = {}
        self.users: collections.Counter = collections.Counter()

    def _data_ref(self, spec: RunSpec):
        if spec.data_key not in self.data:
            self.data[spec.data_key] = self.engine.put(self.prepare(spec))
        return self.data[spec.data_key]

    def _release(self, spec: RunSpec) -> None:
        self.users[spec.data_key] -= 1
        if self.users[spec.data_key] <= 0:
            self.data.pop(spec.data_key, None)  # the object store frees it once no task holds it

    def run(self, specs: list[RunSpec]) -> None:
        """Submits at most one run more than the engine runs at once, so the object store holds
        the data of those only; Ray places and starts them."""
        waiting = collections.deque(specs)
        self.users.update(spec.data_key for spec in specs)
        running: dict[Any, tuple[RunSpec, int]] = {}
        try:
            while waiting or running:
                while waiting and len(running) <= self.engine.slots:
                    spec = waiting.popleft()
                    self._submit(spec, 1, running)
                for ref in self.engine.wait(list(running), WAIT_SECONDS) if running else []:
                    spec, attempt = running.pop(ref)
                    self._finished(spec, attempt, self.engine.result(ref), running)
        except KeyboardInterrupt:
            self.engine.cancel(list(running))
            raise

    def _submit(self, spec: RunSpec, attempt: int, running: dict) -> None:
        try:
            ref = self.engine.submit(*self.task_args(spec, self._data_ref(spec)))
        except LabreportError as error:  # the data cannot be prepared for this setting: no task to retry
            self._release(spec)
            self.on_done(spec, Failure(str(error)), 0)
            return
        running[ref] = (spec, attempt)

    def _finished(self, spec: RunSpec, attempt: int, result: Any, running: dict) -> None:
        if isinstance(result, Failure) and attempt == 1:
            self.say(f"sweep: {spec.id} failed ({result.reason}); trying it once more")
            self._submit(spec, 2, running)
            return
        self._release(spec)
        self.on_done(spec, result, attempt)


def fail_hook(spec: RunSpec, environ: dict) -> str | None:
    """The reason a run is made to fail (`LABREPORT_SWEEP_FAIL` lists its id), else None."""
    listed = [item.strip() for item in environ.get(FAIL_ENV, "").split(",") if item.strip()]
    return f"{FAIL_ENV} names this run, so it raises instead of training" if spec.id in listed else None


class Clock:
    """Counts done, failed and running runs and estimates the time left from the runs finished so far."""

    def __init__(self, total: int, slots: int):
        self.total, self.slots, self.done, self.failed, self.started = total, max(1, slots), 0, 0, time.monotonic()

    def line(self, outcome: Outcome) -> str:
        if outcome.status == "complete":
            self.done += 1
        else:
            self.failed += 1
        finished = self.done + self.failed
        left = self.total - finished
        running = min(left, self.slots)
        per_run = (time.monotonic() - self.started) / finished * self.slots
        eta = per_run * left / self.slots
        what = (f"done in {outcome.seconds:,.0f} s" if outcome.status == "complete" and outcome.seconds is not None
                else f"failed: {outcome.reason}")
        return (f"sweep: {outcome.spec.id} {what} — {self.done} done, {self.failed} failed, {running} running, "
                f"{left - running} waiting" + (f", about {_duration(eta)} left" if left else ""))


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"

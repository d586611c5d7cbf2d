"""Train every model of the lab and write the results record (`OUT/results.json`).

This module keeps the training loop (`fit`) and one model's run (`train_model`); batching,
inference, preparation and resuming live in their own modules (`batches`, `inference`, `prepare`,
`resume`).

The steps, in order: read the corpus, shuffle the training split and hold out its tail for
validation, learn the vocabulary from the training reviews only, encode and pad every split, then
for each model: build, capture the summary and parameter derivation, fit with early stopping, keep
the best epoch's weights, evaluate both the best and the last weights on the test split in one pass
each, save the best checkpoint. With `seeds` > 1 every model trains once per seed on the same
split, and the record keeps each run and their mean and spread. Everything the report needs goes
into one record.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import math
import os
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from labreport.core import LabreportError, __version__, fileio, record, staging, stats
from labreport.core.config import Config
from labreport.experiment import attributions, batches, encoding, inference, prepare, resume, runtime
from labreport.experiment import corpus as corpus_module
from labreport.experiment import progress as progress_module
from labreport.experiment.progress import Progress

RUN_FIELDS = ("seed", "history", "epoch_seconds", "epochs_run", "best_epoch", "test", "test_last_epoch", "inference")
"""What the record keeps of each training run in `models.<name>.runs` (one per seed)."""

RUN_ENTRIES = (record.RECORD_FILE, record.PREDICTIONS_FILE, "models", "history")
"""What `train` writes into `OUT`, replaced together (`labreport.core.staging`)."""

PARTIAL = ".partial"


def _loop_words(loop: str, build: dict | None) -> str:
    """How the training line names the loop: the compiled loops' target, or plainly that the slower
    loop runs (the reason was said once, when the build was tried)."""
    if loop == "compiled":
        return f" (compiled loop, built for {build['target']})"
    if loop == "fused":
        why = "turned off by train.compiled" if build["reason"] == "disabled" else "the compiled loops are off, see above"
        return f" (the slower loop written as TensorFlow ops: {why})"
    return ""


def _make_callbacks(keras, name: str, config: Config, progress: Progress):
    class EpochLog(keras.callbacks.Callback):
        """Times each epoch, keeps the best weights (lab: val_accuracy, max) and prints progress."""

        def __init__(self):
            super().__init__()
            self.seconds: list[float] = []
            self.best_value = -math.inf
            self.best_epoch = 0
            self.best_weights = None
            self.before_print = lambda: None  # the progress bar clears its line here

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self._start)
            logs = logs or {}
            value = float(logs["val_accuracy"])
            marker = ""
            if value > self.best_value:
                self.best_value, self.best_epoch = value, epoch + 1
                self.best_weights = [w.copy() for w in self.model.get_weights()]
                marker = "  (best val_accuracy so far)"
            self.before_print()
            progress(
                f"  {name} epoch {epoch + 1}/{config.train.epochs}: loss {logs['loss']:.4f}, "
                f"accuracy {logs['accuracy']:.4f}, val_loss {logs['val_loss']:.4f}, "
                f"val_accuracy {value:.4f}, {self.seconds[-1]:.1f} s{marker}"
            )

    log = EpochLog()
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=config.train.patience)
    return log, stop


def fit(model, batches: Callable[[int], Iterable[tuple[np.ndarray, np.ndarray]]],
        validation: list[tuple[np.ndarray, np.ndarray]], epochs: int, callbacks: list,
        on_batch: Callable[[int, int, dict], None] | None = None) -> dict[str, list[float]]:
    """Keras' `fit` loop, with every batch handed to the compiled train step from Python.

    `model.fit` pulls its batches through a tf.data iterator inside the compiled step. On the CPU,
    that step then runs the two directions of a bidirectional layer one after the other, instead of
    side by side, for whole epochs at a time (about 1.7 times slower; measured in
    benchmarks/RESULTS.md). `train_on_batch` and `test_on_batch` run the same train and test steps
    on tensors and keep the directions in parallel. As in `fit`, an epoch's loss and accuracy are
    the means over its reviews (batches weighted by their size), validation runs after each epoch,
    and the callbacks see the same logs and may stop training.

    Args:
        model: a compiled Keras model.
        batches: epoch number (from 0) → that epoch's (x, y) batches.
        validation: the (x, y) batches to validate on after every epoch.
        epochs: the most epochs to run.
        callbacks: Keras callbacks (`on_train_*` and `on_epoch_*` hooks are called).
        on_batch: called after every training batch with (epoch, batches done, running means).

    Returns:
        {"loss", "accuracy", "val_loss", "val_accuracy"}: one value per epoch run.
    """
    import keras

    def means(step, pairs, report=None) -> dict[str, float]:
        totals, count = {}, 0
        for done, (x, y) in enumerate(pairs, 1):
            logs = step(x, y, return_dict=True)
            for key in ("loss", "accuracy"):
                totals[key] = totals.get(key, 0.0) + float(logs[key]) * len(y)
            count += len(y)
            if report:
                report(done, {key: total / count for key, total in totals.items()})
        return {key: total / count for key, total in totals.items()}

    hooks = keras.callbacks.CallbackList(callbacks, model=model)
    history: dict[str, list[float]] = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": []}
    model.stop_training = False
    hooks.on_train_begin()
    for epoch in range(epochs):
        hooks.on_epoch_begin(epoch)
        report = (lambda done, running, epoch=epoch: on_batch(epoch, done, running)) if on_batch else None
        logs = means(model.train_on_batch, batches(epoch), report)
        logs.update({f"val_{key}": value for key, value in means(model.test_on_batch, validation).items()})
        for key, value in logs.items():
            history[key].append(value)
        hooks.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    hooks.on_train_end()
    return history


def _save_model(model, path: Path) -> None:
    """Saves in the native `.keras` format, atomically (temporary file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".keras", dir=path.parent)
    os.close(fd)
    try:
        model.save(tmp)
        os.chmod(tmp, 0o666 & ~fileio.current_umask())
        os.replace(tmp, path)
    except BaseException as error:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise LabreportError(f"cannot write {path}: {error.strerror or error}") from error
        raise


def train_model(name: str, prepared: prepare.Prepared, config: Config, work: Path, samples: list[int],
                progress: Progress = progress_module.to_stderr, seed: int | None = None,
                primary: bool = True) -> tuple[dict, dict[str, np.ndarray]]:
    """Trains one model, saves its best checkpoint as `work/<name>.keras`, returns its results.

    `seed` (default: the configured one) seeds the weights, dropout and batch order; the data split
    and vocabulary stay those of `prepared`. A run that is not `primary` (a further seed) is
    evaluated the same way but neither saved nor given the gradient-flow measurement.

    Returns:
        (entry, predictions): the `models.<name>` entry of the record, and {"<name>": best
        checkpoint probabilities, "<name>_last": last-epoch probabilities} over the test split.
    """
    # One piece: one model's run in the order it happens (build, fit, restore, evaluate, summarise); each step uses the previous one's locals.
    import keras

    from labreport.experiment import models, params
    if seed is not None and seed != config.train.seed:
        config = dataclasses.replace(config, train=dataclasses.replace(config.train, seed=seed))

    keras.utils.set_random_seed(config.train.seed)
    # The fixed-length twin exists only to show the lab's summary, `(None, 300, 128)`; it has the
    # same layers and counts as the model that trains, which accepts batches of any length.
    shown = models.build_model(name, config, sequence_length=config.data.max_length)
    summary_text, summary_rows = models.summary_text(shown), models.summary_rows(shown)
    derivation = params.derive_model(shown, name)
    total_params = int(shown.count_params())
    del shown

    device = runtime.training_device()
    loop = models.recurrent_loop(name, config, device, progress)
    keras.utils.set_random_seed(config.train.seed)
    model = models.build_model(name, config, sequence_length=None, loop=loop)

    validation = prepared.validation
    val_batches = [(x, validation.y[idx].astype(np.float32))
                   for idx, x in batches.evaluation_batches(validation.x, validation.lengths, config)]

    log, stop = _make_callbacks(keras, name, config, progress)
    progress(f"training {models.DISPLAY_NAMES[name]} ({total_params:,} parameters, seed {config.train.seed}) on "
             f"{len(prepared.train.y):,} reviews, validating on {len(prepared.validation.y):,}, on the {device}"
             + _loop_words(loop, models.loop_build(config, loop)))
    bar = progress_module.progress_bar(models.DISPLAY_NAMES[name], config, math.ceil(len(prepared.train.y) / config.train.batch_size),
                       progress)
    if bar is not None:
        log.before_print = bar.close
    try:
        history = fit(model, lambda epoch: batches.training_batches(prepared.train, config, epoch), val_batches,
                      epochs=config.train.epochs, callbacks=[log, stop], on_batch=bar)
    finally:
        if bar is not None:
            bar.close()
    hist = {key: [round(float(v), 6) for v in history[key]]
            for key in ("loss", "accuracy", "val_loss", "val_accuracy")}
    epochs_run = len(hist["loss"])

    infer = inference.inference_function(model)
    progress(f"  evaluating {models.DISPLAY_NAMES[name]} on {len(prepared.test.y):,} test reviews")
    start = time.perf_counter()
    test_split = prepared.test
    last_probabilities = inference.predict(infer, test_split.x, test_split.lengths, config)
    inference_seconds = time.perf_counter() - start
    if log.best_epoch != epochs_run:
        model.set_weights(log.best_weights)
        best_probabilities = inference.predict(infer, test_split.x, test_split.lengths, config)
    else:
        best_probabilities = last_probabilities
    if primary:
        progress("  measuring the gradient flow and saving the best checkpoint")
    gradients = inference.gradient_flow(model, test_split, config) if primary else None
    model_file = Path("models") / f"{name}.keras"  # where `run` moves it once every model is done
    if primary:
        _save_model(models.plain_twin(model, name, config) if loop != "keras" else model, work / f"{name}.keras")

    test = {"weights": "best_checkpoint", "epoch": log.best_epoch,
            **stats.metrics(prepared.test.y, best_probabilities)}
    test_last = {"weights": "last_epoch", "epoch": epochs_run,
                 **stats.metrics(prepared.test.y, last_probabilities)}
    progress(f"  {name} (seed {config.train.seed}) test accuracy {test['accuracy']:.4f} "
             f"(best epoch {log.best_epoch}), last epoch {test_last['accuracy']:.4f}")
    entry = {
        "name": name,
        "seed": config.train.seed,
        "display_name": models.DISPLAY_NAMES[name],
        "cell": models.CELL_CLASSES[name],
        "device": device,
        "recurrent_loop": loop,
        "loop_build": models.loop_build(config, loop),
        "summary_text": summary_text,
        "summary_rows": summary_rows,
        "total_params": total_params,
        "params": derivation,
        "history": hist,
        "epoch_seconds": [round(s, 3) for s in log.seconds],
        "epochs_run": epochs_run,
        "stopped_early": epochs_run < config.train.epochs,
        "best_epoch": log.best_epoch,
        "best_criterion": {"monitor": "val_accuracy", "mode": "max", "value": round(log.best_value, 6)},
        "early_stopping": {"monitor": "val_loss", "patience": config.train.patience},
        "test": test,
        "test_last_epoch": test_last,
        "inference": {"seconds": round(inference_seconds, 3),
                      "reviews_per_second": round(len(prepared.test.y) / inference_seconds, 1)},
        "gradient_flow": gradients,
        "samples": [
            {
                "index": i,
                "text": encoding.clean(prepared.test.texts[i]).strip(),
                "label": int(prepared.test.y[i]),
                "probability": round(float(best_probabilities[i]), 6),
                "decision": int(best_probabilities[i] > stats.DECISION_THRESHOLD),
            }
            for i in samples
        ],
        "model_file": model_file.as_posix(),
    }
    keras.backend.clear_session()
    return entry, {name: best_probabilities, f"{name}_last": last_probabilities}


# ---------------------------------------------------------------------------------------------
# The whole run


def run(config: Config, corpus: corpus_module.Corpus, out: str | Path, progress: Progress = progress_module.to_stderr,
        command: str | None = None, into: Path | None = None, prepared: prepare.Prepared | None = None) -> dict:
    """Trains every configured model and writes `OUT/results.json`, `OUT/predictions.npz`, models.

    Each finished model is kept in `OUT/.partial/<key>/` (key: settings, library versions and data),
    so a run interrupted after one model continues with the next; a changed setting or data set
    has another key and never reuses a stale result. The new files are written into a staging
    folder and replace the previous record, predictions, models and history together when all are
    there (`labreport.core.staging`): a failure at any step leaves the previous run as it was. `OUT` is
    locked for the run, so a second command on it stops at once.

    Args:
        into: a staging folder the caller (`build`) holds `OUT`'s lock for and commits itself, with
            the report rendered into it too; None: lock `OUT`, stage and swap here.
        prepared: `corpus` already split, encoded and described for `config` (`prepare.prepare`), as a
            sweep's driver prepares it once and ships it to its workers (`labreport.sweep`); None:
            prepare it here.

    Returns:
        The record, as written.
    """
    # One piece: the run's steps in order, between the lock and the staging folder's commit; each uses what the last produced.
    out = Path(out)  # checked where it is locked: here (`staging.locked`), or by the caller that passes `into`
    command = command or "labreport " + shlex.join(sys.argv[1:])
    if into is None:
        with staging.locked(out, command):
            result = run(config, corpus, out, progress, command, into=staging.begin(out), prepared=prepared)
            staging.commit(out, RUN_ENTRIES)
            shutil.rmtree(out / PARTIAL, ignore_errors=True)
        progress(f"wrote {out / record.RECORD_FILE}")
        return result
    started = time.perf_counter()
    started_at = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()

    device = runtime.start()
    import tensorflow as tf

    threads = inference.configure_threads()
    tf.config.experimental.enable_op_determinism()
    if prepared is None:
        progress(f"training on the {device} (TensorFlow {tf.__version__}); preparing {len(corpus.train):,} training "
                 f"and {len(corpus.test):,} test reviews from {corpus.location}")
        prepared = prepare.prepare(corpus, config)
    else:
        progress(f"training on the {device} (TensorFlow {tf.__version__}) on reviews prepared from "
                 f"{prepared.stats['location']}")
    samples = prepare.choose_samples(prepared.test, config.train.seed)
    partial = out / PARTIAL / resume.resume_key(config, corpus)
    if (out / PARTIAL).is_symlink() or partial.is_symlink():  # its files are written, and deleted, through it
        raise LabreportError(f"{out / PARTIAL} (or the folder in it) is a link: labreport keeps an interrupted run's "
                             "models in OUT itself; remove it and run again")
    partial.mkdir(parents=True, exist_ok=True)

    entries: dict[str, dict] = {}
    arrays: dict[str, np.ndarray] = {"labels": prepared.test.y, "lengths": prepared.test.lengths}
    for name in config.model.models:
        runs = []
        for k, seed in enumerate(config.run_seeds()):
            key = name if k == 0 else f"{name}_seed{seed}"
            finished = resume.load_partial(partial, key, with_model=k == 0, config=config,
                                           test_size=len(prepared.test.y), fields=(*RUN_FIELDS, "display_name"))
            if finished is not None:
                entry, probabilities = finished
                progress(f"reusing {entry['display_name']} (seed {seed}), finished by an interrupted run "
                         "with the same settings")
            else:
                entry, probabilities = train_model(name, prepared, config, partial, samples, progress,
                                                   seed=seed, primary=k == 0)
                if k:
                    probabilities = {key: probabilities[name]}
                fileio.write_bytes(partial / f"{key}.npz", resume.npz_bytes(probabilities))
                fileio.write_json(partial / f"{key}.json", entry)
            arrays.update(probabilities)
            runs.append({field: entry[field] for field in RUN_FIELDS})
            if k == 0:
                entries[name] = entry
        entries[name]["runs"] = runs
        entries[name]["aggregate"] = stats.across_seeds(runs)

    best = {name: arrays[name] for name in config.model.models}
    findings = stats.analyse(prepared.test.y, prepared.test.lengths, prepared.test.texts, best, config.train.seed)
    for review in findings["disagreements"]:
        review["text"] = encoding.clean(review["text"]).strip()
    if config.train.attributions:
        for name in config.model.models:
            entries[name]["attributions"] = attributions.explain_model(name, partial / f"{name}.keras", prepared, config,
                                                          findings["disagreements"], samples, progress)
    result = {
        "schema_version": record.SCHEMA_VERSION,
        "labreport_version": __version__,
        "config": config.to_dict(),
        "config_hash": config.experiment_hash(),
        "decision_threshold": stats.DECISION_THRESHOLD,
        "dataset": prepared.stats,
        "models": entries,
        "analysis": findings,
        "predictions_file": record.PREDICTIONS_FILE,
        "environment": runtime.environment(started_at, time.perf_counter() - started,
                                   command, threads),
    }
    # Checked as results.json reads it back (tuples as lists), once: what this returns is what a reader of the
    # file gets, so `build` renders it without reading the file again.
    result = record.validate_record(json.loads(json.dumps(result)))
    # Every model is done: the run's files go into the staging folder; the finished models stay in
    # the partial folder (linked, not moved) until the swap has succeeded.
    for name in config.model.models:
        staging.place(partial / f"{name}.keras", into / "models" / f"{name}.keras")
    fileio.write_json(into / "models" / "vocabulary.json", {
        **prepared.vocabulary.to_json(),
        "max_length": config.data.max_length,
        "padding": config.data.padding,
        "config_hash": config.experiment_hash(),
    })
    fileio.write_bytes(into / record.PREDICTIONS_FILE, resume.npz_bytes(arrays))
    for name, entry in entries.items():
        fileio.write_text(into / "history" / f"{name}.csv", record.history_csv(entry["history"]))
    fileio.write_json(into / record.RECORD_FILE, result)
    return result

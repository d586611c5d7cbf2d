"""Train every model of the lab and write the results record (`OUT/results.json`).

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
import hashlib
import json
import math
import os
import platform
import shlex
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from labreport import LabreportError, __version__, analysis, data, fileio, record
from labreport.config import Config

SAMPLE_COUNT = 4
SAMPLE_MAX_WORDS = 150
SHAPE_STEP = 8
"""Bucketed batches are padded to a multiple of this many tokens, which bounds the distinct shapes."""
EVAL_BATCH = 256
POOL_BATCHES = 32
"""Bucketing sorts reviews by length within pools of this many batches, so batches stay random."""

Progress = Callable[[str], None]

RUN_FIELDS = ("seed", "history", "epoch_seconds", "epochs_run", "best_epoch", "test", "test_last_epoch", "inference")
"""What the record keeps of each training run in `models.<name>.runs` (one per seed)."""


def configure_threads(cores: int | None = None) -> dict:
    """Sets TensorFlow's thread pools for the recurrent layers, before TensorFlow starts its runtime.

    A bidirectional layer runs two independent loops of small matrix products, one per direction.
    Two inter-op threads let the directions run side by side; the products are too small to gain
    from splitting, so each gets `cores // 2` intra-op threads (one on a 2-core machine, where this
    roughly halves a training step against TensorFlow's default; see benchmarks/RESULTS.md).
    Once the runtime has started (an earlier model in this process) the pools cannot change, and
    the ones in use are returned.

    Returns:
        {"intra_op": n, "inter_op": n}, as in use (0 means TensorFlow's own choice).
    """
    import tensorflow as tf

    cores = cores or os.cpu_count() or 1
    try:
        tf.config.threading.set_inter_op_parallelism_threads(2)
        tf.config.threading.set_intra_op_parallelism_threads(max(1, cores // 2))
    except RuntimeError:
        pass  # the runtime is already up; keep its pools
    return {"intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
            "inter_op": tf.config.threading.get_inter_op_parallelism_threads()}


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class Prepared:
    """The encoded splits, the vocabulary, and the dataset section of the record."""

    train: data.Encoded
    validation: data.Encoded
    test: data.Encoded
    vocabulary: data.Vocabulary
    stats: dict


def prepare(corpus: data.Corpus, config: Config) -> Prepared:
    """Splits, learns the vocabulary from the training reviews, encodes and describes the data."""
    train_all = data.shuffle_split(corpus.train, config.train.seed)
    n_val = int(round(len(train_all) * config.train.validation_split))
    n_fit = len(train_all) - n_val
    if n_fit < 1 or n_val < 1:
        raise LabreportError(
            f"{len(train_all)} training reviews cannot be split {1 - config.train.validation_split:.0%}/"
            f"{config.train.validation_split:.0%} into training and validation"
        )
    if n_fit < config.train.batch_size:
        raise LabreportError(
            f"only {n_fit} training reviews after the validation split, fewer than one batch "
            f"(batch_size={config.train.batch_size}); lower --batch-size or give more data"
        )
    fit = data.Split(train_all.texts[:n_fit], train_all.labels[:n_fit])
    val = data.Split(train_all.texts[n_fit:], train_all.labels[n_fit:])

    fit_tokens = (data.tokenize(t) for t in fit.texts)
    vocabulary = data.build_vocabulary(fit_tokens, config.data.vocab_size)
    length, side = config.data.max_length, config.data.padding
    encoded_fit = data.encode_split(fit, vocabulary, length, side)
    encoded_val = data.encode_split(val, vocabulary, length, side)
    encoded_test = data.encode_split(corpus.test, vocabulary, length, side)

    all_train_lengths = np.concatenate([encoded_fit.lengths, encoded_val.lengths])
    stats = {
        "source": corpus.source,
        "location": corpus.location,
        "undecodable_reviews": corpus.undecodable,
        "splits": {
            "train": data.class_counts(encoded_fit.y),
            "validation": data.class_counts(encoded_val.y),
            "test": data.class_counts(encoded_test.y),
        },
        "preprocessing": {
            "max_length": length,
            "padding": side,
            "truncating": side,
            "padding_reason": "keras_default_keeps_review_end" if side == "pre" else "keeps_review_start",
            "line_breaks_removed": True,
            "vocabulary_from": "train",
            "validation": "seeded_shuffle_then_tail",
        },
        "vocabulary": {
            "size": vocabulary.size,
            "distinct_words_in_training": vocabulary.distinct_words,
            "coverage_train": data.coverage(encoded_fit),
            "coverage_test": data.coverage(encoded_test),
            "oov_token": data.OOV_TOKEN,
        },
        "lengths": {
            "train": data.length_statistics(all_train_lengths, length),
            "test": data.length_statistics(encoded_test.lengths, length),
        },
    }
    return Prepared(encoded_fit, encoded_val, encoded_test, vocabulary, stats)


# ---------------------------------------------------------------------------------------------
# Batching


def _width(longest: int, max_length: int, bucketing: bool) -> int:
    if not bucketing:
        return max_length
    return min(max_length, max(SHAPE_STEP, int(math.ceil(longest / SHAPE_STEP)) * SHAPE_STEP))


def _cut(x: np.ndarray, width: int, side: str) -> np.ndarray:
    """The `width` columns that hold a batch's words (padding is on `side`)."""
    return x[:, x.shape[1] - width:] if side == "pre" else x[:, :width]


def training_batches(split: data.Encoded, config: Config, epoch: int):
    """One epoch of (x, y) batches in a seeded order.

    With bucketing, reviews are sorted by length within pools of POOL_BATCHES batches and each batch
    is cut to its longest review; the batch order is then shuffled, so each epoch still mixes
    lengths and classes. Without it, batches are random and full width, as in the lab.
    """
    t = config.train
    rng = np.random.default_rng([t.seed, epoch])
    order = rng.permutation(len(split.y))
    batches = []
    if t.bucketing:
        pool = t.batch_size * POOL_BATCHES
        for start in range(0, len(order), pool):
            chunk = order[start:start + pool]
            chunk = chunk[np.argsort(split.lengths[chunk], kind="stable")]
            batches += [chunk[i:i + t.batch_size] for i in range(0, len(chunk), t.batch_size)]
        batches = [batches[i] for i in rng.permutation(len(batches))]
    else:
        batches = [order[i:i + t.batch_size] for i in range(0, len(order), t.batch_size)]
    for idx in batches:
        width = _width(int(split.lengths[idx].max()), config.data.max_length, t.bucketing)
        yield _cut(split.x[idx], width, config.data.padding), split.y[idx].astype(np.float32)


def evaluation_batches(x: np.ndarray, lengths: np.ndarray, config: Config):
    """Yields (indices, batch) for inference.

    With bucketing, every review is padded to its own length rounded up to SHAPE_STEP, whatever
    else is in the batch, so a review's probability does not depend on its neighbours (and
    `labreport predict` gives exactly the probabilities the record holds).
    """
    widths = np.array([_width(int(n), config.data.max_length, config.train.bucketing) for n in lengths])
    order = np.argsort(widths, kind="stable")
    start = 0
    while start < len(order):
        width = widths[order[start]]
        stop = start
        while stop < len(order) and stop - start < EVAL_BATCH and widths[order[stop]] == width:
            stop += 1
        idx = order[start:stop]
        yield idx, _cut(x[idx], int(width), config.data.padding)
        start = stop


def inference_function(model):
    """The model's forward pass as one tf.function traced once for batches of any shape."""
    import tensorflow as tf

    return tf.function(
        lambda x: model(x, training=False),
        input_signature=[tf.TensorSpec(shape=(None, None), dtype=tf.int32)],
        autograph=False,  # a plain forward pass: nothing for AutoGraph to convert
    )


def predict(infer, x: np.ndarray, lengths: np.ndarray, config: Config) -> np.ndarray:
    """Positive-class probability of every row of `x` (padded reviews with their lengths), in order."""
    out = np.empty(len(x), dtype=np.float32)
    for idx, batch in evaluation_batches(x, lengths, config):
        out[idx] = np.asarray(infer(batch)).reshape(-1)
    return out


GRADIENT_REVIEWS = 64


def gradient_flow(model, split: data.Encoded, config: Config) -> dict:
    """Mean norm of the loss gradient with respect to each time step's embedded input.

    Taken over GRADIENT_REVIEWS test reviews that fill the whole length (no padding), so position
    t is the t-th of the last max_length words. A recurrent layer whose gradients vanish shows
    small values far from where it reads its output: for a bidirectional layer, in the middle.
    """
    import keras
    import tensorflow as tf

    length = config.data.max_length
    order = np.argsort(-split.lengths, kind="stable")[:GRADIENT_REVIEWS]
    x = tf.constant(split.x[order][:, split.x.shape[1] - length:])
    y = tf.constant(split.y[order].astype(np.float32)[:, None])
    embedded = model.get_layer("embedding")(x)
    with tf.GradientTape() as tape:
        tape.watch(embedded)
        h = embedded
        for name in ("bidirectional", "dropout", "dense"):
            h = model.get_layer(name)(h, training=False)
        loss = tf.reduce_mean(keras.losses.binary_crossentropy(y, h))
    norms = tf.reduce_mean(tf.norm(tape.gradient(loss, embedded), axis=-1), axis=0).numpy()
    return {"reviews": int(len(order)), "norms": [float(f"{v:.4g}") for v in norms]}


def choose_samples(test: data.Encoded, seed: int, count: int = SAMPLE_COUNT) -> list[int]:
    """A seeded choice of test reviews short enough to print, half positive and half negative."""
    rng = np.random.default_rng([seed, 7])
    chosen = []
    for label in (1, 0):
        pool = np.flatnonzero((test.y == label) & (test.lengths <= SAMPLE_MAX_WORDS))
        if len(pool) == 0:
            pool = np.flatnonzero(test.y == label)
        take = min(len(pool), (count + 1) // 2 if label == 1 else count // 2)
        chosen += [int(i) for i in rng.choice(pool, size=take, replace=False)]
    return sorted(chosen)


# ---------------------------------------------------------------------------------------------
# One model


def _make_callbacks(keras, name: str, config: Config, progress: Progress):
    class EpochLog(keras.callbacks.Callback):
        """Times each epoch, keeps the best weights (lab: val_accuracy, max) and prints progress."""

        def __init__(self):
            super().__init__()
            self.seconds: list[float] = []
            self.best_value = -math.inf
            self.best_epoch = 0
            self.best_weights = None

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
            progress(
                f"  {name} epoch {epoch + 1}/{config.train.epochs}: loss {logs['loss']:.4f}, "
                f"accuracy {logs['accuracy']:.4f}, val_loss {logs['val_loss']:.4f}, "
                f"val_accuracy {value:.4f}, {self.seconds[-1]:.1f} s{marker}"
            )

    log = EpochLog()
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=config.train.patience)
    return log, stop


def fit(model, batches: Callable[[int], Iterable[tuple[np.ndarray, np.ndarray]]],
        validation: list[tuple[np.ndarray, np.ndarray]], epochs: int, callbacks: list) -> dict[str, list[float]]:
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

    Returns:
        {"loss", "accuracy", "val_loss", "val_accuracy"}: one value per epoch run.
    """
    import keras

    def means(step, pairs) -> dict[str, float]:
        totals, count = {}, 0
        for x, y in pairs:
            logs = step(x, y, return_dict=True)
            for key in ("loss", "accuracy"):
                totals[key] = totals.get(key, 0.0) + float(logs[key]) * len(y)
            count += len(y)
        return {key: total / count for key, total in totals.items()}

    hooks = keras.callbacks.CallbackList(callbacks, model=model)
    history: dict[str, list[float]] = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": []}
    model.stop_training = False
    hooks.on_train_begin()
    for epoch in range(epochs):
        hooks.on_epoch_begin(epoch)
        logs = means(model.train_on_batch, batches(epoch))
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
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def train_model(name: str, prepared: Prepared, config: Config, work: Path, samples: list[int],
                progress: Progress = _stderr, seed: int | None = None,
                primary: bool = True) -> tuple[dict, dict[str, np.ndarray]]:
    """Trains one model, saves its best checkpoint as `work/<name>.keras`, returns its results.

    `seed` (default: the configured one) seeds the weights, dropout and batch order; the data split
    and vocabulary stay those of `prepared`. A run that is not `primary` (a further seed) is
    evaluated the same way but neither saved nor given the gradient-flow measurement.

    Returns:
        (entry, predictions): the `models.<name>` entry of the record, and {"<name>": best
        checkpoint probabilities, "<name>_last": last-epoch probabilities} over the test split.
    """
    import keras

    from labreport import models, params

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

    keras.utils.set_random_seed(config.train.seed)
    model = models.build_model(name, config, sequence_length=None)

    validation = prepared.validation
    val_batches = [(x, validation.y[idx].astype(np.float32))
                   for idx, x in evaluation_batches(validation.x, validation.lengths, config)]

    log, stop = _make_callbacks(keras, name, config, progress)
    progress(f"training {models.DISPLAY_NAMES[name]} ({total_params:,} parameters, seed {config.train.seed}) on "
             f"{len(prepared.train.y):,} reviews, validating on {len(prepared.validation.y):,}")
    history = fit(model, lambda epoch: training_batches(prepared.train, config, epoch), val_batches,
                  epochs=config.train.epochs, callbacks=[log, stop])
    hist = {key: [round(float(v), 6) for v in history[key]]
            for key in ("loss", "accuracy", "val_loss", "val_accuracy")}
    epochs_run = len(hist["loss"])

    infer = inference_function(model)
    start = time.perf_counter()
    test_split = prepared.test
    last_probabilities = predict(infer, test_split.x, test_split.lengths, config)
    inference_seconds = time.perf_counter() - start
    if log.best_epoch != epochs_run:
        model.set_weights(log.best_weights)
        best_probabilities = predict(infer, test_split.x, test_split.lengths, config)
    else:
        best_probabilities = last_probabilities
    gradients = gradient_flow(model, test_split, config) if primary else None
    model_file = Path("models") / f"{name}.keras"  # where `run` moves it once every model is done
    if primary:
        _save_model(model, work / f"{name}.keras")

    test = {"weights": "best_checkpoint", "epoch": log.best_epoch,
            **analysis.metrics(prepared.test.y, best_probabilities)}
    test_last = {"weights": "last_epoch", "epoch": epochs_run,
                 **analysis.metrics(prepared.test.y, last_probabilities)}
    progress(f"  {name} (seed {config.train.seed}) test accuracy {test['accuracy']:.4f} "
             f"(best epoch {log.best_epoch}), last epoch {test_last['accuracy']:.4f}")
    entry = {
        "name": name,
        "seed": config.train.seed,
        "display_name": models.DISPLAY_NAMES[name],
        "cell": models.CELL_CLASSES[name],
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
                "text": data.clean(prepared.test.texts[i]).strip(),
                "label": int(prepared.test.y[i]),
                "probability": round(float(best_probabilities[i]), 6),
                "decision": int(best_probabilities[i] > analysis.DECISION_THRESHOLD),
            }
            for i in samples
        ],
        "model_file": model_file.as_posix(),
    }
    keras.backend.clear_session()
    return entry, {name: best_probabilities, f"{name}_last": last_probabilities}


def explain_model(name: str, path: Path, prepared: Prepared, config: Config, disagreements: list[dict],
                  samples: list[int], progress: Progress) -> dict:
    """Word attributions of one finished model (its best checkpoint) for the reviews the report shows."""
    import keras

    from labreport import attributions, models

    progress(f"explaining {models.DISPLAY_NAMES[name]}'s decisions word by word (integrated gradients)")
    model = keras.models.load_model(path)
    keras.utils.set_random_seed(config.train.seed + 1)
    fresh = models.build_model(name, config, sequence_length=None).get_layer("bidirectional").get_weights()
    texts = [("sample", i, data.clean(prepared.test.texts[i]).strip()) for i in samples]
    texts += [("disagreement", d["index"], d["text"]) for d in disagreements]
    result = attributions.attribute(model, fresh, texts, prepared.test, prepared.vocabulary, config.data.max_length,
                                    config.data.padding,
                                    lambda n: _width(n, config.data.max_length, config.train.bucketing),
                                    config.train.seed)
    keras.backend.clear_session()
    return result


# ---------------------------------------------------------------------------------------------
# The whole run


def environment(started_at: str, wall_seconds: float, command: str, threads: dict) -> dict:
    import keras
    import tensorflow as tf

    try:
        import tensorflow_datasets as tfds

        tfds_version = tfds.__version__
    except Exception:  # tfds is optional for reading a local archive
        tfds_version = None
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "tensorflow_datasets": tfds_version,
        "numpy": np.__version__,
        "labreport": __version__,
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "gpus": [d.name for d in tf.config.list_physical_devices("GPU")],
        "threads": threads,
        "started_at": started_at,
        "wall_seconds": round(wall_seconds, 2),
        "command": command,
    }


def resume_key(config: Config, corpus: data.Corpus) -> str:
    """Identifies a run's inputs: every model-changing setting, the library versions, the data."""
    import keras
    import tensorflow as tf

    digest = hashlib.sha256()
    digest.update(f"{config.experiment_hash()} {tf.__version__} {keras.__version__} {__version__}".encode())
    for split in (corpus.train, corpus.test):
        digest.update(split.labels.tobytes())
        for text in split.texts:
            digest.update(text.encode("utf-8", errors="replace"))
    return digest.hexdigest()[:16]


def _load_partial(folder: Path, name: str, with_model: bool = True) -> tuple[dict, dict[str, np.ndarray]] | None:
    """A run an interrupted `run` finished: its entry, predictions and (if kept) checkpoint, all present."""
    paths = [folder / f"{name}.json", folder / f"{name}.npz"] + ([folder / f"{name}.keras"] if with_model else [])
    if not all(p.is_file() for p in paths):
        return None
    try:
        entry = json.loads(paths[0].read_text(encoding="utf-8"))
        with np.load(paths[1]) as arrays:
            probabilities = {key: arrays[key] for key in arrays.files}
    except (OSError, ValueError):
        return None  # damaged: train it again
    return entry, probabilities


def run(config: Config, corpus: data.Corpus, out: str | Path, progress: Progress = _stderr,
        command: str | None = None) -> dict:
    """Trains every configured model and writes `OUT/results.json`, `OUT/predictions.npz`, models.

    Each finished model is kept in `OUT/.partial/<key>/` (key: settings, library versions and data),
    so a run interrupted after one model continues with the next; a changed setting or data set
    has another key and never reuses a stale result. The previous record, models and report stay
    in place until the new run has finished, then the new files replace them.

    Returns:
        The record, as written.
    """
    out = fileio.check_writable(out)
    started = time.perf_counter()
    started_at = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()

    import tensorflow as tf

    threads = configure_threads()
    tf.config.experimental.enable_op_determinism()
    progress(f"preparing {len(corpus.train):,} training and {len(corpus.test):,} test reviews "
             f"from {corpus.location}")
    prepared = prepare(corpus, config)
    samples = choose_samples(prepared.test, config.train.seed)
    partial = out / ".partial" / resume_key(config, corpus)
    partial.mkdir(parents=True, exist_ok=True)

    entries: dict[str, dict] = {}
    arrays: dict[str, np.ndarray] = {"labels": prepared.test.y, "lengths": prepared.test.lengths}
    for name in config.model.models:
        runs = []
        for k, seed in enumerate(config.run_seeds()):
            key = name if k == 0 else f"{name}_seed{seed}"
            finished = _load_partial(partial, key, with_model=k == 0)
            if finished is not None:
                entry, probabilities = finished
                progress(f"reusing {entry['display_name']} (seed {seed}), finished by an interrupted run "
                         "with the same settings")
            else:
                entry, probabilities = train_model(name, prepared, config, partial, samples, progress,
                                                   seed=seed, primary=k == 0)
                if k:
                    probabilities = {key: probabilities[name]}
                fileio.write_bytes(partial / f"{key}.npz", _npz_bytes(probabilities))
                fileio.write_json(partial / f"{key}.json", entry)
            arrays.update(probabilities)
            runs.append({field: entry[field] for field in RUN_FIELDS})
            if k == 0:
                entries[name] = entry
        entries[name]["runs"] = runs
        entries[name]["aggregate"] = analysis.across_seeds(runs)

    best = {name: arrays[name] for name in config.model.models}
    findings = analysis.analyse(prepared.test.y, prepared.test.lengths, prepared.test.texts, best, config.train.seed)
    for review in findings["disagreements"]:
        review["text"] = data.clean(review["text"]).strip()
    if config.train.attributions:
        for name in config.model.models:
            entries[name]["attributions"] = explain_model(name, partial / f"{name}.keras", prepared, config,
                                                          findings["disagreements"], samples, progress)
    result = {
        "schema_version": record.SCHEMA_VERSION,
        "labreport_version": __version__,
        "config": config.to_dict(),
        "config_hash": config.experiment_hash(),
        "decision_threshold": analysis.DECISION_THRESHOLD,
        "dataset": prepared.stats,
        "models": entries,
        "analysis": findings,
        "predictions_file": record.PREDICTIONS_FILE,
        "environment": environment(started_at, time.perf_counter() - started,
                                   command or "labreport " + shlex.join(sys.argv[1:]), threads),
    }
    record.validate_record(result)
    # Every model is done: put the new files in place, the record last.
    for name in config.model.models:
        (out / "models").mkdir(exist_ok=True)
        os.replace(partial / f"{name}.keras", out / "models" / f"{name}.keras")
    fileio.write_json(out / "models" / "vocabulary.json", {
        **prepared.vocabulary.to_json(),
        "max_length": config.data.max_length,
        "padding": config.data.padding,
        "config_hash": config.experiment_hash(),
    })
    fileio.write_bytes(out / record.PREDICTIONS_FILE, _npz_bytes(arrays))
    fileio.write_json(out / record.RECORD_FILE, result)
    shutil.rmtree(out / ".partial", ignore_errors=True)
    progress(f"wrote {out / record.RECORD_FILE}")
    return result


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    import io

    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()

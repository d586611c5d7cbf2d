"""Resuming an interrupted run: each finished model is kept under `OUT/.partial/<key>/` until the record is written.

The key covers every setting that changes the trained models, the library versions and the data,
so a run with any other setting never picks up a stale model.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np

from labreport.core import LabreportError, __version__, arrays, record
from labreport.core.config import Config
from labreport.experiment import corpus as corpus_module


def resume_key(config: Config, corpus: corpus_module.Corpus) -> str:
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


def load_partial(folder: Path, name: str, with_model: bool = True, config: Config | None = None,
                 test_size: int | None = None, fields: tuple[str, ...] = ()) -> tuple[dict, dict[str, np.ndarray]] | None:
    """A run an interrupted `run` finished: its entry, predictions and (if kept) checkpoint, all present
    and all this run's: the entry an object with `fields`, one probability in [0, 1] per test review
    (`test_size`), and the checkpoint a model of this run's cell and sizes (`config`). A file that is
    damaged, tampered with or from another run returns None: the model is trained again.
    """
    paths = [folder / f"{name}.json", folder / f"{name}.npz"] + ([folder / f"{name}.keras"] if with_model else [])
    if not all(p.is_file() and not p.is_symlink() for p in paths):
        return None
    try:
        entry = json.loads(paths[0].read_text(encoding="utf-8"))
        # Each array's header is checked before any is loaded: a file made to unpack to gigabytes is refused.
        probabilities = arrays.load_npz(paths[1], paths[1].name, test_size, record.MAX_PREDICTIONS_BYTES)
    except (OSError, ValueError, RecursionError, EOFError, KeyError, LabreportError):
        return None  # damaged: train it again
    expected = {name, f"{name}_last"} if with_model else {name}
    if not isinstance(entry, dict) or not all(field in entry for field in fields) or set(probabilities) != expected:
        return None
    for values in probabilities.values():
        if (values.ndim != 1 or not np.issubdtype(values.dtype, np.floating)
                or (test_size is not None and len(values) != test_size)
                or not np.all(np.isfinite(values)) or np.any(values < 0) or np.any(values > 1)):
            return None
    if with_model and config is not None and checkpoint_problem(paths[2], name, config) is not None:
        return None
    return entry, probabilities


def checkpoint_problem(path: Path, cell: str, config: Config) -> str | None:
    """Why the Keras file at `path` is not a model of `cell` with this run's sizes, or None when it is.

    A model swapped in from another run (another cell, vocabulary or embedding) would fail deep in
    TensorFlow when it is used; this says so first."""
    import keras

    problem = keras_file_problem(path, cell, config)
    if problem:
        return problem
    try:
        model = keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as error:  # a damaged or foreign file: Keras raises many kinds
        return f"it cannot be loaded as a Keras model ({type(error).__name__})"
    return model_problem(model, cell, config)


MAX_KERAS_CONFIG_BYTES = 1024 * 1024
"""A `.keras` file's `config.json`: the lab's models write 7 kB."""
KERAS_FILE_SLACK_BYTES = 1024 * 1024
"""Beyond 16 bytes a parameter (weights and Adam's two moments, 12, and room): the HDF5 and zip headers."""


def keras_file_problem(path: Path, cell: str, config: Config) -> str | None:
    """Why the `.keras` file at `path` is not a model of `cell` with this run's sizes, read from its
    `config.json` before Keras builds anything; None when it may be loaded.

    Keras builds a model whole from its config before it reads a weight: a config that claims an
    embedding of 250 million words costs gigabytes and a minute before it fails. Here the file, its
    members and every layer's size are checked against the run's own settings first.
    """
    data, model = config.data, config.model
    gates = 4  # the LSTM's, the most of any cell: an upper bound on the recurrent weights
    parameters = (data.vocab_size * model.embedding_dim
                  + 2 * gates * (model.embedding_dim + model.hidden_units + 2) * model.hidden_units
                  + 2 * model.hidden_units + 1)
    limit = 16 * parameters + KERAS_FILE_SLACK_BYTES
    size = path.stat().st_size
    if size > limit:
        return f"it is {size:,} bytes, more than the {limit:,} a model of the run's sizes takes"
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(member.file_size for member in archive.infolist())
            if unpacked > limit:
                return f"it unpacks to {unpacked:,} bytes, more than the {limit:,} a model of the run's sizes takes"
            info = archive.getinfo("config.json")
            if info.file_size > MAX_KERAS_CONFIG_BYTES:
                return f"its config.json is {info.file_size:,} bytes, more than the {MAX_KERAS_CONFIG_BYTES:,} allowed"
            saved = json.loads(archive.read(info).decode("utf-8"))
    except (OSError, ValueError, KeyError, RecursionError, zipfile.BadZipFile, zipfile.LargeZipFile) as error:
        return f"it cannot be read as a Keras file ({type(error).__name__})"
    name = saved.get("config", {}).get("name") if isinstance(saved, dict) and isinstance(saved.get("config"), dict) else None
    embeddings = [found for found in _dicts(saved) if found.get("class_name") == "Embedding"]
    if len(embeddings) != 1 or not isinstance(embeddings[0].get("config"), dict):
        return "it has no embedding layer" if not embeddings else "it has more than one embedding layer"
    embedding = embeddings[0]["config"]
    found = (name, embedding.get("input_dim"), embedding.get("output_dim"))
    wanted = (cell, data.vocab_size, model.embedding_dim)
    if found != wanted:
        return (f"it is a {str(found[0])[:40]} model with a {_size(found[1])}×{_size(found[2])} embedding, the run's "
                f"{wanted[0]} has {wanted[1]:,}×{wanted[2]}")
    # Every other size a layer is built from: units (the recurrent layers' and the output's 1) and
    # the shapes a layer is built for (time steps, the embedding's width, the two directions' states).
    allowed_units = {model.hidden_units, 1}
    allowed_dims = {None, 1, model.embedding_dim, model.hidden_units, 2 * model.hidden_units, data.max_length}
    for found_dict in _dicts(saved):
        units = found_dict.get("units")
        if units is not None and units not in allowed_units:
            return f"a layer has {_size(units)} units, the run's have {model.hidden_units}"
        for key in ("input_shape", "batch_shape", "shape"):
            shape = found_dict.get(key)
            if isinstance(shape, list) and any(dim not in allowed_dims for dim in shape if not isinstance(dim, list)):
                return f"a layer is built for shape {str(shape)[:60]}, which no model of the run's sizes has"
    return None


def _dicts(value, depth: int = 0):
    """Every dict inside a parsed JSON value (depth-bounded: `json.loads` already bounds nesting)."""
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from _dicts(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            yield from _dicts(item, depth + 1)


def _size(value) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else repr(value)[:40]


def model_problem(model, cell: str, config: Config) -> str | None:
    """Why a loaded Keras `model` is not a model of `cell` with this run's sizes, or None when it is."""
    try:
        embedding = model.get_layer("embedding")
    except ValueError:
        return "it has no embedding layer"
    found = (model.name, embedding.input_dim, embedding.output_dim)
    wanted = (cell, config.data.vocab_size, config.model.embedding_dim)
    if found != wanted:
        return (f"it is a {found[0]} model with a {found[1]:,}×{found[2]} embedding, the run's {wanted[0]} has "
                f"{wanted[1]:,}×{wanted[2]}")
    return None


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()

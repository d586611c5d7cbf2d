"""Resuming an interrupted run: each finished model is kept under `OUT/.partial/<key>/` until the record is written.

The key covers every setting that changes the trained models, the library versions and the data,
so a run with any other setting never picks up a stale model.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np

from labreport.core import __version__
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
        with np.load(paths[1], allow_pickle=False) as arrays:
            probabilities = {key: arrays[key] for key in arrays.files}
    except (OSError, ValueError, RecursionError, EOFError, KeyError):
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

    try:
        model = keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as error:  # a damaged or foreign file: Keras raises many kinds
        return f"it cannot be loaded as a Keras model ({type(error).__name__})"
    return model_problem(model, cell, config)


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

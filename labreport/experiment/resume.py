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


def load_partial(folder: Path, name: str, with_model: bool = True) -> tuple[dict, dict[str, np.ndarray]] | None:
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


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()

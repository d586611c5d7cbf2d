"""Classify new reviews with the models of a finished run.

Uses exactly what the models were trained with: the vocabulary saved in `OUT/models/vocabulary.json`,
the run's settings from `OUT/results.json` (length, padding side, bucketing) and the saved `.keras`
checkpoints, loaded in Keras' safe mode. Reviews are batched, so thousands of lines are fast.
"""

from __future__ import annotations

import json
import sys
import unicodedata
from pathlib import Path

import numpy as np

from labreport.core import LabreportError
from labreport.core import record as record_module
from labreport.core.config import config_from_dict
from labreport.core.stats import DECISION_THRESHOLD
from labreport.experiment import encoding

MAX_REVIEW_BYTES = 1_000_000
"""The most `--file` (or standard input) may hold: 1 MB is some 500 long IMDB reviews, and a review
longer than `max_length` words is truncated anyway."""
MAX_VOCABULARY_BYTES = 64 * 1024 * 1024
"""`models/vocabulary.json`: a 10,000-word vocabulary is about 0.1 MB."""


def run_file(out: Path, relative: str) -> Path:
    """`OUT/<relative>`, refused when it is a link (or inside a linked folder) that leaves the run.

    Where a run's files are is labreport's decision, never the record's: a path the record names
    (`model_file`) is not read, so a record cannot point predict at another run's model.
    """
    path = out / relative
    try:
        inside = path.resolve().is_relative_to(out.resolve())
    except (OSError, RuntimeError) as error:  # a link loop
        raise LabreportError(f"{path} cannot be resolved ({error})") from None
    if not inside:
        raise LabreportError(f"{path} leads outside {out} (a link to {path.resolve()}): predict reads only the run's own files")
    return path


def load_run(out: str | Path):
    """The run's config, vocabulary and model paths; refuses clearly when something is missing."""
    out = Path(out)
    if not (out / record_module.RECORD_FILE).is_file():
        raise LabreportError(f"{out} holds no finished run (no {record_module.RECORD_FILE}): run `labreport train` first")
    rec = record_module.load_record(out)
    vocabulary_file = run_file(out, "models/vocabulary.json")
    # The record's names are checked against the cell registry's (labreport.core.cells) by its schema.
    model_files = {name: run_file(out, f"models/{name}.keras") for name in rec["models"]}
    missing = [str(p) for p in [vocabulary_file, *model_files.values()] if not p.is_file()]
    if missing:
        raise LabreportError(f"{out} holds no trained models ({', '.join(missing)} missing): run `labreport train` again")
    return rec, config_from_dict(rec["config"]), read_vocabulary(vocabulary_file), model_files


def read_vocabulary(path: Path) -> encoding.Vocabulary:
    """The run's vocabulary from `models/vocabulary.json`, checked: a list of distinct words."""
    if path.stat().st_size > MAX_VOCABULARY_BYTES:
        raise LabreportError(f"{path} is {path.stat().st_size:,} bytes (a vocabulary is at most {MAX_VOCABULARY_BYTES:,})")
    try:
        saved = json.loads(path.read_bytes().decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as error:
        raise LabreportError(f"{path} is not valid JSON ({type(error).__name__})") from None
    words = saved.get("words") if isinstance(saved, dict) else None
    if not isinstance(words, list) or not all(isinstance(word, str) for word in words):
        raise LabreportError(f"{path}: words should be a list of strings")
    return encoding.Vocabulary.from_json(saved)


def predict_texts(out: str | Path, texts: list[str]) -> dict:
    """Each model's probability of "positive" for each text.

    Returns:
        {"models": [names], "reviews": [{"text", "predictions": {name: {"probability", "decision"}}}]}
    """
    if not texts:
        raise LabreportError("no review given: pass the text as arguments or --file FILE")
    from labreport.core import staging
    from labreport.experiment.inference import configure_threads, inference_function, predict

    configure_threads()
    import keras

    # The record, vocabulary and models are read under the lock, shared: while a `train` or
    # `render` holds it, predict stops with one line, so it never mixes one run's files with another's.
    with staging.reading(out):
        rec, config, vocabulary, model_files = load_run(out)
        from labreport.experiment.resume import keras_file_problem, model_problem
        for name, path in model_files.items():  # before Keras builds any: a crafted config costs gigabytes
            problem = keras_file_problem(path, name, config)
            if problem:
                raise LabreportError(f"{path} is not this run's {name} model: {problem}; run `labreport train` again")
        models = {name: load_model(keras, path) for name, path in model_files.items()}
        for name, path in model_files.items():
            problem = model_problem(models[name], name, config)
            if problem:
                raise LabreportError(f"{path} is not this run's {name} model: {problem}; run `labreport train` again")
    tokens = [encoding.tokenize(text) for text in texts]
    known = [sum(1 for token in review if token in vocabulary.index) for review in tokens]
    x = encoding.pad([vocabulary.encode(t) for t in tokens], config.data.max_length, config.data.padding)
    lengths = np.array([len(t) for t in tokens], dtype=np.int32)
    probabilities = {name: predict(inference_function(model), x, lengths, config) for name, model in models.items()}
    return {
        "models": list(model_files),
        "reviews": [
            {
                "text": text,
                # With no word of the vocabulary the model reads only padding and unknown-word
                # indices: its probability is the same for every such review and says nothing about
                # it, so it gets no decision (null).
                "known_words": known[i],
                "predictions": {
                    name: {"probability": round(float(p[i]), 6),
                           "decision": _decision(float(p[i])) if known[i] else None}
                    for name, p in probabilities.items()
                },
            }
            for i, text in enumerate(texts)
        ],
    }


def load_model(keras, path: Path):
    """The Keras model saved at `path`, in safe mode."""
    try:
        return keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as error:  # a damaged or foreign file: Keras raises many kinds
        raise LabreportError(f"{path} cannot be loaded as a Keras model ({type(error).__name__}): run `labreport train` again") from None


def _decision(probability: float) -> str:
    return "positive" if probability > DECISION_THRESHOLD else "negative"


def read_review_file(path: str | Path) -> list[str]:
    """One review per line (UTF-8), from a file or, for "-", standard input; blank lines are skipped."""
    name = "standard input" if str(path) == "-" else str(path)
    try:
        if str(path) == "-":
            raw = sys.stdin.buffer.read(MAX_REVIEW_BYTES + 1)
        else:
            with open(path, "rb") as file:
                raw = file.read(MAX_REVIEW_BYTES + 1)
    except FileNotFoundError as error:
        raise LabreportError(f"--file not found: {path}") from error
    except OSError as error:
        raise LabreportError(f"--file {name} cannot be read ({error.strerror})") from error
    if len(raw) > MAX_REVIEW_BYTES:
        raise LabreportError(f"--file {name} holds more than {MAX_REVIEW_BYTES:,} bytes: give at most 1 MB of reviews at a time")
    try:
        lines = raw.decode("utf-8").splitlines()
    except UnicodeDecodeError as error:
        raise LabreportError(f"--file {name} is not UTF-8 text ({error.reason} at byte {error.start})") from error
    return [line for line in lines if line.strip()]


REVIEW_COLUMNS = 60
"""Terminal columns of the review in `format_predictions`' table; a longer review is cut with "..."."""


def display_width(text: str) -> int:
    """Terminal columns `text` takes, as terminals count them (wcwidth): East Asian wide and
    full-width characters (Hangul, CJK, most emoji) two; combining marks, zero-width characters and
    the vowels and final consonants of a decomposed Hangul syllable none; others one."""
    width = 0
    for character in text:
        if unicodedata.category(character) in ("Mn", "Me", "Cf") or "\u1160" <= character <= "\u11ff":
            continue
        width += 2 if unicodedata.east_asian_width(character) in ("W", "F") else 1
    return width


def fit_to_width(text: str, columns: int) -> str:
    """`text` cut to at most `columns` terminal columns (ending in "...") and padded with spaces to exactly that."""
    if display_width(text) > columns:
        kept, width = [], 0
        for character in text:
            width += display_width(character)
            if width > columns - 3:
                break
            kept.append(character)
        text = "".join(kept) + "..."
    return text + " " * (columns - display_width(text))


def format_predictions(result: dict, display_names: dict[str, str]) -> str:
    """A plain-text table: one line per review, each model's probability and decision, in columns
    that line up in a terminal whatever the language (a Korean syllable takes two columns).

    A review with no word of the vocabulary gets its probability and a note, but no decision.
    """
    lines = []
    verdict = max(len("positive"), len("negative"))
    for review in result["reviews"]:
        # One line per review: whitespace collapsed, control characters (a terminal's escape
        # sequences) shown as U+FFFD rather than sent to the terminal.
        text = "".join("\ufffd" if unicodedata.category(c) == "Cc" else c for c in " ".join(review["text"].split()))
        cells = [f"{display_names.get(n, n)} {v['probability']:.3f} {(v['decision'] or ''):<{verdict}}"
                 for n, v in review["predictions"].items()]
        note = "" if review["known_words"] else "  (no word of the vocabulary: the probability says nothing about this review)"
        lines.append(fit_to_width(text, REVIEW_COLUMNS) + "  " + "  ".join(cells) + note)
    return "\n".join(lines)

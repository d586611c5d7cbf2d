"""Classify new reviews with the models of a finished run.

Uses exactly what the models were trained with: the vocabulary saved in `OUT/models/vocabulary.json`,
the run's settings from `OUT/results.json` (length, padding side, bucketing) and the saved `.keras`
checkpoints, loaded in Keras' safe mode. Reviews are batched, so thousands of lines are fast.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from labreport import LabreportError, data, record as record_module
from labreport.analysis import DECISION_THRESHOLD
from labreport.config import config_from_dict


def load_run(out: str | Path):
    """The run's config, vocabulary and model paths; refuses clearly when something is missing."""
    out = Path(out)
    if not (out / record_module.RECORD_FILE).is_file():
        raise LabreportError(f"{out} holds no finished run (no {record_module.RECORD_FILE}): run `labreport train` first")
    rec = record_module.load_record(out)
    vocabulary_file = out / "models" / "vocabulary.json"
    model_files = {name: out / entry["model_file"] for name, entry in rec["models"].items()}
    missing = [str(p) for p in [vocabulary_file, *model_files.values()] if not p.is_file()]
    if missing:
        raise LabreportError(f"{out} holds no trained models ({', '.join(missing)} missing): run `labreport train` again")
    vocabulary = data.Vocabulary.from_json(json.loads(vocabulary_file.read_text(encoding="utf-8")))
    return rec, config_from_dict(rec["config"]), vocabulary, model_files


def predict_texts(out: str | Path, texts: list[str]) -> dict:
    """Each model's probability of "positive" for each text.

    Returns:
        {"models": [names], "reviews": [{"text", "predictions": {name: {"probability", "decision"}}}]}
    """
    if not texts:
        raise LabreportError("no review given: pass the text as arguments or --file FILE")
    rec, config, vocabulary, model_files = load_run(out)

    from labreport.inference import configure_threads, inference_function, predict

    configure_threads()
    import keras

    tokens = [data.tokenize(text) for text in texts]
    x = data.pad([vocabulary.encode(t) for t in tokens], config.data.max_length, config.data.padding)
    lengths = np.array([len(t) for t in tokens], dtype=np.int32)
    probabilities = {}
    for name, path in model_files.items():
        model = keras.saving.load_model(path, safe_mode=True, compile=False)
        probabilities[name] = predict(inference_function(model), x, lengths, config)
    return {
        "models": list(model_files),
        "reviews": [
            {
                "text": text,
                "predictions": {
                    name: {"probability": round(float(p[i]), 6), "decision": "positive" if p[i] > DECISION_THRESHOLD else "negative"}
                    for name, p in probabilities.items()
                },
            }
            for i, text in enumerate(texts)
        ],
    }


def read_review_file(path: str | Path) -> list[str]:
    """One review per line (UTF-8); blank lines are skipped."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as error:
        raise LabreportError(f"--file not found: {path}") from error
    except UnicodeDecodeError as error:
        raise LabreportError(f"--file {path} is not UTF-8 text ({error.reason} at byte {error.start})") from error
    return [line for line in lines if line.strip()]


def format_predictions(result: dict, display_names: dict[str, str]) -> str:
    """A plain-text table: one line per review, each model's probability and decision."""
    lines = []
    for review in result["reviews"]:
        text = " ".join(review["text"].split())
        short = text if len(text) <= 60 else text[:57] + "..."
        cells = [f"{display_names.get(n, n)} {v['probability']:.3f} {v['decision']}"
                 for n, v in review["predictions"].items()]
        lines.append(f"{short:<60}  " + "  ".join(cells))
    return "\n".join(lines)

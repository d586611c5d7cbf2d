"""Reviews to integer sequences: cleaning, tokens, the vocabulary, padding, and the statistics of each split.

Plain Python and NumPy, never TensorFlow: fast to test, and the vocabulary saved beside the models
reproduces it exactly (`labreport predict` encodes new reviews through it).
"""

from __future__ import annotations

import collections
import re
from dataclasses import dataclass, field
from typing import Iterable

import numpy as np

from labreport.experiment.corpus import Split

PAD_INDEX = 0


OOV_INDEX = 1


OOV_TOKEN = "[UNK]"


LINE_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)


# A word: letters or digits, with inner apostrophes kept ("don't"), like Keras' Tokenizer, which
# strips punctuation but not the apostrophe.
WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")


def clean(text: str) -> str:
    """Replaces the HTML line breaks IMDB reviews carry (`<br />`) with spaces."""
    return LINE_BREAK.sub(" ", text)


def tokenize(text: str) -> list[str]:
    """Lower-cased words of a review, line breaks and punctuation removed."""
    return WORD.findall(clean(text).lower())


@dataclass
class Vocabulary:
    """Word → index: 0 is padding, 1 stands for every word outside the vocabulary."""

    words: list[str]
    """Index i + 2 holds words[i]; most frequent first, ties in alphabetical order."""
    distinct_words: int = 0
    """How many different words the reviews it was learned from hold."""
    index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.index = {word: i + 2 for i, word in enumerate(self.words)}

    @property
    def size(self) -> int:
        return len(self.words) + 2

    def encode(self, tokens: list[str]) -> list[int]:
        get = self.index.get
        return [get(token, OOV_INDEX) for token in tokens]

    def to_json(self) -> dict:
        return {"pad_index": PAD_INDEX, "oov_index": OOV_INDEX, "oov_token": OOV_TOKEN, "words": self.words}

    @classmethod
    def from_json(cls, data: dict) -> "Vocabulary":
        return cls(list(data["words"]))


def build_vocabulary(token_lists: Iterable[list[str]], size: int) -> Vocabulary:
    """The `size - 2` most frequent words of the given (training) reviews."""
    counts: collections.Counter[str] = collections.Counter()
    for tokens in token_lists:
        counts.update(tokens)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return Vocabulary([word for word, _ in ranked[: max(size - 2, 0)]], distinct_words=len(counts))


def pad(sequences: list[list[int]], length: int, side: str) -> np.ndarray:
    """Pads with 0 and truncates to `length` on `side` ("pre" keeps a long review's last words)."""
    out = np.zeros((len(sequences), length), dtype=np.int32)
    for row, seq in enumerate(sequences):
        seq = seq[-length:] if side == "pre" else seq[:length]
        if not seq:
            continue
        if side == "pre":
            out[row, length - len(seq):] = seq
        else:
            out[row, : len(seq)] = seq
    return out


@dataclass
class Encoded:
    """A split as the model sees it."""

    x: np.ndarray
    """(n, max_length) int32 word indices, padded."""
    y: np.ndarray
    """(n,) int32 labels."""
    lengths: np.ndarray
    """(n,) int32 tokens per review before padding/truncation."""
    texts: list[str]


def encode_split(split: Split, vocabulary: Vocabulary, max_length: int, side: str) -> Encoded:
    tokens = [tokenize(text) for text in split.texts]
    return Encoded(
        x=pad([vocabulary.encode(t) for t in tokens], max_length, side),
        y=split.labels.astype(np.int32),
        lengths=np.array([len(t) for t in tokens], dtype=np.int32),
        texts=split.texts,
    )


def shuffle_split(split: Split, seed: int) -> Split:
    """A seeded permutation: the archive is sorted by class, and the validation tail must not be."""
    order = np.random.default_rng(seed).permutation(len(split))
    return Split([split.texts[i] for i in order], split.labels[order])


def length_statistics(lengths: np.ndarray, max_length: int) -> dict:
    """Review length in words: summary, share truncated, and a histogram for the report."""
    top = int(np.percentile(lengths, 99)) if len(lengths) else 1
    edges = np.linspace(0, max(top, max_length) * 1.05, 41)
    counts, edges = np.histogram(np.minimum(lengths, edges[-1]), bins=edges)
    return {
        "mean": round(float(np.mean(lengths)), 2),
        "median": float(np.median(lengths)),
        "min": int(np.min(lengths)),
        "max": int(np.max(lengths)),
        "percentiles": {str(p): float(np.percentile(lengths, p)) for p in (25, 75, 90, 95, 99)},
        "truncated_share": round(float(np.mean(lengths > max_length)), 6),
        "mean_after_truncation": round(float(np.mean(np.minimum(lengths, max_length))), 2),
        "histogram": {"edges": [round(float(e), 2) for e in edges], "counts": [int(c) for c in counts]},
    }


def coverage(encoded: Encoded) -> float:
    """Share of the kept (not truncated) tokens that are in the vocabulary."""
    kept = encoded.x[encoded.x != PAD_INDEX]
    return round(float(np.mean(kept != OOV_INDEX)), 6) if kept.size else 0.0


def class_counts(labels: np.ndarray) -> dict:
    return {"total": int(len(labels)), "positive": int(np.sum(labels == 1)), "negative": int(np.sum(labels == 0))}

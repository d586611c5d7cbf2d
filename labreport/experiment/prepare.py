"""Preparation: the corpus split, tokenized and encoded, with the statistics the report shows.

Shuffles the training split with the seed and holds out its tail for validation, learns the
vocabulary from the training reviews only (nothing of the test split leaks into the model), encodes
and pads every split, and chooses the sample reviews the report prints.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labreport.core import LabreportError
from labreport.core.config import Config
from labreport.experiment import corpus as corpus_module
from labreport.experiment import encoding

SAMPLE_COUNT = 4
SAMPLE_STREAM = 7
"""The random stream of the run's seed the sample reviews are drawn from (see `labreport.core.stats.BOOTSTRAP_STREAM`)."""
SAMPLE_MAX_WORDS = 150

@dataclass
class Prepared:
    """The encoded splits, the vocabulary, and the dataset section of the record."""

    train: encoding.Encoded
    validation: encoding.Encoded
    test: encoding.Encoded
    vocabulary: encoding.Vocabulary
    stats: dict


def prepare(corpus: corpus_module.Corpus, config: Config) -> Prepared:
    """Splits, learns the vocabulary from the training reviews, encodes and describes the data."""
    train_all = encoding.shuffle_split(corpus.train, config.train.seed)
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
    fit = corpus_module.Split(train_all.texts[:n_fit], train_all.labels[:n_fit])
    val = corpus_module.Split(train_all.texts[n_fit:], train_all.labels[n_fit:])

    fit_tokens = (encoding.tokenize(t) for t in fit.texts)
    vocabulary = encoding.build_vocabulary(fit_tokens, config.data.vocab_size)
    length, side = config.data.max_length, config.data.padding
    encoded_fit = encoding.encode_split(fit, vocabulary, length, side)
    encoded_val = encoding.encode_split(val, vocabulary, length, side)
    encoded_test = encoding.encode_split(corpus.test, vocabulary, length, side)

    all_train_lengths = np.concatenate([encoded_fit.lengths, encoded_val.lengths])
    stats = {
        "source": corpus.source,
        "location": corpus.location,
        "undecodable_reviews": corpus.undecodable,
        "splits": {
            "train": encoding.class_counts(encoded_fit.y),
            "validation": encoding.class_counts(encoded_val.y),
            "test": encoding.class_counts(encoded_test.y),
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
            "coverage_train": encoding.coverage(encoded_fit),
            "coverage_test": encoding.coverage(encoded_test),
            "oov_token": encoding.OOV_TOKEN,
        },
        "lengths": {
            "train": encoding.length_statistics(all_train_lengths, length),
            "test": encoding.length_statistics(encoded_test.lengths, length),
        },
    }
    return Prepared(encoded_fit, encoded_val, encoded_test, vocabulary, stats)


# ---------------------------------------------------------------------------------------------
# Batching


def choose_samples(test: encoding.Encoded, seed: int, count: int = SAMPLE_COUNT) -> list[int]:
    """A seeded choice of test reviews short enough to print, half positive and half negative."""
    rng = np.random.default_rng([seed, SAMPLE_STREAM])
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

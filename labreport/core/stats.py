"""What the paired test predictions can and cannot support: significance, intervals, failure modes.

Pure NumPy over the test split's labels, lengths and each model's probabilities; `train` stores the
results in the record's `analysis` section, so rendering needs no TensorFlow.
"""

from __future__ import annotations

import math
import statistics

import numpy as np

from labreport.core.shapes import Aggregate, Run, Stat

DECISION_THRESHOLD = 0.5
"""A review is called positive when a model's probability exceeds this; stored in the record."""
BOOTSTRAP_STREAM = 11
DISAGREEMENT_STREAM = 13
"""Random streams of the run's seed: `default_rng([seed, stream])`, one per use, so that changing how
many numbers one use draws never changes another's (samples use `prepare.SAMPLE_STREAM`, the
learned-words sample `attributions.LEARNED_STREAM`)."""
EXACT_BELOW = 25
"""McNemar uses the exact binomial test when fewer reviews than this are discordant."""
BOOTSTRAP_RESAMPLES = 2000
INTERVAL = 0.95
"""Coverage of the bootstrap interval."""
SIGNIFICANCE = 0.05
"""Level at which McNemar's test is read."""
LENGTH_EDGES = (0, 100, 200, 300, 500)
"""Review-length buckets in words; the last bucket is open-ended."""


def mcnemar(labels: np.ndarray, probabilities_a: np.ndarray, probabilities_b: np.ndarray) -> dict:
    """McNemar's test on two classifiers' paired decisions.

    Returns:
        {"a_only": reviews only A got right, "b_only": only B got right, "method": "exact" |
        "chi2_corrected", "statistic", "p_value"}. Exact: two-sided binomial with p = 1/2 on the
        discordant reviews; otherwise chi-square with continuity correction, 1 degree of freedom.
    """
    right_a = (probabilities_a > DECISION_THRESHOLD) == (labels == 1)
    right_b = (probabilities_b > DECISION_THRESHOLD) == (labels == 1)
    a_only = int(np.sum(right_a & ~right_b))
    b_only = int(np.sum(right_b & ~right_a))
    n = a_only + b_only
    if n == 0:
        return {"a_only": 0, "b_only": 0, "method": "exact", "statistic": 0.0, "p_value": 1.0}
    if n < EXACT_BELOW:
        k = min(a_only, b_only)
        tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
        return {"a_only": a_only, "b_only": b_only, "method": "exact", "statistic": float(k),
                "p_value": min(1.0, 2 * tail)}
    statistic = (abs(a_only - b_only) - 1) ** 2 / n
    return {"a_only": a_only, "b_only": b_only, "method": "chi2_corrected", "statistic": round(statistic, 6),
            "p_value": math.erfc(math.sqrt(statistic / 2))}


def bootstrap_difference(labels: np.ndarray, probabilities_a: np.ndarray, probabilities_b: np.ndarray,
                         seed: int, resamples: int = BOOTSTRAP_RESAMPLES, level: float = INTERVAL) -> dict:
    """Accuracy of A minus accuracy of B, with a paired percentile bootstrap interval of coverage `level`."""
    difference = (((probabilities_a > DECISION_THRESHOLD) == (labels == 1)).astype(np.int8)
                  - ((probabilities_b > DECISION_THRESHOLD) == (labels == 1)).astype(np.int8))
    rng = np.random.default_rng([seed, BOOTSTRAP_STREAM])
    means = np.empty(resamples)
    chunk = 100
    for start in range(0, resamples, chunk):
        count = min(chunk, resamples - start)
        picks = rng.integers(0, len(difference), size=(count, len(difference)))
        means[start:start + count] = difference[picks].mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return {"difference": float(difference.mean()), "low": float(low), "high": float(high), "level": level,
            "resamples": resamples}


def accuracy_by_length(labels: np.ndarray, lengths: np.ndarray, probabilities: dict[str, np.ndarray]) -> dict:
    """Test accuracy of each model per review-length bucket (words before truncation)."""
    edges = list(LENGTH_EDGES)
    bucket = np.digitize(lengths, edges[1:], right=True)
    counts = [int(np.sum(bucket == i)) for i in range(len(edges))]
    accuracy = {}
    for name, p in probabilities.items():
        right = (p > DECISION_THRESHOLD) == (labels == 1)
        accuracy[name] = [round(float(right[bucket == i].mean()), 6) if counts[i] else None for i in range(len(edges))]
    return {"edges": edges, "counts": counts, "accuracy": accuracy}


def disagreements(labels: np.ndarray, lengths: np.ndarray, texts: list[str], probabilities: dict[str, np.ndarray],
                  seed: int, count: int = 4, max_words: int = 150) -> list[dict]:
    """A seeded handful of short test reviews on which the models decide differently."""
    names = list(probabilities)
    decisions = np.stack([probabilities[n] > DECISION_THRESHOLD for n in names])
    differ = np.flatnonzero(decisions.any(axis=0) & ~decisions.all(axis=0) & (lengths <= max_words))
    if len(differ) == 0:
        return []
    chosen = np.sort(np.random.default_rng([seed, DISAGREEMENT_STREAM]).choice(differ, size=min(count, len(differ)), replace=False))
    return [
        {"index": int(i), "text": texts[i], "label": int(labels[i]),
         "probabilities": {n: round(float(probabilities[n][i]), 6) for n in names}}
        for i in chosen
    ]


def analyse(labels: np.ndarray, lengths: np.ndarray, texts: list[str], probabilities: dict[str, np.ndarray],
            seed: int) -> dict:
    """The record's `analysis` section for the best checkpoints of every model."""
    names = list(probabilities)
    pairs = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            pairs.append({
                "a": a,
                "b": b,
                "mcnemar": mcnemar(labels, probabilities[a], probabilities[b]),
                "bootstrap": bootstrap_difference(labels, probabilities[a], probabilities[b], seed),
            })
    return {
        "significance_level": SIGNIFICANCE,
        "pairs": pairs,
        "length_buckets": accuracy_by_length(labels, lengths, probabilities),
        "disagreements": disagreements(labels, lengths, texts, probabilities, seed),
    }


def median_epoch_seconds(seconds: list[float]) -> float:
    """Median seconds per epoch after the first (the first also builds the computation graph)."""
    return statistics.median(seconds[1:] if len(seconds) > 1 else seconds)


def spread(values: list[float]) -> Stat:
    """{"mean", "sd" (sample standard deviation; None for one value), "values"}."""
    return {"mean": statistics.fmean(values), "sd": statistics.stdev(values) if len(values) > 1 else None,
            "values": list(values)}


def across_seeds(runs: list[Run]) -> Aggregate:
    """Mean and standard deviation over a model's training runs (one per seed).

    `runs` are the record's `models.<name>.runs` entries; seconds per epoch is each run's
    `median_epoch_seconds`.
    """
    return {
        "runs": len(runs),
        "seeds": [run["seed"] for run in runs],
        "test_accuracy": spread([run["test"]["accuracy"] for run in runs]),
        "test_loss": spread([run["test"]["loss"] for run in runs]),
        "best_epoch": spread([run["best_epoch"] for run in runs]),
        "seconds_per_epoch": spread([median_epoch_seconds(run["epoch_seconds"]) for run in runs]),
    }


def metrics(labels: np.ndarray, probabilities: np.ndarray) -> dict:
    """Loss, accuracy, precision, recall, F1 and confusion matrix from probabilities.

    Decisions use p > DECISION_THRESHOLD (0.5) and the loss clips p to [1e-7, 1 - 1e-7], as Keras' binary accuracy and
    binary cross-entropy do.
    """
    labels = labels.astype(np.int64)
    p = np.clip(probabilities.astype(np.float64), 1e-7, 1 - 1e-7)
    decisions = (probabilities > DECISION_THRESHOLD).astype(np.int64)
    tp = int(np.sum((decisions == 1) & (labels == 1)))
    tn = int(np.sum((decisions == 0) & (labels == 0)))
    fp = int(np.sum((decisions == 1) & (labels == 0)))
    fn = int(np.sum((decisions == 0) & (labels == 1)))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    loss = float(-np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p)))
    return {
        "loss": round(loss, 6),
        "accuracy": round((tp + tn) / len(labels), 6),
        "precision": round(precision, 6),
        "recall": round(recall, 6),
        "f1": round(f1, 6),
        "confusion_matrix": [[tn, fp], [fn, tp]],
        "reviews": int(len(labels)),
    }


def sign_flip_test(differences: list[float], resamples: int = 20_000, seed: int = 0) -> float:
    """Two-sided p-value of a paired permutation (sign-flip) test that the mean difference is zero.

    Each run's difference keeps its size and gets a random sign; p is the share of sign patterns
    whose mean is at least as far from zero as the observed one. Exact (every pattern) for up to 16
    runs, else `resamples` seeded patterns. It assumes nothing about the differences' distribution,
    which a class of 20 to 80 runs cannot show to be normal.
    """
    values = np.asarray(differences, dtype=np.float64)
    n = len(values)
    if n == 0:
        return 1.0
    observed = abs(values.mean())
    if n <= 16:
        patterns = ((np.arange(2 ** n)[:, None] >> np.arange(n)) & 1) * 2 - 1
    else:
        patterns = np.random.default_rng(seed).choice((-1, 1), size=(resamples, n))
    means = np.abs((patterns * values).mean(axis=1))
    return float(np.mean(means >= observed - 1e-12))

"""Batches: reviews grouped by length, each batch padded only to its own longest review.

On a CPU most of a recurrent layer's time goes into stepping through every position of the padded
batch; padding a batch of short reviews to the full length would step through padding. Training
batches sort reviews by length within seeded pools (so batches stay random); evaluation gives each
review its own width, so a probability never depends on the review's neighbours.
"""

from __future__ import annotations

import math

import numpy as np

from labreport.core.config import Config
from labreport.experiment import encoding

SHAPE_STEP = 8
"""Bucketed batches are padded to a multiple of this many tokens, which bounds the distinct shapes."""
EVAL_BATCH = 256
POOL_BATCHES = 32
"""Bucketing sorts reviews by length within pools of this many batches, so batches stay random."""


def width_for(longest: int, max_length: int, bucketing: bool) -> int:
    """The input width a batch whose longest review has `longest` words gets."""
    if not bucketing:
        return max_length
    return min(max_length, max(SHAPE_STEP, int(math.ceil(longest / SHAPE_STEP)) * SHAPE_STEP))


def cut(x: np.ndarray, width: int, side: str) -> np.ndarray:
    """The `width` columns that hold a batch's words (padding is on `side`)."""
    return x[:, x.shape[1] - width:] if side == "pre" else x[:, :width]


def training_batches(split: encoding.Encoded, config: Config, epoch: int):
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
        width = width_for(int(split.lengths[idx].max()), config.data.max_length, t.bucketing)
        yield cut(split.x[idx], width, config.data.padding), split.y[idx].astype(np.float32)


def evaluation_batches(x: np.ndarray, lengths: np.ndarray, config: Config):
    """Yields (indices, batch) for inference.

    With bucketing, every review is padded to its own length rounded up to SHAPE_STEP, whatever
    else is in the batch, so a review's probability does not depend on its neighbours (and
    `labreport predict` gives exactly the probabilities the record holds).
    """
    widths = np.array([width_for(int(n), config.data.max_length, config.train.bucketing) for n in lengths])
    order = np.argsort(widths, kind="stable")
    start = 0
    while start < len(order):
        width = widths[order[start]]
        stop = start
        while stop < len(order) and stop - start < EVAL_BATCH and widths[order[stop]] == width:
            stop += 1
        idx = order[start:stop]
        yield idx, cut(x[idx], int(width), config.data.padding)
        start = stop

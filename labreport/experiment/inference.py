"""Inference: thread pools for the recurrent layers, the traced forward pass, probabilities, gradient flow.

Used after training and by `labreport predict`, which therefore needs neither the training loop nor
the data preparation.
"""

from __future__ import annotations

import os

import numpy as np

from labreport.core.config import Config
from labreport.experiment import encoding
from labreport.experiment.batches import evaluation_batches


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


def gradient_flow(model, split: encoding.Encoded, config: Config) -> dict:
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

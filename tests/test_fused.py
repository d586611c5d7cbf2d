"""The fused CPU LSTM computes what Keras' LSTM computes: outputs and gradients to 1e-5, both directions,
every width bucketing gives; it falls back where it would differ; checkpoints stay Keras' own."""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from labreport import batches, models
from labreport.config import load_config
from labreport.fused import FusedLSTM


def quick_config():
    return load_config(None, quick=True)


def twins(config):
    keras.utils.set_random_seed(3)
    fused = models.build_model("lstm", config, sequence_length=None, fused=True)
    plain = models.build_model("lstm", config, sequence_length=None, fused=False)
    plain.set_weights(fused.get_weights())
    return fused, plain


def outputs_and_gradients(model, x, y):
    with tf.GradientTape() as tape:
        p = model(x, training=False)
        loss = keras.losses.binary_crossentropy(y, p)
    return p.numpy(), [tf.convert_to_tensor(g).numpy() for g in tape.gradient(loss, model.trainable_variables)]


def test_the_model_is_fused_on_both_directions_and_the_weights_are_keras_own():
    fused, plain = twins(quick_config())
    layer = fused.get_layer("bidirectional")
    assert isinstance(layer.forward_layer, FusedLSTM) and isinstance(layer.backward_layer, FusedLSTM)
    assert layer.backward_layer.go_backwards
    assert [w.shape for w in fused.weights] == [w.shape for w in plain.weights]
    assert models.plain_twin(fused, "lstm", quick_config()).get_layer("bidirectional").forward_layer.__class__ \
        is keras.layers.LSTM


def test_outputs_and_gradients_match_keras_at_every_bucketed_width():
    config = quick_config()
    fused, plain = twins(config)
    max_length = config.data.max_length
    widths = sorted({batches.width_for(n, max_length, True) for n in range(1, max_length + 1)})
    assert widths[0] == batches.SHAPE_STEP and widths[-1] == max_length and len(widths) == max_length // batches.SHAPE_STEP
    rng = np.random.default_rng(0)
    for width in widths:
        x = rng.integers(0, config.data.vocab_size, size=(4, width)).astype("int32")
        x[0, : width // 2] = 0  # a padded review, as the data has them
        y = rng.integers(0, 2, size=(4, 1)).astype("float32")
        p_fused, g_fused = outputs_and_gradients(fused, x, y)
        p_plain, g_plain = outputs_and_gradients(plain, x, y)
        np.testing.assert_allclose(p_fused, p_plain, atol=1e-5, err_msg=f"width {width}")
        for a, b, variable in zip(g_fused, g_plain, plain.trainable_variables):
            np.testing.assert_allclose(a, b, atol=1e-5, err_msg=f"width {width}: {variable.path}")


@pytest.mark.parametrize("go_backwards", [False, True])
def test_a_single_layer_matches_keras_with_random_weights_and_states(go_backwards):
    rng = np.random.default_rng(1)
    x = tf.constant(rng.normal(size=(3, 13, 5)).astype("float32"))
    plain, fused = keras.layers.LSTM(6, go_backwards=go_backwards, return_state=True), \
        FusedLSTM(6, go_backwards=go_backwards, return_state=True)
    plain(x), fused(x)
    weights = [rng.normal(scale=0.5, size=w.shape).astype("float32") for w in plain.get_weights()]
    plain.set_weights(weights), fused.set_weights(weights)
    h0, c0 = (tf.constant(rng.normal(size=(3, 6)).astype("float32")) for _ in range(2))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([x, h0, c0])
        out_p = plain(x, initial_state=[h0, c0])
        out_f = fused(x, initial_state=[h0, c0])
        loss_p = sum(tf.reduce_sum(o * o) for o in out_p)
        loss_f = sum(tf.reduce_sum(o * o) for o in out_f)
    for a, b in zip(out_f, out_p):  # last output, h, c
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5)
    for a, b in zip(tape.gradient(loss_f, [x, h0, c0, *fused.trainable_variables]),
                    tape.gradient(loss_p, [x, h0, c0, *plain.trainable_variables])):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5)


def test_it_falls_back_to_keras_loop_where_the_op_would_compute_something_else():
    layer = FusedLSTM(4, dropout=0.3)
    layer.build((None, None, 3))
    assert layer.fusable(mask=None, training=False)
    assert not layer.fusable(mask=None, training=True)  # input dropout while training
    assert not layer.fusable(mask=tf.ones((2, 5), dtype=bool), training=False)
    assert not FusedLSTM(4, recurrent_dropout=0.1).fusable(None, False)
    relu = FusedLSTM(4, activation="relu")
    relu.build((None, None, 3))
    assert not relu.fusable(None, False)
    # and the fallback gives Keras' result with a mask
    x = tf.constant(np.random.default_rng(2).normal(size=(2, 5, 3)).astype("float32"))
    mask = tf.constant([[True] * 5, [True, True, True, False, False]])
    plain = keras.layers.LSTM(4)
    plain(x)
    fused = FusedLSTM(4)
    fused(x)
    fused.set_weights(plain.get_weights())
    np.testing.assert_allclose(fused(x, mask=mask).numpy(), plain(x, mask=mask).numpy(), atol=1e-6)


def test_the_loop_is_fused_only_on_the_cpu_only_for_the_lstm_and_not_with_no_fused():
    config = quick_config()
    assert models.recurrent_loop("lstm", config, "CPU") == "fused"
    assert models.recurrent_loop("gru", config, "CPU") == "keras"
    assert models.recurrent_loop("lstm", config, "GPU:0 (NVIDIA H200)") == "keras"
    off = dataclasses.replace(config, train=dataclasses.replace(config.train, fused=False))
    assert models.recurrent_loop("lstm", off, "CPU") == "keras"

"""The fused CPU GRU and LSTM compute what Keras' layers compute, with their loops written as TensorFlow
ops ("fused") and compiled ("compiled", labreport.experiment.kernels): outputs and gradients to 1e-5, both
directions, every width bucketing gives; they fall back where they would differ; checkpoints stay
Keras' own."""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from labreport.core.config import load_config
from labreport.experiment import batches, kernels, models
from labreport.experiment.fused import FusedGRU, FusedLSTM

FUSED = {"gru": (FusedGRU, keras.layers.GRU), "lstm": (FusedLSTM, keras.layers.LSTM)}
LOOPS = ["fused", "compiled"]
COMPILED_OPS = {"gru": {"LabreportGruSequence", "LabreportGruSequenceGrad"},
                "lstm": {"LabreportLstmSequence", "LabreportLstmSequenceGrad"}}


@pytest.fixture
def loop(request):
    """The loop under test; for "compiled", the compiled loops must have built here for some target
    (a library that does not load fails the test rather than passing on the fallback; a machine
    that cannot build them at all skips it, saying why)."""
    if request.param == "compiled":
        request.getfixturevalue("compiled_loops")
    return request.param


def op_types(model, x, y):
    """The op types of one traced training step (forward and backward), nested functions included."""
    @tf.function
    def step(x, y):
        outputs_and_gradients_tensors(model, x, y)

    graph = step.get_concrete_function(x, y).graph
    types, graphs = set(), [graph]
    while graphs:
        current = graphs.pop()
        types |= {op.type for op in current.get_operations()}
        graphs += [function.graph for function in getattr(current, "_functions", {}).values()
                   if hasattr(function, "graph")]
    return types


def outputs_and_gradients_tensors(model, x, y):
    with tf.GradientTape() as tape:
        p = model(x, training=False)
        loss = keras.losses.binary_crossentropy(y, p)
    return p, tape.gradient(loss, model.trainable_variables)


def quick_config():
    return load_config(None, quick=True)


def twins(cell, config, loop="fused"):
    keras.utils.set_random_seed(3)
    fused = models.build_model(cell, config, sequence_length=None, loop=loop)
    plain = models.build_model(cell, config, sequence_length=None)
    plain.set_weights(fused.get_weights())
    return fused, plain


def outputs_and_gradients(model, x, y):
    p, gradients = outputs_and_gradients_tensors(model, x, y)
    return p.numpy(), [tf.convert_to_tensor(g).numpy() for g in gradients]


@pytest.mark.parametrize("loop", ["fused", "compiled"])
@pytest.mark.parametrize("cell", FUSED)
def test_the_model_is_fused_on_both_directions_and_the_weights_are_keras_own(cell, loop):
    fused_class, keras_class = FUSED[cell]
    fused, plain = twins(cell, quick_config(), loop)
    layer = fused.get_layer("bidirectional")
    assert type(layer.forward_layer) is fused_class and type(layer.backward_layer) is fused_class
    # the backward layer is made from the forward one's config, so the choice of loop must be in it
    assert layer.forward_layer.compiled is layer.backward_layer.compiled is (loop == "compiled")
    assert layer.backward_layer.go_backwards
    assert [w.shape for w in fused.weights] == [w.shape for w in plain.weights]
    assert fused.count_params() == plain.count_params()
    assert type(models.plain_twin(fused, cell, quick_config()).get_layer("bidirectional").forward_layer) is keras_class


@pytest.mark.parametrize("loop", LOOPS, indirect=True)
@pytest.mark.parametrize("cell", FUSED)
def test_outputs_and_gradients_match_keras_from_the_first_bucket_to_the_full_width(cell, loop):
    config = quick_config()
    fused, plain = twins(cell, config, loop)
    # Every bucket up to 64 steps, and the quick run's full width: the loops hold nothing that depends
    # on the width, so these show what all 25 of the quick run's buckets would, at a tenth of the steps.
    max_length = config.data.max_length
    buckets = sorted({batches.width_for(n, max_length, True) for n in range(1, max_length + 1)})
    assert buckets[0] == batches.SHAPE_STEP and buckets[-1] == max_length and len(buckets) == max_length // batches.SHAPE_STEP
    widths = [width for width in buckets if width <= 64] + [max_length]
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
    used = op_types(fused, tf.constant(x), tf.constant(y))  # the loop under test is the one that ran
    assert (COMPILED_OPS[cell] <= used) == (loop == "compiled")


@pytest.mark.parametrize("loop", LOOPS, indirect=True)
@pytest.mark.parametrize("cell", FUSED)
@pytest.mark.parametrize("go_backwards", [False, True])
def test_a_single_layer_matches_keras_with_random_weights_and_states(cell, go_backwards, loop):
    fused_class, keras_class = FUSED[cell]
    rng = np.random.default_rng(1)
    x = tf.constant(rng.normal(size=(3, 13, 5)).astype("float32"))
    plain = keras_class(6, go_backwards=go_backwards, return_state=True)
    fused = fused_class(6, go_backwards=go_backwards, return_state=True, compiled=loop == "compiled")
    plain(x), fused(x)
    weights = [rng.normal(scale=0.5, size=w.shape).astype("float32") for w in plain.get_weights()]
    plain.set_weights(weights), fused.set_weights(weights)
    states = [tf.constant(rng.normal(size=(3, 6)).astype("float32")) for _ in plain.cell.state_size
              ] if cell == "lstm" else [tf.constant(rng.normal(size=(3, 6)).astype("float32"))]
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([x, *states])
        out_p = plain(x, initial_state=states)
        out_f = fused(x, initial_state=states)
        loss_p = sum(tf.reduce_sum(o * o) for o in out_p)
        loss_f = sum(tf.reduce_sum(o * o) for o in out_f)
    for a, b in zip(out_f, out_p):  # last output and the states
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5)
    for a, b in zip(tape.gradient(loss_f, [x, *states, *fused.trainable_variables]),
                    tape.gradient(loss_p, [x, *states, *plain.trainable_variables])):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5)


@pytest.mark.parametrize("cell", FUSED)
def test_it_falls_back_to_keras_loop_where_the_fused_one_would_compute_something_else(cell):
    fused_class, keras_class = FUSED[cell]
    layer = fused_class(4, dropout=0.3)
    layer.build((None, None, 3))
    assert layer.fusable(mask=None, training=False)
    assert not layer.fusable(mask=None, training=True)  # input dropout while training
    assert not layer.fusable(mask=tf.ones((2, 5), dtype=bool), training=False)
    assert not fused_class(4, recurrent_dropout=0.1).fusable(None, False)
    for other in ({"activation": "relu"}, {"use_bias": False}):
        changed = fused_class(4, **other)
        changed.build((None, None, 3))
        assert not changed.fusable(None, False), other
    # and the fallback gives Keras' result with a mask
    x = tf.constant(np.random.default_rng(2).normal(size=(2, 5, 3)).astype("float32"))
    mask = tf.constant([[True] * 5, [True, True, True, False, False]])
    plain = keras_class(4)
    plain(x)
    fused = fused_class(4)
    fused(x)
    fused.set_weights(plain.get_weights())
    np.testing.assert_allclose(fused(x, mask=mask).numpy(), plain(x, mask=mask).numpy(), atol=1e-6)


@pytest.mark.parametrize("loop", LOOPS[1:], indirect=True)
def test_the_compiled_lstm_keeps_the_sequence_op_for_whole_sequences(loop):
    x = tf.constant(np.random.default_rng(6).normal(size=(2, 5, 3)).astype("float32"))
    plain, compiled = keras.layers.LSTM(4, return_sequences=True), FusedLSTM(4, return_sequences=True, compiled=True)
    plain(x), compiled(x)
    compiled.set_weights(plain.get_weights())
    np.testing.assert_allclose(compiled(x).numpy(), plain(x).numpy(), atol=1e-6)
    graph = tf.function(compiled).get_concrete_function(x).graph
    assert {op.type for op in graph.get_operations()} & {"BlockLSTM", "LabreportLstmSequence"} == {"BlockLSTM"}


def test_the_fused_gru_keeps_keras_loop_for_the_textbook_variant_and_for_whole_sequences():
    x = tf.constant(np.random.default_rng(4).normal(size=(2, 5, 3)).astype("float32"))
    for options in ({"reset_after": False}, {"return_sequences": True}):
        plain, fused = keras.layers.GRU(4, **options), FusedGRU(4, **options)
        plain(x), fused(x)
        fused.set_weights(plain.get_weights())
        assert not fused.fusable(None, False), options
        np.testing.assert_allclose(fused(x).numpy(), plain(x).numpy(), atol=1e-6)


def test_the_loop_is_compiled_or_fused_only_on_the_cpu_for_the_gru_and_lstm_and_as_configured():
    config = quick_config()
    fast = "compiled" if kernels.find_compiler() else "fused"  # where a compiler is found, the build must work
    assert models.recurrent_loop("lstm", config, "CPU") == fast
    assert models.recurrent_loop("gru", config, "CPU") == fast
    no_compiled = dataclasses.replace(config, train=dataclasses.replace(config.train, compiled=False))
    assert models.recurrent_loop("lstm", no_compiled, "CPU") == "fused"
    assert models.recurrent_loop("gru", no_compiled, "CPU") == "fused"
    assert models.recurrent_loop("rnn", config, "CPU") == "keras"
    assert models.recurrent_loop("lstm", config, "GPU:0 (NVIDIA H200)") == "keras"
    assert models.recurrent_loop("gru", config, "GPU:0 (NVIDIA H200)") == "keras"
    off = dataclasses.replace(config, train=dataclasses.replace(config.train, fused=False))
    assert models.recurrent_loop("lstm", off, "CPU") == "keras" and models.recurrent_loop("gru", off, "CPU") == "keras"
    textbook = dataclasses.replace(config, model=dataclasses.replace(config.model, gru_reset_after=False))
    assert models.recurrent_loop("gru", textbook, "CPU") == "keras"
    assert not models.build_model("gru", textbook, loop="fused").get_layer("bidirectional").forward_layer.cell.reset_after


@pytest.mark.parametrize("loop", LOOPS, indirect=True)
@pytest.mark.parametrize("cell", FUSED)
def test_the_checkpoint_twin_carries_the_optimizer_state_and_loads_without_warnings(cell, tmp_path, loop):
    import warnings

    config = quick_config()
    fused, _ = twins(cell, config, loop)
    rng = np.random.default_rng(5)
    for _ in range(2):
        fused.train_on_batch(rng.integers(0, config.data.vocab_size, size=(4, 16)).astype("int32"),
                             rng.integers(0, 2, size=(4, 1)).astype("float32"))
    twin = models.plain_twin(fused, cell, config)
    assert len(twin.optimizer.variables) == len(fused.optimizer.variables) > 2
    for mine, theirs in zip(twin.optimizer.variables, fused.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(theirs))
    path = tmp_path / f"{cell}.keras"
    twin.save(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = keras.saving.load_model(path)
    assert int(np.asarray(loaded.optimizer.iterations)) == 2
    for mine, theirs in zip(loaded.optimizer.variables, fused.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(theirs))

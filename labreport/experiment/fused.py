"""The recurrent layers' CPU fast paths: Keras' own GRU and LSTM layers, their sequence loops rewritten.

Keras runs a recurrent layer on the CPU as a loop of small operations, one time step after another;
for the lab's shapes much of the time goes to starting those operations, not to arithmetic. Each
class here is the Keras layer itself (same weights, same summary, same parameter count) with a
different `inner_loop`, used whenever the layer's settings are those the loop computes, and Keras'
own loop otherwise. The tests compare outputs and gradients with Keras' layers to 1e-5.

- `FusedLSTM` runs the whole sequence as one TensorFlow op, `BlockLSTM` (its loop in C++, gradient
  registered). Keras' kernel and recurrent kernel are concatenated and the gate blocks reordered on
  each call from Keras' i, f, c, o to the op's i, c, f, o; the op's `forget_bias` is 0 and its cell
  clipping off (Keras' forget bias is in the bias itself). (`BlockLSTMV2` takes Keras' order as it
  is, but TensorFlow registers the first op's gradient for it, which assumes the other order: its
  weight gradients are wrong.)
- `FusedGRU`: TensorFlow has no sequence op for Keras' default GRU (`reset_after=True`; its
  `GRUBlockCell` is one step of the textbook variant), and no maintained library offers one for
  TensorFlow on the CPU. So the loop is written out here: the input projection x·W + b for every
  time step at once (one large matrix product instead of one small one per step, and the same for
  its gradient), then a `tf.while_loop` holding only h·U and the gates, with the backward pass
  written by hand (`_gru_last_state`) instead of differentiated through the loop, which keeps the
  backward loop to a few operations per step; the recurrent kernel's gradient is one matrix product
  over all steps after the loop.

Built with `compiled=True`, both layers run their loops as labreport's compiled ops instead
(`labreport.experiment.kernels`: the same loops in C++, forward and backward, built on the machine at first use)
where those are available, and the loops above where not; the input projection stays one TensorFlow
matrix product either way.

The models use them on the CPU only: on a GPU they keep Keras' layers and cuDNN's kernels.
Checkpoints are saved from a plain Keras twin (`models.plain_twin`), so a saved model loads with
Keras alone.
"""

from __future__ import annotations

import keras
from keras import activations


def _plain_settings(layer, mask, training) -> bool:
    """What both fused loops need of a call: no mask, no unrolling, no dropout of either kind while
    training, a bias, and Keras' default activations (tanh, sigmoid)."""
    return (mask is None and not layer.unroll and not layer.recurrent_dropout
            and not (training and layer.dropout) and layer.cell.use_bias
            and layer.cell.activation is activations.tanh and layer.cell.recurrent_activation is activations.sigmoid)


def _compiled_library(layer):
    """The compiled loops' library where `layer` asks for them and they are available (float32 only, as
    the ops are written), else None."""
    if not layer.compiled or layer.compute_dtype != "float32":
        return None
    from labreport.experiment import kernels
    return kernels.default().library


def _input_projection(layer, x, gates: int):
    """x·W + b for every step of a time-major sequence at once: (steps, batch, gates·units)."""
    import tensorflow as tf

    steps, batch = tf.shape(x)[0], tf.shape(x)[1]
    bias = layer.cell.bias.value
    projected = tf.nn.bias_add(tf.matmul(tf.reshape(x, [-1, x.shape[-1]]), layer.cell.kernel.value),
                               bias[0] if len(bias.shape) == 2 else bias)  # the GRU's bias is (input, recurrent)
    return tf.reshape(projected, [steps, batch, gates * layer.units])


def _time_major(layer, sequences):
    """(batch, steps, features) as (steps, batch, features), reversed in time for a backward layer."""
    import tensorflow as tf

    x = tf.transpose(sequences, [1, 0, 2])
    return tf.reverse(x, axis=[0]) if layer.go_backwards else x


class _CompiledOption:
    """The layers' `compiled` argument (see `_compiled_library`), kept in their config."""

    def __init__(self, units, compiled: bool = False, **kwargs):
        super().__init__(units, **kwargs)
        self.compiled = compiled

    def get_config(self):
        return {**super().get_config(), "compiled": self.compiled}


# Registered because `Bidirectional` makes the backward layer from the forward one's config.
@keras.saving.register_keras_serializable(package="labreport")
class FusedLSTM(_CompiledOption, keras.layers.LSTM):
    """`keras.layers.LSTM` whose sequence loop is TensorFlow's `BlockLSTM` op, or labreport's compiled
    loop with `compiled=True`, where the settings allow."""

    def fusable(self, mask, training) -> bool:
        """Whether this call computes exactly what the fused op computes."""
        return _plain_settings(self, mask, training)

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if not self.fusable(mask, training):
            return super().inner_loop(sequences, initial_state, mask, training=training)
        import tensorflow as tf

        h0, c0 = initial_state
        x = _time_major(self, sequences)  # as the op wants it
        library = _compiled_library(self)
        if library is not None and not self.return_sequences:
            last_h, last_c = _lstm_last_states_compiled(library, _input_projection(self, x, 4), h0, c0,
                                                        self.cell.recurrent_kernel.value)
            return last_h, tf.expand_dims(last_h, 1), [last_h, last_c]
        kernel = tf.concat([self.cell.kernel.value, self.cell.recurrent_kernel.value], axis=0)
        no_peephole = tf.zeros([self.units], dtype=x.dtype)
        _, cs, _, _, _, _, h = tf.raw_ops.BlockLSTM(
            seq_len_max=tf.cast(tf.shape(x)[0], tf.int64), x=x, cs_prev=c0, h_prev=h0,
            w=self._op_order(kernel, axis=1), wci=no_peephole, wcf=no_peephole, wco=no_peephole,
            b=self._op_order(self.cell.bias.value, axis=0), forget_bias=0.0, cell_clip=-1.0, use_peephole=False,
        )
        last_h, last_c = h[-1], cs[-1]
        outputs = tf.transpose(h, [1, 0, 2]) if self.return_sequences else tf.expand_dims(last_h, 1)
        return last_h, outputs, [last_h, last_c]

    def _op_order(self, weights, axis: int):
        """Keras' gate blocks (i, f, c, o) along `axis` as the op wants them (i, c, f, o)."""
        import tensorflow as tf

        i, f, c, o = tf.split(weights, 4, axis=axis)
        return tf.concat([i, c, f, o], axis=axis)


@keras.saving.register_keras_serializable(package="labreport")
class FusedGRU(_CompiledOption, keras.layers.GRU):
    """`keras.layers.GRU` whose input projection runs once per sequence and whose loop has a hand-written
    backward pass (or is labreport's compiled loop, with `compiled=True`), where the settings allow."""

    def fusable(self, mask, training) -> bool:
        """Whether this call computes exactly what `_gru_last_state` computes."""
        return _plain_settings(self, mask, training) and self.cell.reset_after and not self.return_sequences

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if not self.fusable(mask, training):
            return super().inner_loop(sequences, initial_state, mask, training=training)
        import tensorflow as tf

        h0 = initial_state[0] if isinstance(initial_state, (list, tuple)) else initial_state
        projected = _input_projection(self, _time_major(self, sequences), 3)
        library = _compiled_library(self)
        arguments = (projected, h0, self.cell.recurrent_kernel.value, self.cell.bias.value[1])
        last_h = _gru_last_state_compiled(library, *arguments) if library is not None else _gru_last_state(*arguments)
        return last_h, tf.expand_dims(last_h, 1), [last_h]


def _gru_last_state(projected, h0, recurrent_kernel, recurrent_bias):
    """The last state of Keras' GRU (`reset_after=True`, gates z, r, h) over a time-major sequence.

    Args:
        projected: x·W + b_input for every step, shape (steps, batch, 3·units).
        h0: the initial state, (batch, units).
        recurrent_kernel: U, (units, 3·units).
        recurrent_bias: b_recurrent, (3·units,).

    Returns:
        h after the last step, (batch, units); its gradient with respect to all four inputs is
        written out below (back-propagation through time, one step per loop iteration).
    """
    import tensorflow as tf

    @tf.custom_gradient
    def last_state(projected, h0, recurrent_kernel, recurrent_bias):
        steps, units, dtype = tf.shape(projected)[0], tf.shape(h0)[1], projected.dtype
        # per step: z, r, the candidate n, its recurrent term h·U_n + b_n, and h before the step
        saved = [tf.TensorArray(dtype, size=steps) for _ in range(5)]

        def forward(t, h, z_all, r_all, n_all, rh_all, h_all):
            x_t = projected[t]
            h_part = tf.nn.bias_add(tf.matmul(h, recurrent_kernel), recurrent_bias)
            zr = tf.sigmoid(x_t[:, :2 * units] + h_part[:, :2 * units])
            z, r = zr[:, :units], zr[:, units:]
            rh = h_part[:, 2 * units:]
            n = tf.tanh(x_t[:, 2 * units:] + r * rh)
            return (t + 1, n + z * (h - n), z_all.write(t, z), r_all.write(t, r), n_all.write(t, n),
                    rh_all.write(t, rh), h_all.write(t, h))

        _, h_last, *saved = tf.while_loop(lambda t, *_: t < steps, forward, (0, h0, *saved))
        z_all, r_all, n_all, rh_all, h_all = (a.stack() for a in saved)

        def gradient(dh_last):
            d_projected = tf.TensorArray(dtype, size=steps)
            d_h_part = tf.TensorArray(dtype, size=steps)

            def backward(t, dh, d_projected, d_h_part):
                z, r, n, rh, h_prev = z_all[t], r_all[t], n_all[t], rh_all[t], h_all[t]
                dn = dh * (1 - z) * (1 - n * n)  # through tanh
                dz = dh * (h_prev - n) * z * (1 - z)
                dr = dn * rh * r * (1 - r)
                dh_part = tf.concat([dz, dr, dn * r], axis=1)
                dh_prev = dh * z + tf.matmul(dh_part, recurrent_kernel, transpose_b=True)
                return t - 1, dh_prev, d_projected.write(t, tf.concat([dz, dr, dn], axis=1)), d_h_part.write(t, dh_part)

            _, dh0, d_projected, d_h_part = tf.while_loop(
                lambda t, *_: t >= 0, backward, (steps - 1, dh_last, d_projected, d_h_part))
            d_h_part = d_h_part.stack()
            return (d_projected.stack(), dh0, _recurrent_kernel_gradient(h_all, d_h_part),
                    tf.reduce_sum(d_h_part, axis=[0, 1]))

        return h_last, gradient

    return last_state(projected, h0, recurrent_kernel, recurrent_bias)


def _recurrent_kernel_gradient(states, d_h_part):
    """dU = Σ over steps of h_prevᵀ · d(h·U), as one matrix product over all steps at once."""
    import tensorflow as tf

    units, gates = tf.shape(states)[2], tf.shape(d_h_part)[2]
    return tf.matmul(tf.reshape(states, [-1, units]), tf.reshape(d_h_part, [-1, gates]), transpose_a=True)


def _gru_last_state_compiled(library, projected, h0, recurrent_kernel, recurrent_bias):
    """`_gru_last_state` computed by labreport's compiled GRU loop (`labreport.experiment.kernels`), forward and
    backward, with the same arguments and result."""
    import tensorflow as tf

    @tf.custom_gradient
    def last_state(projected, h0, recurrent_kernel, recurrent_bias):
        h_last, gates, states = library.labreport_gru_sequence(projected, h0, recurrent_kernel, recurrent_bias)

        def gradient(dh_last):
            d_projected, dh0, d_h_part = library.labreport_gru_sequence_grad(gates, states, recurrent_kernel, dh_last)
            return (d_projected, dh0, _recurrent_kernel_gradient(states, d_h_part),
                    tf.reduce_sum(d_h_part, axis=[0, 1]))

        return h_last, gradient

    return last_state(projected, h0, recurrent_kernel, recurrent_bias)


def _lstm_last_states_compiled(library, projected, h0, c0, recurrent_kernel):
    """h and c after the last step of Keras' LSTM (gates i, f, c, o) over a time-major sequence, by
    labreport's compiled LSTM loop.

    Args:
        projected: x·W + b for every step, (steps, batch, 4·units); the bias is in here, so its
            gradient comes from TensorFlow's own differentiation of the projection.
        h0, c0: the initial states, (batch, units).
        recurrent_kernel: U, (units, 4·units).
    """
    import tensorflow as tf

    @tf.custom_gradient
    def last_states(projected, h0, c0, recurrent_kernel):
        h_last, c_last, gates, states, cells = library.labreport_lstm_sequence(projected, h0, c0, recurrent_kernel)

        def gradient(dh_last, dc_last):
            # an output nothing depends on may come without a gradient
            dh_last = tf.zeros_like(h_last) if dh_last is None else dh_last
            dc_last = tf.zeros_like(c_last) if dc_last is None else dc_last
            d_projected, dh0, dc0 = library.labreport_lstm_sequence_grad(
                gates, states, cells, c_last, recurrent_kernel, dh_last, dc_last)
            return d_projected, dh0, dc0, _recurrent_kernel_gradient(states, d_projected)

        return (h_last, c_last), gradient

    return last_states(projected, h0, c0, recurrent_kernel)


FUSED_LAYERS = {"gru": FusedGRU, "lstm": FusedLSTM}
"""Cells with a fused CPU path, and the layer class that provides it."""

"""The LSTM's CPU fast path: Keras' own LSTM layer, its whole sequence run by one TensorFlow op.

Keras runs an LSTM on the CPU as a loop of small operations, one time step after another; for the
lab's shapes the time goes to starting those operations, not to arithmetic. TensorFlow has an op
that runs the whole loop in C++, `BlockLSTM`, with its gradient registered. `FusedLSTM` is
`keras.layers.LSTM` with the same weights (kernel, recurrent kernel, bias, in Keras' gate order
i, f, c, o), reordered on each call to the op's i, c, f, o, and with the op's `forget_bias` at 0
and its cell clipping off (Keras' forget bias is in the bias itself). Its inner loop is that op
whenever the layer's settings are those the op computes: tanh and sigmoid, a bias, no dropout of either kind while training, no
mask, no unrolling. Anything else falls back to Keras' own loop, so the results never depend on
which path ran beyond float rounding (the tests compare outputs and gradients with
`keras.layers.LSTM` to 1e-5). (`BlockLSTMV2` takes Keras' order as it is, but TensorFlow registers
the first op's gradient for it, which assumes the other order: its weight gradients are wrong.)

The models use it on the CPU only: on a GPU they keep `keras.layers.LSTM` and its cuDNN kernel.
Checkpoints are saved from a plain Keras twin (`models.plain_twin`), so a saved model loads with
Keras alone. There is no such op for Keras' default GRU (`reset_after=True`): TensorFlow's
`GRUBlockCell` is one step of the textbook variant, and no maintained library offers a fused
sequence GRU for TensorFlow on the CPU, so the GRU keeps Keras' layer.
"""

from __future__ import annotations

import keras
from keras import activations

# Registered because `Bidirectional` makes the backward layer from the forward one's config.
@keras.saving.register_keras_serializable(package="labreport")
class FusedLSTM(keras.layers.LSTM):
    """`keras.layers.LSTM` whose sequence loop is TensorFlow's `BlockLSTM` op where the settings allow."""

    def fusable(self, mask, training) -> bool:
        """Whether this call computes exactly what the fused op computes."""
        return (mask is None and not self.unroll and not self.recurrent_dropout
                and not (training and self.dropout) and self.cell.use_bias
                and self.cell.activation is activations.tanh
                and self.cell.recurrent_activation is activations.sigmoid)

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if not self.fusable(mask, training):
            return super().inner_loop(sequences, initial_state, mask, training=training)
        import tensorflow as tf

        h0, c0 = initial_state
        x = tf.transpose(sequences, [1, 0, 2])  # the op is time-major
        if self.go_backwards:
            x = tf.reverse(x, axis=[0])
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


FUSED_LAYERS = {"lstm": FusedLSTM}
"""Cells with a fused CPU path, and the layer class that provides it."""

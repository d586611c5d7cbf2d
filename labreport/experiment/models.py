"""The lab's classifier: Embedding → Bidirectional(RNN cell) → Dropout → Dense(1, sigmoid).

One builder serves every cell. The recurrent layers keep Keras' defaults (tanh/sigmoid activations,
no recurrent dropout, `unroll=False`), which is what keeps them eligible for the cuDNN kernels on a GPU.
"""

from __future__ import annotations

import os
import re
from typing import Callable

import keras
from keras import layers

from labreport.core import cells
from labreport.core.config import Config, ModelConfig
from labreport.experiment.fused import FUSED_LAYERS
from labreport.experiment.params import shape_text

DISPLAY_NAMES = {cell.name: cell.display_name for cell in cells.CELLS}
CELL_CLASSES = {cell.name: cell.keras_layer for cell in cells.CELLS}
"""Each cell's display name ("BiGRU") and Keras layer ("GRU"), from the registry (`labreport.core.cells`)."""


LOOPS = ("keras", "fused", "compiled")
"""The recurrent loops a model can train with, slowest first: Keras' own layer; Keras' layer with
labreport's loop written as TensorFlow ops (`labreport.experiment.fused`); the same layer with labreport's
compiled loop (`labreport.experiment.kernels`, where it builds; the TensorFlow-ops loop where it does not)."""


def recurrent_layer(cell: str, model: ModelConfig, loop: str = "keras") -> layers.Layer:
    """The recurrent layer for `cell` (a name of `labreport.core.cells`), returning the last state only.

    `model` gives its units and the Keras arguments the cell takes from a setting (the GRU's
    `reset_after`); `loop` (one of `LOOPS`): "fused" and "compiled" give the GRU and the LSTM labreport's CPU fast
    paths (Keras' layer with the same weights and a faster sequence loop); the other cells have none
    and keep Keras' layer.
    """
    spec = cells.cell(cell)  # an unknown name is a ValueError naming the known ones
    if loop not in LOOPS:
        raise ValueError(f"Received an invalid value for argument `loop`. Expected one of {', '.join(LOOPS)}, "
                         f"received: loop={loop!r}")
    options = spec.layer_options(model)
    if loop != "keras" and cell in FUSED_LAYERS:
        return FUSED_LAYERS[cell](model.hidden_units, compiled=loop == "compiled", **options)
    return getattr(layers, spec.keras_layer)(model.hidden_units, **options)


def build_model(cell: str, config: Config, sequence_length: int | None = None, loop: str = "keras") -> keras.Model:
    """Builds and compiles the lab's model for one recurrent cell.

    Args:
        cell: a cell's name in `labreport.core.cells` ("rnn", "gru", "lstm").
        config: sizes from `config.data` and `config.model`, optimizer settings from `config.train`.
        sequence_length: the input's time dimension; None accepts batches of any length (used when
            batches are bucketed by length), an int fixes it (the summary then shows it, as in the lab).
        loop: which recurrent loop (one of `LOOPS`, see `recurrent_layer`); "fused" and "compiled" are
            for training on a CPU only: summaries, parameter proofs and saved checkpoints use Keras'
            own layers ("keras").

    Returns:
        A compiled `keras.Model` named after the cell ("gru", "lstm", ...).
    """
    m = config.model
    inputs = keras.Input(shape=(sequence_length,), dtype="int32", name="review")
    x = layers.Embedding(config.data.vocab_size, m.embedding_dim, name="embedding")(inputs)
    x = layers.Bidirectional(recurrent_layer(cell, m, loop), name="bidirectional")(x)
    x = layers.Dropout(m.dropout, name="dropout")(x)
    outputs = layers.Dense(1, activation="sigmoid", name="dense")(x)
    model = keras.Model(inputs, outputs, name=cell)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=config.train.learning_rate),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )
    return model


def recurrent_loop(cell: str, config: Config, device: str, progress: Callable[[str], None] | None = None) -> str:
    """Which loop trains `cell` here (one of `LOOPS`): "compiled" where labreport's compiled loops build
    on this machine, else "fused", both on a CPU only and where the layer's settings allow them (the
    fused GRU computes Keras' default GRU only, `reset_after=True`); else "keras" (on a GPU that is
    cuDNN's kernel). `progress` hears of a first-use build of the compiled loops, or why they are
    not available."""
    if not (config.train.fused and device == "CPU" and cell in FUSED_LAYERS):
        return "keras"
    layer = recurrent_layer(cell, config.model, loop="fused")
    if not layer.fusable(mask=None, training=True):
        return "keras"
    if not config.train.compiled:
        return "fused"
    from labreport.experiment import kernels
    return "compiled" if kernels.default(progress).library is not None else "fused"


def loop_build(config: Config, loop: str) -> dict | None:
    """What the record says of the compiled loops' build for a model that ran `loop`
    (`models.<name>.loop_build`): None for Keras' own layer; the build's target and why it is not
    this CPU's own, or why the loop written as TensorFlow ops ran (see `recurrent_loop`)."""
    if loop == "keras":
        return None
    if not config.train.compiled:
        return {"target": None, "flags": None, "compiler": None, "reason": "disabled"}
    from labreport.experiment import kernels
    return kernels.default().build_facts()


def plain_twin(model: keras.Model, cell: str, config: Config) -> keras.Model:
    """The same model with Keras' own layers, the same weights and the same optimizer state: what a
    checkpoint holds, so it loads with Keras alone, as a checkpoint of Keras' own layers would."""
    twin = build_model(cell, config, sequence_length=None)
    twin.set_weights(model.get_weights())
    if model.optimizer.built:  # the fused layers hold their variables in Keras' order, so Adam's slots line up
        twin.optimizer.build(twin.trainable_variables)
        for mine, theirs in zip(twin.optimizer.variables, model.optimizer.variables, strict=True):
            mine.assign(theirs)
    return twin


def summary_text(model: keras.Model) -> str:
    """`model.summary()` as plain text (no terminal colours), exactly as Keras prints it."""
    lines: list[str] = []
    # Keras draws the table with rich, which takes its width from the terminal (80 columns when
    # there is none) and would cut the parameter column; COLUMNS fixes the width for this call.
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"
    try:
        model.summary(print_fn=lambda line, **_: lines.append(line), line_length=88)
    finally:
        if saved is None:
            os.environ.pop("COLUMNS")
        else:
            os.environ["COLUMNS"] = saved
    text = "\n".join(lines)
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def summary_rows(model: keras.Model) -> list[dict]:
    """One row per layer, as in `model.summary()`: name, type, output shape, parameter count."""
    return [
        {
            "name": layer.name,
            "type": type(layer).__name__,
            "output_shape": shape_text(layer.output.shape),
            "params": int(layer.count_params()),
        }
        for layer in model.layers
    ]

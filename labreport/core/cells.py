"""The recurrent cells labreport can train, each declared once, in one entry every wing reads.

An entry holds what the rest of the house would otherwise repeat: the cell's name (the key in the
settings, the record and the catalogs), its display name ("BiGRU", stored in the record), the Keras
layer it builds, its parameter rule (what `labreport.experiment.params` derives), its equations,
colour and citation, and the catalog messages that explain it in the report. Nothing here imports
TensorFlow, so the report and the site read it as freely as the experiment does.

The settings' choices (`labreport.core.settings.MODEL_NAMES`), the model builder's layer and
display name (`labreport.experiment.models`), the parameter derivation, the report's theory sections,
contrast table, citations and figure colours, and the sweep's gated models all come from `CELLS`. The
record's and the sweep's JSON schemas name the cells through `$defs/cell_name` (and the record's Keras
layers through `$defs/cell_layer`), which hold no list: `with_cells` fills them in from here when
labreport loads a schema, so an unknown cell in a record or a sweep summary is refused by the schema's
check. An unknown name or Keras layer is an error (`cell`, `by_layer`), never treated as another cell.

A new cell is one entry here plus its words in both catalogs (`templates/lang/*.toml`: `section.<name>`,
its explanation's message, `params.<kind>`, and `contrast.<row>.<name>` for a gated cell) and its
paper in `labreport/report/references.json` (`tests/core/test_cells.py` says what is missing).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping


@dataclass(frozen=True)
class ParameterRule:
    """The weights one direction of the cell's Keras layer builds, as its `build` makes them.

    Each of `blocks` blocks (a gate or the candidate) has an input kernel (d, h), a recurrent kernel
    (h, h) and `bias_vectors` bias vectors of h (none when the layer has `use_bias=False`), so one
    direction holds blocks·h·(d + h + bias_vectors) weights.
    """

    blocks: int
    bias_vectors: int
    kind: str
    """The derivation's kind: the report explains the layer with the catalog's `params.<kind>` sentence."""
    textbook: bool = False
    """Whether the report and `labreport params` compare the count with the textbook formula, one
    bias vector per block (Keras' default GRU has two)."""


@dataclass(frozen=True)
class LayerOption:
    """A Keras argument of the cell's layer that the lab sets from a model setting, and what it changes."""

    argument: str
    """The Keras argument ("reset_after")."""
    setting: str
    """The `[model]` setting that gives its value (a field of `labreport.core.settings.ModelConfig`)."""
    keras_default: bool
    """Keras' default, for a layer configuration that does not name the argument."""
    rule_when_off: ParameterRule
    """The parameter rule when the argument is False (the cell's own `parameters` hold when it is True)."""


@dataclass(frozen=True)
class Equation:
    key: str
    """The equation's key: references name it (`Ref("eq", key)`), the renderer numbers it."""
    math: str
    """Language-neutral math; `x_t` is a variable with subscript t."""
    note: str = ""
    """A side note printed beside the equation."""


@dataclass(frozen=True)
class Passage:
    """One catalog message of the report's theory section, with what it cites and refers to."""

    message: str
    citations: tuple[str, ...] = ()
    """Keys of `labreport/report/references.json`, given to the message as `{cite}`."""
    equations: Mapping[str, str] = field(default_factory=dict)
    """Message argument → equation key, given to the message as the equation's number."""


@dataclass(frozen=True)
class RecurrentCell:
    name: str
    """The key in the settings (`--models`), the record, the catalogs and the colours: "gru"."""
    display_name: str
    """The model's name in tables and sentences, wrapped in Bidirectional: "BiGRU"."""
    label: str
    """The cell's own short name, as the contrast table's column heads it: "GRU"."""
    keras_layer: str
    """The class in `keras.layers` that builds it; the record's `cell`."""
    gated: bool
    """Whether gates guard its state (the lab's claim compares the gated cells with the plain one)."""
    introduced: int
    """The year of the paper that introduced it: the report explains the cells in this order."""
    citation: str
    """The key of that paper in `labreport/report/references.json`."""
    color: str
    """The colour of its lines and points in every figure."""
    parameters: ParameterRule
    """The parameter rule of its Keras layer as the lab builds it by default."""
    explanation: Passage
    """The theory section's paragraph; the section's title is the catalog's `section.<name>`."""
    equations: tuple[Equation, ...] = ()
    equation_notes: tuple[Passage, ...] = ()
    """Paragraphs after the equations."""
    option: LayerOption | None = None
    keras_arguments: Mapping[str, Any] = field(default_factory=dict)
    """Fixed Keras arguments that make the layer this cell (an activation, an initializer); a cell may
    share its Keras layer with another this way, and then shares its parameter rule too."""

    def parameter_rule(self, layer_config: Mapping[str, Any]) -> ParameterRule:
        """The rule for a built layer, from its Keras `get_config()`."""
        if self.option is not None and not bool(layer_config.get(self.option.argument, self.option.keras_default)):
            return self.option.rule_when_off
        return self.parameters

    def rules(self) -> tuple[ParameterRule, ...]:
        """Every rule the cell's layer can follow."""
        return (self.parameters,) + ((self.option.rule_when_off,) if self.option else ())

    def layer_options(self, model_settings: Any) -> dict[str, Any]:
        """The Keras arguments the lab sets, fixed and from the `[model]` settings (a `ModelConfig` or its dict)."""
        if self.option is None:
            return dict(self.keras_arguments)
        value = (model_settings[self.option.setting] if isinstance(model_settings, Mapping)
                 else getattr(model_settings, self.option.setting))
        return {**self.keras_arguments, self.option.argument: value}


def _equations(*items: tuple[str, str, str]) -> tuple[Equation, ...]:
    return tuple(Equation(*item) for item in items)


CELLS: tuple[RecurrentCell, ...] = (
    RecurrentCell(
        name="rnn", display_name="BiRNN", label="RNN", keras_layer="SimpleRNN", gated=False,
        introduced=1990, citation="elman1990", color="#8c6d31",
        # kernel (d, h), recurrent kernel (h, h), bias (h)
        parameters=ParameterRule(blocks=1, bias_vectors=1, kind="simple_rnn"),
        explanation=Passage("rnn.problem", citations=("bengio1994", "pascanu2013")),
    ),
    RecurrentCell(
        name="gru", display_name="BiGRU", label="GRU", keras_layer="GRU", gated=True,
        introduced=2014, citation="cho2014", color="#1f77b4",
        # Keras' default, reset_after=True: the bias is (2, 3h), one vector for the input projection and
        # one for the recurrent one, because the reset gate is applied after the recurrent product
        # (r ⊙ (U·h + b_U)) as in cuDNN.
        parameters=ParameterRule(blocks=3, bias_vectors=2, kind="gru_reset_after", textbook=True),
        option=LayerOption("reset_after", "gru_reset_after", keras_default=True,
                           rule_when_off=ParameterRule(blocks=3, bias_vectors=1, kind="gru_textbook")),
        explanation=Passage("gru.text", citations=("cho2014",), equations={"eq": "gru_update"}),
        equations=_equations(
            ("gru_update_gate", "z_t = σ(W_z x_t + U_z h_t−1 + b_z)", ""),
            ("gru_reset_gate", "r_t = σ(W_r x_t + U_r h_t−1 + b_r)", ""),
            ("gru_candidate_after", "h̃_t = tanh(W_h x_t + b_h + r_t ⊙ (U_h h_t−1 + b′_h))", "Keras, reset_after=True"),
            ("gru_candidate_before", "h̃_t = tanh(W_h x_t + U_h (r_t ⊙ h_t−1) + b_h)", "reset_after=False"),
            ("gru_update", "h_t = z_t ⊙ h_t−1 + (1 − z_t) ⊙ h̃_t", ""),
        ),
        equation_notes=(Passage("gru.equation_note", equations={"eq_after": "gru_candidate_after",
                                                                 "eq_before": "gru_candidate_before"}),),
    ),
    RecurrentCell(
        name="lstm", display_name="BiLSTM", label="LSTM", keras_layer="LSTM", gated=True,
        introduced=1997, citation="hochreiter1997", color="#d62728",
        # four blocks: the input, forget and output gates and the candidate
        parameters=ParameterRule(blocks=4, bias_vectors=1, kind="lstm"),
        explanation=Passage("lstm.text", citations=("hochreiter1997",), equations={"eq": "lstm_cell"}),
        equations=_equations(
            ("lstm_forget", "f_t = σ(W_f x_t + U_f h_t−1 + b_f)", ""),
            ("lstm_input", "i_t = σ(W_i x_t + U_i h_t−1 + b_i)", ""),
            ("lstm_output", "o_t = σ(W_o x_t + U_o h_t−1 + b_o)", ""),
            ("lstm_candidate", "c̃_t = tanh(W_c x_t + U_c h_t−1 + b_c)", ""),
            ("lstm_cell", "c_t = f_t ⊙ c_t−1 + i_t ⊙ c̃_t", ""),
            ("lstm_hidden", "h_t = o_t ⊙ tanh(c_t)", ""),
        ),
    ),
)
"""Every cell, in the order of the settings' choices and the schemas' enumerations."""

NAMES: tuple[str, ...] = tuple(cell.name for cell in CELLS)
_BY_NAME = MappingProxyType({cell.name: cell for cell in CELLS})
# A Keras layer that builds several cells (with other `keras_arguments`) derives by the first one's rule.
_BY_LAYER = MappingProxyType({layer: next(c for c in CELLS if c.keras_layer == layer)
                              for layer in dict.fromkeys(c.keras_layer for c in CELLS)})
KERAS_LAYERS: tuple[str, ...] = tuple(_BY_LAYER)

CONTRAST_ROWS = ("state", "gates", "keeping", "output", "blocks")
"""The rows of the report's table that sets the gated cells side by side (catalog `contrast.<row>.<name>`)."""


def cell(name: str) -> RecurrentCell:
    """The cell named `name` ("gru"); an unknown name is a ValueError naming the known ones."""
    try:
        return _BY_NAME[name]
    except (KeyError, TypeError):
        raise ValueError("Received an invalid value for argument `cell`. Expected one of "
                         f"{', '.join(NAMES)}, received: cell={name!r}") from None


def by_layer(keras_layer: str) -> RecurrentCell:
    """The cell whose Keras layer class is named `keras_layer` ("GRU"); an unknown one is a ValueError."""
    try:
        return _BY_LAYER[keras_layer]
    except (KeyError, TypeError):
        raise ValueError("Received an invalid value for argument `keras_layer`. Expected one of "
                         f"{', '.join(KERAS_LAYERS)}, received: keras_layer={keras_layer!r}") from None


def in_history_order() -> list[RecurrentCell]:
    """The cells in the order they were introduced, as the report explains them (RNN, LSTM, GRU)."""
    return sorted(CELLS, key=lambda c: c.introduced)


def gated_names() -> tuple[str, ...]:
    """The gated cells' names, in the settings' order."""
    return tuple(c.name for c in CELLS if c.gated)


def parameter_kinds() -> tuple[str, ...]:
    """Every recurrent derivation kind (`ParameterRule.kind`), each with its catalog sentence."""
    return tuple(dict.fromkeys(rule.kind for c in CELLS for rule in c.rules()))


def most_blocks() -> int:
    """The most blocks any cell's direction has (an LSTM's four): the memory estimate's largest model."""
    return max(rule.blocks for c in CELLS for rule in c.rules())


def most_bias_vectors() -> int:
    """The most bias vectors any cell's block has (the default GRU's two), for the same estimate."""
    return max(rule.bias_vectors for c in CELLS for rule in c.rules())


def colors() -> dict[str, str]:
    """Each cell's name → its figure colour."""
    return {c.name: c.color for c in CELLS}


SCHEMA_DEFINITIONS: Mapping[str, tuple[str, ...]] = MappingProxyType({"cell_name": NAMES, "cell_layer": KERAS_LAYERS})
"""The `$defs` entries of labreport's JSON schemas that name the cells → the registry's list they take."""


def with_cells(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` (a JSON Schema document) with its cell definitions' enumerations filled from `CELLS`.

    The schema files hold `$defs/cell_name` (and the record's `$defs/cell_layer`) with a description and
    no list, so that the registry stays the one list of cells; this adds `enum` to each one present (in a
    copy: `schema` itself is left as it is).
    """
    definitions = dict(schema.get("$defs", {}))
    for key, listed in SCHEMA_DEFINITIONS.items():
        if key in definitions:
            definitions[key] = {**definitions[key], "enum": list(listed)}
    return {**schema, "$defs": definitions}

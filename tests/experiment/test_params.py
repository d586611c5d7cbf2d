"""Every derived parameter count must equal Keras' own count, layer by layer."""

import itertools
import json
import subprocess
import sys

import keras
import pytest
from keras import layers  # noqa: E402

from labreport.core import cells  # noqa: E402
from labreport.core.config import Config, load_config  # noqa: E402
from labreport.experiment import params  # noqa: E402
from labreport.experiment.models import build_model  # noqa: E402


def assert_agrees(model):
    derivation = params.derive_model(model)
    for row in derivation["layers"]:
        assert row["ok"] is True, row
        assert row["derived"] == row["keras"]
        assert row["shape_ok"] is True, row
    assert derivation["total"]["ok"] is True
    assert derivation["total"]["derived"] == model.count_params()
    return derivation


CELLS = {
    "gru_after": lambda h: layers.GRU(h, reset_after=True),
    "gru_before": lambda h: layers.GRU(h, reset_after=False),
    "lstm": lambda h: layers.LSTM(h),
    "rnn": lambda h: layers.SimpleRNN(h),
}


@pytest.mark.parametrize(
    "cell, vocab, dim, units, wrap, return_sequences",
    [
        (cell, vocab, dim, units, wrap, seq)
        for cell, (vocab, dim, units), wrap, seq in itertools.product(
            CELLS,
            [(50, 8, 4), (1000, 3, 7)],
            ["none", "concat", "sum", "mul", "ave"],
            [False, True],
        )
    ],
)
def test_grid_of_small_models(cell, vocab, dim, units, wrap, return_sequences):
    inputs = keras.Input(shape=(11,), dtype="int32")
    x = layers.Embedding(vocab, dim)(inputs)
    recurrent = CELLS[cell](units)
    recurrent = type(recurrent).from_config({**recurrent.get_config(), "return_sequences": return_sequences})
    x = recurrent(x) if wrap == "none" else layers.Bidirectional(recurrent, merge_mode=wrap)(x)
    x = layers.Dropout(0.3)(x)
    outputs = layers.Dense(3)(x)
    assert_agrees(keras.Model(inputs, outputs))


def test_dense_without_bias():
    inputs = keras.Input(shape=(5,))
    assert_agrees(keras.Model(inputs, layers.Dense(4, use_bias=False)(inputs)))


def test_unknown_layer_is_reported_not_guessed():
    inputs = keras.Input(shape=(6, 4))
    model = keras.Model(inputs, layers.Conv1D(2, 3)(inputs))
    derivation = params.derive_model(model)
    conv = derivation["layers"][-1]
    assert conv["derived"] is None and conv["ok"] is None and conv["kind"] == "unknown"
    assert derivation["total"]["ok"] is None
    assert not params.all_agree([derivation])


def test_the_labs_numbers():
    config = Config()
    gru = assert_agrees(build_model("gru", config, sequence_length=300))
    lstm = assert_agrees(build_model("lstm", config, sequence_length=300))
    by_name = {row["name"]: row for row in gru["layers"]}
    assert by_name["embedding"]["derived"] == 1_280_000
    assert by_name["embedding"]["output_shape"] == "(None, 300, 128)"
    assert by_name["bidirectional"]["derived"] == 74_496
    assert by_name["bidirectional"]["formula_with_values"] == "2 × 3·64·(128 + 64 + 2)"
    assert by_name["bidirectional"]["output_shape"] == "(None, 128)"
    assert by_name["bidirectional"]["textbook"]["value"] == 74_112
    assert by_name["dense"]["derived"] == 129
    assert gru["total"]["keras"] == 1_354_625
    assert gru["weight_size"] == "5.17 MB"
    lstm_rows = {row["name"]: row for row in lstm["layers"]}
    assert lstm_rows["bidirectional"]["derived"] == 98_816
    assert lstm_rows["bidirectional"]["output_shape"] == "(None, 128)"
    assert lstm["total"]["keras"] == 1_378_945


def test_textbook_gru_matches_the_textbook_formula():
    config = load_config(flags={"model": {"gru_reset_after": False}})
    derivation = assert_agrees(build_model("gru", config, sequence_length=300))
    row = {r["name"]: r for r in derivation["layers"]}["bidirectional"]
    assert row["derived"] == row["keras"] == 2 * 3 * 64 * (128 + 64 + 1) == 74_112
    assert "textbook" not in row


@pytest.mark.parametrize("cell, option", [(cell.name, value) for cell in cells.CELLS
                                           for value in ((True, False) if cell.option else (None,))])
def test_every_registered_cell_is_built_and_derived_as_keras_counts_it(cell, option):
    # What a new entry in labreport.core.cells must pass: the lab's model builds its Keras layer and the
    # entry's parameter rule gives Keras' count, with each value of the layer option it takes from a setting.
    entry = cells.cell(cell)
    flags = {"data": {"vocab_size": 50}, "model": {"embedding_dim": 6, "hidden_units": 5}}
    if entry.option is not None:
        flags["model"][entry.option.setting] = option
    model = build_model(cell, load_config(flags=flags), sequence_length=9)
    derivation = assert_agrees(model)
    row = {r["name"]: r for r in derivation["layers"]}["bidirectional"]
    assert row["type"] == "Bidirectional" and model.get_layer("bidirectional").forward_layer.__class__.__name__ == entry.keras_layer
    assert row["kind"] == entry.parameter_rule({} if option is None else {entry.option.argument: option}).kind


def test_an_unregistered_recurrent_layer_is_an_error_not_a_simple_rnn():
    with pytest.raises(ValueError, match="keras_layer='ConvLSTM1D'"):
        params._recurrent("ConvLSTM1D", {"units": 3}, 4)
    with pytest.raises(ValueError, match="received: cell='mgu'"):
        build_model("mgu", Config())


def test_params_command_json_and_exit_status():
    result = subprocess.run(
        [sys.executable, "-m", "labreport", "params", "--json", "--hidden-units", "5", "--embedding-dim", "7",
         "--vocab-size", "99", "--models", "rnn,gru,lstm"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert [m["name"] for m in report["models"]] == ["rnn", "gru", "lstm"]
    for model in report["models"]:
        assert model["total"]["ok"] is True
        assert set(model["layers"][0]) == {"name", "type", "output_shape", "formula", "formula_with_values",
                                            "derived", "keras", "ok"}

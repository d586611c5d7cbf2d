"""The cell registry is the one list of recurrent cells: the schemas take their cells from it, the
settings, catalogs and references agree with it, and an unknown cell is an error, never another cell."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labreport.core import LabreportError, cells
from labreport.core import record as record_module
from labreport.core.settings import MODEL_NAMES, ModelConfig
from tests.core.test_record_trust import setter

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = [ROOT / "labreport" / "core" / "record.schema.json", ROOT / "labreport" / "sweep" / "sweep.schema.json"]


def enumerations(node, path="#"):
    """Every `enum` and `const` in a JSON schema, with where it is."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("enum", "const"):
                yield path, value if isinstance(value, list) else [value]
            else:
                yield from enumerations(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from enumerations(value, f"{path}/{i}")


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda p: p.name)
def test_no_schema_file_lists_the_cells_and_each_says_where_the_list_is(schema):
    # The registry is the one list: a schema names the cells through `$defs/cell_name` (and the record's
    # Keras layers through `$defs/cell_layer`), which labreport fills in when it loads the file.
    shipped = json.loads(schema.read_text(encoding="utf-8"))
    for path, values in enumerations(shipped):
        named = {str(v) for v in values} & {*cells.NAMES, *cells.KERAS_LAYERS}
        assert not named, f"{schema.name} {path} lists {sorted(named)}: refer to #/$defs/cell_name or cell_layer instead"
    wanted = ["cell_name", "cell_layer"] if schema.name == "record.schema.json" else ["cell_name"]
    for key in wanted:
        assert "enum" not in shipped["$defs"][key], key
        assert "labreport/core/cells.py" in shipped["$defs"][key]["description"], key
    assert "labreport/core/cells.py" in shipped["description"]  # an outside validator's reader learns where


def test_labreport_fills_the_schemas_cells_from_the_registry():
    from labreport.sweep import summary

    loaded = record_module.schema()
    assert loaded["$defs"]["cell_name"]["enum"] == list(cells.NAMES)
    assert loaded["$defs"]["cell_layer"]["enum"] == list(cells.KERAS_LAYERS)
    assert summary.schema()["$defs"]["cell_name"]["enum"] == list(cells.NAMES)


UNKNOWN_CELLS = {
    "setting": (setter(("config", "model", "models", 0), "mgu"), 'config.model.models.0 is "mgu"'),
    "key": (lambda r: r["models"].__setitem__("mgu", r["models"]["gru"]), 'models has the key "mgu"'),
    "name": (setter(("models", "gru", "name"), "mgu"), 'models.gru.name is "mgu"'),
    "layer": (setter(("models", "gru", "cell"), "ConvLSTM1D"), 'models.gru.cell is "ConvLSTM1D"'),
}


@pytest.mark.parametrize("case", list(UNKNOWN_CELLS))
def test_a_record_naming_a_cell_the_registry_lacks_is_refused_with_one_line(record, case):
    change, expected = UNKNOWN_CELLS[case]
    change(record)
    listed = cells.KERAS_LAYERS if case == "layer" else cells.NAMES
    with pytest.raises(LabreportError) as caught:
        record_module.validate_record(record, "results.json")
    assert str(caught.value) == f"results.json: {expected}, not one of {', '.join(json.dumps(n) for n in listed)}"


def test_the_settings_choices_are_the_registrys_names():
    assert MODEL_NAMES == cells.NAMES
    assert len(set(cells.NAMES)) == len(cells.NAMES)
    for cell in cells.CELLS:  # a Keras layer derives by one rule, whichever cell built it
        assert cell.rules() == cells.by_layer(cell.keras_layer).rules(), cell.name


def test_an_unknown_cell_or_layer_is_an_error_naming_the_known_ones():
    with pytest.raises(ValueError, match=f"Expected one of {', '.join(cells.NAMES)}, received: cell='mgu'"):
        cells.cell("mgu")
    with pytest.raises(ValueError, match=r"received: keras_layer='ConvLSTM1D'"):
        cells.by_layer("ConvLSTM1D")


def test_the_gru_rule_follows_reset_after_and_the_option_comes_from_its_setting():
    gru = cells.cell("gru")
    assert gru.parameter_rule({}).kind == "gru_reset_after"  # Keras' default
    assert gru.parameter_rule({"reset_after": False}) == cells.ParameterRule(3, 1, "gru_textbook")
    assert gru.layer_options(ModelConfig(gru_reset_after=False)) == {"reset_after": False}
    assert cells.cell("lstm").layer_options(ModelConfig()) == {}
    assert cells.most_blocks() >= 4 and cells.most_bias_vectors() >= 2


def test_the_report_explains_the_cells_in_the_order_they_were_introduced():
    order = [c.name for c in cells.in_history_order()]
    assert [name for name in order if name in ("rnn", "gru", "lstm")] == ["rnn", "lstm", "gru"]
    assert [c.introduced for c in cells.in_history_order()] == sorted(c.introduced for c in cells.CELLS)
    assert {"gru", "lstm"} <= set(cells.gated_names()) and "rnn" not in cells.gated_names()


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_each_catalog_has_every_cells_words(lang):
    from labreport.report.catalog import load_catalog
    from labreport.report.templates import builtin_templates

    catalog = load_catalog(lang, [builtin_templates()])
    for cell in cells.CELLS:
        needed = [f"section.{cell.name}", cell.explanation.message, *(note.message for note in cell.equation_notes),
                  *(f"params.{rule.kind}" for rule in cell.rules())]
        if cell.gated:
            needed += [f"contrast.{row}.{cell.name}" for row in cells.CONTRAST_ROWS]
        for message in needed:
            assert message in catalog.messages, f"{lang}.toml lacks `{message}` for the {cell.name} cell"


def test_every_cells_papers_are_in_the_reference_list_and_its_equations_are_named_once():
    from labreport.report.references import load_entries

    entries = load_entries()
    keys = [e.key for cell in cells.CELLS for e in cell.equations]
    assert len(keys) == len(set(keys))
    for cell in cells.CELLS:
        passages = [cell.explanation, *cell.equation_notes]
        for key in [cell.citation, *(k for p in passages for k in p.citations)]:
            assert key in entries, f"{cell.name} cites {key}, which references.json lacks"
        for p in passages:
            assert set(p.equations.values()) <= set(keys), p

"""The cell registry is the one list of recurrent cells: the schemas, settings, catalogs and
references agree with it, and an unknown cell is an error, never another cell."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labreport.core import cells
from labreport.core.settings import MODEL_NAMES, ModelConfig

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = [ROOT / "labreport" / "core" / "record.schema.json", ROOT / "labreport" / "sweep" / "sweep.schema.json"]


def enumerations(node, path="#"):
    """Every `enum` in a JSON schema, with where it is."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "enum" and isinstance(value, list):
                yield path, value
            else:
                yield from enumerations(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from enumerations(value, f"{path}/{i}")


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda p: p.name)
def test_every_cell_enumeration_in_the_schemas_lists_exactly_the_registrys_cells(schema):
    # Found, not listed by hand: any enumeration that names a cell (or a cell's Keras layer) must name
    # them all, so a cell added to the registry fails here at each place the schema must list it.
    found = {"names": 0, "layers": 0}
    for path, values in enumerations(json.loads(schema.read_text(encoding="utf-8"))):
        if set(values) & set(cells.NAMES):
            assert sorted(values) == sorted(cells.NAMES), (
                f"{schema.name} {path} lists {values}, the registry {list(cells.NAMES)}: list every cell there")
            found["names"] += 1
        if set(values) & set(cells.KERAS_LAYERS):
            assert sorted(values) == sorted(cells.KERAS_LAYERS), (
                f"{schema.name} {path} lists {values}, the registry's Keras layers {list(cells.KERAS_LAYERS)}: list every one there")
            found["layers"] += 1
    assert found["names"] >= 1, f"{schema.name} has no enumeration of the cells' names"
    if schema.name == "record.schema.json":
        assert found["layers"] >= 1, "the record's schema has no enumeration of the cells' Keras layers"


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

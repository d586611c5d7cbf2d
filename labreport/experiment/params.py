"""Every layer's parameter count, derived from its configuration and checked against Keras.

The formulas follow what each layer builds (Keras `src/layers/...`); a recurrent cell's rule is its
entry in `labreport.core.cells`:

- Embedding: a (V, d) matrix → V·d.
- SimpleRNN cell: kernel (d, h), recurrent kernel (h, h), bias (h) → h·(d + h + 1).
- LSTM cell: the same for four gates (input, forget, cell, output) → 4·h·(d + h + 1).
- GRU cell, `reset_after=False` (the textbook GRU): three gates (update, reset, candidate), one bias
  each → 3·h·(d + h + 1).
- GRU cell, `reset_after=True` (Keras' default): the bias has shape (2, 3h), one vector for the input
  projection and one for the recurrent projection, because the reset gate is applied after the
  recurrent matrix product (r ⊙ (U·h + b_U)) as in cuDNN → 3·h·(d + h + 2).
- Bidirectional: two independent copies of the wrapped layer → 2 × (one direction). With
  `merge_mode="concat"` the output width is 2·h; "sum", "mul" and "ave" keep h.
- Dense: kernel (n_in, n_out) and bias (n_out) → (n_in + 1)·n_out.
- Dropout, InputLayer: no weights → 0.

Only each layer's `get_config()` and input width are read, never its weights; `count_params()` is
the independent check. A layer type not listed here is reported as not derived, never guessed.
"""

from __future__ import annotations

from typing import Any

from labreport.core import cells


def _n(value: int) -> str:
    return f"{value:,}"


def shape_text(dims) -> str:
    """A shape as Keras prints it: `(None, 300, 128)`."""
    return "(" + ", ".join("None" if d is None else str(int(d)) for d in dims) + ("," if len(dims) == 1 else "") + ")"


def readable_size(num_bytes: int) -> str:
    """Bytes as Keras' summary prints them ("5.17 MB", 1024-based)."""
    units = ["B", "KB", "MB", "GB", "TB"]
    size, unit = float(num_bytes), 0
    while size >= 1024 and unit < len(units) - 1:
        size /= 1024
        unit += 1
    return f"{size:.2f} {units[unit]}"


def _recurrent(cell_type: str, config: dict, d: int) -> dict[str, Any]:
    """One direction of a recurrent layer: symbols, formula, value, and output width.

    The rule is the entry in `labreport.core.cells` of the cell built by this Keras layer (cells that
    share a layer share its rule); a layer type with no entry is a ValueError.
    """
    rule = cells.by_layer(cell_type).parameter_rule(config)
    h = int(config["units"])
    bias = bool(config.get("use_bias", True))
    gates, bias_vectors, kind = rule.blocks, rule.bias_vectors if bias else 0, rule.kind
    tail = f" + {bias_vectors}" if bias_vectors else ""
    prefix = f"{gates}·" if gates > 1 else ""
    result = {
        "kind": kind,
        "symbols": {"d": d, "h": h},
        "formula": f"{prefix}h·(d + h{tail})",
        "formula_with_values": f"{prefix}{h}·({d} + {h}{tail})",
        "value": gates * h * (d + h + bias_vectors),
        "units": h,
        "return_sequences": bool(config.get("return_sequences", False)),
    }
    if rule.textbook and bias:
        # the textbook formula has one bias vector per block
        result["textbook"] = {
            "formula": f"{prefix}h·(d + h + 1)",
            "formula_with_values": f"{prefix}{h}·({d} + {h} + 1)",
            "value": gates * h * (d + h + 1),
            "extra_bias": gates * h * (bias_vectors - 1),
        }
    return result


RECURRENT_TYPES = cells.KERAS_LAYERS
"""The Keras layers derived as recurrent cells: every cell of `labreport.core.cells`."""


def derive_layer(layer_type: str, config: dict, input_shape: list[int | None]) -> dict[str, Any]:
    """Derives one layer's parameter formula and output shape from its configuration.

    Args:
        layer_type: the Keras class name ("Embedding", "Bidirectional", "Dense", ...).
        config: the layer's `get_config()`.
        input_shape: the layer's input shape, batch dimension first (None for unknown).

    Returns:
        A dict with `kind`, `formula`, `formula_with_values`, `derived` (None when the type is not
        known), `output_shape` (derived, as text or None) and, for recurrent layers, `symbols` and
        the textbook GRU comparison.
    """
    # One piece: one branch per layer kind, each mirroring that layer's `build`; split, the branches would lose their shared row.
    d = input_shape[-1] if input_shape else None
    if layer_type == "InputLayer":
        return {"kind": "input", "formula": "0", "formula_with_values": "0", "derived": 0,
                "output_shape": shape_text(list(input_shape))}
    if layer_type == "Dropout":
        return {"kind": "dropout", "symbols": {"rate": float(config["rate"])}, "formula": "0", "formula_with_values": "0", "derived": 0,
                "output_shape": shape_text(list(input_shape))}
    if layer_type == "Embedding":
        v, e = int(config["input_dim"]), int(config["output_dim"])
        return {"kind": "embedding", "symbols": {"V": v, "d": e}, "formula": "V·d",
                "formula_with_values": f"{_n(v)}·{e}", "derived": v * e,
                "output_shape": shape_text(list(input_shape) + [e])}
    if layer_type == "Dense":
        units, bias = int(config["units"]), bool(config.get("use_bias", True))
        return {"kind": "dense", "symbols": {"n_in": d, "n_out": units},
                "formula": "(n_in + 1)·n_out" if bias else "n_in·n_out",
                "formula_with_values": f"({d} + 1)·{units}" if bias else f"{d}·{units}",
                "derived": ((d + 1) if bias else d) * units,
                "output_shape": shape_text(list(input_shape[:-1]) + [units])}
    if layer_type in RECURRENT_TYPES:
        one = _recurrent(layer_type, config, d)
        return {**one, "derived": one.pop("value"),
                "output_shape": _recurrent_shape(input_shape, one["units"], one["return_sequences"])}
    if layer_type == "Bidirectional":
        inner = config["layer"]
        inner_type, inner_config = inner["class_name"], inner["config"]
        if inner_type not in RECURRENT_TYPES:
            return _unknown(f"Bidirectional({inner_type})")
        one = _recurrent(inner_type, inner_config, d)
        merge = config.get("merge_mode", "concat")
        width = 2 * one["units"] if merge == "concat" else one["units"]
        result = {
            **one,
            "kind": one["kind"],
            "bidirectional": True,
            "merge_mode": merge,
            "formula": f"2 × {one['formula']}",
            "formula_with_values": f"2 × {one['formula_with_values']}",
            "derived": 2 * one["value"],
            "per_direction": one["value"],
            "output_shape": _recurrent_shape(input_shape, width, one["return_sequences"]),
            "output_width": f"2·{one['units']}" if merge == "concat" else f"{one['units']}",
        }
        result.pop("value")
        if "textbook" in one:
            tb = one["textbook"]
            result["textbook"] = {
                "formula": f"2 × {tb['formula']}",
                "formula_with_values": f"2 × {tb['formula_with_values']}",
                "value": 2 * tb["value"],
                "extra_bias": 2 * tb["extra_bias"],
            }
        return result
    return _unknown(layer_type)


def _recurrent_shape(input_shape: list[int | None], width: int, return_sequences: bool) -> str:
    batch = input_shape[0] if input_shape else None
    return shape_text([batch, input_shape[1], width] if return_sequences else [batch, width])


def _unknown(layer_type: str) -> dict[str, Any]:
    return {"kind": "unknown", "formula": None, "formula_with_values": None, "derived": None,
            "output_shape": None, "unknown_type": layer_type}


def derive_model(model, name: str | None = None) -> dict[str, Any]:
    """Derives every layer of a built Keras model and compares it with `count_params()`.

    Returns:
        {"name", "layers": [{"name", "type", "output_shape", "derived_output_shape", "formula",
        "formula_with_values", "derived", "keras", "ok", ...}], "total": {"derived", "keras", "ok"},
        "weight_bytes", "weight_size"}. `ok` is None for a layer that could not be derived.
    """
    rows = []
    for layer in model.layers:
        input_shape = [None if x is None else int(x) for x in _input_shape(layer)]
        derivation = derive_layer(type(layer).__name__, layer.get_config(), input_shape)
        keras_count = int(layer.count_params())
        keras_shape = shape_text(layer.output.shape)
        derived = derivation["derived"]
        derived_shape = derivation.pop("output_shape")
        rows.append({
            "name": layer.name,
            "type": type(layer).__name__,
            "output_shape": keras_shape,
            "derived_output_shape": derived_shape,
            "shape_ok": None if derived_shape is None else derived_shape == keras_shape,
            **derivation,
            "keras": keras_count,
            "ok": None if derived is None else derived == keras_count,
        })
    keras_total = int(model.count_params())
    derived_total = sum(r["derived"] for r in rows) if all(r["derived"] is not None for r in rows) else None
    num_bytes = int(sum(w.numpy().nbytes for w in model.weights))  # as Keras' summary counts them
    return {
        "name": name or model.name,
        "layers": rows,
        "total": {"derived": derived_total, "keras": keras_total,
                  "ok": None if derived_total is None else derived_total == keras_total},
        "weight_bytes": num_bytes,
        "weight_size": readable_size(num_bytes),
    }


def _input_shape(layer) -> tuple:
    if type(layer).__name__ == "InputLayer":
        return tuple(layer.output.shape)
    return tuple(layer.input.shape)


def all_agree(derivations: list[dict]) -> bool:
    """True when every layer and total was derived and equals Keras' count (and shape)."""
    for model in derivations:
        if model["total"]["ok"] is not True:
            return False
        for row in model["layers"]:
            if row["ok"] is not True or row["shape_ok"] is False:
                return False
    return True


def format_table(derivation: dict) -> str:
    """A plain-text table of one model's derivation, for `labreport params`."""
    header = ("layer", "type", "output shape", "formula", "with values", "derived", "Keras", "")
    rows = [header]
    for r in derivation["layers"]:
        mark = "ok" if r["ok"] else ("?" if r["ok"] is None else "MISMATCH")
        if r["shape_ok"] is False:
            mark += " (shape)"
        rows.append((
            r["name"], r["type"], r["output_shape"], r["formula"] or "not derived",
            r["formula_with_values"] or "-", "-" if r["derived"] is None else _n(r["derived"]),
            _n(r["keras"]), mark,
        ))
    total = derivation["total"]
    rows.append(("total", "", "", "", "", "-" if total["derived"] is None else _n(total["derived"]),
                 _n(total["keras"]), "ok" if total["ok"] else "MISMATCH"))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(header))]
    lines = [f"Model {derivation['name']} ({derivation['weight_size']} of weights)"]
    for i, row in enumerate(rows):
        lines.append("  ".join(str(cell).ljust(widths[j]) for j, cell in enumerate(row)).rstrip())
        if i == 0 or i == len(rows) - 2:
            lines.append("  ".join("-" * w for w in widths))
    for r in derivation["layers"]:
        if "textbook" in r:
            tb = r["textbook"]
            lines.append(
                f"  note: {r['name']} is a GRU with reset_after=True (Keras' default): the textbook formula "
                f"{tb['formula']} = {tb['formula_with_values']} = {_n(tb['value'])} is {_n(tb['extra_bias'])} short, "
                "one extra recurrent bias vector of 3·h per direction; --no-gru-reset-after builds the textbook GRU."
            )
    return "\n".join(lines)

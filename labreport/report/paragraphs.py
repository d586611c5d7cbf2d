"""Which sentences the report says: each paragraph is a list of message ids with their arguments.

The choice is made here, once, from the record and the discussion facts; the words of each
language live in its catalog (`labreport.report.catalog`). A message's arguments are numbers already
formatted (`labreport.report.numbers`), names, and references that the document resolves when it numbers
its parts: `Ref("fig", "flow")` becomes "1" and `Cite("adam")` becomes "[6]".
"""

from __future__ import annotations

from typing import Any

from labreport.core import cells
from labreport.report.discussion import RANDOMIZED_LOW
from labreport.report.document import Cite, M, Msg, Para, Ref, Series  # noqa: F401  (the pieces paragraphs are made of)
from labreport.report.numbers import format_number as num
from labreport.report.numbers import format_percent as pct
from labreport.report.numbers import format_points as pts


def _first(record: dict) -> dict:
    return next(iter(record["models"].values()))


def names(record: dict, keys) -> list[str]:
    return [record["models"][key]["display_name"] for key in keys]


# ---------------------------------------------------------------------------------------------
# 1. Objective and program flow


def objective(record: dict) -> list[Para]:
    history = cells.in_history_order()
    gated = names(record, [n for n in record["models"] if cells.cell(n).gated])
    has_plain = any(not cells.cell(n).gated for n in record["models"])
    listed = tuple(gated)  # joined by the catalog's list separators
    plain_papers = [c.citation for c in history if not c.gated]
    if gated and has_plain:
        aim = M("objective.aim.gated_with_rnn", gated=listed, cite=Cite(*[c.citation for c in history if c.gated], *plain_papers))
    elif gated:
        aim = M("objective.aim.gated", gated=listed, cite=Cite(*[c.citation for c in history
                                                                if c.gated and c.name in record["models"]]))
    else:
        aim = M("objective.aim.rnn_only", cite=Cite(*plain_papers))
    model = record["config"]["model"]
    return [
        Para([aim, M("objective.sizes", embedding=model["embedding_dim"], units=model["hidden_units"],
                     cite=Cite("schuster1997"))]),
        Para([M("objective.outline", test=num(record["dataset"]["splits"]["test"]["total"]))]),
    ]


def _passage(passage: cells.Passage) -> Para:
    args: dict[str, Any] = {argument: Ref("eq", key) for argument, key in passage.equations.items()}
    if passage.citations:
        args["cite"] = Cite(*passage.citations)
    return Para([M(passage.message, **args)])


def cell_text(cell: cells.RecurrentCell) -> list[Para]:
    """The theory section's paragraph on `cell` (the plain RNN's problem, the LSTM's cell state, ...)."""
    return [_passage(cell.explanation)]


def cell_equation_notes(cell: cells.RecurrentCell) -> list[Para]:
    """What `cell`'s equations leave to say (the GRU's two candidates)."""
    return [_passage(note) for note in cell.equation_notes]


def flow(record: dict) -> list[Para]:
    train, data = record["config"]["train"], record["dataset"]["preprocessing"]
    length = data["max_length"]
    first = [
        M("flow.read", seed=train["seed"], validation=pct(train["validation_split"], 0)),
        M("flow.clean"),
        M("flow.vocabulary", words=num(record["dataset"]["vocabulary"]["size"] - 2)),
        M("flow.pad.pre" if data["padding"] == "pre" else "flow.pad.post", length=length),
    ]
    second = [
        M("flow.train", learning_rate=train["learning_rate"], batch=train["batch_size"], epochs=train["epochs"],
          adam=Cite("kingma2015")),
        M("flow.early_stopping", patience=train["patience"]),
        M("flow.evaluate"),
        M("flow.figure", fig=Ref("fig", "flow")),
    ]
    paragraphs = [Para(first), Para(second)]
    if train["bucketing"]:
        paragraphs.append(Para([M("flow.bucketing", length=length)]))
    return paragraphs


def flow_steps(record: dict) -> list[tuple]:
    """The program-flow diagram: (title, detail, stage) per step, with this run's sizes."""
    config, splits = record["config"], record["dataset"]["splits"]
    cells = "/".join(entry["display_name"] for entry in record["models"].values())
    return [
        (M("flow.step.reviews"), M("flow.step.reviews_detail", train=splits["train"]["total"] + splits["validation"]["total"],
                                   test=splits["test"]["total"]), "data"),
        (M("flow.step.clean"), M("flow.step.clean_detail"), "data"),
        (M("flow.step.vocab"), M("flow.step.vocab_detail", size=config["data"]["vocab_size"]), "data"),
        (M("flow.step.pad"), M("flow.step.pad_detail", length=config["data"]["max_length"], side=config["data"]["padding"]), "data"),
        ("Embedding", f"{num(config['data']['vocab_size'])} → {config['model']['embedding_dim']}", "model"),
        (cells, f"2 × {config['model']['hidden_units']}", "model"),
        ("Dropout", str(config["model"]["dropout"]), "model"),
        ("Dense (sigmoid)", M("flow.step.decision_detail", threshold=record["decision_threshold"]), "model"),
    ]


# ---------------------------------------------------------------------------------------------
# 2. Parameters


def params_intro() -> list[Para]:
    return [Para([M("params.intro")])]


RECURRENT_KINDS = cells.parameter_kinds()
"""Each cell's derivation kinds (`labreport.core.cells`), each explained by the catalog's `params.<kind>`."""


def layer_note(row: dict) -> list[Para]:
    """What one layer's count is made of, with this run's sizes."""
    kind, symbols = row["kind"], row.get("symbols", {})
    if kind == "embedding":
        return [Para([M("params.embedding", name=row["name"], d=symbols["d"], V=num(symbols["V"]),
                        derived=num(row["derived"]), shape=row["output_shape"])])]
    if kind in RECURRENT_KINDS:
        h, d = symbols["h"], symbols["d"]
        sentences = [
            M(f"params.{kind}", name=row["name"], d=d, h=h, per_direction=num(row["per_direction"])),
            M("params.bidirectional", per_direction=num(row["per_direction"]), derived=num(row["derived"])),
        ]
        if row["merge_mode"] == "concat":
            sentences.append(M("params.merge.concat", width=row["output_width"], shape=row["output_shape"], h=h, h2=2 * h))
        else:
            sentences.append(M("params.merge.other", mode=row["merge_mode"], h=h, shape=row["output_shape"]))
        paragraphs = [Para(sentences)]
        if "textbook" in row:
            book = row["textbook"]
            paragraphs.append(Para([M("params.textbook", formula=book["formula"], with_values=book["formula_with_values"],
                                      value=num(book["value"]), keras=num(row["keras"]),
                                      extra=num(book["extra_bias"]), h=h)], css="note"))
        return paragraphs
    if kind == "dropout":
        return [Para([M("params.dropout", name=row["name"], rate=pct(symbols["rate"], 0), shape=row["output_shape"],
                        cite=Cite("srivastava2014"))])]
    if kind == "dense":
        return [Para([M("params.dense", name=row["name"], n_out=symbols["n_out"], n_in=symbols["n_in"],
                        derived=num(row["derived"]))])]
    if kind == "unknown":
        return [Para([M("params.unknown", name=row["name"], type=row["unknown_type"], keras=num(row["keras"]))])]
    return []  # the input layer: nothing to explain beyond its row in the table


# ---------------------------------------------------------------------------------------------
# 3. Results


def dataset(record: dict) -> list[Para]:
    ds = record["dataset"]
    lengths = ds["lengths"]["train"]
    source = ds["source"] if ds["source"] in ("tfds", "sample") else "archive"
    sentences = [
        M(f"dataset.source.{source}", cite=Cite("maas2011")),
        M("dataset.counts", train=num(ds["splits"]["train"]["total"] + ds["splits"]["validation"]["total"]),
          test=num(ds["splits"]["test"]["total"])),
        M("dataset.lengths", median=num(lengths["median"]), mean=num(lengths["mean"], 1), max=num(lengths["max"])),
        M("dataset.truncation", length=ds["preprocessing"]["max_length"], share=pct(lengths["truncated_share"], 1),
          after=num(lengths["mean_after_truncation"], 1)),
        M("dataset.coverage", train=pct(ds["vocabulary"]["coverage_train"], 1), test=pct(ds["vocabulary"]["coverage_test"], 1)),
    ]
    if ds.get("undecodable_reviews"):
        sentences.append(M("dataset.undecodable", count=ds["undecodable_reviews"], n=num(ds["undecodable_reviews"])))
    return [Para(sentences)]


def training_intro(record: dict, facts: dict) -> list[Para]:
    sentences = [M("training.intro", epochs=record["config"]["train"]["epochs"])]
    if facts["runs"] > 1:
        sentences.append(M("training.intro_seeds", runs=facts["runs"], seed=record["config"]["train"]["seed"]))
    sentences.append(M("training.intro_table"))
    return [Para(sentences)]


def training(entry: dict, facts: dict) -> list[Para]:
    o = facts["overfitting"][entry["name"]]
    model = entry["display_name"]
    if entry["stopped_early"]:
        ran = M("training.ran.early", model=model, epochs=entry["epochs_run"], count=entry["epochs_run"],
                patience=entry["early_stopping"]["patience"])
    else:
        ran = M("training.ran.full", model=model, epochs=entry["epochs_run"], count=entry["epochs_run"])
    sentences = [ran, M("training.peak", value=pct(entry["best_criterion"]["value"]), epoch=entry["best_epoch"])]
    if o["rose"]:
        sentences.append(M("training.overfit", epoch=o["min_val_loss_epoch"], low=num(o["min_val_loss"], 4),
                           final=num(o["final_val_loss"], 4), rise=num(o["val_loss_rise"] * 100, 0)))
    elif o["min_val_loss_epoch"] == o["epochs_run"]:  # the last epoch is the lowest: say so, no hedge
        sentences.append(M("training.no_overfit_lowest", final=num(o["final_val_loss"], 4)))
    else:
        sentences.append(M("training.no_overfit", final=num(o["final_val_loss"], 4)))
    gap = o["final_gap_points"]
    sentences.append(M("training.gap.above" if gap >= 0 else "training.gap.below", points=pts(abs(gap), 1)))
    return [Para(sentences)]


def seeds(record: dict, facts: dict) -> list[Para]:
    seed_list = ", ".join(str(s) for s in _first(record)["aggregate"]["seeds"])
    return [Para([M("seeds.text", runs=facts["runs"], seeds=seed_list)])]


def test_intro(record: dict) -> list[Para]:
    return [Para([M("test.intro", threshold=record["decision_threshold"])])]


def samples_intro(record: dict) -> list[Para]:
    return [Para([M("samples.intro", n=len(_first(record)["samples"]))])]


def failures_intro(record: dict) -> list[Para]:
    data = record["config"]["data"]
    side = "failures.kept_last" if data["padding"] == "pre" else "failures.kept_first"
    return [Para([M(side, length=data["max_length"]), M("failures.table")])]


def gradients(record: dict, facts: dict) -> list[Para]:
    sentences = [M("gradients.intro", reviews=_first(record)["gradient_flow"]["reviews"],
                   length=record["config"]["data"]["max_length"], cite=Cite("bengio1994", "pascanu2013"))]
    order = facts["gradient_order"]
    ratios = {name: num(facts["gradients"][name]["ratio"], 1) for name in order}
    if len(order) == 1:
        sentences.append(M("gradients.ratio", model=record["models"][order[0]]["display_name"], ratio=ratios[order[0]]))
    elif order:  # one sentence for the same measurement of every model
        sentences.append(M("gradients.ratios", values=Series(tuple(
            M("gradients.ratio_each", model=record["models"][name]["display_name"], ratio=ratios[name]) for name in order))))
    if len(order) > 1:
        weakest, strongest = order[0], order[-1]
        names_ = dict(weakest=record["models"][weakest]["display_name"], strongest=record["models"][strongest]["display_name"])
        # Two models are compared, not ranked: "more weakly … than", not "most weakly".
        sentences.append(M("gradients.order_two" if len(order) == 2 else "gradients.order", **names_))
        if weakest == "rnn":
            sentences.append(M("gradients.rnn_expected"))
        elif strongest == "rnn":
            sentences.append(M("gradients.rnn_unexpected"))
    return [Para(sentences)]


def attributions_intro(record: dict, facts: dict) -> list[Para]:
    found = {n: e for n, e in facts["evidence"].items() if e}
    worst = max(e["max_error"] for e in found.values())
    limit = next(iter(record["models"].values()))["attributions"]["completeness_limit"]
    return [Para([M("attributions.intro", cite=Cite("sundararajan2017")), M("attributions.baseline"),
                  M("attributions.completeness", limit=pct(limit, 0), worst=pct(worst, 2)),
                  M("attributions.legend")])]


def attributions_learned(record: dict, facts: dict) -> list[Para]:
    found = {n: e for n, e in facts["evidence"].items() if e}
    first = next(iter(found.values()))
    return [Para([M("attributions.learned", reviews=first["reviews"], count=first["min_count"], min_count=first["min_count"])])]


def attributions_position(record: dict, facts: dict) -> list[Para]:
    found = {name: e for name, e in facts["evidence"].items() if e and e["last"] is not None}
    if not found:
        return []
    edge = next(iter(found.values()))["edge_tokens"]
    each = [dict(model=record["models"][name]["display_name"], last=pct(e["last"], 0), first=pct(e["first"], 0),
                 edge=e["edge_tokens"]) for name, e in found.items()]
    if len(each) == 1 or len({e["edge_tokens"] for e in found.values()}) > 1:
        sentences = [M("attributions.position", **args) for args in each]
    else:  # one measurement of every model: one sentence
        sentences = [M("attributions.positions", edge=edge,
                       values=Series(tuple(M("attributions.position_each", **args) for args in each)))]
    side = record["config"]["data"]["padding"]
    if "gradients" in facts.get("figures", ()):
        sentences.append(M(f"attributions.side.{side}", edge=edge, fig=Ref("fig", "gradients")))
    if facts["crowded"] is True:
        sentences.append(M("attributions.rnn_crowded"))
    elif facts["crowded"] is False:
        sentences.append(M("attributions.rnn_not_crowded"))
    return [Para(sentences)]


def attributions_randomization(record: dict, facts: dict) -> list[Para]:
    found = {n: e for n, e in facts["evidence"].items() if e and e["spearman"] is not None}
    if not found:
        return []
    rho = {n: num(e["spearman"], 2) for n, e in found.items()}
    cite = Cite("adebayo2018")
    if len(found) == 1:
        name = next(iter(found))
        sentences = [M("attributions.randomization", model=record["models"][name]["display_name"], rho=rho[name], cite=cite)]
    elif len(set(rho.values())) == 1:  # one fact of every model: one sentence names them together
        sentences = [M("attributions.randomization_all", models=tuple(names(record, found)), rho=next(iter(rho.values())),
                       cite=cite)]
    else:
        each = Series(tuple(M("attributions.randomization_each", model=record["models"][n]["display_name"], rho=rho[n])
                            for n in found))
        sentences = [M("attributions.randomization_models", values=each, cite=cite)]

    low = all(abs(e["spearman"]) < RANDOMIZED_LOW for e in found.values())
    sentences.append(M("attributions.randomization_low" if low else "attributions.randomization_high"))
    return [Para(sentences)]

"""The report's tables, built from the record: header and body cells, words as catalog messages.

Each function returns a `Table` whose cells hold formatted numbers, record values (escaped when the
page is made) or messages; `labreport.report.outline` numbers the table and fills its messages.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from labreport.core import cells
from labreport.core.settings import EXPERIMENT_SECTIONS
from labreport.report.numbers import format_number as num
from labreport.report.numbers import format_percent as pct
from labreport.report.numbers import format_seconds as sec
from labreport.report.numbers import signed
from labreport.report.document import Cell, M, Msg, Table  # noqa: F401  (the parts a table is made of)


def N(value: Any, css: str = "num") -> Cell:
    """A number cell, right-aligned."""
    return Cell(value, css)


def H(content: Any, css: str = "") -> Cell:
    return Cell(content, css, header=True)


def L(name: str, css: str = "") -> Cell:
    """A header cell holding a label message."""
    return H(M(f"label.{name}"), css)


def code(text: Any) -> Markup:
    return Markup("<code>{}</code>").format(text)


def _check(ok: bool | None) -> Markup | Msg:
    if ok is None:
        return M("label.not_derived")
    return M("label.agrees_mark") if ok else M("label.differs_mark")


def contrast() -> Table:
    """The gated cells of `labreport.core.cells` side by side, in the order they were introduced."""
    gated = [cell for cell in cells.in_history_order() if cell.gated]
    table = Table("contrast", M("table.contrast"), [H(""), *[H(cell.label) for cell in gated]])
    for row in cells.CONTRAST_ROWS:
        table.rows.append(("", [H(M(f"contrast.{row}.label")), *[Cell(M(f"contrast.{row}.{cell.name}")) for cell in gated]]))
    return table


def summary(entry: dict) -> Table:
    table = Table(f"summary-{entry['name']}", M("table.summary", model=entry["display_name"]),
                  [L("layer"), L("output_shape"), L("params", "num")])
    for row in entry["summary_rows"]:
        table.rows.append(("", [Cell(Markup("{} ({})").format(code(row["name"]), row["type"])),
                                Cell(code(row["output_shape"])), N(num(row["params"]))]))
    total = M("label.total_with_size", size=entry["params"]["weight_size"])
    table.rows.append(("total", [Cell(total, colspan=2), N(num(entry["total_params"]))]))
    return table


def derivation(entry: dict) -> Table:
    head = [L("layer"), L("formula"), L("with_values"), L("derived", "num"), L("keras_count", "num"), L("check")]
    table = Table(f"derivation-{entry['name']}", M("table.derivation", model=entry["display_name"]), head, css="wide")
    for row in entry["params"]["layers"]:
        formula = row["formula"] if row["formula"] is not None else M("label.not_derived")
        values = row["formula_with_values"] if row["formula_with_values"] is not None else "–"
        table.rows.append(("", [Cell(code(row["name"])), Cell(formula, "formula"), Cell(values, "formula"),
                                N(num(row["derived"])), N(num(row["keras"])), Cell(_check(row["ok"]))]))
    total = entry["params"]["total"]
    table.rows.append(("total", [Cell(M("label.total"), colspan=3), N(num(total["derived"])), N(num(total["keras"])),
                                 Cell(_check(total["ok"]))]))
    return table


def splits(record: dict) -> Table:
    table = Table("splits", M("table.splits"), [L("split"), L("reviews", "num"), L("positive", "num"), L("negative", "num")])
    for split in ("train", "validation", "test"):
        s = record["dataset"]["splits"][split]
        table.rows.append(("", [Cell(M(f"label.{split}")), N(num(s["total"])), N(num(s["positive"])), N(num(s["negative"]))]))
    return table


def lengths(record: dict) -> Table:
    ds = record["dataset"]
    head = [H(""), L("mean", "num"), L("median", "num"), H("90%", "num"), H("99%", "num"), L("max", "num"),
            L("truncated", "num"), L("coverage", "num")]
    table = Table("lengths", M("table.lengths"), head)
    for split in ("train", "test"):
        s = ds["lengths"][split]
        table.rows.append(("", [Cell(M(f"label.{split}_all")), N(num(s["mean"], 1)), N(num(s["median"])),
                                N(num(s["percentiles"]["90"])), N(num(s["percentiles"]["99"])), N(num(s["max"])),
                                N(pct(s["truncated_share"], 1)), N(pct(ds["vocabulary"][f"coverage_{split}"], 1))]))
    return table


def history(entry: dict) -> Table:
    head = [L("epoch", "num"), H("loss", "num"), H("accuracy", "num"), H("val_loss", "num"), H("val_accuracy", "num"),
            L("seconds", "num")]
    table = Table(f"history-{entry['name']}", M("table.history", model=entry["display_name"]), head)
    h = entry["history"]
    for i in range(entry["epochs_run"]):
        best = i + 1 == entry["best_epoch"]
        table.rows.append(("total" if best else "", [
            N(f"{i + 1} ★" if best else str(i + 1)), N(num(h["loss"][i], 4)), N(num(h["accuracy"][i], 4)),
            N(num(h["val_loss"][i], 4)), N(num(h["val_accuracy"][i], 4)), N(sec(entry["epoch_seconds"][i]))]))
    return table


def test(record: dict) -> Table:
    head = [L("model"), L("weights"), H("loss", "num"), H("accuracy", "num"), H("precision", "num"), H("recall", "num"),
            H("F1", "num")]
    table = Table("test", M("table.test"), head)
    for entry in record["models"].values():
        for key in ("test", "test_last_epoch"):
            e = entry[key]
            table.rows.append(("", [Cell(entry["display_name"]), Cell(M(f"label.{e['weights']}", epoch=e["epoch"])),
                                    N(num(e["loss"], 4)), N(pct(e["accuracy"])), N(pct(e["precision"])),
                                    N(pct(e["recall"])), N(num(e["f1"], 4))]))
    return table


def seeds(record: dict, facts: dict) -> Table:
    head = [L("model"), L("test_accuracy", "num"), L("test_loss", "num"), L("best_epoch_column", "num"),
            L("seconds_per_epoch", "num"), L("per_seed")]
    table = Table("seeds", M("table.seeds", n=facts["runs"]), head)
    for entry in record["models"].values():
        a = entry["aggregate"]
        per_seed = ", ".join(f"{run['seed']}: {pct(run['test']['accuracy'])}" for run in entry["runs"])
        table.rows.append(("", [
            Cell(entry["display_name"]),
            N(f"{pct(a['test_accuracy']['mean'])} ± {pct(a['test_accuracy']['sd'])}"),
            N(f"{num(a['test_loss']['mean'], 4)} ± {num(a['test_loss']['sd'], 4)}"),
            N(f"{num(a['best_epoch']['mean'], 1)} ± {num(a['best_epoch']['sd'], 1)}"),
            N(f"{sec(a['seconds_per_epoch']['mean'])} ± {sec(a['seconds_per_epoch']['sd'])}"),
            Cell(per_seed)]))
    return table


def _decision(probability: float, label: int, threshold: float, show_word: bool) -> Cell:
    """A model's probability of positive for one review, its decision, and ✗ when the decision is wrong."""
    positive = probability > threshold
    wrong = positive != (label == 1)
    return Cell(M("label.decision_with_word" if show_word else "label.decision", probability=pct(probability, 1),
                  word=M("label.positive" if positive else "label.negative"),
                  wrong=M("label.wrong_mark") if wrong else ""),
                "num " + ("decision-pos" if positive else "decision-neg"))


def samples(record: dict) -> Table:
    models = list(record["models"].values())
    head = [L("review"), L("label")] + [H(entry["display_name"], "num") for entry in models]
    table = Table("samples", M("table.samples"), head, css="reviews")
    threshold = record["decision_threshold"]
    for row, sample in enumerate(models[0]["samples"]):
        cells = [Cell(sample["text"], "review"), Cell(M("label.positive" if sample["label"] == 1 else "label.negative"))]
        cells += [_decision(entry["samples"][row]["probability"], sample["label"], threshold, True) for entry in models]
        table.rows.append(("", cells))
    return table


def length_buckets(record: dict) -> Table:
    models = list(record["models"].values())
    buckets = record["analysis"]["length_buckets"]
    edges = buckets["edges"]
    table = Table("length-buckets", M("table.length_buckets"),
                  [L("words"), L("reviews", "num")] + [H(entry["display_name"], "num") for entry in models])
    for i in range(len(edges)):
        if not buckets["counts"][i]:
            continue
        low = edges[i] + 1 if i else 0
        span = f"{low}–{edges[i + 1]}" if i + 1 < len(edges) else f"{low}–"
        table.rows.append(("", [Cell(span), N(num(buckets["counts"][i]))]
                           + [N(pct(buckets["accuracy"][entry["name"]][i], 1)) for entry in models]))
    return table


def disagreements(record: dict) -> Table:
    models = list(record["models"].values())
    head = [L("review"), L("label")] + [H(entry["display_name"], "num") for entry in models]
    table = Table("disagreements", M("table.disagreements"), head, css="reviews")
    threshold = record["decision_threshold"]
    for d in record["analysis"]["disagreements"]:
        cells = [Cell(d["text"], "review"), Cell(M("label.positive" if d["label"] == 1 else "label.negative"))]
        cells += [_decision(d["probabilities"][entry["name"]], d["label"], threshold, False) for entry in models]
        table.rows.append(("", cells))
    return table


def _setting(value: Any) -> Markup:
    if isinstance(value, (list, tuple)):
        value = ", ".join(str(v) for v in value)
    return code(value)


def config(record: dict) -> Table:
    table = Table("config", M("table.config"), [L("setting"), L("value")])
    cfg = record["config"]
    for section in EXPERIMENT_SECTIONS:
        for key, value in cfg[section].items():
            table.rows.append(("", [Cell(code(f"{section}.{key}")), Cell(_setting(value))]))
    table.rows.append(("", [Cell(M("label.config_hash")), Cell(code(record["config_hash"]))]))
    return table


def environment(record: dict) -> Table:
    env = record["environment"]
    table = Table("environment", M("table.environment"), [L("setting"), L("value")])
    for key in ("python", "tensorflow", "keras", "tensorflow_datasets", "numpy", "labreport", "platform", "cpu", "cpu_count"):
        table.rows.append(("", [Cell(key), Cell(code(env[key] if env.get(key) is not None else "–"))]))
    table.rows.append(("", [Cell("GPU"), Cell(", ".join(env["gpus"]) if env.get("gpus") else M("label.none"))]))
    for model in record["models"].values():  # a version-4 record does not say
        if model.get("device"):
            loop = model.get("recurrent_loop")  # a version-5 record does not say
            where = Cell(M(f"label.loop_{loop}", device=model["device"])) if loop else Cell(code(model["device"]))
            table.rows.append(("", [Cell(M("label.trained_on", model=model["display_name"])), where]))
    for build in _loop_builds(record):
        table.rows.append(("", [Cell(M("label.loop_build")), Cell(M(
            f"build.{_build_message(build)}", target=build["target"] or "–", flags=build.get("flags") or "–",
            compiler=build.get("compiler") or "–"))]))
    if env.get("threads"):
        table.rows.append(("", [Cell(M("label.threads")),
                                Cell(code(f"intra_op={env['threads']['intra_op']}, inter_op={env['threads']['inter_op']}"))]))
    table.rows += [
        ("", [Cell(M("label.started")), Cell(code(env["started_at"]))]),
        ("", [Cell(M("label.wall_time")), Cell(M("label.seconds_value", seconds=sec(env["wall_seconds"])))]),
        ("", [Cell(M("label.data_source")), Cell(code(record["dataset"]["location"]))]),
        ("", [Cell(M("label.command")), Cell(code(env["command"]))]),
    ]
    return table


def _loop_builds(record: dict) -> list[dict]:
    """The distinct builds of the compiled loops the models ran with (`loop_build`; a version-7 record
    does not say, and Keras' own layer has none): one in a run, since its models share the build."""
    builds: list[dict] = []
    for model in record["models"].values():
        build = model.get("loop_build")
        if build and build not in builds:
            builds.append(build)
    return builds


def _build_message(build: dict) -> str:
    """The sentence for a build: by its reason, and for a refused native target by the rung that built
    (the CPU's own without AVX512-FP16 costs the loops nothing; a generic level may)."""
    if build["reason"] == "native_refused" and build["target"] == "native-no-avx512fp16":
        return "native_refused_fp16"
    return build["reason"] or "native"


POSITIVE_RGB = (33, 102, 172)
NEGATIVE_RGB = (230, 97, 1)
"""Blue towards "positive", orange towards "negative": a diverging pair that colour-blind readers tell apart."""


def shaded(tokens: list, strongest: float) -> Markup:
    """A review's words, each on a background as strong as its attribution (the strongest word darkest)."""
    spans = []
    for word, value in tokens:
        share = min(1.0, abs(value) / strongest) if strongest > 0 else 0.0
        r, g, b = POSITIVE_RGB if value > 0 else NEGATIVE_RGB
        alpha = round(0.85 * share, 3)
        ink = "#ffffff" if alpha > 0.55 else "inherit"
        spans.append(Markup('<span class="w" style="background: rgba({},{},{},{}); color: {}" title="{}">{}</span>')
                     .format(r, g, b, alpha, ink, signed(f"{value:+.4f}"), word))
    return Markup(" ").join(spans)


def attributions(record: dict, kind: str) -> Table:
    """The sample (or disagreement) reviews shaded by each model's word attributions, side by side."""
    models = [entry for entry in record["models"].values() if entry.get("attributions")]
    table = Table(f"attributions-{kind}", M(f"table.attributions_{kind}"),
                  [L("label")] + [H(entry["display_name"]) for entry in models], css="shaded")
    threshold = record["decision_threshold"]
    per_model = [[r for r in entry["attributions"]["reviews"] if r["kind"] == kind] for entry in models]
    for row, review in enumerate(per_model[0]):
        cells = [Cell(M("label.positive" if _label(record, review) == 1 else "label.negative"))]
        for reviews in per_model:
            mine = reviews[row]
            strongest = max((abs(v) for _, v in mine["tokens"]), default=0.0)
            cells.append(Cell(M("label.attribution_cell", text=shaded(mine["tokens"], strongest),
                                probability=pct(mine["probability"], 1),
                                word=M("label.positive" if mine["probability"] > threshold else "label.negative")),
                              "review"))
        table.rows.append(("", cells))
    return table


def _label(record: dict, review: dict) -> int:
    for sample in next(iter(record["models"].values()))["samples"]:
        if sample["index"] == review["index"]:
            return sample["label"]
    for d in record.get("analysis", {}).get("disagreements", []):
        if d["index"] == review["index"]:
            return d["label"]
    return -1

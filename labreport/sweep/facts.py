"""What the sweep's numbers say: the facts its sentences are chosen by, from `sweep.json` alone.

A change counts only when it exceeds the seeds' spread: between the lowest and the highest value of
a setting, a mean that moves by more than the combined standard deviation of the two ends
(√(sd₁² + sd₂²)) "rose" or "fell"; otherwise it "stayed within the spread"; with one seed per point
there is no spread and the sweep says it cannot tell. The paired comparison at a grid point is
`labreport.sweep.summary.lead`. Pure Python over the summary; no TensorFlow, no matplotlib.
"""

from __future__ import annotations

import math
from typing import Any

from labreport.core import cells
from labreport.core.settings import FULL_TEST_REVIEWS, FULL_TRAIN_REVIEWS

GATED = cells.gated_names()
"""The cells whose lead over the plain RNN the lab's claim is about (`labreport.core.cells`)."""
LENGTH = "max_length"
CORRELATION_CLAIM = 0.5
"""|Spearman ρ| from which accuracy is said to follow parameter count (with at least four points)."""


def is_numeric(values: list) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def point_label(point: dict) -> str:
    """`max_length=300, hidden_units=64`; the one point of a sweep without axes is ""."""
    return ", ".join(f"{name}={value}" for name, value in point.items())


def direction(change: float | None, sd_low: float | None, sd_high: float | None) -> str:
    """"rose", "fell", "flat" (within the seeds' spread) or "one_seed" (no spread to compare with)."""
    if change is None or sd_low is None or sd_high is None:
        return "one_seed"
    spread = math.sqrt(sd_low ** 2 + sd_high ** 2)
    if change > spread:
        return "rose"
    if change < -spread:
        return "fell"
    return "flat"


def slices(summary: dict, axis: dict) -> list[dict]:
    """The grid cut along one axis: for each combination of the other axes' values, its points in
    the axis's order (numbers ascending, other values as given)."""
    name = axis["name"]
    order = sorted(axis["values"]) if is_numeric(axis["values"]) else list(axis["values"])
    groups: dict[tuple, list] = {}
    for point in summary["points"]:
        others = tuple((k, v) for k, v in point["point"].items() if k != name)
        groups.setdefault(others, []).append(point)
    return [{"others": dict(others), "points": sorted(points, key=lambda p: order.index(p["point"][name]))}
            for others, points in groups.items()]


def _ends(points: list[dict], model: str, field: str) -> tuple[dict, dict] | None:
    measured = [p for p in points if p["models"][model][field]["mean"] is not None]
    return (measured[0], measured[-1]) if len(measured) >= 2 else None


def trend(points: list[dict], model: str, axis: str, field: str = "accuracy") -> dict | None:
    """How `field` of `model` changed from the axis's lowest value to its highest, and where it peaked."""
    ends = _ends(points, model, field)
    if ends is None:
        return None
    low, high = (p["models"][model][field] for p in ends)
    best = max((p for p in points if p["models"][model][field]["mean"] is not None),
               key=lambda p: p["models"][model][field]["mean"])
    return {"low": ends[0]["point"][axis], "high": ends[1]["point"][axis], "low_mean": low["mean"],
            "high_mean": high["mean"], "change": high["mean"] - low["mean"],
            "direction": direction(high["mean"] - low["mean"], low["sd"], high["sd"]), "best": best["point"][axis]}


def _pair(point: dict, a: str, b: str) -> dict | None:
    for pair in point["pairs"]:
        if (pair["a"], pair["b"]) == (a, b):
            return pair
        if (pair["a"], pair["b"]) == (b, a):  # the same comparison, seen from the other side
            d = pair["difference"]
            flipped = {"n": d["n"], "mean": None if d["mean"] is None else -d["mean"], "sd": d["sd"],
                       "values": [-v for v in d["values"]]}
            return {"a": a, "b": b, "difference": flipped, "lead": {"a": "b", "b": "a"}.get(pair["lead"], pair["lead"])}
    return None


def pair_tally(summary: dict, a: str, b: str) -> dict[str, list[str]]:
    """For each verdict ("a", "b", "unclear", "one_seed"), the grid points that have it."""
    tally: dict[str, list[str]] = {"a": [], "b": [], "unclear": [], "one_seed": []}
    for point in summary["points"]:
        pair = _pair(point, a, b)
        if pair is not None and pair["difference"]["n"]:
            tally[pair["lead"]].append(point_label(point["point"]))
    return tally


def gating(summary: dict) -> list[dict] | None:
    """Per slice along max_length: each gated model's lead over the plain RNN at the shortest and the
    longest length, whether it grew, and each model's gradient share at the middle at both ends."""
    axis = next((a for a in summary["axes"] if a["name"] == LENGTH and len(a["values"]) >= 2), None)
    gated = [m for m in summary["models"] if m in GATED]
    if axis is None or "rnn" not in summary["models"] or not gated:
        return None
    result = []
    for cut in slices(summary, axis):
        points = [p for p in cut["points"] if all(p["models"][m]["accuracy"]["n"] for m in ["rnn", *gated])]
        if len(points) < 2:
            continue
        low, high = points[0], points[-1]
        leads = {}
        for model in gated:
            d_low, d_high = _pair(low, model, "rnn")["difference"], _pair(high, model, "rnn")["difference"]
            leads[model] = {"low": d_low["mean"], "high": d_high["mean"],
                            "direction": direction(d_high["mean"] - d_low["mean"], d_low["sd"], d_high["sd"])}
        gradient = {m: {"low": low["models"][m]["gradient_middle_share"]["mean"],
                        "high": high["models"][m]["gradient_middle_share"]["mean"]} for m in summary["models"]}
        result.append({"others": cut["others"], "low": low["point"][LENGTH], "high": high["point"][LENGTH],
                       "leads": leads, "gradient": gradient})
    return result or None


def gru_lstm(summary: dict) -> dict | None:
    """GRU against LSTM over the grid: the verdict at every point and how many parameters each has."""
    if not {"gru", "lstm"} <= set(summary["models"]):
        return None
    tally = pair_tally(summary, "gru", "lstm")
    ratios = [(p["models"]["gru"]["params"] / p["models"]["lstm"]["params"],
               p["models"]["gru"]["recurrent_params"] / p["models"]["lstm"]["recurrent_params"])
              for p in summary["points"] if p["models"]["gru"]["params"] and p["models"]["lstm"]["params"]]
    if not ratios:
        return None
    compared = len(tally["a"]) + len(tally["b"]) + len(tally["unclear"])
    verdict = "cannot_tell" if not compared else ("mixed" if tally["b"] else "holds")
    return {"tally": tally, "verdict": verdict, "total_ratio": max(r[0] for r in ratios),
            "recurrent_ratio": max(r[1] for r in ratios)}


def _ranks(values: list[float]) -> list[float]:
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def spearman(x: list[float], y: list[float]) -> float | None:
    """Spearman's rank correlation (ties share their mean rank); None when either side is constant."""
    rx, ry = _ranks(x), _ranks(y)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    sxx, syy = sum((a - mx) ** 2 for a in rx), sum((b - my) ** 2 for b in ry)
    return sxy / math.sqrt(sxx * syy) if sxx and syy else None


def params_accuracy(summary: dict) -> dict:
    """Whether accuracy followed parameter count over every (point, model) with a mean."""
    pairs = [(p["models"][m]["params"], p["models"][m]["accuracy"]["mean"])
             for p in summary["points"] for m in summary["models"] if p["models"][m]["accuracy"]["mean"] is not None]
    sizes_vary = any(len({p["models"][m]["params"] for p in summary["points"]}) > 1 for m in summary["models"])
    if len(pairs) < 4:
        return {"kind": "too_few", "n": len(pairs)}
    rho = spearman([float(a) for a, _ in pairs], [b for _, b in pairs])
    if rho is None:
        return {"kind": "none", "n": len(pairs)}
    kind = "follows" if rho >= CORRELATION_CLAIM else "against" if rho <= -CORRELATION_CLAIM else "unrelated"
    return {"kind": kind, "rho": rho, "n": len(pairs), "sizes_vary": sizes_vary}


def facts(summary: dict) -> dict[str, Any]:
    """Everything the sweep report's sentences are chosen by."""
    runs = summary["runs"]
    data = summary["data"] or {}
    axes = []
    for axis in summary["axes"]:
        cuts = []
        for cut in slices(summary, axis):
            cuts.append({"others": cut["others"],
                         "trends": {m: trend(cut["points"], m, axis["name"]) for m in summary["models"]},
                         "seconds": {m: trend(cut["points"], m, axis["name"], "seconds_per_epoch") for m in summary["models"]},
                         "params": {m: (cut["points"][0]["models"][m]["params"], cut["points"][-1]["models"][m]["params"])
                                    for m in summary["models"]}})
        axes.append({"name": axis["name"], "values": axis["values"], "slices": cuts})
    models = summary["models"]
    return {
        "runs": len(runs), "complete": sum(r["status"] == "complete" for r in runs),
        "failed": [r for r in runs if r["status"] == "failed"], "points": len(summary["points"]),
        "seeds": summary["seeds"], "models": models,
        "quick": data.get("source") == "sample",
        "full": data.get("train", 0) + data.get("validation", 0) >= FULL_TRAIN_REVIEWS and data.get("test", 0) >= FULL_TEST_REVIEWS,
        "axes": axes,
        "pairs": [{"a": a, "b": b, "tally": pair_tally(summary, a, b)} for i, a in enumerate(models) for b in models[i + 1:]],
        "gating": gating(summary), "gru_lstm": gru_lstm(summary), "params_accuracy": params_accuracy(summary),
        "threads": sorted({r["threads"] for r in runs if r["threads"]}),
        "epochs": summary["fixed"].get("train.epochs"),
        "varies_length": any(a["name"] == LENGTH and len(a["values"]) >= 2 for a in summary["axes"]),
    }

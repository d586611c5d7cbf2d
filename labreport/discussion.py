"""The comparison the data supports, as facts the templates turn into sentences.

Every sentence of the report's discussion is chosen by one of these facts: which model scored
higher and by how much, whether loss agrees with accuracy, where each model started to overfit,
what the early-stopping and checkpoint choices changed, and what training cost. Nothing here says
"GRU was better" unless the numbers do. Pure Python over the record; no TensorFlow.
"""

from __future__ import annotations

from labreport.analysis import median_epoch_seconds

TIE_POINTS = 0.05
"""Accuracy differences below this many percentage points are called a tie."""
SMALL_GAP_POINTS = 1.0
"""A single run's accuracy gap below this many points is called within seed-to-seed noise."""
SPEED_TIE = 0.05
"""Relative differences in seconds per epoch below this share are called equal cost."""


def _runs(entry: dict) -> int:
    return entry.get("aggregate", {}).get("runs", 1)


def test_accuracy(entry: dict) -> float:
    """The accuracy comparisons use: the best checkpoint's, or its mean over seeds when there are several."""
    return entry["aggregate"]["test_accuracy"]["mean"] if _runs(entry) > 1 else entry["test"]["accuracy"]


def test_loss(entry: dict) -> float:
    """The test loss comparisons use, chosen as in `test_accuracy`."""
    return entry["aggregate"]["test_loss"]["mean"] if _runs(entry) > 1 else entry["test"]["loss"]


def overfitting(entry: dict) -> dict:
    """Where validation loss bottomed out, how far it rose after, and the final accuracy gap."""
    val_loss = entry["history"]["val_loss"]
    best = min(range(len(val_loss)), key=val_loss.__getitem__)
    rise = (val_loss[-1] - val_loss[best]) / val_loss[best] if val_loss[best] else 0.0
    gap = entry["history"]["accuracy"][-1] - entry["history"]["val_accuracy"][-1]
    return {
        "min_val_loss_epoch": best + 1,
        "min_val_loss": val_loss[best],
        "final_val_loss": val_loss[-1],
        "val_loss_rise": rise,
        "rose": best + 1 < len(val_loss) and rise > 0.02,
        "final_gap_points": gap * 100,
        "epochs_run": len(val_loss),
    }


def seconds_per_epoch(entry: dict) -> float:
    """Median seconds per epoch after the first; with several seeds, the mean of those medians."""
    if _runs(entry) > 1:
        return entry["aggregate"]["seconds_per_epoch"]["mean"]
    return median_epoch_seconds(entry["epoch_seconds"])


def pairwise(a: dict, b: dict) -> dict:
    """Facts comparing models `a` and `b` (record entries)."""
    diff = (test_accuracy(a) - test_accuracy(b)) * 100
    if abs(diff) < TIE_POINTS:
        winner = None
    else:
        winner = a["name"] if diff > 0 else b["name"]
    lower_loss = a["name"] if test_loss(a) < test_loss(b) else b["name"]
    runs = min(_runs(a), _runs(b))
    spread_points = None
    if runs > 1:
        spread_points = 100 * max(a["aggregate"]["test_accuracy"]["sd"], b["aggregate"]["test_accuracy"]["sd"])
    speed_a, speed_b = seconds_per_epoch(a), seconds_per_epoch(b)
    ratio = speed_a / speed_b if speed_b else 1.0
    if abs(ratio - 1) < SPEED_TIE:
        faster = None
    else:
        faster = a["name"] if speed_a < speed_b else b["name"]
    return {
        "a": a["name"],
        "b": b["name"],
        "winner": winner,
        "loser": None if winner is None else (b["name"] if winner == a["name"] else a["name"]),
        "accuracy": {a["name"]: test_accuracy(a), b["name"]: test_accuracy(b)},
        "loss": {a["name"]: test_loss(a), b["name"]: test_loss(b)},
        "runs": runs,
        "spread_points": spread_points,
        "gap_exceeds_spread": spread_points is not None and abs(diff) > spread_points,
        "accuracy_diff_points": abs(diff),
        "small_gap": abs(diff) < SMALL_GAP_POINTS,
        "small_gap_points": SMALL_GAP_POINTS,
        "lower_loss": lower_loss,
        "loss_agrees": winner is None or winner == lower_loss,
        "faster": faster,
        "slower": None if faster is None else (b["name"] if faster == a["name"] else a["name"]),
        "speed_ratio": max(ratio, 1 / ratio) if ratio else 1.0,
        "fewer_params": a["name"] if a["total_params"] < b["total_params"] else b["name"],
        "params_diff": abs(a["total_params"] - b["total_params"]),
    }


def checkpoint_effect(entry: dict) -> dict:
    """How the best checkpoint compares with the last epoch's weights on the test split."""
    diff = (entry["test"]["accuracy"] - entry["test_last_epoch"]["accuracy"]) * 100
    return {
        "same_weights": entry["best_epoch"] == entry["epochs_run"],
        "diff_points": diff,
        "best_better": diff > 0,
    }


def gradient_reach(entry: dict) -> dict | None:
    """How much weaker the gradient is in the middle of a review than at its ends.

    A bidirectional layer reads its output at both ends, so vanishing shows up in the middle.
    """
    flow = entry.get("gradient_flow")
    if not flow or len(flow["norms"]) < 3:
        return None
    norms = flow["norms"]
    n = len(norms)
    edge = max(1, n // 20)
    ends = (sum(norms[:edge]) + sum(norms[-edge:])) / (2 * edge)
    middle_slice = norms[n // 3: max(n // 3 + 1, 2 * n // 3)]
    middle = sum(middle_slice) / len(middle_slice)
    return {"ends": ends, "middle": middle, "ratio": ends / middle if middle > 0 else float("inf")}


def _reversed(test: dict) -> dict:
    """A paired comparison of (a, b) seen as (b, a): who alone was right swaps, the difference flips."""
    m, b = test["mcnemar"], test["bootstrap"]
    return {
        "a": test["b"], "b": test["a"],
        "mcnemar": {**m, "a_only": m["b_only"], "b_only": m["a_only"]},
        "bootstrap": {**b, "difference": -b["difference"], "low": -b["high"], "high": -b["low"]},
    }


def facts(record: dict) -> dict:
    """All facts the discussion uses, keyed for the templates."""
    models = record["models"]
    names = list(models)
    ranked = sorted(names, key=lambda n: test_accuracy(models[n]), reverse=True)
    result = {
        "ranked": ranked,
        "runs": min(_runs(models[n]) for n in names),
        "overfitting": {n: overfitting(models[n]) for n in names},
        "seconds_per_epoch": {n: seconds_per_epoch(models[n]) for n in names},
        "checkpoint": {n: checkpoint_effect(models[n]) for n in names},
        "pairs": [],
        "any_stopped_early": any(models[n]["stopped_early"] for n in names),
        "gradients": {n: gradient_reach(models[n]) for n in names},
    }
    reach = {n: g for n, g in result["gradients"].items() if g is not None}
    result["gradient_order"] = sorted(reach, key=lambda n: reach[n]["ratio"], reverse=True)
    analysis = record.get("analysis", {})
    tests = {}
    for test in analysis.get("pairs", []):
        tests[(test["a"], test["b"])] = test
        tests.setdefault((test["b"], test["a"]), _reversed(test))
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            pair = pairwise(models[a], models[b])
            test = tests.get((a, b))
            if test is not None:
                pair["significance"] = {
                    **test["mcnemar"],
                    "discordant": test["mcnemar"]["a_only"] + test["mcnemar"]["b_only"],
                    "level": analysis["significance_level"],
                    "significant": test["mcnemar"]["p_value"] < analysis["significance_level"],
                    "interval_level": test["bootstrap"]["level"],
                    "low_points": test["bootstrap"]["low"] * 100,
                    "high_points": test["bootstrap"]["high"] * 100,
                    "interval_has_zero": test["bootstrap"]["low"] <= 0 <= test["bootstrap"]["high"],
                }
            result["pairs"].append(pair)
    return result

"""The comparison the data supports: facts, and the discussion's sentences they choose.

Every sentence of the report's discussion is chosen here by one of these facts: which model scored
higher and by how much, whether loss agrees with accuracy, where each model started to overfit,
what the early-stopping and checkpoint choices changed, and what training cost. Nothing here says
"GRU was better" unless the numbers do. `paragraphs` turns the facts into message ids with
arguments; each language's catalog holds the words. Pure Python over the record; no TensorFlow.
"""

from __future__ import annotations

from labreport.core.stats import median_epoch_seconds
from labreport.report.document import Cite, M, Msg, Para, Series
from labreport.report.numbers import P_VALUE_FLOOR
from labreport.report.numbers import format_number as num
from labreport.report.numbers import format_p_value as pval
from labreport.report.numbers import format_percent as pct
from labreport.report.numbers import format_points as pts
from labreport.report.numbers import format_seconds as sec

TIE_POINTS = 0.05
"""Accuracy differences below this many percentage points are called a tie."""
SMALL_GAP_POINTS = 1.0
"""A single run's accuracy gap below this many points is called within seed-to-seed noise."""
OVERFIT_RISE = 0.02
"""A validation loss that ends this share above its lowest value (with the lowest before the last
epoch) is called overfitting."""
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
        "rose": best + 1 < len(val_loss) and rise > OVERFIT_RISE,
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


CROWDED_MARGIN = 0.10
"""A plain RNN's evidence counts as crowded at the end when its share in the last words exceeds every
gated model's by more than this."""
RANDOMIZED_LOW = 0.5
"""Below this rank correlation with randomised weights, the shading is taken to reflect learning."""


def evidence(entry: dict) -> dict | None:
    """Where a model's word attributions put the evidence, how exact they are, and the randomisation check."""
    a = entry.get("attributions")
    if not a:
        return None
    position = a["learned"]["position"]
    return {
        "max_error": max((r["completeness_error"] for r in a["reviews"]), default=0.0),
        "spearman": a["randomization"]["spearman"],
        "first": position["first"], "last": position["last"], "edge_tokens": position["edge_tokens"],
        "reviews": a["learned"]["reviews"], "min_count": a["learned"]["min_count"],
    }


def crowded_at_end(found: dict) -> bool | None:
    """Whether the plain RNN's evidence sits in the last words more than the gated cells'; None without an RNN."""
    shares = {n: e["last"] for n, e in found.items() if e and e["last"] is not None}
    if "rnn" not in shares or len(shares) < 2:
        return None
    return all(shares["rnn"] > share + CROWDED_MARGIN for name, share in shares.items() if name != "rnn")


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
        "evidence": {n: evidence(models[n]) for n in names},
    }
    result["crowded"] = crowded_at_end(result["evidence"])
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


# ---------------------------------------------------------------------------------------------
# The sentences these facts choose (message ids of the language catalogs; see labreport.report.paragraphs).


def p_value_clause(value: float) -> Msg:
    """The p-value said in words: "p값이 0.0001보다 작으므로" / "p below 0.0001" under the floor, the value above it."""
    if value < P_VALUE_FLOOR:
        return M("stats.p_below", floor=str(P_VALUE_FLOOR))
    return M("stats.p_equals", p=pval(value))


def _seeds(message_id: str, runs: int) -> str:
    """The variant of a message that speaks of means over seeds, when there are several runs."""
    return message_id + "_seeds" if runs > 1 else message_id


def _pair_paragraphs(record: dict, pair: dict, first_runs: str | None = None) -> list:
    """One pair's two paragraphs; `first_runs` names the message that says which runs the tests
    compare, given only to the first tested pair so that the fact is said once for all pairs."""
    models, runs = record["models"], pair["runs"]
    name = {key: models[key]["display_name"] for key in (pair["a"], pair["b"])}
    a, b = pair["a"], pair["b"]
    total = record["dataset"]["splits"]["test"]["total"]
    first = []
    if pair["winner"] is None:
        first.append(M(_seeds("discussion.tie", runs), a=name[a], b=name[b], accuracy_a=pct(pair["accuracy"][a]),
                       accuracy_b=pct(pair["accuracy"][b]), runs=runs))
    else:
        w, lo = pair["winner"], pair["loser"]
        first.append(M(_seeds("discussion.winner", runs), winner=name[w], loser=name[lo], runs=runs,
                       accuracy_winner=pct(pair["accuracy"][w]), accuracy_loser=pct(pair["accuracy"][lo]),
                       points=pts(pair["accuracy_diff_points"]),
                       more=num(round(pair["accuracy_diff_points"] / 100 * total)), total=num(total)))
    lower = pair["lower_loss"]
    if not pair["loss_agrees"]:
        first.append(M(_seeds("discussion.loss_disagrees", runs), model=name[lower], loss=num(pair["loss"][lower], 4)))
    elif pair["winner"] is not None:
        first.append(M(_seeds("discussion.loss_agrees", runs), model=name[lower], loss=num(pair["loss"][lower], 4),
                       other=name[pair["loser"]], other_loss=num(pair["loss"][pair["loser"]], 4)))
    if runs > 1:
        first.append(M("discussion.spread.exceeded" if pair["gap_exceeds_spread"] else "discussion.spread.within",
                       points=pts(pair["spread_points"])))
    if "significance" in pair:
        s = pair["significance"]
        if runs > 1 and first_runs:
            first.append(M(first_runs, seed=record["config"]["train"]["seed"]))
        first.append(M("discussion.mcnemar", discordant=num(s["discordant"]), a=name[a], b=name[b],
                       a_only=num(s["a_only"]), b_only=num(s["b_only"]), cite=Cite("mcnemar1947")))
        verdict = "significant" if s["significant"] else "not_significant"
        first.append(M(f"discussion.p.{'exact' if s['method'] == 'exact' else 'chi2'}.{verdict}",
                       statistic=num(s.get("statistic") or 0, 2), p=pval(s["p_value"]),
                       p_rel=pval(s["p_value"], relation=True), p_is=p_value_clause(s["p_value"]),
                       level=pct(s["level"], 0)))
        first.append(M("discussion.bootstrap." + ("with_zero" if s["interval_has_zero"] else "without_zero"),
                       level=pct(s["interval_level"], 0), a=name[a], b=name[b], low=pts(s["low_points"]),
                       high=pts(s["high_points"]), cite=Cite("efron1979")))
        first.append(M("discussion.this_run_only" if s["significant"] else "discussion.no_evidence"))
    elif runs == 1 and pair["winner"] is not None and pair["small_gap"]:
        first.append(M("discussion.small_gap", points=pts(pair["small_gap_points"], 0), count=pair["small_gap_points"]))

    fewer = pair["fewer_params"]
    cells = {a, b}
    second = [
        M("discussion.params.gru_lstm" if cells == {"gru", "lstm"} else "discussion.params.other",
          a=name[a], b=name[b], params_a=num(models[a]["total_params"]), params_b=num(models[b]["total_params"]),
          fewer=name[fewer], difference=num(pair["params_diff"])),
        M(_seeds("discussion.speed", runs), a=name[a], b=name[b], seconds_a=sec(seconds_per_epoch(models[a])),
          seconds_b=sec(seconds_per_epoch(models[b]))),
    ]
    if pair["faster"] is None:
        second.append(M("discussion.speed_same"))
    else:
        second.append(M(f"discussion.{_speed_message(models[a], models[b], pair['faster'] == fewer)}",
                        faster=name[pair["faster"]], ratio=num(pair["speed_ratio"], 2)))
    return [Para(first), Para(second)]


def _speed_message(a: dict, b: dict, smaller_is_faster: bool) -> str:
    """The sentence that explains a speed gap, chosen by the loops the record says ran: where the
    slower fallback loops ran, or the two models ran different loops, the gap is the loops' as much
    as the cells' and no sentence credits it to the cells or to TensorFlow's kernels."""
    loops = {a.get("recurrent_loop"), b.get("recurrent_loop")}
    if "fused" in loops:
        return "speed_faster_fallback"
    if len(loops) > 1:
        return "speed_faster_mixed"
    if smaller_is_faster:
        return "speed_faster_smaller"
    return "speed_faster_larger_compiled" if loops == {"compiled"} else "speed_faster_larger"


def paragraphs(record: dict, found: dict) -> list[tuple]:
    """The discussion as (title message, paragraphs) subsections, chosen by the facts `found`."""
    sections = []
    tested = [pair for pair in found["pairs"] if "significance" in pair]
    for pair in found["pairs"]:
        a, b = (record["models"][key]["display_name"] for key in (pair["a"], pair["b"]))
        # Which runs the tests compare is one fact of every pair: said in the first tested pair only.
        first_runs = None if not tested or pair is not tested[0] else (
            "discussion.first_runs_all" if len(tested) > 1 else "discussion.first_runs")
        sections.append((M("discussion.pair_title", a=a, b=b), _pair_paragraphs(record, pair, first_runs)))

    checkpoint = []
    same = [entry["display_name"] for name, entry in record["models"].items() if found["checkpoint"][name]["same_weights"]]
    if len(same) > 1:  # a fact every one of these models shares: one sentence names them together
        checkpoint.append(M("discussion.checkpoint.same_all" if len(same) == len(record["models"]) else
                            "discussion.checkpoint.same_several", models=tuple(same)))
    elif same:
        checkpoint.append(M("discussion.checkpoint.same", model=same[0]))
    # The others by how their best checkpoint did against the last epoch: one sentence per way, each model with its numbers.
    ways: dict[str, list[dict]] = {}
    for name, entry in record["models"].items():
        c = found["checkpoint"][name]
        if c["same_weights"]:
            continue
        way = "matched" if c["diff_points"] == 0 else "beat" if c["best_better"] else "trailed"
        ways.setdefault(way, []).append(dict(model=entry["display_name"], best=entry["best_epoch"], last=entry["epochs_run"],
                                             points=pts(abs(c["diff_points"]))))
    for way, each in ways.items():
        if len(each) == 1:
            checkpoint.append(M(f"discussion.checkpoint.{way}", **each[0]))
        elif way == "matched":
            checkpoint.append(M("discussion.checkpoint.matched_models", models=tuple(args["model"] for args in each)))
        else:
            checkpoint.append(M(f"discussion.checkpoint.{way}_models",
                                values=Series(tuple(M("discussion.checkpoint.each", **args) for args in each))))
    checkpoint.append(M("discussion.checkpoint.why"))
    sections.append((M("discussion.checkpoint_title"), [Para(checkpoint)]))

    seed = record["config"]["train"]["seed"]
    splits = record["dataset"]["splits"]
    sample = ([M("discussion.limits.sample", train=num(splits["train"]["total"] + splits["validation"]["total"]))]
              if record["dataset"]["source"] == "sample" else [])
    has_analysis = "analysis" in record
    if found["runs"] > 1:
        seeds = tuple(str(s) for s in next(iter(record["models"].values()))["aggregate"]["seeds"])  # "42와 43"
        limits = [M("discussion.limits.seeds", runs=found["runs"], seeds=seeds), *sample, M("discussion.limits.spread")]
        if has_analysis:
            limits.append(M("discussion.limits.first_runs"))
    else:
        limits = [M("discussion.limits.one_run", seed=seed), *sample,
                  M("discussion.limits.analysis" if has_analysis else "discussion.limits.no_analysis"),
                  M("discussion.limits.seeds_flag")]
    sections.append((M("discussion.limits_title"), [Para(limits)]))
    return sections

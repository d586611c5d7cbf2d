"""The sweep report's sentences: each chosen by a fact (`labreport.sweep.facts`), words from the catalog.

A paragraph is a list of sentences; each sentence is a catalog message (`[sweep]` in
`lang/<code>.toml`) with its numbers formatted here, by the filters every page uses. Which message
is said is decided here, from the numbers, never in a template.
"""

from __future__ import annotations

from markupsafe import Markup

from labreport.core.settings import FULL_TEST_REVIEWS, FULL_TRAIN_REVIEWS
from labreport.report.catalog import Catalog
from labreport.report.numbers import format_number as num
from labreport.report.numbers import format_percent as pct
from labreport.report.numbers import format_points as pts
from labreport.sweep.facts import point_label

Paragraph = list[Markup]
MAX_LISTED = 6
"""Grid points named in one sentence; more are counted, not listed."""


def listed(catalog: Catalog, items: list[str]) -> Markup:
    """"a, b and c" in the catalog's language (`list.separator`, `list.last_separator`)."""
    return catalog.join(items)


def _where(labels: list[str]) -> str:
    shown = "; ".join(labels[:MAX_LISTED])
    return shown + ("; …" if len(labels) > MAX_LISTED else "")


def _slice(say, others: dict) -> list[Markup]:
    return [say("sweep.slice", others=point_label(others))] if others else []


def grid(summary: dict, f: dict, catalog: Catalog) -> list[Paragraph]:
    say, names = catalog.say, summary["display_names"]
    models = listed(catalog, [names[m] for m in f["models"]])
    first = [say("sweep.grid.intro", models=models, points=f["points"], count=f["points"], seeds=len(f["seeds"]),
                 seed_list=", ".join(map(str, f["seeds"])), runs=f["runs"])]
    if summary["axes"]:
        first.append(say("sweep.grid.axes", axes=", ".join(a["name"] for a in summary["axes"])))
    else:
        first.append(say("sweep.grid.no_axes"))
    first.append(say("sweep.grid.pairing"))
    data = summary["data"]
    second = []
    if data is not None:
        kind = "quick" if f["quick"] else "full" if f["full"] else "partial"
        second.append(say(f"sweep.data.{kind}", train=num(data["train"] + data["validation"]),
                          validation=num(data["validation"]), test=num(data["test"]),
                          full_train=num(FULL_TRAIN_REVIEWS), full_test=num(FULL_TEST_REVIEWS)))
    failed = len(f["failed"])
    second.append(say("sweep.failed.some", failed=failed, count=failed, runs=f["runs"]) if failed
                  else say("sweep.failed.none"))
    return [first, second]


def _series(catalog: Catalog, clauses) -> Markup:
    """Clauses said one after another with the list separator only ("BiGRU가 …, BiLSTM이 …"): each
    clause carries its own particle, so no "and" joins the last two."""
    return Markup(catalog.raw("list.separator")).join(clauses)


def groups(items: list[tuple[str, dict]], key) -> list[list[tuple[str, dict]]]:
    """`(model, fact)` pairs grouped by `key(fact)`, groups and members in the models' order: the
    models that share a fact are said in one sentence."""
    found: dict = {}
    for model, fact in items:
        found.setdefault(key(fact), []).append((model, fact))
    return list(found.values())


def _change(t: dict) -> float:
    # "a rise of 2.9 points", "a fall of 2.9 points": the sign is in the word; within the spread it stays.
    return abs(t["change"]) if t["direction"] in ("rose", "fell") else t["change"]


def _trend_sentence(say, model: str, axis: str, t: dict | None) -> Markup:
    if t is None:
        return say("sweep.trend.none", model=model, axis=axis)
    return say(f"sweep.trend.{t['direction']}", model=model, axis=axis, low=t["low"], high=t["high"],
               low_mean=pct(t["low_mean"]), high_mean=pct(t["high_mean"]), change=pts(_change(t) * 100), best=t["best"])


def _trend_sentences(catalog: Catalog, names: dict, axis: str, trends: dict) -> list[Markup]:
    """One sentence per way the models' accuracy went (rose, fell, stayed within the spread), naming
    each model of that way with its numbers; a model alone in its way keeps its own sentence."""
    say, sentences = catalog.say, []
    none = [names[m] for m, t in trends.items() if t is None]
    if len(none) == 1:
        sentences.append(say("sweep.trend.none", model=none[0], axis=axis))
    elif none:
        sentences.append(say("sweep.trend.none_models", models=catalog.join(none), axis=axis))
    measured = [(m, t) for m, t in trends.items() if t is not None]
    for group in groups(measured, lambda t: (t["direction"], t["low"], t["high"])):
        if len(group) == 1:
            sentences.append(_trend_sentence(say, names[group[0][0]], axis, group[0][1]))
            continue
        t = group[0][1]
        values = _series(catalog, (say("sweep.trend.each", model=names[m], low_mean=pct(f["low_mean"]),
                                       high_mean=pct(f["high_mean"]), change=pts(_change(f) * 100)) for m, f in group))
        sentences.append(say(f"sweep.trend.{t['direction']}_models", axis=axis, low=t["low"], high=t["high"], values=values))
        if t["direction"] in ("rose", "fell"):  # where each peaked: once if the same for all
            best = [f["best"] for _, f in group]
            sentences.append(say("sweep.trend.best_same", best=best[0]) if len(set(map(str, best))) == 1
                             else say("sweep.trend.best_each", best=catalog.join(map(str, best))))
    return sentences


def accuracy(summary: dict, f: dict, axis: dict, catalog: Catalog) -> list[Paragraph]:
    """Along one axis: the models' trends, per slice of the other axes."""
    say, names = catalog.say, summary["display_names"]
    paragraphs = []
    for cut in axis["slices"]:
        sentences = _slice(say, cut["others"])
        sentences += _trend_sentences(catalog, names, axis["name"], {m: cut["trends"][m] for m in f["models"]})
        paragraphs.append(sentences)
    return paragraphs


def pairs(summary: dict, f: dict, catalog: Catalog) -> list[Paragraph]:
    say, names = catalog.say, summary["display_names"]
    paragraphs = [[say("sweep.pairs.rule")]]
    # Where every pair had one seed at the same points, that is said once for all pairs, not once per pair.
    one_seed = {tuple(pair["tally"]["one_seed"]) for pair in f["pairs"]}
    shared_one_seed = len(f["pairs"]) > 1 and len(one_seed) == 1 and next(iter(one_seed))
    if shared_one_seed:
        paragraphs[0].append(say("sweep.pairs.one_seed_all", count=len(shared_one_seed)))
    for pair in f["pairs"]:
        a, b, tally = names[pair["a"]], names[pair["b"]], pair["tally"]
        sentences = []
        for winner, loser, key in ((a, b, "a"), (b, a, "b")):
            if tally[key]:
                sentences.append(say("sweep.pairs.led", a=winner, b=loser, count=len(tally[key]),
                                     points=f["points"], where=_where(tally[key])))
        if not tally["a"] and not tally["b"] and tally["unclear"]:  # compared, and no lead: with one seed, nothing was compared
            sentences.append(say("sweep.pairs.neither", a=a, b=b))
        if tally["unclear"]:
            sentences.append(say("sweep.pairs.unclear", a=a, b=b, count=len(tally["unclear"]), points=f["points"],
                                 where=_where(tally["unclear"])))
        if tally["one_seed"] and not shared_one_seed:
            sentences.append(say("sweep.pairs.one_seed", count=len(tally["one_seed"])))
        if sentences:
            paragraphs.append(sentences)
    return paragraphs


def gating(summary: dict, f: dict, catalog: Catalog) -> list[Paragraph]:
    """The first part of the lab's claim: the gated models' lead over the plain RNN along the length."""
    say, names = catalog.say, summary["display_names"]
    if f["gating"] is None:
        missing = "sweep.gating.no_rnn" if "rnn" not in f["models"] else "sweep.gating.no_length"
        return [[say(missing)]]
    paragraphs = []
    for cut in f["gating"]:
        sentences = _slice(say, cut["others"])
        # One sentence per way the leads went, naming each gated model of that way with its numbers.
        for group in groups(list(cut["leads"].items()), lambda lead: lead["direction"]):
            direction = group[0][1]["direction"]
            if len(group) == 1:
                model, lead = group[0]
                sentences.append(say(f"sweep.gating.{direction}", model=names[model], low=cut["low"], high=cut["high"],
                                     low_gap=pts(lead["low"] * 100), high_gap=pts(lead["high"] * 100)))
                continue
            values = _series(catalog, (say("sweep.gating.each", model=names[m], low_gap=pts(lead["low"] * 100),
                                           high_gap=pts(lead["high"] * 100)) for m, lead in group))
            sentences.append(say(f"sweep.gating.{direction}_models", low=cut["low"], high=cut["high"], values=values))
        paragraphs.append(sentences)
    paragraphs.append(mechanism(summary, f["gating"][0], catalog))
    return paragraphs


def mechanism(summary: dict, cut: dict, catalog: Catalog) -> Paragraph:
    say, names = catalog.say, summary["display_names"]
    sentences = [say("sweep.gradient.intro")]
    shares = cut["gradient"]
    measured = [m for m in summary["models"] if shares[m]["low"] is not None and shares[m]["high"] is not None]
    if len(measured) == 1:
        model = measured[0]
        sentences.append(say("sweep.gradient.model", model=names[model], low=cut["low"], high=cut["high"],
                             low_share=pct(shares[model]["low"], 1), high_share=pct(shares[model]["high"], 1)))
    elif measured:  # one measure of every model: one sentence, each model with its two shares
        sentences.append(say("sweep.gradient.models", low=cut["low"], high=cut["high"], values=_series(catalog, (
            say("sweep.gradient.each", model=names[m], low_share=pct(shares[m]["low"], 1),
                high_share=pct(shares[m]["high"], 1)) for m in measured))))
    gated = [m for m in measured if m != "rnn"]
    if "rnn" in measured and gated:
        lowest = all(shares["rnn"]["high"] < shares[m]["high"] for m in gated)
        sentences.append(say("sweep.gradient.rnn_lowest" if lowest else "sweep.gradient.rnn_not_lowest", high=cut["high"]))
    sentences.append(say("sweep.gradient.caveat"))
    return sentences


def gru_lstm(summary: dict, f: dict, catalog: Catalog) -> list[Paragraph]:
    """The second part: a GRU about as good as an LSTM, with fewer parameters."""
    say = catalog.say
    fact = f["gru_lstm"]
    if fact is None:
        return [[say("sweep.gru_lstm.missing")]]
    sentences = [say("sweep.gru_lstm.params", recurrent=pct(fact["recurrent_ratio"], 0), total=pct(fact["total_ratio"], 1))]
    tally = fact["tally"]
    if fact["verdict"] == "mixed":
        sentences.append(say("sweep.gru_lstm.mixed", count=len(tally["b"]), points=f["points"], where=_where(tally["b"])))
    else:
        sentences.append(say(f"sweep.gru_lstm.{fact['verdict']}"))
    return [sentences]


def question(summary: dict, f: dict, catalog: Catalog) -> list[Paragraph]:
    return [[catalog.say("sweep.question.intro")], *gating(summary, f, catalog), *gru_lstm(summary, f, catalog)]


def _mean_seconds(summary: dict, model: str) -> float | None:
    values = [p["models"][model]["seconds_per_epoch"]["mean"] for p in summary["points"]
              if p["models"][model]["seconds_per_epoch"]["mean"] is not None]
    return sum(values) / len(values) if values else None


def cost(summary: dict, f: dict, catalog: Catalog) -> list[Paragraph]:
    say, names = catalog.say, summary["display_names"]
    seconds = {m: _mean_seconds(summary, m) for m in f["models"]}
    timed = [(m, s) for m, s in seconds.items() if s is not None]
    if len(timed) == 1:
        time = [say("sweep.cost.seconds", model=names[timed[0][0]], seconds=num(timed[0][1], 1))]
    else:  # one measurement of every model: one sentence ("BiRNN 1.2초, BiGRU 1.2초, BiLSTM 1.0초")
        time = [say("sweep.cost.seconds_all", values=Markup(catalog.raw("list.separator")).join(
            say("sweep.cost.seconds_each", model=names[m], seconds=num(s, 1)) for m, s in timed))] if timed else []
    if seconds.get("gru") and seconds.get("lstm"):
        time.append(say("sweep.cost.gru_lstm", ratio=pct(seconds["gru"] / seconds["lstm"], 0)))
    if f["threads"]:
        threads = f["threads"][0] if len(f["threads"]) == 1 else "–".join(map(str, (f["threads"][0], f["threads"][-1])))
        time.append(say("sweep.cost.threads", threads=threads, count=f["threads"][-1]))
    size = []
    for axis in f["axes"]:
        changed = [(m, p) for m, p in axis["slices"][0]["params"].items() if None not in p and p[0] != p[1]]
        if len(changed) == 1:
            m, p = changed[0]
            size.append(say("sweep.cost.params_change", axis=axis["name"], model=names[m], low=num(p[0]), high=num(p[1])))
        elif changed:  # one sentence, each model with its two counts
            size.append(say("sweep.cost.params_change_models", axis=axis["name"], values=_series(catalog, (
                say("sweep.cost.params_each", model=names[m], low=num(p[0]), high=num(p[1])) for m, p in changed))))
        else:
            size.append(say("sweep.cost.params_same", axis=axis["name"]))
    return [time, size + _params_accuracy(say, f["params_accuracy"])]


def _params_accuracy(say, fact: dict) -> list[Markup]:
    if fact["kind"] in ("too_few", "none"):
        return [say("sweep.cost.correlation_too_few")]
    sentences = [say(f"sweep.cost.correlation_{fact['kind']}", rho=num(fact["rho"], 2), n=fact["n"])]
    if not fact["sizes_vary"]:
        sentences.append(say("sweep.cost.models_only"))
    return sentences


def limits(summary: dict, f: dict, catalog: Catalog) -> list[Paragraph]:
    say = catalog.say
    comparisons = f["points"] * len(f["pairs"])
    sentences = [say("sweep.limits.seeds", seeds=len(f["seeds"]), count=len(f["seeds"]))]
    if comparisons > 1:
        sentences.append(say("sweep.limits.comparisons", comparisons=comparisons))
    if f["epochs"]:
        sentences.append(say("sweep.limits.budget", epochs=f["epochs"]))
    sentences.append(say("sweep.limits.data"))
    if f["quick"]:
        sentences.append(say("sweep.limits.quick"))
    return [sentences]

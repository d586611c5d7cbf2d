"""The course site's index page in one language: the table of runs, their checks, and the class's results.

Every sentence is a catalog message (`[site]` in `lang/<code>.toml`) chosen here from the numbers,
as in the report; `templates/site.html` lays the page out. The page carries its figures and its
small script (sorting by a column, filtering by a flag) inside, allowed by the page's
Content-Security-Policy by its hash, and shows every run without it.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from labreport.report.catalog import Catalog
from labreport.report.numbers import P_VALUE_FLOOR
from labreport.report.numbers import format_number as num
from labreport.report.numbers import format_p_value as pval
from labreport.report.numbers import format_percent as pct
from labreport.report.numbers import format_points as pts
from labreport.report.numbers import format_seconds as sec


CHECK_ORDER = ("edited", "identical", "same_id", "predictions_unreadable", "no_predictions", "params", "settings",
               "quick", "partial")
"""The flags' order in the counts at the top: what needs a TA's attention first."""


def flag_text(flag: dict, catalog: Catalog) -> Markup:
    """One check's reason, in the catalog's language."""
    check = flag["check"]
    if check == "settings":
        listed = ", ".join(f"{s['setting']} = {_value(s['value'])} ({_value(s['expected'])})" for s in flag["settings"])
        return catalog.say("site.flag.settings_assignment" if flag["assignment"] else "site.flag.settings_class",
                           settings=listed)
    if check in ("quick", "partial"):
        from labreport.core.settings import FULL_TEST_REVIEWS, FULL_TRAIN_REVIEWS

        return catalog.say(f"site.flag.{check}", train=num(flag["train"]), test=num(flag["test"]),
                           full_train=num(FULL_TRAIN_REVIEWS), full_test=num(FULL_TEST_REVIEWS))
    if check == "edited":
        return catalog.say("site.flag.edited", fields=", ".join(flag["fields"]))
    if check == "identical":
        return catalog.say("site.flag.identical", runs=", ".join(flag["with"]))
    if check == "same_id":
        return catalog.say("site.flag.same_id", student_id=flag["student_id"], runs=", ".join(flag["with"]))
    if check == "params":
        return catalog.say("site.flag.params", layers=", ".join(flag["layers"]))
    if check == "predictions_unreadable":
        return catalog.say("site.flag.predictions_unreadable", why=flag["why"])
    return catalog.say(f"site.flag.{check}")


def _value(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def class_paragraph(experiment: dict, catalog: Catalog) -> list[Markup]:
    """The class's results in sentences chosen by the numbers."""
    names = experiment["display_names"]
    say = catalog.say
    if experiment["runs"] == 0:
        return [say("site.class.none")]
    sentences = [say("site.class.runs", count=experiment["runs"], runs=experiment["runs"])]
    for name in experiment["models"]:
        a = experiment["accuracy"][name]
        if a["sd"] is None:
            sentences.append(say("site.class.accuracy_one", model=names[name], mean=pct(a["mean"])))
        else:
            sentences.append(say("site.class.accuracy", model=names[name], mean=pct(a["mean"]), sd=pct(a["sd"]), n=a["n"]))
    pair = experiment["pair"]
    if pair is None or pair["runs"] < 2:
        sentences.append(say("site.class.too_few"))
        return sentences
    a, b = names[pair["a"]], names[pair["b"]]
    d = pair["difference"]
    sentences.append(say("site.class.difference", a=a, b=b, mean=pts(d["mean"] * 100), sd=pts(d["sd"] * 100), n=pair["runs"]))
    sentences.append(say("site.class.wins", a=a, b=b, a_wins=pair["a_wins"], b_wins=pair["b_wins"], ties=pair["ties"]))
    significant = pair["p_value"] < pair["level"]
    p_is = (say("stats.p_below", floor=str(P_VALUE_FLOOR)) if pair["p_value"] < P_VALUE_FLOOR
            else say("stats.p_equals", p=pval(pair["p_value"])))
    if significant:
        better = a if d["mean"] > 0 else b
        sentences.append(say("site.class.test.significant", p_is=p_is, level=pct(pair["level"], 0),
                             better=better))
    else:
        sentences.append(say("site.class.test.not_significant", p_is=p_is, level=pct(pair["level"], 0)))
    sentences.append(say("site.class.why_test"))
    return sentences


def figures(experiment: dict, catalog: Catalog) -> dict[str, Markup]:
    """The class figures, as SVG to place inside the page."""
    from labreport.report import figures as figures_module
    from labreport.report.embedding import figure_label, figure_markup

    if experiment["runs"] == 0:
        return {}
    label = figure_label(catalog)
    drawn = {"class_accuracy": figures_module.save(figures_module.class_accuracy(experiment, label), ("svg",), "class_accuracy")}
    if experiment["pair"] is not None and experiment["pair"]["runs"] >= 2:
        figure = figures_module.class_differences(experiment["pair"], experiment["display_names"], label)
        drawn["class_differences"] = figures_module.save(figure, ("svg",), "class_differences")
    return figure_markup(drawn, inline=True)


def _settings_text(settings: dict) -> str:
    return ", ".join(f"{key} = {_value(value)}" for key, value in sorted(settings.items()))


def _title(summary: dict, catalog: Catalog) -> str:
    """The page's title: `--title`, else the lab's title from `[report]` in this language, else the catalog's."""
    lab_title = summary.get("lab_title") or ""
    if isinstance(lab_title, dict):
        lab_title = lab_title.get(catalog.code, "")
    return summary["title"] or lab_title or catalog.text("site.default_title")


def _report_links(run_id: str, names: list[str], catalog: Catalog) -> list[dict]:
    """The reports grouped by language, in the order given (Korean first): one line a language, its
    label ("한국어") and a link per format ("HTML", "DOCX"), each link named in full ("한국어 DOCX") for
    screen readers and on hover."""
    groups: list[dict] = []
    for name in names:
        _, lang, fmt = name.split(".")
        label = catalog.text(f"site.language.{lang}") if f"site.language.{lang}" in catalog.messages else lang
        if not groups or groups[-1]["lang"] != lang:
            groups.append({"lang": lang, "label": label, "links": []})
        groups[-1]["links"].append({"href": f"runs/{run_id}/{name}", "text": fmt.upper(), "name": f"{label} {fmt.upper()}"})
    return groups


def page(summary: dict, catalog: Catalog, languages: list[str], user_templates=None) -> str:
    """The index page of the site in `catalog`'s language, with its font embedded.

    Class-wide facts come once at the top (the settings every run shares, the assignment's, the
    count of each flag, the class's accuracy); beneath, one line per run with a details line of its
    flags' reasons, data and machine, each run its own `<tbody>` so sorting and filtering keep the two together.
    """
    from labreport.report.page import finish_page, render_template
    from labreport.report.templates import make_environment

    experiment = summary["experiment"]
    names = experiment["display_names"]
    rows = []
    counts: dict[str, int] = {}
    for r in summary["runs"]:
        if r["problem"]:
            continue
        flags = [{"check": f["check"], "label": catalog.text(f"site.badge.{f['check']}"),
                  "reason": flag_text(f, catalog)} for f in r["flags"]]
        for f in flags:
            counts[f["check"]] = counts.get(f["check"], 0) + 1
        models = []
        for name in experiment["models"]:
            m = r["models"].get(name)
            if m is None:
                models.append({"text": "–", "epoch": "", "sort": ""})
                continue
            text = f"{pct(m['accuracy'])} ± {pct(m['sd'])}" if m["sd"] is not None else pct(m["accuracy"])
            models.append({"text": text, "epoch": catalog.text("site.best_epoch", model=names[name], epoch=m["best_epoch"]),
                           "sort": m["accuracy"]})
        own = []
        for lang in languages:
            written = r.get("own_sections", {}).get(lang) or {"sections": 0, "characters": 0}
            key = "site.own.yes" if written["characters"] else "site.own.no"
            own.append(catalog.say(key, lang=lang, sections=written["sections"], count=written["sections"],
                                   characters=num(written["characters"])))
        rows.append({**r, "model_cells": models, "flag_badges": flags, "own": own,
                     "own_sort": sum(w["characters"] for w in r.get("own_sections", {}).values() if w),
                     "links": _report_links(r["id"], r.get("reports", []), catalog),
                     "data": catalog.say(f"site.data.{r['data_source']}", train=num(r["train_reviews"]), test=num(r["test_reviews"])),
                     "wall": sec(r["wall_seconds"] or 0, 0)})
    compared = summary["compared_with"]
    context = {
        "lang": catalog.code,
        "title": _title(summary, catalog),
        "course": summary.get("course") or "",
        "say": catalog.say,
        "rows": rows,
        "unreadable": [r for r in summary["runs"] if r["problem"]],
        "models": [names[n] for n in experiment["models"]],
        "class_text": class_paragraph(experiment, catalog),
        "figures": figures(experiment, catalog),
        "compared": catalog.say("site.compared.assignment" if compared["from_assignment"] else "site.compared.class"),
        "shared_settings": _settings_text(summary.get("shared_settings", {})),
        "assignment_settings": _settings_text(compared["settings"]) if compared["from_assignment"] else "",
        "flag_counts": [{"check": check, "label": catalog.text(f"site.badge.{check}"), "count": counts[check]}
                        for check in (*CHECK_ORDER, *sorted(set(counts) - set(CHECK_ORDER))) if check in counts],
        "flagged": sum(1 for r in rows if r["flag_badges"]),
        "languages": [{"code": lang, "href": "index.html" if i == 0 else f"index.{lang}.html"} for i, lang in enumerate(languages)],
        "r": {"labreport_version": summary["labreport_version"]},
    }
    env = make_environment(user_templates)
    return finish_page(env, render_template(env, "site.html", context), "site.html")

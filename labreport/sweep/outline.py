"""The sweep report's document: its numbered sections, paragraphs, figures and tables, in one language.

The sections are parts of the report's document model (`labreport.report.document`), whose resolver
numbers sections, figures and tables in the order they appear, as in the single report; the
template (`templates/sweep.html`, with the blocks of `templates/document.html`) only lays them out. Every cell comes from `sweep.json`.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from labreport.report.catalog import Catalog
from labreport.report.document import Cell, Figure, Para, Section, Table, resolve
from labreport.report.numbers import format_number as num
from labreport.report.numbers import format_percent as pct
from labreport.report.numbers import format_points as pts
from labreport.report.numbers import format_seconds as sec
from labreport.report.numbers import signed
from labreport.sweep import facts as facts_module
from labreport.sweep import sentences
from labreport.sweep.facts import point_label


def _cell(html: Any, css: str = "") -> Cell:
    return Cell(html, css)


def _spread_text(spread: dict, scale: float = 100, decimals: int = 2, unit: str = "%") -> str:
    if spread["mean"] is None:
        return "–"
    mean = signed(f"{spread['mean'] * scale:,.{decimals}f}{unit}")
    return mean if spread["sd"] is None else f"{mean} ± {spread['sd'] * scale:,.{decimals}f}{unit}"


class Builder:
    """Builds the sections of one language's page, in the parts of `labreport.report.document`.

    Its sentences are filled here (the sweep's facts choose them, `labreport.sweep.sentences`); the
    document's resolver numbers the sections, figures and tables, as it does the single report's.
    """

    def __init__(self, summary: dict, catalog: Catalog):
        self.summary, self.catalog, self.say = summary, catalog, catalog.say
        self.facts = facts_module.facts(summary)
        self.names = summary["display_names"]

    def paragraphs(self, paragraphs: list[list[Markup]]) -> list[Para]:
        return [Para(list(p)) for p in paragraphs if p]

    def figure(self, key: str, caption: str, **args) -> Figure:
        """The figure drawn as `key` (`labreport.sweep.plots.all_figures`), captioned by `sweep.figure.<caption>`."""
        return Figure(key, self.say(f"sweep.figure.{caption}", **args))

    def table(self, key: str, head: list, rows: list[list[Cell]], **args) -> Table:
        return Table(key, self.say(f"sweep.table.{key}", **args),
                     [_cell(*h) if isinstance(h, tuple) else _cell(h) for h in head], [("", cells) for cells in rows])

    def section(self, key: str, blocks: list) -> Section:
        return Section(f"sweep-{key}", self.say(f"sweep.section.{key}"), blocks)

    # -----------------------------------------------------------------------------------------

    def grid_tables(self) -> list[Table]:
        axes = [[_cell(Markup("<code>{}</code>").format(a["name"])), _cell(", ".join(map(str, a["values"])))]
                for a in self.summary["axes"]]
        axes.append([_cell(self.say("sweep.cell.seeds")), _cell(", ".join(map(str, self.summary["seeds"])))])
        fixed = [[_cell(Markup("<code>{}</code>").format(key)), _cell(_value(value))]
                 for key, value in self.summary["fixed"].items()]
        return [self.table("grid", [self.say("sweep.head.setting"), self.say("sweep.head.values")], axes),
                self.table("fixed", [self.say("sweep.head.setting"), self.say("sweep.head.value")], fixed)]

    def accuracy_table(self) -> Table:
        head = [self.say("sweep.head.point")] + [(self.names[m], "num") for m in self.summary["models"]]
        rows = []
        for point in self.summary["points"]:
            cells = [_cell(point_label(point["point"]) or "–")]
            for model in self.summary["models"]:
                spread = point["models"][model]["accuracy"]
                cells.append(_cell(f"{_spread_text(spread)} (n={spread['n']})", "num"))
            rows.append(cells)
        return self.table("accuracy", head, rows)

    def pairs_table(self) -> Table:
        head = [self.say("sweep.head.point"), self.say("sweep.head.pair"), (self.say("sweep.head.difference"), "num"),
                (self.say("sweep.head.per_seed"), "num"), self.say("sweep.head.verdict")]
        rows = []
        for point in self.summary["points"]:
            for pair in point["pairs"]:
                a, b, d = self.names[pair["a"]], self.names[pair["b"]], pair["difference"]
                verdict = self.say(f"sweep.verdict.{pair['lead']}", a=a, b=b) if d["n"] else "–"
                rows.append([_cell(point_label(point["point"]) or "–"), _cell(f"{a} − {b}"),
                             _cell(_spread_text(d, decimals=2, unit=""), "num"),
                             _cell(", ".join(pts(v * 100) for v in d["values"]) or "–", "num"), _cell(verdict)])
        return self.table("pairs", head, rows)

    def cost_table(self) -> Table:
        head = [self.say("sweep.head.point")]
        for m in self.summary["models"]:
            head += [(self.say("sweep.head.seconds", model=self.names[m]), "num"),
                     (self.say("sweep.head.params", model=self.names[m]), "num")]
        rows = []
        for point in self.summary["points"]:
            cells = [_cell(point_label(point["point"]) or "–")]
            for m in self.summary["models"]:
                numbers = point["models"][m]
                cells += [_cell(_spread_text(numbers["seconds_per_epoch"], 1, 1, ""), "num"),
                          _cell(num(numbers["params"]) if numbers["params"] is not None else "–", "num")]
            rows.append(cells)
        return self.table("cost", head, rows)

    def runs_table(self, lang: str) -> Table:
        head = [self.say("sweep.head.run"), (self.say("sweep.head.seed"), "num"), self.say("sweep.head.status")]
        head += [(self.names[m], "num") for m in self.summary["models"]]
        head += [(self.say("sweep.head.wall"), "num"), self.say("sweep.head.report")]
        rows = []
        for run in self.summary["runs"]:
            cells = [_cell(Markup("<code>{}</code>").format(run["id"])), _cell(run["seed"], "num"),
                     _cell(self.say("sweep.status." + ("complete_retried" if run["status"] == "complete" and run["attempts"] == 2 else run["status"])))]
            cells += [_cell(pct(run["models"][m]["accuracy"]) if m in run["models"] else "–", "num")
                      for m in self.summary["models"]]
            cells.append(_cell(sec(run["seconds"], 0) if run["seconds"] is not None else "–", "num"))
            link = run["reports"].get(lang) or next(iter(run["reports"].values()), None)
            cells.append(_cell(Markup('<a href="{}">{}</a>').format(link, self.say("sweep.cell.report")) if link else "–"))
            rows.append(cells)
        return self.table("runs", head, rows)

    def failed_table(self) -> Table:
        rows = [[_cell(Markup("<code>{}</code>").format(r["id"])), _cell(r["reason"])] for r in self.facts["failed"]]
        return self.table("failed", [self.say("sweep.head.run"), self.say("sweep.head.reason")], rows)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


def outline(summary: dict, catalog: Catalog, lang: str) -> list[dict]:
    """The numbered sections of the sweep report in `catalog`'s language, resolved for the template."""
    b = Builder(summary, catalog)
    f = b.facts
    doc = [b.section("grid", b.paragraphs(sentences.grid(summary, f, catalog)) + b.grid_tables())]
    blocks = b.paragraphs([[catalog.say("sweep.accuracy.intro")]])
    for axis in f["axes"]:
        blocks.append(b.figure(f"accuracy_{axis['name']}", "accuracy", axis=axis["name"]))
        blocks += b.paragraphs(sentences.accuracy(summary, f, axis, catalog))
    doc.append(b.section("accuracy", blocks + [b.accuracy_table()]))
    doc.append(b.section("pairs", b.paragraphs(sentences.pairs(summary, f, catalog)) + [b.pairs_table()]))
    question = sentences.question(summary, f, catalog)
    blocks = b.paragraphs(question[:1])
    rest = question[1:]
    if f["varies_length"]:
        blocks.append(b.figure("mechanism", "mechanism"))
    doc.append(b.section("question", blocks + b.paragraphs(rest)))
    blocks = [b.figure(f"cost_{axis['name']}", "cost", axis=axis["name"]) for axis in f["axes"]]
    blocks += [b.figure("accuracy_params", "accuracy_params")] + b.paragraphs(sentences.cost(summary, f, catalog)) + [b.cost_table()]
    doc.append(b.section("cost", blocks))
    doc.append(b.section("limits", b.paragraphs(sentences.limits(summary, f, catalog))))
    blocks = b.paragraphs([[catalog.say("sweep.runs.intro")]]) + [b.runs_table(lang)]
    if f["failed"]:
        blocks.append(b.failed_table())
    doc.append(b.section("runs", blocks))
    return resolve(doc, catalog, references=None)

"""The sweep report's figures, drawn from `sweep.json` alone, in the single report's font and colours.

Each model is one colour (its cell's in `labreport.core.cells`, `labreport.report.figures.COLORS`); a line is its mean over seeds, the band ±1
standard deviation, the dots the single seeds. Numeric settings are drawn on a numeric axis (a
logarithmic one when the values span a factor of ten or more), other settings as categories.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from labreport.report.figures import COLORS, figure, plt, save
from labreport.sweep.facts import LENGTH, is_numeric, point_label, slices

Label = Callable[..., str]
MAX_PANELS = 6
"""Slices of the other axes drawn side by side; a larger grid shows its first ones (the tables have all)."""


def _x(axis: dict, points: list[dict]) -> tuple[list, bool]:
    values = [p["point"][axis["name"]] for p in points]
    if is_numeric(axis["values"]):
        return values, True
    return [axis["values"].index(v) for v in values], False


def _style_x(ax, axis: dict, label: Label) -> None:
    values = axis["values"]
    if is_numeric(values):
        positive = [v for v in values if v > 0]
        if len(positive) == len(values) and max(values) >= 10 * min(values):
            ax.set_xscale("log")
        ax.set_xticks(sorted(values), [str(v) for v in sorted(values)])
        ax.minorticks_off()
    else:
        ax.set_xticks(range(len(values)), [str(v) for v in values])
    ax.set_xlabel(axis["name"])


def _line(ax, summary: dict, axis: dict, points: list[dict], model: str, field: str, scale: float = 1.0) -> None:
    """One model's mean over seeds along the axis, its ±1 sd band and the single seeds."""
    color = COLORS.get(model, "#333333")
    shown = [p for p in points if p["models"][model][field]["mean"] is not None]
    if not shown:
        return
    x, _ = _x(axis, shown)
    mean = np.array([p["models"][model][field]["mean"] for p in shown]) * scale
    sd = np.array([p["models"][model][field]["sd"] or 0.0 for p in shown]) * scale
    ax.plot(x, mean, color=color, marker="o", markersize=4, label=summary["display_names"][model])
    ax.fill_between(x, mean - sd, mean + sd, color=color, alpha=0.15, linewidth=0)
    for xi, p in zip(x, shown):
        seeds = np.array(p["models"][model][field]["values"]) * scale
        ax.scatter([xi] * len(seeds), seeds, s=10, color=color, alpha=0.6, linewidths=0)


def _panels(count: int, height: float = 3.2):
    columns = min(count, 3)
    rows = (count + columns - 1) // columns
    fig, axes = plt.subplots(rows, columns, figsize=(3.3 * columns + 1.2, height * rows), squeeze=False)
    for extra in axes.flat[count:]:
        extra.set_visible(False)
    return fig, list(axes.flat)


@figure
def accuracy_along(summary: dict, axis: dict, label: Label):
    """Test accuracy against one setting, a line per model, a panel per slice of the other settings."""
    cuts = slices(summary, axis)[:MAX_PANELS]
    fig, axes = _panels(len(cuts))
    for ax, cut in zip(axes, cuts):
        for model in summary["models"]:
            _line(ax, summary, axis, cut["points"], model, "accuracy", 100)
        _style_x(ax, axis, label)
        ax.set_ylabel(label("accuracy_percent"))
        if cut["others"]:
            ax.set_title(point_label(cut["others"]), fontsize=9)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


@figure
def mechanism(summary: dict, label: Label):
    """Accuracy against length beside the gradient share at the middle against length (first slice)."""
    axis = next(a for a in summary["axes"] if a["name"] == LENGTH)
    cut = slices(summary, axis)[0]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4))
    for model in summary["models"]:
        _line(left, summary, axis, cut["points"], model, "accuracy", 100)
        _line(right, summary, axis, cut["points"], model, "gradient_middle_share", 100)
    for ax, name in ((left, "accuracy_percent"), (right, "gradient_share_percent")):
        _style_x(ax, axis, label)
        ax.set_ylabel(label(name))
        ax.legend(fontsize=8)
    right.set_yscale("log")
    right.yaxis.set_major_formatter(plt.FuncFormatter(lambda value, _: f"{value:g}"))
    if cut["others"]:
        fig.suptitle(point_label(cut["others"]), fontsize=9)
    fig.tight_layout()
    return fig


@figure
def cost_along(summary: dict, axis: dict, label: Label):
    """Seconds per epoch and parameters against one setting (the first slice of the others)."""
    cut = slices(summary, axis)[0]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2))
    for model in summary["models"]:
        _line(left, summary, axis, cut["points"], model, "seconds_per_epoch")
        shown = [p for p in cut["points"] if p["models"][model]["params"] is not None]
        x, _ = _x(axis, shown)
        right.plot(x, [p["models"][model]["params"] for p in shown], color=COLORS.get(model, "#333333"), marker="o",
                   markersize=4, label=summary["display_names"][model])
    for ax, name in ((left, "seconds_per_epoch"), (right, "parameters")):
        _style_x(ax, axis, label)
        ax.set_ylabel(label(name))
        ax.legend(fontsize=8)
    right.yaxis.set_major_formatter(plt.FuncFormatter(lambda value, _: f"{value:,.0f}"))
    if cut["others"]:
        fig.suptitle(point_label(cut["others"]), fontsize=9)
    fig.tight_layout()
    return fig


@figure
def accuracy_params(summary: dict, label: Label):
    """Accuracy (mean ± sd over seeds) against parameter count, every grid point of every model."""
    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    for model in summary["models"]:
        shown = [p["models"][model] for p in summary["points"] if p["models"][model]["accuracy"]["mean"] is not None]
        if not shown:
            continue
        ax.errorbar([m["params"] for m in shown], [m["accuracy"]["mean"] * 100 for m in shown],
                    yerr=[(m["accuracy"]["sd"] or 0) * 100 for m in shown], fmt="o", markersize=5, capsize=3,
                    color=COLORS.get(model, "#333333"), label=summary["display_names"][model])
    ax.xaxis.set_major_locator(plt.MaxNLocator(nbins=5))  # seven-digit counts: five ticks fit the width
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda value, _: f"{value:,.0f}"))
    ax.set_xlabel(label("parameters"))
    ax.set_ylabel(label("accuracy_percent"))
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def all_figures(summary: dict, label: Label, formats: tuple[str, ...] = ("svg",)) -> dict[str, dict[str, bytes]]:
    """Every figure of the sweep report by name, each as {format: bytes} in `formats` (`figures.save`'s names:
    "svg" for the pages, "png" and "png@300" for the word-processor files)."""
    drawings = {}
    for axis in summary["axes"]:
        drawings[f"accuracy_{axis['name']}"] = lambda axis=axis: accuracy_along(summary, axis, label)
    if any(a["name"] == LENGTH and len(a["values"]) >= 2 for a in summary["axes"]):
        drawings["mechanism"] = lambda: mechanism(summary, label)
    for axis in summary["axes"]:
        drawings[f"cost_{axis['name']}"] = lambda axis=axis: cost_along(summary, axis, label)
    drawings["accuracy_params"] = lambda: accuracy_params(summary, label)
    return {name: save(draw(), formats, salt=f"sweep_{name}") for name, draw in drawings.items()}

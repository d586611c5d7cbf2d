"""The report's figures, drawn with matplotlib from the record alone, as PNG and SVG.

Korean labels are drawn with Labreport Gothic, the subset of NanumGothic shipped inside the
package (`labreport.report.fonts`), so no system font is needed and the reader needs none either. A glyph
the font lacks (a word in Japanese, an emoji) falls back to DejaVu Sans, matplotlib's own font, and
then to the reader's fonts; matplotlib's "Glyph … missing" warning is not shown.

The report pages (HTML and PDF) carry each figure as SVG inside the page: vector paths with the
text left as text, set in the page's own embedded font, so figures stay sharp when printed
or zoomed and their words can be searched. PNGs at 160 dpi are written beside the report too, for
documents that take no SVG.
"""

from __future__ import annotations

import functools
import io
import logging
import warnings
from functools import lru_cache
from typing import Callable

import matplotlib
import numpy as np

from labreport.core import cells
from labreport.report.fonts import font_files

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from matplotlib import ticker  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

COLORS = cells.colors()
"""Each model's colour, from its cell's entry in `labreport.core.cells`."""
TRAIN_STYLE = {"linestyle": "-", "marker": "o", "markersize": 4}
VAL_STYLE = {"linestyle": "--", "marker": "s", "markersize": 4}


@lru_cache(maxsize=None)
def _setup_fonts() -> str:
    # The bold registers as weight 600; matplotlib would warn about it on every figure.
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
    for path in font_files().values():
        font_manager.fontManager.addfont(str(path))
    name = font_manager.FontProperties(fname=str(font_files()["regular"])).get_name()
    plt.rcParams.update({
        "font.family": [name, "DejaVu Sans"],
        "axes.unicode_minus": False,  # the font has no U+2212 minus sign
        "svg.fonttype": "none",  # text stays text: the PDF embeds the font for it, and it can be searched
        # Every text comes from the record, a review or a catalog and is drawn as written: a model
        # name or a word like `$\frac{}{}$` is text, never matplotlib's mathtext (which raised on it).
        "text.parse_math": False,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "font.size": 10,
    })
    return name


DPI = 160
FORMATS = ("png", "svg")

Label = Callable[..., str]
"""A figure's words: `label("epoch")`, `label("truncation", length=300, share=22.8)` (catalog `figure.label.*`)."""


def figure(draw: Callable) -> Callable:
    """A figure function: drawn in the shipped font, and silent about glyphs the fonts lack (the SVG
    keeps the character as text and the reader's fonts draw it; a PNG shows a box), where matplotlib
    would warn once per glyph."""
    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        _setup_fonts()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Glyph .* missing from")
            return draw(*args, **kwargs)
    return wrapper


@figure
def save(fig, formats: tuple[str, ...] = FORMATS, salt: str = "labreport") -> dict[str, bytes]:
    """The figure as bytes in each format; no software tag, date or random ids, so equal records give equal bytes.

    `salt` makes the SVG's element ids the figure's own, so several SVGs can share one HTML page.
    A format may name its resolution: "png@300" is PNG at 300 dpi (the DOCX's print figures); plain
    "png" is drawn at `DPI`.
    """
    plt.rcParams["svg.hashsalt"] = salt
    plain_tick_labels(fig)
    result = {}
    # Each figure ends in tight_layout(), so no bbox_inches="tight" (it would draw every figure twice).
    for fmt in formats:
        buffer = io.BytesIO()
        kind, _, dpi = fmt.partition("@")
        metadata = {"Software": None} if kind == "png" else {"Date": None, "Creator": None}
        fig.savefig(buffer, format=kind, dpi=int(dpi) if dpi else DPI, metadata=metadata)
        result[fmt] = buffer.getvalue()
    plt.close(fig)
    return result


def plain_tick_labels(fig) -> None:
    """Makes every tick label of `fig` plain text, on linear and log axes, major and minor ticks.

    matplotlib's log axes label ticks in mathtext (`$\\mathdefault{6\\times10^{1}}$`), which the
    figures never parse (`text.parse_math` is off, so a word from a review stays a word): left so,
    the code itself would be printed. `LogFormatter` picks the same ticks to label in plain text
    ("60", "1e-03"); the linear axes' offset ("1e6") is plain too.
    """
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            for formatter, install in ((axis.get_major_formatter(), axis.set_major_formatter),
                                       (axis.get_minor_formatter(), axis.set_minor_formatter)):
                if isinstance(formatter, ticker.LogFormatterMathtext):
                    transform = axis.get_transform()  # the scale's base and, on a symlog axis, its linear range
                    install(ticker.LogFormatter(getattr(transform, "base", 10), labelOnlyBase=formatter.labelOnlyBase,
                                                minor_thresholds=formatter.minor_thresholds,
                                                linthresh=getattr(transform, "linthresh", None)))
                elif isinstance(formatter, ticker.ScalarFormatter):
                    formatter.set_useMathText(False)


def _epochs(n: int) -> list[int]:
    return list(range(1, n + 1))


def across_runs(runs: list[dict], key: str) -> tuple[list[int], np.ndarray, np.ndarray]:
    """Epochs, mean and sample standard deviation of `history[key]` over the runs that reached each epoch.

    Runs stop early at different epochs; an epoch reached by one run only has a deviation of 0.
    """
    longest = max(len(run["history"][key]) for run in runs)
    means, sds = [], []
    for i in range(longest):
        values = np.array([run["history"][key][i] for run in runs if len(run["history"][key]) > i])
        means.append(values.mean())
        sds.append(values.std(ddof=1) if len(values) > 1 else 0.0)
    return _epochs(longest), np.array(means), np.array(sds)


def _runs(entry: dict) -> list[dict]:
    return entry.get("runs") or [entry]


def _plot_runs(ax, entry: dict, key: str, label: str, style: dict, alpha: float = 1.0) -> None:
    """One line: the history of a single run, or the mean over seeds with a ±1 sd band."""
    color = COLORS.get(entry["name"], "#333333")
    runs = _runs(entry)
    if len(runs) == 1:
        ax.plot(_epochs(len(entry["history"][key])), entry["history"][key], color=color, alpha=alpha,
                label=label, **style)
        return
    epochs, mean, sd = across_runs(runs, key)
    ax.plot(epochs, mean, color=color, alpha=alpha, label=label, **style)
    ax.fill_between(epochs, mean - sd, mean + sd, color=color, alpha=0.15 * alpha, linewidth=0)


@figure
def convergence(entry: dict, label: Label):
    """Loss and accuracy per epoch, training and validation, for one model.

    One run: its curves, best epoch marked. Several seeds: the mean curve with a ±1 sd band.
    """
    runs = _runs(entry)
    longest = max(len(run["history"]["loss"]) for run in runs)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for ax, key, title in ((axes[0], "loss", label("loss")), (axes[1], "accuracy", label("accuracy"))):
        _plot_runs(ax, entry, key, label("train"), TRAIN_STYLE)
        _plot_runs(ax, entry, f"val_{key}", label("validation"), VAL_STYLE, alpha=0.7)
        if len(runs) == 1:
            ax.axvline(entry["best_epoch"], color="#555555", linestyle=":", linewidth=1, label=label("best_epoch"))
            ax.set_title(f"{entry['display_name']} — {title}")
        else:
            ax.set_title(f"{entry['display_name']} — {title} ({label('seed_band', n=len(runs))})")
        ax.set_xlabel(label("epoch"))
        ax.set_xticks(_epochs(longest))
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


@figure
def comparison(models: dict, label: Label):
    """Validation loss and accuracy of every model on shared axes (means with bands over seeds)."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for entry in models.values():
        _plot_runs(axes[0], entry, "val_loss", entry["display_name"], VAL_STYLE)
        _plot_runs(axes[1], entry, "val_accuracy", entry["display_name"], VAL_STYLE)
    longest = max(len(run["history"]["loss"]) for e in models.values() for run in _runs(e))
    runs = min(len(_runs(e)) for e in models.values())
    for ax, title in ((axes[0], label("val_loss")), (axes[1], label("val_accuracy"))):
        ax.set_title(title if runs == 1 else f"{title} ({label('seed_band', n=runs)})")
        ax.set_xlabel(label("epoch"))
        ax.set_xticks(_epochs(longest))
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


@figure
def length_histogram(dataset: dict, label: Label):
    """Training review lengths in words, with the truncation point."""
    stats = dataset["lengths"]["train"]
    edges, counts = stats["histogram"]["edges"], stats["histogram"]["counts"]
    max_length = dataset["preprocessing"]["max_length"]
    fig, ax = plt.subplots(figsize=(8, 3.2))
    widths = [b - a for a, b in zip(edges[:-1], edges[1:])]
    ax.bar(edges[:-1], counts, width=widths, align="edge", color="#7f9fbf", edgecolor="white", linewidth=0.5)
    ax.axvline(max_length, color="#d62728", linewidth=1.5,
               label=label("truncation", length=max_length, share=stats["truncated_share"] * 100))
    ax.axvline(stats["median"], color="#333333", linestyle=":", linewidth=1,
               label=label("median", value=stats["median"]))
    ax.set_xlabel(label("words_per_review"))
    ax.set_ylabel(label("reviews"))
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


@figure
def confusion_matrices(models: dict, label: Label):
    """One confusion matrix per model (best checkpoint, test split), counts and shares."""
    fig, axes = plt.subplots(1, len(models), figsize=(3.3 * len(models), 3.1), squeeze=False)
    names = [label("negative"), label("positive")]
    for ax, entry in zip(axes[0], models.values()):
        matrix = entry["test"]["confusion_matrix"]
        total = sum(sum(row) for row in matrix)
        # A mesh, not imshow: four cells stay vector shapes in the SVG the PDF takes.
        edges = np.arange(3) - 0.5
        ax.pcolormesh(edges, edges, np.array(matrix), cmap="Blues", vmin=0, vmax=max(max(row) for row in matrix))
        ax.set_ylim(1.5, -0.5)
        ax.set_aspect("equal")
        for i in range(2):
            for j in range(2):
                value = matrix[i][j]
                dark = value > 0.6 * max(max(row) for row in matrix)
                ax.text(j, i, f"{value:,}\n{value / total:.1%}", ha="center", va="center",
                        color="white" if dark else "black", fontsize=9)
        ax.set_xticks([0, 1], names)
        ax.set_yticks([0, 1], names)
        ax.set_xlabel(label("predicted"))
        ax.set_ylabel(label("actual"))
        ax.set_title(entry["display_name"])
        ax.grid(False)
    fig.tight_layout()
    return fig


@figure
def gradient_flow(models: dict, label: Label):
    """Gradient norm per input position, log scale, one line per model."""
    fig, ax = plt.subplots(figsize=(8, 3.2))
    for entry in models.values():
        norms = entry["gradient_flow"]["norms"]
        ax.plot(range(1, len(norms) + 1), norms, color=COLORS.get(entry["name"], "#333333"),
                label=entry["display_name"], linewidth=1.4)
    ax.set_yscale("log")
    # Plain "1e-03" labels: the default 10^{-3} mathtext needs a minus sign the font lacks.
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:.0e}"))
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda value, _: ""))
    ax.set_xlabel(label("position"))
    ax.set_ylabel(label("gradient_norm"))
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def all_figures(record: dict, label: Label, formats: tuple[str, ...] = FORMATS) -> dict[str, dict[str, bytes]]:
    """Every figure of the report by name, each as {format: bytes}."""
    drawings = {
        "lengths": lambda: length_histogram(record["dataset"], label),
        "comparison": lambda: comparison(record["models"], label),
        "confusion": lambda: confusion_matrices(record["models"], label),
    }
    for name, entry in record["models"].items():
        drawings[f"convergence_{name}"] = lambda entry=entry: convergence(entry, label)
    if all(entry.get("gradient_flow") for entry in record["models"].values()):
        drawings["gradients"] = lambda: gradient_flow(record["models"], label)
    if all(entry.get("attributions") for entry in record["models"].values()):
        drawings["learned"] = lambda: learned_words(record["models"], label)
    return {name: save(draw(), formats, salt=name) for name, draw in drawings.items()}


@figure
def class_accuracy(experiment: dict, label: Label):
    """Each model's test accuracy across the class's runs: one dot per run, the mean as a bar."""
    names = experiment["models"]
    fig, ax = plt.subplots(figsize=(max(4.0, 1.6 * len(names) + 1.5), 3.2))
    rng = np.random.default_rng(0)  # a fixed jitter: the same runs give the same figure
    for i, name in enumerate(names):
        values = np.array(experiment["accuracy"][name]["values"]) * 100
        ax.scatter(i + rng.uniform(-0.12, 0.12, len(values)), values, s=18, alpha=0.7,
                   color=COLORS.get(name, "#333333"), linewidths=0)
        if len(values):
            ax.plot([i - 0.25, i + 0.25], [values.mean()] * 2, color="#222222", linewidth=2)
    ax.set_xticks(range(len(names)), [experiment["display_names"][n] for n in names])
    ax.set_xlim(-0.6, len(names) - 0.4)
    ax.set_ylabel(label("test_accuracy_percent"))
    fig.tight_layout()
    return fig


@figure
def class_differences(pair: dict, display_names: dict, label: Label):
    """The per-run difference in test accuracy between two models, in points, with zero marked."""
    values = np.array(pair["differences"]) * 100
    fig, ax = plt.subplots(figsize=(6.5, 2.6))
    bins = max(5, min(30, len(values) // 2))
    ax.hist(values, bins=bins, color="#7f9fbf", edgecolor="white")
    ax.axvline(0, color="#333333", linewidth=1)
    ax.axvline(values.mean(), color="#d62728", linewidth=1.5, linestyle="--",
               label=label("mean_difference", value=values.mean()))
    ax.set_xlabel(label("difference_points", a=display_names[pair["a"]], b=display_names[pair["b"]]))
    ax.set_ylabel(label("runs"))
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


@figure
def learned_words(models: dict, label: Label):
    """Per model, the words with the largest mean positive and negative attribution (horizontal bars)."""
    fig, axes = plt.subplots(1, len(models), figsize=(3.2 * len(models), 4.2), squeeze=False)
    for ax, entry in zip(axes[0], models.values()):
        learned = entry["attributions"]["learned"]
        rows = sorted(learned["negative"] + learned["positive"], key=lambda w: w["mean"])
        values = [w["mean"] for w in rows]
        colors = ["#2166ac" if v > 0 else "#e66101" for v in values]
        ax.barh(range(len(rows)), values, color=colors)
        ax.set_yticks(range(len(rows)), [w["word"] for w in rows], fontsize=8)
        ax.axvline(0, color="#333333", linewidth=0.8)
        ax.set_title(entry["display_name"])
        ax.set_xlabel(label("mean_attribution"))
        ax.grid(axis="y", visible=False)
    fig.tight_layout()
    return fig

"""The report's output formats and default languages, declared once, and what an exporter returns.

A format is one exporter module under `labreport.report.exporters` and one line of `EXPORTERS`;
the command line, the Python API, the sweep and the course site read the names from here. The
exporters are named by their dotted path and imported when used, so this module stays a leaf that
every part of the report may import (the exporters themselves import the renderer).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

EXPORTERS = {
    "html": "labreport.report.exporters.html.HtmlExporter",
    "pdf": "labreport.report.exporters.pdf.PdfExporter",
    "docx": "labreport.report.exporters.docx.DocxExporter",
    "hwpx": "labreport.report.exporters.hwpx.HwpxExporter",
}
"""Each format's exporter class, in the order the formats are rendered and listed."""

FORMATS = tuple(EXPORTERS)
"""Every format a report can be written in: ("html", "pdf", "docx", "hwpx")."""

DEFAULT_FORMATS = ("html", "pdf")
"""The formats written when none are named: the page and the hand-in copy; the word-processor files on request."""

SITE_FORMATS = ("html",)
"""What `labreport site` publishes of each run unless asked for more (`--format`, `--pdf`): the page a TA
reads. A PDF costs about four times the page's render (measured on a full three-model record)."""

LANGUAGES = ("ko", "en")
"""The languages rendered when none are named: the built-in catalogs, Korean first."""


def exporter(name: str):
    """The exporter class of format `name` (one of `FORMATS`)."""
    module, _, cls = EXPORTERS[name].rpartition(".")
    return getattr(importlib.import_module(module), cls)


def check_available(names) -> None:
    """Stops when a format of `names` cannot be written on this machine (a missing optional library).

    Raises:
        Unavailable: the first such format's one line, saying what to install.
    """
    for name in names:
        exporter(name).check_available()


@dataclass
class Output:
    """What an exporter returns for one page, as nbconvert's `(output, resources)`: the file's
    content (text or bytes) and anything beside it."""

    data: str | bytes
    resources: dict[str, Any] = field(default_factory=dict)


class Unavailable(Exception):
    """An exporter that cannot run on this machine (no PDF engine): the format is skipped with this reason."""


@dataclass
class LanguageResult:
    """Everything of one language, in memory: its outputs by format, the figure files by name and
    format, and the formats skipped with their reason."""

    lang: str
    outputs: dict[str, Output] = field(default_factory=dict)
    figures: dict[str, dict[str, bytes]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

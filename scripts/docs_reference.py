"""The documentation's reference tables, generated from the code when the site is built.

`mkdocs.yml` names this file under `hooks:`. A page in `docs/` holds a marker such as
`<!-- reference: settings -->` on a line of its own, and `on_page_markdown` puts the table in its place,
read from the declarations themselves: the settings from `labreport.core.settings`, the record's fields
from `labreport/core/record.schema.json`, the placeholders from `labreport.report.notes`, the filters from
`labreport.report.numbers`, the limits from the constants each module declares, the commands' help from
`labreport.cli.build_parser()`. So a changed bound, field or flag changes the page with no other edit,
and nothing here repeats a value. It imports neither MkDocs nor TensorFlow: the tests call `generate`
directly.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import re
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
MARKER = re.compile(r"^<!-- reference: ([a-z_]+) -->$", re.M)


def _cell(text: Any) -> str:
    """Text made safe for a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _default_text(setting) -> str:
    default = setting.default
    if isinstance(default, tuple):
        return ",".join(default)
    if isinstance(default, bool):
        return "true" if default else "false"
    if isinstance(default, dict):
        return "{}"
    if isinstance(default, int):
        return f"{default:,}"
    return str(default) if default != "" else '""'


def settings_table() -> str:
    """Every declared setting: key, flag, type, default, values, help."""
    from labreport.core import settings

    cli_keys = {s.key for s in settings.cli_settings()}
    lines = ["| setting | flag | type | default | values | what it sets |", "|---|---|---|---|---|---|"]
    for s in settings.all_settings():
        values = s.range_text() or (", ".join(f"`{c}`" for c in s.spec.choices) if s.spec.choices else None)
        if values is None:
            values = {"bool": "`true`, `false`", "table": "a table", "text or table": "a text, or a table of texts"}.get(
                s.kind, "a text")
        if s.kind == "list":
            values = "one or more of " + values + ", each once"
        flag = f"`{s.flag}`" if s.key in cli_keys else "(labreport.toml only)"
        lines.append(f"| `{s.key}` | {flag} | {s.kind} | `{_cell(_default_text(s))}` | {_cell(values)} | {_cell(s.help)} |")
    return "\n".join(lines)


def ranges_table() -> str:
    """The table of every bounded or restricted setting, as `labreport.core.settings.ranges_table` writes it."""
    from labreport.core import settings

    return settings.ranges_table()


def _schema_type(node: dict) -> str:
    if "enum" in node:
        return "one of " + ", ".join(f"`{json.dumps(v)}`" for v in node["enum"])
    kind = node.get("type")
    if isinstance(kind, list):
        return " or ".join(kind)
    return kind or ("see its description" if "description" in node else "any")


def _schema_bounds(node: dict) -> str:
    words = []
    for key, word in (("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤"), ("exclusiveMaximum", "<"),
                      ("maxLength", "length ≤"), ("maxItems", "items ≤"), ("minItems", "items ≥"), ("pattern", "matches")):
        if key in node:
            words.append(f"{word} `{node[key]}`")
    return ", ".join(words)


def record_fields() -> str:
    """The record's fields, walked from its JSON Schema: path, type, bounds, and what the schema says of it."""
    from labreport.core import record

    schema = record.schema()
    lines = [f"Schema version written: **{record.SCHEMA_VERSION}**. {_cell(schema.get('description', ''))}", "",
             "| field | type | bounds | description |", "|---|---|---|---|"]

    def resolve(node: dict) -> tuple[dict, str | None]:
        name = None
        while "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            node = schema["$defs"][name]
        return node, name

    def walk(node: dict, path: str, seen: tuple[str, ...]) -> None:
        node, name = resolve(node)
        if name in seen:
            lines.append(f"| `{path}` | as `{name}` above | | |")
            return
        seen = seen + ((name,) if name else ())
        note = node.get("description") or node.get("$comment") or ""
        lines.append(f"| `{path}` | {_cell(_schema_type(node))} | {_cell(_schema_bounds(node))} | {_cell(note)} |")
        for key, child in node.get("properties", {}).items():
            walk(child, f"{path}.{key}" if path else key, seen)
        if isinstance(node.get("additionalProperties"), dict):
            names = node.get("propertyNames", {}).get("enum")
            walk(node["additionalProperties"], f"{path}.<{'|'.join(names) if names else 'name'}>", seen)
        if isinstance(node.get("items"), dict):
            walk(node["items"], f"{path}[i]", seen)

    for key, child in schema["properties"].items():
        walk(child, key, ())
    return "\n".join(lines)


PLACEHOLDER_HEADINGS = {
    "en": ("placeholder", "value in the record", "writes, for a sample record"),
    "ko": ("자리표시자", "기록의 값", "표본 기록에서 쓰이는 모습"),
}


def placeholders_table(lang: str = "en") -> str:
    """The twenty placeholders students use most (`labreport.report.notes.common_placeholders`), each with
    what it writes for the repository's sample record (tests/data/results.json)."""
    from labreport.report.notes import common_placeholders, fill_live_numbers

    record = json.loads((ROOT / "tests" / "data" / "results.json").read_text(encoding="utf-8"))
    lines = ["| " + " | ".join(PLACEHOLDER_HEADINGS[lang]) + " |", "|---|---|---|"]
    for placeholder, kind in common_placeholders():
        lines.append(f"| `{placeholder}` | {kind} | {_cell(fill_live_numbers(placeholder, record))} |")
    return "\n".join(lines)


def filters_table() -> str:
    """The number filters of notes and templates (`labreport.report.numbers.FILTERS`), with their docstrings."""
    from labreport.report.numbers import FILTERS

    lines = ["| filter | arguments | what it writes |", "|---|---|---|"]
    for name, function in FILTERS.items():
        parameters = list(inspect.signature(function).parameters.values())[1:]
        arguments = ", ".join(f"{p.name}={p.default!r}" for p in parameters) or "none"
        summary = (inspect.getdoc(function) or "").splitlines()[0]
        lines.append(f"| `{name}` | {_cell(arguments)} | {_cell(summary)} |")
    return "\n".join(lines)


# Each limit where the code declares it: (module, constant, unit, what it bounds). The value is read from
# the module, so a changed limit changes the page; what a user is told when a limit is passed is on the
# "Bad input" page, in words.
LIMITS = (
    ("labreport.core.settings", "MAX_SEEDS", "runs", "`--seeds`: training runs per model"),
    ("labreport.core.settings", "SEED_MAX", "", "the largest seed, `seed + seeds − 1` included"),
    ("labreport.core.settings", "MAX_TEXT", "characters", "each `[report]` text (name, student ID, …)"),
    ("labreport.report.files", "MAX_FILE_NAME_BYTES", "bytes", "the hand-in file name (`submission_name`), UTF-8"),
    ("labreport.core.record", "MAX_RECORD_BYTES", "bytes", "a results record (`results.json`)"),
    ("labreport.core.record", "MAX_VALUES", "values", "numbers, strings, lists and objects in one record"),
    ("labreport.core.record", "MAX_DEPTH", "levels", "nesting of a record"),
    ("labreport.core.record", "MAX_STRING", "characters", "one string in a record"),
    ("labreport.core.record", "MAX_ITEMS", "items", "one list or object in a record"),
    ("labreport.core.record", "MAX_PREDICTIONS_BYTES", "bytes", "`predictions.npz`, unpacked"),
    ("labreport.core.arrays", "MAX_ARRAYS", "arrays", "arrays in an `.npz` labreport did not just write"),
    ("labreport.core.fileio", "MAX_TAR_HEADER_BYTES", "bytes", "what a tar GNU long name or PAX record may claim"),
    ("labreport.core.fileio", "MAX_TAR_HEADERS_IN_A_ROW", "headers", "such tar headers in a row"),
    ("labreport.experiment.corpus", "MAX_DATA_BYTES", "bytes", "the reviews in `--data`"),
    ("labreport.experiment.corpus", "MAX_REVIEW_BYTES", "bytes", "one review file or archive member in `--data`"),
    ("labreport.experiment.corpus", "MAX_ID_DIGITS", "digits", "a review's number in its file name"),
    ("labreport.experiment.predict", "MAX_REVIEW_BYTES", "bytes", "`predict --file` (or standard input)"),
    ("labreport.experiment.resume", "MAX_KERAS_CONFIG_BYTES", "bytes", "a `.keras` file's `config.json`"),
    ("labreport.report.notes", "MAX_NOTES_BYTES", "bytes", "a notes file"),
    ("labreport.report.notes", "MAX_FILLED_CHARACTERS", "characters", "notes with their live numbers filled in"),
    ("labreport.report.notes", "MAX_DECIMALS", "decimals", "a filter's argument (`num(4)`)"),
    ("labreport.report.notes", "MAX_SECTIONS", "sections", "top-level headings in notes"),
    ("labreport.report.notes", "MAX_BLOCKS", "blocks", "paragraphs, headings, list items, table rows, code blocks in notes"),
    ("labreport.report.notes", "MAX_NESTING", "levels", "lists and quotes nested in notes"),
    ("labreport.report.notes", "MAX_KEYS_NAMED", "keys", "keys named when a placeholder names a table"),
    ("labreport.site.submissions", "MAX_ARCHIVE_BYTES", "bytes", "one submission, unpacked (archives inside it included)"),
    ("labreport.site.submissions", "MAX_ARCHIVE_MEMBERS", "members", "members of one submission"),
    ("labreport.site.submissions", "MAX_ARCHIVE_DEPTH", "levels", "archives nested in a submission"),
    ("labreport.site.submissions", "MAX_FOLDER_DEPTH", "levels", "folders nested in a submission"),
    ("labreport.site.submissions", "MAX_PDF_BYTES", "bytes", "a report PDF handed in to the site"),
    ("labreport.site.submissions", "MAX_PDF_ATTACHMENTS", "files", "files embedded in a handed-in PDF"),
    ("labreport.site.submissions", "MAX_PDF_NAME_TREE_NODES", "nodes", "nodes of a handed-in PDF's embedded-files tree"),
    ("labreport.site.submissions", "MAX_RECORD_BYTES", "bytes", "the `results.json` embedded in a handed-in PDF, decoded"),
    ("labreport.core.record", "MAX_PREDICTIONS_BYTES", "bytes", "the `predictions.npz` embedded in a handed-in PDF, decoded"),
    ("labreport.site.publish", "MAX_REASON_CHARACTERS", "characters", "a run's reason on the site"),
    ("labreport.sweep.grid", "MAX_RUNS", "runs", "runs in one sweep"),
    ("labreport.sweep.grid", "MAX_VALUES", "values", "values of one `--vary` axis"),
    ("labreport.sweep.command", "MAX_CPUS_PER_RUN", "CPUs", "`--cpus-per-run`"),
    ("labreport.sweep.summary", "MAX_SUMMARY_BYTES", "bytes", "a `sweep.json` read back"),
)


def limits_table() -> str:
    """Every declared limit with its value, read from the module that enforces it."""
    lines = ["| limit | value | declared in |", "|---|---|---|"]
    for module_name, constant, unit, what in LIMITS:
        value = getattr(importlib.import_module(module_name), constant)
        shown = f"{value:,}" + (f" {unit}" if unit else "")
        if unit == "bytes" and value >= 1024 and value % 1024 == 0:
            shown += f" ({value // 1024 ** 2:,} MiB)" if value % 1024 ** 2 == 0 else f" ({value // 1024:,} KiB)"
        lines.append(f"| {what} | {shown} | `{module_name}.{constant}` |")
    return "\n".join(lines)


def commands_help() -> str:
    """`labreport --help` and every command's `--help`, as the command line prints them (100 columns)."""
    from labreport.cli import build_parser

    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal; the page must not depend on it
    try:
        parser = build_parser()
        blocks = ["### labreport", "", "```text", parser.format_help().rstrip(), "```"]
        for action in parser._actions:  # argparse keeps its subcommands only here
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    blocks += ["", f"### labreport {name}", "", "```text", sub.format_help().rstrip(), "```"]
    finally:
        if previous is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = previous
    return "\n".join(blocks)


GENERATORS: dict[str, Callable[[], str]] = {
    "settings": settings_table, "ranges": ranges_table, "record": record_fields,
    "placeholders": placeholders_table,
    "placeholders_ko": lambda: placeholders_table("ko"), "filters": filters_table, "limits": limits_table,
    "commands": commands_help,
}


def generate(markdown: str) -> str:
    """The page with every `<!-- reference: NAME -->` marker replaced by its generated Markdown.

    Raises:
        KeyError: a marker names no generator (MkDocs then stops the build).
    """
    return MARKER.sub(lambda match: GENERATORS[match.group(1)](), markdown)


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """MkDocs' hook: fill the markers of each page."""
    return generate(markdown)

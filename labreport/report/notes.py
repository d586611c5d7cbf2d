"""The student's own sections: `notes.<lang>.md`, Markdown with live numbers from the record.

`labreport notes` writes a starter file whose headings are the sections a student is expected to
write, each with guiding questions about *this* run in a Markdown comment. `render` turns every
top-level heading of the file into a numbered section after the generated discussion.

Live numbers are placeholders such as `{{ models.gru.test.accuracy | pct }}`: a path into the
record and the report's number filters (`labreport.report.numbers`). Placeholders are parsed by the same
sandboxed Jinja2 environment as the templates and then held to a stricter rule: only names, keys,
list indices and those filters. Anything else (a method call, a Python attribute, an `import`, a
loop) is refused, as is a name the record does not have, with the file, the line and the closest
name. Raw HTML in notes is shown as text, never passed through.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from labreport.core import LabreportError, fileio
from labreport.report import discussion
from labreport.report.catalog import Catalog
from labreport.report.numbers import FILTERS
from labreport.report.outline import Html, Section

NOTES_FILE = "notes.{lang}.md"
MAX_NOTES_BYTES = 256 * 1024
"""A notes file larger than this is refused (a lab report's own sections are a few kilobytes)."""
MAX_FILLED_CHARACTERS = 1024 * 1024
"""The notes with their live numbers filled in may not grow past this many characters."""
MAX_DECIMALS = 10
"""The largest number of decimals a filter argument may ask for (`num(4)`)."""
MAX_SECTIONS = 50
"""Top-level headings: each is a numbered section and an entry of the contents, whose page numbers
cost the PDF about 20 ms each (8,000 one-line headings took 391 s and 4.25 GB)."""
MAX_BLOCKS = 2_000
"""Paragraphs, headings, list items, table rows, code blocks and rules: about 2 ms of PDF layout each
(20,000 list items took 50 s and 1 GB); a lab report's own sections hold a few dozen."""
MAX_NESTING = 8
"""Lists and quotes inside one another."""
_COUNTED_BLOCKS = {"paragraph_open", "heading_open", "list_item_open", "tr_open", "code_block", "fence", "hr"}
_CONTAINERS = {"blockquote_open": 1, "bullet_list_open": 1, "ordered_list_open": 1,
               "blockquote_close": -1, "bullet_list_close": -1, "ordered_list_close": -1}
_COMMENT = re.compile(r"<!--.*?-->", re.S)


def notes_path(out: str | Path, lang: str) -> Path:
    return Path(out) / NOTES_FILE.format(lang=lang)


# ---------------------------------------------------------------------------------------------
# The starter file


def _p_value_is(value: float) -> tuple[str, dict]:
    """The p-value as a statement, a message to say in the question's language ("p값은 0.0001보다 작다")."""
    from labreport.report.numbers import P_VALUE_FLOOR, format_p_value

    if value < P_VALUE_FLOOR:
        return ("stats.p_below_is", {"floor": str(P_VALUE_FLOOR)})
    return ("stats.p_equals_is", {"p": format_p_value(value)})


def guiding_questions(record: dict) -> dict[str, list[tuple[str, dict]]]:
    """Questions a teaching assistant would ask about this run, per section: (message id, args)."""
    from labreport.report.numbers import format_points

    found = discussion.facts(record)
    names = {key: entry["display_name"] for key, entry in record["models"].items()}
    questions: list[tuple[str, dict]] = []
    if found["pairs"]:
        pair = found["pairs"][0]
        if pair["winner"] is None:
            questions.append(("notes.q.tie", {"a": names[pair["a"]], "b": names[pair["b"]]}))
        else:
            # "Or is the gap too small to say?" only where the gap is small (under SMALL_GAP_POINTS).
            questions.append(("notes.q.winner_small" if pair["small_gap"] else "notes.q.winner",
                              {"winner": names[pair["winner"]], "loser": names[pair["loser"]],
                               "points": format_points(pair["accuracy_diff_points"])}))
        if "significance" in pair:
            s = pair["significance"]
            questions.append(("notes.q.significant" if s["significant"] else "notes.q.not_significant",
                               {"p_is": _p_value_is(s["p_value"])}))
    overfit = [names[key] for key, o in found["overfitting"].items() if o["rose"]]
    if overfit:
        questions.append(("notes.q.overfit", {"models": ", ".join(overfit)}))
    else:
        questions.append(("notes.q.no_overfit", {}))
    if "rnn" in record["models"]:
        questions.append(("notes.q.gradients", {}))
    conclusion = [("notes.q.claim", {}), ("notes.q.next", {})]
    if record["dataset"]["source"] == "sample":
        conclusion.insert(0, ("notes.q.sample", {}))
    return {"discussion": questions, "conclusion": conclusion}


def starter(record: dict, catalog: Catalog) -> str:
    """The starter notes file in `catalog`'s language."""
    first = next(iter(record["models"]))
    example = "{{ models.%s.test.accuracy | pct }}" % first
    lines = [f"<!-- {catalog.text('notes.help', example=example)} -->", ""]
    for section, questions in guiding_questions(record).items():
        lines += [f"# {catalog.text(f'notes.heading.{section}')}", "", "<!--"]
        lines += [f"- {catalog.text(message, **_said(catalog, args))}" for message, args in questions]
        lines += ["-->", ""]
    return "\n".join(lines)


def _said(catalog: Catalog, args: dict) -> dict:
    """Arguments with each nested (message id, arguments) said in `catalog`'s language first."""
    return {name: catalog.text(value[0], **value[1]) if isinstance(value, tuple) else value for name, value in args.items()}


def write_starter(out: str | Path, lang: str, record: dict, catalog: Catalog) -> Path:
    """Writes `OUT/notes.<lang>.md`; never replaces a file that exists."""
    path = notes_path(out, lang)
    if path.exists():
        raise LabreportError(f"{path} already exists: edit it, or delete it to start over")
    return fileio.write_text(path, starter(record, catalog))


# ---------------------------------------------------------------------------------------------
# Reading and rendering


def read_notes(path: str | Path) -> str:
    """The notes file at `path` as text, refused past `MAX_NOTES_BYTES`."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_NOTES_BYTES + 1)
        return decode_notes(data, str(path))
    except FileNotFoundError:
        raise LabreportError(f"notes file not found: {path}") from None
    except OSError as error:
        raise LabreportError(f"cannot read notes file {path}: {error.strerror or error}") from None


def decode_notes(data: bytes, name: str) -> str:
    """Notes bytes as text; too large or not UTF-8 is one line naming `name`. A byte-order mark at
    the start (Windows editors write one) is dropped."""
    if len(data) > MAX_NOTES_BYTES:
        raise LabreportError(f"notes file {name} is larger than {MAX_NOTES_BYTES // 1024} KiB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise LabreportError(f"notes file {name} is not UTF-8 text (byte {error.start}); save it as UTF-8") from None
    return text


_ALLOWED = (nodes.Template, nodes.Output, nodes.TemplateData, nodes.Name, nodes.Getattr, nodes.Getitem,
            nodes.Const, nodes.Filter)


class _NotesError(Exception):
    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line = line


def _path_text(parts: list[Any]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _lookup(node: nodes.Node, record: dict) -> Any:
    """The record value a placeholder path names, or a _NotesError with the closest existing name."""
    chain = []
    while isinstance(node, (nodes.Getattr, nodes.Getitem)):
        if isinstance(node, nodes.Getattr):
            chain.append(node.attr)
        else:
            if not isinstance(node.arg, nodes.Const) or not isinstance(node.arg.value, (str, int)):
                raise _NotesError(node.lineno, "an index must be a number or a quoted key")
            chain.append(node.arg.value)
        node = node.node
    if not isinstance(node, nodes.Name):
        raise _NotesError(node.lineno, "a placeholder must start with a name from the record")
    chain.append(node.name)
    chain.reverse()
    value: Any = record
    for depth, key in enumerate(chain):
        here = _path_text(chain[: depth + 1])
        if isinstance(value, dict) and isinstance(key, str) and key in value:
            value = value[key]
        elif isinstance(value, list) and isinstance(key, int) and -len(value) <= key < len(value):
            value = value[key]
        elif isinstance(value, dict):
            match = difflib.get_close_matches(str(key), [str(k) for k in value], n=1)
            closest = f" (closest: `{_path_text(chain[:depth] + match)}`)" if match else ""
            raise _NotesError(node.lineno, f"`{here}` is not in the record{closest}")
        elif isinstance(value, list):
            raise _NotesError(node.lineno, f"`{here}` is not in the record (`{_path_text(chain[:depth])}` has "
                                           f"{len(value)} entries, numbered from 0)")
        else:
            raise _NotesError(node.lineno, f"`{here}` reaches outside the record: `{_path_text(chain[:depth])}` "
                                           "is a value, not a table")
    return value


MAX_KEYS_NAMED = 12
"""An error about a placeholder that names a table lists at most this many of its keys."""


def _one_value(node: nodes.Node, value: Any) -> None:
    """Refuses a placeholder that names a table or a list, naming what to write instead.

    Raises:
        _NotesError: "`models.gru.params.total` has the keys derived, keras, ok: write
            `models.gru.params.total.derived`".
    """
    if not isinstance(value, (dict, list)):
        return
    path = _node_path(node)
    if isinstance(value, list):
        hint = f": write `{path}[0]`" if value else ""
        raise _NotesError(node.lineno, f"a placeholder must name one value: `{path}` is a list of {len(value)} {'entry' if len(value) == 1 else 'entries'}{hint}")
    keys = [str(key) for key in value]
    named = ", ".join(keys[:MAX_KEYS_NAMED]) + (f" and {len(keys) - MAX_KEYS_NAMED} more" if len(keys) > MAX_KEYS_NAMED else "")
    example = next((key for key in keys if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key)), None)
    hint = f": write `{path}.{example}`" if example else ""
    raise _NotesError(node.lineno, f"a placeholder must name one value: `{path}` has the keys {named}{hint}")


def _node_path(node: nodes.Node) -> str:
    """The record path a placeholder names, as written: `models.gru.params.total`, `analysis.pairs[0]`."""
    chain: list[Any] = []
    while isinstance(node, (nodes.Getattr, nodes.Getitem, nodes.Filter)):
        if isinstance(node, nodes.Getattr):
            chain.append(node.attr)
        elif isinstance(node, nodes.Getitem):
            chain.append(node.arg.value if isinstance(node.arg, nodes.Const) else "?")
        node = node.node
    if isinstance(node, nodes.Name):
        chain.append(node.name)
    return _path_text(list(reversed(chain)))


def _evaluate(node: nodes.Node, record: dict) -> Any:
    if isinstance(node, nodes.Const):
        return node.value
    if isinstance(node, nodes.Filter):
        value = _evaluate(node.node, record)
        _one_value(node.node, value)
        args = [_evaluate(arg, record) for arg in node.args]
        kwargs = {kw.key: _evaluate(kw.value, record) for kw in node.kwargs}
        for argument in [*args, *kwargs.values()]:
            # Every filter's argument is a count of decimals (or pval's yes/no): a larger one builds huge text.
            if type(argument) is not bool and not (type(argument) is int and 0 <= argument <= MAX_DECIMALS):
                raise _NotesError(node.lineno, f"the filter `{node.name}` takes a number of decimals from 0 to "
                                               f"{MAX_DECIMALS}, not {str(argument)[:20]!r}")
        try:
            return FILTERS[node.name](value, *args, **kwargs)
        except (TypeError, ValueError, OverflowError) as error:
            raise _NotesError(node.lineno, f"the filter `{node.name}` cannot format {str(value)[:40]!r}: {error}") from None
    return _lookup(node, record)


def fill_live_numbers(text: str, record: dict) -> str:
    """`text` with every `{{ … }}` placeholder replaced by its value from the record.

    Raises:
        _NotesError: a syntax error, something other than a path and filters, or a name not in the record.
    """
    try:
        return _filled(text, record)
    except RecursionError:  # Jinja's parser and the walks over its tree recurse once per bracket, index or filter
        raise _NotesError(_line_of(text, re.search(r"\{\{", text)), "a placeholder is nested too deeply to "
                                                                     "read (brackets, indices or filters)") from None


def _line_of(text: str, match: re.Match | None) -> int:
    return text.count("\n", 0, match.start()) + 1 if match else 1


def _filled(text: str, record: dict) -> str:
    environment = SandboxedEnvironment(autoescape=False)
    environment.filters = dict(FILTERS)
    try:
        tree = environment.parse(text)
    except jinja2.TemplateSyntaxError as error:
        raise _NotesError(error.lineno, f"placeholder syntax error: {error.message}") from None
    except ValueError:  # Jinja's lexer reads a number with int(), which refuses more than 4,300 digits
        raise _NotesError(_line_of(text, re.search(r"\d{4301}", text)),
                          "a number in a placeholder has more than 4,300 digits") from None
    for node in tree.find_all(nodes.Node):
        if isinstance(node, nodes.Filter) and node.name not in FILTERS:
            raise _NotesError(node.lineno, f"unknown filter `{node.name}`: use one of {', '.join(FILTERS)}")
        if not isinstance(node, _ALLOWED + (nodes.Keyword,)):
            raise _NotesError(getattr(node, "lineno", 1), "only placeholders like {{ models.gru.test.accuracy | pct }} "
                                                          f"are allowed here, not {type(node).__name__.lower()} syntax")
    parts, length = [], 0
    for output in tree.body:
        for child in output.nodes:
            if isinstance(child, nodes.TemplateData):
                parts.append(child.data)
            else:
                value = _evaluate(child, record)
                _one_value(child, value)
                parts.append(str(value))
            length += len(parts[-1])
            if length > MAX_FILLED_CHARACTERS:
                raise _NotesError(getattr(child, "lineno", 1), "with its live numbers filled in, the notes grow past "
                                                               f"{MAX_FILLED_CHARACTERS:,} characters")
    return "".join(parts)


def _markdown():
    from markdown_it import MarkdownIt

    # CommonMark plus tables; raw HTML is shown as text, and images (which would fetch) are off.
    return MarkdownIt("commonmark", {"html": False}).enable("table").disable("image")


def sections(path: str | Path, record: dict, lang: str) -> list[Section]:
    """The notes file at `path` as numbered report sections, one per top-level heading.

    Raises:
        LabreportError: one line naming the file (and line) and what is wrong.
    """
    return sections_from_text(read_notes(path), str(path), record, lang)


def sections_from_text(text: str, path: str, record: dict, lang: str) -> list[Section]:
    """Notes text as numbered report sections; `path` is the name errors give the file.

    Raises:
        LabreportError: one line naming the file (and line) and what is wrong.
    """
    # Comments (the starter's questions) go; their lines stay, so line numbers still match the file.
    text = _COMMENT.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    try:
        text = fill_live_numbers(text, record)
    except _NotesError as error:
        raise LabreportError(f"{path}, line {error.line}: {error}") from None
    md = _markdown()
    tokens = md.parse(text)
    _check_structure(tokens, path)
    levels = [int(t.tag[1]) for t in tokens if t.type == "heading_open"]
    if not any(t.type != "heading_open" and t.content.strip() for t in tokens) and not levels:
        return []
    top = min(levels) if levels else None
    # Each top-level heading is a section; each heading one level below it a numbered subsection
    # (4.1, 4.2 like the generated ones); deeper headings stay headings inside the subsection.
    chunks: list[tuple[Any, list, list]] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        level = int(token.tag[1]) if token.type in ("heading_open", "heading_close") else None
        if token.type == "heading_open" and level == top:
            chunks.append((_inline(md, tokens[i + 1]), [], []))
            i += 3
            continue
        if token.type == "heading_open" and top is not None and level == top + 1:
            if not chunks:
                chunks.append((None, [], []))
            chunks[-1][2].append((_inline(md, tokens[i + 1]), []))
            i += 3
            continue
        if level is not None:
            token.tag = f"h{min(6, level - (top or 1) + 2)}"  # the section is an h2, its subsections h3, below them h4
        if not chunks:
            chunks.append((None, [], []))
        children = chunks[-1][2]
        (children[-1][1] if children else chunks[-1][1]).append(token)
        i += 1
    result = []
    for n, (title, body, children) in enumerate(chunks, 1):
        html = Markup(md.renderer.render(body, md.options, {}))
        if title is None and not html.striptags().strip() and not children:
            continue
        subsections = [Section(f"notes-{lang}-{n}-{k}", subtitle, [Html(Markup(md.renderer.render(sub, md.options, {})))])
                       for k, (subtitle, sub) in enumerate(children, 1)]
        result.append(Section(f"notes-{lang}-{n}", title if title is not None else _untitled(),
                              [Html(html)] if html.strip() else [], children=subsections))
    return result


def _inline(md, token) -> Markup:
    """A heading's inline content as HTML."""
    return Markup(md.renderer.renderInline(token.children, md.options, {}))


def _check_structure(tokens: list, path: str) -> None:
    """Refuses notes whose structure would cost the PDF more than their bytes suggest.

    Raises:
        LabreportError: more than `MAX_SECTIONS` top-level headings, `MAX_BLOCKS` blocks, or lists
            and quotes nested more than `MAX_NESTING` deep (one line, with the file and line).
    """
    levels = [int(token.tag[1]) for token in tokens if token.type == "heading_open"]
    top = min(levels) if levels else None
    sections = blocks = depth = 0
    for token in tokens:
        line = token.map[0] + 1 if token.map else 1
        depth += _CONTAINERS.get(token.type, 0)
        if depth > MAX_NESTING:
            raise LabreportError(f"{path}, line {line}: lists and quotes are nested more than {MAX_NESTING} deep")
        if token.type == "heading_open" and int(token.tag[1]) == top:
            sections += 1
            if sections > MAX_SECTIONS:
                raise LabreportError(f"{path}, line {line}: more than {MAX_SECTIONS} sections (top-level headings); "
                                     "notes hold at most that many")
        if token.type in _COUNTED_BLOCKS and not token.hidden:
            blocks += 1
            if blocks > MAX_BLOCKS:
                raise LabreportError(f"{path}, line {line}: more than {MAX_BLOCKS:,} blocks (paragraphs, headings, "
                                     "list items, table rows); notes hold at most that many")


def _untitled():
    from labreport.report.paragraphs import M

    return M("notes.heading.untitled")


# ---------------------------------------------------------------------------------------------
# The placeholders students use most (printed by the documentation)

COMMON_PLACEHOLDERS = (
    ("models.gru.test.accuracy", "pct"), ("models.lstm.test.accuracy", "pct"),
    ("models.gru.test.loss", "num(4)"), ("models.lstm.test.loss", "num(4)"),
    ("models.gru.test.f1", "num(4)"), ("models.lstm.test.f1", "num(4)"),
    ("models.gru.best_epoch", None), ("models.lstm.best_epoch", None), ("models.gru.epochs_run", None),
    ("models.gru.total_params", "num"), ("models.lstm.total_params", "num"),
    ("models.gru.test_last_epoch.accuracy", "pct"), ("models.gru.best_criterion.value", "pct"),
    ("analysis.pairs[0].mcnemar.p_value", "pval"),
    ("analysis.pairs[0].bootstrap.low", "pct"), ("analysis.pairs[0].bootstrap.high", "pct"),
    ("dataset.splits.train.total", "num"), ("dataset.splits.test.total", "num"),
    ("dataset.lengths.train.truncated_share", "pct"), ("environment.wall_seconds", "sec"),
)
"""The twenty record paths a student's notes name most, in that order, with the filter each reads best in."""


def common_placeholders(schema: dict | None = None) -> list[tuple[str, str]]:
    """The twenty placeholders students use most, each as (placeholder, what the schema says it is).

    Every path is checked against the record's JSON Schema, so a renamed field fails here, not in a
    student's notes: `("{{ models.gru.test.accuracy | pct }}", "number")`.

    Raises:
        ValueError: a path the schema does not have, or that does not end in a number.
    """
    from labreport.core import record as record_module

    schema = schema if schema is not None else record_module.schema()
    listed = []
    for path, filter_name in COMMON_PLACEHOLDERS:
        kind = _schema_kind(schema, path)
        if kind not in ("number", "integer"):
            raise ValueError(f"the record schema has no number at `{path}` (found: {kind})")
        listed.append(("{{ " + path + (f" | {filter_name}" if filter_name else "") + " }}", kind))
    return listed


def _schema_kind(schema: dict, path: str) -> str | None:
    """The JSON type the schema gives the value at `path` (a placeholder path), or None where it has none."""
    node = schema
    for key in re.findall(r"[^.\[\]]+", path):
        node = _schema_resolve(schema, node)
        if key.isdigit():
            node = node.get("items")
        else:
            properties = node.get("properties", {})
            names = _schema_resolve(schema, node.get("propertyNames", {})).get("enum")
            node = properties.get(key) or (node.get("additionalProperties") if names is None or key in names else None)
        if not isinstance(node, dict):
            return None
    kind = _schema_resolve(schema, node).get("type")
    return next((k for k in kind if k != "null"), None) if isinstance(kind, list) else kind


def _schema_resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    return node

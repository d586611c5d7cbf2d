"""The documentation cannot drift from the code: every command it shows parses with labreport's own
parser (and its settings pass the settings' checks), and every generated table has a generator.

The site itself is built by `mkdocs build --strict` in .ci/run; these tests need no MkDocs.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import shlex
from pathlib import Path

import pytest

from labreport.cli import build_parser, config_flags
from labreport.core.config import comma_list, load_config
from labreport.report.formats import FORMATS, LANGUAGES

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
# The pages whose every inline command (`labreport …` in backticks) is a promise to a student or a TA;
# on every page and in the README, the commands in shell code blocks are checked too.
COMMAND_PAGES = ("ko/students.md", "en/students.md", "instructors.md")
FENCE = re.compile(r"^```([\w-]*)[^\n]*\n(.*?)^```[ \t]*$", re.S | re.M)
SHELL = ("", "sh", "bash", "shell", "console")
CODE_SPAN = re.compile(r"`([^`\n]+)`")
INLINE_COMMAND = re.compile(r"(?:[\w./-]*/)?labreport [a-z]|python3 -m venv ")


def load_reference_hook():
    """scripts/docs_reference.py, the hook mkdocs.yml names, loaded as MkDocs loads it: from its path."""
    spec = importlib.util.spec_from_file_location("docs_reference", ROOT / "scripts" / "docs_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def labreport_arguments(line: str) -> list[list[str]]:
    """The arguments of each `labreport` command in a shell line (after `&&`, `;`, environment words)."""
    found = []
    for part in re.split(r"&&|;|\|", line):
        try:
            words = shlex.split(part, comments=True)
        except ValueError:  # an unclosed quote: not a command we can check
            continue
        for index, word in enumerate(words):
            if word == "labreport" or word.endswith("/labreport"):
                found.append(words[index + 1:])
                break
    return found


def documented_commands() -> list[tuple[str, list[str]]]:
    """(where, arguments) for every `labreport …` command the documentation shows."""
    commands = []
    pages = sorted(DOCS.rglob("*.md")) + [ROOT / "README.md"]
    for page in pages:
        name = page.relative_to(ROOT).as_posix()
        text = page.read_text(encoding="utf-8")
        for language, block in FENCE.findall(text):
            if language in SHELL:
                for line in block.replace("\\\n", " ").splitlines():
                    commands += [(name, arguments) for arguments in labreport_arguments(line)]
        if any(name == f"docs/{promised}" for promised in COMMAND_PAGES):
            for span in CODE_SPAN.findall(FENCE.sub("", text)):
                if INLINE_COMMAND.match(span):
                    commands += [(name, arguments) for arguments in labreport_arguments(span)]
    return commands


COMMANDS = documented_commands()


def exact_parser() -> argparse.ArgumentParser:
    """labreport's parser taking whole flag names only: with argparse's abbreviations, a page's `--lang`
    would still parse after the flag became `--languages`."""
    parser = build_parser()
    parsers = [parser]
    for action in parser._actions:  # argparse keeps its subcommands only here
        if isinstance(action, argparse._SubParsersAction):
            parsers += list(action.choices.values())
    for each in parsers:
        each.allow_abbrev = False
    return parser


def test_the_student_and_instructor_pages_show_the_commands_they_promise():
    shown = {(where, arguments[0]) for where, arguments in COMMANDS if arguments}
    for page in ("docs/ko/students.md", "docs/en/students.md"):
        assert {(page, command) for command in ("build", "notes", "render")} <= shown
    assert ("docs/instructors.md", "site") in shown
    assert ("docs/sweeps.md", "sweep") in shown


@pytest.mark.parametrize("where, arguments", COMMANDS, ids=[f"{w}: {' '.join(a)}" for w, a in COMMANDS])
def test_every_documented_command_parses_and_its_settings_pass(where, arguments, tmp_path):
    """A renamed or removed flag, a setting out of its range, an unknown format or language fails here."""
    parser = exact_parser()
    try:
        args = parser.parse_args(arguments)
    except SystemExit as exit:
        pytest.fail(f"{where}: `labreport {shlex.join(arguments)}` does not parse (exit status {exit.code})")
    assert args.command is not None, f"{where}: `labreport {shlex.join(arguments)}` names no command"
    load_config(getattr(args, "config", None), config_flags(args), quick=getattr(args, "quick", False), cwd=tmp_path)
    if args.command in ("build", "render", "sweep"):
        assert set(comma_list(args.format)) <= set(FORMATS), f"{where}: unknown format in --format {args.format}"
        assert set(comma_list(args.lang)) <= set(LANGUAGES), f"{where}: unknown language in --lang {args.lang}"


def documented_config_files() -> list[tuple[str, str]]:
    """(where, text) for every TOML block of the documentation: labreport.toml files, the assignment file."""
    files = []
    for page in sorted(DOCS.rglob("*.md")) + [ROOT / "README.md"]:
        for language, block in FENCE.findall(page.read_text(encoding="utf-8")):
            if language == "toml":
                files.append((page.relative_to(ROOT).as_posix(), block))
    return files


CONFIG_FILES = documented_config_files()


@pytest.mark.parametrize("where, text", CONFIG_FILES, ids=[f"{w} #{i}" for i, (w, _) in enumerate(CONFIG_FILES)])
def test_every_documented_config_file_loads(where, text, tmp_path):
    """A renamed setting, a value out of range or a misspelt section in a shown labreport.toml fails here."""
    path = tmp_path / "labreport.toml"
    path.write_text(text, encoding="utf-8")
    load_config(path)


def test_the_instructors_page_shows_a_complete_assignment_file(tmp_path):
    """The assignment file on the instructors' page names every setting the site compares (the free
    ones, which each student may choose, excepted) and the site reads it."""
    from labreport.core.settings import cli_settings
    from labreport.site.publish import assignment_settings

    text = next(text for where, text in CONFIG_FILES if where == "docs/instructors.md" and "[train]" in text)
    path = tmp_path / "assignment.toml"
    path.write_text(text, encoding="utf-8")
    written = {line.split("=")[0].strip() for line in text.splitlines() if "=" in line and not line.startswith("#")}
    for setting in cli_settings():
        if not setting.spec.free:
            assert setting.name in written, f"the assignment file on docs/instructors.md leaves out {setting.key}"
    assert assignment_settings(path)["model.hidden_units"] == 64


def test_every_reference_marker_has_a_generator_and_is_filled():
    hook = load_reference_hook()
    markers = 0
    for page in DOCS.rglob("*.md"):
        text = page.read_text(encoding="utf-8")
        markers += len(hook.MARKER.findall(text))
        assert not hook.MARKER.search(hook.generate(text)), page
    assert markers >= 8


def test_the_settings_reference_is_the_declaration():
    """Every declared setting is on the settings page, with its flag, default and range from settings.py."""
    from labreport.core.settings import all_settings

    hook = load_reference_hook()
    page = hook.generate((DOCS / "reference" / "settings.md").read_text(encoding="utf-8"))
    for setting in all_settings():
        row = next((line for line in page.splitlines() if line.startswith(f"| `{setting.key}` |")), None)
        assert row is not None, f"{setting.key} is missing from the settings reference"
        assert setting.help.replace("|", "\\|") in row
        if setting.range_text():
            assert setting.range_text() in row


def test_the_limits_reference_reads_each_declared_constant():
    hook = load_reference_hook()
    table = hook.limits_table()
    for module_name, constant, _unit, _what in hook.LIMITS:
        value = getattr(importlib.import_module(module_name), constant)
        assert f"{value:,}" in table and f"`{module_name}.{constant}`" in table


def test_the_placeholder_reference_lists_the_twenty_most_used():
    from labreport.report.notes import common_placeholders

    hook = load_reference_hook()
    page = hook.generate((DOCS / "ko" / "students.md").read_text(encoding="utf-8"))
    placeholders = common_placeholders()
    assert len(placeholders) == 20
    for placeholder, _kind in placeholders:
        assert f"`{placeholder}`" in page


def test_the_commands_reference_is_every_commands_help():
    hook = load_reference_hook()
    page = hook.generate((DOCS / "reference" / "commands.md").read_text(encoding="utf-8"))
    for command in ("build", "train", "render", "notes", "params", "site", "predict", "schema", "sweep"):
        assert f"### labreport {command}\n" in page
    assert "--vocab-size N" in page and "--assignment FILE" in page


"""The words of each language: one flat catalog of messages per language, found in the template folders.

A catalog is `lang/<code>.toml` in a template folder (the user's `--templates` folder first, then
the built-in `templates/`). Its `[language]` table names the language, its date format, its
particle rule and its fonts; every other table holds messages, flattened to dotted ids
(`[discussion]` + `tie = "..."` is the message `discussion.tie`). Which message is said, and with
which arguments, is decided in Python (`labreport.report.paragraphs`); a catalog holds words only, so adding a
language means writing one file, with no code change.

A message is trusted markup with `{name}` placeholders. Arguments are escaped unless they are
`Markup` already, so a review text or a student's name can never inject markup. A format spec
after the name is applied to numbers as Python's format spec (`{share:.1f}`); a spec with a slash is a
Korean particle pair (`{model:이/가}` → "BiGRU가", "BiLSTM이") when the language's particle rule
is "korean", chosen by the word as it is read aloud (`labreport.report.spoken`). An optional
`[glossary]` table declares the language's vocabulary: each preferred term and the variants it replaces. A message may have a singular form under `<id>#one`, used when the `count` argument
is 1.
"""

from __future__ import annotations

import datetime as _dt
import string
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from markupsafe import Markup, escape

from labreport.core import LabreportError
from labreport.report.numbers import signed
from labreport.report.spoken import last_spoken_syllable

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

CATALOG_FOLDER = "lang"
PARTICLE_RULES = ("none", "korean")

def korean_particle(word: str, after_consonant: str, after_vowel: str) -> str:
    """`word` followed by the particle that fits its last sound as read aloud: ("BiLSTM", "이", "가") → "BiLSTM이".

    The sound is the one `labreport.report.spoken.last_spoken_syllable` hears: "16" → 십육 → "16과",
    "BiGRU" → 비지알유 → "BiGRU는". A word that ends in ㄹ takes 로, not 으로 ("0.4859로").
    """
    text = str(word).rstrip()
    last = last_spoken_syllable(text) or "가"
    final = (ord(last) - ord("가")) % 28
    consonant = final != 0
    if after_vowel.startswith("로") and after_consonant.startswith("으로") and final == 8:
        consonant = False
    return text + (after_consonant if consonant else after_vowel)


def languages_in(folders: Iterable[Path]) -> list[str]:
    """Language codes that have a catalog in any of `folders`, sorted."""
    codes = set()
    for folder in folders:
        codes.update(path.stem for path in (Path(folder) / CATALOG_FOLDER).glob("*.toml"))
    return sorted(codes)


@dataclass(frozen=True)
class Catalog:
    """One language's messages and rules."""

    code: str
    name: str
    messages: Mapping[str, str]
    source: str
    date_format: str = "{year}-{month:02d}-{day:02d}"
    month_names: tuple[str, ...] = ()
    particles: str = "none"
    fonts: tuple[str, ...] = ()
    glossary: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """The language's vocabulary: each preferred term and the variants no message may use."""

    def raw(self, message_id: str) -> str:
        try:
            return self.messages[message_id]
        except KeyError:
            raise LabreportError(
                f"the {self.code} catalog ({self.source}) lacks the message `{message_id}` that the report needs"
            ) from None

    def say(self, message_id: str, **args: Any) -> Markup:
        """The message `message_id` with its placeholders filled (arguments escaped)."""
        count = args.get("count")
        if count == 1 and f"{message_id}#one" in self.messages:
            message_id = f"{message_id}#one"
        template = self.raw(message_id)
        try:
            return Markup(_MessageFormatter(self).format(template, **args))
        except (KeyError, IndexError) as error:
            raise LabreportError(
                f"message `{message_id}` in {self.source} uses {{{error.args[0]}}}, which the report does not give it"
            ) from None
        except ValueError as error:
            raise LabreportError(f"message `{message_id}` in {self.source}: {error}") from None

    def join(self, items: Iterable[Any]) -> Markup:
        """Items as one list in this language: "a, b and c"; in Korean "BiRNN, BiGRU와 BiLSTM", where
        `list.last_separator` is "{previous:과/와} " and takes the particle the item before it needs."""
        items = [escape(item) for item in items]
        if len(items) < 2:
            return Markup("").join(items)
        separator, last = Markup(self.raw("list.separator")), self.raw("list.last_separator")
        if "{previous" in last:
            return separator.join([*items[:-2], self.say("list.last_separator", previous=items[-2]) + items[-1]])
        return separator.join(items[:-1]) + Markup(last) + items[-1]

    def text(self, message_id: str, **args: Any) -> str:
        """The message as plain text, tags removed and entities decoded (figure labels, file names)."""
        return str(self.say(message_id, **args).striptags())

    def date(self, day: _dt.date) -> str:
        month_name = self.month_names[day.month - 1] if len(self.month_names) == 12 else str(day.month)
        return self.date_format.format(year=day.year, month=day.month, day=day.day, month_name=month_name)


class _MessageFormatter(string.Formatter):
    """`str.format` that escapes arguments and reads a spec on text as a particle pair."""

    def __init__(self, catalog: Catalog):
        super().__init__()
        self.catalog = catalog

    def format_field(self, value: Any, format_spec: str) -> str:
        if "/" in format_spec:
            if self.catalog.particles != "korean":
                raise ValueError(f"the particle pair {format_spec!r} needs the korean particle rule")
            after_consonant, after_vowel = format_spec.split("/", 1)
            plain = str(value.striptags() if isinstance(value, Markup) else value)
            particle = korean_particle(plain, after_consonant, after_vowel)[len(plain.rstrip()):]
            return str(escape(value)) + particle
        if isinstance(value, (int, float)) and not isinstance(value, bool):  # a negative one with a minus sign
            return str(escape(signed(format(value, format_spec))))
        if format_spec:
            raise ValueError(f"the spec {format_spec!r} applies to numbers; text takes a particle pair such as 이/가")
        return str(escape(value))


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, name + "."))
        elif isinstance(value, str):
            flat[name] = value
        else:
            raise LabreportError(f"message `{name}` must be text, received: {value!r}")
    return flat


def load_catalog(code: str, folders: Iterable[Path]) -> Catalog:
    """The catalog of language `code` from the first folder that has one.

    Raises:
        LabreportError: no folder has the language, or its file is not valid TOML or lacks `[language]`.
    """
    folders = [Path(folder) for folder in folders]
    for folder in folders:
        path = folder / CATALOG_FOLDER / f"{code}.toml"
        if path.is_file():
            break
    else:
        known = ", ".join(languages_in(folders)) or "none"
        raise LabreportError(f"unknown language {code!r}: catalogs exist for {known} (add lang/{code}.toml to a --templates folder)")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise LabreportError(f"catalog {path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as error:
        raise LabreportError(f"catalog {path}: {error}") from None
    except ValueError:  # an integer longer than Python converts (4,300 digits)
        raise LabreportError(f"catalog {path} holds a number labreport cannot read (an integer of thousands of digits)") from None
    language = data.pop("language", None)
    glossary = data.pop("glossary", {})
    if not isinstance(glossary, Mapping) or not all(
            isinstance(variants, list) and all(isinstance(v, str) for v in variants) for variants in glossary.values()):
        raise LabreportError(f"catalog {path}: [glossary] maps each term to a list of the variants it replaces")
    if not isinstance(language, Mapping) or not isinstance(language.get("name"), str):
        raise LabreportError(f"catalog {path} needs a [language] table with a name")
    particles = language.get("particles", "none")
    if particles not in PARTICLE_RULES:
        raise LabreportError(f"catalog {path}: particles must be one of {', '.join(PARTICLE_RULES)}, received: {particles!r}")
    return Catalog(
        code=code,
        name=language["name"],
        messages=_flatten(data),
        source=str(path),
        date_format=language.get("date", Catalog.date_format),
        month_names=tuple(language.get("month_names", ())),
        particles=particles,
        fonts=tuple(language.get("fonts", ())),
        glossary={term: tuple(variants) for term, variants in glossary.items()},
    )

"""The reference list: entries in one CSL-JSON file, numbered in the order the report first cites them.

A citation appears only where a section that uses the idea is in the report (the RNN's reference
only with the RNN model, McNemar's only with the paired analysis), so the list holds exactly what
the page cites. Entries are written in one numeric style (authors, "title", venue, volume(issue),
pages, year, DOI) in both languages, as the publications themselves are.
"""

from __future__ import annotations

import json
from pathlib import Path

from markupsafe import Markup

from labreport.core import LabreportError

REFERENCES_FILE = Path(__file__).with_name("references.json")
MAX_AUTHORS = 6
"""Longer author lists are cut to the first author and "et al."."""


def load_entries(path: Path = REFERENCES_FILE) -> dict[str, dict]:
    return {entry["id"]: entry for entry in json.loads(path.read_text(encoding="utf-8"))}


def _name(author: dict) -> str:
    """"S. Hochreiter", "A. L. Maas": initials of the given names, then the family name."""
    given = " ".join(part if part.endswith(".") else part[0] + "." for part in author.get("given", "").split())
    return f"{given} {author['family']}".strip()


def format_entry(entry: dict) -> Markup:
    """One entry: S. Hochreiter and J. Schmidhuber, “Long short-term memory,” <i>Neural Computation</i>, vol. 9, ..."""
    authors = [_name(a) for a in entry["author"]]
    if len(authors) > MAX_AUTHORS:
        names = f"{authors[0]} et al."
    elif len(authors) > 2:
        names = ", ".join(authors[:-1]) + ", and " + authors[-1]
    else:
        names = " and ".join(authors)
    venue = Markup("<i>{}</i>").format(entry["container-title"])
    parts = [Markup("in ") + venue if entry["type"] == "paper-conference" else venue]
    if entry.get("volume"):
        parts.append(Markup("vol. {}").format(entry["volume"]) + (Markup(", no. {}").format(entry["issue"]) if entry.get("issue") else ""))
    if entry.get("page"):
        parts.append(Markup("pp. {}").format(entry["page"]))
    parts.append(str(entry["issued"]["date-parts"][0][0]))
    text = Markup("{}, “{},” ").format(names, entry["title"]) + Markup(", ").join(parts) + "."
    if entry.get("DOI"):
        text += Markup(" doi: {}").format(entry["DOI"])
    elif entry.get("note"):
        text += Markup(" {}").format(entry["note"])
    return text


class References:
    """Hands out citation numbers in order of first use and lists what was cited."""

    def __init__(self, entries: dict[str, dict] | None = None):
        self.entries = load_entries() if entries is None else entries
        self.order: list[str] = []

    def cite(self, keys: tuple[str, ...]) -> Markup:
        """"[1, 2]" for the entries `keys`, each number linking to its entry in the list."""
        links = []
        for key in keys:
            if key not in self.entries:
                raise LabreportError(f"the report cites `{key}`, which is not in {REFERENCES_FILE.name}")
            if key not in self.order:
                self.order.append(key)
            links.append(Markup('<a href="#ref-{}">{}</a>').format(key, self.order.index(key) + 1))
        return Markup('<span class="cite">[') + Markup(", ").join(links) + Markup("]</span>")

    def list_markup(self) -> Markup:
        items = [Markup('<li id="ref-{}">{}</li>').format(key, format_entry(self.entries[key])) for key in self.order]
        return Markup('<ol class="references">') + Markup("").join(items) + Markup("</ol>")

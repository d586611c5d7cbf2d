"""`labreport site --init-assignment FILE`: the lab's own settings as a starting assignment file.

An assignment file is a `labreport.toml` the site compares every run with (`--assignment`): each
setting it holds that a run used differently flags the run. The starter holds every setting that
decides what is trained, at the lab's own value, so a TA edits only what the assignment changes;
the settings each student may choose (the seed, the device) are there commented out, compared only
when the TA sets them. Its `[report]` course and lab title head the site's index.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from labreport.core import LabreportError, fileio
from labreport.core.settings import EXPERIMENT_SECTIONS, section_settings


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string
    return repr(value)


def starter_text() -> str:
    """The starting assignment file: the lab's settings, each with its help, as TOML."""
    lines = ["# The assignment: `labreport site RUNS --out SITE --assignment this-file.toml` flags every run",
             "# whose settings differ from the ones below (a setting left out is compared with the lab's own",
             "# value, which is what each line holds now). Edit what your assignment changes. Commented",
             "# settings are each student's own choice and are compared only when you uncomment them.", ""]
    for section in EXPERIMENT_SECTIONS:
        lines.append(f"[{section}]")
        for setting in section_settings(section):
            lines.append(f"# {setting.help}")
            line = f"{setting.name} = {_toml_value(setting.default)}"
            lines.append(f"# {line}" if setting.spec.free else line)
        lines.append("")
    lines += ["[report]", "# The course and the lab's title, shown at the top of the site's index.",
              'course = ""', 'lab_title = ""', ""]
    return "\n".join(lines)


def write_starter(path: str | Path) -> Path:
    """Writes `starter_text()` to `path`, which must not exist yet.

    Raises:
        LabreportError: `path` exists (it is never overwritten).
    """
    path = Path(path)
    if path.exists() or path.is_symlink():
        raise LabreportError(f"{path} already exists: choose another file for --init-assignment "
                             "(an assignment file is never overwritten)")
    fileio.check_writable(path.parent if str(path.parent) else Path("."))
    return fileio.write_text(path, starter_text())

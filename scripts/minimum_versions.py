"""Prints pip constraints that pin every dependency to its declared floor (`name>=X` → `name==X`).

    python scripts/minimum_versions.py > minimum.txt
    pip install -c minimum.txt ".[test]"

`.ci/run` does this in a second virtual environment and runs the fast tests there, so a floor in
`pyproject.toml` that is older than what labreport calls shows up as a failing test. Dependencies of
the `gpu` extra and those whose marker does not hold on this Python are left out.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*>=\s*([0-9][^,;\s]*)\s*(;.*)?$")


def minimum_constraints(pyproject: Path, extras: tuple[str, ...] = ("test",)) -> list[str]:
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    requirements = list(project["dependencies"])
    for extra in extras:
        requirements += project["optional-dependencies"][extra]
    lines = []
    for requirement in requirements:
        match = REQUIREMENT.match(requirement)
        if match is None:
            raise SystemExit(f"no floor to pin in {requirement!r}: write it as name>=version")
        name, _, version, marker = match.groups()
        if marker and not _marker_holds(marker.lstrip(";").strip()):
            continue
        lines.append(f"{name}=={version}")
    return lines


def _marker_holds(marker: str) -> bool:
    match = re.fullmatch(r"python_version\s*<\s*'(\d+)\.(\d+)'", marker)
    if match is None:
        raise SystemExit(f"unknown marker {marker!r}")
    return sys.version_info[:2] < (int(match.group(1)), int(match.group(2)))


if __name__ == "__main__":
    root = Path(__file__).resolve().parent.parent
    print("\n".join(minimum_constraints(root / "pyproject.toml")))

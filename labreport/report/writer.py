"""The one writer of rendered files: text as UTF-8, bytes as they are, each file atomically (`labreport.core.fileio`).

The report, the course site and the sweep render into memory and hand their files here, by name,
into a folder (usually a staging folder that replaces the old files together).
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from labreport.core import fileio


def write_file(folder: Path, name: str, data: str | bytes) -> Path:
    """Writes `data` to `folder/name` (subfolders made); returns the path."""
    if isinstance(data, str):
        return fileio.write_text(folder / name, data)
    return fileio.write_bytes(folder / name, data)


def write_files(folder: Path, files: Mapping[str, str | bytes]) -> list[Path]:
    """Writes every file of `files` (name → content) into `folder`, in order; returns the paths."""
    return [write_file(folder, name, data) for name, data in files.items()]

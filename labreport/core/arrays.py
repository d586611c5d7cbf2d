"""Reading a `.npz` file labreport did not just write: every array's header is checked before any is loaded.

`np.load` unpacks each array whole, as large as its header says: a few megabytes of zeros compressed
into an `.npz` can claim gigabytes. Here the zip's directory and each `.npy` member's header (read
from the member's first bytes) are checked first, so a file made to cost a reader is refused with one
line before any array is allocated.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

from labreport.core import LabreportError

MAX_ARRAYS = 256
"""Arrays in one file: a run's predictions hold 2 + 3 models x (2 + 19 further seeds) = 65 at most."""
ALLOWED_KINDS = "biuf"
"""Booleans, integers and floats: labels, lengths and probabilities; nothing else is ever stored."""
MAX_HEADER_BYTES = 10_000
"""A `.npy` header is a short dict literal; numpy's own `read_array_header` bound."""


def load_npz(source: bytes | Path, name: str, length: int | None, max_bytes: int) -> dict[str, np.ndarray]:
    """The arrays of an `.npz` file, each checked from its header before any is loaded.

    Args:
        source: the file's bytes, or its path.
        name: the file's name in messages.
        length: the number of values every array holds (one per test review), or None for any.
        max_bytes: the most all arrays may unpack to, together.

    Returns:
        {key: array}, each array one-dimensional, of booleans, integers or floats.

    Raises:
        LabreportError: one line naming the file and the array, before any array is loaded.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source) as archive:
            members = archive.infolist()
            if len(members) > MAX_ARRAYS:
                raise LabreportError(f"{name} holds {len(members):,} files, more than the {MAX_ARRAYS} arrays allowed")
            total = sum(member.file_size for member in members)
            if total > max_bytes:
                raise LabreportError(f"{name} unpacks to {total:,} bytes, more than the {max_bytes:,} allowed")
            for member in members:
                _check_member(archive, member, name, length)
        with np.load(io.BytesIO(source) if isinstance(source, bytes) else source, allow_pickle=False) as arrays:
            return {key: arrays[key] for key in arrays.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zipfile.LargeZipFile) as error:
        raise LabreportError(f"{name} cannot be read ({type(error).__name__}: {str(error)[:200]})") from None


def _check_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, name: str, length: int | None) -> None:
    """Refuses a member that is not a one-dimensional array of `length` numbers, sized as its header says."""
    label = f"{name}: {member.filename[:100]!r}"
    if not member.filename.endswith(".npy"):
        raise LabreportError(f"{label} is not an array (.npy)")
    with archive.open(member) as stream:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(stream, max_header_size=MAX_HEADER_BYTES)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(stream, max_header_size=MAX_HEADER_BYTES)
        else:
            raise LabreportError(f"{label} is in .npy format {version[0]}.{version[1]}, not 1.0 or 2.0")
        header_bytes = stream.tell()
    if dtype.kind not in ALLOWED_KINDS or dtype.hasobject or dtype.itemsize > 8:
        raise LabreportError(f"{label} holds {dtype}, not numbers (booleans, integers or floats)")
    if len(shape) != 1 or (length is not None and shape[0] != length):
        wanted = f"({length:,},)" if length is not None else "one dimension"
        raise LabreportError(f"{label} has shape {shape}, not {wanted}: one value per test review")
    if member.file_size != header_bytes + shape[0] * dtype.itemsize:
        raise LabreportError(f"{label} is {member.file_size:,} bytes, not the {header_bytes + shape[0] * dtype.itemsize:,} "
                             "its header says")

"""What this machine is: its CPU as the system describes it, and its memory."""

from __future__ import annotations

import os
import platform
from pathlib import Path

CPU_INFO = Path("/proc/cpuinfo")


def cpu_info_lines(prefixes: tuple[str, ...]) -> list[str]:
    """The lines of /proc/cpuinfo that start with one of `prefixes`, distinct and sorted; [] off Linux."""
    try:
        lines = CPU_INFO.read_text().splitlines()
    except OSError:
        return []
    return sorted({line for line in lines if line.startswith(prefixes)})


def cpu_name() -> str:
    """The CPU's model name ("AMD EPYC 7B13"), or what the platform says where Linux does not."""
    for line in cpu_info_lines(("model name",)):
        return line.split(":", 1)[1].strip()
    return platform.processor() or ""


def physical_memory_bytes() -> int | None:
    """This machine's memory, or None where the system does not say."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None

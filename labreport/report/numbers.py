"""Number formatting: every number on a page (report, notes, figures' labels) passes through one of these.

They are the Jinja2 filters of the report and of the student's notes (`num`, `pct`, `pts`, `sec`,
`pval`), and `labreport.report.paragraphs` calls them when it gives numbers to a message, so a number reads the
same wherever it appears.
"""

from __future__ import annotations

import re

P_VALUE_FLOOR = 0.0001
"""p-values below this are written as "< 0.0001"."""

NO_BREAK = "\N{NO-BREAK SPACE}"
"""Joins a number to its sign or unit. Labreport Gothic draws it (a space), so it never shows as a
stand-in; a word joiner (U+2060) next to an ordinary space would still let the line break there."""

_SIGN_THEN_NUMBER = re.compile(r"(&lt;|&gt;|[<>=≤≥≈±×÷]) (?=[−+\-]?[0-9])")
_NUMBER_THEN_UNIT = re.compile(r"(?<=[0-9]) (?=(?:%p|%|개|초|분|회|배|KB|MB|GB|ms|s)(?![A-Za-z]))")


MINUS = "\N{MINUS SIGN}"
"""A negative number's sign on a page ("−15.40%p"): the hyphen is shorter than a plus and reads as a
dash. Only the page's numbers take it; CSV, JSON, code and the Keras summary keep the hyphen, which
is what a program reading them back expects."""


def signed(text: str) -> str:
    """`text`, a formatted number, with a leading hyphen made a minus sign and a minus on a zero
    dropped (-0.001 with two decimals is "0.00", not "−0.00")."""
    if not text.startswith("-"):
        return text
    if not any(c in "123456789" for c in text):
        return text[1:]
    return MINUS + text[1:]


def join_numbers(text: str) -> str:
    """`text` with no line break left between a number and the sign before it or the unit after it.

    "< 0.0001", "p = 0.03", "32 × 16", "12 %p" and "1,234 개" keep their parts on one line, in the
    HTML and in the PDF; `text` may be escaped HTML ("&lt; 0.0001").
    """
    return _NUMBER_THEN_UNIT.sub(NO_BREAK, _SIGN_THEN_NUMBER.sub(lambda match: match[1] + NO_BREAK, text))


def format_number(value, decimals: int = 0) -> str:
    """Thousands separators and fixed decimals: 1354625 → "1,354,625"; (0.12345, 3) → "0.123"; −2 with a minus sign."""
    if value is None:
        return "–"
    return signed(f"{value:,.{decimals}f}")


def format_percent(value, decimals: int = 2) -> str:
    """A share as a percentage: 0.86312 → "86.31%"."""
    if value is None:
        return "–"
    return signed(f"{value * 100:.{decimals}f}%")


def format_points(value, decimals: int = 2) -> str:
    """Percentage points, already scaled: 0.51 → "0.51"; −15.4 → "−15.40" (a minus sign, not a hyphen)."""
    return signed(f"{value:.{decimals}f}")


def format_p_value(value, relation: bool = False) -> str:
    """A p-value with four decimals, or "< 0.0001" below that; `relation` adds "= " before a value."""
    if value < P_VALUE_FLOOR:
        return f"< {P_VALUE_FLOOR}"
    return ("= " if relation else "") + f"{value:.4f}"


def format_seconds(value, decimals: int = 1) -> str:
    """Seconds with one decimal and thousands separators: 1917.04 → "1,917.0"."""
    return signed(f"{value:,.{decimals}f}")


FILTERS = {"num": format_number, "pct": format_percent, "pts": format_points, "sec": format_seconds,
           "pval": format_p_value}
"""The filters templates and notes may use, by name."""
